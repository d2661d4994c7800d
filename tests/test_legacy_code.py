"""Real functions that nobody here wrote, differentiated unmodified.

SciPy's functions call ``np.asarray`` on their inputs, so they are wrapped in
``nd.differentiable``; NumPy's own functions dispatch to ndgrad by themselves. Gradients are
compared with SciPy's own closed forms, textbook derivatives, or finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.special
import scipy.stats

import ndgrad as nd
from ndgrad.testing import check_grad

X = np.array([0.3, -1.2, 2.0, 0.5, 1.1])


# --- scipy.optimize.rosen ----------------------------------------------------------------------


def test_rosen_under_tracing_matches_rosen_der():
    # (SciPy >= 1.15's rosen keeps the subclass by itself; older ones call np.asarray.)
    rosen = nd.differentiable(scipy.optimize.rosen)
    np.testing.assert_allclose(nd.grad(rosen)(X), scipy.optimize.rosen_der(X), rtol=1e-12)


def test_rosen_hessian_matches_rosen_hess():
    rosen = nd.differentiable(scipy.optimize.rosen)
    np.testing.assert_allclose(nd.hessian(rosen)(X), scipy.optimize.rosen_hess(X), rtol=1e-12)


# --- scipy.special.logsumexp, softmax, log_softmax ----------------------------------------------


def test_logsumexp_gradient_is_softmax():
    lse = nd.differentiable(scipy.special.logsumexp)
    np.testing.assert_allclose(nd.grad(lse)(X), scipy.special.softmax(X), rtol=1e-12)


def test_logsumexp_axis_gradient_is_softmax_along_axis():
    a = X[:4].reshape(2, 2)
    lse = nd.differentiable(lambda a: np.sum(scipy.special.logsumexp(a, axis=1)))
    np.testing.assert_allclose(nd.grad(lse)(a), scipy.special.softmax(a, axis=1), rtol=1e-12)


def test_logsumexp_second_order():
    check_grad(nd.differentiable(scipy.special.logsumexp), X, order=2)


def test_softmax_jacobian_is_diag_minus_outer():
    s = scipy.special.softmax(X)
    jac = nd.jacobian(nd.differentiable(scipy.special.softmax))(X)
    np.testing.assert_allclose(jac, np.diag(s) - np.outer(s, s), atol=1e-12)


def test_log_softmax_jacobian_is_identity_minus_softmax():
    s = scipy.special.softmax(X)
    jac = nd.jacobian(nd.differentiable(scipy.special.log_softmax))(X)
    np.testing.assert_allclose(jac, np.eye(X.size) - s[None, :], atol=1e-12)


# --- scipy.stats densities ---------------------------------------------------------------------


def test_norm_logpdf_differentiates_unmodified_under_grad():
    np.testing.assert_allclose(nd.grad(lambda x: np.sum(scipy.stats.norm.logpdf(x)))(X), -X)


def test_norm_logpdf_without_the_scope_is_disconnected_loudly():
    with pytest.raises(ValueError, match="does not depend on the input"):
        nd.grad(lambda x: np.sum(scipy.stats.norm.logpdf(x)), scope=False)(X)


def test_norm_logpdf_gradients_in_x_loc_and_scale():
    loc, scale = 0.4, 1.7
    logpdf = nd.differentiable(lambda x, loc, scale: np.sum(scipy.stats.norm.logpdf(x, loc, scale)))
    gx, gloc, gscale = nd.grad(logpdf, argnums=(0, 1, 2))(X, loc, scale)
    z = (X - loc) / scale
    np.testing.assert_allclose(gx, -z / scale, rtol=1e-12)
    np.testing.assert_allclose(gloc, np.sum(z / scale), rtol=1e-12)
    np.testing.assert_allclose(gscale, np.sum(-1 / scale + z**2 / scale), rtol=1e-12)


def test_norm_logpdf_second_order():
    logpdf = nd.differentiable(scipy.stats.norm.logpdf)
    check_grad(logpdf, X, np.array(0.4), np.array(1.7), order=2)


def test_t_logpdf_gradients_in_x_loc_and_scale():
    df, loc, scale = 4.5, 0.4, 1.7
    logpdf = nd.differentiable(
        lambda x, loc, scale: np.sum(scipy.stats.t.logpdf(x, df, loc, scale))
    )
    gx, gloc, gscale = nd.grad(logpdf, argnums=(0, 1, 2))(X, loc, scale)
    z = (X - loc) / scale
    dz = -(df + 1) * z / (df + z**2)  # d log density / dz of the standard t
    np.testing.assert_allclose(gx, dz / scale, rtol=1e-10)
    np.testing.assert_allclose(gloc, np.sum(-dz / scale), rtol=1e-10)
    np.testing.assert_allclose(gscale, np.sum(-1 / scale - dz * z / scale), rtol=1e-10)


def test_t_logpdf_finite_differences_including_degrees_of_freedom():
    logpdf = nd.differentiable(scipy.stats.t.logpdf)
    check_grad(logpdf, X, np.array(4.5), np.array(0.4), np.array(1.7), order=2)


# --- NumPy functions -----------------------------------------------------------------------------


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, 3])
def test_linalg_norm_of_a_vector(ord):
    check_grad(lambda x: np.linalg.norm(x, ord=ord), X, order=2)


def test_linalg_norm_two_norm_is_x_over_norm():
    g = nd.grad(np.linalg.norm)(X)
    np.testing.assert_allclose(g, X / np.sqrt(np.sum(X**2)), rtol=1e-12)


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 1, -1, np.inf])
def test_linalg_norm_of_a_matrix(ord):
    a = np.array([[0.3, -1.2, 2.0], [0.5, 1.1, -0.4], [1.5, 0.2, 0.9]])
    check_grad(lambda a: np.linalg.norm(a, ord=ord), a, order=2)


def test_polyval_in_coefficients_and_points():
    p = np.array([0.5, -1.0, 2.0, 0.3])
    check_grad(np.polyval, p, X, order=2)
    g = nd.grad(lambda x: np.sum(np.polyval(p, x)))(X)
    np.testing.assert_allclose(g, np.polyval(np.polyder(p), X), rtol=1e-12)


def test_interp_in_points_and_values():
    xp = np.array([-2.0, 0.0, 1.0, 3.0])
    fp = np.array([1.0, 2.0, 0.0, 5.0])
    check_grad(lambda x, fp: np.interp(x, xp, fp), X, fp, order=2)
    g = nd.grad(lambda x: np.sum(np.interp(x, xp, fp)))(X)
    slopes = np.diff(fp) / np.diff(xp)
    np.testing.assert_allclose(g, slopes[np.searchsorted(xp, X) - 1], rtol=1e-12)


def test_cov_and_corrcoef():
    m = np.array([[0.3, -1.2, 2.0, 0.5], [0.5, 1.1, -0.7, 0.2], [1.5, 0.2, 0.9, -0.3]])
    check_grad(np.cov, m, order=2)
    check_grad(lambda m: np.cov(m, ddof=0), m, order=2)
    check_grad(np.corrcoef, m, order=2)
    # d var(x) / dx = 2 (x - mean) / (n - 1)
    g = nd.grad(lambda x: np.cov(x))(X)
    np.testing.assert_allclose(g, 2 * (X - X.mean()) / (X.size - 1), rtol=1e-12)


# --- more of scipy.stats, through scipy.special's rules ------------------------------------------


@pytest.mark.parametrize(
    ("name", "func", "args"),
    [
        ("norm.cdf", lambda x, loc, s: scipy.stats.norm.cdf(x, loc, s), (X, 0.2, 1.3)),
        ("norm.logcdf", lambda x: scipy.stats.norm.logcdf(x), (X,)),
        ("norm.ppf", lambda q: scipy.stats.norm.ppf(q), (np.array([0.2, 0.7]),)),
        ("gamma.logpdf", lambda x, a, s: scipy.stats.gamma.logpdf(x, a, scale=s),
         (np.abs(X), 2.5, 1.3)),
        ("beta.logpdf", lambda x, a, b: scipy.stats.beta.logpdf(x, a, b),
         (np.array([0.2, 0.7]), 2.5, 1.3)),
        ("lognorm.logpdf", lambda x, s: scipy.stats.lognorm.logpdf(x, s), (np.abs(X), 0.7)),
        ("poisson.logpmf", lambda mu: scipy.stats.poisson.logpmf(np.array([0, 2, 5]), mu),
         (2.5,)),
        ("multivariate_normal.logpdf",
         lambda m: scipy.stats.multivariate_normal.logpdf(X[:2], mean=m, cov=np.eye(2)),
         (np.array([0.1, 0.2]),)),
    ],
)  # fmt: skip
def test_scipy_stats_functions_match_finite_differences(name, func, args):
    args = tuple(np.asarray(a, dtype=float) for a in args)
    check_grad(nd.differentiable(func), *args, order=2)


def test_gamma_logpdf_gradient_in_shape_is_closed_form():
    x, a = np.array([0.5, 1.5, 3.0]), 2.5
    g = nd.grad(nd.differentiable(lambda a: np.sum(scipy.stats.gamma.logpdf(x, a))))(a)
    np.testing.assert_allclose(g, np.sum(np.log(x) - scipy.special.psi(a)), rtol=1e-12)


def test_logsumexp_with_weights_gets_its_gradient():
    # SciPy writes -inf into the array whose maximum it just took (in place): the node of max
    # keeps a copy of the values it saved (copy-on-write), so the gradient is the closed form.
    b = np.array([1.0, 2.0, 0.5])
    lse = nd.differentiable(lambda a: scipy.special.logsumexp(a, b=b))
    a = X[:3]
    np.testing.assert_allclose(nd.grad(lse)(a), b * np.exp(a) / np.sum(b * np.exp(a)))
    check_grad(lse, a)
