"""The bars problem in real time: the spiking realisation (issue 14).

The 16-8-1 bars machine of Hinton et al. (1995), Fig. 1, trained as a
circuit of stochastic spiking units in milliseconds
(:mod:`hm_neuro.spiking`): one example is one cycle of the wake-sleep
oscillation, a unit's state in a phase is "fired at least once in its
window", and the synapses learn by window-integrated dendritic prediction.
Every setting trains ``seeds`` machines (one run per seed, the paper's
protocol) as one population, and is judged twice: by the exact KL(data ||
model) of the learned weights read as a binary machine (what the synapses
learned), and by the KL between the data and the spiking network's own
fantasies (``FANTASIES`` sweeps per machine with learning off, each data
pattern's probability estimated by its frequency).  In the bridge limit the
two agree (the spiking circuit *is* the binary machine); away from it they
need not.

Settings (``SETTINGS``; exact escape unless named):

===========================  ===================================================
bridge                       instantaneous synapses, one step per window: the
                             binary machine, sample for sample in distribution
rate-escape                  Brian2's ``rand() < rho*dt`` with one step per
                             window: a unit fires with probability
                             min(ln(1 + e^u), 1) instead of sigma(u)
tau_syn=0.1ms ... 1ms        1-ms windows on a 0.5-ms clock, synaptic currents
                             with that time constant: a layer samples while the
                             current of the layer driving it still rises
T=0.5ms/2ms+tau_syn=0.5ms    the window against a 0.5-ms current
tau_syn=0.5ms+settle=1.5ms   a settle of 3 tau_syn before every window and
                             learning step
delay=0.5ms (+settle=0.5ms)  an axonal delay of one step, and a settle that
                             covers it (delay=1ms: two steps)
===========================  ===================================================

Groups (``GROUPS``): ``default`` (what runs without ``--settings``: the
bridge, the rate escape, tau_syn = 0.5 ms with and without a settle) writes
``spiking.json`` and ``spiking.png`` (KL per setting beside a raster of
wake-sleep cycles of the trained bridge machine, phases shaded, a hidden
unit's two compartments, fantasies); ``sweep`` (KL against tau_syn and
against the window) writes ``spiking_sweep.json`` and ``spiking_sweep.png``;
``delays`` writes ``spiking_delays.json``; any other list of settings
writes ``spiking_<settings>.json``.  Per setting: KL per seed, seeds <= 0.10 bits,
medians, KL(Q||P), seconds, steps per example.

Run:  hm-neuro reproduce spiking [--seeds 10] [--quick] [--settings default|sweep|delays|NAME,...]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plotting
from ..engines import MAX_CHUNK, make_engine
from ..errors import bad
from ..files.data import bars_distribution, sample_bars
from ..files.model_io import save_json, save_model
from ..measures import exact_summary, sampled_kl_bits
from ..model import Spiking, load_circuit
from ..runs.fantasies import sampled_fantasies
from ..seeds import SeedTree
from ..training import BarsStream, train_population
from .bars import EXAMPLES, P_VERTICAL, PAPER_KL  # the same bars protocol (note [15])
from .settings import resolve

SEEDS = 10
SEED = 0
SETTINGS = {
    "bridge": Spiking(window=1.0, dt=1.0),
    "rate-escape": Spiking(window=1.0, dt=1.0, escape="rate"),
    # a synaptic current: tau_syn against a 1-ms window on a 0.5-ms clock ...
    "tau_syn=0.1ms": Spiking(window=1.0, dt=0.5, tau_syn=0.1),
    "tau_syn=0.25ms": Spiking(window=1.0, dt=0.5, tau_syn=0.25),
    "tau_syn=0.5ms": Spiking(window=1.0, dt=0.5, tau_syn=0.5),
    "tau_syn=1ms": Spiking(window=1.0, dt=0.5, tau_syn=1.0),
    # ... the window against tau_syn = 0.5 ms ...
    "T=0.5ms+tau_syn=0.5ms": Spiking(window=0.5, dt=0.5, tau_syn=0.5),
    "T=2ms+tau_syn=0.5ms": Spiking(window=2.0, dt=0.5, tau_syn=0.5),
    # ... and a settle of 3 tau_syn before every window and learning step
    "tau_syn=0.5ms+settle=1.5ms": Spiking(window=1.0, dt=0.5, tau_syn=0.5, settle=1.5),
    # axonal delays (instantaneous synapses), with and without a settle that covers them
    "delay=0.5ms": Spiking(window=1.0, dt=0.5, delay=0.5),
    "delay=1ms": Spiking(window=1.0, dt=0.5, delay=1.0),
    "delay=0.5ms+settle=0.5ms": Spiking(window=1.0, dt=0.5, delay=0.5, settle=0.5),
}
#: named groups of settings (``--settings default`` is what runs without --settings)
GROUPS = {
    "default": ("bridge", "rate-escape", "tau_syn=0.5ms", "tau_syn=0.5ms+settle=1.5ms"),
    "sweep": (
        "tau_syn=0.1ms",
        "tau_syn=0.25ms",
        "tau_syn=0.5ms",
        "tau_syn=1ms",
        "T=0.5ms+tau_syn=0.5ms",
        "T=2ms+tau_syn=0.5ms",
    ),
    "delays": ("delay=0.5ms", "delay=0.5ms+settle=0.5ms"),
}
CHUNK = MAX_CHUNK
FANTASIES = 100_000  # spiking fantasies per machine for the sampled KL


@dataclass(frozen=True)
class Settings:
    """The spiking experiment's settings (``hm-neuro reproduce spiking``; :func:`main`)."""

    seed: int = SEED
    seeds: int | None = SEEDS
    quick: bool = False
    out: str | Path = "figures"
    device: str | None = None
    examples: int | None = None
    settings: str | list | None = None


