"""The dispatch tables cover NumPy's whole surface, and each table behaves as it promises.

Every NumPy function, ufunc and ndarray method is differentiable, returns plain values, or raises
``NotDifferentiableError`` on an input that requires grad; a NumPy upgrade that adds a function
fails here instead of silently dropping gradients.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing.overrides import get_overridable_numpy_array_functions

import ndgrad as nd
from ndgrad import coverage
from ndgrad._registry import NO_GRADIENT, TRACED_THROUGH, UNSUPPORTED, VJP_RULES, qualified_name

TABLES = {
    "VJP_RULES": VJP_RULES,
    "TRACED_THROUGH": TRACED_THROUGH,
    "NO_GRADIENT": NO_GRADIENT,
    "UNSUPPORTED": UNSUPPORTED,
}


def _tables_of(func):
    return [name for name, table in TABLES.items() if func in table]


def _overridable():
    coverage._import_surface()  # the set grows as NumPy's submodules are imported
    return get_overridable_numpy_array_functions()


# --- nothing is left out ---------------------------------------------------------------------


def test_nothing_is_unclassified():
    assert coverage.report().unclassified == []


def test_no_function_is_in_two_tables():
    keys = [k for table in TABLES.values() for k in table]
    twice = {qualified_name(k): _tables_of(k) for k in keys if len(_tables_of(k)) > 1}
    assert not twice


def test_every_ufunc_is_in_a_table():
    missing = [
        name for name, u in vars(np).items() if isinstance(u, np.ufunc) and not _tables_of(u)
    ]
    assert not missing


def test_every_overridable_function_is_in_a_table():
    missing = sorted(qualified_name(f) for f in _overridable() if not _tables_of(f))
    assert not missing


def test_every_public_linalg_and_fft_function_is_in_a_table():
    for module in (np.linalg, np.fft):
        for name, obj in vars(module).items():
            if name.startswith("_") or isinstance(obj, type) or not callable(obj):
                continue
            if name == "test":
                continue
            assert _tables_of(obj), f"{module.__name__}.{name}"


def test_every_public_ndarray_name_is_classified():
    entries = {e.name: e for e in coverage.report().entries if e.module == "ndarray"}
    public = [n for n in dir(np.ndarray) if not n.startswith("_")]
    public += ["__getitem__", "__setitem__"]  # indexing
    assert sorted(entries) == sorted(f"ndarray.{n}" for n in public)
    assert not [n for n, e in entries.items() if e.status == "unclassified"]


def test_like_twins_are_classified_alike():
    twins = [f for f in _overridable() if getattr(np, f.__name__, None) not in (None, f)]
    for twin in twins:
        public = getattr(np, twin.__name__)
        if twin.__module__ == "numpy" and callable(public):
            assert _tables_of(twin) == _tables_of(public), twin.__name__


def test_report_counts_each_callable_once():
    names = [e.name for e in coverage.report().entries]
    assert len(names) == len(set(names))
    assert "numpy.abs" not in names and "numpy.absolute" in names  # an alias is one callable


def test_differentiable_count_reaches_the_target_of_issue_3():
    # Functions, ufuncs and ufunc methods, as peers are counted (ndarray methods apart): HIPS
    # autograd differentiates 139 of them and MyGrad 67.
    assert coverage.report().function_counts()["differentiable"] >= 250


_OURS = ("numpy", "scipy", "ndarray", "ndgrad")  # how ndgrad's own rules are named


def test_every_registered_function_has_a_forward_rule_of_its_own():
    """Issue 17: a JVP rule beside every VJP rule (NumPy's and SciPy's). Transposing the VJP
    rules stays the fallback for functions of the user's; a new rule of ndgrad's without a
    forward rule fails here, and the coverage report names it."""
    report = coverage.report()  # imports SciPy's submodules: their rules register
    assert sum(len(names) for names in report.forward.values()) == len(VJP_RULES)
    # other tests register functions of their own (without forward rules) in the same process
    ours = [n for n in report.forward["transpose"] if n.split(".")[0] in _OURS]
    assert ours == []


def test_the_report_counts_how_batched_jacobians_compute_each_function():
    report = coverage.report()
    for direction in ("jacfwd", "jacrev"):
        kinds = report.batched[direction]
        assert sum(len(names) for names in kinds.values()) == len(VJP_RULES)
        assert {"numpy.sum", "numpy.matmul", "ndarray.__getitem__"} <= set(kinds["row"])
        assert {"numpy.sin", "numpy.add", "scipy.special.erf"} <= set(kinds["elementwise"])
        # gufuncs broadcast their loop axes, not over a batch axis: no elementwise rules
        assert {"numpy.linalg.solve", "numpy.vecdot"} <= set(kinds["one at a time"])
    text = report.to_text(names=False)
    assert "batched jacfwd: " in text and "batched jacrev: " in text


# --- the command ---------------------------------------------------------------------------


def test_coverage_command_exits_zero_and_prints_the_summary():
    done = subprocess.run(
        [sys.executable, "-m", "ndgrad.coverage", "--counts"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(f"ndgrad {nd.__version__} on NumPy {np.__version__}: ")
    assert last.endswith(" 0 unclassified")


def test_coverage_json_lists_every_entry():
    done = subprocess.run(
        [sys.executable, "-m", "ndgrad.coverage", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    data = json.loads(done.stdout)
    assert data["numpy"] == np.__version__
    total = sum(len(m["entries"]) for m in data["modules"].values())
    assert total == sum(data["counts"].values())
    linalg = {e["name"]: e for e in data["modules"]["numpy.linalg"]["entries"]}
    assert linalg["numpy.linalg.matrix_rank"]["status"] == "no gradient"


def test_coverage_command_fails_on_an_unclassified_function(capsys):
    before = len(coverage.report().unclassified)
    reason = UNSUPPORTED.pop(np.unique)
    try:
        assert coverage.main(["--summary"]) == 1
    finally:
        UNSUPPORTED[np.unique] = reason
    out, err = capsys.readouterr()
    assert f"{before + 1} unclassified" in out
    assert "numpy.unique" in err


def test_classify_reads_the_tables():
    assert coverage.classify(np.exp) == ("differentiable", "rule")
    assert coverage.classify(np.linspace) == ("differentiable", "traced")
    assert coverage.classify(np.argmax) == ("no gradient", "")
    assert coverage.classify(np.unique) == ("raises", "set operation")
    assert coverage.classify(object()) == ("unclassified", "")


# --- each table does what it says, on one float array ----------------------------------------

MATRIX = np.array([[2.0, 0.3, 0.1], [0.2, 1.5, 0.4], [0.1, 0.2, 1.8]])
VECTOR = np.array([0.7, 0.2, 1.3, 0.4])
SKIP = {np.save, np.savez, np.savez_compressed, np.savetxt, np.loadtxt, np.genfromtxt}
SKIP |= {np.fromfile, np.fromstring, np.frombuffer, np.fromiter}
# Writes into its first argument (a leaf here): test_methods.py::test_fill_diagonal_is_recorded
SKIP |= {np.fill_diagonal}
# Conversions dispatch only through ``like=`` (np.asarray(x) is NumPy's plain conversion).
LIKE_ONLY = {np.array, np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray}
LIKE_ONLY |= {np.require}
SKIP |= LIKE_ONLY | {f for f in get_overridable_numpy_array_functions() if f.__name__ == "require"}


@functools.cache
def _simple_call(func):
    """Plain float arrays that ``func`` accepts as its only arguments (one or two), or None."""
    if func in SKIP or isinstance(func, tuple):
        return None
    for args in ((MATRIX,), (VECTOR,), (MATRIX, MATRIX), (VECTOR, VECTOR)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                func(*(a.copy() for a in args))  # copies: some functions write in place
        except Exception:
            continue
        return args
    return None


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    return [out]


def _callable(table):
    return sorted((f for f in table if _simple_call(f) is not None), key=qualified_name)


def _grad_args(func, requires_grad=True):
    return [nd.GradArray(a, requires_grad=requires_grad) for a in _simple_call(func)]


@pytest.mark.parametrize("func", _callable(UNSUPPORTED), ids=qualified_name)
def test_unsupported_function_raises_naming_itself(func):
    args = _grad_args(func)
    with pytest.raises(nd.NotDifferentiableError) as err:
        func(*args)
    assert qualified_name(func) in str(err.value)
    assert UNSUPPORTED[func] in str(err.value)  # the reason is part of the message
    with nd.no_grad():
        func(*args)  # without recording it is NumPy's function


def _structured(x):
    out = np.zeros(len(x), dtype=[("a", float), ("b", float)])
    out["a"] = x
    return out


# Unsupported functions that need more than one array: (function, call on x that requires grad).
MULTI_ARG_CALLS = [
    (np.copyto, lambda x: np.copyto(np.zeros(4), x)),
    (np.place, lambda x: np.place(x, x > 0.5, [0.0])),
    (np.put, lambda x: np.put(x, [0], [1.0])),
    (np.putmask, lambda x: np.putmask(x, x > 0.5, 0.0)),
    (np.polymul, lambda x: np.polymul(x, x)),
    (np.polydiv, lambda x: np.polydiv(x, x[:2])),
    (np.polyfit, lambda x: np.polyfit(x, x, 1)),
    (np.apply_along_axis, lambda x: np.apply_along_axis(np.sum, 0, x)),
    (np.apply_over_axes, lambda x: np.apply_over_axes(np.sum, x, [0])),
    (np.geomspace, lambda x: np.geomspace(x[0], x[1], 3)),
    (
        np.lib.stride_tricks.sliding_window_view,
        lambda x: np.lib.stride_tricks.sliding_window_view(x, 2),
    ),
    (np.emath.logn, lambda x: np.emath.logn(2.0, x)),
    (np.emath.power, lambda x: np.emath.power(x, 2)),
    (np.union1d, lambda x: np.union1d(x, x)),
    (np.intersect1d, lambda x: np.intersect1d(x, x)),
    (np.setdiff1d, lambda x: np.setdiff1d(x, x[:2])),
    (np.setxor1d, lambda x: np.setxor1d(x, x[:2])),
    (np.histogram2d, lambda x: np.histogram2d(x, x)),
    (np.bincount, lambda x: np.bincount([0, 1, 1, 2], weights=x)),
    (np.polynomial.polynomial.polyval2d, lambda x: np.polynomial.polynomial.polyval2d(x, x, x)),
    (
        np.lib.recfunctions.unstructured_to_structured,
        lambda x: np.lib.recfunctions.unstructured_to_structured(np.reshape(x, (2, 2))),
    ),
]


@pytest.mark.parametrize(
    ("func", "call"), MULTI_ARG_CALLS, ids=[qualified_name(f) for f, _ in MULTI_ARG_CALLS]
)
def test_unsupported_function_with_several_arguments_raises(func, call):
    assert func in UNSUPPORTED
    x = nd.GradArray(VECTOR, requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError, match=qualified_name(func).replace(".", r"\.")):
        call(x)
    with nd.no_grad():
        call(nd.GradArray(VECTOR))  # NumPy's own behaviour when nothing is recorded


def test_ufunc_method_without_a_rule_raises():
    x = nd.GradArray(VECTOR, requires_grad=True)
    for method in ("outer", "accumulate", "reduce", "reduceat"):
        for ufunc in (np.hypot, np.arctan2, np.logaddexp, np.copysign):
            if (ufunc, method) in VJP_RULES:
                continue
            args = (x, x) if method == "outer" else (x, [0, 2]) if method == "reduceat" else (x,)
            with pytest.raises(nd.NotDifferentiableError, match=f"{ufunc.__name__}.{method}"):
                getattr(ufunc, method)(*args)
            with nd.no_grad():
                getattr(ufunc, method)(*args)


def test_error_names_the_public_module():
    x = nd.GradArray(VECTOR, requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError, match=r"numpy\.lib\.scimath\.sqrt"):
        np.emath.sqrt(x)


def test_like_only_conversions_raise_on_a_like_argument_that_requires_grad():
    w = nd.GradArray([1.0, 2.0], requires_grad=True)
    for func in LIKE_ONLY:
        with pytest.raises(nd.NotDifferentiableError, match=func.__name__):
            func(w, like=w)
        assert func in UNSUPPORTED
    with pytest.raises(nd.NotDifferentiableError, match="frombuffer"):
        np.frombuffer(w, like=w)
    with pytest.raises(nd.NotDifferentiableError, match="fromiter"):
        np.fromiter([w[0], w[1]], float, like=w)
    # ``like`` alone only chooses the array type: data from bytes is a constant.
    constant = np.frombuffer(b"\x00" * 16, like=w)
    assert isinstance(constant, nd.GradArray) and not constant.requires_grad


def test_enough_unsupported_functions_are_called():
    assert len(_callable(UNSUPPORTED)) >= 30


@pytest.mark.parametrize("func", _callable(NO_GRADIENT), ids=qualified_name)
def test_no_gradient_function_returns_no_graph(func):
    for leaf in _leaves(func(*_grad_args(func))):
        assert not getattr(leaf, "requires_grad", False), type(leaf)


@pytest.mark.parametrize("func", _callable([*VJP_RULES, *TRACED_THROUGH]), ids=qualified_name)
def test_differentiable_function_keeps_every_float_output_in_the_graph(func):
    for leaf in _leaves(func(*_grad_args(func))):
        if getattr(getattr(leaf, "dtype", None), "kind", "i") in ("f", "c"):
            assert isinstance(leaf, nd.GradArray) and leaf.requires_grad


def test_enough_no_gradient_functions_are_called():
    assert len(_callable(NO_GRADIENT)) >= 50


def test_saving_an_array_that_requires_grad_saves_its_values(tmp_path):
    x = nd.GradArray(MATRIX, requires_grad=True)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", x=x)
    np.savetxt(tmp_path / "x.txt", x)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), MATRIX)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npz")["x"], MATRIX)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "x.txt"), MATRIX)


def test_like_creation_returns_a_constant_grad_array():
    # Regression: ``like=`` hands the public function (no ``_implementation``) to the engine.
    w = nd.GradArray([1.0, 2.0], requires_grad=True)
    for make in (
        lambda: np.ones(3, like=w),
        lambda: np.zeros(3, like=w),
        lambda: np.full(3, 2.0, like=w),
        lambda: np.eye(3, like=w),
        lambda: np.arange(3.0, like=w),
    ):
        out = make()
        assert isinstance(out, nd.GradArray) and not out.requires_grad


# --- arrays that do not require grad: exactly NumPy ------------------------------------------


def _same(got, expected):
    if isinstance(expected, (tuple, list)):
        assert type(got) in (type(expected), tuple, list) and len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            _same(g, e)
    elif isinstance(expected, np.ndarray) or np.isscalar(expected):
        if isinstance(got, nd.GradArray):
            assert not got.requires_grad
        np.testing.assert_array_equal(np.asarray(got), expected)
        assert np.asarray(got).dtype == np.asarray(expected).dtype
    else:
        assert got == expected or type(got) is type(expected)


ALL_FUNCTIONS = _callable([f for table in TABLES.values() for f in table])


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=qualified_name)
def test_without_requires_grad_every_function_is_numpy(func):
    expected = func(*(a.copy() for a in _simple_call(func)))
    got = func(*_grad_args(func, requires_grad=False))
    if func is np.empty_like:  # uninitialised values: only the shape and dtype are NumPy's
        got, expected = np.zeros_like(got), np.zeros_like(expected)
    _same(got, expected)


def test_enough_functions_are_compared_with_numpy():
    assert len(ALL_FUNCTIONS) >= 280


def test_report_has_a_scipy_section():
    rep = coverage.report()
    assert "gammaln" in rep.scipy["rules"] and "erf" in rep.scipy["rules"]
    text = rep.to_text()
    assert "== scipy.special" in text
    assert text.splitlines()[-1] == rep.summary()  # the summary stays the last line
    assert rep.to_json()["scipy.special"]["rules"] == rep.scipy["rules"]


def test_counts_show_scipy_special_as_a_row_without_empty_headers():
    pytest.importorskip("scipy.special")
    import scipy.special  # noqa: F401  (registers the rules)

    rep = coverage.report()
    counts = rep.to_text(names=False)
    row = next(ln for ln in counts.splitlines() if ln.startswith("scipy.special ufuncs"))
    numbers = [int(n) for n in row.split("(")[0].split()[2:]]
    assert numbers == [len(rep.scipy["rules"]), len(rep.scipy["no_gradient"]),
                       len(rep.scipy["raises"]), 0]  # fmt: skip
    assert "==" not in counts and not re.search(r"^[a-z ]+\(\d+\):$", counts, re.M)
    names = rep.to_text(names=True)
    assert "== scipy.special" in names and "no gradient (0):" not in names
