"""scipy.special support: lazy registration, what raises, closed forms the rule table can't show."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.special as sc

import ndgrad as nd
from ndgrad import GradArray
from ndgrad._registry import VJP_RULES
from ndgrad._rules.scipy_special import scipy_special_coverage
from ndgrad.testing import check_grad


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, timeout=120)


def test_import_ndgrad_does_not_import_scipy_and_rules_appear_on_import():
    _run(
        """
        import sys
        import ndgrad
        assert "scipy" not in sys.modules, "import ndgrad imported SciPy"
        import scipy.special as sc
        from ndgrad._registry import VJP_RULES
        assert sc.gammaln in VJP_RULES and sc.jv in VJP_RULES
        from ndgrad._rules import _lazy
        assert "scipy.special" not in _lazy._pending  # its registration ran, once
        # what is not imported yet is still waiting (SciPy 1.18's special imports linalg)
        assert _lazy._pending and not set(_lazy._pending) & set(sys.modules)
        import inspect
        assert "def polygamma" in inspect.getsource(sc._basic)  # loader left intact
        """
    )


def test_rules_are_registered_when_scipy_was_imported_first():
    _run(
        """
        import scipy.special as sc
        import numpy as np
        import ndgrad as nd
        g = nd.grad(lambda x: np.sum(sc.gammaln(x)))(np.array([2.5]))
        assert np.allclose(g, sc.psi(2.5))
        """
    )


def test_coverage_lists_rules_and_raising_ufuncs():
    report = scipy_special_coverage()
    for name in ("gammaln", "psi", "erf", "expit", "jv", "kve", "boxcox", "poch"):
        assert name in report["rules"], name
    for name in ("hyp2f1", "ellipkinc", "struve", "owens_t", "eval_jacobi", "wofz", "kelvin"):
        assert name in report["rules"], name
    assert "elliprd" in report["raises"]
    assert not set(report["rules"]) & set(report["raises"])
    assert all(getattr(sc, n) in VJP_RULES for n in report["rules"])


def test_ufunc_without_rule_raises_not_differentiable():
    x = GradArray([0.5, 1.5], requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError, match="elliprd"):
        sc.elliprd(1.0, 2.0, x)


@pytest.mark.parametrize("func", [sc.iv, sc.ive, sc.jv, sc.yv, sc.kv, sc.kve])
def test_bessel_gradient_with_respect_to_order_raises(func):
    with pytest.raises(nd.NotDifferentiableError, match="order"):
        nd.grad(lambda v: np.sum(func(v, 1.3)))(np.array([0.5, 1.5]))


def test_gammainc_gradient_with_respect_to_a_raises():
    with pytest.raises(nd.NotDifferentiableError, match="gammainc"):
        nd.grad(lambda a: np.sum(sc.gammainc(a, 1.3)))(np.array([0.5, 1.5]))


def test_riemann_zeta_exponent_raises():
    with pytest.raises(nd.NotDifferentiableError):
        nd.grad(lambda s: np.sum(sc.zeta(s)))(np.array([2.5]))


def test_zeta_gradient_in_q_is_minus_s_zeta():
    q = np.array([0.7, 1.5, 3.0])
    g = nd.grad(lambda q: np.sum(sc.zeta(3.0, q)))(q)
    np.testing.assert_allclose(g, -3.0 * sc.zeta(4.0, q), rtol=1e-12)


def test_digamma_derivatives_are_polygamma():
    x = np.array([0.4, 1.0, 2.5, 7.0])
    d1 = nd.grad(lambda x: np.sum(sc.psi(x)))(x)
    np.testing.assert_allclose(d1, sc.polygamma(1, x), rtol=1e-12)
    d2 = nd.grad(lambda x: np.sum(nd.grad(lambda y: np.sum(sc.psi(y)))(x)))(x)
    np.testing.assert_allclose(d2, sc.polygamma(2, x), rtol=1e-10)


def test_polygamma_is_differentiable_under_tracing():
    x = np.array([0.6, 1.5, 4.0])
    f = nd.differentiable(lambda x: np.sum(sc.polygamma(2, x)))
    np.testing.assert_allclose(nd.grad(f)(x), sc.polygamma(3, x), rtol=1e-10)
    check_grad(nd.differentiable(lambda x: sc.polygamma(1, x)), x, order=2)


def test_sinc_gradient_at_and_near_zero():
    g = nd.grad(lambda x: np.sum(np.sinc(x)))(np.array([0.0, 1e-9, 0.5, -2.0]))
    x = np.array([0.5, -2.0])
    expected = (np.cos(np.pi * x) - np.sinc(x)) / x
    np.testing.assert_allclose(g, [0.0, 0.0, *expected], atol=1e-8)
    check_grad(np.sinc, np.array([0.0, 0.3]), order=1)


def test_boxcox_gradient_in_lambda_at_zero_is_the_limit():
    x = np.array([0.5, 2.0, 3.0])
    g = nd.grad(lambda lm: np.sum(sc.boxcox(x, lm)))(0.0)
    np.testing.assert_allclose(g, np.sum(np.log(x) ** 2 / 2), rtol=1e-12)
    check_grad(lambda x, lm: sc.boxcox(x, lm), x, np.array(0.0))


def test_inv_boxcox_gradient_in_lambda_at_zero_is_the_limit():
    y = np.array([-0.5, 0.2, 1.0])
    g = nd.grad(lambda lm: np.sum(sc.inv_boxcox(y, lm)))(0.0)
    np.testing.assert_allclose(g, np.sum(-np.exp(y) * y**2 / 2), rtol=1e-12)
    check_grad(lambda y, lm: sc.inv_boxcox(y, lm), y, np.array(0.0))


def test_log_ndtr_gradient_is_finite_far_in_the_left_tail():
    x = np.array([-40.0, -10.0])
    g = nd.grad(lambda x: np.sum(sc.log_ndtr(x)))(x)
    # pdf/cdf ~ -x - 1/x for x -> -inf (Mills ratio)
    np.testing.assert_allclose(g, -x - 1 / x, rtol=1e-3)


def test_expit_gradient_matches_closed_form_and_float32_stays():
    x = GradArray(np.array([-3.0, 0.0, 2.0], dtype=np.float32), requires_grad=True)
    np.sum(sc.expit(x)).backward()
    assert x.grad.dtype == np.float32
    s = sc.expit(np.array([-3.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad, s * (1 - s), rtol=1e-6)


@pytest.mark.parametrize("func", [sc.erf, sc.erfc, sc.gamma, sc.loggamma, sc.ndtr, sc.erfcx])
def test_holomorphic_functions_take_complex_input(func):
    z = np.array([0.3 + 0.4j, 1.2 - 0.5j])
    check_grad(func, z, order=1)


@pytest.mark.parametrize("v", [0.0, 1.0, 2.5])
def test_bessel_argument_gradient_for_complex_argument(v):
    z = np.array([0.8 + 0.3j, 1.5 - 0.2j])
    check_grad(lambda z: sc.jv(v, z), z, order=1)
    check_grad(lambda z: sc.iv(v, z), z, order=1)


def test_betainc_gradient_with_respect_to_shape_raises():
    with pytest.raises(nd.NotDifferentiableError, match="betainc with respect to b"):
        nd.grad(lambda b: np.sum(sc.betainc(2.0, b, 0.3)))(np.array([1.5]))


def test_betainc_gradient_in_x_is_the_beta_density():
    x = np.array([0.1, 0.5, 0.9])
    g = nd.grad(lambda x: np.sum(sc.betainc(2.0, 3.0, x)))(x)
    np.testing.assert_allclose(g, 12 * x * (1 - x) ** 2, rtol=1e-12)  # 1/B(2,3) = 12


def test_elliptic_integral_gradients_at_zero_are_the_limits():
    g = nd.grad(lambda m: np.sum(sc.ellipk(m) + 2 * sc.ellipe(m)))(np.array([0.0]))
    np.testing.assert_allclose(g, [np.pi / 8 - 2 * np.pi / 8], rtol=1e-12)


def test_multi_output_sici_gradient():
    x = np.array([0.5, 2.0])
    g = nd.grad(lambda x: np.sum(sc.sici(x)[0] + 3 * sc.sici(x)[1]))(x)
    np.testing.assert_allclose(g, np.sin(x) / x + 3 * np.cos(x) / x, rtol=1e-12)


@pytest.mark.parametrize("argnum, name", [(0, "a"), (1, "b"), (2, "c")])
def test_hyp2f1_gradient_in_a_parameter_raises_naming_it(argnum, name):
    args = [0.5, 1.5, 2.5, 0.3]

    def f(p):
        return sc.hyp2f1(*args[:argnum], p, *args[argnum + 1 :])

    with pytest.raises(nd.NotDifferentiableError, match=f"hyp2f1 with respect to {name} "):
        nd.grad(f)(args[argnum])


def test_hyp2f1_gradient_in_z_is_the_raised_function():
    z = np.array([-0.5, 0.1, 0.7])
    g = nd.grad(lambda z: np.sum(sc.hyp2f1(0.5, 1.5, 2.5, z)))(z)
    np.testing.assert_allclose(g, 0.3 * sc.hyp2f1(1.5, 2.5, 3.5, z), rtol=1e-12)
    # log(1 - z) = -z 2F1(1, 1; 2; z): an elementary check of the whole chain
    g = nd.grad(lambda z: np.sum(z * sc.hyp2f1(1.0, 1.0, 2.0, z)))(z)
    np.testing.assert_allclose(g, 1 / (1 - z), rtol=1e-10)


@pytest.mark.parametrize("func", [sc.jve, sc.yve])
def test_scaled_bessel_of_complex_argument_raises(func):
    z = GradArray(np.array([0.5 + 0.2j]), requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError, match="not holomorphic"):
        np.sum(np.abs(func(1.0, z)) ** 2).backward()


def test_psi_of_complex_argument_raises_and_of_real_is_trigamma():
    # SciPy's trigamma, zeta(2, z), has no complex loop: the rule said "ufunc '_zeta' not
    # supported for the input types"; now it names psi and why
    z = GradArray(np.array([1.5 + 0.5j]), requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError, match="psi of a complex argument"):
        np.real(np.sum(sc.psi(z))).backward()
    x = np.array([0.5, 1.5, 4.0])
    np.testing.assert_allclose(nd.grad(lambda x: np.sum(sc.psi(x)))(x), sc.polygamma(1, x))


def test_ellipj_gradient_in_m_at_zero_raises():
    with pytest.raises(nd.NotDifferentiableError, match="m = 0"):
        nd.grad(lambda m: np.sum(sc.ellipj(0.7, m)[0]))(np.array([0.0, 0.5]))


def test_incomplete_elliptic_integrals_at_m_zero_match_the_series():
    phi = np.array([0.3, 1.2])
    g = nd.grad(lambda m: np.sum(sc.ellipkinc(phi, m)))(np.zeros(2))
    np.testing.assert_allclose(g, phi / 4 - np.sin(2 * phi) / 8, rtol=1e-12)
    g = nd.grad(lambda m: np.sum(sc.ellipeinc(phi, m)))(np.zeros(2))
    np.testing.assert_allclose(g, -(phi / 4 - np.sin(2 * phi) / 8), rtol=1e-12)


def test_carlson_second_derivative_raises_through_elliprd():
    with pytest.raises(nd.NotDifferentiableError, match="elliprd"):
        nd.hessian(lambda x: sc.elliprf(x, 1.0, 2.0))(0.5)


def test_spence_gradient_at_one_is_minus_one():
    g = nd.grad(lambda z: np.sum(sc.spence(z)))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [-1.0, -np.log(2.0)], rtol=1e-12)


def test_lambertw_gradient_on_both_real_branches():
    z = np.array([0.5, 2.0])
    g = nd.grad(lambda z: np.sum(np.real(sc.lambertw(z))))(z)
    w = np.real(sc.lambertw(z))
    np.testing.assert_allclose(g, w / (z * (1 + w)), rtol=1e-12)
    check_grad(lambda z: sc.lambertw(z, -1), np.array([-0.3, -0.1]), order=2)


def test_lambertw_tolerance_is_not_differentiable():
    with pytest.raises(nd.NotDifferentiableError, match="tol"):
        nd.grad(lambda t: np.real(sc.lambertw(1.0, 0, t)))(1e-8)


def test_poisson_cdf_rounds_the_count_down_in_its_gradient():
    m = np.array([0.5, 2.0])
    g = nd.grad(lambda m: np.sum(sc.pdtr(2.5, m)))(m)
    np.testing.assert_allclose(g, -np.exp(-m) * m**2 / 2, rtol=1e-12)


def test_owens_t_gradient_matches_skewnorm_cdf():
    # skewnorm.cdf(x, a) = ndtr(x) - 2 T(x, a): scipy's own code, through the rules
    from scipy.stats import skewnorm

    x, a = np.array([-0.4, 0.8]), 1.7
    g = nd.grad(lambda x: np.sum(sc.ndtr(x) - 2 * sc.owens_t(x, a)))(x)
    np.testing.assert_allclose(g, skewnorm.pdf(x, a), rtol=1e-12)


@pytest.mark.parametrize(
    "func",
    [
        lambda z: sc.hyp2f1(0.5, 1.5, 2.5, z),
        lambda z: sc.hyp1f1(0.5, 1.5, z),
        lambda z: sc.hyp0f1(1.5, z),
        sc.spence,
        sc.wofz,
        lambda z: sc.eval_legendre(3, z),
        lambda z: sc.eval_jacobi(2, 0.5, 1.5, z),
        lambda z: sc.hankel1e(1.5, z),
    ],
    ids=[
        "hyp2f1",
        "hyp1f1",
        "hyp0f1",
        "spence",
        "wofz",
        "eval_legendre",
        "eval_jacobi",
        "hankel1e",
    ],
)
def test_new_holomorphic_rules_take_complex_input(func):
    z = np.array([0.3 + 0.4j, 0.6 - 0.2j])
    check_grad(func, z, order=2)
