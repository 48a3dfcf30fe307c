"""Does wake-sleep learn with synapses of finite precision?

The bars problem (Hinton et al. 1995, Fig. 1; :mod:`hm_neuro.experiments.bars`,
one run per seed, 2e6 examples) with every weight of both pathways on a grid
of 2, 3, 4, 4.7 (26 levels: Bartol et al. 2015's estimate for a hippocampal
synapse), 6, 8, 12 and 16 bits over [-16, 16] (float64 weights of the bars
machine reach ~18; :mod:`hm_neuro.model.precision`), each update rounded to
the nearest level or stochastically; the biases stay float64 here (they are
not synapses), and the ``loihi`` preset (8-bit weights, 13-bit biases, a
shared exponent per synapse set, stochastic rounding) is one more row.
float64 runs of the same seeds are the baseline.

Writes ``precision.json`` (``precision_<rule>`` for another rule; per
setting: seeds <= 0.10 bits, median KL(data||model), every seed's KL, the
fraction of weights at a saturated level and of the input layer's updates
below half a step), ``precision.png`` (KL against bits, nearest and
stochastic, with the float64 median and the paper's 0.10 bits as lines) and
``precision_weights.png`` (generative weights of the best 4.7-bit
stochastic run beside the best float64 one).  ``--digits`` adds the
digits classification error at 4.7 and 8 bits (stochastic) against float64
on the same split (:mod:`hm_neuro.experiments.digits`).

Run:  hm-neuro reproduce precision [--seeds 10] [--rule reweighted:5] [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import plotting
from ..errors import HMError
from ..files.model_io import save_json
from ..model import EXACT, PRESETS, Grid, Parameters, Plasticity, Precision, Rule, load_circuit
from ..runs.runner import default_workers, run_tasks
from . import bars
from . import digits as digits_experiment
from .rates import add_rates
from .settings import Common, resolve
from .synapses import (  # noqa: F401 - the synapse models, read here by their old names too
    BF_CAPACITY,
    BF_COUPLING,
    EXPRESSED_BITS,
    PER_LAYER_RANGES,
    WEIGHT_RANGE,
    benna_fusi,
    contacts,
    grid_precision,
    hidden_accumulator,
    per_layer_precision,
)

BITS = (2, 3, 4, 4.7, 6, 8, 12, 16)
ROUNDINGS = ("nearest", "stochastic")
SEEDS = 10
#: the settings of the weights figure and of the digits rows
SHOWN_BITS = 4.7
DIGITS_BITS = (4.7, 8)


def per_layer_settings() -> list:
    """float64, the 4.7-bit grid over [-16, 16] and 4.7-bit grids per layer (stochastic rounding)."""
    return [
        ("float64", None, "exact", EXACT),
        ("4.7-bit stochastic", 4.7, "stochastic", grid_precision(4.7, "stochastic")),
        ("4.7-bit per-layer stochastic", 4.7, "stochastic", per_layer_precision(4.7, "stochastic")),
    ]


#: the plain grids between 8 and 12 bits (``--settings threshold``)
THRESHOLD_BITS = (8, 9, 10, 11)


class Setting(NamedTuple):
    """A row of the experiment: what the synapses are and how they learn."""

    label: str
    #: the bits of the expressed weight (None: float64)
    bits: float | None
    rounding: str
    precision: Precision
    #: a declared synapse model (None: the papers' rule)
    plasticity: Plasticity | None = None
    #: the total bits of synaptic state per synapse
    state_bits: float = 64
    #: the weights' learning rates times this (a control)
    rate_scale: float = 1.0


def hidden_state_settings() -> list:
    """float64; 26 expressed levels per layer (stochastic, no hidden state);
    and 26 expressed levels with a hidden value of 8, 12 bits or float64,
    or as 4 contacts."""
    return [
        Setting("float64", None, "exact", EXACT, None, 64),
        Setting("4.7-bit per-layer", 4.7, "stochastic", per_layer_precision(4.7, "stochastic"), None, 4.7),
        Setting("8-bit hidden", 4.7, "stochastic", EXACT, hidden_accumulator(8), 8),
        Setting("12-bit hidden", 4.7, "stochastic", EXACT, hidden_accumulator(12), 12),
        Setting("float64 hidden", 4.7, "stochastic", EXACT, hidden_accumulator(None), 64),
        Setting("4 contacts", 4.7, "stochastic", EXACT, contacts(4), 4 * 4.7),
    ]


def mechanism_settings() -> list:
    """float64; Benna-Fusi chains of 8 and 12 bits; 2 and 8 contacts; and
    the plain 4.7-bit per-layer grid with the weights' learning rates x0.1
    and x5 (the control: is the rate the lever?)."""
    plain = per_layer_precision(4.7, "stochastic")
    return [
        Setting("float64", None, "exact", EXACT, None, 64),
        Setting("Benna-Fusi 8 bits", 4.7, "stochastic", EXACT, benna_fusi(8), 8),
        Setting("Benna-Fusi 12 bits", 4.7, "stochastic", EXACT, benna_fusi(12), 12),
        Setting("2 contacts", 4.7, "stochastic", EXACT, contacts(2), 2 * 4.7),
        Setting("8 contacts", 4.7, "stochastic", EXACT, contacts(8), 8 * 4.7),
        Setting("4.7-bit per-layer, rates x0.1", 4.7, "stochastic", plain, None, 4.7, 0.1),
        Setting("4.7-bit per-layer, rates x5", 4.7, "stochastic", plain, None, 4.7, 5.0),
    ]


def threshold_settings() -> list:
    """float64 and the one [-16, 16] grid at 8, 9, 10 and 11 bits (stochastic):
    where between 8 and 12 bits the papers' rule starts to learn."""
    return [Setting("float64", None, "exact", EXACT, None, 64)] + [
        Setting(f"{b}-bit stochastic", b, "stochastic", grid_precision(b, "stochastic"), None, b)
        for b in THRESHOLD_BITS
    ]


