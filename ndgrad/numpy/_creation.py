"""Creation and conversion functions of ``ndgrad.numpy``: NumPy's, returning GradArrays.

NumPy's own creation functions return plain ndarrays, and ``numpy.asarray`` strips a GradArray
of its graph. Here every creation function returns a GradArray (any dtype), accepts
``requires_grad=``, and the conversions keep graphs: ``asarray(x)`` of a GradArray is ``x``,
``array(x)`` is a recorded copy, and a (nested) list or tuple holding GradArrays becomes a
recorded ``np.stack``, so that ``array([x, y ** 2])`` differentiates.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._array import GradArray, plain_array

__all__ = [
    "arange",
    "array",
    "asanyarray",
    "asarray",
    "ascontiguousarray",
    "asfortranarray",
    "copy",
    "empty",
    "empty_like",
    "eye",
    "from_dlpack",
    "frombuffer",
    "fromfunction",
    "full",
    "full_like",
    "geomspace",
    "identity",
    "linspace",
    "logspace",
    "ones",
    "ones_like",
    "tri",
    "zeros",
    "zeros_like",
]

_view = np.ndarray.view


def _grad_array(res: Any) -> GradArray:
    """``res`` as a GradArray: a GradArray (graph and all) as it is, anything else as a view."""
    if isinstance(res, GradArray):
        return res
    return _view(np.asarray(res), GradArray)  # type: ignore[no-any-return]


def finish_creation(res: Any, requires_grad: bool) -> GradArray:
    out = _grad_array(res)
    # A result that already requires grad (it came from a recorded call) stays in its graph.
    if requires_grad and not out.requires_grad:
        out.requires_grad = True
    return out


def holds_grad_array(obj: Any) -> bool:
    """Whether ``obj`` is a GradArray or a (nested) list or tuple with one inside."""
    if isinstance(obj, GradArray):
        return True
    if type(obj) not in (list, tuple):
        return False
    # Look at the element types in C (``set(map(type, ...))``): a long list of numbers must not
    # cost a Python call per element.
    kinds = set(map(type, obj))
    if any(issubclass(k, GradArray) for k in kinds):
        return True
    if list in kinds or tuple in kinds:
        return any(holds_grad_array(o) for o in obj if type(o) in (list, tuple))
    return False


def _stack(obj: Any) -> GradArray:
    """A (nested) sequence holding GradArrays, stacked with recorded ``np.stack`` calls."""
    parts = [_stack_part(o) for o in obj]
    if not parts:
        raise ValueError("cannot build an array from an empty sequence that holds GradArrays")
    return _grad_array(np.stack(parts))


def _stack_part(obj: Any) -> Any:
    if isinstance(obj, GradArray):
        return obj
    if holds_grad_array(obj):
        return _stack(obj)
    # A constant becomes an array first: the engine would otherwise count a nested list of
    # numbers as more elements of the sequence than ``np.stack``'s cotangent has.
    return np.asarray(obj)


def _converted(a: Any, dtype: Any, copy: bool | None, order: Any, ndmin: int = 0) -> GradArray:
    """``a`` (which holds GradArrays) as one recorded GradArray, with NumPy's copy semantics."""
    fresh = not isinstance(a, GradArray)
    out = _stack(a) if fresh else a
    if copy is False and (fresh or (dtype is not None and np.dtype(dtype) != out.dtype)):
        raise ValueError(
            "Unable to avoid copy while creating an array as requested; use copy=None to copy "
            "only when needed."
        )
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out, fresh = np.astype(out, dtype), True
    layout_ok = (
        order not in ("C", "F")
        or (order == "C" and out.flags.c_contiguous)
        or (order == "F" and out.flags.f_contiguous)
    )
    if (copy and not fresh) or not layout_ok:
        if copy is False:
            raise ValueError("Unable to avoid copy while creating an array as requested.")
        out = np.copy(out, order=order if order in ("C", "F", "A") else "K")
    if out.ndim < ndmin:
        out = np.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return _grad_array(out)


# --- conversions ------------------------------------------------------------------------------


