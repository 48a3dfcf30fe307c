"""hm.HelmholtzMachine: scikit-learn's estimator checks, and the behaviour of
a density model (normalised, sampled as it scores, reproducible)."""

import itertools

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import hm_neuro as hm


@parametrize_with_checks([hm.HelmholtzMachine(n_iter=2, binarize=0.5, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def bars(n, seed=0):
    return hm.sample_bars(n, np.random.default_rng(seed), size=2)


def test_non_binary_data_is_refused_naming_the_fix():
    expected = (
        r"X: a Helmholtz machine models binary data; values must be 0 or 1 "
        r"\(got \[0\.5\]\); set binarize=THRESHOLD"
    )
    with pytest.raises(ValueError, match=expected):
        hm.HelmholtzMachine().fit(np.array([[0.0, 0.5], [1.0, 1.0]]))


def test_the_model_is_a_normalised_density_over_binary_vectors():
    est = hm.HelmholtzMachine(hidden_layers=(3, 2), learning_rate=0.1, n_iter=30, random_state=1).fit(bars(200))
    every = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    assert np.exp(est.score_samples(every)).sum() == pytest.approx(1.0, abs=1e-12)


def test_fantasies_are_samples_of_the_scored_density():
    est = hm.HelmholtzMachine(hidden_layers=(3,), learning_rate=0.1, n_iter=30, random_state=2).fit(bars(300))
    every = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    p = np.exp(est.score_samples(every))
    n = 40_000
    f = est.sample(n, random_state=3)
    codes = f @ (2 ** np.arange(4)[::-1])
    freq = np.bincount(codes.astype(int), minlength=16) / n
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) <= 5 * se + 1e-12)


def test_random_state_makes_fits_reproducible_and_learning_moves_the_score():
    x = bars(300)
    a = hm.HelmholtzMachine(hidden_layers=(4,), n_iter=5, random_state=7).fit(x)
    b = hm.HelmholtzMachine(hidden_layers=(4,), n_iter=5, random_state=7).fit(x)
    assert a.params_.max_abs_difference(b.params_) == 0.0
    untrained = hm.HelmholtzMachine(hidden_layers=(4,), n_iter=1, learning_rate=0.0, random_state=7).fit(x)
    assert a.score(x) > untrained.score(x) + 0.5  # nats per image: wake-sleep learned something


def test_partial_fit_continues_where_fit_stopped():
    x = bars(100)
    est = hm.HelmholtzMachine(hidden_layers=(4,), n_iter=1, random_state=0).fit(x)
    seen = est.examples_seen_
    est.partial_fit(x)
    assert est.examples_seen_ == seen + len(x)


def test_transform_gives_recognition_probabilities_in_a_pipeline():
    x = bars(400)
    y = (x[:, :2].sum(axis=1) == 2).astype(int)  # "the top row is on"
    pipe = make_pipeline(
        hm.HelmholtzMachine(hidden_layers=(6,), learning_rate=0.1, n_iter=20, random_state=0), LogisticRegression()
    )
    pipe.fit(x, y)
    q = pipe[0].transform(x)
    assert q.shape == (400, 6) and np.all((q > 0) & (q < 1))
    assert pipe.score(x, y) > 0.9
