"""The Brian2 circuit IS the wake-sleep algorithm: held to the NumPy reference.

1. exact: fed the same pre-drawn uniform numbers, the reference and every
   engine that takes them (``EXACT``: conftest.backends, from the registry)
   produce the same samples and (to rounding) the same weights, over
   wake-sleep, wake-only, sleep-only and frozen epochs;
2. in expectation: with independent random streams, the mean update of single
   wake (sleep) phases equals the delta rule's expectation computed by
   enumerating the hidden states, within 4.5 standard errors;
3. learning: trained on bars, both reach the same KL distribution (slow).

Run everything:  pytest -m equivalence  (CI runs the part not marked slow).
Against your own circuit:  HM_NEURO_CIRCUIT=path/to/circuit.toml pytest -m equivalence
"""

import os

import numpy as np
import pytest
from conftest import assert_mean_update, backends, expected_wake_update, make_circuit, needs_compiler, random_parameters

from hm_neuro import check
from hm_neuro.engines import make_engine, reference
from hm_neuro.errors import HMError
from hm_neuro.model import Uniforms, load_circuit
from hm_neuro.training import schedule_gates

pytestmark = pytest.mark.equivalence

N_EXAMPLES = 2000
SCHEDULE = check.SCHEDULE


def circuits():
    out = {
        "16-8-1": load_circuit("bars"),
        "16-8-1-unconstrained": load_circuit("bars").replace(nonnegative_generative_weights_into=()),
        "64-16-16-4": load_circuit("digits").replace(
            learning_rates={
                k: 0.05
                for k in ("generative_weights", "recognition_weights", "generative_biases", "recognition_biases")
            }
        ),
        "four-hidden": make_circuit([12, 8, 6, 4, 2], rate=0.05, nonneg=[0, 2]),
    }
    if os.environ.get("HM_NEURO_CIRCUIT"):
        out["user"] = load_circuit(os.environ["HM_NEURO_CIRCUIT"])
    return out


CIRCUITS = circuits()

#: every engine that takes the uniforms of sampling as arrays (conftest.backends, from the engine registry):
#: the vectorised engine and the Brian2 circuit on its numpy target and compiled, summed and event-driven;
#: in the slow tier the event-driven build (~1 min to compile) and Cython (~40 code objects on a cold cache)
EXACT = backends(
    need="uniforms",
    compiled=True,
    event=True,
    event_numpy=True,
    cython=True,
    reference=False,
    slow=("brian2-cpp-event",),
)


def run_both(circuit, options, seed=0, n=N_EXAMPLES, perturbation=None):
    return check.run_both(circuit, options, seed=seed, n=n, perturbation=perturbation)


def assert_exact(p0, ref, b2p, ref_samples, b2_samples):
    mismatch = check.sample_mismatch(ref_samples, b2_samples)
    assert mismatch is None, mismatch
    assert b2p.max_abs_difference(ref) <= 1e-12
    assert ref.max_abs_difference(p0) > 0.1  # something was learned


@pytest.mark.parametrize("options", EXACT)
@pytest.mark.parametrize("name", list(CIRCUITS))
def test_exact(name, options):
    circuit = CIRCUITS[name]
    p0, ref, got, rs, bs = run_both(circuit, options)
    assert_exact(p0, ref, got, rs, bs)
    for k in circuit.nonnegative_generative_weights_into:
        assert got.generative_weights[k].min() >= 0.0


def cortical_perturbation(circuit, rng):
    """Half of recognition_0 silenced, all top-down input to layer 1 cut, layer 3 clamped."""
    from hm_neuro.model import Perturbation

    n = circuit.layers
    return Perturbation(
        lesions={
            ("recognition", 0): (rng.random((n[0], n[1])) < 0.5).astype(float),
            ("generative", 1): np.zeros((n[2], n[1])),
        },
        clamps={3: (np.arange(n[3]) % 2).astype(float)},
    ).validate(circuit)


@pytest.mark.parametrize("options", EXACT)
def test_exact_with_lesions_and_clamps(options):
    circuit = CIRCUITS["four-hidden"]
    pt = cortical_perturbation(circuit, np.random.default_rng(9))
    p0, ref, b2p, rs, bs = run_both(circuit, options, perturbation=pt)
    assert_exact(p0, ref, b2p, rs, bs)
    clamp = pt.clamps[3]
    for phase in (0, 1):  # the clamped layer keeps its state in both phases
        assert np.all(bs[phase][3] == clamp)
    # lesioned synapses did not learn; the others did
    lesioned = pt.lesions[("recognition", 0)] == 0
    np.testing.assert_array_equal(b2p.recognition_weights[0][lesioned], p0.recognition_weights[0][lesioned])
    np.testing.assert_array_equal(b2p.generative_weights[1], p0.generative_weights[1])
    assert np.any(b2p.recognition_weights[0][~lesioned] != p0.recognition_weights[0][~lesioned])


