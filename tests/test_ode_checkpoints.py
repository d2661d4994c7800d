"""The checkpointed adjoint of solve_ivp and odeint: ``nd.ode_gradient(checkpoints=...)``.

Every gradient is checked against a closed form or finite differences of the same SciPy call,
for a few checkpoint settings: 1 and 3 steps per segment (many re-solved segments), the default,
and "all" (SciPy's interpolant of every step, no re-solve).
"""

from __future__ import annotations

import contextlib
import gc
import tracemalloc
import weakref

import numpy as np
import pytest
import scipy.integrate as si
from scipy.integrate import DenseOutput

import ndgrad as nd
from ndgrad import GradArray, InPlaceError

from ._helpers import fd_jacobian

_TOL = {"rtol": 1e-10, "atol": 1e-12}
SETTINGS = [1, 3, None, "all"]  # None: the default


def _setting(checkpoints):
    if checkpoints is None:
        return contextlib.nullcontext()
    return nd.ode_gradient(checkpoints=checkpoints)


# --- closed forms -------------------------------------------------------------------------------


@pytest.mark.parametrize("checkpoints", SETTINGS)
@pytest.mark.parametrize("method", ["RK45", "DOP853", "Radau", "BDF", "LSODA"])
def test_exponential_decay_in_y0_args_closure_and_t_span_end(checkpoints, method):
    def y_end(k, c, y0, t1):  # y' = -k c y: k through args=, c through a closure
        sol = si.solve_ivp(
            lambda t, y, k: -k * c * y, (0.0, t1), y0, method=method, args=(k,), **_TOL
        )
        return sol.y[:, -1]

    k, c, t1, y0 = 0.7, 1.3, 4.0, np.array([1.5, -0.5])
    with _setting(checkpoints):
        jk, jc, jy0, jt1 = nd.jacobian(y_end, argnums=(0, 1, 2, 3))(k, c, y0, t1)
    decay = np.exp(-k * c * t1)
    rtol = 1e-8 if method in ("RK45", "DOP853", "Radau") else 1e-6
    np.testing.assert_allclose(jk, -c * t1 * y0 * decay, rtol=rtol)
    np.testing.assert_allclose(jc, -k * t1 * y0 * decay, rtol=rtol)
    np.testing.assert_allclose(jy0, decay * np.eye(2), rtol=rtol, atol=1e-14)
    np.testing.assert_allclose(jt1, -k * c * y0 * decay, rtol=rtol)


