"""The benchmark's yardsticks compute what the engines compute (a fast but
wrong baseline would make every speed-up a lie), and its targets table says
"met" only when a target is."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hm_neuro.engines import make_engine
from hm_neuro.model import Circuit, Parameters, Uniforms

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    """The benchmarks package (a folder of the repository, not installed)."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import cells, targets
    finally:
        sys.path.remove(str(ROOT))
    return type("Bench", (), {"tuned_loop": staticmethod(cells.tuned_loop), "cells": cells, "targets": targets})


@pytest.mark.parametrize("layers, nonnegative", [((6, 4, 2), ()), ((80, 60, 3), (0,))])
def test_tuned_loop_equals_the_reference(bench, layers, nonnegative):
    """Fed the tuned loop's uniform numbers, the NumPy reference ends at the
    same weights and biases (both the dense and the active-rows updates)."""
    n, rate, seed = 1500, 0.05, 3
    data = (np.random.default_rng(1).random((n, layers[0])) < 0.3).astype(float)
    G, R, g, r = bench.tuned_loop(layers, data, n, rate=rate, nonnegative=nonnegative, seed=seed)
    # the loop's draws: blocks of rows, each row the wake layers 1..L, then the sleep layers L..0
    rng = np.random.default_rng(seed)
    U = np.concatenate([rng.random((min(1000, n - a), sum(layers[1:]) + sum(layers))) for a in range(0, n, 1000)])
    cols = np.cumsum([0, *layers[1:], *layers[::-1]])
    parts = [U[:, cols[i] : cols[i + 1]] for i in range(len(cols) - 1)]
    L = len(layers) - 1
    uniforms = Uniforms(wake=parts[:L], sleep=parts[L:][::-1])
    circuit = Circuit.uniform(layers, rate=rate, nonnegative_into=nonnegative)
    p, _ = make_engine(circuit, "numpy").run(Parameters.initial(circuit), data, seed=0, uniforms=uniforms)
    for k in range(L):
        np.testing.assert_allclose(G[k], p.generative_weights[k], atol=1e-12)
        np.testing.assert_allclose(R[k], p.recognition_weights[k], atol=1e-12)
        np.testing.assert_allclose(r[k + 1], p.recognition_biases[k], atol=1e-12)
    for l in range(L + 1):
        np.testing.assert_allclose(g[l], p.generative_biases[l], atol=1e-12)
    assert np.abs(G[0]).max() > 0.01  # it learned something


def test_targets_table_says_met_only_when_met(bench):
    def row(net, N, engine, rate):
        return {"network": net, "machines": N, "engine": engine, "rate": rate}

    res = {
        "main_job_cold": {"seconds": 29.0},
        "train_cold": {"seconds": 9.0},
        "train_warm": {"seconds": 4.5},
        "main_job_warm": {"seconds": 12.0, "builds_compiled": 0, "runs_on_cached_build": 30, "runs": 30},
        "throughput": [
            row("16-8-1", 1, "brian2-cpp_standalone", 700e3),
            row("16-8-1", 1, "numpy-reference", 1e4),
            row("16-8-1", 1, "numpy-tuned", 2e4),
            row("16-8-1", 16, "brian2-cpp_standalone", 1.6e6),
            row("16-8-1", 16, "vectorised", 4e5),
            row("64-16-16-4", 10, "brian2-cpp_standalone", 2e5),
            row("64-16-16-4", 10, "vectorised", 4e4),
            row("784-200-200", 1, "brian2-cpp_standalone", 3500),
            row("784-200-200", 1, "brian2-cpp_standalone-event", 100),
            row("784-200-200", 1, "numpy-reference", 500),
            row("784-200-200", 1, "numpy-tuned", 1000),
        ],
        "memory": [{"examples": 1e6, "peak_rss_mb": 100}, {"examples": 1e7, "peak_rss_mb": 101}],
    }
    lines = bench.targets.targets_table(res)
    verdict = {line.split(" | ")[0].strip("| "): line for line in lines[2:]}
    assert "**met**" in verdict["main job `hm-neuro reproduce bars`, cold cache"]
    warm = verdict["the same, second run (warm cache)"]
    assert "not met (time)" in warm and "**met** (compiles nothing)" in warm
    assert "not met" in verdict["`hm-neuro train --examples 2e6` on bars, warm cache"]
    assert "**met**" in verdict["16-8-1, one machine, cpp_standalone"]
    assert "not met" in verdict["16-8-1, population of 16, aggregate"]  # 4x the vectorised loop, not 5x
    assert "not met" in verdict["64-16-16-4, population of 10, aggregate"]
    assert "**met**" in verdict["784-200-200, one machine, untrained"]
    assert "**met**" in verdict["memory"]


def test_a_cell_runs_in_a_fresh_process_and_a_result_names_its_command(bench, tmp_path):
    row, error = bench.cells.run_cell(["population", "16-8-1", "vectorised", 2, 500])
    assert error is None and row["machines"] == 2 and row["examples_per_machine"] == 500
    row, error = bench.cells.run_cell(["population", "16-8-1", "nonsense", 2, 500])
    assert row is None and "nonsense" in error  # the cell's own error, one line
    bench.cells.write(tmp_path / "r.json", {"rows": []})
    assert json.loads((tmp_path / "r.json").read_text())["command"].startswith("python benchmarks/bench.py")
