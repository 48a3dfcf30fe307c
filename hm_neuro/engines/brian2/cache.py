"""The build cache: compiled cpp_standalone builds kept per circuit shape."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
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


logger = logging.getLogger(__name__)


def _compiler() -> list:
    """The C++ compiler make calls: ``$CXX`` (make's own default ``g++``), as words."""
    return shlex.split(os.environ.get("CXX") or "g++")


def _compiler_version() -> str:
    return _version_of(os.environ.get("CXX") or "g++")


@functools.cache
def _version_of(cxx: str) -> str:
    try:
        return subprocess.run(
            [*shlex.split(cxx), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()[0]
    except (OSError, IndexError, ValueError, subprocess.SubprocessError):
        return "unknown"


def build_key(**shape) -> str:
    """Hash of everything that decides the generated code of a build (and of
    the Brian2, NumPy, Python and compiler versions that turn it into a binary)."""
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


#: the C++ standard headers that Brian2's generated sources include (through
#: ``objects.h``, ``brianlib`` and each code object): parsing them is ~3/4 of a
#: code object's compile time at -O3, so they are compiled once per compiler
#: and flags into a precompiled header that every build force-includes
PCH_HEADERS = (
    "algorithm", "climits", "cmath", "cstdint", "cstdio", "cstdlib", "cstring", "ctime",
    "fstream", "iostream", "map", "random", "set", "sstream", "string", "utility", "vector",
)  # fmt: skip


def precompiled_header(flags) -> Path | None:
    """A header of :data:`PCH_HEADERS` with its GCC precompiled form beside it,
    built for the compile ``flags`` (Brian2's) under the build cache
    (``headers/<key>``, cleared with the builds), or None: not
    GCC, ``HM_NEURO_PCH=0``, or GCC would not use it.  Force-included
    (``-include``), it changes no object file (byte-identical, checked when it
    was adopted): GCC only skips re-parsing the headers."""
    if os.environ.get("HM_NEURO_PCH", "1") == "0":
        return None
    version = _compiler_version()
    if version == "unknown" or "clang" in version.lower():
        return None
    text = "".join(f"#include <{h}>\n" for h in PCH_HEADERS)
    ident = "\n".join([version, " ".join(_compiler()), *flags, text])
    folder = cache_root() / "headers" / hashlib.sha256(ident.encode()).hexdigest()[:16]
    header, compiled = folder / "hm_neuro_std.h", folder / "hm_neuro_std.h.gch"
    usable = folder / "usable"
    if usable.is_file() and compiled.is_file():
        return header
    with FileLock(folder.with_suffix(".lock")):
        if not compiled.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            if not header.is_file():  # never rewritten: every build's make.deps names it
                header.write_text(text)
            partial = Path(tempfile.mkstemp(dir=folder, suffix=".gch.partial")[1])
            made = subprocess.run(
                [*_compiler(), *flags, "-x", "c++-header", str(header), "-o", str(partial)],
                capture_output=True,
                text=True,
            )
            if made.returncode != 0:
                partial.unlink(missing_ok=True)
                logger.debug("no precompiled header: %s", made.stderr.strip()[-500:])
                return None
            os.replace(partial, compiled)
        # GCC silently parses the header instead when it cannot use the
        # precompiled form: ask it once (-H marks a used one with "!")
        probe = subprocess.run(
            [*_compiler(), *flags, "-H", "-fsyntax-only", "-include", str(header), "-x", "c++", "-"],
            input="int main() { return 0; }\n",
            capture_output=True,
            text=True,
        )
        if f"! {compiled}" not in probe.stderr:
            logger.debug("GCC does not use the precompiled header %s", compiled)
            return None
        usable.touch()
    return header


#: what ccache must overlook to cache compiles of Brian2's freshly written
#: sources with a precompiled header (ccache's manual, "Precompiled headers")
CCACHE_SLOPPINESS = "pch_defines,time_macros,include_file_mtime,include_file_ctime"


@contextlib.contextmanager
def compiler_cache():
    """make's environment for a build: ``ccache g++`` where ccache is
    installed and neither ``$CXX`` nor ``HM_NEURO_CCACHE=0`` says otherwise.
    A source compiled before (another shape's identical code object, or the
    same build after an upgrade changed the cache key) is then not compiled
    again; a miss costs about nothing more in ccache's depend mode
    (``benchmarks/bench.py --overhead``, its ``compile`` rows)."""
    tool = shutil.which("ccache")
    if tool is None or os.environ.get("CXX") or os.environ.get("HM_NEURO_CCACHE", "1") == "0":
        yield None
        return
    before = {k: os.environ.get(k) for k in ("CXX", "CCACHE_SLOPPINESS", "CCACHE_DEPEND")}
    sloppiness = ",".join(filter(None, [before["CCACHE_SLOPPINESS"], CCACHE_SLOPPINESS]))
    # depend mode: a miss is one compile (with -MD), not a preprocessing run first as well
    os.environ.update(CXX=f"{tool} g++", CCACHE_SLOPPINESS=sloppiness, CCACHE_DEPEND=before["CCACHE_DEPEND"] or "1")
    try:
        yield tool
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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


def cache_entries(kind: str = "builds") -> list:
    """(path, bytes) of every cached build (``kind="headers"``: every precompiled header)."""
    folder = check_cache(write=False) / kind
    out = []
    if folder.is_dir():
        for d in sorted(p for p in folder.iterdir() if p.is_dir()):
            out.append((d, sum(f.stat().st_size for f in d.rglob("*") if f.is_file())))
    return out


def clear_cache() -> int:
    """Delete every cached build and precompiled header (each under its
    lock); returns how many builds were removed, and refuses with the first
    path that could not be."""
    check_cache()
    removed = 0
    for kind in ("builds", "headers"):
        for d, _ in cache_entries(kind):
            with FileLock(d.with_suffix(".lock")):
                try:
                    shutil.rmtree(d)
                except OSError as e:
                    raise bad(
                        "cache clear", f"removed {removed} build(s), then could not remove {d} ({e.strerror})", str(d)
                    ) from None
            removed += kind == "builds"
    return removed