@pytest.mark.parametrize("checkpoints", SETTINGS)
def test_exponential_decay_t_eval_values_and_start_time(checkpoints):
    def y(k, t_eval, t0):
        sol = si.solve_ivp(lambda t, y: -k * y, (t0, 6.0), np.ones(1), t_eval=t_eval, **_TOL)
        return sol.y[0]

    k, te, t0 = 0.7, np.array([0.5, 1.0, 2.5, 5.5]), 0.1
    with _setting(checkpoints):
        jk, jte, jt0 = nd.jacobian(y, argnums=(0, 1, 2))(k, te, t0)
    values = np.exp(-k * (te - t0))
    np.testing.assert_allclose(jk, -(te - t0) * values, rtol=1e-8)
    np.testing.assert_allclose(jte, np.diag(-k * values), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(jt0, k * values, rtol=1e-8)


@pytest.mark.parametrize("checkpoints", SETTINGS)
@pytest.mark.parametrize(("method", "rtol"), [("RK45", 1e-9), ("Radau", 1e-8), ("LSODA", 1e-8)])
def test_harmonic_oscillator_closed_form(checkpoints, method, rtol):
    # x'' = -w^2 x, x(0) = x0, x'(0) = v0: x(T) = x0 cos wT + v0/w sin wT
    def state(w, y0):
        rhs = lambda t, y: np.stack([y[1], -(w**2) * y[0]])
        return si.solve_ivp(rhs, (0.0, 9.0), y0, method=method, rtol=rtol, atol=rtol / 100).y[:, -1]

    w, t, (x0, v0) = 1.3, 9.0, (1.0, 0.5)
    with _setting(checkpoints):
        jw, jy0 = nd.jacobian(state, argnums=(0, 1))(w, np.array([x0, v0]))
    c, s = np.cos(w * t), np.sin(w * t)
    dx_dw = -x0 * t * s - v0 / w**2 * s + v0 * t / w * c
    dv_dw = -x0 * s - x0 * w * t * c - v0 * t * s  # v = -x0 w sin wT + v0 cos wT
    np.testing.assert_allclose(jw, [dx_dw, dv_dw], rtol=1000 * rtol)
    np.testing.assert_allclose(jy0, [[c, s / w], [-w * s, c]], rtol=1000 * rtol, atol=1e-6)


@pytest.mark.parametrize("checkpoints", SETTINGS)
def test_backward_in_time(checkpoints):
    def y_end(k):
        return si.solve_ivp(lambda t, y: -k * y, (4.0, 0.0), np.ones(1), **_TOL).y[0, -1]

    with _setting(checkpoints):
        g = nd.grad(y_end)(0.7)
    assert g == pytest.approx(4.0 * np.exp(0.7 * 4.0), rel=1e-8)


@pytest.mark.parametrize("checkpoints", SETTINGS)
def test_events_time_and_terminal_end_closed_form(checkpoints):
    # y' = -k y from y0: y = 0.5 at t* = log(2 y0) / k (terminal), and y = 0.8 y0 before
    def times(k, y0):
        sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 10.0), y0, events=[half, fifth], **_TOL)
        return np.concatenate([sol.t_events[0], sol.t_events[1], sol.y[:, -1], sol.t[-1:]])

    def half(t, y):
        return y[0] - 0.5

    half.terminal = True

    def fifth(t, y):
        return y[0] - 0.8

    k, y0 = 0.4, np.array([1.0])
    with _setting(checkpoints):
        jk, jy0 = nd.jacobian(times, argnums=(0, 1))(k, y0)
    t_half, t_fifth = np.log(2.0) / k, np.log(1.25) / k
    np.testing.assert_allclose(jk, [-t_half / k, -t_fifth / k, 0.0, -t_half / k], atol=1e-7)
    np.testing.assert_allclose(jy0[:, 0], [1 / k, 1 / k, 0.0, 1 / k], rtol=1e-7, atol=1e-9)


# --- finite differences of the same SciPy call ----------------------------------------------------


def _lotka_volterra(a, b, c, d):
    def rhs(t, y):
        return np.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])

    return rhs


