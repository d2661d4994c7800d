"""nd.tracing / nd.differentiable: np.asarray and friends keep GradArrays, only in the scope."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray
from ndgrad.testing import check_grad
from ndgrad.tracing import _ORIGINALS

from ._helpers import race


def legacy_square_sum(x):
    x = np.asarray(x, dtype=float)
    return np.sum(x**2)


def legacy_buffer(x):
    """Allocates a buffer and fills it element by element, as old code does."""
    x = np.asarray(x)
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = np.sin(x[i]) * x[i]
    return out


def test_asarray_strips_the_graph_without_tracing():
    with pytest.raises(ValueError, match="does not depend on the input"):
        nd.grad(legacy_square_sum, scope=False)(np.array([1.0, 2.0]))


def test_differentiable_keeps_the_graph_through_asarray():
    g = nd.grad(nd.differentiable(legacy_square_sum))(np.array([1.0, -2.0, 0.5]))
    np.testing.assert_allclose(g, [2.0, -4.0, 1.0])


def test_tracing_context_keeps_the_graph_through_asarray():
    def f(x):
        with nd.tracing():
            return legacy_square_sum(x)

    np.testing.assert_allclose(nd.grad(f)(np.array([3.0])), [6.0])


def test_buffers_allocated_in_scope_record_item_assignment():
    x = np.array([0.3, -1.1, 2.0])
    check_grad(nd.differentiable(legacy_buffer), x, order=2)
    expected = np.sin(x) + x * np.cos(x)
    np.testing.assert_allclose(nd.grad(lambda x: np.sum(nd.differentiable(legacy_buffer)(x)))(x),
                               expected)  # fmt: skip


def test_array_makes_a_recorded_copy():
    def f(x):
        y = np.array(x)  # a copy: writing into it must not touch x
        y[0] = 0.0
        return np.sum(y * x)

    x = np.array([1.0, 2.0, 3.0])
    # f = x1^2 + x2^2: y[0] was overwritten by a constant, and x itself was not.
    np.testing.assert_allclose(nd.grad(nd.differentiable(f))(x), [0.0, 4.0, 6.0])
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_array_of_a_list_of_grad_arrays_is_stacked():
    def f(a, b):
        m = np.array([[a, b], [b, 1.0]])
        return m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]

    ga, gb = nd.grad(nd.differentiable(f), argnums=(0, 1))(2.0, 3.0)
    assert (ga, gb) == (1.0, -6.0)


def test_asarray_dtype_change_is_recorded():
    def f(x):
        return np.sum(np.asarray(x, dtype=np.float32).astype(float) ** 2)

    g = nd.grad(nd.differentiable(f))(np.array([1.5, 2.0]))
    np.testing.assert_allclose(g, [3.0, 4.0])


def test_ndmin_and_contiguous_keep_the_graph():
    def f(x):
        y = np.array(x, ndmin=2)
        z = np.ascontiguousarray(y.T)
        return np.sum(np.asfortranarray(z) ** 3)

    check_grad(nd.differentiable(f), np.array([0.5, -1.0]), order=2)


def test_place_putmask_copyto_are_recorded_into_scope_buffers():
    def f(x):
        x = np.asarray(x)
        out = np.empty(4)
        out.fill(0.0)
        np.place(out, np.array([True, False, True, False]), x[:2] ** 2)
        np.putmask(out, np.array([False, True, False, False]), x * 3)
        np.copyto(out, np.sin(x), where=np.array([False, False, False, True]))
        return out

    x = np.array([0.7, -0.4, 1.3, 0.2])
    check_grad(nd.differentiable(f), x, order=2)
    # putmask takes element n of the values for element n of the target.
    np.testing.assert_allclose(nd.differentiable(f)(x), [0.49, -1.2, 0.16, np.sin(0.2)])


def test_writing_a_recorded_value_into_an_old_plain_buffer_raises():
    out = np.zeros(2)

    def f(x):
        np.place(out, np.array([True, True]), x)
        return np.sum(out)

    with pytest.raises(nd.NotDifferentiableError, match="plain ndarray"):
        nd.grad(nd.differentiable(f))(np.array([1.0, 2.0]))


def test_plain_arrays_are_unchanged_inside_the_scope():
    a = np.arange(6.0).reshape(2, 3)
    with nd.tracing():
        assert np.asarray(a) is a
        b = np.array(a)
        assert type(b) is np.ndarray and b is not a and np.shares_memory(b, a) is False
        assert type(np.asarray([1, 2])) is np.ndarray
        assert type(np.zeros(3, dtype=int)) is np.ndarray
        assert type(np.asarray(a, dtype=np.float32)) is np.ndarray


def test_scope_is_restored_after_an_exception():
    with pytest.raises(RuntimeError), nd.tracing():
        raise RuntimeError("boom")
    assert not nd.is_tracing()
    assert np.asarray is _ORIGINALS["asarray"]
    x = GradArray([1.0], requires_grad=True)
    assert type(np.asarray(x)) is np.ndarray


def test_numpy_names_are_restored_when_the_last_scope_closes():
    import scipy.special._basic as basic

    with nd.tracing():
        assert np.asarray is not _ORIGINALS["asarray"]
        assert basic.asarray is not _ORIGINALS["asarray"]  # bound by `from numpy import`
        with nd.tracing():
            assert nd.is_tracing()
        assert nd.is_tracing()
    assert not nd.is_tracing()
    for name, original in _ORIGINALS.items():
        assert getattr(np, name) is original, name
    # A library's global stays rebound, so that entering a scope is cheap; outside a scope it
    # calls NumPy's own function.
    assert basic.asarray.__ndgrad_original__ is _ORIGINALS["asarray"]
    x = GradArray([1.0, 2.0], requires_grad=True)
    a = np.ones(3)
    assert type(np.asarray(x)) is np.ndarray and type(basic.asarray(x)) is np.ndarray
    assert np.asarray(a) is a and type(np.zeros(2)) is np.ndarray
    assert type(np.sum([x, x])) is np.float64  # the list is converted by NumPy, as NumPy does


def test_restore_numpy_puts_numpy_functions_back_into_libraries_and_scopes_rebind_them():
    import scipy.special._basic as basic

    from ndgrad.tracing import restore_numpy

    with nd.tracing():
        pass
    restore_numpy()
    assert basic.asarray is _ORIGINALS["asarray"]
    with nd.tracing():
        assert basic.asarray is not _ORIGINALS["asarray"]
        x = GradArray([1.0, 2.0], requires_grad=True)
        assert type(basic.asarray(x)) is GradArray


def test_other_threads_see_numpy_unchanged_during_a_scope():
    x = GradArray([1.0, 2.0], requires_grad=True)
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def other():
        entered.wait()
        seen["type"] = type(np.asarray(x))
        seen["tracing"] = nd.is_tracing()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with nd.tracing():
        assert type(np.asarray(x)) is GradArray
        entered.set()
        done.wait(10)
    t.join()
    assert seen == {"type": np.ndarray, "tracing": False}


def test_conversion_to_a_python_list_raises_graph_break_error():
    def f(x):
        return np.sum(np.asarray(x.tolist()) ** 2)  # tolist leaves NumPy entirely

    with pytest.raises(nd.GraphBreakError, match=r"x\.tolist\(\)"):
        nd.grad(nd.differentiable(f))(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="does not depend on the input"):
        nd.grad(f, scope=False)(np.array([1.0, 2.0]))


def test_default_argument_of_a_helper_is_not_reached():
    def helper(x, conv=np.asarray):  # only the transformed function's own are rebound: a limit
        return np.sum(conv(x) ** 2)

    with pytest.raises(ValueError, match="does not depend on the input"):
        nd.grad(nd.differentiable(lambda x: helper(x)))(np.array([1.0, 2.0]))


def test_grad_inside_a_scope_and_second_order():
    def f(x):
        return np.sum(np.asarray(x) ** 3)

    with nd.tracing():
        h = nd.grad(lambda x: np.sum(nd.grad(f)(x)))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(h, [6.0, 12.0])


def test_outside_a_scope_another_threads_scope_changes_nothing():
    """No scope open: NumPy's own function is in place. Another thread's scope: the
    replacement calls NumPy's function directly. (Its cost, about 0.1 us, is measured by
    hand, not asserted: the machines are shared.)"""
    a = np.ones(3)
    x = GradArray([1.0, 2.0], requires_grad=True)
    assert np.asarray is _ORIGINALS["asarray"]
    release, entered = threading.Event(), threading.Event()

    def hold_scope():
        with nd.tracing():
            entered.set()
            release.wait(30)

    t = threading.Thread(target=hold_scope)
    t.start()
    entered.wait(10)
    try:
        assert np.asarray is not _ORIGINALS["asarray"]
        assert np.asarray(a) is a and type(np.asarray(x)) is np.ndarray
        assert type(np.zeros(2)) is np.ndarray
    finally:
        release.set()
        t.join()


def test_numpy_internal_code_sees_numpy_unchanged_inside_a_scope():
    # np.polynomial's Python code calls np.array from a numpy.* module (numpy.polynomial is
    # traced like a library, since it never dispatches: plain inputs still give plain arrays).
    with nd.tracing():
        c = np.polynomial.polynomial.polymul([1.0, 2.0], [3.0, 4.0])
    assert type(c) is np.ndarray


def test_async_tasks_have_their_own_scope():
    import asyncio

    x = GradArray([1.0, 2.0], requires_grad=True)
    seen = {}

    async def traced():
        with nd.tracing():
            await asyncio.sleep(0.01)  # the other task runs while this scope is open
            seen["traced"] = type(np.asarray(x))

    async def plain():
        await asyncio.sleep(0.005)
        seen["plain"] = type(np.asarray(x))

    async def both():
        await asyncio.gather(traced(), plain())

    asyncio.run(both())
    assert seen == {"traced": GradArray, "plain": np.ndarray}


# --- how numpy's names are switched (a module class swapped per outermost scope) ---------------


def test_numpy_is_a_plain_module_outside_scopes_and_its_dict_is_never_written():
    import types

    with nd.tracing():
        assert type(np) is not types.ModuleType  # its subclass: the converters are properties
        assert vars(np)["asarray"] is _ORIGINALS["asarray"]  # NumPy's dict keeps its objects
        assert np.asarray is not _ORIGINALS["asarray"]
        name = "sum"
        assert getattr(np, name) is not _ORIGINALS[name]
        assert np.sin is vars(np)["sin"]  # names that are not replaced read as NumPy's own
    assert type(np) is types.ModuleType
    for name, original in _ORIGINALS.items():
        assert getattr(np, name) is original and vars(np)[name] is original, name


def test_scope_left_by_an_exception_restores_numpy_and_the_depth():
    import types

    x = GradArray([1.0, 2.0], requires_grad=True)
    with pytest.raises(ZeroDivisionError), nd.tracing(), nd.tracing():
        assert type(np.asarray(x)) is GradArray
        1 / 0  # noqa: B018
    assert type(np) is types.ModuleType and not nd.is_tracing()
    assert type(np.asarray(x)) is np.ndarray
    # ndgrad's own error, hidden by code in between, is re-raised when the scopes close
    with pytest.raises(nd.GraphBreakError, match="float"):
        with nd.tracing():
            with nd.tracing():
                try:
                    float(np.sum(x))
                except Exception:
                    pass
    assert type(np) is types.ModuleType and not nd.is_tracing()


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("asarray", ([1.0, 2.0],)),
        ("asarray", (np.arange(3.0),)),
        ("array", ([[1, 2], [3, 4]],)),
        ("zeros", (3,)),
        ("empty_like", (np.ones(2),)),
        ("full", ((2,), 1.5)),
        ("sum", ([1.0, 2.0, 3.0],)),
        ("sum", (np.arange(4.0),)),
        ("mean", ((1.0, 2.0),)),
        ("reshape", (np.arange(6.0), (2, 3))),
        ("dot", ([1.0, 2.0], [3.0, 4.0])),
    ],
)
def test_replacements_outside_a_scope_give_numpys_own_results(name, args):
    """The replacement objects (held by library globals after the first scope) called outside
    any scope: exactly NumPy's result, type and value."""
    from ndgrad.tracing import _REPLACEMENTS

    with nd.tracing():
        pass
    got, want = _REPLACEMENTS[name](*args), _ORIGINALS[name](*args)
    assert type(got) is type(want)
    if isinstance(want, np.ndarray):
        assert want.dtype == got.dtype and want.shape == got.shape
    if name not in ("empty_like",):
        np.testing.assert_array_equal(got, want)


