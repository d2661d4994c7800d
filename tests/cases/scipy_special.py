"""Cases for the rules of scipy.special's ufuncs and np.sinc (ndgrad/_rules/scipy_special.py).

Orders and shape parameters that have no gradient (``v`` of ``jv``, ``a`` of ``gammainc``, the
exponent of ``zeta``) are passed as keywords, so the checker does not differentiate them.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sc
from scipy.special import _ufuncs

from ._case import A, Case, P, R, U, binary, calls, unary


def _open_unit(*shape: int) -> np.ndarray:
    """Inside (0.1, 0.9): the domain of logit and ndtri."""
    return (U(*shape) + 1) / 2


def _open_two(*shape: int) -> np.ndarray:
    """Inside (0.2, 1.8): the domain of erfcinv."""
    return U(*shape) + 1


def _with_order(func, make, orders):
    """``func(v, z)`` differentiated in ``z`` only, for several orders ``v`` (scalar or array)."""
    return Case(
        calls((make(),), (make(3),), (make(2, 3),), v=orders),
        call=lambda z, v: func(v, z),
    )


_ORDERS = [0.0, 1.5, np.array([0.5, 1.0, 2.5])]

CASES = {
    np.sinc: unary(A),
    # gamma and related functions
    sc.gamma: unary(P),
    sc.rgamma: unary(P),
    sc.gammaln: unary(P),
    sc.loggamma: unary(P),
    sc.psi: unary(P),
    sc.beta: binary(P, P),
    sc.betaln: binary(P, P),
    sc.poch: binary(P, P),
    sc.gammainc: Case(
        calls((P(),), (P(3),), (P(2, 3),), a=[0.7, 2.5, np.array([1.0, 1.5, 3.0])]),
        call=lambda x, a: sc.gammainc(a, x),
    ),
    sc.gammaincc: Case(
        calls((P(),), (P(3),), (P(2, 3),), a=[0.7, 2.5, np.array([1.0, 1.5, 3.0])]),
        call=lambda x, a: sc.gammaincc(a, x),
    ),
    _ufuncs._zeta: Case(
        calls((P(),), (P(3),), (P(2, 3),), x=[2.0, 3.5, np.array([2.0, 3.0, 4.5])]),
        call=lambda q, x: sc.zeta(x, q),
    ),
    # private ufuncs behind scipy.stats' beta.pdf and skewnorm.cdf
    _ufuncs._beta_pdf: Case(calls((_open_unit(), P(), P()), (_open_unit(3), P(3), P(3)))),
    _ufuncs._skewnorm_cdf: Case(calls((R(), R(), P(), R()), (R(3), R(3), P(3), R(3)))),
    # error function and normal distribution
    sc.erf: unary(R),
    sc.erfc: unary(R),
    sc.erfcx: unary(R),
    sc.erfinv: unary(U),
    sc.erfcinv: unary(_open_two),
    sc.ndtr: unary(R),
    sc.log_ndtr: Case(calls((R(),), (R(3),), (R(2, 3),), (np.array([-30.0, -8.0, 5.0]),))),
    sc.ndtri: unary(_open_unit),
    # logistic
    sc.expit: unary(R),
    sc.logit: unary(_open_unit),
    sc.log_expit: unary(R),
    # information theory and losses
    sc.xlogy: binary(R, P),
    sc.xlog1py: binary(R, P),
    sc.entr: unary(P),
    sc.rel_entr: binary(P, P),
    sc.kl_div: binary(P, P),
    sc.huber: Case(calls((P(3), A(3)), (np.array(1.0), A(2, 3)), (P(2, 1), A(1, 3)))),
    sc.pseudo_huber: binary(P, R),
    sc.boxcox: binary(P, R),
    sc.inv_boxcox: binary(U, U),
    # elementary functions and integrals
    sc.exp2: unary(R),
    sc.exp10: unary(R),
    sc.expm1: unary(R),
    sc.log1p: unary(P),
    sc.cbrt: unary(P),
    sc.cosm1: unary(R),
    sc.sindg: Case(calls((30 * R(),), (30 * R(3),), (30 * R(2, 3),))),
    sc.cosdg: Case(calls((30 * R(),), (30 * R(3),), (30 * R(2, 3),))),
    sc.tandg: Case(calls((30 * U(),), (30 * U(3),), (30 * U(2, 3),))),
    sc.cotdg: Case(calls((30 * P(),), (30 * P(3),), (30 * P(2, 3),))),
    sc.exp1: unary(P),
    sc.expi: unary(P),
    sc.expn: Case(
        calls((P(),), (P(3),), (P(2, 3),), n=[0, 1, 3, np.array([0, 2, 4])]),
        call=lambda x, n: sc.expn(n, x),
    ),
    sc.dawsn: unary(R),
    sc.erfi: unary(R),
    sc.wrightomega: unary(R),
    sc.gammasgn: unary(A),
    sc.sici: unary(P),
    sc.shichi: unary(P),
    sc.fresnel: unary(R),
    sc.powm1: binary(P, R),
    sc.boxcox1p: binary(P, R),
    sc.inv_boxcox1p: binary(U, U),
    sc.ellipk: unary(_open_unit),
    sc.ellipe: unary(_open_unit),
    # distributions, in the variable
    sc.ndtri_exp: Case(calls((-P(),), (-P(3),), (-P(2, 3),))),
    sc.gammaincinv: Case(
        calls((_open_unit(),), (_open_unit(3),), (_open_unit(2, 3),), a=[0.7, 2.5]),
        call=lambda y, a: sc.gammaincinv(a, y),
    ),
    sc.gammainccinv: Case(
        calls((_open_unit(),), (_open_unit(3),), (_open_unit(2, 3),), a=[0.7, 2.5]),
        call=lambda y, a: sc.gammainccinv(a, y),
    ),
    sc.betainc: Case(
        calls((_open_unit(),), (_open_unit(3),), (_open_unit(2, 3),), ab=[(0.7, 2.5), (2.0, 3.0)]),
        call=lambda x, ab: sc.betainc(*ab, x),
    ),
    sc.betaincc: Case(
        calls((_open_unit(),), (_open_unit(3),), (_open_unit(2, 3),), ab=[(0.7, 2.5), (2.0, 3.0)]),
        call=lambda x, ab: sc.betaincc(*ab, x),
    ),
    sc.betaincinv: Case(
        calls((_open_unit(),), (_open_unit(3),), (_open_unit(2, 3),), ab=[(1.5, 2.5), (2.0, 3.0)]),
        call=lambda y, ab: sc.betaincinv(*ab, y),
    ),
    sc.stdtr: Case(
        calls((R(),), (R(3),), (R(2, 3),), df=[1.0, 4.5, np.array([2.0, 3.0, 10.0])]),
        call=lambda t, df: sc.stdtr(df, t),
    ),
    sc.chdtr: Case(
        calls((P(),), (P(3),), (P(2, 3),), v=[1.0, 4.5]),
        call=lambda x, v: sc.chdtr(v, x),
    ),
    sc.chdtrc: Case(
        calls((P(),), (P(3),), (P(2, 3),), v=[1.0, 4.5]),
        call=lambda x, v: sc.chdtrc(v, x),
    ),
    sc.pdtr: Case(
        calls((P(),), (P(3),), (P(2, 3),), k=[0.0, 3.0, np.array([1.0, 2.0, 5.0])]),
        call=lambda m, k: sc.pdtr(k, m),
    ),
    sc.k0: unary(P),
    sc.k1: unary(P),
    sc.k0e: unary(P),
    sc.k1e: unary(P),
    # Bessel functions, with respect to the argument
    sc.i0: unary(R),
    sc.i1: unary(R),
    sc.i0e: unary(A),
    sc.i1e: unary(A),
    sc.j0: unary(R),
    sc.j1: unary(R),
    sc.y0: unary(P),
    sc.y1: unary(P),
    sc.iv: _with_order(sc.iv, P, _ORDERS),
    sc.ive: _with_order(sc.ive, P, _ORDERS),
    sc.jv: _with_order(sc.jv, P, _ORDERS),
    sc.yv: _with_order(sc.yv, P, _ORDERS),
    sc.kv: _with_order(sc.kv, P, _ORDERS),
    sc.kve: _with_order(sc.kve, P, _ORDERS),
}