def array(
    object: Any,
    dtype: Any = None,
    *,
    copy: bool | None = True,
    order: Any = "K",
    subok: bool = False,
    ndmin: int = 0,
    ndmax: int | None = None,
    like: Any = None,
    requires_grad: bool = False,
) -> GradArray:
    """Create a GradArray, like ``numpy.array``; a GradArray given here is a recorded copy.

    Parameters
    ----------
    object : array_like
        As for ``numpy.array``. A GradArray, or a (nested) list or tuple holding GradArrays,
        keeps its graph: the copy (or the stack of the elements) is recorded.
    dtype, copy, order, ndmin, ndmax, like
        As for ``numpy.array``. ``subok`` is accepted and ignored: the result is a GradArray.
    requires_grad : bool, default False
        Make a new leaf require grad (a result that is already recorded requires grad anyway).

    Returns
    -------
    GradArray

    Examples
    --------
    >>> import ndgrad as nd
    >>> import ndgrad.numpy as np
    >>> x = np.array(2.0, requires_grad=True)
    >>> v = np.array([x, x**2, 1.0])
    >>> np.sum(v).backward()
    >>> print(x.grad)
    5.0
    """
    del subok  # the result is a GradArray whatever subok says
    if holds_grad_array(object):
        return finish_creation(_converted(object, dtype, copy, order, ndmin), requires_grad)
    extra: dict[str, Any] = {} if ndmax is None else {"ndmax": ndmax}  # NumPy default: no limit
    res = np.array(object, dtype=dtype, copy=copy, order=order, ndmin=ndmin, like=like, **extra)
    return finish_creation(res, requires_grad)


def asarray(
    a: Any,
    dtype: Any = None,
    order: Any = None,
    *,
    device: Any = None,
    copy: bool | None = None,
    like: Any = None,
    requires_grad: bool = False,
) -> GradArray:
    """Convert to a GradArray, like ``numpy.asarray``; a GradArray comes back with its graph.

    Parameters
    ----------
    a : array_like
        A GradArray is returned as it is (unless ``dtype``, ``order`` or ``copy=True`` ask
        for a recorded copy). A (nested) list or tuple holding GradArrays becomes their
        recorded stack.
    dtype, order, device, copy, like
        As for ``numpy.asarray``.
    requires_grad : bool, default False
        Make a new leaf require grad.

    Returns
    -------
    GradArray

    Examples
    --------
    >>> import ndgrad as nd
    >>> import ndgrad.numpy as np
    >>> x = nd.GradArray([1.0, 2.0], requires_grad=True)
    >>> np.asarray(x) is x
    True
    """
    if holds_grad_array(a):
        if device not in (None, "cpu"):
            raise ValueError(f"unsupported device {device!r}: ndgrad arrays live on the CPU")
        return finish_creation(_converted(a, dtype, copy, order), requires_grad)
    res = np.asarray(a, dtype=dtype, order=order, device=device, copy=copy, like=like)
    return finish_creation(res, requires_grad)


def asanyarray(
    a: Any,
    dtype: Any = None,
    order: Any = None,
    *,
    device: Any = None,
    copy: bool | None = None,
    like: Any = None,
    requires_grad: bool = False,
) -> GradArray:
    """Same as :func:`asarray`: a GradArray is already the array type this namespace makes.

    Parameters
    ----------
    a, dtype, order, device, copy, like
        As for ``numpy.asanyarray``.
    requires_grad : bool, default False
        Make a new leaf require grad.

    Returns
    -------
    GradArray
    """
    return asarray(
        a, dtype, order, device=device, copy=copy, like=like, requires_grad=requires_grad
    )


def _contiguous(a: Any, dtype: Any, order: str, requires_grad: bool) -> GradArray:
    if holds_grad_array(a):
        out = _converted(a, dtype, None, order)
        # NumPy's versions return at least one dimension.
        return finish_creation(np.reshape(out, (1,)) if out.ndim == 0 else out, requires_grad)
    func = np.ascontiguousarray if order == "C" else np.asfortranarray
    return finish_creation(func(a, dtype=dtype), requires_grad)


def ascontiguousarray(
    a: Any, dtype: Any = None, *, like: Any = None, requires_grad: bool = False
) -> GradArray:
    """A C-contiguous GradArray of at least one dimension, like ``numpy.ascontiguousarray``.

    Parameters
    ----------
    a, dtype, like
        As for ``numpy.ascontiguousarray``. A GradArray keeps its graph (a needed copy is
        recorded).
    requires_grad : bool, default False
        Make a new leaf require grad.

    Returns
    -------
    GradArray
    """
    del like
    return _contiguous(a, dtype, "C", requires_grad)


