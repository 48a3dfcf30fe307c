"""Synapses of finite precision: the grid a weight or bias lives on, and how
an update meets it.

Every engine stores weights as float64; with a precision setting every
weight of a pathway (``generative``, ``recognition``) and every bias
(``biases``) is held on a grid of levels ``k * step`` (k an integer),
saturating at the lowest and highest level, and each update of eqs. 4 and
7 is rounded back onto the grid:

``nearest``
    ``w <- clip(step * floor((w + dw) / step + 1/2))``: an update below
    half a step is lost.
``stochastic``
    ``w <- clip(step * floor((w + dw) / step + u))`` with a uniform number
    ``u`` of the machine's counter-based stream (:mod:`hm_neuro.philox`,
    purposes :data:`hm_neuro.philox.ROUND_WAKE` and ``ROUND_SLEEP``): up
    with probability equal to the fraction, so the expected update is the
    exact one (away from saturation) -- the standard hardware answer.
``exact``
    float64, the papers' (and the default).

A grid of ``bits`` has ``levels = round(2 ** bits)`` levels (4.7 bits: 26,
the distinguishable strengths Bartol et al. 2015 estimate for a
hippocampal synapse).  Its place:

* a fixed ``range = [min, max]``: ``step = (max - min) / (levels - 1)``, and
  the levels are the ``levels`` consecutive multiples of ``step`` from the
  one nearest ``min`` -- shifted by at most half a step so that 0 is
  always a level (weights start at 0);
* ``shared_exponent = true`` (a chip's synapse set: a signed mantissa of
  ``bits`` bits and one exponent for the set): the levels are mantissas
  ``-2**(bits-1) .. 2**(bits-1) - 1`` (``0 .. 2**bits - 1`` when ``min >=
  0``) times ``step``, the smallest power of two for which ``2**(bits-1) *
  step`` (``2**bits * step``) reaches the range's largest magnitude --
  fixed when the circuit is declared, as a chip's compiler fixes it.

Initial values are put on the grid by rounding to the nearest level.
Generative weights kept >= 0 saturate at ``max(lowest level, 0)``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from .. import philox
from ..errors import HMError, bad
from .expressions import Expression

ROUNDINGS = ("exact", "nearest", "stochastic")
#: the parts of a machine a grid covers, and the parameter sets of each
PATHWAYS = {
    "generative": ("generative_weights",),
    "recognition": ("recognition_weights",),
    "biases": ("generative_biases", "recognition_biases"),
}
#: most bits of a grid: every level k * step and k + u are exact in float64
MAX_BITS = 32
_GRID_KEYS = ("bits", "range", "rounding", "shared_exponent")
#: what a grid's update reads: the parameter ``x`` before the update, the
#: update ``dx`` (eq. 4 or 7), and the grid (``inv_step`` = 1 / ``step``;
#: ``lo``, ``hi`` the lowest and highest level) -- run arguments of a
#: compiled build, so that one build serves every grid of one rounding
GRID_VARIABLES = ("x", "dx", "step", "inv_step", "lo", "hi")
#: a grid's update, declared once as an equation (Brian2's syntax) per
#: rounding: the NumPy engines evaluate it (:meth:`Grid.update`) and the
#: Brian2 circuits generate it as synapse and neuron code
#: (:func:`hm_neuro.engines.brian2.code.on_grid`)
GRID_RULES = {
    "nearest": Expression("clip(step * floor((x + dx) * inv_step + 0.5), lo, hi)", GRID_VARIABLES, "grid nearest"),
    "stochastic": Expression(
        "clip(step * stochastic_round((x + dx) * inv_step), lo, hi)", GRID_VARIABLES, "grid stochastic"
    ),
}
_GRID_UPDATES = {rounding: rule.numpy() for rounding, rule in GRID_RULES.items()}


@dataclasses.dataclass(frozen=True)
class Grid:
    """The levels one pathway's parameters live on (see the module docstring)."""

    bits: float
    range: tuple = (-16.0, 16.0)
    rounding: str = "stochastic"
    shared_exponent: bool = False

    def __post_init__(self):
        b = self.bits
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not math.isfinite(b) or not 1 <= b <= MAX_BITS:
            raise bad("bits", f"must be a number in 1..{MAX_BITS}", b)
        if self.shared_exponent and b != int(b):
            raise bad("bits", "a shared exponent needs a whole number of mantissa bits", b)
        r = self.range
        if not isinstance(r, (list, tuple)) or len(r) != 2:
            raise bad("range", "must be [min, max]", r)
        for v in r:
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise bad("range", "must be two finite numbers [min, max]", list(r))
        if not r[0] < r[1]:
            raise bad("range", "min must be below max", list(r))
        if not r[0] <= 0 <= r[1]:
            raise bad("range", "must contain 0 (weights start at 0, and 0 is always a level)", list(r))
        if self.rounding not in ("nearest", "stochastic"):
            raise bad("rounding", "must be one of ['exact', 'nearest', 'stochastic']", self.rounding)
        if not isinstance(self.shared_exponent, bool):
            raise bad("shared_exponent", "must be true or false", self.shared_exponent)
        object.__setattr__(self, "bits", float(b))
        object.__setattr__(self, "range", (float(r[0]), float(r[1])))
        self._check_step()

    def _check_step(self):
        """The grid must be representable: a finite, positive (normal) step
        whose inverse is finite, and levels that are finite numbers."""
        r = list(self.range)
        if self.shared_exponent:
            b = int(self.bits)
            need = max(abs(r[0]), abs(r[1])) / (2**b if r[0] >= 0 else 2 ** (b - 1))
            if not need >= 2.0**-1022:
                raise bad("range", f"is too small for {b} mantissa bits: no power-of-two step reaches it", r)
        step = self.step
        if not (math.isfinite(step) and step >= 2.0**-1022 and math.isfinite(1.0 / step)):
            problem = f"gives a step of {step!r} between levels: it must be finite, positive and not subnormal"
            raise bad("range", problem, r)
        k_lo, k_hi = self._mantissas
        if not (math.isfinite(k_lo * step) and math.isfinite(k_hi * step)):
            raise bad("range", "gives levels beyond the largest float", r)

    @property
    def levels(self) -> int:
        """How many levels: ``round(2 ** bits)``."""
        return int(round(2.0**self.bits))

    @property
    def _mantissas(self) -> tuple:
        """(lowest, highest) integer k of the levels k * step."""
        if self.shared_exponent:
            b = int(self.bits)
            return (0, 2**b - 1) if self.range[0] >= 0 else (-(2 ** (b - 1)), 2 ** (b - 1) - 1)
        lo = math.floor(self.range[0] / self._fixed_step + 0.5)
        return lo, lo + self.levels - 1

    @property
    def _fixed_step(self) -> float:
        return (self.range[1] - self.range[0]) / (self.levels - 1)

    @property
    def step(self) -> float:
        """The distance between neighbouring levels."""
        if not self.shared_exponent:
            return self._fixed_step
        b = int(self.bits)
        magnitude = max(abs(self.range[0]), abs(self.range[1]))
        need = magnitude / (2**b if self.range[0] >= 0 else 2 ** (b - 1))
        return 2.0 ** math.ceil(math.log2(need))

    @property
    def exponent(self) -> int | None:
        """The shared exponent (step = 2 ** exponent), or None for a fixed range."""
        return int(math.log2(self.step)) if self.shared_exponent else None

    def bounds(self, nonnegative: bool = False) -> tuple:
        """(lowest, highest) level; kept >= 0: the lowest at 0 or above."""
        k_lo, k_hi = self._mantissas
        lo, hi = k_lo * self.step, k_hi * self.step
        return (max(lo, 0.0) if nonnegative else lo), hi

    def nearest(self, values, nonnegative: bool = False):
        """``values`` put on the grid: the nearest level, saturating (initial values)."""
        lo, hi = self.bounds(nonnegative)
        return np.clip(self.step * np.floor(np.asarray(values, dtype=float) / self.step + 0.5), lo, hi)

    def update(self, w, dw, u=None, nonnegative: bool = False):
        """``w + dw`` rounded onto the grid (``u``: the stochastic rounding's
        uniform numbers, one per entry): :data:`GRID_RULES` on arrays."""
        lo, hi = self.bounds(nonnegative)
        draw = None if u is None else (lambda c: u)
        return _GRID_UPDATES[self.rounding](draw, x=w, dx=dw, step=self.step, inv_step=1.0 / self.step, lo=lo, hi=hi)

    def to_dict(self) -> dict:
        return {
            "bits": self.bits,
            "range": list(self.range),
            "rounding": self.rounding,
            **({"shared_exponent": True} if self.shared_exponent else {}),
        }

    def describe(self) -> str:
        where = f"exponent {self.exponent}" if self.shared_exponent else f"range {list(self.range)}"
        return f"{self.bits:g} bits ({self.levels} levels, step {self.step:.4g}, {where}), {self.rounding}"


