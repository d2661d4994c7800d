"""User-defined derivatives: ``nd.defvjp`` for any function, and ``@nd.custom_vjp``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import ndgrad as nd
from ndgrad._registry import (
    mark_unsupported,
)
from ndgrad.testing import assert_grad_close, check_grad

X = np.array([0.4, 1.3, 2.2])


# --- nd.defvjp on a user's function ------------------------------------------------------------


def test_defvjp_on_user_function_returns_a_differentiable_wrapper(restore_tables):
    def softplus(x):
        return np.log1p(np.exp(x))

    softplus = nd.defvjp(softplus, lambda g, ans, x: g / (1 + np.exp(-x)))
    np.testing.assert_allclose(softplus(X), np.log1p(np.exp(X)))  # plain arrays: plain call
    check_grad(softplus, X, order=2)
    sig = 1 / (1 + np.exp(-X))
    np.testing.assert_allclose(
        nd.hessian(lambda x: np.sum(softplus(x)))(X), np.diag(sig * (1 - sig))
    )


def test_defvjp_rule_is_differentiated_twice_and_three_times(restore_tables):
    calls = []

    def cube(x):
        calls.append(1)
        return x**3

    cube = nd.defvjp(cube, lambda g, ans, x: 3 * g * x**2)
    assert nd.grad(nd.grad(cube))(2.0) == pytest.approx(12.0)
    assert nd.grad(nd.grad(nd.grad(cube)))(2.0) == pytest.approx(6.0)
    assert calls, "the user's function itself computes the forward pass"


def test_defvjp_one_rule_per_argument_with_none(restore_tables):
    def scale(x, k):
        return x * k

    scale = nd.defvjp(scale, lambda g, ans, x, k: g * k, None)
    assert nd.grad(lambda x: np.sum(scale(x, 3.0)))(X) == pytest.approx(np.full(3, 3.0))
    k = nd.GradArray(2.0, requires_grad=True)
    np.sum(scale(X, k)).backward()
    assert k.grad is None  # no rule, no gradient


@pytest.fixture
def vander_uncovered(restore_tables):
    """np.vander without a rule, whatever the registry holds today."""
    mark_unsupported(np.vander, why="test")
    return np.vander


def _fit_residual(x, coef, y):
    """Third-party-style code: written for plain NumPy, never heard of ndgrad."""
    design = np.vander(x, len(coef))
    return np.sum((design @ coef - y) ** 2)


def _vander_vjp(g, ans, x, N=None, increasing=False):
    """Column j holds x**p_j: its derivative is p_j * x**(p_j - 1)."""
    n = np.shape(x)[0] if N is None else N
    p = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    dcols = p * x[:, None] ** np.maximum(p - 1, 0)
    return np.sum(g * dcols, axis=1)


def test_registering_a_numpy_function_makes_third_party_code_differentiable(vander_uncovered):
    coef, y = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 2.0])
    with pytest.raises(nd.NotDifferentiableError, match="vander"):
        nd.grad(_fit_residual)(X, coef, y)
    assert nd.defvjp(np.vander, _vander_vjp) is np.vander  # NumPy's own function, unchanged
    check_grad(lambda x: _fit_residual(x, coef, y), X, order=2)
    # dL/dx = 2 r * d(poly)/dx with poly(x) = 0.5 x^2 - x + 2
    r = np.vander(X, 3) @ coef - y
    np.testing.assert_allclose(nd.grad(_fit_residual)(X, coef, y), 2 * r * (X - 1.0))
    check_grad(lambda x: np.vander(x, increasing=True), X, order=2)


# --- @nd.custom_vjp -----------------------------------------------------------------------------


@nd.custom_vjp
def erfcx(x):
    """scipy.special.erfcx: a C ufunc that ndgrad does not trace."""
    return scipy.special.erfcx(x)


def _erfcx_fwd(x):
    ans = scipy.special.erfcx(x)
    return ans, (x, ans)


def _erfcx_bwd(res, g):
    x, ans = res
    return (g * (2 * x * ans - 2 / np.sqrt(np.pi)),)


erfcx.defvjp(_erfcx_fwd, _erfcx_bwd)


def test_custom_vjp_around_scipy_matches_finite_differences(gradcheck):
    # The project's own tests use the plugin's fixture, as a user's tests would.
    gradcheck(erfcx, X)
    gradcheck(lambda x: np.sum(erfcx(x) ** 2), X)


def test_custom_vjp_without_tracing_calls_the_function():
    out = erfcx(X)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, scipy.special.erfcx(X))


@nd.custom_vjp
def py_logaddexp(a, b):
    """Plain Python (math) on the values."""
    return np.array([math.log(math.exp(u) + math.exp(v)) for u, v in zip(a, b, strict=True)])


def _py_logaddexp_fwd(a, b):
    out = py_logaddexp(a, b)
    return out, (a, b, out)


def _py_logaddexp_bwd(res, g):
    a, b, out = res
    return g * np.exp(a - out), g * np.exp(b - out)


py_logaddexp.defvjp(_py_logaddexp_fwd, _py_logaddexp_bwd)


def test_custom_vjp_with_plain_python_inside_and_two_arguments(gradcheck):
    b = np.array([0.1, -2.0, 1.0])
    ga, gb = nd.grad(lambda a, b: np.sum(py_logaddexp(a, b)), argnums=(0, 1))(X, b)
    assert_grad_close((ga, gb), (np.exp(X) / (np.exp(X) + np.exp(b)), 1 / (1 + np.exp(X - b))))
    gradcheck(py_logaddexp, X, b)


@nd.custom_vjp
def sin_scaled(x, k):
    return np.sin(x) * k


def _sin_scaled_fwd(x, k):
    return np.sin(x) * k, (np.cos(x), k)


def _sin_scaled_bwd(res, g):
    cos_x, k = res
    return g * cos_x * k, None  # no gradient for k


sin_scaled.defvjp(_sin_scaled_fwd, _sin_scaled_bwd)


def test_custom_vjp_written_with_numpy_has_second_derivatives():
    f = lambda x: np.sum(sin_scaled(x, 2.0))
    np.testing.assert_allclose(nd.grad(f)(X), 2 * np.cos(X))
    np.testing.assert_allclose(nd.hessian(f)(X), np.diag(-2 * np.sin(X)))
    assert nd.grad(nd.grad(nd.grad(lambda x: sin_scaled(x, 1.0))))(0.3) == pytest.approx(
        -np.cos(0.3)
    )
    check_grad(lambda x: sin_scaled(x, 3.0), X, order=2)


def test_custom_vjp_none_cotangent_means_no_gradient():
    k = nd.GradArray(2.0, requires_grad=True)
    x = nd.GradArray(X, requires_grad=True)
    np.sum(sin_scaled(x, k)).backward()
    np.testing.assert_allclose(x.grad, 2.0 * np.cos(X))
    assert k.grad is None


def test_custom_vjp_bwd_replaces_the_derivative():
    # A straight-through estimator: round forward, identity backward.
    @nd.custom_vjp
    def round_ste(x):
        return np.round(x)

    round_ste.defvjp(lambda x: (np.round(x), None), lambda res, g: (g,))
    assert_grad_close(nd.grad(lambda x: np.sum(round_ste(x) * x))(X), np.round(X) + X)


def test_custom_vjp_tuple_output_and_keyword_argument():
    @nd.custom_vjp
    def polar(x, scale=1.0):
        return scale * np.cos(x), scale * np.sin(x)

    def fwd(x, scale=1.0):
        return polar(x, scale=scale), (x, scale)

    def bwd(res, g):
        x, scale = res
        gc, gs = g
        return (scale * (-gc * np.sin(x) + gs * np.cos(x)),)

    polar.defvjp(fwd, bwd)
    f = lambda x: np.sum(polar(x, scale=2.0)[0] * 3.0 + polar(x, scale=2.0)[1])
    np.testing.assert_allclose(nd.grad(f)(X), -6.0 * np.sin(X) + 2.0 * np.cos(X))
    # only one output used: the other's cotangent arrives as zeros
    g = nd.grad(lambda x: np.sum(polar(x)[1]))(X)
    np.testing.assert_allclose(g, np.cos(X))


def test_custom_vjp_errors():
    @nd.custom_vjp
    def f(x, y):
        return x * y

    x = nd.GradArray(X, requires_grad=True)
    with pytest.raises(TypeError, match="defvjp"):
        f(x, 2.0)
    f.defvjp(lambda x, y: (x * y, y), lambda y, g: (g * y,))  # one cotangent for two arguments
    with pytest.raises(ValueError, match="one per argument"):
        np.sum(f(x, 2.0)).backward()
    w = nd.GradArray(X, requires_grad=True)
    f.defvjp(lambda x, y: (x * w, None), lambda res, g: (g, g))
    with pytest.raises(ValueError, match="closure"):
        f(x, 2.0)


def test_custom_vjp_keeps_name_and_doc():
    assert erfcx.__name__ == "erfcx"
    assert "scipy" in erfcx.__doc__


def test_custom_vjp_whose_fwd_calls_itself_has_correct_second_derivatives():
    # fwd calls the decorated function, so under a recorded backward the residual ``out``
    # depends on ``a`` through the custom node itself: the Hessian is right.
    b = np.array([0.1, -2.0, 1.0])
    s = 1 / (1 + np.exp(b - X))
    h = nd.hessian(lambda a: np.sum(py_logaddexp(a, b)))(X)
    np.testing.assert_allclose(h, np.diag(s * (1 - s)), rtol=1e-10)


def test_custom_vjp_leaving_numpy_refuses_second_derivatives():
    @nd.custom_vjp
    def py_exp(x):
        return np.array([math.exp(v) for v in np.ravel(x)]).reshape(np.shape(x))

    def fwd(x):
        out = np.array([math.exp(v) for v in np.ravel(x)]).reshape(np.shape(x))
        return out, out  # residual computed outside NumPy: a constant when recorded

    py_exp.defvjp(fwd, lambda out, g: (g * out,))
    f = lambda x: np.sum(py_exp(x))
    np.testing.assert_allclose(nd.grad(f)(X), np.exp(X))  # first order is fine
    with pytest.raises(nd.NotDifferentiableError, match="fwd left NumPy"):
        nd.hessian(f)(X)


def test_custom_vjp_calling_a_function_without_rule_refuses_second_derivatives(restore_tables):
    mark_unsupported(scipy.special.erfcx, why="test")
    with pytest.raises(nd.NotDifferentiableError, match="without a rule"):
        nd.grad(nd.grad(lambda x: erfcx(x)))(0.5)
    check_grad(erfcx, X)  # first order runs fwd on plain arrays: still fine


def test_custom_vjp_nodes_sharing_a_cotangent_object_keep_their_own_results():
    x = nd.GradArray([0.1, 0.2], requires_grad=True)
    y = nd.GradArray([1.0, 2.0], requires_grad=True)
    np.sum(sin_scaled(x, 2.0) + sin_scaled(y, 3.0)).backward()
    np.testing.assert_allclose(x.grad, 2.0 * np.cos([0.1, 0.2]))
    np.testing.assert_allclose(y.grad, 3.0 * np.cos([1.0, 2.0]))


def test_a_forward_pass_that_writes_into_its_argument_is_refused():
    """``fwd`` gets the inputs' memory: a write there changed the caller's array behind the
    graph (its later uses then differentiated as if unchanged). It gets read-only views."""

    @nd.custom_vjp
    def cube(z):
        return z**3

    def fwd(z):
        z[1:] *= 2.0
        return z**3, z

    cube.defvjp(fwd, lambda z, g: (3 * z**2 * g,))
    x = nd.GradArray(np.array([0.3, -0.8, 1.1]), requires_grad=True)
    y = x * 1.0
    with pytest.raises(nd.InPlaceError, match=r"forward pass of custom_vjp\(.*cube\) writes into"):
        cube(y)
    np.testing.assert_array_equal(y.values, [0.3, -0.8, 1.1])  # left as it was


def test_a_straight_through_forward_pass_still_returns_its_argument():
    """``fwd`` returning its (read-only) argument gives back the input itself, writable as
    before: a clipped-gradient identity, then a write into its output."""

    @nd.custom_vjp
    def clip_grad(z):
        return z

    clip_grad.defvjp(lambda z: (z, None), lambda r, g: (np.clip(g, -0.1, 0.1),))

    def f(x):
        y = clip_grad(x * 2.0)
        y[0] = 5.0  # a constant from here on
        return np.sum(y**2)

    x0 = np.array([0.3, -0.8, 1.1])
    # d/dx sum(y**2) with y = 2x: clip(2 y) * 2, and 0 where y was overwritten
    np.testing.assert_allclose(nd.grad(f)(x0), [0.0, -0.2, 0.2], rtol=1e-12)
