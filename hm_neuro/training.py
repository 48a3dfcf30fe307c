"""Training: data streams, learning schedules, chunks, populations, checkpoints.

Engines come from :func:`hm_neuro.engines.make_engine` and share one
interface; :func:`train` drives one machine and :func:`train_population`
several machines of one shape in one engine, chunk by chunk, with a progress
bar.

Randomness (every use, and how to reproduce it): a machine is seeded by one
integer (or a :class:`hm_neuro.seeds.SeedTree` node, e.g. a restart); its
``data`` child draws the training examples (the bars sampler, or the
shuffling of a data set into sweeps) and its ``chunk, c`` child seeds the
wake-sleep sampling of chunk ``c`` -- a NumPy generator for the reference,
Brian2's ``seed()`` or the compiled binary's generator for the circuit.
Same circuit, data, seed, engine, device and chunk length: bit-identical
weights.  In a Brian2 population the machines share the circuit's one
generator (seeded from all their chunk seeds), so a machine's weights depend
on the whole population (its seeds in order), not on its own seed alone; the
data each machine sees depends on its own seed only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import numpy as np

from .circuit import Circuit
from .data import _check_bars_args, sample_bars, validate_binary
from .engines import make_engine
from .errors import bad
from .model import NO_PERTURBATION, Parameters, diverged
from .seeds import tree
from .vectorised import Rule

logger = logging.getLogger(__name__)

#: learning gates (wake, sleep) of each kind of epoch
EPOCH_KINDS = {"wake-sleep": (1.0, 1.0), "wake": (1.0, 0.0), "sleep": (0.0, 1.0), "frozen": (0.0, 0.0)}
#: the most examples one training may ask for (a bound on schedules and counts)
MAX_EXAMPLES = 10 ** 12


def chunk_seed(seed, chunk_index: int) -> int:
    """The seed of chunk ``chunk_index`` of a run seeded with ``seed`` (its ``chunk`` child)."""
    return tree(seed).child("chunk", chunk_index).integer()


# ------------------------------------------------------------------ schedules

@dataclasses.dataclass(frozen=True)
class Epoch:
    examples: int
    kind: str = "wake-sleep"

    def __post_init__(self):
        if self.kind not in EPOCH_KINDS:
            raise bad("epoch kind", f"must be one of {list(EPOCH_KINDS)}", self.kind)
        if isinstance(self.examples, bool) or not isinstance(self.examples, (int, np.integer)) or \
                not 1 <= self.examples <= MAX_EXAMPLES:
            raise bad(f"epoch '{self.kind}' examples", f"must be an integer in 1..{MAX_EXAMPLES:.0e}", self.examples)


def parse_schedule(text: str) -> list:
    """``"wake-sleep:1000,wake:500,frozen:10"`` -> list of :class:`Epoch`."""
    epochs = []
    for part in text.split(","):
        kind, sep, count = part.strip().rpartition(":")
        if not sep:
            raise bad("schedule", "each epoch is KIND:EXAMPLES, e.g. wake-sleep:1000,wake:500", text)
        try:
            v = float(count)
        except ValueError:
            raise bad("schedule", f"epoch length {count!r} is not a number", text) from None
        if not (np.isfinite(v) and v == int(v) and 1 <= v <= MAX_EXAMPLES):
            raise bad("schedule", f"epoch length {count!r} must be a whole number in 1..{MAX_EXAMPLES:.0e}", text)
        n = int(v)
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
            raise bad("data", f"bars needs a square input layer; circuit '{circuit.name}' has "
                      f"{circuit.n_input} inputs")
        return BarsStream(p_vertical=p_vertical, size=side)
    rows, desc = resolve_data(spec, circuit.n_input)
    return SweepStream(rows, desc)


# ------------------------------------------------------------------- training

@dataclasses.dataclass
class TrainResult:
    params: Parameters
    examples_seen: int
    seed: object
    history_seen: list
    history: dict
    seconds: float
    compile_seconds: float
    engine: str
    device: str
    #: set when this machine of a population diverged (it was then frozen at its last good weights)
    error: str | None = None


def plan_chunks(n_examples: int, max_chunk: int) -> int:
    """Chunk length <= max_chunk that splits n_examples as evenly as possible."""
    n_chunks = -(-n_examples // max_chunk)
    return -(-n_examples // n_chunks)


def _check_count(name, value, low=1, high=MAX_EXAMPLES):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise bad(name, f"must be an integer in {low}..{high:.0e}" if high >= 1e6 else
                  f"must be an integer in {low}..{high}", value)
    return int(value)


def train(circuit: Circuit, stream, n_examples: int, seed=0, engine="brian2", device=None,
          max_chunk: int = 100_000, params: Parameters | None = None, schedule=None, record_every: int = 0,
          progress: bool = True, build_dir=None, checkpoint=None, checkpoint_every: int = 0,
          resume: bool = False, perturbation=None, propagation: str = "auto", fingerprint=None,
          rule="wake-sleep", spiking=None) -> TrainResult:
    """Wake-sleep training of one machine: ``circuit`` on ``stream`` for ``n_examples``.

    ``engine``: 'numpy', 'brian2' or an engine from
    :func:`hm_neuro.engines.make_engine` (re-used across runs of one shape).
    ``schedule``: list of :class:`Epoch` (default: wake-sleep throughout);
    its total must equal ``n_examples``.

    ``checkpoint``: a path; with ``checkpoint_every`` > 0 the complete state
    (weights, examples seen, data generator, weight history) is written
    there atomically at the first chunk boundary after every
    ``checkpoint_every`` examples, and on Ctrl-C (the state at the last
    complete chunk).  ``resume`` continues from it; the resumed run ends with
    the same weights, bit for bit, as one never interrupted.  ``fingerprint``
    (a dict of everything else that changes the result: data, initial
    weights, ...) is stored in the checkpoint, and a resume whose
    fingerprint or options differ is refused, naming the difference.

    ``perturbation``: lesions and clamps held during the whole run
    (:class:`hm_neuro.model.Perturbation`).  ``spiking``
    (:class:`hm_neuro.spiking.Spiking`): the spiking engine's parameters.
    """
    return train_population([circuit], [stream], n_examples, [seed], engine=engine, device=device,
                            max_chunk=max_chunk, params=[params], schedule=schedule, record_every=record_every,
                            progress=progress, build_dir=build_dir, checkpoint=checkpoint,
                            checkpoint_every=checkpoint_every, resume=resume, perturbation=[perturbation],
                            propagation=propagation, fingerprint=fingerprint, rule=rule, spiking=spiking)[0]


def _spiking_key(spiking):
    return None if spiking is None else spiking.key()


def train_population(circuits, streams, n_examples: int, seeds, engine="brian2", device=None,
                     max_chunk: int = 100_000, params=None, schedule=None, record_every: int = 0,
                     progress: bool = True, build_dir=None, checkpoint=None, checkpoint_every: int = 0,
                     resume: bool = False, perturbation=None, propagation: str = "auto",
                     fingerprint=None, desc: str | None = None, rule="wake-sleep", spiking=None) -> list:
    """Train N machines of one shape side by side; one :class:`TrainResult` each.

    ``circuits``: one per machine (same layers and constraints; learning
    rates and initial values may differ) or a single circuit for all;
    ``streams``, ``seeds``, ``params`` and ``perturbation``: one per machine;
    ``schedule``: one for all, or one per machine (e.g. a machine that is
    done early ends in a ``frozen`` epoch).
    On the Brian2 engine the machines are one population circuit
    (:class:`hm_neuro.brian2_engine.CircuitNetwork`); on the reference they
    run in turn.  Checkpoints (see :func:`train`) are for one machine.
    """
    from tqdm.auto import tqdm

    if isinstance(circuits, Circuit):
        circuits = [circuits] * len(streams)
    N = len(circuits)
    if N < 1 or len(streams) != N or len(seeds) != N:
        raise bad("machines", "need one circuit, stream and seed per machine",
                  (len(circuits), len(streams), len(seeds)))
    n_examples = _check_count("examples", n_examples)
    max_chunk = _check_count("chunk", max_chunk, 1, 10 ** 7)
    record_every = _check_count("record_every", record_every, 0)
    shape = circuits[0]
    for c, s in zip(circuits, streams):
        if (c.layers, c.nonnegative_generative_weights_into) != (shape.layers, shape.nonnegative_generative_weights_into):
            raise bad("circuit", f"every machine of a population has the shape of '{shape.name}' "
                      f"(layers {list(shape.layers)})", c.name)
        if s.n_input != c.n_input:
            raise bad("data", f"rows have {s.n_input} values but circuit '{c.name}' has {c.n_input} input units")
    schedule = schedule or [Epoch(n_examples)]
    schedules = schedule if isinstance(schedule[0], (list, tuple)) else [schedule] * N  # one per machine
    if len(schedules) != N:
        raise bad("schedule", f"needs one schedule per machine ({N})", len(schedules))
    for sch in schedules:
        total = sum(e.examples for e in sch)
        if total != n_examples:
            raise bad("schedule", f"epochs add up to {total} examples but {n_examples} were asked for", total)
    perturbation = list(perturbation) if perturbation is not None else [None] * N
    perturbation = [(pt or NO_PERTURBATION).validate(c) for pt, c in zip(perturbation, circuits)]
    if (checkpoint_every or resume) and checkpoint is None:
        raise bad("checkpoint", "checkpoint_every and resume need a checkpoint path")
    if checkpoint is not None and N != 1:
        raise bad("checkpoint", "checkpoints are for one machine; train populations without them")
    checkpoint_every = _check_count("checkpoint_every", checkpoint_every, 0)
    trees = [tree(s) for s in seeds]
    params = list(params) if params is not None else [None] * N
    params = [(p or Parameters.initial(c)).copy() for p, c in zip(params, circuits)]
    data_rngs = [t.child("data").rng() for t in trees]
    own_engine = isinstance(engine, str)
    if own_engine and engine == "vectorised":  # its uniforms for N machines x K samples: smaller chunks
        from .vectorised import MAX_CHUNK as VECTORISED_CHUNK

        max_chunk = min(max_chunk, VECTORISED_CHUNK)
    chunk = plan_chunks(n_examples, max_chunk) if own_engine else engine.chunk
    hist_seen, hist = [], [{} for _ in range(N)]
    errors = [None] * N
    done, c = 0, 0
    run_id = None
    if checkpoint is not None:
        run_id = {"seed": trees[0].label(), "examples": n_examples, "chunk": int(chunk),
                  "circuit": circuits[0].to_dict(), "schedule": [[e.kind, int(e.examples)] for e in schedules[0]],
                  "record_every": record_every, "engine": engine if own_engine else engine.name,
                  "device": device if own_engine else engine.device, "propagation": propagation,
                  "rule": Rule.parse(rule).label if own_engine else getattr(engine, "rule", Rule()).label,
                  "spiking": _spiking_key(spiking if own_engine else getattr(engine, "spiking", None)),
                  "data": streams[0].description, "perturbation": _perturbation_digest(perturbation[0]),
                  **(fingerprint or {})}
    if resume:
        state = load_checkpoint(checkpoint, run_id, circuits[0])
        params, done, c = [state["params"]], state["done"], state["chunk_index"]
        data_rngs[0].bit_generator.state = state["data_rng"]
        streams[0].set_state(state["stream"])
        hist_seen, hist = state["history_seen"], [{k: [v] for k, v in state["history"].items()}]
    t0 = time.perf_counter()
    if own_engine:
        eng = make_engine(shape, engine, device=device, chunk=chunk, record_every=record_every,
                          build_dir=build_dir, propagation=propagation, n_machines=N, rule=rule, spiking=spiking)
    else:  # a compiled engine re-used across runs (same circuit shape)
        eng = engine
        record_every = eng.record_every
        if getattr(eng, "n_machines", 1) != N:
            raise bad("engine", f"was built for {eng.n_machines} machine(s), not {N}")

    # the state at the last complete chunk: what a checkpoint holds
    saved = {"rng": data_rngs[0].bit_generator.state, "stream": streams[0].get_state()}

    def save_state():
        save_checkpoint(checkpoint, run_id, circuits[0], params[0], done, c, saved["rng"], saved["stream"],
                        hist_seen, {k: np.concatenate(v) for k, v in hist[0].items()})

    last_ckpt = done
    label = desc or (f"{shape.name} x{N}" if N > 1 else shape.name)
    try:
        with tqdm(total=n_examples * N, initial=done * N, disable=not progress, unit="ex", unit_scale=True,
                  desc=f"{label} [{eng.name}{'/' + eng.device if eng.name in ('brian2', 'spiking') else ''}]") as bar:
            while done < n_examples:
                m = min(chunk, n_examples - done)
                rows = [s.take(m, r) for s, r in zip(streams, data_rngs)]
                gates = [schedule_gates(sch, done, done + m) for sch in schedules]
                for k in range(N):
                    if errors[k]:  # a diverged machine of a population stays frozen
                        gates[k] = (np.zeros(m), np.zeros(m))
                new_params, extras = eng.run_population(
                    params, rows, [t.child("chunk", c).integer() for t in trees], [g[0] for g in gates],
                    [g[1] for g in gates],
                    offset=done, perturbation=perturbation, circuits=circuits)
                for k, p in enumerate(new_params):
                    if errors[k] or not diverged(p):
                        continue
                    msg = (f"training: diverged: weights not finite or beyond {p.largest_magnitude():.3g} after "
                           f"{done + m} examples; lower the learning rates")
                    if N == 1:
                        raise bad("training", msg.split(": ", 1)[1]
                                  + (f"; last good checkpoint: {checkpoint}" if checkpoint_every else ""))
                    errors[k] = msg  # the others go on; this one keeps its last good weights
                    new_params[k] = params[k]
                params = new_params
                hist_seen += extras[0]["history_seen"]
                for h, e in zip(hist, extras):
                    for k, v in e["history"].items():
                        h.setdefault(k, []).append(v)
                done += m
                c += 1
                saved = {"rng": data_rngs[0].bit_generator.state, "stream": streams[0].get_state()}
                bar.update(m * N)
                if checkpoint_every and done - last_ckpt >= checkpoint_every and done < n_examples:
                    save_state()
                    last_ckpt = done
    except KeyboardInterrupt:
        if checkpoint is not None and done > 0:
            save_state()
            raise Interrupted(f"interrupted after {done} examples; checkpoint saved to {checkpoint}; "
                              "continue with --resume") from None
        raise
    finally:
        if own_engine:
            eng.close()
    seconds = time.perf_counter() - t0
    results = []
    for k in range(N):
        seen = list(hist_seen)
        if record_every:
            seen.append(n_examples)
            for name, a in params[k].arrays().items():
                hist[k].setdefault(name, []).append(a.ravel()[None, :])
        results.append(TrainResult(params=params[k], examples_seen=n_examples, seed=seeds[k], history_seen=seen,
                                   history={name: np.concatenate(v) for name, v in hist[k].items()},
                                   seconds=seconds, compile_seconds=eng.compile_seconds,
                                   engine=eng.name, device=eng.device, error=errors[k]))
    return results


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint was saved."""


