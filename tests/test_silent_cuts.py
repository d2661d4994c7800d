"""Plain ndarrays over the memory of arrays in a graph (``ndgrad/_aliases.py``), and other cuts
that were silent outside the conversion scope: object arrays, scikit-learn's Cython routines."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd

X3 = np.array([0.5, -1.25, 2.0])


def _leaf(values=X3):
    return nd.GradArray(values, requires_grad=True)


def test_plain_view_of_a_leaf_meeting_it_is_refused():
    h = _leaf()
    with pytest.raises(nd.GraphBreakError, match=r"numpy\.multiply got a plain ndarray"):
        np.sum(np.asarray(h) * h)


def test_plain_view_meeting_another_leaf_is_refused():
    x, w = _leaf(), _leaf(np.ones(3))
    with pytest.raises(nd.GraphBreakError, match=r"nd\.tracing\(\)"):
        np.dot(np.asarray(x), w)


def test_plain_view_of_an_intermediate_is_refused():
    y = _leaf() * 2.0
    with pytest.raises(nd.GraphBreakError, match="shares memory"):
        np.sum(np.asarray(y)[1:] + y[1:])


def test_plain_view_of_a_view_is_refused():
    x = _leaf(np.arange(6.0))
    v = x[2:]
    with pytest.raises(nd.GraphBreakError):
        np.sum(np.ascontiguousarray(v) * x[:4])


def test_plain_view_in_a_list_argument_is_refused():
    x = _leaf()
    with pytest.raises(nd.GraphBreakError, match=r"numpy\.stack"):
        np.stack([np.asarray(x), x])


def test_inside_tracing_the_same_code_is_differentiated():
    h = _leaf()
    with nd.tracing():
        loss = np.sum(np.asarray(h) * h)
    loss.backward()
    np.testing.assert_allclose(h.grad, 2 * X3)


def test_values_and_detach_are_constants():
    x = _leaf()
    np.sum(x.values * x).backward()
    np.testing.assert_allclose(x.grad, X3)  # d/dx sum(c * x) = c
    x = _leaf()
    np.sum(x.detach() * x).backward()
    np.testing.assert_allclose(x.grad, X3)


def test_a_plain_copy_is_a_constant():
    x = _leaf()
    np.sum(np.array(x) * x).backward()  # owns its memory: no alias, a constant
    np.testing.assert_allclose(x.grad, X3)


def test_alias_of_an_array_that_no_longer_requires_grad_is_allowed():
    x = _leaf()
    p = np.asarray(x)
    x.requires_grad = False
    w = _leaf(np.ones(3))
    np.sum(p * w).backward()
    np.testing.assert_allclose(w.grad, X3)


def test_plain_views_of_unrelated_memory_are_allowed():
    data = np.arange(12.0).reshape(4, 3)
    w = _leaf()
    np.sum(data[:, 0:3] * w).backward()
    np.testing.assert_allclose(w.grad, data.sum(axis=0))


def test_alias_table_holds_steady():
    from ndgrad import _core

    before = _core.alias_table_size()
    w = _leaf()
    for _ in range(10_000):
        w = w * 1.0
    assert _core.alias_table_size() <= before + 2  # each array leaves when it dies


def test_grad_with_scope_false_refuses_an_alias_cut():
    def f(x):
        return np.sum(np.asarray(x) * x)

    with pytest.raises(nd.GraphBreakError):
        nd.grad(f, scope=False)(X3)
    np.testing.assert_allclose(nd.grad(f)(X3), 2 * X3)


# --- the values as bytes: the buffer protocol and the byte exports ---------------------------


_EXPORTS = {
    "np.frombuffer(x.tobytes())": lambda x: np.frombuffer(x.tobytes()),
    "pickle round trip": lambda x: __import__("pickle").loads(x.dumps()),
    "np.asarray(memoryview(x))": lambda x: np.asarray(memoryview(x)),
    "np.frombuffer(x)": lambda x: np.frombuffer(x),
    "np.frombuffer(bytes(x))": lambda x: np.frombuffer(bytes(x)),
}


@pytest.mark.parametrize("export", list(_EXPORTS))
def test_the_values_read_back_from_bytes_are_refused_not_silently_constant(export):
    """``x``'s values read back from its bytes are the same values without the graph: the
    gradient of ``sum(read_back(x) * x)`` came out ``x`` where it is ``2 x``, with no error.
    Refused inside a transform, as float(x) is; allowed outside (logging, saving)."""
    read_back = _EXPORTS[export]

    def f(x):
        return np.sum(read_back(x) * x)

    # (bytes(x) asks operator.index(x) first: refused there, the message naming bytes(x))
    with pytest.raises(nd.GraphBreakError, match="converts an array that requires grad") as e:
        nd.grad(f)(X3)
    assert "bytes(x)" not in export or "bytes(x)" in str(e.value)
    x = _leaf()
    np.testing.assert_array_equal(read_back(x), X3)  # outside any transform: as NumPy
    with nd.no_grad(), nd.tracing():
        np.testing.assert_array_equal(read_back(x), X3)  # nothing is recorded
    with nd.tracing():
        np.testing.assert_array_equal(read_back(nd.GradArray(X3)), X3)  # a constant


@pytest.mark.parametrize(
    "plain",
    [
        lambda h: np.asarray(memoryview(h)),
        lambda h: np.asarray(memoryview(h))[1:],
        lambda h: np.frombuffer(h),
    ],
    ids=["memoryview", "a slice of it", "frombuffer"],
)
def test_a_plain_array_over_an_exported_buffer_meeting_the_graph_is_refused(plain):
    """Outside any transform the buffer protocol works as in NumPy; a plain array made over an
    array's buffer has the memoryview (or its exporter) as its base, which the alias check
    followed no further: np.sum(np.asarray(memoryview(h)) * h) lost the first factor's
    gradient. The buffer's exporter is followed to the array in the graph."""
    h = _leaf() * 2.0
    alias = plain(h)
    with pytest.raises(nd.GraphBreakError, match="shares memory"):
        np.sum(alias * h[: alias.size])