#: ``--settings``: which rows a run measures
SETTING_SETS = ("default", "per-layer", "hidden-state", "mechanisms", "threshold", "digits")


def settings(bits=BITS, roundings=ROUNDINGS) -> list:
    """(label, bits or None, rounding, Precision) of every row: float64, the grids, loihi."""
    rows = [("float64", None, "exact", EXACT)]
    rows += [(f"{b:g}-bit {r}", b, r, grid_precision(b, r)) for r in roundings for b in bits]
    return rows + [("loihi", 8, "stochastic", PRESETS["loihi"])]


def _lost_fraction(grid: Grid | None, rate: float) -> float:
    """The share of the input layer's possible updates eps * |s - p| (|s - p|
    uniform in [0, 1]) that nearest rounding loses: those below half a step."""
    if grid is None:
        return 0.0
    return float(min(1.0, grid.step / 2 / rate))


def _saturated(params: Parameters, precision: Precision) -> float:
    """The fraction of weights at their grid's lowest or highest level (weights kept >= 0 at 0 do not count)."""
    at, total = 0, 0
    for name in ("generative_weights", "recognition_weights"):
        for k, w in enumerate(getattr(params, name)):
            g = precision.grid(name, k)
            if g is None:
                continue
            lo, hi = g.bounds()
            at += int(np.sum((w <= lo) | (w >= hi)))
            total += w.size
    return at / total if total else 0.0


def _machine(row: Setting):
    """The bars circuit of a row: its precision, synapse model and (scaled) weights' learning rates."""
    circuit = bars.circuit_for("connections")
    changes = {"precision": row.precision, "plasticity": row.plasticity}
    if row.rate_scale != 1.0:
        rates = circuit.learning_rates
        changes["learning_rates"] = {
            k: tuple(row.rate_scale * x for x in rates[k]) for k in ("generative_weights", "recognition_weights")
        }
    return circuit.replace(**changes)


def _tasks(rows, seeds, examples, rule, engine, device):
    circuits = [(row.label, _machine(row)) for row in rows]
    return bars.setting_tasks(circuits, seeds, examples, rule, engine, device)


def _row(label, bits, rounding, precision, results, circuit) -> dict:
    ok = [r for r in results if r["row"]["status"] == "ok"]
    kls = np.array([r["row"]["kl_data_model_bits"] for r in ok])
    models = [Parameters.from_arrays(r["model"], circuit) for r in ok]
    rate = circuit.learning_rates["generative_weights"][0]
    return {
        "setting": label,
        "bits": bits,
        "levels": None if bits is None else int(round(2.0**bits)),
        "rounding": rounding,
        "step": None
        if precision.grid("generative_weights", 0) is None
        else precision.grid("generative_weights", 0).step,
        "precision": precision.to_dict() if not precision.exact else "float64",
        "seeds": len(results),
        "failed": len(results) - len(ok),
        "seeds_reaching_paper_kl": int(np.sum(kls <= bars.PAPER_KL)),
        "median_kl_data_model_bits": float(np.median(kls)) if len(kls) else None,
        "kl_data_model_bits": kls.tolist(),
        "seeds_of_kl": [r["row"]["seed"] for r in ok],
        "median_saturated_weights": float(np.median([_saturated(m, precision) for m in models])) if models else None,
        "input_updates_lost_to_nearest": (
            _lost_fraction(precision.grid("generative_weights", 0), rate) if rounding == "nearest" else 0.0
        ),
        "upper_updates_lost_to_nearest": (
            _lost_fraction(precision.grid("generative_weights", 1), circuit.learning_rates["generative_weights"][1])
            if rounding == "nearest"
            else 0.0
        ),
    }


