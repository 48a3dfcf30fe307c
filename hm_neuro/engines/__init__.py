"""Engines: how a circuit is simulated, behind one interface and one factory.

An *engine* (:class:`Engine`) trains a population of machines chunk by
chunk.  Every caller gets one from :func:`make_engine`, which looks the
backend up in a registry (:func:`register`): the NumPy reference
(:mod:`.reference`), NumPy over a population (:mod:`.vectorised`) and the
Brian2 circuit, binary or spiking (:mod:`.brian2`).  A backend's module is
imported when first asked for, so code that only reads model files never
loads Brian2.
"""

from __future__ import annotations

import importlib

from ..checks import Integer, check
from ..errors import bad
from ..model import Circuit
from .base import Chunk, Engine, EngineBase
from .options import DEVICES, ENGINES, MAX_CHUNK, PROPAGATIONS, RNGS, EngineOptions

__all__ = [
    "make_engine",
    "check_options",
    "register",
    "Engine",
    "EngineBase",
    "Chunk",
    "EngineOptions",
    "ENGINES",
    "DEVICES",
    "PROPAGATIONS",
    "RNGS",
    "MAX_CHUNK",
]

#: engine name -> "module:class"; the class is built with ``from_options(circuit, options, n_machines)``
_BACKENDS = {}


def register(name: str, target: str):
    """Register a backend: ``target`` is ``"package.module:Class"``, whose
    ``Class.from_options(circuit, options, n_machines)`` builds an engine."""
    _BACKENDS[name] = target


register("numpy", "hm_neuro.engines.reference:NumpyEngine")
register("vectorised", "hm_neuro.engines.vectorised:VectorisedEngine")
register("brian2", "hm_neuro.engines.brian2.engine:Brian2Engine")
register("spiking", "hm_neuro.engines.brian2.engine:Brian2Engine")


def check_options(circuit: Circuit, options: EngineOptions) -> EngineOptions:
    """Refuse (one line) options this circuit cannot be simulated with; the
    check :func:`make_engine` makes, for callers that check before any work
    (a sweep's or an experiment's tasks)."""
    if circuit.precision.stochastic and options.rng != "philox":
        raise bad(
            "rng",
            f"stochastic rounding ({circuit.precision.label}) draws from the counter-based stream; use rng='philox'",
            options.rng,
        )
    return options


def make_engine(circuit: Circuit, engine="brian2", n_machines: int = 1, **options) -> Engine:
    """The engine for ``circuit`` that ``engine`` names; the one way to get one.

    ``engine``: an engine name or :class:`EngineOptions`; ``options``: fields
    of :class:`EngineOptions` on top (``make_engine(c, "brian2",
    device="numpy")``).  ``n_machines``: machines of this shape trained side
    by side (a population).  An option the engine cannot honour is refused
    with one line, never silently ignored.
    """
    opts = check_options(circuit, EngineOptions.of(engine, **options))
    n_machines = check("n_machines", n_machines, Integer(1))
    module, cls = _BACKENDS[opts.engine].split(":")
    return getattr(importlib.import_module(module), cls).from_options(circuit, opts, n_machines)
