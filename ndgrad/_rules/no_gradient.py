"""NumPy functions whose results carry no gradient: integers, booleans, shapes and constants.

They are computed on plain arrays. Float results (``zeros_like``) still come back as GradArrays
without a graph, so that writing a recorded value into them (``out[i] = x``) is recorded.
"""

from __future__ import annotations

import numpy as np

from ndgrad._registry import mark_no_gradient

# --- shapes and metadata ----------------------------------------------------------------------
mark_no_gradient(np.shape, np.ndim, np.size, np.result_type, np.can_cast, np.min_scalar_type,
                 np.may_share_memory, np.shares_memory, np.iscomplexobj, np.isrealobj)  # fmt: skip

# --- constants shaped like an input -----------------------------------------------------------
mark_no_gradient(np.zeros_like, np.ones_like, np.empty_like, np.full_like)

# --- indices and booleans ---------------------------------------------------------------------
mark_no_gradient(
    np.argmax, np.argmin, np.argsort, np.argpartition, np.nonzero, np.flatnonzero, np.argwhere,
    np.searchsorted, np.count_nonzero, np.all, np.any, np.isclose, np.allclose, np.array_equal,
    np.array_equiv, np.isreal, np.iscomplex, np.isneginf, np.isposinf,
)  # fmt: skip