def _perturbation_digest(pt) -> str:
    import hashlib

    h = hashlib.sha256()
    for key in sorted(pt.lesions):
        h.update(repr(key).encode())
        h.update(np.asarray(pt.lesions[key], dtype=float).tobytes())
    for key in sorted(pt.clamps):
        h.update(repr(key).encode())
        h.update(np.asarray(pt.clamps[key], dtype=float).tobytes())
    return h.hexdigest()[:16]


def array_digest(arrays: dict) -> str:
    """A short hash of named arrays (initial weights, data rows) for checkpoint fingerprints."""
    import hashlib

    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key], dtype=float).tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT = "hm_neuro-checkpoint-2"


def save_checkpoint(path, run_id, circuit, params, done, chunk_index, rng_state, stream_state,
                    history_seen, history):
    from .model_io import save_npz

    arrays = {f"param_{k}": v for k, v in params.arrays().items()}
    arrays.update({f"history_{k}": v for k, v in history.items()})
    arrays["stream_order"] = np.asarray(stream_state, dtype=np.int64)
    arrays["meta"] = np.array(json.dumps({
        "format": CHECKPOINT_FORMAT, "run": run_id, "done": int(done),
        "chunk_index": int(chunk_index), "data_rng": rng_state, "history_seen": list(map(int, history_seen))}))
    save_npz(path, arrays)


