"""``ndgrad.numpy``: NumPy's names, creation functions that make GradArrays, graph-keeping
conversions, and ``GradArray.__array_namespace__``."""

from __future__ import annotations

import types

import numpy
import pytest

import ndgrad as nd
import ndgrad.numpy as np
from ndgrad.testing import check_grad

from .cases._case import R

# Names whose object in ndgrad.numpy is ndgrad's own, not NumPy's: creation and conversion
# functions, the Array API functions whose NumPy version lacks a keyword of the standard, and the
# reductions that keep GradArrays held in lists (NumPy's functions, called after a recorded stack).
OWN = {
    "arange", "array", "asanyarray", "asarray", "ascontiguousarray", "asfortranarray", "copy",
    "empty", "empty_like", "eye", "from_dlpack", "frombuffer", "fromfunction", "full",
    "full_like", "geomspace", "identity", "linspace", "logspace", "ones", "ones_like", "tri",
    "zeros", "zeros_like", "argsort", "sort", "clip", "count_nonzero", "finfo", "iinfo", "expm1",
    "floor_divide", "sum", "prod", "mean", "max", "min", "amax", "amin", "ptp", "median",
    "nansum", "nanprod", "nanmean", "nanmax", "nanmin", "nanmedian", "cumsum", "cumprod",
    "nancumsum", "nancumprod", "trace", "diff", "std", "var", "nanstd", "nanvar", "average",
    "quantile", "percentile", "nanquantile", "nanpercentile", "cumulative_sum", "cumulative_prod",
    "append",
    "__array_namespace_info__", "__array_api_version__", "fft", "linalg", "random",
}  # fmt: skip

CREATORS = [
    (np.zeros, numpy.zeros, (3,), {}),
    (np.ones, numpy.ones, ((2, 2),), {}),
    (np.empty, numpy.empty, (0,), {}),
    (np.full, numpy.full, ((2,), 1.5), {}),
    (np.zeros_like, numpy.zeros_like, (numpy.ones((2, 3)),), {}),
    (np.ones_like, numpy.ones_like, (numpy.ones(3),), {}),
    (np.empty_like, numpy.empty_like, (numpy.ones(0),), {}),
    (np.full_like, numpy.full_like, (numpy.ones(2), 7.0), {}),
    (np.arange, numpy.arange, (0.0, 1.0, 0.25), {}),
    (np.linspace, numpy.linspace, (0.0, 1.0, 5), {}),
    (np.logspace, numpy.logspace, (0.0, 2.0, 3), {}),
    (np.geomspace, numpy.geomspace, (1.0, 8.0, 4), {}),
    (np.eye, numpy.eye, (3,), {"k": 1}),
    (np.identity, numpy.identity, (2,), {}),
    (np.tri, numpy.tri, (3, 2), {}),
    (np.fromfunction, numpy.fromfunction, (lambda i, j: i + 2.0 * j, (2, 3)), {}),
    (np.frombuffer, numpy.frombuffer, (numpy.arange(4.0).tobytes(),), {}),
    (np.copy, numpy.copy, (numpy.arange(3.0),), {}),
    (np.array, numpy.array, ([[1.0, 2.0], [3.0, 4.0]],), {}),
    (np.asarray, numpy.asarray, ((1.0, 2.0),), {}),
    (np.asanyarray, numpy.asanyarray, ([1.0],), {}),
    (np.ascontiguousarray, numpy.ascontiguousarray, (numpy.ones((2, 3)).T,), {}),
    (np.asfortranarray, numpy.asfortranarray, (numpy.ones((2, 3)),), {}),
]


def _ids(case):
    return case[1].__name__


# --- NumPy's names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, ours",
    [(numpy, np), (numpy.linalg, np.linalg), (numpy.fft, np.fft), (numpy.random, np.random)],
    ids=["numpy", "linalg", "fft", "random"],
)
def test_every_public_numpy_name_is_available(module, ours):
    missing = [n for n in module.__all__ if not hasattr(ours, n)]
    assert not missing
    assert set(module.__all__) <= set(ours.__all__)


def test_dispatching_functions_are_numpys_own_objects():
    different = [
        n for n in numpy.__all__ if n not in OWN and getattr(np, n) is not getattr(numpy, n)
    ]
    assert not different
    assert np.sin is numpy.sin and np.concatenate is numpy.concatenate and np.dot is numpy.dot


