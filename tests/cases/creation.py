"""Cases for the array-creation rules (ndgrad/_rules/creation.py)."""

from __future__ import annotations

import numpy as np

import ndgrad

from ._case import Case, R, calls

CASES = {
    # ``a`` as a GradArray: NumPy dispatches full_like on ``a`` only (with a plain ``a`` and a
    # traced fill value NumPy's own code calls np.copyto, which raises NotDifferentiableError).
    np.full_like: Case(
        calls((R(2, 3), R()), (R(2, 3), R(3)), (R(4), R(1))),
        call=lambda a, fill_value: np.full_like(ndgrad.asarray(a), fill_value),
    ),
}
