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
    try:
        return shlex.split(os.environ.get("CXX") or "g++")
    except ValueError:
        raise bad("CXX", "is not a command line (unbalanced quotes)", os.environ.get("CXX")) from None


#: the values an on/off environment switch (``HM_NEURO_PCH``, ``HM_NEURO_CCACHE``) accepts
SWITCH_VALUES = {**dict.fromkeys(("1", "true", "on", "yes"), True), **dict.fromkeys(("0", "false", "off", "no"), False)}


def switch(name: str, default: bool = True) -> bool:
    """An on/off environment switch: unset or empty is ``default``; one of
    ``0/1/true/false/on/off/yes/no`` (any case); anything else is refused by name."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if value.lower() not in SWITCH_VALUES:
        raise bad(name, "must be one of 0/1/true/false/on/off/yes/no", value)
    return SWITCH_VALUES[value.lower()]


def check_toolchain():
    """Before any work on cpp_standalone: the switches are valid and the
    compiler make will call (``$CXX``, else ``g++``) exists and runs; one
    line naming the variable and its value otherwise."""
    switch("HM_NEURO_PCH")
    switch("HM_NEURO_CCACHE")
    words = _compiler()
    cxx = os.environ.get("CXX")
    if not words or shutil.which(words[0]) is None:
        if cxx:
            raise bad("CXX", "is not a command found on PATH (the C++ compiler for cpp_standalone)", cxx)
        raise bad("device", "cpp_standalone needs a C++ compiler (g++); none found", "cpp_standalone")
    if _version_of(" ".join(shlex.quote(w) for w in words)) == "unknown":
        problem = f"the compiler does not run ('{words[0]} --version' failed)"
        raise bad("CXX" if cxx else "device", problem, cxx or words[0])


def _compiler_version() -> str:
    return _version_of(os.environ.get("CXX") or "g++")


@functools.cache
def _version_of(cxx: str) -> str:
    try:
        done = subprocess.run([*shlex.split(cxx), "--version"], capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            return "unknown"
        return done.stdout.splitlines()[0]
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


@contextlib.contextmanager
def precompiled_header(flags):
    """A header of :data:`PCH_HEADERS` with its GCC precompiled form beside it,
    built for the compile ``flags`` (Brian2's) under the build cache
    (``headers/<key>``, cleared with the builds), or None: not
    GCC, ``HM_NEURO_PCH=0``, or GCC would not use it.  Force-included
    (``-include``), it changes no object file (byte-identical, checked when it
    was adopted): GCC only skips re-parsing the headers.

    A context: the header is held with a shared lock while the caller
    compiles with it (made or removed only under the exclusive lock), so
    ``hm-neuro cache clear`` never deletes it under a running build."""
    if not switch("HM_NEURO_PCH"):
        yield None
        return
    version = _compiler_version()
    if version == "unknown" or "clang" in version.lower():
        yield None
        return
    text = "".join(f"#include <{h}>\n" for h in PCH_HEADERS)
    ident = "\n".join([version, " ".join(_compiler()), *flags, text])
    folder = cache_root() / "headers" / hashlib.sha256(ident.encode()).hexdigest()[:16]
    lock = folder.with_suffix(".lock")
    for _ in range(3):  # made under the exclusive lock, then used under a shared one
        with FileLock(lock, shared=True):
            if (folder / "usable").is_file() and (folder / "hm_neuro_std.h.gch").is_file():
                yield folder / "hm_neuro_std.h"
                return
        with FileLock(lock):
            if not _make_header(folder, flags, text):
                break
    yield None


def _make_header(folder: Path, flags, text: str) -> bool:
    """Compile the precompiled header into ``folder`` (under its exclusive
    lock) and check that GCC uses it; False when it cannot be used."""
    header, compiled = folder / "hm_neuro_std.h", folder / "hm_neuro_std.h.gch"
    if (folder / "usable").is_file() and compiled.is_file():
        return True
    folder.mkdir(parents=True, exist_ok=True)
    if not header.is_file():  # never rewritten: every build's make.deps names it
        header.write_text(text)
    if not compiled.is_file():
        partial = Path(tempfile.mkstemp(dir=folder, suffix=".gch.partial")[1])
        made = subprocess.run(
            [*_compiler(), *flags, "-x", "c++-header", str(header), "-o", str(partial)], capture_output=True, text=True
        )
        if made.returncode != 0:
            partial.unlink(missing_ok=True)
            logger.debug("no precompiled header: %s", made.stderr.strip()[-500:])
            return False
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
        return False
    (folder / "usable").touch()
    return True


#: what ccache must overlook to cache compiles of Brian2's freshly written
#: sources with a precompiled header (ccache's manual, "Precompiled headers")
CCACHE_SLOPPINESS = "pch_defines,time_macros,include_file_mtime,include_file_ctime"


def _ccache_dir(tool: str) -> Path | None:
    """The folder ccache writes to (``$CCACHE_DIR``, else what ccache says)."""
    if os.environ.get("CCACHE_DIR"):
        return Path(os.environ["CCACHE_DIR"]).expanduser()
    try:
        out = subprocess.run([tool, "--get-config", "cache_dir"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


@contextlib.contextmanager
def compiler_cache():
    """make's environment for a build: ``ccache g++`` where ccache is
    installed, its folder can be written, and neither ``$CXX`` nor
    ``HM_NEURO_CCACHE=0`` says otherwise (an unusable folder: plain g++,
    said in one line).  A source compiled before (another shape's identical
    code object, or the same build after an upgrade changed the cache key)
    is then not compiled again; a miss costs about nothing more in ccache's
    depend mode (``benchmarks/bench.py --overhead``, its ``compile`` rows)."""
    tool = shutil.which("ccache")
    if tool is None or os.environ.get("CXX") or not switch("HM_NEURO_CCACHE"):
        yield None
        return
    folder = _ccache_dir(tool)
    if folder is None or not writable_folder(folder):
        logger.warning(
            "ccache's folder %s cannot be written: compiling with plain g++ (set CCACHE_DIR, or HM_NEURO_CCACHE=0)",
            folder,
        )
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


class Busy(Exception):
    """A non-blocking :class:`FileLock` is held by another process."""


class FileLock:
    """A lock held on a file (fcntl; released if the process dies):
    exclusive, or ``shared`` (many holders, no exclusive one); ``wait=False``
    raises :class:`Busy` instead of waiting.  A lock file that cannot be
    opened is one line naming it."""

    def __init__(self, path: Path, shared: bool = False, wait: bool = True):
        self.path, self.shared, self.wait = path, shared, wait

    def __enter__(self):
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(self.path, "a")
        except OSError as e:
            raise bad("build cache", f"cannot open the lock file {self.path} ({e.strerror})", str(self.path)) from None
        mode = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | (0 if self.wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(self.f, mode)
        except BlockingIOError:
            self.f.close()
            raise Busy(str(self.path)) from None
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


#: the record of a complete build, written into its folder when the build ends
RECORD = "hm_neuro_build.json"


def _built_files(entry: Path) -> list:
    return [entry / "main", *sorted(entry.rglob("*.o"))]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_build(entry: Path, fields: dict | None = None):
    """Write the record of a complete build: size and SHA-256 of its binary
    and every object file, the compiler, and what keys it (``fields``, the
    arguments of :func:`build_key`) -- atomically: a record is whole or
    absent."""
    import json

    files = {str(p.relative_to(entry)): [p.stat().st_size, _digest(p)] for p in _built_files(entry)}
    tmp = entry / (RECORD + ".partial")
    compiler = {"command": " ".join(_compiler()), "version": _compiler_version()}
    record = {"compiler": compiler, "files": files, **({} if fields is None else {"key": fields})}
    tmp.write_text(json.dumps(record, sort_keys=True, default=str))
    os.replace(tmp, entry / RECORD)


def what_is_new(fields: dict) -> str:
    """Why a build is compiled, in words: the parts of its key (``fields``)
    that differ from the closest cached build of the same layers, or that
    none is cached."""
    import json

    fields = json.loads(json.dumps(fields, default=str))
    best = None
    for record in (cache_root() / "builds").glob(f"*/{RECORD}"):
        try:
            key = json.loads(record.read_text()).get("key")
        except (OSError, ValueError):
            continue
        if not isinstance(key, dict) or key.get("layers") != fields.get("layers"):
            continue
        differ = sorted(k for k in set(key) | set(fields) if key.get(k) != fields.get(k))
        if best is None or len(differ) < len(best[0]):
            best = (differ, key)
    if best is None:
        return "no build of these layers is cached"
    differ, key = best
    if not differ:
        return "a build of this key was incomplete"
    shown = [f"{k} {_short(fields.get(k))} (cached: {_short(key.get(k))})" for k in differ[:4]]
    return "new: " + ", ".join(shown) + (f" and {len(differ) - 4} more" if len(differ) > 4 else "")


def _short(value) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def damage(entry: Path) -> str | None:
    """What is wrong with a cached build, or None when its binary and
    objects are the ones its record lists (sizes and hashes: ~ms for a
    build of a few MB).  A folder without a record is an unfinished or
    older build."""
    import json

    try:
        files = json.loads((entry / RECORD).read_text())["files"]
    except FileNotFoundError:
        return "no record of a finished build"
    except (OSError, ValueError, KeyError, TypeError):
        return "its record is unreadable"
    for name, (size, digest) in sorted(files.items(), key=lambda kv: kv[0] != "main"):
        p = entry / name
        if not p.is_file():
            return f"{name} is missing"
        if p.stat().st_size != size:
            return f"{name} has {p.stat().st_size} bytes, not {size}"
        if _digest(p) != digest:
            return f"{name} differs from the build's record"
    return None


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


def clear_cache() -> tuple:
    """Delete every cached build and precompiled header that no process is
    using (each under its exclusive lock, taken without waiting; the lock
    file goes with it).  Returns (builds removed, paths skipped because a
    running process holds them); refuses with the first path that could
    not be removed."""
    check_cache()
    removed, skipped = 0, []
    for kind in ("builds", "headers"):
        for d, _ in cache_entries(kind):
            lock = d.with_suffix(".lock")
            try:
                with FileLock(lock, wait=False):
                    try:
                        shutil.rmtree(d)
                    except OSError as e:
                        raise bad(
                            "cache clear",
                            f"removed {removed} build(s), then could not remove {d} ({e.strerror})",
                            str(d),
                        ) from None
                    lock.unlink(missing_ok=True)
            except Busy:
                skipped.append(d)
                continue
            removed += kind == "builds"
    return removed, skipped
