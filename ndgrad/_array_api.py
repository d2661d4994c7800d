"""What makes ``ndgrad.numpy`` an Array API standard namespace beyond NumPy's own names.

NumPy 2 already has every name of the standard (2025.12, the newest that array-api-compat
supports) and nearly its semantics; ``ndgrad.numpy`` re-exports those objects unchanged. This
module holds the few functions whose NumPy version lacks a keyword or returns another type
than the standard says, each a superset of NumPy's own signature so that NumPy code calling it
is unaffected, plus ``__array_namespace_info__`` and the version check of
``GradArray.__array_namespace__``. Every function here calls NumPy functions on its
arguments as given, so gradients flow through them like through NumPy's own.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

__all__ = [
    "API_VERSION",
    "__array_namespace_info__",
    "argsort",
    "check_version",
    "clip",
    "count_nonzero",
    "expm1",
    "finfo",
    "floor_divide",
    "iinfo",
    "sort",
]

API_VERSION = "2025.12"
_KNOWN_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12", "2025.12")


def check_version(api_version: str | None) -> None:
    """Refuse a version of the standard that ``ndgrad.numpy`` does not serve.

    Every published version up to 2025.12 is served by the same namespace (each is a subset of
    the newest).

    Raises
    ------
    ValueError
        For a version of the standard that is unknown.
    """
    if api_version is not None and api_version not in _KNOWN_VERSIONS:
        raise ValueError(
            f"unknown Array API version {api_version!r}; ndgrad.numpy implements "
            f"{API_VERSION} and serves {', '.join(_KNOWN_VERSIONS)}."
        )


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

    def devices(self) -> tuple[str, ...]:  # type: ignore[override]
        """The devices a GradArray can live on: ``("cpu",)`` (a tuple, as in the 2025.12
        standard; NumPy's own inspection namespace still returns a list)."""
        return tuple(super().devices())


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


def _dtype_of(type: Any) -> Any:
    """The dtype an array (or array-like with ``.dtype``) holds, else ``type`` itself.

    NumPy's scalar types (``np.float32``) have a ``dtype`` attribute too, but on the class it is
    a descriptor, not a dtype: only instances' ``dtype`` is taken.
    """
    if isinstance(type, np.dtype | builtins.type):
        return type
    return getattr(type, "dtype", type)


class _finfo:
    """``numpy.finfo`` with the standard's attribute types: ``bits`` an int, ``eps``, ``max``,
    ``min`` and ``smallest_normal`` Python floats (NumPy gives ``np.float32`` scalars for
    float32, which are not ``float``). Every other attribute is ``numpy.finfo``'s own."""

    __slots__ = ("_info", "bits", "dtype", "eps", "max", "min", "smallest_normal")

    def __init__(self, info: Any) -> None:
        self._info = info
        self.bits = int(info.bits)
        self.dtype = info.dtype
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.smallest_normal = float(info.smallest_normal)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._info, name)

    def __repr__(self) -> str:
        return repr(self._info)


def finfo(type: Any) -> Any:
    """``numpy.finfo`` that also accepts an array, as the Array API standard asks.

    Parameters
    ----------
    type : dtype, type or array
        A floating or complex dtype, a NumPy scalar type (``np.float32``), or an array.

    Returns
    -------
    finfo
        NumPy's ``finfo`` with ``eps``, ``max``, ``min`` and ``smallest_normal`` as Python
        floats, as the standard asks; its other attributes (``tiny``, ``resolution``, ...) are
        NumPy's.

    Examples
    --------
    >>> import ndgrad.numpy as xp
    >>> xp.finfo(xp.float32).eps
    1.1920928955078125e-07
    >>> xp.finfo(xp.zeros(2, dtype=xp.complex64)).dtype
    dtype('float32')
    """
    return _finfo(np.finfo(_dtype_of(type)))


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
    return np.iinfo(_dtype_of(type))


