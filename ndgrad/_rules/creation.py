"""Gradient rules for NumPy's array-creation routines that take values from an array.

A rule is ``rule(g, ans, a, fill_value, ...) -> cotangent``. Only the values that end up in the
new array can carry a gradient; shapes and dtypes cannot.
"""

from __future__ import annotations

import numpy as np

from ndgrad._define import defjvp, defvjp
from ndgrad._registry import unbroadcast

# full_like(a, v): every element is v, so v receives the sum of g (a only lends its shape).
defvjp(
    np.full_like,
    None,
    lambda g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kw: unbroadcast(
        g, np.shape(fill_value)
    ),
)
# Linear in fill_value (every element is a copy of it, no constant term): the tangent is t
# spread to the output's shape. A rule rather than ``deflinear``, which would call full_like
# again and so keep ``a`` alive, where the VJP needs only fill_value's shape.
defjvp(
    np.full_like,
    None,
    lambda t, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kw: (
        np.broadcast_to(t, ans.shape).astype(ans.dtype, copy=False)
    ),
)
