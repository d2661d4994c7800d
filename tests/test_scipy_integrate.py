"""Gradients through scipy.integrate's quadrature and ODE solvers, called unmodified."""

from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.integrate as si

import ndgrad as nd
from ndgrad import GradArray, NotDifferentiableError
from ndgrad.testing import check_grad

from ._helpers import fd_jacobian

# --- quad ---------------------------------------------------------------------------------------


def test_quad_parameter_closure_closed_form():
    def integral(k):
        return si.quad(lambda x: np.exp(-k * x), 0, 1, epsabs=1e-13, epsrel=1e-13)[0]

    k = 1.3
    expected = (k * np.exp(-k) - (1 - np.exp(-k))) / k**2  # d/dk (1 - e^-k) / k
    assert nd.grad(integral)(k) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (-np.inf, np.inf, np.sqrt(2 * np.pi)),
        (0.0, np.inf, np.sqrt(np.pi / 2)),
        (-np.inf, 0.0, np.sqrt(np.pi / 2)),
    ],
)
def test_quad_infinite_ranges_through_args(a, b, expected):
    def integral(s):
        return si.quad(lambda x, s: np.exp(-(x**2) / (2 * s**2)), a, b, args=(s,))[0]

    assert nd.grad(integral)(1.7) == pytest.approx(expected, rel=1e-8)  # d/ds of s * const


def test_quad_limits_by_the_leibniz_rule_and_reversed_limits():
    def integral(a, b, k):
        return si.quad(lambda x: np.sin(k * x), a, b)[0]

    ga, gb, gk = nd.grad(integral, argnums=(0, 1, 2))(0.3, 1.2, 1.1)
    assert ga == pytest.approx(-np.sin(1.1 * 0.3)) and gb == pytest.approx(np.sin(1.1 * 1.2))
    assert gk == pytest.approx(fd_jacobian(lambda k: integral(0.3, 1.2, k), 1.1), rel=1e-7)
    gk_rev = nd.grad(integral, argnums=2)(1.2, 0.3, 1.1)
    assert gk_rev == pytest.approx(-gk, rel=1e-12)


def test_quad_with_breakpoints_matches_fd():
    def integral(c):
        return si.quad(lambda x: np.abs(x - 0.3) * c**2 + np.exp(c * x), 0, 1, points=[0.3])[0]

    assert nd.grad(integral)(0.8) == pytest.approx(fd_jacobian(integral, 0.8), rel=1e-7)


def test_quad_plain_call_unchanged():
    out = si.quad(lambda x: x**2, 0, 1)
    assert type(out) is tuple and len(out) == 2 and out[0] == pytest.approx(1 / 3)


def _libm_sin():
    import ctypes
    import ctypes.util

    sin = ctypes.CDLL(ctypes.util.find_library("m")).sin
    sin.restype, sin.argtypes = ctypes.c_double, (ctypes.c_double,)
    return sin


def test_quad_of_a_low_level_callable_is_scipys_and_refuses_a_gradient():
    """A ``scipy.LowLevelCallable`` integrand is compiled code SciPy calls without Python: the
    rule wrapped it in a Python function, and ``quad`` (so ``nquad``, and
    ``scipy.stats.genhyperbolic.cdf``, which integrates one) raised TypeError for plain inputs
    once ndgrad was imported. It goes to SciPy as it is; a gradient through it is refused."""
    import scipy
    import scipy.stats as st

    llc = scipy.LowLevelCallable(_libm_sin())
    assert si.quad(llc, 0.0, 1.0)[0] == pytest.approx(1.0 - np.cos(1.0), rel=1e-12)
    assert si.nquad(llc, [[0.0, 1.0]])[0] == pytest.approx(1.0 - np.cos(1.0), rel=1e-12)
    assert si.quad(_libm_sin(), 0.0, 1.0)[0] == pytest.approx(1.0 - np.cos(1.0), rel=1e-12)
    assert 0.0 < st.genhyperbolic.cdf(0.3, 0.7, 1.5, 0.5) < 1.0
    with pytest.raises(NotDifferentiableError, match="LowLevelCallable"):
        nd.grad(lambda b: si.quad(llc, 0.0, b)[0])(1.0)


