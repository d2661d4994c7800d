"""Functions differentiated by tracing NumPy's own implementation (``ndgrad/_rules/traced.py``).

A traced function has no rule: its gradient is right only as long as NumPy's Python code keeps
calling recorded primitives. Each one is checked here against finite differences or a closed
form, so that a NumPy release that changes an implementation fails loudly.
"""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

import ndgrad as nd
import ndgrad._rules.traced
from ndgrad._registry import TRACED_THROUGH, qualified_name
from ndgrad.testing import check_grad

rng = np.random.default_rng(7)


def _marked_here():
    """The functions that ``ndgrad/_rules/traced.py`` passes to ``mark_traced``."""
    tree = ast.parse(inspect.getsource(ndgrad._rules.traced))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "mark_traced":
            for arg in node.args:
                yield eval(ast.unparse(arg), {"np": np})


def _vjp(f, x, u):
    """Gradient of ``sum(u * f(x))`` by ndgrad."""
    return nd.grad(lambda x: np.sum(u * f(x)))(x)


# --- finite differences ------------------------------------------------------------------------
FD_CHECKS = {
    np.linspace: [
        (lambda a, b: np.linspace(a, b, 5), (np.array(0.3), np.array(1.7))),
        (lambda a, b: np.linspace(a, b, 4, endpoint=False), (np.array(-0.3), np.array(1.1))),
        (lambda a, b: np.linspace(a, b, 4, axis=1), (rng.normal(size=3), rng.normal(size=3))),
        (lambda a, b: np.linspace(a, b, 3), (rng.normal(size=(2, 1)), rng.normal(size=2))),
        (lambda a, b: np.linspace(a, b, 1), (np.array(0.3), np.array(1.7))),
        (lambda a, b: np.linspace(a, b, 4, retstep=True), (np.array(0.3), np.array(1.7))),
        (lambda a: np.linspace(a, 2.0, 4), (np.array(0.5),)),
    ],
    np.logspace: [
        (lambda a, b: np.logspace(a, b, 4), (np.array(0.3), np.array(1.2))),
        (lambda a, b: np.logspace(a, b, 3, base=2.0), (rng.normal(size=2), rng.normal(size=2))),
        (lambda a, base: np.logspace(a, 1.0, 3, base=base), (np.array(0.2), np.array(1.5))),
    ],
    np.piecewise: [
        (
            lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda v: v**2, np.sin]),
            (np.array([-1.0, 0.5, 2.0, -0.3]),),
        ),
        # n conditions and n + 1 functions: the last one is "otherwise"; constants are allowed.
        (
            lambda x: np.piecewise(x, [x < -1], [0.5, lambda v: np.exp(v)]),
            (np.array([-2.0, 0.5, 1.5]),),
        ),
        (lambda x: np.piecewise(x, [x > 0], [lambda v: 3 * v]), (np.array(0.7),)),
    ],
    np.i0: [
        # both branches of NumPy's Chebyshev expansion: |x| <= 8 and |x| > 8
        (np.i0, (np.array([0.3, -2.0, 7.5, 9.0, -12.0]),)),
        (np.i0, (np.array(1.25),)),
    ],
    np.polyadd: [
        (np.polyadd, (rng.normal(size=3), rng.normal(size=3))),
        (np.polyadd, (rng.normal(size=3), rng.normal(size=1))),
        (np.polyadd, (rng.normal(size=2), rng.normal(size=4))),
    ],
    np.polysub: [
        (np.polysub, (rng.normal(size=3), rng.normal(size=3))),
        (np.polysub, (rng.normal(size=4), rng.normal(size=2))),
        (np.polysub, (rng.normal(size=1), rng.normal(size=3))),
    ],
    np.real_if_close: [
        (np.real_if_close, (rng.normal(size=3),)),  # real input: returned as is
        (np.real_if_close, (rng.normal(size=3) + 1j,)),  # far from real: returned as is
    ],
}


@pytest.mark.parametrize("func", list(FD_CHECKS), ids=qualified_name)
def test_traced_function_matches_finite_differences(func):
    assert func in TRACED_THROUGH
    for f, args in FD_CHECKS[func]:
        check_grad(f, *args, order=2)


# --- closed forms where finite differences cross a discontinuity -------------------------------


def test_real_if_close_sends_the_real_cotangent_to_a_complex_input():
    z = np.array([1.5 + 0j, -2.0 + 0j, 0.25 + 0j])
    u = np.array([0.3, -1.0, 2.0])
    assert np.real_if_close(nd.GradArray(z, requires_grad=True)).dtype == np.float64
    grad = _vjp(np.real_if_close, z, u)
    np.testing.assert_allclose(grad, u + 0j)


def test_trim_zeros_sends_gradient_to_the_kept_elements_only():
    x = np.array([0.0, 0.0, 1.5, 0.0, -2.0, 0.0])
    u = np.array([0.5, -3.0, 2.0])
    np.testing.assert_allclose(_vjp(np.trim_zeros, x, u), [0, 0, 0.5, -3.0, 2.0, 0])
    front = lambda x: np.trim_zeros(x, trim="f")
    u5 = np.arange(1.0, 5.0)
    np.testing.assert_allclose(_vjp(front, x, u5), [0, 0, 1.0, 2.0, 3.0, 4.0])


def test_trim_zeros_2d_with_axis():
    x = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    f = lambda x: np.trim_zeros(x, axis=0)
    u = np.arange(6.0).reshape(2, 3)
    expected = np.zeros_like(x)
    expected[1:3] = u
    np.testing.assert_allclose(_vjp(f, x, u), expected)


def test_trim_zeros_second_order():
    x = np.array([0.0, 1.5, -2.0, 0.0])
    hess = nd.grad(lambda x: np.sum(nd.grad(lambda y: np.sum(np.trim_zeros(y) ** 3))(x)))(x)
    np.testing.assert_allclose(hess, [0.0, 6 * 1.5, 6 * -2.0, 0.0])


CLOSED_FORM = {np.real_if_close, np.trim_zeros}


# --- bookkeeping -------------------------------------------------------------------------------


def test_every_function_traced_here_is_checked():
    marked = set(_marked_here())
    assert marked, "found no mark_traced call in ndgrad/_rules/traced.py"
    unchecked = [qualified_name(f) for f in marked if f not in FD_CHECKS and f not in CLOSED_FORM]
    assert not unchecked, f"traced without a gradient check: {unchecked}"


PLAIN_CALLS = {
    **FD_CHECKS,
    np.trim_zeros: [(np.trim_zeros, (np.array([0.0, 1.0, 0.0]),))],
    np.real_if_close: [*FD_CHECKS[np.real_if_close], (np.real_if_close, (np.array([1.0 + 0j]),))],
}


@pytest.mark.parametrize("func", sorted(_marked_here(), key=qualified_name), ids=qualified_name)
def test_traced_function_without_grad_matches_numpy(func):
    for f, args in PLAIN_CALLS[func]:
        expected = f(*args)
        got = f(*(nd.GradArray(a) for a in args))
        for e, g in zip(
            expected if isinstance(expected, tuple) else (expected,),
            got if isinstance(got, tuple) else (got,),
            strict=True,
        ):
            assert not getattr(g, "requires_grad", False)
            np.testing.assert_array_equal(np.asarray(g), e)
