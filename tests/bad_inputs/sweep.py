"""Bad input to ``hm-neuro sweep``: grids, tables, workers and schedulers (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

import os

from .writers import rows_file, text_file

SWEEP = [
    (
        "sweep-table-is-data",
        lambda d: (os.mkdir(d / "res"), rows_file(d / "res", "rows.csv")),
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
    ("sweep-seeds-1e9", None, ["sweep", "--seeds", "1000000000", "--engine", "numpy"], r"--seeds"),
    ("sweep-workers-0", None, ["sweep", "--workers", "0", "--engine", "numpy"], r"--workers: .*0"),
    (
        "grid-p-vertical",
        None,
        ["sweep", "--grid", "p_vertical=2", "--engine", "numpy", "--workers", "1"],
        r"^hm-neuro sweep: error: grid point p_vertical=2: p_vertical: must be a probability",
    ),
    (
        "sweep-file-p-vertical",
        lambda d: text_file(d, "s.toml", "p_vertical = 2\n"),
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
]
