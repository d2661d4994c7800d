"""Gradient rules for ``scipy.special``'s ufuncs, and ``np.sinc``.

A rule is ``rule(g, ans, *inputs) -> cotangent`` for one input, written as if nothing was
broadcast (the engine sums each cotangent back to its input's shape), exactly like the rules of
NumPy's own ufuncs. Holomorphic functions that accept complex input use ``g * conj(f'(z))``.
Orders and shape parameters without a closed-form derivative (the order ``v`` of ``jv``, the
exponent of ``zeta``, the ``a`` of ``gammainc``) get a rule that raises
``NotDifferentiableError`` when a gradient is asked of them, never a silent zero.

Which arguments differentiate. Variables always; parameters where a closed form in other
``scipy.special`` functions exists (``ellipkinc``/``ellipeinc`` in both arguments, ``owens_t``
in ``h`` and ``a``, ``agm``, ``binom``, the Carlson integrals ``elliprf``/``elliprc``/``elliprg``,
``voigt_profile`` in ``x``, ``sigma`` and ``gamma``, ``gdtr`` in its rate, ``chndtr`` in the
noncentrality). These raise ``NotDifferentiableError`` naming the argument: the parameters of
the hypergeometric functions (``hyp2f1``'s ``a``, ``b``, ``c``; ``hyp1f1``, ``hyperu``,
``hyp0f1``, ``wright_bessel``), every order and degree (Bessel, Struve, parabolic cylinder,
orthogonal polynomials, ``lpmv``), Mathieu's ``m`` and ``q``, the shape parameters and
degrees of freedom of the distribution functions, the counts of the binomial, negative
binomial and Poisson ones (SciPy rounds them down; their formulas use ``floor(k)``), and
``lambertw``'s ``tol``. Functions with no closed-form derivative at all have no rule and raise
when called on an array that requires grad: ``elliprd``, ``elliprj``, ``zetac``, the
spheroidal wave functions, Mathieu's characteristic values, and the
inverses of the distribution functions in a shape parameter (``bdtrik``, ``btdtria``,
``gdtrib``, ``chdtriv``, ``stdtridf``, ``nctdtridf``, ...). Inverses in their probability
(``betaincinv``, ``betainccinv``, ``gammaincinv``, ``bdtri``, ``chdtri``, ``stdtrit``,
``fdtri``, ``gdtrix``, ``gdtria``, ``chndtrix``, ``nctdtrit``, ``ncfdtri``, ``kolmogi``,
``smirnovi``, ...) differentiate by the implicit function theorem: ``1 / F'(ans)``.

Rules that use a private SciPy derivative (``_kolmogp``, ``_smirnovp``) or density
(``_ncx2_pdf``, ``_nct_pdf``, ``_ncf_pdf``: ``chndtr``, ``nctdtr``, ``ncfdtr`` and their
inverses) differentiate once: asking for a second derivative raises, because those private
ufuncs have no rules. Likewise the Carlson rules call ``elliprd``, so their second derivatives
raise.

Domains, branch cuts and singular points. A rule is valid where the function is smooth; at a
branch cut or a singularity the gradient is what the formula gives there (often ``inf`` or
``nan``, never a plausible-looking number):

- ``hyp2f1`` in ``z``: ``z < 1`` (cut on ``[1, inf)`` for complex ``z``); ``hyperu``: ``x > 0``.
- ``ellipk``, ``ellipe``, ``ellipkinc``, ``ellipeinc``, ``ellipj``: ``m < 1``; ``ellipkm1``:
  ``0 < p`` (``p = 1 - m``). The removable singularities at ``m = 0`` use Taylor polynomials
  exact to second order; ``ellipj`` in ``m`` at ``m = 0`` exactly raises (its closed form is
  0/0). ``agm``: ``a, b > 0``.
- ``struve``, ``modstruve``, ``it2struve0``, ``it2i0k0``, ``it2j0y0``, ``kn``, ``yn``,
  ``yve``, ``ker``, ``kei``, ``kerp``, ``keip``, ``kelvin``: ``x > 0``; ``itairy``: ``x >= 0``;
  ``lpmv``: ``|x| < 1``; ``spence``: ``z >= 0`` (its removable singularity at ``z = 1`` uses
  a Taylor polynomial).
- ``jve``, ``yve``, ``ive`` and ``airye`` of a complex argument raise: their scaling by
  ``exp(-|Im z|)``, ``exp(-|Re z|)`` or ``exp(+-Re(2/3 z^(3/2)))`` is not holomorphic. So
  does ``psi``'s: SciPy's trigamma (``zeta(2, z)``) has no complex loop.
  ``airye`` needs ``x > 0`` (SciPy returns NaN for ``eAi`` at ``x < 0``).
- ``lambertw`` (its ufunc ``_lambertw``): singular at the branch point ``z = -1/e``.
- ``voigt_profile``: ``sigma > 0``; ``binom``: ``n > -1``, ``k > -1``,
  ``n - k > -1`` (away from the poles of the Gamma functions).
- Mathieu functions take ``x`` in degrees; their rules return derivatives per degree.

SciPy is optional, and ``import ndgrad`` does not import it. Registration is lazy:

- if ``scipy.special`` is already imported when ndgrad is, the rules are registered at once;
- otherwise a finder on ``sys.meta_path`` waits for ``scipy.special`` to be imported, lets the
  normal machinery load it, and registers the rules right after the module has executed (then
  removes itself). This runs under the import lock, before ``import scipy.special`` returns,
  so no SciPy ufunc can reach ``__array_ufunc__`` before its rule exists, whatever thread or
  module imports SciPy first, and nothing in the engine's dispatch path had to change.

Python functions of ``scipy.special`` (``polygamma``, ``zeta``, ``logsumexp``, ``softmax``,
``log_softmax``) call ``np.asarray`` and the ufuncs below; differentiate them under
:func:`ndgrad.tracing` (``polygamma`` and ``zeta`` reach ``_zeta``'s rule that way).

:func:`scipy_special_coverage` lists which ``scipy.special`` ufuncs have rules, which are
non-differentiable (integer or boolean results) and which raise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._define import defjvp, defvjp
from ndgrad._errors import not_differentiable
from ndgrad._registry import HOLOMORPHIC, VJP_RULES
from ndgrad._rules._common import conj, is_complex, zeros_of
from ndgrad._rules._lazy import after_import

__all__ = ["scipy_special_coverage"]

_SQRT_PI = 1.7724538509055159  # sqrt(pi): Python floats, so rules stay NumPy-only
_LOG_SQRT_2PI = 0.9189385332046727  # log(sqrt(2 pi))

# --- np.sinc (a NumPy function, listed here with its SciPy relatives) -------------------------


def _sinc_d(x):
    """sinc'(x) = (cos(pi x) - sinc(x)) / x, and 0 at x = 0 (sinc is even); entire in x."""
    zero = x == 0
    safe = np.where(zero, 1.0, x)
    return np.where(zero, 0.0, (np.cos(np.pi * safe) - np.sinc(safe)) / safe)


defvjp(np.sinc, lambda g, ans, x: g * conj(_sinc_d(x)))
# np.sinc is a Python function, not a ufunc, so forward mode cannot derive its elementwise JVP.
defjvp(np.sinc, lambda t, ans, x: t * _sinc_d(x))


def _raises(what: str) -> Any:
    """A rule for an argument with no derivative available: asking for it is an error."""

    def rule(g, ans, a=None, b=None, c=None, d=None):  # reads no input: the engine saves none
        raise not_differentiable(what, "no closed-form derivative for this argument")

    return rule


def _order_rule(name: str) -> Any:
    return _raises(f"scipy.special.{name} with respect to its order")


def _psi_vjp(g, ans, x):
    """psi' is the trigamma function, the Hurwitz zeta(2, x): SciPy has it for real x only."""
    from scipy.special import _ufuncs

    if is_complex(x):
        raise not_differentiable(
            "scipy.special.psi of a complex argument",
            "its derivative, the trigamma function zeta(2, z), has no complex loop in SciPy",
        )
    return g * _ufuncs._zeta(2.0, x)


