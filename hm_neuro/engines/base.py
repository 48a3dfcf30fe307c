"""What every engine offers, written once: :class:`EngineBase` takes the
arguments of a chunk, checks them and hands the engine one :class:`Chunk`."""

from __future__ import annotations

import dataclasses

from .. import interrupts
from ..errors import bad
from ..model import NO_PERTURBATION, WAKE_SLEEP, Circuit, Parameters, Uniforms
from .options import MAX_CHUNK


@dataclasses.dataclass
class Chunk:
    """One chunk of a population's training: one entry per machine of every list.

    ``data[m]`` (rows, n0), every machine the same number of rows;
    ``wake_gate[m]``, ``sleep_gate[m]``: (rows,) learning gates (1 = learn,
    0 = sample only) or None (learn); ``uniforms[m]``: pre-drawn
    :class:`hm_neuro.model.Uniforms` or None (the engine draws, from
    ``seeds[m]``: with the philox stream the machine's 64-bit key, the
    counter starting at ``offset``; with mt19937 the chunk's seed);
    ``perturbation[m]``: lesions and clamps; ``circuits[m]``: a circuit
    of the engine's shape (e.g. other learning rates); ``offset``: the
    examples seen before the chunk (the weight history; the stream's counter).
    """

    data: list
    seeds: list
    wake_gate: list
    sleep_gate: list
    uniforms: list
    offset: int
    perturbation: list
    circuits: list

    @property
    def rows(self) -> int:
        return len(self.data[0])

    def machine(self, k: int) -> Chunk:
        """Machine k's part, as a chunk of one."""
        return Chunk(
            [self.data[k]],
            [self.seeds[k]],
            [self.wake_gate[k]],
            [self.sleep_gate[k]],
            None if self.uniforms is None else [self.uniforms[k]],
            self.offset,
            [self.perturbation[k]],
            [self.circuits[k]],
        )


