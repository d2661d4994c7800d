"""A sweep for silent cases: more distributions, scikit-learn's losses, NumPy's own Python code.

Each module of the corpus covers one source; this one holds the cases added to look for silent
wrong gradients after the conversion scope was built (issue 11): ``scipy.stats`` distributions
not covered in ``stats.py``, scikit-learn's loss objects (``sklearn._loss``, used by the linear
models; compiled in Cython: refused by name), metrics that return arrays, and functions of
``numpy.lib`` that are plain Python.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

import ndgrad as nd

from . import err, fd

loss = pytest.importorskip("sklearn._loss.loss")
linear_loss = pytest.importorskip("sklearn.linear_model._linear_loss")
metrics = pytest.importorskip("sklearn.metrics")

LOC, SCALE = 0.1, 1.4
# distribution, shape parameters, points x inside the support
DISTRIBUTIONS = {
    "gumbel_l": (st.gumbel_l, (), [-1.1, 0.3, 0.9, 2.4]),
    "hypsecant": (st.hypsecant, (), [-1.1, 0.3, 0.9, 2.4]),
    "genlogistic": (st.genlogistic, (1.7,), [-1.1, 0.3, 0.9, 2.4]),
    "maxwell": (st.maxwell, (), [0.4, 0.9, 1.7, 3.1]),
    "nakagami": (st.nakagami, (1.6,), [0.4, 0.9, 1.7, 3.1]),
    "fisk": (st.fisk, (2.9,), [0.4, 0.9, 1.7, 3.1]),
    "lomax": (st.lomax, (2.4,), [0.4, 0.9, 1.7, 3.1]),
    "genpareto": (st.genpareto, (0.3,), [0.4, 0.9, 1.7, 3.1]),
    "gompertz": (st.gompertz, (0.8,), [0.4, 0.9, 1.7, 3.1]),
    "exponpow": (st.exponpow, (2.2,), [0.4, 0.9, 1.7, 3.1]),
    "burr12": (st.burr12, (2.1, 1.3), [0.4, 0.9, 1.7, 3.1]),
    "weibull_max": (st.weibull_max, (2.3,), [-3.1, -1.7, -0.9, -0.4]),
}

_CASES = []
for _name, (_dist, _shapes, _x) in DISTRIBUTIONS.items():
    _x = np.array(_x)
    for _method in ("logpdf", "cdf"):
        _CASES.append(
            fd(
                f"{_name}.{_method}-x",
                lambda x, d=_dist, s=_shapes, m=_method: getattr(d, m)(x, *s, loc=LOC, scale=SCALE),
                _x,
            )
        )
    _CASES.append(
        fd(
            f"{_name}.logpdf-loc-scale",
            lambda p, d=_dist, s=_shapes, x=_x: d.logpdf(x, *s, p[0], p[1]),
            [LOC, SCALE],
        )
    )

Y = np.array([1.2, 0.4, 2.5, 1.9, 0.7, 3.1])
YB = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
RAW = np.array([0.3, -0.8, 1.1, 0.2, -0.4, 0.9])
COMPILED_LOSS = r"sklearn\._loss\.loss\.BaseLoss\.\w+ is not differentiable.*Cython"

LOSSES = {
    "HalfSquaredError": (loss.HalfSquaredError(), Y),
    "AbsoluteError": (loss.AbsoluteError(), Y),
    "HalfPoissonLoss": (loss.HalfPoissonLoss(), Y),
    "HalfGammaLoss": (loss.HalfGammaLoss(), Y),
    "HalfBinomialLoss": (loss.HalfBinomialLoss(), YB),
    "HuberLoss": (loss.HuberLoss(), Y),
}
for _name, (_loss, _y) in LOSSES.items():
    _CASES.append(
        err(
            f"sklearn._loss.{_name}.loss",
            lambda r, L=_loss, y=_y: L.loss(y_true=y, raw_prediction=r),
            RAW,
            nd.NotDifferentiableError,
            COMPILED_LOSS,
        )
    )

_X = np.random.default_rng(5).standard_normal((6, 2))
_CASES += [
    # a loss plus an L2 penalty computed in Python: the penalty alone would be a partial gradient
    err(
        "sklearn.LinearModelLoss.loss",
        lambda w: linear_loss.LinearModelLoss(loss.HalfSquaredError(), fit_intercept=False).loss(
            w, _X, Y, l2_reg_strength=0.5
        ),
        [0.3, -0.2],
        nd.NotDifferentiableError,
        COMPILED_LOSS,
    ),
    err(
        "sklearn.LinearModelLoss.loss_gradient",
        lambda w: linear_loss.LinearModelLoss(
            loss.HalfBinomialLoss(), fit_intercept=True
        ).loss_gradient(w, _X, YB, l2_reg_strength=0.5)[1],
        [0.3, -0.2, 0.1],
        nd.NotDifferentiableError,
        COMPILED_LOSS,
    ),
    # metrics that return an array (multioutput="raw_values"): differentiable
    fd(
        "metrics.mean_squared_error-raw_values",
        lambda p: metrics.mean_squared_error(
            np.reshape(Y, (3, 2)), np.reshape(p, (3, 2)), multioutput="raw_values"
        ),
        Y + 0.3,
    ),
    fd(
        "metrics.mean_absolute_error-raw_values",
        lambda p: metrics.mean_absolute_error(
            np.reshape(Y, (3, 2)), np.reshape(p, (3, 2)), multioutput="raw_values"
        ),
        Y + 0.3,
    ),
    fd(
        "metrics.r2_score-raw_values",
        lambda p: metrics.r2_score(
            np.reshape(Y, (3, 2)), np.reshape(p, (3, 2)), multioutput="raw_values"
        ),
        Y + 0.3,
    ),
    # numpy.lib's Python code
    fd("np.lib.nanvar", lambda x: np.nanvar(np.where(x > 2.4, np.nan, x)), Y),
    fd("np.lib.nanstd-axis", lambda x: np.nanstd(np.reshape(x, (2, 3)), axis=1), Y),
    fd("np.lib.nansum", lambda x: np.nansum(np.where(x > 2.4, np.nan, x) ** 2), Y),
    fd("np.lib.ediff1d", lambda x: np.ediff1d(x, to_begin=0.5) ** 2, Y),
    fd("np.lib.trim_zeros", lambda x: np.trim_zeros(np.concatenate([[0.0], x, [0.0]])) ** 2, Y),
    err(
        "np.lib.histogram-weights",
        lambda w: np.histogram(Y, bins=3, weights=w)[0],
        YB + 0.5,
        nd.NotDifferentiableError,
        r"numpy\.histogram .*weights",
    ),
    err(
        "np.lib.bincount-weights",
        lambda w: np.bincount([0, 2, 1, 2, 0, 1], weights=w),
        Y,
        nd.NotDifferentiableError,
        r"numpy\.bincount .*weights",
    ),
    fd("np.lib.cumulative_sum", lambda x: np.cumulative_sum(x, include_initial=True), Y),
    fd("np.lib.rot90", lambda x: np.rot90(np.reshape(x, (2, 3))) @ np.arange(2.0), Y),
    fd("np.lib.roll", lambda x: np.roll(x, 2) * x, Y),
    fd("np.lib.nan_to_num", lambda x: np.nan_to_num(np.log(x - 1.0), nan=0.5), Y),
    fd("np.lib.real_if_close", lambda x: np.real_if_close(x + 0j) ** 2, Y),
    fd("np.lib.fix", lambda x: np.fix(3 * x) + x**2, Y),
    # once silently partial with another term: vectorize casts to dtype=object, refused
    err(
        "np.lib.vectorize",
        lambda x: np.vectorize(np.sin)(x),
        Y,
        nd.NotDifferentiableError,
        "dtype=object",
    ),
    err(
        "np.lib.vectorize-plus-term",
        lambda x: np.vectorize(np.sin)(x) + x,
        Y,
        nd.NotDifferentiableError,
        "dtype=object",
    ),
    err(
        "np.lib.frompyfunc",
        lambda x: np.frompyfunc(lambda v: v * v, 1, 1)(x).astype(float) + x,
        Y,
        nd.NotDifferentiableError,
        "dtype=object",
    ),
]

CASES = _CASES
