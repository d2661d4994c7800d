"""Complex arrays follow PyTorch's convention: for a real loss L and complex z = x + iy,
``z.grad = dL/dx + 1j * dL/dy``.

Each computation is checked twice: against central finite differences on the real and the
imaginary part of every element (``check_grad`` perturbs both), and against a closed form
derived by hand. For a holomorphic f and ``L = Re(sum(conj(c) * f(z)))`` the convention gives
``c * conj(f'(z))``.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad.testing import check_grad

rng = np.random.default_rng(3)


def _c(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


Z = _c(2, 3)
W = _c(2, 3)
CO = _c(2, 3)  # the projection c in L = Re(sum(conj(c) * f(z)))
REAL_W = rng.standard_normal((2, 3))


def _projected(f):
    return lambda *z: np.sum(np.real(np.conj(CO) * f(*z)))


# (name, f, closed-form gradient of Re(sum(conj(c) f(z))) for z = Z)
HOLOMORPHIC = [
    ("multiply", lambda z: z * W, CO * np.conj(W)),
    ("divide_numerator", lambda z: z / W, CO / np.conj(W)),
    ("divide_denominator", lambda z: W / z, -CO * np.conj(W / Z**2)),
    ("exp", np.exp, CO * np.conj(np.exp(Z))),
    ("log", np.log, CO / np.conj(Z)),
    ("sqrt", np.sqrt, CO / (2 * np.conj(np.sqrt(Z)))),
    ("power_real_exponent", lambda z: z**2.5, CO * np.conj(2.5 * Z**1.5)),
    ("power_complex_exponent", lambda z: z ** (1 + 0.5j), CO * np.conj((1 + 0.5j) * Z**0.5j)),
    ("square", np.square, CO * np.conj(2 * Z)),
]


@pytest.mark.parametrize("name, f, expected", HOLOMORPHIC, ids=[h[0] for h in HOLOMORPHIC])
def test_holomorphic_gradient_is_c_times_conj_derivative(name, f, expected):
    g = nd.grad(_projected(f))(Z)
    np.testing.assert_allclose(g, expected, rtol=1e-10)
    check_grad(f, Z, order=2)


def test_power_gradient_with_respect_to_complex_exponent():
    # d/dp z**p = z**p log z
    p = _c(2, 3)
    g = nd.grad(_projected(lambda q: Z**q))(p)
    np.testing.assert_allclose(g, CO * np.conj(Z**p * np.log(Z)), rtol=1e-10)
    check_grad(lambda q: Z**q, p, order=2)


def test_abs_gradient_is_unit_direction():
    # L = sum(w |z|): dL/dx = w x/|z|, dL/dy = w y/|z|, so grad = w z / |z|
    g = nd.grad(lambda z: np.sum(REAL_W * np.abs(z)))(Z)
    np.testing.assert_allclose(g, REAL_W * Z / np.abs(Z), rtol=1e-12)
    check_grad(np.abs, Z, order=2)


def test_squared_magnitude_gradient_is_twice_z_not_conj_z():
    g = nd.grad(lambda z: np.sum(np.abs(z) ** 2))(Z)
    np.testing.assert_allclose(g, 2 * Z, rtol=1e-12)
    g = nd.grad(lambda z: np.sum(np.real(z * np.conj(z))))(Z)
    np.testing.assert_allclose(g, 2 * Z, rtol=1e-12)


def test_conj_gradient_is_conj_of_c():
    # Re(conj(c) conj(z)) = Re(c z): dL/dx = Re c, dL/dy = -Im c
    g = nd.grad(_projected(np.conj))(Z)
    np.testing.assert_allclose(g, np.conj(CO), rtol=1e-12)
    check_grad(np.conj, Z, order=2)
    check_grad(np.conjugate, Z, order=2)


def test_real_and_imag_send_gradient_to_their_part():
    np.testing.assert_allclose(nd.grad(lambda z: np.sum(REAL_W * np.real(z)))(Z), REAL_W)
    np.testing.assert_allclose(nd.grad(lambda z: np.sum(REAL_W * np.imag(z)))(Z), 1j * REAL_W)
    check_grad(np.real, Z, order=2)
    check_grad(np.imag, Z, order=2)


def test_real_and_imag_properties():
    np.testing.assert_allclose(nd.grad(lambda z: np.sum(REAL_W * z.real))(Z), REAL_W)
    np.testing.assert_allclose(nd.grad(lambda z: np.sum(REAL_W * z.imag))(Z), 1j * REAL_W)


def test_angle_gradient():
    # angle = atan2(y, x): dL/dx = -w y/|z|^2, dL/dy = w x/|z|^2, so grad = 1j w / conj(z)
    g = nd.grad(lambda z: np.sum(REAL_W * np.angle(z)))(Z)
    np.testing.assert_allclose(g, 1j * REAL_W / np.conj(Z), rtol=1e-12)
    check_grad(np.angle, Z, order=2)


def test_matmul_gradients():
    a, b, c = _c(2, 3), _c(3, 2), _c(2, 2)
    ga, gb = nd.grad(lambda a, b: np.sum(np.real(np.conj(c) * (a @ b))), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, c @ np.conj(b).T, rtol=1e-12)
    np.testing.assert_allclose(gb, np.conj(a).T @ c, rtol=1e-12)
    check_grad(np.matmul, a, b, order=2)


def test_complex_chain_of_ufuncs():
    def f(z, w):
        return np.abs(np.exp(z) * np.conj(w) / (1 + z * z)) ** 2 + np.angle(np.sqrt(w))

    check_grad(f, _c(3), _c(3), order=2)


def test_real_input_through_complex_intermediate_gets_real_gradient():
    # L = |x (1 + 2j)|^2 = 5 x^2: a real gradient 10 x
    x = rng.standard_normal(4)
    g = nd.grad(lambda v: np.sum(np.abs(v * (1 + 2j)) ** 2))(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 10 * x, rtol=1e-12)
    check_grad(lambda v: np.exp(1j * v), x, order=2)


def test_mixed_real_and_complex_operands():
    x = rng.standard_normal((2, 3))
    gx, gz = nd.grad(_projected(lambda x, z: x * z), argnums=(0, 1))(x, Z)
    np.testing.assert_allclose(gx, np.real(CO * np.conj(Z)), rtol=1e-12)
    np.testing.assert_allclose(gz, CO * x, rtol=1e-12)
    check_grad(lambda x, z: x * z, x, Z, order=2)


def test_complex_gradient_keeps_dtype():
    z = nd.GradArray(_c(3).astype(np.complex64), requires_grad=True)
    np.sum(np.abs(z * z)).backward()
    assert z.grad.dtype == np.complex64


def test_backward_on_real_loss_of_complex_leaf():
    z = nd.GradArray(Z, requires_grad=True)
    np.sum(np.abs(np.exp(z))).backward()
    # |exp(z)| = exp(x): gradient exp(x) in the real part only
    np.testing.assert_allclose(z.grad, np.exp(np.real(Z)), rtol=1e-12)


UNARY_UFUNCS = [
    np.sin, np.cos, np.tan, np.sinh, np.cosh, np.tanh, np.arcsin, np.arccos, np.arctan,
    np.arcsinh, np.arctanh, np.exp2, np.expm1, np.log1p, np.log2, np.log10, np.reciprocal,
    np.negative, np.positive,
]  # fmt: skip


@pytest.mark.parametrize("f", UNARY_UFUNCS, ids=lambda f: f.__name__)
def test_complex_unary_ufuncs_match_finite_differences(f):
    check_grad(f, 0.6 * _c(4), order=2)


def test_complex_arccosh_matches_finite_differences():
    check_grad(np.arccosh, np.array([-0.5 + 0.2j, 0.3 - 0.4j]))


@pytest.mark.parametrize(
    "f", [np.sum, np.prod, np.mean, np.cumsum, np.cumprod, np.var, np.std], ids=lambda f: f.__name__
)
def test_complex_reductions_match_finite_differences(f):
    check_grad(f, _c(2, 3), order=2)


@pytest.mark.parametrize("f", [np.dot, np.vdot, np.inner, np.outer], ids=lambda f: f.__name__)
def test_complex_products_match_finite_differences(f):
    check_grad(f, _c(3), _c(3), order=2)


def test_sign_of_complex_input_has_the_gradient_of_z_over_abs_z():
    """NumPy 2 defines ``sign(z) = z / |z|``: its gradient, not a piecewise-constant zero."""
    z = np.array([1 + 2j, -1 + 0.5j, 0.3 - 0.1j])
    check_grad(np.sign, z, order=2)
    c = np.array([0.5 - 1j, 2 + 0j, -1j])
    got = nd.grad(lambda z: np.sum(np.real(np.conj(c) * np.sign(z))))(z)
    want = nd.grad(lambda z: np.sum(np.real(np.conj(c) * z / np.abs(z))))(z)
    # closed form: (c - s * Re(c * conj(s))) / |z| with s = z / |z|
    s = z / np.abs(z)
    np.testing.assert_allclose(got, (c - s * np.real(c * np.conj(s))) / np.abs(z))
    np.testing.assert_allclose(got, want)
    # at 0, where z / |z| has no derivative, the subgradient is 0; real sign stays 0
    assert nd.grad(lambda z: np.sum(np.real(np.sign(z))))(np.zeros(2, complex)).tolist() == [0, 0]
    assert nd.grad(lambda x: np.sum(np.sign(x)))(np.array([-1.0, 2.0])).tolist() == [0, 0]
