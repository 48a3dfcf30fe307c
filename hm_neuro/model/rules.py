"""Learning rules: the papers' wake-sleep and the variants beyond it.

``wake-sleep`` (the papers', the default)
    Hinton et al. (1995): the wake phase moves the generative weights toward
    one recognition sample (eq. 4), the sleep phase the recognition weights
    toward one fantasy (eq. 7).
``wake-sleep:S`` (a local variant: one sample per phase and unit)
    The papers' rule with ``S`` fantasies per sleep phase, each drawn
    top-down from the same weights and each moving the recognition weights by
    eq. 7: S dreams per day.
``reweighted:K`` (Bornschein & Bengio 2015, reweighted wake-sleep)
    ``K`` recognition samples ``h_k ~ Q(.|d)`` per wake phase, weighed by the
    normalised importance weights ``w_k = softmax_k(ln P(h_k, d) - ln Q(h_k|d))``
    (eqs. 2-3); the generative weights move by ``sum_k w_k`` times eq. 4 for
    ``h_k``, the recognition weights by the same weighted rule on real data
    (the "wake-phase Q update") and, by default, by eq. 7 in the sleep phase
    (``reweighted:K:wake`` leaves the sleep update out).  With K = 1 and no
    wake-phase Q update it is wake-sleep.

A rule is a declaration: the engines (:mod:`hm_neuro.engines`) implement it.
"""

from __future__ import annotations

import dataclasses

from ..errors import bad

#: most samples K of the reweighted rule (and fantasies S of wake-sleep:S)
MAX_SAMPLES = 1000


@dataclasses.dataclass(frozen=True)
class Rule:
    """A learning rule: ``wake-sleep`` or ``reweighted`` with ``samples`` = K."""

    name: str = "wake-sleep"
    samples: int = 1
    fantasies: int = 1  #: fantasies per sleep phase (wake-sleep:S)
    sleep_update: bool = True  #: eq. 7 in the sleep phase
    wake_update: bool = False  #: the weighted recognition update on real data (reweighted)

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``wake-sleep``, ``reweighted:K`` or ``reweighted:K:wake`` (no sleep-phase Q update)."""
        if isinstance(text, Rule):
            return text
        parts = str(text).split(":")
        if parts[0] == "wake-sleep" and len(parts) == 1:
            return cls()
        if parts[0] == "wake-sleep" and len(parts) == 2:
            try:
                f = int(parts[1])
            except ValueError:
                raise bad(
                    "rule", "S of wake-sleep:S must be a whole number of fantasies, e.g. wake-sleep:4", text
                ) from None
            if not 1 <= f <= MAX_SAMPLES:
                raise bad("rule", f"S of wake-sleep:S must be in 1..{MAX_SAMPLES}", text)
            return cls(fantasies=f)
        if parts[0] == "reweighted" and len(parts) in (2, 3):
            try:
                k = int(parts[1])
            except ValueError:
                raise bad("rule", "K of reweighted:K must be a whole number, e.g. reweighted:5", text) from None
            if not 1 <= k <= MAX_SAMPLES:
                raise bad("rule", f"K of reweighted:K must be in 1..{MAX_SAMPLES}", text)
            if len(parts) == 3 and parts[2] != "wake":
                raise bad("rule", "the only option of reweighted:K is ':wake' (no sleep-phase update)", text)
            return cls("reweighted", k, sleep_update=len(parts) == 2, wake_update=True)
        raise bad(
            "rule",
            "must be wake-sleep, wake-sleep:S (S fantasies), reweighted:K or reweighted:K:wake "
            "(K samples, e.g. reweighted:5)",
            text,
        )

    @property
    def label(self) -> str:
        if self.name == "wake-sleep":
            return "wake-sleep" + (f":{self.fantasies}" if self.fantasies > 1 else "")
        return f"reweighted:{self.samples}" + ("" if self.sleep_update else ":wake")

    @property
    def is_default(self) -> bool:
        return self == Rule()


WAKE_SLEEP = Rule()
