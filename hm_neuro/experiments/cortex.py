"""The Helmholtz machine as a model of cortex: sleep deprivation, lesions,
corrupted inputs, recognition-generation alignment and imagery, on the bars
machine of Hinton et al. (1995).

The papers cast recognition as the bottom-up cortical pathway, generation as
the top-down one, and sleep as the time when the top-down pathway runs alone
(Dayan, sections 1 and 3).  Each panel of ``cortex.png`` is one experiment on
a machine trained with the bars protocol (``--quick``: a short training):

1. sleep deprivation -- training continues with wake-only epochs (no sleep,
   so the recognition weights stop learning) against a control that keeps
   sleeping: KL(data || model) and the eq. 8 penalty KL(Q || P) over time;
2. lesions -- a growing fraction of the bottom-up synapses into the first
   hidden layer (recognition_0) silenced: description length (free energy,
   eq. 5) of the data;
3. corrupted inputs -- a growing fraction of input pixels flipped: free
   energy of the corrupted images;
4. alignment -- correlation between the recognition weights R1 and the
   transposed generative weights G1 over training;
5. imagery -- the top unit clamped off or on and the generative pathway run
   alone (frozen, sampling only, on the Brian2 circuit): what it "imagines";
   and fantasies with the top-down input to the first hidden layer cut.

Writes ``cortex.json`` and ``cortex.png``.   Run:  hm-neuro reproduce cortex
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plotting
from ..engines import capabilities, make_engine
from ..files.data import bars_distribution, sample_bars
from ..files.model_io import save_json
from ..measures import exact_summary, sampled_free_energy
from ..model import Parameters, Perturbation, load_circuit
from ..seeds import SeedTree
from ..training import BarsStream, Epoch, train, train_population
from .settings import OneMachine, resolve

TRAIN = 2_000_000  # the bars protocol
CONTINUE = 500_000  # examples of the deprivation / control epoch
FRACTIONS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
SEED = 9  # a seed whose bars run reaches the paper's solution (figures/bars_restarts1_seeds40.json)


def params_at(history, i, circuit):
    return Parameters.from_arrays({k: v[i] for k, v in history.items()}, circuit)


def engine_fantasies(circuit, params, n, seed, perturbation, engine, device):
    """Sample only (frozen gates) on the engine's circuit, perturbed; the
    fantasies are the sleep samples of the input layer."""
    with make_engine(circuit, engine, device=device, chunk=n, record_spikes=True) as eng:
        _, extras = eng.run(
            params, np.zeros((n, circuit.n_input)), seed, np.zeros(n), np.zeros(n), perturbation=perturbation
        )
    return extras["sleep"][0]


@dataclass(frozen=True)
class Settings(OneMachine):
    """The cortex experiment's settings (``hm-neuro reproduce cortex``; :func:`main`)."""

    seed: int = SEED


