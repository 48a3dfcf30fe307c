"""``hm-neuro check``: the equivalence suite on this installation."""

from __future__ import annotations

import argparse

from ..engines import DEVICES
from ..errors import bad


def run(args):
    from ..check import run_checks

    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    if not devices:
        raise bad("--devices", "names no device", args.devices)
    for d in devices:
        if d not in DEVICES:
            raise bad("--devices", f"each must be one of {list(DEVICES)}", d)
    if "cpp_standalone" in devices:
        from ..engines.brian2.cache import check_cache, check_toolchain

        check_toolchain()
        check_cache()
    return 0 if run_checks(devices=devices, quick=args.quick) else 1


def add_options(k):
    k.add_argument(
        "--devices",
        default="numpy,cpp_standalone",
        help=f"comma-separated Brian2 devices of {list(DEVICES)}; default numpy,cpp_standalone",
    )
    k.add_argument("--quick", action="store_true", help="the 16-8-1 circuit only (about a minute)")


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="run the equivalence suite on this installation (Brian2, compiler, devices)",
        description="The Brian2 circuit held to the NumPy reference on this machine's Brian2, "
        "compiler and devices: sample for sample with shared uniform numbers, and in "
        "expectation (eqs. 4 and 7 by enumeration).  Prints a table; exit status 1 "
        "if any check fails.",
        epilog="examples:\n  hm-neuro check --quick                 # numpy and cpp_standalone, ~1 min\n"
        "  hm-neuro check --devices numpy,cython  # every check on two runtime targets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ),
)
