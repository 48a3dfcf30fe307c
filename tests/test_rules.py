"""Learning rules beyond the papers' (hm_neuro.engines.vectorised and the Brian2
circuit): parsing, the factory's refusals, the Brian2 circuit held to the
vectorised engine exactly (shared uniforms), and the reweighted wake-sleep
update held to its expectation computed by enumerating every K-tuple of
hidden states, on both engines."""

import itertools

import numpy as np
import pytest
from conftest import backends, make_circuit, random_parameters, three_machines

from hm_neuro.engines import make_engine
from hm_neuro.errors import HMError
from hm_neuro.model import Rule, Uniforms, log_joint, log_recognition, sigmoid


def test_rule_names_parse_and_bad_ones_are_refused():
    assert Rule.parse("wake-sleep").is_default
    r = Rule.parse("reweighted:5")
    assert (r.samples, r.sleep_update, r.wake_update, r.label) == (5, True, True, "reweighted:5")
    assert not Rule.parse("reweighted:3:wake").sleep_update
    assert Rule.parse("wake-sleep:4").fantasies == 4 and Rule.parse("wake-sleep:4").label == "wake-sleep:4"
    assert Rule.parse("wake-sleep:1").is_default
    with pytest.raises(HMError, match=r"rule: S of wake-sleep:S must be a whole number"):
        Rule.parse("wake-sleep:many")
    with pytest.raises(HMError, match=r"rule: K of reweighted:K must be a whole number.*'reweighted:x'"):
        Rule.parse("reweighted:x")
    with pytest.raises(HMError, match=r"rule: K of reweighted:K must be in 1..1000"):
        Rule.parse("reweighted:0")
    with pytest.raises(HMError, match=r"rule: must be wake-sleep, wake-sleep:S \(S fantasies\), reweighted:K"):
        Rule.parse("contrastive")


def test_rules_need_an_engine_that_implements_them():
    c = make_circuit([4, 2])
    for engine in ("numpy", "spiking"):
        expected = (
            rf"rule: reweighted:5 runs on the vectorised and brian2 engines; the "
            rf"{engine} engine implements the papers' wake-sleep"
        )
        with pytest.raises(HMError, match=expected):
            make_engine(c, engine, rule="reweighted:5")
    with pytest.raises(HMError, match=r"propagation: the reweighted:5 rule needs summed propagation"):
        make_engine(c, "brian2", device="numpy", rule="reweighted:5", propagation="event")


RULES = ["wake-sleep:3", "reweighted:3", "reweighted:2:wake", "reweighted:1"]


#: the engines that declare rules (conftest.backends, from the registry), each held to the vectorised engine
RULE_ENGINES = [o for o in backends("rules", compiled=True) if o.id != "vectorised"]


def _rule_cases():
    """Every rule on every engine that declares rules; each compiled build
    with -m slow (a compile each) but reweighted:3's (the most machinery:
    copies, importance population, wake-phase Q update)."""
    for rule in RULES:
        for o in RULE_ENGINES:
            late = "cpp" in o.id and rule != "reweighted:3"
            yield pytest.param(rule, o.values[0], marks=[*o.marks] + late * [pytest.mark.slow], id=f"{rule}-{o.id}")


@pytest.mark.equivalence
@pytest.mark.parametrize("rule, options", list(_rule_cases()))
def test_every_rule_on_the_brian2_circuit_equals_the_vectorised_engine(rule, options, rng):
    """A population of three machines -- other learning rates, other data,
    one lesioned and clamped, one sleep-deprived -- on the Brian2 circuit
    (K samples as K copies of each unit's state, the importance weights
    normalised by a population of one neuron per machine), fed the
    vectorised engine's uniforms, equals it to 1e-12."""
    n = 200
    base, circuits, params, data, pts, gates = three_machines(rng, n)
    vec = make_engine(base, "vectorised", chunk=n, n_machines=3, rule=rule)
    uniforms = [vec.draw(n, rng) for _ in circuits]
    args = dict(wake_gate=[np.ones(n)] * 3, sleep_gate=gates, uniforms=uniforms, perturbation=pts, circuits=circuits)
    want, _ = vec.run_population(params, data, [1, 2, 3], **args)
    with make_engine(base, chunk=n, n_machines=3, rule=rule, external_uniforms=True, **options) as eng:
        got, _ = eng.run_population(params, data, [1, 2, 3], **args)
    for k in range(3):
        assert got[k].max_abs_difference(want[k]) <= 1e-12, f"machine {k}"
        assert got[k].max_abs_difference(params[k]) > 1e-3


def test_one_sample_reweighted_generative_update_is_the_papers_wake_update(rng):
    """K = 1: the importance weight is exactly 1, so eq. 4 is unchanged
    (recognition rates 0, so that both runs draw the same samples)."""
    c = make_circuit([4, 3, 2], rate=0.1).replace(
        learning_rates={"recognition_weights": 0.0, "recognition_biases": 0.0}
    )
    p0 = random_parameters(c, rng)
    n = 200
    data = (rng.random((n, 4)) < 0.4).astype(float)
    u = Uniforms.draw(c, n, rng)
    gates = dict(wake_gate=np.ones(n), sleep_gate=np.zeros(n), uniforms=u)
    ws, _ = make_engine(c, "vectorised", chunk=n).run(p0, data, 0, **gates)
    rws, _ = make_engine(c, "vectorised", chunk=n, rule="reweighted:1:wake").run(p0, data, 0, **gates)
    for a, b in zip(ws.generative_weights + ws.generative_biases, rws.generative_weights + rws.generative_biases):
        np.testing.assert_array_equal(a, b)
    assert ws.max_abs_difference(p0) > 0.1


