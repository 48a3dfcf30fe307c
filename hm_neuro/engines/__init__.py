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
from .options import CAPABILITIES, DEVICES, ENGINES, MAX_CHUNK, PROPAGATIONS, RNGS, Capabilities, EngineOptions

__all__ = [
    "make_engine",
    "check_options",
    "register",
    "Engine",
    "EngineBase",
    "Chunk",
    "EngineOptions",
    "Capabilities",
    "capabilities",
    "planned_chunk",
    "ladder_chunk",
    "history_chunk",
    "CHUNK_LADDER",
    "ENGINES",
    "DEVICES",
    "PROPAGATIONS",
    "RNGS",
    "MAX_CHUNK",
]

#: engine name -> "module:class"; the class is built with ``from_options(circuit, options, n_machines)``
_BACKENDS = {}


def register(name: str, target: str, capabilities: Capabilities):
    """Register a backend: ``target`` is ``"package.module:Class"``, whose
    ``Class.from_options(circuit, options, n_machines)`` builds an engine,
    and what it accepts (:class:`Capabilities`, read without importing it)."""
    _BACKENDS[name] = target
    CAPABILITIES[name] = capabilities


register(
    "numpy", "hm_neuro.engines.reference:NumpyEngine", Capabilities("the NumPy reference", rules=False, lateral=True)
)
register(
    "vectorised",
    "hm_neuro.engines.vectorised:VectorisedEngine",
    Capabilities("NumPy over a population", lateral=True, memory_bounded_chunks=True, seed_alone=True),
)
register(
    "brian2",
    "hm_neuro.engines.brian2.engine:Brian2Engine",
    Capabilities("the Brian2 circuit", brian2=True, lateral=True, event=True, history_per_chunk=True),
)
register(
    "spiking",
    "hm_neuro.engines.brian2.engine:Brian2Engine",
    Capabilities(
        "the spiking Brian2 circuit",
        brian2=True,
        spiking=True,
        rules=False,
        lateral=True,
        uniforms=False,
        history_per_chunk=True,
    ),
)


def capabilities(engine) -> Capabilities:
    """What an engine (a name, :class:`EngineOptions` or an engine) accepts."""
    name = engine if isinstance(engine, str) else getattr(engine, "engine", None) or engine.name
    return CAPABILITIES[name]


def planned_chunk(options: EngineOptions, circuit: Circuit, n_machines: int) -> int:
    """The longest chunk the engine takes: ``options.chunk``, or less where
    its working arrays must fit in memory (the vectorised engine's uniforms)."""
    if not CAPABILITIES[options.engine].memory_bounded_chunks:
        return options.chunk
    from .vectorised import chunk_limit

    return min(options.chunk, chunk_limit(circuit, options.rule, n_machines))


#: the chunk lengths of interactive compiled runs: a run of n examples (n up to
#: twice the last) runs on the build of the first length >= min(n, the last),
#: padded (the padding rows do not learn), so runs of different lengths share
#: one build instead of compiling one each
CHUNK_LADDER = tuple(2**k for k in range(10, 17))  # 1,024 .. 65,536


def ladder_chunk(options: EngineOptions, n_examples: int) -> int | None:
    """The chunk of :data:`CHUNK_LADDER` a training of ``n_examples`` runs
    with where the engine compiles one build per chunk length
    (cpp_standalone, the default ``chunk``); None elsewhere (any chunk
    length costs nothing there, or the caller chose one)."""
    can = CAPABILITIES[options.engine]
    if not can.brian2 or options.resolved_device != "cpp_standalone" or options.chunk != MAX_CHUNK:
        return None
    if n_examples > 2 * CHUNK_LADDER[-1]:
        return None
    return next(c for c in CHUNK_LADDER if c >= min(n_examples, CHUNK_LADDER[-1]))


def history_chunk(options: EngineOptions, chunk: int) -> int:
    """``chunk``, or the longest multiple of ``record_every`` below it where
    the engine records the weight history counted from each chunk's start
    (``history_per_chunk``), so that every chunk starts on a multiple of
    ``record_every``.  (A chunk shorter than ``record_every``, or a
    continued run that starts off a multiple, is cut at the next multiple:
    :meth:`hm_neuro.training.TrainingRun.next_chunk`.)"""
    every = options.record_every
    if not every or not CAPABILITIES[options.engine].history_per_chunk or chunk < every:
        return chunk
    return chunk - chunk % every


def check_options(circuit: Circuit, options: EngineOptions) -> EngineOptions:
    """Refuse (one line) options this circuit cannot be simulated with; the
    check :func:`make_engine` makes, for callers that check before any work
    (a sweep's or an experiment's tasks)."""
    can = CAPABILITIES[options.engine]
    if circuit.lateral and not can.lateral:
        raise bad(
            "engine",
            f"{can.title} does not run lateral connections (circuit {circuit.name}); they run on "
            f"{[n for n, c in CAPABILITIES.items() if c.lateral]}",
            options.engine,
        )
    if not circuit.plasticity.is_default:
        if not can.plasticity:
            raise bad(
                "engine",
                f"{can.title} runs the papers' delta rule only; the circuit's declared plasticity "
                f"({circuit.plasticity.name}) runs on {[n for n, c in CAPABILITIES.items() if c.plasticity]}",
                options.engine,
            )
        if not options.rule.is_default:
            raise bad(
                "rule",
                f"a circuit with a declared plasticity ({circuit.plasticity.name}) trains with the papers' "
                "wake-sleep; reweighted and multi-sample rules have their own update",
                options.rule.label,
            )
        if options.propagation == "event":
            raise bad("propagation", "a declared plasticity updates every synapse: use summed", options.propagation)
        if circuit.plasticity.draws and options.rng != "philox":
            raise bad(
                "rng",
                f"the plasticity {circuit.plasticity.name} rounds stochastically from the counter-based stream; "
                "use rng='philox'",
                options.rng,
            )
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