def main(given: Settings | None = None, /, **changes):
    """Run the spiking experiment: :class:`Settings` with ``changes`` on top (``main(quick=True)``)."""
    s = resolve(Settings, given, changes)
    seed, seeds, quick, out, device, examples = s.seed, s.seeds, s.quick, s.out, s.device, s.examples
    settings = s.settings
    out = Path(out)
    n = examples or (200 if quick else EXAMPLES)
    if quick:  # a smoke test: two machines per setting on Brian2's numpy target (no compile)
        seeds = min(seeds, 2)
        device = device or "numpy"
    names, group = _setting_names(settings)
    circuit = load_circuit("bars")
    run_seeds = [seed + i for i in range(seeds)]
    results, trained = {}, {}
    for name in names:
        results[name], trained[name] = _setting(name, circuit, run_seeds, n, device, 300 if quick else FANTASIES, seed)
        print(
            f"spiking bars, {name}: {results[name]['seeds_at_or_below_paper']}/{seeds} seeds <= {PAPER_KL} bits, "
            f"median KL {results[name]['median_kl_bits']:.3f} bits (weights read as a binary machine), "
            f"{results[name]['median_kl_data_spiking_fantasies_bits']:.3f} bits (the spiking network's own "
            f"fantasies) ({results[name]['seconds']:.0f} s)"
        )
    name = (
        "spiking"
        + {"default": "", None: "_" + "_".join(names).replace("=", "")}.get(group, "_" + str(group))
        + ("_quick" if quick else "")
    )
    summary = {
        "experiment": "spiking",
        "circuit": "bars (16-8-1)",
        "examples": n,
        "quick": quick,
        "paper_kl_bits": PAPER_KL,
        "measure": "kl_data_model_bits: exact KL(data || model) of the learned "
        "weights read as a binary machine (eqs. 2-3 enumerated); kl_data_spiking_fantasies_bits: KL(data || "
        "the spiking network's own fantasies), each data pattern's probability estimated from "
        "spiking_fantasies sweeps with learning off",
        "settings": results,
    }
    save_json(out / f"{name}.json", summary)
    if "bridge" in trained:
        best = int(np.argmin(results["bridge"]["kl_data_model_bits"]))
        r = trained["bridge"][best]  # kept, so that the figure can be redrawn without training again
        save_model(
            out / f"{name}_bridge_model.npz",
            r.params,
            circuit.replace(dynamics=SETTINGS["bridge"].key()),
            r.seed,
            n,
            r.engine,
            r.device,
        )
        _figure(out / f"{name}.png", results, trained["bridge"][best].params, circuit, seed, device)
    elif group == "sweep":  # the other groups: the JSON only
        _sweep_figure(out / f"{name}.png", results)
    return summary