def test_sequence_functions_keep_the_graph_of_a_list_but_pass_arrays_straight_through():
    x = GradArray([1.0, 2.0], requires_grad=True)
    with nd.tracing():
        s = np.sum([x, 2 * x])
        assert isinstance(s, GradArray)
        assert type(np.sum(np.arange(3.0))) is np.float64
    s.backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_assigning_a_replaced_numpy_name_during_a_scope_is_kept():
    original = np.copyto
    marker = lambda *a, **k: None
    try:
        with nd.tracing():
            np.copyto = marker
        assert np.copyto is marker and vars(np)["copyto"] is marker
    finally:
        np.copyto = original
    assert np.copyto is _ORIGINALS["copyto"]


def test_many_threads_opening_and_closing_scopes_each_keep_theirs():
    """The outermost scope anywhere swaps numpy's class and the last to close swaps it back,
    under one lock: a thread's scope must never see numpy swapped back while it is open."""
    import types

    x = GradArray([1.0, 2.0], requires_grad=True)
    failures = []
    start = threading.Barrier(4)

    def work():
        start.wait()
        for _ in range(2000):
            with nd.tracing():
                if type(np.asarray(x)) is not GradArray:
                    failures.append("scope lost")
            if type(np.asarray(x)) is not np.ndarray:
                failures.append("no scope, but a GradArray")

    race(work)
    assert not failures
    assert type(np) is types.ModuleType