def _register(sc: Any) -> None:
    """Register every rule; ``sc`` is the imported ``scipy.special``."""
    from scipy.special import _ufuncs

    def rule(func: Any, *rules: Any) -> None:
        defvjp(func, *rules, name=f"scipy.special.{func.__name__}")

    # --- gamma and related functions ----------------------------------------------------------
    rule(sc.gamma, lambda g, ans, x: g * conj(ans * sc.psi(x)))
    rule(sc.rgamma, lambda g, ans, x: -g * conj(ans * sc.psi(x)))
    rule(sc.gammaln, lambda g, ans, x: g * sc.psi(x))
    rule(sc.loggamma, lambda g, ans, x: g * conj(sc.psi(x)))
    rule(sc.psi, _psi_vjp)
    rule(
        sc.beta,
        lambda g, ans, a, b: g * ans * (sc.psi(a) - sc.psi(a + b)),
        lambda g, ans, a, b: g * ans * (sc.psi(b) - sc.psi(a + b)),
    )
    rule(
        sc.betaln,
        lambda g, ans, a, b: g * (sc.psi(a) - sc.psi(a + b)),
        lambda g, ans, a, b: g * (sc.psi(b) - sc.psi(a + b)),
    )
    # poch(z, m) = Gamma(z + m) / Gamma(z), the rising factorial.
    rule(
        sc.poch,
        lambda g, ans, z, m: g * ans * (sc.psi(z + m) - sc.psi(z)),
        lambda g, ans, z, m: g * ans * sc.psi(z + m),
    )
    # d/dx [x^(a-1) e^-x / Gamma(a)] integrated: the integrand itself, in logs against overflow.
    rule(
        sc.gammainc,
        _raises("scipy.special.gammainc with respect to a"),
        lambda g, ans, a, x: g * np.exp((a - 1) * np.log(x) - x - sc.gammaln(a)),
    )
    rule(
        sc.gammaincc,
        _raises("scipy.special.gammaincc with respect to a"),
        lambda g, ans, a, x: -g * np.exp((a - 1) * np.log(x) - x - sc.gammaln(a)),
    )
    # Hurwitz zeta(s, q) = sum (n + q)^-s: d/dq = -s zeta(s + 1, q). scipy.special.zeta and
    # polygamma are Python functions that call this ufunc.
    defvjp(
        _ufuncs._zeta,
        _raises("scipy.special.zeta with respect to the exponent x"),
        lambda g, ans, x, q: -g * conj(x * _ufuncs._zeta(x + 1, q)),
        name="scipy.special.zeta",
    )
    # The Riemann zeta(x) (zeta without q) gets no rule: its only argument is the exponent, so
    # calling it on an array that requires grad raises at once.

    # --- error function and normal distribution -----------------------------------------------
    rule(sc.erf, lambda g, ans, z: g * conj(2 / _SQRT_PI * np.exp(-z * z)))
    rule(sc.erfc, lambda g, ans, z: -g * conj(2 / _SQRT_PI * np.exp(-z * z)))
    rule(sc.erfcx, lambda g, ans, z: g * conj(2 * z * ans - 2 / _SQRT_PI))
    rule(sc.erfinv, lambda g, ans, y: g * (_SQRT_PI / 2) * np.exp(ans * ans))
    rule(sc.erfcinv, lambda g, ans, y: -g * (_SQRT_PI / 2) * np.exp(ans * ans))
    rule(sc.ndtr, lambda g, ans, x: g * conj(np.exp(-x * x / 2 - _LOG_SQRT_2PI)))
    # pdf / cdf computed as exp(log pdf - log cdf): finite far into the left tail.
    rule(sc.log_ndtr, lambda g, ans, x: g * conj(np.exp(-x * x / 2 - _LOG_SQRT_2PI - ans)))
    rule(sc.ndtri, lambda g, ans, y: g * np.exp(ans * ans / 2 + _LOG_SQRT_2PI))

    # --- logistic -------------------------------------------------------------------------------
    rule(sc.expit, lambda g, ans, x: g * ans * (1 - ans))
    rule(sc.logit, lambda g, ans, x: g / (x * (1 - x)))
    rule(sc.log_expit, lambda g, ans, x: g * sc.expit(-x))

    # --- information theory and losses ----------------------------------------------------------
    rule(
        sc.xlogy,
        lambda g, ans, x, y: g * conj(np.log(y)),
        lambda g, ans, x, y: g * conj(x / y),
    )
    rule(
        sc.xlog1py,
        lambda g, ans, x, y: g * conj(np.log1p(y)),
        lambda g, ans, x, y: g * conj(x / (1 + y)),
    )
    rule(sc.entr, lambda g, ans, x: -g * (np.log(x) + 1))
    rule(
        sc.rel_entr,
        lambda g, ans, x, y: g * (np.log(x / y) + 1),
        lambda g, ans, x, y: -g * x / y,
    )
    rule(
        sc.kl_div,
        lambda g, ans, x, y: g * np.log(x / y),
        lambda g, ans, x, y: g * (1 - x / y),
    )
    # huber is r^2/2 inside |r| <= delta and delta (|r| - delta/2) outside: d/dr clips r to
    # [-delta, delta]; at |r| == delta both pieces agree, so no subgradient choice is needed.
    rule(
        sc.huber,
        lambda g, ans, delta, r: g * np.maximum(np.abs(r) - delta, 0.0),
        lambda g, ans, delta, r: g * np.maximum(np.minimum(r, delta), -delta),
    )
    rule(
        sc.pseudo_huber,
        lambda g, ans, delta, r: g * (2 * ans / delta - r * r / (delta * _hypot1(r / delta))),
        lambda g, ans, delta, r: g * r / _hypot1(r / delta),
    )
    # boxcox(x, l) = (x^l - 1) / l, log(x) at l = 0.
    rule(sc.boxcox, lambda g, ans, x, lmbda: g * np.power(x, lmbda - 1), _boxcox_lmbda_vjp)
    # inv_boxcox(y, l) = (l y + 1)^(1/l), exp(y) at l = 0.
    rule(
        sc.inv_boxcox,
        lambda g, ans, y, lmbda: g * ans / (lmbda * y + 1),
        _inv_boxcox_lmbda_vjp,
    )

    # --- Bessel functions (derivatives with respect to the argument) ---------------------------
    rule(sc.i0, lambda g, ans, x: g * sc.i1(x))
    rule(sc.i1, lambda g, ans, x: g * (sc.i0(x) + sc.iv(2.0, x)) / 2)
    rule(sc.i0e, lambda g, ans, x: g * (sc.i1e(x) - np.sign(x) * ans))
    rule(sc.i1e, lambda g, ans, x: g * ((sc.i0e(x) + sc.ive(2.0, x)) / 2 - np.sign(x) * ans))
    rule(sc.j0, lambda g, ans, x: -g * sc.j1(x))
    rule(sc.j1, lambda g, ans, x: g * (sc.j0(x) - sc.jv(2.0, x)) / 2)
    rule(sc.y0, lambda g, ans, x: -g * sc.y1(x))
    rule(sc.y1, lambda g, ans, x: g * (sc.y0(x) - sc.yv(2.0, x)) / 2)
    rule(
        sc.iv,
        _order_rule("iv"),
        lambda g, ans, v, z: g * conj(sc.iv(v - 1, z) + sc.iv(v + 1, z)) / 2,
    )
    rule(
        sc.jv,
        _order_rule("jv"),
        lambda g, ans, v, z: g * conj(sc.jv(v - 1, z) - sc.jv(v + 1, z)) / 2,
    )
    rule(
        sc.yv,
        _order_rule("yv"),
        lambda g, ans, v, z: g * conj(sc.yv(v - 1, z) - sc.yv(v + 1, z)) / 2,
    )
    rule(
        sc.kv,
        _order_rule("kv"),
        lambda g, ans, v, z: -g * conj(sc.kv(v - 1, z) + sc.kv(v + 1, z)) / 2,
    )
    # ive = iv e^-|Re z| and kve = kv e^z: the product rule adds the exponential's term. kve is
    # holomorphic; ive is not (|Re z|), so a complex argument raises, as for jve.
    rule(
        sc.ive,
        _order_rule("ive"),
        _real_only(
            "ive",
            lambda g, ans, v, z: g * ((sc.ive(v - 1, z) + sc.ive(v + 1, z)) / 2 - np.sign(z) * ans),
        ),
    )
    rule(
        sc.kve,
        _order_rule("kve"),
        lambda g, ans, v, z: g * conj(ans - (sc.kve(v - 1, z) + sc.kve(v + 1, z)) / 2),
    )


