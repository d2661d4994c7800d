"""scipy.spatial.distance: degenerate points, what raises, per-pair functions and real use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.spatial.distance as sd

import ndgrad as nd
from ndgrad.testing import check_grad

rng = np.random.default_rng(14)


def test_coincident_points_get_zero_gradient_not_nan():
    x = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]])
    for metric, kw in [("euclidean", {}), ("minkowski", {"p": 3}), ("seuclidean", {"V": [1, 2]})]:
        g = nd.grad(lambda a, m=metric, kw=kw: np.sum(sd.cdist(a, a, m, **kw)))(x)
        assert np.all(np.isfinite(g)), metric
        g2 = nd.grad(lambda a, m=metric, kw=kw: np.sum(sd.pdist(a, m, **kw)))(x)
        assert np.all(np.isfinite(g2)), metric
    # rows 0 and 1 coincide: their pair contributes nothing; only the pairs with row 2 move
    g = nd.grad(lambda a: sd.pdist(a)[0])(x)
    np.testing.assert_array_equal(g, np.zeros_like(x))
    assert np.all(nd.grad(lambda u: sd.euclidean(u, x[0]))(x[0]) == 0)


def test_hessian_at_coincident_points_is_finite():
    x = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]])
    h = nd.hessian(lambda a: np.sum(sd.pdist(a)))(x)
    assert np.all(np.isfinite(h))


def test_sqeuclidean_closed_form():
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    g = nd.grad(lambda x: np.sum(sd.cdist(x, b, "sqeuclidean")))(a)
    np.testing.assert_allclose(g, 2 * (5 * a - np.sum(b, axis=0)))


def test_chebyshev_ties_split_evenly():
    a, b = np.array([[1.0, -1.0]]), np.array([[0.0, 0.0]])
    g = nd.grad(lambda x: np.sum(sd.cdist(x, b, "chebyshev")))(a)
    np.testing.assert_allclose(g, [[0.5, -0.5]])


def test_estimated_variance_is_differentiated():
    """seuclidean without V: SciPy estimates V from the points; the gradient follows it."""
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))

    def by_hand(x):
        v = np.var(np.concatenate([x, b]), axis=0, ddof=1)
        return np.sum(np.sqrt(np.sum((x[:, None] - b[None]) ** 2 / v, axis=-1)))

    g = nd.grad(lambda x: np.sum(sd.cdist(x, b, "seuclidean")))(a)
    np.testing.assert_allclose(g, nd.grad(by_hand)(a), rtol=1e-10)


def test_callable_metric_raises_when_differentiated():
    a = rng.standard_normal((3, 2))
    with pytest.raises(nd.NotDifferentiableError, match="callable metric"):
        nd.grad(lambda x: np.sum(sd.cdist(x, x, lambda u, v: np.sum(u * v))))(a)


def test_weights_with_a_metric_whose_rule_has_none_raise():
    a = rng.standard_normal((3, 2))
    with pytest.raises(nd.NotDifferentiableError, match="weights"):
        nd.grad(lambda x: np.sum(sd.cdist(x, x + 1, "chebyshev", w=[1.0, 2.0])))(a)


def test_minkowski_below_one_raises():
    a = rng.standard_normal((3, 2))
    with pytest.raises(nd.NotDifferentiableError, match="p < 1"):
        nd.grad(lambda x: np.sum(sd.cdist(x, x + 1, "minkowski", p=0.5)))(a)


def test_weights_of_a_per_pair_function_raise_rather_than_vanish():
    u, v, w = rng.standard_normal(3), rng.standard_normal(3), np.ones(3)
    with pytest.raises(nd.NotDifferentiableError, match="with respect to w"):
        nd.grad(lambda w: sd.minkowski(u, v, 2, w), argnums=0)(w)


def test_directed_hausdorff_raises():
    a = rng.standard_normal((3, 2))
    with pytest.raises(nd.NotDifferentiableError, match="directed_hausdorff"):
        nd.grad(lambda x: sd.directed_hausdorff(x, a)[0])(a + 1)


def test_boolean_metrics_have_zero_gradient():
    a = rng.standard_normal((3, 2))
    g = nd.grad(lambda x: np.sum(sd.cdist(x, x + 1, "hamming")))(a)
    np.testing.assert_array_equal(g, 0.0)


def test_per_pair_euclidean_returns_a_differentiable_scalar():
    """SciPy's BLAS norm returns a Python float; the recorded result is a 0-d GradArray."""
    u = nd.GradArray(rng.standard_normal(3), requires_grad=True)
    d = sd.euclidean(u, np.zeros(3))
    assert isinstance(d, nd.GradArray) and d.ndim == 0
    assert d == sd.euclidean(np.asarray(u), np.zeros(3))  # bit for bit
    d.backward()
    np.testing.assert_allclose(u.grad, np.asarray(u) / float(d))


