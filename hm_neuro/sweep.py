"""Sweeps: grids of trainings (seeds x circuit settings) on Dask distributed.

A sweep is a list of :class:`Task` s -- one training each -- run by
:func:`run_tasks` either in this process (``workers=1``), on an embedded
``dask.distributed.LocalCluster`` (``workers >= 2``, no set-up), or on an
existing Dask cluster (``scheduler="tcp://host:port"`` or a scheduler file,
e.g. from ``dask scheduler`` or dask-jobqueue on SLURM).

On a worker, :func:`run_task` trains with a cached engine: a compiled
cpp_standalone build of the same shape (layers, constraints, chunk length,
recording) is re-run through ``run_args`` with the task's learning rates,
weights and seed; any other shape resets Brian2's global device and builds
anew in a fresh directory.  Results are deterministic per task (seed, chunk
length, device), so the same sweep gives the same table wherever it runs.

A task that raises :class:`hm_neuro.errors.HMError` (bad input, divergence)
fails at once; anything else (a worker lost, a compiler crash) is retried
``retries`` times.  A task that still fails becomes a row with
``status = "failed"`` and its error in the table: nothing is lost.

Sweep files (TOML)::

    circuit = "bars"          # shipped name or TOML file
    data = "bars"             # as for `hm-neuro train --data`
    examples = 2e6
    seeds = 10                # seeds 0..9 (or a list: [3, 7])
    [grid]                    # every combination is trained for every seed
    p_vertical = [0.5, 0.6667]
    "learning_rates.generative_weights" = [[0.2, 0.001], [0.1, 0.001]]
"""

from __future__ import annotations

import atexit
import csv
import dataclasses
import importlib
import io
import itertools
import json
import logging
import os
import time
import traceback
from pathlib import Path

import numpy as np

from .circuit import PARAMETER_SETS, Circuit, load_circuit
from .errors import HMError, bad

logger = logging.getLogger(__name__)

#: grid axes a sweep file or ``--grid`` may vary
GRID_KEYS = ("circuit", "data", "examples", "p_vertical") + tuple(f"learning_rates.{k}" for k in PARAMETER_SETS)
#: columns of the results table, in order (grid axes are inserted after 'restart')
COLUMNS = ("task", "seed", "restart", "run_seed", "status", "kl_data_model_bits", "kl_q_p_bits",
           "free_energy_bits", "training_free_energy_bits", "examples", "seconds", "compile_seconds",
           "device", "worker", "error")
#: seed offset of restart r (restart r of seed s trains with seed s + RESTART_STRIDE * r)
RESTART_STRIDE = 100_000
MAX_CHUNK = 100_000


@dataclasses.dataclass(frozen=True)
class Task:
    """One training: a circuit, a data source, a length and a seed.

    ``data`` is a data spec (``"bars"``, ``"digits:9"``, a file path) or an
    array of 0/1 rows.  ``chunk``: examples per Brian2 run (tasks with equal
    chunk and shape share a compiled build).  ``keep_model`` returns the
    trained parameters (and weight history if ``record_every``) with the row.
    """

    index: int
    circuit: dict
    data: object
    examples: int
    seed: int
    restart: int = 0
    point: tuple = ()
    p_vertical: float = 2 / 3
    engine: str = "brian2"
    device: str | None = None
    chunk: int = 0
    record_every: int = 0
    keep_model: bool = False

    @property
    def run_seed(self) -> int:
        return self.seed + RESTART_STRIDE * self.restart

    def row(self) -> dict:
        return {"task": self.index, "seed": self.seed, "restart": self.restart, "run_seed": self.run_seed,
                **dict(self.point), "examples": self.examples}


# ----------------------------------------------------------------- on a worker

_ENGINE = {"key": None, "engine": None}


def _close_cached_engine():
    if _ENGINE["engine"] is not None:
        _ENGINE["engine"].close()
    _ENGINE.update(key=None, engine=None)