@pytest.mark.parametrize(
    ("method", "checkpoints"), [*(("RK45", c) for c in SETTINGS), ("LSODA", 3)]
)
def test_lotka_volterra_closure_t_eval_and_y0_match_fd(method, checkpoints):
    def trajectory(theta, y0, t_eval):
        rhs = _lotka_volterra(theta[0], theta[1], theta[2], theta[3])
        sol = si.solve_ivp(
            rhs, (0.0, 12.0), y0, t_eval=t_eval, method=method, rtol=1e-9, atol=1e-10
        )
        return sol.y

    theta, y0 = np.array([1.0, 0.4, 0.8, 0.3]), np.array([2.0, 1.0])
    t_eval = np.array([1.0, 4.0, 7.5, 11.0])
    with _setting(checkpoints):
        jt, jy, je = nd.jacobian(trajectory, argnums=(0, 1, 2))(theta, y0, t_eval)
    tol = {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(jt, fd_jacobian(lambda th: trajectory(th, y0, t_eval), theta), **tol)
    np.testing.assert_allclose(jy, fd_jacobian(lambda y: trajectory(theta, y, t_eval), y0), **tol)
    np.testing.assert_allclose(je, fd_jacobian(lambda te: trajectory(theta, y0, te), t_eval), **tol)


@pytest.mark.parametrize("checkpoints", SETTINGS)
def test_lotka_volterra_args_without_t_eval_match_fd(checkpoints):
    def rhs(t, y, theta):
        return _lotka_volterra(*theta)(t, y)

    def end(theta):
        return si.solve_ivp(rhs, (0.0, 10.0), np.array([2.0, 1.0]), args=(theta,), **_TOL).y[:, -1]

    theta = np.array([1.0, 0.4, 0.8, 0.3])
    with _setting(checkpoints):
        jac = nd.jacobian(end)(theta)
    np.testing.assert_allclose(jac, fd_jacobian(end, theta, 1e-5), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("checkpoints", [3, "all"])
def test_repeated_events_match_fd(checkpoints):
    def event(t, y):
        return y[0] - 1.5

    def crossings(theta):
        rhs = _lotka_volterra(theta[0], theta[1], theta[2], theta[3])
        sol = si.solve_ivp(rhs, (0.0, 15.0), np.array([2.0, 1.0]), events=event, **_TOL)
        return np.concatenate([sol.t_events[0][:4], sol.y_events[0][:4, 1]])

    theta = np.array([1.0, 0.4, 0.8, 0.3])
    with _setting(checkpoints):
        jac = nd.jacobian(crossings)(theta)
    np.testing.assert_allclose(jac, fd_jacobian(crossings, theta, 1e-6), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("checkpoints", SETTINGS)
def test_odeint_closed_form_and_fd(checkpoints):
    def ys(k, y0, t):
        return si.odeint(lambda y, t: -k * y, y0, t, rtol=1e-10, atol=1e-12)

    k, y0, t = 0.7, np.array([1.5, -0.5]), np.array([0.2, 1.0, 2.0, 6.0])
    with _setting(checkpoints):
        jk, jy0, jt = nd.jacobian(ys, argnums=(0, 1, 2))(k, y0, t)
    values = y0 * np.exp(-k * (t - t[0]))[:, None]
    np.testing.assert_allclose(jk, -(t - t[0])[:, None] * values, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(jy0[-1], np.exp(-k * (t[-1] - t[0])) * np.eye(2), rtol=1e-7)
    np.testing.assert_allclose(jt[-1, :, -1], -k * values[-1], rtol=1e-7)
    np.testing.assert_allclose(jt[-1, :, 0], k * values[-1], rtol=1e-7)

    def traj(theta):  # Lotka-Volterra through args=
        rhs = lambda y, t, th: _lotka_volterra(*th)(t, y)
        return si.odeint(rhs, np.array([2.0, 1.0]), t, args=(theta,), rtol=1e-11, atol=1e-11)

    theta = np.array([1.0, 0.4, 0.8, 0.3])
    with _setting(checkpoints):
        jac = nd.jacobian(traj)(theta)
    np.testing.assert_allclose(jac, fd_jacobian(traj, theta, 1e-5), rtol=1e-5, atol=1e-6)


def test_a_solver_class_passed_as_method_is_checkpointed_too():
    def y_end(k):
        sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 3.0), np.ones(1), method=si.DOP853, **_TOL)
        return sol.y[0, -1]

    with nd.ode_gradient(checkpoints=2):
        assert nd.grad(y_end)(0.7) == pytest.approx(-3.0 * np.exp(-2.1), rel=1e-8)


# --- what is kept, and what runs again -----------------------------------------------------------


def _dense_outputs_alive():
    gc.collect()
    return sum(isinstance(o, DenseOutput) for o in gc.get_objects())


@pytest.mark.parametrize(("checkpoints", "kept"), [(None, False), (4, False), ("all", True)])
def test_between_solve_and_backward_no_step_interpolant_is_kept(checkpoints, kept):
    # SciPy builds one DenseOutput per step; the checkpointed adjoint keeps none of them until
    # backward(), "all" keeps every one (what the adjoint kept before checkpointing)
    k = GradArray(np.array(0.3), requires_grad=True)
    before = _dense_outputs_alive()
    with _setting(checkpoints):
        sol = si.solve_ivp(lambda t, y: -k * y + np.sin(t), (0.0, 50.0), np.ones(3), **_TOL)
    held = _dense_outputs_alive() - before
    assert sol.sol is None and sol.t.size > 100
    if kept:
        assert held >= sol.t.size - 1
    else:
        assert held == 0
    sol.y[0, -1].backward()
    assert k.grad is not None


class _AliveInterpolants:
    """Counts SciPy's step interpolants (``DenseOutput``) alive, and the most alive at once."""

    def __init__(self, monkeypatch):
        self.alive = self.peak = 0
        init = DenseOutput.__init__

        def counted(obj, *args, **kwargs):
            init(obj, *args, **kwargs)
            self.alive += 1
            self.peak = max(self.peak, self.alive)
            weakref.finalize(obj, self._gone)

        monkeypatch.setattr(DenseOutput, "__init__", counted)

    def _gone(self):
        self.alive -= 1


@pytest.mark.parametrize(("checkpoints", "old"), [(None, False), (16, False), ("all", True)])
def test_memory_step_interpolants_alive_at_once_and_bytes_held(monkeypatch, checkpoints, old):
    # A 20-state system over ~1700 RK45 steps with a closure parameter and two outputs. Keeping
    # every step's interpolant ("all", the adjoint before checkpointing) holds one per step
    # from the solve to backward(), and its backward pass solves the adjoint over half the
    # run at once; with checkpoints, none is kept and a segment's few are alive at a time.
    n = 20
    rng = np.random.default_rng(0)
    theta = GradArray(-np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n), True)
    counter = _AliveInterpolants(monkeypatch)
    gc.collect()
    tracemalloc.start()
    try:
        with _setting(checkpoints):
            sol = si.solve_ivp(
                lambda t, y: theta @ y + np.sin(t), (0.0, 150.0), np.ones(n),
                t_eval=[75.0, 150.0], rtol=1e-8, atol=1e-10,
            )  # fmt: skip
        gc.collect()
        held_bytes = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    held, steps = counter.alive, sol.nfev // 6  # RK45: 6 evaluations per step
    counter.peak = held
    np.sum(sol.y**2).backward()
    gc.collect()
    assert theta.grad is not None and counter.alive == (held if old else 0)
    assert steps > 1000
    if old:
        assert held >= 0.9 * steps and counter.peak >= held + 100  # nfev / 6: about
        assert held_bytes > 1.5e6  # about 1.3 kB per step
    else:
        # a segment's K forward steps and the adjoint's across it (about 1.3 K here), alive
        # at a time whenever the cycle collector runs: SciPy's solver of a piece is garbage in
        # a cycle, and held the segment's interpolants until collected (peaks of 75 and 132
        # on Python 3.11, 228 and 292 on 3.13, where collections come at other times)
        k = 32 if checkpoints is None else checkpoints
        assert held == 0 and counter.peak <= 4 * k
        assert held_bytes < 5e5  # the step times, a state every 16 steps, the graph


def test_the_users_dense_output_is_used_and_nothing_is_solved_again():
    # with dense_output=True SciPy keeps the interpolant anyway: the backward pass reads it,
    # so the right-hand side is never called with grad off (as a forward solve calls it)
    calls = {"plain": 0}
    k = GradArray(np.array(0.7), requires_grad=True)

    def rhs(t, y):
        if not nd.is_grad_enabled():
            calls["plain"] += 1
        return -k * y

    for dense, resolved in [(True, False), (False, True)]:
        with nd.ode_gradient(checkpoints=2):
            sol = si.solve_ivp(rhs, (0.0, 2.0), np.ones(1), dense_output=dense, **_TOL)
        assert (sol.sol is not None) == dense
        calls["plain"] = 0
        k.grad = None
        sol.y[0, -1].backward()
        assert (calls["plain"] > 0) == resolved
        assert k.grad == pytest.approx(-2.0 * np.exp(-1.4), rel=1e-8)


def test_a_parameter_written_in_place_before_backward_raises():
    # the backward pass evaluates the right-hand side again (the adjoint, the parameter term,
    # the re-solved segments): a write in between would mix old and new values
    k = GradArray(np.array(0.5), requires_grad=True)
    sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 1.0), np.ones(1), **_TOL)
    with nd.no_grad():
        k += 1.0
    with pytest.raises(InPlaceError, match=r"holds .* was modified"):
        sol.y[0, -1].backward()
    theta = GradArray(np.array([0.5]), requires_grad=True)
    ys = si.odeint(lambda y, t, th: -th * y, np.ones(1), [0.0, 1.0], args=(theta,))
    with nd.no_grad():
        theta[0] = 2.0
    with pytest.raises(InPlaceError, match=r"holds .* was modified"):
        ys[-1, 0].backward()


@pytest.mark.parametrize("bad", [0, -2, 2.5, "every", True, None])
def test_ode_gradient_refuses_bad_checkpoints(bad):
    if bad is None:  # checkpoints apply to the adjoint only
        with pytest.raises(ValueError, match="forward sensitivities"):
            with nd.ode_gradient("forward", checkpoints=4):
                pass
        return
    with pytest.raises(ValueError, match="checkpoints"):
        with nd.ode_gradient(checkpoints=bad):
            pass
