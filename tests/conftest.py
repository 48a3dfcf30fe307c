"""Shared fixtures: small circuits, and Brian2 device state reset per test."""

import shutil

import numpy as np
import pytest

from hm_neuro.model import Circuit


def make_circuit(layers, rate=0.05, nonneg=(), name="test"):
    return Circuit.uniform(layers, rate, nonnegative_into=nonneg, name=name)


def three_machines(rng, n):
    """A population test case: three 4-3-2 machines with other learning
    rates and other data, the second lesioned and clamped, the third
    sleep-deprived for half of the ``n`` examples.  Returns (base circuit,
    circuits, params, data, perturbations, sleep gates)."""
    from hm_neuro.model import Perturbation
    from hm_neuro.training import BarsStream

    base = make_circuit([4, 3, 2], rate=0.05, nonneg=(0,))
    circuits = [base, base.replace(learning_rates={"generative_weights": [0.3, 0.01], "recognition_biases": 0.2}),
                base.replace(learning_rates={"recognition_weights": [0.0, 0.5]})]
    params = [random_parameters(c, rng) for c in circuits]
    data = [BarsStream(size=2, p_vertical=pv).take(n, rng) for pv in (0.2, 0.5, 0.9)]
    mask = (rng.random((3, 2)) < 0.5).astype(float)
    pts = [Perturbation(), Perturbation(lesions={("recognition", 1): mask}, clamps={2: np.array([0.0, 1.0])}),
           Perturbation()]
    sleep_gates = [np.ones(n), np.ones(n), (np.arange(n) < n // 2) * 1.0]
    return base, circuits, params, data, pts, sleep_gates


def random_parameters(circuit, rng, scale=1.0):
    """Non-trivial parameters; constrained sets made >= 0."""
    from hm_neuro.model import Parameters

    p = Parameters.initial(circuit)
    for arrs in (p.generative_weights, p.recognition_weights, p.generative_biases, p.recognition_biases):
        for a in arrs:
            a[...] = rng.normal(0.0, scale, a.shape)
    for k in circuit.nonnegative_generative_weights_into:
        np.abs(p.generative_weights[k], out=p.generative_weights[k])
    return p


# ------------------------------------------- the delta rules in expectation

def expected_wake_update(p, circuit, d):
    """E_Q[update] and E_Q[update^2] of eq. 4 for data d, by enumeration."""
    from hm_neuro import model
    from hm_neuro.measures import hidden_states

    hid = hidden_states(circuit.layers)
    L = circuit.n_hidden_layers
    states = [np.tile(d, (len(hid[0]), 1))] + hid
    w = np.exp(model.log_recognition(p, states))  # Q(alpha | d) of every alpha
    pred = [model.sigmoid(model.generative_logits(p, states, k)) for k in range(L)]
    upd = [states[k + 1][:, :, None] * (states[k] - pred[k])[:, None, :] for k in range(L)]  # eq. 4
    return ([np.tensordot(w, u, 1) for u in upd], [np.tensordot(w, u ** 2, 1) for u in upd])


def expected_sleep_update(p, circuit):
    """E_P[update] and E_P[update^2] of eq. 7 over fantasies, by enumeration."""
    from hm_neuro import model
    from hm_neuro.measures import hidden_states

    full = hidden_states((0,) + tuple(circuit.layers))  # enumerate input and hidden units
    L = circuit.n_hidden_layers
    w = np.exp(model.log_joint(p, full))  # P(alpha, d) of every fantasy
    q = [model.sigmoid(model.recognition_logits(p, full, k)) for k in range(L)]
    upd = [full[k][:, :, None] * (full[k + 1] - q[k])[:, None, :] for k in range(L)]  # eq. 7
    return ([np.tensordot(w, u, 1) for u in upd], [np.tensordot(w, u ** 2, 1) for u in upd])


def assert_mean_update(total, eps, mean, second, M):
    """total = eps * sum of M independent updates; tolerance 4.5 standard
    errors from the exact variance."""
    var = second - mean ** 2
    se = np.sqrt(var / M)
    err = np.abs(total / (eps * M) - mean)
    assert np.all(err <= 4.5 * se + 1e-6), f"max error {err.max():.3g}, max 4.5 SE {4.5 * se.max():.3g}"


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _reset_brian2_device():
    """Every test starts and ends on Brian2's runtime device."""
    yield
    import sys

    if "brian2" in sys.modules:
        import brian2

        if brian2.get_device().__class__.__name__ != "RuntimeDevice":
            brian2.device.reinit()
            brian2.set_device("runtime")


def has_compiler():
    return shutil.which("g++") is not None or shutil.which("c++") is not None


needs_compiler = pytest.mark.skipif(not has_compiler(), reason="no C++ compiler")
