"""``ndgrad.numpy`` as an Array API standard namespace, differentially against array-api-strict.

Hypothesis draws arrays and arguments; each standard function is called through the namespace
that ``GradArray.__array_namespace__()`` returns and through ``array_api_strict``, and values,
dtypes and shapes must agree. Gradients of NumPy's own functions are the systematic test's
business (tests/test_rules.py); the functions that ndgrad.numpy defines itself are checked
against finite differences here. The last part measures what happens to gradients in code that
asks ``array_api_compat.array_namespace`` for its namespace.
"""

from __future__ import annotations

import warnings

import array_api_compat
import array_api_compat.numpy
import array_api_strict as xps
import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ndgrad as nd
import ndgrad.numpy as xp
from ndgrad.testing import check_grad

# --- drawing arguments ------------------------------------------------------------------------

FLOATS = [numpy.float64, numpy.float32]


def shapes(min_dims=0, max_dims=3, min_side=1):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=4)


def floats(draw, shape=None, lo=-10.0, hi=10.0, dtype=None):
    dtype = dtype or draw(st.sampled_from(FLOATS))
    shape = draw(shapes()) if shape is None else shape
    width = numpy.dtype(dtype).itemsize * 8
    lo, hi = (float(numpy.dtype(dtype).type(v)) for v in (lo, hi))  # representable bounds
    elems = st.floats(lo, hi, width=width, allow_subnormal=False)
    return draw(hnp.arrays(dtype, shape, elements=elems))


def f64(draw, *shape):
    return floats(draw, shape, dtype=numpy.float64)


def ints(draw, shape=None, lo=-20, hi=20):
    shape = draw(shapes()) if shape is None else shape
    return draw(hnp.arrays(numpy.int64, shape, elements=st.integers(lo, hi)))


def axis_of(draw, ndim):
    if ndim == 0:
        return None
    return draw(st.sampled_from([None, *range(-ndim, ndim)]))


# Each maker draws (args, kwargs) of plain ndarrays and Python values for one standard function.
def unary(lo=-10.0, hi=10.0):
    return lambda draw: ((floats(draw, lo=lo, hi=hi),), {})


def binary(lo=-10.0, hi=10.0):
    def make(draw):
        s1, s2 = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_side=3)).input_shapes
        dtype = draw(st.sampled_from(FLOATS))
        return (floats(draw, s1, lo, hi, dtype), floats(draw, s2, lo, hi, dtype)), {}

    return make


def reduction(**extra):
    def make(draw):
        x = floats(draw, lo=-2.0, hi=2.0)
        kwargs = {"axis": axis_of(draw, x.ndim), "keepdims": draw(st.booleans())}
        kwargs.update({k: draw(v) for k, v in extra.items()})
        return (x,), kwargs

    return make


def along_axis(draw, name):
    x = floats(draw, shape=draw(shapes(min_dims=1)))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    if name in ("sort", "argsort"):
        return (x,), {"axis": axis, "descending": draw(st.booleans()), "stable": True}
    return (x,), {"axis": axis}


def matrices(draw, n=None, spd=False, batch=True):
    n = n or draw(st.integers(1, 3))
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=1, max_side=2)) if batch else ()
    a = floats(draw, shape=(*lead, n, n), lo=-1.0, hi=1.0, dtype=numpy.float64)
    # Diagonally dominant: well conditioned, so that both libraries agree to rounding.
    a = a + 3 * n * numpy.eye(n)
    if spd:
        a = a @ numpy.swapaxes(a, -1, -2)
    return a