def clip(
    a: Any,
    min: Any = None,
    max: Any = None,
    out: Any = None,
    *,
    a_min: Any = None,
    a_max: Any = None,
    **kwargs: Any,
) -> Any:
    """``numpy.clip``, with the result in ``a``'s dtype as the Array API standard asks.

    NumPy promotes ``a`` with array bounds of a wider dtype; the standard keeps ``a``'s dtype.
    The cast back is recorded, so gradients flow as through ``numpy.clip`` (to the bounds too,
    whether given by position or as the standard's ``min=`` and ``max=``).

    The signature is the standard's (``clip(x, /, min=None, max=None)``); NumPy's keyword
    names ``a_min=`` and ``a_max=`` are accepted too, and positional calls mean the same.

    Parameters
    ----------
    a, out, **kwargs
        As for ``numpy.clip``.
    min, max : array_like, optional
        The lower and upper bounds (NumPy's ``a_min`` and ``a_max``, which are accepted as
        keywords too).

    Returns
    -------
    GradArray or ndarray
    """
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    if (min is not None and a_min is not None) or (max is not None and a_max is not None):
        raise TypeError("clip: pass each bound once, as min=/max= or as a_min=/a_max=")
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


# --- special values: where NumPy's ufuncs differ from the standard's special cases ------------


class _StandardUfunc:
    """A NumPy ufunc whose results at non-finite inputs follow the Array API standard.

    Calling it calls the ufunc (so a GradArray records the ufunc's node as usual), then
    replaces the elements that the standard defines differently; the replaced elements are
    constants (they sit at infinities, where no derivative exists). With ``out=`` or
    ``where=`` the ufunc's own result is returned unchanged. Every other attribute
    (``reduce``, ``nin``, ``types``, ...) is the ufunc's.
    """

    def __init__(self, ufunc: np.ufunc, special: Any, doc: str) -> None:
        self._ufunc = ufunc
        self._special = special
        self.__name__ = self.__qualname__ = ufunc.__name__
        self.__doc__ = doc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        res = self._ufunc(*args, **kwargs)
        if "out" in kwargs or "where" in kwargs or len(args) > self._ufunc.nin:
            return res
        return self._special(res, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ufunc, name)

    def __repr__(self) -> str:
        return f"<ndgrad.numpy ufunc {self._ufunc.__name__!r}>"


def _constant(value: Any) -> Any:
    """``value``'s numbers, off every graph: a constant to put in place of special values."""
    return np.asarray(value).copy() if not isinstance(value, np.ndarray) else value.copy()


def _fix(res: Any, mask: Any, values: Any) -> Any:
    if not np.any(mask):
        return res
    return np.where(mask, _constant(values), res)


def _expm1_special(res: Any, x: Any) -> Any:
    # NumPy's complex expm1 is NaN wherever an input part is infinite or NaN; the standard (and
    # C99's cexp) defines those cases, and exp(z) - 1 gets them right there.
    if np.result_type(res).kind != "c":
        return res
    bad = ~np.isfinite(x)
    if not np.any(bad):
        return res
    with np.errstate(invalid="ignore", over="ignore"):
        return _fix(res, bad, np.exp(_constant(x)) - 1)


def _floor_divide_special(res: Any, x1: Any, x2: Any) -> Any:
    # The standard gives inf // finite = +-inf (NumPy: NaN) and finite // inf with opposite
    # signs -0 (NumPy: -1.0, Python's answer): both are x1 / x2 there.
    if np.result_type(res).kind != "f":
        return res
    inf1, inf2 = np.isinf(x1), np.isinf(x2)
    mask = (inf1 & np.isfinite(x2) & (x2 != 0)) | (np.isfinite(x1) & inf2)
    if not np.any(mask):
        return res
    with np.errstate(invalid="ignore", divide="ignore"):
        return _fix(res, mask, np.divide(_constant(x1), _constant(x2)).astype(res.dtype))


expm1 = _StandardUfunc(
    np.expm1,
    _expm1_special,
    """``numpy.expm1`` with the Array API's special cases for complex input.

    NumPy returns NaN for complex inputs with an infinite or NaN part; here those elements
    are ``exp(z) - 1``, which the standard (and C99) define: ``expm1(+inf + 0j)`` is
    ``+inf + 0j``. Finite and real inputs give NumPy's values bit for bit, and gradients are
    ``numpy.expm1``'s.
    """,
)
floor_divide = _StandardUfunc(
    np.floor_divide,
    _floor_divide_special,
    """``numpy.floor_divide`` with the Array API's special cases at infinities.

    ``inf // 2.0`` is ``inf`` (NumPy: NaN) and ``-1.0 // inf`` is ``-0.0`` (NumPy and Python:
    ``-1.0``); the standard allows NumPy's values too, but its test suite checks these. Finite
    inputs give NumPy's values bit for bit. The ``//`` operator on arrays is NumPy's.
    """,
)
