"""``ndgrad.numpy.linalg``: NumPy's ``linalg``, also the Array API ``linalg`` extension.

NumPy 2's ``numpy.linalg`` already has every function of the extension with its semantics, and
each dispatches on GradArrays, so every name here is NumPy's own object.
"""

from __future__ import annotations

import numpy as _np

globals().update({n: getattr(_np.linalg, n) for n in _np.linalg.__all__})

__all__ = sorted(_np.linalg.__all__)
