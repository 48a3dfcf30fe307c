"""Circuit descriptions: what a Helmholtz machine is, declared, never simulated.

A circuit fixes the layer sizes (input first), the learning rate and initial
value of every weight set and bias set, generative and recognition apart, and
which generative weight sets are kept >= 0.  It is read from a TOML file in
``circuits/`` (see ``circuits/bars.toml``) and is the only input the NumPy
reference (:mod:`hm_neuro.engines.reference`) and the Brian2 builder
(:mod:`hm_neuro.engines.brian2`) share.

Indexing, used everywhere in the package (layer 0 is the input, layer ``L``
the top):

* ``generative_weights[k]``   -- top-down weights from layer k+1 to layer k,
  shape ``(n[k+1], n[k])`` (Hinton et al. 1995, eq. 1 with w_kj);
* ``recognition_weights[k]``  -- bottom-up weights from layer k to layer k+1,
  shape ``(n[k], n[k+1])``;
* ``generative_biases[l]``    -- one per layer l = 0..L (the top layer is
  driven by its generative biases alone);
* ``recognition_biases[k]``   -- one per hidden layer, layer k+1, k = 0..L-1.
"""

from __future__ import annotations

import dataclasses
import math

from ..errors import HMError, bad
from ..resources import read_toml
from .dynamics import Spiking
from .lateral import NO_LATERAL, Lateral
from .plasticity import DELTA_RULE, Plasticity
from .precision import EXACT, Precision

#: the four parameter sets of a machine, and how many entries each has
#: for ``L`` hidden layers.
PARAMETER_SETS = {
    "generative_weights": lambda L: L,
    "recognition_weights": lambda L: L,
    "generative_biases": lambda L: L + 1,
    "recognition_biases": lambda L: L,
}

_TOP_KEYS = {
    "name": str,
    "description": str,
    "layers": list,
    "nonnegative_generative_weights_into": list,
    "learning_rates": dict,
    "initial_values": dict,
    "dynamics": dict,
    "precision": (dict, str),
    "plasticity": dict,
    "lateral": dict,
}
_REQUIRED = ("layers", "learning_rates")
#: the largest layer and the most weights a circuit may have: 8 bytes per
#: weight, two weight sets, and the engines' working copies must fit in memory
MAX_UNITS_PER_LAYER = 100_000
MAX_WEIGHTS = 50_000_000