def _register_more(sc: Any) -> None:
    """Further ufuncs: elementary, more Bessel, incomplete integrals and their inverses."""

    def rule(func: Any, *rules: Any) -> None:
        defvjp(func, *rules, name=f"scipy.special.{func.__name__}")

    # --- elementary functions and integrals ---------------------------------------------------
    rule(sc.exp2, lambda g, ans, x: g * ans * _LOG_2)
    rule(sc.exp10, lambda g, ans, x: g * ans * _LOG_10)
    rule(sc.expm1, lambda g, ans, x: g * conj(ans + 1))
    rule(sc.log1p, lambda g, ans, x: g / conj(1 + x))
    rule(sc.cbrt, lambda g, ans, x: g / (3 * ans * ans))
    rule(sc.cosm1, lambda g, ans, x: -g * np.sin(x))
    rule(sc.sindg, lambda g, ans, x: g * sc.cosdg(x) * _DEG)
    rule(sc.cosdg, lambda g, ans, x: -g * sc.sindg(x) * _DEG)
    rule(sc.tandg, lambda g, ans, x: g * (1 + ans * ans) * _DEG)
    rule(sc.cotdg, lambda g, ans, x: -g * (1 + ans * ans) * _DEG)
    rule(sc.exp1, lambda g, ans, x: -g * conj(np.exp(-x) / x))
    rule(sc.expi, lambda g, ans, x: g * conj(np.exp(x) / x))
    # E_n' = -E_(n-1) = -(e^-x - (n - 1) E_n) / x by the recurrence: also for n = 0, where
    # scipy's expn(-1, x) would be nan.
    rule(sc.expn, _order_rule("expn"), lambda g, ans, n, x: -g * (np.exp(-x) - (n - 1) * ans) / x)
    rule(sc.dawsn, lambda g, ans, x: g * conj(1 - 2 * x * ans))
    rule(sc.erfi, lambda g, ans, x: g * conj(2 / _SQRT_PI * np.exp(x * x)))
    rule(sc.wrightomega, lambda g, ans, x: g * conj(ans / (1 + ans)))
    rule(sc.gammasgn, lambda g, ans, x: np.zeros_like(g))  # piecewise constant
    # Several outputs (here and below): ``_x_d(x)`` gives every output's derivative, the VJP
    # contracts them with the cotangents, the JVP scales them by the tangent. sici = (Si, Ci):
    # Si' = sin(x)/x (1 at 0, through sinc), Ci' = cos(x)/x; shichi likewise; fresnel = (S, C).
    # All three are holomorphic (complex z too).
    _outputs(sc.sici, _sici_d)
    _outputs(sc.shichi, _shichi_d)
    _outputs(sc.fresnel, _fresnel_d)
    rule(
        sc.powm1,
        lambda g, ans, x, y: g * y * np.power(x, y - 1),
        lambda g, ans, x, y: g * (ans + 1) * np.log(x),
    )
    rule(sc.boxcox1p, lambda g, ans, x, lmbda: g * np.power(1 + x, lmbda - 1), _boxcox1p_lmbda_vjp)
    rule(
        sc.inv_boxcox1p,
        lambda g, ans, y, lmbda: g * (ans + 1) / (lmbda * y + 1),
        _inv_boxcox1p_lmbda_vjp,
    )
    # --- elliptic integrals (m = k^2) ---------------------------------------------------------
    rule(sc.ellipk, _ellipk_vjp)
    rule(sc.ellipe, _ellipe_vjp)

    # --- modified Bessel functions of the second kind -----------------------------------------
    rule(sc.k0, lambda g, ans, x: -g * sc.k1(x))
    rule(sc.k1, lambda g, ans, x: -g * (sc.k0(x) + sc.kv(2.0, x)) / 2)
    rule(sc.k0e, lambda g, ans, x: g * (ans - sc.k1e(x)))
    rule(sc.k1e, lambda g, ans, x: g * (ans - (sc.k0e(x) + sc.kve(2.0, x)) / 2))

    # --- distributions: derivatives in the variable are densities ---------------------------
    rule(sc.ndtri_exp, lambda g, ans, y: g * np.exp(y + ans * ans / 2 + _LOG_SQRT_2PI))
    rule(
        sc.gammaincinv,
        _raises("scipy.special.gammaincinv with respect to a"),
        lambda g, ans, a, y: g * np.exp(ans - (a - 1) * np.log(ans) + sc.gammaln(a)),
    )
    rule(
        sc.gammainccinv,
        _raises("scipy.special.gammainccinv with respect to a"),
        lambda g, ans, a, y: -g * np.exp(ans - (a - 1) * np.log(ans) + sc.gammaln(a)),
    )
    rule(
        sc.betainc,
        _raises("scipy.special.betainc with respect to a"),
        _raises("scipy.special.betainc with respect to b"),
        lambda g, ans, a, b, x: g * _beta_pdf(sc, a, b, x),
    )
    rule(
        sc.betaincc,
        _raises("scipy.special.betaincc with respect to a"),
        _raises("scipy.special.betaincc with respect to b"),
        lambda g, ans, a, b, x: -g * _beta_pdf(sc, a, b, x),
    )
    rule(
        sc.betaincinv,
        _raises("scipy.special.betaincinv with respect to a"),
        _raises("scipy.special.betaincinv with respect to b"),
        lambda g, ans, a, b, y: g / _beta_pdf(sc, a, b, ans),
    )
    rule(
        sc.stdtr,
        _raises("scipy.special.stdtr with respect to df"),
        lambda g, ans, df, t: g * _t_pdf(sc, df, t),
    )
    rule(
        sc.chdtr,
        _raises("scipy.special.chdtr with respect to v"),
        lambda g, ans, v, x: g * _chi2_pdf(sc, v, x),
    )
    rule(
        sc.chdtrc,
        _raises("scipy.special.chdtrc with respect to v"),
        lambda g, ans, v, x: -g * _chi2_pdf(sc, v, x),
    )
    # pdtr(k, m) = gammaincc(floor(k) + 1, m): the Poisson cdf in its mean m (scipy rounds the
    # count k down).
    rule(
        sc.pdtr,
        _raises("scipy.special.pdtr with respect to k"),
        lambda g, ans, k, m: -g * _poisson_pmf(sc, np.floor(k), m),
    )


def _register_stats_helpers(sc: Any) -> None:
    """Private ufuncs that ``scipy.stats`` computes densities and cdfs with (Boost)."""
    from scipy.special import _ufuncs

    def rule(func: Any, *rules: Any) -> None:
        defvjp(func, *rules, name=f"scipy.special._ufuncs.{func.__name__}")

    # beta.pdf: p = x^(a-1) (1-x)^(b-1) / B(a, b).
    rule(
        _ufuncs._beta_pdf,
        lambda g, ans, x, a, b: g * ans * ((a - 1) / x - (b - 1) / (1 - x)),
        lambda g, ans, x, a, b: g * ans * (np.log(x) - sc.psi(a) + sc.psi(a + b)),
        lambda g, ans, x, a, b: g * ans * (np.log1p(-x) - sc.psi(b) + sc.psi(a + b)),
    )
    # skewnorm.cdf: F = Phi(z) - 2 T(z, a) with z = (x - loc) / scale and Owen's T; dF/dz is
    # the density 2 phi(z) Phi(a z), and dF/da = -exp(-z^2 (1 + a^2) / 2) / (pi (1 + a^2)).
    # The rules do not use ``ans``: scipy.stats corrects the left tail of the result in place.
    rule(
        _ufuncs._skewnorm_cdf,
        lambda g, ans, x, loc, scale, a: g * _skewnorm_density(sc, x, loc, scale, a) / scale,
        lambda g, ans, x, loc, scale, a: -g * _skewnorm_density(sc, x, loc, scale, a) / scale,
        lambda g, ans, x, loc, scale, a: (
            -g * _skewnorm_density(sc, x, loc, scale, a) * (x - loc) / scale**2
        ),
        lambda g, ans, x, loc, scale, a: (
            -g * np.exp(-0.5 * ((x - loc) / scale) ** 2 * (1 + a * a)) / (np.pi * (1 + a * a))
        ),
    )


def _skewnorm_density(sc: Any, x: Any, loc: Any, scale: Any, a: Any) -> Any:
    """2 phi(z) Phi(a z) at z = (x - loc) / scale: the standard skew-normal density."""
    z = (x - loc) / scale
    return 2 * np.exp(-0.5 * z * z) / (_SQRT_2 * _SQRT_PI) * sc.ndtr(a * z)


_SQRT_2 = 1.4142135623730951
_LOG_2 = 0.6931471805599453
_LOG_10 = 2.302585092994046
_DEG = 0.017453292519943295  # pi / 180


def _contract(g, derivs):
    """The VJP of a ufunc with several outputs from their derivatives: sum_k g_k conj(f_k')."""
    total = g[0] * conj(derivs[0])
    for gk, dk in zip(g[1:], derivs[1:], strict=True):
        total = total + gk * conj(dk)
    return total


def _scale(t, derivs):
    """Its JVP from the same derivatives: the tangent of output k is f_k' t."""
    return tuple(t * d for d in derivs)


def _outputs(func, derivs):
    """Rules for ``func(x)`` with several outputs, whose derivatives ``derivs(x)`` gives."""
    defvjp(func, lambda g, ans, x: _contract(g, derivs(x)), name=f"scipy.special.{func.__name__}")
    defjvp(func, lambda t, ans, x: _scale(t, derivs(x)))


def _sici_d(x):
    return np.sinc(x / np.pi), np.cos(x) / x


def _shichi_d(x):
    return _sinhc(x), np.cosh(x) / x


def _fresnel_d(z):
    return np.sin(np.pi / 2 * z * z), np.cos(np.pi / 2 * z * z)


def _sinhc(x):
    """sinh(x) / x, 1 at 0."""
    zero = x == 0
    safe = np.where(zero, 1.0, x)
    return np.where(zero, 1.0, np.sinh(safe) / safe)


def _beta_pdf(sc, a, b, x):
    return np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - sc.betaln(a, b))


def _t_pdf(sc, df, t):
    log_norm = sc.gammaln((df + 1) / 2) - sc.gammaln(df / 2) - 0.5 * np.log(np.pi * df)
    return np.exp(log_norm - (df + 1) / 2 * np.log1p(t * t / df))


def _chi2_pdf(sc, v, x):
    return np.exp((v / 2 - 1) * np.log(x) - x / 2 - v / 2 * _LOG_2 - sc.gammaln(v / 2))


def _ellipk_vjp(g, ans, m):
    """K'(m), exact to second order at the removable singularity m = 0 (see ``_dellipk``)."""
    return g * _dellipk(m)


def _ellipe_vjp(g, ans, m):
    """E'(m) = (E - K) / (2 m); near m = 0 its Taylor polynomial -pi/8 - 3 pi m / 64."""
    import scipy.special as sc

    near = np.abs(m) < 1e-6
    safe = np.where(near, 0.5, m)
    general = (sc.ellipe(safe) - sc.ellipk(safe)) / (2 * safe)
    return g * np.where(near, -np.pi / 8 - 3 * np.pi / 64 * m, general)


def _boxcox1p_lmbda_vjp(g, ans, x, lmbda):
    """As for boxcox, with log1p(x) for log(x)."""
    log_x = np.log1p(x)
    zero = lmbda == 0
    safe = np.where(zero, 1.0, lmbda)
    general = (np.power(1 + x, safe) * log_x - ans) / safe
    return g * np.where(zero, log_x * log_x / 2, general)


def _inv_boxcox1p_lmbda_vjp(g, ans, y, lmbda):
    """As for inv_boxcox: inv_boxcox1p is inv_boxcox minus one."""
    zero = lmbda == 0
    safe = np.where(zero, 1.0, lmbda)
    general = (ans + 1) * (y / (safe * (safe * y + 1)) - np.log1p(safe * y) / (safe * safe))
    return g * np.where(zero, -(ans + 1) * y * y / 2, general)


def _hypot1(t):
    """sqrt(1 + t^2), the factor pseudo_huber's derivatives share."""
    return np.sqrt(1 + t * t)