@pytest.mark.parametrize(
    "strip",
    [
        lambda x: x.view(np.ndarray),
        lambda x: x.__array__(),
        lambda x: x.__array__(copy=True),
        lambda x: x.__array__(np.float64),
    ],
    ids=["view(np.ndarray)", "__array__()", "__array__(copy)", "__array__(dtype)"],
)
def test_a_library_stripping_the_subclass_keeps_the_graph_in_a_transform(strip):
    """``x.view(np.ndarray)`` and ``x.__array__()``, the ways libraries strip a subclass besides
    ``np.asarray``, gave plain data inside a transform: ``sum(strip(x) ** 2) + sum(x)``
    differentiated to [1, 1] where it is ``2 x + 1``, with no error. There they keep the graph,
    as the scope's ``np.asarray`` does; outside they are NumPy's."""
    x0 = np.array([0.3, 0.7])

    def f(x):
        return np.sum(strip(x) ** 2) + np.sum(x)

    np.testing.assert_allclose(nd.grad(f)(x0), 2 * x0 + 1)
    assert type(strip(_leaf())) is np.ndarray  # outside: plain, as NumPy


def test_a_write_through_a_stripped_view_is_recorded_in_a_transform():
    def f(x):
        y = x * 1.0
        y.view(np.ndarray)[0] = 0.0
        return np.sum(y**2)

    np.testing.assert_allclose(nd.grad(f)(np.array([0.3, 0.7])), [0.0, 1.4])


def test_a_raw_pointer_to_an_array_in_a_graph_is_refused_in_a_transform():
    """``np.ctypeslib.as_array(x.ctypes...)`` read the values back without the graph: the
    gradient of ``sum(read_back * x)`` came out ``x`` where it is ``2 x``, with no error."""
    import ctypes

    def f(x):
        pointer = x.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        return np.sum(np.ctypeslib.as_array(pointer, x.shape) * x)

    with pytest.raises(nd.GraphBreakError, match=r"x\.ctypes"):
        nd.grad(f)(X3)
    assert _leaf().ctypes.data != 0  # outside any transform: as NumPy


