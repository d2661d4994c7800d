"""ndarray methods and properties on GradArray, each in one table by what it does.

Most ndarray methods are implemented in C and would make results without telling GradArray, so
every public method is replaced here by one that either calls the NumPy function of the same
meaning (which dispatches and records), returns plain values, or refuses while recording.
In-place methods (``sort``, ``partition``, ``fill``, ``put``, ``x.flat[i] = v``) are recorded
as the assignment ``x[...] = new`` they amount to. Every public name of ``np.ndarray`` is in
exactly one table; ``tests/test_methods.py`` checks that against ``dir(np.ndarray)``.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import numpy as np

import ndgrad.numpy
from ndgrad._array import GradArray, in_scope_graph, needs_grad, plain_array
from ndgrad._array_api import check_version
from ndgrad._errors import graph_break, not_differentiable
from ndgrad._graph import grad_enabled
from ndgrad._inplace import stack_nested

__all__ = [
    "AS_FUNCTION",
    "CONVERSIONS",
    "METHODS_NO_GRADIENT",
    "METHODS_UNSUPPORTED",
    "PROPERTIES",
    "PROPERTIES_NO_GRADIENT",
    "PROPERTY_CONVERSIONS",
    "SPECIAL",
]

# x.name(*args, **kwargs) is np.name(x, *args, **kwargs): the call is recorded like the function.
AS_FUNCTION = {
    name: getattr(np, name)
    for name in (
        "all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "clip",
        "conj", "conjugate", "cumprod", "cumsum", "diagonal", "dot", "max", "mean",
        "min", "nonzero", "prod", "ravel", "repeat", "round", "searchsorted", "squeeze", "std",
        "sum", "swapaxes", "take", "trace", "var",
    )
}  # fmt: skip

# Conversions to Python values, which cannot carry a gradient. Inside a transform or
# ``nd.tracing()`` they raise GraphBreakError on an array that requires grad (``math.sqrt(x)``
# reaches ``__float__``); outside, ``float(loss)`` for logging works as in NumPy.
CONVERSIONS = {
    "__float__": "float(x)",
    "__int__": "int(x)",
    "__complex__": "complex(x)",
    "__index__": "operator.index(x) (which bytes(x) and range(x) ask first)",
    "item": "x.item()",
    "tolist": "x.tolist()",
    # the values as bytes, a pickle or another framework's tensor: read back (np.frombuffer,
    # pickle.loads, torch.from_dlpack) they are the same values without the graph
    "tobytes": "x.tobytes()",
    "tofile": "x.tofile()",
    "dump": "x.dump()",
    "dumps": "x.dumps()",
    "__dlpack__": "x.__dlpack__() (np.from_dlpack, torch.from_dlpack)",
}

# Methods whose results carry no gradient (metadata, flags, NumPy's protocol hooks).
METHODS_NO_GRADIENT = ("setflags", "__array_wrap__", "__dlpack_device__")

# Properties that describe the array or its memory, as NumPy gives them: no gradient. (``data``
# is a memoryview: the buffer protocol, refused in a graph by the compiled base.)
PROPERTIES_NO_GRADIENT = (
    "base", "data", "device", "dtype", "flags", "itemsize", "nbytes", "ndim", "shape", "size",
    "strides",
)  # fmt: skip

# Properties that hand out the values without the graph: refused like CONVERSIONS.
PROPERTY_CONVERSIONS = {
    "ctypes": "x.ctypes (a raw pointer to the values, for compiled code)",
}

# Methods that write or reinterpret memory in ways no rule describes: refused while recording.
METHODS_UNSUPPORTED = {
    "byteswap": "reinterprets the bytes of each element",
    "getfield": "reinterprets memory as another dtype",
    "setfield": "writes memory as another dtype",
    "resize": "changes the shape of an array in the graph in place; use np.resize(x, shape)",
}


def _graph_value(value: Any) -> Any:
    """A list as an array; one holding GradArrays recorded (NumPy would make it plain)."""
    if type(value) in (list, tuple):
        return stack_nested(value) if needs_grad(value) else np.asarray(value)
    return value


def _set_real(self: GradArray, value: Any) -> None:
    """``x.real = v``: recorded as ``x[...] = v + 1j * x.imag`` (``x[...] = v`` for real x)."""
    value = _graph_value(value)
    if self.dtype.kind == "c":
        # A copy: the rules would keep ``self``, which the write then changes.
        self[...] = value + 1j * np.imag(np.copy(self))
    else:
        self[...] = value


def _set_imag(self: GradArray, value: Any) -> None:
    """``x.imag = v``: recorded as ``x[...] = x.real + 1j * v``."""
    if self.dtype.kind != "c":
        raise TypeError("array does not have imaginary part to set")  # as NumPy says
    self[...] = np.real(np.copy(self)) + 1j * _graph_value(value)


# name: (getter, setter or None)
PROPERTIES = {
    "T": (lambda self: np.transpose(self), None),
    "mT": (lambda self: np.matrix_transpose(self), None),
    "real": (lambda self: np.real(self), _set_real),
    "imag": (lambda self: np.imag(self), _set_imag),
    "flat": (
        lambda self: FlatIter(self),
        lambda self, value: FlatIter(self).__setitem__(..., value),
    ),
}


class FlatIter:
    """``x.flat``: a 1-d view by flat index; reading and writing through it are recorded.

    Reading ``x.flat[k]`` is ``np.ravel(x)[k]``; writing ``x.flat[k] = v`` is ``x[i, j] = v`` at
    the unravelled positions, with ``v`` repeated as NumPy's flatiter repeats it.
    """

    __slots__ = ("_flat", "base", "index")

    def __init__(self, base: GradArray) -> None:
        self.base = base
        self.index = 0  # the next element ``next()`` returns, as NumPy's flatiter counts
        self._flat: Any = None

    def __len__(self) -> int:
        return int(self.base.size)

    def __iter__(self) -> FlatIter:
        return self

    def __next__(self) -> Any:
        if self.index >= self.base.size:
            raise StopIteration
        if self._flat is None:
            self._flat = np.ravel(self.base)  # one recorded ravel for the whole iteration
        self.index += 1
        return self._flat[self.index - 1]

    @property
    def coords(self) -> tuple[int, ...]:
        """The N-d position of the next element, as ``flatiter.coords``."""
        shape = self.base.shape
        if not shape:
            return ()
        if self.index >= self.base.size:  # exhausted: one past the end, as NumPy reports it
            return (shape[0], *(0 for _ in shape[1:]))
        return tuple(int(i) for i in np.unravel_index(self.index, shape))

    def __getitem__(self, key: Any) -> Any:
        return np.ravel(self.base)[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        base = self.base
        value = _graph_value(value)
        positions = np.arange(base.size).reshape(-1)[_plain_key(key)]
        if np.size(value) != np.size(positions) and np.ndim(value) > 0:
            value = np.resize(value, np.shape(positions))  # NumPy repeats a shorter value
        elif np.ndim(value) > 0:
            value = np.reshape(value, np.shape(positions))
        if base.ndim == 0:  # a 1-element view of a 0-d array (always a view): written through
            np.reshape(base, (1,))[positions] = value
        else:
            base[np.unravel_index(positions, base.shape)] = value

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        flat = np.ravel(plain_array(self.base))  # a view when it can be, as NumPy's flatiter gives
        if dtype is not None and np.dtype(dtype) != flat.dtype:
            return flat.astype(dtype)
        if self.base._node is not None and grad_enabled() and flat.base is not None:
            # A plain alias of an array in a graph: writes through it would not be recorded
            # (NumPy's put_along_axis(axis=None) writes through np.array(x.flat)).
            flat = flat.view()
            flat.flags.writeable = False
        return flat

    def copy(self) -> Any:
        """A recorded 1-d copy, like ``flatiter.copy``."""
        return np.copy(np.ravel(self.base))


def _plain_key(key: Any) -> Any:
    if isinstance(key, GradArray):
        return plain_array(key)
    if isinstance(key, tuple):
        return tuple(_plain_key(k) for k in key)
    return key


def _as_function(func: Any) -> Any:
    def method(self: GradArray, *args: Any, **kwargs: Any) -> Any:
        return func(self, *args, **kwargs)

    method.__name__ = func.__name__
    method.__doc__ = f"Same as ``numpy.{func.__name__}(self, ...)``, recorded for gradients."
    return method


def _guarded(name: str, why: str) -> Any:
    original = getattr(np.ndarray, name)

    def method(self: GradArray, *args: Any, **kwargs: Any) -> Any:
        if self._node is not None and grad_enabled():
            raise not_differentiable(f"ndarray.{name}", why)
        return original(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = original.__doc__
    return method


def reshape(self: GradArray, *shape: Any, order: Any = "C", copy: Any = None) -> Any:
    """Same as ``numpy.reshape``; accepts ``x.reshape(2, 3)`` as well as ``x.reshape((2, 3))``."""
    shape = shape[0] if len(shape) == 1 else shape
    if copy is None:
        return np.reshape(self, shape, order=order)
    return np.reshape(self, shape, order=order, copy=copy)


def transpose(self: GradArray, *axes: Any) -> Any:
    """Same as ``numpy.transpose``; accepts ``x.transpose(1, 0)`` and ``x.transpose((1, 0))``."""
    if len(axes) == 1 and (axes[0] is None or np.ndim(axes[0]) == 1):
        axes = axes[0]
    return np.transpose(self, axes or None)


def astype(
    self: GradArray,
    dtype: Any,
    order: Any = "K",
    casting: Any = "unsafe",
    subok: bool = True,
    copy: bool = True,
) -> Any:
    """Cast; a float-to-float cast is recorded, a cast to integers gives a plain array."""
    if casting != "unsafe":
        plain_array(self).astype(dtype, casting=casting)  # raises NumPy's error if not allowed
    return np.astype(self, dtype, copy=copy)


def copy(self: GradArray, order: Any = "C") -> Any:
    """Same as ``numpy.copy``, recorded."""
    return np.copy(self, order=order)


def flatten(self: GradArray, order: Any = "C") -> Any:
    """A recorded 1-d copy."""
    return np.copy(np.ravel(self, order=order))


def view(self: GradArray, dtype: Any = None, type: Any = None) -> Any:
    """A view: same dtype keeps the graph; ``view(np.ndarray)`` gives the plain data (inside a
    transform or ``nd.tracing()``, a recorded view, as ``np.asarray`` there gives the array)."""
    if isinstance(dtype, builtins.type) and issubclass(dtype, np.ndarray):
        type, dtype = dtype, None
    if type is np.ndarray and in_scope_graph(self):
        type = None  # a library stripping the subclass: a plain view would cut the graph
    if type is not None and not issubclass(type, GradArray):
        return np.ndarray.view(self, type) if dtype is None else np.ndarray.view(self, dtype, type)
    if dtype is None or np.dtype(dtype) == self.dtype:
        return np.reshape(self, self.shape)  # recorded, and tracked as a view of self
    if self._node is not None and grad_enabled():
        raise not_differentiable("ndarray.view", "reinterpreting memory as another dtype")
    return np.ndarray.view(self, dtype)


def __array__(self: GradArray, dtype: Any = None, copy: Any = None) -> Any:
    """NumPy's (a plain ndarray of the data); inside a transform or ``nd.tracing()``, as that
    scope's ``np.asarray``/``np.array``, keeping the graph of an array in one."""
    if in_scope_graph(self):
        if copy:
            return ndgrad.numpy.array(self, dtype=dtype, copy=True)
        return ndgrad.numpy.asarray(self, dtype=dtype, copy=copy)
    return np.ndarray.__array__(self, dtype, copy=copy)


