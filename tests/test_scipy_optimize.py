"""Gradients through scipy.optimize's solvers, called unmodified: closed forms and FD."""

from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.optimize as so

import ndgrad as nd
from ndgrad import GradArray, NotDifferentiableError

from ._helpers import fd_jacobian


def _cubic_root_derivative(a):
    """x^3 + x = a  =>  dx/da = 1 / (3 x^2 + 1)."""
    x = so.brentq(lambda x: x**3 + x - a, -10, 10, xtol=1e-15)
    return 1 / (3 * x**2 + 1)


# --- root finding -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["brentq", "brenth", "ridder", "bisect", "toms748"])
def test_bracketing_root_of_cubic_closure(name):
    solver = getattr(so, name)

    def root(a):
        return solver(lambda x: x**3 + x - a, -10, 10, xtol=1e-14)

    assert nd.grad(root)(2.0) == pytest.approx(0.25, rel=1e-9)
    assert nd.grad(root)(0.7) == pytest.approx(_cubic_root_derivative(0.7), rel=1e-9)


@pytest.mark.parametrize("name", ["brentq", "bisect", "toms748"])
def test_bracketing_root_through_args(name):
    solver = getattr(so, name)

    def root(a, c):
        return solver(lambda x, a, c: c * x**3 + x - a, -10, 10, args=(a, c), xtol=1e-14)

    ga, gc = nd.grad(root, argnums=(0, 1))(2.0, 1.0)
    # F = c x^3 + x - a at x = 1: dx/da = 1/4, dx/dc = -x^3 / 4
    assert ga == pytest.approx(0.25) and gc == pytest.approx(-0.25)


def test_plain_call_returns_scipy_result_unchanged():
    out = so.brentq(lambda x: x**3 + x - 2.0, -10, 10)
    assert type(out) is float and out == pytest.approx(1.0)
    x, info = so.brentq(lambda x: x**3 + x - 2.0, -10, 10, full_output=True)
    assert type(x) is float and info.converged


def test_tape_api_closure_over_grad_array():
    a = GradArray(np.array(2.0), requires_grad=True)
    x = so.brentq(lambda x: x**3 + x - a, -10, 10)
    assert isinstance(x, GradArray) and x.grad_fn == "scipy.optimize.brentq"
    assert float(x) == so.brentq(lambda x: x**3 + x - 2.0, -10, 10)  # bit for bit
    (3 * x).backward()
    assert a.grad == pytest.approx(0.75)


def test_full_output_root_carries_the_graph():
    def root(a):
        x, info = so.brentq(lambda x: x**3 + x - a, -10, 10, full_output=True)
        assert info.root is x
        return x

    assert nd.grad(root)(2.0) == pytest.approx(0.25)


def test_newton_scalar_and_vectorized():
    def scalar(a):
        return so.newton(lambda x: x**3 + x - a, 1.0, fprime=lambda x: 3 * x**2 + 1, tol=1e-14)

    assert nd.grad(scalar)(2.0) == pytest.approx(0.25)

    def vector(a):
        return so.newton(lambda x: x**3 + x - a, np.ones(3), tol=1e-14)

    a = np.array([0.5, 2.0, 10.0])
    x = vector(a)
    np.testing.assert_allclose(nd.jacobian(vector)(a), np.diag(1 / (3 * x**2 + 1)), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bracket": (-5, 5), "method": "brentq"},
        {"x0": 1.0, "method": "secant"},
        {"x0": 1.0, "fprime": True, "method": "newton"},
    ],
)
def test_root_scalar_methods(kwargs):
    def f(x, a):
        return (x**3 + x - a, 3 * x**2 + 1) if kwargs.get("fprime") else x**3 + x - a

    def root(a):
        return so.root_scalar(f, args=(a,), xtol=1e-14, **kwargs).root

    assert nd.grad(root)(2.0) == pytest.approx(0.25, rel=1e-8)


