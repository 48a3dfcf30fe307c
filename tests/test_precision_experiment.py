"""The precision experiment (issue 36) and its synapses: per-layer grids,
the success-rate statistics, hidden-state synapses that express few levels,
the mechanisms' rows, the experiment's synapse models held to the reference
exactly, its failure modes, digits rows and bits figure.  The grids
themselves: test_precision.py."""

from pathlib import Path

import numpy as np
import pytest
from conftest import backends
from helpers import per_layer_precision

import hm_neuro as hm
from hm_neuro.engines import make_engine
from hm_neuro.engines.brian2.device import compiler_available
from hm_neuro.experiments.rates import wilson_interval
from hm_neuro.files.data import sample_bars
from hm_neuro.model import Grid, Parameters, Precision

needs_compiler = pytest.mark.skipif(not compiler_available(), reason="needs a C++ compiler")
BARS = hm.load_circuit("bars")
PER_LAYER = per_layer_precision()


# ------------------------------------------------------------------ per-layer grids and the statistics of issue 36


def test_per_layer_grids_are_each_sets_own_and_refused_when_they_do_not_fit():
    assert PER_LAYER.grid("generative_weights", 0).step == pytest.approx(20 / 63)
    assert PER_LAYER.grid("generative_weights", 1).step == pytest.approx(10 / 63)
    assert PER_LAYER.grid("recognition_biases", 1) is None
    c = BARS.replace(precision=PER_LAYER)
    assert hm.Circuit.from_dict(c.to_dict()) == c  # [[precision]] tables round-trip
    with pytest.raises(hm.HMError, match=r"precision\.generative: needs 2 grids, one per weight set, or one \(got 3\)"):
        BARS.replace(precision=Precision([Grid(6)] * 3, None, None))
    with pytest.raises(hm.HMError, match=r"precision\.recognition: the grids of one pathway round alike"):
        Precision(None, [Grid(6), Grid(6, rounding="nearest")], None)
    with pytest.raises(hm.HMError, match=r"precision\.generative\[1\]\.range: must contain 0"):
        hm.Circuit.from_dict(
            {**BARS.to_dict(), "precision": {"generative": [{"bits": 6}, {"bits": 6, "range": [1, 2]}]}}
        )


def test_the_success_rate_statistics_match_known_values():
    """Wilson 95 % intervals and Fisher's exact test as the issues quote them."""
    from hm_neuro.experiments.rates import fisher_exact_p, wilson_interval

    lo, hi = wilson_interval(23, 40)
    assert round(lo, 2) == 0.42 and round(hi, 2) == 0.71  # "23/40 (95 % interval 42-71 %)"
    lo, hi = wilson_interval(6, 10)
    assert round(lo, 2) == 0.31 and round(hi, 2) == 0.83  # "6/10 has a 95 % interval of 31-83 %"
    assert fisher_exact_p(1, 10, 7, 10) == pytest.approx(0.0198, abs=5e-4)  # "8 bits vs float64: p = 0.02"
    assert fisher_exact_p(32, 40, 33, 40) == pytest.approx(1.0)  # "K saturates: Fisher p = 1"
    assert fisher_exact_p(0, 40, 40, 40) < 1e-20


# ------------------------------------------------------------ hidden-state synapses (issue 36)


def _expressed_levels(plasticity, parameter_set, k, lo, hi):
    """The distinct weights a declared synapse can express over [lo, hi] (its hidden value swept finely)."""
    h = np.linspace(lo, hi, 20001)
    f = plasticity.numpy("expressed", parameter_set, k)
    if "h" in plasticity.state:
        return np.unique(f(h=h))
    m = len(plasticity.state)
    return np.unique(f(**{f"c{i}": h / m for i in range(m)}))


def test_the_hidden_state_synapses_express_26_levels_per_layer_and_keep_their_bits():
    from hm_neuro.experiments import precision as experiment

    rows = {r[0]: r for r in experiment.hidden_state_settings()}
    assert list(rows) == [
        "float64",
        "4.7-bit per-layer",
        "8-bit hidden",
        "12-bit hidden",
        "float64 hidden",
        "4 contacts",
    ]
    c = hm.load_circuit("bars")
    for label in ("8-bit hidden", "12-bit hidden", "float64 hidden"):
        rule = rows[label][4]
        c.replace(plasticity=rule)  # a valid circuit
        for kind, ranges in experiment.PER_LAYER_RANGES.items():
            for k, (lo, hi) in enumerate(ranges):
                levels = _expressed_levels(rule, f"{kind}_weights", k, lo, hi)
                assert 25 <= len(levels) <= 26 and 0.0 in levels, (label, kind, k, len(levels))
    hstep = rows["8-bit hidden"][4].constants_for("recognition_weights", 0)["hstep"]
    assert hstep == pytest.approx(14.0 / 255)  # 256 hidden levels over [-3, 11]
    assert rows["4 contacts"][5] == pytest.approx(18.8) and len(rows["4 contacts"][4].state) == 4
    assert rows["4 contacts"][4].draws == 4  # each contact rounds with its own draw