# --- arguments NumPy's dispatchers leave out ---------------------------------------------------
# np.select's default, np.interp's left, right and period, np.pad's constant_values and
# np.nan_to_num's nan: NumPy never looks there for __array_function__, so a GradArray passed
# only there was converted in C and its gradient lost silently. In a scope the call goes through
# the engine: each is differentiated, or refused when it has no rule.

_X = np.linspace(0.5, 2.0, 4)  # two of them above 1
_XP, _FP = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 4.0])
_Q = np.array([-1.0, 0.5, 3.0, -2.0, 4.0])  # two below the knots, two above


@pytest.mark.parametrize(
    "f, expected",
    [
        # sum(select(...)): the default fills the two places no condition holds
        (lambda d: np.sum(np.select([_X > 1.0], [_X], default=d)), lambda d: 2.0),
        (lambda d: np.sum(np.select([_X > 1.0], [_X], d)), lambda d: 2.0),
        (lambda d: np.sum(np.select([_X > 1.0], [_X * d], d**2)), lambda d: 4 * d + 3.5),
        # interp(...): left fills below the first knot, right above the last
        (lambda v: np.sum(np.interp(_Q, _XP, _FP, left=v**2)), lambda v: 4 * v),
        (lambda v: np.sum(np.interp(_Q, _XP, _FP, None, 3 * v)), lambda v: 6.0),
        (lambda v: np.sum(np.interp(_Q, _XP, _FP, v, v)), lambda v: 4.0),
    ],
)
def test_an_argument_numpy_does_not_dispatch_on_is_differentiated(f, expected):
    for v in (3.0, -0.5):
        np.testing.assert_allclose(nd.grad(f)(v), expected(v), rtol=1e-12)
        check_grad(f, np.array(v))