def test_submodule_functions_are_numpys_own_objects():
    for sub in ("linalg", "fft", "random"):
        theirs, ours = getattr(numpy, sub), getattr(np, sub)
        own = {"fft": {"fftfreq", "rfftfreq"}, "linalg": {"norm", "vector_norm", "matrix_norm"}}
        own = own.get(sub, set())
        names = [n for n in theirs.__all__ if n not in own]
        assert [n for n in names if getattr(ours, n) is not getattr(theirs, n)] == []
    assert np.linalg.inv is numpy.linalg.inv


def test_submodules_are_ndgrads_and_other_numpy_modules_are_numpys():
    assert np.linalg.__name__ == "ndgrad.numpy.linalg"
    assert np.fft.__name__ == "ndgrad.numpy.fft"
    assert isinstance(np.testing, types.ModuleType) and np.testing is numpy.testing
    assert np.ma is numpy.ma


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError):
        np.no_such_function  # noqa: B018


def test_star_import_gives_the_namespace():
    scope: dict[str, object] = {}
    exec("from ndgrad.numpy import *", scope)
    assert scope["asarray"] is np.asarray and scope["sin"] is numpy.sin


# --- creation functions -----------------------------------------------------------------------


@pytest.mark.parametrize("case", CREATORS, ids=_ids)
def test_creation_function_returns_grad_array_with_numpys_values(case):
    ours, theirs, args, kwargs = case
    got, want = ours(*args, **kwargs), theirs(*args, **kwargs)
    assert type(got) is nd.GradArray
    assert got.dtype == want.dtype and got.shape == want.shape
    if theirs not in (numpy.empty, numpy.empty_like):
        numpy.testing.assert_array_equal(got.view(numpy.ndarray), want)
    assert not got.requires_grad


@pytest.mark.parametrize("case", [c for c in CREATORS if c[1] not in (numpy.frombuffer,)], ids=_ids)
def test_creation_function_accepts_requires_grad(case):
    ours, _, args, kwargs = case
    x = ours(*args, **kwargs, requires_grad=True)
    assert x.requires_grad and x.is_leaf


def test_creation_function_returns_grad_array_for_integer_dtypes():
    x = np.arange(4)
    assert type(x) is nd.GradArray and x.dtype.kind == "i"


def test_requires_grad_on_integers_raises():
    with pytest.raises(TypeError, match="float and complex"):
        np.arange(3, requires_grad=True)


def test_creation_signature_shows_requires_grad():
    import inspect

    params = inspect.signature(np.zeros).parameters
    assert "requires_grad" in params and "dtype" in params


def test_linspace_retstep_returns_grad_array_and_step():
    values, step = np.linspace(0.0, 1.0, 3, retstep=True)
    assert type(values) is nd.GradArray and step == 0.5


# --- conversions keep graphs ------------------------------------------------------------------


def test_asarray_of_grad_array_returns_it_with_its_graph():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert np.asarray(y) is y and np.asanyarray(y) is y and np.asarray(x) is x


def test_asarray_with_new_dtype_is_a_recorded_cast():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    y = np.asarray(x, dtype=numpy.float32)
    assert y.dtype == numpy.float32 and y.requires_grad
    numpy.sum(y).backward()
    numpy.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_asarray_copy_false_refuses_a_needed_copy():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    assert np.asarray(x, copy=False) is x
    with pytest.raises(ValueError, match="copy"):
        np.asarray([x, x], copy=False)


def test_array_of_grad_array_is_a_recorded_copy():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    y = np.array(x)
    assert y is not x and not numpy.shares_memory(y, x) and y.requires_grad
    numpy.sum(y * y).backward()
    numpy.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_array_copy_none_of_grad_array_does_not_copy():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    assert np.array(x, copy=None) is x


def test_array_ndmin_of_grad_array_is_recorded():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    y = np.array(x, ndmin=3)
    assert y.shape == (1, 1, 2) and y.requires_grad


def test_array_of_list_of_grad_arrays_differentiates():
    def f(x, y):
        return np.array([[x, y**2], [1.0, x * y]])

    check_grad(f, numpy.array(0.7), numpy.array(-1.3), order=2)


def test_array_of_nested_lists_of_vectors_differentiates():
    def f(x):
        return np.array([[x, numpy.sin(x)], ([1.0, 2.0, 3.0], x**2)])

    check_grad(f, numpy.array([0.1, -0.4, 0.9]), order=2)


