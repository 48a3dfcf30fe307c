"""The spiking realisation's bridge to the binary machine (hm_neuro.spiking):
"fired at least once in a window" under the escape rate ln(1 + e^u)/T is a
sample of eq. 1, a sweep of windows is a fantasy of the generative model,
and the window-integrated plasticity is the delta rule in expectation."""

import itertools

import numpy as np
import pytest
from conftest import make_circuit, needs_compiler, random_parameters

from hm_neuro.errors import HMError
from hm_neuro.model import Spiking, log_joint, sigmoid, window_probability
from hm_neuro.runs.fantasies import sampled_fantasies


@pytest.mark.parametrize("T, dt", [(1.0, 0.1), (2.0, 0.05), (5.0, 1.0), (0.5, 0.5)])
def test_exact_escape_fires_in_a_window_with_probability_sigmoid(T, dt):
    u = np.linspace(-12, 12, 97)
    np.testing.assert_allclose(window_probability(u, T, dt, "exact"), sigmoid(u), rtol=0, atol=1e-12)


def test_rate_escape_is_a_first_order_approximation():
    u = np.array([-3.0, 0.0, 3.0])
    coarse = np.abs(window_probability(u, 1.0, 0.25, "rate") - sigmoid(u))
    fine = np.abs(window_probability(u, 1.0, 0.01, "rate") - sigmoid(u))
    assert np.all(fine < coarse) and np.all(fine < 0.01) and coarse.max() > 0.02


def _joint_frequencies(states, sizes):
    """Frequencies of every joint state of all units (input first)."""
    bits = np.concatenate(states, axis=1).astype(int)
    codes = bits @ (1 << np.arange(bits.shape[1]))
    return np.bincount(codes, minlength=2 ** sum(sizes)) / len(bits)


def _fantasies(p, c, M, **spiking):
    """M spiking fantasies of one machine: a population of M copies, one
    wake-sleep cycle each, learning off; every layer's sleep states."""
    per_copy = sampled_fantasies([p] * M, c, Spiking(**spiking), 1, seed=11, device="numpy", all_layers=True)
    return [np.concatenate([f[l] for f in per_copy]) for l in range(len(c.layers))]


#: generative lateral connections on both layers of a 3-2 machine: each fires in its order, a window per unit
LATERAL = {"generative": {"0": {"learning_rate": 0.1, "order": [2, 0, 1]}, "1": {"learning_rate": 0.1}}}


def _lateral_machine(layers, lateral, seed):
    c = make_circuit(layers).replace(lateral=lateral)
    rng = np.random.default_rng(seed)
    p = random_parameters(c, rng)
    for key, spec in c.lateral.layers.items():
        p.lateral[key] = rng.normal(0.0, 2.0, spec.mask.shape) * spec.mask
    return c, p


#: fantasies per distribution test: the rate escape at two steps per window is then off by up to ~26
#: standard errors (16 of its 32 joint states beyond 4.5; ~48 at 40,000), the exact one within ~2.5
SWEEPS = 10_000


@pytest.mark.parametrize(
    "layers, lateral", [([3, 2], None), ([2, 2, 1], None), ([3, 2], LATERAL)], ids=["3-2", "2-2-1", "3-2-lateral"]
)
def test_spiking_fantasies_have_the_binary_machines_distribution(layers, lateral):
    """Every joint state of (input, hidden) units, from M spiking sweeps,
    against P(d, h) of eqs. 2-3 by enumeration (with lateral connections,
    each unit's conditional in its order), within 4.5 standard errors: at
    four steps per window, so a layer that fires in its order must give each
    unit its own window for the lateral input of the units before it to be
    complete and constant while it may fire."""
    c, p = _lateral_machine(layers, lateral, 4)
    M = SWEEPS
    freq = _joint_frequencies(_fantasies(p, c, M, window=1.0, dt=0.25), layers)
    all_states = np.array(list(itertools.product((0.0, 1.0), repeat=sum(layers))))[:, ::-1]
    split = np.cumsum(layers)[:-1]
    exact = np.exp(log_joint(p, np.split(all_states, split, axis=1)))
    assert exact.sum() == pytest.approx(1.0)
    se = np.sqrt(exact * (1 - exact) / M)
    assert np.all(np.abs(freq - exact) <= 4.5 * se + 1e-9), np.abs(freq - exact).max()