def _system(x, theta):
    """A 2x2 nonlinear system with a root near (1, 1) for theta near (2, 1)."""
    return np.stack([x[0] ** 3 + x[1] - theta[0], np.sin(x[0]) + x[1] ** 3 - theta[1] * 1.8])


@pytest.mark.parametrize("solver", ["fsolve", "root-hybr", "root-lm"])
def test_systems_match_finite_differences(solver):
    def solve(theta):
        if solver == "fsolve":
            return so.fsolve(lambda x: _system(x, theta), np.ones(2), xtol=1e-12)
        method = solver.split("-")[1]
        return so.root(lambda x: _system(x, theta), np.ones(2), method=method, tol=1e-12).x

    theta = np.array([2.0, 1.0])
    np.testing.assert_allclose(
        nd.jacobian(solve)(theta), fd_jacobian(solve, theta), rtol=1e-6, atol=1e-8
    )


def test_root_with_jac_true_and_args():
    def fun(x, theta):
        return _system(x, theta), np.array([[3 * x[0] ** 2, 1.0], [np.cos(x[0]), 3 * x[1] ** 2]])

    def solve(theta):
        return so.root(fun, np.ones(2), args=(theta,), jac=True, tol=1e-12).x

    theta = np.array([2.0, 1.0])
    np.testing.assert_allclose(
        nd.jacobian(solve)(theta), fd_jacobian(solve, theta), rtol=1e-6, atol=1e-8
    )


def test_not_converged_raises_instead_of_a_gradient():
    def root(a):
        return so.brentq(lambda x: x**3 + x - a, -10, 10, maxiter=2, disp=False)

    with pytest.raises(RuntimeError, match="did not converge"):
        nd.grad(root)(2.0)

    def fs(a):
        with np.errstate(all="ignore"):
            return so.fsolve(lambda x: x**2 + a, np.ones(1))  # no real root

    with pytest.raises(RuntimeError, match="did not converge"):
        nd.grad(lambda a: fs(a)[0])(1.0)


def test_singular_jacobian_at_root_raises():
    def root(a):
        return so.newton(lambda x: x**2 - a, 0.0, fprime=lambda x: 2 * x + 1e-300, disp=False)

    with pytest.raises((NotDifferentiableError, RuntimeError)):
        nd.grad(root)(0.0)


# --- second derivatives: the implicit function rule's backward pass, recorded ----------------


@pytest.mark.parametrize("solver", ["brentq", "toms748", "newton"])
def test_second_derivative_of_a_root_closed_form(solver):
    def root(a):
        f = lambda x: x**3 + x - a
        if solver == "newton":
            return so.newton(f, 1.0, tol=1e-14)
        return getattr(so, solver)(f, -10, 10, xtol=1e-14)

    x = so.brentq(lambda x: x**3 + x - 2.0, -10, 10, xtol=1e-15)
    dx = 1 / (3 * x**2 + 1)
    assert nd.grad(nd.grad(root))(2.0) == pytest.approx(-6 * x * dx**3, rel=1e-9)


def test_hessian_through_fsolve_and_root_match_fd_of_the_gradient():
    def norm2(th):
        x = so.fsolve(lambda x: x**3 + th[0] * x - th[1:], np.ones(2), xtol=1e-13)
        y = so.root(lambda y, c: np.sin(y) + c * y - th[0], np.zeros(1), args=(th[2],), tol=1e-13).x
        return np.sum(x**2) + np.sum(y**3)

    th = np.array([1.5, 2.0, 0.7])
    np.testing.assert_allclose(
        nd.hessian(norm2)(th), fd_jacobian(nd.grad(norm2), th, h=1e-5), rtol=1e-6, atol=1e-8
    )


