"""The shipped results describe themselves: every model file in figures/
is the run its JSON names (re-evaluated exactly), trained by the rule the
JSON gives."""

import json
from pathlib import Path

import pytest

import hm_neuro as hm

FIGURES = Path(__file__).resolve().parents[1] / "figures"
MODELS = sorted(
    p for p in FIGURES.glob("bars*_model.npz") if p.with_name(p.name[: -len("_model.npz")] + ".json").exists()
)


def test_there_are_shipped_models_to_check():
    assert len(MODELS) >= 10


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_a_shipped_model_is_the_run_its_json_names(path):
    summary = json.loads(path.with_name(path.name[: -len("_model.npz")] + ".json").read_text())
    params, circuit, meta = hm.load_model(path)
    assert meta["seed_path"] == summary["figures_run_seed"]
    run = [r for r in summary["runs"] if r["run_seed"] == summary["figures_run_seed"]]
    assert len(run) == 1
    kl = hm.exact_summary(params, *hm.bars_distribution(p_vertical=summary["p_vertical"]))["kl_data_model_bits"]
    assert kl == pytest.approx(run[0]["kl_data_model_bits"], abs=1e-9)
    assert meta["rule"] == summary["rule"]