def compress(self: GradArray, condition: Any, axis: Any = None, out: Any = None) -> Any:
    """Same as ``numpy.compress(condition, self, ...)``, recorded."""
    return np.compress(condition, self, axis=axis, out=out)


def put(self: GradArray, indices: Any, values: Any, mode: str = "raise") -> None:
    """Write ``values`` at flat ``indices`` in place, recorded as an assignment."""
    if mode == "wrap":
        indices = np.mod(indices, self.size)
    elif mode == "clip":
        indices = np.clip(indices, 0, self.size - 1)
    values = _graph_value(values)
    values = np.resize(values, np.shape(indices)) if np.ndim(values) > 0 else values
    FlatIter(self)[indices] = values


def fill(self: GradArray, value: Any) -> None:
    """Set every element, recorded as ``x[...] = value``."""
    self[...] = value


def sort(
    self: GradArray, axis: int = -1, kind: Any = None, order: Any = None, *, stable: Any = None
) -> None:
    """Sort in place, recorded as ``x[...] = np.sort(x)``."""
    # Sort a copy: np.sort's rule keeps its input, which the write then changes.
    self[...] = np.sort(np.copy(self), axis=axis, kind=kind, order=order, stable=stable)


def partition(
    self: GradArray, kth: Any, axis: int = -1, kind: Any = "introselect", order: Any = None
) -> None:
    """Partition in place, recorded as ``x[...] = np.partition(x, kth)``."""
    self[...] = np.partition(np.copy(self), kth, axis=axis, kind=kind, order=order)


