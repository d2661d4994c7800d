"""scikit-learn estimators that normalise or rescale intermediates in place (issue 12's list).

Issue 12 named these as real code that was refused with ``InPlaceError`` although its result is
well defined: ``KernelRidge``, ``KernelPCA``, ``Nystroem``, ``MLPClassifier.predict_proba``.
Fitted and called unmodified; the gradient is taken in the data the estimator is fitted on or
in the points it predicts at.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from . import fd

kernel_ridge = pytest.importorskip("sklearn.kernel_ridge")
decomposition = pytest.importorskip("sklearn.decomposition")
kernel_approximation = pytest.importorskip("sklearn.kernel_approximation")
neural_network = pytest.importorskip("sklearn.neural_network")
linear_model = pytest.importorskip("sklearn.linear_model")

RNG = np.random.default_rng(11)
X = RNG.standard_normal((12, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * RNG.standard_normal(12)
X2 = RNG.standard_normal((4, 3))
LABELS = (Y > 0).astype(int) + (Y > 1)

with warnings.catch_warnings():  # a small network stops before its tolerance: fine here
    warnings.simplefilter("ignore")
    MLP_C = neural_network.MLPClassifier(hidden_layer_sizes=(5,), max_iter=300, random_state=0).fit(
        X, LABELS
    )
    MLP_R = neural_network.MLPRegressor(
        hidden_layer_sizes=(5,), activation="tanh", max_iter=300, random_state=0
    ).fit(X, Y)


def _rows(n):
    return lambda f: lambda x: f(np.reshape(x, (n, 3)))


at_x2, at_x = _rows(4), _rows(12)

CASES = [
    fd("KernelRidge.rbf.predict[X2]",
       at_x2(lambda z: kernel_ridge.KernelRidge(alpha=0.5, kernel="rbf").fit(X, Y).predict(z)), X2.ravel()),
    fd("KernelRidge.rbf.fit[y]",
       lambda y: kernel_ridge.KernelRidge(alpha=0.5, kernel="rbf").fit(X, y).predict(X2), Y),
    fd("KernelRidge.rbf.fit[X]",
       at_x(lambda z: kernel_ridge.KernelRidge(alpha=0.5, kernel="rbf").fit(z, Y).predict(X2)), X.ravel()),
    fd("KernelRidge.linear.fit[y]",
       lambda y: kernel_ridge.KernelRidge(alpha=0.5).fit(X, y).predict(X2), Y),
    fd("KernelPCA.rbf.transform[X2]",
       at_x2(lambda z: np.abs(decomposition.KernelPCA(2, kernel="rbf").fit(X).transform(z))), X2.ravel()),
    fd("KernelPCA.rbf.fit_transform[X]",
       at_x(lambda z: np.abs(decomposition.KernelPCA(2, kernel="rbf").fit_transform(z))), X.ravel()),
    fd("Nystroem.transform[X2]",
       at_x2(lambda z: kernel_approximation.Nystroem(n_components=5, random_state=0).fit(X).transform(z)), X2.ravel()),
    fd("Nystroem.fit[X]",
       at_x(lambda z: kernel_approximation.Nystroem(n_components=5, random_state=0).fit(z).transform(X2)), X.ravel()),
    fd("MLPClassifier.predict_proba[X2]", at_x2(MLP_C.predict_proba), X2.ravel()),
    fd("MLPRegressor.predict[X2]", at_x2(MLP_R.predict), X2.ravel()),
    fd("Ridge.fit[X]", at_x(lambda z: linear_model.Ridge(alpha=0.5).fit(z, Y).predict(X2)), X.ravel()),
    fd("LogisticRegression.predict_proba[X2]",
       at_x2(linear_model.LogisticRegression().fit(X, Y > 0).predict_proba), X2.ravel()),
]  # fmt: skip
