"""The cost of a declared plasticity rule against the papers' hand-written
rule, side by side in one run (issue 33).

    python benchmarks/plasticity.py [--examples 2e6] [--rounds 2] -> benchmarks/plasticity.json

Each cell trains the 16-8-1 bars circuit on the compiled circuit
(cpp_standalone, the build cache warmed first, so no cell compiles), as one
machine and as a population of 15 (the main job's), with three rules: the
papers' delta rule on its hand-written code path, the same rule declared
(``weight = "s_pre*(s_post-p_post)"``: the declared code path, the same
numbers) and the shipped weight decay (``- lam * w``).  Cells alternate over
``rounds`` rounds and the best is kept; the time is the training loop's.
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
RULES = {
    "papers_rule_hand_written": None,
    "papers_rule_declared": hm.Plasticity(weight="s_pre*(s_post-p_post)", bias="s-p", name="delta rule, declared"),
    "weight_decay_declared": hm.load_circuit("bars_weight_decay").plasticity,
}


def cell(rule: str, machines: int, examples: int) -> float:
    circuit = hm.load_circuit("bars").replace(plasticity=RULES[rule])
    t0 = time.perf_counter()
    train_population(
        circuit,
        [hm.BarsStream() for _ in range(machines)],
        examples,
        list(range(machines)),
        "brian2",
        device="cpp_standalone",
        progress=False,
    )
    return time.perf_counter() - t0


def main(examples: int, rounds: int, out: Path):
    cells = [(rule, m) for m in (1, 15) for rule in RULES]
    sizes = {1: examples, 15: max(examples // 10, 1)}
    for rule, m in cells:  # warm the build cache: no timed cell compiles
        cell(rule, m, sizes[m])
    best = {}
    for _ in range(rounds):
        for rule, m in cells:
            n = sizes[m]
            best[(rule, m)] = min(best.get((rule, m), float("inf")), cell(rule, m, n) / (n * m))
    rows = [
        {
            "rule": rule,
            "machines": m,
            "examples_per_machine": sizes[m],
            "microseconds_per_machine_example": 1e6 * best[(rule, m)],
            "relative_to_hand_written": best[(rule, m)] / best[("papers_rule_hand_written", m)],
        }
        for rule, m in cells
    ]
    result = {
        "command": "python benchmarks/plasticity.py" + (f" --examples {examples:g}" if examples != 2_000_000 else ""),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "hm_neuro": hm.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "rows": rows,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(
            f"{r['rule']:26s} x{r['machines']:<3d} {r['microseconds_per_machine_example']:7.3f} us/machine-example "
            f"({r['relative_to_hand_written']:.2f}x the hand-written rule)"
        )
    print(f"-> {out}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=float, default=2e6, help="examples per machine of one machine; default 2e6")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "plasticity.json")
    a = p.parse_args()
    main(int(a.examples), a.rounds, a.out)
