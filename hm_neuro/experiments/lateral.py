"""Beyond the factorial approximation: the bars with ordered lateral connections.

Hinton et al. (1995) call the factorial models "a potentially very serious
limitation"; Dayan (section 5) asks how to weaken them "without destroying
the simplicity of sampling from and learning the models".  Lateral
connections within a layer, fired in order (:mod:`hm_neuro.model.lateral`),
keep one-pass sampling and the local delta rule.  This experiment trains the
papers' 16-8-1 bars machine (:mod:`hm_neuro.experiments.bars`, the
``connections`` reading, 2e6 examples, one run per seed: the papers'
protocol) with and without them and counts the single runs that reach the
paper's 0.10 bits.

Settings (:data:`SETTINGS`; learning rates by note [15]'s rule: 0.2 for
connections that touch the input units, 0.001 for the others -- and, as a
control, the recognition ones at 0.2 too):

==================  ====================================================
factorial           the papers' machine
recognition         the first hidden layer's recognition model with lateral
                    connections (explaining away in Q), at 0.001
recognition-fast    the same at 0.2
generative          the input layer's generative model with lateral
                    connections (pixels predict later pixels), at 0.2
both                recognition (0.001) and generative (0.2)
factorial-upper-    the papers' machine with every rate note [15] puts at
fast                0.001 (away from the input) at 0.01: the top layer's
                    weights reach their final size only after ~1.5-2e6
                    examples at 0.001, long after the bars are assigned
both-upper-fast     both, the same way (the hidden lateral ones at 0.01)
==================  ====================================================

each with the papers' wake-sleep on the Brian2 circuit (cpp_standalone), or
with reweighted wake-sleep (``--rule reweighted:5``) on the vectorised
engine (the two give the same machines from the same seeds: the equivalence
tests).  Per setting: runs <= 0.10 bits with a Wilson 95 %
interval and Fisher's exact p against the factorial row, the median
KL(data || model) and KL(Q || P) penalty (paper 0.08 bits), and each failed
run's reading of its first hidden layer (:func:`code_of`: units coding one
bar, a cross, or something else).

Writes ``lateral[_<rule>][_<settings>].json``, ``...png`` (success rates)
and ``..._weights.png`` (the lateral weights of each setting's best run).

Run:  hm-neuro reproduce lateral [--settings factorial,both] [--rule reweighted:5] [--seeds 40]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plotting
from ..engines import CAPABILITIES, EngineOptions
from ..errors import HMError, bad
from ..files.model_io import save_json
from ..model import Parameters, Rule
from ..runs.runner import default_workers, run_tasks
from . import bars
from .rates import add_rates
from .settings import Common, resolve

SEEDS = 40
#: rate of lateral connections among hidden units (note [15]'s "other weights")
HIDDEN_RATE = 0.001
#: rate of lateral connections among the input units ("to and from the input units")
INPUT_RATE = 0.2
#: the upper layers' rate in the ``*-upper-fast`` settings: ten times note [15]'s 0.001
UPPER_RATE = 0.01
_BOTH = {"generative": {"0": {"learning_rate": INPUT_RATE}}, "recognition": {"1": {"learning_rate": HIDDEN_RATE}}}
#: name -> (lateral connections, the upper layers' learning rate or None for note [15]'s)
SETTINGS = {
    "factorial": (None, None),
    "recognition": ({"recognition": {"1": {"learning_rate": HIDDEN_RATE}}}, None),
    "recognition-fast": ({"recognition": {"1": {"learning_rate": INPUT_RATE}}}, None),
    "generative": ({"generative": {"0": {"learning_rate": INPUT_RATE}}}, None),
    "both": (_BOTH, None),
    "factorial-upper-fast": (None, UPPER_RATE),
    "both-upper-fast": (_BOTH, UPPER_RATE),
}
DEFAULT_SETTINGS = ("factorial", "recognition", "recognition-fast", "generative", "both")


def circuit_of(setting: str):
    """The bars circuit of a setting (:data:`SETTINGS`): its lateral
    connections, and with an upper rate every rate note [15] sets to 0.001
    (the weights and biases away from the input) at that rate instead, the
    lateral ones among hidden units included."""
    lateral, upper = SETTINGS[setting]
    c = bars.circuit_for("connections").replace(lateral=lateral)
    if upper is None:
        return c
    rates = {k: [upper if r == 0.001 else r for r in v] for k, v in c.learning_rates.items()}
    lateral = {
        pathway: {l: {**spec, "learning_rate": upper if spec["learning_rate"] == 0.001 else spec["learning_rate"]}}
        for pathway, table in (lateral or {}).items()
        for l, spec in table.items()
    }
    return c.replace(learning_rates=rates, lateral=lateral or None)


def code_of(params: Parameters, side: int = 4) -> list:
    """What each first-hidden unit codes, read from its generative weights to
    the input: the pixels above half its largest weight (and above 1) are
    ``"row i"`` / ``"column j"`` when they are one whole bar, ``"cross"``
    when they hold a whole row and a whole column, ``"-"`` when none is
    strong, else ``"other"``."""
    out = []
    for g in params.generative_weights[0]:
        strong = g.reshape(side, side) > max(1.0, 0.5 * g.max())
        rows = [i for i in range(side) if strong[i].all()]
        cols = [j for j in range(side) if strong[:, j].all()]
        n = int(strong.sum())
        if n == 0:
            out.append("-")
        elif len(rows) == 1 and not cols and n == side:
            out.append(f"row {rows[0]}")
        elif len(cols) == 1 and not rows and n == side:
            out.append(f"column {cols[0]}")
        elif rows and cols:
            out.append("cross")
        else:
            out.append("other")
    return out


def lateral_reading(params: Parameters, side: int = 4) -> dict:
    """What the lateral weights learned, as mean weights over kinds of pairs:
    recognition (first hidden layer) between units coding bars of the same
    orientation and of different orientations (:func:`code_of`; bars of
    different orientations never appear together, so the recognition model
    should make them exclude each other); generative (input) between pixels
    in one row, in one column, and in neither (the pairs connected)."""
    out = {}
    A = params.lateral.get(("recognition", 1))
    if A is not None:
        codes = code_of(params, side)
        kind = [c.split()[0] if c.startswith(("row", "column")) else None for c in codes]
        same, other = [], []
        for k, j in zip(*np.nonzero(params.lateral[("recognition", 1)] != 0)):
            if kind[k] and kind[j]:
                (same if kind[k] == kind[j] else other).append(A[k, j])
        out["recognition_same_orientation"] = float(np.mean(same)) if same else None
        out["recognition_other_orientation"] = float(np.mean(other)) if other else None
    A = params.lateral.get(("generative", 0))
    if A is not None:
        rows, cols = np.divmod(np.arange(side * side), side)
        pairs = {"row": [], "column": [], "neither": []}
        for k, j in zip(*np.nonzero(A)):
            key = "row" if rows[k] == rows[j] else "column" if cols[k] == cols[j] else "neither"
            pairs[key].append(A[k, j])
        names = {"row": "generative_same_row", "column": "generative_same_column", "neither": "generative_neither"}
        out.update({names[key]: float(np.mean(v)) if v else None for key, v in pairs.items()})
    return out


def _median_reading(readings: list) -> dict:
    keys = sorted({k for r in readings for k in r})
    return {k: float(np.median([r[k] for r in readings if r.get(k) is not None] or [np.nan])) for k in keys}


def _tasks(settings, seeds, examples, rule, engine, device) -> list:
    return bars.setting_tasks([(name, circuit_of(name)) for name in settings], seeds, examples, rule, engine, device)


def _row(name: str, results: list) -> tuple:
    """A setting's statistics and its best model."""
    circuit = circuit_of(name)
    ok = [r for r in results if r["row"]["status"] == "ok"]
    kls = np.array([r["row"]["kl_data_model_bits"] for r in ok])
    penalties = np.array([r["row"]["kl_q_p_bits"] for r in ok])
    models = [Parameters.from_arrays(r["model"], circuit) for r in ok]
    codes = [code_of(m) for m in models]
    failures = [
        {"seed": r["row"]["seed"], "kl_data_model_bits": float(kl), "first_hidden_layer": c}
        for r, kl, c in zip(ok, kls, codes)
        if kl > bars.PAPER_KL
    ]
    row = {
        "setting": name,
        "lateral": circuit.lateral.to_dict(),
        "learning_rates": {k: list(v) for k, v in circuit.learning_rates.items()},
        "seeds": len(results),
        "failed": len(results) - len(ok),
        "seeds_reaching_paper_kl": int(np.sum(kls <= bars.PAPER_KL)),
        "median_kl_data_model_bits": float(np.median(kls)) if len(kls) else None,
        "median_kl_q_p_bits": float(np.median(penalties)) if len(kls) else None,
        "median_kl_q_p_bits_of_successes": (
            float(np.median(penalties[kls <= bars.PAPER_KL])) if np.any(kls <= bars.PAPER_KL) else None
        ),
        "kl_data_model_bits": kls.tolist(),
        "kl_q_p_bits": penalties.tolist(),
        "seeds_of_kl": [r["row"]["seed"] for r in ok],
        "median_units_coding_one_bar": float(
            np.median([sum(x.startswith(("row", "column")) for x in c) for c in codes])
        )
        if codes
        else None,
        "median_lateral_reading": _median_reading([lateral_reading(m) for m in models]),
        "failures": failures,
        "failures_with_a_cross": sum("cross" in f["first_hidden_layer"] for f in failures),
    }
    best = int(np.argmin(kls)) if len(kls) else None
    return row, (None if best is None else (models[best], ok[best]["row"]))


