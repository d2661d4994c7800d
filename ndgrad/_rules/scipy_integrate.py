"""Gradients through ``scipy.integrate``'s quadrature and ODE solvers, called unmodified.

The differentiated quantities ``θ`` reach the solver through ``args=`` or a closure over
GradArrays (see ``_solve``): the solver runs on plain values, and its result is recorded as one
node whose inputs are *probes* (the user's function evaluated with the graph at fixed points)
and the limits, times and initial values passed as GradArrays. Second derivatives through
``quad`` (so ``dblquad``, ``tplquad``, ``nquad``): the recorded backward pass differentiates the
same quadrature rule with nodes that move with the limits. ``quad_vec``, ``solve_ivp`` and
``odeint`` give first derivatives only (a second one raises ``NotDifferentiableError``: the
adjoint's second order is not built).

Quadrature (``quad``, ``quad_vec``): ``d/dθ ∫ f(x, θ) dx = ∫ ∂f/∂θ dx``, evaluated with a
21-point Gauss-Legendre rule on each subinterval that SciPy's adaptive rule ended with (so at
the resolution SciPy chose for ``f``; ``quad``'s infinite ranges in SciPy's own variable
``x = a + (1 - t)/t``); the limits by the Leibniz rule, ``dI/db = f(b)``, ``dI/da = -f(a)``.
The value is SciPy's own; ``abserr`` is a constant. ``weight=`` and ``complex_func=`` (``quad``)
and infinite limits (``quad_vec``) raise when a gradient is needed; so does a failed
integration (a ``message`` in ``quad``'s output, ``success`` false in ``quad_vec``'s).
``fixed_quad``, ``romb``, ``simpson``, ``trapezoid`` are NumPy code and are traced.
``dblquad``, ``tplquad`` and ``nquad`` are traced too: SciPy's Python calls its module's ``quad``
once per nesting level, which is this rule, so each level applies the Leibniz rule to its own
limits (callable limits that depend on the parameters included) and the outer level integrates
the inner level's derivative.

ODEs (``solve_ivp``): the adjoint method. For outputs ``y(t_j)`` with cotangents ``g_j``, the
adjoint ``a(t)`` solves ``da/dt = -(∂f/∂y)^T a`` backward from the last output time to ``t0``,
with the same ``method``, ``rtol`` and ``atol``, jumping by ``g_j`` at each output time
(``(∂f/∂y)^T a`` is one vector-Jacobian product of the user's ``fun``). Then the cotangent of
``y0`` is ``a(t0)``; of an output time ``t_j`` (``t_eval`` values, or the end of ``t_span``)
``g_j^T f(t_j, y_j)``; of ``t0``, ``-a(t0)^T f(t0, y0)``; and the parameters get
``∫ a(t)^T ∂f/∂θ dt``, computed as 5-point Gauss-Legendre sums over the forward solver's own
steps (split at the output times): during the backward pass, ``f(τ_k, y(τ_k), θ)`` is recorded
at the nodes of a few steps at a time and pulled back to the arrays ``θ`` that ``f`` holds
(:func:`_parameter_term`); only when ``f`` reads such an array from where ``held_arrays`` does
not look (a module attribute) are these probes recorded in the forward pass instead. The
adjoint reads ``y`` between steps from checkpoints or SciPy's interpolant (below); the returned
``sol.sol`` and ``sol.t`` (the solver's own steps when ``t_eval`` is not given) carry no
gradient, except ``t_eval`` values (``sol.t`` is then those reached) and the end time
set by a terminal event. ``success=False`` raises when a gradient is needed.

Events (``events=``): ``sol.t_events`` and ``sol.y_events`` are differentiable, in the
parameters of ``fun`` and of the event functions (closures or ``args=``), ``y0`` and ``t0``. An
event time ``t*`` solves ``g(t*, y(t*), θ) = 0``; the implicit function theorem gives
``dt*/dθ = -(∂g/∂θ + ∇_y g · dy(t*)/dθ) / (∂g/∂t + ∇_y g · f(t*, y*))``, which the adjoint
carries as a jump at ``t*`` (see ``_Events``). A terminal event ends the solve at ``t*``: the
last column (without ``t_eval``) and the end time are then functions of ``θ`` and ``t_span[1]``
gets no gradient. An event that touches zero without crossing (the denominator is 0) raises.
The event function is called with a GradArray ``t`` once per occurrence (for ``∂g/∂t``).

What the adjoint stores until the backward pass (``nd.ode_gradient(checkpoints=...)``, see
``_Steps`` and ``_Trajectory``): by default (``K = DEFAULT_CHECKPOINTS``, 32) every forward
step's time and the state at every ``K``-th step (and at ``t0``), recorded by a subclass of the
user's solver class that only observes its steps, with ``dense_output=False``: no interpolant
(with ``t_eval``, SciPy itself keeps only the values at ``t_eval``; without, every step's state
is SciPy's own ``sol.y``, which the node keeps a copy of as it keeps any output). The backward
pass solves the adjoint in pieces between the jump times and the segment bounds; on reaching
a segment it solves the ODE forward again from its checkpoint to the next (the same ``fun``,
``method`` and options, ``dense_output=True``, ``first_step`` the step the solver took
there: the explicit Runge-Kutta methods retake the same steps, the multistep ones restart at
order 1), reads ``y`` from that interpolant for the adjoint and the parameter term, and drops
it before the next segment. ``checkpoints="all"`` keeps SciPy's interpolant of every step
instead (``sol.sol``, a few vectors of size ``n`` per step; the adjoint before checkpoints),
and so does a call with ``dense_output=True``, whatever ``checkpoints`` says (SciPy keeps it
for the user anyway). No graph of ``f`` is kept (except in the module-attribute fallback above,
where the forward pass reads the states at the nodes, segment by segment). Since the backward
pass calls ``f`` (and ``jac``, the event functions) again, an array they hold (a parameter
that requires grad, or a constant: plain or GradArray) which is written between the solve and
``backward()``, by ndgrad or behind its back, raises ``InPlaceError`` (``ndgrad._held``).

Forward sensitivities (``with nd.ode_gradient("forward")``, see ``_Forward``): ``S = ∂y/∂(θ,
y0)`` solved alongside the ODE right after the forward solve; the node's inputs are then the
arrays ``θ`` that ``fun`` holds (no probes), and the backward pass is ``Σ v^T S(t)``. It stores
the augmented solve's interpolant, ``n (1 + P + n)`` values per step, and no checkpoints: the
forward solve keeps nothing for the gradient.

``odeint``: the same adjoint, in ``y0``, parameters and every value of ``t`` (``t[0]`` is the
start time). odeint has no dense output, so when a gradient is needed the states between its
output times come from SciPy's LSODA through ``solve_ivp`` (the same ODEPACK integrator, same
``rtol``/``atol``; checkpointed the same way), which also solves the adjoint. The returned
values are odeint's own; a message other than "Integration successful." raises; ``tcrit=``
raises.
"""

