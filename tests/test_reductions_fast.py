"""The fast paths of the sum, mean, max/min rules and of ``unbroadcast`` (issue 16).

Gradients over every axis combination, with and without keepdims, for small inputs (spread into
a new array) and large ones (a read-only broadcast view), checked against closed forms and
finite differences; and what the engine does with a cotangent that is a broadcast view: it is
never written in place, and ``.grad`` is always an array the user owns.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ndgrad as nd
from ndgrad._registry import unbroadcast

from ._helpers import fd_jacobian

SHAPE = (2, 3, 4)
BIG = (20, 30, 10)  # 6000 elements: above the rules' spread-into-a-copy limit


def _all_axes(ndim):
    """None, every int (also negative), and every tuple of distinct axes (also ``()``)."""
    out = [None, *range(ndim), *range(-ndim, 0)]
    for k in range(ndim + 1):
        out += list(itertools.combinations(range(ndim), k))
    out.append(tuple(range(-1, -ndim - 1, -1)))  # negative and out of order
    return out


def _reduced(axis, ndim):
    if axis is None:
        return set(range(ndim))
    return {a % ndim for a in ((axis,) if isinstance(axis, int) else axis)}


def _expand(w, shape, axis, keepdims):
    """The output cotangent ``w`` broadcast back over the input ``shape`` (closed form)."""
    red = _reduced(axis, len(shape))
    kept = tuple(1 if i in red else n for i, n in enumerate(shape))
    return np.broadcast_to(np.reshape(w, kept), shape)


def _grad_of(f, x0, w):
    """d sum(w * f(x)) / dx through the object API (leaf ``.grad``)."""
    x = nd.GradArray(x0.copy(), requires_grad=True)
    y = f(x)
    np.sum(y * w).backward()
    return x.grad


def _distinct(shape, dtype=float, seed=0):
    """Values with no ties, so that max/min select one element per slice."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(np.prod(shape, dtype=int))).reshape(shape).astype(dtype) / 7


# --- gradients against closed forms, every axis ---------------------------------------------


@pytest.mark.parametrize("shape", [SHAPE, BIG], ids=["small", "big"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "amax", "amin"])
def test_every_axis_matches_the_closed_form(name, keepdims, shape):
    f = getattr(np, name)
    x0 = _distinct(shape)
    rng = np.random.default_rng(1)
    for axis in _all_axes(len(shape)):
        ans = f(x0, axis=axis, keepdims=keepdims)
        w = rng.standard_normal(np.shape(ans))
        g = _grad_of(lambda x, f=f, axis=axis: f(x, axis=axis, keepdims=keepdims), x0, w)
        spread = _expand(w, shape, axis, keepdims)
        if name == "sum":
            want = spread
        elif name == "mean":
            count = np.prod([shape[i] for i in _reduced(axis, len(shape))], dtype=int)
            want = spread / count
        else:  # one selected element per slice (no ties)
            want = np.where(x0 == _expand(ans, shape, axis, keepdims), spread, 0.0)
        assert g.shape == shape and g.dtype == np.float64
        np.testing.assert_allclose(g, want, rtol=1e-14, atol=0, err_msg=f"{name} axis={axis}")


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (-1, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_against_finite_differences(name, axis, keepdims):
    f = getattr(np, name)
    x0 = _distinct(SHAPE, seed=2) + 0.5
    w = np.random.default_rng(3).standard_normal(np.shape(f(x0, axis=axis, keepdims=keepdims)))

    def loss(x):
        return np.sum(np.sin(f(x, axis=axis, keepdims=keepdims)) * w)

    want = fd_jacobian(loss, x0)
    np.testing.assert_allclose(nd.grad(loss)(x0), want, rtol=1e-6, atol=1e-8)
    x = nd.GradArray(x0.copy(), requires_grad=True)
    loss(x).backward()
    np.testing.assert_allclose(x.grad, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("name", "axis"),
    [
        (name, axis)
        for name in ("sum", "mean", "max", "min")
        for axis in (None, 0, -1, ())
        if not (name == "mean" and axis in (0, -1))  # np.mean refuses an axis of a 0-d array
    ],
)
@pytest.mark.parametrize("keepdims", [False, True])
def test_zero_dimensional_inputs(name, axis, keepdims):
    f = getattr(np, name)
    x = nd.GradArray(np.array(1.5), requires_grad=True)
    (f(x, axis=axis, keepdims=keepdims) * 3.0).backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == ()
    assert x.grad == 3.0


def test_ties_split_evenly_and_nan_slices_get_nothing():
    x0 = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, -1.0], [np.nan, 1.0, 5.0, 0.0]])
    w = np.array([2.0, 3.0, 7.0])
    g = _grad_of(lambda x: np.max(x, axis=1), x0, w)
    # row 0: two maxima share 2; row 1: three share 3; row 2: the maximum is NaN, nobody gets 7
    want = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(g, want)
    # the full reduction: two maxima share the cotangent
    g = _grad_of(lambda x: np.max(x), np.array([[1.0, 4.0], [4.0, 0.0]]), 6.0)
    np.testing.assert_array_equal(g, [[0.0, 3.0], [3.0, 0.0]])
    g = _grad_of(lambda x: np.min(x), np.array([1.0, np.nan, 0.0]), 6.0)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])  # the minimum is NaN: nobody selected
    g = _grad_of(lambda x: np.nanmax(x, axis=0), np.array([[np.nan, 2.0], [1.0, 2.0]]), [1.0, 4.0])
    np.testing.assert_array_equal(g, [[0.0, 2.0], [1.0, 2.0]])


