"""Ordered lateral connections (hm_neuro.model.lateral): the declaration's
refusals, the exact measures held to brute-force enumeration written here
from the definition, sample frequencies against the enumerated
probabilities, the engines held to each other exactly and the lateral
delta rule's expected update by enumeration."""

import itertools

import numpy as np
import pytest
from conftest import assert_mean_update, backends, make_circuit

from hm_neuro.errors import HMError
from hm_neuro.measures import exact_free_energy, exact_log2_prob, exact_summary
from hm_neuro.model import Parameters, Uniforms, log_joint, log_recognition, sample_fantasies, sample_recognition

LAYERS = [3, 2, 2]
#: every kind of lateral layer: generative on the input (an order) and on the top;
#: recognition on both hidden layers (an order; explicit connections)
LATERAL = {
    "generative": {"0": {"learning_rate": 0.3, "order": [2, 0, 1]}, "2": {"learning_rate": 0.1}},
    "recognition": {"1": {"learning_rate": 0.2, "order": [1, 0]}, "2": {"learning_rate": 0.4, "connections": [[1, 0]]}},
}


def circuit(lateral=LATERAL, layers=LAYERS, rate=0.1):
    return make_circuit(layers, rate=rate, nonneg=(0,)).replace(lateral=lateral)


def random_machine(c, rng, scale=1.0):
    p = Parameters.initial(c)
    for arrs in (p.generative_weights, p.recognition_weights, p.generative_biases, p.recognition_biases):
        for a in arrs:
            a[...] = rng.normal(0.0, scale, a.shape)
    np.abs(p.generative_weights[0], out=p.generative_weights[0])
    for key, spec in c.lateral.layers.items():
        p.lateral[key] = rng.normal(0.0, 2 * scale, spec.mask.shape) * spec.mask
    return p


# ------------------------------------------------------------- the definition, by hand


def _rank(c, pathway, l):
    spec = c.lateral.of(pathway, l)
    order = spec.order if spec else range(c.layers[l])
    return {u: i for i, u in enumerate(order)}


def _layer_prob(c, p, pathway, l, s, drive):
    """P(s) of layer l given its drive (bias + input from the other layer),
    unit by unit in the layer's order: each unit also sees the units before
    it through the lateral weights."""
    A = p.lateral.get((pathway, l))
    rank = _rank(c, pathway, l)
    prob = 1.0
    for j in range(len(s)):
        x = drive[j]
        if A is not None:
            x += sum(s[k] * A[k, j] for k in range(len(s)) if rank[k] < rank[j])
        on = 1.0 / (1.0 + np.exp(-x))
        prob *= on if s[j] else 1.0 - on
    return prob


def joint(c, p, states):
    """P(d, h_1, ..., h_L) (eqs. 2-3), top-down."""
    L = len(states) - 1
    prob = 1.0
    for l in range(L + 1):
        drive = p.generative_biases[l] + (states[l + 1] @ p.generative_weights[l] if l < L else 0.0)
        prob *= _layer_prob(c, p, "generative", l, states[l], drive)
    return prob


def recognition(c, p, states):
    """Q(h_1, ..., h_L | d), bottom-up."""
    prob = 1.0
    for k in range(len(states) - 1):
        drive = p.recognition_biases[k] + states[k] @ p.recognition_weights[k]
        prob *= _layer_prob(c, p, "recognition", k + 1, states[k + 1], drive)
    return prob


def every_state(n):
    return [np.array(bits, dtype=float) for bits in itertools.product((0, 1), repeat=n)]


def hidden_configurations(layers):
    return list(itertools.product(*[every_state(n) for n in layers[1:]]))


# ------------------------------------------------------------- declarations


