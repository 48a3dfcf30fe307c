"""Brian2's code objects compiled as one translation unit.

Run by the make command (:func:`hm_neuro.engines.brian2.device.make_command`)
in a cpp_standalone project folder, before make: writes ``unity.cpp``, which
includes every ``code_objects/*.cpp`` in a C++ namespace of its own, with a
definition of each function the code object's header declares that calls
its namespaced copy, and ``unity.mk``, Brian2's ``makefile`` with
``unity.cpp`` in place of the code objects among its sources.

Each code object compiled on its own loads the precompiled standard headers
and parses ``objects.h`` again (~0.13 s a code object, ~0.05 s of it the
header); together they are parsed once: a 16-8-1 build's 25 code objects
compile in ~0.5 CPU-s in place of ~3.2, a four-hidden-layer build's 77 in
~1.1 in place of ~10.  The code of each object is unchanged, in its own
namespace (its support code too: the anonymous namespaces and macros of two
objects never meet).  A project this does not recognise (no ``SRCS`` line,
a code object without a header, a header whose declarations are not
``void name();``) gets Brian2's makefile unchanged.

Standalone (no import of ``hm_neuro``: make starts it with the path of this
file).  Files are rewritten only when their text changes, so that make finds
a cached build up to date."""

import re
import sys
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"][^>"]+[>"])', re.M)
DECLARATION = re.compile(r"^\s*void\s+(\w+)\s*\(\s*\)\s*;", re.M)
#: a macro a code object defines (Brian2's ``_brian_pow``, the Philox stream's guard ``#ifndef X`` /
#: ``#define X``): each is undefined before each object, which defines its own again
DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)", re.M)


def _write(path: Path, text: str):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def unity_source(folder: Path, sources: list) -> str | None:
    """The text of ``unity.cpp`` for the code objects ``sources`` (paths
    relative to ``folder``), or None if one has no header or a header
    declares anything but ``void name();`` functions."""
    texts = [(folder / s).read_text() for s in sources]
    headers = [(folder / s).with_suffix(".h") for s in sources]
    declared = []
    for h in headers:
        if not h.is_file():
            return None
        body = re.sub(r"//[^\n]*|/\*.*?\*/|^\s*#[^\n]*", "", h.read_text(), flags=re.S | re.M)
        names = DECLARATION.findall(body)
        if re.sub(r"\s+", "", body) != "".join(f"void{n}();" for n in names):
            return None
        declared.append(names)
    # every header any object includes, once, at file scope (inside a namespace its guard skips it)
    includes = dict.fromkeys(m for t in texts for m in INCLUDE.findall(t) if not m.startswith('"code_objects/'))
    lines = ["// hm_neuro: the code objects of this build as one translation unit (hm_neuro/engines/brian2/unity.py)"]
    lines += [f"#include {inc}" for inc in includes]
    lines += [f'#include "{Path(s).with_suffix(".h").as_posix()}"' for s in sources]
    macros = dict.fromkeys(m for t in texts for m in DEFINE.findall(t))
    for k, s in enumerate(sources):
        lines += [f"#undef {m}" for m in macros]
        lines += [f"namespace hm_unity_{k} {{", f'#include "{Path(s).as_posix()}"', "}"]
    for k, names in enumerate(declared):
        lines += [f"void {n}() {{ hm_unity_{k}::{n}(); }}" for n in names]
    return "\n".join(lines) + "\n"


def main(folder: Path) -> int:
    makefile = (folder / "makefile").read_text()
    match = re.search(r"^SRCS = (.*)$", makefile, re.M)
    sources = match.group(1).split() if match else []
    objects = [s for s in sources if s.startswith("code_objects/") and s.endswith(".cpp")]
    text = unity_source(folder, objects) if objects else None
    if text is None:
        _write(folder / "unity.mk", makefile)
        return 0
    _write(folder / "unity.cpp", text)
    rest = [s for s in sources if s not in objects] + ["unity.cpp"]
    _write(folder / "unity.mk", makefile[: match.start(1)] + " ".join(rest) + makefile[match.end(1) :])
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
