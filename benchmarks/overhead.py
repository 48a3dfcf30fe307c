"""Issue 24's overhead rows, measured in one run on an empty build cache:
the main job cold and warm (time, first progress, disk written), a warm
training, ``evaluate``, and the compile settings side by side ->
``benchmarks/overhead.json``.  :func:`cli` times a command as a user runs it
(shared with :mod:`benchmarks.targets`).

    python benchmarks/bench.py --overhead
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .cells import HERE, write


def cli(args, env, log) -> dict:
    """``hm-neuro ARGS`` as a user runs it, timed end to end (its output to ``log``)."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        r = subprocess.run(
            [sys.executable, "-m", "hm_neuro.cli", "-v", *args], env=env, stdout=f, stderr=subprocess.STDOUT
        )
    seconds = time.perf_counter() - t0
    print(f"hm-neuro {' '.join(args)}: {seconds:.1f} s (exit {r.returncode})", file=sys.stderr)
    if r.returncode != 0:
        raise SystemExit(f"bench.py: `hm-neuro {' '.join(args)}` failed (exit {r.returncode}); its output: {log}")
    return {"command": "hm-neuro " + " ".join(args), "seconds": seconds, "exit_status": r.returncode}


def _machine_speed() -> float:
    """Seconds of ``sum(range(10**8))`` in a fresh Python: how fast this
    machine was during the run (the same cell differs twofold from hour to
    hour on shared machines)."""
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.perf_counter(); sum(range(10**8)); print(time.perf_counter() - t)",
        ],
        capture_output=True,
        text=True,
    )
    return float(r.stdout)


def _cli_io(args, env, log) -> dict:
    """:func:`_cli` with the bytes its process tree wrote to disk (the children's
    ``ru_oublock``, 512-byte blocks, as ``/usr/bin/time`` counts them)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    row = cli(args, env, log)
    row["disk_written_bytes"] = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - before) * 512
    return row


def _cli_first_progress(args, env, log) -> dict:
    """:func:`_cli_io`, and the seconds until its progress bar first moved
    (tqdm's count above 0: the first chunk of some population done)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    t0 = time.perf_counter()
    first = None
    with open(log, "w") as f:
        p = subprocess.Popen(
            [sys.executable, "-m", "hm_neuro.cli", *args], env=env, stdout=f, stderr=subprocess.PIPE, text=True
        )
        buf = ""
        while chunk := p.stderr.read(64):
            f.write(chunk)
            buf = (buf + chunk)[-400:]
            if first is None and re.search(r"\|\s*(?:[1-9][\d.]*|0\.\d*[1-9]\d*)[kMG]?/[\d.]+[kMG]?", buf):
                first = time.perf_counter() - t0
        p.wait()
    seconds = time.perf_counter() - t0
    print(
        f"hm-neuro {' '.join(args)}: {seconds:.1f} s, first progress at {first} s (exit {p.returncode})",
        file=sys.stderr,
    )
    if p.returncode != 0:
        raise SystemExit(f"bench.py: `hm-neuro {' '.join(args)}` failed (exit {p.returncode}); its output: {log}")
    written = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - before) * 512
    return {
        "command": "hm-neuro " + " ".join(args),
        "seconds": seconds,
        "first_progress_seconds": first,
        "exit_status": p.returncode,
        "disk_written_bytes": written,
    }


#: compile settings compared on one shape, each on an empty build cache:
#: (row, environment, whether the ccache folder is emptied first)
COMPILE_SETTINGS = [
    ("no_precompiled_header", {"HM_NEURO_PCH": "0", "HM_NEURO_CCACHE": "0"}, True),
    ("precompiled_header", {"HM_NEURO_CCACHE": "0"}, True),
    ("precompiled_header_and_empty_ccache", {}, True),
    ("precompiled_header_and_ccache_after_an_upgrade", {}, False),
]


def compile_rows(work: Path, quick=False, source: Path | None = None) -> dict:
    """One shape (the main job's: 15 machines of 16-8-1, as its populations
    are on 2 workers) compiled with each of :data:`COMPILE_SETTINGS`, side by
    side: Brian2's default flags, the precompiled standard headers, and
    ccache (empty; then full, as after an upgrade that changed every build
    key: a new Brian2, NumPy or Python).  ``source``: a checkout whose
    ``hm_neuro`` is timed instead of the installed one."""
    rows = {}
    ccache = work / "ccache"
    script = (
        "import os, sys, time; t0 = time.perf_counter()\n"
        # another revision's hm_neuro first on the path (PYTHONPATH alone measured the working tree's:
        # ``python -c`` puts the working folder, the repository when run from it, before it)
        "src = os.environ.get('HM_NEURO_BENCH_SOURCE')\n"
        "if src:\n"
        "    sys.path.insert(0, src)\n"
        "import hm_neuro\n"
        "assert not src or hm_neuro.__file__.startswith(src), hm_neuro.__file__\n"
        "from hm_neuro.engines import make_engine\n"
        "from hm_neuro.model.circuit import load_circuit\n"
        "e = make_engine(load_circuit('bars'), 'brian2', device='cpp_standalone', n_machines=15, chunk=100000)\n"
        "print(e.compile_seconds, time.perf_counter() - t0, e.cached_build)\n"
    )
    for row, extra, empty in COMPILE_SETTINGS:
        if empty:
            shutil.rmtree(ccache, ignore_errors=True)
        # one build cache folder, emptied each time (an upgrade empties it by changing every key)
        shutil.rmtree(work / "compile", ignore_errors=True)
        env = dict(os.environ, HM_NEURO_CACHE_DIR=str(work / "compile"), CCACHE_DIR=str(ccache), **extra)
        env.pop("CXX", None)
        if source is not None:
            env["HM_NEURO_BENCH_SOURCE"] = str(source)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the process, make and the compilers
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if r.returncode != 0:
            raise SystemExit(f"bench.py: compile row {row} failed: {r.stderr.strip()[-300:]}")
        compile_s, engine_s, cached = r.stdout.split()
        rows[row] = {
            "compile_seconds": float(compile_s),
            "engine_seconds": float(engine_s),
            "cpu_seconds": cpu,
            "env": extra,
        }
        print(
            f"  compile {row:48s} {float(compile_s):6.1f} s (engine ready {float(engine_s):.1f} s, CPU {cpu:.1f} s)",
            file=sys.stderr,
        )
    rows["ccache_installed"] = shutil.which("ccache") is not None
    return rows