MAKERS = {
    # elementwise
    **{
        n: unary()
        for n in (
            "abs",
            "atan",
            "ceil",
            "cos",
            "exp",
            "expm1",
            "floor",
            "isfinite",
            "isinf",
            "isnan",
            "negative",
            "positive",
            "round",
            "sign",
            "signbit",
            "sin",
            "sinh",
            "square",
            "tan",
            "tanh",
            "trunc",
            "cosh",
            "asinh",
            "real",
            "conj",
        )
    },
    **{n: unary(-0.99, 0.99) for n in ("acos", "asin", "atanh")},
    **{n: unary(0.1, 10.0) for n in ("log", "log1p", "log2", "log10", "sqrt", "reciprocal")},
    "acosh": unary(1.1, 10.0),
    **{
        n: binary()
        for n in (
            "add",
            "atan2",
            "copysign",
            "equal",
            "greater",
            "greater_equal",
            "hypot",
            "less",
            "less_equal",
            "logaddexp",
            "maximum",
            "minimum",
            "multiply",
            "nextafter",
            "not_equal",
            "subtract",
        )
    },
    **{n: binary(0.5, 4.0) for n in ("divide", "floor_divide", "remainder", "pow")},
    # statistics
    **{n: reduction() for n in ("sum", "prod", "mean", "max", "min", "all", "any")},
    **{n: reduction(correction=st.sampled_from([0, 1])) for n in ("std", "var")},
    "count_nonzero": reduction(),
    "argmax": lambda d: ((floats(d),), {"axis": None, "keepdims": d(st.booleans())}),
    "argmin": lambda d: ((floats(d),), {"axis": None, "keepdims": d(st.booleans())}),
    "cumulative_sum": lambda d: (
        (floats(d, shape=d(shapes(min_dims=1, max_dims=1))),),
        {"include_initial": d(st.booleans())},
    ),
    "cumulative_prod": lambda d: (
        (floats(d, shape=d(shapes(min_dims=1, max_dims=1)), lo=-2, hi=2),),
        {"include_initial": d(st.booleans())},
    ),
    # sorting and searching
    "sort": lambda d: along_axis(d, "sort"),
    "argsort": lambda d: along_axis(d, "argsort"),
    "flip": lambda d: along_axis(d, "flip"),
    "where": lambda d: (
        (numpy.array([True, False, True]), floats(d, shape=(3,)), floats(d, shape=(1,))),
        {},
    ),
    "clip": lambda d: (
        (floats(d, dtype=numpy.float32),),
        {"min": d(st.floats(-5, 0)), "max": d(st.floats(0, 5))},
    ),
    "searchsorted": lambda d: ((numpy.sort(floats(d, shape=(5,))), floats(d, shape=(3,))), {}),
    "unique_values": lambda d: ((ints(d, lo=-3, hi=3).astype(float),), {}),
    # shapes
    "reshape": lambda d: (
        (floats(d, shape=(2, 3)),),
        {"shape": d(st.sampled_from([(6,), (3, 2), (-1, 1)]))},
    ),
    "permute_dims": lambda d: (
        (floats(d, shape=(2, 3, 1)),),
        {"axes": d(st.permutations([0, 1, 2]))},
    ),
    "matrix_transpose": lambda d: ((floats(d, shape=d(shapes(min_dims=2))),), {}),
    "expand_dims": lambda d: ((floats(d, shape=(2, 3)),), {"axis": d(st.integers(-3, 2))}),
    "squeeze": lambda d: (
        (floats(d, shape=(1, 3, 1)),),
        {"axis": d(st.sampled_from([0, 2, (0, 2)]))},
    ),
    "roll": lambda d: (
        (floats(d, shape=(2, 3)),),
        {"shift": d(st.integers(-4, 4)), "axis": d(st.sampled_from([None, 0, 1]))},
    ),
    "concat": lambda d: (([f64(d, 2, 3), f64(d, 1, 3)],), {"axis": 0}),
    "stack": lambda d: (([f64(d, 2), f64(d, 2)],), {"axis": d(st.sampled_from([0, 1, -1]))}),
    "broadcast_to": lambda d: ((floats(d, shape=(3, 1)),), {"shape": (2, 3, 4)}),
    "moveaxis": lambda d: ((floats(d, shape=(2, 3, 4)), 0, -1), {}),
    "tile": lambda d: ((floats(d, shape=(2, 1)), (2, 3)), {}),
    "repeat": lambda d: ((floats(d, shape=(2, 3)), 2), {"axis": d(st.sampled_from([None, 0, 1]))}),
    "take": lambda d: ((floats(d, shape=(4, 2)), numpy.array([0, 3, 3])), {"axis": 0}),
    "take_along_axis": lambda d: (
        (floats(d, shape=(2, 3)), numpy.array([[0, 2], [1, 1]])),
        {"axis": 1},
    ),
    "tril": lambda d: ((floats(d, shape=(3, 3)),), {"k": d(st.integers(-1, 1))}),
    "triu": lambda d: ((floats(d, shape=(3, 3)),), {"k": d(st.integers(-1, 1))}),
    "diff": lambda d: ((floats(d, shape=(2, 4)),), {"axis": d(st.sampled_from([0, 1]))}),
    # products
    "matmul": lambda d: ((matrices(d, 2, batch=False), f64(d, 2, 3)), {}),
    "tensordot": lambda d: ((f64(d, 2, 3), f64(d, 3, 2)), {"axes": 1}),
    "vecdot": lambda d: ((f64(d, 2, 3), f64(d, 3)), {}),
    # creation
    "zeros_like": lambda d: ((floats(d),), {}),
    "ones_like": lambda d: ((floats(d),), {}),
    "full_like": lambda d: ((floats(d),), {"fill_value": 2.5}),
    "astype": lambda d: ((floats(d), d(st.sampled_from(["float32", "float64"]))), {}),
    # integers, booleans, complex numbers
    **{
        n: lambda d: ((ints(d, shape=(2, 3)), ints(d, shape=(3,))), {})
        for n in (
            "bitwise_and",
            "bitwise_or",
            "bitwise_xor",
        )
    },
    **{
        n: lambda d: ((ints(d, shape=(2, 3)), ints(d, shape=(3,), lo=0, hi=5)), {})
        for n in (
            "bitwise_left_shift",
            "bitwise_right_shift",
        )
    },
    "bitwise_invert": lambda d: ((ints(d),), {}),
    **{
        n: lambda d: (
            (ints(d, shape=(3,), lo=0, hi=1) > 0, ints(d, shape=(2, 3), lo=0, hi=1) > 0),
            {},
        )
        for n in (
            "logical_and",
            "logical_or",
            "logical_xor",
        )
    },
    "logical_not": lambda d: ((numpy.asarray(ints(d, lo=0, hi=1) > 0),), {}),
    "imag": lambda d: ((floats(d, shape=(3,), dtype=numpy.float64) + 1j * f64(d, 3),), {}),
    "isin": lambda d: (
        (ints(d, lo=-3, hi=3), ints(d, shape=(4,), lo=-3, hi=3)),
        {},  # not invert=: array-api-strict 2.6.1 drops it (always computes invert=False)
    ),
    "nonzero": lambda d: ((ints(d, shape=d(shapes(min_dims=1)), lo=-1, hi=1),), {}),
    **{
        n: lambda d: ((ints(d, lo=-2, hi=2).astype(float),), {})
        for n in (
            "unique_all",
            "unique_counts",
            "unique_inverse",
        )
    },
    # several arrays in, several out
    "broadcast_arrays": lambda d: ((f64(d, 2, 1), f64(d, 3), f64(d, 1, 1)), {}),
    "meshgrid": lambda d: ((f64(d, 2), f64(d, 3)), {"indexing": d(st.sampled_from(["xy", "ij"]))}),
    "unstack": lambda d: ((f64(d, 2, 3),), {"axis": d(st.sampled_from([0, 1, -1]))}),
    "empty_like": lambda d: ((floats(d),), {}),
}

