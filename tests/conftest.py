"""Shared fixtures: small circuits, and Brian2 device state reset per test."""

import shutil

import numpy as np
import pytest

from hm_neuro.circuit import Circuit


def make_circuit(layers, rate=0.05, nonneg=(), name="test"):
    return Circuit.uniform(layers, rate, nonnegative_into=nonneg, name=name)


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
