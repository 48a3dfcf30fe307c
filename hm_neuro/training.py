"""Training: data streams, learning schedules, engines, chunks, history.

Both engines share one interface, ``engine.run(params, rows, seed, wake_gate,
sleep_gate, uniforms=None, offset=0) -> (params, extras)``, and :func:`train`
drives either of them chunk by chunk with a progress bar.

Randomness (every use, and how to reproduce it): one integer ``seed`` makes a
``numpy.random.SeedSequence``; its first child draws the training examples
(the bars sampler, or the shuffling of a data set into sweeps); chunk ``c``
of the wake-sleep sampling is seeded by ``chunk_seed(seed, c)`` -- a NumPy
generator for the reference, Brian2's ``seed()`` or the compiled binary's
generator for the circuit.  Same circuit, data, seed, engine, device and
chunk length: bit-identical weights.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from . import reference
from .circuit import Circuit
from .data import _check_bars_args, sample_bars, validate_binary
from .errors import bad
from .reference import Parameters, Uniforms

logger = logging.getLogger(__name__)

#: learning gates (wake, sleep) of each kind of epoch
EPOCH_KINDS = {"wake-sleep": (1.0, 1.0), "wake": (1.0, 0.0), "sleep": (0.0, 1.0), "frozen": (0.0, 0.0)}
ENGINES = ("numpy", "brian2")


def chunk_seed(seed: int, chunk_index: int) -> int:
    """The seed of chunk ``chunk_index`` of a run seeded with ``seed``."""
    ss = np.random.SeedSequence([int(seed), 1, int(chunk_index)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


# ------------------------------------------------------------------ schedules

@dataclasses.dataclass(frozen=True)
class Epoch:
    examples: int
    kind: str = "wake-sleep"

    def __post_init__(self):
        if self.kind not in EPOCH_KINDS:
            raise bad("epoch kind", f"must be one of {list(EPOCH_KINDS)}", self.kind)
        if isinstance(self.examples, bool) or not isinstance(self.examples, (int, np.integer)) or self.examples < 1:
            raise bad(f"epoch '{self.kind}' examples", "must be an integer >= 1", self.examples)


def parse_schedule(text: str) -> list:
    """``"wake-sleep:1000,wake:500,frozen:10"`` -> list of :class:`Epoch`."""
    epochs = []
    for part in text.split(","):
        kind, sep, count = part.strip().rpartition(":")
        if not sep:
            raise bad("--schedule", "each epoch is KIND:EXAMPLES, e.g. wake-sleep:1000,wake:500", text)
        try:
            n = int(float(count))
        except ValueError:
            raise bad("--schedule", f"epoch length {count!r} is not a number", text) from None
        epochs.append(Epoch(n, kind))
    return epochs


def schedule_gates(epochs, start: int, stop: int):
    """Per-example (wake_gate, sleep_gate) for examples ``start..stop-1``."""
    wake = np.empty(stop - start)
    sleep = np.empty(stop - start)
    pos = 0
    for ep in epochs:
        a, b = max(pos, start), min(pos + ep.examples, stop)
        if a < b:
            wake[a - start:b - start], sleep[a - start:b - start] = EPOCH_KINDS[ep.kind]
        pos += ep.examples
    return wake, sleep


# ---------------------------------------------------------------- data streams

class BarsStream:
    """Fresh bars images for every example (Hinton et al. 1995: 2e6 random examples)."""

    def __init__(self, p_vertical=2 / 3, p_bar=0.2, size=4):
        _check_bars_args(size, p_vertical, p_bar)
        self.kw = dict(p_vertical=p_vertical, p_bar=p_bar, size=size)
        self.description = f"bars(size={size}, p_vertical={p_vertical:.4g}, p_bar={p_bar:.4g})"
        self.n_input = size * size

    def take(self, n, rng):
        return sample_bars(n, rng, **self.kw)

    def get_state(self):
        return np.empty(0, dtype=np.int64)

    def set_state(self, state):
        pass


class SweepStream:
    """Sweeps through a fixed set of rows, each sweep in a fresh random order."""

    def __init__(self, rows, description="data"):
        self.rows = validate_binary(rows, source=description)
        self.description = description
        self.n_input = self.rows.shape[1]
        self._order = np.empty(0, dtype=int)

    def take(self, n, rng):
        while len(self._order) < n:
            self._order = np.concatenate([self._order, rng.permutation(len(self.rows))])
        idx, self._order = self._order[:n], self._order[n:]
        return self.rows[idx]

    def get_state(self):
        """The rest of the current sweep (the data generator holds the rest)."""
        return self._order.copy()

    def set_state(self, state):
        self._order = np.asarray(state, dtype=int).copy()


def stream_for(spec: str, circuit: Circuit, p_vertical: float = 2 / 3):
    """A data source named on the command line -> a stream for ``circuit``:
    ``bars`` (fresh samples, square input layers only), ``digits[:K]`` or a
    data file (sweeps)."""
    from .data import resolve_data

    if spec == "bars":
        side = int(round(circuit.n_input ** 0.5))
        if side * side != circuit.n_input:
            raise bad("--data bars", f"needs a square input layer; circuit '{circuit.name}' has "
                      f"{circuit.n_input} inputs")
        return BarsStream(p_vertical=p_vertical, size=side)
    rows, desc = resolve_data(spec, circuit.n_input)
    return SweepStream(rows, desc)


# --------------------------------------------------------------------- engines

class NumpyEngine:
    """The reference engine (:mod:`hm_neuro.reference`) behind the engine interface."""

    def __init__(self, circuit: Circuit, record_every: int = 0, chunk: int = 100_000):
        self.circuit = circuit
        self.chunk = chunk
        self.record_every = record_every
        self.compile_seconds = 0.0

    def run(self, params, data, seed, wake_gate=None, sleep_gate=None, uniforms=None, offset=0,
            perturbation=reference.NO_PERTURBATION):
        params = params.copy()
        m = len(data)
        if uniforms is None:
            uniforms = Uniforms.draw(self.circuit, m, np.random.default_rng(seed))
        wg = np.ones(m) if wake_gate is None else wake_gate
        sg = np.ones(m) if sleep_gate is None else sleep_gate
        seen, snaps = [], {}
        # cut the chunk at the snapshot points (offset + t multiple of record_every)
        cuts = [0, m]
        if self.record_every:
            first = (-offset) % self.record_every
            cuts = sorted(set([0, m] + list(range(first, m, self.record_every))))
        for a, b in zip(cuts[:-1], cuts[1:]):
            if self.record_every and (offset + a) % self.record_every == 0:
                seen.append(offset + a)
                for name, arr in params.arrays().items():
                    snaps.setdefault(name, []).append(arr.ravel().copy())
            sub = Uniforms([u[a:b] for u in uniforms.wake], [u[a:b] for u in uniforms.sleep])
            reference.train(params, self.circuit, data[a:b], sub, wg[a:b], sg[a:b], perturbation=perturbation)
        return params, {"history_seen": seen, "history": {k: np.array(v) for k, v in snaps.items()}}

    def retarget(self, circuit: Circuit):
        if circuit.layers != self.circuit.layers:
            raise bad("circuit", f"this engine is for layers {list(self.circuit.layers)}", circuit.name)
        self.circuit = circuit

    def close(self):
        pass


def make_engine(circuit: Circuit, engine: str = "brian2", device: str | None = None,
                chunk: int = 100_000, record_every: int = 0, build_dir=None, propagation: str = "auto"):
    if engine == "numpy":
        return NumpyEngine(circuit, record_every=record_every, chunk=chunk)
    if engine == "brian2":
        from .brian2_engine import Brian2Engine, default_device

        return Brian2Engine(circuit, device=device or default_device(), chunk=chunk,
                            record_every=record_every, build_dir=build_dir, propagation=propagation)
    raise bad("engine", f"must be one of {list(ENGINES)}", engine)


# ------------------------------------------------------------------- training

@dataclasses.dataclass
class TrainResult:
    params: Parameters
    examples_seen: int
    seed: int
    history_seen: list
    history: dict
    seconds: float
    compile_seconds: float
    engine: str
    device: str


def plan_chunks(n_examples: int, max_chunk: int) -> int:
    """Chunk length <= max_chunk that splits n_examples as evenly as possible."""
    n_chunks = -(-n_examples // max_chunk)
    return -(-n_examples // n_chunks)


def train(circuit: Circuit, stream, n_examples: int, seed: int = 0, engine="brian2",
          device=None, max_chunk: int = 100_000, params: Parameters | None = None,
          schedule=None, record_every: int = 0, progress: bool = True, build_dir=None,
          checkpoint=None, checkpoint_every: int = 0, resume: bool = False,
          perturbation=None, propagation: str = "auto") -> TrainResult:
    """Wake-sleep training of ``circuit`` on ``stream`` for ``n_examples``.

    ``schedule``: list of :class:`Epoch` (default: wake-sleep throughout);
    its total must equal ``n_examples``.

    ``checkpoint``: a path; with ``checkpoint_every`` > 0 the complete state
    (weights, examples seen, data generator, weight history) is written
    there atomically at the first chunk boundary after every
    ``checkpoint_every`` examples, and on Ctrl-C.  ``resume`` continues from
    it; the resumed run ends with the same weights, bit for bit, as one never
    interrupted (same seed, engine, device and chunk length).

    ``perturbation``: lesions and clamps held during the whole run
    (:class:`hm_neuro.reference.Perturbation`).

    ``propagation``: Brian2 only: 'summed', 'event' or 'auto'
    (:func:`hm_neuro.brian2_engine.choose_propagation`).
    """
    from tqdm.auto import tqdm

    if isinstance(n_examples, bool) or not isinstance(n_examples, (int, np.integer)) or n_examples < 1:
        raise bad("examples", "must be an integer >= 1", n_examples)
    if stream.n_input != circuit.n_input:
        raise bad("data", f"rows have {stream.n_input} values but circuit '{circuit.name}' has "
                  f"{circuit.n_input} input units")
    schedule = schedule or [Epoch(int(n_examples))]
    total = sum(e.examples for e in schedule)
    if total != n_examples:
        raise bad("schedule", f"epochs add up to {total} examples but {n_examples} were asked for", total)
    perturbation = (perturbation or reference.NO_PERTURBATION).validate(circuit)
    if (checkpoint_every or resume) and checkpoint is None:
        raise bad("checkpoint", "checkpoint_every and resume need a checkpoint path")
    params = (params or Parameters.initial(circuit)).copy()
    data_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0]))
    own_engine = isinstance(engine, str)
    chunk = plan_chunks(int(n_examples), max_chunk) if own_engine else getattr(engine, "chunk", max_chunk)
    run_id = {"seed": int(seed), "examples": int(n_examples), "chunk": int(chunk),
              "layers": list(circuit.layers), "record_every": int(record_every),
              "engine": engine if own_engine else type(engine).__name__, "device": device}
    hist_seen, hist = [], {}
    done, c = 0, 0
    if resume:
        state = load_checkpoint(checkpoint, run_id, circuit)
        params, done, c = state["params"], state["done"], state["chunk_index"]
        data_rng.bit_generator.state = state["data_rng"]
        stream.set_state(state["stream"])
        hist_seen, hist = state["history_seen"], {k: [v] for k, v in state["history"].items()}
    t0 = time.perf_counter()
    if own_engine:
        eng = make_engine(circuit, engine, device, chunk, record_every, build_dir, propagation)
    else:  # a compiled engine re-used across runs (same circuit shape)
        eng = engine
        engine = "brian2" if hasattr(eng, "net") else "numpy"
        record_every = eng.record_every

    def save_state():
        save_checkpoint(checkpoint, run_id, circuit, params, done, c, data_rng.bit_generator.state,
                        stream.get_state(), hist_seen, {k: np.concatenate(v) for k, v in hist.items()})

    last_ckpt = done
    try:
        with tqdm(total=int(n_examples), initial=done, disable=not progress, unit="ex", unit_scale=True,
                  desc=f"{circuit.name} [{engine}{'/' + eng.device if engine == 'brian2' else ''}]") as bar:
            while done < n_examples:
                m = min(chunk, n_examples - done)
                rows = stream.take(m, data_rng)
                wg, sg = schedule_gates(schedule, done, done + m)
                new_params, extras = eng.run(params, rows, chunk_seed(seed, c), wg, sg, offset=done,
                                             perturbation=perturbation)
                if not new_params.all_finite():
                    raise bad("training", f"diverged: non-finite weights after {done + m} examples "
                              "(lower the learning rates)" + (f"; last good checkpoint: {checkpoint}"
                                                             if checkpoint_every else ""))
                params = new_params
                hist_seen += extras["history_seen"]
                for k, v in extras["history"].items():
                    hist.setdefault(k, []).append(v)
                done += m
                c += 1
                bar.update(m)
                if checkpoint_every and done - last_ckpt >= checkpoint_every and done < n_examples:
                    save_state()
                    last_ckpt = done
    except KeyboardInterrupt:
        if checkpoint is not None:
            save_state()  # the state at the last completed chunk
            raise Interrupted(f"interrupted after {done} examples; checkpoint saved to {checkpoint}; "
                              "continue with --resume") from None
        raise
    finally:
        if own_engine:
            eng.close()
    if record_every:
        hist_seen.append(int(n_examples))
        for k, a in params.arrays().items():
            hist.setdefault(k, []).append(a.ravel()[None, :])
    history = {k: np.concatenate(v) for k, v in hist.items()}
    return TrainResult(params=params, examples_seen=int(n_examples), seed=int(seed),
                       history_seen=hist_seen, history=history,
                       seconds=time.perf_counter() - t0, compile_seconds=eng.compile_seconds,
                       engine=engine, device=getattr(eng, "device", "numpy"))


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint was saved."""


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path, run_id, circuit, params, done, chunk_index, rng_state, stream_state,
                    history_seen, history):
    import json

    from .model_io import save_npz

    arrays = {f"param_{k}": v for k, v in params.arrays().items()}
    arrays.update({f"history_{k}": v for k, v in history.items()})
    arrays["stream_order"] = np.asarray(stream_state, dtype=np.int64)
    arrays["meta"] = np.array(json.dumps({
        "format": "hm_neuro-checkpoint-1", "run": run_id, "circuit": circuit.to_dict(), "done": int(done),
        "chunk_index": int(chunk_index), "data_rng": rng_state, "history_seen": list(map(int, history_seen))}))
    save_npz(path, arrays)


def load_checkpoint(path, run_id, circuit):
    import json

    from .model_io import open_npz

    z = open_npz(path, "checkpoint")
    try:
        meta = json.loads(str(z["meta"]))
    except (KeyError, json.JSONDecodeError):
        raise bad(f"checkpoint {path}", "not an hm_neuro checkpoint") from None
    if meta.get("format") != "hm_neuro-checkpoint-1":
        raise bad(f"checkpoint {path}", "not an hm_neuro checkpoint")
    for key, value in run_id.items():
        if meta["run"].get(key) != value:
            raise bad(f"checkpoint {path}", f"was made by a run with {key}={meta['run'].get(key)!r}, "
                      f"this run has {key}={value!r}; resume with the same options")
    params = Parameters.from_arrays({k[6:]: v for k, v in z.items() if k.startswith("param_")}, circuit)
    return {"params": params, "done": meta["done"], "chunk_index": meta["chunk_index"],
            "data_rng": meta["data_rng"], "stream": z["stream_order"],
            "history_seen": meta["history_seen"],
            "history": {k[8:]: v for k, v in z.items() if k.startswith("history_")}}
