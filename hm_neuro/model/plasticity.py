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
rule's named ``constants`` and the functions ``exp, log, sqrt, abs, tanh,
clip, sign``.  Everything is dimensionless.  Example (weight decay, shipped
as ``circuits/bars_weight_decay.toml``)::

    [plasticity]
    name = "delta rule with weight decay"
    weight = "s_pre * (s_post - p_post) - lam * w"
    bias = "s - p"
    constants = {lam = 0.0001}

The NumPy engines evaluate the expressions on arrays (:meth:`Plasticity.numpy`,
no Brian2); the Brian2 circuit turns them into synapse and neuron code
(:meth:`Plasticity.code`).  Rules with synaptic state of their own (traces,
consolidation variables) are not declared here yet.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import numbers

import numpy as np

from ..errors import HMError, bad

#: what a rule may read, besides its constants
WEIGHT_VARIABLES = ("s_pre", "s_post", "p_post", "w")
BIAS_VARIABLES = ("s", "p", "b")
#: the functions a rule may call: Brian2's names, NumPy's implementations
FUNCTIONS = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "clip": np.clip,
    "sign": np.sign,
}
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
DELTA_WEIGHT = "s_pre * (s_post - p_post)"
DELTA_BIAS = "s - p"


def _parse(key: str, text, variables: tuple, constants: dict) -> ast.Expression:
    """An expression, checked: Brian2/Python syntax, arithmetic and
    :data:`FUNCTIONS` only, every name a variable or a constant."""
    if not isinstance(text, str) or not text.strip():
        raise bad(key, "must be an expression (a non-empty string)", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise bad(key, f"is not an expression ({e.msg}, column {e.offset})", text) from None
    known = set(variables) | set(constants)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS and not isinstance(node.ctx, ast.Load):
                raise bad(key, f"cannot assign to '{node.id}'", text)
            if node.id not in known and node.id not in FUNCTIONS:
                raise bad(
                    key,
                    f"unknown name '{node.id}'; it may read {', '.join(variables)} and its constants "
                    f"{sorted(constants) or '(none)'}",
                    text,
                )
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise bad(key, f"calls an unknown function; it may call {sorted(FUNCTIONS)}", text)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise bad(key, "holds a value that is not a number", text)
        elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
            if not isinstance(node.op, _OPERATORS):
                raise bad(key, f"uses an operator a rule cannot ({type(node.op).__name__})", text)
        elif not isinstance(node, (ast.Expression, ast.Load, *_OPERATORS)):
            raise bad(key, f"holds a {type(node).__name__}, which a rule cannot (arithmetic and functions only)", text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FUNCTIONS:
            if not any(isinstance(c, ast.Call) and c.func is node for c in ast.walk(tree)):
                raise bad(key, f"'{node.id}' is a function; call it", text)
    return tree


class _Rename(ast.NodeTransformer):
    """Variables to the engine's names, constants to their values."""

    def __init__(self, names: dict, constants: dict):
        self.names, self.constants = names, constants

    def visit_Name(self, node):
        if node.id in self.constants:
            return ast.copy_location(ast.Constant(float(self.constants[node.id])), node)
        if node.id in self.names:
            return ast.copy_location(ast.Name(self.names[node.id], ast.Load()), node)
        return node


@dataclasses.dataclass(frozen=True)
class Plasticity:
    """The update of a synapse and of a bias on a learning event (module docstring).

    ``weight``: the synapse's update per unit of learning rate, over
    :data:`WEIGHT_VARIABLES`; ``bias``: the bias's, over
    :data:`BIAS_VARIABLES`; ``constants``: {name: number} the expressions
    read; ``name``: how results and messages call the rule.  The default is
    the papers' delta rule (eqs. 4 and 7).
    """

    weight: str = DELTA_WEIGHT
    bias: str = DELTA_BIAS
    constants: dict = dataclasses.field(default_factory=dict)
    name: str = "delta rule"

    def __post_init__(self):
        if not isinstance(self.constants, dict):
            raise bad("plasticity.constants", "must be a table of name = number", self.constants)
        for k, v in self.constants.items():
            if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
                raise bad("plasticity.constants", "a constant's name must be a plain identifier", k)
            if k in WEIGHT_VARIABLES + BIAS_VARIABLES + tuple(FUNCTIONS) or k in ("eps", "gate", "mask"):
                raise bad(f"plasticity.constants.{k}", "is a variable or function of the rule; choose another name")
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise bad(f"plasticity.constants.{k}", "must be a finite number", v)
        if not isinstance(self.name, str) or not self.name.strip():
            raise bad("plasticity.name", "must be a non-empty string", self.name)
        object.__setattr__(self, "constants", {k: float(v) for k, v in sorted(self.constants.items())})
        _parse("plasticity.weight", self.weight, WEIGHT_VARIABLES, self.constants)
        _parse("plasticity.bias", self.bias, BIAS_VARIABLES, self.constants)
        object.__setattr__(self, "weight", self.weight.strip())
        object.__setattr__(self, "bias", self.bias.strip())

    @property
    def is_default(self) -> bool:
        """The papers' delta rule (the engines' hand-written code path)."""
        return self.weight == DELTA_WEIGHT and self.bias == DELTA_BIAS

    def key(self) -> dict:
        """What the generated code depends on (a build's key, a checkpoint's)."""
        return {"weight": self.weight, "bias": self.bias, "constants": dict(self.constants)}

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
            raise bad("plasticity", "must be a table (weight, bias, constants, name)", value)
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in value:
            if key not in fields:
                raise bad(f"plasticity.{key}", f"unknown key; expected one of {sorted(fields)}")
        return cls(**value)

    # ------------------------------------------------------------ engines

    def numpy(self, which: str):
        """``f(**arrays)``: the ``weight`` or ``bias`` expression over NumPy
        arrays (broadcasting), for the NumPy engines."""
        cache = self.__dict__.setdefault("_numpy", {})  # compiled once per rule (the reference calls this per example)
        if which in cache:
            return cache[which]
        variables = WEIGHT_VARIABLES if which == "weight" else BIAS_VARIABLES
        tree = _Rename({}, self.constants).visit(_parse(which, getattr(self, which), variables, self.constants))
        code = compile(ast.fix_missing_locations(tree), f"<plasticity {which}>", "eval")
        env = {"__builtins__": {}, **FUNCTIONS}

        def evaluate(**values):
            with np.errstate(all="ignore"):
                return eval(code, env, values)  # noqa: S307 - a checked expression of arithmetic and FUNCTIONS

        cache[which] = evaluate
        return evaluate

    def code(self, which: str, names: dict) -> str:
        """The ``weight`` or ``bias`` expression as Brian2 code, its variables
        renamed (``names``: e.g. ``{"s_pre": "s_wake_pre", ...}``) and its
        constants written as numbers."""
        variables = WEIGHT_VARIABLES if which == "weight" else BIAS_VARIABLES
        missing = set(variables) - set(names)
        if missing:
            raise HMError(f"plasticity: no engine name for {sorted(missing)}")
        tree = _Rename(names, self.constants).visit(_parse(which, getattr(self, which), variables, self.constants))
        return "(" + ast.unparse(ast.fix_missing_locations(tree)) + ")"


#: the papers' delta rule (eqs. 4 and 7)
DELTA_RULE = Plasticity()
