"""scipy.interpolate rules: closed forms, what refuses instead of returning a silent zero."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.interpolate as si

import ndgrad as nd
from ndgrad import GradArray, NotDifferentiableError
from ndgrad.testing import check_grad

X = np.linspace(0.0, 3.0, 7)
XN = np.array([0.2, 1.3, 2.7])


def test_linear_interp1d_gradient_in_y_is_the_hat_weights():
    g = nd.grad(lambda y: si.interp1d(X, y)(1.3))(np.zeros(7))
    expected = np.zeros(7)
    expected[2], expected[3] = 0.4, 0.6  # 1.3 lies between 1.0 and 1.5
    assert np.allclose(g, expected)


def test_linear_interp1d_gradient_in_points_is_the_segment_slope():
    y = X**2
    g = nd.grad(lambda p: np.sum(si.interp1d(X, y)(p)))(XN)
    i = np.searchsorted(X, XN)
    assert np.allclose(g, (y[i] - y[i - 1]) / (X[i] - X[i - 1]))


def test_interp1d_filled_points_have_zero_gradient():
    f = si.interp1d(X, np.sin(X), bounds_error=False, fill_value=np.nan)
    g = nd.grad(lambda p: np.nansum(f(p)))(np.array([-1.0, 1.2, 4.0]))
    assert g[0] == 0 and g[2] == 0 and g[1] != 0


def test_cubic_spline_hessian_in_points_is_the_second_derivative():
    cs = si.CubicSpline(X, np.cos(X))
    h = nd.hessian(lambda p: np.sum(si.CubicSpline(X, np.cos(X))(p)))(XN)
    assert np.allclose(h, np.diag(cs(XN, 2)))


def test_cubic_spline_with_derivative_boundary_values_is_affine_in_y():
    def f(y, p):
        return si.CubicSpline(X, y, bc_type=((1, 2.0), (1, -1.0)))(p)

    check_grad(f, np.sin(X), XN, order=2)


def test_interpolant_made_once_and_called_often_differentiates_in_y():
    y = GradArray(np.sin(X), requires_grad=True)
    spline = si.make_interp_spline(X, y, k=3)
    loss = np.sum(spline(XN) ** 2) + np.sum(spline(XN + 0.1, nu=1))
    loss.backward()
    assert y.grad.shape == (7,) and np.all(np.isfinite(y.grad))


def test_pchip_refuses_gradient_in_y():
    with pytest.raises(NotDifferentiableError, match="nonlinear"):
        nd.grad(lambda y: np.sum(si.PchipInterpolator(X, y)(XN)))(np.sin(X))


def test_pchip_differentiates_in_points():
    y = np.sin(X)
    check_grad(lambda p: si.PchipInterpolator(X, y)(p), XN, order=2)
    check_grad(lambda p: si.Akima1DInterpolator(X, y, method="makima")(p), XN, order=2)


def test_knots_that_require_grad_are_refused():
    with pytest.raises(NotDifferentiableError, match="no gradient in x"):
        nd.grad(lambda x: np.sum(si.CubicSpline(x, np.sin(X))(XN)))(X)


def test_other_methods_of_an_interpolant_built_on_grad_data_refuse():
    y = GradArray(np.sin(X), requires_grad=True)
    cs = si.CubicSpline(X, y)
    with pytest.raises(NotDifferentiableError, match="integrate"):
        cs.integrate(0.0, 1.0)


def test_derivative_objects_differentiate_in_points():
    d = si.CubicSpline(X, np.sin(X)).derivative()  # a PPoly built without its constructor
    check_grad(lambda p: d(p), XN, order=2)


def test_plain_calls_return_plain_arrays():
    assert type(si.CubicSpline(X, np.sin(X))(XN)) is np.ndarray
    assert type(si.interp1d(X, np.sin(X))(XN)) is np.ndarray


def test_griddata_refuses_cubic_and_points():
    pts = np.random.default_rng(0).uniform(size=(10, 2))
    xi = np.array([[0.5, 0.5]])
    with pytest.raises(NotDifferentiableError, match="cubic"):
        nd.grad(lambda v: np.sum(si.griddata(pts, v, xi, method="cubic")))(np.ones(10))
    with pytest.raises(NotDifferentiableError, match="xi"):
        nd.grad(lambda q: np.sum(si.griddata(pts, np.ones(10), q)))(xi)


def test_regular_grid_interpolator_refuses_points():
    grid = (np.linspace(0, 1, 3), np.linspace(0, 1, 4))
    rgi = si.RegularGridInterpolator(grid, np.ones((3, 4)))
    with pytest.raises(NotDifferentiableError, match="points"):
        nd.grad(lambda q: np.sum(rgi(q)))(np.array([[0.5, 0.5]]))


def test_grid_points_that_require_grad_are_refused():
    def f(g0):
        return np.sum(si.RegularGridInterpolator((g0, np.arange(4.0)), np.ones((3, 4)))([[1, 1]]))

    with pytest.raises(NotDifferentiableError, match="no gradient in points"):
        nd.grad(f)(np.arange(3.0))


def test_data_as_a_list_of_arrays_that_require_grad_is_refused():
    def f(a):
        return np.sum(si.CubicSpline(X[:3], [a, a * 2, a * 3])(XN))

    with pytest.raises(NotDifferentiableError, match=r"np\.stack"):
        nd.grad(f)(1.0)