def test_hessian_of_a_quadratic_program_closed_form():
    # min ½ xᵀAx - θᵀx: x* = A⁻¹θ, f* = -½ θᵀA⁻¹θ; so ∇²(f* + ‖x*‖²) = -A⁻¹ + 2 A⁻²
    def value(th):
        res = so.minimize(
            lambda x: 0.5 * x @ _A @ x - th @ x,
            np.zeros(2),
            jac=lambda x: _A @ x - th,
            method="BFGS",
            options={"gtol": 1e-12},
        )
        return res.fun + np.sum(res.x**2)

    inv = np.linalg.inv(_A)
    np.testing.assert_allclose(
        nd.hessian(value)(np.array([0.3, -1.2])), -inv + 2 * inv @ inv, rtol=1e-8, atol=1e-12
    )


def test_hessian_through_nonlinear_minimize_and_minimize_scalar_match_fd_of_the_gradient():
    def outer(th):
        res = so.minimize(
            lambda x: np.sum((x - th) ** 2 * th**2) + np.sum(x**4), np.zeros(2),
            jac=lambda x: 2 * (x - th) * th**2 + 4 * x**3, method="BFGS", options={"gtol": 1e-10},
        )  # fmt: skip
        one = so.minimize_scalar(lambda x, c: c * (x - th[0]) ** 2 + x**4, args=(th[1],), tol=1e-14)
        return np.sum(res.x**3) + res.fun + one.x**2 + one.fun

    th = np.array([0.8, 1.3])
    np.testing.assert_allclose(
        nd.hessian(outer)(th), fd_jacobian(nd.grad(outer), th, h=1e-4), rtol=1e-4
    )


def test_hessian_through_least_squares_and_curve_fit_closed_form():
    # linear least squares: x* = M y with M = (AᵀA)⁻¹Aᵀ, so ∇²_y ‖x*‖² = 2 MᵀM
    A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.5]])
    M = np.linalg.pinv(A)

    def fitted(y):
        x = so.least_squares(lambda x: A @ x - y, np.zeros(2), xtol=1e-15, ftol=1e-15).x
        p, _ = so.curve_fit(lambda t, c0, c1: c0 + c1 * t, A[:, 1], y, p0=[0.0, 0.0])
        return np.sum(x**2) + np.sum(p**2)

    y = np.array([0.3, 1.1, 2.2, 3.0])
    np.testing.assert_allclose(nd.hessian(fitted)(y), 4 * M.T @ M, rtol=1e-7, atol=1e-10)


# a module attribute (``mod.x``) is where ndgrad does not look for the arrays a function holds
_HIDDEN = types.ModuleType("hidden")
_HIDDEN.value = GradArray(np.array(0.5), requires_grad=True)


_UNIT = GradArray(np.array(1.0), requires_grad=True)  # a global the function names: found


def test_second_derivative_finds_a_global_the_function_names():
    def root(a):
        return so.brentq(lambda x: x**3 + x - a * _UNIT, -10, 10, xtol=1e-14)

    x = so.brentq(lambda x: x**3 + x - 2.0, -10, 10, xtol=1e-15)
    assert nd.grad(nd.grad(root))(2.0) == pytest.approx(-6 * x / (3 * x**2 + 1) ** 3, rel=1e-9)


def test_second_derivative_refuses_a_function_reading_a_module_attribute():
    def root(a):
        return so.brentq(lambda x: x**3 + x - a * _HIDDEN.value, -10, 10)

    nd.grad(root)(2.0)  # the first derivative flows through the probe
    with pytest.raises(NotDifferentiableError, match="module attribute"):
        nd.hessian(root)(2.0)


# --- minimization -----------------------------------------------------------------------------

_A = np.array([[3.0, 1.0], [1.0, 2.0]])


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "Newton-CG", "trust-exact"])
def test_minimize_quadratic_argmin_and_value(method):
    def res(b):
        kw = {}
        if method in ("Newton-CG", "trust-exact"):
            kw = {"jac": lambda x: _A @ x - b, "hess": lambda x: _A}
        return so.minimize(lambda x: 0.5 * x @ _A @ x - b @ x, np.zeros(2), method=method, **kw)

    b = np.array([1.0, -2.0])
    np.testing.assert_allclose(nd.jacobian(lambda b: res(b).x)(b), np.linalg.inv(_A), atol=1e-6)
    # envelope theorem: f* = -b^T A^-1 b / 2
    np.testing.assert_allclose(nd.grad(lambda b: res(b).fun)(b), -np.linalg.solve(_A, b), atol=1e-6)


