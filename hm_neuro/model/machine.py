"""The Helmholtz machine itself: its parameters and the papers' conditionals,
each written once.

Every engine (:mod:`hm_neuro.engines`) and
every measure (:mod:`hm_neuro.measures`) uses this module; nothing here
simulates learning.  Layout of the parameters (layer 0 is the input, layer
``L`` the top; see :mod:`hm_neuro.model.circuit`):

* ``generative_weights[k]``  (n[k+1], n[k]) -- top-down, layer k+1 -> k;
* ``recognition_weights[k]`` (n[k], n[k+1]) -- bottom-up, layer k -> k+1;
* ``generative_biases[l]``   l = 0..L (the top layer has only its biases);
* ``recognition_biases[k]``  for hidden layer k+1.

Numerical convention (one for the whole package): the probability of eq. 1
is ``1 / (1 + exp(-x))`` with no clipping -- the same expression the Brian2
code evaluates, so that both engines round alike (exp overflow gives exactly
0 or 1, NumPy's overflow warning is silenced); log-probabilities (eqs. 2-3)
are computed from the logits with ``logaddexp``, finite for any finite
weight.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import philox
from ..errors import bad
from .circuit import PARAMETER_SETS, Circuit
from .lateral import sample_in_order

#: the code of eq. 1 for the Brian2 engine (the same expression as sigmoid)
SIGMOID_CODE = "1.0 / (1.0 + exp(-({x})))"


# ------------------------------------------------------------------ eq. 1


def sigmoid(x):
    """Eq. 1: the probability that a binary stochastic unit is on,
    ``sigma(x) = 1 / (1 + exp(-x))`` for total input ``x`` (bias + weighted input).

    Overflow of exp gives exactly 0; callers in loops silence NumPy's warning
    once (``np.errstate(over="ignore")``), not per call, which costs time.
    """
    return 1.0 / (1.0 + np.exp(-x))


def sample(probabilities, uniforms):
    """Eq. 1, sampled: a unit is on when its uniform number is below its probability."""
    return (uniforms < probabilities).astype(float)


def generative_logits(params: Parameters, states: list, k: int, masks=None):
    """Total top-down input of layer ``k`` from the states of layer ``k + 1``
    (the top layer: its biases alone), plus, where the layer has generative
    lateral weights and its own states are given, their input from the
    units before each unit (:mod:`hm_neuro.model.lateral`)."""
    if k == len(params.generative_biases) - 1:
        b = params.generative_biases[k]
        x = b if states[k] is None else np.broadcast_to(b, np.shape(states[k]))
    else:
        G = params.generative_weights[k] if masks is None else params.generative_weights[k] * masks[k]
        x = params.generative_biases[k] + states[k + 1] @ G
    A = params.lateral.get(("generative", k))
    return x if A is None or states[k] is None else x + states[k] @ A


def recognition_logits(params: Parameters, states: list, k: int, masks=None):
    """Total bottom-up input of hidden layer ``k + 1`` from the states of
    layer ``k``, plus its recognition lateral input where it has lateral
    weights and its own states are given."""
    R = params.recognition_weights[k] if masks is None else params.recognition_weights[k] * masks[k]
    x = params.recognition_biases[k] + states[k] @ R
    A = params.lateral.get(("recognition", k + 1))
    if A is None or len(states) <= k + 1 or states[k + 1] is None:
        return x
    return x + states[k + 1] @ A


def sample_layer(params: Parameters, pathway: str, l: int, x, u, order=None):
    """Eq. 1 sampled for layer ``l`` from its logits ``x`` without lateral
    input: a factorial layer at once, a layer with lateral weights in their
    order (``order``; default the index order)."""
    A = params.lateral.get((pathway, l))
    if A is None:
        return sample(sigmoid(x), u)
    return sample_in_order(x, A, range(A.shape[0]) if order is None else order, u)


# ------------------------------------------------------------- eqs. 2-3


def log_sigmoid(x):
    """ln sigma(x) (eq. 1), finite for any finite x."""
    return -np.logaddexp(0.0, -x)


def log_bernoulli(states, logits):
    """ln of the probability of binary ``states`` under eq. 1 with ``logits``,
    summed over the last axis (the factor of one layer in eqs. 2-3):
    ``ln sigma(x)`` for a unit that is on, ``ln sigma(-x)`` for one that is
    off, i.e. ``ln sigma((2s - 1) x)`` -- one logarithm per unit, and the
    same numbers as ``s ln sigma(x) + (1 - s) ln sigma(-x)`` for 0/1 states."""
    return np.sum(log_sigmoid((2.0 * np.asarray(states) - 1.0) * logits), axis=-1)


def log_bernoulli_pairs(states, logits):
    """:func:`log_bernoulli` for every pair of a row of ``states`` (N, n) and
    a row of ``logits`` (A, n): an (N, A) table, without an (N, A, n) array."""
    return states @ log_sigmoid(logits).T + (1.0 - states) @ log_sigmoid(-logits).T


def log_joint(params: Parameters, states: list):
    """ln P(alpha, d), eqs. 2-3: the generative probability of the total
    representation ``[d, s_1, ..., s_L]`` (rows), natural log."""
    return sum(log_bernoulli(states[l], generative_logits(params, states, l)) for l in range(len(states)))


def log_recognition(params: Parameters, states: list):
    """ln Q(alpha | d): the recognition probability of ``[s_1, ..., s_L]`` given ``d`` (rows)."""
    return sum(log_bernoulli(states[k + 1], recognition_logits(params, states, k)) for k in range(len(states) - 1))


# ------------------------------------------------------------- sampling


@np.errstate(over="ignore")
def sample_recognition(params: Parameters, data, rng: np.random.Generator) -> list:
    """One recognition sample per data row, bottom-up: ``[d, s_1, ..., s_L]``."""
    s = [np.asarray(data, dtype=float)]
    for k in range(len(params.recognition_weights)):
        x = recognition_logits(params, s, k)
        s.append(
            sample_layer(
                params, "recognition", k + 1, x, rng.random(x.shape), params.orders.get(("recognition", k + 1))
            )
        )
    return s


@np.errstate(over="ignore")
def sample_fantasies(params: Parameters, n: int, rng: np.random.Generator) -> list:
    """``n`` independent fantasies of the generative model, top-down: ``[d*, ..., s*_L]``."""
    L = len(params.generative_weights)
    f = [None] * (L + 1)
    f[L] = np.zeros((n, params.generative_biases[L].size))
    for l in range(L, -1, -1):
        x = generative_logits(params, f, l)
        f[l] = sample_layer(params, "generative", l, x, rng.random(x.shape), params.orders.get(("generative", l)))
    return f


# ------------------------------------------------------------ parameters


#: the four parameter sets, in model-file order
SETS = tuple(PARAMETER_SETS)


@dataclasses.dataclass
class Parameters:
    """Weights and biases of one machine (layout in the module docstring),
    and the hidden state of its synapses where the circuit's plasticity
    declares one (:mod:`hm_neuro.model.plasticity`): ``synapse_state[(set,
    name)]`` is a list of arrays shaped as ``set``'s weights, one per layer."""

    generative_weights: list
    recognition_weights: list
    generative_biases: list
    recognition_biases: list
    synapse_state: dict = dataclasses.field(default_factory=dict)
    #: lateral weights {(pathway, layer): (n, n) pre x post} and their layers'
    #: orders {(pathway, layer): tuple} (:mod:`hm_neuro.model.lateral`)
    lateral: dict = dataclasses.field(default_factory=dict)
    orders: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def initial(cls, circuit: Circuit) -> Parameters:
        """The circuit's initial values (on its precision's grids: the nearest
        level), and its synapses' initial state (each variable's ``init`` of
        the initial weights)."""
        n, iv = circuit.layers, circuit.initial_values
        L = len(n) - 1
        params = cls(
            generative_weights=[
                np.full(circuit.weight_shape("generative", k), iv["generative_weights"][k]) for k in range(L)
            ],
            recognition_weights=[
                np.full(circuit.weight_shape("recognition", k), iv["recognition_weights"][k]) for k in range(L)
            ],
            generative_biases=[np.full(n[l], iv["generative_biases"][l]) for l in range(L + 1)],
            recognition_biases=[np.full(n[k + 1], iv["recognition_biases"][k]) for k in range(L)],
            lateral={key: spec.initial_value * spec.mask for key, spec in circuit.lateral.layers.items()},
            orders={key: spec.order for key, spec in circuit.lateral.layers.items()},
        )
        return params.on_grid(circuit).with_state(circuit)

    def on_grid(self, circuit: Circuit) -> Parameters:
        """A copy with every parameter on its grid of the circuit's precision
        (the nearest level; :mod:`hm_neuro.model.precision`): unchanged in float64."""
        out = self.copy()
        for name in SETS:
            arrays = getattr(out, name)
            for k, a in enumerate(arrays):
                grid = circuit.precision.grid(name, k)
                if grid is not None:
                    arrays[k] = grid.nearest(a, name == "generative_weights" and circuit.nonnegative(k))
        return out

    def with_state(self, circuit: Circuit) -> Parameters:
        """These parameters with every synapse state the circuit's plasticity
        declares: self when it has them, else a copy whose missing state
        starts at its ``init`` of the weights (a machine made by hand)."""
        rule = circuit.plasticity
        keys = [(name, h) for name in ("generative_weights", "recognition_weights") for h in rule.state]
        if all(key in self.synapse_state for key in keys):
            return self
        out = self.copy()
        for name in ("generative_weights", "recognition_weights"):
            per_layer = [rule.initial_state(w, name, k) for k, w in enumerate(getattr(out, name))]
            for h in rule.state:
                out.synapse_state.setdefault((name, h), [s[h] for s in per_layer])
        return out

    def copy(self) -> Parameters:
        return Parameters(
            *[[a.copy() for a in getattr(self, name)] for name in SETS],
            synapse_state={key: [a.copy() for a in v] for key, v in self.synapse_state.items()},
            lateral={key: a.copy() for key, a in self.lateral.items()},
            orders=dict(self.orders),
        )

    def arrays(self) -> dict:
        """Flat ``{'generative_weights_0': array, ...}`` mapping (model-file
        keys); a synapse state variable ``h`` of set k as
        ``'generative_weights_0.h'``; the lateral weights of layer l as
        ``'generative_lateral_l'`` / ``'recognition_lateral_l'``."""
        out = {f"{name}_{i}": a for name in SETS for i, a in enumerate(getattr(self, name))}
        for (name, h), arrays in self.synapse_state.items():
            out.update({f"{name}_{i}.{h}": a for i, a in enumerate(arrays)})
        out.update({lateral_key(pathway, l): a for (pathway, l), a in self.lateral.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict, circuit: Circuit) -> Parameters:
        """Inverse of :meth:`arrays`; flat arrays (weight history rows) are
        reshaped to the circuit's shapes, so sizes must match."""
        template = cls.initial(circuit)

        def read(key, a):
            return np.array(arrays[key], dtype=float).reshape(a.shape)

        return cls(
            *[[read(f"{name}_{i}", a) for i, a in enumerate(getattr(template, name))] for name in SETS],
            synapse_state={
                (name, h): [read(f"{name}_{i}.{h}", a) for i, a in enumerate(v)]
                for (name, h), v in template.synapse_state.items()
            },
            lateral={key: read(lateral_key(*key), a) for key, a in template.lateral.items()},
            orders=dict(template.orders),
        )

    def max_abs_difference(self, other: Parameters) -> float:
        return max(float(np.max(np.abs(a - b))) for a, b in zip(self.arrays().values(), other.arrays().values()))

    def largest_magnitude(self) -> float:
        """``max |entry|`` over every weight and bias (nan if any is not finite)."""
        return max(float(np.max(np.abs(a))) if a.size else 0.0 for a in self.arrays().values())


def lateral_key(pathway: str, l: int) -> str:
    """The model-file key of layer l's lateral weights in ``pathway``."""
    return f"{pathway}_lateral_{l}"


#: weights or biases beyond this magnitude count as divergence: sigma() is 0
#: or 1 to machine precision long before, and 1e300-sized weights overflow
#: every measure
DIVERGENCE_BOUND = 1e6


def diverged(params: Parameters) -> bool:
    """True if any weight or bias is not finite or beyond :data:`DIVERGENCE_BOUND`."""
    m = params.largest_magnitude()
    return not (m <= DIVERGENCE_BOUND)


@dataclasses.dataclass
class Uniforms:
    """Pre-drawn uniform numbers for ``n`` training examples.

    ``wake[l - 1]`` has shape ``(n, layers[l])`` for hidden layers l = 1..L;
    ``sleep[l]`` has shape ``(n, layers[l])`` for l = 0..L.  Per example the
    draws are used in this order: wake layers 1..L, sleep layers L..0.
    """

    wake: list
    sleep: list

    @classmethod
    def draw(cls, circuit: Circuit, n: int, rng: np.random.Generator) -> Uniforms:
        layers = circuit.layers
        return cls(wake=[rng.random((n, m)) for m in layers[1:]], sleep=[rng.random((n, m)) for m in layers])

    @classmethod
    def stream(cls, circuit: Circuit, key: int, offset: int, n: int, samples: int = 1, fantasies: int = 1) -> Uniforms:
        """The counter-based numbers (:mod:`hm_neuro.philox`) of examples
        ``offset .. offset + n - 1`` of the machine with stream ``key``: the
        draws every engine makes.  One sample and one fantasy: the arrays of
        :meth:`draw`; ``samples`` K or ``fantasies`` S above 1: ``(n, copies,
        units)`` (copy c of layer l is group ``l + 256 c``)."""

        def phase(layers, copies, purpose):
            out = []
            for l in layers:
                u = [philox.uniforms(key, offset, n, circuit.layers[l], l + 256 * c, purpose) for c in range(copies)]
                out.append(u[0] if copies == 1 else np.stack(u, axis=1))
            return out

        L = circuit.n_hidden_layers
        return cls(phase(range(1, L + 1), samples, philox.WAKE), phase(range(L + 1), fantasies, philox.SLEEP))

    def rows(self, a: int, b: int) -> Uniforms:
        """The numbers of examples a..b-1."""
        return Uniforms([u[a:b] for u in self.wake], [u[a:b] for u in self.sleep])


@dataclasses.dataclass
class Perturbation:
    """Lesions and clamps of a cortical-model experiment (every engine obeys it).

    ``lesions``: ``{("generative" | "recognition", k): mask}`` with ``mask`` of
    the weight set's shape; a synapse with mask 0 carries no input and does
    not learn (silenced).  ``clamps``: ``{layer: state}``, a 0/1 vector the
    layer is held at in both phases (for layer 0 in the wake phase the data
    wins).
    """

    lesions: dict = dataclasses.field(default_factory=dict)
    clamps: dict = dataclasses.field(default_factory=dict)

    def mask(self, kind: str, k: int):
        """The 0/1 mask of a synapse set, or the scalar 1.0 if it is intact."""
        m = self.lesions.get((kind, k))
        return 1.0 if m is None else np.asarray(m, dtype=float)

    def masks(self, kind: str, L: int) -> list:
        return [self.mask(kind, k) for k in range(L)]

    def lesioned(self, params: Parameters) -> Parameters:
        """A copy of ``params`` with lesioned synapses at 0 (for measuring a lesioned machine)."""
        out = params.copy()
        for (kind, k), m in self.lesions.items():
            getattr(out, f"{kind}_weights")[k] *= np.asarray(m, dtype=float)
        return out

    def validate(self, circuit: Circuit) -> Perturbation:
        L = circuit.n_hidden_layers
        n = circuit.layers
        for (kind, k), m in self.lesions.items():
            if kind not in ("generative", "recognition") or not (isinstance(k, int) and 0 <= k < L):
                raise bad(
                    "lesion", f"no synapse set {kind}_{k}; sets are generative_0..{L - 1} and recognition_0..{L - 1}"
                )
            shape = circuit.weight_shape(kind, k)
            if np.shape(m) != shape or not np.all((np.asarray(m) == 0) | (np.asarray(m) == 1)):
                raise bad(f"lesion {kind}_{k}", f"mask must be 0/1 of shape {shape}", np.shape(m))
        for l, state in self.clamps.items():
            if not (isinstance(l, int) and 0 <= l <= L):
                raise bad("clamp", f"no layer {l}; layers are 0..{L}")
            if np.shape(state) != (n[l],) or not np.all((np.asarray(state) == 0) | (np.asarray(state) == 1)):
                raise bad(f"clamp of layer {l}", f"state must be {n[l]} zeros and ones", np.shape(state))
        return self


NO_PERTURBATION = Perturbation()
