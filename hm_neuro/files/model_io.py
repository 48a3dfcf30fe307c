"""Model, history and result files: plain ``.npz``/JSON, written atomically.

Model file keys (all loaded with ``allow_pickle=False``):

=============================  ===============================================
``generative_weights_k``       (n[k+1], n[k]) top-down weights into layer k
``recognition_weights_k``      (n[k], n[k+1]) bottom-up weights out of layer k
``generative_biases_l``        (n[l],) for l = 0..L
``recognition_biases_k``       (n[k+1],) for k = 0..L-1
``circuit``                    the circuit, as a JSON string
``seed``, ``examples_seen``    what made the weights
``versions``                   JSON string: hm_neuro, brian2, numpy, python
``engine``, ``device``         which simulator trained it
``rule``                       the learning rule (``wake-sleep``, ``reweighted:K``)
``training``                   JSON string: the data and options that trained it
=============================  ===============================================
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import HMError, bad
from ..model import Circuit, Parameters
from ..seeds import tree

FORMAT = "hm_neuro-model-1"


def versions() -> dict:
    out = {"hm_neuro": __version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        from importlib.metadata import version

        out["brian2"] = version("brian2")
    except Exception:  # pragma: no cover - brian2 is a dependency
        out["brian2"] = "unknown"
    return out


_pending = threading.local()


@contextlib.contextmanager
def transaction():
    """A command's outputs as one transaction: every file written through
    :func:`atomic_path` inside the block goes to a temporary name beside its
    destination and is renamed into place only when the whole block
    succeeds; a failure (an error, Ctrl-C, a full disk) leaves none of them
    new.  A transaction inside another commits at its own end (a result set
    of a longer job is kept when a later one fails)."""
    outer = getattr(_pending, "files", None)
    files = _pending.files = []
    try:
        yield
    except BaseException:
        for tmp, _ in files:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    finally:
        _pending.files = outer
    for k, (tmp, path) in enumerate(files):
        try:
            os.replace(tmp, path)
        except OSError as e:
            for rest, _ in files[k:]:
                with contextlib.suppress(OSError):
                    os.unlink(rest)
            raise bad("output", f"could not be put in place ({e.strerror})", str(path)) from None


@contextlib.contextmanager
def atomic_path(path, now: bool = False):
    """Yield a temporary path beside ``path``; rename it over ``path`` on
    success -- at once, or, inside a :func:`transaction`, when the
    transaction ends (``now``: at once anyway, e.g. a checkpoint, which
    must outlive a failed command).  A write that fails (file too large,
    no space, quota, read-only) is one line naming the file and the reason."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the user's usual mode
    except OSError as e:
        raise bad("output", f"could not be written ({e.strerror})", str(path)) from None
    try:
        yield Path(tmp)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise bad("output", f"could not be written ({e.strerror or e})", str(path)) from None
        raise
    files = getattr(_pending, "files", None)
    if files is not None and not now:
        files.append((tmp, path))
        return
    try:
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise bad("output", f"could not be put in place ({e.strerror})", str(path)) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_npz(path, arrays: dict, now: bool = False):
    with atomic_path(path, now) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def save_json(path, obj):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x).__name__)


def save_model(
    path,
    params: Parameters,
    circuit: Circuit,
    seed,
    examples_seen: int,
    engine: str = "",
    device: str = "",
    rule: str = "wake-sleep",
    training: dict | None = None,
):
    """A model file (keys in the module docstring); ``seed`` an int or a
    :class:`hm_neuro.seeds.SeedTree` node (its path is kept as ``seed_path``);
    ``rule`` the learning rule that trained it; ``training`` anything else
    that did (data, options), kept as JSON."""
    node = tree(seed)
    arrays = dict(params.arrays())
    arrays.update(
        format=np.array(FORMAT),
        circuit=np.array(json.dumps(circuit.to_dict())),
        seed=np.array(node.seed),
        seed_path=np.array(node.label()),
        examples_seen=np.array(int(examples_seen)),
        versions=np.array(json.dumps(versions())),
        engine=np.array(engine),
        device=np.array(device),
        rule=np.array(rule),
        training=np.array(json.dumps(training or {}, sort_keys=True)),
    )
    save_npz(path, arrays)


