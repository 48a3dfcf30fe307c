"""Output locations, checked before any work starts.

Every command names its outputs (model files, histories, checkpoints,
figures, tables) and its inputs (data, initial models, circuit, protocol and
sweep files) up front; :func:`check_outputs` refuses, before anything runs,
an output that is one of the inputs (resolved paths), a directory, a device
(``/dev/...``), in a folder that cannot be created or written, or an
existing file that cannot be replaced.  Files are then written atomically
(:func:`hm_neuro.files.model_io.atomic_path`), so an interrupted command leaves
either the old file or the new one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import bad


def input_paths(*specs) -> list:
    """The existing files among command-line values (data specs, model files, ...)."""
    out = []
    for s in specs:
        if s is None or isinstance(s, (int, float)):
            continue
        p = Path(str(s))
        if p.is_file():
            out.append(p)
    return out


def writable_folder(folder: Path) -> bool:
    """Can files be created in ``folder`` (creating it and its parents if need be)?"""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    if not probe.is_dir():
        return False
    try:
        fd, tmp = tempfile.mkstemp(prefix=".hm_neuro_probe_", dir=probe)
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


def check_outputs(outputs, inputs=(), existing_ok=()):
    """Refuse (HMError naming the path) any output that cannot or must not be written.

    ``existing_ok``: outputs that may be an input too (a checkpoint that is
    resumed and then replaced).
    """
    ins = {Path(p).resolve(): Path(p) for p in inputs}
    allowed = {Path(p).resolve() for p in existing_ok}
    seen = {}
    for out in outputs:
        out = Path(out)
        r = out.resolve()
        if r in ins and r not in allowed:
            raise bad("output", f"would overwrite the input {ins[r]}; choose another --out", str(out))
        if r in seen:
            raise bad("output", f"two outputs land on one file ({seen[r]} and {out})", str(out))
        seen[r] = out
        if str(r).startswith("/dev/") or str(r) == "/dev":
            raise bad("output", "is a device, not a file", str(out))
        if r.is_dir():
            raise bad("output", "is a directory; give a file name", str(out))
        if r.exists():
            if not r.is_file():
                raise bad("output", "exists and is not a regular file", str(out))
            try:
                with open(r, "ab"):  # replaceable? (read-only and immutable files fail here)
                    pass
            except OSError as e:
                raise bad("output", f"cannot be replaced ({e.strerror})", str(out)) from None
        if not writable_folder(r.parent):
            raise bad("output", f"its folder {out.parent} cannot be created or written", str(out))


def check_folder(folder, what: str = "out"):
    """Refuse an output folder that is a file, a device, or cannot be created or written."""
    f = Path(folder)
    r = f.resolve()
    if str(r).startswith("/dev/") or str(r) == "/dev":
        raise bad(what, "is a device, not a folder", str(f))
    if r.exists() and not r.is_dir():
        raise bad(what, "is a file; give a folder for the results", str(f))
    if not writable_folder(r):
        raise bad(what, "cannot be created or written", str(f))
    return f


def check_name(name: str, what: str = "name") -> str:
    """A file-name stem: no folders, not hidden, not empty."""
    if not name or "/" in name or os.sep in name or name in (".", "..") or name.startswith("."):
        raise bad(what, "must be a plain file name (no folders, not starting with '.')", name)
    return name
