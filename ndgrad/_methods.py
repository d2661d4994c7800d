"""ndarray methods and properties on GradArray, each in one table by what it does.

Most ndarray methods are implemented in C and would make results without telling GradArray, so
every public method is replaced here by one that either calls the NumPy function of the same
meaning (which dispatches and records), returns plain values, or refuses while recording.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ndgrad._array import GradArray, _plain
from ndgrad._errors import not_differentiable
from ndgrad._graph import grad_enabled

__all__ = ["AS_FUNCTION", "METHODS_NO_GRADIENT", "METHODS_UNSUPPORTED", "PROPERTIES"]

# x.name(*args, **kwargs) is np.name(x, *args, **kwargs): the call is recorded like the function.
AS_FUNCTION = {
    name: getattr(np, name)
    for name in (
        "all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "clip",
        "compress", "conj", "conjugate", "cumprod", "cumsum", "diagonal", "dot", "max", "mean",
        "min", "nonzero", "prod", "ravel", "repeat", "round", "searchsorted", "squeeze", "std",
        "sum", "swapaxes", "take", "trace", "var",
    )
}  # fmt: skip

# Methods whose results carry no gradient (integers, bytes, Python objects, metadata).
METHODS_NO_GRADIENT = (
    "item", "tolist", "tobytes", "tofile", "dump", "dumps", "setflags", "__array__",
    "__array_wrap__", "__dlpack__", "__dlpack_device__",
)  # fmt: skip

# Methods that write or reinterpret memory in ways no rule describes: refused while recording.
METHODS_UNSUPPORTED = ("byteswap", "getfield", "setfield", "resize", "put")

PROPERTIES = {
    "T": lambda self: np.transpose(self),
    "mT": lambda self: np.matrix_transpose(self),
    "real": lambda self: np.real(self),
    "imag": lambda self: np.imag(self),
}


def _as_function(func: Any) -> Any:
    def method(self: GradArray, *args: Any, **kwargs: Any) -> Any:
        return func(self, *args, **kwargs)

    method.__name__ = func.__name__
    method.__doc__ = f"Same as ``numpy.{func.__name__}(self, ...)``, recorded for gradients."
    return method


def _guarded(name: str) -> Any:
    original = getattr(np.ndarray, name)

    def method(self: GradArray, *args: Any, **kwargs: Any) -> Any:
        if self._node is not None and grad_enabled():
            raise not_differentiable(f"ndarray.{name}")
        return original(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = original.__doc__
    return method


def reshape(self: GradArray, *shape: Any, order: str = "C") -> Any:
    """Same as ``numpy.reshape``; accepts ``x.reshape(2, 3)`` as well as ``x.reshape((2, 3))``."""
    return np.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)


def transpose(self: GradArray, *axes: Any) -> Any:
    """Same as ``numpy.transpose``; accepts ``x.transpose(1, 0)`` and ``x.transpose((1, 0))``."""
    if len(axes) == 1 and (axes[0] is None or np.ndim(axes[0]) == 1):
        axes = axes[0]
    return np.transpose(self, axes or None)


def astype(
    self: GradArray,
    dtype: Any,
    order: str = "K",
    casting: str = "unsafe",
    subok: bool = True,
    copy: bool = True,
) -> Any:
    """Cast; a float-to-float cast is recorded, a cast to integers gives a plain array."""
    if casting != "unsafe":
        _plain(self).astype(dtype, casting=casting)  # raises NumPy's error if not allowed
    return np.astype(self, dtype, copy=copy)


def copy(self: GradArray, order: str = "C") -> Any:
    """Same as ``numpy.copy``, recorded."""
    return np.copy(self, order=order)


def flatten(self: GradArray, order: str = "C") -> Any:
    """A recorded 1-d copy."""
    return np.copy(np.ravel(self, order=order))


def view(self: GradArray, dtype: Any = None, type: Any = None) -> Any:
    """A view: same dtype keeps the graph; ``view(np.ndarray)`` gives the plain data."""
    if isinstance(dtype, builtins.type) and issubclass(dtype, np.ndarray):
        type, dtype = dtype, None
    if type is not None and not issubclass(type, GradArray):
        return np.ndarray.view(self, type) if dtype is None else np.ndarray.view(self, dtype, type)
    if dtype is None or np.dtype(dtype) == self.dtype:
        return np.reshape(self, self.shape)  # recorded, and tracked as a view of self
    if self._node is not None and grad_enabled():
        raise not_differentiable("ndarray.view", "reinterpreting memory as another dtype")
    return np.ndarray.view(self, dtype)


def fill(self: GradArray, value: Any) -> None:
    """Set every element, recorded as ``x[...] = value``."""
    self[...] = value


def sort(self: GradArray, axis: int = -1, kind: Any = None, order: Any = None) -> None:
    """Sort in place, recorded as ``x[...] = np.sort(x)``."""
    self[...] = np.sort(self, axis=axis, kind=kind, order=order)


def partition(
    self: GradArray, kth: Any, axis: int = -1, kind: str = "introselect", order: Any = None
) -> None:
    """Partition in place, recorded as ``x[...] = np.partition(x, kth)``."""
    self[...] = np.partition(self, kth, axis=axis, kind=kind, order=order)


def to_device(self: GradArray, device: Any, /, *, stream: Any = None) -> GradArray:
    """NumPy arrays live on the CPU: returns ``self``."""
    if device != "cpu":
        raise ValueError(f"unsupported device {device!r}: ndgrad arrays live on the CPU")
    return self


SPECIAL = {
    f.__name__: f
    for f in (reshape, transpose, astype, copy, flatten, view, fill, sort, partition, to_device)
}


def install() -> None:
    """Put every method of the tables above on GradArray."""
    for name, func in AS_FUNCTION.items():
        setattr(GradArray, name, _as_function(func))
    for name, func in SPECIAL.items():
        setattr(GradArray, name, func)
    for name in METHODS_UNSUPPORTED:
        setattr(GradArray, name, _guarded(name))
    for name, getter in PROPERTIES.items():
        setattr(GradArray, name, property(getter, doc=f"Same as ``ndarray.{name}``, recorded."))


install()
