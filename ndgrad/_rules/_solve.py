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
an adjoint solution), so it is exact for first derivatives only. For higher derivatives
(``create_graph=True``), a solver passes :func:`record` a second backward pass written with
ndgrad calls at the node's own output and with respect to the arrays the user's function holds
(:func:`held_arrays`, checked complete by :func:`depends_only_on`), which are then inputs of the
node too; without one, recording the backward pass raises ``NotDifferentiableError`` rather than
returning a derivative that misses the dependence of those constants on the parameters.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

import numpy as np

from ndgrad._aliases import sanction_arguments
from ndgrad._array import GradArray, plain_array, record_node, wrap_result
from ndgrad._errors import NotDifferentiableError, hidden_errors_reraised, noted
from ndgrad._graph import LeafNode, collect_nodes, enable_grad, grad_enabled, no_grad, scope_depth
from ndgrad._held import collect_held
from ndgrad._registry import Primitive
from ndgrad.functional import RuleCache, jacobian
from ndgrad.tracing import tracing

__all__ = [
    "DEFAULT_CHECKPOINTS",
    "Params",
    "Watch",
    "const",
    "constant_args",
    "depends_only_on",
    "evaluate",
    "held_arrays",
    "jacobian_at",
    "ode_gradient",
    "ode_gradient_checkpoints",
    "ode_gradient_method",
    "plain_tree",
    "record",
    "requires_grad",
    "second_order_error",
    "solver",
    "solver_error",
    "solver_scope",
    "tuple_args",
]


# Steps between the checkpoints the adjoint keeps by default, chosen by
# ``python -m benchmarks.ode --memory`` (docs/user_guide/performance.rst): from 1 to 32 the time
# falls steeply (fewer segments, each a restart of the adjoint solve) while the memory held stays
# a small fraction of every step's interpolant; beyond, time gains little and a segment's
# interpolant (the backward pass's peak) keeps growing.
DEFAULT_CHECKPOINTS = 32

Checkpoints = int | Literal["all"]
_ODE_GRADIENT: ContextVar[tuple[str, Checkpoints]] = ContextVar(
    "ode_gradient", default=("adjoint", DEFAULT_CHECKPOINTS)
)