def _expected_reweighted_wake_update(p, d, K):
    """Mean and second moment of one reweighted wake update (per unit of
    learning rate) by enumerating every K-tuple of hidden states of a
    one-hidden-layer machine: G (generative weights), R (recognition weights)."""
    n_h = p.generative_biases[1].size
    states = np.array(list(itertools.product((0.0, 1.0), repeat=n_h)))
    dd = np.tile(d, (len(states), 1))
    log_p = log_joint(p, [dd, states])
    log_q = log_recognition(p, [dd, states])
    pred = sigmoid(p.generative_biases[0] + states @ p.generative_weights[0])  # p(d | h), per state
    q = sigmoid(p.recognition_biases[0] + d @ p.recognition_weights[0])
    mean = {"G": 0.0, "R": 0.0}
    second = {"G": 0.0, "R": 0.0}
    for tup in itertools.product(range(len(states)), repeat=K):
        tup = list(tup)
        prob = np.exp(np.sum(log_q[tup]))
        w = np.exp(log_p[tup] - log_q[tup])
        w = w / w.sum()
        dG = sum(wk * np.outer(states[i], d - pred[i]) for wk, i in zip(w, tup))
        dR = sum(wk * np.outer(d, states[i] - q) for wk, i in zip(w, tup))
        for key, v in (("G", dG), ("R", dR)):
            mean[key] = mean[key] + prob * v
            second[key] = second[key] + prob * v**2
    return mean, second


def _one_step_population(c, rule, M, options, d, wake, sleep):
    """M machines each take one step from the same weights."""
    p0 = random_parameters(c, np.random.default_rng(7))
    with make_engine(c, chunk=1, n_machines=M, rule=rule, **options) as eng:
        out, _ = eng.run_population(
            [p0] * M, [d[None, :]] * M, list(range(M)), [np.full(1, wake)] * M, [np.full(1, sleep)] * M
        )
    return p0, out


#: every engine that declares rules, on its runtime device (the expectation tests: 20,000 machines, one step)
RUNTIME_RULE_ENGINES = backends("rules")


@pytest.mark.parametrize("options", RUNTIME_RULE_ENGINES)
@pytest.mark.parametrize("K", [2, 3])
def test_reweighted_wake_update_matches_its_expectation_by_enumeration(K, options):
    """M machines of a population each take one wake step from the same
    weights: M independent reweighted updates, whose mean must match the
    enumerated expectation within 4.5 standard errors (exact variance)."""
    c = make_circuit([3, 3], rate=0.05)
    d = np.array([1.0, 0.0, 1.0])
    M = 20_000
    p0, out = _one_step_population(c, f"reweighted:{K}", M, options, d, 1.0, 0.0)
    mean, second = _expected_reweighted_wake_update(p0, d, K)
    for key, got in (
        ("G", [o.generative_weights[0] - p0.generative_weights[0] for o in out]),
        ("R", [o.recognition_weights[0] - p0.recognition_weights[0] for o in out]),
    ):
        samples = np.array(got) / 0.05
        se = np.sqrt((second[key] - mean[key] ** 2) / M)
        err = np.abs(samples.mean(axis=0) - mean[key])
        assert np.all(err <= 4.5 * se + 1e-9), f"{key}: max error {err.max():.3g}, 4.5 SE {4.5 * se.max():.3g}"
    # and the check has power: the unweighted (K-sample average) update is told apart
    assert np.abs(mean["G"] - _expected_reweighted_wake_update(p0, d, 1)[0]["G"]).max() > 10 * se.max()


@pytest.mark.parametrize("options", RUNTIME_RULE_ENGINES)
def test_several_fantasies_per_sleep_phase_move_recognition_by_s_times_eq_7(options):
    """wake-sleep:S: the mean update of one sleep phase is S times the
    enumerated expectation of eq. 7 (M machines, one step each)."""
    from hm_neuro.check import expected_sleep_update

    c = make_circuit([4, 3, 2], rate=0.05)
    M, S = 20_000, 3
    p0, out = _one_step_population(c, f"wake-sleep:{S}", M, options, np.zeros(4), 0.0, 1.0)
    mean, second = expected_sleep_update(p0, c)
    for k in range(2):
        samples = np.array([o.recognition_weights[k] - p0.recognition_weights[k] for o in out]) / 0.05
        se = np.sqrt(S * (second[k] - mean[k] ** 2) / M)  # a sum of S independent updates
        err = np.abs(samples.mean(axis=0) - S * mean[k])
        assert np.all(err <= 4.5 * se + 1e-9), f"layer {k}: max error {err.max():.3g}, 4.5 SE {4.5 * se.max():.3g}"


def test_training_by_name_on_the_vectorised_engine_takes_chunks_it_can_hold():
    from hm_neuro.training import BarsStream, train

    c = make_circuit([4, 3, 1], rate=0.05)
    r = train(
        c,
        BarsStream(size=2),
        12_000,
        seed=1,
        engine="vectorised",
        rule="reweighted:2",
        record_every=4000,
        progress=False,
    )
    assert r.history_seen == [0, 4000, 8000, 12000] and r.engine == "vectorised"
