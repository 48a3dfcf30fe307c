"""Success rates over seeds, as the research experiments report them: each
setting's rate with its Wilson 95 % interval, and Fisher's exact test
against the experiment's baseline setting."""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple:
    """The Wilson score 95 % interval of a success rate."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def fisher_exact_p(a: int, n1: int, b: int, n2: int) -> float:
    """Two-sided Fisher's exact test of a / n1 against b / n2 successes (the
    tables no more likely than the observed one, summed)."""
    total, k = n1 + n2, a + b

    def prob(x):
        return math.comb(n1, x) * math.comb(n2, k - x) / math.comb(total, k)

    observed = prob(a)
    lo, hi = max(0, k - n2), min(k, n1)
    return min(1.0, sum(prob(x) for x in range(lo, hi + 1) if prob(x) <= observed * (1 + 1e-9)))


def add_rates(table: list, base: str):
    """Each row's ``success_rate`` (of ``seeds_reaching_paper_kl`` over
    ``seeds``), its Wilson interval and, but for the ``base`` setting's row,
    ``fisher_p_against_{base}``."""
    baseline = next((r for r in table if r["setting"] == base), None)
    for r in table:
        n, k = r["seeds"], r["seeds_reaching_paper_kl"]
        r["success_rate"] = k / n if n else None
        r["success_rate_interval_95"] = list(wilson_interval(k, n))
        if baseline is not None and r is not baseline:
            r[f"fisher_p_against_{base}"] = fisher_exact_p(k, n, baseline["seeds_reaching_paper_kl"], baseline["seeds"])
