"""NumPy functions whose results carry no gradient: integers, booleans, shapes and constants.

They are computed on plain arrays. Float results (``zeros_like``) still come back as GradArrays
without a graph, so that writing a recorded value into them (``out[i] = x``) is recorded. Only
functions whose result does not depend on the values of a float input belong here: anything
else would silently lose its graph (those go to ``unsupported``).
"""

from __future__ import annotations

import numpy as np

from ndgrad._registry import mark_no_gradient
from ndgrad._rules.unsupported import with_like_twins

# --- shapes and metadata ----------------------------------------------------------------------
mark_no_gradient(np.shape, np.ndim, np.size, np.result_type, np.can_cast, np.min_scalar_type,
                 np.may_share_memory, np.shares_memory, np.iscomplexobj, np.isrealobj)  # fmt: skip

# --- constants shaped like an input -----------------------------------------------------------
mark_no_gradient(np.zeros_like, np.ones_like, np.empty_like)  # full_like: creation.py

# --- indices and booleans ---------------------------------------------------------------------
mark_no_gradient(
    np.argmax, np.argmin, np.argsort, np.argpartition, np.nonzero, np.flatnonzero, np.argwhere,
    np.searchsorted, np.count_nonzero, np.all, np.any, np.isclose, np.allclose, np.array_equal,
    np.array_equiv, np.isreal, np.iscomplex, np.isneginf, np.isposinf,
)  # fmt: skip
mark_no_gradient(np.digitize, np.lexsort, np.nanargmax, np.nanargmin, np.isin)

# --- index helpers --------------------------------------------------------------------------
mark_no_gradient(
    np.ravel_multi_index, np.unravel_index, np.diag_indices_from, np.tril_indices_from,
    np.triu_indices_from, np.ix_, np.packbits, np.unpackbits, np.einsum_path, np.common_type,
)  # fmt: skip
mark_no_gradient(np.linalg.matrix_rank)  # an integer

# --- creation from shapes, files and strings (these dispatch only through ``like=``) ---------
mark_no_gradient(
    *with_like_twins(
        np.ones, np.full, np.eye, np.identity, np.tri, np.fromfunction, np.loadtxt,
        np.genfromtxt,
    ),
    np.empty, np.zeros, np.arange, np.fromfile, np.fromstring,
)  # fmt: skip
# Sample frequencies depend only on a length and a spacing.
mark_no_gradient(np.fft.fftfreq, np.fft.rfftfreq)

# --- dates, strings and files: the values are read or written, never differentiated --------
mark_no_gradient(np.busday_count, np.busday_offset, np.is_busday, np.datetime_as_string)
mark_no_gradient(np.array2string, np.array_repr, np.array_str)
mark_no_gradient(np.save, np.savez, np.savez_compressed, np.savetxt)

# --- strings: np.strings and np.char take and return strings, bytes, ints and booleans -------
# The helpers behind np.char.join and np.char.split dispatch too, under private names, so the
# dispatchers are collected from the modules that define them.
mark_no_gradient(
    *(
        f
        for module in (
            np.strings.upper._implementation.__globals__,
            np.char.equal._implementation.__globals__,
        )
        for f in module.values()
        if hasattr(f, "_implementation") and f.__module__ in ("numpy.strings", "numpy.char")
    )
)