def _setting_names(settings) -> tuple:
    """(the settings to run, the group they came from, if one alone was named)."""
    names, group = [], None
    for name in settings or ["default"]:
        if name in GROUPS:
            group = name if len(settings or ["default"]) == 1 else None
            names += [x for x in GROUPS[name] if x not in names]
        elif name in SETTINGS:
            names += [name] if name not in names else []
        else:
            raise bad("settings", f"must be among {list(GROUPS) + list(SETTINGS)}", name)
    return names, group


def _setting(name: str, circuit, run_seeds: list, n: int, device, m: int, seed: int) -> tuple:
    """One setting: a machine per seed trained for n examples in real time,
    its exact KL read as a binary machine and the KL of m of the spiking
    network's own fantasies; returns (its row, the runs)."""
    sp = SETTINGS[name]
    t0 = time.perf_counter()
    runs = train_population(
        [circuit] * len(run_seeds),
        [BarsStream(p_vertical=P_VERTICAL) for _ in run_seeds],
        n,
        run_seeds,
        engine="spiking",
        device=device,
        chunk=min(CHUNK, n),
        spiking=sp,
        progress=f"spiking bars, {name} x{len(run_seeds)}",
    )
    seconds = time.perf_counter() - t0
    patterns, probs = bars_distribution(p_vertical=P_VERTICAL)
    summaries = [exact_summary(r.params, patterns, probs) for r in runs]
    kl = [s["kl_data_model_bits"] for s in summaries]
    fantasies = sampled_fantasies(
        [r.params for r in runs], circuit, sp, m, seed=SeedTree(seed).child("evaluation").integer(), device=device
    )
    sampled = [sampled_kl_bits(f, patterns, probs) for f in fantasies]
    row = {
        "spiking": sp.key(),
        "bridge": sp.bridge,
        "steps_per_example": sp.steps_per_example(circuit.n_hidden_layers),
        "ms_per_example": sp.example_ms(circuit.n_hidden_layers),
        "seeds": run_seeds,
        "kl_data_model_bits": kl,
        "kl_q_p_bits": [s["kl_q_p_bits"] for s in summaries],
        "spiking_fantasies": m,
        "kl_data_spiking_fantasies_bits": sampled,
        "median_kl_data_spiking_fantasies_bits": float(np.median(sampled)),
        "seeds_at_or_below_paper": int(sum(k <= PAPER_KL for k in kl)),
        "median_kl_bits": float(np.median(kl)),
        "seconds": seconds,
        "engine": runs[0].engine,
        "device": runs[0].device,
    }
    return row, runs


