"""Learning rules on the bars problem, side by side: the papers' wake-sleep,
reweighted wake-sleep with K = 2, 5, 10 samples and the local variant
wake-sleep:S, each over the same seeds, one run per seed (the paper's
protocol, 2e6 examples).

Every rule's runs are ``hm-neuro reproduce bars --rule RULE --seeds N
--restarts 1`` (:mod:`hm_neuro.experiments.bars`), whose JSON this experiment
re-uses when it is already in ``out`` with the same seeds and examples (so a
rule measured on its own is not trained twice); ``--fresh`` re-trains all.
Writes ``rules.json`` (per rule: seeds <= 0.10 bits, median KL(data||model),
median KL(Q||P), seconds per run) and ``rules.png`` (the KL distribution per
rule).

Run:  hm-neuro reproduce rules [--seeds 40] [--quick]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plotting
from ..errors import bad
from ..files.model_io import save_json
from ..model import Rule
from . import bars
from .settings import resolve

RULES = ("wake-sleep", "wake-sleep:4", "reweighted:2", "reweighted:5", "reweighted:10")
SEEDS = 40


def _bars_name(rule: Rule, seeds: int, quick: bool) -> str:
    name = "bars" + ("" if rule.is_default else "_" + rule.label.replace(":", "")) + "_restarts1"
    return name + ("" if seeds == bars.SEEDS else f"_seeds{seeds}") + ("_quick" if quick else "")


def _stored_summary(path: Path):
    """A bars results file already in ``--out`` (re-used instead of training
    again), checked; None if there is none."""
    if not path.exists():
        return None
    where = f"results file {path}"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(where, f"cannot be read as JSON ({type(e).__name__}); delete it or pass --fresh") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("runs"), list):
        raise bad(
            where, "is not a bars results file (no list of 'runs'); delete it or pass --fresh", type(summary).__name__
        )
    for i, run in enumerate(summary["runs"]):
        ok = isinstance(run, dict) and isinstance(run.get("status"), str)
        if ok and run["status"] == "ok":
            ok = all(
                isinstance(run.get(k), (int, float)) and not isinstance(run.get(k), bool)
                for k in ("kl_data_model_bits", "kl_q_p_bits", "seconds")
            )
        if not ok:
            raise bad(
                where,
                f"run {i} is not a bars result (status, kl_data_model_bits, kl_q_p_bits, seconds); "
                "delete it or pass --fresh",
            )
    if not isinstance(summary.get("engine"), str):
        raise bad(where, "has no 'engine'; delete it or pass --fresh")
    return summary


@dataclass(frozen=True)
class Settings:
    """The rules experiment's settings (``hm-neuro reproduce rules``; :func:`main`)."""

    seeds: int | None = SEEDS
    quick: bool = False
    out: str | Path = "figures"
    workers: int | None = None
    fresh: bool = False
    rules: tuple = RULES
    engine: str | None = "brian2"


def main(given: Settings | None = None, /, **changes):
    """``engine``: where the papers' rule runs (the Brian2 circuit by
    default); every other rule runs on the vectorised NumPy engine."""
    s = resolve(Settings, given, changes)
    seeds, quick, out, workers, fresh, rules = s.seeds, s.quick, s.out, s.workers, s.fresh, s.rules
    engine = s.engine
    out = Path(out)
    if quick:
        seeds = min(seeds, 4)
        rules = ("wake-sleep", "reweighted:2")
    rows = []
    parsed = [Rule.parse(text) for text in rules]
    # every results file already in --out is read and checked before anything is trained
    stored = {r.label: None if fresh else _stored_summary(out / f"{_bars_name(r, seeds, quick)}.json") for r in parsed}
    for rule in parsed:
        path = out / f"{_bars_name(rule, seeds, quick)}.json"
        summary = stored[rule.label]
        if summary is None or summary.get("seeds") != seeds or summary.get("quick") != quick:
            summary = bars.main(
                seeds=seeds,
                quick=quick,
                out=out,
                restarts=1,
                rule=rule.label,
                workers=workers,
                engine=engine if rule.is_default else "vectorised",
            )
        runs = [r for r in summary["runs"] if r["status"] == "ok"]
        kls = np.array([r["kl_data_model_bits"] for r in runs])
        rows.append(
            {
                "rule": rule.label,
                "engine": summary["engine"],
                "seeds": seeds,
                "seeds_reaching_paper_kl": int(np.sum(kls <= bars.PAPER_KL)),
                "median_kl_data_model_bits": float(np.median(kls)),
                "median_kl_q_p_bits": float(np.median([r["kl_q_p_bits"] for r in runs])),
                "median_seconds_per_run": float(np.median([r["seconds"] for r in runs])),
                "kl_data_model_bits": kls.tolist(),
                "source": str(path),
            }
        )
    name = "rules_quick" if quick else "rules"
    save_json(
        out / f"{name}.json",
        {
            "experiment": "rules",
            "examples": 20_000 if quick else bars.EXAMPLES,
            "paper_kl_data_model_bits": bars.PAPER_KL,
            "rows": rows,
        },
    )

    plotting.save(
        plotting.kl_distributions({r["rule"]: r["kl_data_model_bits"] for r in rows}, bars.PAPER_KL),
        out / f"{name}.png",
    )
    for r in rows:
        print(
            f"{r['rule']:16s} {r['seeds_reaching_paper_kl']:>3d}/{seeds} seeds <= {bars.PAPER_KL}  median KL "
            f"{r['median_kl_data_model_bits']:.3f}  KL(Q||P) {r['median_kl_q_p_bits']:.3f}  "
            f"{r['median_seconds_per_run']:.0f} s/run ({r['engine']})"
        )
    print(f"-> {out / (name + '.json')}, {out / (name + '.png')}")
    return rows
