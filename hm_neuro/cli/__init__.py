"""The ``hm-neuro`` command line: one module per command (its options, its
help and what it runs), :mod:`.main` the parser and the entry point.

The CLI only parses, calls the library and prints.  Bad input prints one
line naming the problem on stderr and exits with status 2; no traceback,
and no output file is left behind (a command's outputs are one transaction).
"""

from .main import COMMANDS, build_parser, main
from .reproduce import load_experiment

__all__ = ["main", "build_parser", "COMMANDS", "load_experiment"]