@dataclasses.dataclass(frozen=True)
class Precision:
    """The grids of a machine: one per pathway and one for the biases; None is float64 (exact).

    Read from a circuit's ``[precision]`` table::

        [precision]                 # or: precision = "loihi"
        generative = {bits = 4.7, range = [-16, 16], rounding = "stochastic"}
        recognition = {bits = 4.7, range = [-16, 16], rounding = "stochastic"}
        biases = "exact"
    """

    generative: Grid | None = None
    recognition: Grid | None = None
    biases: Grid | None = None
    name: str = ""

    def __post_init__(self):
        for key in PATHWAYS:
            g = getattr(self, key)
            if isinstance(g, list):
                g = tuple(g)
                object.__setattr__(self, key, g)
            if isinstance(g, tuple) and key != "biases":  # per layer: one grid per weight set
                if not g or not all(isinstance(x, Grid) for x in g):
                    raise bad(f"precision.{key}", "per layer: a non-empty list of grids, one per weight set", g)
                if len({x.rounding for x in g}) != 1:
                    raise bad(f"precision.{key}", "the grids of one pathway round alike", [x.rounding for x in g])
            elif g is not None and not isinstance(g, Grid):
                raise bad(f"precision.{key}", "must be a hm_neuro.model.Grid, a list of them or None (exact)", g)

    @property
    def exact(self) -> bool:
        return all(getattr(self, key) is None for key in PATHWAYS)

    def grid(self, parameter_set: str, k: int = 0) -> Grid | None:
        """The grid of set ``k`` of a parameter set (``generative_weights``, ..., ``recognition_biases``):
        the pathway's one grid, or its k-th of a per-layer list."""
        g = next(getattr(self, key) for key, sets in PATHWAYS.items() if parameter_set in sets)
        return g[k] if isinstance(g, tuple) else g

    def grids(self, pathway: str) -> tuple:
        """Every grid of a pathway (one, or one per weight set); () in float64."""
        g = getattr(self, pathway)
        return () if g is None else g if isinstance(g, tuple) else (g,)

    def check_layers(self, n_sets: int):
        """A per-layer list has one grid per weight set (the circuit's hidden layers)."""
        for key in ("generative", "recognition"):
            g = getattr(self, key)
            if isinstance(g, tuple) and len(g) != n_sets:
                raise bad(f"precision.{key}", f"needs {n_sets} grids, one per weight set, or one", len(g))

    def roundings(self) -> dict:
        """{pathway: rounding} -- what the generated code depends on."""
        return {key: self.grids(key)[0].rounding if self.grids(key) else "exact" for key in PATHWAYS}

    @property
    def stochastic(self) -> bool:
        return "stochastic" in self.roundings().values()

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.exact:
            return "float64"
        grids = {getattr(self, k) for k in PATHWAYS}
        if len(grids) == 1 and isinstance(next(iter(grids)), Grid):
            g = next(iter(grids))
            return f"{g.bits:g}-bit {g.rounding}"
        return ", ".join(
            f"{k} {'float64' if not self.grids(k) else '; '.join(g.describe() for g in self.grids(k))}"
            for k in PATHWAYS
        )

    def to_dict(self):
        if PRESETS.get(self.name) == self:
            return self.name
        out = {}
        for key in PATHWAYS:
            g = getattr(self, key)
            out[key] = "exact" if g is None else [x.to_dict() for x in g] if isinstance(g, tuple) else g.to_dict()
        return {**out, **({"name": self.name} if self.name else {})}

    @classmethod
    def parse(cls, spec, source: str = "precision") -> Precision:
        """A preset's name (:data:`PRESETS`), a table (see the class docstring), or a Precision."""
        if isinstance(spec, Precision):
            return spec
        if spec is None:
            return EXACT
        if isinstance(spec, str):
            if spec not in PRESETS:
                raise bad(source, f"unknown preset; expected one of {sorted(PRESETS)} or a table", spec)
            return PRESETS[spec]
        if not isinstance(spec, dict):
            raise bad(source, "must be a preset's name or a table", spec)
        for key in spec:
            if key not in (*PATHWAYS, "name"):
                raise bad(f"{source}.{key}", f"unknown key; expected one of {sorted((*PATHWAYS, 'name'))}")
        grids = {key: _grid(spec.get(key, "exact"), f"{source}.{key}") for key in PATHWAYS}
        name = spec.get("name", "")
        if not isinstance(name, str):
            raise bad(f"{source}.name", "must be a string", name)
        return cls(**grids, name=name)

    @classmethod
    def uniform(cls, bits, rounding: str = "stochastic", range=(-16.0, 16.0), biases: bool = True) -> Precision:
        """One grid for both pathways (and, ``biases``, for the biases)."""
        if rounding == "exact":
            return EXACT
        g = Grid(bits, tuple(range), rounding)
        return cls(g, g, g if biases else None)


