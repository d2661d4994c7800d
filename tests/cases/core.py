"""Cases for the reduction rules that the engine itself relies on."""

from __future__ import annotations

import numpy as np

from ._case import Case, R, calls

CASES = {
    np.sum: Case(
        calls((R(2, 3),), axis=[None, 0, -1, (0, 1)], keepdims=[False, True])
        + calls((R(3),), where=[np.array([True, False, True])])
        # initial is a constant term: sum is affine, not linear, in a
        + calls((R(2, 3),), axis=[0, None], initial=[1.5])
    ),
    np.mean: Case(calls((R(2, 3),), axis=[None, 0, -1, (0, 1)], keepdims=[False, True])),
}