def __array_namespace__(self: GradArray, /, *, api_version: str | None = None) -> Any:
    """The Array API namespace of GradArrays: ``ndgrad.numpy`` (not NumPy's).

    Parameters
    ----------
    api_version : str, optional
        A version of the standard; every published version up to 2025.12 is served by the
        same namespace (each is a subset of the newest).

    Examples
    --------
    >>> import ndgrad as nd
    >>> nd.GradArray([1.0]).__array_namespace__().__name__
    'ndgrad.numpy'
    """
    check_version(api_version)
    return ndgrad.numpy


def to_device(self: GradArray, device: Any, /, *, stream: Any = None) -> GradArray:
    """NumPy arrays live on the CPU: returns ``self``."""
    if device != "cpu":
        raise ValueError(f"unsupported device {device!r}: ndgrad arrays live on the CPU")
    return self


SPECIAL = {
    f.__name__: f
    for f in (
        reshape,
        transpose,
        astype,
        copy,
        flatten,
        view,
        fill,
        sort,
        partition,
        to_device,
        __array_namespace__,
        compress,
        put,
        __array__,
    )
}


def _conversion(name: str, what: str) -> Any:
    numpy_method = getattr(np.ndarray, name)

    @functools.wraps(numpy_method)  # NumPy's signature (the array API suite reads __dlpack__'s)
    def convert(self: GradArray, *args: Any, **kwargs: Any) -> Any:
        if in_scope_graph(self):
            raise graph_break(what)
        return numpy_method(self, *args, **kwargs)

    convert.__name__ = name
    convert.__doc__ = f"``{what}``, refused inside a transform when the array requires grad."
    return convert


def _property_conversion(name: str, what: str) -> property:
    numpy_getter = getattr(np.ndarray, name).__get__

    def get(self: GradArray) -> Any:
        if in_scope_graph(self):
            raise graph_break(what)
        return numpy_getter(self)

    doc = f"``{what}``, refused inside a transform when the array requires grad."
    return property(get, doc=doc)


def install() -> None:
    """Put every method of the tables above on GradArray."""
    for name, what in CONVERSIONS.items():
        setattr(GradArray, name, _conversion(name, what))
    for name, what in PROPERTY_CONVERSIONS.items():
        setattr(GradArray, name, _property_conversion(name, what))
    for name, func in AS_FUNCTION.items():
        setattr(GradArray, name, _as_function(func))
    for name, func in SPECIAL.items():
        setattr(GradArray, name, func)
    for name, why in METHODS_UNSUPPORTED.items():
        setattr(GradArray, name, _guarded(name, why))
    for name, (getter, setter) in PROPERTIES.items():
        doc = f"Same as ``ndarray.{name}``, recorded."
        setattr(GradArray, name, property(getter, setter, doc=doc))


install()
