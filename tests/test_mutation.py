"""The mutation model (docs/user_guide/inplace.rst): every write is tracked, copied
or refused. One test per reproducer of issue 12, and per promise of the model.

Forward values are compared with plain NumPy bit for bit; gradients with central finite
differences (``check_grad``) or closed forms, never with ndgrad itself.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray, InPlaceError
from ndgrad._graph import COPY_BYTES
from ndgrad.testing import check_grad

from ._helpers import needs_small_copies, race

X3 = np.array([1.0, 2.0, 3.0])


def leaf(values):
    return GradArray(np.asarray(values, dtype=float), requires_grad=True)


def traced(f):
    """``f`` run in the conversion-keeping scope, as transforms of real code run it."""

    def run(*args):
        with nd.tracing():
            return f(*args)

    return run


# --- 1. saved arrays that do not require grad: copy-on-write for writes ndgrad sees -----------


@pytest.mark.parametrize(
    "make_constant",
    [
        lambda x: GradArray([10.0, 20.0, 30.0]),
        lambda x: leaf([10.0, 20.0, 30.0]).detach(),
        lambda x: np.zeros_like(x) + GradArray([10.0, 20.0, 30.0]),
        lambda x: np.multiply(nd.no_grad()(lambda: x * 1.0)(), [10.0, 10.0, 10.0]),
    ],
    ids=["constant", "detached", "zeros_like", "no_grad result"],
)
def test_constant_written_after_use_keeps_its_old_value_for_the_gradient(make_constant):
    x = leaf(X3)
    c = make_constant(x)
    assert not c.requires_grad
    old = c.values.copy()
    y = np.sum(x * c)
    c += 100
    np.testing.assert_array_equal(c.values, old + 100)  # the write happened
    y.backward()
    np.testing.assert_array_equal(x.grad, old)


def test_constant_written_with_setitem_sort_fill_put_and_out():
    for write in (
        lambda c: c.__setitem__(0, 7.0),
        lambda c: c.sort(),
        lambda c: c.fill(2.0),
        lambda c: c.put([0], [5.0]),
        lambda c: np.multiply(c, 3.0, out=c),
        lambda c: np.add.at(c, [0, 0], 1.0),
        lambda c: np.copyto(c, 4.0),
    ):
        x = leaf(X3)
        c = GradArray([30.0, 10.0, 20.0])
        y = np.sum(x * c)
        write(c)
        y.backward()
        np.testing.assert_array_equal(x.grad, [30.0, 10.0, 20.0])


def test_reused_scope_buffer_gets_finite_difference_gradients():
    # issue 12: a work buffer allocated with np.empty in nd.tracing() and reused
    def f(x):
        buf = np.empty(3)
        total = 0.0
        for k in range(3):
            np.multiply(x, x[k], out=buf)
            total = total + np.sum(np.sin(buf) * buf)
        return total

    check_grad(traced(f), np.array([0.3, -0.7, 1.1]))


# Saved arrays up to COPY_BYTES are copied when saved: nothing written afterwards, by any route,
# reaches the node. Larger ones are guarded: made read-only while a live node holds them.
BIG = np.linspace(1.0, 2.0, COPY_BYTES // 8 + 1)


@needs_small_copies
def test_small_saved_arrays_are_private_copies_whatever_writes_them():
    # issue 12, items 1-3: plain constants, aliases made before saving, .base, and a second
    # GradArray over the same memory; each write happens and none changes the gradient.
    x = leaf(X3)
    c = np.array([10.0, 20.0, 30.0])  # a plain ndarray that owns its memory
    h = np.exp(x)
    a = np.asarray(h)  # a plain alias made before h is saved
    buf = np.array([1.0, 2.0, 3.0])
    g1, g2 = buf.view(GradArray), buf.view(GradArray)  # two GradArrays ndgrad did not link
    y = np.sum(x * c) + np.sum(h * h) + np.sum(x * g2)
    c += 100
    a /= 2
    h.base[:] = 0
    g1[0] = 50.0
    assert buf[0] == 50.0 and h.values[1] == 0  # every write happened
    y.backward()
    np.testing.assert_allclose(x.grad, [10, 20, 30] + 2 * np.exp(2 * X3) + [1, 2, 3])


def test_plain_alias_of_a_saved_array_is_read_only_until_the_graph_is_gone():
    x = leaf(BIG)
    h = np.exp(x)
    s = np.sum(h * h)
    a = np.asarray(h)  # a plain alias, made after h was saved
    with pytest.raises(ValueError, match="read-only"):
        a /= a.sum()
    with pytest.raises(ValueError, match="read-only"):
        h.values[:] = 1.0
    with pytest.raises((ValueError, TypeError, BufferError)):
        memoryview(h)[0] = 1.0
    s.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * BIG))
    b = np.asarray(h)  # the graph was freed: writable again
    b[0] = 1.0
    assert h.values[0] == 1.0


def test_dropping_the_graph_restores_the_flag():
    x = leaf(BIG)
    h = x * 2.0
    y = np.sin(h)
    assert not np.asarray(h).flags.writeable
    del y
    gc.collect()
    assert np.asarray(h).flags.writeable


@pytest.mark.parametrize("owner", [False, True], ids=["view", "owner"])
def test_large_plain_operand_and_its_memory_are_guarded_and_released(owner):
    data = np.concatenate([[0.0], BIG, [0.0]])
    c = data.copy() if owner else data[1:-1]  # a plain array passed as an operand
    x = leaf(np.ones(c.shape))
    y = np.sum(x * c)
    with pytest.raises(ValueError, match="read-only"):
        c[0] = 100.0
    if not owner:
        with pytest.raises(ValueError, match="read-only"):
            data[1] = 100.0  # through the memory's owner
    y.backward()
    np.testing.assert_array_equal(x.grad, c)
    c[0] = 100.0  # released with the graph
    assert c[0] == 100.0


@needs_small_copies
def test_issue_constant_modified_after_use_gives_the_old_values_gradient():
    # issue 12 (this session's item 1): ``c += 100`` on a plain constant after x * c
    x = leaf(X3)
    c = np.array([10.0, 20.0, 30.0])
    y = np.sum(x * c)
    c += 100
    y.backward()
    np.testing.assert_array_equal(x.grad, [10.0, 20.0, 30.0])


def test_large_grad_arrays_over_one_buffer_refuse_a_write_through_the_other():
    buf = BIG.copy()
    g1, g2 = buf.view(GradArray), buf.view(GradArray)  # not linked by ndgrad
    x = leaf(np.ones(buf.shape))
    y = np.sum(x * g2)
    with pytest.raises(InPlaceError, match="another array over the same buffer"):
        g1[0] = 5.0
    y.backward()
    np.testing.assert_array_equal(x.grad, BIG)


def test_large_input_slices_can_be_broadcast_while_part_of_it_is_saved():
    # The owner of a guarded GradArray's memory keeps its flag: the slices of a transform's
    # input (views made before the save) can still go through np.meshgrid/broadcast_arrays.
    x = np.linspace(0.1, 1.0, COPY_BYTES // 4)
    n = len(x) // 2

    def f(x):
        return np.sum(np.meshgrid(x[:n], x[n:])[0] * np.meshgrid(x[:n], x[n:])[1])

    g = nd.grad(f)(x)
    want = np.concatenate([np.full(n, x[n:].sum()), np.full(len(x) - n, x[:n].sum())])
    np.testing.assert_allclose(g, want, rtol=1e-12)


def test_guard_counts_are_exact_under_threads():
    # Several threads save and free the same large plain constant: the last graph alive keeps
    # it read-only, and it is writable again once every graph is gone.
    import threading

    c = BIG.copy()
    k = GradArray(BIG)  # a GradArray constant: its guard is shared by the threads' nodes
    errors = []
    barrier = threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            for _ in range(200):
                x = leaf(np.ones(c.shape))
                y = np.sum(x * c) + np.sum(x * k)
                for _ in range(3):  # while this graph lives, another thread frees its own
                    assert not c.flags.writeable and not k.flags.writeable
                y.backward()
                np.testing.assert_array_equal(x.grad, 2 * BIG)
        except Exception as e:  # reported below, in the main thread
            errors.append(e)

    race(work)
    assert not errors, errors
    gc.collect()
    assert c.flags.writeable and k.flags.writeable and k.base.flags.writeable


def test_read_only_memory_is_never_made_writable():
    c = np.array([1.0, 2.0, 3.0])
    c.flags.writeable = False
    x = leaf(X3)
    y = np.sum(x * c) + np.sum(x * GradArray(c))
    y.backward()
    gc.collect()
    assert not c.flags.writeable
    np.testing.assert_array_equal(x.grad, 2 * c)


def test_broadcast_view_of_a_saved_array_stays_read_only_like_numpy():
    x = leaf(X3)
    h = x * 1.0
    y = np.sum(np.sin(h))
    b = np.broadcast_to(h, (2, 3))
    h += 1.0  # copy-on-write releases h
    assert not b.flags.writeable and not np.broadcast_to(X3, (2, 3)).flags.writeable
    y.backward()
    np.testing.assert_allclose(x.grad, np.cos(X3))


# --- 2. real code that writes intermediates in place -------------------------------------------


def _sklearn_and_scipy_cases():
    sklearn = pytest.importorskip("sklearn")
    scipy = pytest.importorskip("scipy")
    del sklearn, scipy
    from scipy.special import logsumexp
    from scipy.stats import zscore
    from sklearn.metrics.pairwise import cosine_similarity, euclidean_distances, rbf_kernel
    from sklearn.preprocessing import normalize, scale
    from sklearn.utils.extmath import softmax

    y = np.random.default_rng(1).standard_normal((5, 3))
    b = np.random.default_rng(2).random((4, 3)) + 0.5
    return {
        "softmax": lambda a: softmax(a * 1.0),
        "normalize": lambda a: normalize(a * 1.0),
        "scale": lambda a: scale(a * 1.0),
        "euclidean_distances": lambda a: euclidean_distances(a, y),
        "rbf_kernel": lambda a: rbf_kernel(a, y),
        "cosine_similarity": lambda a: cosine_similarity(a, y),
        "zscore": zscore,
        "logsumexp(b=)": lambda a: logsumexp(a, b=b),
    }


@pytest.mark.parametrize(
    "name",
    [
        "softmax",
        "normalize",
        "scale",
        "euclidean_distances",
        "rbf_kernel",
        "cosine_similarity",
        "zscore",
        "logsumexp(b=)",
    ],
)
def test_real_code_that_rescales_in_place_gets_correct_gradients(name):
    f = _sklearn_and_scipy_cases()[name]
    a = np.random.default_rng(0).standard_normal((4, 3))
    with nd.tracing():
        got = f(GradArray(a))
    want = f(a.copy())
    np.testing.assert_array_equal(np.asarray(got), want)
    check_grad(traced(f), a)


# --- stale views as inputs of in-place operations (issue 12, item 2) ----------------------------


@pytest.mark.parametrize(
    "update",
    [
        lambda t, v: t.__iadd__(v),
        lambda t, v: np.add(t, v, out=t),
        lambda t, v: np.add.at(t, [0, 1], v),
        lambda t, v: np.multiply(v, 2.0, out=t),
    ],
    ids=["+=", "add out=", "add.at", "multiply out="],
)
def test_stale_view_as_input_of_an_in_place_ufunc_is_refreshed(update):
    def f(x):
        b = x * 1.0
        v = b[:2]
        b[0] = 100 * x[0]
        t = np.zeros(2) + x[2]
        update(t, v)
        return t

    def plain(x):
        b = x * 1.0
        v = b[:2]
        b[0] = 100 * x[0]
        t = np.zeros(2) + x[2]
        update(t, v)
        return t

    np.testing.assert_array_equal(f(GradArray(X3)).values, plain(X3.copy()))
    check_grad(f, X3)


def test_ufunc_at_with_repeated_indices_and_a_view_input():
    def f(x):
        t = x * 1.0
        np.add.at(t, [0, 0, 2], t[1:2] * 3.0)
        return t * t

    want = X3.copy()
    np.add.at(want, [0, 0, 2], X3[1:2] * 3.0)
    np.testing.assert_array_equal(f(GradArray(X3)).values, want * want)
    check_grad(f, X3)


# --- 3. 0-d results behave like NumPy's scalars --------------------------------------------------


def _running_sums(x):
    tot, h = 0.0, []
    for xi in x:
        tot += xi * xi
        h.append(tot)
    return np.stack(h)


def test_running_sum_of_scalars_matches_numpy_and_finite_differences():
    np.testing.assert_array_equal(_running_sums(GradArray(X3)).values, _running_sums(X3))
    check_grad(_running_sums, X3)


def test_shadowed_0d_result_is_not_mutated():
    def f(x):
        s = np.sum(x)
        prev = s
        s += x[0] * 10.0
        return np.stack([prev, s])

    np.testing.assert_array_equal(f(GradArray(X3)).values, f(X3))
    check_grad(f, X3)


def test_explicit_0d_array_is_still_written_in_place():
    a = GradArray(np.array(1.5))
    same = a
    a += 1.0
    assert same is a and a.values == 2.5


# --- 4. .shape assignment, view leaves, deep views, checkpoint -----------------------------------


def test_shape_assignment_is_recorded_like_a_reshape():
    def f(x):
        h = np.exp(x)
        h.shape = (3, 1)
        return h @ np.array([[1.0, 10.0]])

    def g(x):
        h = x * 2.0
        h.shape = (3, 1)
        return h @ np.array([[1.0, 10.0]])

    for func in (f, g):
        x = leaf(X3)
        np.sum(func(x)).backward()
        scale = np.exp(X3) if func is f else 2.0
        np.testing.assert_allclose(x.grad, 11.0 * scale)
        check_grad(func, X3)


def test_shape_assignment_of_a_view_and_earlier_views_stay_right():
    def f(x):
        h = x * 1.0
        first = h[:2]
        h.shape = (3, 1)
        h[2, 0] = 5.0 * x[0]
        row = h[1:]
        row.shape = (2,)
        return np.concatenate([first * 1.0, row * row])

    x = np.array([0.5, -1.5, 2.0])
    want = np.concatenate([x[:2], np.array([x[1], 5 * x[0]]) ** 2])
    np.testing.assert_array_equal(f(GradArray(x)).values, want)
    check_grad(f, x)


def test_shape_assignment_that_needs_a_copy_is_refused_like_numpy():
    h = leaf(np.ones((2, 3))) * 1.0
    t = h.T
    with pytest.raises(AttributeError):
        t.shape = (6,)
    with pytest.raises(AttributeError):
        np.ones((2, 3)).T.shape = (6,)


def test_shape_assignment_of_a_leaf_is_refused_unless_no_grad():
    x = leaf(X3)
    with pytest.raises(InPlaceError, match="shape"):
        x.shape = (3, 1)
    with nd.no_grad():
        x.shape = (3, 1)
    assert x.shape == (3, 1) and x.requires_grad


def test_view_made_a_leaf_keeps_requires_grad_when_its_base_is_written():
    c = GradArray(np.arange(4.0))
    v = c[:2]
    v.requires_grad = True
    c[3] = 10.0  # not v's elements
    np.sum(v * v).backward()
    np.testing.assert_array_equal(v.grad, [0.0, 2.0])
    with pytest.raises(InPlaceError, match="leaf"):
        c[0] = 7.0
    with pytest.raises(InPlaceError, match="leaf"):
        c += 1.0
    with nd.no_grad():
        c[0] = 7.0
    assert v.values[0] == 7.0


def test_500_nested_views_then_a_base_write():
    def f(x):
        b = x * 1.0
        v = b
        for _ in range(500):
            v = v[:]
        b[0] = 5.0 * x[1]
        return v * v

    np.testing.assert_array_equal(f(GradArray(X3)).values, np.array([10.0, 2.0, 3.0]) ** 2)
    x = leaf(X3)
    np.sum(f(x)).backward()
    np.testing.assert_allclose(x.grad, [0.0, 2 * 25 * 2.0 + 4.0, 6.0])


def test_checkpoint_returning_a_view_then_a_base_write():
    def f(x):
        b = x * 1.0
        r = nd.checkpoint(lambda h: h[:2])(b)
        b[0] = 3.0 * x[2]
        return r * r

    np.testing.assert_array_equal(f(GradArray(X3)).values, [81.0, 4.0])
    check_grad(f, X3)


# --- 5. transforms never compute a different function -------------------------------------------


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_transforms_refuse_masked_arrays_and_matrices():
    f = nd.value_and_grad(lambda x: np.sum(x**2))
    with pytest.raises(TypeError, match="masked"):
        f(np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0]))
    with pytest.raises(TypeError, match="matrix"):
        f(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(TypeError, match="matrix"):
        nd.grad(lambda x: np.sum(x**2))(np.matrix([[1.0, 2.0]]))
