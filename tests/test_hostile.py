"""Signals as a hostile user sends them to the command line: Ctrl-C and
SIGTERM during a training (a checkpoint that resumes bit-identically, a
resume with changed options refused), without checkpointing (nothing
written), on a sweep's Dask cluster; a compiled checkpoint resumed where
there is no compiler.  Bad input to every command: ``test_bad_inputs.py``."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import backends, cli_args, needs_compiler
from helpers import run_cli, run_cli_here

# ------------------------------------------------------------------ interrupts


def _arrays(path):
    z = np.load(path)
    return {k: z[k] for k in z.files if "weights" in k or "biases" in k}


#: every binary engine (conftest.backends, from the registry) as ``hm-neuro train`` arguments
ENGINES = [
    pytest.param(cli_args(o.values[0]), id=o.id, marks=o.marks)
    for o in backends(compiled=True, cython=True, without="spiking")
]


#: the uninterrupted runs, per command line: both signals on an engine are held to one
_UNINTERRUPTED = {}


def _uninterrupted(base, tmp_path, here):
    """The arrays of ``base`` run to the end without a signal (in this
    process: the interrupted run and the resume are the subprocesses)."""
    if tuple(base) not in _UNINTERRUPTED:
        ref = tmp_path / "ref.npz"
        r = run_cli_here(*base, "--out", str(ref), **here)
        assert r.returncode == 0, r.stderr
        _UNINTERRUPTED[tuple(base)] = _arrays(ref)
    return _UNINTERRUPTED[tuple(base)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("engine", ENGINES)
def test_ctrl_c_checkpoints_then_resume_is_bit_identical(tmp_path, engine, sig, monkeypatch, capsys):
    """A real SIGINT (Ctrl-C) or SIGTERM (kill, batch schedulers) to a running
    training: exit 130 / 143 with one line, a checkpoint that resumes to
    exactly the uninterrupted result, no build folder left behind; a resume
    with changed options is refused and leaves the checkpoint as it was."""
    cpp = "cpp_standalone" in engine
    examples, chunk = (400_000, 20_000) if cpp else (2_000, 250) if "brian2" in engine else (10_000, 500)
    base = ["train", "--data", "bars", "--examples", str(examples), "--chunk", str(chunk), "--seed", "5", "-q", *engine]
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    here = dict(cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    reference = _uninterrupted(base, tmp_path, here)
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

    # the refusals in this process (they refuse before any engine is built)
    for changed in (["--p-vertical", "0.5"], ["--p-vertical", str(2 / 3 + 1e-9)], ["--seed", "6"]):
        r = run_cli_here(*base, *changed, "--checkpoint-every", str(chunk), "--resume", "--out", str(out), **here)
        assert r.returncode == 2 and "different" in r.stderr, r.stderr
    r = run_cli_here(*base, "--checkpoint-every", str(chunk), "--out", str(out), **here)
    assert r.returncode == 2 and "--resume" in r.stderr, r.stderr  # a plain re-run keeps the progress
    assert ckpt.read_bytes() == saved

    # the resume in this process too (a process of its own each cost ~2 s of imports and code generation)
    r = run_cli_here(*base, "--checkpoint-every", str(chunk), "--resume", "--out", str(out), **here)
    assert r.returncode == 0, r.stderr
    resumed = _arrays(out)
    assert reference.keys() == resumed.keys()
    for k in reference:
        np.testing.assert_array_equal(reference[k], resumed[k], err_msg=k)
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
    r = run_cli(*args, "--resume", env=env)
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
