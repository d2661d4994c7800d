"""Batched Jacobians (``ndgrad._batching``): ``jacfwd`` pushing many input directions, and
``jacrev`` pulling many output cotangents, through the recorded graph at once.

Every registered function's batched Jacobian, both ways, must equal the one made one direction
per pass (itself checked against finite differences by test_forward_rules.py and
test_rules.py): complex arguments given as real pairs and complex outputs as their real and
imaginary parts (``jacrev`` batches a real output's rows only), each call of a function with a
row also made complex, and with its arrays after the first held constant, so that complex
tangents, cotangents and kept factors reach every row. Each batching row is checked against
central differences on calls chosen to trip it: negative and tuple axes, Fortran order,
advanced indices a slice separates, vectors on either side of a product, diagonal offsets of
both signs, complex factors (conjugated in reverse mode), and a batch size equal to a broadcast
or reduced axis (the mistake a batch axis in the wrong place would make). Calls a row declines
are checked to be computed one direction at a time, and right.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import _batching, functional
from ndgrad._registry import VJP_RULES, qualified_name

from .cases import CASES
from .test_rules import _callable

MODES = {  # mode: (transform, its switch in functional, the per-direction fallback)
    "forward": (nd.jacfwd, "BATCH_COLUMNS", "_one_by_one"),
    "reverse": (nd.jacrev, "BATCH_ROWS", "_vjp_one_by_one"),
}


def _jacobians(monkeypatch, mode, fun, argnums, args, batched):
    transform, switch, _ = MODES[mode]
    monkeypatch.setattr(functional, switch, batched)
    try:
        return transform(fun, argnums, allow_unused=True)(*args)
    finally:
        monkeypatch.setattr(functional, switch, True)


def _count_fallbacks(monkeypatch, mode):
    """A Counter of the functions computed one direction at a time from now on."""
    counts = Counter()
    name = MODES[mode][2]
    fallback = getattr(_batching, name)

    def spy(node, *args):
        counts[node.prim.name] += 1
        return fallback(node, *args)

    monkeypatch.setattr(_batching, name, spy)
    return counts


def _differentiable(a):
    return isinstance(a, np.ndarray) and a.dtype.kind in "fc" and a.size > 0


def _as_real_inputs(func, args, kwargs, held=False):
    """``func`` as a function of real arrays only (a complex argument given as its real and
    imaginary parts, batched tangents being real; one with infinities stays a constant, as
    ``re + 1j * im`` would make NaNs of them), returning its float outputs and the real and
    imaginary parts of its complex ones (an integer output has no Jacobian); and those real
    arguments' positions. ``held``: the arguments after the first float or complex array are
    constants, closed over as they are (complex ones too), not differentiated.

    The outputs are real because ``jacrev`` pulls only a real output's rows back batched: a
    complex output's rows go one per backward pass, batched or not, and a comparison of the
    two would compare the unbatched passes with themselves (as it did: a batched VJP row that
    forgot to conjugate a complex factor passed). ``np.real`` and ``np.imag`` of the output
    send complex cotangents (1 and 1j) through the complex nodes, batched."""
    first = next((i for i, a in enumerate(args) if _differentiable(a)), None)
    real_args, parts, argnums = [], [], []
    for i, a in enumerate(args):
        constant = held and i != first
        if not constant and _differentiable(a) and a.dtype.kind == "c" and np.all(np.isfinite(a)):
            parts.append((len(real_args), True))
            argnums += [len(real_args), len(real_args) + 1]
            real_args += [a.real.copy(), a.imag.copy()]
        else:
            parts.append((len(real_args), False))
            if not constant and _differentiable(a) and a.dtype.kind == "f":
                argnums.append(len(real_args))
            real_args.append(a)

    def fun(*r):
        call = [r[i] + 1j * r[i + 1] if pair else r[i] for i, pair in parts]
        out = func(*call, **kwargs)
        leaves = [
            x for x in _leaves(out, keep=True) if x is not None and np.result_type(x).kind in "fc"
        ]
        return tuple(
            part
            for x in leaves
            for part in ((np.real(x), np.imag(x)) if np.result_type(x).kind == "c" else (x,))
        )

    return fun, tuple(argnums), real_args


# Functions with a batching row whose calls are also made complex (clip's row declines complex
# values, which have no order), so that complex cotangents, tangents and kept factors reach
# every row: most of their cases are real.
COMPLEXIFIED = (set(_batching.BATCH_JVP_RULES) | set(_batching.BATCH_VJP_RULES)) - {np.clip}


def _complexified(args, first=True):
    """The call's real float arrays made complex, with imaginary parts of their own (the first
    array left real: ``first`` false)."""
    rng = np.random.default_rng(6)
    arrays = [i for i, a in enumerate(args) if _differentiable(a)]
    return tuple(
        a + 1j * rng.standard_normal(a.shape)
        if i in arrays[0 if first else 1 :] and a.dtype.kind == "f"
        else a
        for i, a in enumerate(args)
    )


def _variants(key, args):
    """``(args, held)`` for each way a call is checked: as the case gives it; for a function
    computed batched by a row or by its elementwise rules, also with the arrays after the
    first held constant, when there are such arrays (kept complex factors, and rows given one
    edge of several arguments); and for a function with a row, with its real arrays made
    complex (held too), and with the arrays after a real first one made complex and held (a
    real argument's cotangent from a complex output). (A function computed one direction at a
    time gains nothing from more variants.)"""
    several = sum(_differentiable(a) for a in args) > 1
    yield args, False
    if several and (key in COMPLEXIFIED or key is np.clip or _batching._elementwise(key)):
        yield args, True
    if key in COMPLEXIFIED and any(_differentiable(a) and a.dtype.kind == "f" for a in args):
        yield _complexified(args), False
        if several:
            yield _complexified(args), True
            yield _complexified(args, first=False), True


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("key", list(VJP_RULES), ids=qualified_name)
def test_batched_jacobian_equals_the_unbatched_one(key, mode, monkeypatch):
    case = CASES[key]
    func = _callable(key, case)
    passes = _count_batched_passes(monkeypatch, mode)
    compared = 0
    for call_args, kwargs in case.calls:
        for args, held in _variants(key, call_args):
            fun, argnums, real_args = _as_real_inputs(func, args, kwargs, held)
            if not argnums:
                continue
            expected = _jacobians(monkeypatch, mode, fun, argnums, real_args, batched=False)
            passes.clear()
            got = _jacobians(monkeypatch, mode, fun, argnums, real_args, batched=True)
            which = f"arguments {[getattr(a, 'dtype', a) for a in args]}, held: {held}"
            assert passes or not _any_nonzero(got), f"not batched: {which}"
            for e, g in zip(_leaves(expected), _leaves(got), strict=True):
                np.testing.assert_allclose(
                    g,
                    e,
                    rtol=1e-10,
                    atol=1e-12 * max(1.0, np.abs(e).max(initial=0.0)),
                    err_msg=which,
                )
            compared += 1
    assert compared, "no call with a real or complex array argument"


def _count_batched_passes(monkeypatch, mode):
    """A Counter of the batched passes ``functional`` makes from now on."""
    counts = Counter()
    name = "push_batched" if mode == "forward" else "pull_batched"
    batched = getattr(functional, name)

    def spy(plan, vectors):
        counts[name] += 1
        return batched(plan, vectors)

    monkeypatch.setattr(functional, name, spy)
    return counts


def _any_nonzero(tree):
    return any(np.any(x) for x in _leaves(tree))


def _leaves(tree, keep=False):
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in _leaves(tree[k], keep)]
    if isinstance(tree, list | tuple):
        return [x for t in tree for x in _leaves(t, keep)]
    return [tree if keep else np.asarray(tree)]


# --- each row, against central differences -----------------------------------------------------


def _fd_jacobian(fun, x, h=1e-6):
    """Central differences: ``jac[i..., j...] = d fun(x)[i...] / d x[j...]``."""
    y = np.asarray(fun(x))
    jac = np.empty((*y.shape, x.size))
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        e = e.reshape(x.shape)
        jac[..., j] = (np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * h)
    return jac.reshape(y.shape + x.shape)


RNG = np.random.default_rng(0)
A23 = RNG.standard_normal((2, 3))
A3 = RNG.standard_normal(3)
A234 = RNG.standard_normal((2, 3, 4))
A33 = RNG.standard_normal((3, 3))
AC23 = A23 + 1j * RNG.standard_normal((2, 3))
IDX = np.array([2, 0, 2])

# (name, function, input shape, the functions computed one direction at a time: none expected)
ROWS = [
    ("sum axis None", lambda x: np.sum(x * x), (2, 3)),
    ("sum negative axis keepdims", lambda x: np.sum(np.sin(x), axis=-1, keepdims=True), (2, 3)),
    ("sum tuple axis", lambda x: np.sum(x**2, axis=(0, 2)), (2, 3, 2)),
    ("mean axis", lambda x: np.mean(np.exp(x), axis=1), (2, 3)),
    ("method sum and mean", lambda x: (x * x).sum(0) + x.mean(), (2, 3)),
    ("add.reduce", lambda x: np.add.reduce(x * x, axis=1), (2, 3)),
    ("reshape C", lambda x: np.reshape(x * x, (3, 2)), (2, 3)),
    ("reshape F", lambda x: np.reshape(np.sin(x), (3, 2), order="F"), (2, 3)),
    ("ravel F", lambda x: np.ravel(x**3, order="F"), (2, 3)),
    ("squeeze expand_dims", lambda x: np.expand_dims(np.squeeze(x**2), -1), (1, 3)),
    ("transpose axes", lambda x: np.transpose(x**2, (2, 0, 1)), (2, 3, 2)),
    ("T", lambda x: (x**2).T * A23.T, (2, 3)),
    ("swapaxes moveaxis", lambda x: np.moveaxis(np.swapaxes(x**2, 0, -1), 0, 1), (2, 3, 2)),
    ("broadcast_to", lambda x: np.broadcast_to(x**2, (2, 2, 3)), (3,)),
    ("basic indexing", lambda x: np.sin(x)[1, ::-1, None], (2, 3)),
    ("ellipsis", lambda x: np.sin(x)[..., 1], (2, 3)),
    ("one advanced index", lambda x: np.sin(x)[:, IDX], (2, 3)),
    ("adjacent advanced indices", lambda x: np.sin(x)[[0, 1, 1], IDX], (2, 3)),
    ("int beside an array", lambda x: np.sin(x)[1, IDX], (2, 3)),
    ("boolean mask", lambda x: np.sin(x)[x > 0], (2, 3)),
    ("stack with a constant", lambda x: np.stack([x * x, A3, np.sin(x)], axis=-1), (3,)),
    ("concatenate axis None", lambda x: np.concatenate([x**2, A23], axis=None), (2, 3)),
    ("concatenate axis 1", lambda x: np.concatenate([x**2, A23, x], axis=1), (2, 3)),
    ("matrix @ vector", lambda x: A23 @ np.sin(x), (3,)),
    ("vector @ matrix.T", lambda x: np.sin(x) @ A23.T, (3,)),
    ("vector @ vector", lambda x: np.sin(x) @ x, (3,)),
    ("matrix @ matrix", lambda x: A23 @ np.sin(x) @ x.T, (3, 2)),
    ("stack of matrices", lambda x: np.sin(A234) @ x, (4, 2)),
    ("stack @ vector", lambda x: x @ A3, (2, 2, 3)),
    ("vector @ stack", lambda x: np.cos(x) @ A234, (3,)),
    ("vector @ matrix", lambda x: np.cos(x) @ A23, (2,)),
    ("dot", lambda x: np.dot(A23, x) * np.dot(x, x) + np.dot(2.0, x)[:2], (3,)),
    ("tensordot", lambda x: np.tensordot(A234, x, axes=([1, 2], [0, 1])), (3, 4)),
    ("tensordot int", lambda x: np.tensordot(x, np.sin(x), axes=1), (3, 3)),
    ("outer", lambda x: np.tensordot(x, np.cos(x), axes=0), (3,)),
    # a batch of 3 directions against a broadcast axis of 3: a batch axis not kept in front
    # broadcasts with it silently
    ("broadcast against the batch", lambda x: x * A33 + np.sin(x) / (1 + A33**2), (3,)),
    ("broadcast both ways", lambda x: np.arctan2(x[:, None], x[None, :]) * x, (2,)),
    # running sums and differences: the axis moved by one; axis=None flattens in C order (of
    # a transposed view here); with 3 directions a sum along the batch axis keeps the shape
    ("cumsum axis None of a transpose", lambda x: np.cumsum(np.sin(x).T), (2, 3)),
    ("cumsum axis 0 against the batch", lambda x: np.cumsum(x[:, None] * A33, axis=0), (3,)),
    ("cumsum negative axis", lambda x: (x**2).cumsum(-1), (2, 3)),
    ("cumsum 0-d", lambda x: np.cumsum(np.sum(x**2)), (3,)),
    (
        "cumulative_sum include_initial",
        lambda x: np.cumulative_sum(np.sin(x), axis=-2, include_initial=True),
        (3, 2),
    ),
    ("cumulative_sum 1-d", lambda x: np.cumulative_sum(x**2), (3,)),
    ("diff n=2 axis 0", lambda x: np.diff(x**2, n=2, axis=0), (4, 3)),
    ("diff against the batch", lambda x: np.diff(x[:, None] * A33, axis=0), (3,)),
    # diagonals: negative axes in reverse order, offsets of both signs, a transposed view
    (
        "diagonal negative axes and offset",
        lambda x: np.diagonal(np.sin(x), offset=-1, axis1=-1, axis2=0),
        (3, 2, 4),
    ),
    ("diagonal offset of a transpose", lambda x: np.sin(x).T.diagonal(1), (3, 4)),
    ("diagonal against the batch", lambda x: np.diagonal(x[:, None] * A33), (3,)),
    ("trace offset and axes", lambda x: np.trace(np.sin(x), 1, axis1=2, axis2=0), (2, 3, 4)),
    ("trace negative offset", lambda x: np.trace(x * x, -1), (3, 3)),
    ("trace against the batch", lambda x: np.trace(x[:, None] * A33, axis1=1, axis2=0), (3,)),
    # (a tangent mixed by a matrix first: each direction's tangent of x alone is diagonal,
    # the same read by rows or by columns)
    ("np.outer", lambda x: np.outer(A33 @ np.sin(x), x[:2]), (3,)),
    ("outer of matrices", lambda x: np.outer(x**2, np.sin(x).T), (2, 3)),
    ("outer with a constant", lambda x: np.outer(A23, np.cos(x)) + np.outer(x, A3).sum(), (3,)),
    # selections: each operand's cotangent summed back over the axes it was broadcast along
    # (of the same length as the batch)
    ("where broadcast", lambda x: np.where(A33 > 0, np.sin(x), x[:, None] ** 2), (3,)),
    ("where one side constant", lambda x: np.where(x > 1, x, 0.5) + np.where(x < 1, 2.0, x), (3,)),
    ("clip constant bounds", lambda x: np.clip(x * A33, -0.3, 0.4), (3,)),
    ("clip keywords", lambda x: np.clip(x**2, min=0.8, max=1.5), (2, 3)),
    ("clip one bound", lambda x: np.clip(x, None, 1.0) + np.clip(x, 1.0, None), (2, 3)),
    ("clip broadcast bounds", lambda x: np.clip(A33 * x, x[:, None] - 1.0, x**2 - 0.5), (3,)),
    ("clip bounds crossed", lambda x: np.clip(x, 1.2 * x[::-1], x[::-1]), (3,)),
    # einsum: explicit and implicit (ASCII order) outputs, three operands, a label of size 1
    ("einsum chain", lambda x: np.einsum("ij,jk,k->i", A23, np.sin(x), x[0]), (3, 2)),
    ("einsum optimize", lambda x: np.einsum("ij,jk,k", A23, x, x[0], optimize=True), (3, 2)),
    (
        "einsum implicit",
        lambda x: np.einsum("Ba,aC", A23, x**2) + np.einsum("ba,aC", A23, x).T,
        (3, 3),
    ),
    ("einsum size-1 label", lambda x: np.einsum("ij,ij->ij", x[:1] ** 2, np.cos(x)), (3, 3)),
    ("einsum summed size-1 label", lambda x: np.einsum("i,i->", x[:1], np.sin(x)) * x, (3,)),
    (
        "einsum sum and transpose",
        lambda x: np.einsum("ij->", x**2) * np.einsum("ij->ji", x),
        (2, 3),
    ),
    ("einsum scalar operand", lambda x: np.einsum(",i->i", np.sum(x), np.sin(x)), (3,)),
]
# advanced indices a slice separates: their axis goes first, before the batch axis
SEPARATED = (lambda x: np.sin(x)[IDX[:2], :, IDX[:2]], (3, 2, 3))


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("name", "fun", "shape"), ROWS, ids=[r[0] for r in ROWS])
def test_each_row_against_finite_differences(name, fun, shape, mode, monkeypatch):
    fallbacks = _count_fallbacks(monkeypatch, mode)
    x = np.random.default_rng(1).uniform(0.5, 1.5, shape)
    got = MODES[mode][0](fun)(x)
    np.testing.assert_allclose(got, _fd_jacobian(fun, x), rtol=1e-6, atol=1e-8)
    assert not fallbacks, f"computed one direction at a time: {dict(fallbacks)}"


# complex products of real inputs: each cotangent takes the other factor conjugated (the
# complex elementwise functions around them are computed one direction at a time)
COMPLEX_PRODUCTS = [
    ("matmul", lambda x: np.real(AC23 @ (x * (1 + 2j))), (3,)),
    ("dot", lambda x: np.real(np.dot(x * (1 - 1j), AC23.T)), (3,)),
    ("tensordot", lambda x: np.real(np.tensordot(AC23, x * (1 + 2j), 1)), (3,)),
    ("outer", lambda x: np.imag(np.outer(AC23, x * (2 - 1j))), (2,)),
    ("einsum", lambda x: np.real(np.einsum("ij,j->i", AC23, x * (1 + 2j))), (3,)),
]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("name", "fun", "shape"), COMPLEX_PRODUCTS, ids=[c[0] for c in COMPLEX_PRODUCTS]
)
def test_complex_products_against_finite_differences(name, fun, shape, mode, monkeypatch):
    fallbacks = _count_fallbacks(monkeypatch, mode)
    x = np.random.default_rng(4).uniform(0.5, 1.5, shape)
    got = MODES[mode][0](fun)(x)
    np.testing.assert_allclose(got, _fd_jacobian(fun, x), rtol=1e-6, atol=1e-8)
    assert set(fallbacks) <= {"numpy.multiply", "numpy.real", "numpy.imag"}, dict(fallbacks)


# calls the rows decline: (name, function, input shape, the function computed one direction at
# a time (None: none) by jacfwd and by jacrev)
EINSUM = "numpy.einsum"
PATH = np.einsum_path("ij,jk,k", A23, A23.T, A3[:2])[0]
DECLINED = [
    ("diff prepend", lambda x: np.diff(x**2, prepend=x[:1], append=0.5), (3,), ("numpy.diff",) * 2),
    ("einsum ellipsis", lambda x: np.einsum("...i,i", np.sin(x), A3), (2, 3), (EINSUM, EINSUM)),
    ("einsum sublists", lambda x: np.einsum(np.sin(x), [0, 1], [1, 0]), (2, 3), (EINSUM, EINSUM)),
    # a contraction path is for the operands of the call, not those of a cotangent
    (
        "einsum path",
        lambda x: np.einsum("ij,jk,k", A23, x, x[0], optimize=PATH),
        (3, 2),
        (EINSUM,) * 2,
    ),
    # forward mode batches a repeated label; the cotangent of a diagonal is declined
    ("einsum diagonal", lambda x: np.einsum("ii->i", x**2), (3, 3), (None, EINSUM)),
]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("name", "fun", "shape", "fallback"), DECLINED, ids=[d[0] for d in DECLINED]
)
def test_declined_calls_are_computed_one_direction_at_a_time(
    name, fun, shape, fallback, mode, monkeypatch
):
    fallbacks = _count_fallbacks(monkeypatch, mode)
    x = np.random.default_rng(5).uniform(0.5, 1.5, shape)
    got = MODES[mode][0](fun)(x)
    np.testing.assert_allclose(got, _fd_jacobian(fun, x), rtol=1e-6, atol=1e-8)
    expected = fallback[0] if mode == "forward" else fallback[1]
    assert set(fallbacks) == ({expected} if expected else set()), dict(fallbacks)


@pytest.mark.parametrize("mode", list(MODES))
def test_what_no_row_handles_is_computed_one_direction_at_a_time(mode, monkeypatch):
    fallbacks = _count_fallbacks(monkeypatch, mode)
    transform = MODES[mode][0]
    fun, shape = SEPARATED
    x = np.random.default_rng(2).uniform(0.5, 1.5, shape)
    np.testing.assert_allclose(transform(fun)(x), _fd_jacobian(fun, x), rtol=1e-6, atol=1e-8)
    assert fallbacks == {"ndarray.__getitem__": 1}
    # and a function without a row (linalg), in the same graph as rows
    f = lambda x: np.linalg.solve(A23[:, :2] @ A23[:, :2].T + np.diag(x), np.sin(x))
    x = np.array([1.5, 2.0])
    np.testing.assert_allclose(transform(f)(x), _fd_jacobian(f, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", list(MODES))
def test_gufuncs_are_not_taken_for_elementwise(mode, monkeypatch):
    """``vecdot``'s loop axes broadcast: with as many directions as ``y`` has rows, a batch
    axis given to its elementwise rules would be read as ``y``'s rows, silently."""
    fallbacks = _count_fallbacks(monkeypatch, mode)
    y = RNG.standard_normal((2, 2))
    for fun in (lambda x: np.vecdot(x, y), lambda x: np.matvec(y, x), lambda x: np.vecmat(x, y)):
        x = np.array([0.7, -1.3])
        got = MODES[mode][0](fun)(x)
        np.testing.assert_allclose(got, _fd_jacobian(fun, x), rtol=1e-6, atol=1e-8)
    # matvec has a row of its own, which keeps the batch axis in front of the loop axes
    assert set(fallbacks) == {"numpy.vecdot", "numpy.vecmat"}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((2, 3), (3,)), ((4, 2, 3), (3,)), ((2, 3), (4, 3)), ((4, 1, 2, 3), (5, 3)), ((3, 3), (3,))],
)
def test_matvec_row_broadcasts_the_loop_axes_behind_the_batch(mode, a_shape, b_shape, monkeypatch):
    """``matvec``'s row, both operands differentiated, where one operand's loop axes are
    broadcast against the other's (as many directions as rows in the square case)."""
    fallbacks = _count_fallbacks(monkeypatch, mode)
    rng = np.random.default_rng(5)
    a = rng.standard_normal(a_shape)
    n_a = a.size

    def fun(x):
        return np.sin(np.matvec(np.reshape(x[:n_a], a_shape), x[n_a:].reshape(b_shape)))

    x = rng.standard_normal(n_a + math.prod(b_shape))
    got = MODES[mode][0](fun)(x)
    np.testing.assert_allclose(got, _fd_jacobian(fun, x), rtol=1e-6, atol=1e-8)
    assert "numpy.matvec" not in fallbacks