_U, _V, _W = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)


@pytest.mark.parametrize(
    "func",
    [
        lambda u, v: sd.euclidean(u, v),
        lambda u, v: sd.euclidean(u, v, _W),
        lambda u, v: sd.sqeuclidean(u, v, _W),
        lambda u, v: sd.minkowski(u, v, 3, _W),
        lambda u, v: sd.cityblock(u, v, _W),
        lambda u, v: sd.chebyshev(u, v),
        lambda u, v: sd.cosine(u, v),
        lambda u, v: sd.cosine(u, v, _W),
        lambda u, v: sd.correlation(u, v, _W),
        lambda u, v: sd.correlation(u, v, centered=False),
        lambda u, v: sd.braycurtis(u, v, _W),
        lambda u, v: sd.canberra(u, v, _W),
        lambda u, v: sd.jensenshannon(u, v),
        lambda u, v: sd.jensenshannon(u, v, base=2),
        lambda u, v: sd.seuclidean(u, v, _W),
        lambda u, v: sd.mahalanobis(u, v, np.eye(4) + 0.1),
    ],
)
def test_per_pair_functions_match_finite_differences(func):
    check_grad(func, _U, _V, order=2)


def test_mahalanobis_per_pair_differentiates_in_vi():
    check_grad(lambda vi: sd.mahalanobis(_U, _V, vi), np.eye(4) + 0.1, order=2)


def test_rules_are_found_whichever_is_imported_first():
    """Regression: a freed wrapper's id reused by ``minkowski`` gave its rule to another
    function (``scipy.special.roots_sh_chebyu``)."""
    code = """
        import ndgrad
        import scipy.spatial.distance as sd, scipy.special as sc
        from ndgrad._registry import VJP_RULES
        assert all(f in VJP_RULES for f in (sd.cdist, sd.pdist, sd.minkowski, sd.correlation))
        names = {p.name for p in VJP_RULES.values()}
        assert sc.roots_sh_chebyu not in VJP_RULES
        assert len([n for n in names if n.startswith("scipy.spatial")]) == 5
        """
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, timeout=120)


# --- real use, unmodified ---------------------------------------------------------------------


def _soft_kmeans_loss(points, centers, temperature=0.5):
    """Soft k-means: each point's softmin-weighted squared distance to the centers."""
    d2 = sd.cdist(points, centers, "sqeuclidean")
    w = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / temperature)
    w = w / w.sum(axis=1, keepdims=True)
    return np.mean(np.sum(w * d2, axis=1))


def _mmd(x, y, scale=1.0):
    """Maximum mean discrepancy with an RBF kernel built on cdist and pdist."""
    kxx = np.exp(-sd.squareform(sd.pdist(x, "sqeuclidean")) / scale)
    kyy = np.exp(-sd.cdist(y, y, "sqeuclidean") / scale)
    kxy = np.exp(-(sd.cdist(x, y, "euclidean") ** 2) / scale)
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def test_soft_kmeans_loss_through_cdist():
    points = rng.standard_normal((12, 2))
    centers = rng.standard_normal((3, 2))
    check_grad(_soft_kmeans_loss, points, centers, order=2, rtol=1e-4, atol=1e-6)
    # gradient descent on the centers lowers the loss
    g = nd.grad(_soft_kmeans_loss, argnums=1)(points, centers)
    assert _soft_kmeans_loss(points, centers - 0.1 * g) < _soft_kmeans_loss(points, centers)


def test_rbf_kernel_mmd_through_cdist_and_pdist():
    x, y = rng.standard_normal((6, 2)), rng.standard_normal((5, 2)) + 0.5
    check_grad(_mmd, x, y, order=2, rtol=1e-4, atol=1e-6)


def test_cdist_and_pdist_take_nested_lists_holding_parameters():
    # XA, XB and X are array_like; a nested list holding GradArrays reached the rules as a
    # list (TypeError in backward): it is now one stacked array before the call is recorded
    p = np.array([0.7, 1.3, 0.4])
    check_grad(lambda p: sd.cdist([[p[0], p[1]], [p[2], 0.5]], [[0.1, 0.2]]) ** 2, p, order=2)
    check_grad(lambda p: sd.pdist([[p[0], p[1]], [p[2], 0.5], [0.3, 0.1]]) ** 2, p, order=2)