def _failure_modes(results, circuit) -> dict:
    """How many runs of a row end in each :func:`hm_neuro.experiments.bars.failure_mode`."""
    counts = {mode: 0 for mode in bars.FAILURE_MODES}
    for r in results:
        if r["row"]["status"] == "ok":
            params = Parameters.from_arrays(r["model"], circuit)
            counts[bars.failure_mode(params, r["row"]["kl_data_model_bits"])] += 1
    return counts


def _best_model(results, circuit):
    ok = [r for r in results if r["row"]["status"] == "ok"]
    if not ok:
        return None, None
    best = min(ok, key=lambda r: r["row"]["kl_data_model_bits"])
    return Parameters.from_arrays(best["model"], circuit), best["row"]


def _weights_figure(shown: dict, path: Path):
    """Fig. 1c's generative weights of the best run of each shown setting, one row each."""
    plt = plotting._plt()
    fig = plt.figure(figsize=(11.5, 2.1 * len(shown)))
    for i, (title, params) in enumerate(shown.items()):
        sub = plotting.bars_generative_weights(params)
        sub.canvas.draw()
        ax = fig.add_subplot(len(shown), 1, i + 1)
        ax.imshow(np.asarray(sub.canvas.buffer_rgba()))
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
        plt.close(sub)
    fig.tight_layout()
    plotting.save(fig, path)


def result_name(rule: Rule, engine: str, quick: bool) -> str:
    """``precision[_<rule>][_<engine>][_quick]``: the rule and the engine
    named where they are not the defaults (wake-sleep; brian2, or
    vectorised for ``quick``), so runs of other settings never share a file."""
    default_engine = "vectorised" if quick else "brian2"
    return (
        "precision"
        + ("" if rule.is_default else "_" + rule.label.replace(":", ""))
        + ("" if engine == default_engine else "_" + engine)
        + ("_quick" if quick else "")
    )


def _rows_of(chosen: str, quick: bool) -> list:
    """The :class:`Setting` of every row of a setting set."""
    if chosen == "hidden-state":
        return hidden_state_settings()
    if chosen == "mechanisms":
        return mechanism_settings()
    if chosen == "threshold":
        return threshold_settings()
    rows = per_layer_settings() if chosen == "per-layer" else settings(DIGITS_BITS) if quick else settings()
    return [Setting(*r, None, r[1] or 64) for r in rows]


def _table(rows, results, seeds: int, chosen: str) -> tuple:
    """Every row's statistics (printed as they come) and the best model of the rows shown as weights."""
    table, shown = [], {}
    for i, setting in enumerate(rows):
        label, bits, rounding, precision, plasticity, state_bits, scale = setting
        mine = results[i * seeds : (i + 1) * seeds]
        machine = _machine(setting)
        row = _row(label, bits, rounding, precision, mine, machine)
        row["synapse_model"] = None if plasticity is None else plasticity.to_dict()
        row["state_bits_per_synapse"] = state_bits
        row["weight_rate_scale"] = scale
        row["failure_modes"] = _failure_modes(mine, machine)
        table.append(row)
        shown_labels = ("float64", f"{SHOWN_BITS:g}-bit stochastic", f"{SHOWN_BITS:g}-bit per-layer stochastic")
        if label in shown_labels or (chosen in ("hidden-state", "mechanisms") and "per-layer" not in label):
            params, best = _best_model(mine, machine)
            if params is not None:
                shown.setdefault(
                    label,
                    (
                        f"{label}: best of {seeds} seeds (seed {best['seed']}, "
                        f"KL {best['kl_data_model_bits']:.3f} bits)",
                        params,
                    ),
                )
        kl = "-" if row["median_kl_data_model_bits"] is None else f"{row['median_kl_data_model_bits']:.3f}"
        print(
            f"{label:22s} {row['seeds_reaching_paper_kl']:>3d}/{seeds} seeds <= {bars.PAPER_KL} bits, median KL {kl}"
            + (f", {row['failed']} failed" if row["failed"] else ""),
            file=sys.stderr,
        )
    return table, shown