def _grid(value, source: str):
    if value == "exact":
        return None
    if isinstance(value, list) and not source.endswith("biases"):  # per layer: one table per weight set
        grids = tuple(_grid(v, f"{source}[{i}]") for i, v in enumerate(value))
        if not grids or any(g is None for g in grids):
            raise bad(source, "per layer: a non-empty list of grid tables (none of them exact)", value)
        return grids
    if not isinstance(value, dict):
        raise bad(source, 'must be "exact" or a table {bits, range, rounding[, shared_exponent]}', value)
    for key in value:
        if key not in _GRID_KEYS:
            raise bad(f"{source}.{key}", f"unknown key; expected one of {sorted(_GRID_KEYS)}")
    if "bits" not in value:
        raise bad(f"{source}.bits", "missing key")
    if value.get("rounding") == "exact":
        return None
    try:
        return Grid(**{k: tuple(v) if k == "range" and isinstance(v, list) else v for k, v in value.items()})
    except HMError as e:
        raise HMError(f"{source}.{e}") from None


EXACT = Precision()

#: named settings: ``loihi`` -- a Loihi-like chip's number grid: weights an
#: 8-bit signed mantissa with one exponent per synapse set, biases a 13-bit
#: one, updates rounded stochastically (the grid only: not the chip's
#: neurons, timing, trace-based learning engine or its fixed-point
#: arithmetic of the delta rule itself); ``cortex`` -- 4.7-bit synapses (26
#: levels, Bartol et al. 2015) with stochastic rounding, biases (intrinsic
#: excitability, not synapses) in float64
PRESETS = {
    "float64": EXACT,
    "loihi": Precision(
        Grid(8, (-16.0, 16.0), "stochastic", True),
        Grid(8, (-16.0, 16.0), "stochastic", True),
        Grid(13, (-32.0, 32.0), "stochastic", True),
        name="loihi",
    ),
    "cortex": Precision(Grid(4.7, (-16.0, 16.0)), Grid(4.7, (-16.0, 16.0)), None, name="cortex"),
}


