"""Gradient rules for NumPy's array manipulation routines (shape, transpose, dims, casts).

A rule is ``rule(g, ans, a, ...) -> cotangent`` for ``a``, with NumPy's parameter names. These
functions move elements without changing them, so each rule moves ``g`` back.
"""

from __future__ import annotations

import numpy as np

from ndgrad._registry import defvjp


def _transpose_vjp(g, ans, a, axes=None):
    """Apply the inverse permutation."""
    if axes is None:
        return np.transpose(g)
    ndim = np.ndim(a)
    return np.transpose(g, np.argsort([ax % ndim for ax in axes]))


defvjp(np.reshape, lambda g, ans, a, shape=None, order="C", **kw: np.reshape(g, np.shape(a)))
defvjp(np.ravel, lambda g, ans, a, order="C": np.reshape(g, np.shape(a), order=order))
defvjp(np.transpose, _transpose_vjp)
defvjp(np.matrix_transpose, lambda g, ans, x: np.matrix_transpose(g))
defvjp(np.swapaxes, lambda g, ans, a, axis1, axis2: np.swapaxes(g, axis1, axis2))
defvjp(np.expand_dims, lambda g, ans, a, axis: np.reshape(g, np.shape(a)))
defvjp(np.squeeze, lambda g, ans, a, axis=None: np.reshape(g, np.shape(a)))
defvjp(np.copy, lambda g, ans, a, order="K", subok=False: g)
# A float-to-float cast: the cotangent is cast back (the engine matches the input's dtype).
defvjp(np.astype, lambda g, ans, x, dtype, /, **kwargs: g)
