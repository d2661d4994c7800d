"""What the solver wrappers of ``scipy_optimize`` and ``scipy_integrate`` share.

A SciPy solver takes a function. The quantities to differentiate reach that function through
``args=`` or through a closure over GradArrays, which ndgrad cannot see as arguments. So a
solver wrapper

1. runs SciPy's solver, unmodified, on plain values: ``args=`` is unwrapped, and every function
   it is given is wrapped in a :class:`Watch` that hands SciPy plain values and notes whether
   the function's result depended on an array that requires grad (a closure);
2. if nothing did, returns SciPy's result as it is;
3. otherwise evaluates the user's function again, with grad on, at the solution (the *probes*:
   for a root ``x*`` of ``F(x, θ)``, ``r = F(x*, θ)`` with ``x*`` a constant), so that the
   graph reaches every captured or passed GradArray, and records ONE node whose output is the
   solution and whose inputs are the probes (and any GradArray passed directly, such as a
   starting value or an integration limit). The node's backward pass maps the cotangent of the
   solution to cotangents of the probes (for a root, ``-(∂F/∂x)^{-T} g``); the engine then
   carries them back through the probes' graphs to the parameters (``-λ^T ∂F/∂θ``).

The node's backward pass is a linear map computed with constants (a Jacobian at the solution,
an adjoint solution), so it is exact for first derivatives only: recording it (higher
derivatives, ``create_graph=True``) raises ``NotDifferentiableError`` rather than returning a
derivative that misses the dependence of those constants on the parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ndgrad._aliases import sanction_arguments
from ndgrad._array import GradArray, _plain, _record, _wrap
from ndgrad._errors import NotDifferentiableError, hidden_errors_reraised, noted
from ndgrad._graph import enable_grad, grad_enabled, no_grad, scope_depth
from ndgrad._registry import Primitive
from ndgrad.functional import _RuleCache, jacobian
from ndgrad.tracing import tracing

__all__ = [
    "Params",
    "Watch",
    "const",
    "evaluate",
    "jacobian_at",
    "plain_tree",
    "record",
    "requires_grad",
    "solver",
    "solver_error",
    "solver_scope",
    "tuple_args",
]


def solver_error(name: str, why: str) -> NotDifferentiableError:
    """The error for a gradient ``name`` cannot give: what and why."""
    return noted(NotDifferentiableError(f"{name}: {why}"))


def requires_grad(x: Any) -> bool:
    """Whether ``x`` (or a list, tuple or dict in it) holds a GradArray that requires grad."""
    if isinstance(x, GradArray):
        return x._node is not None
    if type(x) in (list, tuple):
        return any(requires_grad(o) for o in x)
    if type(x) is dict:
        return any(requires_grad(o) for o in x.values())
    return False


def plain_tree(x: Any) -> Any:
    """``x`` with every GradArray (in lists, tuples, dicts) replaced by its plain values."""
    if isinstance(x, GradArray):
        return _plain(x)
    if type(x) in (list, tuple):
        return type(x)(plain_tree(o) for o in x)
    if type(x) is dict:
        return {k: plain_tree(v) for k, v in x.items()}
    return x


def const(x: Any) -> np.ndarray:
    """A plain float ndarray copy of ``x`` (a constant of the backward pass)."""
    return np.array(plain_tree(x), dtype=float)


def tuple_args(args: Any) -> tuple[Any, ...]:
    """SciPy's convention: ``args=`` that is not a tuple is one argument."""
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)


class Watch:
    """A user's function as SciPy calls it: plain results, and whether they depended on the graph.

    The first calls run with grad on (inside the conversion scope, so that ``float(theta)``
    of a captured array that requires grad is an error, not a silent cut); once a result held
    an array that requires grad, later calls run under ``no_grad``: only the values matter.
    """

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.depends = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sanction_arguments((args, kwargs))  # SciPy's plain state may be an input's memory
        if self.depends:
            with no_grad():
                out = self.fun(*args, **kwargs)
        else:
            with tracing():
                out = self.fun(*args, **kwargs)
            if requires_grad(out):
                self.depends = True
        return plain_tree(out)


