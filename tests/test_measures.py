"""The measures tied together: eqs. 5 and 8, importance sampling, bars."""

import numpy as np
import pytest
from conftest import make_circuit, random_parameters

from hm_neuro import measures
from hm_neuro.errors import HMError
from hm_neuro.files.data import bars_distribution
from hm_neuro.model import Parameters, load_circuit, sigmoid


def all_inputs(n):
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(float)


def test_exact_probabilities_sum_to_one(rng):
    c = make_circuit([4, 3, 2])
    p = random_parameters(c, rng, scale=2.0)
    total = np.sum(2.0 ** measures.exact_log2_prob(p, all_inputs(4)))
    assert total == pytest.approx(1.0, abs=1e-12)


def test_free_energy_bounds_minus_log_prob(rng):
    c = make_circuit([5, 3, 2])
    p = random_parameters(c, rng, scale=1.5)
    fe = measures.exact_free_energy(p, all_inputs(5))
    assert np.all(fe["free_energy"] >= fe["neg_log2_prob"] - 1e-12)
    assert np.all(fe["kl_q_p"] > 1e-6)  # random Q is not the posterior


def test_the_penalty_is_kl_of_q_to_the_posterior_in_bits_by_brute_force(rng):
    """Eq. 8's penalty, computed here from scratch for every data vector:
    sum over hidden states of Q log2(Q / P(h | d)), with Q and P(h, d) as
    products of the units' Bernoulli probabilities (eq. 1) -- and the free
    energy as -sum Q log2 P(h, d) - H(Q), all in bits."""
    c = make_circuit([3, 2, 2])
    p = random_parameters(c, rng, scale=1.5)
    data = all_inputs(3)
    fe = measures.exact_free_energy(p, data)
    hidden = all_inputs(4)  # h1 (2 units), h2 (2 units)

    def bern(x, prob):
        return np.prod(np.where(x > 0, prob, 1 - prob), axis=-1)

    for i, d in enumerate(data):
        q = np.array(
            [
                bern(h[:2], sigmoid(p.recognition_biases[0] + d @ p.recognition_weights[0]))
                * bern(h[2:], sigmoid(p.recognition_biases[1] + h[:2] @ p.recognition_weights[1]))
                for h in hidden
            ]
        )
        joint = np.array(
            [
                bern(h[2:], sigmoid(p.generative_biases[2]))
                * bern(h[:2], sigmoid(p.generative_biases[1] + h[2:] @ p.generative_weights[1]))
                * bern(d, sigmoid(p.generative_biases[0] + h[:2] @ p.generative_weights[0]))
                for h in hidden
            ]
        )
        kl = np.sum(q * np.log2(q / (joint / joint.sum())))
        free = -np.sum(q * np.log2(joint)) + np.sum(q * np.log2(q))
        assert fe["kl_q_p"][i] == pytest.approx(kl, abs=1e-12)
        assert fe["free_energy"][i] == pytest.approx(free, abs=1e-12)
        assert fe["neg_log2_prob"][i] == pytest.approx(-np.log2(joint.sum()), abs=1e-12)


def test_free_energy_equals_minus_log_prob_when_q_is_the_posterior(rng):
    """One hidden unit: the true posterior is logistic in d, so Q can equal it."""
    c = make_circuit([4, 1])
    p = random_parameters(c, rng, scale=1.5)
    g0, G, gh = p.generative_biases[0], p.generative_weights[0][0], p.generative_biases[1][0]
    on, off = sigmoid(g0 + G), sigmoid(g0)
    # log-odds of h=1 given d: gh + sum_i d_i log(on/off) + (1-d_i) log((1-on)/(1-off))
    p.recognition_weights[0][:, 0] = np.log(on / off) - np.log((1 - on) / (1 - off))
    p.recognition_biases[0][0] = gh + np.sum(np.log((1 - on) / (1 - off)))
    fe = measures.exact_free_energy(p, all_inputs(4))
    np.testing.assert_allclose(fe["free_energy"], fe["neg_log2_prob"], atol=1e-10)
    assert np.max(fe["kl_q_p"]) < 1e-10


