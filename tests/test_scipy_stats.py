"""scipy.stats.gaussian_kde, unmodified, differentiates in its data, points, weights, bandwidth."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

import ndgrad as nd
from ndgrad.testing import check_grad

_rng = np.random.default_rng(14)
DATA = _rng.standard_normal((2, 12))
POINTS = _rng.standard_normal((2, 4))
WEIGHTS = _rng.uniform(0.5, 1.5, 12)


def _kde(method):
    def density(data, points, weights=None, bw=None):
        bw_method = None if bw is None else (lambda kde: bw)
        kde = st.gaussian_kde(data, bw_method=bw_method, weights=weights)
        return kde(points) if method == "pdf" else kde.logpdf(points)

    return nd.differentiable(density)


@pytest.mark.parametrize("method", ["pdf", "logpdf"])
def test_gaussian_kde_gradient_in_data_and_points(method):
    check_grad(_kde(method), DATA, POINTS, order=2)


@pytest.mark.parametrize("method", ["pdf", "logpdf"])
def test_gaussian_kde_gradient_in_weights(method):
    f = _kde(method)
    check_grad(lambda w: f(DATA, POINTS, weights=w), WEIGHTS, order=2)


@pytest.mark.parametrize("method", ["pdf", "logpdf"])
def test_gaussian_kde_gradient_in_a_bandwidth_callable(method):
    # SciPy's bw_method takes a Python scalar or a callable; a callable returning an array that
    # requires grad differentiates.
    f = _kde(method)
    check_grad(lambda bw: f(DATA, POINTS, bw=bw), np.array(0.6), order=2)


def test_gaussian_kde_one_dimensional_data():
    f = _kde("pdf")
    check_grad(f, _rng.standard_normal(10), np.linspace(-1.0, 1.0, 5), order=2)


def test_gaussian_kde_values_are_scipys_bit_for_bit():
    value, _ = nd.value_and_grad(lambda d: np.sum(_kde("logpdf")(d, POINTS)))(DATA)
    assert value == np.sum(st.gaussian_kde(DATA).logpdf(POINTS))


def test_gaussian_kde_logpdf_gradient_is_finite_far_in_the_tails():
    # every kernel underflows to 0 there: pdf's gradient is 0, logpdf's must stay finite
    far = np.array([[40.0], [-35.0]])
    g = nd.grad(lambda p: np.sum(_kde("logpdf")(DATA, p)))(far)
    assert np.all(np.isfinite(g)) and np.all(np.abs(g) > 1.0)
    check_grad(lambda p: _kde("logpdf")(DATA, p), far, order=1, rtol=1e-4)


def test_gaussian_kde_maximum_likelihood_bandwidth_matches_grid_search():
    # leave nothing out: the log-likelihood of held-out points as a function of the bandwidth
    train, test = DATA[:, :8], DATA[:, 8:]

    def neg_log_lik(bw):
        return -np.sum(st.gaussian_kde(train, bw_method=lambda kde: bw).logpdf(test))

    grid = np.linspace(0.2, 2.0, 181)
    values = [neg_log_lik(b) for b in grid]
    best = grid[int(np.argmin(values))]
    g = nd.grad(neg_log_lik)
    assert g(best - 0.05) < 0 < g(best + 0.05)
