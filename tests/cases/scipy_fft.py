"""Cases for scipy.fft's transforms (ndgrad/_rules/scipy_fft.py): NumPy's cases, SciPy's call,
plus SciPy's own keywords that must not change the gradient."""

from __future__ import annotations

import numpy as np
import scipy.fft

from . import fft as numpy_cases
from ._case import C, Case, R, calls

CASES = {
    getattr(scipy.fft, numpy_func.__name__): Case(case.calls)
    for numpy_func, case in numpy_cases.CASES.items()
}
CASES[scipy.fft.fft] = Case(
    CASES[scipy.fft.fft].calls
    + calls((R(4),), workers=[2], overwrite_x=[True, False])
    + calls((C(4),), (C(2, 3),), overwrite_x=[True])  # must not overwrite the tangent
)
assert all(f.__module__.startswith("scipy") or hasattr(f, "__wrapped__") for f in CASES)
assert np.fft.fft not in CASES
