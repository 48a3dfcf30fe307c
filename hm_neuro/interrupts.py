"""Ctrl-C and SIGTERM as a flag, raised at one safe point.

Python's own SIGINT handler raises ``KeyboardInterrupt`` at whatever
bytecode runs when the signal arrives.  Inside a weakref callback or a
``__del__`` (Brian2 runs several when its objects are released) the
exception is printed as "Exception ignored" and dropped: the training then
ran on to the end and exited 0.  While :func:`deferred` is active a signal
is only *recorded*: the stop hooks the running engine registered
(:func:`on_stop`: stop Brian2's ``Network``, terminate a compiled binary or
a compiler) are called, and the interrupt is raised by :func:`raise_pending`
at a point the caller chose (the training loop: after a chunk, before its
results are used), or when the context ends.  A failure the stop caused (a
killed binary, a killed compiler) is reported as the interrupt, not as
itself.  No signal is lost: every one received is kept in :data:`received`.
"""

from __future__ import annotations

import contextlib
import signal
import threading

#: every signal received (SIGINT, SIGTERM) since the last :func:`reset`; the CLI reads it for its exit status
received: list = []

_state = threading.local()
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def reset():
    received.clear()


def _active():
    return getattr(_state, "frame", None)


@contextlib.contextmanager
def deferred():
    """Signals recorded, not raised, for the duration (main thread only;
    elsewhere, or nested, a no-op).  On exit a pending signal is raised as
    ``KeyboardInterrupt``, and an exception raised after it (the stop's
    consequence) is replaced by it."""
    if threading.current_thread() is not threading.main_thread() or _active() is not None:
        yield
        return
    frame = _state.frame = {"pending": [], "hooks": []}

    def record(signum, _frame):
        frame["pending"].append(signum)
        received.append(signum)
        for hook in list(frame["hooks"]):
            try:
                hook()
            except Exception:  # a stop hook must never turn the signal into an error
                pass

    frame["handler"] = record
    previous = {s: signal.signal(s, record) for s in _SIGNALS}
    try:
        yield
    except Exception:
        if not frame["pending"]:
            raise
        raise KeyboardInterrupt from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _state.frame = None
    if frame["pending"]:
        raise KeyboardInterrupt


def reclaim_sigint():
    """After a library installed its own SIGINT handler (Brian2 does on
    import: Ctrl-C then only ends its current ``run()`` and Python carries
    on, which would save a half-trained model): the handler of
    :func:`deferred` where it is active, else Python's own (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        frame = _active()
        signal.signal(signal.SIGINT, frame["handler"] if frame is not None else signal.default_int_handler)


def pending() -> bool:
    """Has a signal arrived (inside :func:`deferred`)?"""
    frame = _active()
    return bool(frame and frame["pending"])


def raise_pending():
    """The safe point: raise ``KeyboardInterrupt`` if a signal arrived."""
    if pending():
        raise KeyboardInterrupt


@contextlib.contextmanager
def on_stop(hook):
    """Call ``hook()`` when a signal arrives during the block (at once, if
    one is already pending); the block then ends early and :func:`deferred`
    raises.  Outside :func:`deferred` (a script calling an engine directly)
    the block gets its own :func:`deferred`."""
    with deferred():
        frame = _active()
        if frame is None:  # not the main thread: signals are not ours to handle
            yield
            return
        frame["hooks"].append(hook)
        try:
            if frame["pending"]:
                hook()
            yield
        except Exception:
            if not frame["pending"]:
                raise
            raise KeyboardInterrupt from None  # the failure the stop caused (a killed binary or compiler)
        finally:
            frame["hooks"].remove(hook)
