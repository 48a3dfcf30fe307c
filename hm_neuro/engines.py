"""One engine interface and one factory.

An *engine* trains a machine chunk by chunk.  Every engine -- the NumPy
reference and the Brian2 circuit -- implements :class:`Engine`, and every
caller (training, protocols, sweeps, experiments, benchmarks, the CLI) gets
one from :func:`make_engine`, so that options such as ``device`` and
``propagation`` reach every path.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from . import reference
from .circuit import Circuit
from .errors import bad
from .model import NO_PERTURBATION, Parameters, Uniforms

ENGINES = ("numpy", "brian2", "vectorised", "spiking")
DEVICES = ("numpy", "cython", "cpp_standalone")
PROPAGATIONS = ("auto", "summed", "event")


class Engine(Protocol):
    """What every engine offers.

    ``run(params, data, seed, wake_gate, sleep_gate, uniforms, offset,
    perturbation) -> (params, extras)`` trains on the rows of ``data`` (at
    most ``chunk``): one wake and one sleep phase per row, learning gated per
    row (1 = learn, 0 = sample only); ``seed`` seeds the chunk's sampling
    unless ``uniforms`` (:class:`hm_neuro.model.Uniforms`) are given.
    ``extras`` holds the weight history recorded in the chunk
    (``history_seen``, ``history``) and, if built with ``record_spikes``,
    the sampled states (``wake``, ``sleep``: per layer ``(rows, units)``).

    ``run_population`` does the same for the ``n_machines`` machines of a
    population: every argument is a list with one entry per machine (each
    machine its own rows, seed, gates, uniforms, perturbation and circuit of
    the engine's shape -- e.g. other learning rates); it returns the lists
    ``(params, extras)``.
    """

    name: str            #: 'numpy' or 'brian2'
    device: str          #: 'numpy' for the reference; the Brian2 device otherwise
    circuit: Circuit
    chunk: int
    record_every: int
    compile_seconds: float

    def run(self, params: Parameters, data, seed: int, wake_gate=None, sleep_gate=None,
            uniforms: Uniforms | None = None, offset: int = 0, perturbation=NO_PERTURBATION): ...

    def run_population(self, params: list, data: list, seeds: list, wake_gate=None, sleep_gate=None,
                       uniforms=None, offset: int = 0, perturbation=None, circuits=None): ...

    def retarget(self, circuit: Circuit) -> None: ...

    def close(self) -> None: ...


class InProcessEngine:
    """What the NumPy engines share: nothing to build, nothing to release."""

    def retarget(self, circuit: Circuit):
        if circuit.layers != self.circuit.layers:
            raise bad("circuit", f"this engine is for layers {list(self.circuit.layers)}", circuit.name)
        self.circuit = circuit

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NumpyEngine(InProcessEngine):
    """The reference (:mod:`hm_neuro.reference`) behind the engine interface."""

    name = "numpy"
    device = "numpy"

    def __init__(self, circuit: Circuit, chunk: int = 100_000, record_every: int = 0,
                 record_spikes: bool = False, n_machines: int = 1):
        self.circuit = circuit
        self.n_machines = n_machines
        self.chunk = chunk
        self.record_every = record_every
        self.record_spikes = record_spikes
        self.compile_seconds = 0.0

    def run(self, params, data, seed, wake_gate=None, sleep_gate=None, uniforms=None, offset=0,
            perturbation=NO_PERTURBATION):
        params = params.copy()
        m = len(data)
        if m > self.chunk:
            raise bad("data", f"a chunk holds at most {self.chunk} examples", m)
        if uniforms is None:
            uniforms = Uniforms.draw(self.circuit, m, np.random.default_rng(seed))
        wg = np.ones(m) if wake_gate is None else np.asarray(wake_gate, dtype=float)
        sg = np.ones(m) if sleep_gate is None else np.asarray(sleep_gate, dtype=float)
        seen, snaps, samples = [], {}, {"wake": [], "sleep": []}
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
            rec = reference.train(params, self.circuit, data[a:b], uniforms.rows(a, b), wg[a:b], sg[a:b],
                                  record_samples=self.record_spikes, perturbation=perturbation)
            if rec is not None:
                samples["wake"].append(rec[0])
                samples["sleep"].append(rec[1])
        extras = {"history_seen": seen, "history": {k: np.array(v) for k, v in snaps.items()}}
        if self.record_spikes:
            for phase, parts in samples.items():
                extras[phase] = [np.concatenate([p[l] for p in parts]) for l in range(len(self.circuit.layers))]
        return params, extras

    def run_population(self, params, data, seeds, wake_gate=None, sleep_gate=None, uniforms=None, offset=0,
                       perturbation=None, circuits=None):
        """Every machine in turn, each with its own seed (see :meth:`Engine.run_population`)."""
        N = len(params)
        out, extras, own = [], [], self.circuit
        try:
            for k in range(N):
                if circuits is not None and circuits[k] is not None:
                    self.retarget(circuits[k])
                p, e = self.run(params[k], data[k], seeds[k], None if wake_gate is None else wake_gate[k],
                                None if sleep_gate is None else sleep_gate[k],
                                None if uniforms is None else uniforms[k], offset,
                                NO_PERTURBATION if perturbation is None or perturbation[k] is None else perturbation[k])
                out.append(p)
                extras.append(e)
        finally:
            self.circuit = own
        return out, extras



def make_engine(circuit: Circuit, engine: str = "brian2", *, device: str | None = None, chunk: int = 100_000,
                record_every: int = 0, record_spikes: bool = False, external_uniforms: bool = False,
                propagation: str = "auto", build_dir=None, n_machines: int = 1, rule="wake-sleep",
                spiking=None, record_traces: bool = False) -> Engine:
    """The engine named ``engine`` for ``circuit``; the one way to get one.

    ``device``, ``propagation``, ``external_uniforms`` and ``build_dir``
    concern the Brian2 engine; asking them of the reference is an error
    (they would be silently ignored otherwise).  ``rule``
    (:class:`hm_neuro.vectorised.Rule`): rules other than the papers'
    wake-sleep run on the ``vectorised`` and ``brian2`` engines (the
    latter with summed propagation).  ``spiking``
    (:class:`hm_neuro.spiking.Spiking`, default: the circuit's ``[dynamics]``
    table, :meth:`hm_neuro.circuit.Circuit.spiking`) configures the
    ``spiking`` engine: the Brian2 circuit of stochastic spiking units in ms;
    ``record_traces`` records its compartments' drives and synaptic currents
    every clock step (extras ``traces``: keep the chunk small).
    """
    from .vectorised import Rule, VectorisedEngine

    rule = Rule.parse(rule)
    if engine not in ENGINES:
        raise bad("engine", f"must be one of {list(ENGINES)}", engine)
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise bad("chunk", "must be an integer >= 1", chunk)
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or record_every < 0:
        raise bad("record_every", "must be an integer >= 0", record_every)
    if propagation not in PROPAGATIONS:
        raise bad("propagation", f"must be one of {list(PROPAGATIONS)}", propagation)
    if device is not None and device not in DEVICES:
        raise bad("device", f"must be one of {list(DEVICES)}", device)
    if isinstance(n_machines, bool) or not isinstance(n_machines, (int, np.integer)) or n_machines < 1:
        raise bad("n_machines", "must be an integer >= 1", n_machines)
    if engine in ("numpy", "spiking") and not rule.is_default:
        raise bad("rule", f"{rule.label} runs on the vectorised and brian2 engines; the {engine} engine implements "
                  "the papers' wake-sleep", rule.label)
    if spiking is not None and engine != "spiking":
        raise bad("spiking", f"configures the spiking engine only, not {engine}", spiking)
    if record_traces and engine != "spiking":
        raise bad("record_traces", f"applies to the spiking engine only, not {engine}", record_traces)
    if engine in ("numpy", "vectorised"):
        if device not in (None, "numpy"):
            raise bad("device", f"applies to the brian2 engine only (the {engine} engine is NumPy)", device)
        if propagation != "auto":
            raise bad("propagation", "applies to the brian2 engine only", propagation)
        if engine == "vectorised":
            from .vectorised import MAX_CHUNK

            return VectorisedEngine(circuit, chunk=int(min(chunk, MAX_CHUNK)), record_every=int(record_every),
                                    record_spikes=record_spikes, n_machines=int(n_machines), rule=rule)
        return NumpyEngine(circuit, chunk=int(chunk), record_every=int(record_every), record_spikes=record_spikes,
                           n_machines=int(n_machines))
    from .brian2_engine import Brian2Engine, default_device

    if engine == "spiking":
        from .spiking import Spiking

        spiking = spiking if spiking is not None else circuit.spiking()
        if not isinstance(spiking, Spiking):
            raise bad("spiking", "must be a hm_neuro.spiking.Spiking", spiking)
    return Brian2Engine(circuit, device=device or default_device(), chunk=int(chunk),
                        record_every=int(record_every), record_spikes=record_spikes,
                        external_uniforms=external_uniforms, propagation=propagation, build_dir=build_dir,
                        n_machines=int(n_machines), spiking=spiking, record_traces=bool(record_traces), rule=rule)
