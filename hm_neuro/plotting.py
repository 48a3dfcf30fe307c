"""Figures.  Plotting never simulates: every function takes arrays or files."""

from __future__ import annotations

import os

import numpy as np

from .files.model_io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize):
    """(figure, axes): ``ax`` and its figure, or a new figure of ``figsize``."""
    if ax is not None:
        return ax.figure, ax
    return _plt().subplots(figsize=figsize)


def _figure(fig, figsize):
    """``fig`` (cleared), or a new figure of ``figsize``: for the figures of several axes."""
    if fig is None:
        return _plt().figure(figsize=figsize)
    fig.clear()
    return fig


def save(fig, path):
    """Save a figure atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)


def image_grid(ax, images, side, cols, title=None):
    """Binary images (rows of side*side) tiled into one picture, 1px gaps."""
    images = np.asarray(images)
    n = len(images)
    rows = -(-n // cols)
    canvas = np.full((rows * (side + 1) + 1, cols * (side + 1) + 1), 0.5)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        canvas[1 + r * (side + 1) : 1 + r * (side + 1) + side, 1 + c * (side + 1) : 1 + c * (side + 1) + side] = (
            img.reshape(side, side)
        )
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def samples_and_fantasies(training, fantasies, side, cols=8, titles=("training examples", "fantasies"), fig=None):
    """Training examples beside fantasies, as images; in ``fig`` if given. Returns the figure."""
    fig = _figure(fig, (8, 4.2))
    axes = fig.subplots(1, 2)
    image_grid(axes[0], training, side, cols, titles[0])
    image_grid(axes[1], fantasies, side, cols, titles[1])
    return fig


def hinton(ax, matrix, max_weight=None, origin=(0.0, 0.0)):
    """Hinton diagram: white squares positive, black negative, area ~ ``|w|``."""
    matrix = np.asarray(matrix, dtype=float)
    max_weight = max_weight or max(np.abs(matrix).max(), 1e-12)
    x0, y0 = origin
    for (r, c), w in np.ndenumerate(matrix):
        size = np.sqrt(min(abs(w) / max_weight, 1.0)) * 0.95
        color = "white" if w > 0 else "black"
        ax.add_patch(
            _plt().Rectangle((x0 + c - size / 2, y0 + r - size / 2), size, size, facecolor=color, edgecolor=color)
        )


def bars_generative_weights(params, side=4, cols=9, fig=None):
    """Hinton et al. (1995) Fig. 1c: generative weights of the first hidden layer.

    One block per first-hidden unit: its weights to the input image; its
    generative bias on the top right, its weight from the top unit on the top
    left (both drawn on the same scale).  The last block holds the input units'
    generative biases.  At most ``cols`` blocks a row (more units wrap into
    rows); in ``fig`` if given.  Returns the figure.
    """
    G0 = params.generative_weights[0]  # (n1, n0)
    g1 = params.generative_biases[1]
    top = params.generative_weights[1][0] if len(params.generative_weights) > 1 else np.zeros(len(g1))
    g0 = params.generative_biases[0]
    n1 = G0.shape[0]
    mats = [G0[j].reshape(side, side) for j in range(n1)] + [g0.reshape(side, side)]
    extras = [(top[j], g1[j]) for j in range(n1)] + [None]
    biggest = max(np.abs(G0).max(), np.abs(g0).max(), np.abs(g1).max(), np.abs(top).max(), 1e-12)
    ncol = min(n1 + 1, cols)
    nrow = -(-(n1 + 1) // ncol)
    fig = _figure(fig, (1.25 * ncol, 0.25 + 1.65 * nrow))
    axes = np.atleast_1d(fig.subplots(nrow, ncol)).ravel()
    for ax in axes[n1 + 1 :]:
        ax.set_axis_off()
    for k, (ax, m, ex) in enumerate(zip(axes, mats, extras)):
        ax.set_facecolor("0.55")
        hinton(ax, m, biggest, origin=(0, 1.3))
        if ex is not None:
            hinton(ax, [[ex[0]]], biggest, origin=(0, 0))  # from the top unit: top left
            hinton(ax, [[ex[1]]], biggest, origin=(side - 1, 0))  # bias: top right
        ax.set_xlim(-0.6, side - 0.4)
        ax.set_ylim(side + 0.9, -0.6)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"unit {k + 1}" if ex is not None else "input biases", fontsize=8)
    fig.suptitle(f"generative weights (largest |w| = {biggest:.1f})", fontsize=9)
    return fig


def learning_curve(
    seen,
    values,
    ylabel="KL(data || model) [bits]",
    reference=None,
    label=None,
    ax=None,
    reference_label=None,
    xscale="linear",
):
    """A measure against training examples (log y); ``reference`` a
    horizontal line labelled ``reference_label`` (default: the value).  On a
    log x-axis (``xscale="log"``) the measure at 0 examples has no place
    and is left out.  Draws on ``ax`` if given; returns the figure."""
    fig, ax = _axes(ax, (5, 3.2))
    seen, values = np.asarray(seen, dtype=float), np.asarray(values, dtype=float)
    if xscale == "log":
        keep = seen > 0
        seen, values = seen[keep], values[keep]
    ax.plot(seen, values, marker=".", label=label)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=0.8, label=reference_label or f"reference: {reference:g}")
    ax.set_xscale(xscale)
    ax.set_xlabel("training examples")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def weight_evolution(seen, history, circuit, n_frames=6, side=None, fig=None):
    """Small multiples of the weight history: generative (top row) and
    recognition (bottom row) weights between the input and the first hidden
    layer, at ``n_frames`` snapshots spread over training on a log scale
    (each titled with its example count: the frames are not evenly spaced in
    examples).  Each frame shows one tile per hidden unit (its weights to /
    from the input image); in ``fig`` if given.  Returns the figure."""
    seen = np.asarray(seen)
    n0, n1 = circuit.layers[0], circuit.layers[1]
    side = side or int(round(np.sqrt(n0)))
    # frames spaced evenly in log(examples): most of the change happens early
    targets = np.geomspace(max(seen[1], 1), seen[-1], n_frames - 1) if len(seen) > 2 else seen
    picks = np.unique([0] + [int(np.argmin(np.abs(seen - x))) for x in targets])
    G = history["generative_weights_0"].reshape(len(seen), n1, n0)
    R = history["recognition_weights_0"].reshape(len(seen), n0, n1).transpose(0, 2, 1)
    fig = _figure(fig, (2.0 * len(picks), 4.4))
    axes = fig.subplots(2, len(picks), squeeze=False)
    for row, (W, name) in enumerate(((G, "generative G1"), (R, "recognition R1"))):
        vmax = max(np.abs(W[picks]).max(), 1e-12)
        for c, k in enumerate(picks):
            ax = axes[row, c]
            cols = int(np.ceil(np.sqrt(n1)))
            rows = -(-n1 // cols)
            canvas = np.full((rows * (side + 1) + 1, cols * (side + 1) + 1), np.nan)
            for j in range(n1):
                r, cc = divmod(j, cols)
                canvas[
                    1 + r * (side + 1) : 1 + r * (side + 1) + side, 1 + cc * (side + 1) : 1 + cc * (side + 1) + side
                ] = W[k, j].reshape(side, side)
            im = ax.imshow(canvas, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{int(seen[k]):,} ex.", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
        fig.colorbar(im, ax=list(axes[row]), shrink=0.8, pad=0.01)
    fig.suptitle(
        "evolution of the weights between input and first hidden layer (frames log-spaced in examples)", fontsize=9
    )
    return fig


def confusion(ax, matrix, labels):
    matrix = np.asarray(matrix)
    ax.imshow(matrix, cmap="Blues")
    for (r, c), v in np.ndenumerate(matrix):
        if v:
            ax.text(
                c, r, str(v), ha="center", va="center", fontsize=7, color="white" if v > matrix.max() / 2 else "black"
            )
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")


def phase_raster(samples, layers, n_shown, rates=None, fig=None):
    """Raster of every layer over ``n_shown`` examples, each step split into
    its wake half and its (shaded) sleep half; beside it, firing probability
    per unit and phase.  ``samples``: {'wake': [per layer (steps, units)],
    'sleep': [...]} as recorded by the Brian2 event monitors; in ``fig`` if
    given.  Returns the figure."""
    fig = _figure(fig, (11, 5))
    ax, axr = fig.subplots(1, 2, gridspec_kw={"width_ratios": [4, 1]}, sharey=True)
    offsets = np.concatenate([[0], np.cumsum(layers)[:-1]]) + np.arange(len(layers)) * 2
    for t in range(n_shown):
        ax.axvspan(t + 0.5, t + 1.0, color="0.9", lw=0)
    for phase, shift, color in (("wake", 0.25, "C0"), ("sleep", 0.75, "C3")):
        for l, _ in enumerate(layers):
            steps, units = np.nonzero(samples[phase][l][:n_shown])
            ax.scatter(steps + shift, offsets[l] + units, s=6, marker="|", color=color, label=phase if l == 0 else None)
    for l, n in enumerate(layers):
        ax.text(-0.5, offsets[l] + n / 2, "input" if l == 0 else f"layer {l}", ha="right", va="center", fontsize=8)
    ax.set_xlim(0, n_shown)
    ax.set_xlabel("training example (time step): wake half | sleep half (shaded)")
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title("on-states recorded by EventMonitor(layer, 'wake') and (layer, 'sleep')", fontsize=9)
    if rates is not None:
        for phase, color in (("wake", "C0"), ("sleep", "C3")):
            for l in range(len(layers)):
                r = np.asarray(rates[phase][l])
                axr.plot(r, offsets[l] + np.arange(len(r)), "o", ms=3, color=color)
        axr.set_xlabel("P(on) per unit")
        axr.set_xlim(-0.05, 1.05)
    return fig


#: the measures a protocol figure shows, in words (all in bits)
MEASURE_LABELS = {
    "kl_data_model_bits": "KL(data‖model)",
    "kl_q_p_bits": "KL(Q‖P) penalty",
    "free_energy_bits": "free energy F",
    "sampled_free_energy_bits": "free energy F (sampled)",
}


def protocol_trace(result: dict, key: str) -> tuple:
    """(examples, values) of one measure over a protocol: before the first
    epoch, at the start of every epoch (its lesions and clamps on) and
    every ``measure_every`` examples, so a change at an epoch boundary is a
    vertical step, not a ramp."""
    xs, ys = [], []
    if key in result.get("initial_measures", {}):
        xs.append(0)
        ys.append(result["initial_measures"][key])
    for r in result["epochs"]:
        for point in r["trace"]:
            if key in point:
                xs.append(point["examples"])
                ys.append(point[key])
    return np.array(xs), np.array(ys)


def protocol_figure(result: dict, layers, title: str = "", fig=None):
    """One protocol recording: each measure over time on an axis of its own
    (epochs shaded and named; a change at an epoch boundary drawn as the
    step it is) above the rasters of the epochs that recorded them (sleep
    halves shaded), with the mean firing probability per layer and phase in
    their titles; in ``fig`` if given.  Returns the figure."""
    recorded = [r for r in result["epochs"] if r["spikes"]][:4]
    keys = [
        k
        for k in MEASURE_LABELS
        if k in result.get("initial_measures", {}) or any(k in r["measures"] for r in result["epochs"])
    ][:3]
    ncol = max(len(recorded), 1)
    rows = max(len(keys), 1)
    fig = _figure(fig, (max(8, 3.6 * ncol), 1.3 * rows + (3.9 if recorded else 0.8)))
    fig.set_layout_engine("constrained")
    outer = fig.add_gridspec(2 if recorded else 1, 1, height_ratios=[1.3 * rows, 3.4] if recorded else [1])
    top = outer[0].subgridspec(rows, 1, hspace=0.05)
    bottom = outer[1].subgridspec(1, ncol) if recorded else None
    axes = []
    for c in range(rows):
        ax = fig.add_subplot(top[c], sharex=axes[0] if axes else None)
        axes.append(ax)
        for j, r in enumerate(result["epochs"]):
            a, b = r["examples_before"], r["examples_before"] + r["epoch"]["examples"]
            ax.axvspan(a, b, color=f"C{j % 10}", alpha=0.08, lw=0)
            if c == 0:
                label = r["epoch"]["name"] or f"epoch {j + 1}"
                ax.text(
                    (a + b) / 2,
                    1.0,
                    f"{label}\n({r['epoch']['kind']})",
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        if c < len(keys):
            xs, ys = protocol_trace(result, keys[c])
            ax.plot(xs, ys, "o-", ms=3, color=f"C{c}")
            ax.set_ylabel(f"{MEASURE_LABELS[keys[c]]}\n[bits]", fontsize=8)
        if c < rows - 1:
            ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("examples since the protocol's start")
    for j, r in enumerate(recorded):
        _epoch_raster(fig.add_subplot(bottom[0, j]), r, layers, first=j == 0)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _epoch_raster(axr, r: dict, layers, first: bool):
    """One recorded epoch of a protocol: wake and sleep rasters of its first
    examples (sleep halves shaded), the mean firing probability per layer
    and phase in the title; ``first``: with the legend."""
    n = r["epoch"]["record_spikes"]
    shown = min(n, 50)
    offsets = np.concatenate([[0], np.cumsum(layers)[:-1]]) + np.arange(len(layers)) * 2
    for t in range(shown):
        axr.axvspan(t + 0.5, t + 1.0, color="0.9", lw=0)
    for phase, shift, color in (("wake", 0.25, "C0"), ("sleep", 0.75, "C3")):
        for l in range(len(layers)):
            t = np.asarray(r["spikes"][f"{phase}_{l}_t"])
            i = np.asarray(r["spikes"][f"{phase}_{l}_i"])
            keep = t < shown
            label = phase if l == 0 and first else None
            axr.scatter(t[keep] + shift, offsets[l] + i[keep], s=5, marker="|", color=color, label=label)
    rates = "; ".join(
        f"L{l} {np.mean(r['rates']['wake'][l]):.2f}/{np.mean(r['rates']['sleep'][l]):.2f}" for l in range(len(layers))
    )
    axr.set_title(f"{r['epoch']['name'] or r['epoch']['kind']}: P(on) wake/sleep\n{rates}", fontsize=7)
    axr.set_xlim(0, shown)
    axr.set_yticks(
        [offsets[l] + layers[l] / 2 for l in range(len(layers))],
        ["input"] + [f"layer {l}" for l in range(1, len(layers))],
        fontsize=7,
    )
    axr.set_xlabel("example: wake | sleep (shaded)", fontsize=7)
    if first:
        axr.legend(fontsize=6, loc="upper right")


def _tiles(W, n1, side):
    """One weight matrix (n1, side*side) tiled as images with 1px gaps."""
    cols = int(np.ceil(np.sqrt(n1)))
    rows = -(-n1 // cols)
    canvas = np.full((rows * (side + 1) + 1, cols * (side + 1) + 1), np.nan)
    for j in range(n1):
        r, c = divmod(j, cols)
        canvas[1 + r * (side + 1) : 1 + r * (side + 1) + side, 1 + c * (side + 1) : 1 + c * (side + 1) + side] = W[
            j
        ].reshape(side, side)
    return canvas


def weight_animation(seen, history, circuit, path, frames: int = 60, fps: int = 8):
    """The weight history as an animated GIF: generative G1 and recognition
    R1 (one tile per first-hidden unit), a frame per snapshot (at most
    ``frames``, spread on a log scale), labelled with the examples seen.
    Written atomically with matplotlib's Pillow writer."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    plt = _plt()
    seen = np.asarray(seen)
    n0, n1 = circuit.layers[0], circuit.layers[1]
    side = int(round(np.sqrt(n0)))
    if side * side != n0:
        side = n0  # not square: one row per unit
    G = history["generative_weights_0"].reshape(len(seen), n1, n0)
    R = history["recognition_weights_0"].reshape(len(seen), n0, n1).transpose(0, 2, 1)
    if len(seen) > frames:
        targets = np.geomspace(max(seen[1], 1), seen[-1], frames - 1)
        picks = np.unique([0] + [int(np.argmin(np.abs(seen - x))) for x in targets])
    else:
        picks = np.arange(len(seen))
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4))
    ims = []
    for ax, W, name in ((axes[0], G, "generative G1"), (axes[1], R, "recognition R1")):
        vmax = max(np.abs(W).max(), 1e-12)
        ims.append(
            ax.imshow(
                _tiles(W[0], n1, side) if side != n0 else W[0],
                cmap="RdBu_r",
                vmin=-vmax,
                vmax=vmax,
                interpolation="nearest",
            )
        )
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    label = fig.suptitle("", fontsize=9)

    def draw(i):
        k = picks[i]
        for im, W in zip(ims, (G, R)):
            im.set_data(_tiles(W[k], n1, side) if side != n0 else W[k])
        label.set_text(f"{circuit.name}: {int(seen[k]):,} examples seen")
        return ims + [label]

    anim = FuncAnimation(fig, draw, frames=len(picks), blit=False)
    with atomic_path(path) as tmp:
        gif = tmp.with_name(tmp.name + ".gif")  # Pillow picks the format by the suffix
        try:
            anim.save(str(gif), writer=PillowWriter(fps=fps))
            os.replace(gif, tmp)
        finally:
            if gif.exists():
                gif.unlink()
    plt.close(fig)


