"""The package as installed from its own files, used from a folder that is
not the source tree: nothing may depend on the checkout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip install --no-deps --target`` (not editable) of this checkout; the
    dependencies come from the running environment."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(ROOT)],
        capture_output=True,
        text=True,
        cwd=build,
        timeout=600,
    )
    if r.returncode != 0:
        pytest.fail(f"pip install failed: {r.stderr[-2000:]}")
    env = dict(os.environ, PYTHONPATH=str(target))
    return target, env


def _run(installed, cwd, *args):
    target, env = installed
    return subprocess.run(
        [str(target / "bin" / "hm-neuro"), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def test_the_installed_package_is_the_one_imported(installed, tmp_path):
    target, env = installed
    r = subprocess.run(
        [sys.executable, "-c", "import hm_neuro, hm_neuro.experiments; print(hm_neuro.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(target)


def test_installed_commands_run_from_an_empty_folder(installed, tmp_path):
    r = _run(
        installed,
        tmp_path,
        "train",
        "--circuit",
        "bars",
        "--engine",
        "numpy",
        "--examples",
        "2000",
        "-q",
        "--out",
        "m.npz",
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.npz").is_file()
    r = _run(
        installed,
        tmp_path,
        "protocol",
        "lesion_imagery",
        "--engine",
        "numpy",
        "--init",
        "m.npz",
        "-q",
        "--out",
        "p.npz",
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p.npz").is_file() and (tmp_path / "p.png").is_file()
    r = _run(installed, tmp_path, "reproduce", "nines", "--quick", "--engine", "numpy", "--out", "X")
    assert r.returncode == 0, r.stderr
    assert any((tmp_path / "X").glob("*.png"))