def test_quad_tape_api_value_is_scipys():
    k = GradArray(np.array(1.3), requires_grad=True)
    y, err = si.quad(lambda x: np.exp(-k * x), 0, 1)
    assert float(y) == si.quad(lambda x: np.exp(-1.3 * x), 0, 1)[0] and isinstance(err, float)
    y.backward()
    assert k.grad == pytest.approx(np.exp(-1.3) / 1.3 - (1 - np.exp(-1.3)) / 1.3**2, rel=1e-8)


def test_quad_failure_raises():
    def integral(k):
        with np.errstate(all="ignore"):
            return si.quad(lambda x: np.sin(k / x), 0, 1, limit=3)[0]

    with pytest.raises(RuntimeError, match="did not succeed"):
        nd.grad(integral)(50.0)


def test_quad_vec_parameters_and_limits():
    def integral(k, b):
        return si.quad_vec(lambda x: np.stack([np.exp(-k * x), k * x]), 0, b)[0]

    jk, jb = nd.jacobian(integral, argnums=(0, 1))(1.3, 1.0)
    np.testing.assert_allclose(jk, fd_jacobian(lambda k: integral(k, 1.0), 1.3), rtol=1e-7)
    np.testing.assert_allclose(jb, [np.exp(-1.3), 1.3], rtol=1e-12)


def test_fixed_quad_and_sampled_rules_are_traced():
    x = np.linspace(0, 1, 17)
    check_grad(lambda k: si.fixed_quad(lambda x: np.exp(-k * x), 0, 1, n=8)[0], np.array(1.3))
    check_grad(lambda y: si.trapezoid(y, x=x), np.exp(-x))
    check_grad(lambda y: si.simpson(y, x=x), np.exp(-x))
    check_grad(lambda y: si.romb(y, dx=x[1] - x[0]), np.exp(-x))


def test_fixed_quad_in_its_limits_and_simpson_in_its_sample_points():
    check_grad(lambda a, b: si.fixed_quad(np.sin, a, b, n=6)[0], np.array(0.2), np.array(1.4))
    y = np.exp(-np.linspace(0, 1, 9))
    check_grad(lambda x: si.simpson(y, x=x), np.linspace(0, 1, 9) ** 1.5)


@pytest.mark.parametrize(
    ("a", "b"),
    [(0.2, 1.5), (1.5, 0.2), (0.2, np.inf), (np.inf, 0.2), (-np.inf, 0.2), (-np.inf, np.inf)],
)
def test_quad_hessian_in_parameters_and_limits_matches_fd_of_the_gradient(a, b):
    def integral(th):
        lo = th[2] if np.isfinite(a) else a
        hi = th[3] if np.isfinite(b) else b
        return si.quad(
            lambda x, s: np.exp(-((x - th[1]) ** 2) / (2 * s**2)) * (1 + x**2 * th[1]),
            lo,
            hi,
            args=(th[0],),
            epsabs=1e-13,
            epsrel=1e-13,
        )[0]

    th = np.array([1.3, 0.4, a if np.isfinite(a) else 0.0, b if np.isfinite(b) else 0.0])
    np.testing.assert_allclose(
        nd.hessian(integral)(th), fd_jacobian(nd.grad(integral), th, h=1e-5), rtol=1e-6, atol=1e-9
    )


def test_dblquad_second_derivative_matches_closed_form():
    def integral(k, b):  # ∫_0^b ∫_0^x k² x y dy dx = k² b⁴ / 8
        return si.dblquad(lambda y, x: k**2 * x * y, 0, b, 0, lambda x: x)[0]

    hess = nd.hessian(integral, argnums=(0, 1))(0.7, 1.3)
    expected = [[1.3**4 / 4, 0.7 * 1.3**3], [0.7 * 1.3**3, 3 * 0.7**2 * 1.3**2 / 2]]
    np.testing.assert_allclose(np.array(hess, dtype=float), expected, rtol=1e-9)


