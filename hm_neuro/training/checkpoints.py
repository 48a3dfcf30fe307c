"""Checkpoints: the whole state of a training at a chunk boundary, and resuming from it."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from ..errors import bad
from ..files.model_io import open_npz, parameters_from, save_npz


@dataclasses.dataclass(frozen=True)
class Checkpointing:
    """Where and how often a training saves its state.

    ``path``: the checkpoint file; ``every``: save at the first chunk
    boundary after every so many examples (0: only on Ctrl-C or SIGTERM);
    ``resume``: continue from the file; ``fingerprint``: everything else
    that changes the result (data, initial weights, ...), stored and
    compared on resume."""

    path: object
    every: int = 0
    resume: bool = False
    fingerprint: dict | None = None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint was saved."""


def perturbation_digest(pt) -> str:
    h = hashlib.sha256()
    for key in sorted(pt.lesions):
        h.update(repr(key).encode())
        h.update(np.asarray(pt.lesions[key], dtype=float).tobytes())
    for key in sorted(pt.clamps):
        h.update(repr(key).encode())
        h.update(np.asarray(pt.clamps[key], dtype=float).tobytes())
    return h.hexdigest()[:16]


def array_digest(arrays: dict) -> str:
    """A short hash of named arrays (initial weights, data rows) for checkpoint fingerprints."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key], dtype=float).tobytes())
    return h.hexdigest()[:16]


CHECKPOINT_FORMAT = "hm_neuro-checkpoint-2"


def save_checkpoint(path, run_id, circuit, params, done, chunk_index, rng_state, stream_state, history_seen, history):
    arrays = {f"param_{k}": v for k, v in params.arrays().items()}
    arrays.update({f"history_{k}": v for k, v in history.items()})
    arrays["stream_order"] = np.asarray(stream_state, dtype=np.int64)
    arrays["meta"] = np.array(
        json.dumps(
            {
                "format": CHECKPOINT_FORMAT,
                "run": run_id,
                "done": int(done),
                "chunk_index": int(chunk_index),
                "data_rng": rng_state,
                "history_seen": list(map(int, history_seen)),
            }
        )
    )
    save_npz(path, arrays, now=True)  # the state to resume from: kept whatever the command does next


def checkpoint_progress(path) -> int | None:
    """Examples of progress held by a checkpoint file, or None if it is not one."""
    try:
        z = open_npz(path, "checkpoint")
        meta = json.loads(str(z["meta"]))
        return int(meta["done"])
    except Exception:  # noqa: BLE001 - anything unreadable is "not a checkpoint"
        return None


def load_checkpoint(path, run_id, circuit):
    z = open_npz(path, "checkpoint")
    where = f"checkpoint {path}"
    try:
        meta = json.loads(str(z["meta"]))
    except (KeyError, json.JSONDecodeError, UnicodeDecodeError):
        raise bad(where, "not an hm_neuro checkpoint (no readable 'meta')") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise bad(where, f"not an hm_neuro checkpoint of format {CHECKPOINT_FORMAT}")
    for key in ("run", "done", "chunk_index", "data_rng", "history_seen"):
        if key not in meta:
            raise bad(where, f"missing '{key}'")
    stored = meta["run"] if isinstance(meta["run"], dict) else {}
    for key, value in run_id.items():
        value = json.loads(json.dumps(value))
        if stored.get(key) != value:
            path, before, now = _first_difference(key, stored.get(key), value)
            raise bad(
                where,
                f"was made with a different {path} ({_short(before)}; this run: {_short(now)}); "
                "resume with the same options",
            )
    done, c = meta["done"], meta["chunk_index"]
    if not (isinstance(done, int) and 0 < done < run_id["examples"] and isinstance(c, int) and c >= 1):
        raise bad(where, f"progress must be in 1..{run_id['examples'] - 1} examples", done)
    rng_state = meta["data_rng"]
    if not (isinstance(rng_state, dict) and "bit_generator" in rng_state and "state" in rng_state):
        raise bad(where, "has no data-generator state")
    if "stream_order" not in z:
        raise bad(where, "missing 'stream_order'")
    params = parameters_from({k[6:]: v for k, v in z.items() if k.startswith("param_")}, circuit, where)
    return {
        "params": params,
        "done": done,
        "chunk_index": c,
        "data_rng": rng_state,
        "stream": z["stream_order"],
        "history_seen": meta["history_seen"],
        "history": {k[8:]: v for k, v in z.items() if k.startswith("history_")},
    }


def _first_difference(path: str, a, b) -> tuple:
    """(dotted key, a's value, b's value) of the first place two JSON values
    differ (a circuit's ``precision.generative.bits``, not the whole circuit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(f"{path}.{k}", a.get(k), b.get(k))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(f"{path}[{i}]", x, y)
    return path, a, b


def _short(v) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