# ------------------------------------------------------------------ the draws

#: the counter's group of each parameter set's rounding draws (set index k or layer l added)
ROUNDING_GROUPS = {
    "generative_weights": 0,
    "recognition_weights": 1024,
    "generative_biases": 2048,
    "recognition_biases": 3072,
}


def rounding_group(parameter_set: str, k: int) -> int:
    """The counter's group of the rounding draws of set ``k`` of ``parameter_set``
    (entry e of the set -- its flat index, pre-major for weights -- is the counter's unit)."""
    return ROUNDING_GROUPS[parameter_set] + k


class Rounding:
    """One machine's updates onto its grids (the NumPy engines): ``apply``
    rounds an update of one parameter set at one example, drawing the
    stochastic rounding's numbers from the machine's stream ``key``."""

    def __init__(self, precision: Precision, key: int, offset: int):
        self.precision = precision
        self.key = int(key)
        self.offset = int(offset)

    def apply(self, parameter_set: str, k: int, w, dw, t: int, purpose: int, nonnegative: bool = False):
        """``w + dw`` on the grid of ``parameter_set`` (or exactly, kept >= 0 where asked)."""
        grid = self.precision.grid(parameter_set, k)
        if grid is None:
            out = w + dw
            return np.maximum(out, 0.0) if nonnegative else out
        u = None
        if grid.rounding == "stochastic":
            size = int(np.size(w))
            draws = philox.uniforms(self.key, self.offset + t, 1, size, rounding_group(parameter_set, k), purpose)
            u = draws[0].reshape(np.shape(w))
        return grid.update(w, dw, u, nonnegative)
