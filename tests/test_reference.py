"""The NumPy reference against formulas computed by hand."""

import numpy as np
import pytest
from conftest import make_circuit, random_parameters

from hm_neuro import model
from hm_neuro.engines import reference
from hm_neuro.model import Parameters, Uniforms, sigmoid


def test_sigmoid_is_finite_for_huge_inputs():
    x = np.array([-1e3, -50.0, 0.0, 50.0, 1e3])
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
        sigmoid(x)  # exp(1000) overflows: the training loop silences exactly this
    with np.errstate(over="ignore"):
        y = sigmoid(x)
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5


def test_recognition_sample_frequencies_match_sigmoid(rng):
    c = make_circuit([3, 4])
    p = random_parameters(c, rng)
    d = np.array([1.0, 0.0, 1.0])
    n = 40_000
    s = model.sample_recognition(p, np.tile(d, (n, 1)), rng)[1]
    q = sigmoid(p.recognition_biases[0] + d @ p.recognition_weights[0])
    se = np.sqrt(q * (1 - q) / n)
    assert np.all(np.abs(s.mean(0) - q) < 4.5 * se)


def test_fantasy_frequencies_match_generative_marginals(rng):
    c = make_circuit([2, 1])
    p = random_parameters(c, rng)
    n = 40_000
    f = model.sample_fantasies(p, n, rng)
    ph = sigmoid(p.generative_biases[1][0])
    p_d_given = [sigmoid(p.generative_biases[0] + h * p.generative_weights[0][0]) for h in (0.0, 1.0)]
    marginal = (1 - ph) * p_d_given[0] + ph * p_d_given[1]
    se = np.sqrt(marginal * (1 - marginal) / n)
    assert np.all(np.abs(f[0].mean(0) - marginal) < 4.5 * se)
    assert abs(f[1].mean() - ph) < 4.5 * np.sqrt(ph * (1 - ph) / n)


def test_one_wake_update_by_hand():
    """2-1 machine, all zero, eps 0.5: the numbers of eq. 4 worked out on paper."""
    c = make_circuit([2, 1], rate=0.5)
    p = Parameters.initial(c)
    d = np.array([1.0, 0.0])
    # q = sigma(0) = 0.5; u = 0.3 < 0.5 -> hidden unit on
    s = reference.wake_phase(p, c, d, [np.array([0.3])])
    assert s[1].tolist() == [1.0]
    # p_input = sigma(0) = 0.5 for both inputs; dG = 0.5 * 1 * (d - 0.5)
    np.testing.assert_array_equal(p.generative_weights[0], [[0.25, -0.25]])
    np.testing.assert_array_equal(p.generative_biases[0], [0.25, -0.25])
    # top bias: 0.5 * (1 - 0.5)
    np.testing.assert_array_equal(p.generative_biases[1], [0.25])
    # recognition untouched in the wake phase
    assert np.all(p.recognition_weights[0] == 0) and np.all(p.recognition_biases[0] == 0)


def test_one_sleep_update_by_hand():
    c = make_circuit([2, 1], rate=0.5)
    p = Parameters.initial(c)
    # fantasy: top p = 0.5, u = 0.9 -> off; inputs p = 0.5, u = (0.1, 0.7) -> (1, 0)
    f = reference.sleep_phase(p, c, [np.array([0.1, 0.7]), np.array([0.9])])
    assert [x.tolist() for x in f] == [[1.0, 0.0], [0.0]]
    # q = sigma(0) = 0.5; dR = 0.5 * f_input * (0 - 0.5) (eq. 7); dr = 0.5 * (0 - 0.5)
    np.testing.assert_array_equal(p.recognition_weights[0], [[-0.25], [0.0]])
    np.testing.assert_array_equal(p.recognition_biases[0], [-0.25])
    assert np.all(p.generative_weights[0] == 0)


def test_positivity_constraint_clips_at_zero():
    c = make_circuit([2, 1], rate=0.5, nonneg=[0])
    p = Parameters.initial(c)
    reference.wake_phase(p, c, np.array([1.0, 0.0]), [np.array([0.3])])
    np.testing.assert_array_equal(p.generative_weights[0], [[0.25, 0.0]])


def test_gates_zero_change_nothing_but_still_sample(rng):
    c = make_circuit([4, 3, 2])
    p = random_parameters(c, rng)
    before = p.copy()
    d = (rng.random((50, 4)) < 0.5).astype(float)
    u = Uniforms.draw(c, 50, rng)
    ws, ss = reference.train(p, c, d, u, np.zeros(50), np.zeros(50), record_samples=True)
    assert p.max_abs_difference(before) == 0.0
    assert ws[1].sum() > 0 and ss[0].sum() > 0


def test_training_does_not_modify_the_data(rng):
    c = make_circuit([4, 2])
    d = (rng.random((20, 4)) < 0.5).astype(float)
    keep = d.copy()
    reference.train(Parameters.initial(c), c, d, Uniforms.draw(c, 20, rng))
    np.testing.assert_array_equal(d, keep)