def main(given: Settings | None = None, /, **changes):
    """Run the cortex experiment: :class:`Settings` with ``changes`` on top (``main(quick=True)``)."""
    s = resolve(Settings, given, changes)
    seed, quick, engine, device = s.seed, s.quick, s.engine, s.device
    out = Path(s.out)
    n_train = 5_000 if quick else TRAIN
    n_cont = 2_000 if quick else CONTINUE
    circuit = load_circuit("bars")
    patterns, probs = bars_distribution()
    stream = BarsStream()
    root = SeedTree(seed)
    base = train(circuit, stream, n_train, seed=root, engine=engine, device=device, record_every=max(n_train // 20, 1))
    trained = base.params
    device = base.device if capabilities(base.engine).brian2 else None
    result = {
        "experiment": "cortex",
        "seed": seed,
        "train_examples": n_train,
        "quick": quick,
        "engine": base.engine,
        "device": base.device,
        "trained": exact_summary(trained, patterns, probs),
    }

    result["sleep_deprivation"] = curves = _sleep_deprivation(circuit, trained, n_train, n_cont, root, engine, device)
    result.update(_lesions_and_corruption(trained, root.child("evaluation").rng()))
    result["alignment"] = _alignment(base, circuit)
    imagery = _imagery(circuit, trained, root, engine, device)
    for key, f in imagery.items():
        img = f.reshape(-1, 4, 4)
        result[f"imagery_{key}_vertical_fraction"] = float(np.mean([np.all(x == x[:1]) and x.any() for x in img]))
        result[f"imagery_{key}_blank_fraction"] = float(np.mean(f.sum(1) == 0))
    name = "cortex_quick" if quick else "cortex"
    save_json(out / f"{name}.json", result)
    plot(result, imagery, out / f"{name}.png")
    print(
        f"cortex: after {n_cont:,} more examples, KL(Q||P) control {curves['control']['kl_q_p_bits'][-1]:.3f} "
        f"vs deprived {curves['deprived']['kl_q_p_bits'][-1]:.3f} bits -> {out / (name + '.png')}"
    )
    return result


def _sleep_deprivation(circuit, trained, n_train: int, n_cont: int, root, engine, device) -> dict:
    """1. Control and sleep-deprived machines continuing from the trained one,
    side by side in one population on the same data (same data seed): their
    exact KLs along the way."""
    patterns, probs = bars_distribution()
    names = (("control", "wake-sleep"), ("deprived", "wake"))
    cont = root.child("epoch", 1)
    runs = train_population(
        circuit,
        [BarsStream(), BarsStream()],
        [[Epoch(n_cont, kind)] for _, kind in names],
        [cont, cont],
        engine=engine,
        device=device,
        params=[trained, trained],
        record_every=max(n_cont // 10, 1),
    )
    curves = {}
    for (name, _), r in zip(names, runs):
        summ = [exact_summary(params_at(r.history, i, circuit), patterns, probs) for i in range(len(r.history_seen))]
        curves[name] = {
            "examples": [n_train + s for s in r.history_seen],
            "kl_data_model_bits": [x["kl_data_model_bits"] for x in summ],
            "kl_q_p_bits": [x["kl_q_p_bits"] for x in summ],
        }
    return curves


def _lesions_and_corruption(trained, rng) -> dict:
    """2. Lesions of recognition_0 and 3. corrupted inputs: the free energy
    (50 recognition samples per image) of 2,000 bars images."""
    data = sample_bars(2000, rng)
    lesion_f, corrupt_f = [], []
    for f in FRACTIONS:
        p = trained.copy()
        p.recognition_weights[0] *= rng.random(p.recognition_weights[0].shape) >= f
        lesion_f.append(float(np.mean(sampled_free_energy(p, data, 50, rng))))
        flipped = np.abs(data - (rng.random(data.shape) < f / 2))  # f/2 of the pixels flipped
        corrupt_f.append(float(np.mean(sampled_free_energy(trained, flipped, 50, rng))))
    return {
        "lesion_fraction": FRACTIONS,
        "lesion_free_energy_bits": lesion_f,
        "flipped_pixel_fraction": [f / 2 for f in FRACTIONS],
        "corrupted_free_energy_bits": corrupt_f,
    }


def _alignment(base, circuit) -> dict:
    """4. The correlation of R1 with G1^T over the training run."""
    n0, n1 = circuit.layers[0], circuit.layers[1]
    G = base.history["generative_weights_0"].reshape(-1, n1, n0)
    R = base.history["recognition_weights_0"].reshape(-1, n0, n1)
    align = [
        float(np.corrcoef(R[i].ravel(), G[i].T.ravel())[0, 1]) if np.std(G[i]) > 0 and np.std(R[i]) > 0 else 0.0
        for i in range(len(base.history_seen))
    ]
    return {"examples": base.history_seen, "corr_R1_G1T": align}


def _imagery(circuit, trained, root, engine, device, n: int = 400) -> dict:
    """5. Imagery on the Brian2 circuit: fantasies with the top unit clamped
    off and on, and with the top-down input to layer 1 cut."""
    seed = root.child("figures").integer()
    imagery = {}
    for state in (0.0, 1.0):
        imagery[int(state)] = engine_fantasies(
            circuit, trained, n, seed, Perturbation(clamps={2: np.array([state])}), engine, device
        )
    cut = Perturbation(lesions={("generative", 1): np.zeros((1, circuit.layers[1]))})
    imagery["cut"] = engine_fantasies(circuit, trained, n, seed, cut, engine, device)
    return imagery


def plot(result, imagery, path):
    plt = plotting._plt()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    ax = axes[0, 0]
    for name, style in (("control", "-"), ("deprived", "--")):
        c = result["sleep_deprivation"][name]
        ax.plot(c["examples"], c["kl_q_p_bits"], style, color="C0", label=f"KL(Q||P), {name}")
        ax.plot(c["examples"], c["kl_data_model_bits"], style, color="C1", label=f"KL(data||model), {name}")
    ax.set_xlabel("training examples")
    ax.set_ylabel("bits")
    ax.set_title("1. sleep deprivation (wake-only epoch)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.plot(result["lesion_fraction"], result["lesion_free_energy_bits"], "o-")
    ax.set_xlabel("fraction of recognition_0 synapses silenced")
    ax.set_ylabel("free energy of the data [bits]")
    ax.set_title("2. lesions of the bottom-up pathway", fontsize=9)
    ax = axes[0, 2]
    ax.plot(result["flipped_pixel_fraction"], result["corrupted_free_energy_bits"], "o-", color="C2")
    ax.set_xlabel("fraction of input pixels flipped")
    ax.set_ylabel("free energy [bits]")
    ax.set_title("3. perception of corrupted inputs", fontsize=9)
    ax = axes[1, 0]
    a = result["alignment"]
    ax.plot(a["examples"], a["corr_R1_G1T"], "o-", color="C3")
    ax.set_xlabel("training examples")
    ax.set_ylabel("corr(R1, G1ᵀ)")
    ax.set_title("4. recognition vs generation alignment", fontsize=9)
    for ax, key, title in (
        (axes[1, 1], 0, "5. imagery: top unit clamped OFF"),
        (axes[1, 2], 1, "5. imagery: top unit clamped ON"),
    ):
        f = imagery[key]
        f = f[f.sum(1) > 0][:24]
        plotting.image_grid(ax, f, 4, 8, title)
    fig.tight_layout()
    plotting.save(fig, path)
