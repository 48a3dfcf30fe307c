"""The parser of every command and the one entry point, ``main``: bad input
is one line and exit status 2, Ctrl-C and SIGTERM one line and 130 / 143."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .. import interrupts
from ..errors import HMError, bad
from ..files.model_io import transaction
from ..log import progress
from ..training import Interrupted
from . import animate, cache, check, evaluate, export, protocol, reproduce, sweep, train
from .common import Parser

#: every command: (function, the options it takes, its help), from its module
COMMANDS = {
    "train": train.COMMAND,
    "evaluate": evaluate.COMMAND,
    "protocol": protocol.COMMAND,
    "sweep": sweep.COMMAND,
    "reproduce": reproduce.COMMAND,
    "animate": animate.COMMAND,
    "cache": cache.COMMAND,
    "check": check.COMMAND,
    "export": export.COMMAND,
}


def build_parser():
    p = Parser(
        prog="hm-neuro",
        description="Helmholtz machines trained by wake-sleep learning (Hinton, Dayan, Frey & Neal 1995) "
        "as Brian2 circuits, with a NumPy reference.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name, (command, add_options, kwargs) in COMMANDS.items():
        parser = sub.add_parser(name, **kwargs)
        add_options(parser)
        parser.set_defaults(func=command)
    return p


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    given = _given_options(parser, argv, args.command)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in progress.handlers:
        handler.setFormatter(logging.Formatter("hm-neuro: %(message)s"))
    progress.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    if not args.verbose:
        for name in ("brian2", "py.warnings", "distributed"):
            logging.getLogger(name).setLevel(logging.ERROR)
    interrupts.reset()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _check_not_empty(args, given)
        with transaction():  # the command's outputs: all of them, or none new
            return args.func(args)
    except HMError as e:
        print(f"hm-neuro {args.command}: error: {_as_flag(str(e), args)}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"hm-neuro {args.command}: {e}", file=sys.stderr)
        return _interrupt_status()
    except KeyboardInterrupt:
        print(f"hm-neuro {args.command}: {_interrupt_name()}; nothing written", file=sys.stderr)
        return _interrupt_status()
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _on_sigterm(signum, frame):
    """SIGTERM (kill, systemd, batch schedulers) is handled as Ctrl-C: the
    training checkpoints where checkpointing is on, private run folders are
    removed, one line says what happened."""
    interrupts.received.append(signum)
    raise KeyboardInterrupt


def _interrupt_name() -> str:
    return "terminated (SIGTERM)" if signal.SIGTERM in interrupts.received else "interrupted"


def _interrupt_status() -> int:
    return 128 + signal.SIGTERM if signal.SIGTERM in interrupts.received else 130


def _given_options(parser, argv: list, command: str) -> set:
    """The destinations of the options given on this command line (not defaults)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    flags = {s: a.dest for a in sub._actions for s in a.option_strings}
    return {flags[w.split("=")[0]] for w in argv if w.split("=")[0] in flags}


def _check_not_empty(args, given: set):
    """An option given an empty value is an error, never "use the default"."""
    for key in sorted(given):
        value = getattr(args, key, None)
        if isinstance(value, str) and not value.strip():
            raise bad(f"--{key.replace('_', '-')}", "must not be empty", value)


def _as_flag(message: str, args) -> str:
    """Library errors name parameters (``schedule: ...``); on the command
    line, name the option that carries it (``--schedule: ...``).  An error
    about a value from a file or a grid is prefixed by its source
    (``sweep file s.toml: ...``, ``grid point p_vertical=2: ...``) and keeps it."""
    head, sep, rest = message.partition(":")
    key = head.strip()
    if sep and key.isidentifier() and hasattr(args, key) and key not in ("command", "func"):
        return f"--{key.replace('_', '-')}:{rest}"
    return message
