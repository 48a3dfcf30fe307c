"""The command line as a user meets it: subprocesses, exit codes, files."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import backends, cli_args
from helpers import run_cli, run_cli_here

from hm_neuro.cli import main


def test_train_numpy_then_evaluate_json_prints_exact_kl(tmp_path):
    model = tmp_path / "bars.npz"
    r = run_cli("train", "--engine", "numpy", "--examples", "3000", "--seed", "1", "--out", str(model), "-q")
    assert r.returncode == 0, r.stderr
    assert model.exists()
    r = run_cli("evaluate", "--model", str(model), "--json", "--samples", "20")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["examples_seen"] == 3000
    for key in ("kl_data_model_bits", "kl_q_p_bits", "free_energy_bits", "sampled_free_energy_bits"):
        assert np.isfinite(out[key])
    assert out["kl_data_model_bits"] > 0
    assert out["free_energy_bits"] >= out["neg_log2_prob_bits"]


def test_train_records_a_weight_history(tmp_path):
    model = tmp_path / "m.npz"
    assert (
        main(["train", "--engine", "numpy", "--examples", "1000", "--record-every", "250", "--out", str(model), "-q"])
        == 0
    )
    z = np.load(tmp_path / "m.history.npz")
    assert z["examples_seen"].tolist() == [0, 250, 500, 750, 1000]
    assert z["generative_weights_0"].shape == (5, 128)
    assert np.all(z["generative_weights_0"][0] == 0) and np.any(z["generative_weights_0"][-1] != 0)


def test_user_data_file_and_schedule(tmp_path, rng):
    data = tmp_path / "d.csv"
    np.savetxt(data, (rng.random((30, 64)) < 0.3).astype(int), fmt="%d", delimiter=",")
    model = tmp_path / "m.npz"
    assert (
        main(
            [
                "train",
                "--circuit",
                "nines",
                "--data",
                str(data),
                "--engine",
                "numpy",
                "--examples",
                "300",
                "--schedule",
                "wake-sleep:200,wake:50,frozen:50",
                "--out",
                str(model),
                "-q",
            ]
        )
        == 0
    )
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--samples", "5"]) == 0
    # without --examples the schedule's total is the number of examples: the same machine
    again = tmp_path / "again.npz"
    args = ["train", "--circuit", "nines", "--data", str(data), "--engine", "numpy", "-q"]
    assert main([*args, "--schedule", "wake-sleep:200,wake:50,frozen:50", "--out", str(again)]) == 0
    a, b = np.load(model), np.load(again)
    assert int(b["examples_seen"]) == 300
    assert all(np.array_equal(a[k], b[k]) for k in a.files if k.startswith(("generative", "recognition")))


def test_help_explains_every_subcommand():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("train", "evaluate", "reproduce"):
        assert cmd in r.stdout
    r = run_cli("train", "--help")
    assert "--record-every" in r.stdout and "examples:" in r.stdout


def _read_model(path):
    z = np.load(path)
    return {k: z[k] for k in z.files if "weights" in k or "biases" in k}


@pytest.mark.parametrize(
    "engine", [pytest.param(cli_args(o.values[0]), id=o.id) for o in backends(without="spiking")]
)  # every binary engine on its NumPy device (compiled: test_hostile's Ctrl-C, test_interrupts)
def test_sigkill_then_resume_is_bit_identical(tmp_path, engine, monkeypatch, capsys):
    """Really kill a training process mid-run, resume it, compare with a run
    never interrupted: the model and every array of the weight history.  The
    run never interrupted and the resume in this process (``main()``), the
    killed run a process of its own."""
    import signal
    import time

    examples = 3000 if "brian2" in engine else 12000  # Brian2's numpy device: ~1.7 ms an example
    base = [
        "train",
        "--circuit",
        "bars",
        "--data",
        "bars",
        "--examples",
        str(examples),
        "--chunk",
        "500",
        "--seed",
        "3",
        "--record-every",
        "1000",
        "-q",
        *engine,
    ]
    here = dict(cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    ref = tmp_path / "ref.npz"
    assert run_cli_here(*base, "--out", str(ref), **here).returncode == 0
    out = tmp_path / "m.npz"
    ckpt = tmp_path / "m.checkpoint.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hm_neuro.cli", *base, "--checkpoint-every", "500", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "the run finished before it could be killed: make it longer"
    assert ckpt.exists()
    r = run_cli_here(*base, "--checkpoint-every", "500", "--resume", "--out", str(out), **here)
    assert r.returncode == 0, r.stderr
    a, b = _read_model(ref), _read_model(out)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    ha, hb = np.load(tmp_path / "ref.history.npz"), np.load(tmp_path / "m.history.npz")
    assert sorted(ha.files) == sorted(hb.files) and "recognition_weights_0" in ha.files
    for k in ha.files:
        np.testing.assert_array_equal(ha[k], hb[k], err_msg=k)
    assert not ckpt.exists()


def test_resume_with_other_options_is_refused(tmp_path):
    base = [
        "train",
        "--engine",
        "numpy",
        "--examples",
        "2000",
        "--chunk",
        "500",
        "-q",
        "--out",
        str(tmp_path / "m.npz"),
    ]
    from hm_neuro.model import Parameters, load_circuit
    from hm_neuro.training import BarsStream, save_checkpoint

    c = load_circuit("bars")
    save_checkpoint(
        tmp_path / "m.checkpoint.npz",
        {"seed": 99},
        c,
        Parameters.initial(c),
        500,
        1,
        np.random.default_rng(0).bit_generator.state,
        BarsStream().get_state(),
        [],
        {},
    )
    r = run_cli(*base, "--resume")
    assert r.returncode == 2
    assert re.search(r"checkpoint .*m\.checkpoint\.npz: was made with a different seed \(99; this run: '0'\)", r.stderr)
    r = run_cli(*base[:-1], str(tmp_path / "other.npz"), "--resume")
    assert r.returncode == 2 and "--resume: no checkpoint to resume from" in r.stderr


@pytest.mark.skipif(not __import__("shutil").which("g++"), reason="no C++ compiler")
def test_parallel_standalone_trainings_with_a_cold_cache_equal_a_serial_one(tmp_path):
    """Two compiled trainings of one shape at once, with other seeds, on an
    empty build cache: both succeed (one builds, the other waits for the
    lock and re-uses the build), each agrees bit for bit with its own run
    made afterwards alone, no run writes into the shared cache entry
    (each reads its results from its private run folder), and the later
    processes compile nothing: the shape records a weight history, so the
    circuit has several clocks, whose order in the generated code once
    followed memory addresses and changed from process to process."""
    import os

    env = dict(os.environ, HM_NEURO_CACHE_DIR=str(tmp_path / "cache"))
    args = [
        "train",
        "--engine",
        "brian2",
        "--device",
        "cpp_standalone",
        "--examples",
        "40000",
        "--chunk",
        "2000",
        "--record-every",
        "10000",
        "-q",
    ]

    def cli(seed, out):
        return [sys.executable, "-m", "hm_neuro.cli", *args, "--seed", str(seed), "--out", str(tmp_path / out)]

    procs = [
        subprocess.Popen(cli(seed, f"{seed}.npz"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for seed in (4, 5)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    entries = [p for p in (tmp_path / "cache" / "builds").iterdir() if p.is_dir()]

    def compiled():
        return {f.name: f.stat().st_mtime_ns for f in entries[0].iterdir() if f.suffix in (".o", ".cpp", "")}

    built = compiled()
    assert "main" in built and "main.o" in built
    for seed in (4, 5):
        r = subprocess.run(cli(seed, f"serial{seed}.npz"), capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        serial, got = _read_model(tmp_path / f"serial{seed}.npz"), _read_model(tmp_path / f"{seed}.npz")
        for key in serial:
            np.testing.assert_array_equal(got[key], serial[key], err_msg=f"seed {seed}: {key}")
    assert len(entries) == 1  # one shape, one build, used by all four runs
    assert compiled() == built  # the serial runs' processes rewrote and recompiled nothing
    assert not list((entries[0] / "results").glob("*"))  # the build's own results folder stays empty


def test_animate_writes_a_gif_of_the_weight_history(tmp_path):
    from hm_neuro.cli import main

    m = tmp_path / "h.npz"
    assert (
        main(["train", "--engine", "numpy", "--examples", "2000", "--record-every", "500", "--out", str(m), "-q"]) == 0
    )
    hist = tmp_path / "h.history.npz"
    assert main(["animate", str(hist)]) == 0
    gif = tmp_path / "h.history.gif"
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    before = hist.read_bytes()
    assert main(["animate", str(hist), "--out", str(hist)]) == 2  # never over its input
    assert hist.read_bytes() == before


def _children(pid: int) -> dict:
    """{pid: (command name, state)} of the live processes whose parent is ``pid``."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == pid:
            out[int(stat.parent.name)] = (name, state)
    return out


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"  # a zombie has finished


