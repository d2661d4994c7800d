"""Indexing GradArrays: ``x[key]``, ``x[key] = v`` and ``x[key] += v`` with every index kind.

Forward values must equal NumPy's; gradients must match finite differences (to both ``x`` and
``v``) and, where a closed form is easy to state, that closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ndgrad as nd
from ndgrad import GradArray
from ndgrad.testing import check_grad

_rng = np.random.default_rng(7)
X = _rng.standard_normal((4, 3, 2))
MASK = _rng.standard_normal((4, 3)) > 0

KEYS = {
    "int": 2,
    "negative int": -1,
    "ints": (1, -1, 0),
    "slice": slice(1, 3),
    "negative step": slice(None, None, -2),
    "empty slice": slice(2, 2),
    "slices": (slice(3, 0, -1), slice(None, None, 2)),
    "None": (None, 1),
    "Ellipsis": (Ellipsis, 1),
    "Ellipsis and None": (1, Ellipsis, None),
    "int array with repeats": np.array([0, 2, 2, 0]),
    "list with repeats": [3, 3, 1],
    "2-d int array": np.array([[0, 1], [1, 1]]),
    "negative int array": np.array([-1, -4]),
    "broadcast int arrays": (np.array([[0], [3]]), np.array([2, 2, 0])),
    "bool mask": MASK,
    "bool mask 1-d": np.array([True, False, True, True]),
    "bool 0-d": np.array(True),
    "advanced then basic": (np.array([1, 1]), slice(0, 2)),
    "basic then advanced": (slice(None), np.array([2, 0, 2])),
    "advanced split by slice": (np.array([0, 3]), slice(None), np.array([1, 1])),
    "mask and int": (MASK, 1),
    "0-d result": (1, 2, 0),
    "0-d result of arrays": (np.array(1), np.array(2), np.array(0)),
}


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_getitem_values_match_numpy(key):
    got = GradArray(X, requires_grad=True)[key]
    want = X[key]
    assert isinstance(got, GradArray) and got.requires_grad
    assert got.shape == np.shape(want)
    np.testing.assert_array_equal(got.values, want)


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_getitem_gradient_matches_finite_differences(key):
    check_grad(lambda x: x[key], X, order=2)


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_getitem_gradient_counts_each_read(key):
    x = GradArray(X, requires_grad=True)
    np.sum(x[key]).backward()
    # The closed form: how many times each element was read (np.add.at adds up repeats).
    counts = np.zeros(X.shape)
    np.add.at(counts, key, 1.0)
    np.testing.assert_array_equal(x.grad, counts)


def test_getitem_0d_result_is_a_0d_gradarray():
    x = GradArray(X, requires_grad=True)
    y = x[1, 2, 0]
    assert isinstance(y, GradArray) and y.shape == ()
    y.backward()
    assert x.grad[1, 2, 0] == 1.0 and x.grad.sum() == 1.0


def test_getitem_of_a_0d_array():
    check_grad(lambda x: x[()], np.array(1.5), order=2)
    check_grad(lambda x: x[None, ...], np.array(1.5), order=2)


# --- assignment ---------------------------------------------------------------------------------


def _value_for(key):
    shape = np.shape(X[key])
    return np.random.default_rng(8).standard_normal(shape)


def _assign(key):
    def f(x, v):
        y = nd.asarray(x) * 1.0  # a GradArray even when only v is traced
        y[key] = v
        return y * y

    return f


def _closed_assign(key):
    """``y[key] = v`` without writing: NumPy's last write decides who survives at a position."""

    def f(x, v):
        if np.size(X[key]) == 0:
            return x * x
        winner = np.full(X.shape, -1)
        winner[key] = np.arange(np.size(X[key])).reshape(np.shape(X[key]))
        flat_v = np.reshape(np.broadcast_to(v, np.shape(X[key])), -1)
        from_v = np.reshape(flat_v[np.maximum(np.ravel(winner), 0)], X.shape)
        y = np.where(winner >= 0, from_v, x)
        return y * y

    return f


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_setitem_values_match_numpy(key):
    v = _value_for(key)
    want = X.copy()
    want[key] = v
    got = nd.asarray(X) * 1.0
    got[key] = GradArray(v, requires_grad=True)
    np.testing.assert_array_equal(got.values, want)
    assert got.requires_grad


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_setitem_gradients_match_finite_differences(key):
    check_grad(_assign(key), X, _value_for(key), order=2)


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_setitem_gradients_match_closed_form(key):
    v = _value_for(key)
    grads = []
    for f in (_assign(key), _closed_assign(key)):
        x, value = GradArray(X, requires_grad=True), GradArray(v, requires_grad=True)
        np.sum(f(x, value) * np.arange(X.size).reshape(X.shape)).backward()
        grads.append([0.0 if a.grad is None else a.grad for a in (x, value)])
    for got, want in zip(*grads, strict=True):
        np.testing.assert_allclose(got, want)