def watched(fun: Any) -> Any:
    """``fun`` wrapped in a :class:`Watch` if it is a function (not a string or bool)."""
    return Watch(fun) if callable(fun) and not isinstance(fun, type) else fun


@contextmanager
def solver_scope() -> Iterator[None]:
    """Run SciPy's own code as plain NumPy, with the conversion scope ready for the user's.

    The scope's names stay installed (so that each :class:`Watch` call enters it at the cost
    of a counter), but SciPy's internals run outside it: their buffers stay plain ndarrays.
    """
    with tracing(), hidden_errors_reraised():
        token = scope_depth.set(0)
        try:
            yield
        finally:
            scope_depth.reset(token)


def evaluate(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fun(*args)`` with grad on, in the conversion scope: the probes' graphs."""
    with enable_grad(), tracing(), hidden_errors_reraised():
        return fun(*args, **kwargs)


def jacobian_at(fun: Callable[[Any], Any], x: np.ndarray, n_out: int) -> np.ndarray:
    """``∂fun/∂x`` at the constant ``x``, as a plain ``(n_out, x.size)`` matrix."""
    with enable_grad():
        jac = jacobian(fun, allow_unused=True)(np.array(x, dtype=float))
    return np.reshape(const(jac), (n_out, np.size(x)))


def _identity(*args: Any) -> Any:  # what the node stands for; never called
    raise AssertionError


def record(
    name: str,
    value: Any,
    inputs: Sequence[Any],
    backward: Callable[[Any], Sequence[Any]],
) -> Any:
    """``value`` as one node of ``inputs``; ``backward(g)`` gives one cotangent per input.

    ``value`` is plain (the solver's own result, unchanged); inputs that are not GradArrays
    requiring grad get no edge. Returns ``value`` as a plain ndarray when nothing requires grad.
    """
    grad_inputs = [
        (i, None, x)
        for i, x in enumerate(inputs)
        if isinstance(x, GradArray) and x._node is not None
    ]
    res = np.array(value, dtype=float)
    if not grad_inputs:
        return res
    raw = [_plain(x) if isinstance(x, GradArray) else x for x in inputs]
    cache = _RuleCache()

    def rule(slot: int, g: Any, ans: Any, *args: Any) -> Any:
        if grad_enabled():  # the backward pass is being recorded: higher derivatives
            raise solver_error(
                name,
                "only first derivatives flow through a solver: its backward pass uses the "
                "solution's Jacobian (or adjoint solution) as constants, so a second derivative "
                "would miss their dependence on the parameters. Differentiate once (nd.grad, "
                "backward() without create_graph), or take finite differences of the gradient.",
            )

        def compute() -> list[Any]:
            cots = list(backward(plain_tree(g)))
            return [
                None if c is None or a is None else np.reshape(c, np.shape(a))
                for c, a in zip(cots, args, strict=True)
            ]

        return cache.get(g, args, {}, compute)[slot]

    prim = Primitive(_identity, (), rule, name=name)
    outs = _wrap(res)
    _record(prim, grad_inputs, raw, {}, res, outs)
    return outs


class Params(dict):  # type: ignore[type-arg]
    """The arguments of one call by name, SciPy's defaults filled in; ``call`` passes them."""

    def __init__(self, sig: inspect.Signature, args: Any, kwargs: Any) -> None:
        b = sig.bind(*args, **kwargs)
        b.apply_defaults()
        super().__init__()
        for name, value in b.arguments.items():
            kind = sig.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                self.update(value)
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                self[name] = value

    def call(self, func: Any) -> Any:
        """``func`` with every argument by keyword."""
        with solver_scope():
            return func(**self)


def solver(func: Any, name: str, run: Callable[..., Any]) -> Any:
    """A wrapper that calls ``run(func, params)`` when grad is on."""
    sig = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not grad_enabled():
            return func(*args, **kwargs)
        with hidden_errors_reraised():
            return run(func, Params(sig, args, kwargs))

    return wrapper