def test_array_of_list_has_numpys_shape_and_dtype():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    got = np.array([[x, x], [x, [3, 4]]])
    want = numpy.array([[[1.0, 2.0]] * 2, [[1.0, 2.0], [3, 4]]])
    assert got.shape == want.shape and got.dtype == want.dtype
    numpy.testing.assert_array_equal(got.view(numpy.ndarray), want)


def test_array_of_list_with_dtype_casts():
    x = nd.GradArray(1.0, requires_grad=True)
    got = np.array([x, 2.0], dtype=numpy.float32)
    assert got.dtype == numpy.float32 and got.requires_grad


def test_asarray_of_tuple_of_grad_arrays_differentiates():
    g = nd.grad(lambda x: numpy.sum(np.asarray((x, 2 * x)) ** 2))(numpy.array([1.0, -1.0]))
    numpy.testing.assert_allclose(g, [10.0, -10.0])


def test_ascontiguousarray_of_transposed_grad_array_is_a_recorded_copy():
    x = nd.GradArray(numpy.arange(6.0).reshape(2, 3), requires_grad=True)
    y = np.ascontiguousarray(x.T)
    assert y.flags.c_contiguous and y.requires_grad
    numpy.sum(y * numpy.arange(6.0).reshape(3, 2)).backward()
    numpy.testing.assert_array_equal(x.grad, numpy.arange(6.0).reshape(3, 2).T)


def test_ascontiguousarray_of_contiguous_grad_array_returns_it():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    assert np.ascontiguousarray(x) is x
    assert np.asfortranarray(x) is x


def test_ascontiguousarray_of_0d_grad_array_has_one_dimension_like_numpy():
    x = nd.GradArray(2.0, requires_grad=True)
    assert np.ascontiguousarray(x).shape == numpy.ascontiguousarray(numpy.array(2.0)).shape
    assert np.ascontiguousarray(x).requires_grad


def test_asfortranarray_of_grad_array_keeps_gradient():
    check_grad(lambda x: np.asfortranarray(x), numpy.arange(6.0).reshape(2, 3), order=2)


def test_copy_of_grad_array_is_recorded():
    check_grad(lambda x: np.copy(x) * 3, numpy.arange(3.0), order=2)


def test_from_dlpack_of_grad_array_keeps_its_graph():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    assert np.from_dlpack(x) is x
    assert type(np.from_dlpack(numpy.ones(2))) is nd.GradArray


def test_fromfunction_of_grad_array_closure_is_recorded():
    def f(w):
        return np.fromfunction(lambda i, j: w[0] * i + w[1] * j, (2, 3))

    check_grad(f, numpy.array([0.5, -1.5]), order=2)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_full_with_a_fill_value_that_requires_grad_is_recorded(shape):
    """numpy.full would pass fill_value through np.asarray and drop its graph."""
    check_grad(lambda v: np.full((2, 3), v), R(*shape), order=2)


def test_full_like_with_a_fill_value_that_requires_grad_is_recorded():
    check_grad(lambda v: np.full_like(numpy.ones((2, 3)), v), R(3), order=2)
    v = nd.GradArray(1.0, requires_grad=True)
    assert np.full_like(numpy.ones(2, dtype=numpy.float32), v).dtype == numpy.float32


def test_arange_with_start_and_step_that_require_grad_is_recorded():
    check_grad(lambda a, s: np.arange(a, 5.2, s), numpy.array(1.5), numpy.array(0.7), order=2)
    got = np.arange(nd.GradArray(1.5, requires_grad=True), 5.2, 0.7)
    numpy.testing.assert_allclose(got.view(numpy.ndarray), numpy.arange(1.5, 5.2, 0.7))


def test_linspace_between_values_that_require_grad_is_recorded():
    check_grad(lambda a, b: np.linspace(a, b, 4), numpy.array(-1.0), numpy.array(2.0), order=2)


# --- code written for autograd.numpy ----------------------------------------------------------


def test_code_calling_asarray_keeps_gradients():
    """The usual reason ported code loses its graph: a defensive ``np.asarray`` at the top."""

    def loss(w):
        w = np.asarray(w)
        h = np.tanh(np.ones((4, 3)) @ w)
        return np.sum(h**2) + np.array([w[0], 1.0]).sum()

    check_grad(loss, numpy.array([0.3, -0.2, 0.5]), order=2)


