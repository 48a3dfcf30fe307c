"""The papers' bars protocol end to end (a clean build, then the cached one)
against the NumPy loop -> ``benchmarks/protocol.json``; peak memory of bars
trainings of 1e6 and 1e7 examples -> ``benchmarks/memory.json``.

    python benchmarks/bench.py --protocol
    python benchmarks/bench.py --memory
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

from .cells import HERE, PROTOCOL_EXAMPLES, run_cell, write


def run(out=HERE / "protocol.json"):
    """End to end: the bars protocol on the compiled circuit vs the NumPy loop."""
    rows = {}
    cache = tempfile.mkdtemp(prefix="hm_neuro_bench_cache_")  # a clean build: an empty build cache
    env = dict(os.environ, HM_NEURO_CACHE_DIR=cache)
    for kind in ("reference", "brian2"):
        row, error = run_cell(["protocol", kind], env)
        rows[kind] = row or {"kind": kind, "error": error}
        print(rows[kind], file=sys.stderr)
    shutil.rmtree(cache, ignore_errors=True)
    if "error" not in rows["reference"] and "error" not in rows["brian2"]:
        rows["speedup_clean_build"] = rows["reference"]["seconds"] / rows["brian2"]["seconds"]
        rows["speedup_cached_build"] = rows["reference"]["seconds"] / rows["brian2"]["cached_seconds"]
    return write(
        out, {"date": time.strftime("%Y-%m-%d"), "examples": PROTOCOL_EXAMPLES, "cpus": os.cpu_count(), **rows}
    )


def memory(out=HERE / "memory.json"):
    """Peak memory of bars trainings of 1e6 and 1e7 examples, each in its own process."""
    rows = []
    for n in (1_000_000, 10_000_000):
        row, error = run_cell(["memory", n])
        rows.append(row or {"examples": n, "error": error})
        print(rows[-1], file=sys.stderr)
    return write(out, {"date": time.strftime("%Y-%m-%d"), "rows": rows})