def run_compile(before: str | None = None, out=HERE / "compile.json") -> dict:
    """:func:`compile_rows` alone, in a scratch folder -> ``benchmarks/compile.json``;
    with ``before`` (a git revision) the same rows of that revision's
    ``hm_neuro`` first (a scratch worktree), side by side."""
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        if before is not None:
            tree = Path(tmp) / "before"
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "add", "-q", str(tree), before], check=True)
            try:
                res["before"] = {"revision": before, "compile": compile_rows(Path(tmp), source=tree)}
            finally:
                subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(tree)], check=True)
        res["compile"] = compile_rows(Path(tmp))
    return write(out, res)


#: issue 24's targets: (row, measure, target, how it is met)
OVERHEAD_TARGETS = [
    ("main_job_warm", "disk_written_bytes", 0.3e9, "disk written by a warm main job"),
    ("main_job_warm", "seconds", 45.0, "main job, warm cache"),
    ("main_job_cold", "seconds", 60.0, "main job, empty cache"),
    ("main_job_warm", "first_progress_seconds", 15.0, "first result (progress) of the main job, warm"),
    ("train_warm", "seconds", 7.0, "`hm-neuro train --examples 2e6`, warm"),
    ("evaluate", "seconds", 1.0, "`hm-neuro evaluate --model M`"),
]


def run(quick=False, out=HERE / "overhead.json"):
    """Issue 24's rows, measured in one run on an empty build cache: the main
    job cold and warm (time and disk written), a warm 2e6-example training,
    and ``evaluate`` (which must not import Brian2)."""
    with tempfile.TemporaryDirectory(prefix="hm_neuro_overhead_") as tmp:
        work = Path(tmp)
        # an empty build cache and an empty ccache: "cold" is cold
        env = dict(os.environ, HM_NEURO_CACHE_DIR=str(work / "cache"), CCACHE_DIR=str(work / "ccache_main"))
        logs = HERE / "logs"
        logs.mkdir(exist_ok=True)
        res = {"date": time.strftime("%Y-%m-%d %H:%M"), "quick": quick, "cpus": os.cpu_count()}
        res["python_loop_seconds"] = _machine_speed()
        main_job = ["reproduce", "bars"] + (["--quick"] if quick else [])
        res["main_job_cold"] = _cli_first_progress(
            main_job + ["--out", str(work / "cold")], env, logs / "overhead_cold.log"
        )
        res["main_job_warm"] = _cli_first_progress(
            main_job + ["--out", str(work / "warm")], env, logs / "overhead_warm.log"
        )
        train = ["train", "--examples", "2e5" if quick else "2e6", "-q"]
        _cli_io(train + ["--out", str(work / "t1.npz")], env, logs / "overhead_train_cold.log")
        res["train_warm"] = _cli_io(train + ["--out", str(work / "t2.npz")], env, logs / "overhead_train_warm.log")
        res["evaluate"] = _cli_io(["evaluate", "--model", str(work / "t2.npz")], env, logs / "overhead_evaluate.log")
        probe = subprocess.run(
            [sys.executable, "-c", "import sys, hm_neuro.cli; print('brian2' in sys.modules)"],
            capture_output=True,
            text=True,
            env=env,
        )
        res["cli_imports_brian2"] = probe.stdout.strip() == "True"
        res["compile"] = compile_rows(work, quick)
    res["targets"] = [
        {"what": what, "measured": res[row][key], "target": target, "met": (res[row][key] or 1e300) <= target}
        for row, key, target, what in OVERHEAD_TARGETS
    ]
    res = write(out, res)
    for r in res["targets"]:
        unit = "GB" if "disk" in r["what"] else "s"
        scale = 1e9 if unit == "GB" else 1
        measured = "never" if r["measured"] is None else f"{r['measured'] / scale:.2f} {unit}"
        print(f"| {r['what']} | <= {r['target'] / scale:g} {unit} | {measured} | {'met' if r['met'] else 'not met'} |")
    return res
