"""Gradient checking against central finite differences, and closeness with a useful message.

``check_grad(f, *args)`` compares the reverse-mode gradient of a random projection
``L(x) = Re(sum(conj(u) * f(x)))`` (``u = 1`` for a real ``f`` with one element, so that the
gradient is ``f``'s own) with central differences of ``L``: element by element for
small inputs (so that a failure names the worst element), and along random directions for large
ones. With ``order=2`` it checks, for a random ``w``, the gradient of ``<grad L, w>`` the same
way: Hessian-vector products, which test the rules of the rules.

Complex inputs are treated as pairs of reals: the finite differences step the real and the
imaginary part, and the gradient is compared in PyTorch's convention
``dL/dRe(z) + 1j * dL/dIm(z)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad._array import GradArray, plain_array
from ndgrad.functional import NO_DEPENDENCE, grad, jvp, tree_flatten, vjp

__all__ = ["assert_grad_close", "check_grad", "check_jvp"]

_ELEMENTWISE_LIMIT = 64  # inputs with more elements are checked along random directions


def _plain_copy(x: Any) -> Any:
    if isinstance(x, GradArray):
        return plain_array(x).copy()
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else x


def _is_float_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, float, complex)) and np.asarray(x).dtype.kind in "fc"


def _parts(out: Any) -> list[Any]:
    """The float outputs of ``f``: one array, or the float leaves of a tuple, list or dict."""
    parts, _ = tree_flatten(out)
    return [
        p
        for p in parts
        if np.asarray(plain_array(p) if isinstance(p, GradArray) else p).dtype.kind in "fc"
    ]


def _random_like(rng: np.random.Generator, x: Any) -> Any:
    """A standard normal array shaped like ``x``; complex when ``x`` is."""
    u = rng.standard_normal(np.shape(x))
    if np.iscomplexobj(x):
        u = u + 1j * rng.standard_normal(np.shape(x))
    return u


def _inner(u: Any, y: Any) -> Any:
    """``Re(sum(conj(u) * y))``, the real inner product, recorded when ``y`` is traced."""
    if np.iscomplexobj(u) or np.iscomplexobj(y):
        return np.sum(np.real(np.conj(u) * y))
    return np.sum(u * y)


def _projection(
    f: Callable[..., Any], args: Sequence[Any], seed: int
) -> tuple[Callable[..., Any], str]:
    """``L(*args) = Re(sum(conj(u) * f(*args)))`` for a fixed random ``u`` shaped like f(args),
    and a description of what the comparison compares. For a real ``f`` with one element ``u``
    is 1, so that the values compared are ``f``'s own gradient."""
    outs = _parts(f(*[_plain_copy(a) for a in args]))
    rng = np.random.default_rng(seed)
    scalar = len(outs) == 1 and np.size(outs[0]) == 1 and not np.iscomplexobj(outs[0])
    if scalar:
        us = [np.ones(np.shape(outs[0]))]
        compared = "  compared: the gradient of f itself"
    else:
        us = [_random_like(rng, out) for out in outs]
        compared = (
            "  compared: not f's own derivative (f's output has several elements) but the "
            "gradient of\n  L(x) = Re(sum(conj(u) * f(x))) for a fixed random u shaped like "
            f"f(x) (seed={seed}),\n  i.e. the vector-Jacobian product u^H J; check a scalar "
            "function\n  (e.g. lambda x: f(x)[i]) to see single derivatives"
        )

    def projected(*xs: Any) -> Any:
        total = 0.0
        for u, y in zip(us, _parts(f(*xs)), strict=True):
            total = total + _inner(u, y)
        return total

    return projected, compared


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
    return float(np.real(plain_array(out) if isinstance(out, GradArray) else out))