@pytest.mark.parametrize("mode", list(MODES))
def test_directions_split_into_batches_that_fit(mode, monkeypatch):
    monkeypatch.setattr(_batching, "BATCH_ELEMENTS", 7 * 20)  # 7 directions of 20 elements
    passes = Counter()
    name = "push_batched" if mode == "forward" else "pull_batched"
    batched = getattr(_batching, name)

    def spy(plan, vectors):
        passes[next(v.shape[0] for v in vectors if v is not None)] += 1
        return batched(plan, vectors)

    monkeypatch.setattr(functional, name, spy)
    if mode == "forward":  # 20 inputs
        fun = lambda x: np.tanh(x[:3, :3] * A23[:1]) @ x[:3, 0]
    else:  # 20 outputs
        fun = lambda x: np.tanh(np.outer(x, x[:2])).reshape(5, 4) * x[:5, None]
    x = np.random.default_rng(3).uniform(0.5, 1.5, (5, 4) if mode == "forward" else (10,))
    got = MODES[mode][0](fun)(x)
    np.testing.assert_allclose(got, _fd_jacobian(fun, x), rtol=1e-6, atol=1e-8)
    assert passes == {7: 2, 6: 1}


def test_hessian_is_batched_and_matches_the_closed_form(monkeypatch):
    """``nd.hessian`` is jacfwd of grad: its columns go through the batch too."""
    a = RNG.standard_normal((6, 4))
    fallbacks = _count_fallbacks(monkeypatch, "forward")

    def loss(w):
        return np.sum(np.log1p(np.exp(a @ w))) + 0.5 * np.dot(w, w)

    w = RNG.standard_normal(4)
    p = 1 / (1 + np.exp(-(a @ w)))
    expected = a.T @ np.diag(p * (1 - p)) @ a + np.eye(4)
    np.testing.assert_allclose(nd.hessian(loss)(w), expected, rtol=1e-12)
    assert not fallbacks, dict(fallbacks)