LINALG = {
    "det": lambda d: ((matrices(d),), {}),
    "inv": lambda d: ((matrices(d),), {}),
    "cholesky": lambda d: ((matrices(d, spd=True),), {}),
    "solve": lambda d: ((matrices(d, 2), f64(d, 2)), {}),
    "slogdet": lambda d: ((matrices(d),), {}),
    "eigh": lambda d: ((matrices(d, spd=True),), {}),
    "eigvalsh": lambda d: ((matrices(d, spd=True),), {}),
    "svdvals": lambda d: ((matrices(d),), {}),
    "qr": lambda d: ((matrices(d),), {}),
    "pinv": lambda d: ((matrices(d),), {}),
    "matrix_rank": lambda d: ((matrices(d),), {}),
    "matrix_power": lambda d: ((matrices(d), d(st.integers(0, 3))), {}),
    "matrix_norm": lambda d: ((matrices(d),), {"ord": d(st.sampled_from(["fro", 1, numpy.inf]))}),
    "vector_norm": lambda d: ((floats(d),), {"ord": d(st.sampled_from([1, 2, numpy.inf]))}),
    "trace": lambda d: ((matrices(d),), {"offset": d(st.integers(-1, 1))}),
    "diagonal": lambda d: ((matrices(d),), {"offset": d(st.integers(-1, 1))}),
    "outer": lambda d: ((f64(d, 3), f64(d, 2)), {}),
    "cross": lambda d: ((f64(d, 2, 3), f64(d, 3)), {}),
    "vecdot": lambda d: ((f64(d, 2, 3), f64(d, 2, 3)), {}),
    "tensordot": lambda d: ((f64(d, 2, 3), f64(d, 2, 3)), {"axes": 2}),
}

FFT = {
    **{
        n: lambda d: (
            (f64(d, 4).astype(complex),),
            {"norm": d(st.sampled_from(["backward", "ortho", "forward"]))},
        )
        for n in ("fft", "ifft", "fftn", "ifftn", "irfft", "hfft")
    },
    **{
        n: lambda d: (
            (f64(d, 2, 4),),
            {"norm": d(st.sampled_from(["backward", "ortho", "forward"]))},
        )
        for n in ("rfft", "ihfft", "rfftn")
    },
    "fftshift": lambda d: ((floats(d, shape=(5,)),), {}),
    "ifftshift": lambda d: ((floats(d, shape=(5,)),), {}),
}


def _to_strict(a):
    if isinstance(a, str):  # a dtype name
        return getattr(xps, a)
    if isinstance(a, numpy.ndarray):
        return xps.asarray(a)
    if isinstance(a, list):
        return [_to_strict(x) for x in a]
    return a


def _to_ours(a, requires_grad=False):
    if isinstance(a, str):
        return getattr(xp, a)
    if isinstance(a, numpy.ndarray):
        return xp.asarray(a, requires_grad=requires_grad and a.dtype.kind in "fc")
    if isinstance(a, list):
        return [_to_ours(x, requires_grad) for x in a]
    return a


def _results(res):
    """A flat list of ndarrays: named tuples (qr, eigh, slogdet) are compared field by field."""
    if isinstance(res, tuple | list):
        return [r for part in res for r in _results(part)]
    return [numpy.asarray(res)]