def _boxcox_lmbda_vjp(g, ans, x, lmbda):
    """d/dl = (x^l log x - boxcox(x, l)) / l; its limit at l = 0 is log(x)^2 / 2."""
    log_x = np.log(x)
    zero = lmbda == 0
    safe = np.where(zero, 1.0, lmbda)
    general = (np.power(x, safe) * log_x - ans) / safe
    return g * np.where(zero, log_x * log_x / 2, general)


def _inv_boxcox_lmbda_vjp(g, ans, y, lmbda):
    """d/dl = ans (y / (l (l y + 1)) - log1p(l y) / l^2); its limit at l = 0 is -ans y^2 / 2."""
    zero = lmbda == 0
    safe = np.where(zero, 1.0, lmbda)
    general = ans * (y / (safe * (safe * y + 1)) - np.log1p(safe * y) / (safe * safe))
    return g * np.where(zero, -ans * y * y / 2, general)


def _register_remaining(sc: Any) -> None:
    """The rest of ``scipy.special``: hypergeometric, elliptic, Struve, Kelvin, Airy, parabolic
    cylinder and Mathieu functions, orthogonal polynomials, and the distribution functions."""
    from scipy.special import _ufuncs

    def rule(func: Any, *rules: Any) -> None:
        defvjp(func, *rules, name=f"scipy.special.{func.__name__}")

    def refuse(func: Any, argument: str) -> Any:
        return _raises(f"scipy.special.{func.__name__} with respect to {argument}")

    # --- hypergeometric functions (in the variable; the parameters have no closed form) ------
    # Each derivative raises the parameters by one: d/dz 2F1(a, b; c; z) = ab/c 2F1(a+1, b+1;
    # c+1; z). 2F1 has a branch cut on [1, inf) and is singular at z = 1.
    rule(
        sc.hyp2f1,
        refuse(sc.hyp2f1, "a"),
        refuse(sc.hyp2f1, "b"),
        refuse(sc.hyp2f1, "c"),
        lambda g, ans, a, b, c, z: g * conj(a * b / c * sc.hyp2f1(a + 1, b + 1, c + 1, z)),
    )
    rule(
        sc.hyp1f1,
        refuse(sc.hyp1f1, "a"),
        refuse(sc.hyp1f1, "b"),
        lambda g, ans, a, b, x: g * conj(a / b * sc.hyp1f1(a + 1, b + 1, x)),
    )
    rule(
        sc.hyp0f1,
        refuse(sc.hyp0f1, "v"),
        lambda g, ans, v, z: g * conj(sc.hyp0f1(v + 1, z) / v),
    )
    rule(
        sc.hyperu,
        refuse(sc.hyperu, "a"),
        refuse(sc.hyperu, "b"),
        lambda g, ans, a, b, x: -g * a * sc.hyperu(a + 1, b + 1, x),
    )
    # Wright's Phi(a, b; x) = sum x^k / (k! Gamma(a k + b)): d/dx Phi(a, b; x) = Phi(a, a + b; x).
    rule(
        sc.wright_bessel,
        refuse(sc.wright_bessel, "a"),
        refuse(sc.wright_bessel, "b"),
        lambda g, ans, a, b, x: g * sc.wright_bessel(a, a + b, x),
    )
    rule(
        sc.log_wright_bessel,
        refuse(sc.log_wright_bessel, "a"),
        refuse(sc.log_wright_bessel, "b"),
        lambda g, ans, a, b, x: g * np.exp(sc.log_wright_bessel(a, a + b, x) - ans),
    )

    # --- elliptic integrals and functions (parameter m = k^2; domain m < 1) -------------------
    rule(sc.ellipkm1, _ellipkm1_vjp)
    rule(sc.ellipkinc, _ellipkinc_phi_vjp, _ellipkinc_m_vjp)
    rule(sc.ellipeinc, _ellipeinc_phi_vjp, _ellipeinc_m_vjp)
    rule(
        sc.ellipj,
        lambda g, ans, u, m: _contract(g, _ellipj_u_d(u, m)),
        lambda g, ans, u, m: _contract(g, _ellipj_m_d(u, m)),
    )
    defjvp(
        sc.ellipj,
        lambda t, ans, u, m: _scale(t, _ellipj_u_d(u, m)),
        lambda t, ans, u, m: _scale(t, _ellipj_m_d(u, m)),
    )
    # Carlson's symmetric integrals: dR_F/dz = -R_D(x, y, z) / 6 (R_D is symmetric in its first
    # two arguments, and the other partials follow by symmetry); R_C(x, y) = R_F(x, y, y);
    # dR_G/dz = R_F / 4 - z R_D(x, y, z) / 12. R_D and R_J's own derivatives need Carlson
    # integrals scipy.special does not have: they have no rule, so they raise, and so do second
    # derivatives here.
    rule(
        sc.elliprf,
        lambda g, ans, x, y, z: -g * conj(sc.elliprd(y, z, x)) / 6,
        lambda g, ans, x, y, z: -g * conj(sc.elliprd(z, x, y)) / 6,
        lambda g, ans, x, y, z: -g * conj(sc.elliprd(x, y, z)) / 6,
    )
    rule(
        sc.elliprc,
        lambda g, ans, x, y: -g * conj(sc.elliprd(y, y, x)) / 6,
        lambda g, ans, x, y: -g * conj(sc.elliprd(x, y, y)) / 3,
    )
    rule(
        sc.elliprg,
        lambda g, ans, x, y, z: g * conj(sc.elliprf(x, y, z) / 4 - x * sc.elliprd(y, z, x) / 12),
        lambda g, ans, x, y, z: g * conj(sc.elliprf(x, y, z) / 4 - y * sc.elliprd(z, x, y) / 12),
        lambda g, ans, x, y, z: g * conj(sc.elliprf(x, y, z) / 4 - z * sc.elliprd(x, y, z) / 12),
    )
    rule(sc.agm, _agm_a_vjp, _agm_b_vjp)

    # --- Bessel functions: integer orders, exponentially scaled, Hankel -----------------------
    rule(
        sc.kn,
        refuse(sc.kn, "its order"),
        lambda g, ans, n, x: -g * (sc.kv(n - 1, x) + sc.kv(n + 1, x)) / 2,
    )
    rule(
        sc.yn,
        refuse(sc.yn, "its order"),
        lambda g, ans, n, x: g * (sc.yv(n - 1, x) - sc.yv(n + 1, x)) / 2,
    )
    # jve = jv exp(-|Im z|) is not holomorphic: a complex argument raises. For real z it is jv.
    rule(sc.jve, _order_rule("jve"), _real_only("jve", _jve_z_vjp))
    rule(sc.yve, _order_rule("yve"), _real_only("yve", _yve_z_vjp))
    # Hankel functions (complex z): H' = (H_(v-1) - H_(v+1)) / 2, and the scaled ones
    # hankel1e = H1 exp(-iz), hankel2e = H2 exp(iz) add the exponential's term.
    rule(
        sc.hankel1,
        _order_rule("hankel1"),
        lambda g, ans, v, z: g * conj(sc.hankel1(v - 1, z) - sc.hankel1(v + 1, z)) / 2,
    )
    rule(
        sc.hankel2,
        _order_rule("hankel2"),
        lambda g, ans, v, z: g * conj(sc.hankel2(v - 1, z) - sc.hankel2(v + 1, z)) / 2,
    )
    rule(
        sc.hankel1e,
        _order_rule("hankel1e"),
        lambda g, ans, v, z: (
            g * conj((sc.hankel1e(v - 1, z) - sc.hankel1e(v + 1, z)) / 2 - 1j * ans)
        ),
    )
    rule(
        sc.hankel2e,
        _order_rule("hankel2e"),
        lambda g, ans, v, z: (
            g * conj((sc.hankel2e(v - 1, z) - sc.hankel2e(v + 1, z)) / 2 + 1j * ans)
        ),
    )
    # Integrals of Bessel functions: the integrands. it2i0k0 = (int_0^x (I0(t) - 1)/t dt,
    # int_x^inf K0(t)/t dt); it2j0y0 likewise with 1 - J0 and Y0. Domain x > 0.
    # (Several outputs: see sici.)
    for func, derivs in (
        (sc.iti0k0, lambda x: (sc.i0(x), sc.k0(x))),
        (sc.itj0y0, lambda x: (sc.j0(x), sc.y0(x))),
        (sc.it2i0k0, lambda x: ((sc.i0(x) - 1) / x, -sc.k0(x) / x)),
        (sc.it2j0y0, lambda x: ((1 - sc.j0(x)) / x, -sc.y0(x) / x)),
    ):
        _outputs(func, derivs)

    # besselpoly(a, l, v) = int_0^1 x^l J_v(2 a x) dx: d/da through J_v' = (J_(v-1) - J_(v+1))/2.
    rule(
        sc.besselpoly,
        lambda g, ans, a, lmb, nu: (
            g * (sc.besselpoly(a, lmb + 1, nu - 1) - sc.besselpoly(a, lmb + 1, nu + 1))
        ),
        refuse(sc.besselpoly, "lmb"),
        refuse(sc.besselpoly, "nu"),
    )

    # --- Struve functions (in x; domain x > 0) -------------------------------------------------
    # 2 H_v' = H_(v-1) - H_(v+1) + (x/2)^v / (sqrt(pi) Gamma(v + 3/2)) (DLMF 11.4.24), and
    # 2 L_v' = L_(v-1) + L_(v+1) + the same term: no division by x.
    rule(
        sc.struve,
        _order_rule("struve"),
        lambda g, ans, v, x: (
            g * (sc.struve(v - 1, x) - sc.struve(v + 1, x) + _struve_term(sc, v, x)) / 2
        ),
    )
    rule(
        sc.modstruve,
        _order_rule("modstruve"),
        lambda g, ans, v, x: (
            g * (sc.modstruve(v - 1, x) + sc.modstruve(v + 1, x) + _struve_term(sc, v, x)) / 2
        ),
    )
    rule(sc.itstruve0, lambda g, ans, x: g * sc.struve(0.0, x))
    rule(sc.it2struve0, lambda g, ans, x: -g * sc.struve(0.0, x) / x)
    rule(sc.itmodstruve0, lambda g, ans, x: g * sc.modstruve(0.0, x))

    # --- Kelvin functions (real x; ker, kei and kelvin need x > 0) -----------------------------
    # ber + i bei = J0(x e^(3 pi i / 4)) gives ber'' = -bei - ber'/x, bei'' = ber - bei'/x, and
    # the same for ker, kei. At x = 0, ber'/x -> 0 and bei'/x -> 1/2.
    rule(sc.ber, lambda g, ans, x: g * sc.berp(x))
    rule(sc.bei, lambda g, ans, x: g * sc.beip(x))
    rule(sc.ker, lambda g, ans, x: g * sc.kerp(x))
    rule(sc.kei, lambda g, ans, x: g * sc.keip(x))
    rule(sc.berp, lambda g, ans, x: g * (-sc.bei(x) - _over_x(ans, x, 0.0)))
    rule(sc.beip, lambda g, ans, x: g * (sc.ber(x) - _over_x(ans, x, 0.5)))
    rule(sc.kerp, lambda g, ans, x: g * (-sc.kei(x) - ans / x))
    rule(sc.keip, lambda g, ans, x: g * (sc.ker(x) - ans / x))
    _outputs(sc.kelvin, _kelvin_d)

    # --- Airy functions --------------------------------------------------------------------------
    # Ai'' = z Ai, Bi'' = z Bi. airye scales by exp(+-Re(2/3 z^(3/2))), not holomorphic: real x.
    _outputs(sc.airy, _airy_d)
    rule(sc.airye, _real_only("airye", lambda g, ans, x: _contract(g, _airye_d(x))))
    defjvp(sc.airye, _real_only("airye", lambda t, ans, x: _scale(t, _airye_d(x))))
    # itairy(x) = (int_0^x Ai, int_0^x Bi, int_0^x Ai(-t), int_0^x Bi(-t)); x >= 0.
    _outputs(sc.itairy, _itairy_d)

    # --- Fresnel integrals -----------------------------------------------------------------------
    # F+(x) = int_x^inf exp(i t^2) dt, K+ = F+ exp(-i (x^2 + pi/4)) / sqrt(pi); F-, K- conjugate.
    _outputs(sc.modfresnelp, _modfresnel_d(1.0))
    _outputs(sc.modfresnelm, _modfresnel_d(-1.0))

    # --- parabolic cylinder and Mathieu functions (in x; orders and q raise) -------------------
    # D_v and V_v solve y'' = (x^2/4 - v - 1/2) y; W(a, x) solves y'' = (a - x^2/4) y. Each
    # returns (y, y'), so the rule of y' is y''.
    for func, param, potential in (
        (sc.pbdv, _order_rule("pbdv"), lambda v, x: x * x / 4 - v - 0.5),
        (sc.pbvv, _order_rule("pbvv"), lambda v, x: x * x / 4 - v - 0.5),
        (sc.pbwa, refuse(sc.pbwa, "a"), lambda a, x: a - x * x / 4),
    ):
        vjp, jvp = _second_order_rules(func, potential)
        rule(func, param, vjp)
        defjvp(func, param, jvp)
    # Mathieu functions take x in degrees and return the derivative in radians: ce'' =
    # (2q cos 2x - a) ce (a = mathieu_a, or mathieu_b for se), Mc'' = (a - 2q cosh 2x) Mc for
    # the modified (radial) ones, whose x is not in degrees.
    for func, char, modified in (
        (sc.mathieu_cem, sc.mathieu_a, False),
        (sc.mathieu_sem, sc.mathieu_b, False),
        (sc.mathieu_modcem1, sc.mathieu_a, True),
        (sc.mathieu_modcem2, sc.mathieu_a, True),
        (sc.mathieu_modsem1, sc.mathieu_b, True),
        (sc.mathieu_modsem2, sc.mathieu_b, True),
    ):
        vjp, jvp = _mathieu_rules(func, char, modified)
        rule(func, refuse(func, "m"), refuse(func, "q"), vjp)
        defjvp(func, refuse(func, "m"), refuse(func, "q"), jvp)

    # --- orthogonal polynomials (in x; the degree and the parameters raise) --------------------
    # Through Gegenbauer: P_n' = C_(n-1)^(3/2), U_n' = 2 C_(n-1)^(2), C_n^(a)' = 2a C_(n-1)^(a+1);
    # T_n' = n U_(n-1), H_n' = 2n H_(n-1), He_n' = n He_(n-1), L_n^(a)' = -L_(n-1)^(a+1),
    # P_n^(a,b)' = (n + a + b + 1)/2 P_(n-1)^(a+1,b+1). Degree 0 gives zero (scipy's degree -1
    # Hermite polynomials are NaN: hence the np.maximum there). The degree may be non-integer
    # for most families (scipy continues them through hyp2f1), and the formulas hold there too.
    rule(
        sc.eval_legendre,
        _order_rule("eval_legendre"),
        lambda g, ans, n, x: g * conj(_gegenbauer_d(sc, n, 1.5, x)),
    )
    rule(
        sc.eval_sh_legendre,
        _order_rule("eval_sh_legendre"),
        lambda g, ans, n, x: 2 * g * conj(_gegenbauer_d(sc, n, 1.5, 2 * x - 1)),
    )
    rule(
        sc.eval_chebyt,
        _order_rule("eval_chebyt"),
        lambda g, ans, n, x: g * conj(n * sc.eval_chebyu(n - 1, x)),
    )
    rule(
        sc.eval_chebyu,
        _order_rule("eval_chebyu"),
        lambda g, ans, n, x: g * conj(2 * _gegenbauer_d(sc, n, 2.0, x)),
    )
    rule(
        sc.eval_chebyc,
        _order_rule("eval_chebyc"),
        lambda g, ans, n, x: g * conj(n * sc.eval_chebyu(n - 1, x / 2)),
    )
    rule(
        sc.eval_chebys,
        _order_rule("eval_chebys"),
        lambda g, ans, n, x: g * conj(_gegenbauer_d(sc, n, 2.0, x / 2)),
    )
    rule(
        sc.eval_sh_chebyt,
        _order_rule("eval_sh_chebyt"),
        lambda g, ans, n, x: 2 * g * conj(n * sc.eval_chebyu(n - 1, 2 * x - 1)),
    )
    rule(
        sc.eval_sh_chebyu,
        _order_rule("eval_sh_chebyu"),
        lambda g, ans, n, x: 4 * g * conj(_gegenbauer_d(sc, n, 2.0, 2 * x - 1)),
    )
    rule(
        sc.eval_gegenbauer,
        _order_rule("eval_gegenbauer"),
        refuse(sc.eval_gegenbauer, "alpha"),
        lambda g, ans, n, alpha, x: g * conj(2 * alpha * _gegenbauer_d(sc, n, alpha + 1, x)),
    )
    rule(
        sc.eval_jacobi,
        _order_rule("eval_jacobi"),
        refuse(sc.eval_jacobi, "alpha"),
        refuse(sc.eval_jacobi, "beta"),
        lambda g, ans, n, alpha, beta, x: g * conj(_jacobi_d(sc, n, alpha, beta, x)),
    )
    # G_n^(p,q)(x) = P_n^(p-q, q-1)(2x - 1) / binom(2n + p - 1, n).
    rule(
        sc.eval_sh_jacobi,
        _order_rule("eval_sh_jacobi"),
        refuse(sc.eval_sh_jacobi, "p"),
        refuse(sc.eval_sh_jacobi, "q"),
        lambda g, ans, n, p, q, x: (
            2 * g * conj(_jacobi_d(sc, n, p - q, q - 1, 2 * x - 1) / sc.binom(2 * n + p - 1, n))
        ),
    )
    rule(
        sc.eval_laguerre,
        _order_rule("eval_laguerre"),
        lambda g, ans, n, x: -g * conj(sc.eval_genlaguerre(n - 1, 1.0, x)),
    )
    rule(
        sc.eval_genlaguerre,
        _order_rule("eval_genlaguerre"),
        refuse(sc.eval_genlaguerre, "alpha"),
        lambda g, ans, n, alpha, x: -g * conj(sc.eval_genlaguerre(n - 1, alpha + 1, x)),
    )
    rule(
        sc.eval_hermite,
        _order_rule("eval_hermite"),
        lambda g, ans, n, x: 2 * g * n * sc.eval_hermite(np.maximum(n - 1, 0), x),
    )
    rule(
        sc.eval_hermitenorm,
        _order_rule("eval_hermitenorm"),
        lambda g, ans, n, x: g * n * sc.eval_hermitenorm(np.maximum(n - 1, 0), x),
    )
    # Associated Legendre (Ferrers) functions, |x| < 1 (DLMF 14.10.5):
    # (1 - x^2) dP_v^m/dx = (m + v) P_(v-1)^m - v x P_v^m.
    rule(
        sc.lpmv,
        refuse(sc.lpmv, "m"),
        refuse(sc.lpmv, "v"),
        lambda g, ans, m, v, x: g * ((m + v) * sc.lpmv(m, v - 1, x) - v * x * ans) / (1 - x * x),
    )

    # --- other special functions -----------------------------------------------------------------
    # spence(z) = int_1^z log(t) / (1 - t) dt: its derivative's removable singularity at z = 1
    # is replaced by its Taylor polynomial near 1 (exact to second order).
    rule(sc.spence, _spence_vjp)
    # wofz(z) = exp(-z^2) erfc(-iz): w' = -2 z w + 2i / sqrt(pi).
    rule(sc.wofz, lambda g, ans, z: g * conj(-2 * z * ans + 2j / _SQRT_PI))
    rule(sc.voigt_profile, _voigt_x_vjp, _voigt_sigma_vjp, _voigt_gamma_vjp)
    # Owen's T(h, a) = 1/(2 pi) int_0^a exp(-h^2 (1 + x^2) / 2) / (1 + x^2) dx.
    rule(
        sc.owens_t,
        lambda g, ans, h, a: -g * np.exp(-h * h / 2 - _LOG_SQRT_2PI) * sc.erf(a * h / _SQRT_2) / 2,
        lambda g, ans, h, a: g * np.exp(-h * h * (1 + a * a) / 2) / (2 * np.pi * (1 + a * a)),
    )
    # lambertw(z, k, tol) is a Python function calling this ufunc: W' = exp(-W) / (1 + W)
    # (1 at z = 0 on the principal branch; the branch point z = -1/e is singular).
    defvjp(
        _ufuncs._lambertw,
        lambda g, ans, z, k, tol: g * conj(np.exp(-ans) / (1 + ans)),
        None,  # the branch k is an integer
        _raises("scipy.special.lambertw with respect to tol"),
        name="scipy.special.lambertw",
    )
    # exprel(x) = (e^x - 1) / x: exprel' = (e^x - exprel) / x, by its Taylor series near 0.
    rule(sc.exprel, _exprel_vjp)
    rule(
        sc.binom,
        lambda g, ans, n, k: g * ans * (sc.psi(n + 1) - sc.psi(n - k + 1)),
        lambda g, ans, n, k: g * ans * (sc.psi(n - k + 1) - sc.psi(k + 1)),
    )
    rule(
        sc.radian,
        lambda g, ans, d, m, s: g * _DEG,
        lambda g, ans, d, m, s: g * (_DEG / 60),
        lambda g, ans, d, m, s: g * (_DEG / 3600),
    )
    rule(sc.round, lambda g, ans, x: zeros_of(g))  # piecewise constant

    # --- distributions: the variable, the probability, and location/scale ------------------------
    # Counts (k, n of the binomial family, k of the Poisson) are rounded down by scipy, so the
    # formulas use floor(k); a gradient with respect to a count raises. Inverses (the *dtri*)
    # differentiate by the implicit function theorem: dx/dp = 1 / (dF/dx) at x = ans.
    rule(
        sc.bdtr,
        refuse(sc.bdtr, "k"),
        refuse(sc.bdtr, "n"),
        lambda g, ans, k, n, p: -g * _beta_pdf(sc, n - np.floor(k), np.floor(k) + 1, 1 - p),
    )
    rule(
        sc.bdtrc,
        refuse(sc.bdtrc, "k"),
        refuse(sc.bdtrc, "n"),
        lambda g, ans, k, n, p: g * _beta_pdf(sc, np.floor(k) + 1, n - np.floor(k), p),
    )
    rule(
        sc.bdtri,
        refuse(sc.bdtri, "k"),
        refuse(sc.bdtri, "n"),
        lambda g, ans, k, n, y: -g / _beta_pdf(sc, n - np.floor(k), np.floor(k) + 1, 1 - ans),
    )
    rule(
        sc.nbdtr,
        refuse(sc.nbdtr, "k"),
        refuse(sc.nbdtr, "n"),
        lambda g, ans, k, n, p: g * _beta_pdf(sc, np.floor(n), np.floor(k) + 1, p),
    )
    rule(
        sc.nbdtrc,
        refuse(sc.nbdtrc, "k"),
        refuse(sc.nbdtrc, "n"),
        lambda g, ans, k, n, p: -g * _beta_pdf(sc, np.floor(n), np.floor(k) + 1, p),
    )
    rule(
        sc.nbdtri,
        refuse(sc.nbdtri, "k"),
        refuse(sc.nbdtri, "n"),
        lambda g, ans, k, n, y: g / _beta_pdf(sc, np.floor(n), np.floor(k) + 1, ans),
    )
    rule(
        sc.pdtrc,
        refuse(sc.pdtrc, "k"),
        lambda g, ans, k, m: g * _poisson_pmf(sc, np.floor(k), m),
    )
    rule(
        sc.pdtri,
        refuse(sc.pdtri, "k"),
        lambda g, ans, k, y: -g / _poisson_pmf(sc, np.floor(k), ans),
    )
    rule(
        sc.betainccinv,
        refuse(sc.betainccinv, "a"),
        refuse(sc.betainccinv, "b"),
        lambda g, ans, a, b, y: -g / _beta_pdf(sc, a, b, ans),
    )
    rule(
        sc.chdtri,
        refuse(sc.chdtri, "v"),
        lambda g, ans, v, p: -g / _chi2_pdf(sc, v, ans),
    )
    rule(
        sc.stdtrit,
        refuse(sc.stdtrit, "df"),
        lambda g, ans, df, p: g / _t_pdf(sc, df, ans),
    )
    # gdtr(a, b, x) = gammainc(b, a x): rate a, shape b.
    rule(
        sc.gdtr,
        lambda g, ans, a, b, x: g * x * _gamma_pdf(sc, b, a * x),
        refuse(sc.gdtr, "b"),
        lambda g, ans, a, b, x: g * a * _gamma_pdf(sc, b, a * x),
    )
    rule(
        sc.gdtrc,
        lambda g, ans, a, b, x: -g * x * _gamma_pdf(sc, b, a * x),
        refuse(sc.gdtrc, "b"),
        lambda g, ans, a, b, x: -g * a * _gamma_pdf(sc, b, a * x),
    )
    # gdtrix(a, b, p) = gammaincinv(b, p) / a; gdtria(p, b, x) = gammaincinv(b, p) / x.
    rule(
        sc.gdtrix,
        lambda g, ans, a, b, p: -g * ans / a,
        refuse(sc.gdtrix, "b"),
        lambda g, ans, a, b, p: g / (a * _gamma_pdf(sc, b, a * ans)),
    )
    rule(
        sc.gdtria,
        lambda g, ans, p, b, x: g / (x * _gamma_pdf(sc, b, ans * x)),
        refuse(sc.gdtria, "b"),
        lambda g, ans, p, b, x: -g * ans / x,
    )
    rule(
        sc.fdtr,
        refuse(sc.fdtr, "dfn"),
        refuse(sc.fdtr, "dfd"),
        lambda g, ans, dfn, dfd, x: g * _f_pdf(sc, dfn, dfd, x),
    )
    rule(
        sc.fdtrc,
        refuse(sc.fdtrc, "dfn"),
        refuse(sc.fdtrc, "dfd"),
        lambda g, ans, dfn, dfd, x: -g * _f_pdf(sc, dfn, dfd, x),
    )
    rule(
        sc.fdtri,
        refuse(sc.fdtri, "dfn"),
        refuse(sc.fdtri, "dfd"),
        lambda g, ans, dfn, dfd, p: g / _f_pdf(sc, dfn, dfd, ans),
    )
    # nrdtrimn(p, std, x) = x - std ndtri(p); nrdtrisd(mn, p, x) = (x - mn) / ndtri(p).
    rule(
        sc.nrdtrimn,
        lambda g, ans, p, std, x: -g * std * np.exp(((x - ans) / std) ** 2 / 2 + _LOG_SQRT_2PI),
        lambda g, ans, p, std, x: -g * (x - ans) / std,
        lambda g, ans, p, std, x: g,
    )
    rule(
        sc.nrdtrisd,
        lambda g, ans, mn, p, x: -g * ans / (x - mn),
        lambda g, ans, mn, p, x: (
            -g * ans * ans / (x - mn) * np.exp(((x - mn) / ans) ** 2 / 2 + _LOG_SQRT_2PI)
        ),
        lambda g, ans, mn, p, x: g * ans / (x - mn),
    )
    # Noncentral chi-square: dF/dx is the density; dF/dnc = (F(x; df + 2, nc) - F(x; df, nc))/2
    # (the Poisson mixture's weights shift by one). Second derivatives in x raise: scipy's
    # density (_ncx2_pdf) has no rule.
    rule(
        sc.chndtr,
        lambda g, ans, x, df, nc: g * _ufuncs._ncx2_pdf(x, df, nc),
        refuse(sc.chndtr, "df"),
        lambda g, ans, x, df, nc: g * (sc.chndtr(x, df + 2, nc) - ans) / 2,
    )
    rule(
        sc.chndtrix,
        lambda g, ans, p, df, nc: g / _ufuncs._ncx2_pdf(ans, df, nc),
        refuse(sc.chndtrix, "df"),
        lambda g, ans, p, df, nc: (
            -g * (sc.chndtr(ans, df + 2, nc) - p) / (2 * _ufuncs._ncx2_pdf(ans, df, nc))
        ),
    )
    rule(
        sc.chndtrinc,
        lambda g, ans, x, df, p: (
            -2 * g * _ufuncs._ncx2_pdf(x, df, ans) / (sc.chndtr(x, df + 2, ans) - p)
        ),
        refuse(sc.chndtrinc, "df"),
        lambda g, ans, x, df, p: 2 * g / (sc.chndtr(x, df + 2, ans) - p),
    )
    rule(
        sc.nctdtrit,
        refuse(sc.nctdtrit, "df"),
        refuse(sc.nctdtrit, "nc"),
        lambda g, ans, df, nc, p: g / _ufuncs._nct_pdf(ans, df, nc),
    )
    rule(
        sc.ncfdtri,
        refuse(sc.ncfdtri, "dfn"),
        refuse(sc.ncfdtri, "dfd"),
        refuse(sc.ncfdtri, "nc"),
        lambda g, ans, dfn, dfd, nc, p: g / _ufuncs._ncf_pdf(ans, dfn, dfd, nc),
    )
    rule(
        sc.nctdtr,
        refuse(sc.nctdtr, "df"),
        refuse(sc.nctdtr, "nc"),
        lambda g, ans, df, nc, t: g * _ufuncs._nct_pdf(t, df, nc),
    )
    rule(
        sc.ncfdtr,
        refuse(sc.ncfdtr, "dfn"),
        refuse(sc.ncfdtr, "dfd"),
        refuse(sc.ncfdtr, "nc"),
        lambda g, ans, dfn, dfd, nc, f: g * _ufuncs._ncf_pdf(f, dfn, dfd, nc),
    )
    # Kolmogorov and Smirnov survival functions: scipy's own derivative (_kolmogp, _smirnovp),
    # which has no rule itself (second derivatives raise).
    rule(sc.kolmogorov, lambda g, ans, y: g * _ufuncs._kolmogp(y))
    rule(sc.kolmogi, lambda g, ans, p: g / _ufuncs._kolmogp(ans))
    rule(
        sc.smirnov,
        refuse(sc.smirnov, "n"),
        lambda g, ans, n, d: g * _ufuncs._smirnovp(n, d),
    )
    rule(
        sc.smirnovi,
        refuse(sc.smirnovi, "n"),
        lambda g, ans, n, p: g / _ufuncs._smirnovp(n, ans),
    )
    # Tukey lambda cdf F = Q^-1 with Q(p) = (p^l - (1 - p)^l) / l: dF/dx = 1 / Q'(F).
    rule(
        sc.tklmbda,
        lambda g, ans, x, lmbda: g / (ans ** (lmbda - 1) + (1 - ans) ** (lmbda - 1)),
        refuse(sc.tklmbda, "lmbda"),
    )


