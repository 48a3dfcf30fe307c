"""Plasticity declared as equations: the update of a synapse and of a bias
on a learning event, written once in Brian2's expression syntax and run by
every engine that declares it can.

The papers' rule is the delta rule on a learning event -- wake for the
generative pathway (Hinton et al. 1995, eq. 4), sleep for the recognition
pathway (eq. 7)::

    dw = eps * gate * (s_pre * (s_post - p_post))       # a synapse
    db = eps * gate * (s - p)                            # a bias

A :class:`Plasticity` declares the part in parentheses.  The engine
multiplies it by the set's learning rate ``eps`` (the circuit's
``learning_rates``), the phase's gate (1 while learning, 0 in a frozen or
sleep-deprived epoch) and, for a synapse, its lesion mask; then applies the
circuit's constraints (weights into a layer kept >= 0) and precision grid.
A weight rule may read:

- ``s_pre``: the presynaptic unit's sample (wake: the layer above for a
  generative synapse; sleep: the layer below for a recognition one);
- ``s_post``: the postsynaptic unit's sample;
- ``p_post``: the postsynaptic unit's prediction of it, ``p`` (generative,
  eq. 4) or ``q`` (recognition, eq. 7);
- ``w``: the synapse's weight before the update;

and a bias rule ``s``, ``p`` and ``b`` (the unit's bias) -- plus the
rule's named ``constants``, ``inf`` and the functions ``exp, log, sqrt,
abs, tanh, clip, sign, floor``.  Everything is dimensionless.  Example (weight decay, shipped
as ``circuits/bars_weight_decay.toml``)::

    [plasticity]
    name = "delta rule with weight decay"
    weight = "s_pre * (s_post - p_post) - lam * w"
    bias = "s - p"
    constants = {lam = 0.0001}

Synapses with state
-------------------
A synapse may declare hidden variables (``state``: a consolidation
variable, the links of a Benna-Fusi chain, a bounded accumulator, the
contacts of one connection), each with an initial value ``init`` (an
expression of the synapse's initial weight ``w`` and the constants) and an
``update``: the variable's new value on a learning event, an expression of
``dw`` (the whole update the engine made of ``weight``: ``eps * gate *
mask * weight``), ``w``, ``s_pre``, ``s_post``, ``p_post``, ``w_min`` (0
for a synapse the circuit keeps >= 0, ``-inf`` elsewhere) and every state
variable's value before the event (the updates are simultaneous).  The
weight the units see is then ``expressed``, an expression of the new state
and the constants -- a synapse with state does not add ``dw`` to ``w``
itself.  Example (a two-variable chain of Benna & Fusi 2016: the visible
variable ``u1`` takes the update and relaxes towards a slower hidden
``u2``; shipped as ``circuits/bars_consolidation.toml``)::

    [plasticity]
    name = "two-variable consolidation"
    expressed = "u1"
    constants = {g = 0.05, c2 = 4.0}
    state.u1 = {init = "w", update = "clip(u1 + dw + g * (u2 - u1), w_min, inf)"}
    state.u2 = {init = "w", update = "u2 + g / c2 * (u1 - u2)"}

``floor`` rounds down, so a grid is an expression: ``expressed = "0.5 *
floor(h / 0.5 + 0.5)"`` shows the nearest multiple of 0.5 of a hidden
``h``.  Biases have no state.  A circuit with state on its weights takes no
``[precision]`` grid for its weights: the state's expressions are its grid.

The NumPy engines evaluate the expressions on arrays (:meth:`Plasticity.numpy`,
no Brian2); the Brian2 circuit turns them into synapse and neuron code
(:meth:`Plasticity.code`, :meth:`Plasticity.state_code`).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import numbers

import numpy as np

from .. import philox
from ..errors import HMError, bad
from .expressions import DRAW, FUNCTIONS, NUMBERS, on_arrays
from .expressions import Rename as _Rename
from .expressions import count_draws as _draws
from .expressions import parse as _parse
from .precision import rounding_group

#: what a rule may read, besides its constants
WEIGHT_VARIABLES = ("s_pre", "s_post", "p_post", "w")
BIAS_VARIABLES = ("s", "p", "b")
DELTA_WEIGHT = "s_pre * (s_post - p_post)"
DELTA_BIAS = "s - p"
#: what a state variable's update may read, besides the state and the constants
#: (``w_min``: 0 for a synapse the circuit keeps >= 0, -inf elsewhere)
STATE_VARIABLES = ("dw", "w", "s_pre", "s_post", "p_post", "w_min")
#: the counter's group of call c on weight set k of a parameter set: after every grid's group
DRAW_GROUPS = 4096
#: the two sets of synapses: a per-set constant gives each a value per layer
SYNAPSE_SETS = ("generative_weights", "recognition_weights")
#: names the engines use around a rule: no constant or state variable may take them
_RESERVED = ("eps", "gate", "mask", "dw")


def _number(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise bad(f"plasticity.constants.{name}", "must be a finite number (or a table per weight set)", v)
    return float(v)


def _per_set(key: str, table: dict) -> dict:
    """A per-set constant: ``{generative_weights: value or [one per layer], recognition_weights: ...}``."""
    out = {}
    for name, values in table.items():
        if name not in SYNAPSE_SETS:
            raise bad(f"{key}.{name}", f"unknown set; a per-set constant gives {list(SYNAPSE_SETS)}")
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if not values:
            raise bad(f"{key}.{name}", "needs a value", values)
        out[name] = tuple(_number(f"{key[len('plasticity.constants.') :]}.{name}", x) for x in values)
    missing = [name for name in SYNAPSE_SETS if name not in out]
    if missing:
        raise bad(key, f"a per-set constant needs a value for {missing}")
    return out


@dataclasses.dataclass(frozen=True)
class StateVariable:
    """A synapse's hidden variable: its ``init`` (an expression of the
    initial weight ``w`` and the constants) and its ``update`` on a
    learning event (module docstring)."""

    init: str
    update: str

    @classmethod
    def parse(cls, key: str, value) -> StateVariable:
        if isinstance(value, StateVariable):
            return value
        if not isinstance(value, dict):
            raise bad(key, "must be a table {init = ..., update = ...}", value)
        for k in value:
            if k not in ("init", "update"):
                raise bad(f"{key}.{k}", "unknown key; expected init and update")
        for k in ("init", "update"):
            if k not in value:
                raise bad(f"{key}.{k}", "missing key: a state variable needs an initial value and an update")
        init = value["init"]
        if isinstance(init, numbers.Real) and not isinstance(init, bool):
            init = repr(float(init))
        return cls(init=init, update=value["update"])


@dataclasses.dataclass(frozen=True)
class Plasticity:
    """The update of a synapse and of a bias on a learning event (module docstring).

    ``weight``: the synapse's update per unit of learning rate, over
    :data:`WEIGHT_VARIABLES` (and the state); ``bias``: the bias's, over
    :data:`BIAS_VARIABLES`; ``constants``: {name: number} the expressions
    read; ``name``: how results and messages call the rule; ``state``:
    {name: :class:`StateVariable` or ``{init, update}``}, a synapse's hidden
    variables, and ``expressed``: the weight as an expression of them
    (needed with a state, not allowed without).  The default is the papers'
    delta rule (eqs. 4 and 7).
    """

    weight: str = DELTA_WEIGHT
    bias: str = DELTA_BIAS
    constants: dict = dataclasses.field(default_factory=dict)
    name: str = "delta rule"
    state: dict = dataclasses.field(default_factory=dict)
    expressed: str = ""

    def __post_init__(self):
        if not isinstance(self.constants, dict):
            raise bad("plasticity.constants", "must be a table of name = number", self.constants)
        constants = {}
        for k, v in self.constants.items():
            if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
                raise bad("plasticity.constants", "a constant's name must be a plain identifier", k)
            if k in WEIGHT_VARIABLES + BIAS_VARIABLES + tuple(FUNCTIONS) + _RESERVED + (DRAW,) + tuple(NUMBERS):
                raise bad(f"plasticity.constants.{k}", "is a variable or function of the rule; choose another name")
            constants[k] = _per_set(f"plasticity.constants.{k}", v) if isinstance(v, dict) else _number(k, v)
        if not isinstance(self.name, str) or not self.name.strip():
            raise bad("plasticity.name", "must be a non-empty string", self.name)
        object.__setattr__(self, "constants", dict(sorted(constants.items())))
        self._check_state()
        hidden = tuple(self.state)
        _parse("plasticity.weight", self.weight, WEIGHT_VARIABLES + hidden, self.constants)
        scalars = {k: v for k, v in self.constants.items() if isinstance(v, float)}
        if _draws(_parse("plasticity.bias", self.bias, BIAS_VARIABLES, scalars)):
            raise bad("plasticity.bias", f"calls {DRAW}, which only a synapse's expressions may", self.bias)
        object.__setattr__(self, "weight", self.weight.strip())
        object.__setattr__(self, "bias", self.bias.strip())

    def check_layers(self, L: int):
        """Every per-set constant has one value, or one per weight set (``L``)."""
        for k, v in self.constants.items():
            for name, values in v.items() if isinstance(v, dict) else ():
                if len(values) not in (1, L):
                    raise bad(
                        f"plasticity.constants.{k}.{name}", f"needs one value or one per layer ({L})", list(values)
                    )

    def constants_for(self, parameter_set: str | None = None, k: int = 0) -> dict:
        """The constants' values for weight set k of ``parameter_set`` (None:
        the scalar constants only, what a bias rule reads)."""
        out = {}
        for name, v in self.constants.items():
            if isinstance(v, float):
                out[name] = v
            elif parameter_set is not None:
                values = v[parameter_set]
                out[name] = values[k if len(values) > 1 else 0]
        return out

    def _check_state(self):
        """The state variables: plain names, each with an init and an update
        over what it may read; ``expressed`` with a state and only then."""
        if not isinstance(self.state, dict):
            raise bad("plasticity.state", "must be a table of name = {init, update}", self.state)
        taken = WEIGHT_VARIABLES + BIAS_VARIABLES + tuple(FUNCTIONS) + _RESERVED + tuple(self.constants)
        state = {}
        for name, value in self.state.items():
            key = f"plasticity.state.{name}"
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                raise bad("plasticity.state", "a state variable's name must be a plain identifier", name)
            if name in taken:
                raise bad(key, "is a variable, function or constant of the rule; choose another name")
            state[name] = StateVariable.parse(key, value)
        hidden = tuple(state)
        for name, v in state.items():
            if _draws(_parse(f"plasticity.state.{name}.init", v.init, ("w",), self.constants)):
                raise bad(f"plasticity.state.{name}.init", f"calls {DRAW}; an initial value draws nothing", v.init)
            _parse(f"plasticity.state.{name}.update", v.update, STATE_VARIABLES + hidden, self.constants)
            state[name] = StateVariable(v.init.strip(), v.update.strip())
        object.__setattr__(self, "state", state)
        if not isinstance(self.expressed, str):
            raise bad("plasticity.expressed", "must be an expression (a string)", self.expressed)
        if state and not self.expressed.strip():
            raise bad("plasticity.expressed", "is missing: a synapse with state needs its expressed weight")
        if self.expressed.strip() and not state:
            raise bad("plasticity.expressed", "needs a state to express (plasticity.state)", self.expressed)
        if state:
            _parse("plasticity.expressed", self.expressed, hidden, self.constants)
        object.__setattr__(self, "expressed", self.expressed.strip())

    @property
    def is_default(self) -> bool:
        """The papers' delta rule (the engines' hand-written code path)."""
        return self.weight == DELTA_WEIGHT and self.bias == DELTA_BIAS and not self.state

    @functools.cached_property
    def post_factor(self) -> str | None:
        """``F`` where the weight rule is ``s_pre * F`` (or ``F * s_pre``)
        and ``F`` reads only the postsynaptic ``s_post`` and ``p_post`` and
        constants, draws nothing, and the synapse has no state: a rule each
        unit can compute once for all its synapses (they multiply it by
        their presynaptic state, as the papers' rule ``F = s_post - p_post``
        is run).  None for any other rule (it runs per synapse)."""
        if self.state:
            return None
        body = ast.parse(self.weight, mode="eval").body
        if not (isinstance(body, ast.BinOp) and isinstance(body.op, ast.Mult)):
            return None
        for pre, other in ((body.left, body.right), (body.right, body.left)):
            if isinstance(pre, ast.Name) and pre.id == "s_pre":
                names = {n.id for n in ast.walk(other) if isinstance(n, ast.Name)}
                reads = names - set(FUNCTIONS) - set(self.constants) - set(NUMBERS)
                if reads <= {"s_post", "p_post"} and not _draws(other):
                    return ast.unparse(other)
        return None

    @property
    def stateful(self) -> bool:
        """The synapses have hidden state (module docstring)."""
        return bool(self.state)

    @functools.cached_property
    def draws(self) -> int:
        """How many :data:`DRAW` calls a synapse's learning event makes
        (counted once: the NumPy engines ask every example)."""
        return sum(_draws(self._tree(which, {})) for which in self._synapse_expressions())

    def _synapse_expressions(self) -> list:
        """A synapse's expressions in the order of their draws."""
        return ["weight"] + [f"update:{h}" for h in self.state] + (["expressed"] if self.state else [])

    def mean_field(self) -> Plasticity:
        """This rule with every :data:`DRAW` call replaced by its argument --
        its mean, since ``E[floor(x + u)] = x``: the rule's expected update
        wherever the draws enter linearly (the expectation checks)."""

        class _Mean(ast.NodeTransformer):
            def visit_Call(self, node):
                node = self.generic_visit(node)
                if isinstance(node.func, ast.Name) and node.func.id == DRAW:
                    return node.args[0]
                return node

        def mean(text: str) -> str:
            return ast.unparse(_Mean().visit(ast.parse(text, mode="eval")))

        state = {h: {"init": v.init, "update": mean(v.update)} for h, v in self.state.items()}
        return dataclasses.replace(
            self,
            weight=mean(self.weight),
            state=state,
            expressed=mean(self.expressed) if self.expressed else "",
            name=f"{self.name} (mean field)",
        )

    def key(self) -> dict:
        """What the generated code depends on (a build's key, a checkpoint's)."""
        constants = {
            k: v if isinstance(v, float) else {n: list(x) for n, x in v.items()} for k, v in self.constants.items()
        }
        out = {"weight": self.weight, "bias": self.bias, "constants": constants}
        if self.state:
            out["state"] = {k: {"init": v.init, "update": v.update} for k, v in self.state.items()}
            out["expressed"] = self.expressed
        return out

    def to_dict(self) -> dict:
        return {"name": self.name, **self.key()}

    @classmethod
    def parse(cls, value) -> Plasticity:
        """None (the papers' rule), a :class:`Plasticity` or a circuit file's ``[plasticity]`` table."""
        if value is None:
            return DELTA_RULE
        if isinstance(value, Plasticity):
            return value
        if not isinstance(value, dict):
            raise bad("plasticity", "must be a table (weight, bias, constants, name, state, expressed)", value)
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in value:
            if key not in fields:
                raise bad(f"plasticity.{key}", f"unknown key; expected one of {sorted(fields)}")
        return cls(**value)

    # ------------------------------------------------------------ engines

    def _expression(self, which: str) -> tuple:
        """(text, the variables it may read) of ``weight``, ``bias``,
        ``expressed``, ``init:NAME`` or ``update:NAME``."""
        hidden = tuple(self.state)
        if which == "weight":
            return self.weight, WEIGHT_VARIABLES + hidden
        if which == "factor":
            return self.post_factor, ("s_post", "p_post")
        if which == "bias":
            return self.bias, BIAS_VARIABLES
        if which == "expressed":
            return self.expressed, hidden
        part, _, name = which.partition(":")
        if part == "init":
            return self.state[name].init, ("w",)
        return self.state[name].update, STATE_VARIABLES + hidden

    def _tree(self, which: str, names: dict, parameter_set=None, k: int = 0, draw=None) -> ast.Expression:
        """An expression renamed, its constants those of ``parameter_set``'s
        set k, its draws numbered in the synapse's order."""
        text, variables = self._expression(which)
        constants = self.constants_for(parameter_set, k)
        order = self._synapse_expressions()
        first = 0
        if which in order:
            for before in order[: order.index(which)]:
                first += _draws(
                    _parse(before, self._expression(before)[0], self._expression(before)[1], self.constants)
                )
        tree = _Rename(names, constants, first, draw).visit(_parse(which, text, variables, self.constants))
        return ast.fix_missing_locations(tree)

    def __getstate__(self) -> dict:
        """Pickled without the compiled expressions of :meth:`numpy` (closures: made again on use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_numpy"}

    def numpy(self, which: str, parameter_set=None, k: int = 0):
        """``f(draw=None, **arrays)``: an expression (``weight``, ``bias``,
        ``expressed``, ``init:NAME``, ``update:NAME``) of ``parameter_set``'s
        set k over NumPy arrays (broadcasting), for the NumPy engines;
        ``draw(c)``: the uniforms of its c-th :data:`DRAW` call."""
        cache = self.__dict__.setdefault("_numpy", {})  # compiled once per rule (the reference calls this per example)
        if (which, parameter_set, k) in cache:
            return cache[(which, parameter_set, k)]
        evaluate = on_arrays(self._tree(which, {}, parameter_set, k), f"plasticity {which}", quiet=True)
        cache[(which, parameter_set, k)] = evaluate
        return evaluate

    def code(self, which: str, names: dict, parameter_set=None, k: int = 0, draw=None, bare: bool = False) -> str:
        """An expression (``weight``, ``bias``, ``factor``: :attr:`post_factor`,
        ...) as Brian2 code, its variables renamed (``names``:
        e.g. ``{"s_pre": "s_wake_pre", ...}``; a state variable ``h``
        becomes :func:`state_name` ``(h)``), its constants written as
        numbers (``parameter_set``'s set k) and call c of :data:`DRAW` as
        ``stochastic_floor(x, draw(c))``; in parentheses, but a product
        with ``bare`` (to follow a product ``a *``, multiplied left to right)."""
        _, variables = self._expression(which)
        names = {**{h: state_name(h) for h in self.state}, **names}
        missing = set(variables) - set(names)
        if missing:
            raise HMError(f"plasticity: no engine name for {sorted(missing)}")
        if draw is None and which in self._synapse_expressions() and _draws(self._tree(which, {})):
            raise HMError(f"plasticity: {which} calls {DRAW}; the engine must give its draws")
        tree = self._tree(which, names, parameter_set, k, draw)
        text = ast.unparse(tree)
        if bare and isinstance(tree.body, ast.BinOp) and isinstance(tree.body.op, ast.Mult):
            return text
        return "(" + text + ")"

    def state_code(self, dw: str, names: dict, nonnegative: bool, parameter_set=None, k: int = 0, draw=None) -> str:
        """A synapse's learning event as Brian2 statements: ``dw`` (the
        engine's code of the whole update) into a temporary, every state
        variable's new value from the old ones, then the expressed weight
        (kept >= 0 where the circuit says so)."""
        lines = [f"hm_dw = {dw}"]
        names = {**names, "dw": "hm_dw", "w_min": "0.0" if nonnegative else "(-inf)"}
        for h in self.state:
            lines.append(f"hm_new_{h} = {self.code('update:' + h, names, parameter_set, k, draw)}")
        lines += [f"{state_name(h)} = hm_new_{h}" for h in self.state]
        w = self.code("expressed", {}, parameter_set, k, draw)
        lines.append(f"w = clip({w}, 0, inf)" if nonnegative else f"w = {w}")
        return "\n".join(lines)

    def numpy_event(
        self, dw, w, state: dict, s_pre, s_post, p_post, nonnegative: bool, parameter_set=None, k=0, draw=None
    ):
        """A synapse set's learning event on arrays: ``(new weights, new
        state)`` (``state``: {name: array shaped as ``w``})."""
        values = {"dw": dw, "w": w, "s_pre": s_pre, "s_post": s_post, "p_post": p_post, **state}
        values["w_min"] = 0.0 if nonnegative else -np.inf
        new = {
            h: np.broadcast_to(self.numpy("update:" + h, parameter_set, k)(draw, **values), w.shape).astype(float)
            for h in self.state
        }
        out = np.broadcast_to(self.numpy("expressed", parameter_set, k)(draw, **new), w.shape).astype(float)
        return (np.maximum(out, 0.0) if nonnegative else out), new

    def initial_state(self, w, parameter_set=None, k: int = 0) -> dict:
        """{name: array}: every state variable's initial value at weights ``w``."""
        w = np.asarray(w, dtype=float)
        return {
            h: np.broadcast_to(self.numpy("init:" + h, parameter_set, k)(w=w), w.shape).astype(float)
            for h in self.state
        }


def draw_group(parameter_set: str, k: int, c: int) -> int:
    """The counter's group of call c of :data:`DRAW` on weight set k of
    ``parameter_set`` (the synapse's flat index, pre-major, is the counter's
    unit; the purpose the phase's rounding purpose)."""
    return rounding_group(parameter_set, k) + DRAW_GROUPS * (c + 1)


def draws_of(key: int, step: int, parameter_set: str, k: int, shape: tuple, purpose: int):
    """``draw(c)``: the uniforms, shaped as the weights, of call c of
    :data:`DRAW` on weight set k at the stream's ``step`` (one machine)."""
    size = int(np.prod(shape))
    return lambda c: philox.uniforms(key, step, 1, size, draw_group(parameter_set, k, c), purpose)[0].reshape(shape)


def state_name(h: str) -> str:
    """A state variable's name in the Brian2 synapse model (prefixed, so that
    no declared name meets one of Brian2's or the circuit's)."""
    return f"hm_{h}"


#: the papers' delta rule (eqs. 4 and 7)
DELTA_RULE = Plasticity()
