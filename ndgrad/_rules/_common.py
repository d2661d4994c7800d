"""Small helpers that rules share. Like the rules, they use only NumPy calls on their arguments."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._core import conj, ndim

__all__ = ["conj", "expand_reduced", "is_complex", "ndim", "zeros_of"]


def is_complex(x: Any) -> bool:
    """Whether ``x`` (an array, a NumPy or Python scalar, or a list) holds complex numbers."""
    dtype = getattr(x, "dtype", None)  # arrays and NumPy scalars: the hot path
    if dtype is not None:
        return dtype.kind == "c"  # type: ignore[no-any-return]
    if isinstance(x, (list, tuple)):
        return np.iscomplexobj(x)
    return isinstance(x, complex)


# ``conj(x)`` (imported above): ``x*`` for complex ``x``, ``x`` itself for real ``x`` (no copy).
# Compiled: most rules call it on every node. ``ndim(x)``: ``np.ndim(x)`` without NumPy's two
# Python calls, read by the derivation of what a rule reads as the shape only, as np.ndim is.


def zeros_of(g: Any) -> Any:
    """The zero cotangent of a piecewise-constant function: shaped like ``g``, never NaN."""
    return np.zeros_like(g)


def expand_reduced(g: Any, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Any:
    """Put back the axes that a reduction over ``axis`` removed: ``g`` broadcasts to ``shape``."""
    if keepdims or g.ndim == len(shape):
        return g
    if axis is None:
        return np.reshape(g, (1,) * len(shape))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return np.expand_dims(g, tuple(a % len(shape) for a in axes))
