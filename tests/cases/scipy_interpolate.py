"""Cases for the rules of scipy.interpolate (ndgrad/_rules/scipy_interpolate.py).

Every interpolant call records one ``interpolant_evaluation`` node; its case runs each wrapped
class (and ``make_interp_spline``) in the data and the points, with points kept away from the
knots and from the midpoints where 'nearest' jumps.
"""

from __future__ import annotations

import numpy as np
import scipy.interpolate as si

from ndgrad._rules.scipy_interpolate import (
    _interpolant_evaluation,
    _splev,
    _splint,
    _splrep_coefficients,
)

from ._case import Case, R, U

_X = np.linspace(0.0, 3.0, 6)
_XN = np.array([0.25, 1.1, 2.85, 2.25])
# The unit square's corners first: every point of _XI is inside the convex hull (no NaN).
_PTS = np.vstack([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], (U(4, 2) + 1) / 2])
_XI = U(3, 2) * 0.3 + 0.5
_GRID = (np.linspace(0.0, 1.0, 4), np.linspace(0.0, 1.0, 4))
_T = si.make_interp_spline(_X, R(6), k=3).t

_CALLS = [
    lambda y, p: si.interp1d(_X, y)(p),
    lambda y, p: si.interp1d(_X, y, kind="nearest")(p),
    lambda y, p: si.interp1d(_X, y, kind="cubic", bounds_error=False)(p),
    lambda y, p: si.CubicSpline(_X, y)(p),
    lambda y, p: si.CubicSpline(_X, y, bc_type=((1, 0.5), (2, -1.0)))(p, 1),
    lambda y, p: si.make_interp_spline(_X, y, k=3)(p),
    lambda y, p: si.BSpline(_T, y, 3)(p),
    lambda y, p: si.PchipInterpolator(_X, np.arange(6.0) ** 1.5)(p) * np.sum(y),
    lambda y, p: si.RBFInterpolator(_PTS, y[:, None] * p[:2])(_XI),
    lambda y, p: si.RegularGridInterpolator(_GRID, np.outer(y[:4], p + y[4]))(_XI),
    # a nonzero fill value outside the domain: affine in y, so its tangent must not carry it
    lambda y, p: si.interp1d(_X, y, bounds_error=False, fill_value=2.0)(np.append(p, 3.5)),
]
# Fixed data for the calls added after the generator's draws above (which keep their values).
_Y = np.sin(np.arange(6.0))
# griddata with a nonzero fill value at a point outside the hull (affine in the values).
_XI_OUT = np.array([[0.5, 0.5], [1.5, 0.2], [0.3, 0.6]])


# FITPACK: an interpolating cubic on 7 points, evaluated away from its knots, inside and out.
_XS = np.linspace(0.0, 1.0, 7)
_TCK = si.splrep(_XS, np.sin(3 * _XS), s=0)
_PTS_1D = np.array([-0.2, 0.1, 0.45, 0.8, 1.15])


def _splev_call(x, c, **kwargs):
    return si.splev(x, (_TCK[0], c, 3), **kwargs)


def _splint_call(a, b, c):
    return si.splint(a, b, (_TCK[0], c, 3))


def _call(y, p, which):
    return _CALLS[which](y, p)


CASES = {
    _interpolant_evaluation: Case(
        [((R(6), _XN), {"which": i}) for i in range(8)]
        + [((R(8), _XN), {"which": 8}), ((R(6), _XN), {"which": 9})]
        + [((_Y, _XN), {"which": 10})],
        call=_call,
    ),
    _splev: Case(
        [((_PTS_1D, _TCK[1]), {"der": d, "ext": e}) for d in (0, 1, 3) for e in (0, 1, 3)]
        + [((U(2, 2) / 2 + 0.5, _TCK[1]), {"der": 2})],
        call=_splev_call,
    ),
    _splint: Case(
        [((np.array(a), np.array(b), _TCK[1]), {}) for a, b in ((0.1, 0.8), (-0.3, 1.3))],
        call=_splint_call,
    ),
    _splrep_coefficients: Case(
        [
            ((R(7),), {}),
            ((R(7),), {"t": [0.3, 0.6], "k": 2}),
            ((R(7),), {"w": np.linspace(1.0, 2.0, 7), "s": 0}),
        ],
        call=lambda y, **kw: si.splrep(_XS, y, **kw)[1],
    ),
    si.griddata: Case(
        [((R(8),), {}), ((R(8, 2),), {}), ((np.cos(np.arange(8.0)),), {"fill_value": 1.5})],
        call=lambda v, fill_value=np.nan: si.griddata(
            _PTS, v, _XI if np.isnan(fill_value) else _XI_OUT, fill_value=fill_value
        ),
    ),
}
