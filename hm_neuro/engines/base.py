"""What every engine offers (:class:`Engine`), and what the NumPy engines share."""

from __future__ import annotations

from typing import Protocol

from ..errors import bad
from ..model import NO_PERTURBATION, Circuit, Parameters, Uniforms


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
