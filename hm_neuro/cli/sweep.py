"""``hm-neuro sweep``: a grid of trainings on Dask, tabulated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..engines import DEVICES
from ..files.outputs import check_name, check_outputs, input_paths
from ..runs.runner import default_workers
from .common import add_p_vertical, add_quiet, count

EPILOG_SWEEP = """examples:
  hm-neuro sweep --seeds 10                                  # bars, 10 seeds, local cluster
  hm-neuro sweep bars_p_vertical --workers 2                 # a shipped grid, by name
  hm-neuro sweep --examples 2e5 --seeds 5 --grid p_vertical=0.5,0.6667
  hm-neuro sweep --circuit digits --data digits:0 --grid data=digits:0,digits:1 --examples 4e4
  dask scheduler --scheduler-file s.json &  dask worker --scheduler-file s.json --nworkers 2 --nthreads 1 &
  hm-neuro sweep --seeds 10 --scheduler s.json
"""


def run(args):
    from .. import plotting
    from ..runs import sweep
    from ..runs.runner import check_workers, run_tasks

    check_workers(args.workers, args.retries)
    spec = sweep.load_sweep(args.spec) if args.spec else sweep.SweepSpec()
    given = {key for key in ("circuit", "data", "examples", "restarts", "p_vertical", "engine", "device", "seeds")}
    given = {key for key in given if getattr(args, key) is not None}
    for key in given - {"seeds"}:
        setattr(spec, key, getattr(args, key))
    if args.seeds is not None:
        spec.seeds = sweep.parse_seeds(args.seeds)
    spec.grid.update(sweep.parse_grid_option(args.grid))
    spec.validate()
    name = check_name(args.name or (Path(args.spec).stem if args.spec else "sweep"), "--name")
    out = Path(args.out)
    files = [out / f"{name}.csv", out / f"{name}.json", out / f"{name}.png"]
    tasks = sweep.tasks_of(spec, given)  # every circuit and data source checked before anything runs
    check_outputs(
        files,
        input_paths(
            args.spec, spec.data, spec.circuit, *[v for vals in spec.grid.values() for v in vals if isinstance(v, str)]
        ),
    )
    where = (
        f"the Dask cluster at {args.scheduler}"
        if args.scheduler
        else "this process"
        if args.workers == 1
        else f"a local Dask cluster of {args.workers} workers"
    )
    results = run_tasks(
        tasks,
        workers=args.workers,
        scheduler=args.scheduler,
        retries=args.retries,
        progress=not args.quiet,
        desc=name,
        population=args.population,
        announce=lambda: print(
            f"sweep {name}: {len(tasks)} trainings ({len(list(spec.points()))} grid point(s) x "
            f"{len(spec.seeds)} seed(s) x {spec.restarts} restart(s)) on {where}",
            file=sys.stderr,
        ),
    )
    rows = sweep.table(results)
    key = sweep.summary_measure(rows)
    meta = {
        "sweep": name,
        "circuit": spec.circuit,
        "data": spec.data,
        "examples": spec.examples,
        "seeds": list(spec.seeds),
        "restarts": spec.restarts,
        "grid": spec.grid,
        "p_vertical": spec.p_vertical,
        "engine": spec.engine,
        "device": spec.device,
        "spec_file": args.spec,
        "measure": key,
    }
    sweep.save_table(out, name, rows, meta)
    plotting.save(
        plotting.sweep_figure(rows, list(spec.grid), f"sweep {name}: {spec.examples:,} examples per run", key), files[2]
    )
    ok = [r for r in rows if r["status"] == "ok"]
    if ok:
        vals = np.array([r[key] for r in ok], dtype=float)
        print(
            f"{len(ok)}/{len(rows)} trainings done; {key}: median {np.median(vals):.4f}, "
            f"min {vals.min():.4f}, max {vals.max():.4f}"
        )
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        print(f"task {r['task']} (seed {r['seed']}) failed: {r['error']}", file=sys.stderr)
    print(f"table -> {files[0]}, {files[1]}; figure -> {files[2]}")
    return 1 if failed else 0


def add_options(sw):
    sw.add_argument(
        "spec", nargs="?", help="sweep TOML file or shipped grid by name (bars_p_vertical); options below override it"
    )
    sw.add_argument("--circuit", help="circuit file or shipped name; default bars")
    sw.add_argument("--data", help="as for train; default bars")
    sw.add_argument("--examples", type=count, help="examples per training; default 2e6")
    sw.add_argument("--seeds", help="10 (seeds 0..9), 3,7 (a list) or 5:10 (a range); default 0")
    sw.add_argument("--restarts", type=int, help="trainings per seed and grid point (seed + 100000 r); default 1")
    sw.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="a grid axis (repeatable): circuit, data, examples, p_vertical or "
        "learning_rates.SET (lists separated by ';', e.g. "
        "learning_rates.generative_weights=[0.2,0.001];[0.1,0.001])",
    )
    add_p_vertical(sw, default=None)
    sw.add_argument("--engine", choices=["brian2", "numpy"], help="default brian2")
    sw.add_argument(
        "--device", choices=DEVICES, help="Brian2 device; default cpp_standalone when a C++ compiler exists"
    )
    sw.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="local Dask worker processes (1 = run in this process, no Dask); default %(default)s",
    )
    sw.add_argument(
        "--scheduler", metavar="ADDRESS", help="use an existing Dask cluster: tcp://HOST:PORT or a scheduler JSON file"
    )
    sw.add_argument(
        "--population",
        type=int,
        default=None,
        help="machines of one shape trained together in one circuit; default: as few populations as "
        "workers (a machine's result depends on its seed alone), 8 with --rng mt19937 (results then "
        "depend on it, not on the workers)",
    )
    sw.add_argument(
        "--retries", type=int, default=2, help="re-runs of a task lost to a crash or a dead worker; default 2"
    )
    sw.add_argument("--name", help="file name stem of the results; default the spec file's, else 'sweep'")
    sw.add_argument("--out", default="results", help="folder for the table and figure; default results")
    add_quiet(sw)


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="train a grid of machines (seeds x settings) on Dask and tabulate the results",
        description="Every combination of the grid axes is trained for every seed (and restart), on an "
        "embedded Dask cluster (--workers, default 2), in this process (--workers 1) or on an "
        "existing Dask cluster (--scheduler).  Writes OUT/NAME.csv, OUT/NAME.json (one row per "
        "training: final measures in bits, seconds, status and error) and OUT/NAME.png.  Exit "
        "status 1 when some trainings failed (they are in the table with their error).",
        epilog=EPILOG_SWEEP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ),
)
