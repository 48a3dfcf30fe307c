"""What ``train`` refuses, every other entry point refuses too, by name and
before any work (issue 32's cases: ``reproduce``, sweep files, the
estimator, resumes, empty names)."""

import re

import numpy as np
import pytest
from conftest import make_circuit

import hm_neuro as hm
from hm_neuro.cli import main
from hm_neuro.errors import HMError
from hm_neuro.training import BarsStream, Checkpointing, train


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["precision", "--quick", "--engine", "numpy", "--rule", "reweighted:2"],
            r"--rule: reweighted:2 runs on the vectorised and brian2 engines; the numpy engine",
        ),
        (["bars", "--quick", "--engine", "spiking", "--rule", "reweighted:2"], r"--rule: reweighted:2 runs on"),
        (["precision", "--quick", "--engine", "vectorised", "--device", "cython"], r"--device: applies to the brian2"),
    ],
)
def test_reproduce_refuses_what_train_refuses_before_any_work(tmp_path, capsys, args, message):
    assert main(["reproduce", *args, "--workers", "1", "--out", str(tmp_path / "out")]) == 2
    assert re.search(message, one_error_line(capsys))
    assert not any((tmp_path / "out").rglob("*"))


def test_reproduce_precision_names_its_results_by_engine_and_keeps_its_seeds(tmp_path, capsys):
    """``--seeds 3 --quick`` runs 3 seeds (before: cut to 2, unsaid), and a
    spiking run's results do not land on the vectorised run's file."""
    from hm_neuro.experiments import precision

    assert precision.result_name(hm.Rule.parse("wake-sleep"), "vectorised", True) == "precision_quick"
    assert precision.result_name(hm.Rule.parse("wake-sleep"), "spiking", True) == "precision_spiking_quick"
    assert precision.result_name(hm.Rule.parse("reweighted:5"), "brian2", False) == "precision_reweighted5"
    assert main(["reproduce", "precision", "--quick", "--seeds", "3", "--workers", "1", "--out", str(tmp_path)]) == 0
    import json

    summary = json.loads((tmp_path / "precision_quick.json").read_text())
    assert summary["seeds"] == 3 and all(r["seeds"] == 3 for r in summary["rows"])


def test_a_run_in_which_every_training_fails_writes_nothing(tmp_path, monkeypatch):
    from hm_neuro.experiments import precision

    def all_failed(tasks, **kwargs):
        return [{"row": {**t.row(), "status": "failed", "error": "diverged"}, "model": None} for t in tasks]

    monkeypatch.setattr(precision, "run_tasks", all_failed)
    with pytest.raises(HMError, match=r"precision: every training failed; first error: diverged"):
        precision.main(quick=True, out=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text, message",
    [
        ('circuit = "nope"\n', r"sweep file .*s\.toml: circuit: no such circuit;.*\(got 'nope'\)"),
        ("seeds = -1\n", r"sweep file .*s\.toml: seeds: a count must be in 1\.\.\d+ \(got -1\)"),
    ],
)
def test_a_sweep_files_bad_values_name_the_file_not_an_option(tmp_path, capsys, text, message):
    (tmp_path / "s.toml").write_text(text)
    assert main(["sweep", str(tmp_path / "s.toml"), "--workers", "1", "--out", str(tmp_path / "o")]) == 2
    assert re.search(message, one_error_line(capsys))


def test_the_estimator_refuses_an_engine_it_cannot_use_and_reads_an_int_as_one_layer():
    X = (np.random.default_rng(0).random((20, 6)) < 0.5).astype(float)
    with pytest.raises(HMError, match=r"device: applies to the brian2 engine only .*\(got 'cpp_standalone'\)"):
        hm.HelmholtzMachine(engine=hm.EngineOptions("numpy", device="cpp_standalone")).fit(X)
    with pytest.raises(HMError, match=r"engine: .*\(got 'brian3'\)"):
        hm.HelmholtzMachine(engine="brian3").fit(X)
    with pytest.raises(HMError, match=r"rule: reweighted:3 runs on .*; the spiking engine implements"):
        hm.HelmholtzMachine(engine=hm.EngineOptions("spiking"), rule="reweighted:3").fit(X)
    with pytest.raises(HMError, match=r"hidden_layers: must be a layer size or a non-empty tuple .*\(got 'ab'\)"):
        hm.HelmholtzMachine(hidden_layers="ab").fit(X)
    assert hm.HelmholtzMachine(hidden_layers=3).fit(X).circuit_.layers == (6, 3)


def test_an_empty_circuit_name_is_refused_as_empty():
    with pytest.raises(HMError, match=r"circuit: must not be empty"):
        hm.load_circuit("")


def test_a_resume_with_another_precision_names_what_differs(tmp_path):
    """Before: "a different circuit", both circuits cut at 40 characters and identical as shown."""
    c = make_circuit([4, 3, 1])
    ckpt = tmp_path / "c.npz"

    class Stop(BarsStream):
        calls = 0

        def take(self, n, rng):
            Stop.calls += 1
            if Stop.calls == 2:
                raise KeyboardInterrupt
            return super().take(n, rng)

    with pytest.raises(KeyboardInterrupt, match="checkpoint saved"):
        train(c, Stop(size=2), 300, seed=4, engine="numpy", chunk=100, checkpoint=Checkpointing(ckpt), progress=False)
    other = c.replace(precision="loihi")
    with pytest.raises(HMError, match=r"different circuit\.precision \('float64'|different circuit\.precision \("):
        train(
            other,
            BarsStream(size=2),
            300,
            seed=4,
            engine="numpy",
            chunk=100,
            checkpoint=Checkpointing(ckpt, resume=True),
            progress=False,
        )