def sweep_figure(rows: list, grid_keys, title: str, key: str, ax=None):
    """A sweep's final measure ``key`` per seed, one column per grid point;
    failed tasks as red crosses.  Draws on ``ax`` if given; returns the figure."""
    labels = []
    for r in rows:
        lab = ", ".join(f"{k}={r[k]}" for k in grid_keys) or "all"
        if lab not in labels:
            labels.append(lab)
    fig, ax = _axes(ax, (max(4.5, 1.6 * len(labels) + 2), 3.6))
    for x, lab in enumerate(labels):
        pts = [r for r in rows if (", ".join(f"{k}={r[k]}" for k in grid_keys) or "all") == lab]
        ok = [r for r in pts if r["status"] == "ok" and r.get(key) not in ("", None)]
        jitter = np.linspace(-0.15, 0.15, max(len(ok), 1))
        ax.scatter(x + jitter[: len(ok)], [r[key] for r in ok], s=18, color="k", zorder=3)
        for j, r in enumerate(ok):
            ax.annotate(str(r["seed"]), (x + jitter[j], r[key]), fontsize=6, xytext=(3, 0), textcoords="offset points")
        if ok:
            ax.hlines(
                np.median([r[key] for r in ok]), x - 0.25, x + 0.25, color="C0", label="median" if x == 0 else None
            )
        failed = [r for r in pts if r["status"] != "ok"]
        if failed:
            y0 = ax.get_ylim()[0] if ok else 0.0
            ax.scatter(
                [x] * len(failed),
                [y0] * len(failed),
                marker="x",
                color="red",
                s=40,
                label="failed" if not any(h.get_label() == "failed" for h in ax.collections) else None,
            )
    if key == "kl_data_model_bits":
        ax.axhline(0.10, color="0.6", ls="--", lw=0.8, label="paper: 0.10 bits")
        ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=7, rotation=15 if len(labels) > 3 else 0)
    ax.set_ylabel(key.replace("_bits", " [bits]").replace("_", " "))
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return fig


