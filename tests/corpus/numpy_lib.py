"""NumPy's own Python functions (``numpy.lib``, ``numpy.polynomial``, ``numpy.linalg``)."""

from __future__ import annotations

import numpy as np
import numpy.polynomial as npp

import ndgrad as nd

from . import err, fd

RNG = np.random.default_rng(13)
X = np.array([0.3, -1.2, 0.8, 2.1, -0.4, 1.5])
M = RNG.standard_normal((4, 3))
SQ = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
SPD = SQ @ SQ.T
C = np.array([0.5, -1.0, 0.25, 2.0])
T = np.array([0.0, 0.3, 0.7, 1.2, 1.6, 2.5])


def _m(f):
    return lambda x: f(np.reshape(x, (4, 3)))


def _sq(f):
    return lambda x: f(np.reshape(x, (3, 3)))


CASES = [
    fd("polyval-coeffs", lambda c: np.polyval(c, X), C),
    fd("polyval-x", lambda x: np.polyval(C, x), X),
    fd("polynomial.polyval", lambda c: npp.polynomial.polyval(X, c), C),
    fd("polynomial.chebval", lambda c: npp.chebyshev.chebval(X / 3, c), C),
    fd("polynomial.hermval-x", lambda x: npp.hermite.hermval(x, C), X),
    fd("polynomial.legval", lambda c: npp.legendre.legval(X / 3, c), C),
    fd("Polynomial-call", lambda c: npp.Polynomial(c)(X), C),
    fd("trapezoid", lambda y: np.trapezoid(y, T), X),
    fd("trapezoid-x", lambda t: np.trapezoid(X, t), T),
    fd("interp-fp", lambda fp: np.interp([0.1, 0.9, 2.0], T, fp), X),
    fd("interp-x", lambda x: np.interp(x, T, X), [0.1, 0.9, 2.0]),
    fd("cov", _m(np.cov), M),
    fd("cov-rowvar-false", _m(lambda m: np.cov(m, rowvar=False)), M),
    fd("corrcoef", _m(np.corrcoef), M),
    fd("average-weights", lambda w: np.average(X, weights=w), np.abs(X) + 0.1),
    fd("average-axis", _m(lambda m: np.average(m, axis=0, weights=[1.0, 2.0, 3.0, 4.0])), M),
    fd("var-ddof", lambda x: np.var(x, ddof=1), X),
    fd("std", _m(lambda m: np.std(m, axis=1)), M),
    fd("median", np.median, X),
    fd("percentile", lambda x: np.percentile(x, [10, 50, 85]), X),
    fd("quantile-axis", _m(lambda m: np.quantile(m, 0.3, axis=0)), M),
    fd("nanmean", np.nanmean, X),
    fd("ptp", np.ptp, X),
    fd("diff", lambda x: np.diff(x, n=2), X),
    fd("gradient", lambda x: np.gradient(x, T), X),
    fd("convolve", lambda x: np.convolve(x, [0.25, 0.5, 0.25], mode="same"), X),
    fd("correlate", lambda x: np.correlate(x, [1.0, -1.0, 0.5], mode="valid"), X),
    fd("cross", lambda x: np.cross(x[:3], x[3:]), X),
    fd("outer", lambda x: np.outer(x, X), X),
    fd("kron", lambda x: np.kron(np.reshape(x, (2, 3)), np.eye(2)), X),
    fd("sinc", np.sinc, X),
    fd("i0", np.i0, X),
    fd("cumsum-cumprod", lambda x: np.cumsum(x) + np.cumprod(x), X),
    fd("tril-triu", _sq(lambda a: np.tril(a, -1) + 2 * np.triu(a)), SQ),
    fd("piecewise", lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda v: v**2, lambda v: np.sin(v)]), X),
    fd("select", lambda x: np.select([x < 0, x > 1], [x**2, np.exp(x)], default=x), X),
    fd("where-clip", lambda x: np.where(x > 0, np.clip(x, 0.5, 1.8), -x), X),
    fd("meshgrid", lambda x: np.sum(np.meshgrid(x[:3], x[3:])[0] * np.meshgrid(x[:3], x[3:])[1], axis=0), X),
    fd("einsum", _m(lambda m: np.einsum("ij,ik->jk", m, m)), M),
    fd("tensordot", _m(lambda m: np.tensordot(m, M, axes=([0], [0]))), M),
    fd("np.linalg.norm-fro", _m(np.linalg.norm), M),
    fd("np.linalg.norm-axis", _m(lambda m: np.linalg.norm(m, axis=1)), M),
    fd("np.linalg.norm-1", _m(lambda m: np.linalg.norm(m, ord=1, axis=0)), M),
    fd("np.linalg.norm-nuc", _m(lambda m: np.linalg.norm(m, ord="nuc")), M),
    fd("np.linalg.norm-2", _m(lambda m: np.linalg.norm(m, ord=2)), M),
    fd("np.linalg.det", _sq(np.linalg.det), SQ),
    fd("np.linalg.slogdet", _sq(lambda a: np.linalg.slogdet(a)[1]), SQ),
    fd("np.linalg.inv", _sq(np.linalg.inv), SQ),
    fd("np.linalg.solve", _sq(lambda a: np.linalg.solve(a, [1.0, 2.0, 3.0])), SQ),
    fd("np.linalg.cholesky", _sq(lambda a: np.linalg.cholesky((a + a.T) / 2)), SPD),
    fd("np.linalg.pinv", _m(np.linalg.pinv), M),
    fd("np.linalg.lstsq", _m(lambda m: np.linalg.lstsq(m, [1.0, 0.5, -1.0, 2.0])[0]), M),
    fd("np.linalg.eigh-values", _sq(lambda a: np.linalg.eigvalsh((a + a.T) / 2)), SPD),
    fd("np.linalg.matrix_power", _sq(lambda a: np.linalg.matrix_power(a, 3)), SQ / 3),
    fd("np.linalg.multi_dot", _m(lambda m: np.linalg.multi_dot([m.T, m, M.T])), M),
]  # fmt: skip

# NumPy functions whose implementation converts with np.asarray or collects into a plain
# ndarray: ndgrad refuses them by name and says what to do instead.
POLY = "polynomial helper whose NumPy implementation drops the graph"
CASES += [
    err("polyder", lambda c: np.polyder(c, 1), C, nd.NotDifferentiableError, r"numpy\.polyder .*" + POLY),
    err("polyint", lambda c: np.polyint(c), C, nd.NotDifferentiableError, r"numpy\.polyint .*" + POLY),
    err("polymul", lambda c: np.polymul(c, [1.0, -2.0]), C, nd.NotDifferentiableError, r"numpy\.polymul .*" + POLY),
    err("polyfit-y", lambda y: np.polyfit(T, y, 2), X, nd.NotDifferentiableError, r"numpy\.polyfit .*" + POLY),
    fd("vander", lambda x: np.vander(x, 4), X),
    err("unwrap", lambda x: np.unwrap(4 * x), X, nd.NotDifferentiableError, r"numpy\.unwrap .*np\.asarray"),
    err("apply_along_axis", _m(lambda m: np.apply_along_axis(lambda r: r @ r, 1, m)), M, nd.NotDifferentiableError, r"numpy\.apply_along_axis .*moveaxis"),
    fd("polynomial.polyval-plus-term", lambda c: npp.polynomial.polyval(X, c) + c[0] ** 2, C),
]  # fmt: skip
