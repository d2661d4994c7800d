"""create_graph=True records the backward pass: second derivatives against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray

X = np.array([0.3, 0.7, 1.4])

# f, f'' written out by hand
SECOND = [
    (np.sin, lambda x: -np.sin(x)),
    (np.exp, np.exp),
    (np.log, lambda x: -1 / x**2),
    (np.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (lambda x: x * x * x, lambda x: 6 * x),
    (lambda x: 1.0 / x, lambda x: 2 / x**3),
    (lambda x: x**2.5, lambda x: 2.5 * 1.5 * x**0.5),
    (lambda x: np.power(2.0, x), lambda x: np.log(2) ** 2 * 2**x),
]


@pytest.mark.parametrize(("f", "d2f"), SECOND)
def test_second_derivative_with_create_graph(f, d2f):
    x = GradArray(X, requires_grad=True)
    np.sum(f(x)).backward(create_graph=True)
    first = x.grad
    assert isinstance(first, GradArray) and first.requires_grad
    x.zero_grad()
    np.sum(first).backward()
    np.testing.assert_allclose(x.grad, d2f(X), rtol=1e-10)


def test_second_derivative_of_multiply_and_divide_pair():
    x, y = GradArray(1.5, requires_grad=True), GradArray(0.5, requires_grad=True)
    (x * x / y).backward(create_graph=True)
    gx = x.grad  # 2x / y
    x.zero_grad()
    y.zero_grad()
    gx.backward()
    np.testing.assert_allclose(x.grad, 2 / 0.5)  # d/dx 2x/y
    np.testing.assert_allclose(y.grad, -2 * 1.5 / 0.25)  # d/dy 2x/y


def test_hessian_of_quadratic_form_through_matmul():
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    x = GradArray([1.0, -1.0], requires_grad=True)
    (x @ a @ x).backward(create_graph=True)
    g = x.grad  # (A + A^T) x
    np.testing.assert_allclose(g.values, (a + a.T) @ x.values)
    rows = []
    for i in range(2):
        x.zero_grad()
        g[i].backward(retain_graph=True)
        rows.append(x.grad)
    np.testing.assert_allclose(np.array(rows), a + a.T)


def test_nested_grad_matches_closed_form():
    d3 = nd.grad(nd.grad(nd.grad(lambda x: np.sin(x) * x)))
    x = 0.8
    np.testing.assert_allclose(d3(x), -3 * np.sin(x) - x * np.cos(x))
    assert isinstance(d3(x), float)


def test_no_perturbation_confusion():
    # d/dx [x * d/dy (x * y)]|_{y=1} = d/dx x^2 = 2x
    def inner(x):
        return x * nd.grad(lambda y: x * y)(1.0)

    np.testing.assert_allclose(nd.grad(inner)(3.0), 6.0)
    # Siskind & Pearlmutter: d/dx (x * d/dy (x + y)) = 1, not 2
    np.testing.assert_allclose(nd.grad(lambda x: x * nd.grad(lambda y: x + y)(1.0))(1.0), 1.0)
