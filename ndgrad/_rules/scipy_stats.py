"""Gradient rules for the compiled kernels of ``scipy.stats``: :class:`scipy.stats.gaussian_kde`.

``scipy.stats`` is Python around ``scipy.special``, ``scipy.linalg`` and NumPy, and its
module-level functions are traced (``scipy_functions``). ``gaussian_kde`` builds its covariance
with ``np.cov`` and ``scipy.linalg.cholesky`` (both have rules), but evaluates the density in
Cython: ``evaluate``/``__call__``/``pdf`` call ``gaussian_kernel_estimate[spec]`` and ``logpdf``
calls ``gaussian_kernel_estimate_log[spec]``, fused functions indexed by the dtype. Here both
become primitives: the forward pass is SciPy's own Cython (so values are bit for bit SciPy's),
and the rules below give the gradient in every array argument, so the density differentiates
in the data, the points, the weights and the bandwidth (``bw_method`` given as a callable
returning an array; SciPy itself refuses a 0-d array as a scalar ``bw_method``).

The kernel sum, with ``L = cho_cov`` (lower triangular), ``a_i = L^-1 x_i`` (the data),
``b_j = L^-1 xi_j`` (the points), ``s_ij = |a_i - b_j|^2`` and ``log c = -d/2 log(2 pi) -
sum(log diag L)``::

    estimate[j, k]     = sum_i values[i, k] c exp(-s_ij / 2)
    estimate_log[j, k] = logsumexp_i (log values[i, k] + log c - s_ij / 2)

A rule is ``rule(g, ans, points, values, xi, cho_cov, dtype, spec) -> cotangent``. All four
cotangents derive from one weight matrix ``W[i, j] = sum_k g[j, k] d estimate[j, k] / d(-s_ij/2)``
(for the log form the weights are the softmax over ``i``, computed in logs so that far tails do
not overflow). ``cho_cov``'s cotangent is lower triangular: SciPy reads that triangle only.
The rules are NumPy calls, so they differentiate again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._define import defjvp, defvjp
from ndgrad._rules._lazy import after_import

__all__: list[str] = []

_LOG_2PI = 1.8378770664093453


def _writable(x: Any) -> Any:
    """SciPy's Cython takes writable memoryviews; ndgrad makes the arrays a node saved read-only."""
    return x if x.flags.writeable else x.copy()


def _make_estimate(fused: Any, name: str) -> Any:
    """The primitive ``estimate(points, values, xi, cho_cov, dtype, spec)`` around ``fused``."""

    def estimate(points, values, xi, cho_cov, dtype, spec):
        args = (_writable(points), _writable(values), _writable(xi), _writable(cho_cov))
        return fused[spec](*args, dtype)

    estimate.__name__ = estimate.__qualname__ = name
    return estimate


def _kernel_terms(points, xi, cho_cov):
    """``a``, ``b``, ``s`` and ``log c`` of the module docstring (``cho_cov``'s lower triangle)."""
    lower = np.tril(cho_cov)
    a = np.linalg.solve(lower, np.transpose(points))
    b = np.linalg.solve(lower, np.transpose(xi))
    a, b = np.transpose(a), np.transpose(b)
    diff = a[:, None, :] - b[None, :, :]
    s = np.sum(diff * diff, axis=-1)
    log_c = -cho_cov.shape[0] / 2 * _LOG_2PI - np.sum(np.log(np.diagonal(cho_cov)))
    return a, b, s, log_c


def _weights(g, ans, values, s, log_c, log):
    """``W[i, j]``: how much the loss moves per unit of ``-s_ij / 2``."""
    if log:  # softmax weights exp(log v + log c - s/2 - ans), each <= 1
        terms = np.log(values)[:, None, :] + (log_c - s / 2)[:, :, None] - ans[None, :, :]
        return np.sum(g[None, :, :] * np.exp(terms), axis=-1)
    return np.exp(log_c - s / 2) * (values @ np.transpose(g))


def _estimate_vjps(log: bool) -> tuple[Any, Any, Any, Any]:
    """The rules of the four array arguments, for the plain (``log=False``) or log estimate."""

    def points_vjp(g, ans, points, values, xi, cho_cov, dtype, spec):
        a, b, s, log_c = _kernel_terms(points, xi, cho_cov)
        w = _weights(g, ans, values, s, log_c, log)
        da = w @ b - np.sum(w, axis=1)[:, None] * a  # sum_j W_ij (b_j - a_i)
        return np.transpose(np.linalg.solve(np.transpose(np.tril(cho_cov)), np.transpose(da)))

    def values_vjp(g, ans, points, values, xi, cho_cov, dtype, spec):
        _, _, s, log_c = _kernel_terms(points, xi, cho_cov)
        if log:  # d ans[j, k] / d values[i, k] = exp(log c - s_ij / 2 - ans[j, k])
            terms = (log_c - s / 2)[:, :, None] - ans[None, :, :]
            return np.sum(g[None, :, :] * np.exp(terms), axis=1)
        return np.exp(log_c - s / 2) @ g

    def xi_vjp(g, ans, points, values, xi, cho_cov, dtype, spec):
        a, b, s, log_c = _kernel_terms(points, xi, cho_cov)
        w = _weights(g, ans, values, s, log_c, log)
        db = np.transpose(w) @ a - np.sum(w, axis=0)[:, None] * b  # sum_i W_ij (a_i - b_j)
        return np.transpose(np.linalg.solve(np.transpose(np.tril(cho_cov)), np.transpose(db)))

    def cho_cov_vjp(g, ans, points, values, xi, cho_cov, dtype, spec):
        # d s_ij / dL = -2 L^-T u u^T with u = a_i - b_j; d log c / dL = -diag(1 / diag L).
        a, b, s, log_c = _kernel_terms(points, xi, cho_cov)
        w = _weights(g, ans, values, s, log_c, log)
        wa, wb = np.sum(w, axis=1), np.sum(w, axis=0)
        cross = np.transpose(a) @ w @ b
        outer = (
            np.transpose(a) @ (wa[:, None] * a)
            + np.transpose(b) @ (wb[:, None] * b)
            - cross
            - np.transpose(cross)
        )
        grad = np.linalg.solve(np.transpose(np.tril(cho_cov)), outer)
        return np.tril(grad) - np.diag(np.sum(w) / np.diagonal(cho_cov))

    return points_vjp, values_vjp, xi_vjp, cho_cov_vjp


