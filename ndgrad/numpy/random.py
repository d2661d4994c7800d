"""``ndgrad.numpy.random``: NumPy's ``random``, unchanged.

Random numbers are constants to differentiation, so the plain arrays NumPy returns are what a
GradArray computation needs; every name here is NumPy's own object.
"""

from __future__ import annotations

import numpy.random as _random

globals().update({n: getattr(_random, n) for n in _random.__all__})

__all__ = sorted(_random.__all__)
