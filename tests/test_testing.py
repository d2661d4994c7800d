"""ndgrad.testing: check_grad catches wrong rules, assert_grad_close explains, strategies hold."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndgrad as nd
from ndgrad.testing import assert_grad_close, check_grad
from ndgrad.testing import strategies as nds

X = np.array([0.5, -1.0, 2.0])


# --- check_grad passes on correct gradients ----------------------------------------------------


def test_check_grad_accepts_correct_rules_of_every_kind():
    check_grad(np.sin, X, order=2)
    check_grad(lambda x, y: x * y, X, 2.0, order=2)  # a Python float argument
    check_grad(lambda z: z * np.conj(z) + z**2, X + 1j * X[::-1], order=2)  # complex in and out
    check_grad(lambda x: np.exp(1j * x), X)  # real in, complex out
    check_grad(lambda x: (np.sin(x), np.arange(3), x**2), X)  # tuple output with an int member
    check_grad(lambda x: np.tanh(x) * 2.0, np.linspace(-1.0, 1.0, 100))  # random directions


def test_check_grad_argnums_skips_other_arguments():
    # The second argument has a wrong rule, but only the first is checked.
    check_grad(lambda x, y: x * np.floor(y), X, X + 0.5, argnums=0)


def test_check_grad_rejects_non_float_argnum():
    with pytest.raises(TypeError, match="argument 1"):
        check_grad(lambda x, n: x * n, X, np.arange(3), argnums=(0, 1))


# --- check_grad catches wrong ones --------------------------------------------------------------


def test_check_grad_names_worst_element_and_errors(restore_tables):
    def f(x):
        return x**2

    # Wrong only at index 2, by a factor 1.5 there.
    bad = nd.defvjp(f, lambda g, ans, x: g * 2 * x * np.array([1.0, 1.0, 1.5]))
    with pytest.raises(AssertionError) as info:
        check_grad(lambda x: bad(x), X)
    msg = str(info.value)
    assert "argument 0" in msg
    assert "worst element (2,)" in msg
    assert "ndgrad" in msg and "finite differences" in msg
    assert re.search(r"absolute error [0-9.e+-]+, relative error [0-9.e+-]+", msg)
    assert "1 of 3 element(s)" in msg


def test_check_grad_reports_values_in_failure_message(restore_tables):
    bad = nd.defvjp(lambda x: 3.0 * x, lambda g, ans, x: 2.0 * g)
    with pytest.raises(AssertionError) as info:
        check_grad(lambda x: bad(x), np.array([1.0]), seed=0)
    # A real f with one element: the values are f's own derivative, 2 against 3.
    msg = str(info.value)
    found = re.search(
        r"ndgrad np.float64\(([-0-9.e]+)\), finite differences np.float64\(([-0-9.e]+)", msg
    )
    assert float(found[1]) == 2.0 and float(found[2]) == pytest.approx(3.0)
    assert "relative error 0.333" in msg and "compared: the gradient of f itself" in msg


def test_check_grad_says_when_the_graph_was_cut():
    # ``x.values`` (the data without the graph) cuts it as a stripping conversion would: the
    # zeros ndgrad reports are explained, not left to puzzle over
    def f(x):
        return np.sin(getattr(x, "values", x))  # plain arrays (the differences) have no .values

    with pytest.raises(AssertionError, match="does not depend on some checked argument"):
        check_grad(f, np.array([0.3, 0.5]))
    check_grad(np.sin, np.array([0.3, 0.5]))  # connected: it passes


def test_check_grad_says_what_it_compares_for_vector_outputs(restore_tables):
    bad = nd.defvjp(lambda x: 3.0 * x, lambda g, ans, x: 2.0 * g)
    with pytest.raises(AssertionError) as info:
        check_grad(lambda x: bad(x), np.array([1.0, 2.0]), seed=0)
    # L = sum(u * 3x) for the random u of seed 0: ndgrad says 2u, finite differences 3u.
    u = np.random.default_rng(0).standard_normal(2)
    msg = str(info.value)
    worst = int(np.argmax(np.abs(u)))
    assert f"{2 * u[worst]:.6f}"[:6] in msg and f"{3 * u[worst]:.6f}"[:6] in msg
    assert "Re(sum(conj(u) * f(x)))" in msg and "seed=0" in msg and "not f's own" in msg


def test_check_grad_order_two_catches_wrong_rule_of_a_rule(restore_tables):
    square = nd.defvjp(lambda x: x**2, lambda g, ans, x: g * x)  # wrong: should be 2 g x

    def cube(x):
        return x**3

    # The rule of cube is right at first order but uses square, whose rule is wrong.
    cube = nd.defvjp(cube, lambda g, ans, x: 3 * g * square(x))
    check_grad(cube, X, order=1)
    with pytest.raises(AssertionError, match="second order"):
        check_grad(cube, X, order=2)


def test_check_grad_catches_missing_conjugate(restore_tables):
    # The cotangent of a holomorphic f is g * conj(f'); forgetting conj is a classic bug.
    bad = nd.defvjp(lambda z: z**2, lambda g, ans, z: g * 2 * z)
    z = np.array([1.0 + 1.0j, -0.5 + 2.0j])
    with pytest.raises(AssertionError, match="does not match"):
        check_grad(lambda z: bad(z), z)


def test_check_grad_catches_errors_in_large_inputs(restore_tables):
    bad = nd.defvjp(lambda x: np.sin(x), lambda g, ans, x: g * np.cos(x) * 1.01)
    with pytest.raises(AssertionError, match="random direction"):
        check_grad(lambda x: bad(x), np.linspace(0.0, 1.0, 200))


def test_check_grad_catches_disconnected_gradient():
    # A plain view made by ndarray's own method escapes ndgrad: the gradient is zero, finite
    # differences are not (nd.grad itself now confirms an exactly-zero gradient and raises).
    with pytest.raises((AssertionError, nd.GraphBreakError), match=r"does not match|exactly zero"):
        check_grad(lambda x: np.sin(np.ndarray.view(x, np.ndarray)) + 0.0 * x, X)


# --- assert_grad_close ------------------------------------------------------------------------


def test_assert_grad_close_passes_and_fails_with_details():
    assert_grad_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]))
    with pytest.raises(AssertionError) as info:
        assert_grad_close(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.3, 4.0]]))
    msg = str(info.value)
    assert "worst element (1, 0)" in msg and "actual" in msg and "expected" in msg
    assert "absolute error 0.3" in msg and "relative error 0.0909" in msg


def test_assert_grad_close_names_container_entry():
    actual = (np.ones(2), {"w": np.array([1.0, 5.0])})
    expected = (np.ones(2), {"w": np.array([1.0, 4.0])})
    with pytest.raises(AssertionError, match=re.escape("gradient[1]['w']")):
        assert_grad_close(actual, expected)


def test_assert_grad_close_structure_and_shape_mismatch():
    with pytest.raises(AssertionError, match="different structures"):
        assert_grad_close((np.ones(2),), [np.ones(2)])
    with pytest.raises(AssertionError, match=re.escape("shape (2,)")):
        assert_grad_close(np.ones(2), np.ones(3))


def test_assert_grad_close_nan_and_inf():
    assert_grad_close(np.array([np.nan, np.inf]), np.array([np.nan, np.inf]))
    with pytest.raises(AssertionError, match="worst element \\(0,\\)"):
        assert_grad_close(np.array([np.nan, 1.0]), np.array([0.0, 1.0]))
    with pytest.raises(AssertionError):
        assert_grad_close(np.array([1.0, np.inf]), np.array([1.0, -np.inf]))


def test_assert_grad_close_complex():
    assert_grad_close(np.array([1.0 + 1.0j]), np.array([1.0 + 1.0j]))
    with pytest.raises(AssertionError):
        assert_grad_close(np.array([1.0 + 1.0j]), np.array([1.0 - 1.0j]))


# --- strategies ---------------------------------------------------------------------------------


@given(nds.float_arrays(min_value=-2.0, max_value=3.0))
def test_float_arrays_are_finite_float64_in_bounds(x):
    assert x.dtype == np.float64 and x.ndim <= 3
    assert np.all(np.isfinite(x)) and np.all((x >= -2.0) & (x <= 3.0))


@given(nds.float_arrays(dtype=np.complex128, max_dims=1))
def test_float_arrays_complex(z):
    assert z.dtype == np.complex128 and np.all(np.isfinite(z))


@given(nds.broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes):
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)


@given(nds.well_conditioned_matrices(max_n=5, batch_shape=(2,)))
def test_well_conditioned_matrices_are_well_conditioned(a):
    n = a.shape[-1]
    assert a.shape == (2, n, n)
    assert np.all(np.linalg.cond(a, p=np.inf) <= 2 * n + 1 + 1e-9)


@given(nds.well_conditioned_matrices(positive_definite=True))
def test_positive_definite_matrices(a):
    np.testing.assert_array_equal(a, a.T)
    eig = np.linalg.eigvalsh(a)
    assert eig.min() >= 1 - 1e-9 and eig.max() <= 2 * len(a) + 1 + 1e-9


@given(nds.broadcastable_arrays(2, min_value=-3.0, max_value=3.0))
def test_product_gradient_sums_over_broadcast_axes(xy):
    # The project's own property test, written with its own tools.
    x, y = xy
    gx, gy = nd.grad(lambda x, y: np.sum(x * y), argnums=(0, 1))(x, y)
    bx, by = np.broadcast_arrays(x, y)
    assert gx.shape == x.shape and gy.shape == y.shape
    assert_grad_close(np.sum(gx), np.sum(by), atol=1e-9)
    assert_grad_close(np.sum(gy), np.sum(bx), atol=1e-9)


@given(nds.float_arrays(st.integers(1, 4).map(lambda n: (n,)), min_value=-2.0, max_value=2.0))
def test_nested_grad_agrees_with_hessian_diagonal(x):
    f = lambda x: np.sum(np.sin(x) * x)
    diag = nd.elementwise_grad(nd.elementwise_grad(lambda x: np.sin(x) * x))(x)
    assert_grad_close(np.diag(nd.hessian(f)(x)), diag, atol=1e-12)


def test_hypothesis_is_optional_at_import_time():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import ndgrad, ndgrad.testing, ndgrad.testing.plugin\n"
        "ndgrad.testing.check_grad(lambda x: x * 2.0, 1.0)\n"
        "try:\n"
        "    import ndgrad.testing.strategies\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "ImportError: ndgrad.testing.strategies needs hypothesis" in out.stdout


def test_check_grad_accepts_container_outputs():
    check_grad(lambda x: {"a": np.sin(x), "b": [x**2, np.ones(2)]}, X, order=2)
