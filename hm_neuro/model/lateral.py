"""Ordered lateral connections within a layer: beyond the factorial approximation.

Hinton et al. (1995) call the factorial recognition and generative models
"a potentially very serious limitation" (they cannot explain away); Dayan
(section 5) asks how to weaken the approximation "without destroying the
simplicity of sampling from and learning the models".  One answer keeps
both: unit j of a layer also receives from the units k of the *same* layer
that come before it in an order (a directed, autoregressive layer)::

    p_j = sigma(b_j + sum_i s_i G_ij + sum_{k before j} s_k A_kj)      (eq. 1)

* sampling stays one pass: the units of the layer fire in the order, each
  with its own uniform number (the same numbers a factorial layer uses);
* learning stays the local delta rule: a lateral synapse is a synapse --
  eq. 4 in the wake phase for generative lateral weights,
  ``dA_kj = eps s_k (s_j - p_j)``, eq. 7 in the sleep phase for recognition
  ones, ``dM_kj = eps s*_k (s*_j - q_j)`` with ``p_j`` / ``q_j`` the
  predictions that include the lateral input;
* log P and log Q stay exact sums over units (eqs. 2-3), the lateral term
  in each unit's logit.

A circuit declares them per pathway and layer (``[lateral.generative.0]``:
the input layer's generative model; ``[lateral.recognition.1]``: the first
hidden layer's recognition model -- the input has none)::

    [lateral.generative.0]
    learning_rate = 0.2
    initial_value = 0.0
    order = [0, 1, 2, ...]            # optional: a permutation (default: index order)
    connections = [[0, 1], [1, 2]]    # optional: only these (pre, post) pairs

Without ``connections`` every unit receives from every unit before it.
With ``connections`` and no ``order`` the order is the connections' own
(the smallest index first among units free to fire); a cycle is refused.
Lateral weights are stored as ``(n, n)`` arrays, pre x post, zero off
the connections (:attr:`LateralLayer.mask`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from ..errors import bad

#: the two pathways a layer may have lateral connections in
PATHWAYS = ("generative", "recognition")
_KEYS = ("learning_rate", "initial_value", "order", "connections")


@dataclasses.dataclass(frozen=True)
class LateralLayer:
    """The lateral connections of one layer in one pathway (module docstring)."""

    pathway: str
    layer: int
    size: int
    learning_rate: float = 0.0
    initial_value: float = 0.0
    order: tuple = ()
    connections: tuple | None = None

    @property
    def key(self) -> str:
        return f"lateral.{self.pathway}.{self.layer}"

    @property
    def mask(self) -> np.ndarray:
        """(n, n) 0/1, pre x post: 1 where unit k reaches unit j."""
        m = np.zeros((self.size, self.size))
        if self.connections is None:
            rank = np.empty(self.size, dtype=int)
            rank[list(self.order)] = np.arange(self.size)
            m[rank[:, None] < rank[None, :]] = 1.0
        else:
            for k, j in self.connections:
                m[k, j] = 1.0
        return m

    def to_dict(self) -> dict:
        out = {"learning_rate": self.learning_rate, "initial_value": self.initial_value, "order": list(self.order)}
        if self.connections is not None:
            out["connections"] = [list(c) for c in self.connections]
        return out


def _number(key: str, v, nonnegative=False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise bad(key, "must be a finite number", v)
    if nonnegative and v < 0:
        raise bad(key, "learning rates must be >= 0", v)
    return float(v)


def _order(key: str, value, n: int) -> tuple:
    if (
        not isinstance(value, (list, tuple))
        or sorted(value) != list(range(n))
        or any(isinstance(v, bool) for v in value)
    ):
        raise bad(key, f"must be a permutation of the layer's units 0..{n - 1}", value)
    return tuple(int(v) for v in value)


def _connections(key: str, value, n: int) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise bad(key, "must be a list of [pre, post] pairs", value)
    out = []
    for c in value:
        if (
            not isinstance(c, (list, tuple))
            or len(c) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n for v in c)
        ):
            raise bad(key, f"each connection is a [pre, post] pair of units 0..{n - 1}", c)
        if c[0] == c[1]:
            raise bad(key, "a unit cannot reach itself", list(c))
        out.append((int(c[0]), int(c[1])))
    return tuple(sorted(set(out)))


def _topological(key: str, connections: tuple, n: int) -> tuple:
    """The units in an order every connection follows (smallest index first
    among the units free to fire); a cycle is refused."""
    before = {j: {k for k, jj in connections if jj == j} for j in range(n)}
    order, done = [], set()
    while len(order) < n:
        free = [j for j in range(n) if j not in done and before[j] <= done]
        if not free:
            cycle = sorted(j for j in range(n) if j not in done)
            raise bad(key, f"the connections form a cycle among units {cycle}; lateral connections must be ordered")
        order.append(free[0])
        done.add(free[0])
    return tuple(order)


def _layer(pathway: str, l: int, n: int, value) -> LateralLayer:
    key = f"lateral.{pathway}.{l}"
    if not isinstance(value, dict):
        raise bad(key, f"must be a table ({', '.join(_KEYS)})", value)
    for k in value:
        if k not in _KEYS:
            raise bad(f"{key}.{k}", f"unknown key; expected one of {list(_KEYS)}")
    rate = _number(f"{key}.learning_rate", value.get("learning_rate", 0.0), nonnegative=True)
    initial = _number(f"{key}.initial_value", value.get("initial_value", 0.0))
    connections = None
    if "connections" in value:
        connections = _connections(f"{key}.connections", value["connections"], n)
    if "order" in value:
        order = _order(f"{key}.order", value["order"], n)
        rank = {u: i for i, u in enumerate(order)}
        for k, j in connections or ():
            if rank[k] > rank[j]:
                raise bad(f"{key}.connections", f"[{k}, {j}] goes against the order (unit {j} fires before {k})")
    else:
        order = _topological(f"{key}.connections", connections, n) if connections else tuple(range(n))
    return LateralLayer(pathway, l, n, rate, initial, order, connections)


@dataclasses.dataclass(frozen=True)
class Lateral:
    """Every lateral connection of a circuit: ``layers`` {(pathway, layer): :class:`LateralLayer`}."""

    layers: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def parse(cls, value, sizes: tuple) -> Lateral:
        """None, a :class:`Lateral` or a circuit file's ``[lateral]`` table,
        checked against the circuit's layer ``sizes``."""
        if value is None or isinstance(value, Lateral):
            return value or NO_LATERAL
        if not isinstance(value, dict):
            raise bad("lateral", "must be a table: [lateral.generative.LAYER] or [lateral.recognition.LAYER]", value)
        L = len(sizes) - 1
        out = {}
        for pathway, table in value.items():
            if pathway not in PATHWAYS:
                raise bad(f"lateral.{pathway}", f"unknown key; expected one of {list(PATHWAYS)}")
            if not isinstance(table, dict):
                raise bad(f"lateral.{pathway}", "must be a table of layer = {learning_rate, ...}", table)
            for layer, spec in table.items():
                l = _layer_index(pathway, layer, L)
                out[(pathway, l)] = _layer(pathway, l, sizes[l], spec)
        return cls(dict(sorted(out.items())))

    def __bool__(self) -> bool:
        return bool(self.layers)

    def of(self, pathway: str, l: int) -> LateralLayer | None:
        return self.layers.get((pathway, l))

    def to_dict(self) -> dict:
        out = {}
        for (pathway, l), spec in self.layers.items():
            out.setdefault(pathway, {})[str(l)] = spec.to_dict()
        return out

    def in_order(self) -> dict:
        """{(phase, layer): units} of every layer that fires in its lateral
        order: ``("sleep", l)`` for generative lateral connections (the
        fantasy), ``("wake", l)`` for recognition ones -- the spiking
        circuit gives each such layer one firing window per unit
        (:meth:`hm_neuro.model.Spiking.phases`)."""
        phase = {"generative": "sleep", "recognition": "wake"}
        return {(phase[pathway], l): spec.size for (pathway, l), spec in self.layers.items()}

    def structure(self) -> dict:
        """What a compiled circuit depends on: every lateral layer's order and
        connections (its learning rate and initial value are run values)."""
        return {
            f"{pathway}.{l}": {"order": list(spec.order), "mask": spec.mask.astype(int).tolist()}
            for (pathway, l), spec in self.layers.items()
        }


