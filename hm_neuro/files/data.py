"""Training data: the bars problem, handwritten digits, and user files.

Every loader returns a fresh float64 array of 0/1 rows; user arrays are never
modified in place.
"""

from __future__ import annotations

import csv
import itertools
import zipfile
from pathlib import Path

import numpy as np

from ..errors import HMError, bad

#: pixels >= this value (sklearn digits range 0..16) are on.  Half the range,
#: the midpoint between "ink" and "paper".
DIGITS_THRESHOLD = 8


# ---------------------------------------------------------------------- bars


def check_bars_args(size, p_vertical, p_bar):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise bad("bars size", "must be an integer >= 1", size)
    for name, v in (("p_vertical", p_vertical), ("p_bar", p_bar)):
        if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
            raise bad(name, "must be a probability in [0, 1]", v)


def sample_bars(
    n: int, rng: np.random.Generator, size: int = 4, p_vertical: float = 2 / 3, p_bar: float = 0.2
) -> np.ndarray:
    """``n`` images from the generative model of Hinton et al. (1995), Fig. 1a.

    The top level picks vertical (probability ``p_vertical``) or horizontal
    bars; each of the ``size`` bars of that orientation is on with probability
    ``p_bar``; a pixel is on if any bar through it is on.  Rows are images
    flattened row-major (pixel ``(r, c)`` is column ``r * size + c``).
    Each image takes the next ``1 + size`` uniform numbers of ``rng``
    (orientation, then the bars), so ``n`` images drawn in pieces are the
    images drawn at once: a machine's data do not depend on its chunk length.
    """
    check_bars_args(size, p_vertical, p_bar)
    u = rng.random((n, 1 + size))
    vertical = u[:, 0] < p_vertical
    bars = u[:, 1:] < p_bar
    # vertical bar c lights column c in every row; horizontal bar r lights row r
    img = np.where(vertical[:, None, None], bars[:, None, :], bars[:, :, None])
    img = np.broadcast_to(img, (n, size, size))
    return img.reshape(n, size * size).astype(float)


def bars_distribution(size: int = 4, p_vertical: float = 2 / 3, p_bar: float = 0.2):
    """The exact bars distribution: ``(patterns, probabilities)``.

    Enumerates both orientations and all 2**size bar subsets and merges equal
    images (the blank image arises from both orientations).  For size 4 there
    are 30 distinct images and the blank one has probability 0.8**4.
    """
    check_bars_args(size, p_vertical, p_bar)
    probs = {}
    for vertical, pv in ((True, p_vertical), (False, 1.0 - p_vertical)):
        for bars in itertools.product((0, 1), repeat=size):
            b = np.array(bars, dtype=bool)
            k = int(b.sum())
            p = pv * p_bar**k * (1 - p_bar) ** (size - k)
            img = np.broadcast_to(b[None, :] if vertical else b[:, None], (size, size))
            key = tuple(img.reshape(-1).astype(int))
            probs[key] = probs.get(key, 0.0) + p
    keys = sorted(k for k in probs if probs[k] > 0)
    return np.array(keys, dtype=float), np.array([probs[k] for k in keys])


# -------------------------------------------------------------------- digits


def load_digits(threshold: int = DIGITS_THRESHOLD, digits=None):
    """scikit-learn's bundled 8x8 handwritten digits, binarised.

    A pixel (0..16) is on if it is >= ``threshold``.  Returns
    ``(images, labels)``: 1797 rows of 64 zeros and ones and their classes.
    Only ``digits`` (an iterable of classes) are kept if given.
    """
    from sklearn.datasets import load_digits as _sk_load

    if not 0 < threshold <= 16:
        raise bad("digits threshold", "must be in 1..16", threshold)
    ds = _sk_load()
    x = (ds.data >= threshold).astype(float)
    y = ds.target.astype(int)
    if digits is not None:
        keep = np.isin(y, list(digits))
        x, y = x[keep], y[keep]
    return x, y


# ---------------------------------------------------------------- user files