# --- dblquad, tplquad, nquad: nested quad, so the Leibniz rule at each level --------------------


def test_dblquad_parameters_and_limits_closed_form():
    def integral(k, b, c):  # ∫_0^b ∫_0^{cx} k x y dy dx = k c² b⁴ / 8
        return si.dblquad(lambda y, x: k * x * y, 0, b, 0, lambda x: c * x)[0]

    gk, gb, gc = nd.grad(integral, argnums=(0, 1, 2))(0.7, 1.3, 0.9)
    assert gk == pytest.approx(0.9**2 * 1.3**4 / 8, rel=1e-10)
    assert gb == pytest.approx(0.7 * 0.9**2 * 1.3**3 / 2, rel=1e-10)
    assert gc == pytest.approx(0.7 * 0.9 * 1.3**4 / 4, rel=1e-10)


def test_dblquad_infinite_gaussian_closed_form():
    def integral(s):  # π / s
        return si.dblquad(lambda y, x: np.exp(-s * (x**2 + y**2)), -np.inf, np.inf, -np.inf, np.inf)

    assert nd.grad(lambda s: integral(s)[0])(1.7) == pytest.approx(-np.pi / 1.7**2, rel=1e-7)


def test_tplquad_closure_and_callable_limits_match_fd():
    def integral(th):
        return si.tplquad(
            lambda z, y, x: np.exp(-th[0] * x * y * z) + z**2,
            0, 1, 0, lambda x: th[1] * x, 0, lambda x, y: x + th[2] * y,
        )[0]  # fmt: skip

    th = np.array([0.7, 1.3, 0.9])
    np.testing.assert_allclose(nd.grad(integral)(th), fd_jacobian(integral, th, h=1e-5), rtol=1e-7)


@pytest.mark.parametrize("full_output", [False, True])
def test_nquad_args_and_ranges_depending_on_parameters_match_fd(full_output):
    def integral(th):
        ranges = [lambda y, a: [0, th[2] + y], [0, th[1]]]
        return si.nquad(
            lambda x, y, a: np.sin(a * x * y), ranges, args=(th[0],), full_output=full_output
        )[0]

    th = np.array([0.7, 1.3, 0.9])
    np.testing.assert_allclose(nd.grad(integral)(th), fd_jacobian(integral, th, h=1e-5), rtol=1e-7)


# --- solve_ivp ----------------------------------------------------------------------------------

_TOL = {"rtol": 1e-10, "atol": 1e-12}