def asfortranarray(
    a: Any, dtype: Any = None, *, like: Any = None, requires_grad: bool = False
) -> GradArray:
    """A Fortran-ordered GradArray of at least one dimension, like ``numpy.asfortranarray``.

    Parameters
    ----------
    a, dtype, like
        As for ``numpy.asfortranarray``. A GradArray keeps its graph (a needed copy is
        recorded).
    requires_grad : bool, default False
        Make a new leaf require grad.

    Returns
    -------
    GradArray
    """
    del like
    return _contiguous(a, dtype, "F", requires_grad)


def copy(
    a: Any, order: Any = "K", subok: bool = False, *, requires_grad: bool = False
) -> GradArray:
    """A copy as a GradArray, like ``numpy.copy``; copying a GradArray is recorded.

    Parameters
    ----------
    a, order
        As for ``numpy.copy``; ``subok`` is accepted and ignored.
    requires_grad : bool, default False
        Make a new leaf require grad.

    Returns
    -------
    GradArray
    """
    del subok
    if holds_grad_array(a):
        return finish_creation(_converted(a, None, True, order), requires_grad)
    return finish_creation(np.copy(a, order=order), requires_grad)


def from_dlpack(
    x: Any, /, *, device: Any = None, copy: bool | None = None, requires_grad: bool = False
) -> GradArray:
    """Array API ``from_dlpack``; a GradArray comes back with its graph.

    Parameters
    ----------
    x, device, copy
        As for ``numpy.from_dlpack``.
    requires_grad : bool, default False
        Make a new leaf require grad.

    Returns
    -------
    GradArray
    """
    if isinstance(x, GradArray):
        return asarray(x, device=device, copy=copy, requires_grad=requires_grad)
    return finish_creation(np.from_dlpack(x, device=device, copy=copy), requires_grad)


# --- new arrays: NumPy's function, then a GradArray view of its result ------------------------


def _creation(func: Callable[..., Any]) -> Callable[..., GradArray]:
    """Wrap the NumPy creation function ``func``: a GradArray result and ``requires_grad=``."""
    name = func.__name__

    def create(*args: Any, requires_grad: bool = False, **kwargs: Any) -> GradArray:
        res = func(*args, **kwargs)
        if name in ("linspace", "logspace", "geomspace") and isinstance(res, tuple):
            return finish_creation(res[0], requires_grad), res[1]  # type: ignore[return-value]
        return finish_creation(res, requires_grad)

    create.__name__ = create.__qualname__ = name
    create.__module__ = "ndgrad.numpy"
    create.__doc__ = (
        f"Same as ``numpy.{name}``, returning a GradArray.\n\n"
        "A NumPy call it makes on GradArrays (``fill_value``, ``start``, the arrays\n"
        "``fromfunction`` builds from) is recorded as usual.\n\n"
        "Parameters\n----------\n"
        f"*args, **kwargs\n    As for ``numpy.{name}``.\n"
        "requires_grad : bool, default False\n    Make the new leaf require grad.\n\n"
        "Returns\n-------\nGradArray\n"
    )
    try:
        sig = inspect.signature(func)
        params = list(sig.parameters.values())
        extra = inspect.Parameter(
            "requires_grad", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=bool
        )
        at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
        params.insert(at, extra)
        create.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    except (TypeError, ValueError):  # pragma: no cover - every wrapped function has one
        pass
    return create


empty = _creation(np.empty)
_full = _creation(np.full)
_full_like = _creation(np.full_like)
_arange = _creation(np.arange)
empty_like = _creation(np.empty_like)
zeros = _creation(np.zeros)
zeros_like = _creation(np.zeros_like)
ones = _creation(np.ones)
ones_like = _creation(np.ones_like)
linspace = _creation(np.linspace)
logspace = _creation(np.logspace)
geomspace = _creation(np.geomspace)
eye = _creation(np.eye)
identity = _creation(np.identity)
tri = _creation(np.tri)
fromfunction = _creation(np.fromfunction)
frombuffer = _creation(np.frombuffer)


# --- creation from values that may require grad -----------------------------------------------
# numpy.full converts fill_value with np.asarray, numpy.full_like computes on plain arrays and
# numpy.arange does not dispatch at all: each would silently drop the graph of a GradArray
# argument. Here such arguments are recorded instead.


def _traced_value(v: Any) -> bool:
    return isinstance(v, GradArray) and v.requires_grad


def _filled(fill_value: Any, shape: Any, dtype: Any) -> GradArray:
    """A fresh array of ``shape`` holding ``fill_value`` (broadcast), recorded."""
    out = np.copy(np.broadcast_to(fill_value, shape))
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = np.astype(out, dtype)
    return _grad_array(out)