def test_the_distribution_check_has_power_against_the_rate_approximation():
    c = make_circuit([3, 2])
    p = random_parameters(c, np.random.default_rng(4))
    M = SWEEPS
    freq = _joint_frequencies(_fantasies(p, c, M, window=1.0, dt=0.5, escape="rate"), [3, 2])
    all_states = np.array(list(itertools.product((0.0, 1.0), repeat=5)))[:, ::-1]
    exact = np.exp(log_joint(p, [all_states[:, :3], all_states[:, 3:]]))
    se = np.sqrt(exact * (1 - exact) / M)
    assert np.any(np.abs(freq - exact) > 4.5 * se)


# ------------------------------------------------- training in real time

from conftest import assert_mean_update, expected_sleep_update, expected_wake_update  # noqa: E402

from hm_neuro.engines import make_engine  # noqa: E402

EXPECT = make_circuit([4, 3, 2], rate=1e-9)
N_COPIES, PER_COPY = 1000, 20


def _population_update(spiking, phase, seed=5):
    """N_COPIES machines, each of PER_COPY examples from the same weights
    (eps = 1e-9): the summed change is eps times the sum of M independent
    single-example updates of one phase."""
    c = EXPECT
    p0 = random_parameters(c, np.random.default_rng(21), scale=1.0)
    d = np.array([1.0, 0.0, 1.0, 1.0])
    wg, sg = (np.ones(PER_COPY), np.zeros(PER_COPY)) if phase == "wake" else (np.zeros(PER_COPY), np.ones(PER_COPY))
    with make_engine(c, "spiking", device="numpy", chunk=PER_COPY, n_machines=N_COPIES, spiking=spiking) as eng:
        out, _ = eng.run_population(
            [p0] * N_COPIES,
            [np.tile(d, (PER_COPY, 1))] * N_COPIES,
            list(range(seed, seed + N_COPIES)),
            [wg] * N_COPIES,
            [sg] * N_COPIES,
        )
    if phase == "wake":
        mean, second = expected_wake_update(p0, c, d)
        total = [sum(p.generative_weights[k] - p0.generative_weights[k] for p in out) for k in range(2)]
        frozen = [
            sum(np.abs(p.recognition_weights[k] - p0.recognition_weights[k]).sum() for p in out) for k in range(2)
        ]
    else:
        mean, second = expected_sleep_update(p0, c)
        total = [sum(p.recognition_weights[k] - p0.recognition_weights[k] for p in out) for k in range(2)]
        frozen = [sum(np.abs(p.generative_weights[k] - p0.generative_weights[k]).sum() for p in out) for k in range(2)]
    return total, mean, second, frozen


def _is_the_delta_rule(spiking, phase):
    """True when the mean update of one phase matches eq. 4 / eq. 7 within
    4.5 standard errors for both weight sets (assert_mean_update)."""
    total, mean, second, _ = _population_update(spiking, phase)
    try:
        for k in range(2):
            assert_mean_update(total[k], 1e-9, mean[k], second[k], N_COPIES * PER_COPY)
    except AssertionError as e:
        assert "max error" in str(e)
        return False
    return True


@pytest.mark.parametrize("phase", ["wake", "sleep"])
@pytest.mark.parametrize("window, dt", [(1.0, 0.25), (0.5, 0.5)])
def test_spiking_plasticity_is_the_delta_rule_in_expectation(phase, window, dt):
    """In the bridge limit, the window-integrated dendritic-prediction rule
    moves the weights, on average over M examples, by the expectation of
    eq. 4 (wake) or eq. 7 (sleep), enumerated; the gated-off pathway stays put."""
    total, mean, second, frozen = _population_update(Spiking(window=window, dt=dt), phase)
    for k in range(2):
        assert_mean_update(total[k], 1e-9, mean[k], second[k], N_COPIES * PER_COPY)
    assert frozen == [0.0, 0.0]