def test_setitem_repeated_positions_give_gradient_to_the_last_write_only():
    x, v = (
        GradArray(np.zeros(4), requires_grad=True),
        GradArray([1.0, 2.0, 3.0], requires_grad=True),
    )
    y = x * 1.0
    y[[1, 3, 1]] = v  # NumPy keeps v[2] at position 1
    np.testing.assert_array_equal(y.values, [0.0, 3.0, 0.0, 2.0])
    np.sum(y * np.array([1.0, 10.0, 100.0, 1000.0])).backward()
    np.testing.assert_array_equal(v.grad, [0.0, 1000.0, 10.0])
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 100.0, 0.0])


def test_setitem_broadcast_scalar_value_sums_its_copies():
    def f(x, v):
        y = nd.asarray(x) * 1.0
        y[MASK] = v
        y[:, 0, 1] = v
        return y

    check_grad(f, X, np.array(0.7), order=2)
    x, v = GradArray(X, requires_grad=True), GradArray(0.7, requires_grad=True)
    np.sum(f(x, v)).backward()
    written = np.zeros(X.shape, bool)
    written[MASK] = True
    written[:, 0, 1] = True
    assert v.grad == written.sum()
    np.testing.assert_array_equal(x.grad, ~written)


# --- augmented assignment: x[key] += v --------------------------------------------------------


def _augmented(key):
    def f(x, v):
        y = nd.asarray(x) * 1.0
        y[key] += v
        y[key] *= v
        return y

    return f


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_augmented_assignment_values_match_numpy(key):
    v = _value_for(key)
    want = X.copy()
    want[key] += v
    want[key] *= v
    got = _augmented(key)(GradArray(X, requires_grad=True), GradArray(v, requires_grad=True))
    np.testing.assert_array_equal(got.values, want)


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_augmented_assignment_gradients_match_finite_differences(key):
    check_grad(_augmented(key), X, _value_for(key), order=2)


def test_augmented_assignment_with_repeats_adds_once_like_numpy():
    # Python runs y[k] = y[k] + v: with k = [0, 0] position 0 becomes x[0] + v[1], not + both.
    x, v = GradArray([1.0, 2.0], requires_grad=True), GradArray([10.0, 20.0], requires_grad=True)
    y = x * 1.0
    y[[0, 0]] += v
    np.testing.assert_array_equal(y.values, [21.0, 2.0])
    np.sum(y * np.array([3.0, 5.0])).backward()
    np.testing.assert_array_equal(v.grad, [0.0, 3.0])
    np.testing.assert_array_equal(x.grad, [3.0, 5.0])


def test_add_at_accumulates_every_repeat():
    def f(x, v):
        y = nd.asarray(x) * 1.0
        np.add.at(y, [0, 0, 2], v)
        return y

    check_grad(f, np.arange(3.0), np.array([1.0, 2.0, 3.0]))
    x, v = (
        GradArray(np.zeros(3), requires_grad=True),
        GradArray([1.0, 2.0, 3.0], requires_grad=True),
    )
    y = f(x, v)
    np.testing.assert_array_equal(y.values, [3.0, 0.0, 3.0])
    np.sum(y * np.array([1.0, 10.0, 100.0])).backward()
    np.testing.assert_array_equal(v.grad, [1.0, 1.0, 100.0])


def test_setitem_on_a_leaf_that_requires_grad_raises():
    x = GradArray(X, requires_grad=True)
    with pytest.raises(nd.InPlaceError):
        x[0] = 1.0
    with pytest.raises(nd.InPlaceError):
        x[[0, 1]] += 1.0
    with nd.no_grad():
        x[0] = 1.0
    assert x.is_leaf and np.all(x.values[0] == 1.0)