def test_where_and_initial():
    x0 = _distinct((3, 4), seed=4)
    mask = np.array([[True, False, True, True]] * 3)
    w = np.array([1.0, 2.0, 3.0])
    g = _grad_of(lambda x: np.sum(x, axis=1, where=mask), x0, w)
    np.testing.assert_array_equal(g, mask * w[:, None])
    g = _grad_of(lambda x: np.mean(x, axis=1, where=mask), x0, w)
    np.testing.assert_allclose(g, mask * w[:, None] / 3, rtol=1e-15)
    g = _grad_of(lambda x: np.max(x, axis=1, where=mask, initial=-np.inf), x0, w)
    picked = np.where(mask, x0, -np.inf)
    np.testing.assert_array_equal(g, (picked == picked.max(axis=1, keepdims=True)) * w[:, None])
    # ``initial`` wins: nobody is selected
    g = _grad_of(lambda x: np.max(x, initial=1e9), x0, 5.0)
    np.testing.assert_array_equal(g, np.zeros((3, 4)))


def test_dtype_argument_and_float32():
    x0 = _distinct((5, 6), np.float32)
    g = _grad_of(lambda x: np.sum(x, axis=0, dtype=np.float64), x0, np.arange(6.0))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, np.broadcast_to(np.arange(6.0, dtype=np.float32), (5, 6)))
    g = _grad_of(lambda x: np.mean(x, axis=1), x0, np.float32(3.0))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, np.full((5, 6), np.float32(3.0) / np.float32(6)))
    for axis in (None, 0, 1):
        w = np.ones(np.shape(np.max(x0, axis=axis)), np.float32) * np.float32(0.1)
        g = _grad_of(lambda x, axis=axis: np.max(x, axis=axis), x0, w)
        assert g.dtype == np.float32
        want = np.where(x0 == np.max(x0, axis=axis, keepdims=True), np.float32(0.1), 0)
        np.testing.assert_array_equal(g, want.astype(np.float32))
    x64 = _distinct((4, 5))
    g = _grad_of(lambda x: np.mean(x, dtype=np.float32), x64, 1.0)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.full((4, 5), 1 / 20), rtol=1e-7)


@pytest.mark.parametrize("shape", [SHAPE, BIG], ids=["small", "big"])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_complex(name, shape):
    """``|f(z)|^2`` has gradient ``2 f(z) * df/dz*`` (the PyTorch convention): checked by finite
    differences in the real and imaginary parts."""
    f = getattr(np, name)
    rng = np.random.default_rng(5)
    z0 = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    axis = (0, 2)

    def loss(z):
        return np.sum(np.abs(f(z, axis=axis)) ** 2)

    g = nd.grad(loss)(z0)
    count = 1 if name == "sum" else shape[0] * shape[2]
    np.testing.assert_allclose(g, 2 * _expand(f(z0, axis=axis), shape, axis, False) / count)
    if shape == SHAPE:
        re = fd_jacobian(lambda r: loss(r + 1j * z0.imag), z0.real)
        im = fd_jacobian(lambda i: loss(z0.real + 1j * i), z0.imag)
        np.testing.assert_allclose(g, re + 1j * im, rtol=1e-6)


