"""Gradient rules for NumPy's sums, products, means and other reductions.

A rule is ``rule(g, ans, a, axis=None, ..., keepdims=False) -> cotangent`` for ``a``, with
NumPy's own parameter names. Each rule returns a cotangent of ``a``'s exact shape.
"""

from __future__ import annotations

import numpy as np

from ndgrad._registry import defvjp
from ndgrad._rules._common import expand_reduced


def _sum_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
             where=True):  # fmt: skip
    """Spread ``g`` back over the axes that ``sum`` removed."""
    g = np.broadcast_to(expand_reduced(g, np.shape(a), axis, keepdims), np.shape(a))
    return g if where is True else g * where


def _mean_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Like sum, divided by the number of elements averaged."""
    count = np.sum(np.broadcast_to(where, np.shape(a)), axis=axis, keepdims=True)
    g = np.broadcast_to(expand_reduced(g, np.shape(a), axis, keepdims), np.shape(a)) / count
    return g if where is True else g * where


defvjp(np.sum, _sum_vjp)
defvjp(np.mean, _mean_vjp)
