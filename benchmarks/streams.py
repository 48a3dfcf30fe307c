"""The cost of the counter-based stream against the Mersenne twister, side by side in one run.

    python benchmarks/streams.py [--examples 2e6] [--rounds 2] -> benchmarks/streams.json

Each cell trains the 16-8-1 bars circuit on the compiled circuit
(cpp_standalone, build cache warmed first, so no cell compiles), as one
machine and as a population of 16, with ``rng='philox'`` and
``rng='mt19937'``, the cells alternated over ``rounds`` rounds; the time is
the training loop's (the engine's runs; not Python start-up) and the best
round is kept.  Examples per second count machine-examples.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import hm_neuro as hm
from hm_neuro.training import train_population

HERE = Path(__file__).parent


def cell(rng: str, machines: int, examples: int) -> float:
    circuit = hm.load_circuit("bars")
    t0 = time.perf_counter()
    train_population(
        circuit,
        [hm.BarsStream() for _ in range(machines)],
        examples,
        list(range(machines)),
        "brian2",
        device="cpp_standalone",
        progress=False,
        rng=rng,
    )
    return time.perf_counter() - t0


def main(examples: int, rounds: int, out: Path):
    cells = [(rng, m) for m in (1, 16) for rng in ("mt19937", "philox")]
    sizes = {m: examples if m == 1 else examples // 10 for m in (1, 16)}
    for rng, m in cells:  # warm the build cache (a build is per chunk length): no timed cell compiles
        cell(rng, m, sizes[m])
    best = {}
    for _ in range(rounds):
        for rng, m in cells:
            n = sizes[m]
            best[(rng, m)] = min(best.get((rng, m), float("inf")), cell(rng, m, n) / (n * m))
    rows = [
        {
            "rng": rng,
            "machines": m,
            "examples_per_machine": examples if m == 1 else examples // 10,
            "microseconds_per_machine_example": 1e6 * best[(rng, m)],
            "machine_examples_per_second": 1 / best[(rng, m)],
        }
        for rng, m in cells
    ]
    ratios = {f"philox_over_mt19937_x{m}": best[("philox", m)] / best[("mt19937", m)] for m in (1, 16)}
    result = {
        "command": f"python benchmarks/streams.py --examples {examples} --rounds {rounds}",
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": rows,
        "time_ratios": ratios,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(
            f"{r['rng']:8s} x{r['machines']:<3d} {r['microseconds_per_machine_example']:.3f} us/machine-example "
            f"({r['machine_examples_per_second']:,.0f}/s)"
        )
    print(ratios)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=float, default=2e6)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "streams.json")
    a = p.parse_args()
    main(int(a.examples), a.rounds, a.out)