atexit.register(_close_cached_engine)


def _engine_for(circuit: Circuit, task: Task):
    """This process's engine for the task: re-used if the compiled shape matches."""
    from .training import make_engine

    key = (task.engine, task.device, circuit.layers, circuit.nonnegative_generative_weights_into,
           task.chunk, task.record_every)
    if _ENGINE["key"] != key:
        _close_cached_engine()  # resets Brian2's device and deletes the old build directory
        _ENGINE["engine"] = make_engine(circuit, task.engine, task.device, task.chunk, task.record_every)
        _ENGINE["key"] = key
        _ENGINE["compile_seconds"] = _ENGINE["engine"].compile_seconds
        fresh = True
    else:
        fresh = False
    eng = _ENGINE["engine"]
    eng.retarget(circuit)  # this task's learning rates
    return eng, (_ENGINE["compile_seconds"] if fresh else 0.0)


def _stream_for(task: Task, circuit: Circuit):
    from .training import SweepStream, stream_for

    if isinstance(task.data, str):
        return stream_for(task.data, circuit, task.p_vertical)
    return SweepStream(np.asarray(task.data), f"task {task.index} data")


def task_measures(params, circuit: Circuit, task: Task, stream) -> dict:
    """Final measures of a trained machine (bits), from training data only
    except the exact KL(data || model) of the bars distribution."""
    from . import measures
    from .data import bars_distribution

    out = {}
    if isinstance(task.data, str) and task.data == "bars" and circuit.n_hidden_units <= measures.MAX_ENUMERATED_HIDDEN:
        patterns, probs = bars_distribution(size=int(round(circuit.n_input ** 0.5)), p_vertical=task.p_vertical)
        s = measures.exact_summary(params, patterns, probs)
        out.update({k: s[k] for k in ("kl_data_model_bits", "kl_q_p_bits", "free_energy_bits")})
    elif circuit.n_hidden_units <= measures.MAX_ENUMERATED_HIDDEN and hasattr(stream, "rows"):
        fe = measures.exact_free_energy(params, stream.rows)
        out["free_energy_bits"] = float(np.mean(fe["free_energy"]))
        out["kl_q_p_bits"] = float(np.mean(fe["kl_q_p"]))
    # the free energy of fresh training examples, 10 recognition samples each:
    # how restarts are chosen (never the true KL)
    rng = np.random.default_rng([task.run_seed, 7])
    d = stream.take(2000, rng)
    out["training_free_energy_bits"] = float(np.mean(measures.sampled_free_energy(params, d, 10, rng)))
    return out


def _import_brian2_in_worker_thread():
    """Brian2 installs a SIGINT handler on import, which only the main thread
    may do; Dask runs tasks in worker threads.  Import it without the handler
    (a worker is stopped by its nanny, not by Ctrl-C)."""
    import signal
    import sys
    import threading

    if "brian2" in sys.modules or threading.current_thread() is threading.main_thread():
        return
    original = signal.signal
    signal.signal = lambda *args, **kwargs: None
    try:
        importlib.import_module("brian2")
    finally:
        signal.signal = original