def _real_only(name: str, rule: Any) -> Any:
    """``rule`` for a real argument; a complex one raises (the function is not holomorphic)."""

    def real_rule(g, ans, v, z=None):
        if is_complex(z if z is not None else v):
            raise not_differentiable(
                f"scipy.special.{name} of a complex argument",
                "its exponential scaling uses |Re z| or |Im z|, which is not holomorphic",
            )
        return rule(g, ans, v) if z is None else rule(g, ans, v, z)

    return real_rule


def _jve_z_vjp(g, ans, v, z):
    """For real z, jve = jv."""
    import scipy.special as sc

    return g * (sc.jve(v - 1, z) - sc.jve(v + 1, z)) / 2


def _yve_z_vjp(g, ans, v, z):
    """For real z, yve = yv."""
    import scipy.special as sc

    return g * (sc.yve(v - 1, z) - sc.yve(v + 1, z)) / 2


def _struve_term(sc, v, x):
    """(x/2)^v / (sqrt(pi) Gamma(v + 3/2)), the term Struve's recurrences add to Bessel's."""
    return np.power(x / 2, v) * sc.rgamma(v + 1.5) / _SQRT_PI


def _over_x(y, x, at_zero):
    """y / x, and ``at_zero`` (the limit) where x == 0."""
    zero = x == 0
    return np.where(zero, at_zero, y / np.where(zero, 1.0, x))


