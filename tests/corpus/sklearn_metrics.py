"""``sklearn.metrics`` with respect to the predictions.

Most metrics end in ``return float(...)``: the graph is cut inside scikit-learn, so the right
outcome is a ``GraphBreakError`` naming the conversion, never a constant or a confusing
``TypeError``. Rank-based metrics return a Python float of a piecewise-constant quantity: the
error says the function returned a Python number.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd

from . import err

m = pytest.importorskip("sklearn.metrics")

Y = np.array([1.2, 0.4, 2.5, 1.9, 0.7, 3.1])
P = np.array([1.0, 0.6, 2.2, 2.3, 0.5, 2.8])
YB = np.array([0, 1, 1, 0, 1, 0])
PB = np.array([0.2, 0.7, 0.6, 0.4, 0.9, 0.3])
YM = np.array([0, 2, 1, 2, 0, 1])
PM = np.random.default_rng(3).dirichlet(np.ones(3), 6)

FLOAT = r"float\(x\) converts an array that requires grad"
RETURNED = r"returned a Python float"
FILL_OR_FLOAT = (nd.NotDifferentiableError, nd.GraphBreakError)

# name: (function of the predictions, predictions, expected error message)
METRICS = {
    "mean_squared_error": (lambda p: m.mean_squared_error(Y, p), P, FLOAT),
    "root_mean_squared_error": (lambda p: m.root_mean_squared_error(Y, p), P, FLOAT),
    "mean_absolute_error": (lambda p: m.mean_absolute_error(Y, p), P, FLOAT),
    "r2_score": (lambda p: m.r2_score(Y, p), P, FLOAT),
    "explained_variance_score": (lambda p: m.explained_variance_score(Y, p), P, FLOAT),
    "median_absolute_error": (lambda p: m.median_absolute_error(Y, p), P, FLOAT),
    "max_error": (lambda p: m.max_error(Y, p), P, FLOAT),
    "mean_squared_log_error": (lambda p: m.mean_squared_log_error(Y, p), P, FLOAT),
    "mean_pinball_loss": (lambda p: m.mean_pinball_loss(Y, p, alpha=0.3), P, FLOAT),
    "mean_tweedie_deviance": (lambda p: m.mean_tweedie_deviance(Y, p, power=1.5), P, FLOAT),
    "mean_poisson_deviance": (lambda p: m.mean_poisson_deviance(Y, p), P, FLOAT),
    "mean_gamma_deviance": (lambda p: m.mean_gamma_deviance(Y, p), P, FLOAT),
    "d2_tweedie_score": (lambda p: m.d2_tweedie_score(Y, p, power=1.5), P, FLOAT),
    "d2_pinball_score": (lambda p: m.d2_pinball_score(Y, p), P, FLOAT),
    "d2_absolute_error_score": (lambda p: m.d2_absolute_error_score(Y, p), P, FLOAT),
    "mean_absolute_percentage_error": (
        lambda p: m.mean_absolute_percentage_error(Y, p),
        P,
        FLOAT,
    ),
    "log_loss": (lambda p: m.log_loss(YB, p), PB, FLOAT),
    "log_loss-multiclass": (
        lambda p: m.log_loss(YM, np.reshape(p, (6, 3)), labels=[0, 1, 2]),
        PM.ravel(),
        FLOAT,
    ),
    "brier_score_loss": (lambda p: m.brier_score_loss(YB, p), PB, FLOAT),
    "hinge_loss": (lambda p: m.hinge_loss(2 * YB - 1, p), PB - 0.5, FLOAT),
    "d2_log_loss_score": (lambda p: m.d2_log_loss_score(YB, p), PB, FLOAT),
    "d2_brier_score": (lambda p: m.d2_brier_score(YB, p), PB, FLOAT),
    "auc": (lambda p: m.auc(np.arange(6.0), p), P, FLOAT),
    "calinski_harabasz_score": (
        lambda p: m.calinski_harabasz_score(np.reshape(p, (6, 1)), YB),
        P,
        FLOAT,
    ),
    # rank-based: a Python float of a piecewise-constant function of the scores
    "roc_auc_score": (lambda p: m.roc_auc_score(YB, p), PB, RETURNED),
    "average_precision_score": (lambda p: m.average_precision_score(YB, p), PB, RETURNED),
    "top_k_accuracy_score": (
        lambda p: m.top_k_accuracy_score(YM, np.reshape(p, (6, 3)), k=2),
        PM.ravel(),
        RETURNED,
    ),
    "zero_one_loss": (lambda p: m.zero_one_loss(YB, p > 0.5), PB, RETURNED),
}

CASES = [err(name, f, x, nd.GraphBreakError, match) for name, (f, x, match) in METRICS.items()]
CASES += [
    # rank-based metrics that first call np.unique on the scores: refused by name
    err("dcg_score", lambda p: m.dcg_score(Y[None], p[None]), P, nd.NotDifferentiableError,
        r"numpy\.unique"),
    err("ndcg_score", lambda p: m.ndcg_score(Y[None], p[None]), P, nd.NotDifferentiableError,
        r"numpy\.unique"),
    err("label_ranking_loss", lambda p: m.label_ranking_loss(YB[None], p[None]), PB,
        nd.NotDifferentiableError, r"numpy\.unique"),
    # np.ma on the scores: ndgrad has no rules for masked arrays and says so
    err("coverage_error", lambda p: m.coverage_error(YB[None], p[None]), PB, TypeError,
        r"cannot mix GradArray with numpy\.ma\.MaskedArray"),
    # the pairwise distance matrix's diagonal is zeroed with np.fill_diagonal (recorded); then
    # silhouette_score sums distances per label with np.bincount(weights=), refused by name
    err("silhouette_score", lambda p: m.silhouette_score(np.reshape(p, (6, 1)), YB), P,
        nd.NotDifferentiableError, r"numpy\.bincount"),
    err("davies_bouldin_score", lambda p: m.davies_bouldin_score(np.reshape(p, (6, 1)), YB), P,
        FILL_OR_FLOAT, r"numpy\.fill_diagonal|float\(x\)"),
]  # fmt: skip
