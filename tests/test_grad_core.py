"""grad and value_and_grad: arguments, outputs, and the errors they give."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray


def test_grad_returns_plain_arrays_and_python_floats():
    g = nd.grad(lambda x: np.sum(x**2))(np.array([1.0, 2.0]))
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, [2.0, 4.0])
    assert nd.grad(lambda x: x**2)(3.0) == 6.0
    assert isinstance(nd.grad(lambda x: x**2)(3.0), float)


def test_argnums_tuple():
    f = lambda x, y: np.sum(x * y**2)
    gx, gy = nd.grad(f, argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_allclose(gx, [9.0, 16.0])
    np.testing.assert_allclose(gy, [6.0, 16.0])


def test_value_and_grad():
    v, g = nd.value_and_grad(lambda x: np.sum(np.exp(x)))(np.zeros(3))
    assert float(v) == 3.0
    np.testing.assert_allclose(g, np.ones(3))


def test_callers_arrays_untouched():
    w = GradArray([1.0, 2.0], requires_grad=True)
    plain = np.array([1.0, 2.0])
    nd.grad(lambda x: np.sum(x * x))(plain)
    nd.grad(lambda x: np.sum(x * x))(w)
    assert w.grad is None
    np.testing.assert_array_equal(plain, [1.0, 2.0])


def test_asarray_inside_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"np\.asarray"):
        nd.grad(lambda x: np.sum(np.asarray(x) ** 2), scope=False)(np.ones(2))


def test_allow_unused_gives_zeros():
    g = nd.grad(lambda x, y: np.sum(x), argnums=1, allow_unused=True)(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_output_must_have_one_element():
    with pytest.raises(ValueError, match="exactly one element"):
        nd.grad(lambda x: x * 2)(np.ones(3))
    np.testing.assert_allclose(nd.grad(lambda x: x * 2)(np.ones(1)), [2.0])


def test_complex_output_is_type_error():
    with pytest.raises(TypeError, match="complex"):
        nd.grad(lambda x: np.sum(x * 1j))(np.ones(2))


def test_boolean_output_is_type_error():
    with pytest.raises(TypeError):
        nd.grad(lambda x: np.all(x > 0))(np.ones(2))


def test_integer_input_is_a_clear_error():
    with pytest.raises(TypeError, match="float"):
        nd.grad(lambda x: x * 2.0)(3)


def test_has_aux():
    g, aux = nd.grad(lambda x: (np.sum(x**2), "note"), has_aux=True)(np.ones(2))
    np.testing.assert_allclose(g, [2.0, 2.0])
    assert aux == "note"


def test_not_differentiable_error_is_type_error_naming_function():
    x = GradArray([1.0, 2.0], requires_grad=True)
    err = nd.NotDifferentiableError
    assert issubclass(err, TypeError)
    with pytest.raises(err, match="defvjp"):
        np.maximum.reduceat(x, [0, 1])


def test_backward_of_a_complex_output_needs_grad():
    """As in PyTorch: a complex value has no gradient; seeding 1 silently meant Re(z)."""
    z = nd.GradArray(np.array(1 + 1j), requires_grad=True)
    with pytest.raises(ValueError, match="complex output needs grad="):
        (z * z).backward()
    (z * z).backward(grad=1.0)  # the cotangent of Re(z * z): d Re(z^2) = 2 conj(z) here
    assert z.grad == 2 * np.conj(1 + 1j)


def test_backward_with_a_complex_grad_on_a_real_output_raises():
    x = nd.GradArray(np.array(1.5), requires_grad=True)
    with pytest.raises(ValueError, match="complex cotangent for a real output"):
        (x * x).backward(grad=np.array(1 + 1j))
    with pytest.raises(ValueError, match="complex cotangent"):
        (x * x).backward(grad=1 + 0j)
    assert x.grad is None


def test_reading_grad_of_a_non_leaf_warns_with_the_fix():
    """``w = w - lr * w.grad`` makes w a non-leaf: its .grad stays None; say what to do."""
    w = nd.GradArray(np.ones(2), requires_grad=True)
    np.sum(w * w).backward()
    w = w - 0.1 * w.grad
    np.sum(w * w).backward()
    with pytest.warns(UserWarning, match=r"non-leaf.*nd.no_grad\(\): w -= lr \* w.grad") as rec:
        assert w.grad is None
    assert rec[0].filename == __file__  # points at the user's line
    leaf = nd.GradArray(np.ones(2), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert leaf.grad is None and nd.GradArray(np.ones(2)).grad is None
