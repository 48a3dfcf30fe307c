"""Bad input to every command, as a hostile user gives it: one table per
command (``TABLES``).  Every case runs the command line in a subprocess in a
folder that holds its input files, and checks the whole promise: exit status
2, one line on stderr naming the option or file and the value, no traceback,
every input byte-identical afterwards and no new file left behind.  Its
classes are those of issues 13 and 22 (outputs over inputs, outputs checked
late, data names, sizes and numbers, model, history and text files, results
read back, empty values, unreadable files).
"""

import json
import os
import re
import zipfile

import numpy as np
import pytest
from helpers import run_cli, snapshot

from hm_neuro.cli.main import COMMANDS

# ------------------------------------------------------------------ inputs


def _model(folder, name="m.npz", circuit="bars", **override):
    """A real model file written by the package, then optionally altered."""
    from hm_neuro.files.model_io import save_model
    from hm_neuro.model import Parameters, load_circuit

    c = load_circuit(circuit)
    save_model(folder / name, Parameters.initial(c), c, seed=0, examples_seen=0)
    _altered(folder / name, override)


def _altered(path, override: dict):
    """Keys of an .npz file replaced (None: removed)."""
    if override:
        z = dict(np.load(path))
        for k, v in override.items():
            if v is None:
                z.pop(k)
            else:
                z[k] = v
        np.savez(path, **z)


def _rows(folder, name, n_inputs=16, dtype=int):
    rows = (np.random.default_rng(0).random((20, n_inputs)) < 0.3).astype(dtype)
    if name.endswith(".csv"):
        np.savetxt(folder / name, rows, fmt="%d", delimiter=",")
    elif name.endswith(".npz"):
        np.savez(folder / name, rows)
    else:
        np.save(folder / name, rows)


def _text(folder, name, text):
    (folder / name).write_text(text)


def _bytes(folder, name, data):
    (folder / name).write_bytes(data)