@pytest.mark.parametrize(
    "lateral, match",
    [
        ({"recognition": {"0": {}}}, r"lateral\.recognition\.0: layer 0 is the input: it has no recognition model"),
        ({"generative": {"3": {}}}, r"lateral\.generative\.3: no layer '3'; layers are 0\.\.2"),
        ({"generative": {"top": {}}}, r"lateral\.generative\.top: a layer must be named by its index"),
        ({"sideways": {"0": {}}}, r"lateral\.sideways: unknown key"),
        (
            {"generative": {"0": {"order": [0, 0, 1]}}},
            r"lateral\.generative\.0\.order: must be a permutation of .*0\.\.2",
        ),
        ({"generative": {"0": {"order": [0, 1]}}}, r"lateral\.generative\.0\.order: must be a permutation"),
        (
            {"generative": {"0": {"connections": [[0, 1], [1, 2], [2, 0]]}}},
            r"lateral\.generative\.0\.connections: the connections form a cycle among units \[0, 1, 2\]",
        ),
        (
            {"generative": {"0": {"connections": [[1, 0]], "order": [0, 1, 2]}}},
            r"lateral\.generative\.0\.connections: \[1, 0\] goes against the order",
        ),
        ({"generative": {"0": {"connections": [[1, 1]]}}}, r"a unit cannot reach itself"),
        ({"generative": {"0": {"learning_rate": -1}}}, r"lateral\.generative\.0\.learning_rate: learning rates"),
        ({"generative": {"0": {"rate": 0.1}}}, r"lateral\.generative\.0\.rate: unknown key"),
    ],
)
def test_bad_lateral_declarations_are_refused_with_the_key(lateral, match):
    with pytest.raises(HMError, match=match):
        circuit(lateral)


def test_lateral_needs_float64_and_the_delta_rule():
    with pytest.raises(HMError, match=r"lateral: lateral connections learn by the papers' delta rule in float64"):
        circuit().replace(precision="loihi")


def test_the_order_decides_the_mask_and_connections_their_own_order():
    c = circuit()
    assert c.lateral.of("generative", 0).mask.tolist() == [[0, 1, 0], [0, 0, 0], [1, 1, 0]]
    assert c.lateral.of("recognition", 2).order == (1, 0)
    assert c.lateral.of("recognition", 2).mask.tolist() == [[0, 0], [1, 0]]


def test_a_circuit_with_lateral_connections_survives_its_file():
    from hm_neuro.model import Circuit

    c = circuit()
    again = Circuit.from_dict(c.to_dict())
    assert again.lateral == c.lateral
    assert "lateral" not in make_circuit(LAYERS).to_dict()  # the papers' circuits unchanged


def _without_lateral(monkeypatch, name):
    """Engine ``name`` as if it did not declare lateral connections (every registered engine does)."""
    import dataclasses

    from hm_neuro.engines import CAPABILITIES

    monkeypatch.setitem(CAPABILITIES, name, dataclasses.replace(CAPABILITIES[name], lateral=False))


def test_engines_without_lateral_connections_refuse_them_in_one_line(monkeypatch):
    from hm_neuro.engines import CAPABILITIES, make_engine

    assert all(can.lateral for can in CAPABILITIES.values())
    _without_lateral(monkeypatch, "spiking")
    refused = r"engine: the spiking Brian2 circuit does not run lateral connections .* run on \['numpy', "
    with pytest.raises(HMError, match=refused):
        make_engine(circuit(), "spiking")
    with pytest.raises(HMError, match=r"propagation: lateral connections fire in order with summed propagation"):
        make_engine(circuit(), "brian2", device="numpy", propagation="event")


# ------------------------------------------------------------- exact measures


def test_exact_measures_with_lateral_terms_equal_brute_force(rng):
    c = circuit()
    p = random_machine(c, rng)
    data = np.array(every_state(3))
    hidden = hidden_configurations(LAYERS)
    P = np.array([[joint(c, p, [d, *h]) for h in hidden] for d in data])
    Q = np.array([[recognition(c, p, [d, *h]) for h in hidden] for d in data])
    assert np.allclose(P.sum(), 1.0) and np.allclose(Q.sum(axis=1), 1.0)
    assert np.allclose(exact_log2_prob(p, data), np.log2(P.sum(axis=1)), atol=1e-12)
    fe = exact_free_energy(p, data)
    F = np.sum(Q * (np.log2(Q) - np.log2(P)), axis=1)
    assert np.allclose(fe["free_energy"], F, atol=1e-12)
    assert np.allclose(fe["kl_q_p"], F + np.log2(P.sum(axis=1)), atol=1e-12)
    # the per-sample terms every rule uses (log P and log Q of given states)
    d, h1, h2 = data[5], *hidden[11]
    states = [d[None], h1[None], h2[None]]
    assert np.isclose(log_joint(p, states)[0], np.log(joint(c, p, [d, h1, h2])), atol=1e-12)
    assert np.isclose(log_recognition(p, states)[0], np.log(recognition(c, p, [d, h1, h2])), atol=1e-12)


