"""The CLI as a hostile user meets it.

Every case runs the installed command line in a subprocess inside a folder
that holds its input files, and checks the whole promise: exit status 2, one
line on stderr naming the option or file and the value, no traceback, every
input byte-identical afterwards and no new file left behind.  The classes are
the ones of issue 13 (outputs over inputs, outputs checked late, data names,
sizes and numbers, model files, text files, divergence, small things).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from conftest import backends, cli_args, needs_compiler


def run(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "hm_neuro.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


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


# (id, setup, args, stderr pattern); setup writes the inputs into the folder
CASES = [
    # 1. option values and names
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
    ("missing-model", None, ["evaluate", "--model", "none.npz"], r"model file none\.npz: does not exist"),
    ("unknown-experiment", None, ["reproduce", "nope"], r"reproduce: unknown experiment; choose one of \[.*'bars'"),
    (
        "restarts-digits",
        None,
        ["reproduce", "digits", "--restarts", "2"],
        r"--restarts: does not apply to the digits experiment",
    ),
    ("unknown-reading", None, ["reproduce", "bars", "--reading", "all"], r"--reading: must be one of \['connections'"),
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
    ("seeds-0", None, ["reproduce", "bars", "--seeds", "0"], r"--seeds: must be in 1..10000 \(got 0\)"),
    # 3. outputs that would destroy inputs
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
        "protocol-out-is-init",
        lambda d: _model(d),
        ["protocol", "lesion_imagery", "--init", "m.npz", "--out", "m.npz"],
        r"output: would overwrite the input m\.npz",
    ),
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
    # 4. output locations checked before any work
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
        "protocol-figure-is-a-folder",
        lambda d: (_model(d), os.mkdir(d / "o.png")),
        ["protocol", "lesion_imagery", "--init", "m.npz", "--out", "o.npz"],
        r"output: is a directory.*o\.png",
    ),
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
    # 5. data names parsed exactly
    (
        "data-digits-prefix-missing",
        None,
        ["train", "--data", "digits_missing.csv", "--out", "m.npz"],
        r"data file digits_missing\.csv: does not exist",
    ),
    ("data-digits-bad-class", None, ["train", "--data", "digits:x", "--out", "m.npz"], r"--data: .*digits:x"),
    ("data-unknown-word", None, ["train", "--data", "stripes", "--out", "m.npz"], r"stripes"),
    # 6. sizes and numbers
    ("examples-inf", None, ["train", "--examples", "inf", "--out", "m.npz"], r"--examples: .*inf"),
    ("examples-1e400", None, ["train", "--examples", "1e400", "--out", "m.npz"], r"--examples: .*1e400"),
    (
        "schedule-1e400",
        None,
        ["train", "--examples", "100", "--schedule", "wake:1e400", "--out", "m.npz"],
        r"schedule.*1e400",
    ),
    ("seed-negative", None, ["train", "--seed", "-1", "--out", "m.npz"], r"--seed: .*-1"),
    ("samples-1e9", lambda d: _model(d), ["evaluate", "--model", "m.npz", "--samples", "1e9"], r"--samples"),
    ("sweep-seeds-1e9", None, ["sweep", "--seeds", "1000000000", "--engine", "numpy"], r"--seeds"),
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
    # 7. model files
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
    # 8. text files
    (
        "circuit-invalid-utf8",
        lambda d: _bytes(d, "c.toml", b'name = "\xff\xfe"\nlayers = [16, 8, 1]\n'),
        ["train", "--circuit", "c.toml", "--out", "m.npz"],
        r"c\.toml",
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
    # 9. divergence
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
    # 10. small things
    (
        "device-with-numpy-engine",
        None,
        ["train", "--engine", "numpy", "--device", "cython", "--out", "m.npz"],
        r"--device: .*numpy",
    ),
    ("sweep-workers-0", None, ["sweep", "--workers", "0", "--engine", "numpy"], r"--workers: .*0"),
    (
        "complex-data",
        lambda d: np.save(d / "c.npy", np.ones((5, 16), dtype=complex)),
        ["train", "--data", "c.npy", "--out", "m.npz"],
        r"data file c\.npy: holds complex numbers",
    ),
]


@pytest.mark.parametrize("setup, args, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2_inputs_untouched(tmp_path, setup, args, pattern):
    if setup:
        setup(tmp_path)
    before = snapshot(tmp_path)
    r = run(*args, cwd=tmp_path)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(lines) == 1, r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(tmp_path) == before
    assert not (tmp_path.parent / "x").exists()


def test_evaluate_json_is_valid_for_an_undefined_measure(tmp_path):
    """A model whose measures are undefined still prints valid JSON (null, not NaN)."""
    _model(tmp_path, generative_biases_0=np.full(16, 700.0))
    r = run("evaluate", "--model", "m.npz", "--json", "--samples", "5", cwd=tmp_path)
    out = json.loads(r.stdout) if r.returncode == 0 else None
    if r.returncode == 0:
        assert all(v is None or not isinstance(v, float) or np.isfinite(v) for v in out.values())
    else:
        assert r.returncode == 2 and "Traceback" not in r.stderr


# ------------------------------------------------------------------ interrupts


def _arrays(path):
    z = np.load(path)
    return {k: z[k] for k in z.files if "weights" in k or "biases" in k}


#: every binary engine (conftest.backends, from the registry) as ``hm-neuro train`` arguments
ENGINES = [
    pytest.param(cli_args(o.values[0]), id=o.id, marks=o.marks)
    for o in backends(compiled=True, cython=True, without="spiking")
]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("engine", ENGINES)
def test_ctrl_c_checkpoints_then_resume_is_bit_identical(tmp_path, engine, sig):
    """A real SIGINT (Ctrl-C) or SIGTERM (kill, batch schedulers) to a running
    training: exit 130 / 143 with one line, a checkpoint that resumes to
    exactly the uninterrupted result, no build folder left behind; a resume
    with changed options is refused and leaves the checkpoint as it was."""
    cpp = "cpp_standalone" in engine
    examples, chunk = (400_000, 20_000) if cpp else (4_000, 500) if "brian2" in engine else (10_000, 500)
    base = ["train", "--data", "bars", "--examples", str(examples), "--chunk", str(chunk), "--seed", "5", "-q", *engine]
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    ref = tmp_path / "ref.npz"
    r = run(*base, "--out", str(ref), env=env)
    assert r.returncode == 0, r.stderr
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.checkpoint.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hm_neuro.cli", *base, "--checkpoint-every", str(chunk), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + sig, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and re.search(r"interrupted after \d+ examples; checkpoint saved", lines[0]), err
    assert not out.exists() and ckpt.exists()
    assert os.listdir(tmp_path / "tmp") == []  # no build or debug folder left
    saved = ckpt.read_bytes()

    for changed in (["--p-vertical", "0.5"], ["--p-vertical", str(2 / 3 + 1e-9)], ["--seed", "6"]):
        r = run(*base, *changed, "--checkpoint-every", str(chunk), "--resume", "--out", str(out), env=env)
        assert r.returncode == 2 and "different" in r.stderr, r.stderr
    r = run(*base, "--checkpoint-every", str(chunk), "--out", str(out), env=env)
    assert r.returncode == 2 and "--resume" in r.stderr, r.stderr  # a plain re-run keeps the progress
    assert ckpt.read_bytes() == saved

    r = run(*base, "--checkpoint-every", str(chunk), "--resume", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    a, b = _arrays(ref), _arrays(out)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert not ckpt.exists()


def test_ctrl_c_without_checkpointing_writes_nothing(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hm_neuro.cli",
            "train",
            "--engine",
            "numpy",
            "--examples",
            "1e6",
            "--chunk",
            "500",
            "--out",
            "m.npz",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    os.read(proc.stderr.fileno(), 1)  # blocks until the progress bar starts: training is under way
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; nothing written" in err.decode().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


@needs_compiler
@pytest.mark.standalone
def test_a_cpp_checkpoint_resumed_where_there_is_no_compiler_is_refused_by_name(tmp_path):
    """The checkpoint records the device actually used (cpp_standalone, the
    default here); on a machine without a compiler the default is Brian2's
    numpy target, so resuming there would mix two devices' runs: refused."""
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.checkpoint.npz"
    args = ["train", "--examples", "400000", "--chunk", "20000", "--checkpoint-every", "20000", "-q", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "hm_neuro.cli", *args], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and ckpt.exists(), err
    saved = ckpt.read_bytes()
    bare = tmp_path / "bin"  # a PATH with python and no C++ compiler
    bare.mkdir()
    os.symlink(sys.executable, bare / "python")
    env = dict(os.environ, PATH=str(bare), CXX=str(tmp_path / "no-compiler"))
    r = run(*args, "--resume", env=env)
    assert r.returncode == 2, r.stderr
    assert re.search(
        r"hm-neuro train: error: checkpoint .*m\.checkpoint\.npz: was made with a different device "
        r"\('cpp_standalone'; this run: 'numpy'\); resume with the same options",
        r.stderr.splitlines()[-1],
    )
    assert ckpt.read_bytes() == saved and not out.exists()


def test_ctrl_c_of_a_sweep_on_an_embedded_dask_cluster_is_one_line_and_leaves_nothing(tmp_path):
    """Ctrl-C at a terminal reaches the whole process group: the workers ignore
    it, the command answers with one line, exit 130, and no Dask scratch
    folder is left in the temp folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    args = [
        "sweep",
        "--engine",
        "numpy",
        "--examples",
        "1e6",
        "--seeds",
        "4",
        "--workers",
        "2",
        "-q",
        "--out",
        str(tmp_path / "res"),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hm_neuro.cli", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    first = proc.stderr.readline()  # the announcement: the cluster is up and the sweep is starting
    assert first.startswith("sweep sweep: 4 trainings"), first
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert lines == ["hm-neuro sweep: interrupted; nothing written"], err
    assert not (tmp_path / "res").exists()
    assert os.listdir(tmp) == []
