"""Running many trainings: tasks, populations, workers, Dask, retries.

A :class:`Task` is one training (a circuit, a data source, a length, a seed
and a restart).  :func:`run_tasks` groups tasks of the same shape into
*populations* -- N machines in one circuit (:func:`hm_neuro.training.train_population`)
-- and runs the groups in this process (``workers=1``), on an embedded
``dask.distributed.LocalCluster`` or on an existing Dask cluster
(``scheduler``: an address or a scheduler file).  Every worker keeps one
engine: a group of the same compiled shape re-uses it; the build itself is
shared through the persistent build cache (:mod:`hm_neuro.engines.brian2`).

A group that raises :class:`hm_neuro.errors.HMError` (bad input, divergence)
fails at once; any other error (a worker lost, a compiler crash) is retried
``retries`` times.  A failed task is a row with ``status = "failed"`` and its
error: nothing is lost.

Seeds: task (seed s, restart r) trains with the node ``SeedTree(s).restart(r)``
of :mod:`hm_neuro.seeds`.  With the counter-based stream (the default) a
task's result depends on its seed alone, so :func:`groups` forms as few
populations as there are workers (one compile per shape, no worker idle).
With ``--rng mt19937`` a Brian2 population's machines share one generator
and a task's result depends on its group: groups of the fixed
:data:`POPULATION` then, independent of the workers, so the same command
gives the same table wherever it runs.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import importlib
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from ..engines import MAX_CHUNK, EngineOptions, capabilities, check_options, make_engine
from ..errors import HMError, bad
from ..measures import machine_summary
from ..model import Circuit
from ..seeds import SeedTree
from ..training import Epoch, SweepStream, data_rows_for, stream_for, train_population

logger = logging.getLogger(__name__)

#: machines per population (a group of same-shape tasks) unless told otherwise
POPULATION = 8


def default_workers() -> int:
    """Worker processes used by default: the cores of this machine, at most 2."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclasses.dataclass(frozen=True)
class Task:
    """One training: a circuit, a data source, a length and a seed.

    ``data`` is a data spec (``"bars"``, ``"digits:9"``, a file path) or an
    array of 0/1 rows.  ``chunk``: examples per Brian2 run.  ``schedule``:
    optional ``((kind, examples), ...)`` (default wake-sleep throughout).
    ``keep_model`` returns the trained parameters (and weight history if
    ``record_every``) with the row.
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
    schedule: tuple = ()
    rule: str = "wake-sleep"
    rng: str = "philox"

    @property
    def seed_tree(self) -> SeedTree:
        return SeedTree(self.seed).restart(self.restart)

    @property
    def run_seed(self) -> str:
        """The task's seed-tree node, as text (``7`` or ``7/restart=2``)."""
        return self.seed_tree.label()

    def shape(self) -> tuple:
        """Tasks with equal shapes can share one population circuit."""
        c = self.circuit
        return (
            self.engine,
            self.device,
            tuple(c["layers"]),
            tuple(c.get("nonnegative_generative_weights_into", ())),
            self.examples,
            self.chunk or min(self.examples, MAX_CHUNK),
            self.record_every,
            self.rule,
            tuple(sorted(c.get("dynamics", {}).items())),
            self.rng,
            json.dumps(c.get("precision"), sort_keys=True),
            json.dumps(c.get("plasticity"), sort_keys=True),
            json.dumps(c.get("lateral"), sort_keys=True),
        )

    def check(self):
        """Refuse (one line, before any work) what ``hm-neuro train`` would
        refuse: the circuit, and the engine, device, rule and stream together."""
        circuit = Circuit.from_dict(self.circuit, source=f"task {self.index} circuit")
        options = EngineOptions(
            engine=self.engine, device=self.device, rule=self.rule, rng=self.rng, record_every=self.record_every
        )
        check_options(circuit, options)

    def row(self) -> dict:
        return {
            "task": self.index,
            "seed": self.seed,
            "restart": self.restart,
            "run_seed": self.run_seed,
            **dict(self.point),
            "examples": self.examples,
        }


#: the largest population :func:`groups` forms by itself
MAX_POPULATION = 32