def test_the_bars_summary_takes_the_lateral_terms(rng):
    """KL(data || model) of a 4-input machine with input lateral weights, by enumeration."""
    from hm_neuro.files.data import bars_distribution

    c = circuit({"generative": {"0": {}}}, layers=[4, 3, 1])
    p = random_machine(c, rng)
    patterns, probs = bars_distribution(size=2, p_vertical=0.5)
    hidden = hidden_configurations([4, 3, 1])
    P = np.array([sum(joint(c, p, [d, *h]) for h in hidden) for d in patterns])
    keep = probs > 0
    kl = float(np.sum(probs[keep] * np.log2(probs[keep] / P[keep])))
    assert exact_summary(p, patterns, probs)["kl_data_model_bits"] == pytest.approx(kl, abs=1e-12)


# ------------------------------------------------------------- sampling


def _frequencies_match(samples, probabilities):
    n = len(samples)
    codes = samples.astype(int) @ (1 << np.arange(samples.shape[1]))
    freq = np.bincount(codes, minlength=len(probabilities)) / n
    se = np.sqrt(probabilities * (1 - probabilities) / n)
    z = np.abs(freq - probabilities) / np.maximum(se, 1e-9)
    assert z.max() < 4.5, f"max {z.max():.2f} standard errors"


def test_fantasies_fire_in_order_with_the_enumerated_probabilities(rng):
    c = circuit()
    p = random_machine(c, rng)
    f = sample_fantasies(p, 40_000, rng)
    states = every_state(3)
    P = np.array([sum(joint(c, p, [d, *h]) for h in hidden_configurations(LAYERS)) for d in states])
    _frequencies_match(f[0][:, ::-1], P)  # codes: unit 0 is the highest bit of every_state's order
    top = np.array([sum(joint(c, p, [d, h1, h2]) for d in states for h1 in every_state(2)) for h2 in every_state(2)])
    _frequencies_match(f[2][:, ::-1], top)


def test_recognition_samples_fire_in_order_with_the_enumerated_probabilities(rng):
    c = circuit()
    p = random_machine(c, rng)
    d = np.array([1.0, 0.0, 1.0])
    s = sample_recognition(p, np.repeat(d[None], 40_000, axis=0), rng)
    hidden = hidden_configurations(LAYERS)
    Q = np.array([recognition(c, p, [d, *h]) for h in hidden])
    both = np.concatenate([s[1], s[2]], axis=1)  # reversed: codes in hidden_configurations' order, h1 high
    _frequencies_match(both[:, ::-1], Q)


# ------------------------------------------------------------- engines


def _data(rng, n):
    return (rng.random((n, 3)) < 0.4).astype(float)


#: every engine that declares lateral connections, but the reference itself (conftest.backends; the
#: spiking circuit at its bridge, compiled in the slow tier)
ENGINES = [e for e in backends(need="lateral", compiled=True, slow=("spiking-cpp",)) if e.id != "numpy"]


#: the spiking circuit draws its own numbers step by step: held to the reference through the streams (below)
@pytest.mark.parametrize("options", backends("lateral", without="spiking", reference=False))  # numpy devices
def test_every_engine_equals_the_reference_with_shared_uniforms(options, rng):
    """Pre-drawn uniform numbers: every sample and every update the reference's."""
    from hm_neuro.engines import make_engine

    c = circuit()
    p0 = random_machine(c, rng, 0.5)
    data = _data(rng, 300)
    u = Uniforms.draw(c, 300, rng)
    ref, _ = make_engine(c, "numpy").run(p0, data, seed=0, uniforms=u)
    got, _ = make_engine(c, **options, external_uniforms=options["engine"] != "vectorised").run(
        p0, data, seed=0, uniforms=u
    )
    assert ref.max_abs_difference(got) <= 1e-12
    assert all(np.abs(ref.lateral[k] - p0.lateral[k]).max() > 1e-3 for k in p0.lateral)  # every lateral set learned
    for key, spec in c.lateral.layers.items():
        assert np.all(ref.lateral[key][spec.mask == 0] == 0)  # nothing grows off the connections


