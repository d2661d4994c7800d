"""``scipy.optimize`` test functions, ``scipy.spatial.distance``, ``scipy.integrate``,
``scipy.linalg``, ``scipy.signal``, ``scipy.ndimage``, ``scipy.interpolate``, ``scipy.fft``."""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.integrate as si
import scipy.interpolate
import scipy.linalg as sl
import scipy.ndimage
import scipy.optimize as so
import scipy.signal
import scipy.spatial.distance as dist

import ndgrad as nd

from . import err, fd

X = np.array([0.3, -1.2, 0.8, 2.1, -0.4, 1.5])
U, V = X[:3], np.array([1.1, 0.4, -0.7])
POS = np.abs(X) + 0.2
T = np.linspace(0.0, 2.0, 7)
SQ = np.array([[2.0, 0.3, -0.1], [0.4, 1.5, 0.2], [-0.3, 0.1, 1.8]])
SPD = SQ @ SQ.T
VI = np.linalg.inv(SPD)
COMPILED = "not differentiable"


def _sq(f):
    return lambda a: f(np.reshape(a, (3, 3)))


CASES = [
    fd("optimize.rosen", so.rosen, X),
    fd("optimize.rosen_der", so.rosen_der, X),
    fd("optimize.rosen_hess", so.rosen_hess, X),
    fd("optimize.rosen_hess_prod", lambda x: so.rosen_hess_prod(x, V[::-1].repeat(2)), X),
    fd("optimize.rosen_hess_prod-p", lambda p: so.rosen_hess_prod(X, p), X[::-1]),
    fd("optimize.minimize", lambda x: so.minimize(lambda p: np.sum((p - x) ** 2), np.zeros(6)).fun, X),
    err("optimize.approx_fprime", lambda x: so.approx_fprime(x, so.rosen), X, nd.NotDifferentiableError, r"scipy\.optimize\.approx_fprime"),
    fd("distance.euclidean", lambda u: dist.euclidean(u, V), U),
    # euclidean, minkowski and seuclidean call scipy.linalg.norm, which takes BLAS nrm2 for
    # vectors: refused by name until scipy.linalg.norm has a rule
    fd("distance.sqeuclidean", lambda u: dist.sqeuclidean(u, V), U),
    fd("distance.cityblock", lambda u: dist.cityblock(u, V), U),
    fd("distance.chebyshev", lambda u: dist.chebyshev(u, V), U),
    fd("distance.minkowski", lambda u: dist.minkowski(u, V, 3), U),
    err("distance.minkowski-w", lambda w: dist.minkowski(U, V, 2, w), np.abs(V) + 0.1, nd.NotDifferentiableError, r"minkowski with respect to w"),
    fd("distance.seuclidean", lambda u: dist.seuclidean(u, V, [1.0, 2.0, 0.5]), U),
    fd("distance.mahalanobis", lambda u: dist.mahalanobis(u, V, VI), U),
    fd("distance.braycurtis", lambda u: dist.braycurtis(u, V), np.abs(U)),
    fd("distance.canberra", lambda u: dist.canberra(u, V), U),
    fd("distance.jensenshannon", lambda p: dist.jensenshannon(p, [0.2, 0.5, 0.3]), [0.3, 0.3, 0.4]),
    fd("distance.cosine", lambda u: dist.cosine(u, V), U),
    fd("distance.correlation", lambda u: dist.correlation(u, V), U),
    fd("distance.cdist", lambda x: dist.cdist(np.reshape(x, (2, 3)), SQ), X),
    fd("distance.pdist", lambda x: dist.pdist(np.reshape(x, (2, 3))), X),
    fd("integrate.trapezoid", lambda y: si.trapezoid(y, T[:6]), X),
    fd("integrate.simpson", lambda y: si.simpson(y, x=T[:6]), X),
    fd("integrate.cumulative_trapezoid", lambda y: si.cumulative_trapezoid(y, T[:6], initial=0), X),
    fd("integrate.romb", lambda y: si.romb(y[:5], dx=0.5), X),
    fd("integrate.solve_ivp", lambda y0: si.solve_ivp(lambda t, y: -y, (0, 1), y0).y[:, -1], X),
    fd("integrate.quad-closure", lambda k: si.quad(lambda t: np.exp(-k[0] * t), 0, 1)[0], [0.7]),
    fd("integrate.odeint", lambda y0: si.odeint(lambda y, t: -y, y0, [0.0, 1.0])[-1], X),
    fd("scipy.linalg.block_diag", lambda x: sl.block_diag(np.reshape(x[:4], (2, 2)), x[4:]), X),
    fd("scipy.linalg.expm", _sq(sl.expm), SQ),
    fd("scipy.linalg.cho_factor", _sq(lambda a: sl.cho_factor(a)[0]), SPD),
    fd("scipy.linalg.solve", _sq(lambda a: sl.solve(a, np.ones(3))), SQ),
    fd("scipy.linalg.eigh", _sq(lambda a: sl.eigh(a)[0]), SPD),
    fd("signal.convolve", lambda x: scipy.signal.convolve(x, [0.25, 0.5]), X),
    fd("signal.lfilter", lambda x: scipy.signal.lfilter([1.0], [1.0, -0.5], x), X),
    fd("ndimage.gaussian_filter", lambda x: scipy.ndimage.gaussian_filter(x, 1.0), X),
    fd("interpolate.CubicSpline", lambda y: scipy.interpolate.CubicSpline(T[:6], y)(0.5), X),
    # scipy.fft's functions are uarray multimethods: once silently dropped by pocketfft
    fd("fft.rfft", lambda x: np.abs(scipy.fft.rfft(x)), X),
    fd("fft.rfft-plus-term", lambda x: np.sum(np.abs(scipy.fft.rfft(x))) + np.sum(x), X),
    fd("fft.fftn-ortho", lambda x: np.abs(scipy.fft.fftn(x.reshape(2, -1), norm="ortho")), X[:4]),
    err("fft.dct", lambda x: scipy.fft.dct(x, norm="ortho"), X, nd.NotDifferentiableError, r"scipy\.fft\.dct"),
    fd("signal.fftconvolve", lambda x: scipy.signal.fftconvolve(x, X), X),
]  # fmt: skip
