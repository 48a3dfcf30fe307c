"""The build cache: compiled cpp_standalone builds kept per circuit shape."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from ...errors import bad
from ...files.outputs import writable_folder


def cache_root() -> Path:
    """Where compiled builds are kept: ``$HM_NEURO_CACHE_DIR``, else the
    user's cache folder (``$XDG_CACHE_HOME/hm_neuro`` or ``~/.cache/hm_neuro``)."""
    if os.environ.get("HM_NEURO_CACHE_DIR"):
        return Path(os.environ["HM_NEURO_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hm_neuro"


def _compiler_version() -> str:
    import subprocess

    cxx = os.environ.get("CXX", "g++")
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def build_key(**shape) -> str:
    """Hash of everything that decides the generated code of a build (and of
    the Brian2, NumPy, Python and compiler versions that turn it into a binary)."""
    import hashlib
    import json
    import platform

    import brian2

    ident = dict(
        shape,
        brian2=brian2.__version__,
        numpy=np.__version__,
        python=platform.python_version(),
        compiler=_compiler_version(),
        format=2,
    )
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


class FileLock:
    """An exclusive lock held on a file (fcntl; released if the process dies)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def check_cache(write: bool = True) -> Path:
    """The cache folder, checked before any work: it must be a folder (or not
    exist yet, under a folder that can be written) and, for ``write``, be
    writable.  Names the variable that set it."""
    root = cache_root()
    where = "HM_NEURO_CACHE_DIR" if os.environ.get("HM_NEURO_CACHE_DIR") else "build cache"
    if root.exists() and not root.is_dir():
        raise bad(where, "is not a folder", str(root))
    if write and not writable_folder(root):
        raise bad(where, "cannot be written here", str(root))
    return root


def cache_entries() -> list:
    """(path, bytes) of every cached build."""
    builds = check_cache(write=False) / "builds"
    out = []
    if builds.is_dir():
        for d in sorted(p for p in builds.iterdir() if p.is_dir()):
            out.append((d, sum(f.stat().st_size for f in d.rglob("*") if f.is_file())))
    return out


def clear_cache() -> int:
    """Delete every cached build (under each entry's lock); returns how many
    were removed, and refuses with the first path that could not be."""
    check_cache()
    entries = cache_entries()
    removed = 0
    for d, _ in entries:
        with FileLock(d.with_suffix(".lock")):
            try:
                shutil.rmtree(d)
            except OSError as e:
                raise bad(
                    "cache clear", f"removed {removed} build(s), then could not remove {d} ({e.strerror})", str(d)
                ) from None
        removed += 1
    return removed