def test_spiking_expectation_test_rejects_the_rate_escape():
    """Power: with Brian2's rho*dt escape at one step per window the same
    check fails (the window probability is no longer sigma)."""
    assert not _is_the_delta_rule(Spiking(window=1.0, dt=1.0, escape="rate"), "sleep")


def test_spiking_circuit_keeps_time_in_ms():
    """One example is one wake-sleep cycle of (2L + 1) windows and two
    learning steps; every layer spikes only inside its own windows."""
    c = make_circuit([3, 2])
    s = Spiking(window=2.0, dt=0.5)
    assert s.steps_per_example(1) == 3 * 4 + 2 and s.example_ms(1) == pytest.approx(7.0)
    p = random_parameters(c, np.random.default_rng(1), scale=2.0)
    with make_engine(c, "spiking", device="numpy", chunk=30, record_spikes=True, spiking=s) as eng:
        _, extra = eng.run(p, np.ones((30, 3)), seed=3)
    assert extra["cycle_ms"] == pytest.approx(7.0)
    phase = lambda t: np.mod(np.asarray(t), 7.0)  # noqa: E731
    hidden_t, _ = extra["spikes"][1]
    data_t, _ = extra["spikes"][0]
    # hidden layer: wake window [0, 2) and sleep window [2.5, 4.5); data layer: sleep window [4.5, 6.5)
    ph = phase(hidden_t)
    assert len(ph) > 0 and np.all((ph < 2.0 - 1e-9) | ((ph >= 2.5 - 1e-9) & (ph < 4.5 - 1e-9)))
    pd = phase(data_t)
    assert len(pd) > 0 and np.all((pd >= 4.5 - 1e-9) & (pd < 6.5 - 1e-9))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": 1.0, "dt": 0.3}, "window"),
        ({"window": 1.0, "dt": 2.0}, "dt"),
        ({"window": float("nan")}, "window"),
        ({"escape": "fast"}, "escape"),
        ({"tau_syn": -1.0}, "tau_syn"),
        ({"dt": 0.25, "settle": 0.3}, "settle"),
        ({"settle": -1.0}, "settle"),
        ({"dt": 0.5, "delay": 0.7}, "delay"),
        ({"dt": 0.1, "delay": 6.0}, "delay"),
    ],
)
def test_bad_spiking_parameters_are_refused(kwargs, match):
    with pytest.raises(HMError, match=match):
        Spiking(**kwargs)


def test_spiking_engine_refuses_what_it_cannot_do():
    c = make_circuit([3, 2])
    with pytest.raises(HMError, match="external_uniforms"):
        make_engine(c, "spiking", device="numpy", external_uniforms=True)
    with pytest.raises(HMError, match="spiking"):
        make_engine(c, "numpy", spiking=Spiking())


