"""NumPy functions of ``ndgrad.numpy`` that keep GradArrays held in Python lists and tuples.

NumPy dispatches ``__array_function__`` on the arguments themselves, so ``numpy.mean([x, x + 2])``
never sees the GradArrays inside the list: it converts the list with ``numpy.asarray`` and returns
a plain number, silently without gradient. The functions here are NumPy's own, called after their
array arguments that are lists or tuples holding GradArrays are stacked with recorded ``np.stack``
calls (as ``ndgrad.numpy.array`` does). Every other call goes to NumPy's function unchanged, at
the cost of one Python call and a type check per array argument.

The functions are those whose array arguments are single arrays (``array_like``), where a list
stands for one array: the reductions and statistics, cumulative sums and products, ``diff``,
``trace``, ``append`` and the norms. Functions that take a *sequence of arrays*
(``concatenate``, ``stack``) already see GradArrays at the top of their sequence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ndgrad.numpy._creation import asarray, holds_grad_array

__all__ = ["LINALG", "NUMPY", "keeping_sequences", "wrapped"]

_SEQUENCES = (list, tuple)


def keeping_sequences(func: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., Any]:
    """``func`` with the arguments ``names`` (NumPy's names, in NumPy's order) converted by
    ``ndgrad.numpy.asarray`` when they are lists or tuples holding GradArrays."""
    count = len(names)

    @functools.wraps(func)
    def keeping(*args: Any, **kwargs: Any) -> Any:
        if any(type(a) in _SEQUENCES and holds_grad_array(a) for a in args[:count]):
            args = tuple(
                asarray(a) if i < count and type(a) in _SEQUENCES and holds_grad_array(a) else a
                for i, a in enumerate(args)
            )
        for name in names:
            value = kwargs.get(name)
            if type(value) in _SEQUENCES and holds_grad_array(value):
                kwargs[name] = asarray(value)
        return func(*args, **kwargs)

    return keeping


_A = ("a",)
# name -> the array arguments, in NumPy's order of parameters
NUMPY: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "sum", "prod", "mean", "max", "min", "amax", "amin", "ptp", "median", "nansum",
            "nanprod", "nanmean", "nanmax", "nanmin", "nanmedian", "cumsum", "cumprod",
            "nancumsum", "nancumprod", "trace", "diff",
        ),
        _A,
    ),
    "std": ("a",), "var": ("a",), "nanstd": ("a",), "nanvar": ("a",),
    "average": ("a", "weights"),
    "quantile": ("a", "q"), "percentile": ("a", "q"),
    "nanquantile": ("a", "q"), "nanpercentile": ("a", "q"),
    "cumulative_sum": ("x",), "cumulative_prod": ("x",),
    "append": ("arr", "values"),
}  # fmt: skip
LINALG: dict[str, tuple[str, ...]] = {"norm": ("x",), "vector_norm": ("x",), "matrix_norm": ("x",)}


def wrapped(module: Any, table: dict[str, tuple[str, ...]]) -> dict[str, Callable[..., Any]]:
    """The functions of ``table`` from ``module``, each keeping sequences of GradArrays."""
    return {n: keeping_sequences(getattr(module, n), names) for n, names in table.items()}