def test_bad_perturbations_are_refused():
    from hm_neuro.errors import HMError
    from hm_neuro.model import Perturbation

    c = CIRCUITS["16-8-1"]
    with pytest.raises(HMError, match=r"lesion: no synapse set generative_5"):
        Perturbation(lesions={("generative", 5): np.zeros(3)}).validate(c)
    with pytest.raises(HMError, match=r"lesion recognition_0: mask must be 0/1 of shape \(16, 8\)"):
        Perturbation(lesions={("recognition", 0): np.zeros((8, 16))}).validate(c)
    with pytest.raises(HMError, match=r"clamp: no layer 7; layers are 0..2"):
        Perturbation(clamps={7: np.zeros(1)}).validate(c)


def bars_start(seed):
    """The 16-8-1 circuit, random non-trivial parameters and 50 random inputs."""
    circuit = CIRCUITS["16-8-1"]
    rng = np.random.default_rng(seed)
    return circuit, random_parameters(circuit, rng), (rng.random((50, 16)) < 0.3).astype(float)


def test_event_driven_propagation_refuses_negative_constrained_weights():
    from hm_neuro.errors import HMError

    circuit, p0, data = bars_start(6)
    p0.generative_weights[0][0, 0] = -0.5
    with make_engine(circuit, "brian2", device="numpy", chunk=50, propagation="event") as eng:
        with pytest.raises(HMError, match=r"generative_weights_0: event-driven propagation clips only .*\(got -0.5\)"):
            eng.run(p0, data, seed=1)


def test_automatic_propagation_is_chosen_by_size():
    from hm_neuro.engines.brian2.binary import choose_propagation

    assert choose_propagation(CIRCUITS["16-8-1"]) == "summed"
    assert choose_propagation(CIRCUITS["64-16-16-4"]) == "summed"
    assert choose_propagation(make_circuit([784, 200, 200])) == "event"


@needs_compiler
@pytest.mark.standalone
def test_standalone_rerun_is_bit_identical_and_seeds_differ():
    circuit = CIRCUITS["16-8-1"]
    rng = np.random.default_rng(5)
    p0 = random_parameters(circuit, rng, scale=0.5)
    data = (rng.random((500, 16)) < 0.3).astype(float)
    with make_engine(circuit, "brian2", device="cpp_standalone", chunk=500) as eng:
        a, _ = eng.run(p0, data, seed=11)
        b, _ = eng.run(p0, data, seed=11)
        c, _ = eng.run(p0, data, seed=12)
    assert a.max_abs_difference(b) == 0.0
    assert a.max_abs_difference(c) > 1e-3


# ------------------------------------------------------------- in expectation

EXPECT_CIRCUIT = make_circuit([4, 3, 2], rate=1e-9)
M = 20_000


def _assert_mean_update(total, eps, mean, second):
    assert_mean_update(total, eps, mean, second, M)


@pytest.mark.parametrize("options", backends(without="spiking"))  # the spiking circuit's: test_spiking
@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_mean_update_matches_delta_rule_expectation(options, phase):
    """With eps = 1e-9 the weights move ~2e-5 over M = 20,000 examples, so
    every example is a single update from (practically) the same weights: the
    summed change of 400 copies x 50 examples / (eps M) is the sample mean of
    M independent updates, of every weight and bias against eq. 4 / eq. 7 by
    enumeration (``hm-neuro check``'s check, on every engine)."""
    r = check.expectation_check(phase, options.get("device", options["engine"]), options=options)
    assert r.difference > 0 and r.passed, f"max error {r.difference:.3g} standard errors"


def test_expectation_test_would_catch_a_wrong_rule():
    """A rule missing its prediction term (Hebbian s_k s_j) fails the same check."""
    c = EXPECT_CIRCUIT
    rng = np.random.default_rng(21)
    p0 = random_parameters(c, rng)
    d = np.array([1.0, 0.0, 1.0, 1.0])
    mean, second = expected_wake_update(p0, c, d)
    hebb_total = 1e-9 * M * (mean[0] + 0.3)  # a systematic bias of 0.3 per update
    with pytest.raises(AssertionError, match="max error"):
        _assert_mean_update(hebb_total, 1e-9, mean[0], second[0])


# ------------------------------------------------------------------- learning


def fisher_exact_p(a_success, a_n, b_success, b_n):
    """Two-sided Fisher exact test of equal success rates."""
    from math import comb

    total_s, n = a_success + b_success, a_n + b_n

    def prob(k):
        return comb(a_n, k) * comb(b_n, total_s - k) / comb(n, total_s)

    observed = prob(a_success)
    ks = range(max(0, total_s - b_n), min(a_n, total_s) + 1)
    return min(1.0, sum(prob(k) for k in ks if prob(k) <= observed * (1 + 1e-9)))


