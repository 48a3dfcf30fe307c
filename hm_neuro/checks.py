"""Parameter constraints, declared once and checked with one message format.

A constraint is a small value object (:class:`Integer`, :class:`Number`,
:class:`OneOf`, :class:`Flag`); :func:`check` applies one and
:func:`check_table` a whole table of them (scikit-learn's
``_parameter_constraints``, nengo's ``NumberParam(low=0)``).  Messages follow
:mod:`hm_neuro.errors`: ``<name>: <problem> (got <value>)``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

from .errors import bad


@dataclasses.dataclass(frozen=True)
class Integer:
    """A whole number (not a bool) in ``low..high``."""

    low: int = 0
    high: int | None = None

    def describe(self) -> str:
        if self.high is None:
            return f"an integer >= {self.low}"
        high = f"{self.high:.0e}" if self.high >= 10**6 else str(self.high)
        return f"an integer in {self.low}..{high}"

    def __call__(self, name, value):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not ok or value < self.low or (self.high is not None and value > self.high):
            raise bad(name, f"must be {self.describe()}", value)
        return int(value)


@dataclasses.dataclass(frozen=True)
class Number:
    """A finite real number (not a bool) in ``[low, high]`` (``low_open``: ``(low, high]``)."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    unit: str = ""

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        return f"a finite number in {left}{self.low}, {self.high}]{self.unit}"

    def __call__(self, name, value):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < self.low or value > self.high or (self.low_open and value == self.low):
            raise bad(name, f"must be {self.describe()}", value)
        return float(value)


@dataclasses.dataclass(frozen=True)
class OneOf:
    """One of ``choices`` (``none_ok``: or None, meaning "the default")."""

    choices: tuple
    none_ok: bool = False

    def __call__(self, name, value):
        if value is None and self.none_ok:
            return None
        if value not in self.choices:
            raise bad(name, f"must be one of {list(self.choices)}", value)
        return value


@dataclasses.dataclass(frozen=True)
class Flag:
    """True or False."""

    def __call__(self, name, value):
        if not isinstance(value, bool):
            raise bad(name, "must be True or False", value)
        return value


def check(name: str, value, constraint):
    """``value`` checked against ``constraint`` (and normalised: ints, floats)."""
    return constraint(name, value)


def check_table(obj, table: dict, prefix: str = ""):
    """Check (and normalise in place) every field of the frozen dataclass
    ``obj`` that ``table`` constrains."""
    for name, constraint in table.items():
        value = constraint(prefix + name, getattr(obj, name))
        object.__setattr__(obj, name, value)
