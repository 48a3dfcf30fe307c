"""The training loop: chunks, populations, progress, checkpoints.

Engines come from :func:`hm_neuro.engines.make_engine` and share one
interface; :func:`train` drives one machine and :func:`train_population`
several machines of one shape in one engine, chunk by chunk, with a progress
bar.

Randomness (every use, and how to reproduce it): a machine is seeded by one
integer (or a :class:`hm_neuro.seeds.SeedTree` node, e.g. a restart); its
``data`` child draws the training examples (the bars sampler, or the
shuffling of a data set into sweeps) and its ``stream`` child is the key of
its counter-based uniform numbers (:mod:`hm_neuro.philox`), the counter
being the example, the unit and the draw.  So a machine's weights depend on
its seed, circuit and data alone: the same on every engine and device
(to rounding: ``exp`` differs between libraries), alone or at any place in a
population, with any chunk length.  With ``rng='mt19937'`` (releases up to
0.2) its ``chunk, c`` child seeds chunk ``c`` instead, and in a Brian2
population the machines share one generator seeded from all their seeds.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
from tqdm.auto import tqdm

from .. import interrupts
from ..checks import Integer, check
from ..engines import EngineOptions, capabilities, history_chunk, ladder_chunk, make_engine, planned_chunk
from ..errors import bad
from ..model import NO_PERTURBATION, WAKE_SLEEP, Circuit, Parameters, diverged
from ..seeds import tree
from .checkpoints import Checkpointing, Interrupted, load_checkpoint, perturbation_digest, save_checkpoint
from .schedules import MAX_EXAMPLES, Epoch, parse_schedule, schedule_gates

logger = logging.getLogger(__name__)


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


def train(
    circuit: Circuit,
    stream,
    examples,
    seed=0,
    engine="brian2",
    *,
    params: Parameters | None = None,
    perturbation=None,
    checkpoint: Checkpointing | None = None,
    progress=True,
    **options,
) -> TrainResult:
    """Wake-sleep training of one machine: ``circuit`` on ``stream``.

    ``examples``: how many (wake-sleep throughout), or a schedule -- a list
    of :class:`Epoch` or its text, e.g. ``"wake-sleep:20000,wake:5000"``
    (:func:`parse_schedule`) -- which says how many by its total.
    ``engine``: an engine name, :class:`hm_neuro.engines.EngineOptions`
    (``options`` on top: ``device="numpy"``, ``chunk=...``, ``rule=...``) or
    an engine from :func:`hm_neuro.engines.make_engine` (re-used across
    runs of one shape).  ``perturbation``: lesions and clamps held during
    the whole run (:class:`hm_neuro.model.Perturbation`).  ``progress``: a
    bar (True), none (False), the bar's label (a string), or a function
    ``progress(n)`` called after every chunk with the examples it trained.

    ``params``: where the machine starts -- None (the circuit's initial
    values), :class:`hm_neuro.model.Parameters` (counted from 0), or an
    earlier :class:`TrainResult` (anything with ``params`` and
    ``examples_seen``, e.g. :func:`hm_neuro.files.model_io.continuation`
    of a model file), which is *continued*: its stream's counter and its
    data start where it stopped, ``examples_seen`` counts on from it, and
    (with the same seed and the counter-based stream) 20,000 examples then
    10,000 continued equal 30,000 in one run, bit for bit.

    ``checkpoint`` (:class:`Checkpointing`): with ``every`` > 0 the complete
    state (weights, examples seen, data generator, weight history) is
    written atomically at the first chunk boundary after every ``every``
    examples, and on Ctrl-C (the state at the last complete chunk);
    ``resume`` continues from it and ends with the same weights, bit for
    bit, as a run never interrupted.  A resume whose options, resolved
    device or fingerprint differ is refused, naming the difference.
    """
    return train_population(
        [circuit],
        [stream],
        examples,
        [seed],
        engine,
        params=[params],
        perturbation=[perturbation],
        checkpoint=checkpoint,
        progress=progress,
        **options,
    )[0]


def train_population(
    circuits,
    streams,
    examples,
    seeds,
    engine="brian2",
    *,
    params=None,
    perturbation=None,
    checkpoint: Checkpointing | None = None,
    progress=True,
    **options,
) -> list:
    """Train N machines of one shape side by side; one :class:`TrainResult` each.

    ``circuits``: one per machine (same layers and constraints; learning
    rates and initial values may differ) or a single circuit for all;
    ``streams``, ``seeds``, ``params`` and ``perturbation``: one per machine;
    ``examples``: a number or a schedule (see :func:`train`) for all, or
    one schedule per machine, of one total (e.g. a machine that is done
    early ends in a ``frozen`` epoch).  On the Brian2 engine the
    machines are one population circuit; on the reference they run in turn.
    Checkpoints (see :func:`train`) are for one machine.  ``progress``: a
    bar, none, the bar's label, or a function ``progress(n)`` called after
    every chunk with the machine-examples it trained (a sweep's bar:
    :func:`hm_neuro.runs.run_tasks`).
    """
    if isinstance(circuits, Circuit):
        circuits = [circuits] * len(streams)
    N = len(circuits)
    if N < 1 or len(streams) != N or len(seeds) != N:
        raise bad(
            "machines", "need one circuit, stream and seed per machine", (len(circuits), len(streams), len(seeds))
        )
    n_examples, schedules = _schedules(examples, N)
    _check_shapes(circuits, streams)
    perturbation = [
        (pt or NO_PERTURBATION).validate(c)
        for pt, c in zip(perturbation if perturbation is not None else [None] * N, circuits)
    ]
    if checkpoint is not None:
        check("checkpoint_every", checkpoint.every, Integer(0, MAX_EXAMPLES))
        if N != 1:
            raise bad("checkpoint", "checkpoints are for one machine; train populations without them")
    trees = [tree(s) for s in seeds]
    params, start = _continued(params, N)
    params = [(p or Parameters.initial(c)).copy() for p, c in zip(params, circuits)]
    machines = Machines(circuits, streams, trees, [t.child("data").rng() for t in trees], schedules, perturbation)
    for s, r in zip(streams, machines.data_rngs):  # a continued run: the data where the earlier run stopped
        _skip(s, r, start)
    opts = _engine_options(engine, options, streams, circuits[0], n_examples, N)
    own_engine = opts is not None
    run_id = None
    if checkpoint is not None:
        fingerprint = {**(checkpoint.fingerprint or {}), **({"continues_from": start} if start else {})}
        run_id = _run_id(opts, engine, machines, n_examples, opts.chunk if own_engine else engine.chunk, fingerprint)
    run = TrainingRun(machines, n_examples, params, start, checkpoint, run_id)
    if checkpoint is not None and checkpoint.resume:
        run.resume()
    t0 = time.perf_counter()
    label = progress if isinstance(progress, str) else f"{circuits[0].name} x{N}" if N > 1 else circuits[0].name
    with interrupts.deferred():  # Ctrl-C and SIGTERM: a flag, raised at the loop's safe point
        eng = make_engine(circuits[0], opts, n_machines=N) if own_engine else engine
        try:
            with tqdm(
                total=n_examples * N,
                initial=run.progress.done * N,
                disable=progress is False or callable(progress),
                unit="ex",
                unit_scale=True,
                desc=f"{label} [{eng.name}{'/' + eng.device if capabilities(eng).brian2 else ''}]",
            ) as bar:
                run.run(eng, _Tee(bar, progress if callable(progress) else None))
        finally:
            if own_engine:
                eng.close()
    return run.results(seeds, eng, time.perf_counter() - t0)


def _continued(params, N: int) -> tuple:
    """(parameters per machine, examples already seen): ``params`` entries
    are None, :class:`Parameters`, or an earlier run to continue (a
    :class:`TrainResult`, or anything with ``params`` and
    ``examples_seen``), which the machines of a population share."""
    params = list(params) if params is not None else [None] * N
    if len(params) != N:
        raise bad("params", f"needs one entry per machine ({N})", len(params))
    starts = {int(getattr(p, "examples_seen", 0) or 0) for p in params}
    if len(starts) != 1:
        raise bad("params", "the machines of a population continue from one example count", sorted(starts))
    start = starts.pop()
    if not 0 <= start <= MAX_EXAMPLES:
        raise bad("params", f"an earlier run's examples_seen must be in 0..{MAX_EXAMPLES}", start)
    return [getattr(p, "params", p) for p in params], start


def _skip(stream, rng, n: int, piece: int = 100_000):
    """Draw and drop ``n`` examples (in pieces: memory), so a continued run
    sees the examples a run that never stopped would have seen next."""
    for done in range(0, n, piece):
        stream.take(min(piece, n - done), rng)


def _engine_options(engine, options: dict, streams, circuit, n_examples: int, N: int):
    """The options a training makes its engine with (None for an engine made
    outside, which is checked instead)."""
    if hasattr(engine, "run_population"):  # a compiled engine re-used across runs (same circuit shape)
        if options:
            raise bad("engine", f"options {sorted(options)} go to make_engine, not to an engine already made")
        if getattr(engine, "n_machines", 1) != N:
            raise bad("engine", f"was built for {engine.n_machines} machine(s), not {N}")
        return None
    opts = EngineOptions.of(engine, **options)
    if "data_rows" not in options and (not isinstance(engine, EngineOptions) or not engine.data_rows):
        opts = opts.replace(data_rows=data_rows_for(streams, opts.engine))
    return _planned(opts, circuit, n_examples, N)


def _check_shapes(circuits, streams):
    shape = circuits[0]
    for c, s in zip(circuits, streams):
        if (c.layers, c.nonnegative_generative_weights_into) != (
            shape.layers,
            shape.nonnegative_generative_weights_into,
        ):
            raise bad(
                "circuit",
                f"every machine of a population has the shape of '{shape.name}' (layers {list(shape.layers)})",
                c.name,
            )
        if s.n_input != c.n_input:
            raise bad("data", f"rows have {s.n_input} values but circuit '{c.name}' has {c.n_input} input units")


def _schedules(examples, N: int) -> tuple:
    """(examples, one schedule per machine): ``examples`` is a number, a
    schedule (a list of :class:`Epoch` or its text) or one per machine, of
    one total."""
    if isinstance(examples, str):
        examples = parse_schedule(examples)
    if not isinstance(examples, (list, tuple)):
        n = check("examples", examples, Integer(1, MAX_EXAMPLES))
        return n, [[Epoch(n)]] * N
    if not examples:
        raise bad("examples", "a schedule needs at least one epoch", examples)
    per_machine = isinstance(examples[0], (list, tuple, str))
    schedules = [parse_schedule(x) if isinstance(x, str) else list(x) for x in examples] if per_machine else [examples]
    if per_machine and len(schedules) != N:
        raise bad("schedule", f"needs one schedule per machine ({N})", len(schedules))
    for sch in schedules:
        if not sch or not all(isinstance(e, Epoch) for e in sch):
            raise bad("schedule", "must be a list of hm_neuro.Epoch (or its text, e.g. 'wake-sleep:1000')", sch)
    totals = sorted({sum(e.examples for e in sch) for sch in schedules})
    if len(totals) != 1:
        raise bad("schedule", "the machines of a population train for one number of examples", totals)
    check("examples", totals[0], Integer(1, MAX_EXAMPLES))
    return totals[0], schedules if per_machine else schedules * N


def _planned(opts: EngineOptions, circuit: Circuit, n_examples: int, N: int) -> EngineOptions:
    """The options a training runs with: even chunks, and the device resolved
    (the one actually used, which a checkpoint records)."""
    max_chunk = planned_chunk(opts, circuit, N)  # the vectorised engine's uniforms: chunks that fit in memory
    # a compiled build serves runs of other lengths: interactive runs share the build of a ladder's chunk
    chunk = ladder_chunk(opts, n_examples) or plan_chunks(n_examples, max_chunk)
    return opts.replace(chunk=history_chunk(opts, chunk), device=opts.resolved_device)


def data_rows_for(streams, engine: str) -> int:
    """The data-table capacity of a Brian2 engine for ``streams``
    (:class:`hm_neuro.engines.EngineOptions`): the most distinct rows any of
    them draws, rounded up to a power of two so that similar data sets share
    a compiled build; 0 (every example's pixels) when a stream cannot say or
    rows are wider than 64 units."""
    if not capabilities(engine).brian2 or any(s.n_input > 64 for s in streams):
        return 0
    counts = [getattr(s, "distinct_rows", 0) for s in streams]
    return 0 if min(counts) == 0 else 1 << (max(counts) - 1).bit_length()


def _run_id(opts, engine, machines: Machines, n_examples: int, chunk: int, fingerprint: dict) -> dict:
    """Everything a checkpoint's run (the first machine's) is, as stored and
    compared on resume (the device as resolved: the one actually used)."""
    eng = opts if opts is not None else engine
    stream = machines.streams[0]
    return {
        "seed": machines.trees[0].label(),
        "examples": n_examples,
        "chunk": int(chunk),
        "circuit": machines.circuits[0].to_dict(),
        "schedule": [[e.kind, int(e.examples)] for e in machines.schedules[0]],
        "record_every": eng.record_every,
        "engine": opts.engine if opts is not None else engine.name,
        "device": eng.device,
        "propagation": getattr(eng, "propagation", "auto"),
        "rule": getattr(eng, "rule", WAKE_SLEEP).label,
        "rng": getattr(eng, "rng", "philox"),
        "spiking": None if getattr(eng, "spiking", None) is None else eng.spiking.key(),
        "data": stream.description,
        "data_parameters": getattr(stream, "parameters", None),
        "perturbation": perturbation_digest(machines.perturbation[0]),
        **(fingerprint or {}),
    }


@dataclasses.dataclass
class Machines:
    """The machines of a training, one entry each: what stays fixed while it
    runs (the data generators and streams advance)."""

    circuits: list
    streams: list
    #: each machine's seed (:mod:`hm_neuro.seeds`): its stream's key, its data generator
    trees: list
    data_rngs: list
    schedules: list
    perturbation: list


@dataclasses.dataclass
class Progress:
    """Where a training stands after its last complete chunk."""

    #: examples trained in this run (a continued run's earlier ones not counted)
    done: int = 0
    #: chunks trained
    chunk: int = 0
    #: the examples at which the weight history was recorded
    history_seen: list = dataclasses.field(default_factory=list)
    #: per machine, {array name: [recorded rows of each chunk]}
    history: list = dataclasses.field(default_factory=list)
    #: per machine, None or why it diverged (it is then frozen at its last good weights)
    errors: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The first machine's complete state at the end of a chunk: what a
    checkpoint writes (with the progress), so an interrupt mid-chunk loses
    only that chunk."""

    params: Parameters
    done: int
    chunk: int
    data_rng: dict
    stream: object