def test_minimize_jac_true_through_args_closed_form():
    def fun(x, c):
        value = np.sum(np.cosh(x - c)) + 0.3 * np.sum(x**4)
        return value, np.sinh(x - c) + 1.2 * x**3

    def argmin(c):
        return so.minimize(fun, np.zeros(3), args=(c,), jac=True, method="BFGS").x

    c = np.array([0.5, -0.2, 1.0])
    x = argmin(c)  # sinh(x - c) + 1.2 x^3 = 0 elementwise: dx/dc = cosh / (cosh + 3.6 x^2)
    expected = np.cosh(x - c) / (np.cosh(x - c) + 3.6 * x**2)
    np.testing.assert_allclose(nd.jacobian(argmin)(c), np.diag(expected), atol=1e-12)


def test_minimize_value_is_scipys_number():
    b = GradArray(np.array([1.0, -2.0]), requires_grad=True)
    res = so.minimize(lambda x: 0.5 * x @ _A @ x - b @ x, np.zeros(2))
    with nd.no_grad():
        plain = so.minimize(lambda x: 0.5 * x @ _A @ x - b.values @ x, np.zeros(2))
    assert float(res.fun) == plain.fun and np.array_equal(res.x.values, plain.x)


def test_minimize_active_bound_and_constraints_raise():
    def on_bound(c):
        return so.minimize(lambda x: np.sum((x - c) ** 2), np.ones(1), bounds=[(0, 2)]).x

    assert nd.grad(lambda c: on_bound(c)[0])(1.0) == pytest.approx(1.0, rel=1e-6)  # interior
    with pytest.raises(NotDifferentiableError, match="on a bound"):
        nd.grad(lambda c: on_bound(c)[0])(-1.0)
    with pytest.raises(NotDifferentiableError, match="constrained"):
        nd.grad(
            lambda c: so.minimize(
                lambda x: np.sum((x - c) ** 2),
                np.ones(1),
                constraints=[{"type": "ineq", "fun": lambda x: x[0]}],
            ).x[0]
        )(1.0)
    with pytest.raises(NotDifferentiableError, match="constrained"):  # only the constraint
        nd.grad(
            lambda c: so.minimize(
                lambda x: np.sum(x**2),
                np.ones(1),
                constraints=[{"type": "ineq", "fun": lambda x: x[0] - c}],
            ).x[0]
        )(1.0)


def test_minimize_scalar_closed_form():
    def argmin(c):
        return so.minimize_scalar(lambda x: (x - c) ** 2 + x**4, options={"xtol": 1e-12}).x

    x = argmin(0.7)
    assert nd.grad(argmin)(0.7) == pytest.approx(2 / (2 + 12 * x**2), rel=1e-8)
    bounded = nd.grad(
        lambda c: so.minimize_scalar(lambda x: (x - c) ** 2, bounds=(-3, 3), method="bounded").x
    )
    assert bounded(0.5) == pytest.approx(1.0)


def test_least_squares_linear_closed_form():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(6, 2))
    y = rng.normal(size=6)

    def fit(y):
        return so.least_squares(lambda x: m @ x - y, np.zeros(2))

    np.testing.assert_allclose(nd.jacobian(lambda y: fit(y).x)(y), np.linalg.pinv(m), atol=1e-12)
    x = fit(y).x
    np.testing.assert_allclose(nd.grad(lambda y: fit(y).cost)(y), y - m @ x, atol=1e-10)
    projector = m @ np.linalg.pinv(m) - np.eye(6)
    np.testing.assert_allclose(nd.jacobian(lambda y: fit(y).fun)(y), projector, atol=1e-12)


def _gauss_newton(model, jac, y, p, steps=50):
    """A reference fit, converged to machine precision (SciPy's stops earlier: noisy FD)."""
    for _ in range(steps):
        p = p - np.linalg.lstsq(jac(p), model(p) - y, rcond=None)[0]
    return p