def test_a_connection_of_contacts_must_have_one():
    from hm_neuro.experiments import precision as experiment

    with pytest.raises(hm.HMError, match=r"contacts: must be"):
        experiment.contacts(0)


# ------------------------------------------------------------ issue 36, second step: more mechanisms


def _experiment():
    from hm_neuro.experiments import precision as experiment

    return experiment


def test_the_mechanism_rows_state_their_bits_and_their_controls():
    experiment = _experiment()
    rows = {r.label: r for r in experiment.mechanism_settings()}
    assert rows["Benna-Fusi 8 bits"].state_bits == 8 and rows["Benna-Fusi 12 bits"].state_bits == 12
    assert rows["2 contacts"].state_bits == pytest.approx(9.4) and len(rows["8 contacts"].plasticity.state) == 8
    c = hm.load_circuit("bars")
    for label in ("Benna-Fusi 8 bits", "Benna-Fusi 12 bits"):
        rule = rows[label].plasticity
        c.replace(plasticity=rule)  # a valid circuit
        assert rule.draws == 2  # u1 and u2 each round with their own draw
        for kind, ranges in experiment.PER_LAYER_RANGES.items():
            for k, (lo, hi) in enumerate(ranges):
                levels = np.unique(rule.numpy("expressed", f"{kind}_weights", k)(u1=np.linspace(lo, hi, 9)))
                assert len(levels) == 9  # u1 itself is the weight
                hidden = rule.constants_for(f"{kind}_weights", k)["hstep"]
                want = 2 ** (rows[label].state_bits - experiment.EXPRESSED_BITS)
                assert (hi - lo) / hidden + 1 == pytest.approx(round(want))  # u2's levels: the bits left
    # the controls scale the weights' learning rates only
    scaled = experiment._machine(rows["4.7-bit per-layer, rates x5"])
    base = experiment._machine(rows["float64"])
    for k in ("generative_weights", "recognition_weights"):
        assert scaled.learning_rates[k] == pytest.approx(tuple(5 * x for x in base.learning_rates[k]))
    for k in ("generative_biases", "recognition_biases"):
        assert scaled.learning_rates[k] == base.learning_rates[k]


def test_the_benna_fusi_chain_moves_its_weighted_sum_by_the_update_in_expectation():
    """Benna & Fusi's chain conserves C1 u1 + C2 u2 but for the input: with
    the roundings replaced by their means, u1 + c2 u2 moves by dw exactly."""
    experiment = _experiment()
    rule = experiment.benna_fusi(12).mean_field()
    rng = np.random.default_rng(1)
    u1, u2, dw = rng.uniform(-2, 2, 50), rng.uniform(-2, 2, 50), rng.uniform(-0.2, 0.2, 50)
    new = {
        h: rule.numpy("update:" + h, "generative_weights", 1)(dw=dw, u1=u1, u2=u2, w=u1, w_min=-np.inf)
        for h in ("u1", "u2")
    }
    c2 = experiment.BF_CAPACITY
    np.testing.assert_allclose(new["u1"] + c2 * new["u2"], u1 + c2 * u2 + dw, atol=1e-12)
    assert np.all(new["u1"] != u1 + dw)  # u1 relaxes towards u2: not the plain update


def test_a_benna_fusi_chain_needs_a_bit_for_its_hidden_variable():
    with pytest.raises(hm.HMError, match=r"benna_fusi: total_bits must leave the hidden variable at least 1 bit"):
        _experiment().benna_fusi(5)


#: every synapse model the precision experiment declares (one of each kind), each on every
#: engine that runs declared plasticity; the Brian2 engines' builds of the Benna-Fusi chain
#: in every test run, the others' in the slow tier (each costs a build or ~10 s of spiking)
MODELS = ["8-bit hidden", "float64 hidden", "2 contacts", "Benna-Fusi 8 bits"]
MODEL_CASES = [
    pytest.param(label, o.values[0], id=f"{label}-{o.id}", marks=o.marks)
    for label in MODELS
    for o in backends(
        "plasticity",
        compiled=True,
        slow_compiled=label != "Benna-Fusi 8 bits",
        slow=("spiking-cpp",) if label == "Benna-Fusi 8 bits" else ("spiking-cpp", "spiking-numpy"),
    )
]