@pytest.mark.parametrize(
    "f, name",
    [
        (lambda c: np.pad(np.ones(3), 1, constant_values=c), "constant_values"),
        (lambda c: np.pad(np.ones(3), 1, "constant", constant_values=(c, 1.0)), "constant_values"),
        (lambda c: np.nan_to_num(np.array([1.0, np.nan]), nan=c), "nan"),
        (lambda c: np.nan_to_num(np.array([1.0, np.inf]), True, 0.0, c), "posinf"),
    ],
)
def test_an_argument_numpy_does_not_dispatch_on_without_a_rule_is_refused(f, name):
    with pytest.raises(nd.NotDifferentiableError, match=f"keyword argument '{name}'"):
        nd.grad(lambda c: np.sum(f(c)))(2.0)


def test_calls_without_grad_arrays_there_are_numpys_own():
    with nd.tracing():
        pad = np.pad(np.ones(3), 1, constant_values=2.0)
        select = np.select([_X > 1.0], [_X], 7.0)
        interp = np.interp(_Q, _XP, _FP, -1.0, right=9.0)
    np.testing.assert_array_equal(pad, [2.0, 1.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(select, np.where(_X > 1.0, _X, 7.0))
    np.testing.assert_array_equal(interp, [-1.0, 0.5, 9.0, -1.0, 9.0])


def test_piecewise_of_a_plain_array_records_what_its_functions_return():
    # A broken-stick model: np.piecewise of the plain data, with functions that close over the
    # parameters. NumPy fills zeros_like(x), a plain array for plain data, and the values were
    # stored without their graph: the gradient was the regulariser's alone, silently.
    x = np.linspace(0.5, 1.5, 6)
    lo, hi = x < 1.0, x >= 1.0

    def loss(p):
        fit = np.piecewise(x, [x < 1.0], [lambda t: p[0] * t, lambda t: p[1] * t + p[2]])
        return np.sum((fit - 1.0) ** 2) + np.sum(p**2)

    p = np.array([2.0, 3.0, -0.5])
    r_lo, r_hi = p[0] * x[lo] - 1.0, p[1] * x[hi] + p[2] - 1.0
    expected = 2 * p + [np.sum(2 * r_lo * x[lo]), np.sum(2 * r_hi * x[hi]), np.sum(2 * r_hi)]
    np.testing.assert_allclose(nd.grad(loss)(p), expected, rtol=1e-12)
    check_grad(loss, p)
    with nd.tracing():  # plain values stay NumPy's, in a scope buffer
        out = np.piecewise(x, [x < 1.0], [0.0, lambda t: 2 * t])
    np.testing.assert_array_equal(out, np.where(x < 1.0, 0.0, 2 * x))


@pytest.mark.parametrize(
    "write",
    [
        lambda b, p: np.put_along_axis(b, np.array([0, 3]), p, 0),
        lambda b, p: np.fill_diagonal(b.reshape(2, 2), p),
    ],
    ids=["put_along_axis", "fill_diagonal"],
)
def test_a_write_into_a_plain_array_is_refused_and_into_a_grad_array_recorded(write):
    # Both store their values into their first argument with NumPy's own code: into a plain
    # array made outside the scope that dropped the graph silently (the gradient of the loss
    # below was its regulariser's alone); fill_diagonal's val is not even dispatched on.
    outside = np.zeros(4)
    weights = np.arange(1.0, 5.0)

    def loss(p, make):
        b = make()
        write(b, p)
        return np.sum(b * weights) + np.sum(p**2)

    p = np.array([2.0, 3.0])
    with pytest.raises(nd.NotDifferentiableError, match="target is a plain ndarray"):
        nd.grad(lambda p: loss(p, outside.copy))(p)
    # a buffer allocated in the scope is a GradArray: the write is recorded
    got = nd.grad(lambda p: loss(p, lambda: np.zeros(4)))(p)
    np.testing.assert_allclose(got, weights[[0, 3]] + 2 * p, rtol=1e-12)
    check_grad(lambda p: loss(p, lambda: np.zeros(4)), p)