def compare_learning(a, b, basin=0.5, tol=0.1):
    """Runs end in one of two basins (below / above ``basin`` bits): the
    engines must land in the good basin at rates a Fisher test cannot tell
    apart, and reach the same KL within each basin."""
    a, b = np.asarray(a), np.asarray(b)
    p = fisher_exact_p(int(np.sum(a < basin)), len(a), int(np.sum(b < basin)), len(b))
    assert p > 0.01, f"rates of reaching the good basin differ (Fisher p = {p:.2g}): {a} vs {b}"
    for low in (True, False):
        ia, ib = (a < basin) == low, (b < basin) == low
        if ia.any() and ib.any():
            assert abs(np.median(a[ia]) - np.median(b[ib])) < tol, (
                f"KL within the {'good' if low else 'bad'} basin differs: {a} vs {b}"
            )


def test_learning_comparison_logic():
    """The comparison passes on the distributions measured here (8 seeds each,
    2e5 examples) and fails when one engine learns systematically worse."""
    ref = [0.268, 0.271, 0.272, 0.272, 0.279, 0.761, 0.801, 0.933]
    b2 = [0.274, 0.275, 0.280, 0.746, 0.799, 0.800, 0.806, 0.820]
    compare_learning(ref, b2)
    with pytest.raises(AssertionError, match="KL within the good basin differs"):
        compare_learning(ref, [x + 0.15 for x in b2])  # worse within each basin
    with pytest.raises(AssertionError, match=r"rates of reaching the good basin differ \(Fisher p = "):
        compare_learning([0.27] * 20, [0.8] * 20)  # never finds the good basin


@needs_compiler
@pytest.mark.slow
def test_learning_on_bars_reaches_the_same_kl_distribution():
    """Same circuit, same protocol (2e5 examples), 8 seeds each: the NumPy
    reference and the Brian2 circuit reach the same KL distribution."""
    from hm_neuro.engines import make_engine
    from hm_neuro.files.data import bars_distribution
    from hm_neuro.measures import kl_data_model
    from hm_neuro.training import BarsStream, train

    circuit = load_circuit("bars")
    patterns, probs = bars_distribution()
    kls = {}
    for engine in ("numpy", "brian2"):
        eng = make_engine(
            circuit, engine, device="cpp_standalone" if engine == "brian2" else None, chunk=100_000
        )  # one build for all seeds
        try:
            kls[engine] = [
                kl_data_model(
                    train(circuit, BarsStream(), 200_000, seed=s, engine=eng, progress=False).params, patterns, probs
                )
                for s in range(8)
            ]
        finally:
            eng.close()
    compare_learning(kls["numpy"], kls["brian2"])


@pytest.mark.parametrize("options", backends(need="brian2", without="spiking", compiled=True, reference=False))
def test_exact_with_the_data_as_a_table_of_rows(options):
    """The data handed to the circuit as a table of the chunk's distinct rows
    and one row index per example (EngineOptions.data_rows) is the same data:
    the circuit still equals the reference sample for sample."""
    circuit = CIRCUITS["16-8-1"]
    rng = np.random.default_rng(3)
    p0 = random_parameters(circuit, rng, scale=0.5)
    data = (rng.random((N_EXAMPLES, 16)) < 0.3).astype(float)
    assert len(np.unique(data, axis=0)) > 500  # a real table
    u = Uniforms.draw(circuit, N_EXAMPLES, rng)
    wg, sg = schedule_gates(SCHEDULE, 0, N_EXAMPLES)
    ref = p0.copy()
    ref_samples = reference.train(ref, circuit, data, u, wg, sg, record_samples=True)
    with make_engine(
        circuit, **options, chunk=N_EXAMPLES, external_uniforms=True, record_spikes=True, data_rows=2048
    ) as eng:
        b2p, extras = eng.run(p0, data, seed=0, wake_gate=wg, sleep_gate=sg, uniforms=u)
        assert check.sample_mismatch(ref_samples, (extras["wake"], extras["sleep"])) is None
        assert b2p.max_abs_difference(ref) <= 1e-12
    expected = (
        r"data: a chunk of machine 0 holds 3 distinct rows; this circuit's table "
        r"holds 2 \(EngineOptions.data_rows\)"
    )
    with pytest.raises(HMError, match=expected):
        with make_engine(circuit, **options, chunk=3, data_rows=2) as small:
            small.run(p0, np.eye(16)[:3], seed=0)


def test_training_hands_bars_and_data_sets_to_the_circuit_as_tables():
    from hm_neuro.training import BarsStream, SweepStream, data_rows_for

    assert BarsStream().distinct_rows == 30
    assert data_rows_for([BarsStream()], "brian2") == 32  # rounded up: one build for similar data sets
    rows = np.array([[0, 1], [1, 1], [0, 1]])
    assert SweepStream(rows).distinct_rows == 2
    assert data_rows_for([SweepStream(rows), BarsStream(size=2)], "spiking") == 8  # bars 2x2: 6 images
    assert data_rows_for([BarsStream()], "numpy") == 0  # the NumPy engines take the rows as they are
