"""Sweeps: the grid, the table, failures reported not lost, and the same
table in this process, on an embedded Dask cluster and on a separately
started Dask scheduler."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_compiler

from hm_neuro.cli import main
from hm_neuro.errors import HMError
from hm_neuro.runs import runner, sweep

#: the table's columns that depend on the trainings alone (not on timing or where they ran)
COLUMNS_COMPARED = sweep.COLUMNS[: sweep.COLUMNS.index("training_free_energy_bits") + 1]


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_seeds_are_parsed_as_count_list_or_range():
    assert sweep.parse_seeds(3) == (0, 1, 2)
    assert sweep.parse_seeds("3,7") == (3, 7)
    assert sweep.parse_seeds("5:8") == (5, 6, 7)
    assert sweep.parse_seeds([4]) == (4,)
    with pytest.raises(HMError, match=r"seeds: must be a count .*'x'"):
        sweep.parse_seeds("x")
    with pytest.raises(HMError, match=r"seeds: a count must be in 1..100000 \(got 0\)"):
        sweep.parse_seeds(0)


def test_grid_makes_every_combination_for_every_seed_and_restart():
    spec = sweep.SweepSpec(
        examples=100,
        seeds=(0, 1),
        restarts=2,
        grid=sweep.parse_grid_option(
            ["p_vertical=0.5,0.75", "learning_rates.generative_weights=[0.1,0.001];[0.3,0.001]"]
        ),
        engine="numpy",
    ).validate()
    tasks = spec.tasks()
    assert len(tasks) == 2 * 2 * 2 * 2
    assert [t.index for t in tasks] == list(range(16))
    rates = {tuple(t.circuit["learning_rates"]["generative_weights"]) for t in tasks}
    assert rates == {(0.1, 0.001), (0.3, 0.001)}
    assert {t.p_vertical for t in tasks} == {0.5, 0.75}
    assert {t.run_seed for t in tasks} == {"0", "1", "0/restart=1", "1/restart=1"}


def _tasks_of(n, rng, engine="brian2"):
    circuit = {"layers": [4, 2], "learning_rates": {}}
    return [runner.Task(i, circuit, "bars", 100, seed=i, engine=engine, rng=rng) for i in range(n)]


def test_populations_are_as_few_as_the_workers_where_results_depend_on_the_seed_alone():
    """The main job's 30 machines on 2 workers: 2 populations of 15 (one
    compile, both workers busy to the end); with Brian2's rand() (mt19937),
    populations of 8 whatever the workers, so the table stays the same
    everywhere; an explicit population is kept; never more than
    MAX_POPULATION machines in one."""
    sizes = lambda gs: [len(g) for g in gs]  # noqa: E731
    assert sizes(runner.groups(_tasks_of(30, "philox"), None, workers=2)) == [15, 15]
    assert sizes(runner.groups(_tasks_of(30, "philox"), None, workers=1)) == [30]
    assert sizes(runner.groups(_tasks_of(30, "mt19937"), None, workers=2)) == [8, 8, 8, 6]
    assert sizes(runner.groups(_tasks_of(30, "mt19937"), None, workers=5)) == [8, 8, 8, 6]
    assert sizes(runner.groups(_tasks_of(30, "mt19937", "vectorised"), None, workers=2)) == [15, 15]
    assert sizes(runner.groups(_tasks_of(30, "philox"), 8, workers=2)) == [8, 8, 8, 6]
    assert sizes(runner.groups(_tasks_of(100, "philox"), None, workers=2)) == [25, 25, 25, 25]
    with pytest.raises(HMError, match=r"population: must be an integer in 1..1024 \(got 0\)"):
        runner.groups(_tasks_of(3, "philox"), 0)


def test_bad_sweeps_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(HMError, match=r"grid: colour: unknown axis"):
        sweep.SweepSpec(grid={"colour": [1]}).validate()
    with pytest.raises(HMError, match=r"grid: p_vertical: must be a non-empty list"):
        sweep.SweepSpec(grid={"p_vertical": 0.5}).validate()
    with pytest.raises(HMError, match=r"data: digit classes must be in 0..9 \(got .digits:12.\)"):
        sweep.SweepSpec(circuit="digits", data="digits:12", examples=10).validate().tasks()
    f = tmp_path / "s.toml"
    f.write_text('circuit = "bars"\nseed = 3\n')
    with pytest.raises(HMError, match=r"s.toml: seed: unknown key"):
        sweep.load_sweep(f)
    f.write_text("examples = -5\n")
    with pytest.raises(HMError, match=r"s.toml: examples: must be a whole number in 1..1e12 \(got -5\)"):
        sweep.load_sweep(f)
    out = tmp_path / "out"
    assert main(["sweep", "--grid", "speed=1,2", "--out", str(out), "-q"]) == 2
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(out), "-q"]) == 2
    assert not out.exists()


def test_a_failing_task_is_a_row_with_its_error_not_a_lost_sweep(tmp_path, capsys):
    """A learning rate of 1e308 overflows the weights: that grid point fails
    (reported in the table, exit status 1); the others are trained."""
    code = main(
        [
            "sweep",
            "--engine",
            "numpy",
            "--examples",
            "300",
            "--seeds",
            "2",
            "--workers",
            "1",
            "--grid",
            "learning_rates.generative_weights=[0.2,0.001];[1e308,1e308]",
            "--out",
            str(tmp_path),
            "--name",
            "t",
            "-q",
        ]
    )
    assert code == 1
    rows = read_csv(tmp_path / "t.csv")
    assert len(rows) == 4
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all("diverged" in r["error"] for r in failed)
    assert all("1e+308" in r["learning_rates.generative_weights"] for r in failed)
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(0 < float(r["kl_data_model_bits"]) < 16 for r in ok)
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["measure"] == "kl_data_model_bits" and len(data["rows"]) == 4
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert "task 2 (seed 0) failed" in capsys.readouterr().err


@needs_compiler
def test_embedded_cluster_reuses_compiled_builds_and_matches_this_process(tmp_path):
    """Two Dask workers, cpp_standalone: each compiles once and re-runs its
    build for later tasks; the table equals the one made in this process."""
    spec = sweep.SweepSpec(
        examples=3000,
        seeds=(0, 1, 2),
        engine="brian2",
        device="cpp_standalone",
        grid={"learning_rates.generative_weights": [[0.2, 0.001], [0.1, 0.001]]},
    ).validate()
    tasks = spec.tasks()
    on_cluster = sweep.table(runner.run_tasks(tasks, workers=2, progress=False, population=3))
    assert all(r["status"] == "ok" for r in on_cluster), on_cluster
    assert len({r["worker"] for r in on_cluster}) == 2  # two populations of three machines, one per worker
    assert {r["population"] for r in on_cluster} == {3}
    here = sweep.table(runner.run_tasks(tasks, workers=1, progress=False, population=3))
    for a, b in zip(on_cluster, here):
        assert {k: a[k] for k in COLUMNS_COMPARED} == {k: b[k] for k in COLUMNS_COMPARED}
    # the learning rates reached the compiled builds: same seed, other rate, other result
    assert on_cluster[0]["kl_data_model_bits"] != on_cluster[3]["kl_data_model_bits"]


def test_spiking_tasks_run_on_dask_workers():
    """The spiking engine in Dask worker threads (Brian2 imported there
    without its signal handler), its dynamics carried by the task's circuit;
    the same rows as in this process."""
    from hm_neuro.model import load_circuit

    c = load_circuit("bars").replace(dynamics={"window": 1.0, "dt": 1.0}).to_dict()
    tasks = [runner.Task(i, c, "bars", 200, s, engine="spiking", device="numpy") for i, s in enumerate((0, 1))]
    on_cluster = runner.run_tasks(tasks, workers=2, progress=False, population=1)
    here = runner.run_tasks(tasks, workers=1, progress=False, population=1)
    for a, b in zip(on_cluster, here):
        assert a["row"]["status"] == "ok", a["row"]
        assert a["row"]["kl_data_model_bits"] == b["row"]["kl_data_model_bits"]


def test_the_bar_of_a_sweep_moves_chunk_by_chunk(monkeypatch):
    """Every chunk of every population advances the bar (machine-examples),
    not only a finished population."""
    from hm_neuro.model import load_circuit

    seen = []
    chunk = runner._Progress.chunk
    monkeypatch.setattr(runner._Progress, "chunk", lambda self, key, n: seen.append((key, n)) or chunk(self, key, n))
    c = load_circuit("bars").to_dict()
    tasks = [runner.Task(i, c, "bars", 300, s, engine="numpy", chunk=100) for i, s in enumerate((0, 1, 2))]
    results = runner.run_tasks(tasks, workers=1, progress=False, population=2)
    assert all(r["row"]["status"] == "ok" for r in results)
    assert seen == [(0, 200)] * 3 + [(2, 100)] * 3  # a population of 2, then of 1: three chunks each


def _start(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_separately_started_dask_scheduler_gives_the_same_table(tmp_path):
    bin_dir = Path(sys.executable).parent
    dask_cli = [str(bin_dir / "dask")] if (bin_dir / "dask").exists() else [sys.executable, "-m", "dask"]
    sched_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    procs = [
        _start(
            dask_cli
            + [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            log,
        )
    ]
    try:
        for _ in range(300):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        procs.append(
            _start(
                dask_cli
                + [
                    "worker",
                    "--scheduler-file",
                    str(sched_file),
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                log,
            )
        )
        common = [
            "sweep",
            "--engine",
            "numpy",
            "--examples",
            "2000",
            "--seeds",
            "4",
            "-q",
            "--population",
            "2",
            "--grid",
            "p_vertical=0.5,0.6667",
            "--out",
            str(tmp_path),
        ]
        assert main(common + ["--scheduler", str(sched_file), "--name", "remote"]) == 0
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        assert main(common + ["--scheduler", address, "--name", "by_address"]) == 0
    finally:
        for p in procs[::-1]:
            os.killpg(p.pid, 15)
            p.wait(timeout=30)
        log.close()
    assert main(common + ["--workers", "1", "--name", "local"]) == 0
    local = read_csv(tmp_path / "local.csv")
    assert len(local) == 8 and all(r["status"] == "ok" for r in local)
    for name in ("remote", "by_address"):
        remote = read_csv(tmp_path / f"{name}.csv")
        assert [{k: r[k] for k in COLUMNS_COMPARED} for r in remote] == [
            {k: r[k] for k in COLUMNS_COMPARED} for r in local
        ]
    assert len({r["worker"] for r in read_csv(tmp_path / "remote.csv")}) == 2
    kls = np.array([float(r["kl_data_model_bits"]) for r in local])
    assert np.all(np.isfinite(kls))


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    code = main(
        [
            "sweep",
            "--engine",
            "numpy",
            "--examples",
            "100",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "o"),
            "-q",
        ]
    )
    assert code == 2
    assert "--scheduler: cannot reach a Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_shipped_sweep_files_are_valid():
    from hm_neuro.resources import shipped

    names = sorted(shipped("sweeps"))
    assert names == ["bars_p_vertical"]
    for f in names:
        spec = sweep.load_sweep(f)
        assert len(spec.tasks()) == len(list(spec.points())) * len(spec.seeds) * spec.restarts