@dataclasses.dataclass(frozen=True)
class Circuit:
    """A Helmholtz machine, declared.

    Parameters
    ----------
    layers : tuple of int
        Units per layer, input first; at least one hidden layer.
    learning_rates : dict
        For each of :data:`PARAMETER_SETS`, a tuple of one rate per weight set
        (or bias set), indexed as in the module docstring.
    initial_values : dict
        Same shape as ``learning_rates``: the value every entry of a set
        starts at.
    nonnegative_generative_weights_into : tuple of int
        Layers whose incoming generative weights are clipped at 0 after every
        update (Hinton et al. 1995, Fig. 1c: "the generative weights to the
        input units were constrained to be positive" -> ``(0,)``).
    name, description : str
    dynamics : dict
        The spiking realisation's parameters (:class:`hm_neuro.model.dynamics.Spiking`:
        window, dt, escape, tau_syn, settle, delay) used when the circuit runs
        on the ``spiking`` engine; command-line options override them.
    precision : :class:`hm_neuro.model.precision.Precision`, str or dict
        The grids weights and biases live on and how updates are rounded
        onto them (:mod:`hm_neuro.model.precision`); default float64, exact.
    plasticity : :class:`hm_neuro.model.plasticity.Plasticity` or dict
        The update of a synapse and a bias on a learning event, declared as
        equations (:mod:`hm_neuro.model.plasticity`); default the papers'
        delta rule (eqs. 4 and 7).
    lateral : :class:`hm_neuro.model.lateral.Lateral` or dict
        Ordered lateral connections within layers, generative or recognition
        (:mod:`hm_neuro.model.lateral`); default none: the papers' factorial
        layers.
    """

    layers: tuple
    learning_rates: dict
    initial_values: dict
    nonnegative_generative_weights_into: tuple = ()
    name: str = "circuit"
    description: str = ""
    dynamics: dict = dataclasses.field(default_factory=dict)
    precision: Precision = EXACT
    plasticity: Plasticity = DELTA_RULE
    lateral: Lateral = NO_LATERAL

    def __post_init__(self):
        object.__setattr__(self, "precision", Precision.parse(self.precision))
        object.__setattr__(self, "plasticity", Plasticity.parse(self.plasticity))
        layers = tuple(self.layers)
        if len(layers) < 2:
            raise bad("layers", "need an input layer and at least one hidden layer", list(layers))
        for i, n in enumerate(layers):
            if isinstance(n, bool) or not isinstance(n, int):
                raise bad(f"layers[{i}]", "must be an integer", n)
            if not 0 < n <= MAX_UNITS_PER_LAYER:
                raise bad(f"layers[{i}]", f"must be in 1..{MAX_UNITS_PER_LAYER} units", n)
        weights = sum(a * b for a, b in zip(layers[:-1], layers[1:]))
        if weights > MAX_WEIGHTS:
            raise bad(
                "layers",
                f"{weights:.3g} weights per pathway is more than the limit of {MAX_WEIGHTS:.0e} "
                f"(each needs 8 bytes in two pathways and the engines' copies)",
                list(layers),
            )
        object.__setattr__(self, "layers", layers)
        L = len(layers) - 1
        object.__setattr__(self, "lateral", Lateral.parse(self.lateral, layers))
        if self.lateral and not (self.precision.exact and self.plasticity.is_default):
            raise bad(
                "lateral",
                "lateral connections learn by the papers' delta rule in float64; drop [precision] and [plasticity]",
                sorted(f"{p}.{l}" for p, l in self.lateral.layers),
            )
        self.precision.check_layers(L)
        self.plasticity.check_layers(L)
        if self.plasticity.stateful and any(
            self.precision.grid(name, 0) is not None for name in ("generative_weights", "recognition_weights")
        ):
            raise bad(
                "precision",
                f"the plasticity '{self.plasticity.name}' gives its synapses state: their expressed weight "
                "is its grid (plasticity.expressed); keep [precision] for the biases",
                self.precision.label,
            )
        for table in ("learning_rates", "initial_values"):
            given = dict(getattr(self, table))
            for key in given:
                if key not in PARAMETER_SETS:
                    raise bad(f"{table}.{key}", f"unknown key; expected one of {sorted(PARAMETER_SETS)}")
            full = {}
            for key, count in PARAMETER_SETS.items():
                if key not in given:
                    if table == "learning_rates":
                        raise bad(f"{table}.{key}", "missing key")
                    given[key] = 0.0
                full[key] = _per_set(f"{table}.{key}", given[key], count(L), nonnegative=(table == "learning_rates"))
            object.__setattr__(self, table, full)
        into = self.nonnegative_generative_weights_into
        if not isinstance(into, (list, tuple)):
            raise bad("nonnegative_generative_weights_into", "must be a list of layer indices", into)
        for v in into:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < L:
                raise bad(
                    "nonnegative_generative_weights_into",
                    f"layer {v!r} has no incoming generative weights; valid layers are 0..{L - 1}",
                    list(into),
                )
        object.__setattr__(self, "nonnegative_generative_weights_into", tuple(sorted(set(into))))
        for k in self.nonnegative_generative_weights_into:
            if self.initial_values["generative_weights"][k] < 0:
                raise bad(
                    "initial_values.generative_weights",
                    f"weights into layer {k} are kept >= 0 and cannot start negative",
                    list(self.initial_values["generative_weights"]),
                )
        if not isinstance(self.dynamics, dict):
            raise bad("dynamics", "must be a table", self.dynamics)
        fields = {f.name for f in dataclasses.fields(Spiking)}
        for key in self.dynamics:
            if key not in fields:
                raise bad(f"dynamics.{key}", f"unknown key; expected one of {sorted(fields)}")
        try:
            Spiking(**self.dynamics)
        except HMError as e:
            raise HMError(f"dynamics.{e}") from None

    def spiking(self, **overrides):
        """The spiking realisation of this circuit: its ``dynamics`` table,
        ``overrides`` on top (:class:`hm_neuro.model.dynamics.Spiking`)."""
        return Spiking(**{**self.dynamics, **overrides})

    @property
    def n_hidden_layers(self) -> int:
        return len(self.layers) - 1

    @property
    def n_input(self) -> int:
        return self.layers[0]

    @property
    def n_hidden_units(self) -> int:
        return sum(self.layers[1:])

    def weight_shape(self, kind: str, k: int) -> tuple:
        """Shape of weight set k: generative (n[k+1], n[k]), recognition (n[k], n[k+1])."""
        n = self.layers
        return (n[k + 1], n[k]) if kind == "generative" else (n[k], n[k + 1])

    def nonnegative(self, k: int) -> bool:
        """Whether ``generative_weights[k]`` (into layer k) is kept >= 0."""
        return k in self.nonnegative_generative_weights_into

    @classmethod
    def uniform(cls, layers, rate: float, nonnegative_into=(), name: str = "circuit") -> Circuit:
        """A circuit with one learning rate everywhere and every value starting at 0."""
        return cls(
            layers=tuple(layers),
            learning_rates={k: rate for k in PARAMETER_SETS},
            initial_values={},
            nonnegative_generative_weights_into=tuple(nonnegative_into),
            name=name,
        )

    def replace(self, **changes) -> Circuit:
        """A copy with some fields changed; nested rate tables are merged."""
        for table in ("learning_rates", "initial_values"):
            if table in changes:
                merged = dict(getattr(self, table))
                merged.update(changes[table])
                changes[table] = merged
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain TOML-able representation (lists, floats, strings)."""
        return {
            "name": self.name,
            "description": self.description,
            "layers": list(self.layers),
            "nonnegative_generative_weights_into": list(self.nonnegative_generative_weights_into),
            "learning_rates": {k: list(v) for k, v in self.learning_rates.items()},
            "initial_values": {k: list(v) for k, v in self.initial_values.items()},
            **({"dynamics": dict(self.dynamics)} if self.dynamics else {}),
            **({} if self.precision.exact else {"precision": self.precision.to_dict()}),
            **({} if self.plasticity.is_default else {"plasticity": self.plasticity.to_dict()}),
            **({"lateral": self.lateral.to_dict()} if self.lateral else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "circuit") -> Circuit:
        if not isinstance(d, dict):
            raise bad(source, "must be a table", type(d).__name__)
        for key, value in d.items():
            if key not in _TOP_KEYS:
                raise bad(f"{source}: {key}", f"unknown key; expected one of {sorted(_TOP_KEYS)}")
            kinds = _TOP_KEYS[key] if isinstance(_TOP_KEYS[key], tuple) else (_TOP_KEYS[key],)
            if not isinstance(value, kinds):
                raise bad(f"{source}: {key}", f"must be a {' or a '.join(k.__name__ for k in kinds)}", value)
        for key in _REQUIRED:
            if key not in d:
                raise bad(f"{source}: {key}", "missing key")
        try:
            return cls(
                layers=tuple(d["layers"]),
                learning_rates=d["learning_rates"],
                initial_values=d.get("initial_values", {}),
                nonnegative_generative_weights_into=tuple(d.get("nonnegative_generative_weights_into", ())),
                name=d.get("name", "circuit"),
                description=d.get("description", ""),
                dynamics=d.get("dynamics", {}),
                precision=d.get("precision"),
                plasticity=d.get("plasticity"),
                lateral=d.get("lateral"),
            )
        except HMError as e:
            raise HMError(f"{source}: {e}") from None


def _per_set(key, value, count, nonnegative):
    """A scalar or a list of ``count`` finite numbers -> tuple of floats."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * count
    if len(values) != count:
        raise bad(key, f"needs {count} entries (one per set) or one number", value)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise bad(key, "must be a number or a list of numbers", value)
        if not math.isfinite(v):
            raise bad(key, "must be finite", value)
        if nonnegative and v < 0:
            raise bad(key, "learning rates must be >= 0", value)
        out.append(float(v))
    return tuple(out)


def load_circuit(spec) -> Circuit:
    """Read and validate a circuit TOML file or a shipped/local circuit by name
    (:func:`hm_neuro.resources.find`: ``./circuits/NAME.toml``, then the
    package's own)."""
    d, source, stem, _ = read_toml("circuits", spec)
    d.setdefault("name", stem)
    return Circuit.from_dict(d, source=source)
