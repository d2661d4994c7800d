"""In-place operations, version counters and views, as DESIGN.md specifies them."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray, InPlaceError


def leaf(values):
    return GradArray(np.asarray(values, dtype=float), requires_grad=True)


def test_inplace_on_leaf_that_requires_grad_raises_with_hint():
    w = leaf([1.0, 2.0])
    with pytest.raises(InPlaceError, match="no_grad"):
        w += 1
    with pytest.raises(InPlaceError):
        w[0] = 3.0
    with pytest.raises(InPlaceError):
        np.multiply(w, 2, out=w)


def test_inplace_on_leaf_allowed_under_no_grad():
    w = leaf([1.0, 2.0])
    with nd.no_grad():
        w -= 0.5
        w[1] = 7.0
    np.testing.assert_allclose(w.values, [0.5, 7.0])
    assert w.is_leaf and w.requires_grad


def test_modified_saved_input_is_copied_on_write():
    x = leaf([1.0, 2.0])
    h = x + 0  # a non-leaf
    y = h * h  # multiply saves h
    h += 1  # the node keeps a copy of the old h; the write proceeds
    np.testing.assert_array_equal(h.values, [2.0, 3.0])
    np.sum(y).backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])  # d/dx x^2, the value y was computed from


def test_modified_saved_output_is_copied_on_write():
    x = leaf([1.0, 2.0])
    y = np.exp(x)  # exp's rule reads its output
    z = np.sum(y)
    y += 1
    z.backward()
    np.testing.assert_allclose(x.grad, np.exp([1.0, 2.0]))


def test_inplace_after_an_op_that_saved_nothing_is_fine():
    x, b = leaf([1.0, 2.0]), leaf([0.5, 0.5])
    h = x + 1  # add saves nothing
    h += b
    np.sum(h * 3).backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])
    np.testing.assert_allclose(b.grad, [3.0, 3.0])


def test_bias_added_in_place_to_a_matmul_gets_its_gradient():
    a = np.arange(6.0).reshape(2, 3)
    w, b = leaf(np.ones((3, 2))), leaf([1.0, -1.0])
    h = a @ w
    h += b
    np.sum(h).backward()
    np.testing.assert_allclose(b.grad, [2.0, 2.0])
    np.testing.assert_allclose(w.grad, a.T @ np.ones((2, 2)))


def test_repeated_inplace_multiplication():
    x = leaf([1.0, 2.0])
    h = x * 1
    h *= 2
    h *= h  # h = (2x)^2
    np.sum(h).backward()
    np.testing.assert_allclose(x.grad, 8 * x.values)


def test_out_argument_records_new_value():
    x = leaf([1.0, 2.0])
    out = GradArray(np.zeros(2))
    np.multiply(x, x, out=out)
    np.sum(out).backward()
    np.testing.assert_allclose(x.grad, 2 * x.values)


def test_plain_out_with_grad_input_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(nd.NotDifferentiableError, match="out="):
        np.exp(x, out=np.zeros(2))


def test_where_with_out_keeps_old_values_and_their_gradient():
    x, o = leaf([1.0, 2.0, 3.0]), leaf([10.0, 20.0, 30.0])
    out = o * 1
    mask = np.array([True, False, True])
    np.multiply(x, x, out=out, where=mask)
    np.testing.assert_allclose(out.values, [1.0, 20.0, 9.0])
    np.sum(out).backward()
    np.testing.assert_allclose(x.grad, [2.0, 0.0, 6.0])
    np.testing.assert_allclose(o.grad, [0.0, 1.0, 0.0])


def test_where_without_out_masks_the_gradient():
    x = leaf([4.0, -1.0])
    y = np.sqrt(x, where=x > 0, out=GradArray(np.zeros(2)))
    np.sum(y).backward()
    np.testing.assert_allclose(x.grad, [0.25, 0.0])


def test_setitem_sends_gradient_to_both_array_and_value():
    x, v = leaf([1.0, 2.0, 3.0]), leaf(5.0)
    y = x * 2
    y[1] = v * v
    np.sum(y * y).backward()
    np.testing.assert_allclose(x.grad, [8.0, 0.0, 24.0])  # d/dx (2x)^2 outside index 1
    np.testing.assert_allclose(v.grad, 4 * 5.0**3)  # d/dv v^4


def test_indexed_inplace_add():
    x, v = leaf([1.0, 2.0, 3.0]), leaf([10.0, 20.0])
    y = x * 1
    y[1:] += v
    np.sum(y * y).backward()
    expected = 2 * np.array([1.0, 12.0, 23.0])
    np.testing.assert_allclose(x.grad, expected)
    np.testing.assert_allclose(v.grad, expected[1:])


def test_write_through_a_view_updates_the_base():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    y = x * 1
    v = y[:2]
    v *= 3  # y is now [3, 6, 3, 4] and stands for it
    np.testing.assert_allclose(y.values, [3.0, 6.0, 3.0, 4.0])
    np.sum(y * y).backward()
    np.testing.assert_allclose(x.grad, [18.0, 36.0, 6.0, 8.0])


def test_view_of_modified_base_is_rerecorded():
    x = leaf([1.0, 2.0])
    y = x * 1
    v = y[:1]
    y *= 5  # v's values changed through its base
    np.testing.assert_allclose(v.values, [5.0])
    np.sum(v * v).backward()
    np.testing.assert_allclose(x.grad, [50.0, 0.0])  # d/dx0 (5 x0)^2


def test_view_of_leaf_updated_under_no_grad_is_rerecorded():
    w = leaf([1.0, 2.0])
    first = w[:1]
    with nd.no_grad():
        w *= 3
    np.sum(first * first).backward()
    np.testing.assert_allclose(w.grad, [6.0, 0.0])


def test_write_through_view_of_leaf_raises():
    w = leaf([1.0, 2.0])
    v = w[:1]
    with pytest.raises(InPlaceError, match="view of a leaf"):
        v += 1


def test_transposed_view_write():
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = x * 1
    t = y.T
    t[0] += 10  # adds 10 to column 0 of y
    np.testing.assert_allclose(y.values[:, 0], [10.0, 13.0])
    np.sum(y * y).backward()
    np.testing.assert_allclose(x.grad, 2 * y.values)


def test_write_to_base_after_a_view_was_saved_is_copied_on_write():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    s = np.sum(y[1:] * y[1:])  # multiply saved the view
    y[2] = 0.0
    s.backward()
    np.testing.assert_allclose(x.grad, [0.0, 4.0, 6.0])


def test_integer_index_of_1d_is_a_copy_as_in_numpy():
    y = leaf([1.0, 2.0]) * 1
    first = y[0]
    y *= 5
    assert first == 1.0  # NumPy returns a scalar copy here, and so does ndgrad (0-d)


def test_user_inputs_are_never_modified():
    a = np.array([1.0, 2.0, 3.0])
    before = a.copy()
    g = nd.grad(lambda x: np.sum(np.exp(x) * x))(a)
    np.testing.assert_array_equal(a, before)
    np.testing.assert_allclose(g, np.exp(a) * (1 + a))
