"""N machines of one shape trained at once, every engine, alternated round
by round -> ``benchmarks/populations.json``.

    python benchmarks/bench.py --populations
"""

from __future__ import annotations

import os
import sys
import time

from .cells import HERE, POPULATION_ENGINES, POPULATIONS, REFERENCE_FRACTION, run_cell, write


def run(quick=False, rounds=2, out=HERE / "populations.json"):
    """Every population engine, each cell in its own process, alternating
    engine by engine for ``rounds`` rounds (the best round is kept), so that
    every ratio compares numbers measured minutes apart in this one run."""
    rows = []
    for net, N, ns in POPULATIONS:
        best = {}
        for rnd in range(rounds):
            for engine in POPULATION_ENGINES:
                n = ns[1 if quick else 0]
                row, error = run_cell(["population", net, engine, N, n])
                if error:
                    row = {"network": net, "engine": engine, "machines": N, "error": error}
                print(
                    f"{net} x{N} {engine:24s} round {rnd + 1}: "
                    f"{row.get('machine_examples_per_second', float('nan')):>12,.0f} machine-ex/s",
                    file=sys.stderr,
                )
                old = best.get(engine)
                if (
                    old is None
                    or "error" in old
                    or row.get("machine_examples_per_second", 0) > old.get("machine_examples_per_second", 0)
                ):
                    best[engine] = row
        ref, vec = best["numpy-reference"], best["vectorised"]
        for row in best.values():
            if "error" not in row:
                if "error" not in ref:
                    row["ratio_to_reference"] = row["machine_examples_per_second"] / ref["machine_examples_per_second"]
                if "error" not in vec:
                    row["ratio_to_vectorised"] = row["machine_examples_per_second"] / vec["machine_examples_per_second"]
            rows.append(row)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "quick": quick,
        "reference_fraction": REFERENCE_FRACTION,
        "rows": rows,
    }
    result = write(out, result)
    for row in rows:
        print(
            f"{row['network']:11s} x{row['machines']:<3d} {row['engine']:24s} "
            + (
                f"{row['machine_examples_per_second']:>11,.0f} machine-ex/s  "
                f"{row['examples_per_second_per_machine']:>9,.0f} /machine"
                f"  x{row.get('ratio_to_reference', float('nan')):.1f} ref"
                f"  x{row.get('ratio_to_vectorised', float('nan')):.1f} vec"
                f"  setup {row['setup_seconds']:.1f} s  cached {row['cached_setup_seconds'] or 0:.1f} s"
                f"  {row['peak_rss_mb']:.0f} MB"
                if "error" not in row
                else "failed: " + row["error"]
            )
        )
    return result