@contextmanager
def ode_gradient(
    method: Literal["adjoint", "forward"] = "adjoint", *, checkpoints: Checkpoints | None = None
) -> Iterator[None]:
    """Choose how ``scipy.integrate.solve_ivp`` and ``odeint`` calls in a block differentiate.

    SciPy's call stays unmodified, so the choice is a context around it (per thread and task,
    like :func:`ndgrad.no_grad`), read when the solver is called.

    Parameters
    ----------
    method : {"adjoint", "forward"}
        ``"adjoint"`` (the default outside this context): one forward solve, and per backward
        pass one adjoint solve backward in time of ``n`` equations, ``n`` the state size; the
        cost does not grow with the number of parameters. ``"forward"``: forward sensitivities,
        one solve of ``n (1 + P + n)`` equations alongside the forward solve, ``P`` the number
        of parameter entries the right-hand side holds, each right-hand side costing ``n``
        reverse passes of ``fun``; each backward pass is then a sum, so it pays off for many
        backward passes (a Jacobian of many outputs). ``python -m benchmarks.ode`` measures
        both.
    checkpoints : int or "all", optional
        What the adjoint keeps of the forward solve until the backward pass (``"adjoint"``
        only). An int ``K >= 1`` (the default is 32): the state at every ``K``-th forward step
        and the steps' times; the backward pass solves each stretch of ``K`` steps forward again
        (same method, tolerances and options, starting with the original step size) with
        dense output, uses it for the adjoint and the parameters' integral there, and drops it
        before the next, so that one stretch's interpolant is alive at a time. ``"all"``: SciPy's
        interpolant of every forward step, kept until the backward pass (no solve again). A
        call with ``dense_output=True`` keeps that interpolant anyway, and it is used whatever
        ``checkpoints`` says.

    Raises
    ------
    ValueError
        For another ``method``, a ``checkpoints`` that is neither an int ``>= 1`` nor
        ``"all"``, or ``checkpoints`` with ``method="forward"`` (which keeps no trajectory).

    Notes
    -----
    With ``"forward"``, the parameters are the arrays that require grad which the right-hand
    side holds in its closure, defaults or ``args=`` (a bound method's instance included); a
    right-hand side that reads one from a global raises ``NotDifferentiableError``.

    With checkpoints, the backward pass solves the ODE forward once more, segment by segment
    (the right-hand side runs there with grad off, as in the first solve); the states are within
    the solver's tolerance of the first solve's (the same steps for the explicit Runge-Kutta
    methods; BDF and LSODA restart at order 1 in each segment, so take more steps). The adjoint
    solve restarts at each segment bound too: a small ``K`` costs time when the adjoint takes
    longer steps than the forward solve. ``python -m benchmarks.ode --memory`` measures
    ``K`` = 1, 8, 32, 128 and ``"all"``.

    Examples
    --------
    >>> import numpy as np, ndgrad as nd
    >>> from scipy.integrate import solve_ivp
    >>> def y_end(k):
    ...     return solve_ivp(lambda t, y: -k * y, (0, 1), [1.0], rtol=1e-10, atol=1e-12).y[0, -1]
    >>> with nd.ode_gradient("forward"):
    ...     g = nd.grad(y_end)(0.5)
    >>> bool(np.isclose(g, -np.exp(-0.5), rtol=1e-7))
    True
    >>> with nd.ode_gradient(checkpoints="all"):  # keep every step's interpolant
    ...     g = nd.grad(y_end)(0.5)
    >>> bool(np.isclose(g, -np.exp(-0.5), rtol=1e-7))
    True
    """
    if method not in ("adjoint", "forward"):
        raise ValueError(f"ode_gradient: method is 'adjoint' or 'forward', not {method!r}")
    if checkpoints is not None and method == "forward":
        raise ValueError(
            "ode_gradient: checkpoints= applies to the adjoint; forward sensitivities keep no "
            "trajectory. Drop checkpoints= or use method='adjoint'."
        )
    if checkpoints is None:
        checkpoints = DEFAULT_CHECKPOINTS
    elif checkpoints != "all" and (
        isinstance(checkpoints, bool | str)
        or not isinstance(checkpoints, int | np.integer)
        or checkpoints < 1
    ):
        raise ValueError(
            f"ode_gradient: checkpoints is an int >= 1 (the steps between two kept states) or "
            f"'all' (keep every step's interpolant), not {checkpoints!r}"
        )
    token = _ODE_GRADIENT.set((method, checkpoints if checkpoints == "all" else int(checkpoints)))
    try:
        yield
    finally:
        _ODE_GRADIENT.reset(token)


def ode_gradient_method() -> str:
    """The method :func:`ode_gradient` chose here (``"adjoint"`` by default)."""
    return _ODE_GRADIENT.get()[0]


def ode_gradient_checkpoints() -> Checkpoints:
    """The adjoint's checkpoints :func:`ode_gradient` chose here (``DEFAULT_CHECKPOINTS``)."""
    return _ODE_GRADIENT.get()[1]


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
        return plain_array(x)
    if type(x) in (list, tuple):
        return type(x)(plain_tree(o) for o in x)
    if type(x) is dict:
        return {k: plain_tree(v) for k, v in x.items()}
    return x


def constant_args(args: Any) -> Any:
    """``plain_tree(args)``, each plain array marked as handed to user code on purpose
    (``sanction_arguments``): a function called with them while only its other arguments are
    differentiated (an ODE's right-hand side in ``y``) reads the parameters' memory as
    constants, which the alias check would otherwise take for a stripped graph."""
    plain = plain_tree(args)
    sanction_arguments(plain)
    return plain


