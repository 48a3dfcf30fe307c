"""Brian2's per-code-object profile (``profile=True``) and the time per
machine-example of the main job's population on cpp_standalone: this tree
against another commit's (default: the last one before plasticity became a
declaration, issue 33), side by side in one run.

    python -m benchmarks.profile [--before REV] [--examples 2e5] [--rounds 3] -> benchmarks/profile.json

Each cell is a fresh process that imports hm_neuro from one tree (the other
tree is exported with ``git archive``) and trains the main job's population
-- the bars circuit, 15 machines (``hm-neuro reproduce bars`` trains two such
populations) -- on cpp_standalone.  Each tree has its own build cache, warmed
before any cell is timed, so no timed cell compiles.  Timing cells alternate
between the trees for ``rounds`` rounds and keep the best; the time is spent
inside the compiled binary's runs (the engine's ``train_chunk``).  One more
cell per tree is built and run with Brian2's profiling on (a build of its
own: profiling adds timers to every code object) and reports the seconds per
code object, summed over the chunks.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
#: the last commit before the plasticity declarations (c406582 "Models of your own, first part")
BEFORE = "c406582^"
MACHINES = 15

#: run in each cell's process: train the population, report the binary's time (and the profile)
CELL = r"""
import json, sys, time
args = json.loads(sys.argv[1])
from brian2.core.network import Network
import hm_neuro as hm
from hm_neuro.engines.brian2.engine import Brian2Engine
from hm_neuro.training import train_population

seconds, profile = [0.0], {}
if args["profile"]:
    run = Network.run
    def profiled(self, *a, **k):
        k["profile"] = True
        return run(self, *a, **k)
    Network.run = profiled
chunk = Brian2Engine.train_chunk
def timed(self, *a, **k):
    t0 = time.perf_counter()
    out = chunk(self, *a, **k)
    seconds[0] += time.perf_counter() - t0
    if args["profile"]:
        for name, t in self.net.network.profiling_info:
            profile[name] = profile.get(name, 0.0) + float(t)
    return out
Brian2Engine.train_chunk = timed
m = args["machines"]
train_population(hm.load_circuit("bars"), [hm.BarsStream() for _ in range(m)], args["examples"], list(range(m)),
                 "brian2", device="cpp_standalone", progress=False)
print(json.dumps({"seconds": seconds[0], "profile": profile, "hm_neuro": hm.__file__}))
"""


def export(rev: str, into: Path) -> Path:
    """The tree of commit ``rev`` in ``into`` (``git archive``)."""
    archive = into / "tree.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev], stdout=f, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as t:
        t.extractall(tree, filter="data")
    return tree


def cell(tree: Path, cache: Path, examples: int, profile: bool) -> dict:
    """One population trained in a fresh process importing hm_neuro from ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree), HM_NEURO_CACHE_DIR=str(cache))
    args = json.dumps({"machines": MACHINES, "examples": examples, "profile": profile})
    r = subprocess.run([sys.executable, "-c", CELL, args], capture_output=True, text=True, env=env, cwd=tree)
    if r.returncode != 0:
        raise SystemExit(f"a cell failed in {tree}: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if not out["hm_neuro"].startswith(str(tree)):
        raise SystemExit(f"the cell imported {out['hm_neuro']}, not the tree {tree}")
    return out


def main(before: str, examples: int, rounds: int, out: Path):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", before], capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory(prefix="hm_neuro_profile_") as tmp:
        tmp = Path(tmp)
        trees = {"before": export(before, tmp), "after": ROOT}
        caches = {(name, p): tmp / f"cache-{name}-{p}" for name in trees for p in (False, True)}
        for (name, p), cache in caches.items():  # warm every build: no timed cell compiles
            cell(trees[name], cache, 1000, p)
        best = {}
        for _ in range(rounds):
            for name, tree in trees.items():
                s = cell(tree, caches[(name, False)], examples, False)["seconds"]
                best[name] = min(best.get(name, float("inf")), s)
        profiles = {name: cell(tree, caches[(name, True)], examples, True)["profile"] for name, tree in trees.items()}
    per = {name: 1e6 * best[name] / (examples * MACHINES) for name in trees}
    result = {
        "command": "python -m benchmarks.profile"
        + ("" if before == BEFORE else f" --before {before}")
        + ("" if examples == 200_000 else f" --examples {examples:g}")
        + ("" if rounds == 3 else f" --rounds {rounds}"),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "before": {"rev": before, "commit": rev.stdout.strip()},
        "after": {"commit": head.strip()},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machines": MACHINES,
        "examples_per_machine": examples,
        "rounds": rounds,
        "microseconds_per_machine_example": per,
        "after_relative_to_before": per["after"] / per["before"],
        "profile_seconds": {name: dict(sorted(p.items(), key=lambda kv: -kv[1])) for name, p in profiles.items()},
    }
    sys.path.insert(0, str(ROOT))
    from hm_neuro.files.model_io import save_json

    save_json(out, result)
    print(
        f"before ({before}): {per['before']:.3f} us/machine-example; after: {per['after']:.3f} "
        f"({result['after_relative_to_before']:.3f}x)"
    )
    names = sorted(set(profiles["before"]) | set(profiles["after"]), key=lambda n: -profiles["after"].get(n, 0.0))
    print(f"{'code object':60s} {'before s':>9s} {'after s':>9s}")
    for n in names:
        print(f"{n:60s} {profiles['before'].get(n, 0.0):9.3f} {profiles['after'].get(n, 0.0):9.3f}")
    print(f"-> {out}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] + " " + __doc__.splitlines()[1])
    p.add_argument("--before", default=BEFORE, help=f"the commit to compare with; default {BEFORE}")
    p.add_argument("--examples", type=float, default=2e5, help="examples per machine (15 machines); default 2e5")
    p.add_argument("--rounds", type=int, default=3, help="timing rounds, the best kept; default 3")
    p.add_argument("--out", type=Path, default=HERE / "profile.json")
    a = p.parse_args()
    main(a.before, int(a.examples), a.rounds, a.out)
