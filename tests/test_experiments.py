"""Quick modes of the paper experiments: outputs exist and are sane (not the
papers' values: quick runs are short)."""

import json

import numpy as np
import pytest
from conftest import needs_compiler
from matplotlib.image import imread

from hm_neuro.cli import load_experiment, main


def check_png(path, min_side=100):
    img = imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= min_side


@needs_compiler
def test_bars_quick_on_the_brian2_circuit(tmp_path):
    job = ["reproduce", "bars", "--quick", "--restarts", "2", "--seeds", "1", "--workers", "1", "--out", str(tmp_path)]
    assert main(job) == 0
    res = json.loads((tmp_path / "bars_restarts2_seeds1_quick.json").read_text())
    assert res["device"] == "cpp_standalone" and res["single_runs"] == 2
    assert sum(r["chosen"] for r in res["runs"]) == 1
    chosen = [r for r in res["runs"] if r["chosen"]][0]
    assert chosen["training_free_energy_bits"] == min(r["training_free_energy_bits"] for r in res["runs"])
    for r in res["runs"]:
        assert 0 < r["kl_data_model_bits"] < 16 and r["kl_q_p_bits"] >= 0
    curve = res["learning_curve"]
    assert res["figures_run_seed"] == chosen["run_seed"]  # the figures show the chosen run, labelled as such
    assert curve["examples"][0] == 0 and curve["examples"][-1] == 20_000
    assert curve["kl_data_model_bits"][-1] < curve["kl_data_model_bits"][0]  # it learned something
    for fig in ("fantasies", "weights", "learning_curve", "weight_evolution"):
        check_png(tmp_path / f"bars_restarts2_seeds1_quick_{fig}.png")
    # the same job in real time (the bridge at one step per window): the same machines, run for run
    assert main(job + ["--engine", "spiking"]) == 0
    spk = json.loads((tmp_path / "bars_spiking_restarts2_seeds1_quick.json").read_text())
    assert spk["engine"] == "spiking"
    for a, b in zip(res["runs"], spk["runs"]):
        assert a["kl_data_model_bits"] == pytest.approx(b["kl_data_model_bits"], abs=1e-9)


def test_nines_quick(tmp_path):
    mod = load_experiment("nines")
    res = mod.main(quick=True, out=tmp_path, engine="brian2", device="numpy")
    assert np.isfinite(res["free_energy_bits"]) and res["free_energy_bits"] < res["untrained_bits"]
    check_png(tmp_path / "nines_quick.png")


def test_digits_quick(tmp_path):
    mod = load_experiment("digits")
    res = mod.main(quick=True, out=tmp_path, engine="numpy", sweeps=3, workers=1)
    for key in ("error_helmholtz", "error_nearest_neighbour", "error_backprop"):
        assert 0.0 <= res[key] < 0.9
    assert np.sum(res["confusion"]) == res["test_images"]
    check_png(tmp_path / "digits_quick_fantasies.png")
    check_png(tmp_path / "digits_quick_confusion.png")


def test_cortex_quick(tmp_path):
    mod = load_experiment("cortex")
    res = mod.main(quick=True, out=tmp_path, engine="numpy")
    dep = res["sleep_deprivation"]
    assert len(dep["control"]["kl_q_p_bits"]) == len(dep["deprived"]["kl_q_p_bits"]) >= 2
    assert np.all(np.isfinite(res["lesion_free_energy_bits"])) and np.all(
        np.isfinite(res["corrupted_free_energy_bits"])
    )
    assert res["corrupted_free_energy_bits"][-1] > res["corrupted_free_energy_bits"][0]
    assert -1.0 <= min(res["alignment"]["corr_R1_G1T"]) <= max(res["alignment"]["corr_R1_G1T"]) <= 1.0
    check_png(tmp_path / "cortex_quick.png")


def test_rasters_quick(tmp_path):
    mod = load_experiment("rasters")
    res = mod.main(quick=True, out=tmp_path, engine="numpy")
    wake, sleep = res["firing_probability"]["wake"], res["firing_probability"]["sleep"]
    assert [len(x) for x in wake] == [len(x) for x in sleep] == [16, 8, 1]
    assert all(0.0 <= p <= 1.0 for layer in wake + sleep for p in layer)
    assert abs(res["input_on_fraction_wake"] - 0.2) < 0.03  # bars pixels are on ~20 % of the time
    check_png(tmp_path / "rasters_quick.png")


