"""Cases for the reduction, statistics, running-reduction and difference rules."""

from __future__ import annotations

import numpy as np

import ndgrad.numpy

from ._case import C, Case, P, R, calls
from .core import CASES as _CORE


def _interp_dispatching(x, xp, fp, *rest, **kw):
    return np.interp(x, xp, ndgrad.numpy.asarray(fp), *rest, **kw)


def _with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x.flat[1] = np.nan
    return x


_ZEROS = np.array([[0.0, 2.0, -1.5], [0.0, 0.0, 1.5], [1.2, 0.0, 2.0]])
_COORDS = {n: np.cumsum(P(n)) for n in (3, 4)}  # increasing, unevenly spaced
_AXES = dict(axis=[None, 0, -1, (0, 1)], keepdims=[False, True])
_MASK = np.array([True, False, True])
_MAX_INITIAL = np.array([[0.1, 2.0, -0.3], [1.2, -1.0, 0.4]])

CASES = {
    # core's cases (a superset of them: this module is merged after core's), and constant
    # terms that a forward rule must leave out: sum's ``initial`` (affine), ``where=`` masks
    np.sum: Case(
        _CORE[np.sum].calls + calls((R(2, 3),), axis=[None, 1], initial=[1.5], where=[True, _MASK])
    ),
    np.mean: Case(_CORE[np.mean].calls + calls((R(2, 3),), axis=[None, 1], where=[_MASK])),
    np.prod: Case(
        calls((R(2, 3),), **_AXES)
        + calls((R(3),), (R(),), (C(2, 3),))
        + calls((_ZEROS,), axis=[None, 0, 1])
        + calls((R(2, 3),), axis=[1], where=[np.array([True, False, True])], initial=[1.5])
    ),
    np.nanprod: Case(calls((_with_nan(R(2, 3)),), axis=[None, 0, 1], keepdims=[False, True])),
    np.nansum: Case(
        calls((_with_nan(R(2, 3)),), **_AXES)
        + calls((R(3),), (R(),))
        + calls((_with_nan(R(2, 3)),), axis=[1], initial=[-2.0])
    ),
    np.nanmean: Case(
        calls((_with_nan(R(2, 3)),), axis=[None, 1], keepdims=[False, True])
        + calls((_with_nan(R(2, 3)),), axis=[1], where=[_MASK])
    ),
    np.average: Case(
        calls((R(2, 3),), axis=[None, 0, 1])
        + calls((R(2, 3), 1, P(3)), (R(2, 3), None, P(2, 3)), (R(2, 3), 0, P(2)))
        + calls((R(2, 3), 1, P(3), True), (R(2, 3), None, P(2, 3), True))
        + calls((R(2, 3), 1, P(3)), keepdims=[True])
        + calls((C(2, 3), 1, P(3)))
    ),
    np.var: Case(
        calls((R(2, 3),), **_AXES)
        + calls((R(2, 3),), axis=[1], ddof=[1], keepdims=[True])
        + calls((R(2, 3),), axis=[0], correction=[1])
        + calls((R(2, 3),), axis=[1], where=[np.array([True, False, True])])
        + calls((R(2, 3), 1), mean=[np.zeros((2, 1))], keepdims=[True])
        + calls((C(2, 3),), axis=[None, 1])
    ),
    np.std: Case(
        calls((R(2, 3),), **_AXES)
        + calls((R(2, 3),), axis=[1], ddof=[1])
        + calls((R(4),), correction=[1])
        + calls((C(3),), (R(),))
    ),
    np.nanvar: Case(
        calls((_with_nan(R(2, 3)),), axis=[None, 1], ddof=[0, 1])
        + calls((_with_nan(R(2, 3)),), axis=[1], where=[_MASK])
    ),
    np.nanstd: Case(calls((_with_nan(R(2, 3)),), axis=[None, 0], keepdims=[False, True])),
    np.max: Case(
        calls((R(2, 3),), **_AXES)
        + calls((R(),), (R(4),))
        # initial wins in the first row (a zero tangent), not in the second
        + calls((_MAX_INITIAL,), axis=[1], where=[_MASK], initial=[0.5])
    ),
    np.amax: Case(calls((R(2, 3),), axis=[None, 1], keepdims=[False, True])),
    np.min: Case(
        calls((R(2, 3),), **_AXES)
        + calls((R(2, 3),), axis=[1], where=[np.array([True, False, True])], initial=[5.0])
    ),
    np.amin: Case(calls((R(2, 3),), axis=[None, 0])),
    np.nanmax: Case(calls((_with_nan(R(2, 3)),), axis=[None, 0, 1])),
    np.nanmin: Case(calls((_with_nan(R(2, 3)),), axis=[None, 0, 1], keepdims=[True])),
    np.ptp: Case(calls((R(2, 3),), axis=[None, 0, 1], keepdims=[False, True])),
    np.median: Case(
        calls((R(2, 3),), (R(4),), (R(5),), axis=[None, 0, -1], keepdims=[False, True])
    ),
    np.nanmedian: Case(calls((_with_nan(R(2, 3)),), (_with_nan(R(4)),), axis=[None, -1])),
    # q away from the points where it selects an element exactly (kinks in q)
    np.quantile: Case(
        calls((R(2, 4), np.array(0.3)), (R(2, 4), np.array([0.1, 0.55, 0.9])), axis=[None, 0, 1])
        + calls((R(7), np.array(0.4)), method=["lower", "higher", "nearest", "midpoint"])
        + calls((R(7), np.array([0.3, 0.6])), method=["weibull", "hazen", "median_unbiased"])
        + calls((R(2, 4), np.array([0.25, 0.8])), axis=[1], keepdims=[True])
        + calls((R(2, 4),), q=[0.3, [0.2, 0.7]], axis=[1])
    ),
    np.percentile: Case(
        calls((R(2, 4), np.array(30.0)), (R(5), np.array([10.0, 72.0])), axis=[None, -1])
    ),
    np.nanquantile: Case(
        calls((_with_nan(R(2, 4)), np.array([0.2, 0.6])), axis=[None, 1], keepdims=[False, True])
    ),
    np.nanpercentile: Case(calls((_with_nan(R(2, 4)), np.array(40.0)), axis=[None, 0])),
    np.cumsum: Case(calls((R(2, 3),), axis=[None, 0, 1, -1]) + calls((R(),), (C(4),))),
    np.cumprod: Case(
        calls((R(2, 3),), axis=[None, 0, 1])
        + calls((_ZEROS,), axis=[None, 0, 1])
        + calls((C(4),), (R(),))
    ),
    np.nancumsum: Case(calls((_with_nan(R(2, 3)),), axis=[None, 0, 1])),
    np.nancumprod: Case(calls((_with_nan(R(2, 3)),), axis=[None, 0, 1])),
    np.cumulative_sum: Case(
        calls((R(4),), (C(3),)) + calls((R(2, 3),), axis=[0, 1], include_initial=[False, True])
    ),
    np.cumulative_prod: Case(
        calls((R(4),), (_ZEROS[1],))
        + calls((R(2, 3),), (_ZEROS,), axis=[0, 1], include_initial=[False, True])
    ),
    np.diff: Case(
        calls((R(5),), (R(2, 4),), n=[1, 2], axis=[-1])
        + calls((R(3, 2),), axis=[0])
        + calls((R(3, 2), 1, 0, R(1, 2), R(2, 2)), (R(4), 2, -1, R(), R(3)))
        + calls((R(3, 2),), axis=[1], prepend=[0.5], append=[np.ones((3, 1))])
    ),
    np.ediff1d: Case(
        calls((R(5),), (R(2, 3),), (R(4), R(2), R(1, 2)), (R(3), None, R()))
        + calls((R(4),), to_end=[np.array([2.0, 3.0])], to_begin=[-1.5])  # constant: affine
    ),
    np.gradient: Case(
        calls((R(5),), (R(3, 4),), (R(3, 4), 0.5), (R(3, 4), 0.5, 2.0), (C(4),))
        + calls((R(3, 4),), edge_order=[2], axis=[None, 0, -1])
        + calls((R(3, 4), 0.7), axis=[1])
        + calls((R(3, 4), _COORDS[3], _COORDS[4]), edge_order=[1, 2])
        + calls((R(3, 4), _COORDS[4]), axis=[-1], edge_order=[2])
        + calls((R(3, 4), 0.6, _COORDS[4]), (C(4), _COORDS[4]), edge_order=[2])
    ),
    np.cov: Case(
        calls((R(3, 4),), (R(4),), (R(3, 4), R(2, 4)), (R(4), R(4)), (C(2, 4),))
        + calls((R(4, 3),), rowvar=[False], bias=[True])
        + calls((R(2, 4),), ddof=[0, 2])
        + calls((R(2, 4),), fweights=[np.array([1, 2, 1, 3])], aweights=[P(4)])
        + calls((R(2, 4),), aweights=[P(4)], ddof=[0, 1])
        + calls(*[(R(2, 4), None, True, False, ddof, None, P(4)) for ddof in (None, 0, 2)])
        + calls((R(2, 4), R(1, 4), True, True, None, np.array([1, 2, 1, 3]), P(4)))
        + calls((C(2, 4), None, True, False, None, None, P(4)))
    ),
    np.corrcoef: Case(
        calls((R(3, 4),), (R(3, 4), R(1, 4)), (R(4), R(4)), (C(2, 4),))
        + calls((R(4, 2),), rowvar=[False])
    ),
    np.polyval: Case(calls((R(4), R(2, 3)), (R(3), R()), (R(1), R(3)), (C(3), C(2)))),
    np.vander: Case(calls((R(4),), (R(3), 5), (R(3), 2, True), (C(3),)) + calls((R(4),), N=[0, 1])),
    np.interp: Case(
        calls(
            (np.array([-2.5, -0.7, 0.1, 0.4, 1.3, 2.6]), np.array([-1.0, 0.0, 0.5, 2.0]), R(4)),
            (np.array([[0.2, -1.4], [0.9, 1.7]]), np.array([-1.0, 0.0, 0.5, 2.0]), R(4)),
            (np.array(0.3), np.array([0.0, 1.0]), R(2)),
            (np.array([-0.5, 0.3, 1.5]), np.array([0.0, 1.0]), C(2)),
        )
        + calls(
            (np.array([-2.5, 0.1, 2.6]), np.array([-1.0, 0.0, 2.0]), R(3)),
            left=[-3.0],
            right=[4.0],
        )
        # NumPy dispatches interp on x, xp and fp only: left and right are differentiated when
        # fp is a GradArray (alone, they meet a C conversion, which raises GraphBreakError).
        + calls((np.array([-2.5, 0.1, 2.6, 3.0]), np.array([-1.0, 0.0, 2.0]), R(3), 0.5, -1.5))
        + calls(
            (
                np.array([-165.0, 5.0, 40.0, 200.0, 355.0, 720.5]),
                np.array([350.0, 10.0, 190.0, 90.0, -80.0]),
                R(5),
            ),
            period=[360.0, -360.0],
        ),
        call=_interp_dispatching,
    ),
}
