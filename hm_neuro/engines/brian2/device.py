"""Brian2's device and clocks, set up the same way in every process."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import signal
import threading

logger = logging.getLogger(__name__)

#: environment variable through which a compiled binary receives its seed
SEED_ENV = "HM_NEURO_SEED"


def compiler_available() -> bool:
    return shutil.which(os.environ.get("CXX", "g++")) is not None or shutil.which("c++") is not None


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
    _restore_default_sigint()
    # Brian2's device is global: start every engine from a clean one
    if device == "cpp_standalone":
        b2.device.reinit()
        b2.set_device("cpp_standalone", build_on_run=False)
        b2.prefs.devices.cpp_standalone.run_cmd_unix = list(_binary_command())
        # one compiler per core (Brian2's bare -j starts one per source file at once)
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{_cores()}"]
    else:
        from brian2.devices.device import RuntimeDevice

        if not isinstance(b2.get_device(), RuntimeDevice):
            b2.device.reinit()
        b2.set_device("runtime")
        b2.prefs.codegen.target = device
    return b2


def _restore_default_sigint():
    """Brian2 installs a SIGINT handler on import that turns Ctrl-C into "stop
    the current run() early" and lets Python carry on, which would save a
    half-trained model.  Put Python's own handler back (main thread only):
    Ctrl-C then raises KeyboardInterrupt, which training turns into a
    checkpoint at the last complete chunk."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


@contextlib.contextmanager
def interrupts_stop_the_binary():
    """Ctrl-C or SIGTERM while a compiled binary runs: the binary is stopped
    (SIGTERM to this process's children), Brian2 sees it end, and the
    interrupt is raised once Brian2 is done with it.  Raised at once instead,
    it can land while Brian2 starts the binary, between ``fork`` and the
    bookkeeping that would stop it again -- and the binary then runs on
    with its run arguments deleted under it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []

    def stop(signum, frame):
        pending.append(signum)
        import psutil

        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                child.terminate()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except Exception:
        if not pending:
            raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if pending:
        handler = previous[pending[0]]
        if callable(handler):
            handler(pending[0], None)  # the CLI's SIGTERM handler, Python's KeyboardInterrupt
        raise KeyboardInterrupt