def kl_distributions(kls: dict, reference=None, ax=None):
    """KL(data || model) of every run, one column of points per learning rule.
    Draws on ``ax`` if given; returns the figure."""
    fig, ax = _axes(ax, (1.4 + 1.3 * len(kls), 3.6))
    rng = np.random.default_rng(0)  # horizontal jitter only
    for i, values in enumerate(kls.values()):
        v = np.asarray(values, dtype=float)
        ax.scatter(i + rng.uniform(-0.18, 0.18, len(v)), v, s=12, alpha=0.7)
        ax.plot([i - 0.3, i + 0.3], [np.median(v)] * 2, color="k", lw=1.5)
    if reference is not None:
        ax.axhline(reference, color="tab:red", ls="--", lw=1, label=f"paper: {reference} bits")
        ax.legend(loc="best", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(kls)))
    ax.set_xticklabels(list(kls), rotation=20)
    ax.set_ylabel("KL(data || model) [bits], one run per seed")
    fig.tight_layout()
    return fig


def success_rates(rows: list, reference: float, title: str = "", ax=None, baseline: str = "float64"):
    """The share of single runs reaching ``reference`` bits per setting, with
    its Wilson 95 % interval; the ``baseline`` setting's interval as a band.
    Draws on ``ax`` (a new figure otherwise); returns the figure."""
    fig, ax = _axes(ax, (6.4, 3.6))
    base = next((r for r in rows if r["setting"] == baseline), None)
    if base is not None:
        lo, hi = base["success_rate_interval_95"]
        ax.axhspan(lo, hi, color="0.85", label=f"{baseline}: 95 % interval")
    for i, r in enumerate(rows):
        lo, hi = r["success_rate_interval_95"]
        rate = r["success_rate"]
        ax.errorbar(
            [i], [rate], yerr=[[rate - lo], [hi - rate]], fmt="o", color="k" if r is base else "tab:blue", capsize=4
        )
        ax.annotate(
            f"{r['seeds_reaching_paper_kl']}/{r['seeds']}",
            (i, rate),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xticks(range(len(rows)), [r["setting"] for r in rows], rotation=12, fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-0.5, len(rows) - 0.3)
    ax.set_ylabel(f"single runs reaching {reference} bits")
    ax.set_title(title, fontsize=9)
    if base is not None:  # the band is the only labelled artist; below the axes, where no point can be
        ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, -0.16), frameon=False)
    fig.tight_layout()
    return fig