def independent_of_population(task: Task) -> bool:
    """Whether a machine's result depends on its seed alone, not on the
    population it trains in: the counter-based stream (every engine, device
    and population: docs/reproducibility.md) and the vectorised engine (one
    generator per machine).  Brian2's ``rand()`` (``--rng mt19937``) is one
    generator per compiled binary."""
    return task.rng == "philox" or capabilities(task.engine).seed_alone


def groups(tasks, population: int | None = POPULATION, workers: int = 1) -> list:
    """Tasks of one shape, in order, cut into populations of at most
    ``population`` machines.

    ``population=None`` chooses: for tasks whose results do not depend on
    their population (:func:`independent_of_population`), as few populations
    as there are ``workers`` (or a multiple of them, of at most
    :data:`MAX_POPULATION` machines each), so
    a shape is compiled once and every worker is busy to the end; otherwise
    :data:`POPULATION`, so that the groups -- and so the table -- depend on
    the task list alone, not on the workers or the cluster."""
    if population is not None and (
        isinstance(population, bool) or not isinstance(population, int) or not 1 <= population <= 1024
    ):
        raise bad("population", "must be an integer in 1..1024", population)
    by_shape = {}
    for t in tasks:
        by_shape.setdefault(t.shape(), []).append(t)
    out = []
    for same in by_shape.values():
        size = population
        if size is None:
            # a multiple of the workers, of at most MAX_POPULATION machines each, as even as can be
            count = max(1, workers) * -(-len(same) // (max(1, workers) * MAX_POPULATION))
            size = -(-len(same) // count) if all(map(independent_of_population, same)) else POPULATION
        out += [tuple(same[i : i + size]) for i in range(0, len(same), size)]
    return out


# ----------------------------------------------------------------- on a worker

_ENGINE = {"key": None, "engine": None}


def _close_cached_engine():
    if _ENGINE["engine"] is not None:
        _ENGINE["engine"].close()
    _ENGINE.update(key=None, engine=None)


atexit.register(_close_cached_engine)


def _engine_for(circuit: Circuit, task: Task, n: int, data_rows: int = 0):
    """This process's engine for a group of ``n`` tasks like ``task``: re-used if the shape matches."""
    key = task.shape() + (n, data_rows)
    if _ENGINE["key"] != key:
        _close_cached_engine()  # resets Brian2's device and deletes the old private run folder
        _ENGINE["engine"] = make_engine(
            circuit,
            task.engine,
            device=task.device,
            chunk=task.chunk or min(task.examples, MAX_CHUNK),
            record_every=task.record_every,
            n_machines=n,
            rule=task.rule,
            data_rows=data_rows,
            rng=task.rng,
        )
        _ENGINE["key"] = key
        _ENGINE["compile_seconds"] = _ENGINE["engine"].compile_seconds
        fresh = True
    else:
        fresh = False
    return _ENGINE["engine"], (_ENGINE["compile_seconds"] if fresh else 0.0)


def stream_for_task(task: Task, circuit: Circuit):
    if isinstance(task.data, str):
        return stream_for(task.data, circuit, task.p_vertical)
    return SweepStream(np.asarray(task.data), f"task {task.index} data")


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


def run_group(group, topic: str | None = None, on_chunk=None) -> list:
    """Train a group of same-shape tasks as one population; one result per task.

    Progress, chunk by chunk: ``on_chunk(machine_examples)`` in this process,
    or (on a Dask worker) events ``(group's first task, machine_examples)``
    logged to ``topic``, which :func:`run_tasks` subscribes to.

    A result is ``{"row": {...}, "model": arrays or None, "history": ...}``.
    HMError (bad input, divergence) makes every task of the group a failed
    row without retry.
    """
    group = list(group)
    rows = []
    for t in group:
        r = t.row()
        r["worker"] = os.getpid()
        rows.append(r)
    t0 = time.perf_counter()
    if capabilities(group[0].engine).brian2:
        _import_brian2_in_worker_thread()
    try:
        circuits = [Circuit.from_dict(t.circuit, source=f"task {t.index} circuit") for t in group]
        streams = [stream_for_task(t, c) for t, c in zip(group, circuits)]
        eng, compile_s = _engine_for(circuits[0], group[0], len(group), data_rows_for(streams, group[0].engine))
        schedules = [[Epoch(int(n), k) for k, n in t.schedule] or [Epoch(t.examples)] for t in group]
        results = train_population(
            circuits,
            streams,
            schedules,
            [t.seed_tree for t in group],
            engine=eng,
            progress=on_chunk or _worker_reporter(topic, group[0].index) or False,
        )
        out = []
        for t, c, s, res, row in zip(group, circuits, streams, results, rows):
            if res.error:
                row.update(status="failed", error=res.error, population=len(group))
                out.append({"row": row, "model": None, "history": None})
                continue
            try:
                values = machine_summary(
                    res.params, c, t.data if isinstance(t.data, str) else None, s, t.seed_tree, p_vertical=t.p_vertical
                )
            except HMError as e:  # non-finite measures: this machine diverged
                row.update(status="failed", error=str(e), population=len(group))
                out.append({"row": row, "model": None, "history": None})
                continue
            row.update(
                {
                    k: values[k]
                    for k in ("kl_data_model_bits", "kl_q_p_bits", "free_energy_bits", "training_free_energy_bits")
                    if k in values
                }
            )
            row.update(
                status="ok",
                device=res.device,
                compile_seconds=compile_s,
                population=len(group),
                cached_build=getattr(eng, "cached_build", None),
            )
            out.append(
                {
                    "row": row,
                    "model": res.params.arrays() if t.keep_model else None,
                    "history": (res.history_seen, res.history) if t.keep_model and t.record_every else None,
                }
            )
    except HMError as e:
        out = []
        for row in rows:
            row.update(status="failed", error=str(e), population=len(group))
            out.append({"row": row, "model": None, "history": None})
    seconds = time.perf_counter() - t0
    for r in out:
        r["row"]["seconds"] = seconds / len(group)  # per machine: the group's time shared
    return out


# ------------------------------------------------------------------ the driver


def _failed(task: Task, exc: BaseException) -> dict:
    row = task.row()
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    row.update(status="failed", error=msg)
    return {"row": row, "model": None, "history": None}


def _refused_at_once(address: str):
    """Raise ``ConnectionRefusedError`` at once when nothing listens at a TCP
    scheduler address (Dask's client retries a refused connection until its
    10 s timeout; a host that does not answer times out here in as long);
    other addresses are left to Dask."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:  # not a port: Dask says what is wrong with the address
        return
    if parts.scheme != "tcp" or port is None:
        return
    socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=10).close()


def _client(workers: int, scheduler):
    import dask
    from dask.distributed import Client, LocalCluster

    if not logger.isEnabledFor(logging.INFO):  # distributed sets its own levels on import
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        if str(scheduler).endswith(".json") or Path(str(scheduler)).is_file():
            if not Path(scheduler).is_file():
                raise bad("scheduler", "scheduler file not found", str(scheduler))
            return Client(scheduler_file=str(scheduler), timeout="10s"), None, None
        try:
            _refused_at_once(str(scheduler))
            return Client(str(scheduler), timeout="10s"), None, None
        except (OSError, TimeoutError) as e:
            raise bad(
                "scheduler", f"cannot reach a Dask scheduler there ({e.__class__.__name__})", str(scheduler)
            ) from None
    # the workers ignore SIGINT (a disposition they inherit): Ctrl-C at the terminal reaches the whole
    # process group, and only this process should answer it (one line, no worker tracebacks)
    scratch = tempfile.mkdtemp(prefix="hm_neuro_dask_")
    # a worker still training when the cluster closes is killed (Dask gives it 4 s), and the
    # resource tracker then warns that it cleans up the worker's semaphore: say nothing of it
    warnings_before = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [warnings_before, "ignore:resource_tracker:UserWarning"]))
    previous = (
        signal.signal(signal.SIGINT, signal.SIG_IGN) if threading.current_thread() is threading.main_thread() else None
    )
    try:
        with dask.config.set({"temporary-directory": scratch}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # no dashboard, and its HTTP server (health routes) on a free port, not 8787: clusters
                # started side by side would clash there and warn
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
                local_directory=scratch,
            )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if warnings_before is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = warnings_before
    return Client(cluster), cluster, scratch


def check_workers(workers, retries=0):
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024:
        raise bad("workers", "must be an integer in 1..1024", workers)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise bad("retries", "must be an integer in 0..100", retries)


def _worker_reporter(topic, key):
    """A Dask worker's ``on_chunk``: an event on ``topic`` (None without a topic)."""
    if topic is None:
        return None
    from distributed import get_worker

    worker = get_worker()
    return lambda n: worker.log_event(topic, (key, int(n)))


class _Progress:
    """The bar of a sweep in machine-examples, advanced per chunk of every
    population; a group's completion tops it up to the group's total (a
    retried group may report its chunks twice: never beyond)."""

    def __init__(self, bar):
        self.bar, self.reported, self.finished = bar, {}, set()

    def chunk(self, key, n):
        if key in self.finished:  # an event that arrived after its group's result
            return
        self.reported[key] = self.reported.get(key, 0) + n
        self.bar.update(n)

    def done(self, group):
        total = sum(t.examples for t in group)
        self.bar.update(max(total - self.reported.get(group[0].index, 0), 0))
        self.finished.add(group[0].index)


def run_tasks(
    tasks,
    workers: int | None = None,
    scheduler=None,
    retries: int = 2,
    progress: bool = True,
    desc: str = "sweep",
    population: int | None = None,
    announce=None,
) -> list:
    """Run every task; results in task order (failed tasks as rows with their error).

    Tasks of one shape run as populations (:func:`groups`; ``population``:
    machines per population, None to choose by the workers).  ``workers=1``
    and no ``scheduler``: in this process, no Dask.  Otherwise an embedded
    LocalCluster of ``workers`` single-threaded processes, or the cluster at
    ``scheduler`` (an address or a scheduler file).  Everything is checked
    and the cluster reached before ``announce()`` is called and the progress
    bar appears.
    """
    from tqdm.auto import tqdm

    workers = default_workers() if workers is None else workers
    check_workers(workers, retries)
    tasks = list(tasks)
    checked = set()
    for t in tasks:  # every distinct setting, before any work
        key = json.dumps([t.circuit, t.engine, t.device, t.rule, t.rng, t.record_every], sort_keys=True, default=str)
        if key not in checked:
            checked.add(key)
            t.check()
    position = {t.index: i for i, t in enumerate(tasks)}
    results = [None] * len(tasks)
    grouped = groups(tasks, population, workers)
    local = workers == 1 and not scheduler
    client, cluster, scratch = (None, None, None) if local else _client(workers, scheduler)
    if announce is not None:
        announce()
    total = sum(t.examples for t in tasks)  # machine-examples: the bar moves chunk by chunk
    bar = tqdm(total=total, disable=not progress, unit="ex", unit_scale=True, desc=desc)
    moved = _Progress(bar)

    def store(group, res):
        for t, r in zip(group, res):
            results[position[t.index]] = r
        moved.done(group)

    try:
        if local:
            for g in grouped:
                try:
                    res = run_group(g, on_chunk=lambda n, key=g[0].index: moved.chunk(key, n))
                except Exception as e:  # noqa: BLE001 - reported in the table, not lost
                    res = [_failed(t, e) for t in g]
                store(g, res)
        else:
            _run_on_dask(client, grouped, retries, store, bar, results, moved)
    finally:
        bar.close()
        if local:
            _close_cached_engine()
        else:
            _close_client(client, cluster, scratch)
    return results


def _run_on_dask(client, grouped, retries, store, bar, results, moved):
    from dask.distributed import as_completed

    topic = f"hm-neuro-progress-{os.getpid()}-{time.time_ns()}"
    client.subscribe_topic(topic, lambda event: moved.chunk(*event[1]))
    futures = {
        client.submit(
            run_group,
            g,
            topic,
            retries=retries,
            pure=False,
            key=f"hm-neuro-group-{g[0].index}-{os.getpid()}-{time.time_ns()}",
        ): g
        for g in grouped
    }
    for fut in as_completed(futures):
        g = futures[fut]
        try:
            res = fut.result()
        except Exception as e:  # noqa: BLE001 - still failing after the retries
            res = [_failed(t, e) for t in g]
        store(g, res)
        bar.set_postfix(failed=sum(r is not None and r["row"]["status"] != "ok" for r in results), refresh=False)


def _close_client(client, cluster, scratch):
    """Close the client and an embedded cluster, quietly, and remove the cluster's scratch folder."""
    with contextlib.suppress(Exception):
        client.close()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