def _model(label):
    experiment = _experiment()
    rows = {r.label: r for r in experiment.hidden_state_settings() + experiment.mechanism_settings()}
    return rows[label].plasticity


@pytest.mark.equivalence
@pytest.mark.parametrize("label, options", MODEL_CASES)
def test_the_precision_experiments_synapse_models_equal_the_reference_exactly(label, options):
    """On the bars circuit itself (its per-layer constants), 400 examples:
    every engine that runs declared plasticity gives the reference's weights
    (the same counter-based stream)."""
    circuit = BARS.replace(plasticity=_model(label))
    p0 = Parameters.initial(circuit)
    data = sample_bars(400, np.random.default_rng(3))
    with make_engine(circuit, chunk=400, engine="numpy") as eng:
        ref = eng.run(p0, data, seed=4)[0]
    with make_engine(circuit, chunk=400, **options) as eng:
        got = eng.run(p0, data, seed=4)[0]
    assert got.max_abs_difference(ref) <= 1e-12
    assert ref.max_abs_difference(p0) > 0.1  # something was learned


def test_failure_modes_read_from_the_first_generative_layer():
    from hm_neuro.experiments.bars import bar_pixels, failure_mode

    bars = bar_pixels()
    params = Parameters.initial(BARS)
    w = params.generative_weights[0]
    w[:] = -1.0
    for j, b in enumerate(bars):  # every unit one bar: the machine of Fig. 1c
        w[j, sorted(b)] = 8.0
    assert failure_mode(params, 0.05) == "learned"
    assert failure_mode(params, 0.25) == "every bar, top layer wrong"
    w[0, sorted(bars[0] | bars[4])] = 8.0  # unit 0 codes column 0 and row 0
    assert failure_mode(params, 0.7) == "cross"
    w[0] = -1.0  # column 0 coded by no unit
    assert failure_mode(params, 0.7) == "bars missing"


def test_the_digits_rows_put_26_levels_with_a_hidden_value_on_all_three_layers():
    experiment = _experiment()
    rows = dict(experiment.digits_circuits(hidden=True))
    assert list(rows) == ["float64", "4.7-bit stochastic", "8-bit stochastic", "8-bit hidden, 26 levels"]
    rule = rows["8-bit hidden, 26 levels"].plasticity
    for kind in ("generative_weights", "recognition_weights"):
        for k in range(3):
            c = rule.constants_for(kind, k)
            assert c["step"] == pytest.approx(32 / 25) and c["hstep"] == pytest.approx(32 / 255)
    assert rows["float64"].precision.exact and rows["8-bit stochastic"].precision.grid("generative_weights", 2)


def test_the_bits_figure_draws_every_measured_row_once_and_nothing_without_runs(tmp_path):
    import json

    experiment = _experiment()
    assert experiment.bits_figure(tmp_path) is None

    def row(setting, k, bits):
        return {
            "setting": setting,
            "bits": 4.7,
            "state_bits_per_synapse": bits,
            "seeds": 40,
            "seeds_reaching_paper_kl": k,
            "success_rate": k / 40,
            "success_rate_interval_95": list(wilson_interval(k, 40)),
        }

    rows = [row("float64", 23, 64), row("4.7-bit per-layer", 3, 4.7), row("8-bit hidden", 27, 8)]
    (tmp_path / "precision_hidden-state.json").write_text(json.dumps({"rows": rows}))
    (tmp_path / "precision_mechanisms.json").write_text(json.dumps({"rows": rows[:2] + [row("2 contacts", 1, 9.4)]}))
    assert experiment.bits_figure(tmp_path) == tmp_path / "precision_bits.png"
    assert (tmp_path / "precision_bits.png").stat().st_size > 10_000
    assert [experiment.mechanism_of(r) for r in ("2 contacts", "Benna-Fusi 8 bits", "9-bit stochastic")] == [
        "M contacts of 26 levels",
        "Benna-Fusi chain (26 levels + u2)",
        "one grid over [-16, 16]",
    ]
    assert experiment.mechanism_of("4.7-bit per-layer, rates x5") == "26 levels per layer, rates x5"


def test_the_circuit_guide_shows_the_grid_equations_the_engines_run():
    from hm_neuro.model.precision import GRID_RULES

    guide = (Path(__file__).resolve().parents[1] / "docs" / "user-guide" / "circuit.md").read_text()
    for rounding, rule in GRID_RULES.items():
        assert f"{rounding + ':':<13}{rule.text}\n" in guide
