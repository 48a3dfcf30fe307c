"""The weights of the model files in a folder as sha256 digests, one line per
file (``python benchmarks/digests.py DIR``): what ``weight_digests.sh`` and
``grid_digests.sh`` print and compare with their stored ``.txt``."""

import hashlib
import sys
from pathlib import Path

import numpy as np


def digest(path: Path) -> str:
    """The first 16 hex digits of the sha256 of every float array, by name."""
    z = np.load(path)
    h = hashlib.sha256()
    for k in sorted(z.files):
        if z[k].dtype.kind == "f":
            h.update(k.encode())
            h.update(np.ascontiguousarray(z[k]).tobytes())
    return h.hexdigest()[:16]


if __name__ == "__main__":
    for f in sorted(Path(sys.argv[1]).glob("*.npz")):
        print(f.name, digest(f))