def test_least_squares_nonlinear_matches_fd():
    t = np.linspace(0, 2, 10)

    def model(p):
        return p[0] * np.exp(-p[1] * t)

    def jac(p):
        return np.stack([np.exp(-p[1] * t), -t * p[0] * np.exp(-p[1] * t)], 1)

    def reference(theta):
        y = theta[0] * np.exp(-theta[1] * t) + 0.01 * np.sin(7 * t)
        return _gauss_newton(model, jac, y, np.ones(2))

    def fit(theta):
        y = theta[0] * np.exp(-theta[1] * t) + 0.01 * np.sin(7 * t)
        res = so.least_squares(
            lambda p, y: p[0] * np.exp(-p[1] * t) - y,
            np.ones(2),
            args=(y,),
            ftol=1e-15,
            xtol=1e-15,
            gtol=1e-15,
        )
        return res.x

    theta = np.array([2.0, 0.7])
    np.testing.assert_allclose(fit(theta), reference(theta), rtol=1e-8)
    np.testing.assert_allclose(
        nd.jacobian(fit)(theta), fd_jacobian(reference, theta, 1e-4), rtol=1e-6
    )


def test_least_squares_robust_loss_raises():
    with pytest.raises(NotDifferentiableError, match="loss='linear'"):
        nd.grad(lambda c: so.least_squares(lambda x: x - c, np.zeros(1), loss="soft_l1").x[0])(1.0)


def test_curve_fit_linear_closed_forms_popt_and_pcov():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 8)
    y = 2 * x + 1 + 0.1 * rng.normal(size=8)
    s = 0.5 + rng.uniform(size=8)
    m = np.stack([x, np.ones_like(x)], 1)
    w = np.diag(1 / s**2)

    def fit(y, k):
        return so.curve_fit(lambda x, a, b: a * x + b, x, y, p0=[1.0, 0.0], sigma=s)[k]

    def closed(y, k):
        p = np.linalg.solve(m.T @ w @ m, m.T @ w @ y)
        r = (m @ p - y) / s
        return p if k == 0 else np.linalg.inv(m.T @ w @ m) * (r @ r) / 6

    for k in (0, 1):
        np.testing.assert_allclose(
            nd.jacobian(lambda y, k=k: fit(y, k))(y),
            nd.jacobian(lambda y, k=k: closed(y, k))(y),
            atol=1e-12,
        )


def test_curve_fit_nonlinear_gradient_wrt_xdata_matches_fd():
    x = np.linspace(0, 1, 8)
    y = 1.5 * np.exp(0.8 * x) + 0.05 * np.cos(9 * x)

    def reference(x):
        def model(p):
            return p[0] * np.exp(p[1] * x)

        def jac(p):
            return np.stack([np.exp(p[1] * x), x * p[0] * np.exp(p[1] * x)], 1)

        return _gauss_newton(model, jac, y, np.array([1.0, 0.5]))

    def fit(x):
        popt, _ = so.curve_fit(
            lambda x, a, b: a * np.exp(b * x), x, y, p0=[1.0, 0.5], ftol=1e-15, xtol=1e-15
        )
        return popt

    np.testing.assert_allclose(
        nd.jacobian(fit)(x), fd_jacobian(reference, x, 1e-4), rtol=1e-6, atol=1e-9
    )


def test_least_squares_and_curve_fit_on_a_bound_raise_inside_differentiate():
    def ls(c):
        return so.least_squares(lambda x: x - c, np.array([0.5]), bounds=(0.0, 2.0)).x[0]

    def cf(c):
        x = np.arange(3.0)
        return so.curve_fit(lambda x, a: a * x, x, c * x, bounds=(0, 5))[0][0]

    for fit in (ls, cf):
        assert nd.grad(fit)(1.5) == pytest.approx(1.0)
        with pytest.raises(NotDifferentiableError, match="on a bound"):
            nd.grad(fit)(-1.0)
