"""Every row of the speed targets (issue 12) in one run, every baseline
beside its engine, each cell in a fresh process, the cells alternated for
two rounds (the better kept) -> ``benchmarks/targets.json``.

    python benchmarks/bench.py            # ~30 min
    python benchmarks/bench.py --quick    # the same, small (a check that it runs)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .cells import EXAMPLES, HERE, POPULATIONS, run_cell, write
from .overhead import cli


def _binaries(cache: Path) -> dict:
    """{build: mtime of its compiled binary} of a build cache."""
    return {str(b.parent.name): b.stat().st_mtime_ns for b in (cache / "builds").glob("*/main")}


def _alternated(cells, env, rounds) -> dict:
    """Each cell (the arguments of :func:`benchmarks.cells.run_cell`) in its own process, the cells taken in
    turn for ``rounds`` rounds; the best round of each is kept, and the first
    round's set-up (cold build cache) is kept as its compile time."""
    best = {}
    for rnd in range(rounds):
        for key, argv in cells:
            row, error = run_cell(argv, env)
            row = row or {"error": error}
            rate = row.get("machine_examples_per_second", row.get("examples_per_second", 0))
            print(f"  {key:42s} round {rnd + 1}: {rate:>12,.0f} /s", file=sys.stderr)
            if rnd == 0:
                row["cold_setup_seconds"] = row.get("setup_seconds")
            old = best.get(key)
            if old is None or "error" in old or rate > old.get("rate", 0):
                row["rate"] = rate
                row["cold_setup_seconds"] = (old or row).get("cold_setup_seconds")
                best[key] = row
    return best


def run(quick=False, rounds=2, out=HERE / "targets.json"):
    """Every row of issue 12's targets table, measured in this one run, every
    baseline beside its engine: the main job and ``hm-neuro train`` end to
    end with a cold and then a warm build cache (a fresh cache folder for
    this run), single-machine and population throughput with the NumPy
    reference, the tuned per-example NumPy loop (:func:`tuned_loop`) and the
    NumPy loop vectorised over the population, and peak memory at two
    training lengths."""
    cache = Path(tempfile.mkdtemp(prefix="hm_neuro_bench_cache_"))
    work = Path(tempfile.mkdtemp(prefix="hm_neuro_bench_"))
    env = dict(os.environ, HM_NEURO_CACHE_DIR=str(cache), OMP_NUM_THREADS="1")
    logs = Path(out).parent / "logs"
    logs.mkdir(exist_ok=True)
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "quick": quick,
        "cpus": os.cpu_count(),
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    try:
        # end to end, as a user: the main job twice, then a single training twice
        main_job = ["reproduce", "bars"] + (["--quick"] if quick else [])
        res["main_job_cold"] = cli(main_job + ["--out", str(work / "cold")], env, logs / "main_job_cold.log")
        before = _binaries(cache)
        res["main_job_warm"] = cli(main_job + ["--out", str(work / "warm")], env, logs / "main_job_warm.log")
        after = _binaries(cache)
        res["main_job_warm"]["builds_compiled"] = sum(after.get(k) != v for k, v in before.items()) + len(
            set(after) - set(before)
        )
        written = sorted((work / "warm").glob("bars*.json"))  # bars.json, or bars_quick.json
        rows = json.loads(written[0].read_text())["runs"] if written else []
        res["main_job_warm"]["runs_on_cached_build"] = sum(bool(r.get("cached_build")) for r in rows)
        res["main_job_warm"]["runs"] = len(rows)
        train = ["train", "--circuit", "bars", "--data", "bars", "--examples", "2e5" if quick else "2e6"]
        res["train_cold"] = cli(train + ["--out", str(work / "t1.npz")], env, logs / "train_cold.log")
        res["train_warm"] = cli(train + ["--out", str(work / "t2.npz")], env, logs / "train_warm.log")
        # throughput, every baseline alternated with its engine
        q = 1 if quick else 0
        cells = []
        for net in ("16-8-1", "784-200-200"):
            for engine in ("numpy-reference", "numpy-tuned", "brian2-cpp_standalone", "brian2-cpp_standalone-event"):
                if net == "16-8-1" and engine.endswith("event"):
                    continue
                cells.append(((net, 1, engine), ["cell", net, engine, EXAMPLES[(net, engine)][q]]))
        for net, N, ns in POPULATIONS:
            for engine in ("vectorised", "brian2-cpp_standalone"):
                cells.append(((net, N, engine), ["population", net, engine, N, ns[q]]))
        best = _alternated([(" ".join(map(str, k)), a) for k, a in cells], env, rounds)
        res["throughput"] = [
            dict(best[" ".join(map(str, k))], network=k[0], machines=k[1], engine=k[2]) for k, _ in cells
        ]
        # memory: one bars training at two lengths (100 snapshots each), flat if chunked
        res["memory"] = []
        for n in (100_000, 1_000_000) if quick else (1_000_000, 10_000_000):
            row, error = run_cell(["memory", n], env)
            res["memory"].append(row or {"examples": n, "error": error})
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    res["table"] = targets_table(res)
    res = write(out, res)
    print("\n".join(res["table"]))
    return res


