"""Cases for the rules of scipy.special's ufuncs and np.sinc (ndgrad/_rules/scipy_special.py).

Orders and shape parameters that have no gradient (``v`` of ``jv``, ``a`` of ``gammainc``, the
exponent of ``zeta``) are passed as keywords, so the checker does not differentiate them.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sc
from scipy.special import _ufuncs

from ._case import A, C, Case, G, P, R, U, binary, calls, unary


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
        calls((P(),), (P(3),), (P(2, 3),), k=[0.0, 2.5, 3.0, np.array([1.0, 2.0, 5.0])]),
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


def _in_variable(func, make, *, order=2, rtol=1e-5, atol=1e-6, **params):
    """``func(*params, x)`` differentiated in its last argument only, for every parameter set."""
    return Case(
        calls((make(),), (make(3),), (make(2, 3),), p=list(params["p"])),
        call=lambda x, p: func(*p, x),
        order=order,
        rtol=rtol,
        atol=atol,
    )


def _half_open(*shape: int) -> np.ndarray:
    """Inside (0.6, 0.9): probabilities whose normal quantile stays away from 0."""
    return _rng_uniform(0.6, 0.9, shape)


def _rng_uniform(low: float, high: float, shape: tuple[int, ...]) -> np.ndarray:
    return low + (high - low) * (U(*shape) + 0.8) / 1.6


_DEGREES = [0, 1, 3, np.array([0, 2, 4])]

CASES.update(
    {
        # hypergeometric functions, in the variable
        sc.hyp2f1: _in_variable(sc.hyp2f1, U, p=[(0.5, 1.5, 2.5), (1.0, -0.7, 1.3)]),
        sc.hyp1f1: _in_variable(sc.hyp1f1, R, p=[(0.5, 1.5), (-1.3, 2.2)]),
        sc.hyp0f1: _in_variable(sc.hyp0f1, R, p=[(0.7,), (2.5,)]),
        sc.hyperu: _in_variable(sc.hyperu, P, p=[(0.5, 1.5), (1.3, 0.2)]),
        sc.wright_bessel: _in_variable(sc.wright_bessel, P, p=[(0.5, 1.0), (1.2, 0.3)]),
        sc.log_wright_bessel: _in_variable(sc.log_wright_bessel, P, p=[(0.5, 1.0), (1.2, 0.3)]),
        # elliptic integrals and functions; m = 0 exactly takes the Taylor branches
        sc.ellipkm1: Case(
            calls(*((_open_unit(*s),) for s in ((), (3,), (2, 3))), (np.array([1e-3, 1.0]),))
        ),
        sc.ellipkinc: Case(
            calls(*binary(R, _open_unit).calls_args(), (R(3), np.array([0.0, 1e-5, 0.3])))
        ),
        sc.ellipeinc: Case(
            calls(*binary(R, _open_unit).calls_args(), (R(3), np.array([0.0, 1e-5, 0.3])))
        ),
        sc.ellipj: binary(R, _open_unit),
        # second derivatives raise: elliprd has no rule
        sc.elliprf: Case(calls((P(), P(), P()), (P(3), P(3), P(3)), (P(2, 3), P(3), P())), order=1),
        sc.elliprc: Case(calls((P(), P()), (P(3), P(3)), (P(2, 3), P(3))), order=1),
        sc.elliprg: Case(calls((P(), P(), P()), (P(3), P(3), P(3)), (P(2, 3), P(3), P())), order=1),
        sc.agm: Case(
            calls(*binary(P, P).calls_args(), (np.array([1.0, 2.0]), np.array([1.0, 2.0])))
        ),
        # Bessel functions
        sc.kn: _with_order(sc.kn, P, [0, 1, 3]),
        sc.yn: _with_order(sc.yn, P, [0, 1, 3]),
        sc.jve: _with_order(sc.jve, P, _ORDERS),
        sc.yve: _with_order(sc.yve, P, _ORDERS),
        sc.hankel1: _with_order(sc.hankel1, lambda *s: P(*s) + 0.3j * R(*s), _ORDERS),
        sc.hankel2: _with_order(sc.hankel2, lambda *s: P(*s) + 0.3j * R(*s), _ORDERS),
        sc.hankel1e: _with_order(sc.hankel1e, lambda *s: P(*s) + 0.3j * R(*s), _ORDERS),
        sc.hankel2e: _with_order(sc.hankel2e, lambda *s: P(*s) + 0.3j * R(*s), _ORDERS),
        sc.besselpoly: Case(
            calls((P(),), (P(3),), (P(2, 3),), ln=[(1.0, 0.0), (0.5, 1.0), (2.0, 2.5)]),
            call=lambda a, ln: sc.besselpoly(a, *ln),
        ),
        sc.iti0k0: unary(P),
        sc.itj0y0: unary(P),
        sc.it2i0k0: unary(P),
        sc.it2j0y0: unary(P),
        # Struve functions
        sc.struve: _with_order(sc.struve, P, _ORDERS),
        sc.modstruve: _with_order(sc.modstruve, P, _ORDERS),
        sc.itstruve0: unary(P),
        sc.it2struve0: unary(P),
        sc.itmodstruve0: unary(P),
        # Kelvin functions; ber' and bei' at 0 take the limits
        sc.ber: unary(R),
        sc.bei: unary(R),
        sc.berp: Case(calls(*unary(R).calls_args(), (np.array([0.0, 0.7]),))),
        sc.beip: Case(calls(*unary(R).calls_args(), (np.array([0.0, 0.7]),))),
        sc.ker: unary(P),
        sc.kei: unary(P),
        sc.kerp: unary(P),
        sc.keip: unary(P),
        sc.kelvin: unary(P),
        # Airy functions and integrals (itairy is accurate to about 1e-8 only)
        sc.airy: Case(calls((R(),), (R(3),), (C(3),))),
        sc.airye: unary(P),
        sc.itairy: unary(P, rtol=1e-4, atol=1e-5),
        sc.modfresnelp: unary(P),
        sc.modfresnelm: unary(P),
        # parabolic cylinder and Mathieu functions
        sc.pbdv: _with_order(sc.pbdv, R, [0.0, 1.5, -0.7]),
        sc.pbvv: _with_order(sc.pbvv, R, [0.0, 1.5, -0.7]),
        sc.pbwa: _with_order(sc.pbwa, U, [0.5, -1.0]),
        **{
            f: Case(
                calls((30 * R(),), (30 * R(3),), mq=[(1, 0.5), (2, 1.3)]),
                call=lambda x, mq, f=f: f(*mq, x),
            )
            for f in (sc.mathieu_cem, sc.mathieu_sem)
        },
        **{
            f: Case(
                calls((P(),), (P(3),), mq=[(1, 0.5), (2, 1.3)]),
                call=lambda x, mq, f=f: f(*mq, x),
            )
            for f in (
                sc.mathieu_modcem1,
                sc.mathieu_modcem2,
                sc.mathieu_modsem1,
                sc.mathieu_modsem2,
            )
        },
        # orthogonal polynomials, in x
        sc.eval_legendre: _with_order(sc.eval_legendre, U, [*_DEGREES, 1.5]),
        sc.eval_sh_legendre: _with_order(sc.eval_sh_legendre, _open_unit, _DEGREES),
        sc.eval_chebyt: _with_order(sc.eval_chebyt, U, [*_DEGREES, 1.5]),
        sc.eval_chebyu: _with_order(sc.eval_chebyu, U, [*_DEGREES, 1.5]),
        sc.eval_chebyc: _with_order(sc.eval_chebyc, lambda *s: 2 * U(*s), _DEGREES),
        sc.eval_chebys: _with_order(sc.eval_chebys, lambda *s: 2 * U(*s), _DEGREES),
        sc.eval_sh_chebyt: _with_order(sc.eval_sh_chebyt, _open_unit, _DEGREES),
        sc.eval_sh_chebyu: _with_order(sc.eval_sh_chebyu, _open_unit, _DEGREES),
        sc.eval_hermite: _with_order(sc.eval_hermite, R, _DEGREES),
        sc.eval_hermitenorm: _with_order(sc.eval_hermitenorm, R, _DEGREES),
        sc.eval_laguerre: _with_order(sc.eval_laguerre, P, [*_DEGREES, 1.5]),
        sc.eval_gegenbauer: Case(
            calls((U(),), (U(3),), (U(2, 3),), n=_DEGREES, alpha=[0.7, 2.5]),
            call=lambda x, n, alpha: sc.eval_gegenbauer(n, alpha, x),
        ),
        sc.eval_genlaguerre: Case(
            calls((P(),), (P(3),), (P(2, 3),), n=_DEGREES, alpha=[0.7, 2.5]),
            call=lambda x, n, alpha: sc.eval_genlaguerre(n, alpha, x),
        ),
        sc.eval_jacobi: Case(
            calls((U(),), (U(3),), (U(2, 3),), n=_DEGREES, ab=[(0.7, 2.5), (-0.5, 0.3)]),
            call=lambda x, n, ab: sc.eval_jacobi(n, *ab, x),
        ),
        sc.eval_sh_jacobi: Case(
            calls((_open_unit(),), (_open_unit(3),), n=_DEGREES, pq=[(2.5, 1.5), (3.0, 0.7)]),
            call=lambda x, n, pq: sc.eval_sh_jacobi(n, *pq, x),
        ),
        sc.lpmv: Case(
            calls((U(),), (U(3),), (U(2, 3),), mv=[(0, 1.5), (1, 3.0), (2, 2.5)]),
            call=lambda x, mv: sc.lpmv(*mv, x),
        ),
        # other special functions
        sc.spence: Case(calls(*unary(P).calls_args(), (np.array([1.0, 1 + 1e-4, 0.999, 1.5]),))),
        sc.wofz: Case(calls((R(),), (R(3),), (C(3),), (C(2, 3),))),
        sc.voigt_profile: Case(
            calls(
                (R(), P(), P()),
                (R(3), P(3), P(3)),
                (R(2, 3), P(3), P()),
                (R(2), P(2), np.array([0.0, -0.3])),  # gamma = 0 and below: still smooth
            )
        ),
        sc.owens_t: binary(R, R),
        _ufuncs._lambertw: Case(
            calls((P(),), (P(3),), (C(3),), (np.array([0.0, -0.2, 3.0]),)),
            call=lambda z: sc.lambertw(z),
        ),
        sc.exprel: Case(calls(*unary(R).calls_args(), (np.array([0.0, 1e-3, -5e-3, 0.5]),))),
        sc.binom: binary(G, P),
        sc.radian: Case(calls((R(), R(), R()), (R(3), R(3), R(3)), (R(2, 3), R(3), R()))),
        sc.round: unary(A),
        # distributions
        sc.bdtr: _in_variable(sc.bdtr, _open_unit, p=[(2.0, 5), (2.7, 6)]),
        sc.bdtrc: _in_variable(sc.bdtrc, _open_unit, p=[(2.0, 5), (2.7, 6)]),
        sc.bdtri: _in_variable(sc.bdtri, _open_unit, p=[(2.0, 5), (2.7, 6)]),
        sc.nbdtr: _in_variable(sc.nbdtr, _open_unit, p=[(2, 5), (0, 3)]),
        sc.nbdtrc: _in_variable(sc.nbdtrc, _open_unit, p=[(2, 5), (0, 3)]),
        sc.nbdtri: _in_variable(sc.nbdtri, _open_unit, p=[(2, 5), (0, 3)]),
        sc.pdtrc: _in_variable(sc.pdtrc, P, p=[(0.0,), (2.5,), (3.0,)]),
        sc.pdtri: _in_variable(sc.pdtri, _open_unit, p=[(0,), (3,)]),
        sc.betainccinv: _in_variable(sc.betainccinv, _open_unit, p=[(1.5, 2.5), (2.0, 3.0)]),
        sc.chdtri: _in_variable(sc.chdtri, _open_unit, p=[(1.0,), (4.5,)]),
        sc.stdtrit: _in_variable(sc.stdtrit, _open_unit, p=[(1.0,), (4.5,)]),
        sc.gdtr: Case(
            calls((P(), P()), (P(3), P(3)), (P(2, 3), P()), b=[0.7, 2.5]),
            call=lambda a, x, b: sc.gdtr(a, b, x),
        ),
        sc.gdtrc: Case(
            calls((P(), P()), (P(3), P(3)), (P(2, 3), P()), b=[0.7, 2.5]),
            call=lambda a, x, b: sc.gdtrc(a, b, x),
        ),
        sc.gdtrix: Case(
            calls((P(), _open_unit()), (P(3), _open_unit(3)), b=[0.7, 2.5]),
            call=lambda a, p, b: sc.gdtrix(a, b, p),
        ),
        sc.gdtria: Case(
            calls((_open_unit(), P()), (_open_unit(3), P(3)), b=[0.7, 2.5]),
            call=lambda p, x, b: sc.gdtria(p, b, x),
        ),
        sc.fdtr: _in_variable(sc.fdtr, P, p=[(1.0, 4.5), (3.0, 2.0)]),
        sc.fdtrc: _in_variable(sc.fdtrc, P, p=[(1.0, 4.5), (3.0, 2.0)]),
        sc.fdtri: _in_variable(sc.fdtri, _open_unit, p=[(1.0, 4.5), (3.0, 2.0)]),
        sc.nrdtrimn: Case(calls((_open_unit(), P(), R()), (_open_unit(3), P(3), R(3)))),
        sc.nrdtrisd: Case(
            calls(
                (np.array(0.3), np.array(0.8), np.array(1.1)),
                (R(3), _half_open(3), np.array([2.0, 2.5, 3.0])),
            )
        ),
        # first order: scipy's noncentral densities have no rules
        sc.chndtr: Case(
            calls((P(), P()), (P(3), P(3)), df=[1.5, 4.0]),
            call=lambda x, nc, df: sc.chndtr(x, df, nc),
            order=1,
        ),
        sc.chndtrix: Case(
            calls((_open_unit(), P()), (_open_unit(3), P(3)), df=[1.5, 4.0]),
            call=lambda p, nc, df: sc.chndtrix(p, df, nc),
            order=1,
        ),
        sc.chndtrinc: Case(
            calls((np.array([2.0, 3.0]), np.array([0.1, 0.15])), df=[1.5, 4.0]),
            call=lambda x, p, df: sc.chndtrinc(x, df, p),
            order=1,
        ),
        sc.nctdtrit: _in_variable(sc.nctdtrit, _open_unit, p=[(3.0, 0.5), (10.0, -1.0)], order=1),
        sc.ncfdtri: _in_variable(sc.ncfdtri, _open_unit, p=[(3.0, 5.0, 0.5)], order=1),
        sc.nctdtr: _in_variable(sc.nctdtr, R, p=[(3.0, 0.5), (10.0, -1.0)], order=1),
        sc.ncfdtr: _in_variable(sc.ncfdtr, P, p=[(3.0, 5.0, 0.5), (2.0, 7.0, 2.0)], order=1),
        sc.kolmogorov: Case(calls((P(),), (P(3),)), order=1),
        sc.kolmogi: Case(calls((_open_unit(),), (_open_unit(3),)), order=1),
        sc.smirnov: _in_variable(
            sc.smirnov, lambda *s: 0.4 * _open_unit(*s), p=[(3,), (10,)], order=1
        ),
        sc.smirnovi: _in_variable(sc.smirnovi, _open_unit, p=[(3,), (10,)], order=1),
        sc.tklmbda: Case(
            calls((U(),), (U(3),), (U(2, 3),), lmbda=[0.0, 0.5, -0.3]),
            call=lambda x, lmbda: sc.tklmbda(x, lmbda),
        ),
    }
)


# --- complex arguments: the holomorphic ufuncs (HOLOMORPHIC, forward mode's f' t) and the
# complex VJP convention g conj(f'). Their own generator, so the real inputs above stay as they
# were. gamma, rgamma and loggamma are left out: their second derivative needs psi of a complex
# argument (trigamma has no complex loop in SciPy).
_crng = np.random.default_rng(20261206)


def _Z(*shape: int) -> np.ndarray:
    """Right half plane, near the real axis: away from the branch cuts on (-inf, 0]."""
    return _crng.uniform(0.5, 2.0, shape) + 0.3j * _crng.standard_normal(shape)


def _small_z(*shape: int) -> np.ndarray:
    """Inside the unit disc: hyp2f1's series."""
    return 0.5 * _crng.uniform(-1, 1, shape) + 0.3j * _crng.uniform(-1, 1, shape)


