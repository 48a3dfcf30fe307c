"""Every engine and Brian2 device on every network, one machine, each cell
in a fresh process -> ``benchmarks/results.json``, ``figures/benchmark.png``.

    python benchmarks/bench.py --devices
    python benchmarks/bench.py --networks 784-200-200 --update   # re-measure one network
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from .cells import ENGINES, EXAMPLES, HERE, NETWORKS, NOT_MEASURED, ROOT, run_cell, write


def run(
    quick=False,
    out=HERE / "results.json",
    figure=ROOT / "figures" / "benchmark.png",
    networks=None,
    engines=None,
    update=False,
):
    """``update``: re-measure only ``networks`` (every engine of a network in
    this one run) and keep the other networks' rows of ``out``."""
    rows = []
    for net in networks or NETWORKS:
        for engine in engines or ENGINES:
            if (net, engine) in NOT_MEASURED:
                continue
            n = EXAMPLES[(net, engine)][1 if quick else 0]
            print(f"{net:12s} {engine:24s} {n:>9,d} examples ...", end=" ", flush=True, file=sys.stderr)
            row, error = run_cell(["cell", net, engine, n])
            if error:
                rows.append({"network": net, "engine": engine, "error": error})
                print("failed:", error, file=sys.stderr)
                continue
            rows.append(row)
            print(f"{rows[-1]['examples_per_second']:>12,.0f} ex/s", file=sys.stderr)
    for row in rows:
        ref = next(
            (
                r
                for r in rows
                if r["network"] == row["network"] and r["engine"] == "numpy-reference" and "error" not in r
            ),
            None,
        )
        if ref and "error" not in row:
            row["ratio_to_reference"] = row["examples_per_second"] / ref["examples_per_second"]
    for row in rows:
        row["measured"] = time.strftime("%Y-%m-%d %H:%M")
    if update and Path(out).exists():
        kept = [
            r for r in json.loads(Path(out).read_text())["rows"] if r["network"] not in {x["network"] for x in rows}
        ]
        order = list(NETWORKS)
        rows = sorted(kept + rows, key=lambda r: (order.index(r["network"]), ENGINES.index(r["engine"])))
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": quick,
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }
    result = write(out, result)
    plot(result, figure)
    print(table(result))
    return result


def table(result) -> str:
    lines = [
        "| network | engine | examples/s | ratio to NumPy reference | set-up / compile s | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"| {r['network']} | {r['engine']} | failed: {r['error']} | | | |")
        else:
            lines.append(
                f"| {r['network']} | {r['engine']} | {r['examples_per_second']:,.0f} | "
                f"{r.get('ratio_to_reference', float('nan')):.2f}x | {r['setup_seconds']:.1f} | "
                f"{r['peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines)


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    nets = list(dict.fromkeys(r["network"] for r in result["rows"]))
    engines = list(dict.fromkeys(r["engine"] for r in result["rows"]))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(engines)
    for k, e in enumerate(engines):
        vals = [
            next(
                (
                    r.get("examples_per_second", np.nan)
                    for r in result["rows"]
                    if r["network"] == n and r["engine"] == e
                ),
                np.nan,
            )
            for n in nets
        ]
        ax.bar(np.arange(len(nets)) + k * width, vals, width, label=e)
    ax.set_xticks(np.arange(len(nets)) + width * (len(engines) - 1) / 2, nets)
    ax.set_yscale("log")
    ax.set_ylabel("training examples / s")
    ax.set_title(f"wake-sleep training throughput ({result['machine']['cpus']} cores, {result['date']})", fontsize=9)
    ax.legend(fontsize=7)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
