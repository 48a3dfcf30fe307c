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


def test_default_scoring_of_twenty_hidden_units_samples_instead_of_enumerating():
    """Before: 2**20 states enumerated per row, ~6 s a row, unsaid.  ``auto``
    samples beyond AUTO_EXACT_PAIRS; ``exact`` says what it costs."""
    import time

    from hm_neuro.estimator import AUTO_EXACT_PAIRS

    X = (np.random.default_rng(0).random((100, 8)) < 0.5).astype(float)
    m = hm.HelmholtzMachine(hidden_layers=(16, 4), n_iter=1, random_state=0).fit(X)
    t0 = time.perf_counter()
    scores = m.score_samples(X)
    assert time.perf_counter() - t0 < 60  # a guard against the 10-minute enumeration, not a benchmark
    assert scores.shape == (100,) and np.all(scores < 0)
    assert 100 * 2**20 > AUTO_EXACT_PAIRS
    with pytest.warns(UserWarning, match=r"scoring='exact' enumerates 1 rows x 2\*\*20 hidden states"):
        exact = m.set_params(scoring="exact").score_samples(X[:1])
    sampled = m.set_params(scoring="sampled", n_samples=2000).score_samples(X[:1])
    assert abs(sampled[0] - exact[0]) < 0.2  # nats; importance sampling of a 20-unit posterior


def test_scores_in_bits_are_scores_in_nats_over_ln_2():
    X = (np.random.default_rng(1).random((30, 6)) < 0.5).astype(float)
    m = hm.HelmholtzMachine(hidden_layers=(4,), n_iter=2, random_state=0).fit(X)
    nats = m.score_samples(X)
    bits = m.set_params(units="bits").score_samples(X)
    np.testing.assert_allclose(bits, nats / np.log(2.0), rtol=1e-12)
    from hm_neuro.measures import exact_log2_prob

    np.testing.assert_allclose(bits, exact_log2_prob(m.params_, X), rtol=1e-12)  # 10 hidden units: enumerated
    with pytest.raises(hm.HMError, match=r"scoring: must be one of \['auto', 'exact', 'sampled'\] \(got 'fast'\)"):
        m.set_params(scoring="fast").score_samples(X)
    with pytest.raises(hm.HMError, match=r"units: must be one of \['nats', 'bits'\]"):
        m.set_params(scoring="auto", units="dB").score_samples(X)