from __future__ import annotations

import functools
import itertools
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._array import GradArray, as_array
from ndgrad._graph import enable_grad, no_grad
from ndgrad._held import held_versions
from ndgrad._rules._scipy import wrap_scipy
from ndgrad._rules._solve import (
    Params,
    Watch,
    const,
    constant_args,
    depends_only_on,
    evaluate,
    held_arrays,
    ode_gradient_checkpoints,
    ode_gradient_method,
    plain_tree,
    record,
    requires_grad,
    second_order_error,
    solver,
    solver_error,
    solver_scope,
    tuple_args,
    watched,
)
from ndgrad.functional import pull_cotangents
from ndgrad.tracing import tracing

_MODULE = "scipy.integrate"


def _scalar(x: Any) -> float:
    return float(const(x))


def _failed(name: str, why: Any) -> RuntimeError:
    return RuntimeError(
        f"scipy.integrate.{name} did not succeed ({why}), and a gradient was requested: no "
        "gradient is given for a result that is not a solution. Loosen the tolerances, raise "
        "limit/max_step, or split the range."
    )


# --- quadrature ---------------------------------------------------------------------------------

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(21)


def _gauss(intervals: Any) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of 21-point Gauss-Legendre on each ``(lo, hi)`` row."""
    lo, hi = np.asarray(intervals, dtype=float).T
    half = (hi - lo)[:, None] / 2
    return ((lo + hi)[:, None] / 2 + half * _NODES).ravel(), (half * _WEIGHTS).ravel()


def _probe_sum(f: Callable[[Any], Any], nodes: Any, weights: Any) -> Any:
    """``Σ w_k f(x_k)`` with the graph to whatever ``f`` captures."""

    def total() -> Any:
        return sum(w * f(x) for x, w in zip(nodes, weights, strict=True))

    return evaluate(total)


def _quad(func: Any, p: Params) -> Any:
    f, fargs, a, b, full = p["func"], tuple_args(p["args"]), p["a"], p["b"], p["full_output"]
    from scipy import LowLevelCallable  # only reached once SciPy's integrate is imported

    if isinstance(f, LowLevelCallable):  # compiled: QUADPACK calls it without Python
        if requires_grad((fargs, a, b)):
            raise solver_error(
                "scipy.integrate.quad",
                "the integrand is a scipy.LowLevelCallable (compiled code), through which no "
                "gradient flows; pass a Python function of NumPy calls instead.",
            )
        return func(**p)
    watch = Watch(f)
    p.update(func=watch, args=plain_tree(fargs), a=plain_tree(a), b=plain_tree(b), full_output=1)
    res = p.call(func)
    needs = watch.depends or requires_grad((fargs, a, b))
    if not needs or full:
        if not needs and not full and len(res) > 3:  # what SciPy would have warned
            warnings.warn(res[3], sys_integration_warning(), stacklevel=3)
        if not needs:
            return res if full else res[:2]
    if len(res) > 3:
        raise _failed("quad", res[3])
    if p["weight"] is not None or p["complex_func"]:
        raise solver_error("scipy.integrate.quad", "no gradient with weight= or complex_func=.")
    info = res[2]
    lo, hi = _scalar(a), _scalar(b)
    sign = 1.0
    if lo > hi:
        lo, hi, sign = hi, lo, -1.0
    n = info["last"]
    nodes, weights = _gauss(np.stack([info["alist"][:n], info["blist"][:n]], axis=1))

    def integrand(x: Any) -> Any:
        return f(x, *fargs)

    if np.isinf(lo) and np.isinf(hi):  # x = (1 - t)/t, f(x) + f(-x)
        x = (1 - nodes) / nodes
        probe = _probe_sum(lambda x: integrand(x) + integrand(-x), x, weights / nodes**2)
    elif np.isinf(hi):  # x = lo + (1 - t)/t
        probe = _probe_sum(integrand, lo + (1 - nodes) / nodes, weights / nodes**2)
    elif np.isinf(lo):  # x = hi - (1 - t)/t
        probe = _probe_sum(integrand, hi - (1 - nodes) / nodes, weights / nodes**2)
    else:
        probe = _probe_sum(integrand, nodes, weights)
    fa = const(evaluate(integrand, _scalar(a))) if requires_grad(a) else None
    fb = const(evaluate(integrand, _scalar(b))) if requires_grad(b) else None
    # a limit the function also holds (nquad's ranges) is one input, not two: its cotangent
    # would be counted twice
    limit_nodes = {x._node for x in (a, b) if isinstance(x, GradArray)}
    params = [x for x in held_arrays(f, fargs) if x._node not in limit_nodes]
    covered = depends_only_on(probe, [*params, a, b])

    def backward(g: Any) -> list[Any]:
        return [
            sign * g,
            None if fa is None else -g * fa,
            None if fb is None else g * fb,
            *(None for _ in params),
        ]

    def surrogate(a: Any, b: Any) -> Any:
        """The same quadrature rule as a function of the limits (nodes move with them)."""
        if np.isinf(lo) and np.isinf(hi):
            return sign * probe
        if np.isinf(lo) or np.isinf(hi):  # the nodes shift with the finite limit
            finite = a if (sign > 0) == np.isinf(hi) else b
            step = (1 - nodes) / nodes if np.isinf(hi) else -(1 - nodes) / nodes
            return sign * _probe_sum(integrand, [finite + c for c in step], weights / nodes**2)
        rel = (nodes - _scalar(a)) / (_scalar(b) - _scalar(a))  # x = a + (b - a) s
        w = weights / (hi - lo)
        return (b - a) * _probe_sum(integrand, [a + (b - a) * r for r in rel], w)

    def backward_create(g: Any, ans: Any, args: Any) -> list[Any]:
        if not covered:
            raise second_order_error("scipy.integrate.quad")
        limits = [x if requires_grad(x) else None for x in args[1:3]]
        targets = [x for x in limits if x is not None]
        cots = iter(pull_cotangents([surrogate(*args[1:3])], [g], [*targets, *params], create=True))
        return [None, *(None if x is None else next(cots) for x in limits), *cots]

    y = record("scipy.integrate.quad", res[0], [probe, a, b, *params], backward, backward_create)
    return (y, *res[1:]) if full else (y, res[1])


def sys_integration_warning() -> type[Warning]:
    import scipy.integrate  # only reached once SciPy's integrate is imported

    return scipy.integrate.IntegrationWarning  # type: ignore[no-any-return]


wrap_scipy(_MODULE, "quad", functools.partial(solver, name="quad", run=_quad))


def _quad_vec(func: Any, p: Params) -> Any:
    f, fargs, a, b, full = p["f"], tuple_args(p["args"]), p["a"], p["b"], p["full_output"]
    watch = Watch(f)
    p.update(f=watch, args=plain_tree(fargs), a=plain_tree(a), b=plain_tree(b), full_output=True)
    res = p.call(func)
    if not (watch.depends or requires_grad((fargs, a, b))):
        return res if full else res[:2]
    info = res[2]
    if not info.success:
        raise _failed("quad_vec", info.message)
    lo, hi = _scalar(a), _scalar(b)
    if np.isinf(lo) or np.isinf(hi) or p["quadrature"] not in (None, "gk21", "gk15"):
        raise solver_error(
            "scipy.integrate.quad_vec",
            "gradients only over finite ranges with the default (Gauss-Kronrod) quadrature.",
        )
    sign = 1.0 if lo <= hi else -1.0
    nodes, weights = _gauss(info.intervals)

    def integrand(x: Any) -> Any:
        return f(x, *fargs)

    probe = _probe_sum(integrand, nodes, weights)
    fa = const(evaluate(integrand, lo)) if requires_grad(a) else None
    fb = const(evaluate(integrand, hi)) if requires_grad(b) else None

    def backward(g: Any) -> list[Any]:
        return [
            sign * g,
            None if fa is None else -np.sum(g * fa),
            None if fb is None else np.sum(g * fb),
        ]

    y = record("scipy.integrate.quad_vec", res[0], [probe, a, b], backward)
    return (y, *res[1:]) if full else (y, res[1])


wrap_scipy(_MODULE, "quad_vec", functools.partial(solver, name="quad_vec", run=_quad_vec))


# --- ODEs ---------------------------------------------------------------------------------------

_GL5_NODES, _GL5_WEIGHTS = np.polynomial.legendre.leggauss(5)
# the parameter term is pulled back a few steps at a time: fewer reverse passes (each costs
# a graph walk), while the graph alive at once stays a few steps', not the trajectory's
_STEPS_PER_PULL = 8


def _breaks(steps: Any, times: Any, t0: float, t_last: float) -> np.ndarray:
    """The forward solver's steps and the output times, within ``[t0, t_last]``, in order."""
    lo, hi = min(t0, t_last), max(t0, t_last)
    points = np.concatenate([np.asarray(steps, dtype=float), np.asarray(times, dtype=float), [t0]])
    points = np.unique(points[(points >= lo) & (points <= hi)])
    return points if t_last >= t0 else points[::-1]


