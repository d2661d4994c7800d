"""Cases for the rules of scipy.interpolate (ndgrad/_rules/scipy_interpolate.py).

Every interpolant call records one ``interpolant_evaluation`` node; its case runs each wrapped
class (and ``make_interp_spline``) in the data and the points, with points kept away from the
knots and from the midpoints where 'nearest' jumps.
"""

from __future__ import annotations

import numpy as np
import scipy.interpolate as si

from ndgrad._rules.scipy_interpolate import _interpolant_evaluation

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
]


def _call(y, p, which):
    return _CALLS[which](y, p)


CASES = {
    _interpolant_evaluation: Case(
        [((R(6), _XN), {"which": i}) for i in range(len(_CALLS) - 2)]
        + [((R(8), _XN), {"which": len(_CALLS) - 2}), ((R(6), _XN), {"which": len(_CALLS) - 1})],
        call=_call,
    ),
    si.griddata: Case([((R(8),), {}), ((R(8, 2),), {})], call=lambda v: si.griddata(_PTS, v, _XI)),
}
