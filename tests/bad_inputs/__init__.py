"""Bad input to every command of the CLI, one table per command, in one
module per command (as ``hm_neuro/cli/`` has one per command): ``TABLES``,
command -> [(id, setup writing the inputs into the folder or None,
arguments, stderr pattern[, environment])]; run by
``tests/test_bad_inputs.py``."""

from .animate import ANIMATE
from .cache import CACHE
from .check import CHECK
from .evaluate import EVALUATE
from .export import EXPORT
from .protocol import PROTOCOL
from .reproduce import REPRODUCE
from .sweep import SWEEP
from .train import TRAIN

TABLES = {
    "train": TRAIN,
    "evaluate": EVALUATE,
    "reproduce": REPRODUCE,
    "protocol": PROTOCOL,
    "sweep": SWEEP,
    "animate": ANIMATE,
    "cache": CACHE,
    "check": CHECK,
    "export": EXPORT,
}
