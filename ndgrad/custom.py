"""``custom_vjp``: a function whose forward and backward passes the user writes, as in JAX.

Use it for a function ndgrad cannot trace (one that calls SciPy, a C extension or plain Python
on the values), or to replace the recorded derivative with a cheaper or more stable one::

    @custom_vjp
    def f(x, y): ...                     # the plain function, used when nothing is traced

    def f_fwd(x, y):                     # returns (output, residuals)
        ...
    def f_bwd(residuals, g):             # returns one cotangent per positional argument
        ...
    f.defvjp(f_fwd, f_bwd)

When an argument requires grad, ``f_fwd`` runs on plain ndarrays and one node is recorded; its
rule calls ``f_bwd(residuals, g)``. For higher derivatives (``grad(grad(f))``, ``hessian``) the
backward pass is recorded: ``f_fwd`` then runs again on the recorded arguments so that the
residuals depend on them, and both ``f_fwd`` and ``f_bwd`` must be written with NumPy calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._aliases import read_only_arguments, returned_arguments, wrote_into_arguments
from ndgrad._array import GradArray, plain_array, record_node, unwrap_all, unwrap_args, wrap_result
from ndgrad._errors import NotDifferentiableError, not_differentiable
from ndgrad._graph import grad_enabled
from ndgrad._registry import Primitive
from ndgrad.functional import RuleCache

__all__ = ["custom_vjp"]


def _requires_grad(x: Any) -> bool:
    return isinstance(x, GradArray) and x.requires_grad


class custom_vjp:
    """Decorate a function whose vector-Jacobian product is given by the user.

    Parameters
    ----------
    fun : callable
        The function, of positional array arguments (and keyword arguments that are not
        differentiated). It returns an array or a tuple of arrays.

    Notes
    -----
    Call :meth:`defvjp` with ``fwd`` and ``bwd`` before differentiating:

    - ``fwd(*args, **kwargs)`` returns ``(output, residuals)``: the output, which must equal
      ``fun(*args, **kwargs)``, and anything ``bwd`` needs (arrays, tuples, objects).
    - ``bwd(residuals, g)`` returns a tuple with one cotangent per positional argument of
      ``fun``, each shaped like that argument (``None`` for one without a gradient). ``g``
      is the cotangent of the output (a tuple for a tuple output).

    Only the residuals and the inputs are kept for the backward pass, not the intermediate
    arrays of ``fun``.

    Examples
    --------
    A function that leaves NumPy (Python's ``math``) in the forward pass:

    >>> import math
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> @nd.custom_vjp
    ... def log1pexp(x):
    ...     return np.array([math.log1p(math.exp(v)) for v in x.ravel()]).reshape(x.shape)
    >>> def log1pexp_fwd(x):
    ...     return log1pexp(x), x
    >>> def log1pexp_bwd(x, g):
    ...     return (g / (1 + np.exp(-x)),)  # the logistic function, written with NumPy
    >>> log1pexp.defvjp(log1pexp_fwd, log1pexp_bwd)
    >>> nd.grad(lambda x: np.sum(log1pexp(x)))(np.array([0.0, 2.0]))
    array([0.5       , 0.88079708])
    """

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self._prim: Primitive | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """Set the forward pass ``fwd`` (returns ``(out, residuals)``) and ``bwd``."""
        self.fwd, self.bwd = fwd, bwd
        name = getattr(self.fun, "__qualname__", getattr(self.fun, "__name__", "custom_vjp"))
        self._prim = Primitive(self.fun, (), _make_rule(self), name=f"custom_vjp({name})")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call ``fun``; record one node when an argument requires grad."""
        prim, fwd = self._prim, self.fwd
        raw, grad_inputs = unwrap_args(args)
        if not grad_inputs or not grad_enabled():
            return self.fun(*args, **kwargs)
        if prim is None or fwd is None:
            raise TypeError(
                f"{self.fun.__name__} was called on an array that requires grad before its "
                "derivative was defined: call .defvjp(fwd, bwd) first."
            )
        if any(_requires_grad(v) for v in kwargs.values()):
            name = next(k for k, v in kwargs.items() if _requires_grad(v))
            raise not_differentiable(prim.name, f"no gradient for the keyword argument {name!r}")
        raw_kwargs = unwrap_all(kwargs)
        # the inputs' memory, handed over on purpose, read-only; an output that is one of
        # them is the input itself again (a straight-through ``fwd`` returns its argument)
        originals: dict[int, Any] = {}
        given, given_kwargs = read_only_arguments((raw, raw_kwargs), originals)
        try:
            out, residuals = fwd(*given, **given_kwargs)
        except ValueError as e:
            refused = wrote_into_arguments(
                e, f"the forward pass of {prim.name}", "Write into a copy inside fwd."
            )
            if refused is None:
                raise
            raise refused from e
        out = returned_arguments(out, originals)
        flat = list(out) if isinstance(out, tuple) else [out]
        if any(_requires_grad(o) for o in flat):
            raise ValueError(
                f"the forward pass of {prim.name} returned an array that requires grad: it "
                "read such an array from a closure or a global. Pass it as an argument."
            )
        res = tuple(_plain_out(o) for o in flat) if isinstance(out, tuple) else _plain_out(out)
        outs = wrap_result(res)
        node_kwargs = {"_kwargs": raw_kwargs, "_residuals": residuals}
        record_node(prim, list(grad_inputs), raw, node_kwargs, res, outs)
        return outs


def _plain_out(o: Any) -> Any:
    """An output as an ndarray (a Python float becomes 0-d), so a node can be attached."""
    if isinstance(o, GradArray):
        return plain_array(o)
    return o if isinstance(o, np.ndarray) else np.asarray(o)


def _traced_residuals(cv: custom_vjp, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``fwd`` on recorded arguments; refuse if it leaves NumPy (constant residuals)."""
    why = (
        f"higher derivatives of custom_vjp({cv.fun.__name__}) differentiate its backward pass, "
        "so its fwd runs again on arrays that require grad, and {}. Write fwd and bwd with "
        "NumPy calls (or register rules for what they call) to differentiate more than once."
    )
    try:
        out, residuals = cv.fwd(*args, **kwargs)  # type: ignore[misc]
    except NotDifferentiableError as exc:
        msg = why.format(f"fwd called a function without a rule: {exc}")
        raise NotDifferentiableError(msg) from exc
    if not any(_requires_grad(o) for o in (out if isinstance(out, tuple) else (out,))):
        # The residuals computed alongside would be constants: a wrong derivative, not an error.
        raise NotDifferentiableError(
            why.format(
                "its output came back without a graph (fwd left NumPy, e.g. through "
                "np.asarray, float() or a C routine)"
            )
        )
    return residuals


def _make_rule(cv: custom_vjp) -> Callable[..., Any]:
    """The node's rule: ``bwd`` once per node, its results handed out per argument."""
    cache = RuleCache()

    def rule(
        slot: int, g: Any, ans: Any, *args: Any, _kwargs: Any = None, _residuals: Any = None
    ) -> Any:
        def all_cotangents() -> tuple[Any, ...]:
            residuals = _residuals
            if grad_enabled() and any(_requires_grad(a) for a in args):
                # Recording the backward pass (higher order): recompute the residuals from the
                # recorded arguments, so that their dependence on the inputs is differentiated.
                residuals = _traced_residuals(cv, args, _kwargs or {})
            cots = cv.bwd(residuals, g)  # type: ignore[misc]
            if not isinstance(cots, (tuple, list)):
                cots = (cots,)
            if len(cots) != len(args):
                raise ValueError(
                    f"the bwd of {cv.fun.__name__} returned {len(cots)} cotangent(s) for "
                    f"{len(args)} positional argument(s): return a tuple with one per argument "
                    "(None for an argument without a gradient)."
                )
            return tuple(cots)

        node_kwargs = {"_kwargs": _kwargs, "_residuals": _residuals}
        return cache.get(g, args, node_kwargs, all_cotangents)[slot]

    return rule
