"""Messages for a user waiting on a result ("compiling the circuit ...").

They go through the logger ``hm_neuro.progress``, which prints to stderr by
default (``hm_neuro: <message>``), in scripts and notebooks as on the command
line; ``logging.getLogger("hm_neuro.progress").setLevel(logging.WARNING)``
silences it (the CLI does so for ``-q``).
"""

from __future__ import annotations

import logging
import sys

progress = logging.getLogger("hm_neuro.progress")
if not progress.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("hm_neuro: %(message)s"))
    progress.addHandler(_handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