def const(x: Any) -> np.ndarray:
    """A plain float ndarray copy of ``x`` (a constant of the backward pass)."""
    return np.array(plain_tree(x), dtype=float)


def tuple_args(args: Any) -> tuple[Any, ...]:
    """SciPy's convention: ``args=`` that is not a tuple is one argument."""
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)


def held_arrays(*objs: Any) -> list[GradArray]:
    """The GradArrays that require grad which ``objs`` hold: in containers, a function's closure
    cells, defaults and the globals it names, a ``partial``'s arguments, a bound method's
    instance, an object's attributes (not a module's: ``mod.x`` is not found).

    What a function closes over is not an argument ndgrad sees; where a rule needs the
    parameters themselves (forward sensitivities, second derivatives), it finds them here and
    checks with :func:`depends_only_on` that nothing was missed.
    """
    found: dict[int, GradArray] = {}
    for obj in objs:
        collect_held(obj, _requires_grad_array, found)
    return list(found.values())


def _requires_grad_array(a: np.ndarray) -> bool:
    return isinstance(a, GradArray) and a._node is not None


def depends_only_on(out: Any, arrays: Sequence[Any]) -> bool:
    """Whether every path from ``out``'s graph to a leaf that requires grad passes ``arrays``."""
    if not isinstance(out, GradArray) or out._node is None:
        return not requires_grad(out)
    targets = {a._node for a in arrays if isinstance(a, GradArray) and a._node is not None}
    reached = collect_nodes([out._node], targets)
    return not any(isinstance(n, LeafNode) and n not in targets for n in [out._node, *reached])


class Watch:
    """A user's function as SciPy calls it: plain results, and whether they depended on the graph.

    The first calls run with grad on (inside the conversion scope, so that ``float(theta)``
    of a captured array that requires grad is an error, not a silent cut); once a result held
    an array that requires grad, later calls run under ``no_grad``: only the values matter. A
    function that holds no array that requires grad (:func:`held_arrays`: closure, defaults,
    the globals it names) runs as plain NumPy after one clean call, which is most of what a
    solver costs when there is nothing to differentiate.
    """

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.depends = False
        self.plain = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sanction_arguments((args, kwargs))  # SciPy's plain state may be an input's memory
        if self.depends or self.plain:
            if grad_enabled():
                with no_grad():
                    out = self.fun(*args, **kwargs)
            else:  # inside solver_scope: grad is off already
                out = self.fun(*args, **kwargs)
        else:
            with enable_grad(), tracing():
                out = self.fun(*args, **kwargs)
            if requires_grad(out):
                self.depends = True
            elif not held_arrays(self.fun):
                self.plain = True
        return plain_tree(out)


def watched(fun: Any) -> Any:
    """``fun`` wrapped in a :class:`Watch` if it is a function (not a string or bool)."""
    return Watch(fun) if callable(fun) and not isinstance(fun, type) else fun