def validate_binary(x, n_input=None, source="data") -> np.ndarray:
    """A checked float64 copy of a 2-D 0/1 array."""
    if np.iscomplexobj(x):
        raise bad(source, "holds complex numbers; values must be 0 or 1")
    try:
        a = np.array(x, dtype=float)  # copy: the caller's array is never touched
    except (TypeError, ValueError) as e:
        raise bad(source, f"not a numeric array ({e})") from None
    if a.ndim == 1 and n_input is not None and a.size == n_input:
        a = a[None, :]
    if a.ndim != 2:
        raise bad(source, "must be a 2-D array, one row per example", f"shape {a.shape}")
    if a.shape[0] == 0:
        raise bad(source, "has no rows; need at least one example", f"shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise bad(source, "contains NaN or infinite values", int(np.sum(~np.isfinite(a))))
    if not np.all((a == 0) | (a == 1)):
        bad_vals = np.unique(a[(a != 0) & (a != 1)])[:3].tolist()
        raise bad(source, "values must be 0 or 1", bad_vals)
    if n_input is not None and a.shape[1] != n_input:
        raise bad(
            source,
            f"rows have {a.shape[1]} values but the circuit's input layer has {n_input} units",
            f"shape {a.shape}",
        )
    return a


def load_data_file(path, n_input=None) -> np.ndarray:
    """Binary vectors from a ``.npy``, ``.npz`` (first array) or CSV file."""
    p = Path(path)
    src = f"data file {p}"
    if not p.exists():
        raise bad(src, "does not exist")
    suffix = p.suffix.lower()
    if suffix in (".npy", ".npz") and p.is_file():
        with open(p, "rb") as f:
            magic = f.read(6)
        if suffix == ".npz" and magic[:4] != b"PK\x03\x04":
            raise bad(src, "is not an .npz archive (no zip header)")
        if suffix == ".npy" and magic != b"\x93NUMPY":
            raise bad(src, "is not an .npy file (no NUMPY header)")
    try:
        if suffix == ".npy":
            with open(p, "rb") as f:
                _check_npy_size(f, p.stat().st_size, src)
            raw = np.load(p, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if not z.files:
                    raise bad(src, "holds no arrays")
                with z.zip.open(z.files[0] + ".npy") as f:
                    _check_npy_size(f, z.zip.getinfo(z.files[0] + ".npy").file_size, src)
                raw = z[z.files[0]]
        elif suffix in (".csv", ".txt"):
            raw = _read_csv(p, src)
        else:
            raise bad(src, "unknown format; use .npy, .npz or .csv", suffix)
    except HMError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise bad(src, f"cannot be read ({type(e).__name__}: {e})") from None
    return validate_binary(raw, n_input, source=src)


#: largest data array read from a file, in bytes (as stored)
MAX_DATA_BYTES = 2**31


def _check_npy_size(f, stored_bytes: int, src: str):
    """Refuse, from the header alone, an array larger than :data:`MAX_DATA_BYTES`
    or than the bytes actually stored (a header can claim anything)."""
    from numpy.lib import format as npy

    version = npy.read_magic(f)
    readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    if version not in readers:
        raise bad(src, f"is an .npy file of version {version[0]}.{version[1]}; save it with numpy.save")
    try:
        shape, _, dtype = readers[version](f)
    except (ValueError, SyntaxError):
        raise bad(
            src, "has a malformed .npy header (its shape or dtype cannot be read); save it with numpy.save"
        ) from None
    n = int(np.prod(shape, dtype=object))
    size = n * dtype.itemsize
    if size > MAX_DATA_BYTES:
        raise bad(src, f"holds an array of shape {shape} ({size:.3g} bytes); the limit is {MAX_DATA_BYTES:.3g}")
    if size > stored_bytes:
        raise bad(src, f"is truncated: its header claims shape {shape} but the file holds {stored_bytes} bytes")


def _read_csv(p: Path, src: str):
    rows = []
    with open(p, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row or all(c.strip() == "" for c in row):
                continue
            try:
                rows.append([float(c) for c in row])
            except ValueError:
                raise bad(src, f"line {lineno} has a value that is not a number", row) from None
            if len(rows[-1]) != len(rows[0]):
                raise bad(
                    src, f"ragged CSV: line {lineno} has {len(rows[-1])} values, the first row has {len(rows[0])}"
                )
    if not rows:
        raise bad(src, "has no rows; need at least one example")
    return np.array(rows)


def resolve_data(spec: str, n_input=None) -> tuple:
    """A data source named on the command line -> ``(rows, description)``.

    ``bars`` (the sampler is used instead, see training), ``digits``,
    ``digits:9`` (one class) or a file path.
    """
    if spec == "digits" or spec.startswith("digits:"):
        classes = None
        if ":" in spec:
            try:
                classes = [int(c) for c in spec.split(":", 1)[1].split(",")]
            except ValueError:
                raise bad("data", "digit classes must be integers, e.g. digits:9 or digits:3,5", spec) from None
            if not all(0 <= c <= 9 for c in classes):
                raise bad("data", "digit classes must be in 0..9", spec)
        x, _ = load_digits(digits=classes)
        return validate_binary(x, n_input, source=f"data {spec}"), spec
    return load_data_file(spec, n_input), str(spec)