def _compare(ours, theirs, values=True):
    got, want = _results(ours), _results(theirs)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert g.dtype == w.dtype
        if not values:  # empty_like: only shape and dtype are defined
            continue
        tol = 1e-5 if g.dtype in (numpy.float32, numpy.complex64) else 1e-10
        numpy.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


# Standard functions with float results but no rule: unique_values is a set operation (which
# of equal elements would get the gradient?), classified unsupported by ndgrad.
WITHOUT_RULE = {"unique_values", "unique_all", "unique_counts", "unique_inverse"}


def _check_against_strict(ours_module, strict_module, name, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. overflow in exp: same in both
        want = getattr(strict_module, name)(*map(_to_strict, args), **kwargs)
        got = getattr(ours_module, name)(*map(_to_ours, args), **kwargs)
        _compare(got, want, values=name != "empty_like")
        # The recorded path (inputs that require grad) computes the same: every standard
        # function with a derivative has a rule; the others refuse loudly.
        try:
            recorded = getattr(ours_module, name)(*(_to_ours(a, True) for a in args), **kwargs)
        except nd.NotDifferentiableError:
            if name not in WITHOUT_RULE:
                raise
            return got
    _compare(recorded, want, values=name != "empty_like")
    return got


# --- the namespace ----------------------------------------------------------------------------


def test_every_standard_name_is_in_the_namespace():
    strict_only = {n for n in xps.__all__ if "strict" in n.lower()} | {"Device"}
    assert [n for n in xps.__all__ if n not in strict_only and not hasattr(xp, n)] == []
    assert [n for n in xps.linalg.__all__ if not hasattr(xp.linalg, n)] == []
    assert [n for n in xps.fft.__all__ if not hasattr(xp.fft, n)] == []


def test_namespace_declares_the_newest_version_that_array_api_compat_supports():
    assert xp.__array_api_version__ == array_api_compat.numpy.__array_api_version__
    assert xp.__array_api_version__ == xps.__array_api_version__


def test_namespace_info_describes_numpy_dtypes_on_the_cpu():
    info = xp.__array_namespace_info__()
    assert info.devices() == ("cpu",) and info.default_device() == "cpu"
    assert info.default_dtypes()["real floating"] == numpy.float64
    assert set(info.dtypes(kind="real floating").values()) == {
        numpy.dtype(numpy.float32),
        numpy.dtype(numpy.float64),
    }
    assert info.capabilities()["boolean indexing"]


@pytest.mark.parametrize("name", sorted(MAKERS))
@given(data=st.data())
def test_function_agrees_with_array_api_strict(name, data):
    args, kwargs = MAKERS[name](data.draw)
    got = _check_against_strict(xp, xps, name, args, kwargs)
    if isinstance(got, numpy.ndarray) and got.dtype.kind in "fc":
        assert isinstance(got, nd.GradArray)  # float results stay in the namespace's type


@pytest.mark.parametrize("name", sorted(LINALG))
@given(data=st.data())
def test_linalg_function_agrees_with_array_api_strict(name, data):
    args, kwargs = LINALG[name](data.draw)
    _check_against_strict(xp.linalg, xps.linalg, name, args, kwargs)


@pytest.mark.parametrize("name", sorted(FFT))
@given(data=st.data())
def test_fft_function_agrees_with_array_api_strict(name, data):
    args, kwargs = FFT[name](data.draw)
    _check_against_strict(xp.fft, xps.fft, name, args, kwargs)


@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@given(n=st.integers(1, 9), d=st.floats(0.1, 4.0), dtype=st.sampled_from(["float32", "float64"]))
def test_fft_frequencies_agree_with_array_api_strict(name, n, d, dtype):
    want = getattr(xps.fft, name)(n, d=d, dtype=getattr(xps, dtype))
    got = getattr(xp.fft, name)(n, d=d, dtype=getattr(xp, dtype))
    assert isinstance(got, nd.GradArray)
    _compare(got, want)


@given(
    start=st.integers(-5, 5),
    num=st.integers(0, 6),
    endpoint=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_creation_functions_agree_with_array_api_strict(start, num, endpoint, dtype):
    kw = {"dtype": getattr(xps, dtype)}
    ours_kw = {"dtype": getattr(xp, dtype)}
    pairs = [
        (xp.arange(start, start + num, **ours_kw), xps.arange(start, start + num, **kw)),
        (
            xp.linspace(start, start + 1, num, endpoint=endpoint, **ours_kw),
            xps.linspace(start, start + 1, num, endpoint=endpoint, **kw),
        ),
        (xp.eye(num, num + 1, k=1, **ours_kw), xps.eye(num, num + 1, k=1, **kw)),
        (xp.zeros((num, 2), **ours_kw), xps.zeros((num, 2), **kw)),
        (xp.ones(num, **ours_kw), xps.ones(num, **kw)),
        (xp.full((2, num), 1.5, **ours_kw), xps.full((2, num), 1.5, **kw)),
        (xp.asarray([start, num], **ours_kw), xps.asarray([start, num], **kw)),
    ]
    for got, want in pairs:
        assert isinstance(got, nd.GradArray)
        _compare(got, want)


@given(st.sampled_from(["float32", "float64", "int8", "int64", "uint16"]))
def test_dtype_queries_agree_with_array_api_strict(name):
    ours, theirs = (
        xp.asarray([1], dtype=getattr(xp, name)),
        xps.asarray([1], dtype=getattr(xps, name)),
    )
    info, strict_info = (xp.finfo, xps.finfo) if name.startswith("f") else (xp.iinfo, xps.iinfo)
    assert info(ours).max == strict_info(theirs).max and info(ours).bits == strict_info(theirs).bits
    for kind in ("real floating", "integral", "numeric", "signed integer"):
        assert xp.isdtype(ours.dtype, kind) == xps.isdtype(theirs.dtype, kind)


@given(
    s1=shapes(max_dims=2),
    s2=shapes(max_dims=2),
    dtypes=st.lists(
        st.sampled_from(["float32", "float64", "int32", "int64", "bool"]), min_size=2, max_size=2
    ),
)
def test_shape_and_dtype_queries_agree_with_array_api_strict(s1, s2, dtypes):
    try:
        want = xps.broadcast_shapes(s1, s2)
    except ValueError:
        with pytest.raises(ValueError):
            xp.broadcast_shapes(s1, s2)
    else:
        assert xp.broadcast_shapes(s1, s2) == want
    a, b = (getattr(xp, n) for n in dtypes)
    sa, sb = (getattr(xps, n) for n in dtypes)
    if numpy.dtype(a).kind == numpy.dtype(b).kind:  # across kinds the standard defines nothing
        assert xp.can_cast(a, b) == xps.can_cast(sa, sb)
    try:
        want_type = xps.result_type(sa, sb)
    except TypeError:  # mixed kinds: the standard leaves it undefined, NumPy promotes
        return
    assert numpy.dtype(xp.result_type(a, b)).name == str(want_type).split(".")[-1]


def test_empty_has_the_standard_shape_and_dtype():
    _compare(xp.empty((2, 3), dtype=xp.float32), xps.empty((2, 3), dtype=xps.float32), values=False)
    assert isinstance(xp.empty(2), nd.GradArray)


def test_count_nonzero_returns_an_array():
    got = xp.count_nonzero(xp.asarray([0.0, 1.0, 2.0]))
    assert isinstance(got, numpy.ndarray) and got.shape == () and got == 2


def test_clip_keeps_the_integer_dtype_with_out_of_range_bounds():
    x = xp.asarray([-100, 0, 100], dtype=xp.int8)
    got = xp.clip(x, -1000, 50)
    assert got.dtype == numpy.int8
    numpy.testing.assert_array_equal(got, [-100, 0, 50])


@given(
    shape=shapes(max_dims=2),
    layout=st.lists(
        st.lists(st.sampled_from(["grad", "plain", "list"]), min_size=1, max_size=3),
        min_size=1,
        max_size=3,
    ),
)
def test_array_of_nested_lists_with_grad_arrays_matches_numpy(shape, layout):
    """np.array([[x, c], ...]) mixing GradArrays, plain arrays and lists: NumPy's result."""
    rows = [len(r) for r in layout]
    layout = [r[: min(rows)] for r in layout]  # rectangular, as np.array needs
    rng = numpy.random.default_rng(len(layout))
    values = [[rng.standard_normal(shape) for _ in row] for row in layout]

    def part(kind, v):
        if kind == "grad":
            return nd.GradArray(v, requires_grad=True)
        return v.tolist() if kind == "list" else v

    nested = [
        [part(k, v) for k, v in zip(row, vals, strict=True)]
        for row, vals in zip(layout, values, strict=True)
    ]
    got, want = xp.array(nested), numpy.array(values)
    assert type(got) is nd.GradArray and got.shape == want.shape and got.dtype == want.dtype
    numpy.testing.assert_array_equal(got.view(numpy.ndarray), want)
    assert got.requires_grad == any("grad" in row for row in layout)


# --- gradients of the functions ndgrad.numpy defines itself -----------------------------------


@pytest.mark.parametrize("axis", [-1, 0, None])
def test_sort_descending_gradient_matches_finite_differences(axis):
    x = numpy.array([[0.3, -1.2, 2.5], [1.1, 0.2, -0.7]])
    check_grad(lambda x: xp.sort(x, axis=axis, descending=True), x, order=2)


def test_clip_gradient_matches_finite_differences():
    x = numpy.array([-2.1, -0.3, 0.4, 1.7])
    check_grad(lambda x: xp.clip(x, -1.0, 1.0), x, order=2)
    check_grad(lambda x, hi: xp.clip(x, max=hi), x, numpy.array(0.9), order=2)


def test_clip_casts_back_to_the_input_dtype_recorded():
    x = nd.GradArray(numpy.array([0.5, 3.0], dtype=numpy.float32), requires_grad=True)
    y = xp.clip(x, xp.asarray(0.0), xp.asarray(1.0))
    assert y.dtype == numpy.float32
    numpy.sum(y).backward()
    numpy.testing.assert_array_equal(x.grad, [1.0, 0.0])


# --- code written against the standard --------------------------------------------------------


def _standard_softplus_loss(x):
    """Library code written against the standard: it asks the array for its namespace."""
    ns = x.__array_namespace__()
    x = ns.asarray(x)
    z = ns.concat([x, ns.flip(x, axis=0)])
    return ns.sum(ns.logaddexp(ns.zeros_like(z), z) * ns.linspace(0.0, 1.0, z.shape[0]))


def test_code_using_array_namespace_differentiates():
    check_grad(_standard_softplus_loss, numpy.array([0.5, -1.0, 2.0]), order=2)


# --- array_api_compat.array_namespace on GradArrays -------------------------------------------
# array_api_compat maps every ndarray subclass to array_api_compat.numpy before it looks at
# __array_namespace__, so code that calls array_namespace(x) gets that namespace. Its functions
# that are NumPy's own objects dispatch to GradArray and keep gradients; the ones it wraps
# either keep them too or break the graph. A break must never be silent: nd.grad raises.

COMPAT = array_api_compat.numpy

# How each wrapped function of array_api_compat.numpy behaves on a GradArray that requires grad
# (measured by the test below; the table in docs/user_guide/array_api.rst is this list).
COMPAT_KEEPS = ["std", "var", "sort", "argsort", "permute_dims", "matmul", "tensordot",
                "matrix_transpose", "cumulative_sum", "cumulative_prod", "astype",
                "take_along_axis", "sign", "linalg.matrix_norm", "linalg.diagonal",
                "linalg.outer", "linalg.svdvals", "linalg.cholesky", "linalg.cross", "linalg.eigh",
                "linalg.pinv", "linalg.qr", "linalg.slogdet", "linalg.svd", "linalg.vecdot",
                "fft.fft", "fft.ifft", "fft.fftn", "fft.ifftn", "fft.rfft", "fft.irfft",
                "fft.rfftn", "fft.irfftn", "fft.hfft", "fft.ihfft", "fft.fftshift",
                "fft.ifftshift", "full_like"]  # fmt: skip
# asarray is np.array(x, copy=...), which strips the subclass; trace ends with asarray; clip
# writes into a plain out= array; solve unwraps with NumPy's private _makearray.
COMPAT_BREAKS = ["asarray", "clip", "linalg.solve", "linalg.trace"]
# What nd.grad says about each of them: ValueError is "does not depend on the input(s)".
COMPAT_ERRORS = {
    "asarray": ValueError,
    "clip": nd.NotDifferentiableError,
    "linalg.solve": ValueError,
    "linalg.trace": ValueError,
}
# Inside nd.tracing() (np.array and np.asarray keep GradArrays) these keep gradients too.
COMPAT_KEEPS_WHEN_TRACING = ["asarray", "clip", "linalg.trace"]

COMPAT_CALLS = {
    "asarray": lambda ns, x: ns.asarray(x),
    "std": lambda ns, x: ns.std(x, correction=1),
    "var": lambda ns, x: ns.var(x, axis=0),
    "sort": lambda ns, x: ns.sort(x, descending=True),
    "permute_dims": lambda ns, x: ns.permute_dims(x, (1, 0)),
    "matmul": lambda ns, x: ns.matmul(x, x),
    "tensordot": lambda ns, x: ns.tensordot(x, x, axes=1),
    "matrix_transpose": lambda ns, x: ns.matrix_transpose(x),
    "cumulative_sum": lambda ns, x: ns.cumulative_sum(x, axis=0),
    "astype": lambda ns, x: ns.astype(x, ns.complex128),
    "take_along_axis": lambda ns, x: ns.take_along_axis(x, ns.argsort(x, axis=1), axis=1),
    "clip": lambda ns, x: ns.clip(x, 0.0, 1.0),
    "linalg.matrix_norm": lambda ns, x: ns.linalg.matrix_norm(x),
    "linalg.trace": lambda ns, x: ns.linalg.trace(x),
    "linalg.diagonal": lambda ns, x: ns.linalg.diagonal(x),
    "linalg.outer": lambda ns, x: ns.linalg.outer(x[0], x[1]),
    "linalg.svdvals": lambda ns, x: ns.linalg.svdvals(x),
    "linalg.solve": lambda ns, x: ns.linalg.solve(x, x[0]),
    "linalg.cholesky": lambda ns, x: ns.linalg.cholesky(x @ ns.matrix_transpose(x)),
    "fft.fft": lambda ns, x: ns.real(ns.fft.fft(x)),
    "fft.rfft": lambda ns, x: ns.real(ns.fft.rfft(x)),
    "argsort": lambda ns, x: ns.take_along_axis(x, ns.argsort(x, axis=1, descending=True), axis=1),
    "cumulative_prod": lambda ns, x: ns.cumulative_prod(x, axis=1),
    "sign": lambda ns, x: ns.sign(x) * x,
    "full_like": lambda ns, x: ns.full_like(x, x[0, 0]),
    "linalg.cross": lambda ns, x: ns.linalg.cross(
        ns.concat([x, x[:, :1]], axis=1), ns.concat([x[:, :1], x], axis=1)
    ),
    "linalg.eigh": lambda ns, x: ns.linalg.eigh(x + ns.matrix_transpose(x)).eigenvalues,
    "linalg.pinv": lambda ns, x: ns.linalg.pinv(x),
    "linalg.qr": lambda ns, x: ns.linalg.qr(x).R,
    "linalg.slogdet": lambda ns, x: ns.linalg.slogdet(x).logabsdet,
    "linalg.svd": lambda ns, x: ns.linalg.svd(x).S,
    "linalg.vecdot": lambda ns, x: ns.linalg.vecdot(x, x),
    "fft.ifft": lambda ns, x: ns.real(ns.fft.ifft(x)),
    "fft.fftn": lambda ns, x: ns.real(ns.fft.fftn(x)),
    "fft.ifftn": lambda ns, x: ns.real(ns.fft.ifftn(x)),
    "fft.irfft": lambda ns, x: ns.fft.irfft(ns.astype(x, ns.complex128)),
    "fft.rfftn": lambda ns, x: ns.real(ns.fft.rfftn(x)),
    "fft.irfftn": lambda ns, x: ns.fft.irfftn(ns.astype(x, ns.complex128)),
    "fft.hfft": lambda ns, x: ns.fft.hfft(ns.astype(x, ns.complex128)),
    "fft.ihfft": lambda ns, x: ns.real(ns.fft.ihfft(x)),
    "fft.fftshift": lambda ns, x: ns.fft.fftshift(x),
    "fft.ifftshift": lambda ns, x: ns.fft.ifftshift(x),
}

_M = numpy.array([[2.0, 0.3], [-0.4, 1.5]])


def test_array_api_compat_returns_its_numpy_namespace_for_grad_arrays():
    assert array_api_compat.array_namespace(nd.GradArray([1.0])) is COMPAT
    assert array_api_compat.array_namespace(nd.GradArray([1.0]), use_compat=False) is numpy


def test_array_api_compat_classification_is_complete():
    assert sorted(COMPAT_KEEPS + COMPAT_BREAKS) == sorted(COMPAT_CALLS)


@pytest.mark.parametrize("name", COMPAT_KEEPS)
def test_array_api_compat_function_keeps_gradients(name):
    def f(x):
        return COMPAT_CALLS[name](array_api_compat.array_namespace(x), x)

    check_grad(f, _M, order=1)


@pytest.mark.parametrize("name", COMPAT_BREAKS)
def test_array_api_compat_function_that_breaks_the_graph_is_never_silent(name):
    def loss(x):
        return numpy.sum(COMPAT_CALLS[name](array_api_compat.array_namespace(x), x))

    with pytest.raises(COMPAT_ERRORS[name]):
        nd.grad(loss, scope=False)(_M)


@pytest.mark.parametrize("name", COMPAT_KEEPS_WHEN_TRACING)
def test_array_api_compat_function_keeps_gradients_inside_tracing(name):
    def f(x):
        with nd.tracing():
            return COMPAT_CALLS[name](array_api_compat.array_namespace(x), x)

    check_grad(f, _M, order=1)


@pytest.mark.parametrize("name", sorted(set(COMPAT_BREAKS) - set(COMPAT_KEEPS_WHEN_TRACING)))
def test_array_api_compat_function_that_breaks_inside_tracing_is_never_silent(name):
    def loss(x):
        with nd.tracing():
            return numpy.sum(COMPAT_CALLS[name](array_api_compat.array_namespace(x), x))

    with pytest.raises(COMPAT_ERRORS[name]):
        nd.grad(loss)(_M)


@pytest.mark.parametrize("name", sorted(COMPAT_CALLS))
def test_ndgrad_numpy_keeps_the_gradients_array_api_compat_breaks(name):
    """The same calls through ndgrad.numpy all differentiate (or name a missing rule)."""
    try:
        check_grad(lambda x: COMPAT_CALLS[name](xp, x), _M, order=1)
    except nd.NotDifferentiableError as e:  # NumPy's function has no rule yet: loud, not wrong
        pytest.skip(str(e).split(",")[0])


def test_out_argument_of_a_recorded_function_is_recorded_not_silently_dropped():
    """Engine regression: ``np.clip(x, lo, hi, out=buf)`` recorded a node on a new wrapper and
    left ``buf`` without a graph, so code that used ``buf`` lost its gradient silently. Now the
    write into ``buf`` is recorded (and a plain ndarray ``out`` is refused)."""
    x = nd.GradArray([0.5, 2.0], requires_grad=True)
    buf = nd.GradArray(numpy.empty(2))
    assert numpy.clip(x, 0.0, 1.0, out=buf) is buf
    numpy.sum(buf * numpy.array([3.0, 5.0])).backward()
    numpy.testing.assert_array_equal(x.grad, [3.0, 0.0])
    with pytest.raises(nd.NotDifferentiableError, match="out="):
        numpy.clip(x, 0.0, 1.0, out=numpy.empty(2))
    with nd.no_grad():
        buf = nd.GradArray(numpy.empty(2))
        assert numpy.clip(x, 0.0, 1.0, out=buf) is not None
    numpy.testing.assert_array_equal(buf.view(numpy.ndarray), [0.5, 1.0])


# --- what the conformance suite found (tests/test_conformance.py runs the suite itself) --------


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_finfo_accepts_scalar_types_dtypes_and_arrays(dtype):
    """``xp.finfo(xp.float32)``: NumPy's scalar types have a ``dtype`` attribute that is a
    descriptor on the class, which must not be taken for the dtype."""
    want = numpy.finfo(dtype)
    for arg in (getattr(xp, dtype), numpy.dtype(dtype), xp.asarray([1], dtype=dtype)):
        info = xp.finfo(arg)
        assert info.bits == want.bits and info.dtype == want.dtype
        for name in ("eps", "max", "min", "smallest_normal"):
            value = getattr(info, name)
            assert type(value) is float and value == float(getattr(want, name))
        assert info.tiny == want.tiny and info.resolution == want.resolution


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int64"])
def test_iinfo_accepts_scalar_types_dtypes_and_arrays(dtype):
    want = numpy.iinfo(dtype)
    for arg in (getattr(xp, dtype), numpy.dtype(dtype), xp.asarray([1], dtype=dtype)):
        info = xp.iinfo(arg)
        assert (info.min, info.max, info.bits, info.dtype) == (
            want.min, want.max, want.bits, want.dtype,
        )  # fmt: skip


def test_signatures_are_the_standards_and_numpys():
    import inspect

    params = list(inspect.signature(xp.arange).parameters)
    assert params[:4] == ["start", "stop", "step", "dtype"] and "device" in params
    assert xp.arange(5).tolist() == numpy.arange(5).tolist()
    assert xp.arange(1, 6, 2, float).tolist() == [1.0, 3.0, 5.0]
    assert xp.arange(stop=3).tolist() == [0, 1, 2]
    assert xp.arange(5, step=2).tolist() == [0, 2, 4]
    assert list(inspect.signature(xp.clip).parameters)[:3] == ["a", "min", "max"]
    x = numpy.arange(5.0)
    assert xp.clip(x, 1, 3).tolist() == xp.clip(x, a_min=1, a_max=3).tolist() == [1, 1, 2, 3, 3]
    with pytest.raises(TypeError, match="once"):
        xp.clip(x, 1, a_min=2)


def test_expm1_and_floor_divide_follow_the_standard_at_special_values():
    inf, nan = numpy.inf, numpy.nan
    z = numpy.array([complex(inf, 0), complex(-inf, inf), complex(-inf, nan), complex(nan, 0)])
    with numpy.errstate(invalid="ignore"):
        got = xp.expm1(z)
    want = [complex(inf, 0), complex(-1, 0), complex(-1, 0), complex(nan, 0)]
    numpy.testing.assert_array_equal(got, numpy.array(want))
    small = numpy.array([1e-12, -0.5, 2.0])
    assert numpy.array_equal(xp.expm1(small), numpy.expm1(small))  # NumPy's values, bit for bit
    x1 = numpy.array([inf, inf, -inf, 1.0, -1.0, 7.0])
    x2 = numpy.array([2.0, -2.0, 2.0, -inf, inf, 2.0])
    with numpy.errstate(invalid="ignore"):
        got = xp.floor_divide(x1, x2)
    numpy.testing.assert_array_equal(got, [inf, -inf, -inf, -0.0, -0.0, 3.0])
    assert numpy.signbit(got[3:5]).all()
    assert xp.floor_divide(7, 2) == 3 and xp.floor_divide.reduce([8.0, 2.0]) == 4.0
    # gradients are the ufuncs' own
    check_grad(lambda x: xp.expm1(x), numpy.array([0.1, -0.3]), order=2)
    check_grad(lambda z: xp.expm1(z), numpy.array([0.1 + 0.2j]), order=2)
    g = nd.grad(lambda x: numpy.sum(xp.floor_divide(x, 0.3)))(numpy.array([1.0, 2.0]))
    assert g.tolist() == [0.0, 0.0]


def test_inspection_devices_is_a_tuple():
    assert xp.__array_namespace_info__().devices() == ("cpu",)
