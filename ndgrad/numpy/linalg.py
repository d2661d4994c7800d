"""``ndgrad.numpy.linalg``: NumPy's ``linalg``, also the Array API ``linalg`` extension.

NumPy 2's ``numpy.linalg`` already has every function of the extension with its semantics, and
each dispatches on GradArrays, so every name here is NumPy's own object, except the norms, which
also keep GradArrays held in lists and tuples (``norm((x, x + 2))``; see ``_sequences``).
"""

from __future__ import annotations

import numpy as _np

from ndgrad.numpy._sequences import LINALG, wrapped

globals().update({n: getattr(_np.linalg, n) for n in _np.linalg.__all__})
globals().update(wrapped(_np.linalg, LINALG))

__all__ = sorted(_np.linalg.__all__)
