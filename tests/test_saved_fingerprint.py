"""Writes through a plain view made *before* an array was saved are detected (issue 12).

A saved array above ``COPY_BYTES`` is guarded: made read-only while a node holds it. NumPy
keeps the writeable flag per array object, so a view made before the save stays writable, and
NumPy cannot list an array's views: such a write cannot be prevented. Each guarded array's
fingerprint is taken when it is saved and compared before backward uses it; a write found
raises ``InPlaceError``. Writes ndgrad sees (copy-on-write) must never trip it.

Gradients are compared with central finite differences (``check_grad``) or closed forms.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray, InPlaceError, _core
from ndgrad._core import FINGERPRINT_MAX_ROW as MAX_ROW
from ndgrad._core import FINGERPRINT_ROWS as ROWS
from ndgrad._graph import COPY_BYTES, fingerprint
from ndgrad.testing import check_grad

from ._helpers import needs_small_copies

N = 5000  # 40 kB of float64: above COPY_BYTES, so saved arrays are guarded, not copied
assert N * 8 > COPY_BYTES or COPY_BYTES == 0

BEFORE_SAVE = "through a view made before it was saved"


def leaf(values):
    return GradArray(np.asarray(values, dtype=float), requires_grad=True)


# --- the reproducers of the issue: each gave a wrong gradient silently ------------------------


def _plain_view_of_a_graph_result():
    x = leaf(np.ones(N))
    h = x * 2
    a = np.asarray(h)
    y = np.sum(h * h)
    a /= 2
    return y


def _sibling_view_of_a_plain_constant():
    x = leaf(np.ones(N))
    buf = np.ones(N)
    v = buf[:]
    y = np.sum(x * buf)
    v[:] = 5
    return y


def _view_through_an_intermediate_base():
    own = np.ones(2 * N)
    mid = own[:N]
    c = mid[:]
    x = leaf(np.ones(N))
    y = np.sum(x * c)
    mid[:] = 5
    return y


def _plain_view_of_a_grad_array_constant():
    c = GradArray(np.ones(N))
    v = np.asarray(c)
    x = leaf(np.ones(N))
    y = np.sum(x * c)
    v[:] = 5
    return y


def _write_through_the_base_of_a_graph_result():
    x = leaf(np.ones(N))
    h = x * 2
    y = np.sum(h * h)
    h.base[:] = 1  # the plain array under the GradArray: not made read-only
    return y


@pytest.mark.parametrize(
    "program",
    [
        _plain_view_of_a_graph_result,
        _sibling_view_of_a_plain_constant,
        _view_through_an_intermediate_base,
        _plain_view_of_a_grad_array_constant,
        _write_through_the_base_of_a_graph_result,
    ],
)
def test_write_through_a_view_made_before_the_save_is_detected(program):
    y = program()
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


def test_the_error_names_the_array_the_operation_and_the_fix():
    y = _sibling_view_of_a_plain_constant()
    with pytest.raises(InPlaceError) as info:
        y.backward()
    msg = str(info.value)
    assert "argument 1 of numpy.multiply" in msg
    assert f"float64 array of shape ({N},)" in msg
    assert "np.asarray" in msg
    assert "Write through the GradArray" in msg and "copy" in msg


def test_the_output_a_node_saved_is_named_as_its_output():
    m = 60  # 28.8 kB
    x = leaf(np.eye(m) * 2.0 + np.tri(m) * 0.01)
    h = np.linalg.inv(x)  # inv's rule reads its output
    y = np.sum(h)
    h.base[7, 7] = 0.0  # the plain array NumPy made, under the GradArray
    with pytest.raises(InPlaceError, match=r"the output of numpy\.linalg\.inv"):
        y.backward()


def test_a_fresh_ufunc_result_is_read_only_through_its_base_too():
    # The result of a ufunc is memory NumPy allocated in that call: no view of it can exist
    # before it is saved, so it is made read-only with its base and needs no fingerprint.
    x = leaf(np.linspace(0.0, 1.0, N))
    h = np.exp(x)  # exp's rule reads its output
    y = np.sum(h)
    with pytest.raises(ValueError, match="read-only"):
        h.base[7] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(h)[7] = 0.0
    y.backward()
    np.testing.assert_array_equal(x.grad, np.exp(np.linspace(0.0, 1.0, N)))
    assert h.flags.writeable and h.base.flags.writeable  # restored when the graph is freed


def test_a_fresh_ufunc_result_written_by_ndgrad_keeps_its_old_value():
    def f(x):
        h = np.exp(x)
        y = np.sum(h)
        h *= 2.0  # seen: copy-on-write, then the memory is writable again
        h[0] = 5.0
        return y + np.sum(h * x)

    check_grad(f, np.linspace(-1.0, 1.0, N))


def test_unwritten_arrays_give_finite_difference_gradients():
    # The same programs without the write: no false alarm, and the gradient is right.
    c = np.linspace(1.0, 2.0, N)
    v = c[:]  # a view made before, never written

    def f(x):
        h = x * 2
        a = np.asarray(h)
        return np.sum(h * h) + np.sum(x * c) + float(a.shape[0]) * 0.0 + np.sum(v * x)

    check_grad(f, np.linspace(-1.0, 1.0, N))


# --- every kind of change is found ------------------------------------------------------------

RNG = np.random.default_rng(0)
DATA = RNG.standard_normal(N)


def _swap(v, i, j):
    v[i], v[j] = v[j].copy(), v[i].copy()


WRITES = {
    "one element": lambda v: v.__setitem__(1234, v[1234] + 1.0),
    "one ulp of one element": lambda v: v.__setitem__(N - 1, np.nextafter(v[N - 1], np.inf)),
    "sort": lambda v: v.sort(),
    "reverse": lambda v: v.__setitem__(slice(None), v[::-1].copy()),
    "swap two elements": lambda v: _swap(v, 10, 4000),
    "swap at a distance of 4096": lambda v: _swap(v, 3, 3 + 4096),
    "shuffle": lambda v: np.random.default_rng(1).shuffle(v),
    "normalise": lambda v: np.divide(v, np.sum(v), out=v),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_every_kind_of_write_through_an_earlier_view_is_detected(write):
    x = leaf(np.ones(N))
    c = DATA.copy()
    v = c[:]
    y = np.sum(x * c)
    write(v)
    assert not np.array_equal(c, DATA)  # the write happened
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


def test_compiled_code_writing_through_the_buffer_protocol_is_detected():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    m = 64  # 32 kB
    a = RNG.standard_normal((m, m))
    spd = np.asfortranarray(a @ a.T + m * np.eye(m))
    earlier = spd[:, :]  # a plain view (Fortran-ordered) made before the save
    x = leaf(np.ones((m, m)))
    y = np.sum(x * spd)
    scipy_linalg.cholesky(earlier, overwrite_a=True, check_finite=False)  # LAPACK, in place
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


def test_a_write_through_a_memoryview_made_before_is_detected():
    x = leaf(np.ones(N))
    c = np.ones(N)
    mv = memoryview(c).cast("B")
    y = np.sum(x * c)
    mv[5] = 7  # one byte, through the buffer protocol
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


# --- saved arrays of any layout and dtype -----------------------------------------------------


def _strided(x):
    big = np.arange(3 * N, dtype=float)
    before = big[::3]
    return np.sum(x * big[::3]), lambda: before.__setitem__(17, -1.0), big[::3]


def _reversed(x):
    c = np.arange(N, dtype=float)
    before = c[:]
    return np.sum(x * c[::-1]), lambda: before.__setitem__(0, -1.0), c[::-1]


def _transposed(x):
    c = np.arange(N, dtype=float).reshape(50, 100)
    before = c[:]
    y = np.sum(x.reshape(100, 50) * c.T)
    return y, lambda: before.__setitem__((49, 99), -1.0), c.T.ravel()


def _column_slice(x):
    c = np.arange(2 * N, dtype=float).reshape(N // 50, 100)
    before = c[:]
    y = np.sum(x.reshape(N // 50, 50) * c[:, ::2])
    return y, lambda: before.__setitem__((3, 40), -1.0), c[:, ::2].ravel()


def _broadcast(x):
    row = np.arange(100, dtype=float)
    before = row[:]
    wide = np.broadcast_to(row, (N // 100, 100))  # 40 kB seen, 800 bytes of memory
    y = np.sum(x.reshape(N // 100, 100) * wide)
    return y, lambda: before.__setitem__(99, -1.0), np.tile(row, N // 100)


LAYOUTS = {
    "strided": _strided,
    "negative strides": _reversed,
    "transposed": _transposed,
    "column slice": _column_slice,
    "broadcast": _broadcast,
}


@pytest.mark.parametrize("make", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_non_contiguous_saved_arrays_are_checked(make):
    x = leaf(np.ones(N))
    y, write, _ = make(x)
    write()
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


@pytest.mark.parametrize("make", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_non_contiguous_saved_arrays_not_written_give_the_right_gradient(make):
    x = leaf(np.ones(N))
    y, _, c = make(x)
    y.backward()
    np.testing.assert_array_equal(x.grad, c)  # d/dx sum(x * c) = c


@pytest.mark.parametrize(
    ("dtype", "n"),
    [
        (np.float32, N * 2 + 1),  # an odd number of 4-byte elements: 4 bytes left over
        (np.complex128, N),
        (np.int64, N),
        (np.int16, 3 * N + 3),  # 6 bytes left over
        (np.uint8, 8 * N + 5),
        (np.bool_, 8 * N + 7),
    ],
)
@pytest.mark.parametrize("where", [0, -1, "middle"])
def test_constants_of_every_dtype_are_checked_to_the_last_byte(dtype, n, where):
    fdtype = np.float32 if dtype is np.float32 else float
    x = GradArray(np.ones(n, dtype=fdtype), requires_grad=True)
    c = np.ones(n, dtype=dtype)
    before = c[:]
    y = np.sum(np.real(x * c))
    k = n // 2 if where == "middle" else where
    before[k] = 0
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


def test_complex_graph_results_are_checked():
    z = GradArray(np.full(N, 1.0 + 2.0j), requires_grad=True)
    h = z * (1.0 - 1.0j)
    a = np.asarray(h)
    y = np.sum(np.abs(h * h))
    a[N // 3] = 0.5j
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


def test_constant_of_an_integer_dtype_not_written_gives_the_right_gradient():
    c = np.arange(N, dtype=np.int64)
    before = c[:]
    x = leaf(np.ones(N))
    y = np.sum(x * c)
    assert before.flags.writeable
    y.backward()
    np.testing.assert_array_equal(x.grad, np.arange(N, dtype=float))


# --- the fingerprint itself: exact for single changes and swaps -------------------------------


def test_fingerprint_of_unaligned_and_big_endian_arrays_sees_a_change():
    raw = bytearray(8 * N + 1)
    a = np.ndarray((N,), dtype=">f8", buffer=raw, offset=1)  # unaligned, big-endian
    a[:] = DATA
    fp0 = fingerprint(a)
    a[N // 2] = -a[N // 2]
    assert not np.array_equal(fingerprint(a), fp0)


def test_fingerprint_of_empty_and_object_arrays_is_none():
    assert fingerprint(np.zeros(0)) is None
    assert fingerprint(np.zeros((3, 0))) is None
    assert fingerprint(np.array([1, "a"], dtype=object)) is None


@pytest.mark.parametrize("n", [1, 7, 63, 64, 65, 100, 127, 200, 257])
def test_fingerprint_sees_every_swap_and_every_single_change(n):
    # Values that differ only in their exponent (1.0 and 2.0 differ by 2**52 as integers):
    # a weighted sum modulo 2**64 misses their swap at distances that are multiples of 4096.
    base = np.zeros(n)
    fp0 = fingerprint(base)
    for i in range(n):
        changed = base.copy()
        changed[i] = -0.0  # only the sign bit
        assert not np.array_equal(fingerprint(changed), fp0), i
    for i in range(n):
        for j in range(i + 1, n):
            a = base.copy()
            a[i], a[j] = 1.0, 2.0
            b = base.copy()
            b[i], b[j] = 2.0, 1.0
            assert not np.array_equal(fingerprint(a), fingerprint(b)), (i, j)


@pytest.mark.parametrize("n", [10**4, 10**5 + 3, 3 * 10**6 + 1])
def test_fingerprint_sees_swaps_in_one_column_and_in_one_row(n):
    a = RNG.standard_normal(n)
    fp0 = fingerprint(a)
    distances = {1, 4096, 8192, n - 1}
    # the row lengths the fingerprint may use: a swap within a column (a multiple of w apart)
    # is found by the row sums, within a row by the column sums
    for w in (math.isqrt(n), math.isqrt(n) + 1, -(-n // ROWS), MAX_ROW, 16384):
        distances |= {w - 1, w, w + 1, 2 * w, 7 * w, 8 * w, 9 * w, w * (w + 1), w * (w + 1) - 1}
    for d in sorted(distances):
        if d >= n:
            continue
        for i in (0, n - 1 - d, (n - d) // 2):
            b = a.copy()
            b[i], b[i + d] = b[i + d], b[i]
            assert not np.array_equal(fingerprint(b), fp0), (d, i)


# --- writes ndgrad sees never trip it ---------------------------------------------------------


def test_copy_on_write_of_a_guarded_array_is_no_false_alarm():
    def f(x):
        h = np.exp(x)
        y = np.sum(h * h)
        h += 1.0  # seen: the node keeps a copy of the old values
        h[3] = 0.0
        h.sort()
        return y + np.sum(h * x)

    check_grad(f, np.linspace(-1.0, 1.0, N))


def test_copy_on_write_after_an_unseen_write_is_still_detected():
    # The unseen write comes first; the copy made for the node at the seen write would keep the
    # changed values and pass them off as the old ones.
    x = leaf(np.ones(N))
    h = x * 2
    a = np.asarray(h)
    y = np.sum(h * h)
    a[0] = 100.0
    h += 1.0  # a write ndgrad sees: copy-on-write
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


def test_constant_written_by_ndgrad_keeps_its_old_value_and_no_alarm():
    c = GradArray(np.linspace(1.0, 2.0, N))
    x = leaf(np.ones(N))
    y = np.sum(x * c)
    c *= 3.0  # seen
    y.backward()
    np.testing.assert_array_equal(x.grad, np.linspace(1.0, 2.0, N))


def test_retain_graph_backward_twice_without_writes():
    x = leaf(np.linspace(0.0, 1.0, N))
    c = np.linspace(1.0, 3.0, N)
    y = np.sum(np.sin(x) * c)
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * np.cos(np.linspace(0.0, 1.0, N)) * c, rtol=1e-12)


def test_write_between_two_backward_passes_is_detected():
    x = leaf(np.linspace(0.0, 1.0, N))
    c = np.linspace(1.0, 3.0, N)
    v = c[:]
    y = np.sum(np.sin(x) * c)
    y.backward(retain_graph=True)
    v[0] = 0.0
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward()


# --- higher order -----------------------------------------------------------------------------


def test_second_order_without_writes_matches_finite_differences():
    c = np.linspace(0.5, 1.5, N)
    v = c[:]  # an earlier view, never written

    def f(x):
        return np.sum(np.sin(x) * c * x) + 0.0 * np.sum(v)

    check_grad(f, np.linspace(-1.0, 1.0, N), order=2)


def test_write_before_the_create_graph_backward_is_detected():
    x = leaf(np.linspace(0.0, 1.0, N))
    c = np.linspace(1.0, 3.0, N)
    v = c[:]
    y = np.sum(np.sin(x) * c)
    v[1] = 0.0
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        y.backward(create_graph=True)


def test_write_to_what_the_backward_graph_saved_is_detected():
    x = leaf(np.linspace(0.0, 1.0, N))
    c = np.linspace(1.0, 3.0, N)
    v = c[:]
    y = np.sum(np.sin(x * c))
    y.backward(create_graph=True)  # x.grad = cos(x * c) * c, recorded: the product saved c
    g = x.grad
    x.grad = None
    z = np.sum(g)
    v[2] = 0.0
    with pytest.raises(InPlaceError, match=BEFORE_SAVE):
        z.backward()


def test_hvp_of_guarded_arrays_matches_the_closed_form():
    c = np.linspace(0.5, 1.5, N)
    x0 = np.linspace(-1.0, 1.0, N)
    u = np.linspace(1.0, 2.0, N)
    hv = nd.hvp(lambda x: np.sum(np.sin(x) * c), x0, u)
    hv = hv[1] if isinstance(hv, tuple) else hv
    np.testing.assert_allclose(hv, -np.sin(x0) * c * u, rtol=1e-12)


# --- the opt-out ------------------------------------------------------------------------------


def test_opt_out_turns_the_check_off():
    code = (
        "import numpy as np, ndgrad as nd\n"
        "x = nd.GradArray(np.ones(5000), requires_grad=True)\n"
        "buf = np.ones(5000); v = buf[:]\n"
        "y = np.sum(x * buf); v[:] = 5; y.backward()\n"
        "print(x.grad[0])\n"
    )
    env = {**os.environ, "NDGRAD_CHECK_SAVED": "0", "NDGRAD_COPY_BYTES": str(16 * 1024)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "5.0"  # the risk the user accepted: the new values are used


@pytest.mark.parametrize("seed", range(4))
def test_fingerprint_sees_random_single_changes_in_random_layouts(seed):
    rng = np.random.default_rng(seed)
    dtypes = [np.float64, np.float32, np.complex128, np.complex64, np.int64, np.int8, np.bool_]
    for _ in range(50):
        dtype = dtypes[rng.integers(len(dtypes))]
        shape = tuple(int(k) for k in rng.integers(1, 40, size=rng.integers(1, 4)))
        base = (rng.standard_normal(shape) * 10).astype(dtype)
        layout = rng.integers(5)
        view = [base, base.T, base[..., ::2], base[..., ::-1], base[None].repeat(1, 0)][layout]
        if view.size == 0:
            continue
        fp0 = fingerprint(view)
        np.testing.assert_array_equal(fingerprint(view), fp0)  # unchanged: the same
        k = tuple(int(rng.integers(n)) for n in view.shape)
        old = view[k].copy()
        kind = np.dtype(dtype).kind
        view[k] = ~old if kind == "b" else (old ^ 1) if kind == "i" else (old + 1)
        assert not np.array_equal(fingerprint(view), fp0), (dtype, shape, layout, k)


@needs_small_copies
def test_a_jacobian_compares_each_fingerprint_once_not_once_a_row(monkeypatch):
    # nd.jacobian backpropagates once per output element and no user code runs in between:
    # the first pass verifies the saved constant, the other 99 only check version counters
    from ndgrad import _graph

    calls = []
    original = _graph.intact
    monkeypatch.setattr(_graph, "intact", lambda a, fp: (calls.append(1), original(a, fp))[1])
    rng = np.random.default_rng(0)
    a = rng.standard_normal((100, 100))  # 80 KB: guarded and fingerprinted when saved
    x = rng.standard_normal(100)
    jac = nd.jacobian(lambda x: np.sin(a @ x) * x)(x)
    expected = np.cos(a @ x)[:, None] * a * x[:, None] + np.diag(np.sin(a @ x))
    np.testing.assert_allclose(jac, expected, rtol=1e-12, atol=1e-12)
    assert 1 <= len(calls) <= 2, len(calls)


def test_separate_backward_calls_each_compare_the_fingerprint():
    # outside one transform's passes, a write between two backward() calls is still found
    x = nd.GradArray(np.ones(N), requires_grad=True)
    buf = np.ones(N)
    view = buf[:]
    y = np.sum(x * buf)
    y.backward(retain_graph=True)
    view[:] = 5.0
    with pytest.raises(nd.InPlaceError):
        y.backward()


def test_backward_compares_fingerprints_once_per_node_inside_one_graph_pulled_often(monkeypatch):
    # backward's own comparison (compiled, no call of _graph.intact) records a node whose
    # fingerprints match in the block's set, as _check_versions does: the second pass through
    # the same graph reads the saved array again only without the block
    from ndgrad import _graph

    def count(block):
        seen, intact = [], []
        fingerprint, original_intact = _graph.fingerprint, _graph.intact
        monkeypatch.setattr(_graph, "fingerprint", lambda a: (seen.append(1), fingerprint(a))[1])
        monkeypatch.setattr(
            _graph, "intact", lambda a, fp: (intact.append(1), original_intact(a, fp))[1]
        )
        x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
        c = np.linspace(1.0, 2.0, N)
        y = np.sum(x * c)
        with block():
            y.backward(retain_graph=True)
            y.backward()
        monkeypatch.undo()
        np.testing.assert_allclose(x.grad, 2 * c)
        return len(seen), len(intact)

    assert count(_graph.one_graph_pulled_often) == (2, 0)  # saved, compared once
    assert count(contextlib.nullcontext) == (3, 0)  # saved, compared at each pass


def test_backward_refuses_a_write_found_by_the_compiled_comparison_inside_the_block():
    # the compiled comparison sees the change and leaves the node unrecorded: _check_versions
    # compares again and refuses, inside one_graph_pulled_often as outside it
    from ndgrad import _graph

    x = nd.GradArray(np.ones(N), requires_grad=True)
    buf = np.ones(N)
    view = buf[:]
    y = np.sum(x * buf)
    with _graph.one_graph_pulled_often():
        view[:] = 5.0
        with pytest.raises(nd.InPlaceError, match="changed after"):
            y.backward()


def test_memory_locked_at_birth_needs_no_fingerprint_when_saved_again(monkeypatch):
    # exp's result is saved by exp itself (fresh: read-only, with its base, from birth) and
    # again by the multiply: no writable view of it can exist, so only x is fingerprinted
    from ndgrad import _graph

    seen = []
    original = _graph.fingerprint
    monkeypatch.setattr(_graph, "fingerprint", lambda a: (seen.append(a.shape), original(a))[1])
    x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
    e = np.exp(x)
    y = np.sum(e * x)
    assert len(seen) == 1  # x, for the multiply
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(e)[0] = 5.0  # a view made afterwards is read-only: the write fails loudly
    y.backward()
    np.testing.assert_allclose(x.grad, np.exp(x.values) * (1 + x.values))


def test_memory_written_through_ndgrad_is_fingerprinted_again_when_saved():
    # after a write ndgrad sees, the guard is released: a later save makes a new guard, not
    # locked at birth, and a view made in between is caught by its fingerprint
    x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
    e = np.exp(x)
    e += 1.0  # recorded; the memory is writable again
    alias = np.asarray(e)  # a plain view made before the next save
    y = np.sum(e * x)
    alias[0] = 123.0
    with pytest.raises(nd.InPlaceError):
        y.backward()


# A constant that several live nodes save is fingerprinted once while ndgrad keeps it locked.


def _fingerprinted(monkeypatch):
    from ndgrad import _graph

    seen = []
    original = _graph.fingerprint
    monkeypatch.setattr(_graph, "fingerprint", lambda a: (seen.append(a.shape), original(a))[1])
    return seen


def _two_saves(a, alias=None, write_between=False):
    """``a`` saved twice, as itself and as ``a.T`` (the same bytes in memory order)."""
    w = leaf(np.linspace(0.1, 1.0, a.shape[1]))
    v = leaf(np.linspace(-1.0, 1.0, a.shape[0]))
    first = a @ w
    if write_between:
        alias[0, 0] = 7.0
    second = a.T @ v
    return np.sum(first * first) + np.sum(np.sin(second)), w, v


@needs_small_copies
def test_a_constant_saved_twice_is_fingerprinted_once(monkeypatch):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 90))  # 43 kB: guarded, not copied
    seen = _fingerprinted(monkeypatch)
    y, w, v = _two_saves(a)
    assert seen == [(60, 90)]  # a.T (Fortran order: the same bytes in memory order) shares it
    y.backward()
    np.testing.assert_allclose(w.grad, 2 * a.T @ (a @ w.values), rtol=1e-12)
    np.testing.assert_allclose(v.grad, a @ np.cos(a.T @ v.values), rtol=1e-12)


@needs_small_copies
def test_a_constant_saved_again_after_its_guards_died_is_fingerprinted_again(monkeypatch):
    a = np.random.default_rng(1).standard_normal((60, 90))
    seen = _fingerprinted(monkeypatch)
    y, _, _ = _two_saves(a)
    del y
    assert a.flags.writeable  # the last guard gone: writable again, its fingerprint forgotten
    _y, _, _ = _two_saves(a)  # held while its fingerprints are counted
    assert seen == [(60, 90), (60, 90)]


@pytest.mark.parametrize("between", [True, False], ids=["between-the-saves", "after-both"])
def test_a_write_through_an_earlier_view_of_a_shared_constant_is_detected(between):
    a = np.random.default_rng(2).standard_normal((60, 90))
    alias = a[:]  # made before the saves: it stays writable
    y, _, _ = _two_saves(a, alias, write_between=between)
    if not between:
        alias[0, 0] = 7.0
    with pytest.raises(nd.InPlaceError, match=BEFORE_SAVE):
        y.backward()


@needs_small_copies
def test_other_bytes_of_a_shared_constant_get_their_own_fingerprint(monkeypatch):
    a = np.random.default_rng(3).standard_normal((60, 180))
    seen = _fingerprinted(monkeypatch)
    w = leaf(np.linspace(0.5, 1.5, 180))
    u = leaf(np.linspace(-1.0, 1.0, 90))
    y = np.sum(np.sin(a @ w))  # the whole of a, fingerprinted and kept
    y = y + np.sum(np.sin(a[:30] @ w))  # contiguous, fewer bytes
    y = y + np.sum(np.sin(a[:, ::2] @ u)) + np.sum(np.sin(a[:, 1::2] @ u))  # strided
    assert seen == [(60, 180), (30, 180), (60, 90), (60, 90)]
    y.backward()  # each node's check compares its own bytes' fingerprint: no false alarm
    expected_w = a.T @ np.cos(a @ w.values) + a[:30].T @ np.cos(a[:30] @ w.values)
    expected_u = sum(b.T @ np.cos(b @ u.values) for b in (a[:, ::2], a[:, 1::2]))
    np.testing.assert_allclose(w.grad, expected_w, rtol=1e-12)
    np.testing.assert_allclose(u.grad, expected_u, rtol=1e-12)


# --- the compiled column sums against NumPy's ------------------------------------------------


def _numpy_fingerprint_of_bytes(b, rows=ROWS, max_row=MAX_ROW):
    """The fingerprint of a C-contiguous uint8 array, by NumPy reductions: the words in rows of
    ``w`` (the last one padded with zeros, which change no sum), summed down each column and
    along each row."""
    n = b.size >> 3
    words = b[: n << 3].view(np.uint64)
    if n < 64:
        out = np.zeros(n + 1, np.uint64)
        out[:n] = words
    else:
        w = max(math.isqrt(n), min(-(-n // rows), max_row))
        grid = np.zeros(-(-n // w) * w, np.uint64)
        grid[:n] = words
        grid = grid.reshape(-1, w)
        out = np.concatenate([grid.sum(axis=0), grid.sum(axis=1), np.zeros(1, np.uint64)])
    out[-1] = int.from_bytes(b[n << 3 :].tobytes(), "little")
    return out


@pytest.mark.parametrize(
    "nbytes",
    [0, 1, 7, 8, 9, 63 * 8, 64 * 8, 64 * 8 + 5, 1000 * 8 + 3, 128 * 128 * 8, 10**6 + 7, 3 * 10**6],
)
@pytest.mark.parametrize("offset", [0, 1, 3])  # words not aligned to 8 bytes too
def test_compiled_fingerprint_equals_numpys(nbytes, offset):
    rng = np.random.default_rng(nbytes + offset)
    buffer = rng.integers(0, 256, nbytes + offset, dtype=np.uint8)
    b = buffer[offset:]
    assert b.flags.c_contiguous
    # ndgrad's row lengths, and others: rows shorter than sqrt(n) words are widened
    for rows, max_row in [(ROWS, MAX_ROW), (128, 16384), (7, 5), (2, 10**9), (1, 10**9)]:
        np.testing.assert_array_equal(
            _core.fingerprint_bytes(b, rows, max_row),
            _numpy_fingerprint_of_bytes(b, rows, max_row),
        )
    # and through fingerprint(), for arrays of other dtypes and layouts over the same bytes
    if nbytes % 8 == 0 and nbytes and offset == 0:
        a = b.view(np.float64)
        np.testing.assert_array_equal(fingerprint(a), _numpy_fingerprint_of_bytes(b))


@pytest.mark.parametrize("width", [16, 17, 23, 40, 64])
def test_compiled_fingerprint_blocks_of_rows_equal_numpys(width):
    # The compiled sums add BLOCK (8) whole rows at a time, and the rows after the last block
    # word by word: fewer than eight rows (no block), whole blocks with nothing left, and every
    # count of rows left over, the last one short.
    rng = np.random.default_rng(width)
    for n in sorted(
        {64, 5 * width + 3, 8 * width - 1, 8 * width, 8 * width + 1, 9 * width - 1}
        | {16 * width - 1, 16 * width, 16 * width + 1, width * width - 1}
        | set(rng.integers(8 * width, width * width, 12).tolist())
    ):
        buffer = rng.integers(0, 256, 8 * n + 12, dtype=np.uint8)
        for offset in (0, 5):
            b = buffer[offset : offset + 8 * n + rng.integers(0, 8)]
            # rows=1 and max_row=width: rows of exactly `width` words (width * width > n)
            np.testing.assert_array_equal(
                _core.fingerprint_bytes(b, 1, width), _numpy_fingerprint_of_bytes(b, 1, width)
            )


def test_compiled_fingerprint_wraps_modulo_2_64():
    words = np.full(70 * 16384, 2**64 - 1, np.uint64)  # every column sum overflows many times
    b = words.view(np.uint8)
    np.testing.assert_array_equal(
        _core.fingerprint_bytes(b, ROWS, MAX_ROW), _numpy_fingerprint_of_bytes(b)
    )


def test_compiled_fingerprint_refuses_what_it_cannot_read():
    with pytest.raises(ValueError):
        _core.fingerprint_bytes(np.zeros(16, np.uint64), 128, 16384)  # not bytes
    with pytest.raises(ValueError):
        _core.fingerprint_bytes(np.zeros(32, np.uint8)[::2], 128, 16384)  # not contiguous
    with pytest.raises(TypeError):
        _core.fingerprint_bytes([1, 2, 3], 128, 16384)