def _add(key, *args, **kwargs):
    """One more call of ``CASES[key]``."""
    CASES[key].calls.append((args, kwargs))


for _f in (np.sinc, sc.erf, sc.erfc, sc.erfcx, sc.erfi, sc.dawsn, sc.ndtr, sc.log_ndtr):
    _add(_f, _Z(3))
for _f in (sc.expm1, sc.log1p, sc.exp1, sc.expi, sc.wrightomega, sc.spence):
    _add(_f, _Z(2, 3))
for _f in (sc.sici, sc.shichi, sc.fresnel):
    _add(_f, _Z(3))
_add(sc.xlogy, _Z(3), _Z(3))
_add(sc.xlog1py, _Z(3), _Z(3))
for _f in (sc.iv, sc.jv, sc.yv, sc.kv, sc.kve):
    _add(_f, _Z(3), v=1.5)
_add(sc.hyp2f1, _small_z(3), p=(0.5, 1.5, 2.5))
_add(sc.hyp1f1, _Z(3), p=(0.5, 1.5))
_add(sc.hyp0f1, _Z(3), p=(2.5,))
_add(sc.elliprf, _Z(3), _Z(3), _Z(3))
_add(sc.elliprc, _Z(3), _Z(3))
_add(sc.elliprg, _Z(3), _Z(3), _Z(3))
for _f in (sc.eval_legendre, sc.eval_sh_legendre, sc.eval_chebyt, sc.eval_chebyu):
    _add(_f, _Z(3), v=3)
for _f in (sc.eval_chebyc, sc.eval_chebys, sc.eval_sh_chebyt, sc.eval_sh_chebyu, sc.eval_laguerre):
    _add(_f, _Z(3), v=3)
_add(sc.eval_gegenbauer, _Z(3), n=3, alpha=0.7)
_add(sc.eval_genlaguerre, _Z(3), n=3, alpha=0.7)
_add(sc.eval_jacobi, _Z(3), n=3, ab=(0.7, 2.5))
_add(sc.eval_sh_jacobi, _Z(3), n=3, pq=(2.5, 1.5))