def test_writes_into_a_buffer_from_zeros_are_recorded():
    """``out = np.zeros(n); out[i] = f(x[i])``: the buffer is a GradArray, so writes record."""

    def f(x):
        out = np.zeros(3)
        for i in range(3):
            out[i] = np.sin(x[i]) * x[(i + 1) % 3]
        return out

    check_grad(f, numpy.array([0.3, -1.2, 0.8]), order=2)


def test_rows_written_into_an_empty_buffer_are_recorded():
    def f(x):
        acc = np.empty((2, 2))
        acc[0] = x
        acc[1, :] = x**2
        return np.linalg.det(acc)

    check_grad(f, numpy.array([0.3, -1.2]), order=2)


def test_numpy_asarray_still_strips_the_graph_loudly():
    """Plain ``numpy.asarray`` is not ours: nd.grad names the likely cause."""
    with pytest.raises(ValueError, match="asarray"):
        nd.grad(lambda x: numpy.sum(numpy.asarray(x) ** 2), scope=False)(numpy.ones(2))


# --- __array_namespace__ ----------------------------------------------------------------------


def test_array_namespace_of_grad_array_is_ndgrad_numpy():
    x = nd.GradArray([1.0])
    assert x.__array_namespace__() is np
    assert x.__array_namespace__(api_version="2024.12") is np
    assert (x * 2).__array_namespace__() is np


def test_array_namespace_rejects_an_unknown_version():
    with pytest.raises(ValueError, match=r"2099\.12"):
        nd.GradArray([1.0]).__array_namespace__(api_version="2099.12")


# --- examples/port_from_autograd.py -----------------------------------------------------------


@pytest.fixture(scope="module")
def ported():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "port_from_autograd.py"
    spec = importlib.util.spec_from_file_location("_example_port_from_autograd", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_ported_autograd_model_trains_with_checked_gradients(ported):
    g, fd, start, end = ported.main(steps=20, plot=False)  # asserts g == finite differences
    numpy.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)
    assert end < start


def test_ported_example_is_loud_without_autograd_and_plots_into_the_current_directory(
    ported, monkeypatch, tmp_path, capsys
):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ported, "autograd_version", lambda: None)
    ported.main(steps=2)
    assert "comparison with autograd was SKIPPED" in capsys.readouterr().err
    assert (tmp_path / "port_from_autograd.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="pip install autograd"):
        ported.main(steps=2, plot=False, require_autograd=True)


def test_ported_autograd_model_second_derivatives_match(ported):
    x, y = ported.data(n=5)
    check_grad(
        lambda p: ported.neg_log_marginal_likelihood(p, x, y),
        numpy.array([0.2, -0.1, -1.5]),
        order=2,
        rtol=1e-4,
    )


def test_ported_model_source_differs_from_autograd_only_in_imports(ported):
    from pathlib import Path

    source = Path(ported.__file__).read_text().split("\n# --- model ---")[1]
    lines = [ln for ln in source.splitlines() if "ndgrad" in ln]
    assert lines == [
        "import ndgrad.numpy as np  # was: import autograd.numpy as np",
        "from ndgrad import grad  # was: from autograd import grad",
    ]


# --- reductions and norms of lists holding GradArrays -------------------------------------------


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.mean([x, x + 2]),
        lambda x: np.std([x, x**2]),
        lambda x: np.var((x, 2 * x), ddof=1),
        lambda x: np.sum([[x[0], 1.0], [x[1], x[0] * x[1]]]),
        lambda x: np.average([x, x**2], weights=[x, numpy.ones(2)]),
        lambda x: np.median([x, x + 1.0, 3 * x]),
        lambda x: np.linalg.norm((x, x + 2)),
        lambda x: np.linalg.vector_norm([x, x**2], ord=3),
        lambda x: np.sum(np.append([[x[0], 1.0]], [[x[1], 2.0]], axis=0) ** 2),
        lambda x: np.sum(np.cumsum([x, x * x])),
    ],
)
def test_reductions_of_lists_holding_grad_arrays_keep_the_graph(f):
    """NumPy's own functions see only the list and would return a plain, gradient-less value."""
    check_grad(f, numpy.array([0.7, 1.9]), order=2)
    x = nd.GradArray(numpy.array([0.7, 1.9]), requires_grad=True)
    assert f(x).requires_grad


def test_reductions_of_plain_lists_are_numpys():
    assert np.mean([1.0, 2.0]) == 1.5 and type(np.mean([1.0, 2.0])) is numpy.float64
    assert np.linalg.norm([3.0, 4.0]) == 5.0
    assert np.mean.__wrapped__ is numpy.mean