def test_solve_ivp_exponential_decay_closed_form():
    def y_end(k, y0, t1):
        return si.solve_ivp(lambda t, y: -k * y, (0.0, t1), y0, **_TOL).y[:, -1]

    k, t1, y0 = 0.7, 2.0, np.array([1.5, -0.5])
    jk, jy0, jt1 = nd.jacobian(y_end, argnums=(0, 1, 2))(k, y0, t1)
    decay = np.exp(-k * t1)
    np.testing.assert_allclose(jk, -t1 * y0 * decay, rtol=1e-8)
    np.testing.assert_allclose(jy0, decay * np.eye(2), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(jt1, -k * y0 * decay, rtol=1e-8)


def test_solve_ivp_t_eval_values_args_and_start_time():
    def y(k, t_eval, t0):
        sol = si.solve_ivp(
            lambda t, y, k: -k * y, (t0, 3.0), np.ones(1), t_eval=t_eval, args=(k,), **_TOL
        )
        return sol.y[0]

    k, te, t0 = 0.7, np.array([0.5, 1.0, 2.5]), 0.1
    jk, jte, jt0 = nd.jacobian(y, argnums=(0, 1, 2))(k, te, t0)
    values = np.exp(-k * (te - t0))
    np.testing.assert_allclose(jk, -(te - t0) * values, rtol=1e-8)
    np.testing.assert_allclose(jte, np.diag(-k * values), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(jt0, k * values, rtol=1e-8)


@pytest.mark.parametrize(
    ("method", "rtol"),
    [
        ("RK45", 1e-8),
        ("RK23", 1e-5),
        ("DOP853", 1e-9),
        ("Radau", 1e-7),
        ("BDF", 1e-6),
        ("LSODA", 1e-7),
    ],
)
def test_solve_ivp_harmonic_oscillator_every_method(method, rtol):
    def state(w):
        rhs = lambda t, y: np.stack([y[1], -(w**2) * y[0]])
        sol = si.solve_ivp(
            rhs, (0.0, 3.0), np.array([1.0, 0.0]), method=method, rtol=rtol, atol=rtol / 100
        )
        return sol.y[:, -1]

    w, t = 1.3, 3.0
    expected = [-t * np.sin(w * t), -np.sin(w * t) - w * t * np.cos(w * t)]  # x = cos wt
    np.testing.assert_allclose(nd.jacobian(state)(w), expected, rtol=1000 * rtol)


def test_solve_ivp_lotka_volterra_matches_fd_of_the_same_call():
    t_eval = np.linspace(0, 5, 3)

    def trajectory(theta, y0):
        a, b, c, d = theta[0], theta[1], theta[2], theta[3]

        def rhs(t, y):
            return np.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])

        return si.solve_ivp(rhs, (0.0, 5.0), y0, t_eval=t_eval, rtol=1e-9, atol=1e-9).y

    theta, y0 = np.array([1.0, 0.4, 0.8, 0.3]), np.array([2.0, 1.0])
    jt, jy = nd.jacobian(trajectory, argnums=(0, 1))(theta, y0)
    np.testing.assert_allclose(
        jt, fd_jacobian(lambda th: trajectory(th, y0), theta), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        jy, fd_jacobian(lambda y: trajectory(theta, y), y0), rtol=1e-5, atol=1e-6
    )


def _decay_chain(style):
    """The right-hand side of y0 -> y1 -> (out) in the styles scripts write it."""
    if style == "list":  # SciPy takes any array_like as the derivative
        return lambda t, y, a, b: [-a * y[0], a * y[0] - b * y[1]]
    return lambda t, y, a, b: np.stack([-a * y[0], a * y[0] - b * y[1]])


@pytest.mark.parametrize("style", ["list", "stack"])
@pytest.mark.parametrize("method", ["adjoint", "forward"])
def test_solve_ivp_rhs_returning_a_list_with_parameters_passed_as_args(style, method):
    # A right-hand side that returns a list raised GraphBreakError in the adjoint's parameter
    # term (np.stack of lists holding GradArrays), and args=(k[0], k[1]) (views of the
    # parameters) raised it in d/dy, where the parameters are constants on purpose
    t_eval = np.linspace(0.0, 5.0, 6)

    def loss(k):
        sol = si.solve_ivp(
            _decay_chain(style), (0.0, 5.0), [1.0, 0.0], args=(k[0], k[1]), t_eval=t_eval,
            rtol=1e-10, atol=1e-12,
        )  # fmt: skip
        return np.sum(sol.y**2)

    with nd.ode_gradient(method):
        check_grad(loss, np.array([0.5, 0.3]), eps=1e-5, rtol=1e-5)


def test_odeint_rhs_returning_a_list_with_parameters_passed_as_args():
    def loss(k):
        ys = si.odeint(
            lambda y, t, a, b: [-a * y[0], a * y[0] - b * y[1]], [1.0, 0.0], [0.0, 2.0, 5.0],
            args=(k[0], k[1]), rtol=1e-11, atol=1e-12,
        )  # fmt: skip
        return np.sum(ys[-1] ** 2)

    check_grad(loss, np.array([0.5, 0.3]), eps=1e-5, rtol=1e-5)


