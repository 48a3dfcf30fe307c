"""The bars problem: Hinton, Dayan, Frey & Neal (1995), Science 268:1158, Fig. 1.

A 16-8-1 Helmholtz machine learns the generative model of 4x4 images made of
vertical or horizontal bars from 2e6 random examples (note [15]).  The paper
reports an asymmetric divergence KL(data || model) of 0.10 bits and an eq. 8
penalty KL(Q || P) of 0.08 bits after training.

Writes into ``out`` (file names gain ``_reading``, ``_restartsN``, ``_seedsN``
and ``_quick`` when those differ from the defaults): ``bars.json`` (per seed: the exact measures; summary:
median, best, seeds <= 0.10 bits), ``bars_fantasies.png`` (Fig. 1b: training
images beside fantasies), ``bars_weights.png`` (Fig. 1c: Hinton diagram of
the generative weights), ``bars_learning_curve.png`` (exact KL during
training), ``bars_weight_evolution.png`` (weights recorded during the Brian2
run), and ``bars.history.npz`` (its recorded weights).  The figures show the
machine with the lowest free energy on training data among the seeds.

Run:  hm-neuro reproduce bars [--seeds 10] [--quick] [--engine spiking]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .. import plotting
from ..engines import MAX_CHUNK, capabilities
from ..errors import HMError
from ..files.data import bars_distribution, sample_bars
from ..files.model_io import save_history, save_json, save_model, transaction
from ..measures import exact_summary
from ..model import Parameters, Rule, load_circuit, sample_fantasies
from ..runs.runner import Task, default_workers, run_tasks
from ..seeds import SeedTree
from .settings import Common, resolve

# --- parameters (note [15] and Fig. 1; see circuits/bars.toml)
EXAMPLES = 2_000_000  # "trained on 2 x 10^6 random examples"
P_VERTICAL = 2 / 3  # Fig. 1a leaves it open; public reproductions use 2/3
PAPER_KL = 0.10  # "final asymmetric divergence ... was 0.10 bits"
PAPER_PENALTY = 0.08  # "The penalty term in Eq. 8 was 0.08 bits"
RECORD_EVERY = 50_000  # weight snapshots for the evolution figure
SEED = 0  # first seed, "to get identical figures for repeated runs"
RESTARTS = 3  # machines per seed; the one with the lowest training free energy is kept
SEEDS = 10  # seeds of the default run (the README's statistics use 20 and 40)

#: Readings of "0.2 for the generative and recognition weights to and from
#: the input units and 0.001 for the other weights": which bias sets learn at
#: 0.2.  Weights G1 and R1 learn at 0.2 in all of them.
READINGS = {
    "connections": {
        "doc": "every parameter on a connection that touches the input: G1, R1, input generative "
        "biases, first-hidden recognition biases (default, circuits/bars.toml)",
        "generative_biases": [0.2, 0.001, 0.001],
        "recognition_biases": [0.2, 0.001],
    },
    "input-biases": {
        "doc": "G1, R1 and the input units' generative biases",
        "generative_biases": [0.2, 0.001, 0.001],
        "recognition_biases": [0.001, 0.001],
    },
    "weights-only": {
        "doc": "G1 and R1 only; every bias at 0.001",
        "generative_biases": [0.001, 0.001, 0.001],
        "recognition_biases": [0.001, 0.001],
    },
}


def circuit_for(reading: str):
    base = load_circuit("bars")
    r = READINGS[reading]
    return base.replace(
        learning_rates={"generative_biases": r["generative_biases"], "recognition_biases": r["recognition_biases"]}
    )


#: ``--engine spiking``: the spiking circuit's parameters when the circuit has no [dynamics] table
SPIKING_BRIDGE = {"window": 1.0, "dt": 1.0}


def _tasks(circuit, runs_wanted, examples, engine, device, chunk, record_every, rule, rng) -> list:
    """One task per (seed, restart), each keeping its model and weight history."""
    return [
        Task(
            i,
            circuit.to_dict(),
            "bars",
            examples,
            s,
            r,
            (),
            P_VERTICAL,
            engine,
            device,
            chunk,
            record_every,
            keep_model=True,
            rule=rule.label,
            rng=rng,
        )
        for i, (s, r) in enumerate(runs_wanted)
    ]


def setting_tasks(circuits: list, seeds, examples: int, rule, engine, device) -> list:
    """One bars run per (label, circuit) of ``circuits`` and seed, one
    machine each (the papers' protocol), its model kept: the tasks of the
    experiments that compare settings over seeds (precision, lateral)."""
    return [
        Task(
            i,
            circuit.to_dict(),
            "bars",
            examples,
            s,
            point=(("setting", label),),
            p_vertical=P_VERTICAL,
            engine=engine,
            device=device,
            chunk=min(examples, MAX_CHUNK),
            keep_model=True,
            rule=rule.label,
        )
        for i, ((label, circuit), s) in enumerate((c, s) for c in circuits for s in seeds)
    ]


#: how a bars run ends (:func:`failure_mode`)
FAILURE_MODES = ("learned", "every bar, top layer wrong", "cross", "bars missing")


def bar_pixels(size: int = 4) -> list:
    """The pixel sets of the ``2 * size`` bars (columns, then rows), row-major."""
    grid = np.arange(size * size).reshape(size, size)
    return [frozenset(grid[:, c].tolist()) for c in range(size)] + [frozenset(grid[r].tolist()) for r in range(size)]


def failure_mode(params: Parameters, kl_bits: float, size: int = 4) -> str:
    """How a bars machine ended (:data:`FAILURE_MODES`), read from its first
    generative layer: a unit *codes* the pixels whose weights exceed half
    its largest.  ``learned``: KL(data||model) <= the paper's 0.10 bits;
    ``every bar, top layer wrong``: each of the 2 * size bars is coded by
    some unit, so what is wrong is above them (the top unit's choice of
    orientation, or the probabilities); ``cross``: some unit codes a row and
    a column at once (the basin float64 also reaches); ``bars missing``:
    anything else (a bar coded by no unit, or units coding parts of bars)."""
    if kl_bits <= PAPER_KL:
        return FAILURE_MODES[0]
    bars = bar_pixels(size)
    coded = []
    for w in params.generative_weights[0]:
        top = w.max()
        coded.append(frozenset(np.flatnonzero(w > top / 2).tolist()) if top > 0 else frozenset())
    if all(b in coded for b in bars):
        return FAILURE_MODES[1]
    crosses = {c | r for c in bars[:size] for r in bars[size:]}
    if any(u in crosses for u in coded):
        return FAILURE_MODES[2]
    return FAILURE_MODES[3]


def _summary(setting: dict, runs: list, first, compile_s: float, cached: int, t_start: float) -> dict:
    """The experiment's JSON: the setting, the paper's numbers, the measured
    statistics of the chosen runs and every run."""
    reading, rule, examples = setting["reading"], setting["rule"], setting["examples"]
    seeds, seed, quick, restarts = setting["seeds"], setting["first_seed"], setting["quick"], setting["restarts"]
    chosen = [r for r in runs if r["chosen"]]
    all_kls = np.array([r["kl_data_model_bits"] for r in runs if r["status"] == "ok"])
    kls = np.array([r["kl_data_model_bits"] for r in chosen])
    pens = np.array([r["kl_q_p_bits"] for r in chosen])
    best = int(np.argmin(kls))
    return {
        "experiment": "bars",
        "paper": "Hinton, Dayan, Frey & Neal (1995), Fig. 1, note [15]",
        "reading": reading,
        "reading_doc": READINGS[reading]["doc"],
        "p_vertical": P_VERTICAL,
        "rule": rule,
        "seconds_total": time.perf_counter() - t_start,
        "examples": examples,
        "seeds": seeds,
        "first_seed": seed,
        "quick": quick,
        "engine": first.engine,
        "device": first.device,
        "compile_seconds": compile_s,
        "runs_on_cached_build": cached,
        "paper_kl_data_model_bits": PAPER_KL,
        "paper_kl_q_p_bits": PAPER_PENALTY,
        "median_kl_data_model_bits": float(np.median(kls)),
        "best_kl_data_model_bits": float(kls[best]),
        "best_seed": chosen[best]["seed"],
        "kl_q_p_bits_of_best": float(pens[best]),
        "median_kl_q_p_bits": float(np.median(pens)),
        "seeds_reaching_paper_kl": int(np.sum(kls <= PAPER_KL)),
        "restarts": restarts,
        "rng": setting["rng"],
        "single_runs": len(runs),
        "failed_runs": sum(r["status"] != "ok" for r in runs),
        "seeds_without_a_result": seeds - len(chosen),
        "single_runs_reaching_paper_kl": int(np.sum(all_kls <= PAPER_KL)),
        "single_run_median_kl_data_model_bits": float(np.median(all_kls)),
        "runs": runs,
    }


def _collect_runs(tasks, results, seeds_range, circuit, engine):
    """Every run as a JSON row (printed as it is read), and per seed the
    restart with the lowest training free energy (the true KL is never used
    to choose): ``(runs, chosen results)``."""
    runs, chosen_results = [], []
    for s in seeds_range:
        candidates = []
        for task, res in zip(tasks, results):
            if task.seed != s:
                continue
            row = res["row"]
            run = {
                "seed": s,
                "restart": task.restart,
                "run_seed": task.run_seed,
                "seconds": row.get("seconds"),
                "status": row["status"],
                "chosen": False,
                "cached_build": row.get("cached_build"),
            }
            if row["status"] != "ok":
                run["error"] = row.get("error", "")
                print(f"seed {s} restart {task.restart}: FAILED: {run['error']}", file=sys.stderr)
            else:
                for key in ("kl_data_model_bits", "kl_q_p_bits", "free_energy_bits", "training_free_energy_bits"):
                    run[key] = row[key]
                print(
                    f"seed {s} restart {task.restart}: KL(data||model) = {run['kl_data_model_bits']:.3f} bits, "
                    f"KL(Q||P) = {run['kl_q_p_bits']:.3f} bits, training F = "
                    f"{run['training_free_energy_bits']:.3f} bits",
                    file=sys.stderr,
                )
                candidates.append((run, res, row))
            runs.append(run)
        if not candidates:
            continue
        run, res, row = min(candidates, key=lambda c: c[0]["training_free_energy_bits"])
        run["chosen"] = True
        seen, hist = res["history"]
        chosen_results.append(
            SimpleNamespace(
                params=Parameters.from_arrays(res["model"], circuit),
                seed=SeedTree(s).restart(run["restart"]),
                history_seen=seen,
                history=hist,
                engine=engine,
                device=row["device"],
            )
        )
    return runs, chosen_results


def default_engine(rule) -> str:
    """Where a rule runs by default: the papers' on the Brian2 circuit, the
    others on the vectorised NumPy engine (where the README's 40-seed
    statistics of the rules come from)."""
    return "brian2" if rule.is_default else "vectorised"


def result_name(reading: str, rule, engine: str, restarts: int, seeds: int, quick: bool) -> str:
    """The stem of the result files: the reading, rule, engine, restarts and
    seeds that differ from the default (never overwrite another setting's
    results; the generator is recorded in the JSON, ``rng``)."""
    name = "bars" if reading == "connections" else f"bars_{reading}"
    if not rule.is_default:
        name += "_" + rule.label.replace(":", "") + ("" if engine == default_engine(rule) else "_" + engine)
    if capabilities(engine).spiking:
        name += "_spiking"
    if restarts != RESTARTS:
        name += f"_restarts{restarts}"
    if seeds != SEEDS:
        name += f"_seeds{seeds}"  # never overwrite the results of another number of seeds
    if quick:
        name += "_quick"
    return name


def _figures(first, circuit, curve, out: Path, name: str, seed: int, examples: int):
    """The figures of the shown run (its weights were recorded during the run)."""
    rng = SeedTree(seed).child("figures").rng()
    train_imgs = sample_bars(200, rng, p_vertical=P_VERTICAL)
    train_imgs = train_imgs[train_imgs.sum(1) > 0][:32]  # "ambiguous all-white images removed"
    fant = sample_fantasies(first.params, 400, rng)[0]
    fant = fant[fant.sum(1) > 0][:32]
    plotting.save(
        plotting.samples_and_fantasies(
            train_imgs, fant, 4, titles=("training images (Fig. 1b)", f"fantasies after {examples:,} examples")
        ),
        out / f"{name}_fantasies.png",
    )
    plotting.save(plotting.bars_generative_weights(first.params), out / f"{name}_weights.png")
    fig = plotting.learning_curve(
        first.history_seen,
        curve,
        reference=PAPER_KL,
        reference_label=f"Hinton et al. (1995): {PAPER_KL} bits",
        label=f"the shown run (seed {first.seed.label().replace('/restart=', ', restart ')})",
        xscale="log",
    )
    plotting.save(fig, out / f"{name}_learning_curve.png")
    plotting.save(
        plotting.weight_evolution(first.history_seen, first.history, circuit), out / f"{name}_weight_evolution.png"
    )


def _save_shown(first, circuit, out: Path, name: str, setting: dict):
    """The shown run's model file (with everything that trained it) and weight history."""
    examples = setting["examples"]
    training = {
        "data": "bars",
        "p_vertical": P_VERTICAL,
        "reading": setting["reading"],
        "restarts": setting["restarts"],
        "run_seed": first.seed.label(),
        "experiment": name,
    }
    save_model(
        out / f"{name}_model.npz",
        first.params,
        circuit,
        first.seed,
        examples,
        first.engine,
        first.device,
        rule=setting["rule"],
        training=training,
    )
    save_history(out / f"{name}.history.npz", first.history_seen, first.history, circuit, first.seed)


def _report(summary: dict, first, path: Path):
    """The headline numbers, printed."""
    reading, rule, seeds = summary["reading"], summary["rule"], summary["seeds"]
    restarts, examples = summary["restarts"], summary["examples"]
    print(
        f"bars ({reading}, {rule}, {seeds} seed(s) x {restarts} restart(s), {examples:,} examples, "
        f"{first.engine}/{first.device}):\n"
        f"  KL(data||model): paper {PAPER_KL:.2f} bits, measured median {summary['median_kl_data_model_bits']:.3f}, "
        f"best {summary['best_kl_data_model_bits']:.3f}; "
        f"{summary['seeds_reaching_paper_kl']}/{seeds} seeds <= {PAPER_KL}\n"
        f"  KL(Q||P) penalty: paper {PAPER_PENALTY:.2f} bits, "
        f"measured {summary['kl_q_p_bits_of_best']:.3f} (best seed)\n"
        f"  results -> {path}"
    )


@dataclass(frozen=True)
class Settings(Common):
    """The bars experiment's settings (``hm-neuro reproduce bars``; :func:`main`).

    ``seeds`` machines, seeds ``seed .. seed+seeds-1``; each seed trains
    ``restarts`` machines (restart r > 0: the ``restart, r`` child of seed s's
    tree, :mod:`hm_neuro.seeds`) and keeps the one with the lowest free energy
    on fresh *training* data (never the true KL); ``restarts=1`` is the
    paper's protocol.  ``quick``: 20,000 examples (a smoke test: not the
    paper's numbers).  ``engine``: default the Brian2 circuit for the papers'
    rule, the vectorised engine for the others.  ``workers`` local Dask
    processes (default 2; 1 = in this process) or the cluster at
    ``scheduler``.  ``rng``: the uniform numbers
    (:class:`hm_neuro.engines.EngineOptions`; ``mt19937``: 0.2's)."""

    seed: int = SEED
    seeds: int = SEEDS
    reading: str = "connections"
    restarts: int = RESTARTS
    workers: int | None = None
    scheduler: str | None = None
    rule: str = "wake-sleep"
    rng: str = "philox"


def _learning_curve(first, circuit, patterns, probs) -> list:
    """KL(data||model) in bits of every recorded state of the run ``first``."""
    return [
        exact_summary(Parameters.from_arrays({k: v[i] for k, v in first.history.items()}, circuit), patterns, probs)[
            "kl_data_model_bits"
        ]
        for i in range(len(first.history_seen))
    ]


def _say_builds(results: list, runs: list) -> tuple:
    """(longest build step in s, runs on a cached build), said on stderr for compiled runs."""
    compile_s = max(r["row"].get("compile_seconds") or 0.0 for r in results)
    cached = sum(bool(r.get("cached_build")) for r in runs)
    if any(r.get("cached_build") is not None for r in runs):
        print(
            f"{cached} of {len(runs)} runs on a cached build (compiled nothing); longest build step {compile_s:.1f} s",
            file=sys.stderr,
        )
    return compile_s, cached


def main(given: Settings | None = None, /, **changes):
    """Train the bars machines of ``settings`` (:class:`Settings`, with
    ``changes`` on top: ``main(quick=True)``) as the tasks of a sweep
    (:mod:`hm_neuro.runs.sweep`), write their results and figures into
    ``out`` and report."""
    s = resolve(Settings, given, changes)
    seed, seeds, quick, reading, restarts, rng = s.seed, s.seeds, s.quick, s.reading, s.restarts, s.rng
    t_start = time.perf_counter()
    out = Path(s.out)
    examples = 20_000 if quick else EXAMPLES
    record_every = max(examples // 40, 1)
    circuit = circuit_for(reading)
    patterns, probs = bars_distribution(p_vertical=P_VERTICAL)
    chunk = min(examples, MAX_CHUNK)
    runs_wanted = [(k, r) for k in range(seed, seed + seeds) for r in range(restarts)]
    rule = Rule.parse(s.rule)
    # default: the papers' rule on the Brian2 circuit, the others on the vectorised
    # NumPy engine (where the README's 40-seed statistics of the rules come from)
    engine = s.engine or default_engine(rule)
    if capabilities(engine).spiking and not circuit.dynamics:
        # in real time: the bridge at one clock step per window unless the circuit says otherwise
        # (then the spiking circuit is the binary one sample for sample: README)
        circuit = circuit.replace(dynamics=SPIKING_BRIDGE)
    tasks = _tasks(circuit, runs_wanted, examples, engine, s.device, chunk, record_every, rule, rng)
    results = run_tasks(tasks, workers=s.workers or default_workers(), scheduler=s.scheduler, desc=f"bars {rule.label}")
    runs, chosen_results = _collect_runs(tasks, results, range(seed, seed + seeds), circuit, engine)
    if not chosen_results:
        raise HMError(f"bars: every training failed; first error: {runs[0].get('error')}")
    # the run drawn in the figures: the chosen run with the lowest training
    # free energy (chosen on training data only, like the restarts)
    chosen_runs = [r for r in runs if r["chosen"]]
    shown = int(np.argmin([r["training_free_energy_bits"] for r in chosen_runs]))
    first = chosen_results[shown]
    compile_s, cached = _say_builds(results, runs)

    setting = {
        "reading": reading,
        "rule": rule.label,
        "examples": examples,
        "seeds": seeds,
        "first_seed": seed,
        "quick": quick,
        "restarts": restarts,
        "rng": rng,
    }
    summary = _summary(setting, runs, first, compile_s, cached, t_start)
    name = result_name(reading, rule, engine, restarts, seeds, quick)
    curve = _learning_curve(first, circuit, patterns, probs)
    summary["figures_run_seed"] = first.seed.label()
    summary["learning_curve_seed"] = first.seed.label()
    summary["learning_curve"] = {"examples": first.history_seen, "kl_data_model_bits": curve}
    with transaction():  # the result set: JSON, model, history and figures, all of them or none new
        save_json(out / f"{name}.json", summary)
        # ------- figures of the shown run (its weights were recorded during the run)
        _save_shown(first, circuit, out, name, setting)
        _figures(first, circuit, curve, out, name, seed, examples)

    _report(summary, first, out / f"{name}.json")
    return summary