def _kelvin_d(x):
    """kelvin = (Be, Ke, Be', Ke') with Be = ber + i bei: Be'' = i Be - Be'/x, and so Ke."""
    import scipy.special as sc

    be, ke, bep, kep = sc.kelvin(x)
    return bep, kep, 1j * be - bep / x, 1j * ke - kep / x


def _airy_d(z):
    """(Ai, Ai', Bi, Bi') with Ai'' = z Ai and Bi'' = z Bi."""
    import scipy.special as sc

    ai, aip, bi, bip = sc.airy(z)
    return aip, z * ai, bip, z * bi


def _airye_d(x):
    """eAi = Ai exp(2/3 x^(3/2)), eBi = Bi exp(-2/3 x^(3/2)) for x > 0 (eBi = Bi for x < 0)."""
    import scipy.special as sc

    eai, eaip, ebi, ebip = sc.airye(x)
    s = np.sqrt(np.maximum(x, 0.0))
    return eaip + s * eai, x * eai + s * eaip, ebip - s * ebi, x * ebi - s * ebip


def _itairy_d(x):
    """The integrands: (Ai(x), Bi(x), Ai(-x), Bi(-x))."""
    import scipy.special as sc

    ai, _, bi, _ = sc.airy(x)
    ain, _, bin_, _ = sc.airy(-x)
    return ai, bi, ain, bin_