@pytest.mark.parametrize("shape", [SHAPE, BIG], ids=["small", "big"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_second_order_through_recorded_rules(name, keepdims, shape):
    """With a grad of a grad the rules run on GradArrays (the recorded path). For
    ``L = sum(f(x, axis)**2)`` the Hessian-vector product is ``2 * spread(f'(v))``-shaped:
    ``2 * spread(sum(v))`` for sum, divided by the count squared for mean, and ``2 * v`` at the
    selected elements for max (no ties)."""
    f = getattr(np, name)
    axis = (0, -1)
    x0 = _distinct(shape)
    v = np.random.default_rng(10).standard_normal(shape)

    def loss(x):
        return np.sum(f(x, axis=axis, keepdims=keepdims) ** 2)

    hv = nd.grad(lambda x: np.sum(nd.grad(loss)(x) * v))(x0)
    count = shape[0] * shape[2]
    if name == "sum":
        want = 2 * _expand(np.sum(v, axis=axis), shape, axis, False)
    elif name == "mean":
        want = 2 * _expand(np.sum(v, axis=axis), shape, axis, False) / count**2
    else:
        want = 2 * v * (x0 == _expand(np.max(x0, axis=axis), shape, axis, False))
    np.testing.assert_allclose(hv, want, rtol=1e-12, atol=1e-15)


def test_large_spread_is_a_read_only_view():
    """Above the copy limit the cotangent of a sum or mean is a zero-stride view (no pass over
    memory), read-only, with the values of the closed form; a non-contiguous ``g`` (what a
    transpose's rule passes on) takes ``np.broadcast_to``."""
    from ndgrad._registry import VJP_RULES, ArrayMeta

    sum_rule, mean_rule = VJP_RULES[np.sum].rules[0], VJP_RULES[np.mean].rules[0]
    meta = ArrayMeta(BIG, np.dtype(float))
    c = sum_rule(np.array(2.0), None, meta)
    assert c.shape == BIG and c.strides == (0, 0, 0) and not c.flags.writeable
    assert np.all(c == 2.0)
    c = mean_rule(np.full(30, 3.0), None, meta, axis=(0, 2))
    assert c.strides[0] == c.strides[2] == 0 and not c.flags.writeable
    np.testing.assert_array_equal(c, np.full(BIG, 3.0 / 200))
    g = np.asfortranarray(np.arange(600.0).reshape(20, 30))
    for keepdims in (False, True):
        gk = g[:, :, None] if keepdims else g
        c = sum_rule(gk, None, meta, axis=-1, keepdims=keepdims)
        assert not c.flags.writeable
        np.testing.assert_array_equal(c, np.broadcast_to(g[:, :, None], BIG))
    # through the engine: the transpose passes a non-contiguous cotangent to the sum
    rng = np.random.default_rng(11)
    x0, w = rng.standard_normal(BIG), rng.standard_normal((30, 20))
    g = _grad_of(lambda x: np.transpose(np.sum(x, axis=2)), x0, w)
    np.testing.assert_array_equal(g, np.broadcast_to(w.T[:, :, None], BIG))


# --- a broadcast cotangent is never written in place -----------------------------------------


@pytest.mark.parametrize("shape", [(10, 5), (100, 50)], ids=["small", "big"])
def test_sum_cotangent_used_twice(shape):
    """``y = sum(x); z = y * x + sum(x, axis=0)``: three cotangents for ``x``, the first of
    which may be a read-only broadcast view; closed form."""
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal(shape)
    w = rng.standard_normal(shape)
    x = nd.GradArray(x0.copy(), requires_grad=True)
    y = np.sum(x)
    z = y * x + np.sum(x, axis=0)
    np.sum(z * w).backward()
    want = np.sum(w * x0) + np.sum(x0) * w + np.sum(w, axis=0)
    np.testing.assert_allclose(x.grad, want, rtol=1e-12)
    assert x.grad.flags.writeable


@pytest.mark.parametrize("n", [8, 6000])
def test_the_same_reduction_result_used_twice(n):
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((n // 2, 2))
    a, b = rng.standard_normal(2), rng.standard_normal(2)
    x = nd.GradArray(x0.copy(), requires_grad=True)
    y = np.sum(x, axis=0)
    (np.sum(y * a) + np.sum(y * b) + np.sum(x) + np.mean(x) + np.max(x)).backward()
    want = (a + b)[None, :] + 1.0 + 1.0 / n + (x0 == x0.max())
    np.testing.assert_allclose(x.grad, np.broadcast_to(want, x0.shape), rtol=1e-12)


@pytest.mark.parametrize("n", [8, 6000])
def test_grad_is_an_array_the_user_owns(n):
    """A sum's cotangent may be a zero-stride view: ``.grad`` must still be a writable array of
    its own, one value per element, shared with no other leaf."""
    x = nd.GradArray(np.ones(n), requires_grad=True)
    y = nd.GradArray(np.ones(n), requires_grad=True)
    (np.sum(x + y) + np.mean(x)).backward()  # add passes one view to both
    for leaf in (x, y):
        assert type(leaf.grad) is np.ndarray and leaf.grad.flags.writeable
        assert leaf.grad.strides == (8,)
    assert not np.shares_memory(x.grad, y.grad)
    x.grad[0] = 100.0
    assert x.grad[1] == 1.0 + 1.0 / n and np.all(y.grad == 1.0)
    np.sum(x).backward()  # accumulates into .grad
    assert x.grad[0] == 101.0 and x.grad[1] == 2.0 + 1.0 / n
    x2 = nd.GradArray(np.ones(n), requires_grad=True)
    np.sum(x2 + x2).backward()  # two views of one cotangent for the same leaf
    np.testing.assert_array_equal(x2.grad, np.full(n, 2.0))
    x2.grad[0] = 7.0
    assert x2.grad[1] == 2.0
    g = nd.grad(lambda v: np.sum(v))(np.ones(n))
    assert g.flags.writeable and g.strides == (8,)


# --- unbroadcast ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("g_shape", "shape"),
    [
        ((3, 4), (4,)),
        ((2, 3, 4), (3, 4)),
        ((2, 3, 4), (4,)),
        ((8,), ()),
        ((2, 3), ()),
        ((3, 4), (1, 4)),
        ((3, 4), (3, 1)),
        ((2, 3, 4), (3, 1)),
        ((2, 3, 4), (1, 1, 1)),
        ((1, 3), (3,)),
        ((0, 3), (3,)),
        ((3, 4), (3, 4)),
        ((2, 1, 2, 1, 2, 1, 2, 1, 2, 5), (5,)),  # more leading axes than the precomputed ones
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_unbroadcast_is_the_plain_sum(g_shape, shape, dtype):
    rng = np.random.default_rng(8)
    g = (rng.standard_normal(g_shape) * 10).astype(dtype)
    lead = len(g_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g_shape[lead + i] != 1
    )
    want = np.sum(g, axis=axes, keepdims=True).reshape(shape)
    got = unbroadcast(g, shape)
    assert type(got) is np.ndarray and got.shape == shape and got.dtype == dtype
    np.testing.assert_array_equal(got, want)  # the same reduction: bit for bit


def test_unbroadcast_gradients_of_binary_ufuncs():
    rng = np.random.default_rng(9)
    x0, b0, s0 = rng.standard_normal((32, 16)), rng.standard_normal(16), np.array(0.3)
    c0 = rng.standard_normal((32, 1))
    w = rng.standard_normal((32, 16))

    def loss(b, s, c):
        return np.sum((x0 * b + s) * c * w)

    gb, gs, gc = nd.grad(loss, argnums=(0, 1, 2))(b0, s0, c0)
    np.testing.assert_allclose(gb, np.sum(x0 * c0 * w, axis=0), rtol=1e-12)
    np.testing.assert_allclose(gs, np.sum(c0 * w), rtol=1e-12)
    np.testing.assert_allclose(gc, np.sum((x0 * b0 + s0) * w, axis=1, keepdims=True), rtol=1e-12)
    assert np.shape(gs) == ()
    # recorded (create_graph): d^2/db^2 sum((x + b)^2) = 2 * rows
    h = nd.hessian(lambda b: np.sum((x0[:3, :2] + b) ** 2))(b0[:2])
    np.testing.assert_allclose(h, 6.0 * np.eye(2))


# --- NumPy's array methods, called for the functions on the compiled path -------------------------

METHOD_CALLS = [
    ((), {}),
    ((1,), {}),
    ((), {"axis": (0, 2), "keepdims": True}),
    ((None, None, None, True), {}),  # keepdims by position: the same order as the method's
    ((), {"axis": 1, "where": np.array([True, False, True])[:, None]}),  # an array: the wrapper
    ((1, np.float64), {}),  # a dtype by position: the function's wrapper
    ((), {"axis": 0, "keepdims": np._NoValue}),  # NumPy's no-value marker: only the function
]


@pytest.mark.parametrize("func", [np.sum, np.mean, np.prod, np.max, np.amax, np.min, np.amin])
@pytest.mark.parametrize("call", range(len(METHOD_CALLS)))
def test_the_array_method_gives_what_the_function_gives(func, call):
    args, kwargs = METHOD_CALLS[call]
    if func in (np.max, np.amax, np.min, np.amin):  # no dtype= parameter
        if "where" in kwargs:
            kwargs = dict(kwargs, initial=0.5)  # a where= mask needs initial= for an extremum
        if args in ((None, None, None, True), (1, np.float64)):
            args = args[:1] + args[2:]
    a = np.random.default_rng(3).uniform(0.5, 1.5, SHAPE)
    x = nd.GradArray(a, requires_grad=True)
    got = func(x, *args, **kwargs)
    expected = func(a, *args, **kwargs)
    assert got.shape == np.shape(expected) and got.dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(np.asarray(got.values), expected)
    np.sum(got * 1.5).backward()
    jac = fd_jacobian(lambda v: np.sum(func(v, *args, **kwargs)) * 1.5, a)
    np.testing.assert_allclose(x.grad, jac.reshape(a.shape), rtol=1e-5, atol=1e-6)


def test_the_array_method_is_what_the_compiled_path_calls(monkeypatch):
    from ndgrad._registry import VJP_RULES

    calls = []
    method = VJP_RULES[np.sum].array_method
    assert method is np.ndarray.sum
    monkeypatch.setattr(
        VJP_RULES[np.sum], "array_method", lambda *a, **k: calls.append(a[1:]) or method(*a, **k)
    )
    x = nd.GradArray(np.ones(SHAPE), requires_grad=True)
    np.sum(x, 1)
    np.sum(x, 1, np.float64)  # a dtype by position: NumPy's function
    assert calls == [(1,)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("keepdims", [False, True])
def test_the_compiled_spread_is_the_python_one(keepdims, dtype):
    # _core.spread_small takes a plain or scalar cotangent of a small input, every int or tuple
    # axis; the Python path (``_spread`` with the compiled form turned off by a limit of -1) is
    # the definition: the same values, shape, dtype and a new writable array, for every axis
    from ndgrad import _core
    from ndgrad._rules import reductions

    rng = np.random.default_rng(0)
    for axis in _all_axes(len(SHAPE)):
        reduced = np.sum(np.zeros(SHAPE), axis=axis, keepdims=keepdims)
        g = rng.standard_normal(reduced.shape).astype(dtype)
        if g.ndim == 0:
            g = g[()]  # a NumPy scalar, as a full reduction hands it
        for divisor in (1, 6, 24):
            small = _core.spread_small(g, SHAPE, axis, keepdims, divisor, 4096)
            expected = np.broadcast_to(_expand(np.asarray(g), SHAPE, axis, keepdims), SHAPE)
            expected = expected / np.asarray(divisor).astype(dtype)
            assert type(small) is np.ndarray and small.base is None and small.flags.writeable
            assert small.dtype == dtype and small.shape == SHAPE, (axis, divisor)
            np.testing.assert_allclose(small, expected, rtol=1e-6, err_msg=str(axis))
            limit = reductions._SPREAD_COPY_MAX
            try:
                reductions._SPREAD_COPY_MAX = -1  # neither path copies: the view's values
                view = reductions._spread(g, SHAPE, axis, keepdims, divisor)
            finally:
                reductions._SPREAD_COPY_MAX = limit
            np.testing.assert_array_equal(small, view)


def test_the_compiled_spread_leaves_other_cases_to_python():
    from ndgrad import _core

    g = np.ones(3)
    assert _core.spread_small(g, (2, 3), 0, False, 1, 5) is None  # 6 elements, above the limit
    assert _core.spread_small(nd.GradArray(g), (2, 3), 0, False, 1, 4096) is None  # recorded
    assert _core.spread_small(g, (2, 3), np.int64(0), False, 1, 4096) is None  # NumPy's int
    assert _core.spread_small(g, (2, 3), [0], False, 1, 4096) is None  # a list of axes
    assert _core.spread_small(g, [2, 3], 0, False, 1, 4096) is None  # a shape not a tuple
    assert _core.spread_small([1.0, 1.0, 1.0], (2, 3), 0, False, 1, 4096) is None
    with pytest.raises(TypeError):
        _core.spread_small(g, (2, 3), 0, False, 1)