class TrainingRun:
    """One training of a population, chunk by chunk, with typed state:
    :attr:`progress`, the parameters, the :attr:`snapshot` a checkpoint
    writes; steps :meth:`next_chunk`, :meth:`save_checkpoint`,
    :meth:`resume`; :meth:`run` drives them."""

    def __init__(self, machines: Machines, n_examples: int, params: list, start: int, checkpoint=None, run_id=None):
        N = len(params)
        self.machines, self.n_examples, self.params = machines, n_examples, params
        #: examples seen before this run (a continued run): the stream's counter and the history start there
        self.start = start
        self.checkpoint: Checkpointing | None = checkpoint
        self.run_id = run_id
        self.progress = Progress(history=[{} for _ in range(N)], errors=[None] * N)
        self.snapshot = self._snapshot()

    def _snapshot(self) -> Snapshot:
        m = self.machines
        p = self.progress
        return Snapshot(self.params[0], p.done, p.chunk, m.data_rngs[0].bit_generator.state, m.streams[0].get_state())

    def resume(self):
        """The state of an interrupted run, from its checkpoint: parameters,
        progress, weight history, data generator and stream."""
        m = self.machines
        saved = load_checkpoint(self.checkpoint.path, self.run_id, m.circuits[0])
        history = [{k: [v] for k, v in saved["history"].items()}]
        self.progress = Progress(saved["done"], saved["chunk_index"], saved["history_seen"], history, errors=[None])
        m.data_rngs[0].bit_generator.state = saved["data_rng"]
        m.streams[0].set_state(saved["stream"])
        self.params = [saved["params"]]
        self.snapshot = self._snapshot()

    def next_chunk(self, eng) -> int:
        """Train one chunk on ``eng``; returns its examples.  A signal that
        arrives meanwhile is raised at the end and the chunk discarded."""
        m, p, N = self.machines, self.progress, len(self.params)
        done = p.done
        n = min(eng.chunk, self.n_examples - done)
        every = eng.record_every
        if every and capabilities(eng).history_per_chunk:
            # a history counted from each chunk's start: every multiple of record_every starts a chunk
            # (chunks are multiples of it, history_chunk; a shorter chunk, or a continued run's first, ends on one)
            off = (self.start + done) % every
            if off or eng.chunk < every:
                n = min(n, every - off)
        rows = [s.take(n, r) for s, r in zip(m.streams, m.data_rngs)]
        gates = [schedule_gates(sch, done, done + n) for sch in m.schedules]
        for k in range(N):
            if p.errors[k]:  # a diverged machine of a population stays frozen
                gates[k] = (np.zeros(n), np.zeros(n))
        interrupts.raise_pending()
        new_params, extras = eng.run_population(
            self.params,
            rows,
            [eng.seed_for(t, p.chunk) for t in m.trees],
            [g[0] for g in gates],
            [g[1] for g in gates],
            offset=self.start + done,
            perturbation=m.perturbation,
            circuits=m.circuits,
        )
        interrupts.raise_pending()  # the safe point: a chunk ended early by a signal is discarded
        self.params = self._frozen_if_diverged(new_params, done + n)
        p.history_seen += extras[0]["history_seen"]
        for h, e in zip(p.history, extras):
            for key, v in e["history"].items():
                h.setdefault(key, []).append(v)
        p.done, p.chunk = done + n, p.chunk + 1
        self.snapshot = self._snapshot()
        return n

    def _frozen_if_diverged(self, new_params: list, seen: int) -> list:
        """A machine whose weights diverged: alone, an error; in a population,
        kept at its last good weights and marked (the others go on)."""
        errors = self.progress.errors
        for k, p in enumerate(new_params):
            if errors[k] or not diverged(p):
                continue
            msg = (
                f"diverged: weights not finite or beyond {p.largest_magnitude():.3g} after "
                f"{seen} examples; lower the learning rates"
            )
            if len(new_params) == 1:
                ckpt = self.checkpoint
                raise bad("training", msg + (f"; last good checkpoint: {ckpt.path}" if ckpt and ckpt.every else ""))
            errors[k] = "training: " + msg
            new_params[k] = self.params[k]
        return new_params

    def save_checkpoint(self):
        """Write the snapshot (the last complete chunk) and the history up to it."""
        s, p = self.snapshot, self.progress
        history = {k: np.concatenate(v) for k, v in p.history[0].items()}
        args = (s.params, s.done, s.chunk, s.data_rng, s.stream, list(p.history_seen), history)
        save_checkpoint(self.checkpoint.path, self.run_id, self.machines.circuits[0], *args)

    def run(self, eng, bar):
        """Chunk after chunk until ``n_examples``; a checkpoint every
        ``checkpoint.every`` examples and on an interrupt (Ctrl-C, SIGTERM)."""
        ckpt, p = self.checkpoint, self.progress
        last = p.done
        try:
            while p.done < self.n_examples:
                bar.update(self.next_chunk(eng) * len(self.params))
                if ckpt and ckpt.every and p.done - last >= ckpt.every and p.done < self.n_examples:
                    self.save_checkpoint()
                    last = p.done
        except KeyboardInterrupt:
            if ckpt is not None and self.snapshot.done > 0:
                self.save_checkpoint()
                raise Interrupted(
                    f"interrupted after {self.snapshot.done} examples; checkpoint saved to {ckpt.path}; "
                    "continue with --resume"
                ) from None
            raise

    def results(self, seeds, eng, seconds: float) -> list:
        """One :class:`TrainResult` per machine: its weights and whole history."""
        out, p, end = [], self.progress, self.start + self.n_examples
        for k, params in enumerate(self.params):
            seen, hist = list(p.history_seen), p.history[k]
            if eng.record_every:
                seen.append(end)
                for name, a in params.arrays().items():
                    hist.setdefault(name, []).append(a.ravel()[None, :])
            history = {name: np.concatenate(v) for name, v in hist.items()}
            out.append(
                TrainResult(
                    params,
                    end,
                    seeds[k],
                    seen,
                    history,
                    seconds,
                    eng.compile_seconds,
                    eng.name,
                    eng.device,
                    p.errors[k],
                )
            )
        return out


class _Tee:
    """A progress bar that also tells ``on_chunk`` what it was told."""

    def __init__(self, bar, on_chunk):
        self.bar, self.on_chunk = bar, on_chunk

    def update(self, n):
        self.bar.update(n)
        if self.on_chunk is not None:
            self.on_chunk(n)