def _huge_npy(folder, name):
    """An .npy header claiming 10^12 rows of 16 values, and no data."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 16), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    (folder / name).write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())


def _huge_npz(folder, name):
    _huge_npy(folder, "arr_0.npy")
    with zipfile.ZipFile(folder / name, "w") as z:
        z.write(folder / "arr_0.npy", "arr_0.npy")
    os.unlink(folder / "arr_0.npy")


BARS_TOML = open(os.path.join(os.path.dirname(__file__), "..", "hm_neuro", "circuits", "bars.toml")).read()


def _circuit(folder, name, old, new):
    assert old in BARS_TOML
    _text(folder, name, BARS_TOML.replace(old, new))


def _protocol(folder, name, epoch_extra):
    _text(folder, name, f'[[epoch]]\nname = "e"\nexamples = 100\nkind = "frozen"\n{epoch_extra}\n')


def _history(folder, name="h.history.npz", **override):
    """A real weight history written by the package (three snapshots of a
    16-8-1 machine), then optionally altered."""
    from hm_neuro.files.model_io import save_history
    from hm_neuro.model import Parameters, load_circuit

    c = load_circuit("bars")
    arrays = {k: np.stack([v.ravel()] * 3) for k, v in Parameters.initial(c).arrays().items()}
    save_history(folder / name, [0, 100, 200], arrays, c, seed=0)
    _altered(folder / name, override)


def _results(folder, text, name="res/bars_restarts1_seeds4_quick.json"):
    (folder / name).parent.mkdir(exist_ok=True)
    (folder / name).write_text(text)


def _npy_with_header(shape: bytes) -> bytes:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + b", }"
    header += b" " * (117 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 640


ENV_FILE_CACHE = {"HM_NEURO_CACHE_DIR": "afile"}

# Each table: (id, setup writing the inputs into the folder or None, arguments, stderr pattern[, environment])

#: train: option values, data names, sizes and numbers, outputs over inputs, model and circuit files, spiking options
TRAIN = [
    (
        "unknown-circuit",
        None,
        ["train", "--circuit", "nope", "--out", "m.npz"],
        r"--circuit: no such circuit; names are "
        r"\['bars', 'bars_consolidation', 'bars_lateral', 'bars_weight_decay', 'digits', 'nines'\]",
    ),
    (
        "missing-data-file",
        None,
        ["train", "--data", "missing.npy", "--out", "m.npz"],
        r"data file missing\.npy: does not exist",
    ),
    (
        "examples-negative",
        None,
        ["train", "--examples", "-5", "--out", "m.npz"],
        r"--examples: .*whole number in 0..1e12",
    ),
    ("examples-zero", None, ["train", "--examples", "0", "--out", "m.npz"], r"--examples: must be >= 1"),
    ("unknown-engine", None, ["train", "--engine", "tensorflow", "--out", "m.npz"], r"--engine: invalid choice"),
    ("schedule-kind", None, ["train", "--schedule", "nap:100", "--out", "m.npz"], r"epoch kind: must be one of"),
    (
        "schedule-sum",
        None,
        ["train", "--examples", "100", "--schedule", "wake-sleep:50", "--out", "m.npz"],
        r"schedule: epochs add up to 50 examples but 100",
    ),
    (
        "digit-class-12",
        None,
        ["train", "--data", "digits:12", "--out", "m.npz"],
        r"--data: digit classes must be in 0..9",
    ),
    (
        "data-width",
        None,
        ["train", "--circuit", "bars", "--data", "digits", "--out", "m.npz"],
        r"data digits: rows have 64 values but the circuit's input layer has 16",
    ),
    (
        "p-vertical-2",
        None,
        ["train", "--circuit", "nines", "--data", "bars", "--p-vertical", "2", "--out", "m.npz"],
        r"--p-vertical: must be a probability",
    ),
    ("out-suffix", None, ["train", "--out", "model.txt"], r"--out: model files end in \.npz"),
    (
        "rule-unknown",
        None,
        ["train", "--rule", "contrastive", "--out", "m.npz"],
        r"--rule: must be wake-sleep, wake-sleep:S .*'contrastive'",
    ),
    (
        "rule-on-spiking",
        None,
        ["train", "--engine", "spiking", "--rule", "reweighted:5", "--out", "m.npz"],
        r"--rule: reweighted:5 runs on the vectorised and brian2 engines; the spiking engine implements",
    ),
    (
        "rule-event-driven",
        None,
        ["train", "--rule", "reweighted:2", "--propagation", "event", "--out", "m.npz"],
        r"--propagation: the reweighted:2 rule needs summed propagation \(got 'event'\)",
    ),
    (
        "spiking-option-elsewhere",
        None,
        ["train", "--window", "2", "--out", "m.npz"],
        r"--window: applies to --engine spiking only \(got 2.0\)",
    ),
    (
        "spiking-window-off-grid",
        None,
        ["train", "--engine", "spiking", "--dt", "0.3", "--out", "m.npz"],
        r"--window: must be a whole number .* of steps of dt=0.3 ms",
    ),
    (
        "spiking-dt-above-window",
        None,
        ["train", "--engine", "spiking", "--dt", "5", "--out", "m.npz"],
        r"--dt: must be in \(0, window=1.0\] ms \(got 5.0\)",
    ),
    (
        "spiking-tau-nan",
        None,
        ["train", "--engine", "spiking", "--tau-syn", "nan", "--out", "m.npz"],
        r"--tau-syn: must be a finite number of ms",
    ),
    (
        "spiking-delay-off-grid",
        None,
        ["train", "--engine", "spiking", "--dt", "0.5", "--delay", "0.7", "--out", "m.npz"],
        r"--delay: must be a whole number of steps of dt=0.5 ms",
    ),
    (
        "spiking-settle-negative",
        None,
        ["train", "--engine", "spiking", "--settle", "-1", "--out", "m.npz"],
        r"--settle: must be in \[0, 1000.0\] ms \(got -1.0\)",
    ),
    (
        "spiking-window-huge",
        None,
        ["train", "--engine", "spiking", "--window", "1e9", "--out", "m.npz"],
        r"--window: must be in \(0, 1000.0\] ms",
    ),
    (
        "out-is-data",
        lambda d: _rows(d, "rows.npz"),
        ["train", "--data", "rows.npz", "--out", "rows.npz"],
        r"output: would overwrite the input rows\.npz",
    ),
    (
        "history-is-data",
        lambda d: _rows(d, "m.history.npz"),
        ["train", "--data", "m.history.npz", "--record-every", "100", "--examples", "200", "--out", "m.npz"],
        r"output: would overwrite the input m\.history\.npz",
    ),
    (
        "out-is-init",
        lambda d: _model(d),
        ["train", "--init", "m.npz", "--examples", "100", "--out", "m.npz"],
        r"output: would overwrite the input m\.npz",
    ),
    (
        "out-is-a-folder",
        lambda d: os.mkdir(d / "dir.npz"),
        ["train", "--engine", "numpy", "--examples", "100", "--out", "dir.npz"],
        r"output: is a directory.*'dir\.npz'",
    ),
    (
        "out-under-dev-null",
        None,
        ["train", "--engine", "numpy", "--examples", "100", "--out", "/dev/null/m.npz"],
        r"output: is a device, not a file.*/dev/null/m\.npz",
    ),
    (
        "data-digits-prefix-missing",
        None,
        ["train", "--data", "digits_missing.csv", "--out", "m.npz"],
        r"data file digits_missing\.csv: does not exist",
    ),
    ("data-digits-bad-class", None, ["train", "--data", "digits:x", "--out", "m.npz"], r"--data: .*digits:x"),
    ("data-unknown-word", None, ["train", "--data", "stripes", "--out", "m.npz"], r"stripes"),
    ("examples-inf", None, ["train", "--examples", "inf", "--out", "m.npz"], r"--examples: .*inf"),
    ("examples-1e400", None, ["train", "--examples", "1e400", "--out", "m.npz"], r"--examples: .*1e400"),
    (
        "schedule-1e400",
        None,
        ["train", "--examples", "100", "--schedule", "wake:1e400", "--out", "m.npz"],
        r"schedule.*1e400",
    ),
    ("seed-negative", None, ["train", "--seed", "-1", "--out", "m.npz"], r"--seed: .*-1"),
    (
        "layer-1e9",
        lambda d: _circuit(d, "big.toml", "layers = [16, 8, 1]", "layers = [16, 1000000000, 1]"),
        ["train", "--circuit", "big.toml", "--out", "m.npz"],
        r"big\.toml.*1000000000",
    ),
    (
        "layer-1e20",
        lambda d: _circuit(d, "big.toml", "layers = [16, 8, 1]", "layers = [16, 100000000000000000000, 1]"),
        ["train", "--circuit", "big.toml", "--out", "m.npz"],
        r"big\.toml",
    ),
    (
        "npy-header-1e12-rows",
        lambda d: _huge_npy(d, "huge.npy"),
        ["train", "--data", "huge.npy", "--out", "m.npz"],
        r"data file huge\.npy: holds an array of shape "
        r"\(1000000000000, 16\)",
    ),
    (
        "npz-header-1e12-rows",
        lambda d: _huge_npz(d, "h.npz"),
        ["train", "--data", "h.npz", "--out", "m.npz"],
        r"data file h\.npz: holds an array of shape",
    ),
    (
        "data-values-2",
        lambda d: np.save(d / "two.npy", np.full((3, 16), 2)),
        ["train", "--data", "two.npy", "--out", "m.npz"],
        r"data file two\.npy: values must be 0 or 1 \(got \[2\.0\]\)",
    ),
    (
        "circuit-invalid-utf8",
        lambda d: _bytes(d, "c.toml", b'name = "\xff\xfe"\nlayers = [16, 8, 1]\n'),
        ["train", "--circuit", "c.toml", "--out", "m.npz"],
        r"c\.toml",
    ),
    (
        "rates-1e300",
        lambda d: _circuit(d, "hot.toml", "generative_weights = [0.2, 0.001]", "generative_weights = [1e300, 1e300]"),
        [
            "train",
            "--circuit",
            "hot.toml",
            "--engine",
            "numpy",
            "--examples",
            "2000",
            "--chunk",
            "500",
            "-q",
            "--out",
            "m.npz",
        ],
        r"diverged: weights not finite or beyond",
    ),
    (
        "device-with-numpy-engine",
        None,
        ["train", "--engine", "numpy", "--device", "cython", "--out", "m.npz"],
        r"--device: .*numpy",
    ),
    (
        "complex-data",
        lambda d: np.save(d / "c.npy", np.ones((5, 16), dtype=complex)),
        ["train", "--data", "c.npy", "--out", "m.npz"],
        r"data file c\.npy: holds complex numbers",
    ),
    (
        "train-with-cache-on-a-file",
        lambda d: _text(d, "afile", "x"),
        ["train", "--device", "cpp_standalone", "--examples", "100", "--out", "m.npz"],
        r"HM_NEURO_CACHE_DIR: is not a folder \(got 'afile'\)",
        ENV_FILE_CACHE,
    ),
    (
        "reweighted-too-big",
        lambda d: (
            np.save(d / "rows.npy", np.zeros((2, 784))),
            _text(
                d,
                "big.toml",
                "layers = [784, 500, 10]\n[learning_rates]\n"
                "generative_weights = 0.01\nrecognition_weights = 0.01\n"
                "generative_biases = 0.01\nrecognition_biases = 0.01\n",
            ),
        ),
        [
            "train",
            "--circuit",
            "big.toml",
            "--data",
            "rows.npy",
            "--engine",
            "vectorised",
            "--rule",
            "reweighted:1000",
            "--seeds",
            "0:300",
            "--out",
            "m.npz",
        ],
        r"--rule: reweighted:1000 on layers \[784, 500, 10\] x 300 machine\(s\) needs 1\.1 GiB of uniforms per example",
    ),
    (
        "seed-with-seeds",
        None,
        ["train", "--seed", "5", "--seeds", "0:2", "--out", "m.npz"],
        r"--seed: trains one machine; --seeds 0:2 trains a population",
    ),
    (
        "window-0",
        None,
        ["train", "--engine", "spiking", "--window", "0", "--out", "m.npz"],
        r"--window: must be in \(0, 1000\.0\] ms \(got 0\.0\)",
    ),
    (
        "dynamics-window-0",
        lambda d: _text(
            d,
            "c.toml",
            "layers = [4, 2]\n[learning_rates]\ngenerative_weights = 0.1\n"
            "recognition_weights = 0.1\ngenerative_biases = 0.1\n"
            "recognition_biases = 0.1\n[dynamics]\nwindow = 0\n",
        ),
        ["train", "--circuit", "c.toml", "--out", "m.npz"],
        r"c\.toml: dynamics\.window: must be in \(0, 1000\.0\] ms",
    ),
    (
        "schedule-empty",
        None,
        ["train", "--schedule", "", "--out", "m.npz"],
        r"--schedule: must not be empty \(got ''\)",
    ),
    ("circuit-empty", None, ["train", "--circuit", " ", "--out", "m.npz"], r"--circuit: must not be empty"),
    (
        "data-npz-random-bytes",
        lambda d: _bytes(d, "r.npz", os.urandom(3000)),
        ["train", "--data", "r.npz", "--out", "m.npz"],
        r"data file r\.npz: is not an \.npz archive \(no zip header\)",
    ),
    (
        "data-npy-random-bytes",
        lambda d: _bytes(d, "r.npy", os.urandom(3000)),
        ["train", "--data", "r.npy", "--out", "m.npz"],
        r"data file r\.npy: is not an \.npy file \(no NUMPY header\)",
    ),
    (
        "data-npy-bad-header",
        lambda d: _bytes(d, "b.npy", _npy_with_header(b"(2+3, 16)")),
        ["train", "--data", "b.npy", "--out", "m.npz"],
        r"data file b\.npy: has a malformed \.npy header",
    ),
]

#: evaluate: model files
EVALUATE = [
    ("missing-model", None, ["evaluate", "--model", "none.npz"], r"model file none\.npz: does not exist"),
    ("samples-1e9", lambda d: _model(d), ["evaluate", "--model", "m.npz", "--samples", "1e9"], r"--samples"),
    (
        "model-without-seed",
        lambda d: _model(d, seed=None),
        ["evaluate", "--model", "m.npz", "--samples", "5"],
        r"model file m\.npz: .*seed",
    ),
    (
        "model-examples-many",
        lambda d: _model(d, examples_seen=np.array("many")),
        ["evaluate", "--model", "m.npz", "--samples", "5"],
        r"model file m\.npz: .*examples_seen",
    ),
    (
        "model-string-weights",
        lambda d: _model(d, generative_weights_0=np.full((8, 16), "w")),
        ["evaluate", "--model", "m.npz", "--samples", "5"],
        r"model file m\.npz: .*generative_weights_0",
    ),
    (
        "model-random-bytes",
        lambda d: _bytes(d, "m.npz", os.urandom(3000)),
        ["evaluate", "--model", "m.npz"],
        r"model file m\.npz: is not an \.npz archive \(no zip header\)",
    ),
    (
        "model-width-vs-data",
        lambda d: (_model(d, circuit="nines"), _rows(d, "rows.npy")),
        ["evaluate", "--model", "m.npz", "--data", "rows.npy"],
        r"rows have 16 values but .* 64 units",
    ),
    (
        "model-training-not-json",
        lambda d: _model(d, training=np.array("{x")),
        ["evaluate", "--model", "m.npz"],
        r"model file m\.npz: 'training' is not JSON",
    ),
]

#: reproduce: experiments, settings, results read back
REPRODUCE = [
    ("unknown-experiment", None, ["reproduce", "nope"], r"reproduce: unknown experiment; choose one of \[.*'bars'"),
    (
        "restarts-digits",
        None,
        ["reproduce", "digits", "--restarts", "2"],
        r"--restarts: does not apply to the digits experiment",
    ),
    ("unknown-reading", None, ["reproduce", "bars", "--reading", "all"], r"--reading: must be one of \['connections'"),
    ("rule-k-0", None, ["reproduce", "bars", "--rule", "reweighted:0"], r"--rule: K of reweighted:K must be in"),
    (
        "spiking-setting-unknown",
        None,
        ["reproduce", "spiking", "--settings", "tau_syn=9ms"],
        r"--settings: must be among \[.*\] \(got 'tau_syn=9ms'\)",
    ),
    (
        "settings-on-bars",
        None,
        ["reproduce", "bars", "--settings", "bridge"],
        r"--settings: does not apply to the bars experiment",
    ),
    ("seeds-0", None, ["reproduce", "bars", "--seeds", "0"], r"--seeds: must be in 1..10000 \(got 0\)"),
    (
        "reproduce-out-is-a-file",
        lambda d: _text(d, "afile", "keep me"),
        ["reproduce", "nines", "--quick", "--engine", "numpy", "--out", "afile"],
        r"--out: is a file; give a folder for the results \(got 'afile'\)",
    ),
    (
        "reproduce-out-under-dev-null",
        None,
        ["reproduce", "bars", "--quick", "--out", "/dev/null/x"],
        r"--out: is a device",
    ),
    (
        "rules-results-a-list",
        lambda d: _results(d, "[1, 2]"),
        ["reproduce", "rules", "--quick", "--out", "res"],
        r"results file res/bars_restarts1_seeds4_quick\.json: is not a bars results file .*--fresh \(got 'list'\)",
    ),
    (
        "rules-results-not-json",
        lambda d: _results(d, "{runs: "),
        ["reproduce", "rules", "--quick", "--out", "res"],
        r"results file res/bars_restarts1_seeds4_quick\.json: cannot be read as JSON",
    ),
    (
        "rules-results-run-without-kl",
        lambda d: _results(d, json.dumps({"runs": [{"status": "ok"}], "engine": "x"})),
        ["reproduce", "rules", "--quick", "--out", "res"],
        r"run 0 is not a bars result",
    ),
    (
        "settings-commas",
        None,
        ["reproduce", "spiking", "--quick", "--settings", ","],
        r"--settings: names no setting \(got ','\)",
    ),
]

#: protocol: protocol files and outputs
PROTOCOL = [
    (
        "protocol-out-is-init",
        lambda d: _model(d),
        ["protocol", "lesion_imagery", "--init", "m.npz", "--out", "m.npz"],
        r"output: would overwrite the input m\.npz",
    ),
    (
        "protocol-figure-is-a-folder",
        lambda d: (_model(d), os.mkdir(d / "o.png")),
        ["protocol", "lesion_imagery", "--init", "m.npz", "--out", "o.npz"],
        r"output: is a directory.*o\.png",
    ),
    (
        "protocol-is-a-folder",
        lambda d: (_model(d), os.mkdir(d / "p.toml")),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"p\.toml",
    ),
    (
        "protocol-clamp-layer-name",
        lambda d: (_model(d), _protocol(d, "p.toml", "clamp = { top = [1] }")),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"clamp",
    ),
    (
        "protocol-clamp-string",
        lambda d: (_model(d), _protocol(d, "p.toml", 'clamp = { 2 = "on" }')),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"clamp",
    ),
    (
        "protocol-epoch-not-table",
        lambda d: (_model(d), _text(d, "p.toml", "epoch = [1, 2]\n")),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"epoch",
    ),
]

#: sweep: grids, tables, workers and schedulers
SWEEP = [
    (
        "sweep-table-is-data",
        lambda d: (os.mkdir(d / "res"), _rows(d / "res", "rows.csv")),
        [
            "sweep",
            "--data",
            "res/rows.csv",
            "--out",
            "res",
            "--name",
            "rows",
            "--seeds",
            "1",
            "--examples",
            "100",
            "--engine",
            "numpy",
            "--workers",
            "1",
        ],
        r"output: would overwrite the input res/rows\.csv",
    ),
    (
        "sweep-name-escapes",
        None,
        ["sweep", "--name", "../x", "--seeds", "1", "--examples", "100", "--engine", "numpy", "--workers", "1"],
        r"--name: .*'\.\./x'",
    ),
    ("sweep-seeds-1e9", None, ["sweep", "--seeds", "1000000000", "--engine", "numpy"], r"--seeds"),
    ("sweep-workers-0", None, ["sweep", "--workers", "0", "--engine", "numpy"], r"--workers: .*0"),
    (
        "grid-p-vertical",
        None,
        ["sweep", "--grid", "p_vertical=2", "--engine", "numpy", "--workers", "1"],
        r"^hm-neuro sweep: error: grid point p_vertical=2: p_vertical: must be a probability",
    ),
    (
        "sweep-file-p-vertical",
        lambda d: _text(d, "s.toml", "p_vertical = 2\n"),
        ["sweep", "s.toml", "--engine", "numpy", "--workers", "1"],
        r"^hm-neuro sweep: error: sweep file s\.toml: p_vertical",
    ),
    (
        "grid-circuit-missing",
        None,
        ["sweep", "--grid", "circuit=nope", "--engine", "numpy", "--workers", "1"],
        r"^hm-neuro sweep: error: grid point circuit=nope: ",
    ),
    (
        "sweep-population-0",
        None,
        ["sweep", "--population", "0", "--engine", "numpy", "--examples", "100"],
        r"^hm-neuro sweep: error: --population: must be an integer in 1\.\.1024 \(got 0\)$",
    ),
    (
        "sweep-scheduler-unreachable",
        None,
        ["sweep", "--scheduler", "tcp://127.0.0.1:9", "--engine", "numpy", "--examples", "100"],
        r"^hm-neuro sweep: error: --scheduler: cannot reach a Dask scheduler there",
    ),
]

#: animate: history files and the animation's options
ANIMATE = [
    (
        "history-no-circuit",
        lambda d: _history(d, circuit=None),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: missing 'circuit'",
    ),
    (
        "history-circuit-not-json",
        lambda d: _history(d, circuit=np.array("{layers")),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: has no readable circuit",
    ),
    (
        "history-circuit-bad-layers",
        lambda d: _history(d, circuit=np.array('{"layers": [16], "learning_rates": {}}')),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: circuit: layers: need an input layer",
    ),
    (
        "history-no-examples",
        lambda d: _history(d, examples_seen=None),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: missing 'examples_seen'",
    ),
    (
        "history-examples-strings",
        lambda d: _history(d, examples_seen=np.array(["a", "b", "c"])),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: 'examples_seen' must be a list of whole numbers",
    ),
    (
        "history-examples-short",
        lambda d: _history(d, examples_seen=np.array([0, 100])),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: array 'generative_weights_0' has shape \(3, 128\); 2 snapshots",
    ),
    (
        "history-weights-missing",
        lambda d: _history(d, recognition_weights_1=None),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: missing array 'recognition_weights_1'",
    ),
    (
        "history-weights-shape",
        lambda d: _history(d, generative_weights_0=np.zeros((3, 5))),
        ["animate", "h.history.npz"],
        r"array 'generative_weights_0' has shape \(3, 5\)",
    ),
    (
        "history-weights-nan",
        lambda d: _history(d, generative_biases_0=np.full((3, 16), np.nan)),
        ["animate", "h.history.npz"],
        r"array 'generative_biases_0' holds non-finite values",
    ),
    (
        "animate-frames-0",
        lambda d: _history(d),
        ["animate", "h.history.npz", "--frames", "0"],
        r"--frames: must be at least 1 \(got 0\)",
    ),
    (
        "animate-fps-negative",
        lambda d: _history(d),
        ["animate", "h.history.npz", "--fps", "-2"],
        r"--fps: must be at least 1 \(got -2\)",
    ),
]

#: cache: the build cache's folder
CACHE = [
    (
        "cache-info-on-a-file",
        lambda d: _text(d, "afile", "x"),
        ["cache", "info"],
        r"HM_NEURO_CACHE_DIR: is not a folder \(got 'afile'\)",
        ENV_FILE_CACHE,
    ),
    (
        "cache-clear-on-a-file",
        lambda d: _text(d, "afile", "x"),
        ["cache", "clear"],
        r"HM_NEURO_CACHE_DIR: is not a folder \(got 'afile'\)",
        ENV_FILE_CACHE,
    ),
    (
        "cache-clear-unwritable",
        None,
        ["cache", "clear"],
        r"HM_NEURO_CACHE_DIR: cannot be written here",
        {"HM_NEURO_CACHE_DIR": "/dev/null/cache"},
    ),
]

#: check: its devices and the cache
CHECK = [
    (
        "check-with-cache-unwritable",
        None,
        ["check", "--quick"],
        r"HM_NEURO_CACHE_DIR: cannot be written here",
        {"HM_NEURO_CACHE_DIR": "/dev/null/cache"},
    ),
    ("devices-commas", None, ["check", "--devices", ", ,"], r"--devices: names no device"),
]

#: export: NWB output, model and history files, engine options
EXPORT = [
    (
        "missing-model",
        None,
        ["export", "--model", "none.npz", "--nwb", "x.nwb"],
        r"model file none\.npz: does not exist",
    ),
    ("nwb-suffix", _model, ["export", "--model", "m.npz", "--nwb", "m.npz"], r"--nwb: must name a \.nwb file"),
    (
        "examples-0",
        _model,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--examples", "0"],
        r"--examples: must be >= 1",
    ),
    (
        "history-missing",
        _model,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--history", "none.npz"],
        r"none\.npz",
    ),
    (
        "history-is-a-model",
        _model,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--history", "m.npz"],
        r"history file m\.npz: not an hm_neuro weight history",
    ),
    (
        "window-on-numpy",
        _model,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--engine", "numpy", "--window", "2"],
        r"--window: applies to --engine spiking only",
    ),
    (
        "device-on-numpy",
        _model,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--engine", "numpy", "--device", "cpp_standalone"],
        r"--device: applies to the brian2 engine only",
    ),
]

TABLES = {
    "train": TRAIN,
    "evaluate": EVALUATE,
    "reproduce": REPRODUCE,
    "protocol": PROTOCOL,
    "sweep": SWEEP,
    "animate": ANIMATE,
    "cache": CACHE,
    "check": CHECK,
    "export": EXPORT,
}


def test_every_command_has_a_table():
    assert sorted(TABLES) == sorted(COMMANDS)


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=f"{command}-{case[0]}") for command, table in TABLES.items() for case in table]
)
def test_bad_input_one_line_exit_2_inputs_untouched(tmp_path, case):
    _, setup, args, pattern, *extra = case
    if setup is not None:
        setup(tmp_path)
    env = {**os.environ, **(extra[0] if extra else {})}
    before = snapshot(tmp_path)
    r = run_cli(*args, cwd=tmp_path, env=env)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(lines) == 1, r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(tmp_path) == before  # inputs byte-identical, nothing new
    assert not (tmp_path.parent / "x").exists()


def test_evaluate_json_is_valid_for_an_undefined_measure(tmp_path):
    """A model whose measures are undefined still prints valid JSON (null, not NaN)."""
    _model(tmp_path, generative_biases_0=np.full(16, 700.0))
    r = run_cli("evaluate", "--model", "m.npz", "--json", "--samples", "5", cwd=tmp_path)
    out = json.loads(r.stdout) if r.returncode == 0 else None
    if r.returncode == 0:
        assert all(v is None or not isinstance(v, float) or np.isfinite(v) for v in out.values())
    else:
        assert r.returncode == 2 and "Traceback" not in r.stderr