@dataclass(frozen=True)
class Settings(Common):
    """The precision experiment's settings (``hm-neuro reproduce precision``; :func:`main`)."""

    seeds: int | None = None
    workers: int | None = None
    rule: str = "wake-sleep"
    digits: bool = False
    settings: str | list | None = None


def main(given: Settings | None = None, /, **changes):
    """Every setting of :func:`settings` over seeds ``seed .. seed + seeds - 1``
    (default :data:`SEEDS`) on the Brian2 circuit; ``quick``: 4.7 and 8
    bits, 2 seeds unless ``seeds`` says otherwise, 2,000 examples on the
    vectorised engine (a smoke test of the code, not a result).
    ``digits``: add :func:`digits_rows`.  ``settings``: ``default`` (the
    rows of :func:`settings`), ``per-layer`` (:func:`per_layer_settings`:
    float64, one 4.7-bit grid and 4.7-bit grids per layer) or
    ``hidden-state`` (:func:`hidden_state_settings`: 26 expressed levels
    per layer with a hidden value or as contacts, declared synapse models).  Every row
    reports its success rate with a Wilson 95 % interval and Fisher's exact
    p against float64 of the same run.  Every setting is checked before
    any work as ``hm-neuro train`` checks it; a run in which every training
    fails writes nothing and raises."""
    s = resolve(Settings, given, changes)
    seeds, quick, out, workers, rule, engine = s.seeds, s.quick, s.out, s.workers, s.rule, s.engine
    device, seed, digits, settings = s.device, s.seed, s.digits, s.settings
    t0 = time.perf_counter()
    out = Path(out)
    rule = Rule.parse(rule)
    engine = engine or ("vectorised" if quick else "brian2")
    examples = 2_000 if quick else bars.EXAMPLES
    seeds = seeds if seeds is not None else (2 if quick else SEEDS)
    chosen = _setting_set(settings)
    if chosen == "digits":
        return _digits_only(quick, out, workers, t0)
    rows = _rows_of(chosen, quick)
    seed_list = list(range(seed, seed + seeds))
    tasks = _tasks(rows, seed_list, examples, rule, engine, device)
    results = run_tasks(tasks, workers=workers or default_workers(), desc=f"precision {rule.label}")
    if all(r["row"]["status"] != "ok" for r in results):
        raise HMError(f"precision: every training failed; first error: {results[0]['row'].get('error')}")
    table, shown = _table(rows, results, seeds, chosen)
    name = result_name(rule, engine, quick) + ("" if chosen == "default" else "_" + chosen)
    add_rates(table, "float64")
    learned = [
        r["bits"]
        for r in table
        if r["rounding"] == "stochastic" and r["setting"] != "loihi" and r["seeds_reaching_paper_kl"] > seeds / 2
    ]
    summary = {
        "experiment": "precision",
        "paper_kl_data_model_bits": bars.PAPER_KL,
        "rule": rule.label,
        "engine": engine,
        "examples": examples,
        "seeds": seeds,
        "first_seed": seed,
        "quick": quick,
        "weight_range": list(WEIGHT_RANGE),
        "biases": "float64 (the loihi row: 13-bit)",
        "fewest_stochastic_bits_learning_in_a_majority": min(learned) if learned else None,
        "settings": chosen,
        "rows": table,
    }
    if chosen in ("per-layer", "hidden-state", "mechanisms"):
        summary["per_layer_ranges"] = {k: [list(r) for r in v] for k, v in PER_LAYER_RANGES.items()}
    if digits:
        summary["digits_error"] = digits_rows(quick, out, workers, hidden=chosen in ("hidden-state", "mechanisms"))
    summary["seconds_total"] = time.perf_counter() - t0
    save_json(out / f"{name}.json", summary)
    title = f"bars ({rule.label}, {examples:,} examples)"
    figure = plotting.precision_figure if chosen == "default" else plotting.success_rates
    plotting.save(figure(table, bars.PAPER_KL, title), out / f"{name}.png")
    if shown:
        _weights_figure({title: p for title, p in shown.values()}, out / f"{name}_weights.png")
    if chosen in BITS_FIGURE_SETS and not quick:
        bits_figure(out)
    print(f"-> {out / (name + '.json')}, {out / (name + '.png')}, {out / (name + '_weights.png')}")
    return summary


#: the setting sets whose rows :func:`bits_figure` draws, in the order it reads them
BITS_FIGURE_SETS = ("per-layer", "hidden-state", "mechanisms", "threshold")