def test_solve_ivp_backward_in_time():
    def y_end(k):
        return si.solve_ivp(lambda t, y: -k * y, (2.0, 0.0), np.ones(1), **_TOL).y[0, -1]

    assert nd.grad(y_end)(0.7) == pytest.approx(2.0 * np.exp(0.7 * 2.0), rel=1e-8)


def test_solve_ivp_tape_api_and_dense_output_kept():
    k = GradArray(np.array(0.7), requires_grad=True)
    sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 1.0), np.ones(1), dense_output=True, **_TOL)
    assert sol.sol is not None and sol.y.grad_fn == "scipy.integrate.solve_ivp"
    sol.y[0, -1].backward()
    assert k.grad == pytest.approx(-np.exp(-0.7), rel=1e-8)
    plain = si.solve_ivp(lambda t, y: -0.7 * y, (0.0, 1.0), np.ones(1))
    assert plain.sol is None and type(plain.y) is np.ndarray


def test_solve_ivp_second_derivatives_raise_naming_the_solver():
    def y_end(k):
        return si.solve_ivp(lambda t, y: -k * y, (0.0, 1.0), np.ones(1)).y[0, -1]

    with pytest.raises(NotDifferentiableError, match="only first derivatives"):
        nd.hessian(y_end)(0.7)


# --- solve_ivp: events, by the implicit function theorem ---------------------------------------


def test_solve_ivp_event_time_closed_form_in_rhs_event_and_y0():
    def t_hit(k, c, y0):  # y0 e^{-k t} = c  ⇒  t* = log(y0 / c) / k
        hit = lambda t, y: y[0] - c
        sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 5.0), np.stack([y0]), events=hit, **_TOL)
        return sol.t_events[0][0]

    gk, gc, gy0 = nd.grad(t_hit, argnums=(0, 1, 2))(0.7, 0.4, 1.5)
    assert gk == pytest.approx(-np.log(1.5 / 0.4) / 0.7**2, rel=1e-8)
    assert gc == pytest.approx(-1 / (0.4 * 0.7), rel=1e-8)
    assert gy0 == pytest.approx(1 / (1.5 * 0.7), rel=1e-8)


def _falling(gravity, v0, **kwargs):
    def ground(t, y, gravity):
        return y[0]

    ground.terminal, ground.direction = True, -1
    return si.solve_ivp(
        lambda t, y, gravity: np.stack([y[1], -gravity + 0 * y[0]]),
        (0.0, 10.0),
        np.stack([np.ones(()), v0]),
        events=[ground, lambda t, y, gravity: y[1]],  # the ground, and the top of the flight
        args=(gravity,),
        **kwargs,
        **_TOL,
    )


def test_solve_ivp_terminal_event_ends_the_solve_closed_form():
    def landing(th):
        sol = _falling(th[0], th[1])
        return np.concatenate([sol.t_events[0], sol.y[:, -1], sol.t[-1:], sol.y_events[1][0]])

    th = np.array([9.81, 3.0])
    jac = nd.jacobian(landing)(th)
    np.testing.assert_allclose(jac, fd_jacobian(landing, th), rtol=1e-6, atol=1e-8)
    g, v = th
    t_land = (v + np.sqrt(v**2 + 2 * g)) / g  # 1 + v t - g t²/2 = 0
    dt_dv = (1 + v / np.sqrt(v**2 + 2 * g)) / g
    assert landing(th)[0] == pytest.approx(t_land, rel=1e-9)
    assert jac[0, 1] == pytest.approx(dt_dv, rel=1e-8)
    assert jac[2, 1] == pytest.approx(-g * dt_dv + 1, rel=1e-8)  # d/dv of v - g t*
    assert jac[3, 1] == pytest.approx(dt_dv, rel=1e-8)  # sol.t[-1] is t*
    assert jac[1, 1] == pytest.approx(0.0, abs=1e-8)  # y[0] = 0 at the ground, always


