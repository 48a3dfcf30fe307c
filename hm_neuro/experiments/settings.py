"""What an experiment accepts, declared: a frozen dataclass of its settings.

Every experiment module declares ``Settings`` (one field per setting, with
the paper's default) and ``main(settings=None, **changes)``; ``main`` runs
``settings`` (default ``Settings()``) with ``changes`` on top, so
``bars.main(quick=True)`` and ``bars.main(bars.Settings(quick=True))`` are
the same run.  ``hm-neuro reproduce`` reads the fields to know which of its
options apply to which experiment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..errors import HMError


@dataclass(frozen=True)
class Common:
    """What most experiments accept (their ``Settings`` add to it and may
    change its defaults): ``seed`` (the first), ``quick`` (a small, fast
    version: what CI runs), ``out`` (the folder of its JSON and figures),
    ``engine`` and ``device`` (:mod:`hm_neuro.engines`; None: the
    experiment's choice)."""

    seed: int = 0
    quick: bool = False
    out: str | Path = "figures"
    engine: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class OneMachine(Common):
    """An experiment that trains one machine on the Brian2 circuit by
    default (cortex, nines, rasters)."""

    engine: str | None = "brian2"


def resolve(cls, settings, changes: dict):
    """``settings`` (an instance of ``cls``, or None for its defaults) with
    ``changes`` on top; an unknown name is refused in one line."""
    if settings is not None and not isinstance(settings, cls):
        raise HMError(f"settings: expected {cls.__module__}.{cls.__qualname__} (got {type(settings).__name__})")
    names = accepted(cls)
    unknown = sorted(set(changes) - names)
    if unknown:
        experiment = cls.__module__.rsplit(".", 1)[-1]
        raise HMError(f"{unknown[0]}: not a setting of the {experiment} experiment; its settings are {sorted(names)}")
    return dataclasses.replace(settings if settings is not None else cls(), **changes)


def accepted(cls) -> set:
    """The names of an experiment's settings."""
    return {f.name for f in dataclasses.fields(cls)}