def success_against_bits(points: list, reference: float, baseline=None, title: str = "", ax=None):
    """Single runs reaching ``reference`` bits against the total bits of
    synaptic state per synapse: ``points`` are dicts (``mechanism``,
    ``bits``, ``success_rate``, ``success_rate_interval_95``), one line per
    mechanism with its Wilson intervals; ``baseline`` (a row, float64) as a
    band.  Draws on ``ax`` (a new figure otherwise); returns the figure."""
    fig, ax = _axes(ax, (7.2, 4.2))
    if baseline is not None:
        lo, hi = baseline["success_rate_interval_95"]
        ax.axhspan(lo, hi, color="0.88", label=f"float64 weights: {baseline['success_rate']:.0%} (95 % interval)")
    mechanisms = list(dict.fromkeys(p["mechanism"] for p in points))
    markers = "osD^v<>ph"
    for i, m in enumerate(mechanisms):
        mine = sorted((p for p in points if p["mechanism"] == m), key=lambda p: p["bits"])
        x = np.array([p["bits"] for p in mine]) * (1 + 0.025 * (i - len(mechanisms) / 2))  # apart where equal
        y = np.array([p["success_rate"] for p in mine])
        err = np.array(
            [[r - p["success_rate_interval_95"][0], p["success_rate_interval_95"][1] - r] for p, r in zip(mine, y)]
        )
        ax.errorbar(x, y, yerr=err.T, marker=markers[i % len(markers)], capsize=3, label=m, lw=1.2, ms=5)
    ax.set_xscale("log", base=2)
    ticks = []
    for t in sorted({round(p["bits"], 1) for p in points}):
        if not ticks or t > 1.15 * ticks[-1]:  # labels that would overlap on the log axis: the first of them
            ticks.append(t)
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("bits of synaptic state per synapse (log scale)")
    ax.set_ylabel(f"single runs reaching {reference} bits")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def precision_figure(rows: list, reference: float, title: str = "", ax=None):
    """KL(data || model) against the bits of the synapses' grid: every seed
    (points) and the median (line) per rounding, the float64 median and the
    paper's value as horizontal lines, named presets as labelled markers.
    Draws on ``ax`` if given; returns the figure."""
    fig, ax = _axes(ax, (6.4, 4.0))
    rng = np.random.default_rng(0)  # horizontal jitter only
    colours = {"nearest": "tab:orange", "stochastic": "tab:blue"}
    for rounding, colour in colours.items():
        mine = [r for r in rows if r["rounding"] == rounding and r["setting"].endswith(rounding)]
        mine = [r for r in mine if r["kl_data_model_bits"]]
        if not mine:
            continue
        for r in mine:
            v = np.asarray(r["kl_data_model_bits"], dtype=float)
            ax.scatter(r["bits"] + rng.uniform(-0.12, 0.12, len(v)), v, s=9, alpha=0.45, color=colour)
        ax.plot(
            [r["bits"] for r in mine],
            [r["median_kl_data_model_bits"] for r in mine],
            "-o",
            color=colour,
            ms=4,
            label=f"{rounding} rounding (median)",
        )
    for r in rows:
        if r["rounding"] == "exact" and r["kl_data_model_bits"]:
            ax.axhline(r["median_kl_data_model_bits"], color="k", lw=1, label="float64 (median)")
        elif not r["setting"].endswith(("nearest", "stochastic")) and r["kl_data_model_bits"]:
            ax.plot(
                [r["bits"]],
                [r["median_kl_data_model_bits"]],
                "D",
                color="tab:green",
                ms=7,
                label=f"{r['setting']} preset (median)",
            )
    ax.axhline(reference, color="tab:red", ls="--", lw=1, label=f"paper: {reference} bits")
    ax.set_yscale("log")
    ax.set_xlabel("bits per synapse (levels = 2^bits)")
    ax.set_ylabel("KL(data || model) [bits], one run per seed")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig
