"""ndarray methods and properties on GradArray: same values as NumPy, recorded where float."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray, InPlaceError, NotDifferentiableError
from ndgrad import _methods as methods
from ndgrad.testing import check_grad

TABLES = {
    "AS_FUNCTION": methods.AS_FUNCTION,
    "SPECIAL": methods.SPECIAL,
    "CONVERSIONS": methods.CONVERSIONS,
    "METHODS_NO_GRADIENT": methods.METHODS_NO_GRADIENT,
    "METHODS_UNSUPPORTED": methods.METHODS_UNSUPPORTED,
    "PROPERTIES": methods.PROPERTIES,
    "PROPERTIES_NO_GRADIENT": methods.PROPERTIES_NO_GRADIENT,
    "PROPERTY_CONVERSIONS": methods.PROPERTY_CONVERSIONS,
}


def leaf(values, dtype=float):
    return GradArray(np.asarray(values, dtype=dtype), requires_grad=True)


def _x():
    return np.random.default_rng(0).standard_normal((2, 3))


# --- classification ---------------------------------------------------------------------------


def test_every_public_ndarray_name_is_classified_once():
    public = [n for n in dir(np.ndarray) if not n.startswith("_")]
    counts = {n: sum(n in table for table in TABLES.values()) for n in public}
    missing = [n for n, c in counts.items() if c == 0]
    twice = [n for n, c in counts.items() if c > 1]
    assert not missing, f"ndarray names in no table of ndgrad/_methods.py: {missing}"
    assert not twice, f"ndarray names in several tables: {twice}"


def test_method_tables_name_only_ndarray_attributes():
    stale = [n for table in TABLES.values() for n in table if not hasattr(np.ndarray, n)]
    assert not stale, f"not ndarray attributes: {stale}"


# --- same values as NumPy -----------------------------------------------------------------------

SAME_AS_NUMPY = [
    ("T", None),
    ("mT", None),
    ("real", None),
    ("imag", None),
    ("shape", None),
    ("ndim", None),
    ("size", None),
    ("dtype", None),
    ("itemsize", None),
    ("nbytes", None),
    ("strides", None),
    ("device", None),
    ("all", ()),
    ("any", ()),
    ("argmax", ()),
    ("argmin", (1,)),
    ("argsort", ()),
    ("argpartition", (1,)),
    ("astype", (np.float32,)),
    ("astype", (int,)),
    ("choose", ([[10.0] * 3] * 2,)),
    ("clip", (-0.5, 0.5)),
    ("compress", ([True, False, True], 1)),
    ("conj", ()),
    ("conjugate", ()),
    ("copy", ()),
    ("cumprod", ()),
    ("cumsum", (0,)),
    ("diagonal", ()),
    ("dot", (np.ones((3, 2)),)),
    ("flatten", ()),
    ("item", (1,)),
    ("max", ()),
    ("mean", (0,)),
    ("min", (1,)),
    ("nonzero", ()),
    ("prod", ()),
    ("ravel", ()),
    ("repeat", (2, 1)),
    ("reshape", (3, 2)),
    ("reshape", ((3, 2),)),
    ("round", (1,)),
    ("searchsorted", (0.0,)),
    ("squeeze", ()),
    ("std", ()),
    ("sum", (1,)),
    ("swapaxes", (0, 1)),
    ("take", ([0, 2], 1)),
    ("tobytes", ()),
    ("tolist", ()),
    ("trace", ()),
    ("transpose", ()),
    ("transpose", (1, 0)),
    ("var", ()),
    ("view", ()),
]


@pytest.mark.parametrize(("name", "args"), SAME_AS_NUMPY, ids=lambda v: str(v))
def test_method_gives_numpy_values(name, args):
    x = _x()
    if name == "choose":
        x = (x > 0).astype(int)  # indices into the choices
    elif name == "searchsorted":
        x = np.sort(x.ravel())
    ours = GradArray(x)
    want = getattr(x, name)
    got = getattr(ours, name)
    if args is not None:
        want, got = want(*args), got(*args)
    if isinstance(want, tuple) and not isinstance(want[0], np.ndarray):
        assert got == want
    elif isinstance(want, (np.ndarray, np.generic)):
        np.testing.assert_array_equal(np.asarray(got), want)
        assert np.asarray(got).dtype == want.dtype
    else:
        if isinstance(want, tuple):
            for w, g in zip(want, got, strict=True):
                np.testing.assert_array_equal(g, w)
        else:
            assert got == want


@pytest.mark.parametrize(
    "method",
    [
        lambda x: x.T,
        lambda x: x.mT,
        lambda x: x.reshape(3, 2),
        lambda x: x.reshape((6,)),
        lambda x: x.reshape(3, 2, order="F", copy=True),
        lambda x: x.ravel(),
        lambda x: x.flatten(),
        lambda x: x[None].squeeze(),
        lambda x: x.swapaxes(0, 1),
        lambda x: x.transpose(),
        lambda x: x.transpose(1, 0),
        lambda x: x.diagonal(),
        lambda x: x.sum(axis=0),
        lambda x: x.mean(),
        lambda x: x.clip(-0.3, 0.4),
        lambda x: x.round(),
        lambda x: x.repeat(2, axis=0),
        lambda x: x.take([0, 2, 2], axis=1),
        lambda x: x.compress([True, False, True], axis=1),
        lambda x: x.astype(np.float64),
        lambda x: x.copy(),
        lambda x: x.view(),
        lambda x: x.flat[[0, 4, 4]],
        lambda x: x.flat[2],
        lambda x: x.flat.copy(),
        lambda x: np.stack(list(x)),
        lambda x: np.stack(list(x.flat)),
    ],
)
def test_method_gradient_matches_finite_differences(method):
    check_grad(method, _x(), order=2)


def test_complex_parts_are_recorded():
    z = _x() + 1j * _x()[::-1]
    check_grad(lambda z: z.real * z.imag, z)
    check_grad(lambda z: z.conj(), z)


# --- in-place methods are recorded ------------------------------------------------------------


def _inplace(method):
    """A function of ``x`` that copies it and applies an in-place ``method`` to the copy."""

    def f(x, *rest):
        y = x * 1.0
        method(y, *rest)
        return y

    return f


@pytest.mark.parametrize(
    ("method", "closed_form"),
    [
        (lambda y: y.sort(), lambda x: np.sort(x)),
        (lambda y: y.sort(axis=0, stable=True), lambda x: np.sort(x, axis=0)),
        (lambda y: y.partition(1), lambda x: np.partition(x, 1)),
        (lambda y: y.fill(2.0), lambda x: np.full_like(x, 2.0)),
        (lambda y: y.put([0, 5], [7.0, 8.0]), None),
        (lambda y: y.put([-1, 9], [7.0], mode="wrap"), None),
        (lambda y: y.put([-1, 9], [7.0], mode="clip"), None),
    ],
)
def test_inplace_method_matches_numpy_and_finite_differences(method, closed_form):
    x = _x()
    want = x.copy()
    method(want)
    got = _inplace(method)(GradArray(x))
    np.testing.assert_array_equal(got.values, want)
    if closed_form is not None:
        np.testing.assert_array_equal(closed_form(x), want)
    check_grad(_inplace(method), x, order=2)


def test_put_values_get_gradient_of_the_last_write_only():
    def f(x, v):
        y = x * 1.0
        y.put([0, 4, 0], v)  # v is repeated to [v0, v1, v0]; position 0 keeps the last
        return y

    check_grad(f, _x(), np.array([1.5, -2.0]), order=2)
    x, v = leaf(_x()), leaf([1.5, -2.0])
    np.sum(f(x, v) * np.arange(6.0).reshape(2, 3)).backward()
    np.testing.assert_array_equal(v.grad, [0.0 + 0.0, 4.0])  # both copies of v0 go to 0
    np.testing.assert_array_equal(x.grad, [[0, 1, 2], [3, 0, 5]])


def test_flat_assignment_is_recorded():
    def f(x, v):
        y = x * 1.0
        y.flat[[1, 5, 1]] = v
        y.flat[0] = 3.0
        return y

    check_grad(f, _x(), np.array([0.5, 1.5, 2.5]), order=2)


def test_flat_assignment_of_a_list_holding_gradarrays():
    def f(a, b):
        y = GradArray(np.zeros(4))
        y.flat[[3, 1]] = [a, b]
        y.put([0, 2], [b, a])
        return y

    check_grad(f, np.array(2.0), np.array(3.0), order=2)


def test_flat_assignment_into_a_0d_array():
    def f(x, v):
        y = nd.asarray(x) * 1.0  # stays a 0-d array (a NumPy scalar would drop the write)
        y.flat[0] = v
        return y * x

    def g(x, v):
        y = nd.asarray(x) * 1.0
        y.flat = v
        return y * x

    check_grad(f, np.array(2.0), np.array(3.0), order=2)
    check_grad(g, np.array(2.0), np.array(3.0), order=2)


def test_flat_setter_assigns_every_element():
    def f(x, v):
        y = x * 1.0
        y.flat = v  # repeated as NumPy repeats it
        return y

    got = f(GradArray(_x()), GradArray([1.0, 2.0]))
    want = _x()
    want.flat = [1.0, 2.0]
    np.testing.assert_array_equal(got.values, want)
    check_grad(f, _x(), np.array([1.0, 2.0]))


def test_flat_reads_like_numpy():
    x = _x()
    ours = GradArray(x)
    assert len(ours.flat) == len(x.flat)
    np.testing.assert_array_equal(np.asarray(ours.flat), np.asarray(x.flat))
    np.testing.assert_array_equal(ours.flat[1:4].values, x.flat[1:4])
    assert [float(v) for v in ours.flat] == list(x.flat)
    theirs, mine = x.flat, ours.flat
    for _ in range(x.size):
        assert (mine.index, mine.coords) == (theirs.index, theirs.coords)
        assert float(next(mine)) == next(theirs)
    assert (mine.index, mine.coords) == (theirs.index, theirs.coords)
    with pytest.raises(StopIteration):
        next(mine)


def test_put_along_axis_is_recorded():
    # y is a GradArray even when x is plain (check_grad's second order differentiates in v
    # alone): a write of a traced v into a plain y cannot be recorded, and raises
    def along(x, v):
        y = nd.numpy.asarray(x) * 1.0
        np.put_along_axis(y, np.array([[0], [2]]), v, axis=1)
        return y

    def flat(x, v):
        y = x * 1.0
        np.put_along_axis(y, np.array([5, 0, 5]), v, axis=None)
        return y

    check_grad(along, _x(), np.array([[1.0], [2.0]]), order=2)
    # NumPy writes through np.array(x.flat), a plain alias that cannot record: refused.
    with pytest.raises(ValueError, match="read-only"):
        flat(leaf(_x()), np.array([1.0, 2.0, 3.0]))
    with nd.no_grad():
        got = flat(GradArray(_x()), np.array([1.0, 2.0, 3.0]))
    want = _x()
    np.put_along_axis(want, np.array([5, 0, 5]), np.array([1.0, 2.0, 3.0]), axis=None)
    np.testing.assert_array_equal(got.values, want)


def test_fill_diagonal_is_recorded():
    # NumPy writes ``a.flat[::step] = val``, which GradArray records as an assignment: gradients
    # reach both the matrix (off the diagonal) and the values (repeated as flat assignment does).
    def fill(x, v, wrap=False):
        y = nd.numpy.asarray(x) * 1.0  # a GradArray even when x is plain, as above
        np.fill_diagonal(y, v, wrap=wrap)
        return y

    x = np.arange(1.0, 13.0).reshape(4, 3) / 7
    check_grad(fill, x, np.array(0.5), order=2)
    check_grad(fill, x, np.array([1.0, -2.0]), order=2)  # repeated: [1, -2, 1]
    check_grad(lambda x, v: fill(x, v, wrap=True), np.vstack([x, x]), np.array(2.0), order=2)
    check_grad(fill, np.arange(1.0, 9.0).reshape(2, 2, 2), np.array(3.0), order=2)
    y = fill(leaf(x), 0.0)
    np.testing.assert_array_equal(y.values, x * (1 - np.eye(4, 3)))
    with pytest.raises(nd.InPlaceError, match="leaf"):
        np.fill_diagonal(leaf(x), 0.0)


def test_real_and_imag_assignment_is_recorded():
    # y is a GradArray even when z is plain: writing a recorded value into a plain ndarray
    # cannot be recorded (inside a transform it raises GraphBreakError).
    def set_real(z, v):
        y = nd.numpy.asarray(z) * 1.0
        y.real = v
        return y

    def set_imag(z, v):
        y = nd.numpy.asarray(z) * 1.0
        y.imag = v
        return y

    z = _x() + 1j * _x()[::-1]
    check_grad(set_real, z, np.array([1.0, 2.0, 3.0]), order=2)
    check_grad(lambda z, a: set_imag(z, [a, 1.0, a]), z, np.array(0.5), order=2)
    check_grad(set_imag, z, np.array([1.0, 2.0, 3.0]), order=2)
    r = GradArray(_x())
    r.real = 1.0
    np.testing.assert_array_equal(r.values, np.ones((2, 3)))
    with pytest.raises(TypeError, match="imaginary"):
        r.imag = 1.0


def test_inplace_method_on_a_leaf_that_requires_grad_raises():
    x = leaf(_x())
    for method in (
        lambda y: y.sort(),
        lambda y: y.fill(0.0),
        lambda y: y.put(0, 1.0),
        lambda y: y.flat.__setitem__(0, 1.0),
    ):
        with pytest.raises(InPlaceError):
            method(x)


# --- refused, converted, or plain ---------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda y: y.resize((3, 2), refcheck=False),
        lambda y: y.byteswap(),
        lambda y: y.getfield(np.float32),
        lambda y: y.setfield(1.0, np.float64),
    ],
)
def test_memory_methods_are_refused_while_recording(call):
    y = leaf(_x()) * 1.0
    with pytest.raises(NotDifferentiableError, match=r"ndarray\."):
        call(y)


def test_memory_methods_work_without_grad():
    y = GradArray(np.arange(6.0))
    y.resize((2, 3), refcheck=False)
    assert y.shape == (2, 3)
    np.testing.assert_array_equal(np.asarray(y.byteswap().byteswap()), y.values)


def test_astype_to_integer_gives_plain_array_and_float_stays_recorded():
    x = leaf(_x())
    assert type(x.astype(int)) is np.ndarray
    y = x.astype(np.float32)
    assert isinstance(y, GradArray) and y.requires_grad and y.dtype == np.float32
    np.sum(y).backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_view_same_dtype_is_tracked_other_dtype_raises():
    x = leaf(_x())
    v = x.view()
    assert v.requires_grad
    with pytest.raises(NotDifferentiableError, match="view"):
        x.view(np.int64)
    assert type(x.view(np.ndarray)) is np.ndarray
    with nd.no_grad():
        assert x.view(np.int64).dtype == np.int64


def test_plain_python_conversions():
    x = leaf([[1.5, -2.0]])
    assert x.item(1) == -2.0 and x.tolist() == [[1.5, -2.0]]
    assert x.tobytes() == np.array([[1.5, -2.0]]).tobytes()
    s = np.sum(x)
    assert float(s) == -0.5 and int(leaf(2.7)) == 2 and bool(s) and complex(s) == -0.5 + 0j
    assert len(x) == 1 and len(x[0]) == 2
    assert f"{s:.2f}" == "-0.50" and format(x[0, 0], "e") == format(1.5, "e")
    assert "requires_grad=True" in repr(x) and "grad_fn" in repr(s)
    assert str(s) == str(np.float64(-0.5))


def test_iteration_gives_rows_that_carry_gradient():
    x = leaf(_x())
    rows = list(x)
    assert all(r.requires_grad for r in rows)
    np.sum(rows[0] * 2 + rows[1] * 3).backward()
    np.testing.assert_array_equal(x.grad, [[2.0] * 3, [3.0] * 3])
    with pytest.raises(TypeError):
        iter(leaf(1.0))


def test_copy_is_recorded_and_deepcopy_is_a_new_leaf():
    x = leaf(_x())
    c = copy.copy(x)
    np.sum(c).backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))
    d = copy.deepcopy(x)
    assert d.is_leaf and d.requires_grad and d is not x
    np.testing.assert_array_equal(d.values, x.values)
    np.testing.assert_array_equal(d.grad, x.grad)
    d.grad[0, 0] = 5.0
    assert x.grad[0, 0] == 1.0  # the gradient was copied, not shared
    e = copy.deepcopy(x * 2)
    assert e.is_leaf and not e.requires_grad


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_keeps_values_dtype_and_requires_grad(protocol):
    x = leaf(np.arange(3, dtype=np.float32), dtype=np.float32)
    back = pickle.loads(pickle.dumps(x, protocol=protocol))
    assert type(back) is GradArray and back.requires_grad and back.is_leaf
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.values, x.values)
    y = pickle.loads(pickle.dumps(x * 2, protocol=protocol))
    assert type(y) is GradArray and not y.requires_grad  # the graph is not pickled
    np.testing.assert_array_equal(y.values, [0.0, 2.0, 4.0])
    z = pickle.loads(x.dumps())
    assert z.requires_grad


def test_array_conversion_leaves_the_graph_explicitly():
    x = leaf(_x())
    assert type(np.asarray(x)) is np.ndarray
    assert type(x.values) is np.ndarray