def test_dlpack_export_of_an_array_in_a_graph_is_refused_in_a_transform():
    with pytest.raises(nd.GraphBreakError, match="__dlpack__"):
        nd.grad(lambda x: np.sum(x * float(x.__dlpack__() is None)))(X3)
    capsule = _leaf().__dlpack__()  # outside: as NumPy
    assert type(capsule).__name__ == "PyCapsule"


# --- object arrays ---------------------------------------------------------------------------


def test_vectorize_plus_another_term_is_refused():
    # was silently partial: the vectorized term lost its gradient, x kept its own
    with pytest.raises(nd.NotDifferentiableError, match="dtype=object"):
        nd.grad(lambda x: np.sum(np.vectorize(np.sin)(x) + x))(X3)


def test_frompyfunc_on_an_array_that_requires_grad_is_refused():
    square = np.frompyfunc(lambda v: v * v, 1, 1)
    with pytest.raises(nd.NotDifferentiableError, match="dtype=object"):
        square(_leaf())
    assert square(nd.GradArray(X3)).dtype == object  # without a graph: as NumPy


# --- scikit-learn's Cython routines ----------------------------------------------------------


def test_chi2_kernel_outside_the_scope_is_refused_not_partial():
    pw = pytest.importorskip("sklearn.metrics.pairwise")
    x = _leaf(np.array([[0.5, 1.0], [2.0, 0.25]]))
    with pytest.raises(nd.NotDifferentiableError, match="additive_chi2_kernel"):
        np.sum(pw.chi2_kernel(x, np.ones((3, 2)))) + np.sum(x)


def test_chi2_kernel_closed_form():
    pw = pytest.importorskip("sklearn.metrics.pairwise")
    x, y = np.array([[0.5, 1.0]]), np.array([[2.0, 0.0]])
    # k = -sum (x - y)^2 / (x + y); d/dx of one term = 1 - 4 y^2 / (x + y)^2; y = x = 0 skipped
    g = nd.grad(lambda x: np.sum(pw.additive_chi2_kernel(x, y)))(x)
    np.testing.assert_allclose(g, [[-(1 - 4 * 4.0 / 2.5**2), -1.0]])


def test_compiled_sklearn_function_is_refused_by_name():
    pytest.importorskip("sklearn")
    from sklearn.utils import arrayfuncs

    with pytest.raises(nd.NotDifferentiableError, match=r"arrayfuncs\.min_pos"):
        nd.grad(lambda x: arrayfuncs.min_pos(x))(X3 + 3.0)
    assert arrayfuncs.min_pos(np.array([3.0, 1.5])) == 1.5  # plain arrays: the original


def test_sklearn_loss_objects_are_refused_by_name():
    loss = pytest.importorskip("sklearn._loss.loss")
    half = loss.HalfSquaredError()
    y = np.array([1.0, 2.0, 0.5])
    with pytest.raises(nd.NotDifferentiableError, match=r"BaseLoss\.loss .*Cython"):
        nd.grad(lambda r: np.sum(half.loss(y_true=y, raw_prediction=r)) + np.sum(r))(X3)
    np.testing.assert_allclose(half.loss(y_true=y, raw_prediction=X3), 0.5 * (X3 - y) ** 2)


# --- links that carry only zeros ---------------------------------------------------------------

W = np.array([0.5, 2.0, 1.0])


def _logsumexp_b_before_the_fix(a, b=W):
    """SciPy's logsumexp(b=) as it ran before the scope: the input copied by a compiled helper
    (here ``np.ndarray.view``, which no scope can see), the maximum taken by a where that
    selects only from the copy. The output is linked to ``a``, through zeros only."""
    plain = np.array(np.ndarray.view(a, np.ndarray))
    a_max = np.max(np.where(b == 0, a, plain))
    return np.log(np.sum(b * np.exp(plain - a_max))) + a_max


def _solve_ivp_like(y0):
    """A solver that stores the caller's ``y0`` as the first column of its result, and computes
    the others in compiled code from a plain copy (``solve_ivp``'s ``sol.y``)."""
    with nd.tracing():
        ys = np.empty((2, 5))
    ys[:, 0] = y0
    ys[:, 1:] = np.ndarray.view(y0, np.ndarray)[:, None] * np.exp(-np.arange(1.0, 5.0))
    return np.sum(ys[:, -1])