class EngineBase:
    """An engine trains a population of machines chunk by chunk.

    ``run_population(params, data, seeds, ...)`` trains every machine on its
    own rows (at most ``chunk``), one wake and one sleep phase per row, and
    returns ``(params, extras)`` per machine; ``extras`` holds the weight
    history recorded in the chunk (``history_seen``, ``history``) and, with
    ``record_spikes``, the sampled states (``wake``, ``sleep``: per layer
    ``(rows, units)``).  ``run`` is the same for one machine.  Subclasses
    implement ``train_chunk(params, chunk)``.
    """

    name: str  #: 'numpy', 'vectorised', 'brian2' or 'spiking'
    device: str  #: 'numpy' for the NumPy engines; the Brian2 device otherwise
    circuit: Circuit
    chunk: int
    n_machines: int = 1
    record_every: int = 0
    compile_seconds: float = 0.0
    propagation: str = "auto"
    rule = WAKE_SLEEP
    spiking = None
    #: 'philox' (counter-based: ``seeds`` are the machines' stream keys) or 'mt19937' (chunk seeds)
    rng = "philox"

    def __init__(
        self,
        circuit: Circuit,
        chunk: int = MAX_CHUNK,
        record_every: int = 0,
        record_spikes: bool = False,
        n_machines: int = 1,
    ):
        """The NumPy engines' state (the Brian2 engine builds its own)."""
        self.circuit = circuit
        self.chunk = chunk
        self.record_every = record_every
        self.record_spikes = record_spikes
        self.n_machines = n_machines

    @classmethod
    def from_options(cls, circuit: Circuit, options, n_machines: int = 1):
        """The engine :func:`hm_neuro.engines.make_engine` builds from
        :class:`hm_neuro.engines.EngineOptions`."""
        engine = cls(
            circuit,
            chunk=options.chunk,
            record_every=options.record_every,
            record_spikes=options.record_spikes,
            n_machines=n_machines,
        )
        engine.rng = options.rng
        return engine

    def seed_for(self, node, chunk: int = 0) -> int:
        """What this engine is handed for machine ``node`` (a :class:`hm_neuro.seeds.SeedTree`)
        in chunk ``chunk``: its stream key (philox: the same in every chunk,
        the counter is the example) or the chunk's seed (mt19937)."""
        return node.child("stream").key() if self.rng == "philox" else node.child("chunk", chunk).integer()

    def run(
        self,
        params: Parameters,
        data,
        seed: int,
        wake_gate=None,
        sleep_gate=None,
        uniforms: Uniforms | None = None,
        offset: int = 0,
        perturbation=NO_PERTURBATION,
    ):
        """One machine: :meth:`run_population` of one."""
        if self.n_machines != 1:
            raise bad("run", f"this engine trains {self.n_machines} machines; use run_population")
        out, extras = self.run_population(
            [params],
            [data],
            [seed],
            [wake_gate],
            [sleep_gate],
            None if uniforms is None else [uniforms],
            offset,
            [perturbation],
        )
        return out[0], extras[0]

    def run_population(
        self,
        params: list,
        data: list,
        seeds: list,
        wake_gate=None,
        sleep_gate=None,
        uniforms=None,
        offset: int = 0,
        perturbation=None,
        circuits=None,
    ):
        """Every machine of the population on its own rows; see the class docstring."""
        N = len(params)

        def per_machine(key, value):
            value = [None] * N if value is None else list(value)
            if len(value) != N:
                raise bad(key, f"needs one entry per machine ({N})", len(value))
            return value

        data, seeds = per_machine("data", data), per_machine("seeds", seeds)
        rows = {len(d) for d in data}
        if len(rows) != 1 or rows.pop() > self.chunk:
            raise bad(
                "data",
                f"every machine of a population trains on the same number of rows, at most {self.chunk}",
                sorted({len(d) for d in data}),
            )
        circuits = [c or self.circuit for c in per_machine("circuits", circuits)]
        for c in circuits:
            self.check_shape(c)
        chunk = Chunk(
            data,
            seeds,
            per_machine("wake_gate", wake_gate),
            per_machine("sleep_gate", sleep_gate),
            None if uniforms is None else per_machine("uniforms", uniforms),
            offset,
            [(pt or NO_PERTURBATION).validate(c) for pt, c in zip(per_machine("perturbation", perturbation), circuits)],
            circuits,
        )
        self.stop_requested = False
        with interrupts.on_stop(self.request_stop):
            return self.train_chunk([p.with_state(self.circuit) for p in params], chunk)

    def train_chunk(self, params: list, chunk: Chunk):
        raise NotImplementedError

    #: set by :meth:`request_stop`; an engine polls it and ends its chunk early
    stop_requested = False

    def request_stop(self):
        """A signal arrived while a chunk runs (:mod:`hm_neuro.interrupts`):
        end it early; its results are then discarded by the caller, which
        raises the interrupt at its safe point.  Called from a signal
        handler: set a flag, raise nothing."""
        self.stop_requested = True

    def check_shape(self, circuit: Circuit):
        """A circuit this engine can train (its layers and its precision: one per population)."""
        if circuit.layers != self.circuit.layers:
            raise bad("circuit", f"this engine is for layers {list(self.circuit.layers)}", circuit.name)
        if circuit.precision != self.circuit.precision:
            raise bad("circuit", f"this engine is for the precision {self.circuit.precision.label}", circuit.name)
        if circuit.plasticity != self.circuit.plasticity:
            raise bad("circuit", f"this engine is for the plasticity {self.circuit.plasticity.name}", circuit.name)

    def retarget(self, circuit: Circuit):
        """Train another circuit of the same shape (e.g. other learning rates)."""
        self.check_shape(circuit)
        self.circuit = circuit

    def close(self):
        """Release what the engine holds (nothing, for the NumPy engines)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: the interface's name in annotations
Engine = EngineBase