def _modfresnel_d(sign):
    """sign +1: (F+, K+); -1: (F-, K-), where F' = -exp(+-i x^2) and
    K' = -exp(-+i pi/4) / sqrt(pi) -+ 2i x K."""

    def derivs(x):
        import scipy.special as sc

        _, k = (sc.modfresnelp if sign > 0 else sc.modfresnelm)(x)
        df = -np.exp(sign * 1j * x * x)
        dk = -np.exp(-sign * 1j * np.pi / 4) / _SQRT_PI - sign * 2j * x * k
        return df, dk

    return derivs


def _second_order_rules(func, potential):
    """(VJP, JVP) in x of ``func(v, x) = (y, y')`` where y solves y'' = potential(v, x) y."""

    def derivs(v, x):
        y, yp = func(v, x)
        return yp, potential(v, x) * y

    def vjp(g, ans, v, x):
        return _contract(g, derivs(v, x))

    def jvp(t, ans, v, x):
        return _scale(t, derivs(v, x))

    return vjp, jvp


def _mathieu_rules(func, characteristic, modified):
    """(VJP, JVP) in x of ``func(m, q, x) = (y, y')``. In degrees (ce, se): y' is in radians,
    y'' = (2q cos 2x - a) y and d/dx_deg = pi/180 d/dx_rad. The modified (radial) ones take
    x as is: y'' = (a - 2q cosh 2x) y."""

    def derivs(m, q, x):
        y, yp = func(m, q, x)
        if modified:
            return yp, (characteristic(m, q) - 2 * q * np.cosh(2 * x)) * y
        ypp = (2 * q * np.cos(2 * x * _DEG) - characteristic(m, q)) * y
        return yp * _DEG, ypp * _DEG

    def vjp(g, ans, m, q, x):
        return _contract(g, derivs(m, q, x))

    def jvp(t, ans, m, q, x):
        return _scale(t, derivs(m, q, x))

    return vjp, jvp


def _gegenbauer_d(sc, n, alpha, x):
    """C_(n-1)^(alpha) (x), and 0 for n = 0: the derivative's building block."""
    return np.where(n == 0, 0.0, sc.eval_gegenbauer(n - 1, alpha, x))


def _jacobi_d(sc, n, alpha, beta, x):
    """d/dx P_n^(alpha, beta)(x) = (n + alpha + beta + 1) / 2 P_(n-1)^(alpha+1, beta+1)(x)."""
    lower = sc.eval_jacobi(n - 1, alpha + 1, beta + 1, x)
    return np.where(n == 0, 0.0, (n + alpha + beta + 1) / 2 * lower)


def _spence_vjp(g, ans, z):
    """log(z) / (1 - z); near z = 1 its Taylor polynomial -1 + w/2 - w^2/3 + w^3/4, w = z - 1."""
    w = z - 1
    near = np.abs(w) < 1e-3
    safe = np.where(near, 2.0, z)
    general = np.log(safe) / (1 - safe)
    taylor = -1 + w / 2 - w * w / 3 + w * w * w / 4
    return g * conj(np.where(near, taylor, general))


def _exprel_vjp(g, ans, x):
    """(e^x - exprel(x)) / x; near 0 its Taylor polynomial 1/2 + x/3 + x^2/8 + x^3/30 + x^4/144."""
    near = np.abs(x) < 1e-2
    safe = np.where(near, 1.0, x)
    general = (np.exp(safe) - ans) / safe
    taylor = 0.5 + x * (1 / 3 + x * (1 / 8 + x * (1 / 30 + x / 144)))
    return g * np.where(near, taylor, general)


def _voigt_w(x, sigma, gamma):
    """z = (x + i gamma) / (sigma sqrt 2) and w'(z) = -2 z w(z) + 2i / sqrt(pi)."""
    import scipy.special as sc

    z = (x + 1j * gamma) / (sigma * _SQRT_2)
    return z, -2 * z * sc.wofz(z) + 2j / _SQRT_PI


# voigt_profile = Re w(z) / (sigma sqrt(2 pi)) with z as above; domain sigma > 0 (any gamma).
def _voigt_x_vjp(g, ans, x, sigma, gamma):
    _, dw = _voigt_w(x, sigma, gamma)
    return g * np.real(dw) / (2 * _SQRT_PI * sigma * sigma)


def _voigt_sigma_vjp(g, ans, x, sigma, gamma):
    z, dw = _voigt_w(x, sigma, gamma)
    return g * (-ans / sigma - np.real(z * dw) / (_SQRT_2 * _SQRT_PI * sigma * sigma))


