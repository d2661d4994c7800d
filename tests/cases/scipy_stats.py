"""Cases for the rules of scipy.stats' compiled kernels (ndgrad/_rules/scipy_stats.py)."""

from __future__ import annotations

import numpy as np
import scipy.stats._kde as _kde

from ._case import Case, P, R, calls


def _lower(d: int) -> np.ndarray:
    """A Cholesky factor: lower triangular, positive diagonal (the upper triangle is ignored)."""
    return np.tril(0.3 * R(d, d), -1) + np.diag(P(d)) + np.triu(R(d, d), 1)


def _estimate_case(primitive) -> Case:
    return Case(
        calls(
            (R(3, 2), P(3, 1), R(2, 2), _lower(2)),
            (R(2, 1), P(2, 2), R(3, 1), _lower(1)),
        ),
        call=lambda points, values, xi, cho_cov: primitive(
            points, values, xi, cho_cov, np.float64, "double"
        ),
    )


CASES = {
    _kde.gaussian_kernel_estimate.primitive: _estimate_case(
        _kde.gaussian_kernel_estimate.primitive
    ),
    _kde.gaussian_kernel_estimate_log.primitive: _estimate_case(
        _kde.gaussian_kernel_estimate_log.primitive
    ),
}