def open_npz(path, what):
    p = Path(path)
    if not p.exists():
        raise bad(f"{what} {p}", "does not exist")
    if p.is_dir():
        raise bad(f"{what} {p}", "is a directory, not a file")
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
        if magic != b"PK\x03\x04":
            raise bad(f"{what} {p}", "is not an .npz archive (no zip header)")
        z = np.load(p, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise bad(f"{what} {p}", "is not an .npz archive")
        return {k: z[k] for k in z.files}
    except HMError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise bad(f"{what} {p}", "holds pickled objects; refused (model files hold plain arrays only)") from None
        raise bad(f"{what} {p}", f"cannot be read ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise bad(f"{what} {p}", f"is truncated or not an .npz archive ({type(e).__name__})") from None


def parameters_from(arrays: dict, circuit: Circuit, where: str) -> Parameters:
    """Checked :class:`Parameters` from named arrays: every key present, real
    numbers, the circuit's shapes, finite."""
    template = Parameters.initial(circuit).arrays()
    for key, arr in template.items():
        if key not in arrays:
            raise bad(where, f"missing array {key!r}")
        a = np.asarray(arrays[key])
        if a.dtype.kind not in "fiub":
            raise bad(where, f"array {key!r} must hold real numbers", str(a.dtype))
        if a.shape != arr.shape:
            raise bad(where, f"array {key!r} has shape {a.shape}, the circuit needs {arr.shape}")
        if not np.all(np.isfinite(a)):
            raise bad(where, f"array {key!r} holds non-finite values")
    return Parameters.from_arrays(arrays, circuit)


def _scalar(z, key, kind, where, low=None):
    if key not in z:
        raise bad(where, f"missing {key!r}")
    a = np.asarray(z[key])
    if a.shape != () or a.dtype.kind not in kind:
        raise bad(where, f"{key!r} must be a single {'integer' if kind == 'iu' else 'text'}", str(a.dtype))
    v = a.item()
    if low is not None and v < low:
        raise bad(where, f"{key!r} must be >= {low}", v)
    return v


def _training_of(z: dict, where: str) -> dict:
    if "training" not in z:  # written before model files recorded it
        return {}
    try:
        training = json.loads(_scalar(z, "training", "U", where))
    except json.JSONDecodeError:
        raise bad(where, "'training' is not JSON") from None
    if not isinstance(training, dict):
        raise bad(where, "'training' must be a JSON object", type(training).__name__)
    return training


@dataclasses.dataclass(frozen=True)
class Continuation:
    """A trained machine to continue: its parameters and the examples it has
    seen (what :func:`hm_neuro.training.train` continues from, as from a
    ``TrainResult``)."""

    params: Parameters
    examples_seen: int


def continuation(path, circuit: Circuit | None = None) -> Continuation:
    """A model file as a :class:`Continuation`: ``hm.train(..., params=continuation(path))``
    counts on from the file's ``examples_seen`` (its stream's counter and its data too)."""
    params, _, meta = load_model(path, circuit)
    return Continuation(params, int(meta["examples_seen"]))


def load_model(path, circuit: Circuit | None = None):
    """Read a model file -> ``(params, circuit, meta)``.

    If ``circuit`` is given, the file must have been made for the same layer
    sizes (a model of another circuit is refused).  Every key is checked for
    presence, type, shape and range.
    """
    where = f"model file {path}"
    z = open_npz(path, "model file")
    if "format" not in z or str(z["format"]) != FORMAT:
        raise bad(where, f"not an hm_neuro model (format key missing or not {FORMAT!r})")
    stored = _circuit_of(z, where)
    if circuit is not None and tuple(circuit.layers) != tuple(stored.layers):
        raise bad(where, f"was trained on layers {list(stored.layers)}, not the circuit's {list(circuit.layers)}")
    circuit = circuit or stored
    params = parameters_from(z, circuit, where)
    try:
        vers = json.loads(_scalar(z, "versions", "U", where))
    except json.JSONDecodeError:
        raise bad(where, "'versions' is not JSON") from None
    meta = {
        "seed": _scalar(z, "seed", "iu", where, 0),
        "examples_seen": _scalar(z, "examples_seen", "iu", where, 0),
        "versions": vers,
        "engine": str(z.get("engine", "")),
        "device": str(z.get("device", "")),
        "seed_path": str(z.get("seed_path", "")),
        "rule": str(z.get("rule", "wake-sleep")),
        "training": _training_of(z, where),
    }
    return params, circuit, meta


def save_history(path, examples_seen, history: dict, circuit: Circuit, seed):
    """Weight snapshots: ``examples_seen`` (S,) and, per parameter, (S, size)."""
    arrays = {k: np.asarray(v) for k, v in history.items()}
    arrays.update(
        examples_seen=np.asarray(examples_seen, dtype=np.int64),
        circuit=np.array(json.dumps(circuit.to_dict())),
        seed=np.array(tree(seed).seed),
        seed_path=np.array(tree(seed).label()),
        versions=np.array(json.dumps(versions())),
        format=np.array("hm_neuro-history-1"),
    )
    save_npz(path, arrays)


def _circuit_of(z: dict, where: str) -> Circuit:
    """The circuit a model or history file records (its JSON ``circuit`` key), checked."""
    try:
        return Circuit.from_dict(json.loads(_scalar(z, "circuit", "U", where)), source=f"{where}: circuit")
    except json.JSONDecodeError as e:
        raise bad(where, f"has no readable circuit ({e})") from None


def load_history(path):
    """Read a weight history -> ``(examples_seen, snapshots, circuit)``.  Every
    key is checked as in a model file: the circuit, ``examples_seen`` (whole
    numbers >= 0, non-decreasing, one per snapshot) and one ``(snapshots,
    size)`` array of finite numbers per parameter of the circuit."""
    where = f"history file {path}"
    z = open_npz(path, "history file")
    if str(z.get("format", "")) != "hm_neuro-history-1":
        raise bad(where, "not an hm_neuro weight history")
    circuit = _circuit_of(z, where)
    if "examples_seen" not in z:
        raise bad(where, "missing 'examples_seen'")
    seen = np.asarray(z["examples_seen"])
    if seen.ndim != 1 or seen.dtype.kind not in "iu" or np.any(seen < 0) or np.any(np.diff(seen) < 0):
        raise bad(
            where,
            "'examples_seen' must be a list of whole numbers >= 0 in increasing order",
            f"{seen.dtype} of shape {seen.shape}",
        )
    snaps = {}
    for key, arr in Parameters.initial(circuit).arrays().items():
        if key not in z:
            raise bad(where, f"missing array {key!r}")
        a = np.asarray(z[key])
        if a.dtype.kind not in "fiu":
            raise bad(where, f"array {key!r} must hold real numbers", str(a.dtype))
        if a.shape != (len(seen), arr.size):
            raise bad(
                where,
                f"array {key!r} has shape {a.shape}; {len(seen)} snapshots of the circuit's "
                f"{arr.size} values need {(len(seen), arr.size)}",
            )
        if not np.all(np.isfinite(a)):
            raise bad(where, f"array {key!r} holds non-finite values")
        snaps[key] = a
    return seen, snaps, circuit
