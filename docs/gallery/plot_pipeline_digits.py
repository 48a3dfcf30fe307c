"""
Digits by description length: one estimator per class, in a Pipeline
====================================================================

Hinton et al. (1995), Fig. 2: one Helmholtz machine per digit; a test image
goes to the machine that describes it most briefly.  Here the estimator
``hm.HelmholtzMachine`` (scikit-learn's conventions) is the density model of
each class inside a small classifier, binarised by scikit-learn's
``Binarizer`` in a ``Pipeline``.  A short run (the paper's protocol:
``hm-neuro reproduce digits``, 4.3 % test error).
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer

import hm_neuro as hm


class ShortestDescription(ClassifierMixin, BaseEstimator):
    """One density model per class; predict the class whose model gives the
    image the highest log-probability (the shortest description length)."""

    def __init__(self, density):
        self.density = density

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.models_ = [clone(self.density).fit(X[y == c]) for c in self.classes_]
        return self

    def predict(self, X):
        scores = np.stack([m.score_samples(X) for m in self.models_], axis=1)
        return self.classes_[np.argmax(scores, axis=1)]


digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(
    digits.data, digits.target, test_size=0.5, stratify=digits.target, random_state=0
)
machine = hm.HelmholtzMachine(hidden_layers=(16, 16, 4), learning_rate=0.05, n_iter=40, n_samples=50, random_state=0)
model = make_pipeline(Binarizer(threshold=7.5), ShortestDescription(machine)).fit(X_train, y_train)
error = 1 - accuracy_score(y_test, model.predict(X_test))
print(
    f"test error {100 * error:.1f} % on {len(y_test)} images (one 64-16-16-4 machine per digit, 40 sweeps; "
    "ln P importance-sampled from 50 recognition samples)"
)