@pytest.mark.parametrize("scope", [True, False])
def test_logsumexp_b_link_of_zeros_is_refused(scope):
    with pytest.raises(nd.GraphBreakError, match="exactly zero, but its value changes"):
        nd.grad(_logsumexp_b_before_the_fix, scope=scope)(X3)


def test_first_column_link_of_zeros_is_refused():
    with pytest.raises(nd.GraphBreakError, match=r"argument\(s\) \[0\]"):
        nd.grad(_solve_ivp_like)(X3[:2])
    with pytest.raises(nd.GraphBreakError):
        nd.value_and_grad(lambda c, y0: c * _solve_ivp_like(y0), argnums=1)(2.0, X3[:2])


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (lambda x: np.sum(x**2), np.zeros(3)),  # a stationary point
        (lambda x: np.sum(x**3), np.zeros(3)),  # an inflection point
        (lambda x: np.sum(np.maximum(x, 0.0)), -np.ones(3)),  # a flat region
        (lambda x: np.sum(np.where(x > 0, x, 0.0)), np.zeros(3)),  # a kink, subgradient 0
        (lambda x: np.sum(np.abs(x)), np.zeros(3)),
        (lambda x: np.sum(np.floor(3 * x)), X3),  # piecewise constant
        (lambda x: np.sum(0.0 * x) + np.random.default_rng().random(), X3),  # not deterministic
    ],
)
def test_true_zero_gradients_are_returned(f, x):
    np.testing.assert_array_equal(nd.grad(f)(x), np.zeros_like(x))


# --- converters held by the function: default arguments, class attributes ---------------------


def _with_default(x, asarray=np.asarray):
    return np.sum(asarray(x) ** 2) + np.sum(x)


def _with_kwdefault(x, *, conv=np.ascontiguousarray):
    return np.sum(conv(x) ** 3)


class _Model:
    conv = staticmethod(np.asarray)
    scale = 2.0

    def __call__(self, x):
        return self.scale * np.sum(self.conv(x) ** 2)

    def loss(self, x):
        return np.sum(self.conv(x) ** 2)


def test_converter_bound_as_default_argument_keeps_the_graph():
    # was silently partial: the default converter stripped x, np.sum(x) kept its own term
    np.testing.assert_allclose(nd.grad(_with_default)(X3), 2 * X3 + 1)
    np.testing.assert_allclose(nd.grad(_with_kwdefault)(X3), 3 * X3**2)
    assert _with_default.__defaults__[0] is np.asarray  # restored after the call
    assert _with_kwdefault.__kwdefaults__["conv"] is np.ascontiguousarray


def test_converter_bound_as_class_attribute_keeps_the_graph():
    np.testing.assert_allclose(nd.grad(_Model())(X3), 4 * X3)
    np.testing.assert_allclose(nd.grad(_Model().loss)(X3), 2 * X3)
    assert vars(_Model)["conv"].__func__ is np.asarray


def test_differentiable_rebinds_defaults_too():
    x = _leaf()
    nd.differentiable(_with_default)(x).backward()
    np.testing.assert_allclose(x.grad, 2 * X3 + 1)
    assert _with_default.__defaults__[0] is np.asarray


def test_zero_gradient_of_a_function_that_fails_on_plain_arrays_is_returned():
    def f(x):
        if not isinstance(x, nd.GradArray):
            raise RuntimeError("needs a GradArray")
        return np.sum(np.maximum(x, 0.0))

    np.testing.assert_array_equal(nd.grad(f)(-np.ones(2)), np.zeros(2))


def test_alias_entries_leave_the_table_when_their_array_dies():
    from ndgrad import _aliases, _core

    w = _leaf()
    y = w * 2.0
    owner = y.base
    assert _core.arrays_over(owner) == [y]
    del y
    assert _core.arrays_over(owner) == []  # at once, not at the next sweep
    v = np.ones(3)
    _aliases.sanctioned(v)
    key = id(v)
    assert key in _aliases._SANCTIONED
    del v
    assert key not in _aliases._SANCTIONED
