"""Gradient rules for ``scipy.special``'s ufuncs, and ``np.sinc``.

A rule is ``rule(g, ans, *inputs) -> cotangent`` for one input, written as if nothing was
broadcast (the engine sums each cotangent back to its input's shape), exactly like the rules of
NumPy's own ufuncs. Holomorphic functions that accept complex input use ``g * conj(f'(z))``.
Orders and shape parameters without a closed-form derivative (the order ``v`` of ``jv``, the
exponent of ``zeta``, the ``a`` of ``gammainc``) get a rule that raises
``NotDifferentiableError`` when a gradient is asked of them, never a silent zero.

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

from ndgrad._errors import not_differentiable
from ndgrad._registry import VJP_RULES, defvjp
from ndgrad._rules._common import conj
from ndgrad._rules._lazy import after_import

__all__ = ["scipy_special_coverage"]

_SQRT_PI = 1.7724538509055159  # sqrt(pi): Python floats, so rules stay NumPy-only
_LOG_SQRT_2PI = 0.9189385332046727  # log(sqrt(2 pi))

# --- np.sinc (a NumPy function, listed here with its SciPy relatives) -------------------------


def _sinc_vjp(g, ans, x):
    """sinc'(x) = (cos(pi x) - sinc(x)) / x, and 0 at x = 0 (sinc is even)."""
    zero = x == 0
    safe = np.where(zero, 1.0, x)
    return g * np.where(zero, 0.0, (np.cos(np.pi * safe) - np.sinc(safe)) / safe)


defvjp(np.sinc, _sinc_vjp)


def _raises(what: str) -> Any:
    """A rule for an argument with no derivative available: asking for it is an error."""

    def rule(g, ans, a=None, b=None, c=None):  # reads no input: the engine saves none
        raise not_differentiable(what, "no closed-form derivative for this argument")

    return rule


def _order_rule(name: str) -> Any:
    return _raises(f"scipy.special.{name} with respect to its order")


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
    # psi' is the trigamma function, the Hurwitz zeta(2, x); real x only (zeta is real).
    rule(sc.psi, lambda g, ans, x: g * _ufuncs._zeta(2.0, x))
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
        lambda g, ans, x, q: -g * x * _ufuncs._zeta(x + 1, q),
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
    # ive = iv e^-|z| and kve = kv e^z (real z): the product rule adds the exponential's term.
    rule(
        sc.ive,
        _order_rule("ive"),
        lambda g, ans, v, z: g * ((sc.ive(v - 1, z) + sc.ive(v + 1, z)) / 2 - np.sign(z) * ans),
    )
    rule(
        sc.kve,
        _order_rule("kve"),
        lambda g, ans, v, z: g * (ans - (sc.kve(v - 1, z) + sc.kve(v + 1, z)) / 2),
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
    # sici = (Si, Ci): Si' = sin(x)/x (1 at 0, through sinc), Ci' = cos(x)/x.
    rule(sc.sici, lambda g, ans, x: g[0] * np.sinc(x / np.pi) + g[1] * np.cos(x) / x)
    rule(sc.shichi, lambda g, ans, x: g[0] * _sinhc(x) + g[1] * np.cosh(x) / x)
    rule(
        sc.fresnel,
        lambda g, ans, z: g[0] * np.sin(np.pi / 2 * z * z) + g[1] * np.cos(np.pi / 2 * z * z),
    )
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
    # pdtr(k, m) = gammaincc(k + 1, m): the Poisson cdf in its mean m.
    rule(
        sc.pdtr,
        _raises("scipy.special.pdtr with respect to k"),
        lambda g, ans, k, m: -g * np.exp(k * np.log(m) - m - sc.gammaln(k + 1)),
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
    """K'(m) = (E - (1 - m) K) / (2 m (1 - m)); its limit at m = 0 is pi / 8."""
    import scipy.special as sc

    zero = m == 0
    safe = np.where(zero, 0.5, m)
    general = (sc.ellipe(safe) - (1 - safe) * sc.ellipk(safe)) / (2 * safe * (1 - safe))
    return g * np.where(zero, np.pi / 8, general)


def _ellipe_vjp(g, ans, m):
    """E'(m) = (E - K) / (2 m); its limit at m = 0 is -pi / 8."""
    import scipy.special as sc

    zero = m == 0
    safe = np.where(zero, 0.5, m)
    return g * np.where(zero, -np.pi / 8, (sc.ellipe(safe) - sc.ellipk(safe)) / (2 * safe))


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


def _register_all(module: Any) -> None:
    _register(module)
    _register_more(module)
    _register_stats_helpers(module)


after_import("scipy.special", _register_all)