def mechanism_of(label: str) -> str:
    """The line a row belongs to in :func:`bits_figure`, from its label."""
    if "rates x" in label:
        return "26 levels per layer, " + label.split(", ")[-1]
    for key, name in (
        ("contacts", "M contacts of 26 levels"),
        ("Benna-Fusi", "Benna-Fusi chain (26 levels + u2)"),
        ("hidden", "hidden value, 26 levels expressed"),
        ("per-layer", "26 levels per layer, no hidden state"),
    ):
        if key in label:
            return name
    return "one grid over [-16, 16]"


def bits_figure(out: Path):
    """Success rate against total bits of synaptic state, every mechanism of
    every 40-seed precision run found in ``out`` (``precision_<set>.json``
    of :data:`BITS_FIGURE_SETS`; a row measured twice is drawn once) ->
    ``precision_bits.png``; None when there is none."""
    points, seen, baseline = [], set(), None
    for chosen in BITS_FIGURE_SETS:
        path = Path(out) / f"precision_{chosen}.json"
        if not path.exists():
            continue
        for row in json.loads(path.read_text())["rows"]:
            if row["setting"] == "float64":
                baseline = baseline or row
                continue
            bits = row.get("state_bits_per_synapse") or row["bits"]
            if row["setting"] in seen or bits is None:
                continue
            seen.add(row["setting"])
            points.append({**row, "mechanism": mechanism_of(row["setting"]), "bits": bits})
    if not points:
        return None
    title = f"bars, wake-sleep, {baseline['seeds'] if baseline else '?'} seeds per setting (Wilson 95 % intervals)"
    path = Path(out) / "precision_bits.png"
    plotting.save(plotting.success_against_bits(points, bars.PAPER_KL, baseline, title), path)
    return path


def _digits_only(quick: bool, out: Path, workers, t0: float) -> dict:
    """``--settings digits``: the digits rows alone, with the 8-bit hidden value (no bars runs)."""
    summary = {
        "experiment": "precision",
        "settings": "digits",
        "quick": quick,
        "digits_ranges": {k: [list(r) for r in v] for k, v in DIGITS_RANGES.items()},
        "digits_error": digits_rows(quick, out, workers, hidden=True),
    }
    summary["seconds_total"] = time.perf_counter() - t0
    name = "precision_digits" + ("_quick" if quick else "")
    save_json(out / f"{name}.json", summary)
    for label, err in summary["digits_error"].items():
        print(f"digits, {label:24s} error {100 * err:.1f}%", file=sys.stderr)
    print(f"-> {out / (name + '.json')}")
    return summary


def _setting_set(settings) -> str:
    """``settings`` as given (None, a name, or the command line's list of one name)."""
    if settings is None:
        return "default"
    if isinstance(settings, (list, tuple)):
        if len(settings) != 1:
            raise HMError(f"settings: precision takes one of {list(SETTING_SETS)} (got {list(settings)})")
        settings = settings[0]
    if settings not in SETTING_SETS:
        raise HMError(f"settings: precision takes one of {list(SETTING_SETS)} (got {settings!r})")
    return settings


#: the digits machine (64-16-16-4) has three weight sets a pathway: one [-16, 16] range each,
#: as the one grid of :func:`grid_precision` (its shipped float64 weights stay within it)
DIGITS_RANGES = {k: [WEIGHT_RANGE] * 3 for k in ("generative", "recognition")}


def digits_circuits(hidden: bool = False) -> list:
    """(label, digits circuit) of the digits rows: float64 and :data:`DIGITS_BITS`
    (stochastic, one grid); ``hidden``: and 26 expressed levels with an
    8-bit hidden value (:func:`hidden_accumulator` over :data:`DIGITS_RANGES`)."""
    base = load_circuit("digits")
    rows = [("float64", base)] + [
        (f"{b:g}-bit stochastic", base.replace(precision=grid_precision(b, "stochastic"))) for b in DIGITS_BITS
    ]
    if hidden:
        rows.append(("8-bit hidden, 26 levels", base.replace(plasticity=hidden_accumulator(8, DIGITS_RANGES))))
    return rows


def digits_rows(quick=False, out="figures", workers=None, hidden: bool = False) -> dict:
    """The digits classification error of every :func:`digits_circuits` row,
    on the same split (each a :func:`hm_neuro.experiments.digits.main` run)."""
    rows = {}
    for label, circuit in digits_circuits(hidden):
        result = digits_experiment.main(quick=quick, out=out, workers=workers, circuit=circuit)
        rows[label] = result["error_helmholtz"]
    return rows