def checkpoint_progress(path) -> int | None:
    """Examples of progress held by a checkpoint file, or None if it is not one."""
    from .model_io import open_npz

    try:
        z = open_npz(path, "checkpoint")
        meta = json.loads(str(z["meta"]))
        return int(meta["done"])
    except Exception:  # noqa: BLE001 - anything unreadable is "not a checkpoint"
        return None


def load_checkpoint(path, run_id, circuit):
    from .model_io import open_npz

    z = open_npz(path, "checkpoint")
    where = f"checkpoint {path}"
    try:
        meta = json.loads(str(z["meta"]))
    except (KeyError, json.JSONDecodeError, UnicodeDecodeError):
        raise bad(where, "not an hm_neuro checkpoint (no readable 'meta')") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise bad(where, f"not an hm_neuro checkpoint of format {CHECKPOINT_FORMAT}")
    for key in ("run", "done", "chunk_index", "data_rng", "history_seen"):
        if key not in meta:
            raise bad(where, f"missing '{key}'")
    stored = meta["run"] if isinstance(meta["run"], dict) else {}
    for key, value in run_id.items():
        if stored.get(key) != json.loads(json.dumps(value)):
            raise bad(where, f"was made with a different {key} ({_short(stored.get(key))}; this run: "
                      f"{_short(value)}); resume with the same options")
    done, c = meta["done"], meta["chunk_index"]
    if not (isinstance(done, int) and 0 < done < run_id["examples"] and isinstance(c, int) and c >= 1):
        raise bad(where, f"progress must be in 1..{run_id['examples'] - 1} examples", done)
    rng_state = meta["data_rng"]
    if not (isinstance(rng_state, dict) and "bit_generator" in rng_state and "state" in rng_state):
        raise bad(where, "has no data-generator state")
    if "stream_order" not in z:
        raise bad(where, "missing 'stream_order'")
    from .model_io import parameters_from

    params = parameters_from({k[6:]: v for k, v in z.items() if k.startswith("param_")}, circuit, where)
    return {"params": params, "done": done, "chunk_index": c, "data_rng": rng_state,
            "stream": z["stream_order"], "history_seen": meta["history_seen"],
            "history": {k[8:]: v for k, v in z.items() if k.startswith("history_")}}


def _short(v) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
