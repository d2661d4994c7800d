"""What makes ``ndgrad.numpy`` an Array API standard namespace beyond NumPy's own names.

NumPy 2 already has every name of the standard (2025.12, the newest that array-api-compat
supports) and nearly its semantics; ``ndgrad.numpy`` re-exports those objects unchanged. This
module holds the few functions whose NumPy version lacks a keyword or returns another type
than the standard says, each a superset of NumPy's own signature so that NumPy code calling it
is unaffected, plus ``__array_namespace_info__`` and the ``namespace`` lookup that
``GradArray.__array_namespace__`` uses. Every function here calls NumPy functions on its
arguments as given, so gradients flow through them like through NumPy's own.
"""

from __future__ import annotations

import builtins
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "API_VERSION",
    "__array_namespace_info__",
    "argsort",
    "clip",
    "count_nonzero",
    "fftfreq",
    "finfo",
    "iinfo",
    "namespace",
    "rfftfreq",
    "sort",
]

API_VERSION = "2025.12"
_KNOWN_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12", "2025.12")


def namespace(api_version: str | None = None) -> ModuleType:
    """The Array API namespace of GradArrays, ``ndgrad.numpy``.

    Parameters
    ----------
    api_version : str, optional
        A version of the standard; every published version up to 2025.12 is served by the
        same namespace (each is a subset of the newest).

    Returns
    -------
    module
        ``ndgrad.numpy``.

    Raises
    ------
    ValueError
        For a version of the standard that is unknown.

    Examples
    --------
    >>> import ndgrad as nd
    >>> nd.GradArray([1.0]).__array_namespace__().__name__
    'ndgrad.numpy'
    """
    if api_version is not None and api_version not in _KNOWN_VERSIONS:
        raise ValueError(
            f"unknown Array API version {api_version!r}; ndgrad.numpy implements "
            f"{API_VERSION} and serves {', '.join(_KNOWN_VERSIONS)}."
        )
    import ndgrad.numpy  # the namespace imports the engine, which imports this module lazily

    return ndgrad.numpy


class __array_namespace_info__(np.__array_namespace_info__):  # type: ignore[misc]
    """The Array API inspection namespace of ``ndgrad.numpy``.

    The dtypes, devices and capabilities are NumPy's: a GradArray holds any NumPy dtype on the
    CPU, and boolean indexing and data-dependent shapes are supported. Only float and complex
    arrays can require grad.

    Examples
    --------
    >>> import ndgrad.numpy as xp
    >>> info = xp.__array_namespace_info__()
    >>> info.default_device()
    'cpu'
    >>> info.default_dtypes()["real floating"]
    dtype('float64')
    """

    __module__ = "ndgrad.numpy"  # type: ignore[assignment]


# --- sorting: the standard's ``descending=`` and stable default -------------------------------


def _flip_sort_axis(x: Any, axis: int | None) -> tuple[Any, int]:
    if axis is None:
        return np.ravel(x), 0
    return x, axis


def sort(
    a: Any,
    axis: int | None = -1,
    kind: Any = None,
    order: Any = None,
    *,
    stable: bool | None = None,
    descending: bool = False,
) -> Any:
    """Sorted copy of ``a``: ``numpy.sort`` plus the Array API's ``descending=``.

    Parameters
    ----------
    a, axis, kind, order, stable
        As for ``numpy.sort``.
    descending : bool, default False
        Sort in descending order (equal elements keep their relative order when stable).

    Returns
    -------
    GradArray or ndarray
        Float results are recorded like ``numpy.sort``'s.
    """
    if not descending:
        return np.sort(a, axis, kind, order, stable=stable)
    a, axis = _flip_sort_axis(a, axis)
    # Reversing, sorting stably and reversing back keeps equal elements in their original order.
    ascending = np.sort(np.flip(a, axis), axis, kind, order, stable=stable)
    return np.flip(ascending, axis)


