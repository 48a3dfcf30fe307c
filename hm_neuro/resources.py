"""Shipped files -- circuits, protocols, sweep grids -- and the user's own.

A *name* (``bars``: no ``.toml`` suffix, no folder) is looked up first in the
current folder's ``circuits/`` (``protocols/``, ``sweeps/``), then among the
files shipped inside the package (read with ``importlib.resources``, so an
installed package works from any folder).  Anything else is a path to a
TOML file.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path

from .errors import bad

KINDS = {"circuits": "circuit", "protocols": "protocol", "sweeps": "sweep"}


def is_name(spec) -> bool:
    text = str(spec)
    return bool(text) and not text.endswith(".toml") and "/" not in text and os.sep not in text


def shipped(kind: str) -> dict:
    """{name: Traversable} of the files shipped in the package."""
    folder = resources.files("hm_neuro") / kind
    return {p.name[:-5]: p for p in folder.iterdir() if p.name.endswith(".toml")} if folder.is_dir() else {}


def names(kind: str) -> list:
    local = Path.cwd() / kind
    mine = {p.stem for p in local.glob("*.toml")} if local.is_dir() else set()
    return sorted(mine | set(shipped(kind)))


def find(kind: str, spec):
    """A name or a path -> (readable file, its label for messages)."""
    what = KINDS[kind]
    if spec is None or not str(spec).strip():
        raise bad(what, f"must not be empty; names are {names(kind)}, or give a path to a .toml file", spec)
    if is_name(spec):
        local = Path.cwd() / kind / f"{spec}.toml"
        if local.is_file():
            return local, str(local)
        ship = shipped(kind)
        if spec in ship:
            return ship[spec], f"shipped {what} {spec}"
        raise bad(what, f"no such {what}; names are {names(kind)}, or give a path to a .toml file", str(spec))
    p = Path(spec)
    if p.is_dir():
        raise bad(f"{what} file {p}", "is a directory, not a TOML file")
    if not p.is_file():
        raise bad(f"{what} file {p}", "does not exist")
    return p, str(p)


def read_toml(kind: str, spec):
    """Parse a circuit/protocol/sweep TOML -> (dict, source label, stem); the
    text must be UTF-8 and valid TOML."""
    what = KINDS[kind]
    f, label = find(kind, spec)
    source = label if label.startswith("shipped") else f"{what} file {label}"
    try:
        text = f.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(source, f"is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise bad(source, f"cannot be read: {e.strerror}") from None
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise bad(source, f"not valid TOML: {e}") from None
    stem = f.name[:-5] if f.name.endswith(".toml") else f.name
    return d, source, stem, text
