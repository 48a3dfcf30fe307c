"""The Helmholtz machine as a scikit-learn estimator (a density model with a
recognition transform), in the conventions of ``BernoulliRBM``."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from .checks import Integer, Number, OneOf, check
from .errors import bad
from .measures import MAX_ENUMERATED_HIDDEN, exact_log2_prob, importance_log2_prob
from .model import PARAMETER_SETS, Circuit, sample_fantasies, sigmoid
from .training import SweepStream, train

LN2 = float(np.log(2.0))
SCORINGS = ("auto", "exact", "sampled")
UNITS = ("nats", "bits")
#: ``scoring='auto'`` enumerates up to this many (row, hidden state) pairs (~0.25 s here), samples beyond
AUTO_EXACT_PAIRS = 2**18


class HelmholtzMachine(TransformerMixin, BaseEstimator):
    """A Helmholtz machine trained by wake-sleep (Hinton et al. 1995).

    Parameters
    ----------
    hidden_layers : int or tuple of int, default=(8,)
        Units per hidden layer, bottom to top (the input layer is the data's width).
    learning_rate : float, default=0.05
        The rate of every weight and bias (a circuit with per-set rates:
        :class:`hm_neuro.model.Circuit`, through :func:`hm_neuro.train`).
    n_iter : int, default=20
        Sweeps through the data, each in a fresh random order; one example per
        wake and sleep phase (online learning, as in the papers).
    rule : str, default='wake-sleep'
        :class:`hm_neuro.model.Rule` (``wake-sleep``, ``wake-sleep:S``,
        ``reweighted:K``).
    engine : str or EngineOptions, default='numpy'
        ``numpy`` (the reference), ``vectorised``, ``brian2`` or ``spiking``,
        or :class:`hm_neuro.EngineOptions` for more than the engine's name,
        e.g. ``EngineOptions("brian2", device="cpp_standalone")`` (its
        ``rule`` is this estimator's ``rule``).
    scoring : {'auto', 'exact', 'sampled'}, default='auto'
        How :meth:`score_samples` gets ln P(x): ``exact`` enumerates every
        hidden state (rows x 2**hidden units pairs, ~1e6 pairs per second
        here: a 20-hidden-unit machine takes ~1 s per row, and a warning
        says so above :data:`AUTO_EXACT_PAIRS`); ``sampled`` importance
        sampling with ``n_samples`` recognition samples per row (a
        stochastic lower bound in expectation); ``auto`` exact up to
        :data:`AUTO_EXACT_PAIRS` pairs (about a quarter of a second),
        sampled beyond.
    n_samples : int, default=100
        Recognition samples per row for sampled scoring.
    units : {'nats', 'bits'}, default='nats'
        Of :meth:`score_samples` and :meth:`score`: natural logarithms, as
        scikit-learn's density estimators return them, or bits, as the rest of
        hm_neuro reports (description lengths, free energies).
    binarize : float or None, default=None
        None: the data must be 0/1 (anything else is refused); a threshold
        t: a value above t is on (sklearn's ``Binarizer`` inside the estimator).
    random_state : int, RandomState or None, default=None
        Seeds the training (the machine's seed tree: data order and every
        sample) and :meth:`sample`; an int gives the same weights every time.

    Attributes
    ----------
    params_ : hm_neuro.model.Parameters
        The learned generative and recognition weights and biases.
    circuit_ : hm_neuro.model.Circuit
    n_features_in_ : int
    examples_seen_ : int

    Randomness: ``fit`` draws one seed from ``random_state`` and trains with
    it; ``partial_fit`` draws a new one per call; ``score_samples`` (sampled
    case) and ``sample`` draw from ``random_state`` too.  Data must be
    binary (0/1), or binarized by ``binarize``: a Helmholtz machine is a density over binary
    vectors.
    """

    def __init__(
        self,
        hidden_layers=(8,),
        learning_rate=0.05,
        n_iter=20,
        rule="wake-sleep",
        engine="numpy",
        scoring="auto",
        n_samples=100,
        units="nats",
        binarize=None,
        random_state=None,
    ):
        self.hidden_layers = hidden_layers
        self.learning_rate = learning_rate
        self.n_iter = n_iter
        self.rule = rule
        self.engine = engine
        self.scoring = scoring
        self.n_samples = n_samples
        self.units = units
        self.binarize = binarize
        self.random_state = random_state

    # ------------------------------------------------------------ fitting

    def _check_X(self, X, reset: bool):
        X = validate_data(self, X, reset=reset, dtype=np.float64)
        if self.binarize is not None:
            return (X > check("binarize", self.binarize, Number())).astype(np.float64)
        if not np.all((X == 0) | (X == 1)):
            bad_values = X[(X != 0) & (X != 1)]
            raise ValueError(
                f"X: a Helmholtz machine models binary data; values must be 0 or 1 "
                f"(got {bad_values[:3].tolist()}); set binarize=THRESHOLD to binarize them"
            )
        return X

    def _circuit(self, n_features: int) -> Circuit:
        rate = check("learning_rate", self.learning_rate, Number(0.0, 10.0))
        layers = self.hidden_layers
        if isinstance(layers, numbers.Integral) and not isinstance(layers, bool):
            layers = (layers,)  # one hidden layer, as scikit-learn's hidden_layer_sizes reads an int
        if not isinstance(layers, (tuple, list)) or not layers:
            raise bad("hidden_layers", "must be a layer size or a non-empty tuple of layer sizes", self.hidden_layers)
        hidden = tuple(check(f"hidden_layers[{i}]", n, Integer(1, 10_000)) for i, n in enumerate(layers))
        return Circuit(
            layers=(n_features, *hidden),
            learning_rates={k: rate for k in PARAMETER_SETS},
            initial_values={},
            name="estimator",
        )

    def _train(self, X, params, sweeps: int, rng):
        seed = int(rng.randint(0, 2**31 - 1))
        r = train(
            self.circuit_,
            SweepStream(X, "X"),
            len(X) * sweeps,
            seed,
            self.engine,
            params=params,
            progress=False,
            rule=self.rule,
        )
        self.params_ = r.params
        self.examples_seen_ = getattr(self, "examples_seen_", 0) + r.examples_seen

    def fit(self, X, y=None):
        """Train a new machine on the rows of ``X`` for ``n_iter`` sweeps."""
        X = self._check_X(X, reset=True)
        check("n_iter", self.n_iter, Integer(1, 10**6))
        self.circuit_ = self._circuit(X.shape[1])
        self.examples_seen_ = 0
        self._rng = check_random_state(self.random_state)
        self._train(X, None, self.n_iter, self._rng)
        return self

    def partial_fit(self, X, y=None):
        """One more sweep through ``X`` (a new machine if none was fitted)."""
        first = not hasattr(self, "params_")
        X = self._check_X(X, reset=first)
        if first:
            self.circuit_ = self._circuit(X.shape[1])
            self.examples_seen_ = 0
            self._rng = check_random_state(self.random_state)
        self._train(X, None if first else self.params_, 1, self._rng)
        return self

    # ------------------------------------------------------------ using the model

    def score_samples(self, X):
        """log P(x) of every row under the generative model (eqs. 2-3), in
        ``units`` (nats by default), as ``scoring`` says: exact by
        enumerating every hidden state, or importance-sampled with
        ``n_samples`` recognition samples per row."""
        check_is_fitted(self, "params_")
        X = self._check_X(X, reset=False)
        scoring = check("scoring", self.scoring, OneOf(SCORINGS))
        scale = LN2 if check("units", self.units, OneOf(UNITS)) == "nats" else 1.0
        H = self.circuit_.n_hidden_units
        pairs = len(X) * 2.0**H
        exact = scoring == "exact" or (scoring == "auto" and pairs <= AUTO_EXACT_PAIRS)
        if exact:
            if H > MAX_ENUMERATED_HIDDEN:  # what hm_neuro.measures enumerates at most
                raise bad("scoring", f"'exact' cannot enumerate 2**{H} hidden states; use 'sampled'", scoring)
            if pairs > AUTO_EXACT_PAIRS:
                warnings.warn(
                    f"scoring='exact' enumerates {len(X)} rows x 2**{H} hidden states ({pairs:.3g} pairs, "
                    f"~{pairs / 1e6:.0f} s at ~1e6 pairs/s); scoring='sampled' estimates it in a fraction of that",
                    stacklevel=2,
                )
            return exact_log2_prob(self.params_, X) * scale
        rng = np.random.default_rng(check_random_state(self.random_state).randint(0, 2**31 - 1))
        return importance_log2_prob(self.params_, X, self.n_samples, rng) * scale

    def score(self, X, y=None):
        """Mean log P(x) of the rows of ``X``, in ``units``."""
        return float(np.mean(self.score_samples(X)))

    def transform(self, X, layer: int = -1):
        """Recognition probabilities of a hidden layer (default the top),
        propagated bottom-up as probabilities (mean field: the deterministic
        part of the recognition model, eq. 1 without sampling)."""
        check_is_fitted(self, "params_")
        X = self._check_X(X, reset=False)
        p, q = self.params_, X
        L = len(p.recognition_weights)
        stop = L if layer == -1 else check("layer", layer, Integer(1, L))
        with np.errstate(over="ignore"):
            for k in range(stop):
                q = sigmoid(p.recognition_biases[k] + q @ p.recognition_weights[k])
        return q

    def sample(self, n_samples: int = 1, random_state=None):
        """``n_samples`` fantasies of the generative model, top-down (rows of input units)."""
        check_is_fitted(self, "params_")
        n = check("n_samples", n_samples, Integer(1, 10**7))
        rng = np.random.default_rng(
            check_random_state(random_state if random_state is not None else self.random_state).randint(0, 2**31 - 1)
        )
        return sample_fantasies(self.params_, n, rng)[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