@pytest.mark.skipif(
    not __import__("shutil").which("g++") or not sys.platform.startswith("linux"), reason="needs g++ and /proc"
)
def test_a_killed_training_leaves_no_compiled_binary_running(tmp_path):
    """SIGKILL the CLI while its compiled binary runs a long chunk: the binary
    dies with it (it ran on as an orphan, burning a core, before)."""
    import signal
    import time

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hm_neuro.cli",
            "train",
            "--engine",
            "brian2",
            "--device",
            "cpp_standalone",
            "--examples",
            "4e6",
            "--chunk",
            "2e6",
            "-q",
            "--out",
            str(tmp_path / "m.npz"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    binary, deadline = None, time.time() + 600
    while binary is None and proc.poll() is None and time.time() < deadline:
        binary = next((pid for pid, (name, _) in _children(proc.pid).items() if name == "main"), None)
        time.sleep(0.05)
    assert binary is not None, "the binary never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 2  # a chunk of 2e6 examples runs for several seconds more
    while _alive(binary) and time.time() < deadline:
        time.sleep(0.1)
    alive = _alive(binary)
    if alive:
        os.kill(binary, signal.SIGKILL)
    assert not alive, "the compiled binary outlived the process that started it"
    assert not (tmp_path / "m.npz").exists()