def _layer_index(pathway: str, layer, L: int) -> int:
    key = f"lateral.{pathway}.{layer}"
    try:
        l = int(layer)
    except (TypeError, ValueError):
        raise bad(key, "a layer must be named by its index", layer) from None
    if isinstance(layer, bool) or str(l) != str(layer).strip() or not 0 <= l <= L:
        raise bad(key, f"no layer {layer!r}; layers are 0..{L}")
    if pathway == "recognition" and l == 0:
        raise bad(key, f"layer 0 is the input: it has no recognition model (hidden layers are 1..{L})")
    return l


NO_LATERAL = Lateral()


def sample_in_order(x, A, order, u):
    """Eq. 1 for a layer with lateral weights ``A`` (pre x post; a leading
    machine axis allowed): unit ``order[i]`` fires when its uniform number
    ``u_j`` is below ``sigma(x_j + sum_k s_k A[k, j])`` -- computed as its
    logit above the uniform's, ``ln u_j - ln(1 - u_j)`` (the same event, one
    comparison per unit) -- from the states of the units before it.
    ``x``: the logits without the lateral input, shaped as ``u`` (``(...,
    n)``).  The lateral input is accumulated as the units fire (unit k, once
    decided, adds ``s_k A[k, :]`` to every unit's), so each unit's sum runs
    in the firing order on every engine."""
    u = np.asarray(u, dtype=float)
    s = np.zeros(u.shape)
    x = np.array(np.broadcast_to(x, u.shape))  # a copy: the lateral input is added to it
    with np.errstate(divide="ignore"):
        threshold = np.log(u) - np.log1p(-u)
    rows = A[:, None] if A.ndim == 3 else A  # rows[..., k, :]: unit k's weights to every unit
    for j in order:
        on = x[..., j] > threshold[..., j]
        s[..., j] = on
        x += s[..., j, None] * rows[..., j, :]
    return s
