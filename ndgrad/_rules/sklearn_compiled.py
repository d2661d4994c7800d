"""scikit-learn's compiled (Cython) routines: a NumPy formula where short, a refusal otherwise.

scikit-learn's Python code validates its arrays (``check_array``, which keeps GradArrays inside
:func:`ndgrad.tracing`) and hands them to Cython functions that read them through typed
memoryviews and write into result buffers. ndgrad sees neither the read nor the write: the
result silently lacks the gradient, and mixed with other terms (``chi2_kernel(X, Y) + ...``)
the gradient is partial. So, once such a module is imported:

- ``FORMULAS``: the Cython routine is replaced, where scikit-learn's Python code calls it, by a
  function that computes the same values with NumPy (recorded) when an argument reaches the
  graph; otherwise it calls the compiled original. The chi-squared kernels write into a buffer
  allocated inside the scope, so the write is recorded; ``haversine_distances`` (a Cython
  class, ``DistanceMetric``) is replaced as a whole.
- ``COMPILED``: every other Cython function that scikit-learn's Python modules import from
  these extension modules refuses, with ``NotDifferentiableError`` naming it, an argument that
  reaches the graph: a GradArray that requires grad, or a plain ndarray over the memory of one
  (what ``check_array`` makes of it outside the scope).
- ``LOSS_METHODS``: the loss classes of ``sklearn._loss`` (used by the linear models and
  gradient boosting) compute in Cython methods of compiled classes, which cannot be wrapped;
  their Python methods that call them refuse instead.

Compiled classes used directly (``DistanceMetric.get_metric(...).pairwise``, ``KDTree``) cannot
be wrapped: README, Limits.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._aliases import graph_alias
from ndgrad._array import GradArray
from ndgrad._errors import not_differentiable
from ndgrad._graph import grad_enabled
from ndgrad._rules._lazy import after_import
from ndgrad._rules._scipy import install_wrappers
from ndgrad.tracing import tracing

__all__ = ["COMPILED", "FORMULAS", "LOSS_METHODS"]


def _reaches_graph(obj: Any) -> bool:
    """A GradArray that requires grad, or a plain view of one's memory, is in ``obj``."""
    if isinstance(obj, GradArray):
        return obj._node is not None
    if type(obj) is np.ndarray:
        return obj.base is not None and graph_alias(obj) is not None
    if type(obj) in (list, tuple):
        return any(_reaches_graph(o) for o in obj)
    if type(obj) is dict:
        return any(_reaches_graph(o) for o in obj.values())
    return False


def _refusing(func: Any, name: str, why: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if grad_enabled() and _reaches_graph((args, kwargs)):
            raise not_differentiable(name, why)
        return func(*args, **kwargs)

    wrapper.__ndgrad_original__ = func  # type: ignore[attr-defined]
    return wrapper


_OUTSIDE = (
    "outside nd.tracing() scikit-learn's check_array converted the input to a plain ndarray; "
    "call it inside `with nd.tracing():` or an ndgrad transform"
)

# --- formulas ------------------------------------------------------------------------------------


def _additive_chi2(x: Any, y: Any) -> Any:
    """``-sum_k (x_k - y_k)^2 / (x_k + y_k)`` for every pair of rows, as the Cython loop."""
    xb, yb = x[:, None, :], y[None, :, :]
    denom = xb + yb
    # Terms with x_k + y_k == 0 (both zero: the inputs are non-negative) are skipped, as in
    # the Cython loop; their gradient is zero (the double where keeps 0/0 out of the rule).
    empty = denom == 0
    terms = (xb - yb) ** 2 / np.where(empty, 1.0, denom)
    return -np.sum(np.where(empty, 0.0, terms), axis=2)


def _chi2_kernel_fast(original: Any) -> Callable[..., Any]:
    """``_chi2_kernel_fast(X, Y, result)``, which both chi-squared kernels call."""
    name = "sklearn.metrics.pairwise.additive_chi2_kernel"

    @functools.wraps(original)
    def chi2_kernel_fast(X: Any, Y: Any, result: Any) -> Any:
        if not (grad_enabled() and _reaches_graph((X, Y))):
            return original(X, Y, result)
        if not isinstance(result, GradArray) or not (
            isinstance(X, GradArray) or isinstance(Y, GradArray)
        ):
            raise not_differentiable(name, _OUTSIDE)
        result[...] = _additive_chi2(X, Y)
        return None

    return chi2_kernel_fast


def _haversine_distances(original: Any) -> Callable[..., Any]:
    """``haversine_distances(X, Y=None)``: rows are (latitude, longitude) in radians."""
    name = "sklearn.metrics.pairwise.haversine_distances"
    check = sys.modules["sklearn.metrics.pairwise"].check_pairwise_arrays

    @functools.wraps(original)
    def haversine_distances(X: Any, Y: Any = None) -> Any:
        if not (grad_enabled() and _reaches_graph((X, Y))):
            return original(X, Y)
        with tracing():
            X, Y = check(X, Y)
        if not (isinstance(X, GradArray) or isinstance(Y, GradArray)):
            raise not_differentiable(name, _OUTSIDE)
        if X.shape[1] != 2:
            return original(np.asarray(X), np.asarray(Y))  # scikit-learn's own error
        lat1, lon1 = X[:, 0:1], X[:, 1:2]
        lat2, lon2 = Y[:, 0][None, :], Y[:, 1][None, :]
        h = (
            np.sin(0.5 * (lat1 - lat2)) ** 2
            + np.cos(lat1) * np.cos(lat2) * np.sin(0.5 * (lon1 - lon2)) ** 2
        )
        # At coincident points (h = 0) the distance has no derivative; the double where gives
        # the zero subgradient, as for a norm at 0, instead of 0 * inf.
        positive = h > 0
        d = 2 * np.arcsin(np.sqrt(np.where(positive, h, 0.5)))
        return np.where(positive, d, 0.0)

    return haversine_distances


# module: {name: make the replacement from the original}
FORMULAS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "sklearn.metrics._pairwise_fast": {"_chi2_kernel_fast": _chi2_kernel_fast},
    "sklearn.metrics.pairwise": {"haversine_distances": _haversine_distances},
}

