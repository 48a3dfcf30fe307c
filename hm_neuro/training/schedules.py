"""Learning schedules: epochs of wake-sleep, wake-only, sleep-only or frozen learning."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..checks import Integer
from ..errors import bad

#: learning gates (wake, sleep) of each kind of epoch
EPOCH_KINDS = {"wake-sleep": (1.0, 1.0), "wake": (1.0, 0.0), "sleep": (0.0, 1.0), "frozen": (0.0, 0.0)}
#: the most examples one training may ask for (a bound on schedules and counts)
MAX_EXAMPLES = 10**12


@dataclasses.dataclass(frozen=True)
class Epoch:
    examples: int
    kind: str = "wake-sleep"

    def __post_init__(self):
        if self.kind not in EPOCH_KINDS:
            raise bad("epoch kind", f"must be one of {list(EPOCH_KINDS)}", self.kind)
        object.__setattr__(self, "examples", Integer(1, MAX_EXAMPLES)(f"epoch '{self.kind}' examples", self.examples))


def parse_schedule(text: str) -> list:
    """``"wake-sleep:1000,wake:500,frozen:10"`` -> list of :class:`Epoch`."""
    epochs = []
    for part in text.split(","):
        kind, sep, count = part.strip().rpartition(":")
        if not sep:
            raise bad("schedule", "each epoch is KIND:EXAMPLES, e.g. wake-sleep:1000,wake:500", text)
        try:
            v = float(count)
        except ValueError:
            raise bad("schedule", f"epoch length {count!r} is not a number", text) from None
        if not (np.isfinite(v) and v == int(v) and 1 <= v <= MAX_EXAMPLES):
            raise bad("schedule", f"epoch length {count!r} must be a whole number in 1..{MAX_EXAMPLES:.0e}", text)
        n = int(v)
        epochs.append(Epoch(n, kind))
    return epochs


def schedule_gates(epochs, start: int, stop: int):
    """Per-example (wake_gate, sleep_gate) for examples ``start..stop-1``."""
    wake = np.empty(stop - start)
    sleep = np.empty(stop - start)
    pos = 0
    for ep in epochs:
        a, b = max(pos, start), min(pos + ep.examples, stop)
        if a < b:
            wake[a - start : b - start], sleep[a - start : b - start] = EPOCH_KINDS[ep.kind]
        pos += ep.examples
    return wake, sleep