def _weights_figure(shown: dict, path: Path):
    """The lateral weights (pre x post) of each setting's best run, the
    first hidden layer's units labelled by what they code."""
    plt = plotting._plt()
    panels = [(title, key, params) for title, params in shown.items() for key in sorted(params.lateral)]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.9), squeeze=False)
    for ax, (title, key, params) in zip(axes[0], panels):
        A = params.lateral[key]
        limit = max(float(np.abs(A).max()), 1e-9)
        im = ax.imshow(A, cmap="RdBu_r", vmin=-limit, vmax=limit)
        pathway, layer = key
        if pathway == "recognition" and layer == 1:
            labels = code_of(params)
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
            ax.set_yticks(range(len(labels)), labels, fontsize=6)
        else:  # units by their index
            ax.set_xticks(range(0, A.shape[1], 3))
            ax.set_yticks(range(0, A.shape[0], 3))
        ax.set_xlabel("to unit (post)", fontsize=7)
        ax.set_ylabel("from unit (pre)", fontsize=7)
        ax.set_title(f"{title}\n{pathway} lateral, layer {layer}", fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.7)
    fig.tight_layout()
    plotting.save(fig, path)


def _settings(settings) -> tuple:
    if settings is None:
        return DEFAULT_SETTINGS
    names = settings if isinstance(settings, (list, tuple)) else [x.strip() for x in str(settings).split(",")]
    for n in names:
        if n not in SETTINGS:
            raise bad("--settings", f"lateral takes settings from {list(SETTINGS)}", n)
    if len(set(names)) != len(names):
        raise bad("--settings", "names a setting twice", ",".join(names))
    return tuple(names)


