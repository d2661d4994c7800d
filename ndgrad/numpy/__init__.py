"""``ndgrad.numpy``: NumPy's namespace, making GradArrays; also an Array API standard namespace.

``import ndgrad.numpy as np`` in place of ``import numpy as np`` (or ``autograd.numpy``) makes
code differentiable without further changes:

- Every public name of ``numpy`` is here. Functions that already dispatch on GradArrays (the
  ufuncs, ``np.sum``, ``np.linalg.inv``, ...) are NumPy's very objects.
- Creation and conversion functions (``array``, ``asarray``, ``zeros``, ``linspace``, ...)
  return GradArrays and accept ``requires_grad=``. ``asarray`` of a GradArray returns it with
  its graph (``numpy.asarray`` would strip it), and a list holding GradArrays becomes their
  recorded stack: ``np.array([x, y ** 2])`` differentiates.
- ``linalg``, ``fft`` and ``random`` are NumPy's submodules with the same treatment.
- It is the Array API standard namespace (version ``__array_api_version__``, with the
  ``linalg`` and ``fft`` extensions) that ``GradArray.__array_namespace__()`` returns. Where
  NumPy lacks a keyword of the standard or returns another type, the function here is a
  superset of NumPy's: ``sort``/``argsort`` (``descending=``), ``clip`` (keeps the dtype),
  ``count_nonzero`` (a 0-d array), ``finfo``/``iinfo`` (accept arrays),
  ``fft.fftfreq``/``fft.rfftfreq`` (``dtype=``), ``expm1``/``floor_divide`` (the standard's
  special values).
- Reductions, statistics, ``append`` and the norms of lists or tuples holding GradArrays
  (``np.mean([x, x + 2])``) stack them recorded first, as ``array`` does; NumPy's own functions
  would see only the list and drop the graph.

Examples
--------
>>> import ndgrad as nd
>>> import ndgrad.numpy as np
>>> def f(x):
...     return np.sum(np.array([x[0] * x[1], np.sin(x[1])]))
>>> nd.grad(f)(np.array([1.0, 0.0]))
array([0., 2.])
"""

from __future__ import annotations

import importlib
import types
from typing import Any

import numpy as _np

from ndgrad import _array_api

# Re-exported names (``__all__`` is computed below, so the linter cannot see them listed).
from ndgrad._array import GradArray  # noqa: F401
from ndgrad.numpy import _sequences
from ndgrad.numpy._creation import (  # noqa: F401
    arange,
    array,
    asanyarray,
    asarray,
    ascontiguousarray,
    asfortranarray,
    copy,
    empty,
    empty_like,
    eye,
    from_dlpack,
    frombuffer,
    fromfunction,
    full,
    full_like,
    geomspace,
    identity,
    linspace,
    logspace,
    ones,
    ones_like,
    tri,
    zeros,
    zeros_like,
)

# Submodules that ndgrad.numpy provides itself; NumPy's other submodules are NumPy's own.
_OWN_SUBMODULES = ("fft", "linalg", "random")

# Everything NumPy exports, as NumPy's own objects; submodules are loaded on first use, as in
# NumPy (importing numpy.f2py or numpy.testing eagerly would slow down every import).
_LAZY = {
    n
    for n in _np.__all__
    if isinstance(_np.__dict__.get(n), types.ModuleType) or n not in _np.__dict__
}
globals().update({n: _np.__dict__[n] for n in _np.__all__ if n not in _LAZY and n not in globals()})

# Reductions, norms and ``append`` of lists holding GradArrays: NumPy's functions would see only
# the list, convert it and drop the graph silently (``np.mean([x, x + 2])``).
globals().update(_sequences.wrapped(_np, _sequences.NUMPY))

# The Array API standard's names that NumPy has but not with the standard's semantics.
argsort = _array_api.argsort
sort = _array_api.sort
clip = _array_api.clip
count_nonzero = _array_api.count_nonzero
expm1 = _array_api.expm1
floor_divide = _array_api.floor_divide
finfo = _array_api.finfo
iinfo = _array_api.iinfo
__array_namespace_info__ = _array_api.__array_namespace_info__
__array_api_version__ = _array_api.API_VERSION
__version__ = _np.__version__

__all__ = sorted(
    set(_np.__all__) | {"GradArray", "__array_api_version__", "__array_namespace_info__"}
)


def __getattr__(name: str) -> Any:
    """NumPy's lazily loaded names (``np.testing``, ``np.ma``, ...) and our submodules."""
    if name in _OWN_SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    value = getattr(_np, name)  # NumPy's own AttributeError (and hints) for unknown names
    if name in _LAZY:
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))


# The Array API names ``linalg`` and ``fft`` are modules of the namespace: load them eagerly so
# that ``xp.linalg`` works after ``xp = x.__array_namespace__()`` without a further import.
from ndgrad.numpy import fft, linalg, random  # noqa: E402, F401
