"""Input files for the bad-input tables: each writes a real file of the
package (a model, a weight history, a circuit, a protocol, data) into a
test's folder, then breaks it as a hostile user would."""

import os
import zipfile

import numpy as np


def model_file(folder, name="m.npz", circuit="bars", **override):
    """A real model file written by the package, then optionally altered."""
    from hm_neuro.files.model_io import save_model
    from hm_neuro.model import Parameters, load_circuit

    c = load_circuit(circuit)
    save_model(folder / name, Parameters.initial(c), c, seed=0, examples_seen=0)
    altered(folder / name, override)


def altered(path, override: dict):
    """Keys of an .npz file replaced (None: removed)."""
    if override:
        z = dict(np.load(path))
        for k, v in override.items():
            if v is None:
                z.pop(k)
            else:
                z[k] = v
        np.savez(path, **z)


def rows_file(folder, name, n_inputs=16, dtype=int):
    rows = (np.random.default_rng(0).random((20, n_inputs)) < 0.3).astype(dtype)
    if name.endswith(".csv"):
        np.savetxt(folder / name, rows, fmt="%d", delimiter=",")
    elif name.endswith(".npz"):
        np.savez(folder / name, rows)
    else:
        np.save(folder / name, rows)


def text_file(folder, name, text):
    (folder / name).write_text(text)


def bytes_file(folder, name, data):
    (folder / name).write_bytes(data)


def huge_npy(folder, name):
    """An .npy header claiming 10^12 rows of 16 values, and no data."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 16), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    (folder / name).write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())


def huge_npz(folder, name):
    huge_npy(folder, "arr_0.npy")
    with zipfile.ZipFile(folder / name, "w") as z:
        z.write(folder / "arr_0.npy", "arr_0.npy")
    os.unlink(folder / "arr_0.npy")


BARS_TOML = open(os.path.join(os.path.dirname(__file__), "..", "..", "hm_neuro", "circuits", "bars.toml")).read()


def circuit_file(folder, name, old, new):
    assert old in BARS_TOML
    text_file(folder, name, BARS_TOML.replace(old, new))


def protocol_file(folder, name, epoch_extra):
    text_file(folder, name, f'[[epoch]]\nname = "e"\nexamples = 100\nkind = "frozen"\n{epoch_extra}\n')


def history_file(folder, name="h.history.npz", **override):
    """A real weight history written by the package (three snapshots of a
    16-8-1 machine), then optionally altered."""
    from hm_neuro.files.model_io import save_history
    from hm_neuro.model import Parameters, load_circuit

    c = load_circuit("bars")
    arrays = {k: np.stack([v.ravel()] * 3) for k, v in Parameters.initial(c).arrays().items()}
    save_history(folder / name, [0, 100, 200], arrays, c, seed=0)
    altered(folder / name, override)


def results_file(folder, text, name="res/bars_restarts1_seeds4_quick.json"):
    (folder / name).parent.mkdir(exist_ok=True)
    (folder / name).write_text(text)


def npy_with_header(shape: bytes) -> bytes:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + b", }"
    header += b" " * (117 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 640


ENV_FILE_CACHE = {"HM_NEURO_CACHE_DIR": "afile"}