def _voigt_gamma_vjp(g, ans, x, sigma, gamma):
    _, dw = _voigt_w(x, sigma, gamma)
    return -g * np.imag(dw) / (2 * _SQRT_PI * sigma * sigma)


def _dellipk(m):
    """K'(m) = (E - (1 - m) K) / (2 m (1 - m)); near m = 0 its Taylor polynomial
    pi/8 + 9 pi m / 64 (the removable singularity at 0)."""
    import scipy.special as sc

    near = np.abs(m) < 1e-6
    safe = np.where(near, 0.5, m)
    general = (sc.ellipe(safe) - (1 - safe) * sc.ellipk(safe)) / (2 * safe * (1 - safe))
    return np.where(near, np.pi / 8 + 9 * np.pi / 64 * m, general)


def _ellipkm1_vjp(g, ans, p):
    """ellipkm1(p) = K(1 - p); K' in terms of ellipkm1 itself, exact near p = 0."""
    import scipy.special as sc

    near = np.abs(1 - p) < 1e-6
    safe = np.where(near, 0.5, p)
    general = (sc.ellipe(1 - safe) - safe * sc.ellipkm1(safe)) / (2 * safe * (1 - safe))
    return -g * np.where(near, np.pi / 8 + 9 * np.pi / 64 * (1 - p), general)


def _ellipkinc_phi_vjp(g, ans, phi, m):
    return g / np.sqrt(1 - m * np.sin(phi) ** 2)


def _ellipkinc_m_vjp(g, ans, phi, m):
    """dF/dm = (E - (1 - m) F) / (2 m (1 - m)) - sin(2 phi) / (4 (1 - m) sqrt(1 - m sin^2 phi));
    near m = 0, where the first term cancels, the Taylor polynomial
    int_0^phi (s^2/2 + 3 m s^4/4 + 15 m^2 s^6/16), s = sin."""
    import scipy.special as sc

    near = np.abs(m) < 1e-4
    safe = np.where(near, 0.5, m)
    delta = np.sqrt(1 - safe * np.sin(phi) ** 2)
    e, f = sc.ellipeinc(phi, safe), sc.ellipkinc(phi, safe)
    general = (e - (1 - safe) * f) / (2 * safe * (1 - safe)) - np.sin(2 * phi) / (
        4 * (1 - safe) * delta
    )
    taylor = _sin_power_integral(phi, 2) / 2 + m * (
        3 * _sin_power_integral(phi, 4) / 4 + 15 * m * _sin_power_integral(phi, 6) / 16
    )
    return g * np.where(near, taylor, general)


def _ellipeinc_phi_vjp(g, ans, phi, m):
    return g * np.sqrt(1 - m * np.sin(phi) ** 2)


def _ellipeinc_m_vjp(g, ans, phi, m):
    """dE/dm = (E - F) / (2 m); near m = 0 -int_0^phi (s^2/2 + m s^4/4 + 3 m^2 s^6/16)."""
    import scipy.special as sc

    near = np.abs(m) < 1e-4
    safe = np.where(near, 0.5, m)
    general = (sc.ellipeinc(phi, safe) - sc.ellipkinc(phi, safe)) / (2 * safe)
    taylor = -_sin_power_integral(phi, 2) / 2 - m * (
        _sin_power_integral(phi, 4) / 4 + 3 * m * _sin_power_integral(phi, 6) / 16
    )
    return g * np.where(near, taylor, general)


def _sin_power_integral(phi, n):
    """int_0^phi sin^n for n = 2, 4, 6."""
    s2, s4, s6 = np.sin(2 * phi), np.sin(4 * phi), np.sin(6 * phi)
    if n == 2:
        return phi / 2 - s2 / 4
    if n == 4:
        return 3 * phi / 8 - s2 / 4 + s4 / 32
    return 5 * phi / 16 - 15 * s2 / 64 + 3 * s4 / 64 - s6 / 192


def _ellipj_u_d(u, m):
    """(sn, cn, dn, ph)' = (cn dn, -sn dn, -m sn cn, dn)."""
    import scipy.special as sc

    sn, cn, dn, _ = sc.ellipj(u, m)
    return cn * dn, -sn * dn, -m * sn * cn, dn


def _ellipj_m_d(u, m):
    """ph = am(u|m) solves F(ph|m) = u, so dph/dm = -dn dF/dm; sn, cn, dn follow. Domain
    0 < m < 1: at m = 0 the closed form is 0/0 and the rule raises."""
    import scipy.special as sc

    if np.any(m == 0):
        raise not_differentiable(
            "scipy.special.ellipj with respect to m at m = 0",
            "the closed form is 0/0 there; differentiate at m > 0",
        )
    sn, cn, dn, ph = sc.ellipj(u, m)
    e = sc.ellipeinc(ph, m)
    dph = -dn * (e - (1 - m) * u) / (2 * m * (1 - m)) + sn * cn / (2 * (1 - m))
    dsn, dcn = cn * dph, -sn * dph
    ddn = -(sn * sn + 2 * m * sn * dsn) / (2 * dn)
    return dsn, dcn, ddn, dph


def _agm_t_vjp(a, b):
    """M(a, b) = a f(t), t = b/a, f(t) = pi / (2 K(1 - t^2)): returns (f(t), f'(t))."""
    import scipy.special as sc

    t = b / a
    k = sc.ellipk(1 - t * t)
    return np.pi / (2 * k), np.pi * t * _dellipk(1 - t * t) / (k * k)


def _agm_a_vjp(g, ans, a, b):
    f, df = _agm_t_vjp(a, b)
    return g * (f - b / a * df)


def _agm_b_vjp(g, ans, a, b):
    _, df = _agm_t_vjp(a, b)
    return g * df


def _poisson_pmf(sc, k, m):
    return np.exp(k * np.log(m) - m - sc.gammaln(k + 1))


def _gamma_pdf(sc, b, y):
    """The standard gamma density of shape b at y."""
    return np.exp((b - 1) * np.log(y) - y - sc.gammaln(b))


def _f_pdf(sc, dfn, dfd, x):
    """The F density, in logs."""
    log_pdf = (
        dfn / 2 * np.log(dfn / dfd)
        + (dfn / 2 - 1) * np.log(x)
        - (dfn + dfd) / 2 * np.log1p(dfn * x / dfd)
        - sc.betaln(dfn / 2, dfd / 2)
    )
    return np.exp(log_pdf)


# --- coverage ----------------------------------------------------------------------------------


def scipy_special_coverage() -> dict[str, list[str]]:
    """Sort ``scipy.special``'s public ufuncs by what ndgrad does with them.

    Returns
    -------
    dict
        ``"rules"``: ufuncs with gradient rules; ``"no_gradient"``: ufuncs whose every loop
        returns integers or booleans (plain arrays, no graph); ``"raises"``: ufuncs that
        raise ``NotDifferentiableError`` on an input that requires grad. Each list is sorted;
        all three are empty when SciPy is not installed.

    Examples
    --------
    >>> from ndgrad._rules.scipy_special import scipy_special_coverage
    >>> "gammaln" in scipy_special_coverage()["rules"]
    True
    """
    report: dict[str, list[str]] = {"rules": [], "no_gradient": [], "raises": []}
    try:
        import scipy.special as sc
    except ImportError:
        return report
    for name in sorted(dir(sc)):
        func = getattr(sc, name)
        if name.startswith("_") or not isinstance(func, np.ufunc):
            continue
        outputs = [t.split("->")[1] for t in func.types]
        if func in VJP_RULES:
            report["rules"].append(name)
        elif all(np.dtype(c).kind in "biu" for out in outputs for c in out):
            report["no_gradient"].append(name)
        else:
            report["raises"].append(name)
    return report


# --- lazy registration -------------------------------------------------------------------------


def _holomorphic(sc: Any) -> None:
    """The ufuncs with complex loops that are holomorphic where smooth, and whose VJP rules use
    ``g * conj(f')``: forward mode derives ``f' t`` from those for complex values too. Not
    here: ``psi`` (its rule's trigamma has no complex loop), ``ive``, ``jve`` and ``yve`` (not
    holomorphic: their rules raise on complex arguments), ``_zeta`` (SciPy's Hurwitz zeta of a
    complex exponent is NaN)."""
    from scipy.special import _ufuncs

    HOLOMORPHIC.update(
        (sc.gamma, sc.rgamma, sc.loggamma, sc.erf, sc.erfc, sc.erfcx, sc.erfi,
         sc.dawsn, sc.wofz, sc.ndtr, sc.log_ndtr, sc.xlogy, sc.xlog1py, sc.expm1, sc.log1p,
         sc.exp1, sc.expi, sc.wrightomega, sc.spence, _ufuncs._lambertw,
         sc.iv, sc.jv, sc.yv, sc.kv, sc.kve, sc.hankel1, sc.hankel2, sc.hankel1e, sc.hankel2e,
         sc.hyp2f1, sc.hyp1f1, sc.hyp0f1, sc.elliprf, sc.elliprc, sc.elliprg,
         sc.eval_legendre, sc.eval_sh_legendre, sc.eval_chebyt, sc.eval_chebyu, sc.eval_chebyc,
         sc.eval_chebys, sc.eval_sh_chebyt, sc.eval_sh_chebyu, sc.eval_gegenbauer,
         sc.eval_jacobi, sc.eval_sh_jacobi, sc.eval_laguerre, sc.eval_genlaguerre)
    )  # fmt: skip


def _register_all(module: Any) -> None:
    _register(module)
    _register_more(module)
    _register_stats_helpers(module)
    _register_remaining(module)
    _holomorphic(module)


after_import("scipy.special", _register_all)
