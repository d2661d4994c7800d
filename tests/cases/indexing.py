"""Cases for the indexing and selection rules (ndgrad/_rules/indexing.py, sorting.py)."""

from __future__ import annotations

import numpy as np

import ndgrad
from ndgrad._rules.indexing import scatter_add

from ._case import A, C, Case, R, calls, unary


def _setitem(a, key, value):
    # A GradArray copy even when only ``value`` is traced: a plain ndarray cannot hold a graph.
    out = ndgrad.asarray(a) * 1.0
    out[key] = value
    return out


def _mask(*shape):
    return R(*shape) > 0


CASES = {
    np.ndarray.__getitem__: Case(
        calls(
            (R(4, 3), 1),
            (R(4, 3), -1),
            (R(4, 3), (1, 2)),
            (R(4, 3), (slice(None, None, -2), 0)),
            (R(4, 3), (slice(3, 0, -1), slice(None, None, 2))),
            (R(4, 3), (np.array([0, 2, 2]),)),
            (R(4, 3), (np.array([[0, 3], [3, 3]]), -1)),
            (R(4, 3), (np.array([0, 1, 1]), np.array([2, 2, 0]))),
            (R(4, 3), (_mask(4, 3),)),
            (R(4, 3), (_mask(4), slice(1, None))),
            (R(4, 3), (Ellipsis, None, 1)),
            (R(4, 3), (None, Ellipsis)),
            (R(4, 3), (np.array([1, 1]), slice(0, 2))),
            (R(2, 3, 2), (slice(None), np.array([0, 2, 0]), 1)),
            (R(2, 3, 2), (0, slice(None), np.array([1, 1]))),
            (R(), ()),
            (R(), (None,)),
            (R(3), (np.array(True),)),
            (R(3), ([2, 0, 2],)),
        ),
        call=lambda a, key: a[key],
    ),
    np.ndarray.__setitem__: Case(
        calls(
            (R(4, 3), (1,), R(3)),
            (R(4, 3), (slice(0, 2), 1), R(2)),
            (R(4, 3), (_mask(4, 3),), 2.0),
            (R(4, 3), (_mask(4, 3),), R()),
            (R(4, 3), (slice(None, None, -1),), R(3)),
            (R(4, 3), (Ellipsis, None, 1), R(4, 1)),
            # repeated positions: NumPy keeps the last write, so only it gets a gradient
            (R(4, 3), (np.array([0, 2, 0]),), R(3, 3)),
            (R(4, 3), (np.array([1, 1]), np.array([2, 2])), R(2)),
            (R(4, 3), (np.array([3, 3, 0]), slice(1, None)), R(2)),
            (R(5), ([4, 4, 4],), R()),
            (R(4, 3), (1,), R(1, 1, 3)),
            (R(4, 3), (np.array([0, 0]), 1), R(1, 2)),
            (R(), (), R()),
            # a value broadcast over repeated rows; a real value into a complex array
            (R(4, 3), (np.array([0, 2, 0]),), R(3)),
            (R(4, 3), (_mask(4, 3),), R(1)),
            (C(4, 3), (slice(1, 3),), R(3)),
        ),
        call=lambda a, key, value: _setitem(a, key, value),
    ),
    scatter_add: Case(
        calls((R(3), np.array([0, 2, 2]), (4,)), (R(2, 2), (slice(1, 3), slice(0, 2)), (3, 3))),
    ),
    np.where: Case(calls((_mask(2, 3), R(2, 3), R(3)), (_mask(3), R(2, 3), 1.5))),
    # indexing-like operations
    np.take: Case(
        calls((R(5), np.array([0, 3, 3])), (R(5), 2), (R(2, 3), np.array([[0, 1], [5, 5]])))
        + calls((R(2, 3), np.array([2, 0, 2]), 1), (R(3, 2), -1, 0), (R(2, 3), [1], -1))
        + calls((R(2, 3), np.array([-1, 4, 7]), 1), mode=["wrap", "clip"])
    ),
    np.take_along_axis: Case(
        calls(
            (R(2, 3), np.array([[0, 0], [2, 1]]), 1),
            (R(3, 2), np.array([[2, 2]]), 0),
            (R(2, 3), np.array([[1], [0]]), -1),
            (R(4), np.array([3, 3, 0]), None),
        )
    ),
    np.choose: Case(
        calls(
            (np.array([0, 1, 2, 1]), R(4), R(4), R()),
            (np.array([[0, 1], [1, 0]]), R(2), R(2, 2)),
            ([1, 0, 1], R(3), R(3)),
        )
        + calls((np.array([-1, 3, 1]), R(3), R(3)), mode=["wrap", "clip"])
        + calls((np.array([[0, 1, 2]]), R(3, 2, 1)), whole=[True]),
        call=lambda a, *choices, whole=False, **kw: np.choose(
            a, choices[0] if whole else list(choices), **kw
        ),
    ),
    # a constant default (positional or keyword) is affine: it must get no tangent
    np.select: Case(
        calls((R(3), R(2, 3), R()), (R(3), R(3), R(3)), (R(3), R(3), 2.5))
        + calls((R(3), R(3)), default=[-1.5]),
        call=lambda x, y, *default, **kw: np.select([x > 0, y > 0.3], [x, y], *default, **kw),
    ),
    np.compress: Case(
        calls(
            (np.array([True, False, True]), R(2, 3), 1),
            (np.array([False, True]), R(2, 3), 0),
            (np.array([True, False, True, True]), R(2, 2)),
        )
    ),
    np.extract: Case(calls((_mask(2, 3), R(2, 3)), (np.array([1, 0, 2]), R(3)))),
    # sorting
    np.sort: Case(
        calls((R(5),), (R(2, 3),), axis=[-1, 0])
        + calls((R(2, 3),), (R(4),), axis=[None])
        + calls((C(4),)),
    ),
    np.partition: Case(
        calls((R(5), 2), (R(2, 3), 1), (R(5), [0, 3])) + calls((R(3, 2), 1), axis=[0, None])
    ),
    # selecting and clamping values
    np.clip: Case(
        calls((A(2, 3), -0.5, 0.5), (A(3), A(3), 1.2), (A(2, 3), None, A(3)), (A(3), -1.1, None))
        + calls((A(3), np.array([0.9, -2.5, 0.3]), np.array([0.5, 2.5, 0.1])))
        + [((A(2, 3),), {"min": 0.1, "max": 0.6})]
    ),
    # infinities become +-5 (the defaults, +-1.8e308, defeat finite differences)
    np.nan_to_num: Case(
        calls(
            (R(3),),
            (np.array([1.0, np.nan, np.inf, -np.inf, 2.0]),),
            (np.array([1.0 + 2j, np.nan + 1j, complex(2.0, np.inf)]),),
            posinf=[5.0],
            neginf=[-5.0],
        )
        + calls((np.array([np.nan, 1.0, np.inf]),), nan=[1.5], posinf=[2.0])
    ),
    np.angle: Case(calls((C(3),), (C(2, 2),), (R(3),), (C(),)) + calls((C(3),), deg=[True])),
    np.round: Case(calls((A(3),), (A(2, 3),), (A(),)) + calls((A(3) * 10,), decimals=[-1])),
    np.around: Case(calls((A(3),), (A(2, 3),)) + calls((A(3),), decimals=[1])),
    np.fix: unary(A),
}