def perfect_bars_model(p_vertical=2 / 3, p_bar=0.2, big=40.0):
    c = load_circuit("bars")
    p = Parameters.initial(c)

    def logit(x):
        return np.log(x / (1 - x))

    p.generative_biases[2][:] = logit(p_vertical)  # top unit: vertical
    for j in range(8):
        vertical = j < 4
        p.generative_biases[1][j] = -big if vertical else logit(p_bar)
        p.generative_weights[1][0, j] = big + logit(p_bar) if vertical else -big - logit(p_bar)
    p.generative_biases[0][:] = -big
    for j in range(4):
        for r in range(4):
            p.generative_weights[0][j, r * 4 + j] = 2 * big  # vertical bar j: column j
            p.generative_weights[0][4 + j, j * 4 + r] = 2 * big  # horizontal bar j: row j
    return p


def test_hand_built_bars_model_has_kl_near_zero():
    patterns, probs = bars_distribution()
    kl = measures.kl_data_model(perfect_bars_model(), patterns, probs)
    assert 0.0 <= kl < 1e-6
    assert measures.exact_summary(perfect_bars_model(), patterns, probs)["kl_data_model_bits"] == pytest.approx(
        kl, abs=1e-9
    )


def test_a_wrong_bars_model_is_penalised():
    patterns, probs = bars_distribution()
    kl = measures.kl_data_model(perfect_bars_model(p_vertical=0.5), patterns, probs)
    # the only error is P(vertical): KL of the orientation prior, diluted by the blank image
    assert 0.01 < kl < 0.1


def test_sampled_free_energy_and_importance_sampling_converge_to_exact(rng):
    c = make_circuit([4, 3, 2])
    p = random_parameters(c, rng, scale=0.7)  # a proposal Q not too far from P(.|d)
    d = all_inputs(4)[[3, 9, 14]]
    exact = measures.exact_free_energy(p, d)
    est = measures.sampled_free_energy(p, d, 20_000, rng)
    np.testing.assert_allclose(est, exact["free_energy"], atol=0.06)
    is_est = measures.importance_log2_prob(p, d, 20_000, rng)
    np.testing.assert_allclose(-is_est, exact["neg_log2_prob"], atol=0.05)


def test_description_length_is_eq_3(rng):
    """C(alpha, d) = sum of per-unit costs, eq. 2, layer by layer."""
    c = make_circuit([3, 2, 1])
    p = random_parameters(c, rng)
    d, s1, s2 = np.array([[1.0, 0, 1]]), np.array([[0.0, 1]]), np.array([[1.0]])

    def cost(s, prob):
        return float(np.sum(-s * np.log2(prob) - (1 - s) * np.log2(1 - prob)))

    by_hand = (
        cost(s2, sigmoid(p.generative_biases[2]))
        + cost(s1, sigmoid(p.generative_biases[1] + s2 @ p.generative_weights[1]))
        + cost(d, sigmoid(p.generative_biases[0] + s1 @ p.generative_weights[0]))
    )
    assert measures.description_length(p, [d, s1, s2])[0] == pytest.approx(by_hand, rel=1e-12)


def test_measures_stay_finite_for_huge_weights(rng):
    c = make_circuit([4, 3, 2])
    p = random_parameters(c, rng, scale=1e3)
    fe = measures.exact_free_energy(p, all_inputs(4))
    for v in fe.values():
        assert np.all(np.isfinite(v))
    assert np.all(np.isfinite(measures.sampled_free_energy(p, all_inputs(4), 5, rng)))


def test_enumeration_refuses_big_nets_with_a_clear_message():
    p = Parameters.initial(load_circuit("digits"))
    with pytest.raises(HMError, match=r"exact measures: need <= 20 hidden units.*\(got 36\)"):
        measures.exact_log2_prob(p, np.zeros((1, 64)))


def test_n_samples_must_be_positive(rng):
    p = Parameters.initial(make_circuit([2, 1]))
    with pytest.raises(HMError, match=r"n_samples: must be >= 1 \(got 0\)"):
        measures.importance_log2_prob(p, np.zeros((1, 2)), 0, rng)