# Extension modules whose functions scikit-learn's Python code calls with its arrays: every
# function refuses arguments that reach the graph, except those named in NO_GRADIENT.
COMPILED = (
    "sklearn.metrics._pairwise_fast",
    "sklearn.metrics._pairwise_distances_reduction._base",
    "sklearn.metrics.cluster._expected_mutual_info_fast",
    "sklearn.utils._cython_blas",
    "sklearn.utils.arrayfuncs",
    "sklearn.utils.sparsefuncs_fast",
    "sklearn.linear_model._cd_fast",
    "sklearn.linear_model._sag_fast",
    "sklearn.linear_model._sgd_fast",
    "sklearn.svm._liblinear",
    "sklearn.svm._libsvm",
    "sklearn.preprocessing._target_encoder_fast",
)
NO_GRADIENT = frozenset({"_all_with_any_reduction_axis_1"})  # a boolean per row

# The Python methods of sklearn._loss.loss's classes that call the compiled ``closs``.
LOSS_METHODS = {
    "BaseLoss": ("loss", "loss_gradient", "gradient", "gradient_hessian"),
    "HalfMultinomialLoss": ("gradient_proba",),
}


def _cover_compiled(module: Any) -> None:
    pairs = []
    formulas = FORMULAS.get(module.__name__, {})
    for name, func in list(vars(module).items()):
        if name.startswith("__") or not callable(func) or isinstance(func, type):
            continue
        if type(func).__name__ not in ("cython_function_or_method", "fused_cython_function"):
            continue
        qualified = f"{module.__name__}.{name}"
        if name in formulas:
            pairs.append((func, formulas[name](func)))
        elif name not in NO_GRADIENT:
            why = "scikit-learn computes it in compiled code (Cython), which ndgrad cannot see"
            pairs.append((func, _refusing(func, qualified, why)))
    install_wrappers(pairs)


def _cover_python(module: Any) -> None:
    pairs = []
    for name, make in FORMULAS.get(module.__name__, {}).items():
        func = getattr(module, name)
        wrapper = make(func)
        pairs.append((func, wrapper))
        # scikit-learn's tables of metrics hold the function too
        for table in ("PAIRWISE_DISTANCE_FUNCTIONS", "PAIRWISE_KERNEL_FUNCTIONS"):
            entries = getattr(module, table, {})
            for key, value in list(entries.items()):
                if value is func:
                    entries[key] = wrapper
    install_wrappers(pairs)


def _cover_losses(module: Any) -> None:
    for cls_name, methods in LOSS_METHODS.items():
        cls = getattr(module, cls_name)
        for method in methods:
            func = vars(cls)[method]
            qualified = f"sklearn._loss.loss.{cls_name}.{method}"
            why = "the loss is computed by a compiled Cython class (CyLossFunction)"
            setattr(cls, method, _refusing(func, qualified, why))


for _module in COMPILED:
    after_import(_module, _cover_compiled)
after_import("sklearn.metrics.pairwise", _cover_python)
after_import("sklearn._loss.loss", _cover_losses)