def result_name(rule: Rule, settings: tuple, quick: bool) -> str:
    return (
        "lateral"
        + ("" if rule.is_default else "_" + rule.label.replace(":", ""))
        + ("" if settings == DEFAULT_SETTINGS else "_" + "-".join(settings))
        + ("_quick" if quick else "")
    )


@dataclass(frozen=True)
class Settings(Common):
    """The lateral experiment's settings (``hm-neuro reproduce lateral``; :func:`main`)."""

    seeds: int | None = None
    workers: int | None = None
    rule: str = "wake-sleep"
    settings: str | list | None = None


def main(given: Settings | None = None, /, **changes):
    """Every setting over seeds ``seed .. seed + seeds - 1`` (default
    :data:`SEEDS`), one run each, on the Brian2 circuit (cpp_standalone
    where a compiler exists; rules other than wake-sleep on the vectorised
    engine); ``quick``: 2 seeds of 2,000 examples on the vectorised engine
    (a smoke test of the code, not a result)."""
    s = resolve(Settings, given, changes)
    seeds, quick, out, workers, rule, engine = s.seeds, s.quick, s.out, s.workers, s.rule, s.engine
    device, seed, settings = s.device, s.seed, s.settings
    t0 = time.perf_counter()
    out = Path(out)
    rule = Rule.parse(rule)
    engine = engine or ("vectorised" if quick or not rule.is_default else "brian2")
    if engine not in CAPABILITIES or not CAPABILITIES[engine].lateral:
        raise bad("--engine", f"lateral connections run on {[n for n, c in CAPABILITIES.items() if c.lateral]}", engine)
    chosen = _settings(settings)
    examples = 2_000 if quick else bars.EXAMPLES
    seeds = seeds if seeds is not None else (2 if quick else SEEDS)
    tasks = _tasks(chosen, list(range(seed, seed + seeds)), examples, rule, engine, device)
    for t in tasks:
        t.check()
    results = run_tasks(tasks, workers=workers or default_workers(), desc=f"lateral {rule.label}")
    if all(r["row"]["status"] != "ok" for r in results):
        raise HMError(f"lateral: every training failed; first error: {results[0]['row'].get('error')}")
    table, shown = [], {}
    for i, name in enumerate(chosen):
        row, best = _row(name, results[i * seeds : (i + 1) * seeds])
        table.append(row)
        if best is not None and name != "factorial":
            params, best_row = best
            shown[f"{name}: seed {best_row['seed']}, KL {best_row['kl_data_model_bits']:.3f} bits"] = params
        kl = "-" if row["median_kl_data_model_bits"] is None else f"{row['median_kl_data_model_bits']:.3f}"
        print(
            f"{name:18s} {row['seeds_reaching_paper_kl']:>3d}/{seeds} runs <= {bars.PAPER_KL} bits, median KL {kl}, "
            f"median KL(Q||P) {row['median_kl_q_p_bits']:.3f}",
            file=sys.stderr,
        )
    add_rates(table, "factorial")
    name = result_name(rule, chosen, quick)
    summary = {
        "experiment": "lateral",
        "paper": "Hinton et al. (1995), Fig. 1 and note [15]; Dayan, section 5",
        "paper_kl_data_model_bits": bars.PAPER_KL,
        "paper_kl_q_p_bits": 0.08,
        "rule": rule.label,
        "engine": engine,
        "device": EngineOptions.of(engine, device=device).resolved_device,
        "examples": examples,
        "seeds": seeds,
        "first_seed": seed,
        "runs_per_seed": 1,
        "quick": quick,
        "rows": table,
        "seconds_total": time.perf_counter() - t0,
    }
    save_json(out / f"{name}.json", summary)
    title = f"bars, single runs ({rule.label}, {examples:,} examples)"
    plotting.save(plotting.success_rates(table, bars.PAPER_KL, title, baseline="factorial"), out / f"{name}.png")
    _weights_figure(shown, out / f"{name}_weights.png")
    print(f"-> {out / (name + '.json')}, {out / (name + '.png')}, {out / (name + '_weights.png')}")
    return summary