def _compare(
    what: str,
    actual: Any,
    expected: Any,
    rtol: float,
    atol: float,
    names: tuple[str, str],
    compared: str = "",
) -> None:
    """Raise an AssertionError naming the worst element unless ``actual`` is close enough."""
    __tracebackhide__ = True
    actual = np.asarray(plain_array(actual) if isinstance(actual, GradArray) else actual)
    expected = np.asarray(plain_array(expected) if isinstance(expected, GradArray) else expected)
    if actual.shape != expected.shape:
        raise AssertionError(
            f"{what}: {names[0]} has shape {actual.shape} but {names[1]} has {expected.shape}"
        )
    if actual.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(actual - expected)
        excess = err - (atol + rtol * np.abs(expected))
    same_nonfinite = (~np.isfinite(actual) & (actual == expected)) | (
        np.isnan(actual) & np.isnan(expected)
    )
    bad = ~(excess <= 0) & ~same_nonfinite
    if not np.any(bad):
        return
    score = np.where(bad, np.where(np.isnan(excess), np.inf, excess), -np.inf)
    worst = np.unravel_index(int(np.argmax(score)), err.shape)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rel = err[worst] / np.abs(expected[worst]) if expected[worst] != 0 else np.inf
    index = tuple(int(i) for i in worst)
    raise AssertionError(
        f"{what}: {names[0]} does not match {names[1]}.\n"
        f"  worst element {index}: {names[0]} {actual[worst]!r}, {names[1]} "
        f"{expected[worst]!r}\n"
        f"  absolute error {err[worst]:.3g}, relative error {rel:.3g} "
        f"(rtol={rtol:g}, atol={atol:g})\n"
        f"  {int(np.sum(bad))} of {bad.size} element(s) outside the tolerance"
        + (f"\n{compared}" if compared else "")
    )


def assert_grad_close(
    actual: Any,
    expected: Any,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    name: str = "gradient",
) -> None:
    """Assert that a gradient (or a tuple/list/dict of them) is close to the expected one.

    Parameters
    ----------
    actual, expected : array_like or container of array_like
        Compared element by element: ``|actual - expected| <= atol + rtol * |expected|``.
        Containers must have the same structure. NaNs and infinities must match.
    rtol, atol : float
        Relative and absolute tolerance.
    name : str
        How the failure message calls the value.

    Raises
    ------
    AssertionError
        Naming the container entry, the worst element and its index, both values, the
        absolute and relative error, and how many elements are outside the tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> from ndgrad.testing import assert_grad_close
    >>> assert_grad_close(nd.grad(lambda x: np.sum(x**2))(np.ones(2)), np.array([2.0, 2.0]))
    >>> assert_grad_close(np.array([1.0, 2.5]), np.array([1.0, 2.0]))
    Traceback (most recent call last):
    ...
    AssertionError: gradient: actual does not match expected.
      worst element (1,): actual np.float64(2.5), expected np.float64(2.0)
      absolute error 0.5, relative error 0.25 (rtol=1e-05, atol=1e-08)
      1 of 2 element(s) outside the tolerance
    """
    __tracebackhide__ = True
    a_leaves, a_spec = tree_flatten(actual)
    e_leaves, e_spec = tree_flatten(expected)
    if a_spec != e_spec:
        raise AssertionError(
            f"{name}: actual and expected have different structures:\n  actual   "
            f"{_structure(actual)}\n  expected {_structure(expected)}"
        )
    many = len(a_leaves) > 1 or a_spec is not None
    paths = _paths(actual)
    for path, a, e in zip(paths, a_leaves, e_leaves, strict=True):
        _compare(f"{name}{path}" if many else name, a, e, rtol, atol, ("actual", "expected"))


def _structure(tree: Any) -> str:
    leaves, spec = tree_flatten(tree)
    shapes = [np.shape(x) for x in leaves]
    return f"{len(leaves)} array(s) of shapes {shapes}" + ("" if spec is None else f" in {spec}")


