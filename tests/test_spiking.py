"""The spiking realisation's bridge to the binary machine (hm_neuro.spiking):
"fired at least once in a window" under the escape rate ln(1 + e^u)/T is a
sample of eq. 1, and a sweep of windows is a fantasy of the generative model."""

import itertools

import numpy as np
import pytest

from conftest import make_circuit, random_parameters
from hm_neuro.errors import HMError
from hm_neuro.model import log_joint, sigmoid
from hm_neuro.spiking import fantasies, window_probability


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


@pytest.mark.parametrize("layers", [[3, 2], [2, 2, 1]])
def test_spiking_fantasies_have_the_binary_machines_distribution(layers):
    """Every joint state of (input, hidden) units, from M spiking sweeps,
    against P(d, h) of eqs. 2-3 by enumeration, within 4.5 standard errors."""
    c = make_circuit(layers)
    p = random_parameters(c, np.random.default_rng(4))
    M = 40_000
    states = fantasies(p, M, T=1.0, dt=0.1, seed=11)
    freq = _joint_frequencies(states, layers)
    all_states = np.array(list(itertools.product((0.0, 1.0), repeat=sum(layers))))[:, ::-1]
    split = np.cumsum(layers)[:-1]
    exact = np.exp(log_joint(p, np.split(all_states, split, axis=1)))
    assert exact.sum() == pytest.approx(1.0)
    se = np.sqrt(exact * (1 - exact) / M)
    assert np.all(np.abs(freq - exact) <= 4.5 * se + 1e-9), np.abs(freq - exact).max()


def test_the_distribution_check_has_power_against_the_rate_approximation():
    c = make_circuit([3, 2])
    p = random_parameters(c, np.random.default_rng(4))
    M = 40_000
    freq = _joint_frequencies(fantasies(p, M, T=1.0, dt=0.5, escape="rate", seed=11), [3, 2])
    all_states = np.array(list(itertools.product((0.0, 1.0), repeat=5)))[:, ::-1]
    exact = np.exp(log_joint(p, [all_states[:, :3], all_states[:, 3:]]))
    se = np.sqrt(exact * (1 - exact) / M)
    assert np.any(np.abs(freq - exact) > 4.5 * se)


def test_each_layer_spikes_only_in_its_own_window():
    c = make_circuit([4, 3, 2])
    p = random_parameters(c, np.random.default_rng(2))
    states, spikes = fantasies(p, 500, T=2.0, dt=0.5, seed=1, record_spikes=True)
    L = 2
    for l, (t, unit, copy) in enumerate(spikes):
        assert len(t) > 0
        assert t.min() >= (L - l) * 2.0 - 1e-9 and t.max() < (L - l + 1) * 2.0
        fired = np.zeros_like(states[l])
        fired[copy, unit] = 1
        np.testing.assert_array_equal(fired, states[l])  # the window state is "fired at least once"


def test_bad_spiking_options_are_refused():
    p = random_parameters(make_circuit([2, 1]), np.random.default_rng(0))
    with pytest.raises(HMError, match=r"escape: must be one of \['exact', 'rate'\]"):
        fantasies(p, 10, escape="poisson")
    with pytest.raises(HMError, match=r"T: must be a whole number of steps of dt=0.3 ms"):
        fantasies(p, 10, T=1.0, dt=0.3)
    with pytest.raises(HMError, match=r"dt: must be in \(0, T=1.0\] ms"):
        fantasies(p, 10, T=1.0, dt=2.0)
