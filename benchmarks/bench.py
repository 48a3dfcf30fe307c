"""Training throughput, measured side by side in one run; no test asserts on these times.

One suite per module of this folder, the timing cells shared
(``benchmarks/cells.py``: each cell in a fresh process); every result JSON
names the command that wrote it:

    python benchmarks/bench.py                # the targets (issue 12) -> benchmarks/targets.json (~30 min)
    python benchmarks/bench.py --quick        # the same, small (a check that it runs)
    python benchmarks/bench.py --devices      # every engine and Brian2 device on every network
                                              #   -> benchmarks/results.json, figures/benchmark.png
    python benchmarks/bench.py --networks 784-200-200 --update   # re-measure one network of --devices
    python benchmarks/bench.py --memory       # peak RSS at 1e6 vs 1e7 bars examples -> benchmarks/memory.json
    python benchmarks/bench.py --protocol     # the bars protocol end to end -> benchmarks/protocol.json
    python benchmarks/bench.py --populations  # N machines at once, every engine -> benchmarks/populations.json
    python benchmarks/bench.py --overhead     # issue 24: main job time, first progress and disk, train,
                                              #   evaluate, compiles (precompiled header, ccache) -> overhead.json
    python benchmarks/bench.py --compile [--before REV]   # only the compile rows of --overhead (and of
                                              #   revision REV's hm_neuro, side by side) -> benchmarks/compile.json

Cython compiles ~40 code objects on a cold cache (minutes): the first run of
the cython column includes that in its set-up time, not in its throughput.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the benchmarks package, run as a script

from benchmarks import cells, devices, overhead, populations, protocol, targets  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--networks", nargs="*", choices=list(cells.NETWORKS))
    p.add_argument("--engines", nargs="*", choices=cells.ENGINES)
    p.add_argument(
        "--update", action="store_true", help="re-measure only --networks and keep the other rows of results.json"
    )
    p.add_argument("--memory", action="store_true", help="peak memory of 1e6 vs 1e7 bars examples instead")
    p.add_argument(
        "--protocol",
        action="store_true",
        help="the bars protocol end to end (clean build, cached build) vs the NumPy loop -> benchmarks/protocol.json",
    )
    p.add_argument(
        "--devices",
        action="store_true",
        help="every Brian2 device on every network -> benchmarks/results.json, figures/benchmark.png",
    )
    p.add_argument(
        "--populations",
        action="store_true",
        help="populations of machines: reference, vectorised NumPy, Brian2 -> benchmarks/populations.json",
    )
    p.add_argument(
        "--overhead",
        action="store_true",
        help="issue 24's rows: main job cold/warm (time, disk written), train warm, evaluate "
        "-> benchmarks/overhead.json",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="only --overhead's compile rows (one shape, each compile setting) -> benchmarks/compile.json",
    )
    p.add_argument("--before", metavar="REV", help="with --compile: the same rows of git revision REV first")
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    if a.overhead:
        overhead.run(quick=a.quick)
    elif a.compile:
        overhead.run_compile(before=a.before)
    elif a.populations:
        populations.run(quick=a.quick)
    elif a.protocol:
        print(json.dumps(protocol.run(), indent=1))
    elif a.memory:
        protocol.memory()
    elif a.devices or a.networks or a.engines:
        devices.run(quick=a.quick, networks=a.networks, engines=a.engines, update=a.update)
    else:
        targets.run(quick=a.quick)


if __name__ == "__main__":
    main()
