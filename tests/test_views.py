"""Writes through views of GradArrays: handled like the copy they amount to, or refused.

Each in-place computation is compared with the same computation written without in-place
operations (a closed form) and with finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray, InPlaceError
from ndgrad.testing import check_grad


def leaf(values):
    return GradArray(np.asarray(values), requires_grad=True)


def _x(*shape):
    return np.random.default_rng(1).standard_normal(shape or (3, 4))


def _grads(f, *args):
    """Gradients of ``sum(f(*args) * weights)`` with fixed weights: one per argument."""
    leaves = [leaf(a) for a in args]
    out = f(*leaves)
    weights = np.random.default_rng(2).standard_normal(out.shape)
    np.sum(out * weights).backward()
    return [x.grad for x in leaves]


def _same_gradients(inplace, closed_form, *args):
    np.testing.assert_allclose(inplace(*map(GradArray, args)), closed_form(*args))
    for got, want in zip(_grads(inplace, *args), _grads(closed_form, *args), strict=True):
        np.testing.assert_allclose(got, want)
    check_grad(inplace, *args, order=2)


def _closed_write(view, y, new):
    """The closed form of ``view(y)[...] = new``: a new array, no in-place write.

    The view is applied to element numbers to find which elements of ``y`` it shows.
    """
    from ndgrad._rules.indexing import scatter_add

    numbers = np.ravel(view(np.arange(y.size).reshape(y.shape)))
    mask = np.zeros(y.size, bool)
    mask[numbers] = True
    spread = scatter_add(np.ravel(new), numbers, (y.size,))
    return np.reshape(np.where(mask, spread, np.ravel(y)), y.shape)


def test_assignment_through_a_slice_view():
    def inplace(x, v):
        y = nd.asarray(x) * 2.0  # a GradArray even when only v is traced
        row = y[1]
        row[1:3] = v
        return y * y

    def closed(x, v):
        return _closed_write(lambda y: y[1, 1:3], x * 2.0, v) ** 2

    _same_gradients(inplace, closed, _x(), _x(2))


VIEWS = [
    lambda y: y[1:, ::2],
    lambda y: y.T[::-1],
    lambda y: y[:, 2],
    lambda y: y[None, 1][0],
    lambda y: y.reshape(12)[3:7],
    lambda y: y[..., 1:][1],
    lambda y: np.swapaxes(y, 0, 1)[1:3],
    lambda y: y.view(),
]


@pytest.mark.parametrize("view", VIEWS)
def test_inplace_ufuncs_through_views_match_closed_form(view):
    def inplace(x, w):
        y = nd.asarray(x) * 1.0
        v = view(y)
        v *= w
        v += w
        return y * x

    def closed(x, w):
        y = x * 1.0
        return _closed_write(view, y, view(y) * w + w) * x

    x = _x()
    w = np.random.default_rng(3).standard_normal(view(x).shape[-1:])
    _same_gradients(inplace, closed, x, w)


@pytest.mark.parametrize("view", VIEWS)
def test_setitem_through_views_matches_closed_form(view):
    def inplace(x, w):
        y = nd.asarray(x) * 1.0
        v = view(y)
        v[...] = w
        return y * x

    def closed(x, w):
        y = x * 1.0
        return _closed_write(view, y, np.broadcast_to(w, view(y).shape)) * x

    x = _x()
    w = np.random.default_rng(3).standard_normal(view(x).shape[-1:])
    _same_gradients(inplace, closed, x, w)


def test_write_to_base_is_seen_by_an_existing_view():
    def inplace(x, v):
        y = nd.asarray(x) * 1.0
        col = y[:, 0]  # a view made before the write
        y[1] = v
        return col * 3.0

    def closed(x, v):
        return np.concatenate([x[:1, 0], v[:1], x[2:, 0]]) * 3.0

    _same_gradients(inplace, closed, _x(), _x(4))


def test_view_of_a_view_write_reaches_the_base():
    def inplace(x, v):
        y = nd.asarray(x) + 0.0
        inner = y[1:][:, 1:][0]
        inner *= v
        return y

    def closed(x, v):
        return _closed_write(lambda y: y[1, 1:], x, x[1, 1:] * v)

    _same_gradients(inplace, closed, _x(), _x(3))


def test_rows_from_iteration_are_views_that_write_back():
    def inplace(x):
        y = x * 1.0
        for row in y:
            row *= row
        return y

    _same_gradients(inplace, lambda x: x * x, _x())


def test_setitem_with_a_recorded_value_into_a_constant_array():
    def inplace(v):
        out = GradArray(np.zeros((2, 3)))
        out[1, ::2] = v
        return out

    def closed(v):
        return np.stack([np.zeros(3), np.stack([v[0], 0.0 * v[0], v[1]])])

    _same_gradients(inplace, closed, _x(2))


def test_write_through_real_view_of_complex_array_in_graph_is_refused():
    # Regression: the base's cotangent was taken as zero on the view's positions, dropping the
    # imaginary part, which the write to .real leaves alone: a silently wrong gradient.
    z = leaf(np.array([1 + 2j, 3 - 1j]))
    y = z * 1.0
    with pytest.raises(InPlaceError, match="real"):
        y.real[...] = 5.0
    with pytest.raises(InPlaceError, match="real"):
        r = y.imag
        r += 1.0


def test_write_through_real_view_outside_a_graph_works():
    y = GradArray(np.array([1 + 2j, 3 - 1j]))
    y.real[...] = 5.0
    np.testing.assert_array_equal(y.values, [5 + 2j, 5 - 1j])
    with nd.no_grad():
        z = leaf(np.array([1 + 2j])) * 1.0
        z.imag[...] = 0.0
    np.testing.assert_array_equal(z.values, [1.0 + 0j])


def test_write_through_a_view_of_a_leaf_is_refused():
    x = leaf(_x())
    with pytest.raises(InPlaceError, match="view of a leaf"):
        x[0][1] = 2.0
    with pytest.raises(InPlaceError):
        x.T[0] += 1.0