def _estimate_jvps(log: bool) -> tuple[Any, Any, Any, Any]:
    """Forward mode: each array argument moves ``q_ij = log c - s_ij / 2`` (the log kernel) by
    ``dq_ij``, and the estimate by ``sum_i values[i, k] exp(q_ij) dq_ij`` (for the log form
    the softmax over ``i`` of ``log values[i, k] + q_ij`` weighs ``dq_ij``)."""

    def moved(dq, ans, values, s, log_c):
        if log:
            terms = np.log(values)[:, None, :] + (log_c - s / 2)[:, :, None] - ans[None, :, :]
            return np.sum(np.exp(terms) * dq[:, :, None], axis=0)
        return np.transpose(np.exp(log_c - s / 2) * dq) @ values

    def half_ds(a, b, da, db):
        """``ds_ij / 2 = (a_i - b_j) . (da_i - db_j)`` (a None tangent is 0)."""
        total = 0.0
        if da is not None:
            total = total + np.sum(a * da, axis=1)[:, None] - da @ np.transpose(b)
        if db is not None:
            total = total + np.sum(b * db, axis=1)[None, :] - a @ np.transpose(db)
        return total

    def whitened(cho_cov, t):
        """``L^-1 t_i`` for each row ``t_i``."""
        return np.transpose(np.linalg.solve(np.tril(cho_cov), np.transpose(t)))

    def points_jvp(t, ans, points, values, xi, cho_cov, dtype, spec):
        a, b, s, log_c = _kernel_terms(points, xi, cho_cov)
        return moved(-half_ds(a, b, whitened(cho_cov, t), None), ans, values, s, log_c)

    def values_jvp(t, ans, points, values, xi, cho_cov, dtype, spec):
        _, _, s, log_c = _kernel_terms(points, xi, cho_cov)
        if log:  # d ans[j, k] / d values[i, k] = exp(log c - s_ij / 2 - ans[j, k])
            terms = (log_c - s / 2)[:, :, None] - ans[None, :, :]
            return np.sum(np.exp(terms) * t[:, None, :], axis=0)
        return np.transpose(np.exp(log_c - s / 2)) @ t

    def xi_jvp(t, ans, points, values, xi, cho_cov, dtype, spec):
        a, b, s, log_c = _kernel_terms(points, xi, cho_cov)
        return moved(-half_ds(a, b, None, whitened(cho_cov, t)), ans, values, s, log_c)

    def cho_cov_jvp(t, ans, points, values, xi, cho_cov, dtype, spec):
        # a = L^-1 x moves by -L^-1 dL a; log c by -sum(diag dL / diag L). SciPy reads the
        # lower triangle only, so only that part of the tangent moves L.
        a, b, s, log_c = _kernel_terms(points, xi, cho_cov)
        dl = np.tril(t)
        da = -whitened(cho_cov, a @ np.transpose(dl))
        db = -whitened(cho_cov, b @ np.transpose(dl))
        dlog_c = -np.sum(np.diagonal(dl) / np.diagonal(cho_cov))
        return moved(dlog_c - half_ds(a, b, da, db), ans, values, s, log_c)

    return points_jvp, values_jvp, xi_jvp, cho_cov_jvp


class _FusedPrimitive:
    """Stands in for a Cython fused function: ``self[spec](*args)`` calls the primitive."""

    def __init__(self, primitive: Any) -> None:
        self.primitive = primitive

    def __getitem__(self, spec: str) -> Any:
        return lambda points, values, xi, cho_cov, dtype: self.primitive(
            points, values, xi, cho_cov, dtype, spec
        )


def _register(kde: Any) -> None:
    """Install the primitives in ``scipy.stats._kde``, where ``gaussian_kde`` looks them up."""
    for attr, log in (("gaussian_kernel_estimate", False), ("gaussian_kernel_estimate_log", True)):
        name = f"scipy.stats._stats.{attr}"
        primitive = defvjp(
            _make_estimate(getattr(kde, attr), attr), *_estimate_vjps(log), name=name
        )
        defjvp(primitive, *_estimate_jvps(log))
        setattr(kde, attr, _FusedPrimitive(primitive))


after_import("scipy.stats._kde", _register)
