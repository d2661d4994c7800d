"""Unusual and hostile inputs: each gives a correct result or a clear error, never a silent one."""

from __future__ import annotations

import copy
import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray

from .cases import CASES
from .test_rules import _callable


def leaf(values, dtype=float):
    return GradArray(np.asarray(values, dtype=dtype), requires_grad=True)


# --- NaN, inf and floating-point warnings -----------------------------------------------------


def test_nan_and_inf_propagate_like_numpy():
    x = leaf([1.0, np.nan, np.inf])
    with np.errstate(invalid="ignore"):
        y = np.sum(x * 2)
        y.backward()
    assert np.isnan(y.values)
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_nan_in_input_gives_nan_gradient_where_numpy_would():
    x = leaf([1.0, np.nan])
    np.sum(np.exp(x)).backward()
    assert np.isnan(x.grad[1]) and x.grad[0] == np.exp(1.0)


def test_division_by_zero_warns_like_numpy():
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.log(GradArray([0.0]))
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.log(np.array([0.0]))


def test_errstate_is_respected_forward_and_backward():
    x = leaf([0.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.sum(np.log(x))
        y.backward()
    assert x.grad[0] == np.inf
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        np.log(leaf([0.0]))


def test_backward_warnings_follow_numpy():
    x = leaf([0.0])
    y = np.sum(np.sqrt(x))  # forward is fine, the rule divides by zero
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):
            y.backward()


_WARNING_SCRIPT = """
import numpy as np
import ndgrad as nd

x = nd.GradArray(np.array([-1.0, 4.0]), requires_grad=True)
y = np.sqrt(x)
z = np.sqrt(x, dtype=float)
p = np.prod(x * 1e300)
np.sum(np.sqrt(nd.GradArray(np.array([0.0]), requires_grad=True))).backward()
"""


def test_numpys_floating_point_warnings_point_at_the_users_line(tmp_path):
    """Not at ndgrad/_array.py: the message is NumPy's, the location the caller's. Run with
    Python's default warning filters, as a user's script is (pytest.warns puts an "always"
    filter first, which takes precedence over the one that moves the ufunc fast path's)."""
    script = tmp_path / "user_script.py"
    script.write_text(_WARNING_SCRIPT)
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(root)), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    located = re.findall(r"^(.*):(\d+): RuntimeWarning: (.*)$", run.stderr, re.M)
    assert [(Path(f).name, int(n), m) for f, n, m in located] == [
        ("user_script.py", 6, "invalid value encountered in sqrt"),
        ("user_script.py", 7, "invalid value encountered in sqrt"),
        ("user_script.py", 8, "overflow encountered in prod"),
        ("user_script.py", 9, "divide by zero encountered in backward (a gradient rule)"),
    ], run.stderr


def test_backward_warnings_point_at_the_backward_call():
    y = np.sum(np.sqrt(leaf([0.0])))
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in backward") as record:
        y.backward()
    assert record[0].filename == __file__


def test_moved_warnings_keep_numpys_modes_and_filters():
    x = leaf([-1.0])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(np.sqrt(x)[0]) and np.isnan(np.sqrt(x, dtype=float)[0])
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        np.sqrt(x)
    calls = []
    with np.errstate(invalid="call", call=lambda kind, flag: calls.append(kind)):
        np.sqrt(x)  # the fast path
        np.sqrt(x, dtype=float)  # the general path
    assert calls == ["invalid value", "invalid value"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(np.sqrt(x)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="invalid value encountered in sqrt"):
            np.sqrt(x)


# --- layouts, dtypes and flags ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        lambda: np.arange(12.0).reshape(3, 4)[::2, 1::2],
        lambda: np.arange(6.0)[::-1].reshape(2, 3),
        lambda: np.arange(6.0, dtype=">f8").reshape(2, 3),
    ],
    ids=["fortran", "strided", "negative-stride", "big-endian"],
)
def test_unusual_layouts_give_correct_gradients(make):
    a = make()
    g = nd.grad(lambda x: np.sum(np.sin(x) * x))(a)
    np.testing.assert_allclose(g, np.cos(a) * a + np.sin(a))
    assert g.shape == a.shape


def test_read_only_input_is_fine_and_untouched():
    a = np.arange(3.0)
    a.flags.writeable = False
    g = nd.grad(lambda x: np.sum(x**2))(a)
    np.testing.assert_allclose(g, 2 * a)


def test_very_large_and_small_float32():
    x = leaf([3e38, 1e-38], dtype=np.float32)
    np.sum(x * 0.5).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [0.5, 0.5])


def test_integer_and_boolean_arrays_mixed_into_float_graph():
    x = leaf([1.0, 2.0, 3.0])
    mask = np.array([True, False, True])
    n = np.array([1, 2, 3])
    np.sum(x * mask + x**n).backward()
    np.testing.assert_allclose(x.grad, mask + n * x.values ** (n - 1))


