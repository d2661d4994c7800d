"""Arrays held by a function that backward() calls again must not change in between.

``nd.checkpoint`` recomputes its block and the ODE adjoint evaluates the right-hand side when
``backward`` reaches them. What that function reads from a closure, ``args=`` or a default is
not a node input that could be copied: a write to it between the forward pass and backward()
would give the gradient of a function that was never evaluated. Each such write, through
ndgrad or behind its back, must raise ``InPlaceError``; without one the gradient is the closed
form.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate as si

import ndgrad as nd

RATE = 0.5


def _decay(c, k, method="adjoint"):
    with nd.ode_gradient(method):
        sol = si.solve_ivp(lambda t, y: -k * c * y, (0.0, 1.0), [1.0], rtol=1e-10, atol=1e-12)
    return sol.y[0, -1]  # exp(-k c): d/dk = -c exp(-k c)


def _write_plain(c):
    c[0] = 5.0


def _write_through_ndgrad(c):
    c += 4.5  # a GradArray constant: a write ndgrad records


def _write_behind_ndgrad(c):
    np.asarray(c)[0] = 5.0  # a plain view of the GradArray's memory: only a fingerprint sees it


def _constant(kind):
    values = np.array([RATE])
    return values if kind == "plain" else nd.GradArray(values)


@pytest.mark.parametrize("method", ["adjoint", "forward"])
@pytest.mark.parametrize(
    "kind, write",
    [
        ("plain", _write_plain),
        ("grad", _write_through_ndgrad),
        ("grad", _write_behind_ndgrad),
    ],
)
def test_solve_ivp_refuses_a_held_constant_written_before_backward(method, kind, write):
    c = _constant(kind)
    k = nd.GradArray(np.array([1.0]), requires_grad=True)
    y1 = _decay(c, k, method)
    write(c)
    with pytest.raises(nd.InPlaceError, match=r"right-hand side.*holds"):
        y1.backward()


@pytest.mark.parametrize("method", ["adjoint", "forward"])
@pytest.mark.parametrize("kind", ["plain", "grad"])
def test_solve_ivp_with_an_unchanged_held_constant_matches_the_closed_form(method, kind):
    c = _constant(kind)
    k = nd.GradArray(np.array([1.0]), requires_grad=True)
    _decay(c, k, method).backward()
    np.testing.assert_allclose(k.grad, [-RATE * np.exp(-RATE)], rtol=1e-6)


def test_solve_ivp_refuses_a_constant_passed_through_args_and_written():
    c = np.array([RATE])
    k = nd.GradArray(np.array([1.0]), requires_grad=True)
    sol = si.solve_ivp(lambda t, y, c: -k * c * y, (0.0, 1.0), [1.0], args=(c,), rtol=1e-10)
    c[0] = 2.0
    with pytest.raises(nd.InPlaceError, match="holds"):
        sol.y[0, -1].backward()


def test_odeint_refuses_a_held_constant_written_before_backward():
    c = np.array([RATE])
    k = nd.GradArray(np.array(1.0), requires_grad=True)
    ys = si.odeint(lambda y, t: -k * c[0] * y, [1.0], [0.0, 1.0], rtol=1e-10, atol=1e-12)
    c[0] = 3.0
    with pytest.raises(nd.InPlaceError, match="right-hand side holds"):
        ys[-1, 0].backward()


@pytest.mark.parametrize("kind, write", [("plain", _write_plain), ("grad", _write_behind_ndgrad)])
def test_checkpoint_refuses_a_held_constant_written_before_backward(kind, write):
    c = _constant(kind)
    a = nd.GradArray(np.array([1.5]), requires_grad=True)
    out = nd.checkpoint(lambda z: np.sin(z * c))(a)
    write(c)
    with pytest.raises(nd.InPlaceError, match=r"checkpoint.*holds"):
        np.sum(out).backward()


def test_checkpoint_with_unchanged_constants_matches_the_closed_form_twice():
    c = np.array([RATE])
    a = nd.GradArray(np.array([1.5]), requires_grad=True)
    out = np.sum(nd.checkpoint(lambda z: np.sin(z * c))(a))
    out.backward(retain_graph=True)
    out.backward()  # the check runs before each recomputation and passes both times
    np.testing.assert_allclose(a.grad, 2 * RATE * np.cos(1.5 * RATE))


def test_a_write_after_backward_is_allowed():
    c = np.array([RATE])
    k = nd.GradArray(np.array([1.0]), requires_grad=True)
    _decay(c, k).backward()
    c[0] = 5.0  # the graph is used up: nothing will read the old value again
    np.testing.assert_allclose(k.grad, [-RATE * np.exp(-RATE)], rtol=1e-6)
