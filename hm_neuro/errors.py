"""Errors raised by hm_neuro for bad input.

Every message names the parameter, key or file and the offending value, in the
form ``<what>: <problem> (got <value>)``, so that the command line can print it
as one line and tests can match on it.
"""


class HMError(ValueError):
    """Bad user input: a circuit, a data file, a model file or an option."""


def bad(what, problem, got=None):
    """Build an :class:`HMError` with the project's one message format."""
    msg = f"{what}: {problem}"
    if got is not None:
        msg += f" (got {got!r})"
    return HMError(msg)
