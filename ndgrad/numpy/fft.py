"""``ndgrad.numpy.fft``: NumPy's ``fft``, also the Array API ``fft`` extension.

The transforms are NumPy's own objects (they dispatch on GradArrays). ``fftfreq`` and
``rfftfreq`` add the standard's ``dtype=`` and return GradArrays, like the creation functions
of ``ndgrad.numpy``.
"""

from __future__ import annotations

import numpy as _np

from ndgrad._array_api import fftfreq, rfftfreq  # noqa: F401  (listed in __all__ below)

globals().update(
    {n: getattr(_np.fft, n) for n in _np.fft.__all__ if n not in ("fftfreq", "rfftfreq")}
)

__all__ = sorted(_np.fft.__all__)