class _Steps:
    """What a checkpointed forward solve records: every step's time, the state every ``every``
    steps (and at ``t0``). :meth:`solver` is the user's solver class, observed, not changed."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.times: list[float] = []
        self.states: list[np.ndarray] = []

    def solver(self, method: Any) -> Any:
        """A subclass of ``method`` (a name of SciPy's or an ``OdeSolver`` class) whose steps are
        recorded here; ``method`` itself when SciPy would refuse it (SciPy raises then)."""
        ivp = sys.modules["scipy.integrate"]
        base = getattr(ivp, method, None) if isinstance(method, str) else method
        if not (isinstance(base, type) and issubclass(base, ivp.OdeSolver)):
            return method
        steps = self

        class Checkpointed(base):  # type: ignore[misc,valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                steps.times, steps.states = [float(self.t)], [np.array(self.y, dtype=float)]

            def step(self) -> Any:
                message = super().step()
                if self.status != "failed":
                    steps.times.append(float(self.t))
                    if (len(steps.times) - 1) % steps.every == 0:
                        steps.states.append(np.array(self.y, dtype=float))
                return message

        Checkpointed.__name__ = Checkpointed.__qualname__ = base.__name__
        return Checkpointed

    def trajectory(self, resolve: Callable[..., Any]) -> _Trajectory:
        """The forward solution as the adjoint reads it, re-solved stretch by stretch."""
        times = np.array(self.times)
        ends = np.arange(0, times.size - 1, self.every)
        bounds = np.append(times[ends], times[-1])
        first = np.abs(times[ends + 1] - times[ends])  # the step the solver took from each
        return _Trajectory(times, bounds, starts=self.states, first_steps=first, resolve=resolve)


class _Trajectory:
    """The forward states ``y(t)`` as the adjoint reads them, one segment at a time.

    Either SciPy's interpolant of every step (one segment, kept since the forward solve), or
    checkpoints: the segments between ``bounds`` (every ``K``-th step), each solved forward
    again from its first state by ``resolve(t_start, t_end, y_start, first_step)`` when the
    adjoint reaches it; only the latest segment's interpolant is kept.
    """

    def __init__(
        self,
        steps: np.ndarray,
        bounds: np.ndarray,
        interp: Any = None,
        starts: Any = None,
        first_steps: Any = None,
        resolve: Callable[..., Any] | None = None,
    ) -> None:
        self.steps, self.bounds, self.interp = steps, bounds, interp
        self.starts, self.first_steps, self.resolve = starts, first_steps, resolve
        self.direction = 1.0 if bounds[-1] >= bounds[0] else -1.0
        self._current: tuple[int, Any] | None = None

    @classmethod
    def dense(cls, interp: Any) -> _Trajectory:
        """SciPy's ``OdeSolution`` of the whole solve."""
        ts = np.asarray(interp.ts, dtype=float)
        return cls(ts, ts[[0, -1]], interp=interp)

    def segment_of(self, t: Any) -> Any:
        """The index of the segment holding each ``t`` (a boundary goes to the later one)."""
        ahead = self.direction * self.bounds
        right = np.searchsorted(ahead, self.direction * np.asarray(t), side="right")
        return np.clip(right - 1, 0, self.bounds.size - 2)

    def on(self, t_a: float, t_b: float) -> Any:
        """An interpolant of ``y`` valid between ``t_a`` and ``t_b``, which lie in one segment."""
        if self.interp is not None:
            return self.interp
        j = int(self.segment_of((t_a + t_b) / 2))
        if self._current is None or self._current[0] != j:
            self._current = None  # dropped before the next one is solved: one alive at a time
            assert self.resolve is not None
            start, end = self.bounds[j], self.bounds[j + 1]
            h = min(float(self.first_steps[j]), abs(end - start))
            self._current = (j, self.resolve(start, end, self.starts[j], h if h > 0 else None))
        return self._current[1]

    def drop(self) -> None:
        """Forget the segment solved last (the backward pass is over)."""
        self._current = None

    def states_at(self, times: Any) -> np.ndarray:
        """``y`` at ``times`` (columns), solving each segment that holds one once."""
        times = np.asarray(times, dtype=float)
        if self.interp is not None:
            return np.reshape(self.interp(times), (-1, times.size))
        owners = self.segment_of(times)
        out = np.empty((np.size(self.starts[0]), times.size))
        for j in np.unique(owners):
            mine = owners == j
            out[:, mine] = self.on(self.bounds[j], self.bounds[j + 1])(times[mine])
        self.drop()
        return out


class _Adjoint:
    """The backward pass of one ``solve_ivp`` call (see the module docstring)."""

    def __init__(
        self,
        original: Any,
        p: Params,
        sol: Any,
        fun: Any,
        fargs: Any,
        trajectory: _Trajectory | None,
        event_times: Any = (),
    ) -> None:
        self.original, self.trajectory = original, trajectory
        self.method = p["method"]
        self.options = {k: p[k] for k in ("rtol", "atol") if k in p}
        self.plain_args = constant_args(fargs)
        self.fun = fun
        self.t0, self.t1 = (float(t) for t in const(p["t_span"]))
        self.times, self.ys = const(sol.t), const(sol.y)
        self.event_times = np.asarray(event_times, dtype=float)

    def rhs(self, t: float, y: Any) -> np.ndarray:
        """``f(t, y)`` as plain values (captured arrays read, not recorded)."""
        with enable_grad():
            return const(self.fun(t, y, *self.plain_args))

    def vjp_y(self, t: float, y: Any, a: Any) -> np.ndarray:
        """``(∂f/∂y)^T a`` at ``(t, y)``: one reverse pass through the user's function."""
        return _partials(self.fun, t, y, self.plain_args, a, wrt_t=False)[1]

    def quadrature(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nodes, weights and the forward states there, for ``∫ a^T ∂f/∂θ dt``."""
        assert self.trajectory is not None
        nodes, weights = self.quadrature_nodes()
        return nodes, weights, self.trajectory.states_at(nodes)

    def quadrature_nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """5-point Gauss-Legendre nodes and weights on each forward step (split at the output
        and event times), for ``∫ a^T ∂f/∂θ dt``."""
        assert self.trajectory is not None
        stops = np.concatenate([self.times, self.event_times])
        ahead = (stops - self.t0) * (1.0 if self.t1 >= self.t0 else -1.0)
        t_last = stops[np.argmax(ahead)] if stops.size else self.t1
        # the adjoint jumps at event times: no Gauss rule may straddle one
        breaks = _breaks(self.trajectory.steps, stops, self.t0, t_last)
        lo, hi = breaks[:-1, None], breaks[1:, None]
        nodes = ((lo + hi) / 2 + (hi - lo) / 2 * _GL5_NODES).ravel()
        weights = ((hi - lo) / 2 * _GL5_WEIGHTS).ravel()
        return nodes, weights

    def output_jumps(self, g: Any) -> list[tuple[float, np.ndarray]]:
        """``(t_j, g_j)`` for the output columns that receive a cotangent (``y[:, -1]`` of a
        solve without ``t_eval`` has one among hundreds of steps: only those stop the adjoint)."""
        g = np.reshape(g, self.ys.shape)
        return [(self.times[j], g[:, j]) for j in range(self.times.size) if np.any(g[:, j] != 0)]

    def output_times(self, g: Any) -> np.ndarray:
        """The cotangents of the output times: ``g_j^T f(t_j, y_j)``."""
        g = np.reshape(g, self.ys.shape)
        dt_out = np.zeros(self.times.size)
        for j in range(self.times.size):
            if np.any(g[:, j] != 0):
                dt_out[j] = g[:, j] @ self.rhs(self.times[j], self.ys[:, j])
        return dt_out

    def backward(
        self,
        jumps: list[tuple[float, np.ndarray]],
        nodes: Any,
        weights: Any,
        params: list[GradArray] | None = None,
        fargs: Any = (),
    ) -> dict[str, Any]:
        """Solve the adjoint backward, jumping by ``v`` at each ``(t, v)`` of ``jumps``.

        Returns the cotangents of the node's first inputs (``heads``), ``a(t0)`` (that of
        ``y0``) and that of ``t0``. Without ``params``, the heads are the probes' cotangents
        ``w_k a(τ_k)``. With ``params`` (the arrays ``fun`` holds), the heads are
        ``Σ_k w_k a(τ_k)^T ∂f/∂θ``, summed piece by piece as the adjoint solve passes the nodes
        (:func:`_parameter_term`): the graph of ``fun`` at a few steps is alive at a time.

        The adjoint is solved piece by piece between the jump times and the trajectory's
        segment bounds (checkpoints), so that each piece reads one segment of the forward
        solution; across a bound without a jump it goes on with the step size it had.
        """
        assert self.trajectory is not None
        trajectory = self.trajectory
        forward = 1.0 if self.t1 >= self.t0 else -1.0
        n = self.ys.shape[0]
        at: dict[float, np.ndarray] = {}
        for t, v in jumps:
            at[t] = at.get(t, 0.0) + v
        if not at:
            return self._result(np.zeros(n), params, [None] * len(params or ()), nodes, weights)
        t_first_jump = max(at, key=lambda t: forward * (t - self.t0))
        bounds = trajectory.bounds
        inner = bounds[(forward * (bounds - self.t0) > 0) & (forward * (bounds - t_first_jump) < 0)]
        stops = np.unique(np.concatenate([[self.t0], list(at), inner]))
        stops = stops if forward > 0 else stops[::-1]  # in forward order
        total: list[Any] = [None] * len(params or ())
        adjoint_at_nodes = None if params is not None else np.zeros((np.size(nodes), n))
        pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        per_pull = _STEPS_PER_PULL * _GL5_NODES.size
        a, step = np.zeros(n), None
        for i in range(stops.size - 1, 0, -1):
            t_hi, t_lo = float(stops[i]), float(stops[i - 1])
            if t_hi in at:
                a, step = a + at[t_hi], None  # a jump: the step size starts afresh
            if not np.any(a):  # the adjoint equation is linear: zero stays zero
                continue
            y = trajectory.on(t_lo, t_hi)
            first = None if step is None else min(step, abs(t_hi - t_lo))
            # SciPy's solver is garbage in a reference cycle after the solve (its closures),
            # freed whenever the cycle collector runs: it must not keep the segment's
            # interpolants alive until then, so it reads them through a holder emptied below
            segment = [y]
            with np.errstate(all="ignore"):
                back = self.original(
                    lambda t, a, segment=segment: -self.vjp_y(t, segment[0](t), a),
                    (t_hi, t_lo),
                    a,
                    method=self.method,
                    dense_output=True,
                    first_step=first,
                    **self.options,
                )
            segment.clear()
            if not back.success:
                raise _failed("solve_ivp", f"the adjoint system backward: {back.message}")
            a = back.y[:, -1]
            # the last step was cut to end on t_lo: the one before is the solver's own choice
            step = float(np.max(np.abs(np.diff(back.t[-3:])))) if back.t.size > 1 else None
            inside = np.flatnonzero((nodes > min(t_lo, t_hi)) & (nodes < max(t_lo, t_hi)))
            if adjoint_at_nodes is not None:
                if inside.size:
                    adjoint_at_nodes[inside] = back.sol(nodes[inside]).T
                continue
            # pulled back per_pull nodes at a time at most, across short pieces too
            for chunk in np.array_split(inside, max(1, -(-inside.size // per_pull))):
                if not chunk.size:
                    continue
                if sum(p[0].size for p in pending) + chunk.size > per_pull:
                    total = self._pull(pending, total, params, fargs)
                w = weights[chunk, None] * back.sol(nodes[chunk]).T
                states = np.reshape(y(nodes[chunk]), (-1, chunk.size))
                pending.append((nodes[chunk], states, w))
        trajectory.drop()
        if pending:
            total = self._pull(pending, total, params, fargs)
        a = a + at.get(self.t0, 0.0)
        return self._result(a, params, total, nodes, weights, adjoint_at_nodes)

    def _pull(self, pending: list[Any], total: list[Any], params: Any, fargs: Any) -> list[Any]:
        """``total`` plus the parameter term of the ``pending`` nodes, which are emptied."""
        times = np.concatenate([p[0] for p in pending])
        states = np.concatenate([p[1] for p in pending], axis=1)
        w = np.concatenate([p[2] for p in pending])
        pending.clear()
        part = _parameter_term(self.fun, times, states, w, params, fargs)
        return [_add(x, y) for x, y in zip(total, part, strict=True)]

    def _result(
        self,
        a: np.ndarray,
        params: Any,
        total: list[Any],
        nodes: Any,
        weights: Any,
        adjoint_at_nodes: Any = None,
    ) -> dict[str, Any]:
        if params is not None:
            heads = [
                np.zeros(p.shape) if c is None else c for c, p in zip(total, params, strict=True)
            ]
        else:
            if adjoint_at_nodes is None:
                adjoint_at_nodes = np.zeros((np.size(nodes), np.size(a)))
            heads = [weights[:, None] * adjoint_at_nodes]
        return {
            "heads": heads,
            "y0": a,
            "t0": -(a @ self.rhs(self.t0, self._y0)),
        }


def _add(x: Any, y: Any) -> Any:
    """The sum of two cotangents, ``None`` standing for zero."""
    return y if x is None else x if y is None else x + y


def _parameter_term(
    fun: Any, times: Any, states: Any, w: Any, params: list[GradArray], fargs: Any
) -> list[Any]:
    """``Σ_k w_k^T ∂f/∂θ (τ_k, y(τ_k))`` for the arrays ``θ`` that ``fun`` holds: ``fun``
    recorded at the nodes ``τ_k`` of a few steps (``states`` the columns ``y(τ_k)``), pulled
    back to ``θ``, its graph dropped."""
    out = evaluate(
        lambda: np.stack(
            [_as_array(fun(t, y, *fargs)) for t, y in zip(times, states.T, strict=True)]
        )
    )
    if not requires_grad(out):
        return [None] * len(params)
    if not depends_only_on(out, params):
        raise solver_error(
            "scipy.integrate.solve_ivp",
            "the right-hand side now reads an array that requires grad it did not hold when "
            "the ODE was solved (a captured variable was rebound between the solve and "
            "backward()), so its gradient would go to the wrong array. Call backward() before "
            "rebinding it, or pass the parameters through args=.",
        )
    with enable_grad():
        cots = pull_cotangents(
            [out], [np.reshape(w, np.shape(out))], params, create=False, retain=False
        )
    return [None if c is None else const(c) for c in cots]


def _partials(
    fun: Any, t: float, y: Any, plain_args: Any, w: Any, wrt_t: bool
) -> tuple[float, np.ndarray]:
    """``w^T ∂fun/∂t`` (if ``wrt_t``, else 0) and ``(∂fun/∂y)^T w`` at ``(t, y)``: one reverse
    pass of ``fun``."""
    with enable_grad(), tracing():
        t_leaf = GradArray(np.array(t, dtype=float), requires_grad=True) if wrt_t else t
        y_leaf = GradArray(np.array(y, dtype=float), requires_grad=True)
        out = _as_array(fun(t_leaf, y_leaf, *plain_args))  # a list, as SciPy allows
    if not requires_grad(out):
        return 0.0, np.zeros(np.shape(y))
    leaves = [t_leaf, y_leaf] if wrt_t else [y_leaf]
    # retain: the graph reaches nodes of the caller's (a captured theta[0]), not to be freed
    cots = pull_cotangents([out], [np.reshape(w, np.shape(out))], leaves, create=False)
    ct, cy = cots if wrt_t else (None, cots[0])
    return (
        0.0 if ct is None else float(const(ct)),
        np.zeros(np.shape(y)) if cy is None else const(cy),
    )


class _Forward:
    """Forward sensitivities: ``S = ∂y/∂(θ, y0)`` solved alongside the ODE.

    ``θ`` are the GradArrays that the right-hand side holds (closure, defaults, ``args=``),
    found by :func:`held_arrays` and checked to be all it depends on. ``S`` solves
    ``dS/dt = (∂f/∂y) S + [∂f/∂θ, 0]`` from ``S(t0) = [0, I]``, with the forward solve's
    ``method``, ``rtol`` and ``atol``, in one augmented solve of ``n (1 + P + n)`` equations
    (``P`` parameter entries), each right-hand side costing ``n`` reverse passes of ``fun``.
    The backward pass is then a sum of ``v^T S(t)`` over the cotangents: no backward solve.
    """

    def __init__(self, adjoint: _Adjoint, fun: Any, fargs: Any) -> None:
        self.params = held_arrays(fun, fargs)
        self.fun, self.fargs, self.adjoint = fun, fargs, adjoint
        n = self.n = adjoint.ys.shape[0]
        self._check_covered()
        self.sizes = [p.size for p in self.params]
        n_p = self.n_p = sum(self.sizes)
        stops = np.concatenate([adjoint.times, adjoint.event_times])
        ahead = (stops - adjoint.t0) * (1.0 if adjoint.t1 >= adjoint.t0 else -1.0)
        t_last = stops[np.argmax(ahead)] if stops.size else adjoint.t1
        s0 = np.zeros((n, n_p + n))
        s0[:, n_p:] = np.eye(n)

        def augmented(t: float, z: Any) -> np.ndarray:
            f, jac = self.jacobians(t, z[:n])
            ds = jac[:, n_p:] @ np.reshape(z[n:], (n, n_p + n))
            ds[:, :n_p] += jac[:, :n_p]
            return np.concatenate([f, np.ravel(ds)])

        with solver_scope(), np.errstate(all="ignore"):
            sol = adjoint.original(
                augmented,
                (adjoint.t0, t_last),
                np.concatenate([adjoint._y0, np.ravel(s0)]),
                method=adjoint.method,
                dense_output=True,
                **adjoint.options,
            )
        if not sol.success:
            raise _failed("solve_ivp", f"the forward sensitivity equations: {sol.message}")
        self.sol = sol.sol

    def _check_covered(self) -> None:
        """Raise if ``fun`` depends on an array that requires grad it does not hold."""
        out = _as_array(evaluate(self.fun, self.adjoint.t0, self.adjoint._y0, *self.fargs))
        if not depends_only_on(out, self.params):
            raise solver_error(
                "scipy.integrate.solve_ivp",
                "forward sensitivities need every array that requires grad the right-hand side "
                "uses in its closure, defaults, args= or the globals it names; it reads one from "
                "elsewhere (a module attribute, such as mod.x). Pass it through args= or a "
                "closure, or use the adjoint (the default, outside nd.ode_gradient('forward')).",
            )

    def jacobians(self, t: float, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """``f(t, y)`` and ``[∂f/∂θ, ∂f/∂y]`` as plain arrays: ``n`` reverse passes."""
        with enable_grad(), tracing():
            y_leaf = GradArray(np.array(y, dtype=float), requires_grad=True)
            out = _as_array(self.fun(t, y_leaf, *self.fargs))
        n = self.n
        jac = np.zeros((n, self.n_p + n))
        if requires_grad(out):
            for i in range(n):
                unit = np.reshape(np.eye(n)[i], np.shape(out))
                cots = pull_cotangents([out], [unit], [*self.params, y_leaf], create=False)
                jac[i] = np.concatenate(
                    [np.zeros(np.size(x)) if c is None else np.ravel(const(c)) for c, x in
                     zip(cots, [*self.params, y_leaf], strict=True)]
                )  # fmt: skip
        return np.ravel(const(out)), jac

    def backward(self, jumps: list[tuple[float, np.ndarray]]) -> dict[str, Any]:
        """The parameters' (``heads``), ``y0``'s and ``t0``'s cotangents: ``Σ v^T S(t)``."""
        cot = np.zeros(self.n_p + self.n)
        for t, v in jumps:
            cot += v @ np.reshape(self.sol(t)[self.n :], (self.n, self.n_p + self.n))
        ends = np.cumsum([0, *self.sizes])
        a0 = cot[self.n_p :]
        return {
            "heads": [cot[lo:hi] for lo, hi in itertools.pairwise(ends)],
            "y0": a0,
            "t0": -(a0 @ self.adjoint.rhs(self.adjoint.t0, self.adjoint._y0)),
        }


def _gradient_method(method: str, adjoint: _Adjoint, closure: bool, fun: Any, fargs: Any) -> Any:
    """The node's first inputs (``heads``) and the backward map from the adjoint's jumps, by the
    ``method`` :func:`ndgrad.ode_gradient` chose: the adjoint (probes) or forward sensitivities."""
    if method == "forward":
        forward = _Forward(adjoint, fun, fargs)
        return forward.params, forward.backward
    params = _parameters(adjoint, closure, fun, fargs)
    if params is not None:  # the parameter term is summed during the backward pass
        # the nodes are made then too: 5 per step, not kept from the solve to the backward pass
        return params, lambda jumps: adjoint.backward(
            jumps, *adjoint.quadrature_nodes(), params, fargs
        )
    nodes, weights, probes = _quadrature_probes(adjoint, closure, fun, fargs)
    return [probes], lambda jumps: adjoint.backward(jumps, nodes, weights)


def _parameters(adjoint: _Adjoint, closure: bool, fun: Any, fargs: Any) -> Any:
    """The arrays that require grad ``fun`` holds (closure, defaults, ``args=``), if they are
    all it depends on; else ``None`` (it reads one from elsewhere, a module attribute: then
    the graph of ``fun`` at every node is recorded now, the probes)."""
    if not closure:
        return None
    params = held_arrays(fun, fargs)
    out = _as_array(evaluate(fun, adjoint.t0, adjoint._y0, *fargs))
    return params if params and depends_only_on(out, params) else None


def _as_array(x: Any) -> Any:
    """A list or tuple holding GradArrays as one recorded array (so that it can be an input,
    or a right-hand side's value: SciPy takes ``[-k * y[0], k * y[0]]``)."""
    if type(x) in (list, tuple) and requires_grad(x):
        return evaluate(as_array, x)  # nested lists too, as SciPy reads them
    return x


def _quadrature_probes(adjoint: Any, closure: bool, rhs: Any, fargs: Any) -> Any:
    """The adjoint's quadrature nodes and weights, and, when the right-hand side closes over
    arrays that require grad, its values there recorded (the probes the parameters' cotangents
    flow through)."""
    if not closure:
        return (*adjoint.quadrature_nodes(), None)
    nodes, weights, states = adjoint.quadrature()

    def stacked() -> Any:
        return np.stack(
            [_as_array(rhs(t, y, *fargs)) for t, y in zip(nodes, states.T, strict=True)]
        )

    return nodes, weights, evaluate(stacked)


class _Events:
    """The event times of one ``solve_ivp`` call as functions of the parameters.

    At an occurrence ``g(t*, y(t*), θ) = 0`` of event ``g``, the implicit function theorem gives
    ``dt* = -(∂g/∂θ dθ + ∇_y g · δy(t*)) / D`` with ``D = ∂g/∂t + ∇_y g · f(t*, y*)`` (``δy(t*)``
    the change of the solution at the fixed time ``t*``), and ``y_events`` moves by
    ``δy(t*) + f* dt*``. So cotangents ``(γ, η)`` of ``(t*, y*)`` become, with
    ``s = (γ + η · f*) / D``, a jump ``η - s ∇_y g`` of the adjoint at ``t*`` and the cotangent
    ``-s`` of a probe ``g(t*, y*, θ)`` (which carries ``∂g/∂θ``).
    """

    def __init__(self, events: list[Any], sol: Any, adjoint: _Adjoint, fargs: Any) -> None:
        n = adjoint.ys.shape[0]
        self.times, self.states, self.gradients, self.slopes = [], [], [], []
        self.rhs_values = []
        for i, event in enumerate(events):
            for t, y in zip(sol.t_events[i], np.reshape(sol.y_events[i], (-1, n)), strict=True):
                f = adjoint.rhs(t, y)
                g_t, g_y = _partials(event, t, y, adjoint.plain_args, 1.0, wrt_t=True)
                slope = g_t + g_y @ f
                if not np.isfinite(slope) or abs(slope) <= 1e-12 * (
                    abs(g_t) + np.abs(g_y) @ np.abs(f)
                ):
                    raise solver_error(
                        "scipy.integrate.solve_ivp",
                        f"event {i} touches zero without crossing at t = {t:.6g} (d/dt of the "
                        "event along the solution is 0), so its time is not a differentiable "
                        "function of the parameters there. Use an event that crosses zero.",
                    )
                self.times.append(t)
                self.states.append(y)
                self.gradients.append(g_y)
                self.slopes.append(slope)
                self.rhs_values.append(f)
        self.owners = [i for i, e in enumerate(events) for _ in range(np.size(sol.t_events[i]))]
        self.events = events

    def probes(self, fargs: Any) -> Any:
        """``g(t*, y*, θ)`` per occurrence with the graph to ``θ`` (constants ``t*``, ``y*``)."""
        if not self.times:
            return None
        pairs = list(zip(self.owners, self.times, self.states, strict=True))
        return evaluate(
            lambda: np.stack([np.reshape(self.events[i](t, y, *fargs), ()) for i, t, y in pairs])
        )

    def backward(self, g_t: Any, g_y: Any) -> tuple[list[tuple[float, np.ndarray]], np.ndarray]:
        """The adjoint's jumps and the probes' cotangents for cotangents of ``(t*, y*)``."""
        jumps, probe_cots = [], np.zeros(len(self.times))
        for k, t in enumerate(self.times):
            s = (g_t[k] + g_y[k] @ self.rhs_values[k]) / self.slopes[k]
            if s != 0 or np.any(g_y[k] != 0):
                jumps.append((t, g_y[k] - s * self.gradients[k]))
                probe_cots[k] = -s
        return jumps, probe_cots


def _plan(dense: bool, method: str) -> Any:
    """What the forward solve keeps for the gradient: ``"dense"`` (SciPy's interpolant of
    every step), a :class:`_Steps` recorder (checkpoints) or ``None`` (forward sensitivities)."""
    if method == "forward":
        return "dense" if dense else None
    checkpoints = ode_gradient_checkpoints()
    return "dense" if dense or checkpoints == "all" else _Steps(int(checkpoints))


def _run(func: Any, p: Params, plan: Any) -> Any:
    """SciPy's solve with what ``plan`` keeps (the user's own ``method`` left in ``p``)."""
    method, dense = p["method"], p["dense_output"]
    if plan == "dense":
        p["dense_output"] = True
    elif isinstance(plan, _Steps):
        p["method"] = plan.solver(method)
    try:
        return p.call(func)
    finally:
        p["method"], p["dense_output"] = method, dense


def _resolver(func: Any, p: Params) -> Callable[..., Any]:
    """``resolve(t_start, t_end, y_start, first_step)``: SciPy's dense solve of one segment,
    with the call's function, method and options (no events, no ``t_eval``)."""
    options = {k: v for k, v in p.items() if k not in ("events", "t_eval", "first_step")}

    def resolve(t_start: float, t_end: float, y_start: Any, first_step: Any) -> Any:
        call = dict(options, t_span=(t_start, t_end), y0=y_start, dense_output=True)
        with solver_scope(traced=False):
            sol = func(**call, first_step=first_step)
        if not sol.success:
            raise _failed("solve_ivp", f"solving a segment between checkpoints: {sol.message}")
        return sol.sol

    return resolve


def _solve_ivp(func: Any, p: Params) -> Any:
    fun, t_span, y0, t_eval = p["fun"], p["t_span"], _as_array(p["y0"]), _as_array(p["t_eval"])
    fargs = tuple_args(p["args"])
    dense = p["dense_output"]
    watch = Watch(fun)
    events = p["events"]
    events = [] if events is None else [events] if callable(events) else list(events)
    event_watches = [Watch(e) for e in events]
    p.update(fun=watch, t_span=plain_tree(t_span), y0=plain_tree(y0), t_eval=plain_tree(t_eval))
    # the adjoint reads y between steps: dense output or checkpoints, unless nothing can need
    # a gradient
    may_need = requires_grad((fargs, t_span, y0, t_eval)) or held_arrays(fun, events)
    p.update(args=None if p["args"] is None else plain_tree(fargs))
    gradient = ode_gradient_method()
    plan = _plan(dense, gradient)
    if p["events"] is not None:
        p["events"] = event_watches[0] if callable(p["events"]) else event_watches
    if "jac" in p:
        p["jac"] = watched(p["jac"])
    sol = _run(func, p, plan) if may_need else p.call(func)
    closure = watch.depends or requires_grad(fargs)
    event_closure = any(w.depends for w in event_watches) or requires_grad(fargs)
    if not (closure or event_closure or requires_grad((t_span, y0, t_eval))):
        if not dense:  # made for a gradient that is not needed after all
            sol.sol = None
        return sol
    if not may_need and plan is not None:  # a dependence held_arrays did not see: again
        sol = _run(func, p, plan)
    if not sol.success:
        raise _failed("solve_ivp", sol.message)
    if np.iscomplexobj(sol.y):
        raise solver_error("scipy.integrate.solve_ivp", "no gradient for complex y0 yet.")
    event_times = np.concatenate([np.ravel(te) for te in sol.t_events]) if events else []
    if isinstance(plan, _Steps):
        trajectory: _Trajectory | None = plan.trajectory(_resolver(func, p))
    else:
        trajectory = None if plan is None else _Trajectory.dense(sol.sol)
    adjoint = _Adjoint(func, p, sol, fun, fargs, trajectory, event_times)
    adjoint._y0 = const(p["y0"])
    heads, pull_back = _gradient_method(gradient, adjoint, closure, fun, fargs)
    held = held_versions("the right-hand side (or an event function)", fun, fargs, events)
    occurrences = _Events(events, sol, adjoint, fargs)
    event_probes = occurrences.probes(fargs) if event_closure else None
    t0_in, t1_in = t_span[0], t_span[1]
    last_is_t1 = t_eval is None
    n, n_y, m = adjoint.ys.shape[0], adjoint.ys.size, len(occurrences.times)
    # A terminal event ended the solve: the end is t*, not t_span[1]; without t_eval the last
    # column is y(t*), whose time's cotangent goes to that occurrence.
    terminal = None
    if sol.status == 1:
        ahead = (np.asarray(event_times) - adjoint.t0) * (1.0 if adjoint.t1 >= adjoint.t0 else -1.0)
        terminal = int(np.argmax(ahead))

    def backward(g: Any) -> list[Any]:
        g = np.ravel(g)
        g_y, g_te, g_ye = g[:n_y], np.array(g[n_y : n_y + m]), np.reshape(g[n_y + m :], (m, n))
        dt_out = adjoint.output_times(g_y)
        if terminal is not None and last_is_t1:
            g_te[terminal] += dt_out[-1]
        jumps, event_cots = occurrences.backward(g_te, g_ye)
        with solver_scope():  # one scope for the many reverse passes of the adjoint solve
            c = pull_back(adjoint.output_jumps(g_y) + jumps)
        return [
            *c["heads"],
            c["y0"],
            c["t0"],
            dt_out[-1] if last_is_t1 and terminal is None else None,
            None if t_eval is None else dt_out,
            event_cots,
        ]

    inputs = [*heads, y0, t0_in, t1_in, t_eval, event_probes]
    name = "scipy.integrate.solve_ivp"
    if not events:
        sol.y = record(name, sol.y, inputs, backward, held=held)
    else:  # one node for y, t_events and y_events: their cotangents meet in one adjoint solve
        flat = np.concatenate(
            [np.ravel(sol.y), event_times, *(np.ravel(ye) for ye in sol.y_events)]
        )
        out = record(name, flat, inputs, backward, held=held)
        sol.y = np.reshape(out[:n_y], sol.y.shape)
        sizes = np.cumsum([0, *(np.size(te) for te in sol.t_events)])
        sol.t_events = [out[n_y + lo : n_y + hi] for lo, hi in itertools.pairwise(sizes)]
        start = n_y + m
        sol.y_events = [
            np.reshape(out[start + n * lo : start + n * hi], np.shape(ye))
            for lo, hi, ye in zip(sizes[:-1], sizes[1:], sol.y_events, strict=True)
        ]
        if terminal is not None and last_is_t1:  # the end time is t*: a function of θ
            sol.t = np.concatenate([sol.t[:-1], out[n_y + terminal : n_y + terminal + 1]])
    if requires_grad(t_eval):  # sol.t is the t_eval values reached
        sol.t = t_eval[: np.size(sol.t)]
    if not dense:
        sol.sol = None
    return sol


wrap_scipy(_MODULE, "solve_ivp", functools.partial(solver, name="solve_ivp", run=_solve_ivp))


def _odeint(func: Any, p: Params) -> Any:
    f, y0, t, tfirst = p["func"], _as_array(p["y0"]), _as_array(p["t"]), p["tfirst"]
    fargs, full = tuple_args(p["args"]), p["full_output"]
    watch = Watch(f)
    p.update(func=watch, y0=plain_tree(y0), t=plain_tree(t), args=plain_tree(fargs))
    p.update(Dfun=watched(p["Dfun"]), full_output=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ys, info = p.call(func)
    for w in caught:  # what SciPy (or the function) said, as it said it
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    closure = watch.depends or requires_grad(fargs)
    if not (closure or requires_grad((y0, t))):
        return (ys, info) if full else ys
    if info["message"] != "Integration successful.":
        raise _failed("odeint", info["message"])
    if p["tcrit"] is not None:
        raise solver_error("scipy.integrate.odeint", "no gradient with tcrit= yet.")

    def rhs(t: Any, y: Any, *args: Any) -> Any:
        return f(t, y, *args) if tfirst else f(y, t, *args)

    times = const(t)
    rtol = 1.49012e-8 if p["rtol"] is None else p["rtol"]
    atol = 1.49012e-8 if p["atol"] is None else p["atol"]
    tol = {"rtol": np.min(rtol), "atol": atol}
    solve_ivp = sys.modules["scipy.integrate"].solve_ivp
    plain_args = constant_args(fargs)

    def plain_rhs(t: Any, y: Any) -> Any:
        with no_grad():
            return const(rhs(t, y, *plain_args))

    def lsoda(t_span: Any, y0: Any, **kwargs: Any) -> Any:
        with solver_scope(), no_grad():
            return solve_ivp(plain_rhs, t_span, y0, **tol, **kwargs)

    def resolve(t_start: float, t_end: float, y_start: Any, first_step: Any) -> Any:
        sol = lsoda((t_start, t_end), y_start, method="LSODA", dense_output=True,
                    first_step=first_step)  # fmt: skip
        if not sol.success:
            raise _failed("odeint", f"solving a segment between checkpoints: {sol.message}")
        return sol.sol

    # odeint has no dense output: the same LSODA, through solve_ivp, gives y between the outputs
    # (its interpolant, or checkpoints to solve again from)
    gradient = ode_gradient_method()
    plan = _plan(False, gradient)
    steps = plan if isinstance(plan, _Steps) else None
    method = "LSODA" if steps is None else steps.solver("LSODA")
    dense = lsoda((times[0], times[-1]), ys[0], method=method, t_eval=times,
                  dense_output=plan == "dense")  # fmt: skip
    if not dense.success:
        raise _failed("odeint", f"the LSODA solve for the adjoint: {dense.message}")
    params = {"method": "LSODA", "t_span": (times[0], times[-1]), **tol}
    if steps is not None:
        trajectory: _Trajectory | None = steps.trajectory(resolve)
    else:
        trajectory = None if plan is None else _Trajectory.dense(dense.sol)
    adjoint = _Adjoint(solve_ivp, params, dense, rhs, fargs, trajectory)
    adjoint._y0 = const(ys[0])
    heads, pull_back = _gradient_method(gradient, adjoint, closure, rhs, fargs)
    held = held_versions("the right-hand side", f, fargs)

    def backward(g: Any) -> list[Any]:
        with solver_scope():
            c = pull_back(adjoint.output_jumps(np.transpose(g)))
        dt = adjoint.output_times(np.transpose(g))
        dt[0] = dt[0] + c["t0"]
        return [*c["heads"], c["y0"], dt]

    out = record("scipy.integrate.odeint", ys, [*heads, y0, t], backward, held=held)
    return (out, info) if full else out


wrap_scipy(_MODULE, "odeint", functools.partial(solver, name="odeint", run=_odeint))