def test_solve_ivp_events_plain_call_unchanged():
    sol = _falling(9.81, np.array(3.0))
    assert type(sol.t_events[0]) is np.ndarray and type(sol.y) is np.ndarray and sol.status == 1


def test_solve_ivp_terminal_event_with_t_eval_matches_fd():
    def outputs(th):
        sol = _falling(th[0], th[1], t_eval=[0.1, 0.5, 0.7])
        return np.concatenate([sol.t_events[0], sol.t_events[1], sol.y.ravel()])

    th = np.array([9.81, 3.0])
    np.testing.assert_allclose(
        nd.jacobian(outputs)(th), fd_jacobian(outputs, th), rtol=1e-6, atol=1e-8
    )


def test_solve_ivp_repeated_events_lotka_volterra_match_fd():
    def crossings(theta):
        def rhs(t, y):
            return np.stack(
                [theta[0] * y[0] - theta[1] * y[0] * y[1], -y[1] + theta[2] * y[0] * y[1]]
            )

        prey_at = lambda t, y: y[0] - theta[3]
        sol = si.solve_ivp(
            rhs, (0.0, 12.0), np.array([2.0, 1.0]), events=prey_at, rtol=1e-10, atol=1e-10
        )
        return np.concatenate([sol.t_events[0], sol.y_events[0][:, 1]])

    theta = np.array([1.0, 0.4, 0.3, 2.5])
    got = nd.jacobian(crossings)(theta)
    assert got.shape[0] >= 4  # several crossings
    np.testing.assert_allclose(got, fd_jacobian(crossings, theta), rtol=1e-5, atol=1e-6)


def test_solve_ivp_event_that_does_not_cross_raises():
    def t_level(k):  # y stays at 1, so y - 1 is 0 all along: no crossing, no event time
        sol = si.solve_ivp(
            lambda t, y: 0 * k * y, (0.0, 2.0), np.ones(1), events=lambda t, y: y[0] - 1.0
        )
        return sol.t_events[0]

    with pytest.raises(NotDifferentiableError, match="touches zero without crossing"):
        nd.jacobian(t_level)(1.0)


# --- odeint -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tfirst", [False, True])
def test_odeint_exponential_decay_closed_form(tfirst):
    def ys(k, y0, t):
        rhs = (lambda t, y: -k * y) if tfirst else (lambda y, t: -k * y)
        return si.odeint(rhs, y0, t, rtol=1e-10, atol=1e-12, tfirst=tfirst)

    k, y0, t = 0.7, np.array([1.5, -0.5]), np.array([0.2, 1.0, 2.0])
    jk, jy0, jt = nd.jacobian(ys, argnums=(0, 1, 2))(k, y0, t)
    values = y0 * np.exp(-k * (t - t[0]))[:, None]
    np.testing.assert_allclose(jk, -(t - t[0])[:, None] * values, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(jy0[-1], np.exp(-k * (t[-1] - t[0])) * np.eye(2), rtol=1e-7)
    expected_t = np.zeros((3, 2, 3))
    for i in (1, 2):
        expected_t[i, :, i] = -k * values[i]
        expected_t[i, :, 0] = k * values[i]
    np.testing.assert_allclose(jt, expected_t, rtol=1e-7, atol=1e-12)


def test_odeint_lotka_volterra_args_matches_fd():
    t = np.linspace(0, 4, 3)

    def rhs(y, t, theta):
        return np.stack(
            [theta[0] * y[0] - theta[1] * y[0] * y[1], -theta[2] * y[1] + theta[3] * y[0] * y[1]]
        )

    def traj(theta):
        return si.odeint(rhs, np.array([2.0, 1.0]), t, args=(theta,), rtol=1e-11, atol=1e-11)

    theta = np.array([1.0, 0.4, 0.8, 0.3])
    np.testing.assert_allclose(
        nd.jacobian(traj)(theta), fd_jacobian(traj, theta, 1e-5), rtol=1e-6, atol=1e-7
    )


# --- forward sensitivities: nd.ode_gradient("forward") -----------------------------------------


class _LotkaVolterra:
    """A right-hand side as a bound method: its parameters are an attribute."""

    def __init__(self, theta):
        self.theta = theta

    def rhs(self, t, y):
        a, b, c, d = self.theta
        return np.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])


