"""A command's outputs are one transaction: a write that fails (here a
file-size limit, as ``ulimit -f`` sets; a full disk takes the same path)
is one line naming the file and the reason, exit 2, and leaves no output
new and every existing file as it was."""

import re
import resource

import pytest
from helpers import run_cli

from hm_neuro.errors import HMError
from hm_neuro.files.model_io import atomic_path, save_json, transaction


def run_limited(args, cwd, limit_bytes):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return run_cli(*args, cwd=cwd, preexec_fn=limit)


def files(folder):
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


TRAIN = ["train", "--engine", "numpy", "--examples", "2000", "-q"]


@pytest.mark.parametrize(
    "extra, limit, failing",
    [
        ([], 4096, "m.npz"),  # the model file itself (~6.7 kB)
        (["--record-every", "100"], 8192, "m.history.npz"),  # the model fits, its history (~41 kB) does not
        (["--checkpoint-every", "500", "--chunk", "500"], 4096, "m.checkpoint.npz"),
    ],
    ids=["model", "history", "checkpoint"],
)
def test_a_write_over_the_file_size_limit_is_one_line_and_leaves_nothing(tmp_path, extra, limit, failing):
    (tmp_path / "keep.npz").write_bytes(b"an earlier model")
    before = files(tmp_path)
    r = run_limited([*TRAIN, *extra, "--out", "m.npz"], tmp_path, limit)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(rf"could not be written \(File too large\) \(got '{failing}'\)", lines[0])
    assert files(tmp_path) == before  # no model, history, checkpoint or temporary file


def test_a_failed_write_leaves_an_existing_model_intact(tmp_path):
    r = run_limited([*TRAIN, "--out", "m.npz"], tmp_path, 1 << 20)
    assert r.returncode == 0, r.stderr
    before = files(tmp_path)
    r = run_limited([*TRAIN, "--seed", "3", "--record-every", "100", "--out", "m.npz"], tmp_path, 8192)
    assert r.returncode == 2 and "m.history.npz" in r.stderr
    assert files(tmp_path) == before


def test_reproduce_leaves_no_result_set_without_its_figures(tmp_path):
    """``reproduce bars`` writes its JSON, model, history and figures as one
    set: a limit that stops the figures leaves none of them (before: a JSON
    and a model that looked finished)."""
    args = ["reproduce", "bars", "--quick", "--engine", "numpy", "--seeds", "1", "--restarts", "1"]
    r = run_limited([*args, "--workers", "1", "--out", "res"], tmp_path, 48 * 1024)
    assert r.returncode == 2, r.stderr
    assert re.search(
        r"could not be written \(File too large\) \(got '.*\.(png|npz)'\)", r.stderr.strip().splitlines()[-1]
    )
    assert not (tmp_path / "res").exists() or files(tmp_path / "res") == {}


def test_a_transaction_commits_all_or_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="late failure"):
        with transaction():
            save_json(tmp_path / "a.json", {"a": 1})
            assert not (tmp_path / "a.json").exists()  # not before the transaction ends
            raise RuntimeError("late failure")
    assert list(tmp_path.iterdir()) == []
    with transaction():
        save_json(tmp_path / "a.json", {"a": 1})
        with transaction():  # a nested result set commits at its own end
            save_json(tmp_path / "b.json", {"b": 2})
        assert (tmp_path / "b.json").exists() and not (tmp_path / "a.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_a_write_that_fails_names_the_file(tmp_path):
    with pytest.raises(HMError, match=r"output: could not be written \(No space left on device\) \(got '.*x.npz'\)"):
        with atomic_path(tmp_path / "x.npz"):
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []
