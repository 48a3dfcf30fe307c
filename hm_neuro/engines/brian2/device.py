"""Brian2's device and clocks, set up the same way in every process."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from pathlib import Path

from ... import interrupts

logger = logging.getLogger(__name__)

#: environment variable through which a compiled binary receives its seed
SEED_ENV = "HM_NEURO_SEED"


def compiler_available() -> bool:
    """Is there the compiler make will call (``$CXX``, else ``g++``)?"""
    import shlex

    try:
        words = shlex.split(os.environ.get("CXX") or "g++")
    except ValueError:
        return False
    return bool(words) and shutil.which(words[0]) is not None


def default_device() -> str:
    """The fastest device that works here, with a note when falling back."""
    if compiler_available():
        return "cpp_standalone"
    logger.warning("no C++ compiler found: using Brian2's numpy target (slow)")
    return "numpy"


#: event-driven propagation pays off from this many synapses per example
#: (benchmarks/bench.py: at 16-8-1 and 64-16-16-4 the extra event detectors
#: cost more than they save; at 784-200-200 events are several times faster)
@functools.cache
def _binary_command() -> tuple:
    """How Brian2 starts a compiled binary: under ``setpriv --pdeathsig TERM``
    where that works (Linux with util-linux >= 2.33), so the binary dies with
    the thread that started it.  Without it, a CLI or Dask worker killed by
    SIGTERM or SIGKILL left its ``./main`` running on as an orphan."""
    import subprocess
    import sys

    tool = shutil.which("setpriv")
    if tool and sys.platform.startswith("linux"):
        try:
            if subprocess.run([tool, "--pdeathsig", "TERM", "true"], capture_output=True, timeout=10).returncode == 0:
                return (tool, "--pdeathsig", "TERM", "./main")
        except (OSError, subprocess.SubprocessError):
            pass
    return ("./main",)


def make_command() -> str:
    """The shell command Brian2 builds with: make with Brian2's makefile,
    its code objects compiled as one source (:mod:`.unity`: ``unity.mk``),
    and ``build.mk`` (header dependencies from the compiles themselves, the
    arrays' source at -O0), after an empty ``make.deps`` is put where there
    is none, so that make does not preprocess every source to write it.  An
    existing ``make.deps`` is left as it is: a cached build stays up to date."""
    import shlex
    import sys

    here = Path(__file__).parent
    unity = f"{shlex.quote(sys.executable)} {shlex.quote(str(here / 'unity.py'))} ."
    return f"test -e make.deps || : > make.deps; {unity} && make -f unity.mk -f {shlex.quote(str(here / 'build.mk'))}"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def configure(device: str, cache_dir=None):
    import brian2 as b2

    b2.prefs.logging.file_log = False
    b2.prefs.logging.console_log_level = "WARNING"
    b2.prefs.logging.delete_log_on_exit = True
    if cache_dir is not None:
        b2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
    b2.prefs.codegen.runtime.cython.multiprocess_safe = True
    _quiet_brian2_hooks()
    # Brian2's device is global: start every engine from a clean one
    if device == "cpp_standalone":
        b2.device.reinit()
        b2.set_device("cpp_standalone", build_on_run=False)
        b2.prefs.devices.cpp_standalone.run_cmd_unix = list(_binary_command())
        # one compiler per core (Brian2's bare -j starts one per source file at once)
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{_cores()}"]
        b2.prefs.devices.cpp_standalone.make_cmd_unix = make_command()
    else:
        from brian2.devices.device import RuntimeDevice

        if not isinstance(b2.get_device(), RuntimeDevice):
            b2.device.reinit()
        b2.set_device("runtime")
        b2.prefs.codegen.target = device
        if device == "numpy":
            _numpy_functions_without_unit_wrappers()
    return b2


@functools.cache
def _numpy_functions_without_unit_wrappers():
    """Brian2's numpy target gives ``exp``, ``log`` and the like NumPy's own
    functions, but ``log1p`` and ``expm1`` (the spiking circuit's escape
    probability, eq. 1's log-sigmoid) go through its unit-checking wrapper,
    which formats the whole result array into an error message on every
    call, raised or not: a third of a spiking circuit's run on the numpy
    device.  They get NumPy's own, as ``exp`` has (the same values: the
    wrapper calls them; the units are checked when the code is generated).
    Process-wide, like Brian2's own table of them."""
    import numpy as np
    from brian2.core.functions import DEFAULT_FUNCTIONS

    for name in ("log1p", "expm1"):
        DEFAULT_FUNCTIONS[name].implementations.add_implementation("numpy", code=getattr(np, name))


def _quiet_brian2_hooks():
    """Undo what importing Brian2 installs process-wide: its SIGINT handler
    (:func:`hm_neuro.interrupts.reclaim_sigint`) and its ``sys.excepthook``,
    which would print Brian2's "please report this issue" banner for any
    uncaught error of the user's own code and keep its debug logs."""
    import sys

    from brian2.utils.logger import brian_excepthook

    interrupts.reclaim_sigint()
    if sys.excepthook is brian_excepthook:
        sys.excepthook = sys.__excepthook__


@functools.cache
def _stable_clock_class():
    import brian2 as b2

    class StableClock(b2.Clock):
        # Brian2 lets a class override its variables only through the class's own attributes
        dt, dt_ = b2.Clock.dt, b2.Clock.dt_

        def __hash__(self):
            return 0x5EED

    return StableClock


def stable_clock(dt, name: str):
    """A Brian2 ``Clock`` with the same hash in every process.

    The standalone device writes every clock's initialisation into
    ``main.cpp`` in the order of a *set* of clocks; with Brian2's identity
    hashes that order follows memory addresses, which change from process to
    process, so a cached build of a circuit with more than one clock (the
    example clock and the history monitors') had its ``main.cpp`` rewritten
    and recompiled on every new process.  These clocks all hash alike (their
    equality stays identity), so a set of them is laid out by the order of
    insertion alone -- Brian2's fixed order of the network's objects -- and
    every object of a circuit runs on one of them."""
    return _stable_clock_class()(dt=dt, name=name)


def terminate_children():
    """Stop this process's child processes (a compiled binary, make and its
    compilers) with SIGTERM: what a signal does to a running chunk or build
    (:mod:`hm_neuro.interrupts`).  Brian2 then sees its child end."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.terminate()
