"""Gradient rules for indexing: ``a[key]``, ``a[key] = value`` and the scatter they need.

A rule is ``rule(g, ans, a, key, ...) -> cotangent``. Reading ``a[key]`` sends ``g`` back to
the positions it read, adding up where an integer index repeats a position.
"""

from __future__ import annotations

import numpy as np

from ndgrad._registry import defvjp, unbroadcast


def _has_array_index(key):
    """Whether ``key`` holds an integer array or list, which may repeat positions."""
    parts = key if isinstance(key, tuple) else (key,)
    return any(
        isinstance(k, list) or (isinstance(k, np.ndarray) and k.dtype.kind in "iu") for k in parts
    )


def scatter_add(g, key, shape):
    """Zeros of ``shape`` with ``g`` added at ``key`` (repeated positions add up)."""
    out = np.zeros(shape, dtype=g.dtype)
    if _has_array_index(key):
        np.add.at(out, key, g)
    else:
        out[key] = g
    return out


scatter_add = defvjp(scatter_add, lambda g, ans, g0, key, shape: g[key], name="ndgrad.scatter_add")


def _getitem_vjp(g, ans, a, key):
    return scatter_add(g, key, np.shape(a))


def _setitem_old_vjp(g, ans, a, key, value):
    """The old array survives outside ``key``; the rule must not read ``a`` (written over)."""
    keep = np.ones(np.shape(g), dtype=bool)
    keep[key] = False
    return np.where(keep, g, 0)


defvjp(np.ndarray.__getitem__, _getitem_vjp, name="ndarray.__getitem__")
defvjp(
    np.ndarray.__setitem__,
    _setitem_old_vjp,
    None,
    lambda g, ans, a, key, value: unbroadcast(g[key], np.shape(value)),
    name="ndarray.__setitem__",
)

# where(condition, x, y) picks from x or y: each gets g where it was picked, summed back to its
# shape (all three broadcast together).
defvjp(
    np.where,
    None,
    lambda g, ans, condition, x=None, y=None: unbroadcast(np.where(condition, g, 0), np.shape(x)),
    lambda g, ans, condition, x=None, y=None: unbroadcast(np.where(condition, 0, g), np.shape(y)),
)
