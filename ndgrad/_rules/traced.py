"""NumPy functions that ndgrad differentiates by running NumPy's own Python code on GradArrays.

Their implementations call only functions, methods and indexing that ndgrad records, keep the
array subclass (``np.asanyarray``, never ``np.asarray`` on the data), and write only into
GradArrays (so the write is recorded), never into a plain ``ndarray`` they created. Each one is
checked against finite differences or a closed form in ``tests/test_traced.py``: a NumPy
upgrade that changes an implementation fails there instead of silently dropping gradients.

Not here, although written in Python: ``np.unwrap``, ``np.polyder`` and friends (they call
``np.asarray``), ``np.apply_along_axis`` (fills a plain ndarray) and ``np.geomspace`` (writes
into the output of ``np.power`` that its rule saved); see ``unsupported``.
"""

from __future__ import annotations

import numpy as np

from ndgrad._registry import mark_traced

# --- ranges: start and stop are arrays, the spacing arithmetic on them is recorded -------------
# linspace: (stop - start) * arange / div + start, then y[-1] = stop (a recorded write).
mark_traced(np.linspace, np.logspace)

# --- piecewise functions: ``y = zeros_like(x); y[cond] = f(x[cond])``, every write recorded -----
mark_traced(np.piecewise, np.i0)

# --- polynomial coefficients: atleast_1d, concatenate with zeros, add -----------------------
mark_traced(np.polyadd, np.polysub)

# --- selections that return the input, a slice of it, or its real part -----------------------
mark_traced(np.real_if_close, np.trim_zeros)