@pytest.mark.parametrize("options", ENGINES)
def test_a_population_of_lateral_machines_equals_the_reference_machine_by_machine(options, rng):
    """Three machines of other lateral and other rates, each from its own
    counter-based stream: each the reference machine of its seed, with its
    weight history."""
    from hm_neuro.engines import make_engine

    base = circuit()
    other = {**LATERAL, "generative": {"0": {"learning_rate": 0.05, "order": [2, 0, 1]}, "2": {"learning_rate": 0.5}}}
    circuits = [base, base.replace(lateral=other), base.replace(learning_rates={"recognition_weights": 0.3})]
    params = [random_machine(c, rng, 0.5) for c in circuits]
    data = [_data(rng, 300) for _ in circuits]
    seeds = [11, 12, 13]
    pop = make_engine(base, **options, n_machines=3, record_every=100)
    out, extras = pop.run_population(params, data, seeds, circuits=circuits)
    for c, p, d, s, got, e in zip(circuits, params, data, seeds, out, extras):
        ref, ref_extras = make_engine(c, "numpy", record_every=100).run(p, d, seed=s)
        assert ref.max_abs_difference(got) <= 1e-12
        assert e["history_seen"] == ref_extras["history_seen"] == [0, 100, 200]
        for name in ("generative_lateral_0", "recognition_lateral_2"):
            np.testing.assert_allclose(e["history"][name], ref_extras["history"][name], atol=1e-12)


#: every engine of the rules beyond the papers' but the vectorised one they are held to (conftest.backends);
#: compiled (reweighted:3's copies, importance population and wake-phase Q update) in the slow tier
LATERAL_RULE_ENGINES = [
    o for o in backends("rules", compiled=True, slow_compiled=True, reference=False) if o.id != "vectorised"
]


@pytest.mark.parametrize("options", LATERAL_RULE_ENGINES)
@pytest.mark.parametrize("rule", ["wake-sleep:3", "reweighted:3", "reweighted:2:wake", "reweighted:1"])
def test_every_rule_on_the_brian2_circuit_with_lateral_connections_equals_the_vectorised_engine(rule, options, rng):
    """K wake samples and S fantasies each fired in its order (copies of the
    running logits), reweighted:K's importance weights from the lateral P and
    Q, the lateral rule weighted by them (and the wake-phase Q update on the
    recognition lateral weights): two machines -- the second with its top
    layer (generative lateral) clamped and a recognition set lesioned -- fed
    the vectorised engine's uniforms, equal to it to 1e-12."""
    from hm_neuro.engines import make_engine
    from hm_neuro.model import Perturbation

    c, n = circuit(), 150
    params = [random_machine(c, rng, 0.5) for _ in range(2)]
    data = [_data(rng, n) for _ in range(2)]
    lesion = (rng.random((3, 2)) < 0.5).astype(float)
    pts = [Perturbation(), Perturbation(lesions={("recognition", 0): lesion}, clamps={2: np.array([1.0, 0.0])})]
    vec = make_engine(c, "vectorised", chunk=n, n_machines=2, rule=rule)
    args = dict(uniforms=[vec.draw(n, rng) for _ in range(2)], perturbation=pts)
    want, _ = vec.run_population(params, data, [1, 2], **args)
    with make_engine(c, **options, chunk=n, n_machines=2, rule=rule, external_uniforms=True) as eng:
        got, _ = eng.run_population(params, data, [1, 2], **args)
    for k in range(2):
        assert got[k].max_abs_difference(want[k]) <= 1e-12, f"machine {k}"
    assert all(np.abs(got[0].lateral[key] - params[0].lateral[key]).max() > 1e-3 for key in c.lateral.layers)


