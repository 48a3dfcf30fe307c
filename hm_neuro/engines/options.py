"""How a circuit is simulated: one value (:class:`EngineOptions`) that every
caller -- training, protocols, sweeps, experiments, the CLI -- passes on."""

from __future__ import annotations

import dataclasses

from ..checks import Flag, Integer, OneOf, check_table
from ..errors import bad
from ..model import WAKE_SLEEP, Rule, Spiking

ENGINES = ("numpy", "brian2", "vectorised", "spiking")
DEVICES = ("numpy", "cython", "cpp_standalone")
PROPAGATIONS = ("auto", "summed", "event")
#: where the uniform numbers of sampling come from (see EngineOptions.rng)
RNGS = ("philox", "mt19937")
#: examples per run (a compiled build runs this many steps and is re-run chunk by chunk)
MAX_CHUNK = 100_000


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What an engine accepts, declared when it is registered
    (:func:`hm_neuro.engines.register`); callers ask this, never the name.

    ``brian2``: runs on a Brian2 device (``device``, ``propagation``,
    ``build_dir``, ``monitors``, a data table); ``spiking``: stochastic
    spiking units in ms (``spiking`` dynamics, ``record_traces``);
    ``rules``: reweighted and multi-sample rules; ``plasticity``: a
    circuit's declared plasticity (:mod:`hm_neuro.model.plasticity`);
    ``lateral``: ordered lateral connections within layers
    (:mod:`hm_neuro.model.lateral`); ``event``: event-driven propagation
    (``propagation="event"``); ``uniforms``: takes the uniform numbers of
    sampling as arrays (the exact tests; the spiking circuit draws its own
    step by step); ``memory_bounded_chunks``: chunks cut to fit its uniform numbers in
    memory; ``seed_alone``: a machine's result depends on its seed alone
    whatever the generator (otherwise: with the counter-based stream);
    ``history_per_chunk``: the weight history is recorded every
    ``record_every`` examples counted from each chunk's start (Brian2's
    monitors), so a training aligns its chunks on ``record_every``
    (:func:`hm_neuro.engines.history_chunk`)."""

    title: str
    brian2: bool = False
    spiking: bool = False
    rules: bool = True
    plasticity: bool = True
    lateral: bool = False
    event: bool = False
    uniforms: bool = True
    memory_bounded_chunks: bool = False
    seed_alone: bool = False
    history_per_chunk: bool = False


#: engine name -> its :class:`Capabilities` (filled by :func:`hm_neuro.engines.register`)
CAPABILITIES: dict = {}


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    """Everything about *how* a machine is simulated (what it is: :class:`hm_neuro.model.Circuit`).

    Parameters
    ----------
    engine : {'brian2', 'numpy', 'vectorised', 'spiking'}
        The Brian2 circuit, the NumPy reference, NumPy over a population, or
        the Brian2 circuit of stochastic spiking units in ms.
    device : {'numpy', 'cython', 'cpp_standalone'} or None
        Brian2 only; None: cpp_standalone where a C++ compiler exists.
    chunk : int
        Examples per run (at most; training plans even chunks below it).
    propagation : {'auto', 'summed', 'event'}
        Brian2 only: summed variables over every synapse, or event-driven
        ``on_pre`` code for the units that are on; auto chooses by size.
    rule : :class:`hm_neuro.model.Rule` or str
        The learning rule (default: the papers' wake-sleep).
    spiking : :class:`hm_neuro.model.Spiking` or None
        The spiking engine's dynamics (None: the circuit's ``[dynamics]``).
    record_every : int
        Snapshot every weight every this many examples (0: never).
    record_spikes, record_traces : bool
        Record every sample (rasters), and (spiking) the compartments' drives
        and currents every clock step.
    external_uniforms : bool
        Brian2: read every uniform number from arrays (the exact equivalence tests).
    build_dir : path or None
        cpp_standalone: build here instead of the build cache.
    monitors : callable or None
        Brian2: ``monitors(network) -> {name: monitor}``, called once the
        circuit's objects exist and before anything is built (see
        :meth:`hm_neuro.engines.brian2.engine.Brian2Engine.monitors`).
    rng : {'philox', 'mt19937'}
        The uniform numbers of wake-sleep sampling.  ``philox`` (default):
        counter-based (:mod:`hm_neuro.philox`), a pure function of the
        machine's key, the example and the unit, so a machine's weights
        depend on its seed alone -- on every engine and device, alone or in
        any population, with any chunk length.  ``mt19937``: the generators
        of releases up to 0.2 (a NumPy generator per chunk; Brian2's
        ``rand()``, one Mersenne twister shared by a whole population), to
        reproduce results made with them.
    data_rows : int
        Brian2: 0, or the most distinct data rows a machine meets in a chunk
        (bars: its 30 images; a data set: its rows).  With a number, a chunk's
        data reach the circuit as a table of those rows and one row index
        per example and machine, not as every example's pixels (16x less
        data to hand a compiled binary for bars); training sets it from the
        data streams.
    """

    engine: str = "brian2"
    device: str | None = None
    chunk: int = MAX_CHUNK
    propagation: str = "auto"
    rule: Rule = WAKE_SLEEP
    spiking: Spiking | None = None
    record_every: int = 0
    record_spikes: bool = False
    record_traces: bool = False
    external_uniforms: bool = False
    build_dir: object = None
    monitors: object = None
    data_rows: int = 0
    rng: str = "philox"

    CONSTRAINTS = {
        "engine": OneOf(ENGINES),
        "device": OneOf(DEVICES, none_ok=True),
        "chunk": Integer(1, 10**7),
        "propagation": OneOf(PROPAGATIONS),
        "record_every": Integer(0),
        "record_spikes": Flag(),
        "record_traces": Flag(),
        "external_uniforms": Flag(),
        "data_rows": Integer(0, 2**20),
        "rng": OneOf(RNGS),
    }

    def __post_init__(self):
        check_table(self, self.CONSTRAINTS)
        object.__setattr__(self, "rule", Rule.parse(self.rule))
        if self.spiking is not None and not isinstance(self.spiking, Spiking):
            raise bad("spiking", "must be a hm_neuro.model.Spiking", self.spiking)
        if self.monitors is not None and not callable(self.monitors):
            raise bad("monitors", "must be a function of the network returning {name: monitor}", self.monitors)
        can = self.capabilities
        if self.spiking is not None and not can.spiking:
            raise bad("spiking", f"configures the spiking engine only, not {self.engine}", self.spiking)
        if self.record_traces and not can.spiking:
            raise bad("record_traces", f"applies to the spiking engine only, not {self.engine}", True)
        if not can.brian2:
            if self.device not in (None, "numpy"):
                raise bad(
                    "device", f"applies to the brian2 engine only (the {self.engine} engine is NumPy)", self.device
                )
            if self.propagation != "auto":
                raise bad("propagation", "applies to the brian2 engine only", self.propagation)
            for key in ("external_uniforms", "build_dir", "monitors", "data_rows"):
                if getattr(self, key):
                    raise bad(key, f"applies to the brian2 engine only, not {self.engine}", getattr(self, key))
        if not self.rule.is_default and self.propagation == "event":
            raise bad("propagation", f"the {self.rule.label} rule needs summed propagation", self.propagation)
        if not can.rules and not self.rule.is_default:
            raise bad(
                "rule",
                f"{self.rule.label} runs on the {' and '.join(n for n, c in CAPABILITIES.items() if c.rules)} "
                f"engines; the {self.engine} engine implements the papers' wake-sleep",
                self.rule.label,
            )

    @property
    def capabilities(self) -> Capabilities:
        """What the chosen engine accepts."""
        return CAPABILITIES[self.engine]

    @property
    def resolved_device(self) -> str | None:
        """The device the engine will run on: the option, the fastest Brian2
        device here (cpp_standalone where a compiler exists), or None for
        the NumPy engines."""
        if self.device or not self.capabilities.brian2:
            return self.device
        from .brian2.device import default_device

        return default_device()

    def replace(self, **changes) -> EngineOptions:
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise bad("engine options", f"unknown option(s) {unknown}; expected {sorted(self.fields())}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def fields(cls) -> list:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def of(cls, engine="brian2", **changes) -> EngineOptions:
        """Options from an engine name or options, with ``changes`` on top."""
        base = engine if isinstance(engine, EngineOptions) else cls(engine=engine)
        return base.replace(**changes) if changes else base
