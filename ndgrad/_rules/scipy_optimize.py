"""Gradients through ``scipy.optimize``'s solvers, called unmodified (see ``_solve``).

The differentiated quantities ``θ`` reach the solver through ``args=`` or a closure over
GradArrays; the solver runs on plain values and the solution is recorded as one node.

Root finding (``brentq``, ``brenth``, ``ridder``, ``bisect``, ``toms748``, ``newton``,
``root_scalar``, ``fsolve``, ``root``): the implicit function theorem. At the root ``x*`` of
``F(x, θ) = 0``, ``dx*/dθ = -(∂F/∂x)^{-1} ∂F/∂θ``; the backward pass solves
``(∂F/∂x)^T λ = g`` with ndgrad's own Jacobian of ``F`` at ``x*`` (not the solver's ``fprime``
or finite differences) and sends ``-λ`` back through ``F(x*, θ)``. The bracket and the starting
point get no gradient: the root does not depend on them. A singular ``∂F/∂x`` at the root (a
double root) raises.

Minimization (``minimize``, ``minimize_scalar``, ``least_squares``, ``curve_fit``): the argmin
``x*`` is the root of the stationarity condition ``∇ₓf(x, θ) = 0``, differentiated as above
with the Hessian of ``f`` (``least_squares``: ``f = ½‖r‖²``, the full Hessian, not Gauss-Newton);
the optimal value ``f(x*, θ)`` by the envelope theorem (``df*/dθ = ∂f/∂θ`` at ``x*``).
Unconstrained problems only: with ``bounds`` or ``constraints`` (an active bound breaks the
stationarity condition) differentiating raises. ``curve_fit`` differentiates the fitted
parameters with respect to ``xdata``, ``ydata``, ``sigma`` and whatever ``f`` captures;
its covariance is recomputed with the graph (``(JᵀJ)⁻¹ s²`` at the optimum, as SciPy).

A solver that reports failure (``converged``/``success`` false, ``ier != 1``) raises
``RuntimeError`` when a gradient is needed, instead of returning a derivative of a point that
is not a solution.

Second derivatives (``nd.hessian``, ``nd.grad(nd.grad(...))``) through the root finders,
``minimize`` and ``minimize_scalar`` (``x`` and ``fun``), ``least_squares`` and ``curve_fit``'s
fitted parameters: the backward pass, when recorded, is written with ndgrad calls at the node's
own output (see ``_root_node``), with respect to the arrays the function holds (closure, defaults,
``args=``, a bound method's instance; one read from a global raises). ``least_squares``'s
``fun`` and ``curve_fit``'s covariance give first derivatives only (a second one raises).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._array import GradArray
from ndgrad._graph import enable_grad
from ndgrad._rules._scipy import wrap_scipy
from ndgrad._rules._solve import (
    Params,
    Watch,
    const,
    depends_only_on,
    evaluate,
    held_arrays,
    jacobian_at,
    plain_tree,
    record,
    requires_grad,
    second_order_error,
    solver,
    solver_error,
    tuple_args,
    watched,
)
from ndgrad.functional import grad, jacobian, pull_to
from ndgrad.tracing import tracing

_MODULE = "scipy.optimize"


def _not_converged(name: str, why: Any) -> RuntimeError:
    return RuntimeError(
        f"scipy.optimize.{name} did not converge ({why}), and a gradient was requested: "
        "the implicit function theorem needs a solution, so no gradient is given. Tighten "
        "the tolerances, raise maxiter, or start closer to the solution."
    )


def _root_node(name: str, x_star: Any, residual: Callable[[Any], Any], leaf: bool = False) -> Any:
    """The root ``x_star`` of ``residual`` (a function of x with the user's θ) as one node.

    Returns None when ``residual`` at the root does not depend on an array that requires grad.
    ``leaf``: evaluate it at x as an array that requires grad (a residual that is itself a
    gradient, ``nd.grad(f)(x)``, keeps the graph to θ only then).

    The node's inputs are the probe ``r = F(x*, θ)`` and the arrays ``θ`` that ``residual``
    holds: a first derivative flows through the probe; a recorded backward pass (second
    derivatives) solves ``(∂F/∂x)^T λ = g`` and takes ``-λ^T ∂F/∂θ`` with ndgrad calls at the
    node's own output ``x*`` (so that ``λ`` and ``∂F/∂θ`` depend on ``θ`` through ``x*`` too).
    """
    x_star = np.array(x_star, dtype=float)
    at = GradArray(x_star, requires_grad=True) if leaf else x_star
    r = evaluate(residual, at)
    if not requires_grad(r):
        return None
    n = x_star.size
    if np.size(r) != n:
        raise ValueError(
            f"scipy.optimize.{name}: the function returned {np.size(r)} values for {n} "
            "unknowns; the implicit function theorem needs a square system"
        )
    jac = jacobian_at(residual, x_star, n)
    if not np.all(np.isfinite(jac)) or np.linalg.cond(jac) > 1e14:
        raise solver_error(
            f"scipy.optimize.{name}",
            "the Jacobian of the function with respect to x is singular (or not finite) at "
            "the solution (a double root, or a flat minimum): the solution is not a "
            "differentiable function of the parameters there, so no gradient is given.",
        )
    params = held_arrays(residual)
    covered = depends_only_on(r, [*params, at])

    def backward(g: Any) -> list[Any]:
        return [-np.linalg.solve(jac.T, np.ravel(g)), *(None for _ in params)]

    def backward_create(g: Any, x: Any, args: Any) -> list[Any]:
        if not covered:
            raise second_order_error(f"scipy.optimize.{name}")
        targets = [(a._node, a._out) for a in (x, *params)]  # before the function may write
        u = np.reshape(evaluate(residual, x), (n,))
        eye = np.eye(n)
        rows = [pull_to([u], [eye[i]], targets[:1], create=True)[0] for i in range(n)]
        jac = np.stack([np.zeros(n) if c is None else np.reshape(c, (n,)) for c in rows])
        lam = np.linalg.solve(np.transpose(jac), np.reshape(g, (n,)))
        cots = pull_to([u], [lam], targets, create=True)[1:]
        return [None, *(None if c is None else -c for c in cots)]

    return record(f"scipy.optimize.{name}", x_star, [r, *params], backward, backward_create)


# --- scalar root finding ------------------------------------------------------------------------


def _bracketing(name: str) -> Callable[[Any, Params], Any]:
    def run(func: Any, p: Params) -> Any:
        f, fargs, full = p["f"], tuple_args(p["args"]), p["full_output"]
        watch = Watch(f)
        p.update(f=watch, args=plain_tree(fargs), a=plain_tree(p["a"]), b=plain_tree(p["b"]))
        p["full_output"] = True
        x, info = p.call(func)
        out = None
        if watch.depends or requires_grad(fargs):
            if not info.converged:
                raise _not_converged(name, info.flag)
            out = _root_node(name, x, lambda x: f(x, *fargs))
        if out is None:
            return (x, info) if full else x
        if full:
            info.root = out
            return out, info
        return out

    return run


for _name in ("brentq", "brenth", "ridder", "bisect", "toms748"):
    wrap_scipy(_MODULE, _name, functools.partial(solver, name=_name, run=_bracketing(_name)))


def _newton(func: Any, p: Params) -> Any:
    f, fargs, full = p["func"], tuple_args(p["args"]), p["full_output"]
    watch = Watch(f)
    p.update(func=watch, args=plain_tree(fargs), x0=plain_tree(p["x0"]), full_output=True)
    p.update(fprime=watched(p["fprime"]), fprime2=watched(p["fprime2"]), x1=plain_tree(p["x1"]))
    res = p.call(func)
    x = res[0]
    out = None
    if watch.depends or requires_grad(fargs):
        scalar = np.ndim(x) == 0 and np.ndim(p["x0"]) == 0
        converged = res[1].converged if scalar else np.all(res[1])
        if not converged:
            raise _not_converged("newton", res[1].flag if scalar else "some elements failed")
        out = _root_node("newton", x, lambda x: f(x, *fargs))
    if out is None:
        return res if full else x
    if not full:
        return out
    if isinstance(res[1], object) and hasattr(res[1], "root"):
        res[1].root = out
        return out, res[1]
    return type(res)(out, *res[1:])


wrap_scipy(_MODULE, "newton", functools.partial(solver, name="newton", run=_newton))


def _root_scalar(func: Any, p: Params) -> Any:
    f, fargs = p["f"], tuple_args(p["args"])
    watch = Watch(f)
    p.update(f=watch, args=plain_tree(fargs), fprime=watched(p["fprime"]))
    p.update(fprime2=watched(p["fprime2"]))
    for key in ("bracket", "x0", "x1"):
        p[key] = plain_tree(p[key])
    res = p.call(func)
    if watch.depends or requires_grad(fargs):
        if not res.converged:
            raise _not_converged("root_scalar", res.flag)
        if p["fprime"] is True:  # f returns (f, f')
            out = _root_node("root_scalar", res.root, lambda x: f(x, *fargs)[0])
        else:
            out = _root_node("root_scalar", res.root, lambda x: f(x, *fargs))
        if out is not None:
            res.root = out
    return res


wrap_scipy(_MODULE, "root_scalar", functools.partial(solver, name="root_scalar", run=_root_scalar))


# --- systems of equations -------------------------------------------------------------------------


def _shaped(fun: Callable[..., Any], shape: tuple[int, ...], first: bool) -> Callable[..., Any]:
    """``fun`` of a flat vector, as SciPy calls it, taking x in ``x0``'s shape."""

    def residual(x: Any, *args: Any) -> Any:
        out = fun(np.reshape(x, shape), *args)
        return out[0] if first else out

    return residual


def _fsolve(func: Any, p: Params) -> Any:
    f, fargs, full = p["func"], tuple_args(p["args"]), p["full_output"]
    watch = Watch(f)
    p.update(func=watch, args=plain_tree(fargs), x0=plain_tree(p["x0"]), full_output=True)
    p.update(fprime=watched(p["fprime"]))
    res = p.call(func)
    x, info, ier, msg = res
    out = None
    if watch.depends or requires_grad(fargs):
        if ier != 1:
            raise _not_converged("fsolve", msg)
        out = _root_node("fsolve", x, lambda x: f(x, *fargs))
    if out is None:
        return res if full else x
    return (out, info, ier, msg) if full else out


wrap_scipy(_MODULE, "fsolve", functools.partial(solver, name="fsolve", run=_fsolve))


def _root(func: Any, p: Params) -> Any:
    f, fargs = p["fun"], tuple_args(p["args"])
    watch = Watch(f)
    p.update(fun=watch, args=plain_tree(fargs), x0=plain_tree(p["x0"]), jac=watched(p["jac"]))
    p.update(callback=watched(p["callback"]))
    res = p.call(func)
    if watch.depends or requires_grad(fargs):
        if not res.success:
            raise _not_converged("root", res.message)
        residual = _shaped(f, np.shape(res.x), first=p["jac"] is True)
        out = _root_node("root", res.x, lambda x: residual(x, *fargs))
        if out is not None:
            res.x = out
    return res


wrap_scipy(_MODULE, "root", functools.partial(solver, name="root", run=_root))


# --- minimization ---------------------------------------------------------------------------------


def _argmin_node(name: str, x_star: Any, objective: Callable[[Any], Any]) -> Any:
    """The minimizer of ``objective`` (a function of x with the user's θ): ``∇ₓf = 0``."""
    return _root_node(name, x_star, grad(objective), leaf=True)


def _value_node(name: str, value: Any, objective: Callable[[Any], Any], x_node: Any) -> Any:
    """The optimal value (SciPy's own number) with the envelope theorem's gradient.

    ``df*/dθ = ∂f/∂θ`` at ``x*``: a first derivative flows through the probe ``f(x*, θ)``; a
    recorded one evaluates ``∂f/∂θ`` at the argmin node ``x_node`` (an input, so that its
    dependence on ``θ`` through ``x*`` is kept; the term through ``x`` is ``∇ₓf = 0`` along
    the solution, with every derivative).
    """
    probe = evaluate(objective, const(x_node))
    params = held_arrays(objective)
    covered = depends_only_on(probe, params)

    def backward_create(g: Any, ans: Any, args: Any) -> list[Any]:
        if not covered:
            raise second_order_error(f"scipy.optimize.{name}")
        x = args[1]
        targets = [(a._node, a._out) for a in (x, *params)]  # before the function may write
        cots = pull_to([evaluate(objective, x)], [g], targets, create=True)[1:]
        return [None, None, *cots]

    return record(
        f"scipy.optimize.{name}",
        value,
        [probe, x_node, *params],
        lambda g: [g, None, *(None for _ in params)],
        backward_create,
    )


def _interior(name: str, x: Any, bounds: Any) -> None:
    """Refuse a solution on a bound: the stationarity condition does not hold there."""
    if bounds is None:
        return
    if hasattr(bounds, "lb"):  # scipy.optimize.Bounds
        lb, ub = bounds.lb, bounds.ub
    elif len(bounds) == 2 and np.ndim(bounds[0]) == 0 and np.ndim(x) == 0:
        lb, ub = bounds
    else:
        pairs = np.array(
            [
                (-np.inf if lo is None else lo, np.inf if hi is None else hi)
                for lo, hi in (bounds if np.ndim(bounds) == 2 else [bounds])
            ]
        )
        lb, ub = pairs[:, 0], pairs[:, 1]
    x = np.asarray(x, dtype=float)
    lb, ub = (
        np.broadcast_to(np.asarray(lb, float), x.shape),
        np.broadcast_to(np.asarray(ub, float), x.shape),
    )
    scale = 1e-7 * (1 + np.abs(x))
    if np.any(x - lb <= scale) or np.any(ub - x <= scale):
        raise solver_error(
            f"scipy.optimize.{name}",
            "the solution lies on a bound, where the gradient of the objective need not vanish: "
            "differentiating the stationarity condition would give a wrong gradient there. "
            "Reparametrize to an unconstrained problem (e.g. x = exp(z) for x > 0).",
        )


def _objective(fun: Callable[..., Any], fargs: tuple[Any, ...], first: bool) -> Callable[..., Any]:
    def objective(x: Any) -> Any:
        out = fun(x, *fargs)
        return out[0] if first else out

    return objective


def _minimize(func: Any, p: Params) -> Any:
    f, fargs = p["fun"], tuple_args(p["args"])
    watch = Watch(f)
    p.update(fun=watch, args=plain_tree(fargs), x0=plain_tree(p["x0"]), jac=watched(p["jac"]))
    for key in ("hess", "hessp", "callback"):
        p[key] = watched(p[key])
    res = p.call(func)
    # a constraint that holds the parameters moves the argmin even if the objective does not
    constrained = bool(p["constraints"]) and bool(held_arrays(p["constraints"]))
    if not (watch.depends or requires_grad(fargs) or constrained):
        return res
    if p["constraints"]:
        raise solver_error(
            "scipy.optimize.minimize",
            "no gradient through a constrained minimization (constraints=): the argmin of an "
            "active constraint is not given by the stationarity condition.",
        )
    if not res.success:
        raise _not_converged("minimize", res.message)
    _interior("minimize", res.x, p["bounds"])
    objective = _objective(f, fargs, first=p["jac"] is True)
    x = _argmin_node("minimize", res.x, objective)
    if x is not None:
        res.x = x
        res.fun = _value_node("minimize", res.fun, objective, res.x)
    return res


wrap_scipy(_MODULE, "minimize", functools.partial(solver, name="minimize", run=_minimize))


def _minimize_scalar(func: Any, p: Params) -> Any:
    f, fargs = p["fun"], tuple_args(p["args"])
    watch = Watch(f)
    p.update(fun=watch, args=plain_tree(fargs))
    p.update(bracket=plain_tree(p["bracket"]), bounds=plain_tree(p["bounds"]))
    res = p.call(func)
    if not (watch.depends or requires_grad(fargs)):
        return res
    if not res.success:
        raise _not_converged("minimize_scalar", res.message)
    _interior("minimize_scalar", res.x, p["bounds"])
    objective = _objective(f, fargs, first=False)
    x = _argmin_node("minimize_scalar", res.x, objective)
    if x is not None:
        res.x = x
        res.fun = _value_node("minimize_scalar", res.fun, objective, res.x)
    return res


wrap_scipy(
    _MODULE,
    "minimize_scalar",
    functools.partial(solver, name="minimize_scalar", run=_minimize_scalar),
)


def _least_squares(func: Any, p: Params) -> Any:
    f, fargs, fkwargs = p["fun"], tuple_args(p["args"]), p["kwargs"] or {}
    watch = Watch(f)
    p.update(fun=watch, args=plain_tree(fargs), kwargs=plain_tree(fkwargs))
    p.update(x0=plain_tree(p["x0"]), jac=watched(p["jac"]), callback=watched(p["callback"]))
    res = p.call(func)
    if not (watch.depends or requires_grad((fargs, fkwargs))):
        return res
    if p["loss"] != "linear":
        raise solver_error(
            "scipy.optimize.least_squares",
            f"gradients only for loss='linear', not loss={p['loss']!r}.",
        )
    if not res.success:
        raise _not_converged("least_squares", res.message)
    bounds = p["bounds"]
    if not (hasattr(bounds, "lb") or np.all(np.isinf(np.asarray(bounds, dtype=float)))):
        _interior(
            "least_squares",
            res.x,
            np.transpose(
                np.broadcast_to(np.asarray(bounds, dtype=float)[..., None], (2, np.size(res.x)))
            ),
        )

    def residuals(x: Any) -> Any:
        return f(x, *fargs, **fkwargs)

    def cost(x: Any) -> Any:
        r = residuals(x)
        return 0.5 * np.sum(r * r)

    x = _argmin_node("least_squares", res.x, cost)
    if x is not None:
        res.cost = _value_node("least_squares", res.cost, cost, res.x)
        res.x = x
        res.fun = record(
            "scipy.optimize.least_squares", res.fun, [evaluate(residuals, x)], lambda g: [g]
        )
    return res


wrap_scipy(
    _MODULE, "least_squares", functools.partial(solver, name="least_squares", run=_least_squares)
)


def _curve_fit(func: Any, p: Params) -> Any:
    f, xdata, ydata, sigma = p["f"], p["xdata"], p["ydata"], p["sigma"]
    watch = Watch(f)
    p.update(f=watch, xdata=plain_tree(xdata), ydata=plain_tree(ydata), sigma=plain_tree(sigma))
    p.update(p0=plain_tree(p["p0"]), jac=watched(p["jac"]))
    res = p.call(func)
    if not (watch.depends or requires_grad((xdata, ydata, sigma))):
        return res
    if sigma is not None and np.ndim(sigma) == 2:
        raise solver_error(
            "scipy.optimize.curve_fit",
            "no gradient with a 2-D sigma (a covariance matrix) yet; pass 1-D sigma.",
        )
    popt, pcov = res[0], res[1]
    bounds = p["bounds"]
    if not (hasattr(bounds, "lb") or np.all(np.isinf(np.asarray(bounds, dtype=float)))):
        lb, ub = (np.broadcast_to(np.asarray(v, dtype=float), np.shape(popt)) for v in bounds)
        _interior("curve_fit", popt, np.stack([lb, ub], axis=-1))

    def weighted(params: Any) -> Any:
        r = f(xdata, *params) - ydata
        return r if sigma is None else r / sigma

    def cost(params: Any) -> Any:
        r = weighted(params)
        return 0.5 * np.sum(r * r)

    out = _argmin_node("curve_fit", popt, cost)
    if out is None:
        return res
    parts = [out, pcov, *res[2:]]
    if np.all(np.isfinite(pcov)):
        with enable_grad(), tracing():
            jac = jacobian(weighted)(out)
            cov = np.linalg.inv(jac.T @ jac)
            if not p["absolute_sigma"]:
                cov = cov * (2 * cost(out) / (np.size(ydata) - np.size(popt)))
        parts[1] = record("scipy.optimize.curve_fit", pcov, [cov], lambda g: [g])
    return tuple(parts)


wrap_scipy(_MODULE, "curve_fit", functools.partial(solver, name="curve_fit", run=_curve_fit))
