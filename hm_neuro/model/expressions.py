"""Expressions in Brian2's syntax, checked and run without Brian2: what a
declared plasticity rule (:mod:`hm_neuro.model.plasticity`) and a
precision grid's update (:mod:`hm_neuro.model.precision`) are written in.

An expression is arithmetic, :data:`FUNCTIONS` and :data:`DRAW` over named
variables and constants.  :class:`Expression` is one, declared once: the
NumPy engines evaluate it on arrays (:meth:`Expression.numpy`) and the
Brian2 circuits write it as code with their own names
(:meth:`Expression.code`), so every engine runs the same equation.
"""

from __future__ import annotations

import ast
import dataclasses

import numpy as np

from ..errors import bad

#: the functions a rule may call: Brian2's names, NumPy's implementations
FUNCTIONS = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "clip": np.clip,
    "sign": np.sign,
    "floor": np.floor,
}
OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)

#: named numbers every expression may read
NUMBERS = {"inf": np.inf}
#: a synapse's expressions may call it: ``floor(x + u)`` with a uniform ``u``
#: of the machine's counter-based stream (one per synapse, example, phase
#: and call), so that its mean is ``x`` -- stochastic rounding to integers
DRAW = "stochastic_round"


def parse(key: str, text, variables: tuple, constants: dict) -> ast.Expression:
    """An expression, checked: Brian2/Python syntax, arithmetic and
    :data:`FUNCTIONS` only, every name a variable or a constant."""
    if not isinstance(text, str) or not text.strip():
        raise bad(key, "must be an expression (a non-empty string)", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise bad(key, f"is not an expression ({e.msg}, column {e.offset})", text) from None
    known = set(variables) | set(constants) | set(NUMBERS)
    functions = {**FUNCTIONS, DRAW: None}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in functions and not isinstance(node.ctx, ast.Load):
                raise bad(key, f"cannot assign to '{node.id}'", text)
            if node.id not in known and node.id not in functions:
                raise bad(
                    key,
                    f"unknown name '{node.id}'; it may read {', '.join(variables)} and its constants "
                    f"{sorted(constants) or '(none)'}",
                    text,
                )
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in functions or node.keywords:
                raise bad(key, f"calls an unknown function; it may call {sorted(functions)}", text)
            if node.func.id == DRAW and len(node.args) != 1:
                raise bad(key, f"{DRAW} takes one argument", text)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise bad(key, "holds a value that is not a number", text)
        elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
            if not isinstance(node.op, OPERATORS):
                raise bad(key, f"uses an operator a rule cannot ({type(node.op).__name__})", text)
        elif not isinstance(node, (ast.Expression, ast.Load, *OPERATORS)):
            raise bad(key, f"holds a {type(node).__name__}, which a rule cannot (arithmetic and functions only)", text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in functions:
            if not any(isinstance(c, ast.Call) and c.func is node for c in ast.walk(tree)):
                raise bad(key, f"'{node.id}' is a function; call it", text)
    return tree


class Rename(ast.NodeTransformer):
    """Variables to the engine's names, constants to their values, and call
    c of :data:`DRAW` (numbered from ``first``) to ``DRAW(x, c)`` -- or,
    with ``draw`` (the Brian2 code), to ``stochastic_floor(x, draw(c))``."""

    def __init__(self, names: dict, constants: dict, first: int = 0, draw=None):
        self.names, self.constants, self.next, self.draw = names, constants, first, draw

    def visit_Name(self, node):
        if node.id in self.constants:
            return ast.copy_location(ast.Constant(float(self.constants[node.id])), node)
        if node.id in self.names:
            return ast.copy_location(ast.Name(self.names[node.id], ast.Load()), node)
        return node

    def visit_BinOp(self, node):
        """``x / c`` with c a number becomes ``x * (1 / c)``, on every engine:
        compiled C++ (``-ffast-math``) multiplies by the reciprocal anyway, and a
        ``floor`` at a tie must fall the same way everywhere."""
        node = self.generic_visit(node)
        if isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) and node.right.value != 0:
            return ast.copy_location(ast.BinOp(node.left, ast.Mult(), ast.Constant(1.0 / node.right.value)), node)
        return node

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id == DRAW:
            c, self.next = self.next, self.next + 1
            (x,) = [self.visit(a) for a in node.args]
            if self.draw is None:
                return ast.copy_location(ast.Call(node.func, [x, ast.Constant(c)], []), node)
            return ast.copy_location(
                ast.Call(ast.Name("stochastic_floor", ast.Load()), [x, ast.Name(self.draw(c))], []), node
            )
        return self.generic_visit(node)


def count_draws(tree) -> int:
    return sum(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == DRAW for n in ast.walk(tree))


def stochastic_round(x, u):
    """:data:`DRAW` on arrays: ``floor(x + u)``, and ``x`` itself when it
    is an integer already (no draw can move it: the C code makes none)."""
    f = np.floor(x)
    return np.where(x == f, f, np.floor(x + u))


def fill(out, shape: tuple):
    """An expression's value over a whole array of ``shape``: as it is when it
    has that shape (the common case, checked first: ``np.broadcast_to``
    costs microseconds per call, and the NumPy engines call this per
    example), else broadcast (read-only)."""
    return out if np.shape(out) == shape else np.broadcast_to(out, shape)


def on_arrays(tree: ast.Expression, key: str, quiet: bool = False):
    """``f(draw=None, **arrays)``: a checked and renamed expression compiled
    once, evaluated on NumPy arrays (``draw(c)``: the uniforms of its c-th
    :data:`DRAW`); ``quiet``: NumPy's floating-point warnings silenced."""
    code = compile(tree, f"<{key}>", "eval")
    env = {"__builtins__": {}, **FUNCTIONS, **NUMBERS}

    def evaluate(draw=None, **values):
        scope = env if draw is None else {**env, DRAW: lambda x, c: stochastic_round(x, draw(c))}
        if not quiet:
            return eval(code, scope, values)  # noqa: S307 - a checked expression of arithmetic and FUNCTIONS
        with np.errstate(all="ignore"):
            return eval(code, scope, values)  # noqa: S307 - a checked expression of arithmetic and FUNCTIONS

    return evaluate


@dataclasses.dataclass(frozen=True)
class Expression:
    """One checked expression over ``variables`` (no constants: the
    engines give every value, as arrays or as the names of their own
    variables); ``key`` names it in messages."""

    text: str
    variables: tuple
    key: str = "expression"

    def __post_init__(self):
        object.__setattr__(self, "variables", tuple(self.variables))
        parse(self.key, self.text, self.variables, {})

    def _tree(self, names: dict, draw=None) -> ast.Expression:
        tree = Rename(names, {}, 0, draw).visit(parse(self.key, self.text, self.variables, {}))
        return ast.fix_missing_locations(tree)

    def numpy(self):
        """``f(draw=None, **arrays)``: the expression on NumPy arrays
        (broadcasting); ``draw(c)``: the uniforms of its c-th :data:`DRAW`."""
        return on_arrays(self._tree({}), self.key)

    def code(self, names: dict, draw=None) -> str:
        """Brian2 code: every variable renamed (``names``: variable -> code,
        written as given) and call c of :data:`DRAW` written
        ``stochastic_floor(x, draw(c))`` (``draw(c)``: the arguments after x)."""
        missing = set(self.variables) - set(names)
        if missing:
            raise bad(self.key, f"no engine name for {sorted(missing)}")
        return ast.unparse(self._tree(names, draw))