def run_task(task: Task) -> dict:
    """Train one task (in a worker process) and return its row of the table.

    Returns ``{"row": {...}, "model": arrays or None, "history": ...}``.
    HMError (bad input, divergence) is reported as a failed row without retry.
    """
    from .training import train

    row = task.row()
    row["worker"] = os.getpid()
    t0 = time.perf_counter()
    if task.engine == "brian2":
        _import_brian2_in_worker_thread()
    try:
        circuit = Circuit.from_dict(task.circuit, source=f"task {task.index} circuit")
        stream = _stream_for(task, circuit)
        eng, compile_s = _engine_for(circuit, task)
        res = train(circuit, stream, task.examples, seed=task.run_seed, engine=eng, progress=False)
        with np.errstate(all="ignore"):
            values = task_measures(res.params, circuit, task, stream)
        if not all(np.isfinite(v) for v in values.values()):
            biggest = max(float(np.max(np.abs(a))) for a in res.params.arrays().values())
            raise bad("training", f"diverged: the measures are not finite (largest |weight| {biggest:.3g}); "
                      "lower the learning rates")
        row.update(values)
        row.update(status="ok", device=res.device, compile_seconds=compile_s)
        out = {"row": row, "model": res.params.arrays() if task.keep_model else None,
               "history": (res.history_seen, res.history) if task.keep_model and task.record_every else None}
    except HMError as e:
        row.update(status="failed", error=str(e))
        out = {"row": row, "model": None, "history": None}
    row["seconds"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------ the driver

def _failed(task: Task, exc: BaseException) -> dict:
    row = task.row()
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    row.update(status="failed", error=msg)
    return {"row": row, "model": None, "history": None}


def _client(workers: int, scheduler):
    from dask.distributed import Client, LocalCluster

    if not logger.isEnabledFor(logging.INFO):  # distributed sets its own levels on import
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        if str(scheduler).endswith(".json") or Path(str(scheduler)).is_file():
            if not Path(scheduler).is_file():
                raise bad("--scheduler", "scheduler file not found", str(scheduler))
            return Client(scheduler_file=str(scheduler), timeout="10s"), None
        try:
            return Client(str(scheduler), timeout="10s"), None
        except (OSError, TimeoutError) as e:
            raise bad("--scheduler", f"cannot reach a Dask scheduler there ({e.__class__.__name__})",
                      str(scheduler)) from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_tasks(tasks, workers: int = 2, scheduler=None, retries: int = 2, progress: bool = True,
              desc: str = "sweep") -> list:
    """Run every task; results in task order (failed tasks as rows with their error).

    ``workers=1`` and no ``scheduler``: in this process, no Dask.  Otherwise
    an embedded LocalCluster of ``workers`` single-threaded processes, or the
    cluster at ``scheduler`` (an address or a scheduler file).
    """
    from tqdm.auto import tqdm

    if workers < 1:
        raise bad("--workers", "must be >= 1", workers)
    if retries < 0:
        raise bad("--retries", "must be >= 0", retries)
    tasks = list(tasks)
    results = [None] * len(tasks)
    bar = tqdm(total=len(tasks), disable=not progress, unit="task", desc=desc)
    if workers == 1 and not scheduler:
        try:
            for i, t in enumerate(tasks):
                try:
                    results[i] = run_task(t)
                except Exception as e:  # noqa: BLE001 - reported in the table, not lost
                    results[i] = _failed(t, e)
                bar.update(1)
        finally:
            _close_cached_engine()
            bar.close()
        return results
    from dask.distributed import as_completed

    client, cluster = _client(workers, scheduler)
    try:
        futures = {client.submit(run_task, t, retries=retries, pure=False,
                                 key=f"hm-neuro-task-{t.index}-{os.getpid()}-{time.time_ns()}"): i
                   for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except Exception as e:  # noqa: BLE001 - still failing after the retries
                results[i] = _failed(tasks[i], e)
            bar.set_postfix(failed=sum(r is not None and r["row"]["status"] != "ok" for r in results),
                            refresh=False)
            bar.update(1)
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
    return results


# -------------------------------------------------------------- sweep specs

@dataclasses.dataclass
class SweepSpec:
    circuit: str = "bars"
    data: str = "bars"
    examples: int = 2_000_000
    seeds: tuple = (0,)
    restarts: int = 1
    grid: dict = dataclasses.field(default_factory=dict)
    p_vertical: float = 2 / 3
    engine: str = "brian2"
    device: str | None = None

    def validate(self):
        if isinstance(self.examples, bool) or not float(self.examples).is_integer() or self.examples < 1:
            raise bad("examples", "must be a whole number >= 1", self.examples)
        self.examples = int(self.examples)
        if not self.seeds:
            raise bad("seeds", "at least one seed is needed", list(self.seeds))
        if isinstance(self.restarts, bool) or not isinstance(self.restarts, int) or self.restarts < 1:
            raise bad("restarts", "must be an integer >= 1", self.restarts)
        for key, values in self.grid.items():
            if key not in GRID_KEYS:
                raise bad(f"grid: {key}", f"unknown axis; choose from {list(GRID_KEYS)}")
            if not isinstance(values, list) or not values:
                raise bad(f"grid: {key}", "must be a non-empty list of values", values)
        return self

    def points(self):
        """Every combination of the grid axes, as tuples of (axis, value)."""
        keys = list(self.grid)
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            yield tuple(zip(keys, combo))

    def tasks(self, record_every: int = 0, keep_model: bool = False):
        """The tasks of this sweep (every grid point x seed x restart); checks
        every circuit and data source here, before anything runs."""
        from .training import plan_chunks

        out = []
        for point in self.points():
            p = dict(point)
            circuit = load_circuit(p.get("circuit", self.circuit))
            rates = {k.split(".", 1)[1]: v for k, v in p.items() if k.startswith("learning_rates.")}
            if rates:
                circuit = circuit.replace(learning_rates=rates)
            examples = p.get("examples", self.examples)
            if isinstance(examples, bool) or not float(examples).is_integer() or examples < 1:
                raise bad("grid: examples", "must be whole numbers >= 1", examples)
            examples = int(examples)
            data = p.get("data", self.data)
            pv = float(p.get("p_vertical", self.p_vertical))
            task0 = Task(0, circuit.to_dict(), data, examples, 0, p_vertical=pv)
            stream = _stream_for(task0, circuit)  # raises on a bad data spec or shape
            if stream.n_input != circuit.n_input:
                raise bad("data", f"rows have {stream.n_input} values but circuit '{circuit.name}' has "
                          f"{circuit.n_input} inputs", data)
            for s in self.seeds:
                for r in range(self.restarts):
                    out.append(Task(len(out), circuit.to_dict(), data, examples, int(s), r,
                                    tuple((k, _cell(v)) for k, v in point), pv, self.engine, self.device,
                                    plan_chunks(examples, MAX_CHUNK), record_every, keep_model))
        return out


def _cell(v):
    """A grid value as it appears in the table (lists as text)."""
    return json.dumps(v) if isinstance(v, (list, tuple)) else v


def parse_seeds(value) -> tuple:
    """``10`` -> seeds 0..9; ``[3, 7]`` or ``"3,7"`` -> those seeds; ``"5:10"`` -> 5..9."""
    if isinstance(value, bool):
        raise bad("seeds", "must be a count, a list or a range A:B", value)
    if isinstance(value, int):
        if value < 1:
            raise bad("seeds", "must be >= 1", value)
        return tuple(range(value))
    if isinstance(value, list):
        if not value or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
            raise bad("seeds", "must be a non-empty list of integers >= 0", value)
        return tuple(value)
    text = str(value).strip()
    try:
        if ":" in text:
            a, b = (int(x) for x in text.split(":"))
            if not 0 <= a < b:
                raise ValueError
            return tuple(range(a, b))
        if "," in text:
            return parse_seeds([int(x) for x in text.split(",")])
        return parse_seeds(int(text))
    except ValueError:
        raise bad("--seeds", "must be a count (10), a list (3,7) or a range (5:10)", value) from None


def parse_grid_option(items) -> dict:
    """``["p_vertical=0.5,0.6667", "learning_rates.generative_weights=[0.2,0.001];[0.1,0.001]"]``."""
    grid = {}
    for item in items or ():
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise bad("--grid", "each axis is KEY=V1,V2 (lists separated by ;)", item)
        key = key.strip()
        parts = values.split(";") if key.startswith("learning_rates.") else values.split(",")
        try:
            grid[key] = [json.loads(v) for v in parts]
        except json.JSONDecodeError:
            grid[key] = [v.strip() for v in parts]  # text values such as circuit or data names
    return grid


def load_sweep(path) -> SweepSpec:
    """A sweep TOML file -> :class:`SweepSpec` (validated)."""
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise bad("sweep file", "not found", str(path))
    try:
        d = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise bad(f"sweep file {path}", f"not valid TOML: {e}") from None
    known = {f.name for f in dataclasses.fields(SweepSpec)}
    for key in d:
        if key not in known:
            raise bad(f"sweep file {path}: {key}", f"unknown key; expected one of {sorted(known)}")
    if "seeds" in d:
        d["seeds"] = parse_seeds(d["seeds"])
    if "grid" in d and not isinstance(d["grid"], dict):
        raise bad(f"sweep file {path}: grid", "must be a table")
    try:
        return SweepSpec(**d).validate()
    except HMError as e:
        raise HMError(f"sweep file {path}: {e}") from None


# --------------------------------------------------------------- the results

def table(results) -> list:
    """The rows of the results table, with every column present."""
    rows = [dict(r["row"]) for r in results]
    extra = []
    for r in rows:
        for k in r:
            if k not in COLUMNS and k not in extra:
                extra.append(k)
    cols = list(COLUMNS[:3]) + extra + list(COLUMNS[3:])
    return [{c: r.get(c, "") for c in cols} for r in rows]


def save_table(out_dir, name: str, rows: list, meta: dict):
    """``NAME.csv`` and ``NAME.json`` (rows plus the sweep's settings), atomically."""
    from .model_io import atomic_path, save_json

    out_dir = Path(out_dir)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    with atomic_path(out_dir / f"{name}.csv") as tmp:
        tmp.write_text(buf.getvalue())
    save_json(out_dir / f"{name}.json", {**meta, "rows": rows})


def summary_measure(rows) -> str:
    for key in ("kl_data_model_bits", "free_energy_bits", "training_free_energy_bits"):
        if any(r.get(key) not in ("", None) for r in rows):
            return key
    return "training_free_energy_bits"


def save_figure(path, rows: list, grid_keys, title: str):
    """Final measure per seed, one column per grid point; failed tasks as red crosses."""
    from . import plotting

    plt = plotting._plt()
    key = summary_measure(rows)
    labels = []
    for r in rows:
        lab = ", ".join(f"{k}={r[k]}" for k in grid_keys) or "all"
        if lab not in labels:
            labels.append(lab)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.6 * len(labels) + 2), 3.6))
    for x, lab in enumerate(labels):
        pts = [r for r in rows if (", ".join(f"{k}={r[k]}" for k in grid_keys) or "all") == lab]
        ok = [r for r in pts if r["status"] == "ok" and r.get(key) not in ("", None)]
        jitter = np.linspace(-0.15, 0.15, max(len(ok), 1))
        ax.scatter(x + jitter[:len(ok)], [r[key] for r in ok], s=18, color="k", zorder=3)
        for j, r in enumerate(ok):
            ax.annotate(str(r["seed"]), (x + jitter[j], r[key]), fontsize=6, xytext=(3, 0),
                        textcoords="offset points")
        if ok:
            ax.hlines(np.median([r[key] for r in ok]), x - 0.25, x + 0.25, color="C0", label="median" if x == 0 else None)
        failed = [r for r in pts if r["status"] != "ok"]
        if failed:
            y0 = ax.get_ylim()[0] if ok else 0.0
            ax.scatter([x] * len(failed), [y0] * len(failed), marker="x", color="red", s=40,
                       label="failed" if not any(h.get_label() == "failed" for h in ax.collections) else None)
    if key == "kl_data_model_bits":
        ax.axhline(0.10, color="0.6", ls="--", lw=0.8, label="paper: 0.10 bits")
        ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=7, rotation=15 if len(labels) > 3 else 0)
    ax.set_ylabel(key.replace("_bits", " [bits]").replace("_", " "))
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    plotting.save(fig, path)
