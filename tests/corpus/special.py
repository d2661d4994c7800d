"""``scipy.special``: its Python functions (logsumexp, softmax, ...) and its ufuncs."""

from __future__ import annotations

import numpy as np
import scipy.special as sc

import ndgrad as nd

from . import err, fd

ISSUE12_LSE = (
    "issue 12: scipy's _logsumexp with b= sets a[i_max] = -inf in place (xpx.at(...).set("
    "copy=None)) after np.max saved a for backward: InPlaceError (saved array modified); "
    "NumPy semantics are fine, the saved value must be kept (copy-on-write)"
)

X = np.array([0.3, -1.2, 0.8, 2.1, -0.4, 1.5])
X34 = np.linspace(-1.5, 2.0, 12).reshape(3, 4) ** 2 - 1.0
B = np.array([0.5, 1.5, 2.0, 0.7, 1.1, 0.9])
SIGNED = np.array([0.5, -1.5, 2.0, 0.7, -1.1, 0.9])
P = np.array([0.1, 0.35, 0.6, 0.85])  # in (0, 1)
POS = np.array([0.4, 1.3, 2.2, 3.7])

CASES = [
    fd("logsumexp", sc.logsumexp, X),
    fd("logsumexp-b-const", lambda x: sc.logsumexp(x, b=B), X),
    fd("logsumexp-wrt-b", lambda b: sc.logsumexp(X, b=b), B),
    fd("logsumexp-axis0", lambda x: sc.logsumexp(x, axis=0), X34),
    fd("logsumexp-axis1-keepdims", lambda x: sc.logsumexp(x, axis=1, keepdims=True), X34),
    fd("logsumexp-axis-tuple", lambda x: sc.logsumexp(x, axis=(0, 1)), X34),
    fd(
        "logsumexp-return-sign",
        lambda x: sc.logsumexp(x, b=SIGNED, return_sign=True)[0],
        X,
    ),
    fd("logsumexp-wrt-signed-b", lambda b: sc.logsumexp(X, b=b, return_sign=True)[0], SIGNED),
    fd("logsumexp-return-sign-no-b", lambda x: sc.logsumexp(x, return_sign=True)[0], X),
    fd(
        "logsumexp-axis-b-2d",
        lambda x: sc.logsumexp(x, axis=1, b=X34 * 0 + 0.5),
        X34,
    ),
    fd("softmax", sc.softmax, X),
    fd("softmax-axis1", lambda x: sc.softmax(x, axis=1), X34),
    fd("log_softmax", sc.log_softmax, X),
    fd("log_softmax-axis0", lambda x: sc.log_softmax(x, axis=0), X34),
    fd("expit", sc.expit, X),
    fd("log_expit", sc.log_expit, X),
    fd("logit", sc.logit, P),
    fd("erf", sc.erf, X),
    fd("erfc", sc.erfc, X),
    fd("erfcx", sc.erfcx, X),
    fd("ndtr", sc.ndtr, X),
    fd("log_ndtr", sc.log_ndtr, X),
    fd("ndtri", sc.ndtri, P),
    fd("gammaln", sc.gammaln, POS),
    fd("digamma", sc.digamma, POS),
    fd("gamma", sc.gamma, POS),
    fd("betaln-wrt-a", lambda a: sc.betaln(a, 2.5), POS),
    fd("xlogy-wrt-y", lambda y: sc.xlogy(POS, y), POS + 0.2),
    fd("xlog1py", lambda y: sc.xlog1py(POS, y), P),
    fd("entr", sc.entr, P),
    fd("rel_entr-wrt-q", lambda q: sc.rel_entr(P, q), P[::-1]),
    fd("kl_div-wrt-p", lambda p: sc.kl_div(p, P[::-1]), P),
    fd("huber", lambda r: sc.huber(1.0, r), X),
    fd("pseudo_huber", lambda r: sc.pseudo_huber(0.7, r), X),
    fd("boxcox-wrt-lambda", lambda lm: sc.boxcox(2.5, lm), np.array([-0.5, 0.3, 1.2])),
    fd("i0e", sc.i0e, X),
    fd("i1", sc.i1, X),
    fd("exprel", sc.exprel, X),
    fd("hyp2f1-wrt-z", lambda z: sc.hyp2f1(0.5, 1.5, 2.5, z), P),
    fd("ellipkinc-wrt-phi", lambda phi: sc.ellipkinc(phi, 0.6), X),
    fd("ellipkinc-wrt-m", lambda m: sc.ellipkinc(1.1, m), np.array([0.0, *P])),
    fd("struve", lambda x: sc.struve(1.5, x), POS),
    fd("owens_t-wrt-a", lambda a: sc.owens_t(0.7, a), X),
    fd("eval_legendre", lambda x: sc.eval_legendre(4, x), P),
    err(
        "hyp2f1-wrt-c",
        lambda c: sc.hyp2f1(0.5, 1.5, c, 0.3),
        np.array([2.5]),
        nd.NotDifferentiableError,
        r"scipy\.special\.hyp2f1 with respect to c",
    ),
    err("zetac-no-rule", sc.zetac, POS + 1, nd.NotDifferentiableError, r"scipy\.special\.zetac"),
    # multigammaln checks its argument with float(a): a clear graph break, not a silent constant.
    err(
        "multigammaln-float",
        lambda a: sc.multigammaln(a, 3),
        3.7,
        nd.GraphBreakError,
        r"float\(x\)",
    ),
]