def targets_table(res) -> list:
    """The issue's table (markdown lines): what, target, measured, met."""

    def rate(net, N, engine):
        r = next((x for x in res["throughput"] if (x["network"], x["machines"], x["engine"]) == (net, N, engine)), {})
        return r.get("rate", float("nan")) if "error" not in r else float("nan")

    def yes(ok):
        return "**met**" if ok else "not met"

    lines = ["| what | target | measured | |", "|---|---|---|---|"]
    cold, warm = res["main_job_cold"], res["main_job_warm"]
    lines.append(
        f"| main job `hm-neuro reproduce bars`, cold cache | <= 30 s | {cold['seconds']:.0f} s | "
        f"{yes(cold['seconds'] <= 30)} |"
    )
    lines.append(
        f"| the same, second run (warm cache) | <= 10 s, compiles nothing | {warm['seconds']:.0f} s; "
        f"{warm['builds_compiled']} build(s) compiled, {warm['runs_on_cached_build']}/{warm['runs']} runs "
        f"on a cached build | {yes(warm['seconds'] <= 10)} (time); "
        f"{yes(warm['builds_compiled'] == 0)} (compiles nothing) |"
    )
    tw = res["train_warm"]
    lines.append(
        f"| `hm-neuro train --examples 2e6` on bars, warm cache | <= 4 s | {tw['seconds']:.1f} s "
        f"(cold: {res['train_cold']['seconds']:.1f} s) | {yes(tw['seconds'] <= 4)} |"
    )
    one, ref, loop = (rate("16-8-1", 1, e) for e in ("brian2-cpp_standalone", "numpy-reference", "numpy-tuned"))
    lines.append(
        f"| 16-8-1, one machine, cpp_standalone | >= 650k ex/s | {one:,.0f} ex/s ({one / ref:.1f}x the "
        f"reference's {ref:,.0f}, {one / loop:.1f}x the tuned loop's {loop:,.0f}) | {yes(one >= 650e3)} |"
    )
    for net, N, _ in POPULATIONS:
        pop, vec = rate(net, N, "brian2-cpp_standalone"), rate(net, N, "vectorised")
        if net == "16-8-1":
            target, ok = ">= 1.5 M machine-ex/s and >= 5x the vectorised loop", pop >= 1.5e6 and pop >= 5 * vec
        else:
            target, ok = ">= 300k machine-ex/s", pop >= 300e3
        lines.append(
            f"| {net}, population of {N}, aggregate | {target} | {pop:,.0f} machine-ex/s "
            f"({pop / vec:.1f}x the vectorised loop's {vec:,.0f}) | {yes(ok)} |"
        )
    s, e = rate("784-200-200", 1, "brian2-cpp_standalone"), rate("784-200-200", 1, "brian2-cpp_standalone-event")
    ref, loop = rate("784-200-200", 1, "numpy-reference"), rate("784-200-200", 1, "numpy-tuned")
    top = max(s, e)
    lines.append(
        f"| 784-200-200, one machine, untrained | >= 3,000 ex/s and >= 2x the tuned loop | summed "
        f"{s:,.0f}, event-driven {e:,.0f} ex/s (reference {ref:,.0f}, tuned loop {loop:,.0f}: "
        f"{top / loop:.1f}x) | {yes(top >= 3000 and top >= 2 * loop)} |"
    )
    mem = res["memory"]
    if all("error" not in m for m in mem):
        a, b = mem[0]["peak_rss_mb"], mem[1]["peak_rss_mb"]
        lines.append(
            f"| memory | flat | {a:.0f} MB at {mem[0]['examples']:.0e}, {b:.0f} MB at "
            f"{mem[1]['examples']:.0e} examples | {yes(b <= 1.1 * a)} |"
        )
    return lines
