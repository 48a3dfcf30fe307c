"""Fantasies of handwritten '9's: Dayan, "Helmholtz machines and wake-sleep
learning", Fig. 1B.

A three-layer machine (circuits/nines.toml: 64-16-4, the digit settings of
Hinton et al. 1995, note [16]) is trained by wake-sleep on the binarised '9's
of scikit-learn's 8x8 digits; eight training images are shown beside eight
fantasies of the trained generative model.

Writes ``nines.json`` (free energy of the training images, estimated and
importance-sampled -log2 P(d), in bits) and ``nines.png``.

Run:  hm-neuro reproduce nines [--quick]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plotting
from ..files.data import load_digits
from ..files.model_io import save_json, save_model
from ..measures import importance_log2_prob, sampled_free_energy
from ..model import load_circuit, sample_fantasies
from ..seeds import SeedTree
from ..training import SweepStream, train
from .settings import OneMachine, resolve

SWEEPS = 500  # as for the digit machines of note [16]


@dataclass(frozen=True)
class Settings(OneMachine):
    """The nines experiment's settings (``hm-neuro reproduce nines``; :func:`main`)."""


def main(given: Settings | None = None, /, **changes):
    """Run the nines experiment: :class:`Settings` with ``changes`` on top (``main(quick=True)``)."""
    s = resolve(Settings, given, changes)
    seed, quick, engine, device = s.seed, s.quick, s.engine, s.device
    out = Path(s.out)
    sweeps = 20 if quick else SWEEPS
    circuit = load_circuit("nines")
    x, _ = load_digits(digits=[9])
    stream = SweepStream(x, "binarised 9s")
    r = train(circuit, stream, len(x) * sweeps, seed=seed, engine=engine, device=device)
    rng = SeedTree(seed).child("evaluation").rng()
    name = "nines_quick" if quick else "nines"
    result = {
        "experiment": "nines",
        "paper": "Dayan, Helmholtz machines and wake-sleep learning, Fig. 1B",
        "images": int(len(x)),
        "sweeps": sweeps,
        "examples": r.examples_seen,
        "engine": r.engine,
        "device": r.device,
        "seed": seed,
        "quick": quick,
        "free_energy_bits": float(np.mean(sampled_free_energy(r.params, x, 100, rng))),
        "importance_neg_log2_prob_bits": float(-np.mean(importance_log2_prob(r.params, x, 1000, rng))),
        "untrained_bits": float(circuit.n_input),
    }  # all-zero weights: every pixel costs 1 bit
    save_json(out / f"{name}.json", result)
    save_model(out / f"{name}_model.npz", r.params, circuit, seed, r.examples_seen, r.engine, r.device)

    plt = plotting._plt()
    fig, axes = plt.subplots(1, 2, figsize=(3.0, 10))
    picks = SeedTree(seed).child("figures").rng().choice(len(x), 8, replace=False)
    plotting.image_grid(axes[0], x[picks], 8, 1, "training")
    plotting.image_grid(axes[1], sample_fantasies(r.params, 8, rng)[0], 8, 1, "fantasies")
    plotting.save(fig, out / f"{name}.png")
    print(
        f"nines: {len(x)} images x {sweeps} sweeps; free energy {result['free_energy_bits']:.1f} bits "
        f"(untrained: {result['untrained_bits']:.0f}) -> {out / (name + '.png')}"
    )
    return result