def _trajectory(theta, y0):
    sol = si.solve_ivp(
        _LotkaVolterra(theta).rhs, (0.0, 4.0), y0, t_eval=[1.0, 4.0], rtol=1e-9, atol=1e-9
    )
    return sol.y


def test_forward_sensitivities_agree_with_the_adjoint_and_fd():
    theta, y0 = np.array([1.0, 0.4, 0.8, 0.3]), np.array([2.0, 1.0])
    adjoint = nd.jacobian(_trajectory, argnums=(0, 1))(theta, y0)
    with nd.ode_gradient("forward"):
        forward = nd.jacobian(_trajectory, argnums=(0, 1))(theta, y0)
    fds = [
        fd_jacobian(lambda th: _trajectory(th, y0), theta),
        fd_jacobian(lambda y: _trajectory(theta, y), y0),
    ]
    for a, f, numeric in zip(adjoint, forward, fds, strict=True):
        np.testing.assert_allclose(f, numeric, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(f, a, rtol=1e-5, atol=1e-6)


def test_forward_sensitivities_args_times_and_events_closed_form():
    def outputs(k, c, y0, t0):  # y0 e^{-k (t - t0)}; the event at y = c
        sol = si.solve_ivp(
            lambda t, y, k: -k * y, (t0, 5.0), np.stack([y0]), events=lambda t, y, k: y[0] - c,
            t_eval=[2.0], args=(k,), **_TOL,
        )  # fmt: skip
        return np.concatenate([sol.t_events[0], sol.y[0]])

    with nd.ode_gradient("forward"):
        jac = nd.jacobian(outputs, argnums=(0, 1, 2, 3))(0.7, 0.4, 1.5, 0.1)
    expected = [
        [-np.log(1.5 / 0.4) / 0.7**2, -1.9 * 1.5 * np.exp(-0.7 * 1.9)],
        [-1 / (0.4 * 0.7), 0.0],
        [1 / (1.5 * 0.7), np.exp(-0.7 * 1.9)],
        [1.0, 0.7 * 1.5 * np.exp(-0.7 * 1.9)],
    ]
    np.testing.assert_allclose(
        np.stack(jac, axis=-1), np.transpose(expected), rtol=1e-8, atol=1e-12
    )


def test_forward_sensitivities_through_odeint_match_fd():
    def ys(th):
        return si.odeint(lambda y, t: -th[0] * y, th[1:], [0.0, 1.0, 2.0], rtol=1e-10, atol=1e-12)

    th = np.array([0.7, 1.0, 2.0])
    with nd.ode_gradient("forward"):
        np.testing.assert_allclose(nd.jacobian(ys)(th), fd_jacobian(ys, th), rtol=1e-6, atol=1e-7)


# a module attribute (``mod.x``) is where ndgrad does not look for the arrays a function holds
_HIDDEN = types.ModuleType("hidden")
_HIDDEN.value = GradArray(np.array(0.5), requires_grad=True)


def test_forward_sensitivities_refuse_a_module_attribute_they_cannot_see_and_a_bad_method():
    def y_end(k):
        rhs = lambda t, y: -k * _HIDDEN.value * y
        return si.solve_ivp(rhs, (0.0, 1.0), np.ones(1)).y[0, -1]

    with (
        nd.ode_gradient("forward"),
        pytest.raises(NotDifferentiableError, match="module attribute"),
    ):
        nd.grad(y_end)(1.0)
    assert nd.grad(y_end)(1.0) == pytest.approx(-0.5 * np.exp(-0.5), rel=1e-3)  # the adjoint
    with pytest.raises(ValueError, match="'adjoint' or 'forward'"):
        with nd.ode_gradient("backward"):
            pass


def test_solve_ivp_dependence_only_through_a_module_attribute_is_still_differentiated():
    hidden = types.ModuleType("hidden_rate")
    hidden.rate = GradArray(np.array(0.5), requires_grad=True)
    sol = si.solve_ivp(lambda t, y: -hidden.rate * y, (0.0, 2.0), np.ones(1), **_TOL)
    assert sol.sol is None  # dense output was needed only for the gradient, and dropped
    sol.y[0, -1].backward()
    assert hidden.rate.grad == pytest.approx(-2.0 * np.exp(-1.0), rel=1e-8)


def _graph_size(x):
    from ndgrad._graph import collect_nodes

    return 1 + len(collect_nodes([x._node], set()))


@pytest.mark.parametrize("method", ["RK45", "LSODA"])
def test_adjoint_keeps_no_graph_per_step_and_matches_the_closed_form(method):
    # y' = -k y + sin(t) with k in a closure: the forward solve records one node (no graph of
    # the right-hand side per step), and during the backward pass the right-hand side's
    # recorded graphs alive at once are a few steps', however long the integration
    import weakref

    def run(t_end):
        k = GradArray(np.array(0.3), requires_grad=True)
        alive, peak = weakref.WeakSet(), [0]

        def rhs(t, y):
            out = -k * y + np.sin(t)
            if isinstance(out, GradArray) and out._node is not None:
                alive.add(out._node)
                peak[0] = max(peak[0], len(alive))
            return out

        sol = si.solve_ivp(rhs, (0.0, t_end), np.ones(1), method=method, **_TOL)
        size = _graph_size(sol.y)
        peak[0] = 0
        sol.y[0, -1].backward()
        return sol.t.size, size, peak[0], k.grad

    short, long = run(5.0), run(100.0)
    assert long[0] > 10 * short[0]  # many more steps
    assert long[1] == short[1] <= 3  # the graph after the forward pass: no probes
    # in the backward pass: one pull of 8 steps' 5 nodes at most, not one per node of the run
    assert 0 < short[2] <= 8 * 5 and 0 < long[2] <= 8 * 5 < 5 * long[0] / 10
    # closed form: y(T) = e^{-kT} + ∫_0^T e^{-k(T-s)} sin(s) ds, differentiated in k
    k, t_end = 0.3, 100.0

    def y_end(k):
        s = (k * np.sin(t_end) - np.cos(t_end) + np.exp(-k * t_end)) / (1 + k**2)
        return np.exp(-k * t_end) + s

    h = 1e-6
    assert long[3] == pytest.approx((y_end(k + h) - y_end(k - h)) / (2 * h), rel=1e-5, abs=1e-8)


def test_adjoint_refuses_a_parameter_rebound_before_backward():
    # the parameter term re-evaluates the right-hand side in the backward pass: a closure
    # variable rebound in between must not send the gradient silently to nowhere
    k = GradArray(np.array(0.5), requires_grad=True)
    sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 1.0), np.ones(1), **_TOL)
    first = k
    k = GradArray(np.array(0.7), requires_grad=True)
    with pytest.raises(NotDifferentiableError, match="rebound"):
        sol.y[0, -1].backward()
    assert first.grad is None


def test_adjoint_parameter_term_through_an_intermediate_closure_array_closed_form():
    # the right-hand side holds k = theta**2, not theta: the backward pass pulls to k and the
    # engine carries on to theta, for every row of a Jacobian (the graph of k is not freed)
    def y_end(theta):
        k = theta**2
        return si.solve_ivp(lambda t, y: -k * y, (0.0, 1.0), np.array([1.0, 2.0]), **_TOL).y[:, -1]

    theta = 0.7
    expected = -2 * theta * np.exp(-(theta**2)) * np.array([1.0, 2.0])
    np.testing.assert_allclose(nd.jacobian(y_end)(np.array(theta)), expected, rtol=1e-8)