def test_rules_quick_compares_rules_on_the_same_seeds(tmp_path):
    from hm_neuro.experiments import rules

    rows = rules.main(quick=True, out=tmp_path, workers=1, engine="vectorised")
    assert [r["rule"] for r in rows] == ["wake-sleep", "reweighted:2"]
    for r in rows:
        assert len(r["kl_data_model_bits"]) == 4 and 0 <= r["seeds_reaching_paper_kl"] <= 4
        assert 0 < r["median_kl_data_model_bits"] < 16 and r["median_kl_q_p_bits"] >= 0
    res = json.loads((tmp_path / "rules_quick.json").read_text())
    assert res["rows"][1]["source"].endswith("bars_reweighted2_restarts1_seeds4_quick.json")
    check_png(tmp_path / "rules_quick.png")
    # a second call re-uses the results instead of training again
    source = tmp_path / "bars_reweighted2_restarts1_seeds4_quick.json"
    stamp = source.stat().st_mtime_ns
    again = rules.main(quick=True, out=tmp_path, workers=1, engine="vectorised")
    assert again[1]["kl_data_model_bits"] == rows[1]["kl_data_model_bits"]
    assert source.stat().st_mtime_ns == stamp


def test_digits_quick_with_another_rule_uses_the_same_split(tmp_path):
    from hm_neuro.experiments import digits

    res = digits.main(quick=True, out=tmp_path, workers=1, rule="reweighted:2", sweeps=2)
    assert res["rule"] == "reweighted:2" and res["engine"] == "vectorised"
    assert (tmp_path / "digits_reweighted2_quick.json").exists()
    assert res["test_images"] + res["train_images"] == 1797 and 0 <= res["error_helmholtz"] <= 1


def test_spiking_quick(tmp_path):
    """The spiking realisation trains bars (two settings, two machines each,
    Brian2's numpy target) and writes its table and figure."""
    from hm_neuro.files.data import bars_distribution
    from hm_neuro.measures import exact_summary
    from hm_neuro.model import Parameters, load_circuit

    mod = load_experiment("spiking")
    res = mod.main(quick=True, out=tmp_path, settings=["bridge", "rate-escape"])
    untrained = exact_summary(Parameters.initial(load_circuit("bars")), *bars_distribution(p_vertical=2 / 3))
    for name, r in res["settings"].items():
        assert r["seeds"] == [0, 1] and len(r["kl_data_model_bits"]) == 2
        assert all(k < untrained["kl_data_model_bits"] for k in r["kl_data_model_bits"]), name  # it learned
        assert r["steps_per_example"] == 7 and r["ms_per_example"] == pytest.approx(7.0)
        assert r["spiking_fantasies"] == 300 and all(0 < k < 40 for k in r["kl_data_spiking_fantasies_bits"])
    assert res["settings"]["bridge"]["bridge"] and not res["settings"]["rate-escape"]["bridge"]
    check_png(tmp_path / "spiking_bridge_rate-escape_quick.png")  # not the default settings: named by them
    assert json.loads((tmp_path / "spiking_bridge_rate-escape_quick.json").read_text())["examples"] == 200


def test_precision_quick_writes_its_table_and_figures(tmp_path):
    assert main(["reproduce", "precision", "--quick", "--workers", "1", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "precision_quick.json").read_text())
    rows = {r["setting"]: r for r in res["rows"]}
    assert set(rows) == {"float64", "loihi"} | {
        f"{b} {r}" for b in ("4.7-bit", "8-bit") for r in ("nearest", "stochastic")
    }
    assert rows["4.7-bit stochastic"]["levels"] == 26 and rows["4.7-bit nearest"]["step"] == pytest.approx(32 / 25)
    for r in rows.values():
        assert (
            r["seeds"] == 2 and len(r["kl_data_model_bits"]) == 2 and all(0 < kl < 40 for kl in r["kl_data_model_bits"])
        )
    # nearest rounding at 4.7 bits loses every weight update (step 1.28 > 2 x 0.2): the weights never move
    assert rows["4.7-bit nearest"]["input_updates_lost_to_nearest"] == 1.0
    for fig in ("precision_quick.png", "precision_quick_weights.png"):
        check_png(tmp_path / fig)