def test_cli_trains_a_spiking_machine(tmp_path):
    """hm-neuro train --engine spiking writes a model file that records the
    engine; the model evaluates like any other."""
    from hm_neuro.cli import main
    from hm_neuro.files.model_io import load_model

    out = tmp_path / "m.npz"
    assert (
        main(
            [
                "train",
                "--engine",
                "spiking",
                "--device",
                "numpy",
                "--examples",
                "40",
                "--window",
                "1",
                "--dt",
                "0.5",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    params, circuit, meta = load_model(out)
    assert meta["engine"] == "spiking" and meta["examples_seen"] == 40
    assert any(np.abs(b).max() > 0 for b in params.generative_biases)  # it learned
    assert main(["evaluate", "--model", str(out), "--json"]) == 0


def test_a_circuit_files_dynamics_table_configures_the_spiking_engine(tmp_path):
    """[dynamics] in a circuit file: the spiking engine's parameters, the
    command-line options on top; the model file records what was used; a
    bad table is refused naming its key."""
    from hm_neuro.cli import main
    from hm_neuro.files.model_io import load_model
    from hm_neuro.model import load_circuit
    from hm_neuro.resources import find

    text = find("circuits", "bars")[0].read_text() + "\n[dynamics]\nwindow = 2.0\ndt = 1.0\ntau_syn = 0.5\n"
    (tmp_path / "slow.toml").write_text(text)
    c = load_circuit(tmp_path / "slow.toml")
    assert c.spiking() == Spiking(window=2.0, dt=1.0, tau_syn=0.5)
    with make_engine(c, "spiking", device="numpy", chunk=2) as eng:
        assert eng.spiking == Spiking(window=2.0, dt=1.0, tau_syn=0.5)
    out = tmp_path / "m.npz"
    assert (
        main(
            [
                "train",
                "--engine",
                "spiking",
                "--circuit",
                str(tmp_path / "slow.toml"),
                "--device",
                "numpy",
                "--examples",
                "20",
                "--tau-syn",
                "0",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert load_model(out)[1].spiking() == Spiking(window=2.0, dt=1.0, tau_syn=0.0)
    (tmp_path / "bad.toml").write_text(text.replace("tau_syn = 0.5", "tau = 0.5"))
    with pytest.raises(HMError, match=r"dynamics.tau: unknown key"):
        load_circuit(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text(text.replace("dt = 1.0", "dt = 0.3"))
    with pytest.raises(HMError, match=r"dynamics.window: must be a whole number .* of steps of dt=0.3 ms"):
        load_circuit(tmp_path / "bad.toml")


def test_spiking_lesions_and_clamps():
    """A lesioned synapse set neither carries input nor learns; a clamped
    layer never fires, is held at its state in both phases (its generative
    bias learns toward it), and the data wins over a clamp of layer 0 awake."""
    from hm_neuro.model import Perturbation

    c = make_circuit([3, 2, 1], rate=0.05)
    p = random_parameters(c, np.random.default_rng(2), scale=1.0)
    pt = Perturbation(lesions={("recognition", 0): np.zeros((3, 2))}, clamps={2: np.ones(1), 0: np.zeros(3)})
    with make_engine(
        c, "spiking", device="numpy", chunk=40, record_spikes=True, spiking=Spiking(window=1.0, dt=0.5)
    ) as eng:
        out, extra = eng.run(p, np.ones((40, 3)), seed=4, perturbation=pt)
    np.testing.assert_array_equal(out.recognition_weights[0], p.recognition_weights[0])
    assert np.abs(out.recognition_weights[1] - p.recognition_weights[1]).max() > 0
    assert len(extra["spikes"][2][0]) == 0 and len(extra["spikes"][0][0]) == 0  # clamped: silent
    assert out.generative_biases[2][0] > p.generative_biases[2][0]  # held on: its bias learns toward 1
    assert np.all(out.generative_biases[0] > p.generative_biases[0])  # the data (all on) wins awake


def test_sampled_kl_estimates_the_divergence_of_a_sampled_distribution():
    """The sampled KL of the experiment: ~0 for samples of the data
    distribution itself, and the exact KL for samples of another one."""
    from hm_neuro.files.data import bars_distribution
    from hm_neuro.measures import sampled_kl_bits

    patterns, probs = bars_distribution(p_vertical=2 / 3)
    _, other = bars_distribution(p_vertical=0.3)
    rng = np.random.default_rng(0)
    same = patterns[rng.choice(len(probs), 200_000, p=probs)].astype(float)
    shifted = patterns[rng.choice(len(other), 200_000, p=other)].astype(float)
    exact = float(np.sum(probs * np.log2(probs / other)))
    assert abs(sampled_kl_bits(same, patterns, probs)) < 0.002
    assert sampled_kl_bits(shifted, patterns, probs) == pytest.approx(exact, abs=0.01)


@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_a_fast_synaptic_current_is_the_bridge(phase):
    """tau_syn -> 0: the current is integrated before the step's inputs and
    learning, so a current much faster than the clock carries the state
    itself and the update is eq. 4 / eq. 7 in expectation (an earlier
    schedule, which integrated it after them, failed this at any tau_syn)."""
    assert _is_the_delta_rule(Spiking(window=1.0, dt=0.25, tau_syn=1e-4), phase)


@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_a_slow_synaptic_current_biases_the_update_unless_it_settles(phase):
    """tau_syn = one window: a layer samples while the current of the layer
    that drives it is still rising, and the update misses eq. 4 / eq. 7; a
    settle of 10 tau_syn before every window and learning step restores it
    (the current then carries the state to within e^-10)."""
    assert not _is_the_delta_rule(Spiking(window=0.5, dt=0.5, tau_syn=0.5), phase)
    assert _is_the_delta_rule(Spiking(window=0.5, dt=0.5, tau_syn=0.5, settle=5.0), phase)


@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_an_axonal_delay_biases_the_update_unless_a_settle_covers_it(phase):
    """A delay of two steps: the layer above samples from the states of two
    steps ago (the previous phase's, at a phase start) and the update misses
    eq. 4 / eq. 7; a settle as long as the delay makes it the bridge again."""
    assert not _is_the_delta_rule(Spiking(window=1.0, dt=0.5, delay=1.0), phase)
    assert _is_the_delta_rule(Spiking(window=1.0, dt=0.5, delay=1.0, settle=1.0), phase)


def test_settles_lay_out_the_cycle():
    """A settle precedes every window and every learning step."""
    s = Spiking(window=1.0, dt=0.5, settle=0.5)
    assert s.phases(1) == {
        "wake_window": {1: 1},
        "wake_learn": 4,
        "sleep_start": 5,
        "sleep_window": {1: 6, 0: 9},
        "sleep_learn": 12,
    }
    assert s.steps_per_example(1) == 13 and Spiking(window=1.0, dt=0.5).steps_per_example(1) == 3 * 2 + 2


def test_a_layer_that_fires_in_its_lateral_order_has_a_window_per_unit():
    """The cycle with layer 0 asleep and layer 1 awake in their orders (3
    and 2 units): their windows are 3 and 2 windows long; each unit spikes
    only in the window of its rank."""
    s = Spiking(window=1.0, dt=0.5, settle=0.5)
    in_order = {("sleep", 0): 3, ("wake", 1): 2}
    assert s.phases(1, in_order) == {
        "wake_window": {1: 1},
        "wake_learn": 6,
        "sleep_start": 7,
        "sleep_window": {1: 8, 0: 11},
        "sleep_learn": 18,
    }
    assert s.steps_per_example(1, in_order) == 19
    lateral = {"generative": {"0": {"order": [2, 0, 1]}}, "recognition": {"1": {"order": [1, 0]}}}
    c, p = _lateral_machine([3, 2], lateral, 5)
    assert c.lateral.in_order() == in_order
    with make_engine(c, "spiking", device="numpy", chunk=40, record_spikes=True, spiking=s) as eng:
        _, extra = eng.run(p, np.ones((40, 3)), seed=3)
    assert extra["cycle_ms"] == pytest.approx(19 * 0.5)
    for layer, (first, order) in {0: (11, [2, 0, 1]), 1: (1, [1, 0])}.items():  # the ordered window of each
        t, unit = extra["spikes"][layer]
        step = np.round(np.asarray(t) / 0.5).astype(int) % 19
        ordered = (step >= first) & (step < first + 2 * len(order))
        assert ordered.sum() > 20
        rank = np.argsort(order)[unit[ordered]]
        assert np.array_equal((step[ordered] - first) // 2, rank)


def test_traces_follow_the_synaptic_current_and_the_compartments():
    """record_traces: the current relaxes to the state it carries with
    tau_syn (exact integration, one step late), and each compartment is its
    bias plus the weighted currents of the layer that drives it."""
    c = make_circuit([3, 2, 1])
    p = random_parameters(c, np.random.default_rng(3), scale=1.0)
    sp = Spiking(window=1.0, dt=0.25, tau_syn=0.5)
    with make_engine(c, "spiking", device="numpy", chunk=4, record_spikes=True, record_traces=True, spiking=sp) as eng:
        _, extra = eng.run(p, np.array([[1.0, 0.0, 1.0]] * 4), seed=3, wake_gate=np.zeros(4), sleep_gate=np.zeros(4))
    tr = extra["traces"]
    C = sp.steps_per_example(2)
    assert tr[0]["a"].shape == (4 * C, 3) and tr[1]["u_rec"].shape == (4 * C, 2) and "u_rec" not in tr[0]
    a0 = tr[0]["a"][:, 0]  # layer 0, unit 0: clamped on at every wake start, its current rising toward 1
    decay = np.exp(-sp.dt / sp.tau_syn)
    np.testing.assert_allclose(1 - a0[1:4], (1 - a0[0]) * decay ** np.arange(1, 4), rtol=1e-9)
    for lower, upper, W, b in (
        (0, 1, p.recognition_weights[0], p.recognition_biases[0]),
        (1, 2, p.recognition_weights[1], p.recognition_biases[1]),
    ):
        np.testing.assert_allclose(tr[upper]["u_rec"], b + tr[lower]["a"] @ W, atol=1e-9)
    np.testing.assert_allclose(tr[0]["u_gen"], p.generative_biases[0] + tr[1]["a"] @ p.generative_weights[0], atol=1e-9)
    with pytest.raises(HMError, match="record_traces: applies to the spiking engine only"):
        make_engine(c, "brian2", device="numpy", record_traces=True)


@pytest.mark.parametrize("name", ["bars", "digits", "nines"])
def test_the_spiking_engine_trains_every_shipped_circuit(name):
    from hm_neuro.model import Parameters, load_circuit

    c = load_circuit(name)
    p0 = Parameters.initial(c)
    rng = np.random.default_rng(0)
    with make_engine(c, "spiking", device="numpy", chunk=20, spiking=Spiking(window=1.0, dt=1.0)) as eng:
        out, _ = eng.run(p0, (rng.random((20, c.n_input)) < 0.3).astype(float), seed=1)
    assert out.max_abs_difference(p0) > 0 and all(np.all(np.isfinite(a)) for a in out.arrays().values())


@needs_compiler
@pytest.mark.standalone
def test_a_compiled_chunk_reports_only_the_rows_it_was_given():
    """cpp_standalone runs the whole compiled chunk (the rows past the data
    are padding): the recorded states and spikes stop at the rows given."""
    c = make_circuit([4, 3, 1])
    p = random_parameters(c, np.random.default_rng(1), scale=2.0)
    sp = Spiking(window=1.0, dt=1.0)
    with make_engine(c, "spiking", device="cpp_standalone", chunk=50, record_spikes=True, spiking=sp) as eng:
        _, extra = eng.run(p, np.ones((20, 4)), seed=2, wake_gate=np.zeros(20), sleep_gate=np.zeros(20))
    assert [a.shape for a in extra["sleep"]] == [(20, 4), (20, 3), (20, 1)]
    assert all(len(t) == 0 or t.max() < 20 * extra["cycle_ms"] for t, _ in extra["spikes"])
    assert extra["sleep"][0].sum() > 0


@needs_compiler
@pytest.mark.standalone
@pytest.mark.equivalence
def test_at_one_step_per_window_the_spiking_circuit_is_the_binary_circuit_sample_for_sample():
    """The bridge, exactly: with the exact escape and one clock step per
    window, a unit fires in its window iff rand() < sigma(u), and compiled
    C++ draws rand() only for the units whose window is open -- in the order
    the binary circuit draws its uniforms. So from the same seeds a spiking
    population trains to the binary one's weights (to rounding)."""
    from hm_neuro.model import load_circuit
    from hm_neuro.training import BarsStream, train_population

    c = load_circuit("bars")
    # the builds of ``reproduce bars --quick --restarts 2`` (test_experiments): a population of two
    # machines, 20,000 examples in one chunk, weights recorded every 500
    kw = dict(device="cpp_standalone", chunk=20_000, record_every=500, progress=False)
    binary = train_population(
        c, [BarsStream(), BarsStream()], 20_000, [3, 4], engine="brian2", propagation="summed", **kw
    )
    spiking = train_population(
        c, [BarsStream(), BarsStream()], 20_000, [3, 4], engine="spiking", spiking=Spiking(window=1.0, dt=1.0), **kw
    )
    for a, b in zip(binary, spiking):
        assert a.params.max_abs_difference(b.params) < 1e-9
        assert a.params.max_abs_difference(type(a.params).initial(c)) > 1.0
