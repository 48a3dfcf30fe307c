"""hm-neuro check: the equivalence suite from an installed package."""

import subprocess
import sys

import pytest
from conftest import needs_compiler

from hm_neuro import check
from hm_neuro.engines.brian2 import population


def test_check_prints_its_table_and_passes_on_the_numpy_target(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "hm_neuro.cli", "check", "--quick", "--devices", "numpy"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["check", "device", "max", "difference", "result", "seconds"]
    assert "exact 16-8-1 (summed)" in r.stdout and "expectation sleep (eq. 7)" in r.stdout
    assert "exact 16-8-1 declared decay (summed)" in r.stdout  # a declared plasticity rule
    assert lines[-1] == "4 of 4 checks passed"
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran


@needs_compiler
@pytest.mark.standalone
def test_check_passes_on_cpp_standalone():
    out = []
    assert check.run_checks(devices=["cpp_standalone"], quick=True, out=out.append), "\n".join(out)


def test_a_broken_delta_rule_fails_the_check(monkeypatch):
    """Weight updates 0.1 % too large, one bug alone (the clip of weights kept
    >= 0 kept): both exact checks fail, the papers' rule and the declared one
    (the expectation check, at 4.5 standard errors of 20,000 updates, cannot
    see 0.1 %; it catches a wrong rule, tests/test_equivalence.py)."""

    def too_large(dw, nonnegative, *grid):
        return f"w = clip(w + 1.001 * ({dw}), 0, inf)" if nonnegative else f"w += 1.001 * ({dw})"

    monkeypatch.setattr(population, "delta_rule", too_large)
    out = []
    assert not check.run_checks(devices=["numpy"], quick=True, out=out.append)
    assert "FAIL" in out[1] and "FAIL" in out[2] and out[-1].endswith("FAILED: 2")
    assert "pass" in out[3] and "pass" in out[4]  # the expectation checks


def test_bad_devices_are_refused_in_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "hm_neuro.cli", "check", "--devices", "numpy,gpu"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "hm-neuro check: error: --devices: each must be one of ['numpy', 'cython', 'cpp_standalone'] (got 'gpu')"
    )