# --- random keys ------------------------------------------------------------------------------


@st.composite
def _array_and_key(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    kinds = [hnp.basic_indices(shape, allow_newaxis=True)]
    if shape and 0 not in shape:
        kinds.append(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2)))
        kinds.append(hnp.arrays(bool, shape))
    return np.arange(np.prod(shape), dtype=float).reshape(shape), draw(st.one_of(kinds))


@given(_array_and_key())
def test_random_keys_read_and_write_like_numpy(array_and_key):
    x, key = array_and_key
    ours = GradArray(x, requires_grad=True)
    np.testing.assert_array_equal(np.asarray(ours[key]), x[key])
    np.sum(ours[key] * 2.0).backward()
    counts = np.zeros(x.shape)
    np.add.at(counts, key, 2.0)
    np.testing.assert_array_equal(ours.grad, counts)
    # Writing: the value's gradient is 1 where its write survived (the last one), else 0.
    values = np.arange(np.size(x[key]), dtype=float).reshape(np.shape(x[key])) + 100.0
    v = GradArray(values, requires_grad=True)
    y = ours * 1.0
    y[key] = v
    want = x.copy()
    want[key] = v.values
    np.testing.assert_array_equal(y.values, want)
    np.sum(y).backward()
    survived = np.isin(v.values, want)
    got = np.zeros(v.shape) if v.grad is None else v.grad  # None: nothing was written
    np.testing.assert_array_equal(got, survived.astype(float))


# --- selections ndgrad refuses to differentiate -------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda x: np.pad(x, 1, mode="mean"),
        lambda x: np.pad(x, 1, mode="linear_ramp"),
        lambda x: np.pad(x, 1, mode="reflect", reflect_type="odd"),
        lambda x: np.nan_to_num(x * 1.0, copy=False),
    ],
)
def test_refused_selections_raise_instead_of_a_wrong_gradient(call):
    x = GradArray([1.0, 2.0, 4.0], requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError):
        np.sum(call(x)).backward()


@pytest.mark.parametrize("bounds", [(None, 1.5), (0.5, None), (None, None), (0.5, 1.5)])
def test_clip_masks_are_booleans_whichever_bound_is_missing(bounds):
    """A missing bound was Python's False, and ``~False`` is the int -1 (deprecated since
    Python 3.12): the masks are NumPy booleans, and the gradient is 1 where x is kept."""
    from ndgrad._rules.indexing import _clip_parts

    x0 = np.array([0.2, 1.0, 2.0])
    for mask in _clip_parts(x0, *bounds, {}):
        assert np.asarray(mask).dtype == bool
    lo, hi = bounds
    kept = (x0 >= (-np.inf if lo is None else lo)) & (x0 <= (np.inf if hi is None else hi))
    x = GradArray(x0, requires_grad=True)
    np.sum(np.clip(x, lo, hi) * 3.0).backward()
    np.testing.assert_array_equal(x.grad, np.where(kept, 3.0, 0.0))


def test_clip_bound_given_by_keyword_must_be_constant():
    x, hi = GradArray([1.0, 2.0], requires_grad=True), GradArray(1.5, requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError, match="max"):
        np.clip(x, max=hi)
    np.sum(np.clip(x, None, hi)).backward()
    assert hi.grad == 1.0


def test_setitem_with_a_list_holding_gradarrays_is_recorded():
    # Regression: the list was converted to plain values and the gradients of a, b were lost.
    def f(a, b):
        out = GradArray(np.zeros((2, 3)))
        out[0, :2] = [a, b * 2.0]
        out[1] = [a, 1.0, b]
        return out

    check_grad(f, np.array(2.0), np.array(3.0), order=2)
    a, b = GradArray(2.0, requires_grad=True), GradArray(3.0, requires_grad=True)
    out = f(a, b)
    np.testing.assert_array_equal(out.values, [[2.0, 6.0, 0.0], [2.0, 1.0, 3.0]])
    np.sum(out * out).backward()
    assert (a.grad, b.grad) == (8.0, 30.0)