def _expected(c, p, d, which):
    """E[update per unit of rate] and E[update^2] of a lateral set by enumeration:
    the generative input layer's in the wake phase (h ~ Q(.|d)), the first hidden
    layer's recognition in the sleep phase ((d, h) ~ P)."""
    hidden = hidden_configurations(LAYERS)
    mean, second = 0.0, 0.0
    if which == "generative":
        A = p.lateral[("generative", 0)]
        for h in hidden:
            w = recognition(c, p, [d, *h])
            x = p.generative_biases[0] + h[0] @ p.generative_weights[0] + d @ A
            u = np.outer(d, d - 1.0 / (1.0 + np.exp(-x)))
            mean, second = mean + w * u, second + w * u**2
        return mean * c.lateral.of("generative", 0).mask, second * c.lateral.of("generative", 0).mask
    A = p.lateral[("recognition", 1)]
    for dd in every_state(3):
        for h in hidden:
            w = joint(c, p, [dd, *h])
            x = p.recognition_biases[0] + dd @ p.recognition_weights[0] + h[0] @ A
            u = np.outer(h[0], h[0] - 1.0 / (1.0 + np.exp(-x)))
            mean, second = mean + w * u, second + w * u**2
    mask = c.lateral.of("recognition", 1).mask
    return mean * mask, second * mask


@pytest.mark.parametrize("which", ["generative", "recognition"])
def test_the_lateral_delta_rule_moves_by_its_expectation(rng, which):
    """M independent wake (sleep) phases from one machine: the summed change of
    the lateral weights against eps * M * its enumerated expectation."""
    from hm_neuro.engines import reference

    c = circuit(rate=0.0).replace(lateral=LATERAL)
    p = random_machine(c, rng)
    d = np.array([1.0, 1.0, 0.0])
    key = ("generative", 0) if which == "generative" else ("recognition", 1)
    eps = c.lateral.of(*key).learning_rate
    M, total = 4000, 0.0
    for _ in range(M):
        q = p.copy()
        u = Uniforms.draw(c, 1, rng)
        if which == "generative":
            reference.wake_phase(q, c, d, [a[0] for a in u.wake])
        else:
            reference.sleep_phase(q, c, [a[0] for a in u.sleep])
        total = total + (q.lateral[key] - p.lateral[key])
    mean, second = _expected(c, p, d, which)
    assert_mean_update(total, eps, mean, second, M)
    assert np.abs(mean).max() > 0.01  # the expectation is not trivially zero


def test_reweighted_wake_weighs_samples_by_the_lateral_p_over_q(rng):
    """reweighted:K's wake phase on the vectorised engine: the input layer's
    lateral update is eps * sum_k omega_k d (d - p_k), omega_k proportional to
    P(h_k, d) / Q(h_k | d) with both lateral terms (log_joint, log_recognition:
    held to brute force above)."""
    from hm_neuro.engines import make_engine
    from hm_neuro.engines.vectorised import _Learning, stack

    c = circuit()
    p = random_machine(c, rng)
    K = 4
    engine = make_engine(c, "vectorised", rule=f"reweighted:{K}")
    P = stack([p])
    eps = {name: [np.full((1, 1, 1), r) for r in rates] for name, rates in c.learning_rates.items()}
    eps["lateral"] = {key: np.full((1, 1, 1), spec.learning_rate) for key, spec in c.lateral.layers.items()}
    masks = {kind: [1.0, 1.0] for kind in ("generative", "recognition")}
    d = np.array([1.0, 0.0, 1.0])
    u = [rng.random((1, K, n)) for n in LAYERS[1:]]
    for a in u:  # sample 0 all on, sample 1 all off: samples of different weights
        a[0, 0], a[0, 1] = 0.0, 1.0
    learn = _Learning(c, [0], 0, 1).at(P, 0)
    s = engine._wake(P, eps, masks, [None] * 3, d[None, None, :], u, np.ones((1, 1, 1)), learn)
    states = [np.repeat(d[None], K, axis=0), s[1][0], s[2][0]]
    lw = log_joint(p, states) - log_recognition(p, states)
    omega = np.exp(lw - lw.max())
    omega /= omega.sum()
    A = p.lateral[("generative", 0)]
    x = p.generative_biases[0] + states[1] @ p.generative_weights[0] + d @ A
    err = d[None] - 1.0 / (1.0 + np.exp(-x))
    want = (
        c.lateral.of("generative", 0).learning_rate
        * c.lateral.of("generative", 0).mask
        * np.einsum("k,a,kb->ab", omega, d, err)
    )
    assert np.allclose(P["lateral"][("generative", 0)][0] - A, want, atol=1e-12)
    assert len(set(np.round(omega, 12))) > 1  # the samples differ in weight


