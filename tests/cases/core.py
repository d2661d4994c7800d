"""Cases for the reduction, shape and indexing rules that the engine itself relies on."""

from __future__ import annotations

import numpy as np

import ndgrad
from ndgrad._rules.indexing import scatter_add

from ._case import Case, R, calls

CASES = {
    np.sum: Case(
        calls((R(2, 3),), axis=[None, 0, -1, (0, 1)], keepdims=[False, True])
        + calls((R(3),), where=[np.array([True, False, True])])
    ),
    np.mean: Case(calls((R(2, 3),), axis=[None, 0, -1, (0, 1)], keepdims=[False, True])),
    np.ndarray.__getitem__: Case(
        calls(
            (R(4, 3), 1),
            (R(4, 3), (slice(None, None, -2), 0)),
            (R(4, 3), (np.array([0, 2, 2]),)),
            (R(4, 3), (R(4, 3) > 0,)),
            (R(4, 3), (Ellipsis, None, 1)),
            (R(4, 3), (np.array([1, 1]), slice(0, 2))),
        ),
        call=lambda a, key: a[key],
    ),
    np.ndarray.__setitem__: Case(
        calls(
            (R(4, 3), (1,), R(3)), (R(4, 3), (slice(0, 2), 1), R(2)), (R(4, 3), (R(4, 3) > 0,), 2.0)
        ),
        call=lambda a, key, value: _setitem(a, key, value),
    ),
    scatter_add: Case(
        calls((R(3), np.array([0, 2, 2]), (4,)), (R(2, 2), (slice(1, 3), slice(0, 2)), (3, 3))),
    ),
}


def _setitem(a, key, value):
    # A GradArray copy even when only ``value`` is traced: a plain ndarray cannot hold a graph.
    out = ndgrad.asarray(a) * 1.0
    out[key] = value
    return out


CASES[np.where] = Case(calls((R(2, 3) > 0, R(2, 3), R(3)), (R(3) > 0, R(2, 3), 1.5)))
