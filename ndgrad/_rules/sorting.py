"""Gradient rules for sorting: ``sort`` and ``partition`` return the values, rearranged.

A rule is ``rule(g, ans, a, ...) -> cotangent`` for ``a``, with NumPy's parameter names.
``argsort``, ``argpartition`` and the searching functions return integers and need no rule.
"""

from __future__ import annotations

import numpy as np

from ndgrad._define import defjvp, defvjp


def _unpermute(g, a, ans, axis):
    """Send ``g`` back through a rearrangement ``ans`` of ``a`` along ``axis``.

    Sorting both stably lines up equal values: the k-th smallest of ``ans`` came from the k-th
    smallest of ``a``. Among tied values any pairing is a valid (sub)gradient.
    """
    if axis is None:
        return np.reshape(_unpermute(g, np.ravel(a), ans, 0), np.shape(a))
    source = np.argsort(a, axis=axis, kind="stable")
    target = np.argsort(ans, axis=axis, kind="stable")
    sorted_g = np.take_along_axis(g, target, axis=axis)
    return np.take_along_axis(sorted_g, np.argsort(source, axis=axis, kind="stable"), axis=axis)


def _sort_vjp(g, ans, a, axis=-1, kind=None, order=None, *, stable=None):
    """``ans`` is sorted already: the k-th element of ``g`` goes to the k-th smallest of ``a``."""
    if axis is None:
        return np.reshape(_sort_vjp(g, ans, np.ravel(a), 0), np.shape(a))
    source = np.argsort(a, axis=axis, kind="stable")
    return np.take_along_axis(g, np.argsort(source, axis=axis, kind="stable"), axis=axis)


def _sort_jvp(t, ans, a, axis=-1, kind=None, order=None, *, stable=None):
    """The tangent sorted as the values are, by the stable order of ``a`` (the VJP's pairing:
    among ties the tangents keep their order, so the JVP is the VJP's transpose)."""
    if axis is None:
        return _sort_jvp(np.ravel(t), ans, np.ravel(a), 0)
    return np.take_along_axis(t, np.argsort(a, axis=axis, kind="stable"), axis=axis)


def _partition_jvp(t, ans, a, kth, axis=-1, kind="introselect", order=None):
    """The transpose of ``_unpermute``: the k-th smallest of ``a`` (stably) went to where the
    k-th smallest of ``ans`` is, and its tangent with it."""
    if axis is None:
        t, a, axis = np.ravel(t), np.ravel(a), 0
    source = np.argsort(a, axis=axis, kind="stable")
    target = np.argsort(ans, axis=axis, kind="stable")
    sorted_t = np.take_along_axis(t, source, axis=axis)
    return np.take_along_axis(sorted_t, np.argsort(target, axis=axis, kind="stable"), axis=axis)


defvjp(np.sort, _sort_vjp)
defvjp(
    np.partition,
    lambda g, ans, a, kth, axis=-1, kind="introselect", order=None: _unpermute(g, a, ans, axis),
)
defjvp(np.sort, _sort_jvp)
defjvp(np.partition, _partition_jvp)
