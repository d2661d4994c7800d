"""The graph and the backward pass: leaves, outputs, iterative backward, lifetime."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray


def leaf(values, dtype=float):
    return GradArray(np.asarray(values, dtype=dtype), requires_grad=True)


def test_leaf_attributes():
    x = leaf([1.0, 2.0])
    assert x.requires_grad and x.is_leaf and x.grad is None and x.grad_fn is None
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn == "numpy.multiply"


def test_constructor_copies_like_np_array():
    base = np.array([1.0, 2.0])
    x = GradArray(base)
    base[0] = 5.0
    assert x[0] == 1.0
    assert GradArray([1, 2], dtype=np.float32).dtype == np.float32


def test_integer_array_cannot_require_grad():
    with pytest.raises(TypeError, match="only float and complex"):
        GradArray([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="only float and complex"):
        GradArray([True, False], requires_grad=True)


def test_asarray_keeps_graph_and_array_copies():
    x = leaf([1.0, 2.0])
    y = x * 3
    assert nd.asarray(y) is y
    z = nd.array(y)  # a recorded copy, as np.array is in ndgrad.numpy
    assert z is not y and not np.shares_memory(z, y) and z.requires_grad
    w = nd.array([y, x])  # a list holding GradArrays: a recorded stack
    np.sum(w + z).backward()  # sum over rows of (3x, x), plus z = 3x broadcast to both rows
    np.testing.assert_allclose(x.grad, [10.0, 10.0])


def test_values_is_plain_view():
    x = leaf([1.0, 2.0])
    v = x.values
    assert type(v) is np.ndarray and np.shares_memory(v, x)


def test_detach_shares_data_but_not_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and np.shares_memory(d, y)


def test_repr_shows_requires_grad_and_operation():
    x = leaf([1.0, 2.0])
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=numpy.add" in repr(x + 1)
    assert repr(GradArray([1.0])) == "GradArray([1.])"


def test_integer_and_boolean_results_are_plain():
    x = leaf([1.0, -2.0, 3.0])
    for out in (x > 0, np.isnan(x), np.argmax(x), np.signbit(x)):
        assert not isinstance(out, GradArray)


def test_zero_d_results_stay_grad_arrays():
    x = leaf([1.0, 2.0])
    s = np.sum(x)
    assert isinstance(s, GradArray) and s.shape == ()
    p = x[0] * x[1]
    assert isinstance(p, GradArray) and p.shape == ()
    p.backward()
    np.testing.assert_allclose(x.grad, [2.0, 1.0])


def test_backward_accumulates_into_leaves():
    x = leaf([1.0, 2.0])
    np.sum(x * x).backward()
    np.sum(x * x).backward()
    np.testing.assert_allclose(x.grad, 4 * x.values)
    x.zero_grad()
    assert x.grad is None


def test_shared_upstream_gradient_is_not_aliased():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    np.sum(x + y).backward()
    assert not np.shares_memory(x.grad, y.grad)
    x.grad += 1  # a user's in-place edit of one gradient must not leak into the other
    np.testing.assert_allclose(y.grad, [1.0, 1.0])


def test_node_reached_by_many_paths_visited_once():
    x = leaf(1.0)
    y = x
    for _ in range(60):
        y = y + y
    y.backward()
    assert x.grad == 2.0**60


def test_million_node_chain_has_no_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0


def test_backward_needs_grad_for_non_scalar():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match="needs grad="):
        y.backward()


def test_backward_with_explicit_grad():
    x = leaf([1.0, 2.0])
    (x * 3).backward(grad=np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [3.0, 30.0])


def test_backward_wrong_grad_shape():
    with pytest.raises(ValueError, match="shape"):
        (leaf([1.0, 2.0]) * 3).backward(grad=np.ones(3))


def test_backward_on_array_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        GradArray([1.0]).backward()


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = np.sum(np.exp(x))
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = np.sum(np.exp(x))
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.values))


def test_grad_setter_checks_shape_and_dtype():
    x = leaf([1.0, 2.0])
    x.grad = np.zeros(2)
    with pytest.raises(ValueError, match="shape"):
        x.grad = np.zeros(3)
    with pytest.raises(ValueError, match="dtype"):
        x.grad = np.zeros(2, dtype=np.float32)


def test_requires_grad_cannot_be_changed_on_non_leaf():
    y = leaf([1.0]) * 2
    with pytest.raises(ValueError, match="leaf"):
        y.requires_grad = False


def test_dropping_the_output_frees_intermediates():
    x = leaf(np.ones(4096))  # above COPY_BYTES: saved as is (guarded), not copied
    h = np.exp(x)
    ref = weakref.ref(h.base)  # the buffer that tanh's node saved
    out = np.sum(np.tanh(h) * 2)
    del h
    assert ref() is not None  # kept alive by the graph as a saved array
    del out
    gc.disable()
    try:
        assert ref() is None  # freed by reference counting alone: no cycles
    finally:
        gc.enable()


def test_operations_create_no_reference_cycles():
    # Only ndgrad's objects count: another library's background threads (a Dask cluster an
    # earlier test closed) may make garbage of their own meanwhile.
    x = leaf(np.ones(4))
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept in gc.garbage
    try:
        for _ in range(50):
            y = np.sum(np.sin(x) * x + 1)
            y.backward()
        del y
        gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith("ndgrad")]
        assert not ours, ours[:5]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_leaf_dropped_before_backward_is_harmless():
    x = leaf([1.0, 2.0])
    y = np.sum(x * 2)
    del x
    y.backward()


def test_float32_gradient_stays_float32_with_float64_constant():
    x = leaf([1.0, 2.0], dtype=np.float32)
    np.sum(x * np.array([1.0, 2.0])).backward()  # the product is float64
    assert x.grad.dtype == np.float32


def test_complex_leaf_from_real_operation():
    z = leaf([1 + 1j, 2 - 1j], dtype=complex)
    np.sum(np.real(z * np.conj(z))).backward()  # |z|^2: gradient 2z
    np.testing.assert_allclose(z.grad, 2 * z.values)


def test_outputs_of_constant_arguments_stay_constant():
    x = leaf([1.0, 2.0])
    bx, bc = np.broadcast_arrays(x, np.ones((3, 1)))
    assert bx.requires_grad and not bc.requires_grad
    gx, gy = np.meshgrid(x, np.arange(3.0))
    assert gx.requires_grad and not gy.requires_grad


def test_plain_nested_list_next_to_a_traced_array_in_a_sequence():
    x = leaf([3.0, 4.0])
    y = leaf(2.0)
    s = np.stack([[1.0, y], x])  # [1.0, y] is read as one array
    np.sum(s * s).backward()
    np.testing.assert_allclose(x.grad, [6.0, 8.0])
    np.testing.assert_allclose(y.grad, 4.0)


def test_gradient_of_a_0d_leaf_is_a_writeable_0d_array():
    x = leaf(3.0)
    np.abs(np.abs(x)).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.flags.writeable
    np.abs(x).backward()  # accumulating keeps it an array
    assert type(x.grad) is np.ndarray and x.grad == 2.0


def test_traced_function_with_integer_result_returns_a_plain_array():
    out = np.linspace(GradArray(0.0), GradArray(10.0), 5, dtype=int)
    assert type(out) is np.ndarray and out.dtype.kind == "i"