def _paths(tree: Any, prefix: str = "") -> list[str]:
    """``[0]['w']``-style names of the leaves, in ``tree_flatten`` order."""
    if isinstance(tree, (tuple, list)):
        return [p for i, item in enumerate(tree) for p in _paths(item, f"{prefix}[{i}]")]
    if isinstance(tree, dict):
        return [p for k, item in tree.items() for p in _paths(item, f"{prefix}[{k!r}]")]
    return [prefix]


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
        Takes ``args`` and returns an array (any shape, real or complex), or a tuple of them.
    *args
        The point to check at. Float64 inputs give the most reliable differences.
    argnums : int or sequence of int, optional
        The arguments to check; by default every float or complex array argument.
    order : {1, 2}
        2 also checks Hessian-vector products (the derivatives of the gradient).
    eps, rtol, atol : float
        Step of the central differences, and the tolerances of the comparison. The second
        order check uses ``10 * eps`` and ``100 *`` the tolerances.
    seed : int
        Seeds the random projection and directions.

    Raises
    ------
    AssertionError
        Naming the argument, the worst element and its index, both values, the absolute
        and relative errors, and what was compared: ``f``'s gradient for a real ``f`` with
        one element; otherwise the gradient of ``Re(sum(conj(u) * f(x)))`` for a fixed
        random ``u`` (a vector-Jacobian product), whose values are not ``f``'s derivatives.

    Examples
    --------
    >>> import numpy as np
    >>> from ndgrad.testing import check_grad
    >>> check_grad(np.sin, np.linspace(0.0, 1.0, 5), order=2)
    """
    __tracebackhide__ = True
    args_list = list(args)
    nums = _checked_arguments(args_list, argnums, order)
    scalar, compared = _projection(f, args_list, seed)
    _check_first(scalar, args_list, nums, eps, rtol, atol, seed, "", compared)
    if order == 2:
        rng = np.random.default_rng(seed + 1)
        for n in nums:
            w = _random_like(rng, args_list[n])

            def directional(*xs: Any, n: int = n, w: Any = w) -> Any:
                return _inner(w, grad(scalar, argnums=n, allow_unused=True)(*xs))

            second = f"  compared: d/dx <grad_{n} L, w> for a fixed random w (seed={seed + 1})"
            _check_first(directional, args_list, nums, eps * 10, rtol * 100, atol * 100,
                         seed + 2, f" (second order: d/dx <grad_{n}, w>)", second)  # fmt: skip


def _checked_arguments(
    args: list[Any], argnums: int | Sequence[int] | None, order: int
) -> list[int]:
    """The positions of the arguments a check differentiates: ``argnums``, or every float or
    complex array argument."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if argnums is None:
        nums = [i for i, a in enumerate(args) if _is_float_array(a)]
    else:
        nums = [argnums] if isinstance(argnums, int) else list(argnums)
        for n in nums:
            if not _is_float_array(args[n]):
                raise TypeError(f"argument {n} is not a float or complex array: cannot check it")
    if not nums:
        raise ValueError("no float or complex argument to check")
    return nums


# Added to a mismatch's report when ndgrad's gradient is zero for want of a dependence.
_DISCONNECTED = (
    "\n  note: ndgrad found that f's output does not depend on some checked argument (its"
    "\n  gradient is reported as zeros): a conversion inside f that strips the GradArray"
    "\n  (np.asarray, float(), .tolist(), math.*, compiled code) cut the graph"
)


def _check_first(
    scalar: Callable[..., Any],
    args: list[Any],
    nums: list[int],
    eps: float,
    rtol: float,
    atol: float,
    seed: int,
    label: str,
    compared: str,
) -> None:
    __tracebackhide__ = True
    names = ("ndgrad", "finite differences")
    try:
        analytic = grad(scalar, argnums=tuple(nums))(*args)
    except ValueError as exc:
        if NO_DEPENDENCE not in str(exc):
            raise
        # zeros where ndgrad sees no dependence; a mismatch then says why the zeros
        analytic = grad(scalar, argnums=tuple(nums), allow_unused=True)(*args)
        compared += _DISCONNECTED
    for n, g in zip(nums, analytic, strict=True):
        if np.size(args[n]) <= _ELEMENTWISE_LIMIT:
            numeric = _numeric_grad(scalar, args, n, eps)
            _compare(f"argument {n}{label}", g, numeric, rtol, atol, names, compared)
            continue
        rng = np.random.default_rng(seed + n)
        base = np.asarray(args[n])
        base = base.astype(np.result_type(base, float))
        for _ in range(3):
            v = _random_like(rng, base)
            d = _value(scalar, args, n, base + eps * v) - _value(scalar, args, n, base - eps * v)
            _compare(f"argument {n}{label} along a random direction", _inner(v, g),
                     d / (2 * eps), rtol, atol, names, compared)  # fmt: skip


