"""``ndgrad.numpy.fft``: NumPy's ``fft``, also the Array API ``fft`` extension.

The transforms are NumPy's own objects (they dispatch on GradArrays). ``fftfreq`` and
``rfftfreq`` add the standard's ``dtype=`` and return GradArrays, like the creation functions
of ``ndgrad.numpy``.
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from ndgrad.numpy._creation import finish_creation

globals().update(
    {n: getattr(_np.fft, n) for n in _np.fft.__all__ if n not in ("fftfreq", "rfftfreq")}
)

__all__ = sorted(_np.fft.__all__)


def _frequencies(grid: Any) -> Any:
    """``numpy.fft.fftfreq`` or ``rfftfreq`` plus the Array API's ``dtype=``, as a GradArray."""

    def frequencies(n: int, d: float = 1.0, device: Any = None, *, dtype: Any = None) -> Any:
        res = grid(n, d, device=device)
        return finish_creation(res if dtype is None else res.astype(dtype, copy=False), False)

    frequencies.__name__ = frequencies.__qualname__ = grid.__name__
    frequencies.__doc__ = f"""``numpy.fft.{grid.__name__}`` plus the Array API's ``dtype=``.

    Parameters
    ----------
    n, d, device
        As for ``numpy.fft.{grid.__name__}``.
    dtype : dtype, optional
        A real floating dtype for the result.

    Returns
    -------
    GradArray
    """
    return frequencies


fftfreq = _frequencies(_np.fft.fftfreq)
rfftfreq = _frequencies(_np.fft.rfftfreq)
