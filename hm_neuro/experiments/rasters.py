"""Spike rasters of the bars circuit awake and asleep (Brian2 event monitors).

A bars machine is trained with the protocol of Hinton et al. (1995), note
[15]; then the Brian2 circuit runs with learning frozen while
``EventMonitor(layer, 'wake')`` and ``EventMonitor(layer, 'sleep')`` record
every unit that is on in each phase.  Each example is drawn as one time step
split in two: the wake phase (bottom-up, data clamped on the input) and the
sleep phase (top-down fantasy, shaded).  Firing rates per unit and phase are
written to ``rasters.json``; the figure is ``rasters.png``.

Run:  hm-neuro reproduce rasters [--quick]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plotting
from ..engines import make_engine
from ..files.data import sample_bars
from ..files.model_io import save_json
from ..model import load_circuit
from ..seeds import SeedTree
from ..training import BarsStream, train
from .settings import OneMachine, resolve

TRAIN = 2_000_000
SHOWN = 40  # examples drawn in the raster
RATE_EXAMPLES = 5000  # examples used for the firing rates
SEED = 9


@dataclass(frozen=True)
class Settings(OneMachine):
    """The rasters experiment's settings (``hm-neuro reproduce rasters``; :func:`main`):
    the machine of ``seed`` (default 9, a seed whose bars run reaches the
    paper's solution) trained on the bars, 20,000 examples with ``quick``."""

    seed: int = SEED


def main(given: Settings | None = None, /, **changes):
    """Train the bars machine of :class:`Settings` (``changes`` on top:
    ``main(quick=True)``), then record one wake-sleep cycle per example with
    its spikes: the rasters of :data:`SHOWN` examples and the firing rates
    over :data:`RATE_EXAMPLES`, phase by phase, into ``out``."""
    s = resolve(Settings, given, changes)
    seed, quick, engine, device = s.seed, s.quick, s.engine, s.device
    out = Path(s.out)
    circuit = load_circuit("bars")
    r = train(circuit, BarsStream(), 20_000 if quick else TRAIN, seed=seed, engine=engine, device=device)
    n = RATE_EXAMPLES
    node = SeedTree(seed).child("figures")
    data = sample_bars(n, node.rng())
    dev = r.device
    with make_engine(circuit, engine, device=device, chunk=n, record_spikes=True) as eng:
        _, rec = eng.run(r.params, data, node.integer(), np.zeros(n), np.zeros(n))  # frozen: sampling only
    rates = {phase: [a.mean(0).tolist() for a in rec[phase]] for phase in ("wake", "sleep")}
    result = {
        "experiment": "rasters",
        "seed": seed,
        "train_examples": r.examples_seen,
        "quick": quick,
        "device": dev,
        "examples": n,
        "firing_probability": rates,
        "input_on_fraction_wake": float(rec["wake"][0].mean()),
        "input_on_fraction_sleep": float(rec["sleep"][0].mean()),
    }
    name = "rasters_quick" if quick else "rasters"
    save_json(out / f"{name}.json", result)

    plotting.save(plotting.phase_raster(rec, circuit.layers, SHOWN, rates), out / f"{name}.png")
    print(
        f"rasters: input on-fraction awake {result['input_on_fraction_wake']:.3f}, dreaming "
        f"{result['input_on_fraction_sleep']:.3f} -> {out / (name + '.png')}"
    )
    return result
