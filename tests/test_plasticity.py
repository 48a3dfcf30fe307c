"""Plasticity declared as equations (hm_neuro.model.plasticity): refused by
name when wrong, run by every engine that declares it can, held to the
reference exactly and in expectation by enumeration."""

import dataclasses
import re

import numpy as np
import pytest
from conftest import backends, make_circuit, random_parameters
from helpers import run_cli

import hm_neuro as hm
from hm_neuro.check import DECLARED, EXPECTATION_SE, STATEFUL, example_expectation_check, expectation_check
from hm_neuro.engines import make_engine
from hm_neuro.errors import HMError
from hm_neuro.model import Perturbation

DECAY = hm.Plasticity(
    weight="s_pre * (s_post - p_post) - lam * w", bias="s - p - lam * b", constants={"lam": 0.05}, name="decay"
)
#: a synapse with state: hm-neuro check's consolidating chain (its slow variable also enters the update)
CHAIN = dataclasses.replace(STATEFUL, name="chain")
#: a bounded accumulator of 8 bits whose nearest level of 0.5 is expressed (a grid as a declaration)
ACCUMULATOR = hm.Plasticity(
    expressed="0.5 * floor(h / 0.5 + 0.5)",
    state={"h": {"init": "w", "update": "clip(h + dw, -4, 4)"}},
    name="accumulator",
)
#: a hidden value on a 0.01 grid, stochastically rounded (two draws: the rule's own and
#: the state's), expressed on a coarser grid whose step and bound differ per set and layer --
#: every floor at a tie (a hidden value on a level's midpoint) falls the same way on every engine
STOCHASTIC = hm.Plasticity(
    weight="s_pre * (s_post - p_post) + 0.003 * stochastic_round(0.5 * w)",
    constants={
        "hstep": 0.01,
        "step": {"generative_weights": [0.5, 0.25], "recognition_weights": 0.3},
        "top": {"generative_weights": [8.0, 3.0], "recognition_weights": [5.0, 2.0]},
    },
    state={"h": {"init": "w", "update": "clip(hstep * stochastic_round((h + dw) / hstep), -top, top)"}},
    expressed="step * floor(h / step + 0.5)",
    name="stochastic accumulator",
)
#: a rule each unit computes once for its synapses (s_pre * F(post): the papers' rule's form), with a constant
FACTORED = hm.Plasticity(weight="s_pre * (s_post - p_post + c * (0.5 - p_post))", constants={"c": 0.3}, name="factored")
#: the papers' rule written out by a user: the declared code path, the same numbers
PAPERS_WRITTEN_OUT = hm.Plasticity(weight="s_pre*(s_post-p_post)", bias="s-p", name="delta rule, declared")

#: every engine that declares plasticity (conftest.backends, from the registry); the
#: compiled spiking circuit in the slow tier (its bridge on Brian2's numpy target is exact)
ENGINES = backends("plasticity", compiled=True, slow=("spiking-cpp",))
#: the same, each compiled build in the slow tier (one compiled build of a declared rule runs in every test run)
ENGINES_SLOW_BUILDS = backends("plasticity", compiled=True, slow_compiled=True)


# ------------------------------------------------------------ the declaration