def _sweep_figure(path, results):
    """KL against tau_syn (1-ms windows) and against the window (tau_syn = 0.5 ms)."""
    plt = plotting._plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    panels = [
        ("tau_syn", lambda sp: sp.window == 1.0, axes[0], "synaptic time constant tau_syn [ms] (T = 1 ms)"),
        ("window", lambda sp: sp.tau_syn == 0.5, axes[1], "window T [ms] (tau_syn = 0.5 ms)"),
    ]
    for key, keep, ax, label in panels:
        rows = sorted(
            (getattr(Spiking(**r["spiking"]), key), r) for r in results.values() if keep(Spiking(**r["spiking"]))
        )
        for j, (measure, color, text) in enumerate(
            [
                ("kl_data_model_bits", "tab:blue", "weights read as a binary machine"),
                ("kl_data_spiking_fantasies_bits", "tab:orange", "the spiking network's fantasies"),
            ]
        ):
            x = np.array([v for v, _ in rows])
            ys = [np.asarray(r[measure]) for _, r in rows]
            shift = 1.0 + 0.04 * (2 * j - 1)
            for xi, y in zip(x, ys):
                ax.scatter(np.full(len(y), xi * shift), y, s=12, alpha=0.6, color=color)
            ax.plot(x * shift, [np.median(y) for y in ys], "-o", color=color, label=f"median, {text}")
        ax.axhline(PAPER_KL, color="tab:red", ls="--", lw=1, label=f"paper: {PAPER_KL} bits")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
    axes[0].set_ylabel("KL(data || model) [bits], one run per seed")
    axes[0].legend(fontsize=7)
    fig.suptitle("bars in real time: exact escape, 0.5-ms clock, no settle")
    fig.tight_layout()
    plotting.save(fig, path)


def _figure(path, results, params, circuit, seed, device):
    """KL per setting; wake-sleep cycles of the trained bridge machine (a
    raster, and the two compartments of a hidden unit); its fantasies."""
    sp = Spiking(window=1.0, dt=0.1)  # the bridge on a fine clock, to show time
    cycles = 3
    with make_engine(
        circuit, "spiking", device="numpy", chunk=cycles, record_spikes=True, record_traces=True, spiking=sp
    ) as eng:
        data = sample_bars(cycles, SeedTree(seed).child("figures").rng(), p_vertical=P_VERTICAL)
        _, extra = eng.run(params, data, seed=seed, wake_gate=np.zeros(cycles), sleep_gate=np.zeros(cycles))
    dreams = sampled_fantasies([params], circuit, sp, 24, seed=seed, device="numpy")[0]
    plt = plotting._plt()
    fig = plt.figure(figsize=(12, 7.6))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 2.2], height_ratios=[1.25, 1])
    a, b = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    f, tax = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1], sharex=b)
    _kl_panel(a, results)
    _raster_panel(b, extra, data, circuit, sp, cycles)
    _compartments_panel(tax, extra, circuit, sp, cycles)
    _fantasies_panel(f, dreams, circuit)
    fig.tight_layout()
    plotting.save(fig, path)


def _kl_panel(a, results):
    """KL per setting and seed: the weights read as a binary machine, and the
    spiking network's own fantasies."""
    rng = np.random.default_rng(0)
    for i, r in enumerate(results.values()):
        v = np.asarray(r["kl_data_model_bits"])
        w = np.asarray(r["kl_data_spiking_fantasies_bits"])
        a.scatter(
            i - 0.17 + rng.uniform(-0.08, 0.08, len(v)),
            v,
            s=14,
            alpha=0.7,
            color="tab:blue",
            label="weights read as a binary machine (exact)" if i == 0 else None,
        )
        a.scatter(
            i + 0.17 + rng.uniform(-0.08, 0.08, len(w)),
            w,
            s=14,
            alpha=0.7,
            facecolors="none",
            edgecolors="tab:orange",
            label="the spiking network's fantasies (sampled)" if i == 0 else None,
        )
        a.plot([i - 0.3, i - 0.04], [np.median(v)] * 2, color="k", lw=1.5)
        a.plot([i + 0.04, i + 0.3], [np.median(w)] * 2, color="k", lw=1.5)
    a.axhline(PAPER_KL, color="tab:red", ls="--", lw=1, label=f"paper: {PAPER_KL} bits")
    a.set_yscale("log")
    a.set_xticks(range(len(results)))
    a.set_xticklabels(list(results), rotation=15)
    a.set_ylabel("KL(data || model) [bits], one run per seed")
    a.set_ylim(0.005, 50)
    a.legend(fontsize=7, loc="lower center")


