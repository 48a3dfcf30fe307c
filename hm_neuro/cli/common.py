"""What the commands share: counts such as 2e6, the parser that errs in one
line, the spiking engine's options and the options several commands take."""

from __future__ import annotations

import argparse
import math

from ..engines import capabilities
from ..errors import bad
from ..model import ESCAPES

#: --rng's help (train, reproduce)
RNG_HELP = (
    "uniform numbers of sampling: philox (counter-based, default: a machine's result depends on its seed "
    "alone, on every engine, device and population) or mt19937 (the generators of releases up to 0.2, to "
    "reproduce their results)"
)


def count(text: str) -> int:
    """Accept 2e6 as well as 2000000 for example counts."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v) or v != int(v) or not 0 <= v <= 1e12:
        raise argparse.ArgumentTypeError(f"must be a whole number in 0..1e12: {text!r}")
    return int(v)


#: the spiking engine's options: flag -> (type or choices, help); read by spiking_options
SPIKING_OPTIONS = {
    "--window": (float, "sampling window T of a layer, ms; default 1"),
    "--dt": (float, "clock step, ms (T a whole number of steps); default 0.1"),
    "--escape": (
        ESCAPES,
        "exact: P(spike in a step) = 1 - exp(-rho dt), a window fires with probability sigma(u); "
        "rate: Brian2's rand() < rho*dt; default exact",
    ),
    "--tau-syn": (float, "synaptic time constant, ms (0: instantaneous); default 0"),
    "--settle": (
        float,
        "a hold before every window and learning step in which the synaptic currents settle, ms "
        "(a whole number of steps); default 0",
    ),
    "--delay": (
        float,
        "axonal delay of a unit's state to its targets' synapses, ms (a whole number of steps); default 0",
    ),
}


def add_spiking_options(parser):
    """The options of :data:`SPIKING_OPTIONS`, in a group of their own."""
    sp = parser.add_argument_group("spiking engine (--engine spiking; the bridge limit: --escape exact --tau-syn 0)")
    for flag, (kind, text) in SPIKING_OPTIONS.items():
        sp.add_argument(flag, help=text, **({"type": kind} if callable(kind) else {"choices": kind}))


def spiking_options(args, circuit):
    """The spiking engine's parameters: the circuit's [dynamics] table, with
    --window, --dt, --escape, --tau-syn, --settle, --delay on top (None for
    the other engines, which refuse the options)."""
    given = {
        k: getattr(args, k)
        for k in ("window", "dt", "escape", "tau_syn", "settle", "delay")
        if getattr(args, k) is not None
    }
    if not capabilities(args.engine).spiking:
        if given:
            key = next(iter(given))
            raise bad(f"--{key.replace('_', '-')}", "applies to --engine spiking only", given[key])
        return None
    return circuit.spiking(**given)


class Parser(argparse.ArgumentParser):
    """Bad options: one line on stderr (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def add_p_vertical(parser, default=2 / 3):
    """``--p-vertical``: the bars distribution's probability of vertical bars."""
    help_text = "bars: probability of vertical bars; default 2/3"
    parser.add_argument("--p-vertical", type=float, default=default, help=help_text)


def add_quiet(parser):
    """``-q``: no progress bar."""
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
