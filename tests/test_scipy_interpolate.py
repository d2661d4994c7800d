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


# --- FITPACK: splev, splint, splrep on (t, c, k) tuples ---------------------------------------

XS = np.linspace(0.0, 1.0, 9)


def test_splev_gradient_in_c_is_the_bspline_basis():
    t, c, k = si.splrep(XS, np.cos(2 * XS), s=0)
    p = np.array([0.13, 0.62])
    jac = nd.jacobian(lambda c: si.splev(p, (t, c, k)))(c)
    n = len(t) - k - 1
    np.testing.assert_allclose(jac[:, :n], si.BSpline.design_matrix(p, t, k).toarray())
    np.testing.assert_array_equal(jac[:, n:], 0.0)  # FITPACK's padding of c is never read


def test_splrep_then_splev_at_the_data_points_is_the_identity_in_y():
    """An interpolating spline reproduces its data: d splev(x_i) / d y_j is the identity."""
    y = np.sin(3 * XS)
    jac = nd.jacobian(lambda y: si.splev(XS, si.splrep(XS, y, s=0)))(y)
    np.testing.assert_allclose(jac, np.eye(9), atol=1e-10)


def test_splrep_periodic_matches_finite_differences():
    x = np.linspace(0.0, 2 * np.pi, 10)
    check_grad(lambda y: si.splrep(x, y, per=1, s=0)[1], np.sin(x), order=1)


def test_splder_and_splantider_are_traced_in_c():
    t, c, k = si.splrep(XS, np.sin(3 * XS), s=0)
    check_grad(lambda c: si.splder((t, c, k))[1], c, order=1)
    check_grad(lambda c: si.splantider((t, c, k), 2)[1], c, order=1)
    check_grad(lambda p, c: si.splev(p, si.splder((t, c, k))), np.array([0.3, 0.7]), c, order=1)


def test_parametric_splev_differentiates_each_coordinate():
    tck, _ = si.splprep([np.cos(XS), np.sin(XS)], s=0)
    t, c, k = tck

    def curve(c0, c1):
        return np.stack(si.splev(np.array([0.2, 0.6]), (t, [c0, c1], k)))

    check_grad(curve, c[0], c[1], order=1)


def test_splev_tells_a_parametric_spline_as_scipy_does():
    # SciPy's test is whether c[0][0] exists: a 2-D array of coefficients is parametric (one
    # spline per row), a list of numbers is one spline. The rule took any list or tuple for
    # parametric and anything else for one spline: a shape error in backward for the 2-D
    # array, a FITPACK error for the list
    t, c, k = si.splrep(XS, np.sin(XS))
    points = np.array([0.2, 0.6])
    check_grad(lambda c: si.splev(points, (t, list(c), k)), c, order=2)
    check_grad(lambda c2: np.stack(si.splev(points, (t, c2, k))), np.stack([c, 2 * c]), order=2)
    t2 = np.ones((2, c.size))
    _, tangent = nd.jvp(
        lambda c2: np.sum(np.stack(si.splev(points, (t, c2, k)))), (np.stack([c, c]),), (t2,)
    )
    assert np.isclose(tangent, 2 * np.sum(si.splev(points, (t, np.ones(c.size), k))))


@pytest.mark.parametrize(
    "kwargs",
    [{"s": 0.1}, {"w": np.ones(9)}, {"s": 0, "full_output": 1}, {"s": 0, "task": 1}],
    ids=["s", "weights-default-s", "full_output", "task-1"],
)
def test_splrep_refuses_where_the_knots_or_outputs_have_no_rule(kwargs):
    with pytest.raises(NotDifferentiableError, match="splrep"):
        nd.grad(lambda y: np.sum(si.splrep(XS, y, **kwargs)[1]))(np.sin(XS))


def test_splev_refuses_gradients_in_the_knots():
    t, c, k = si.splrep(XS, np.sin(XS), s=0)
    with pytest.raises(NotDifferentiableError, match="knots"):
        nd.grad(lambda t: np.sum(si.splev(np.array([0.5]), (t, c, k))))(t)


def test_smoothing_a_curve_with_fixed_knots_by_gradient_descent():
    """Real use: the least-squares spline with given knots, fitted through its data."""
    target = np.sin(3 * XS)

    def loss(y):
        tck = si.splrep(XS, y, t=[0.5], k=3)
        return np.sum((si.splev(XS, tck) - target) ** 2) + 0.1 * np.sum(y**2)

    y = np.zeros(9)
    first = loss(y)
    for _ in range(50):
        y = y - 0.2 * nd.grad(loss)(y)
    assert loss(y) < 0.3 * first


# --- polynomial interpolants through the nodes (issue 12: they rescale in place; they work) ---

NODES = np.linspace(0.0, 1.0, 5)
VALUES = np.array([0.3, 0.9, 1.4, 2.2, 0.6])


@pytest.mark.parametrize("cls", [si.BarycentricInterpolator, si.KroghInterpolator])
def test_polynomial_interpolant_gradient_in_yi_is_the_lagrange_basis(cls):
    # p(x) = sum_j yi_j l_j(x): the gradient in yi at x is the Lagrange basis l_j(x), in closed
    # form l_j(x) = prod_{m != j} (x - x_m) / (x_j - x_m)
    x = 0.37
    g = nd.grad(lambda y: cls(NODES, y)(x))(VALUES)
    expected = [
        np.prod([(x - NODES[m]) / (NODES[j] - NODES[m]) for m in range(5) if m != j])
        for j in range(5)
    ]
    np.testing.assert_allclose(g, expected, rtol=1e-10)


@pytest.mark.parametrize("cls", [si.BarycentricInterpolator, si.KroghInterpolator])
def test_polynomial_interpolant_gradient_in_points_includes_the_nodes(cls):
    # at a node SciPy's barycentric formula is replaced by the node's value (a write): the
    # gradient in the point is still the polynomial's slope there, as finite differences say
    points = np.array([0.1, NODES[1], NODES[3], 0.8])
    check_grad(lambda p: np.sum(cls(NODES, VALUES)(p) ** 2), points)
    check_grad(lambda p: cls(NODES, VALUES)(p), points, order=2)


@pytest.mark.parametrize("cls", [si.BarycentricInterpolator, si.KroghInterpolator])
def test_polynomial_interpolant_with_vector_values_along_an_axis(cls):
    data = np.stack([VALUES, VALUES**2, np.cos(VALUES)])  # the nodes along axis 1
    check_grad(lambda y: cls(NODES, y, axis=1)(np.array([0.2, 0.65])), data)
    check_grad(lambda p: cls(NODES, data, axis=1)(p), np.array([0.2, 0.65]))


def test_barycentric_and_krogh_interpolate_functions_differentiate():
    points = np.array([0.15, 0.5, 0.9])
    check_grad(lambda y: si.barycentric_interpolate(NODES, y, points), VALUES)
    check_grad(lambda y: si.krogh_interpolate(NODES, y, points), VALUES)
    check_grad(lambda p: si.barycentric_interpolate(NODES, VALUES, p), points)


def test_polynomial_interpolant_refuses_gradient_in_the_nodes():
    with pytest.raises(NotDifferentiableError, match="xi"):
        nd.grad(lambda n: si.BarycentricInterpolator(n, VALUES)(0.3))(NODES)
    built = si.KroghInterpolator(NODES, GradArray(VALUES, requires_grad=True))
    with pytest.raises(NotDifferentiableError):
        built.derivative(0.3)