def _circuit_file(tmp_path, lateral: str):
    """A 4-3-1 circuit file with the ``[lateral...]`` tables ``lateral``."""
    path = tmp_path / "lat.toml"
    path.write_text(
        "layers = [4, 3, 1]\nnonnegative_generative_weights_into = [0]\n"
        "[learning_rates]\ngenerative_weights = 0.1\nrecognition_weights = 0.1\n"
        "generative_biases = 0.1\nrecognition_biases = 0.1\n" + lateral
    )
    return path


def test_a_lateral_machine_trains_saves_and_evaluates_from_the_command_line(tmp_path, capsys):
    """hm-neuro train on a circuit file with lateral connections, then
    evaluate: the model file holds the lateral weights and the circuit."""
    import json

    from hm_neuro.cli import main
    from hm_neuro.files.model_io import load_model

    path = _circuit_file(
        tmp_path,
        "[lateral.generative.0]\nlearning_rate = 0.1\norder = [3, 2, 1, 0]\n"
        "[lateral.recognition.1]\nlearning_rate = 0.05\n",
    )
    model = tmp_path / "m.npz"
    code = main(
        [
            "train",
            "--circuit",
            str(path),
            "--data",
            "bars",
            "--examples",
            "3000",
            "--engine",
            "vectorised",
            "--out",
            str(model),
            "--seed",
            "3",
        ]
    )
    assert code == 0
    params, circuit, _ = load_model(model)
    assert circuit.lateral.of("generative", 0).order == (3, 2, 1, 0)
    assert np.abs(params.lateral[("generative", 0)]).max() > 0.1
    assert params.orders[("generative", 0)] == (3, 2, 1, 0)
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", "bars", "--json"]) == 0
    measures = json.loads(capsys.readouterr().out)
    from hm_neuro.measures import evaluate_model

    want = evaluate_model(params, circuit, "bars", 100, 0)
    assert measures["kl_data_model_bits"] == pytest.approx(want["kl_data_model_bits"], abs=1e-12)


