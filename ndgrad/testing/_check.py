"""Gradient checking against central finite differences, for ndgrad's tests and for yours.

``check_grad(f, *args)`` compares the reverse-mode gradient of a random projection
``L(x) = Re(sum(conj(u) * f(x)))`` with central differences of ``L``: element by element for
small inputs (so that a failure names the worst element), and along random directions for large
ones. With ``order=2`` it checks the gradient of the gradient the same way, which tests the
rules of the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad._array import GradArray, _plain
from ndgrad.functional import grad

__all__ = ["check_grad"]

_ELEMENTWISE_LIMIT = 64  # inputs with more elements are checked along random directions


def _plain_copy(x: Any) -> Any:
    if isinstance(x, GradArray):
        return _plain(x).copy()
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else x


def _is_float_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, float, complex)) and np.asarray(x).dtype.kind in "fc"


def _parts(out: Any) -> list[Any]:
    """The float outputs of ``f``: one array, or the float members of a tuple or list."""
    parts = list(out) if isinstance(out, (tuple, list)) else [out]
    return [
        p
        for p in parts
        if np.asarray(_plain(p) if isinstance(p, GradArray) else p).dtype.kind in "fc"
    ]


def _projection(f: Callable[..., Any], args: Sequence[Any], seed: int) -> Callable[..., Any]:
    """``L(*args) = Re(sum(conj(u) * f(*args)))`` for a fixed random ``u`` shaped like f(args)."""
    outs = _parts(f(*[_plain_copy(a) for a in args]))
    rng = np.random.default_rng(seed)
    us = []
    for out in outs:
        u = rng.standard_normal(np.shape(out))
        if np.iscomplexobj(out):
            u = u + 1j * rng.standard_normal(np.shape(out))
        us.append(u)

    def projected(*xs: Any) -> Any:
        total = 0.0
        for u, y in zip(us, _parts(f(*xs)), strict=True):
            total = total + (
                np.real(np.sum(np.conj(u) * y)) if np.iscomplexobj(u) else np.sum(u * y)
            )
        return total

    return projected


def _numeric_grad(fun: Callable[..., Any], args: list[Any], n: int, eps: float) -> Any:
    """Central differences of scalar ``fun`` in every element of ``args[n]``."""
    x = np.array(args[n], dtype=np.result_type(args[n], float), copy=True)
    out = np.zeros_like(x)
    parts = [1.0, 1j] if x.dtype.kind == "c" else [1.0]
    for idx in np.ndindex(x.shape):
        for part in parts:
            hi, lo = x.copy(), x.copy()
            hi[idx] += eps * part
            lo[idx] -= eps * part
            d = (_value(fun, args, n, hi) - _value(fun, args, n, lo)) / (2 * eps)
            out[idx] += d * part
    return out if np.ndim(args[n]) else out[()]


def _value(fun: Callable[..., Any], args: list[Any], n: int, xn: Any) -> float:
    call = list(args)
    call[n] = xn if np.ndim(args[n]) or isinstance(args[n], np.ndarray) else xn[()]
    out = fun(*call)
    return float(np.real(_plain(out) if isinstance(out, GradArray) else out))


def _fail(what: str, analytic: Any, numeric: Any, rtol: float, atol: float) -> None:
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    err = np.abs(analytic - numeric)
    excess = err - (atol + rtol * np.abs(numeric))
    if analytic.shape != numeric.shape:
        raise AssertionError(f"{what}: gradient shape {analytic.shape} != {numeric.shape}")
    if not np.all(excess <= 0) or not np.all(np.isfinite(analytic) == np.isfinite(numeric)):
        worst = np.unravel_index(
            np.nanargmax(np.where(np.isnan(excess), np.inf, excess)), err.shape
        )
        rel = err[worst] / max(np.abs(numeric[worst]), 1e-300)
        raise AssertionError(
            f"{what}: gradient does not match finite differences.\n"
            f"  worst element {tuple(int(i) for i in worst)}: ndgrad {analytic[worst]!r}, "
            f"finite differences {numeric[worst]!r}\n"
            f"  absolute error {err[worst]:.3g}, relative error {rel:.3g} "
            f"(rtol={rtol}, atol={atol})"
        )


def check_grad(
    f: Callable[..., Any],
    *args: Any,
    argnums: int | Sequence[int] | None = None,
    order: int = 1,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
) -> None:
    """Assert that ndgrad's gradient of ``f`` matches central finite differences.

    Parameters
    ----------
    f : callable
        Takes ``args`` and returns an array (any shape, real or complex).
    *args
        The point to check at. Float64 inputs give the most reliable differences.
    argnums : int or sequence of int, optional
        The arguments to check; by default every float or complex array argument.
    order : {1, 2}
        2 also checks the gradient of the gradient (second derivatives).
    eps, rtol, atol : float
        Step of the central differences, and the tolerances of the comparison.
    seed : int
        Seeds the random projection and directions.

    Raises
    ------
    AssertionError
        Naming the argument, the worst element and its index, both values, and the absolute
        and relative errors.

    Examples
    --------
    >>> import numpy as np
    >>> from ndgrad.testing import check_grad
    >>> check_grad(np.sin, np.linspace(0.0, 1.0, 5), order=2)
    """
    args_list = list(args)
    if argnums is None:
        nums = [i for i, a in enumerate(args_list) if _is_float_array(a)]
    else:
        nums = [argnums] if isinstance(argnums, int) else list(argnums)
    scalar = _projection(f, args_list, seed)
    _check_first(scalar, args_list, nums, eps, rtol, atol, seed, "")
    if order >= 2:
        rng = np.random.default_rng(seed + 1)
        for n in nums:
            w = rng.standard_normal(np.shape(args_list[n]))

            def directional(*xs: Any, n: int = n, w: Any = w) -> Any:
                gx = grad(scalar, argnums=n)(*xs)
                return np.sum(np.real(gx) * w)

            _check_first(directional, args_list, nums, eps * 10, rtol * 100, atol * 100,
                         seed + 2, f" (second order, d/dx <grad_{n}, w>)")  # fmt: skip


def _check_first(
    scalar: Callable[..., Any],
    args: list[Any],
    nums: list[int],
    eps: float,
    rtol: float,
    atol: float,
    seed: int,
    label: str,
) -> None:
    analytic = grad(scalar, argnums=tuple(nums), allow_unused=True)(*args)
    for n, g in zip(nums, analytic, strict=True):
        if np.size(args[n]) <= _ELEMENTWISE_LIMIT:
            numeric = _numeric_grad(scalar, args, n, eps)
            _fail(f"argument {n}{label}", g, numeric, rtol, atol)
            continue
        rng = np.random.default_rng(seed + n)
        for _ in range(3):
            v = rng.standard_normal(np.shape(args[n]))
            base = np.asarray(args[n], dtype=float)
            d = _value(scalar, args, n, base + eps * v) - _value(scalar, args, n, base - eps * v)
            _fail(f"argument {n}{label} along a random direction", np.sum(np.real(g) * v),
                  d / (2 * eps), rtol, atol)  # fmt: skip