def _cycle_marks(sp, L: int) -> tuple:
    """The end of the wake phase, the start and the end of the sleep phase in ms."""
    ph = sp.phases(L)
    return tuple(ph[k] * sp.dt for k in ("wake_learn", "sleep_start", "sleep_learn"))


def _raster_panel(b, extra, data, circuit, sp, cycles: int):
    """Every layer's spikes over the cycles, wake and sleep shaded, the clamped data drawn."""
    cycle = extra["cycle_ms"]
    L = circuit.n_hidden_layers
    offset, ticks = 0, []
    for l, (t, i) in enumerate(extra["spikes"]):
        b.scatter(t, i + offset, s=6, marker="|", color=("tab:blue", "tab:orange", "tab:green")[l % 3])
        ticks.append((offset + circuit.layers[l] / 2, f"layer {l}"))
        offset += circuit.layers[l] + 1
    wake_end, sleep_start, sleep_end = _cycle_marks(sp, L)
    for c in range(cycles):
        t0 = c * cycle
        on = np.flatnonzero(data[c])
        b.hlines(on, t0, t0 + wake_end, color="tab:blue", lw=1.5, alpha=0.6)  # the clamped data, held
        b.axvspan(t0, t0 + wake_end, color="gold", alpha=0.15, lw=0)
        b.axvspan(t0 + sleep_start, t0 + sleep_end, color="slateblue", alpha=0.12, lw=0)
    b.set_yticks([p for p, _ in ticks])
    b.set_yticklabels([s for _, s in ticks])
    b.set_title(
        f"trained bridge machine, {cycles} cycles of {cycle:.1f} ms (learning off): yellow wake, data "
        f"clamped on layer 0 (lines); blue sleep, a fantasy top-down",
        fontsize=9,
    )


def _compartments_panel(tax, extra, circuit, sp, cycles: int):
    """The two compartments of the hidden unit that fires most, and its spikes."""
    cycle = extra["cycle_ms"]
    wake_end, sleep_start, sleep_end = _cycle_marks(sp, circuit.n_hidden_layers)
    tr = extra["traces"][1]
    unit = int(np.argmax([np.count_nonzero(extra["spikes"][1][1] == j) for j in range(circuit.layers[1])]))
    tax.plot(tr["t_ms"], tr["u_rec"][:, unit], color="tab:green", lw=1, label="basal: recognition drive u_rec")
    tax.plot(tr["t_ms"], tr["u_gen"][:, unit], color="tab:purple", lw=1, label="apical: generative drive u_gen")
    t_spk = extra["spikes"][1][0][extra["spikes"][1][1] == unit]
    tax.plot(t_spk, np.full(len(t_spk), tax.get_ylim()[1]), "v", color="k", ms=5, label="its spikes")
    for k in range(cycles):
        t0 = k * cycle
        tax.axvspan(t0, t0 + wake_end, color="gold", alpha=0.15, lw=0)
        tax.axvspan(t0 + sleep_start, t0 + sleep_end, color="slateblue", alpha=0.12, lw=0)
    tax.set_xlabel("time [ms]")
    tax.set_ylabel(f"layer 1, unit {unit}")
    tax.legend(fontsize=7, loc="lower right")


def _fantasies_panel(f, dreams, circuit):
    """The input layer's states in sleep windows of the spiking network."""
    side = int(round(np.sqrt(circuit.n_input)))
    tiles = np.ones((4 * (side + 1) - 1, 6 * (side + 1) - 1)) * 0.5
    for k, d in enumerate(dreams[:24]):
        r, q = divmod(k, 6)
        tiles[r * (side + 1) : r * (side + 1) + side, q * (side + 1) : q * (side + 1) + side] = d.reshape(side, side)
    f.imshow(tiles, cmap="gray_r", vmin=0, vmax=1)
    f.set_axis_off()
    f.set_title("24 fantasies of the spiking network", fontsize=9)