@pytest.mark.parametrize(
    "table, message",
    [
        ({"weight": "s_pre * (s_post - "}, r"plasticity\.weight: is not an expression"),
        ({"weight": "s_pre * x"}, r"plasticity\.weight: unknown name 'x'; it may read s_pre, s_post, p_post, w"),
        ({"bias": "s - p_post"}, r"plasticity\.bias: unknown name 'p_post'; it may read s, p, b"),
        ({"weight": "w = 0"}, r"plasticity\.weight: is not an expression"),
        ({"weight": "foo(w)"}, r"plasticity\.weight: calls an unknown function"),
        ({"weight": "w * ms"}, r"plasticity\.weight: unknown name 'ms'"),  # units: the rule is dimensionless
        ({"weight": "'w'"}, r"plasticity\.weight: holds a value that is not a number"),
        ({"weight": ""}, r"plasticity\.weight: must be an expression"),
        ({"constants": {"lam": "big"}}, r"plasticity\.constants\.lam: must be a finite number"),
        ({"constants": {"w": 1.0}}, r"plasticity\.constants\.w: is a variable or function of the rule"),
        ({"constants": {"lam": float("nan")}}, r"plasticity\.constants\.lam: must be a finite number"),
        ({"trace": "w"}, r"plasticity\.trace: unknown key"),
        ({"state": {"u": {"update": "u + dw"}}, "expressed": "u"}, r"plasticity\.state\.u\.init: missing key"),
        ({"state": {"u": {"init": 0}}, "expressed": "u"}, r"plasticity\.state\.u\.update: missing key"),
        ({"state": {"u": {"init": 0, "update": "u + v"}}, "expressed": "u"}, r"state\.u\.update: unknown name 'v'"),
        ({"state": {"u": {"init": "dw", "update": "u"}}, "expressed": "u"}, r"state\.u\.init: unknown name 'dw'"),
        ({"state": {"w": {"init": 0, "update": "w"}}, "expressed": "w"}, r"plasticity\.state\.w: is a variable"),
        ({"state": {"u": {"init": 0, "update": "u + dw"}}}, r"plasticity\.expressed: is missing"),
        ({"expressed": "w"}, r"plasticity\.expressed: needs a state"),
        ({"state": {"u": {"init": 0, "update": "u + dw"}}, "expressed": "dw"}, r"expressed: unknown name 'dw'"),
        (
            {"state": {"u": {"init": 0, "update": "u + dw"}}, "expressed": "u", "weight": "s_pre * v"},
            r"unknown name 'v'",
        ),
        ({"state": {"u": 3}, "expressed": "u"}, r"plasticity\.state\.u: must be a table"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_key_and_the_name(table, message):
    with pytest.raises(HMError, match=message):
        hm.Circuit.from_dict({**make_circuit([4, 2]).to_dict(), "plasticity": table})


def test_a_bad_rule_in_a_circuit_file_exits_2_with_one_line_and_writes_nothing(tmp_path):
    text = (tmp_path / "c.toml").write_text(
        "layers = [4, 2]\n[learning_rates]\ngenerative_weights = 0.1\nrecognition_weights = 0.1\n"
        "generative_biases = 0.1\nrecognition_biases = 0.1\n"
        '[plasticity]\nweight = "s_pre * (s_post - p_post) - lam * w"\n'
    )
    assert text
    r = run_cli("train", "--circuit", "c.toml", "--engine", "numpy", "--out", "m.npz", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"circuit file c\.toml: plasticity\.weight: unknown name 'lam'", lines[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_a_declared_rule_round_trips_through_the_circuit_and_a_model_file(tmp_path):
    c = hm.load_circuit("bars_weight_decay")
    assert c.plasticity.constants == {"lam": 1e-4} and not c.plasticity.is_default
    assert hm.Circuit.from_dict(c.to_dict()) == c
    r = hm.train(c, hm.BarsStream(), 200, seed=0, engine="numpy", progress=False)
    hm.save_model(tmp_path / "m.npz", r.params, c, 0, 200, "numpy", "numpy")
    assert hm.load_model(tmp_path / "m.npz")[1].plasticity == c.plasticity
    assert "plasticity" not in hm.load_circuit("bars").to_dict()  # the papers' rule: files as before


def test_a_synapse_state_round_trips_through_a_circuit_file_and_a_model_file(tmp_path):
    c = hm.load_circuit("bars_consolidation")
    assert c.plasticity.stateful and set(c.plasticity.state) == {"u1", "u2"}
    assert hm.Circuit.from_dict(c.to_dict()) == c
    r = hm.train(c, hm.BarsStream(), 300, seed=0, engine="numpy", progress=False)
    assert np.ptp(r.params.synapse_state[("recognition_weights", "u2")][0]) > 0
    hm.save_model(tmp_path / "m.npz", r.params, c, 0, 300, "numpy", "numpy")
    back, circuit = hm.load_model(tmp_path / "m.npz")[:2]
    assert circuit.plasticity == c.plasticity and back.max_abs_difference(r.params) == 0.0
    assert set(back.synapse_state) == set(r.params.synapse_state)


@pytest.mark.parametrize("options", backends("plasticity", without="brian2"))  # 3,000 examples: NumPy engines
def test_the_chain_without_coupling_is_the_papers_machine(options):
    """bars_consolidation with g = 0: u1 takes every update and is kept >= w_min
    (0 into the input), so the expressed weights are bars' exactly -- the
    state's clip at w_min is the circuit's constraint."""
    c = hm.load_circuit("bars_consolidation")
    c0 = c.replace(plasticity=dataclasses.replace(c.plasticity, constants={"g": 0.0, "c2": 4.0}))
    a = hm.train(c0, hm.BarsStream(), 3000, seed=0, progress=False, **options).params
    b = hm.train(hm.load_circuit("bars"), hm.BarsStream(), 3000, seed=0, progress=False, **options).params
    assert max(float(np.max(np.abs(x - y))) for x, y in zip(a.arrays().values(), b.arrays().values())) == 0.0
    assert a.synapse_state[("generative_weights", "u1")][0].min() == 0.0  # clipped at w_min, not below


def test_a_synapse_state_with_a_weight_grid_is_refused():
    with pytest.raises(HMError, match=r"precision: the plasticity 'chain' gives its synapses state"):
        make_circuit([4, 2]).replace(plasticity=CHAIN, precision="loihi")


def test_the_accumulator_expresses_its_nearest_level_and_keeps_its_hidden_value():
    """A grid declared as a synapse state: the weight is always a multiple of
    0.5, the hidden value is not, and it is bounded."""
    c = make_circuit([4, 3]).replace(plasticity=ACCUMULATOR)
    r = hm.train(c, hm.BarsStream(size=2), 400, seed=1, engine="numpy", progress=False)
    for w in r.params.generative_weights + r.params.recognition_weights:
        np.testing.assert_array_equal(w, 0.5 * np.round(w / 0.5))
    h = r.params.synapse_state[("recognition_weights", "h")][0]
    assert np.all(np.abs(h) <= 4) and np.any(np.abs(h - 0.5 * np.round(h / 0.5)) > 1e-3)
    np.testing.assert_array_equal(r.params.recognition_weights[0], 0.5 * np.floor(h / 0.5 + 0.5))


def test_the_brian2_code_is_the_expression_renamed_with_its_constants():
    code = DECAY.code("weight", {"s_pre": "s_wake_pre", "s_post": "s_wake_post", "p_post": "p_post", "w": "w"})
    assert code == "(s_wake_pre * (s_wake_post - p_post) - 0.05 * w)"


# ------------------------------------------------------------ engines held to the reference


def _run(circuit, options, p0, data, seed, **kwargs):
    with make_engine(circuit, chunk=len(data), **options) as eng:
        return eng.run(p0, data, seed=seed, **kwargs)[0]


@pytest.mark.equivalence
@pytest.mark.parametrize(
    "options, rule",
    [pytest.param(o.values[0], DECAY, id=f"decay-{o.id}", marks=o.marks) for o in ENGINES]
    + [pytest.param(o.values[0], CHAIN, id=f"chain-{o.id}", marks=o.marks) for o in ENGINES]
    + [pytest.param(o.values[0], STOCHASTIC, id=f"stochastic-{o.id}", marks=o.marks) for o in ENGINES]
    + [pytest.param(o.values[0], FACTORED, id=f"factored-{o.id}", marks=o.marks) for o in ENGINES_SLOW_BUILDS]
    + [pytest.param(o.values[0], ACCUMULATOR, id=f"accumulator-{o.id}", marks=o.marks) for o in ENGINES_SLOW_BUILDS]
    + [pytest.param(o.values[0], PAPERS_WRITTEN_OUT, id=f"papers-{o.id}", marks=o.marks) for o in ENGINES_SLOW_BUILDS],
)
def test_a_declared_rule_equals_the_reference_exactly(options, rule, rng):
    """Every engine that declares plasticity runs the declared rule to the
    reference's weights (<= 1e-12: the same counter-based stream), with a
    lesion, a gate that freezes learning half the time and a grid."""
    circuit = make_circuit([6, 4, 2], rate=0.1, nonneg=(0,)).replace(
        learning_rates={"generative_weights": [0.2, 0.03], "recognition_biases": [0.07, 0.01]}, plasticity=rule
    )
    p0 = random_parameters(circuit, rng, scale=0.7)
    data = (rng.random((300, 6)) < 0.4).astype(float)
    gate = (np.arange(300) % 4 < 2) * 1.0
    lesion = Perturbation(lesions={("recognition", 0): (rng.random((6, 4)) < 0.7) * 1.0})
    kw = {"wake_gate": gate, "perturbation": lesion}
    ref = _run(circuit, {"engine": "numpy"}, p0, data, 7, **kw)
    got = _run(circuit, options, p0, data, 7, **kw)
    assert got.max_abs_difference(ref) <= 1e-12
    assert ref.max_abs_difference(p0) > 0.1  # something was learned
    if rule is PAPERS_WRITTEN_OUT:  # the declared path gives the built-in rule's numbers
        builtin = _run(circuit.replace(plasticity=None), options, p0, data, 7, **kw)
        assert got.max_abs_difference(builtin) <= 1e-12


@pytest.mark.equivalence
@pytest.mark.parametrize("options", ENGINES_SLOW_BUILDS)
def test_a_declared_rule_on_a_precision_grid_equals_the_reference(options, rng):
    circuit = make_circuit([6, 4, 2], rate=0.1).replace(plasticity=DECAY, precision="loihi")
    p0 = random_parameters(circuit, rng, scale=0.7)
    data = (rng.random((300, 6)) < 0.4).astype(float)
    ref = _run(circuit, {"engine": "numpy"}, p0, data, 3)
    assert _run(circuit, options, p0, data, 3).max_abs_difference(ref) <= 1e-12


@pytest.mark.parametrize(
    "rule, factor",
    [
        (hm.Plasticity(), "s_post - p_post"),  # the papers' rule: (s - p) per unit, times s_pre per synapse
        (FACTORED, "s_post - p_post + c * (0.5 - p_post)"),
        (hm.Plasticity(weight="(s_post - p_post) * s_pre"), "s_post - p_post"),
        (DECAY, None),  # reads w
        (CHAIN, None),  # a synapse with state
        (hm.Plasticity(weight="s_pre * stochastic_round(s_post - p_post)"), None),  # a draw per synapse
        (hm.Plasticity(weight="s_post * (s_pre - p_post)"), None),
    ],
)
def test_a_rule_of_the_form_s_pre_times_a_unit_factor_is_run_per_unit(rule, factor):
    assert rule.post_factor == factor


def test_weight_decay_pulls_every_weight_towards_zero_on_the_reference():
    """With no input and no learning signal left (s = p everywhere is not
    reachable, but lam dominates at lam = 5): the weights shrink."""
    c = make_circuit([4, 3]).replace(plasticity=hm.Plasticity(weight="-lam * w", bias="0", constants={"lam": 5.0}))
    p0 = random_parameters(c, np.random.default_rng(0))
    p1 = hm.train(c, hm.BarsStream(size=2), 50, seed=0, engine="numpy", params=p0, progress=False).params
    for a, b in zip(p0.generative_weights + p0.recognition_weights, p1.generative_weights + p1.recognition_weights):
        np.testing.assert_allclose(b, a * (1 - 0.05 * 5.0) ** 50, rtol=1e-12)  # dw = -eps lam w, 50 events


@pytest.mark.equivalence
@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_a_declared_rule_in_expectation_by_enumeration(phase):
    """Brian2's numpy target, the circuit's own random numbers: the mean
    update of weights and biases is the declared rule's expectation over
    every hidden state (fantasy)."""
    r = expectation_check(phase, "numpy", plasticity=DECLARED)
    assert r.passed, f"{r.difference:.2f} SE"


@pytest.mark.equivalence
@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_a_synapse_with_state_in_expectation_by_enumeration(phase):
    """Brian2's numpy target: after one example from the same parameters and
    state, the mean of every weight, bias and state variable over 4000
    machines is its expectation over every sample, forced through the
    reference (check.expected_example)."""
    r = example_expectation_check(phase, "numpy", CHAIN)
    assert r.passed, f"{r.difference:.2f} SE"


@pytest.mark.equivalence
@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_stochastic_rounding_in_a_synapse_is_unbiased(phase):
    """A hidden value on a 0.05 grid by stochastic rounding: its mean after
    one example is the exact update's (E[floor(x + u)] = x), by enumeration."""
    rounded = hm.Plasticity(
        state={"h": {"init": "w", "update": "0.05 * stochastic_round((h + dw) / 0.05)"}}, expressed="h", name="sr"
    )
    r = example_expectation_check(phase, "numpy", rounded)
    assert r.passed, f"{r.difference:.2f} SE"


def test_a_rounding_that_always_rounds_down_is_caught():
    """The same check on a rule that floors instead: the bias is seen."""
    import hm_neuro.check as check

    down = hm.Plasticity(
        state={"h": {"init": "w", "update": "0.05 * floor((h + dw) / 0.05)"}}, expressed="h", name="down"
    )
    rounded = hm.Plasticity(
        state={"h": {"init": "w", "update": "0.05 * stochastic_round((h + dw) / 0.05)"}}, expressed="h", name="sr"
    )
    real = check.expected_example
    try:
        check.expected_example = lambda p, c, *a: real(p, c.replace(plasticity=rounded), *a)
        r = check.example_expectation_check("wake", "numpy", down)
    finally:
        check.expected_example = real
    assert not r.passed and r.difference > EXPECTATION_SE


@pytest.mark.parametrize(
    "constants, message",
    [
        (
            {"step": {"generative_weights": 0.5}},
            r"constants\.step: a per-set constant needs a value for \['recognition_weights'\]",
        ),
        ({"step": {"biases": 0.5}}, r"constants\.step\.biases: unknown set"),
        (
            {"step": {"generative_weights": [0.5, 0.2, 0.1], "recognition_weights": 1}},
            r"step\.generative_weights: needs one value or one per layer \(2\)",
        ),
        (
            {"step": {"generative_weights": "x", "recognition_weights": 1}},
            r"step\.generative_weights: must be a finite number",
        ),
    ],
)
def test_a_bad_per_set_constant_is_refused_naming_it(constants, message):
    rule = {"weight": "s_pre * (s_post - p_post) * step", "constants": constants}
    with pytest.raises(HMError, match=message):
        hm.Circuit.from_dict({**make_circuit([4, 3, 2]).to_dict(), "plasticity": rule})


def test_stochastic_rounding_is_for_synapses_and_the_counter_based_stream():
    with pytest.raises(HMError, match=r"plasticity\.bias: calls stochastic_round, which only a synapse"):
        hm.Plasticity(bias="stochastic_round(s - p)")
    with pytest.raises(HMError, match=r"state\.h\.init: calls stochastic_round"):
        hm.Plasticity(state={"h": {"init": "stochastic_round(w)", "update": "h"}}, expressed="h")
    c = make_circuit([4, 2]).replace(plasticity=STOCHASTIC.mean_field().__class__(weight="stochastic_round(w)"))
    with pytest.raises(HMError, match=r"rng: the plasticity delta rule rounds stochastically from the counter-based"):
        make_engine(c, "numpy", rng="mt19937")
    assert STOCHASTIC.draws == 2 and STOCHASTIC.mean_field().draws == 0


def test_the_example_expectation_sees_a_rule_20_percent_off(monkeypatch):
    import hm_neuro.check as check

    off = dataclasses.replace(CHAIN, weight="1.2 * s_pre * (s_post - p_post) - 0.01 * u2")
    real = check.expected_example
    monkeypatch.setattr(check, "expected_example", lambda p, c, *a: real(p, c.replace(plasticity=off), *a))
    r = check.example_expectation_check("wake", "numpy", CHAIN)
    assert not r.passed and r.difference > EXPECTATION_SE


def test_the_expectation_check_sees_a_rule_the_circuit_does_not_run(monkeypatch):
    """The enumeration of the declared rule differs from the circuit run
    with the papers' rule: the check fails (it would catch an engine that
    ignored the declaration)."""
    import hm_neuro.check as check

    real = check.expected_wake_update
    monkeypatch.setattr(
        check, "expected_wake_update", lambda p, c, d, biases: real(p, c.replace(plasticity=DECLARED), d, biases)
    )
    r = check.expectation_check("wake", "numpy")
    assert not r.passed and r.difference > EXPECTATION_SE


# ------------------------------------------------------------ what engines accept


def test_an_engine_that_does_not_declare_plasticity_refuses_a_declared_rule(monkeypatch):
    """The refusal comes from the engine's declaration (its Capabilities), not its name."""
    import hm_neuro.engines.options as options

    c = hm.load_circuit("bars_weight_decay")
    spiking = options.CAPABILITIES["spiking"]
    monkeypatch.setitem(options.CAPABILITIES, "spiking", dataclasses.replace(spiking, plasticity=False))
    with pytest.raises(HMError, match=r"engine: the spiking Brian2 circuit runs the papers' delta rule only"):
        make_engine(c, "spiking", device="numpy")
    monkeypatch.setitem(options.CAPABILITIES, "spiking", spiking)
    with pytest.raises(HMError, match=r"rule: a circuit with a declared plasticity .* wake-sleep"):
        make_engine(c, "vectorised", rule="reweighted:2")
    with pytest.raises(HMError, match=r"propagation: a declared plasticity updates every synapse"):
        make_engine(c, "brian2", device="numpy", propagation="event")


@pytest.mark.parametrize("circuit", ["bars_weight_decay", "bars_consolidation"])
def test_train_a_declared_circuit_gives_the_references_weights_and_not_bars(tmp_path, circuit):
    engine = ["--engine", "brian2", "--device", "numpy"]

    def train_cli(circuit, out, *extra):
        r = run_cli(
            "train", "--circuit", circuit, "--examples", 3000, "-q", "--seed", 2, "--out", tmp_path / out, *extra
        )
        assert r.returncode == 0, r.stderr
        return hm.load_model(tmp_path / out)[0]

    ref = train_cli(circuit, "ref.npz", "--engine", "numpy")
    got = train_cli(circuit, "b2.npz", *engine)
    plain = train_cli("bars", "bars.npz", "--engine", "numpy")
    assert got.max_abs_difference(ref) <= 1e-12
    assert plain.max_abs_difference(ref) > 1e-3