@contextmanager
def solver_scope(traced: bool = True) -> Iterator[None]:
    """Run SciPy's own code as plain NumPy, with grad off.

    SciPy's internals run outside the conversion scope and with grad off: their buffers stay
    plain ndarrays, and SciPy's internal calls of its own wrapped classes (``RK45.step``) skip
    the checks meant for the user's calls. The user's functions, wrapped in :class:`Watch` or
    called by the rules, turn grad on again. ``traced`` keeps the scope's names installed, so
    that the many reverse passes of an adjoint solve enter it at the cost of a counter; a
    forward solve leaves them out, so that SciPy's and the user's plain calls stay C calls.
    """
    with contextlib.ExitStack() as stack:
        if traced:
            stack.enter_context(tracing())
        stack.enter_context(hidden_errors_reraised())
        stack.enter_context(no_grad())
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
    backward_create: Callable[[Any, Any, Sequence[Any]], Sequence[Any]] | None = None,
    held: tuple[Any, ...] = (),
) -> Any:
    """``value`` as one node of ``inputs``; ``backward(g)`` gives one cotangent per input.

    ``held``: ``versions`` entries (:func:`ndgrad._held.held_versions`) for the arrays of a
    function that ``backward`` calls again; the node refuses to run if one changed.

    ``value`` is plain (the solver's own result, unchanged); inputs that are not GradArrays
    requiring grad get no edge. Returns ``value`` as a plain ndarray when nothing requires grad.

    ``backward_create(g, ans, args)``, if given, is the backward pass when it is itself recorded
    (higher derivatives): written with ndgrad-differentiable calls on ``ans`` and ``args`` as the
    engine hands them then (GradArrays tied to the graph), one cotangent per input. Without it,
    recording the backward pass raises.
    """
    grad_inputs = [
        (i, None, x)
        for i, x in enumerate(inputs)
        if isinstance(x, GradArray) and x._node is not None
    ]
    res = np.array(value, dtype=float)
    if not grad_inputs:
        return res
    raw = [plain_array(x) if isinstance(x, GradArray) else x for x in inputs]
    cache, cache_create = RuleCache(), RuleCache()

    def shaped(cots: Sequence[Any], args: Sequence[Any]) -> list[Any]:
        return [
            None if c is None or a is None else np.reshape(c, np.shape(a))
            for c, a in zip(cots, args, strict=True)
        ]

    def rule(slot: int, g: Any, ans: Any, *args: Any) -> Any:
        if grad_enabled():  # the backward pass is being recorded: higher derivatives
            if backward_create is None:
                raise solver_error(
                    name,
                    "only first derivatives flow through this solver: its backward pass uses "
                    "the solution's Jacobian (or adjoint solution) as constants, so a second "
                    "derivative would miss their dependence on the parameters. Differentiate "
                    "once (nd.grad, backward() without create_graph), or take finite "
                    "differences of the gradient.",
                )
            create = backward_create
            return cache_create.get(g, args, {}, lambda: shaped(create(g, ans, args), args))[slot]
        return cache.get(g, args, {}, lambda: shaped(backward(plain_tree(g)), args))[slot]

    prim = Primitive(_identity, (), rule, name=name)
    if backward_create is None:
        # Forward mode cannot transpose a backward pass that is not recorded: the Jacobian is
        # made from it instead, one row per output element (``backward`` of each unit
        # cotangent, made once per node), and multiplied by the tangent.
        rows: list[list[Any]] = []

        def tangent(slot: int, t: Any, ans: Any, *args: Any) -> Any:
            if grad_enabled():  # the forward pass is being recorded: higher derivatives
                raise solver_error(
                    name,
                    "only first derivatives flow through this solver in forward mode: its "
                    "Jacobian is made of backward passes that use the solution as constants. "
                    "Take one derivative (nd.jvp, nd.jacfwd at the outermost level).",
                )
            if not rows:
                for i in range(res.size):
                    unit = np.zeros(res.size)
                    unit[i] = 1.0
                    rows.append(shaped(backward(unit.reshape(res.shape)), raw))
            column = [np.zeros(np.size(t)) if r[slot] is None else np.ravel(r[slot]) for r in rows]
            return np.reshape(np.stack(column) @ np.ravel(t), res.shape)

        prim.set_jvp("rules", (), tangent)
        prim.jvp_costly = True  # one backward solve per output element
    outs = wrap_result(res)
    node = record_node(prim, grad_inputs, raw, {}, res, outs)
    node.versions += held
    return outs


def second_order_error(name: str) -> NotDifferentiableError:
    """The error when a solver's function reads an array that requires grad ndgrad cannot find."""
    return solver_error(
        name,
        "a second derivative through a solver differentiates the solver's function with respect "
        "to the arrays it holds, and this function reads an array that requires grad from "
        "somewhere ndgrad does not look (a module attribute, such as mod.x; closures, defaults, "
        "args=, the globals it names and objects' attributes are found). Pass it through args= "
        "or a closure.",
    )


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
        with solver_scope(traced=False):
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