# --- empty arrays and zero-size axes ----------------------------------------------------------


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0)])
def test_empty_arrays(shape):
    x = leaf(np.zeros(shape))
    y = np.sum(np.exp(x) * 2) + np.sum(x, axis=-1).sum()
    y.backward()
    assert x.grad.shape == shape


def test_empty_mean_warns_like_numpy():
    x = GradArray(np.zeros(0))
    with pytest.warns(RuntimeWarning):
        np.mean(x)


# --- foreign array types ----------------------------------------------------------------------


def _matrix():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix([[1.0, 2.0]])


@pytest.mark.parametrize(
    "make",
    [_matrix, lambda: np.ma.masked_array([[1.0, 2.0]], mask=[[0, 1]])],
    ids=["matrix", "masked"],
)
def test_matrix_and_masked_array_give_clear_errors(make):
    other = make()
    x = leaf([[1.0, 2.0]])
    with pytest.raises(TypeError, match="cannot mix GradArray"):
        x * other
    with pytest.raises(TypeError, match="cannot mix GradArray"):
        np.concatenate([x, other])


def test_object_dtype_is_an_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError):
        np.sum(x * np.array([1.0, "a"], dtype=object))


def test_structured_dtype_cannot_require_grad():
    s = np.zeros(2, dtype=[("a", float), ("b", float)])
    with pytest.raises(TypeError, match="only float and complex"):
        GradArray(s, requires_grad=True)


# --- backward misuse --------------------------------------------------------------------------


def test_backward_inside_no_grad_works_on_an_existing_graph():
    x = leaf([1.0, 2.0])
    y = np.sum(x * x)
    with nd.no_grad():
        y.backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_graph_built_inside_no_grad_cannot_backward():
    x = leaf([1.0, 2.0])
    with nd.no_grad():
        y = np.sum(x * x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


# --- copying and pickling ---------------------------------------------------------------------


def test_pickle_round_trip_keeps_values_dtype_requires_grad():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = pickle.loads(pickle.dumps(x))
    assert isinstance(y, GradArray) and y.requires_grad and y.dtype == np.float32
    np.testing.assert_array_equal(y.values, x.values)
    z = pickle.loads(pickle.dumps(x * 2))  # a non-leaf: values only, no graph
    assert isinstance(z, GradArray) and not z.requires_grad and z.grad is None


def test_pickle_keeps_grad_as_deepcopy_does():
    x = leaf([1.0, 2.0], dtype=np.float32)
    np.sum(x * x).backward()
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert y.requires_grad and y.grad.dtype == np.float32
        np.testing.assert_array_equal(y.grad, [2.0, 4.0])
        assert not np.shares_memory(y.grad, x.grad)
    z = leaf([3.0])
    np.sum(z**2).backward(create_graph=True)  # a .grad with a graph of its own: values only
    w = pickle.loads(pickle.dumps(z))
    assert type(w.grad) is np.ndarray and w.grad.tolist() == [6.0]


def test_copy_and_deepcopy():
    x = leaf([1.0, 2.0])
    np.sum(x * x).backward()
    d = copy.deepcopy(x)
    assert d.requires_grad and d is not x and not np.shares_memory(d, x)
    np.testing.assert_array_equal(d.grad, x.grad)
    c = copy.copy(x * 1)
    assert isinstance(c, GradArray)


def test_np_save_and_load_round_trip(tmp_path):
    x = leaf([1.0, 2.0], dtype=np.float32) * 1.0  # a GradArray with a graph
    path = tmp_path / "x.npy"
    np.save(path, x)  # stores values and dtype: the .npy format has no place for a graph
    loaded = np.load(path)  # allow_pickle stays False: no code runs on load
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, x.values)
    y = GradArray(loaded, requires_grad=True)  # requires_grad is re-stated on load
    assert y.requires_grad and y.dtype == np.float32
    archive = tmp_path / "x.npz"
    np.savez(archive, x=x)
    np.testing.assert_array_equal(np.load(archive)["x"], x.values)


# --- a user's inputs are never modified -------------------------------------------------------


@pytest.mark.parametrize("key", list(CASES), ids=lambda k: getattr(k, "__name__", str(k)))
def test_no_rule_modifies_its_inputs(key):
    case = CASES[key]
    func = _callable(key, case)
    for args, kwargs in case.calls[:2]:
        before = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        nums = tuple(
            i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind in "fc"
        )
        if not nums:
            continue

        def scalar(*xs, func=func, kwargs=kwargs):
            out = func(*xs, **kwargs)
            parts = out if isinstance(out, (tuple, list)) else (out,)
            return sum(
                np.sum(np.real(p))
                for p in parts
                if getattr(p, "dtype", None) is not None and p.dtype.kind in "fc"
            )

        nd.grad(scalar, argnums=nums, allow_unused=True)(*args)
        for a, b in zip(args, before, strict=True):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