def check_jvp(
    f: Callable[..., Any],
    *args: Any,
    argnums: int | Sequence[int] | None = None,
    order: int = 1,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
) -> None:
    """Assert that ndgrad's forward mode (``jvp``) of ``f`` is right.

    For each checked argument and a random tangent ``v`` it compares the Jacobian-vector
    product ``J v`` with central finite differences of ``f`` along ``v``, and with reverse mode:
    ``Re <u, J v>`` against ``Re <J* u, v>`` for a random ``u`` (the JVP and VJP rules must be
    each other's transpose). With ``order=2`` it checks the derivatives of the JVP itself along
    a random ``w``, forward over forward and forward over reverse, against central differences
    of the (already checked) first-order products.

    Parameters
    ----------
    f : callable
        Takes ``args`` and returns an array (real or complex), or a tuple of them.
    *args
        The point to check at; float64 inputs give the most reliable differences.
    argnums : int or sequence of int, optional
        The arguments to check; by default every float or complex array argument.
    order : {1, 2}
        2 also checks second derivatives through forward mode.
    eps, rtol, atol : float
        As for :func:`check_grad` (the second order uses ``10 * eps`` and ``100 *`` the
        tolerances).
    seed : int
        Seeds the random tangents and projections.

    Raises
    ------
    AssertionError
        Naming the argument, what was compared, the worst element and both values.

    Examples
    --------
    >>> import numpy as np
    >>> from ndgrad.testing import check_jvp
    >>> check_jvp(np.sin, np.linspace(0.0, 1.0, 5), order=2)
    """
    __tracebackhide__ = True
    args_list = list(args)
    nums = _checked_arguments(args_list, argnums, order)
    rng = np.random.default_rng(seed)
    names = ("ndgrad forward mode", "finite differences")
    # Every checked argument is traced at once, as check_grad does (NumPy dispatches on some
    # arguments only: np.select's default reaches ndgrad only beside a traced choice); the
    # tangent of all but one is zero.
    xs = []
    for n in nums:
        x = np.asarray(args_list[n])
        xs.append(x.astype(np.result_type(x, float)))

    def along(*ys: Any) -> Any:
        call = list(args_list)
        for n, y in zip(nums, ys, strict=True):
            call[n] = y
        return _parts(f(*call))

    for k, n in enumerate(nums):
        v = _random_like(rng, xs[k])
        vs = [v if j == k else np.zeros_like(x) for j, x in enumerate(xs)]
        _, tangent = jvp(along, xs, vs, allow_unused=True)  # compared with differences below
        hi = along(*[x + eps * d for x, d in zip(xs, vs, strict=True)])
        lo = along(*[x - eps * d for x, d in zip(xs, vs, strict=True)])
        for j, (t, a, b) in enumerate(zip(tangent, hi, lo, strict=True)):
            numeric = (np.asarray(_plain_copy(a)) - np.asarray(_plain_copy(b))) / (2 * eps)
            _compare(f"argument {n}, output {j}: J v", t, numeric, rtol, atol, names)
        us = [_random_like(rng, t) for t in tangent]
        _, pull = vjp(along, *xs, allow_unused=True)
        forward = sum(float(_inner(u, t)) for u, t in zip(us, tangent, strict=True))
        reverse = float(_inner(pull(us)[k], v))
        _compare(f"argument {n}: Re<u, J v>", forward, reverse, rtol, atol,
                 ("forward mode", "reverse mode Re<J* u, v>"))  # fmt: skip
        if order == 2:
            _check_second(along, xs, vs, us, n, eps * 10, rtol * 100, atol * 100, rng)


def _check_second(
    along: Callable[..., Any],
    xs: list[Any],
    vs: list[Any],
    us: list[Any],
    n: int,
    eps: float,
    rtol: float,
    atol: float,
    rng: np.random.Generator,
) -> None:
    """The derivatives along ``ws`` of ``x -> J(x) v`` (forward over forward) and of
    ``x -> J(x)* u`` (forward over reverse), against central differences."""
    __tracebackhide__ = True
    ws = [_random_like(rng, x) for x in xs]

    def tangent_at(*ys: Any) -> Any:
        return jvp(along, ys, vs, allow_unused=True)[1]

    def pulled_at(*ys: Any) -> Any:
        return vjp(along, *ys, allow_unused=True)[1](us)

    names = ("ndgrad forward mode", "finite differences")
    for what, fun in (("forward over forward", tangent_at), ("forward over reverse", pulled_at)):
        _, second = jvp(fun, xs, ws, allow_unused=True)  # a linear f: constant J
        hi = fun(*[x + eps * w for x, w in zip(xs, ws, strict=True)])
        lo = fun(*[x - eps * w for x, w in zip(xs, ws, strict=True)])
        flat_s, _ = tree_flatten(second)
        flat_hi, _ = tree_flatten(hi)
        flat_lo, _ = tree_flatten(lo)
        for k, (s, a, b) in enumerate(zip(flat_s, flat_hi, flat_lo, strict=True)):
            numeric = (np.asarray(_plain_copy(a)) - np.asarray(_plain_copy(b))) / (2 * eps)
            _compare(f"argument {n}, part {k}: {what}", s, numeric, rtol, atol, names)
