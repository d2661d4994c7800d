"""The transforms' fast paths (per-transform argnums, one-array arguments, the Jacobian's rows
pulled with their set-up made once): values against closed forms and finite differences, and the
caller's arrays left alone whatever the function does to its argument."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import ndgrad as nd
from ndgrad import GraphBreakError, InPlaceError
from tests._helpers import fd_jacobian, needs_small_copies, race

X3 = np.array([0.3, -0.7, 1.1])
A = np.random.default_rng(7).standard_normal((4, 3))


# --- argnums made once per transform ----------------------------------------------------------


def test_grad_argnums_per_argument_count():
    """One transform called with different numbers of arguments: a negative argnum names a
    different argument each time."""

    def f(*xs):
        return sum(np.sum(x**2) * (i + 1) for i, x in enumerate(xs))

    g = nd.grad(f, argnums=-1)
    np.testing.assert_allclose(g(X3), 2 * X3)
    np.testing.assert_allclose(g(X3, X3), 4 * X3)
    np.testing.assert_allclose(g(X3, X3, X3), 6 * X3)
    with pytest.raises(ValueError, match="argnums"):
        nd.grad(f, argnums=3)(X3, X3)


def test_grad_argnums_list_read_on_every_call():
    def f(a, b):
        return np.sum(a * b**2)

    nums = [0]
    g = nd.grad(f, argnums=nums)
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    np.testing.assert_allclose(g(a, b)[0], b**2)
    nums[0] = 1
    np.testing.assert_allclose(g(a, b)[0], 2 * a * b)


def test_value_and_grad_tuple_argnums_and_containers_against_fd():
    def f(w, b, scale):
        return np.sum(np.tanh(A @ w + b["c"])) * scale

    w, b = X3.copy(), {"c": np.array([0.1, -0.2, 0.3, 0.4])}
    (value, (gw, gb)) = nd.value_and_grad(f, argnums=(0, 1))(w, b, 2.0)
    assert value == pytest.approx(f(w, b, 2.0))
    np.testing.assert_allclose(gw, fd_jacobian(lambda v: f(v, b, 2.0), w), rtol=1e-6)
    np.testing.assert_allclose(
        gb["c"], fd_jacobian(lambda c: f(w, {"c": c}, 2.0), b["c"]), rtol=1e-6
    )


def test_grad_single_array_result_is_fresh_and_writable():
    """The one-array path hands out a gradient the caller owns, even when it is the cotangent
    of a broadcast (read-only) view."""
    g = nd.grad(lambda x: np.sum(x))(X3)
    assert type(g) is np.ndarray and g.flags.writeable
    np.testing.assert_array_equal(g, np.ones(3))
    g[0] = 5.0
    np.testing.assert_array_equal(nd.grad(lambda x: np.sum(x))(X3), np.ones(3))


def test_grad_unused_and_zero_checks_still_fire():
    with pytest.raises(ValueError, match="does not depend"):
        nd.grad(lambda x, y: np.sum(y**2))(X3, X3)
    np.testing.assert_array_equal(
        nd.grad(lambda x, y: np.sum(y**2), allow_unused=True)(X3, X3), np.zeros(3)
    )

    def cut(x):  # a link from the output to x that carries only zeros, value still moves
        plain = np.ndarray.view(x, np.ndarray)
        return np.sum(np.where(np.zeros(3, bool), x, 0.0)) + np.sum(plain**2)

    with pytest.raises(GraphBreakError, match="exactly zero"):
        nd.grad(cut, scope=False)(X3)
    # an unused input allowed does not spare the reached ones the check
    with pytest.raises(GraphBreakError, match="exactly zero"):
        nd.grad(lambda x, y: cut(x), argnums=(0, 1), allow_unused=True, scope=False)(X3, X3)


def test_grad_nan_gradient_is_not_taken_for_zero():
    with np.errstate(all="ignore"):
        g = nd.grad(lambda x: np.sum(np.sqrt(x)))(np.array([0.0, -1.0]))
    assert np.isinf(g[0]) and np.isnan(g[1])


def test_grad_true_zero_gradient_is_returned():
    g = nd.grad(lambda x: np.sum(x**2))(np.zeros(3))
    np.testing.assert_array_equal(g, np.zeros(3))


# --- the caller's arrays: the tracers are copies --------------------------------------------------


def _writes_in_place(kind):
    def f(x):
        if kind == "iadd":
            x += 1
        elif kind == "setitem":
            x[0] = 5
        elif kind == "out":
            np.add(x, 1, out=x)
        elif kind == "sort":
            x.sort()
        return np.sum(x**2)

    return f


@pytest.mark.parametrize("kind", ["iadd", "setitem", "out", "sort"])
def test_recorded_write_to_the_argument_raises_and_caller_is_unchanged(kind):
    x = np.array([3.0, 1.0, 2.0])
    with pytest.raises(InPlaceError, match="leaf that requires grad"):
        nd.grad(_writes_in_place(kind))(x)
    np.testing.assert_array_equal(x, [3.0, 1.0, 2.0])


@needs_small_copies
def test_unrecorded_write_to_the_argument_never_reaches_the_caller():
    """Compiled code writing into the argument's memory (a plain view, LAPACK's overwrite_a)
    writes the transform's copy: the caller's array keeps its values, and the gradient is the
    one of the function as it ran."""
    x = np.array([1.0, 2.0])

    def plain_write(v):
        np.ndarray.view(v, np.ndarray)[0] = 5.0
        return np.sum(v**2)

    np.testing.assert_allclose(nd.grad(plain_write)(x), [10.0, 4.0])
    np.testing.assert_array_equal(x, [1.0, 2.0])

    m = np.array([[4.0, 1.0], [2.0, 3.0]])

    def lapack(a):
        scipy.linalg.lu_factor(np.ndarray.view(a, np.ndarray), overwrite_a=True)
        return np.sum(a**2)

    g = nd.grad(lapack)(m)
    np.testing.assert_array_equal(m, [[4.0, 1.0], [2.0, 3.0]])
    assert g.shape == (2, 2)


def test_write_to_the_callers_array_through_another_name_does_not_reach_the_tracer():
    """The function writes the very array it was called with through a closure: the tracer
    holds the values of the call, so the gradient is the one at the point of the call."""
    x = np.array([1.0, 2.0])

    def f(w):
        x[1] = 7.0
        return np.sum(w**2)

    np.testing.assert_allclose(nd.grad(f)(x), [2.0, 4.0])


def test_closure_view_of_the_argument_memory_is_a_constant():
    m = np.arange(6.0).reshape(2, 3) + 1
    g = nd.grad(lambda w: np.sum(w * m[0]))(m[0])
    np.testing.assert_allclose(g, m[0])


# --- jacobian: the rows pulled with their set-up made once -------------------------------------


def _f_jac(x):
    return np.sin(A @ x) * x[:1]


def test_jacobian_against_fd_and_closed_form():
    jac = nd.jacobian(_f_jac)(X3)
    np.testing.assert_allclose(jac, fd_jacobian(_f_jac, X3), rtol=1e-6, atol=1e-9)
    closed = np.cos(A @ X3)[:, None] * A * X3[0]
    closed[:, 0] += np.sin(A @ X3)
    np.testing.assert_allclose(jac, closed, rtol=1e-12)


def test_jacobian_several_inputs_one_unreached_and_several_outputs():
    def f(x, y, z):
        return {"a": x * y[0], "b": np.sum(x) * np.ones(2), "c": np.zeros(2)}

    y, z = np.array([2.0, 5.0]), np.array([1.0])
    jac = nd.jacobian(f, argnums=(0, 1, 2), allow_unused=True)(X3, y, z)
    np.testing.assert_allclose(jac["a"][0], 2.0 * np.eye(3))
    np.testing.assert_allclose(jac["a"][1], np.stack([X3, np.zeros(3)], axis=1))
    np.testing.assert_array_equal(jac["a"][2], np.zeros((3, 1)))
    np.testing.assert_allclose(jac["b"][0], np.ones((2, 3)))
    np.testing.assert_array_equal(jac["b"][1], np.zeros((2, 2)))
    np.testing.assert_array_equal(jac["c"][0], np.zeros((2, 3)))
    # the zero rows are separate arrays in the result: writing one changes no other
    jac["a"][2][0, 0] = 9.0
    assert jac["a"][2][1, 0] == 0.0 and jac["b"][1][0, 0] == 0.0
    with pytest.raises(ValueError, match="does not depend"):
        nd.jacobian(f, argnums=(0, 2))(X3, y, z)


def test_jacobian_of_identity_and_of_a_view_output():
    np.testing.assert_array_equal(nd.jacobian(lambda x: x)(X3), np.eye(3))
    np.testing.assert_array_equal(nd.jacobian(lambda x: (2 * x)[1:])(X3), 2 * np.eye(3)[1:])
    jac = nd.jacobian(lambda x: (x * x).reshape(3, 1))(X3)
    np.testing.assert_allclose(jac, np.diag(2 * X3).reshape(3, 1, 3))


def test_jacobian_mixed_precision_and_scalar_output():
    x32 = X3.astype(np.float32)
    jac = nd.jacobian(lambda x: np.sin(x.astype(np.float64)))(x32)
    np.testing.assert_allclose(jac, np.diag(np.cos(x32.astype(np.float64))), rtol=1e-6)
    g = nd.jacobian(lambda x: np.sum(x**3))(X3)
    np.testing.assert_allclose(g, 3 * X3**2)
    assert g.shape == (3,)


def test_jacobian_real_output_of_complex_input_is_the_gradient_convention():
    z = np.array([1.0 + 2.0j, -0.5 + 0.3j])
    jac = nd.jacobian(lambda z: np.abs(z) ** 2)(z)
    # d|z|^2/dRe + 1j d|z|^2/dIm = 2 Re z + 2j Im z = 2 z, on the diagonal
    np.testing.assert_allclose(jac, np.diag(2 * z))


def test_hessian_and_nested_jacobian_against_closed_forms():
    def f(x):
        return np.sum(np.log1p(np.exp(A @ x))) + 0.5 * np.dot(x, x)

    s = 1 / (1 + np.exp(-(A @ X3)))
    closed = A.T @ np.diag(s * (1 - s)) @ A + np.eye(3)
    np.testing.assert_allclose(nd.hessian(f)(X3), closed, rtol=1e-10)
    np.testing.assert_allclose(nd.jacobian(nd.grad(f))(X3), closed, rtol=1e-10)
    # a Jacobian inside a gradient: the rows stay differentiable (the nested path)
    g = nd.grad(lambda x: np.sum(nd.jacobian(lambda y: y**3)(x)))(X3)
    np.testing.assert_allclose(g, 6 * X3)


def test_nested_grad_inside_grad_matches_closed_form():
    """The saddle pattern: an inner gradient of a closure over the outer tracer."""

    def outer(p):
        inner = nd.grad(lambda q: np.sum(q**2 * p))
        q = np.array([1.0, -2.0])
        for _ in range(3):
            q = q - 0.1 * inner(q)  # q_{k+1} = q_k (1 - 0.2 p)
        return np.sum(q**2)

    p = np.array([0.5, 1.5])
    q0 = np.array([1.0, -2.0])
    closed = q0**2 * 2 * (1 - 0.2 * p) ** 5 * 3 * (-0.2)
    np.testing.assert_allclose(nd.grad(outer)(p), closed, rtol=1e-12)
    np.testing.assert_allclose(nd.grad(outer)(p), fd_jacobian(outer, p), rtol=1e-6)


@pytest.mark.parametrize("n", [3, 5000])  # small, and past the first-element shortcut
def test_zero_check_on_large_gradients(n):
    # a cut graph whose only link carries zeros is caught at any size
    def cut(x):
        plain = np.ndarray.view(x, np.ndarray)
        return np.sum(np.where(np.zeros(n, bool), x, 0.0)) + np.sum(plain**2)

    x = np.linspace(0.5, 1.5, n)
    with pytest.raises(GraphBreakError, match="exactly zero"):
        nd.grad(cut, scope=False)(x)
    # a gradient whose first element is zero and the others not is returned as it is
    g = nd.grad(lambda v: np.sum(v**2))(np.concatenate([[0.0], x[1:]]))
    np.testing.assert_array_equal(g, 2 * np.concatenate([[0.0], x[1:]]))


# --- large inputs: the copy goes into the previous call's buffer when nothing holds it -----------

N_LARGE = 20_000  # 160 kB: above the size from which the buffer is reused


def _large(seed):
    return np.random.default_rng(seed).standard_normal(N_LARGE)


def test_reused_buffer_gives_each_call_its_own_values():
    bases = []

    def f(x):
        bases.append(id(x.base))  # the buffer under the tracer (an id: no reference kept)
        return np.sum(np.sin(x) * x)

    vg = nd.value_and_grad(f)
    for seed in range(4):
        x = _large(seed)
        before = x.copy()
        value, g = vg(x)
        np.testing.assert_allclose(value, np.sum(np.sin(x) * x), rtol=1e-12)
        np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-12)
        np.testing.assert_array_equal(x, before)  # the caller's array is never written
    assert len(set(bases)) < len(bases)  # the copy did go into a reused buffer


def test_a_buffer_something_still_holds_is_not_reused():
    # aux returns a view of the tracer: the caller holds it, so the next call copies into new
    # memory and the view keeps the first call's values
    vg = nd.value_and_grad(lambda x: (np.sum(x**2), x[:5]), has_aux=True)
    x0, x1 = _large(0), _large(1)
    (_, view), _ = vg(x0)
    (_, view1), g1 = vg(x1)
    np.testing.assert_array_equal(view, x0[:5])
    np.testing.assert_array_equal(view1, x1[:5])
    np.testing.assert_allclose(g1, 2 * x1, rtol=1e-12)
    # nor while a closure kept by the function holds the tracer
    kept = []
    g = nd.grad(lambda x: (kept.append(x), np.sum(x**3))[1])
    g(x0)
    g(x1)
    np.testing.assert_array_equal(np.asarray(kept[0].values), x0)
    np.testing.assert_array_equal(np.asarray(kept[1].values), x1)


@pytest.mark.parametrize("size", [3000, 9000])  # 24 kB: a new copy; 72 kB: a reused buffer
def test_a_large_input_is_sealed_and_its_saves_need_no_fingerprint(monkeypatch, size):
    # The private copy is read-only before the function sees it: no view of it is writable,
    # so the nodes that save it take no fingerprint; the caller's own leaf is fingerprinted.
    from ndgrad import _graph

    taken = []  # the memory owners of the arrays fingerprinted
    real = _graph.fingerprint
    monkeypatch.setattr(
        _graph, "fingerprint", lambda a: taken.append(id(_graph.memory_owner(a))) or real(a)
    )
    owners = []

    def f(t):
        owners.append(id(_graph.memory_owner(t)))
        return np.sum(np.sin(t) * t)  # sin and multiply save t

    x = np.linspace(0.1, 1.5, size)
    g = nd.grad(f)(x)
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-12)
    assert owners[0] not in taken
    leaf = nd.GradArray(x, requires_grad=True)
    f(leaf).backward()
    # the tape API's leaf: the caller may hold a writable view of it
    assert owners[1] in taken

    def writes_through_a_plain_alias(t):
        y = np.sin(t) * t  # saves t
        alias = t.view(np.ndarray)  # outside the scope: NumPy's view, made after the seal
        alias[0] = 5.0
        return np.sum(y)

    with pytest.raises(ValueError, match="read-only"):
        nd.grad(writes_through_a_plain_alias, scope=False)(x)
    # the caller's array is never written
    np.testing.assert_array_equal(x, np.linspace(0.1, 1.5, size))


def test_a_seal_broken_by_hand_is_refused_not_silently_wrong():
    # the one way around the seal: make the private copy's owner writable again and write
    # through it after a node saved it; with no fingerprint taken, the check is the seal itself
    def f(t):
        y = np.sin(t) * 2.0  # saves t for cos(t)
        owner = t.base
        owner.flags.writeable = True
        owner[0] = 5.0
        return np.sum(y)

    with pytest.raises(InPlaceError, match="was changed after"):
        nd.grad(f)(_large(2))


@pytest.mark.parametrize("scope", [True, False])
def test_an_argument_handed_back_is_a_writable_array_of_the_callers(scope):
    # fun returns its (sealed, read-only) argument, or a view of it: the caller gets what fun
    # on its own array gives, a writable array, and never the private copy
    x = _large(1)
    out, vjp_fn = nd.vjp(lambda t: t, x, scope=scope)
    (value, aux), g = nd.value_and_grad(
        lambda t: (np.sum(t), np.asarray(t)[:5]), has_aux=True, scope=scope
    )(x)
    tangent_out, _ = nd.jvp(lambda t: t[::2], (x,), (np.ones_like(x),), scope=scope)
    for got, expected in ((out, x), (aux, x[:5]), (tangent_out, x[::2])):
        np.testing.assert_array_equal(got, expected)
        assert got.flags.writeable and not np.shares_memory(got, x)
        got[0] = 0.0
    np.testing.assert_array_equal(x, _large(1))
    np.testing.assert_array_equal(vjp_fn(np.full_like(x, 2.0))[0], np.full_like(x, 2.0))
    np.testing.assert_array_equal(g, np.ones_like(x))
    assert value == pytest.approx(np.sum(x))


def test_reused_buffers_under_threads():
    g = nd.grad(lambda x: np.sum(np.tanh(x) * x))
    errors = []

    def work():
        for seed in range(6):
            x = _large(seed)
            got = g(x)
            t = np.tanh(x)
            if not np.allclose(got, t + x * (1 - t * t), rtol=1e-12):
                errors.append(seed)

    race(work, threads=3)
    assert not errors


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.longdouble])
def test_the_zero_gradient_test_reads_every_element(dtype):
    # It looks at the first element first: a zero there must not end the test, a nonzero
    # (or NaN) one must.
    from ndgrad.functional import _all_zero

    def zero(values):
        return _all_zero(np.array(values, dtype=dtype))

    assert zero([0.0, -0.0, 0.0]) and zero(0.0) and zero([[0.0], [0.0]])
    assert not zero([0.0, 0.0, 2.0]) and not zero([3.0, 0.0])
    assert not zero([0.0, np.nan]) and not zero([np.nan, 0.0])
    assert not zero([])
    assert _all_zero(np.zeros((3, 4), dtype)[:, 1])  # strided
    assert not _all_zero(np.eye(3, dtype=dtype)[:, 2])


@pytest.mark.parametrize("argnums", [0, (0,)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_shared_unit_cotangent_is_never_handed_out_or_written(argnums, dtype):
    # The pass starts from a read-only 1 shared by every call (float64): a function whose
    # gradient is that very cotangent (the identity, a sum of a 0-d input) must hand back a
    # writable copy, and a write into it must not change the next call's gradient.
    for f, slope in [(lambda x: x, 1.0), (lambda x: np.sum(3.0 * x), 3.0), (np.sum, 1.0)]:
        vg = nd.value_and_grad(f, argnums=argnums)
        x = np.array(2.0, dtype=dtype)
        for _ in range(2):
            _, g = vg(x)
            g = g[0] if isinstance(argnums, tuple) else g
            assert g.dtype == dtype and g.flags.writeable and g == slope
            g += 100.0
        assert nd.grad(f)(x) == slope


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_the_compiled_zero_test_reads_every_element_in_every_layout(dtype):
    from ndgrad._core import zero_filled

    rng = np.random.default_rng(5)

    def views(b):  # contiguous, transposed, strided and reversed, a plane, a column, 0-d
        return [b, b.T, b[::2, 1:, ::-3], b[1], b[:, 2, 3], b[0, 0, 0, ...]]

    for i, view in enumerate(views(np.zeros((4, 5, 6), dtype))):
        assert zero_filled(view) is True
        for k in rng.choice(view.size, size=min(4, view.size), replace=False):
            changed = views(np.zeros((4, 5, 6), dtype))[i]  # the same layout, one element set
            changed[np.unravel_index(k, view.shape)] = np.nan if k % 2 else 1e-3
            assert zero_filled(changed) is False, (view.shape, k)
    signed = np.array([-0.0, 0.0, -0.0], dtype)
    assert zero_filled(signed) is True and zero_filled(signed[::-1]) is True
    assert zero_filled(np.zeros(0, dtype)) is False
    assert zero_filled(np.zeros(3, np.int64)) is False  # not a float cotangent
    assert zero_filled(np.zeros(3, np.complex128)) is False
    swapped = np.zeros(3, np.dtype(dtype).newbyteorder())
    if swapped.dtype.byteorder not in "=|":
        assert zero_filled(swapped) is None  # the caller decides
        from ndgrad.functional import _all_zero

        assert _all_zero(swapped) and not _all_zero(np.array([0.0, 2.0], swapped.dtype))