def full(
    shape: Any,
    fill_value: Any,
    dtype: Any = None,
    order: Any = "C",
    *,
    device: Any = None,
    like: Any = None,
    requires_grad: bool = False,
) -> GradArray:
    """A new GradArray of ``shape`` filled with ``fill_value``, like ``numpy.full``.

    Parameters
    ----------
    shape, fill_value, dtype, order, device, like
        As for ``numpy.full``. A ``fill_value`` that requires grad is recorded (its
        gradient is the sum of the result's), where ``numpy.full`` would drop its graph.
    requires_grad : bool, default False
        Make the new leaf require grad.

    Returns
    -------
    GradArray
    """
    if _traced_value(fill_value):
        return finish_creation(_filled(fill_value, shape, dtype), requires_grad)
    return _full(
        shape, fill_value, dtype, order, device=device, like=like, requires_grad=requires_grad
    )


def full_like(
    a: Any,
    fill_value: Any,
    dtype: Any = None,
    order: Any = "K",
    subok: bool = True,
    shape: Any = None,
    *,
    device: Any = None,
    requires_grad: bool = False,
) -> GradArray:
    """A new GradArray shaped like ``a`` filled with ``fill_value``, like ``numpy.full_like``.

    Parameters
    ----------
    a, fill_value, dtype, order, subok, shape, device
        As for ``numpy.full_like``. A ``fill_value`` that requires grad is recorded.
    requires_grad : bool, default False
        Make the new leaf require grad.

    Returns
    -------
    GradArray
    """
    if _traced_value(fill_value):
        target = np.shape(a) if shape is None else shape
        return finish_creation(
            _filled(fill_value, target, np.result_type(a) if dtype is None else dtype),
            requires_grad,
        )
    return _full_like(
        a, fill_value, dtype, order, subok, shape, device=device, requires_grad=requires_grad
    )


class _Missing:
    """The default of an argument not given (``numpy.arange`` tells ``arange(5)`` from
    ``arange(5, None)``)."""

    def __repr__(self) -> str:
        return "<no value>"


_MISSING: Any = _Missing()


def _arange_args(given: dict[str, Any]) -> tuple[Any, ...]:
    """The positional form of ``given`` bounds (``numpy.arange(start=5)`` alone is an error)."""
    if "stop" not in given:  # arange(stop) or arange(stop, step=...): NumPy reads start as stop
        return (given["start"],) if "step" not in given else (0, given["start"], given["step"])
    return tuple(given.get(k, d) for k, d in (("start", 0), ("stop", None), ("step", 1)))


def arange(
    start: Any = _MISSING,
    stop: Any = _MISSING,
    step: Any = _MISSING,
    dtype: Any = None,
    *,
    device: Any = None,
    like: Any = None,
    requires_grad: bool = False,
) -> GradArray:
    """Evenly spaced values as a GradArray, like ``numpy.arange``.

    The parameters are NumPy's, in NumPy's order, which is also the Array API standard's
    (``arange(start, /, stop=None, step=1, *, dtype=None, device=None)``).

    Parameters
    ----------
    start, stop, step, dtype, device, like
        As for ``numpy.arange`` (``arange(stop)`` counts from 0). A ``start`` or ``step``
        that requires grad is recorded (the values are ``start + step * i``); the number of
        values does not depend on them differentiably.
    requires_grad : bool, default False
        Make the new leaf require grad.

    Returns
    -------
    GradArray

    Examples
    --------
    >>> import ndgrad.numpy as np
    >>> np.arange(3)
    GradArray([0, 1, 2])
    >>> np.arange(1.0, 2.0, 0.5)
    GradArray([1. , 1.5])
    """
    names = ("start", "stop", "step")
    given = {k: v for k, v in zip(names, (start, stop, step), strict=True) if v is not _MISSING}
    rest = {"dtype": dtype, "device": device} | ({} if like is None else {"like": like})
    if not any(_traced_value(v) for v in given.values()):
        return _arange(*_arange_args(given), **rest, requires_grad=requires_grad)
    plain = {k: (plain_array(v)[()] if isinstance(v, GradArray) else v) for k, v in given.items()}
    count = np.arange(*_arange_args(plain), **rest).shape[0]
    if "stop" not in given:  # arange(stop): the one positional argument is the stop
        start, step = 0, given.get("step", 1)
    else:
        start, step = given["start"], given.get("step", 1)
    out = start + step * np.arange(count, dtype=np.result_type(start, step, float))
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = np.astype(out, dtype)
    return finish_creation(out, requires_grad)
