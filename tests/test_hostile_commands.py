"""The newer commands and options as a hostile user meets them (issue 22):
history files and the animation, the build cache, results read back by
``reproduce rules``, reweighted sizes, seeds, errors named after their
source, announcements after validation, empty values, unreadable files.
Every case: exit status 2, one stderr line matched, inputs byte-identical,
no new file."""

import json
import os

import numpy as np
import pytest
from test_hostile import _altered, _bytes, _model, _text, run, snapshot


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


ENV_FILE_CACHE = {"HM_NEURO_CACHE_DIR": "afile"}

CASES = [
    # 1. history files and the animation options
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
    # 2. the build cache, checked before any work
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
    (
        "train-with-cache-on-a-file",
        lambda d: _text(d, "afile", "x"),
        ["train", "--device", "cpp_standalone", "--examples", "100", "--out", "m.npz"],
        r"HM_NEURO_CACHE_DIR: is not a folder \(got 'afile'\)",
        ENV_FILE_CACHE,
    ),
    (
        "check-with-cache-unwritable",
        None,
        ["check", "--quick"],
        r"HM_NEURO_CACHE_DIR: cannot be written here",
        {"HM_NEURO_CACHE_DIR": "/dev/null/cache"},
    ),
    # 3. results read back by reproduce rules
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
    # 4. reweighted sizes bounded by memory
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
    # 6. seeds
    (
        "seed-with-seeds",
        None,
        ["train", "--seed", "5", "--seeds", "0:2", "--out", "m.npz"],
        r"--seed: trains one machine; --seeds 0:2 trains a population",
    ),
    # 7. errors named after their source
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
    # 8. announcements only after validation
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
    # 9. empty values are errors
    (
        "schedule-empty",
        None,
        ["train", "--schedule", "", "--out", "m.npz"],
        r"--schedule: must not be empty \(got ''\)",
    ),
    (
        "settings-commas",
        None,
        ["reproduce", "spiking", "--quick", "--settings", ","],
        r"--settings: names no setting \(got ','\)",
    ),
    ("devices-commas", None, ["check", "--devices", ", ,"], r"--devices: names no device"),
    ("circuit-empty", None, ["train", "--circuit", " ", "--out", "m.npz"], r"--circuit: must not be empty"),
    # 10. messages of unreadable files
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
    (
        "model-training-not-json",
        lambda d: _model(d, training=np.array("{x")),
        ["evaluate", "--model", "m.npz"],
        r"model file m\.npz: 'training' is not JSON",
    ),
]


def _npy_with_header(shape: bytes) -> bytes:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + b", }"
    header += b" " * (117 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 640


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2_inputs_untouched(tmp_path, case):
    _, setup, args, pattern, *extra = case
    if setup is not None:
        setup(tmp_path)
    env = {**os.environ, **(extra[0] if extra else {})}
    before = snapshot(tmp_path)
    r = run(*args, cwd=tmp_path, env=env)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(lines) == 1, r.stderr
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(tmp_path) == before  # inputs byte-identical, nothing new