def argsort(
    a: Any,
    axis: int | None = -1,
    kind: Any = None,
    order: Any = None,
    *,
    stable: bool | None = None,
    descending: bool = False,
) -> Any:
    """Indices that sort ``a``: ``numpy.argsort`` plus the Array API's ``descending=``.

    Without ``kind`` the sort is stable, as the standard's default asks (a stable order is
    also a valid result of NumPy's unstable default).

    Parameters
    ----------
    a, axis, kind, order, stable
        As for ``numpy.argsort``.
    descending : bool, default False
        Indices of a descending sort; equal elements keep their relative order.

    Returns
    -------
    ndarray of int
    """
    if kind is None and stable is None:
        stable = True
    if not descending:
        return np.argsort(a, axis, kind, order, stable=stable)
    a, axis = _flip_sort_axis(a, axis)
    flipped = np.argsort(np.flip(a, axis), axis, kind, order, stable=stable)
    return (np.shape(a)[axis] - 1) - np.flip(flipped, axis)


# --- results that must be arrays, and dtype queries that accept arrays -------------------------


def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.count_nonzero``, returning a 0-d array (not a Python int) for ``axis=None``.

    Parameters
    ----------
    a, axis, keepdims
        As for ``numpy.count_nonzero``.

    Returns
    -------
    ndarray of int
    """
    res = np.count_nonzero(a, axis=axis, keepdims=keepdims)
    return res if isinstance(res, np.ndarray) else np.asarray(res, dtype=np.intp)


def finfo(type: Any) -> Any:
    """``numpy.finfo`` that also accepts an array, as the Array API standard asks.

    Parameters
    ----------
    type : dtype, type or array
        A floating or complex dtype, or an array of one.

    Returns
    -------
    numpy.finfo
    """
    return np.finfo(getattr(type, "dtype", type))


def iinfo(type: Any) -> Any:
    """``numpy.iinfo`` that also accepts an array, as the Array API standard asks.

    Parameters
    ----------
    type : dtype, type or array
        An integer dtype, or an array of one.

    Returns
    -------
    numpy.iinfo
    """
    return np.iinfo(getattr(type, "dtype", type))


def clip(
    a: Any,
    a_min: Any = None,
    a_max: Any = None,
    out: Any = None,
    *,
    min: Any = None,
    max: Any = None,
    **kwargs: Any,
) -> Any:
    """``numpy.clip``, with the result in ``a``'s dtype as the Array API standard asks.

    NumPy promotes ``a`` with array bounds of a wider dtype; the standard keeps ``a``'s dtype.
    The cast back is recorded, so gradients flow as through ``numpy.clip`` (to the bounds too,
    whether given by position or as the standard's ``min=`` and ``max=``).

    Parameters
    ----------
    a, a_min, a_max, out, **kwargs
        As for ``numpy.clip``.
    min, max : array_like, optional
        The standard's names of ``a_min`` and ``a_max``.

    Returns
    -------
    GradArray or ndarray
    """
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    dtype = np.result_type(a)
    if dtype.kind in "iu" and out is None:
        # Python-int bounds outside the dtype's range would overflow: clamp them first.
        info = np.iinfo(dtype)
        lo, hi = _int_bound(lo, info), _int_bound(hi, info)
    res = np.clip(a, lo, hi, out=out, **kwargs)
    if out is None and np.result_type(res) != dtype:
        res = np.astype(res, dtype)
    return res


def _int_bound(b: Any, info: Any) -> Any:
    if isinstance(b, int | float) and not isinstance(b, bool):
        return builtins.min(builtins.max(b, info.min), info.max)
    return b


# --- fft: the standard's ``dtype=`` for the frequency grids ------------------------------------


def _frequencies(grid: Any) -> Any:
    """``numpy.fft.fftfreq`` or ``rfftfreq`` plus the Array API's ``dtype=``, as a GradArray."""

    def frequencies(n: int, d: float = 1.0, device: Any = None, *, dtype: Any = None) -> Any:
        from ndgrad.numpy._creation import _finish

        res = grid(n, d, device=device)
        return _finish(res if dtype is None else res.astype(dtype, copy=False), False)

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


fftfreq = _frequencies(np.fft.fftfreq)
rfftfreq = _frequencies(np.fft.rfftfreq)
