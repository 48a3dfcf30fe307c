"""Counter-based streams in every engine: a machine's weights depend on its
seed, circuit and data alone -- the same on every engine and device, alone
or at any place in a population, with any chunk length."""

import json

import pytest
from conftest import backends

import hm_neuro as hm
from hm_neuro.engines.brian2.device import compiler_available
from hm_neuro.experiments.bars import SPIKING_BRIDGE
from hm_neuro.training import train_population

needs_compiler = pytest.mark.skipif(not compiler_available(), reason="needs a C++ compiler")
CIRCUIT = hm.load_circuit("bars")


def trained(n=2000, seed=5, chunk=700, **options):  # 2000 examples: chunks of 667, 667, 666 (padded)
    return hm.train(CIRCUIT, hm.BarsStream(), n, seed=seed, progress=False, chunk=chunk, **options).params


@pytest.fixture(scope="module")
def reference():
    return trained(engine="numpy")


#: every binary engine but the reference (conftest.backends; the spiking bridge's stream: test below)
BINARY = backends(compiled=True, reference=False, without="spiking")


@pytest.mark.parametrize("options", backends(compiled=True, cython=True, reference=False, without="spiking"))
def test_one_seed_gives_the_references_weights_on_every_engine_without_predrawn_uniforms(reference, options):
    p = trained(**options)
    assert reference.max_abs_difference(p) <= 1e-12
    assert reference.max_abs_difference(trained(seed=6, engine="numpy")) > 0.1  # another seed: other weights


@pytest.mark.parametrize("options", BINARY)
def test_a_machine_is_the_same_alone_and_as_the_7th_of_16_with_another_chunk_length(options):
    n = 1500 if options.get("device") == "numpy" else 2000
    alone = trained(n, chunk=700, **options)  # chunks of 667, 667, 666 (padded)
    seeds = [100 + k for k in range(16)]
    seeds[6] = 5
    results = train_population(CIRCUIT, [hm.BarsStream() for _ in seeds], n, seeds, progress=False, chunk=n, **options)
    assert results[6].params.max_abs_difference(alone) == 0.0
    assert results[0].params.max_abs_difference(alone) > 0.1


def test_a_reweighted_rules_copies_draw_alike_on_the_circuit_and_the_vectorised_engine():
    kw = {"rule": "reweighted:2", "n": 600, "chunk": 600}
    assert (
        trained(engine="vectorised", **kw).max_abs_difference(trained(engine="brian2", device="numpy", **kw)) <= 1e-12
    )


def test_the_spiking_bridge_draws_the_binary_circuits_numbers():
    binary = trained(600, seed=3, chunk=300, engine="brian2", device="numpy")
    spiking = hm.train(
        CIRCUIT.replace(dynamics=SPIKING_BRIDGE),
        hm.BarsStream(),
        600,
        seed=3,
        engine="spiking",
        device="numpy",
        progress=False,
        chunk=300,
    ).params
    assert binary.max_abs_difference(spiking) <= 1e-12


def test_the_old_generators_remain_for_old_results():
    new = trained(600, chunk=600, engine="numpy")
    old = trained(600, chunk=600, engine="numpy", rng="mt19937")
    assert old.max_abs_difference(trained(600, chunk=600, engine="numpy", rng="mt19937")) == 0.0
    assert old.max_abs_difference(new) > 0.1
    with pytest.raises(hm.HMError, match="rng: must be one of"):
        hm.EngineOptions(rng="mt")


@needs_compiler
def test_no_generated_code_calls_rand_by_default():
    with hm.make_engine(CIRCUIT, "brian2", device="cpp_standalone", chunk=500) as eng:  # test_equivalence's build
        sources = [p.read_text() for p in (eng.build_entry / "code_objects").glob("*.cpp")]
    assert sources and not any("_rand(" in s for s in sources)
    assert any("hm_philox_uniform(" in s for s in sources)


@needs_compiler
def test_train_seed_5_is_the_seed_5_machine_of_the_main_job(tmp_path):
    from hm_neuro.cli import main

    out = tmp_path / "figs"
    # seed 5 and its restart in one population: the build of ``reproduce bars --quick`` (test_experiments)
    argv = ["reproduce", "bars", "--quick", "--seed", "5", "--seeds", "1", "--restarts", "2", "--out", str(out)]
    assert main(argv + ["--workers", "1"]) == 0
    runs = json.loads((out / "bars_restarts2_seeds1_quick.json").read_text())["runs"]
    assert [r["run_seed"] for r in runs] == ["5", "5/restart=1"]
    published = next(r for r in runs if r["run_seed"] == "5")
    model = tmp_path / "m.npz"
    assert main(["train", "--seed", "5", "--examples", "20000", "--out", str(model), "--quiet"]) == 0
    params, circuit = hm.load_model(model)[:2]
    patterns, probs = hm.bars_distribution()
    kl = hm.exact_summary(params, patterns, probs)["kl_data_model_bits"]
    assert kl == pytest.approx(published["kl_data_model_bits"], abs=1e-12)