@pytest.mark.parametrize(
    "table, message",
    [
        ("[lateral.recognition.0]\nlearning_rate = 0.1\n", "lateral.recognition.0: layer 0 is the input"),
        ("[lateral.generative.0]\norder = [0, 1, 1, 2]\n", "lateral.generative.0.order: must be a permutation"),
        (
            "[lateral.generative.1]\nconnections = [[0, 1], [1, 2], [2, 0]]\n",
            "lateral.generative.1.connections: the connections form a cycle",
        ),
    ],
)
def test_bad_lateral_files_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, table, message):
    from hm_neuro.cli import main

    path = _circuit_file(tmp_path, table)
    out = tmp_path / "m.npz"
    code = main(["train", "--circuit", str(path), "--data", "bars", "--examples", "100", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0] and str(path) in err[0]
    assert not out.exists()


def test_an_engine_without_lateral_connections_refuses_a_lateral_circuit_before_any_work(tmp_path, capsys, monkeypatch):
    from hm_neuro.cli import main

    _without_lateral(monkeypatch, "spiking")
    path = _circuit_file(tmp_path, "[lateral.recognition.1]\nlearning_rate = 0.1\n")
    out = tmp_path / "m.npz"
    code = main(
        [
            "train",
            "--circuit",
            str(path),
            "--data",
            "bars",
            "--examples",
            "100",
            "--engine",
            "spiking",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not run lateral connections" in err[0]
    assert not out.exists()


def test_code_of_reads_bars_crosses_and_silent_units():
    from hm_neuro.experiments.lateral import code_of

    c = circuit(None, layers=[16, 4, 1])
    p = Parameters.initial(c)
    G = p.generative_weights[0]
    G[0] = np.kron(np.eye(4)[1], np.ones(4)) * 5.0  # row 1
    G[1] = np.tile(np.eye(4)[2], 4) * 5.0  # column 2
    G[2] = np.maximum(G[0], np.tile(np.eye(4)[0], 4) * 5.0)  # row 1 + column 0: a cross
    assert code_of(p) == ["row 1", "column 2", "cross", "-"]


def test_the_lateral_experiment_writes_its_table_with_intervals(tmp_path):
    import json

    from hm_neuro.experiments import lateral

    summary = lateral.main(quick=True, out=tmp_path, workers=1, settings="factorial,both")
    saved = json.loads((tmp_path / "lateral_factorial-both_quick.json").read_text())
    assert [r["setting"] for r in saved["rows"]] == ["factorial", "both"] == [r["setting"] for r in summary["rows"]]
    for r in saved["rows"]:
        assert r["seeds"] == 2 and len(r["kl_data_model_bits"]) == 2 and len(r["kl_q_p_bits"]) == 2
        lo, hi = r["success_rate_interval_95"]
        assert 0 <= lo <= r["success_rate"] <= hi <= 1
    assert "fisher_p_against_factorial" in saved["rows"][1] and saved["rows"][1]["lateral"]
    assert (tmp_path / "lateral_factorial-both_quick.png").stat().st_size > 0
    assert (tmp_path / "lateral_factorial-both_quick_weights.png").stat().st_size > 0
    with pytest.raises(HMError, match=r"--settings: lateral takes settings from .* \(got 'sideways'\)"):
        lateral.main(quick=True, out=tmp_path, settings="factorial,sideways")


def test_the_factorial_row_is_the_bars_experiments_machine_seed_by_seed():
    """The results page sets the lateral rows beside the bars experiment's
    40 seeds (figures/bars*.json): its factorial setting trains the same
    machines, run for run, whatever the rule (here reweighted:5, 2,000
    examples, two seeds)."""
    from hm_neuro.experiments import bars
    from hm_neuro.experiments.lateral import _tasks
    from hm_neuro.model import Rule
    from hm_neuro.runs.runner import run_tasks

    rule = Rule.parse("reweighted:5")
    mine = _tasks(["factorial"], [0, 1], 2000, rule, "vectorised", None)
    theirs = bars._tasks(
        bars.circuit_for("connections"), [(0, 0), (1, 0)], 2000, "vectorised", None, 500, 1000, rule, "philox"
    )
    a, b = run_tasks(mine, workers=1, progress=False), run_tasks(theirs, workers=1, progress=False)
    kl = [[r["row"]["kl_data_model_bits"] for r in rows] for rows in (a, b)]
    assert kl[0] == kl[1] and kl[0][0] != kl[0][1]


def test_lateral_reading_averages_by_orientation_and_by_pixel_line():
    from hm_neuro.experiments.lateral import circuit_of, lateral_reading

    c = circuit_of("both")
    p = Parameters.initial(c)
    G = p.generative_weights[0]
    for j in range(4):  # units 0-3: rows 0-3; units 4-7: columns 0-3
        G[j] = np.kron(np.eye(4)[j], np.ones(4)) * 5.0
        G[4 + j] = np.tile(np.eye(4)[j], 4) * 5.0
    M = np.zeros((8, 8))
    M[0, 1], M[0, 5], M[4, 6] = 1.0, -3.0, 2.0  # row-row, row-column, column-column
    p.lateral[("recognition", 1)] = M
    A = np.zeros((16, 16))
    A[0, 1], A[0, 4], A[0, 5] = 2.0, 4.0, -1.0  # one row, one column, neither
    p.lateral[("generative", 0)] = A
    assert lateral_reading(p) == {
        "recognition_same_orientation": 1.5,
        "recognition_other_orientation": -3.0,
        "generative_same_row": 2.0,
        "generative_same_column": 4.0,
        "generative_neither": -1.0,
    }
