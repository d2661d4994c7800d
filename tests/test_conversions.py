"""Issue 11: unmodified code keeps its graph through conversions, or ndgrad says where it broke.

Each reproducer of the issue is a regression test here; gradients are checked against central
finite differences or closed forms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.optimize
import scipy.spatial.distance
import scipy.special
import scipy.stats

import ndgrad as nd

RNG = np.random.default_rng(11)


def _layouts():
    base = RNG.standard_normal((4, 3, 5))
    return {
        "c": base[0].copy(),
        "fortran": np.asfortranarray(base[0]),
        "transposed": base.transpose(2, 0, 1),
        "strided": base[0][:, ::2],
        "reversed": base[0][::-1],
    }


@pytest.mark.parametrize("order", ["C", "F", "A", "K"])
@pytest.mark.parametrize("layout", list(_layouts()))
def test_ravel_gradient_follows_the_order_ravel_read(layout, order):
    x = nd.GradArray(_layouts()[layout], requires_grad=True)
    w = RNG.standard_normal(x.size)
    np.sum(np.ravel(x, order=order) * w).backward()
    # x.grad[i] is the weight at the position where ravel put x[i]: find it by value.
    read = np.ravel(x.values, order=order)
    position = {v: k for k, v in enumerate(read)}
    expected = np.vectorize(lambda v: w[position[v]])(x.values)
    np.testing.assert_array_equal(x.grad, expected)


@pytest.mark.parametrize("order", ["C", "F", "A"])
@pytest.mark.parametrize("layout", ["c", "fortran", "strided"])
def test_reshape_gradient_follows_its_order(layout, order):
    x = nd.GradArray(_layouts()[layout], requires_grad=True)
    w = RNG.standard_normal(x.size)
    np.sum(np.reshape(x, (-1,), order=order) * w).backward()
    read = np.reshape(x.values, (-1,), order=order)
    position = {v: k for k, v in enumerate(read)}
    np.testing.assert_array_equal(x.grad, np.vectorize(lambda v: w[position[v]])(x.values))


# --- the reproducers of issue 11 ----------------------------------------------------------------

X4 = np.array([0.3, -1.2, 0.8, 2.1])


def numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def test_logsumexp_unmodified_matches_softmax():
    g = nd.grad(scipy.special.logsumexp)(X4)
    np.testing.assert_allclose(g, np.exp(X4) / np.sum(np.exp(X4)), rtol=1e-12)


def test_norm_logpdf_added_to_other_terms_gets_its_gradient():
    f = lambda x: np.sum(scipy.stats.norm.logpdf(x, 0.3, 1.5)) + np.sum(x**2)
    np.testing.assert_allclose(nd.grad(f)(X4), -(X4 - 0.3) / 1.5**2 + 2 * X4, rtol=1e-12)


def test_rosen_hess_writing_into_a_buffer_keeps_the_graph():
    f = lambda x: np.sum(scipy.optimize.rosen_hess(x) ** 2)
    np.testing.assert_allclose(nd.grad(f)(X4), numeric_grad(f, X4), rtol=1e-6)


def test_unsupported_solver_refuses_instead_of_returning_zeros():
    f = lambda b: scipy.integrate.cubature(lambda x: x[:, 0] * x[:, 1], [0, 0], [1, b[0]]).estimate
    with pytest.raises(nd.NotDifferentiableError, match="cubature"):
        nd.grad(f)(X4)


def test_unsupported_solver_refuses_a_closure_over_an_array_that_requires_grad():
    def f(k):
        return scipy.integrate.cubature(lambda x: np.sum(k) * x[:, 0], [0], [1]).estimate

    with pytest.raises(nd.NotDifferentiableError, match="cubature"):
        nd.grad(f)(X4)


def test_multivariate_normal_through_compiled_eigh_differentiates():
    def f(p):
        cov = np.diag(np.exp(p[2:]))
        return scipy.stats.multivariate_normal.logpdf(p[:2], np.zeros(2), cov)

    np.testing.assert_allclose(nd.grad(f)(X4), numeric_grad(f, X4), rtol=1e-6)


def test_compiled_function_without_rule_is_loud_not_zero():
    with pytest.raises(nd.NotDifferentiableError, match=r"scipy\.linalg\.schur"):
        nd.grad(lambda a: np.sum(scipy.linalg.schur(a.reshape(2, 2))[0]))(X4)


def test_math_sqrt_in_library_code_raises_graph_break_error():
    def cosine(u, v):  # SciPy's cosine did this before it had a rule
        return 1.0 - np.dot(u, v) / math.sqrt(np.dot(u, u) * np.dot(v, v))

    with pytest.raises(nd.GraphBreakError, match=r"float\(x\)"):
        nd.grad(lambda x: cosine(x[:2], x[2:]))(X4)


def test_graph_break_error_is_not_a_type_or_value_error():
    assert not issubclass(nd.GraphBreakError, TypeError | ValueError)


@pytest.mark.parametrize(
    "convert",
    [float, int, complex, math.sqrt, lambda x: x.item(), lambda x: x.tolist(),
     lambda x: range(10)[x.astype(int)]],  # int arrays do not require grad: index is fine
    ids=["float", "int", "complex", "math.sqrt", "item", "tolist", "index-of-int"],
)  # fmt: skip
def test_python_conversions_inside_a_transform(convert):
    def f(x):
        convert(np.abs(x[0]))
        return np.sum(x)

    if (
        convert is not None
        and getattr(convert, "__name__", "") == "<lambda>"
        and "astype" in (convert.__code__.co_names)
    ):
        np.testing.assert_array_equal(nd.grad(f)(np.array([1.0, 2.0])), [1.0, 1.0])
        return
    with pytest.raises(nd.GraphBreakError):
        nd.grad(f)(np.array([1.0, 2.0]))


def test_float_of_the_loss_outside_transforms_is_allowed_for_logging():
    x = nd.GradArray([1.0, 2.0], requires_grad=True)
    loss = np.sum(x**2)
    assert float(loss) == 5.0 and math.sqrt(loss) == math.sqrt(5.0) and loss.item() == 5.0
    with pytest.raises(nd.GraphBreakError, match=r"x\.item\(\)"), nd.tracing():
        loss.item()
    with nd.tracing(), nd.no_grad():
        assert float(loss) == 5.0  # no gradient is being recorded: nothing to lose


def test_sklearn_metric_returning_float_names_the_conversion():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    with pytest.raises(nd.GraphBreakError, match=r"float\(x\)"):
        nd.grad(lambda p: sklearn_metrics.mean_squared_error(np.ones(4), p))(X4)


def test_minimize_does_not_hide_ndgrad_errors():
    import scipy.fft

    def outer(x):
        def fun(p):  # scipy.fft.dct has no rule: refused inside minimize's objective
            return np.sum((p - x) ** 2) + 1e-3 * np.sum(scipy.fft.dct(p - x) ** 2)

        return scipy.optimize.minimize(fun, np.zeros(4)).fun

    with pytest.raises((nd.NotDifferentiableError, nd.GraphBreakError)) as info:
        nd.grad(outer)(X4)
    assert "dct" in str(info.value)


def test_a_swallowed_error_is_raised_when_the_scope_closes():
    def library(x):
        try:
            return float(x[0])
        except Exception:  # a library that falls back on any error
            return 0.0

    with pytest.raises(nd.GraphBreakError, match="caught it and carried on"):
        nd.grad(lambda x: library(x) + np.sum(x))(X4)


def test_a_replaced_error_is_raised_instead_of_the_replacement():
    def library(x):
        try:
            return np.sum(scipy.linalg.schur(np.reshape(x, (2, 2)))[0])
        except TypeError as exc:
            raise ValueError("objective failed") from exc

    with pytest.raises(nd.NotDifferentiableError, match="replaced it with ValueError"):
        nd.grad(library)(X4)


def test_squared_norm_ravel_order_k():
    extmath = pytest.importorskip("sklearn.utils.extmath")
    np.testing.assert_allclose(nd.grad(extmath.squared_norm)(X4), 2 * X4)


def test_clip_with_out_is_recorded():
    def f(x):
        out = np.empty_like(x)
        assert np.clip(x, -1.0, 1.0, out=out) is out
        return np.sum(out * x)

    np.testing.assert_allclose(nd.grad(f)(X4), numeric_grad(f, X4), rtol=1e-7)


def test_out_into_a_plain_ndarray_is_refused():
    x = nd.GradArray(X4, requires_grad=True)
    with pytest.raises(nd.NotDifferentiableError, match="plain ndarray"):
        np.clip(x, -1.0, 1.0, out=np.empty(4))


def test_scope_false_opts_out():
    f = lambda x: np.sum(np.asarray(x) ** 2)
    np.testing.assert_allclose(nd.grad(f)(X4), 2 * X4)
    with pytest.raises(ValueError, match="does not depend"):
        nd.grad(f, scope=False)(X4)


def test_scipy_functions_are_untouched_without_grad_arrays():
    a = np.array([[1.0, 0.5], [0.0, 2.0]])
    np.testing.assert_allclose(scipy.linalg.expm(a), scipy.linalg.expm.__wrapped__(a))
    assert scipy.linalg.expm.__wrapped__.__name__ == "expm"
    x = nd.GradArray(X4, requires_grad=True)
    with nd.no_grad():
        np.testing.assert_allclose(
            scipy.linalg.expm(np.reshape(x, (2, 2))), scipy.linalg.expm(np.reshape(X4, (2, 2)))
        )


def test_a_function_returning_a_python_number_gets_a_graph_break_error():
    # e.g. sklearn.metrics.roc_auc_score: float(...) of a rank statistic (no array requires grad)
    with pytest.raises(nd.GraphBreakError, match=r"returned a Python float"):
        nd.grad(lambda x: float(np.sum(x.detach())))(X4)
    with pytest.raises(nd.GraphBreakError, match=r"returned a Python int"):
        nd.grad(lambda x: 3)(X4)


def test_full_with_a_fill_value_that_carries_a_graph_records_the_fill():
    # sklearn's ConstantKernel: np.full((n, n), self.constant_value)
    def f(c):
        return np.sum(np.full((2, 3), c[0]) * np.arange(6.0).reshape(2, 3)) + np.sum(
            np.full_like(np.ones(3), c[1]) * 2.0
        )

    np.testing.assert_array_equal(nd.grad(f)(np.array([1.0, 2.0])), [15.0, 6.0])


def test_numpy_polynomial_is_traced_like_any_library():
    # numpy.polynomial never dispatches: it converts with np.array(c, ndmin=1)
    import numpy.polynomial as npp

    c = np.array([0.5, -1.0, 0.25])
    expected = [X4.size, np.sum(X4), np.sum(X4**2)]
    for f in (lambda c: npp.polynomial.polyval(X4, c), lambda c: npp.Polynomial(c)(X4)):
        np.testing.assert_allclose(nd.grad(lambda c, f=f: np.sum(f(c)))(c), expected, rtol=1e-12)


def test_lstsq_with_a_list_right_hand_side():
    a = RNG.standard_normal((4, 3))
    b = [1.0, 0.5, -1.0, 2.0]
    f = lambda a: np.sum(np.linalg.lstsq(np.reshape(a, (4, 3)), b)[0])
    np.testing.assert_allclose(nd.grad(f)(a.ravel()), numeric_grad(f, a.ravel()), rtol=1e-6)


def test_scipy_fft_multimethods_differentiate_or_refuse_never_drop_the_graph():
    # scipy.fft's functions are uarray multimethods: pocketfft once stripped the GradArray
    # silently, so only the other term got a gradient. Those NumPy also has get its rules;
    # the others refuse.
    import scipy.fft

    f = lambda x: np.sum(np.abs(scipy.fft.rfft(x))) + np.sum(x)
    np.testing.assert_allclose(nd.grad(f)(X4), numeric_grad(f, X4), rtol=1e-6)
    with pytest.raises(nd.NotDifferentiableError, match=r"scipy\.fft\.dct"):
        nd.grad(lambda x: np.sum(scipy.fft.dct(x)) + np.sum(x))(X4)


def test_asarray_chkfinite_keeps_the_graph_and_still_checks():
    # numpy.lib's asarray_chkfinite never dispatches: its inner asarray stripped the graph
    f = lambda x: np.sum(np.asarray_chkfinite(x) * np.arange(1.0, 5.0)) + np.sum(x)
    np.testing.assert_array_equal(nd.grad(f)(X4), [2.0, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="infs or NaNs"):
        nd.grad(lambda x: np.sum(np.asarray_chkfinite(x * np.inf)))(X4)


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (lambda x: np.sum([x, 2 * x]), lambda x: np.full_like(x, 3.0)),
        (lambda x: np.mean([x, x**2]), lambda x: (1 + 2 * x) / (2 * x.size)),
        (
            lambda x: np.sum(np.transpose([x, x**2])[0]),
            lambda x: np.eye(x.size)[0] * (1 + 2 * x[0]),
        ),
        (lambda x: np.std([x, x + 1.0]), lambda x: numeric_grad(lambda v: np.std([v, v + 1.0]), x)),
        (lambda x: np.dot([x[0], x[1]], [1.0, 2.0]), lambda x: np.array([1.0, 2.0, 0.0])),
    ],
    ids=["sum", "mean", "transpose", "std", "dot"],
)
def test_lists_holding_grad_arrays_are_stacked_inside_the_scope(f, expected):
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(nd.grad(f)(x), expected(x), atol=1e-9)


def test_a_write_into_a_plain_buffer_made_outside_names_the_buffer_and_the_fix():
    # ``buf[0] = x`` makes NumPy call float(x): the error must name such a write and the fix
    buf = np.empty(2)

    def f(x):
        buf[0] = x[0] * x[1]
        buf[1] = x[0]
        return np.sum(buf.copy() ** 2)

    with pytest.raises(nd.GraphBreakError, match=r"plain array made outside the function"):
        nd.grad(f)(np.array([0.5, -1.5]))

    # the fix the message gives (the buffer made inside) works: d/dx of (x0 x1)^2 + x0^2
    def fixed(x):
        inside = np.empty(2)
        inside[0] = x[0] * x[1]
        inside[1] = x[0]
        return np.sum(inside**2)

    g = nd.grad(fixed)(np.array([0.5, -1.5]))
    np.testing.assert_allclose(g, [2 * 0.5 * 1.5**2 + 2 * 0.5, 2 * 0.5**2 * -1.5])


def test_a_list_of_0d_arrays_names_the_list_and_the_fix():
    # NumPy turns each 0-d element of a list into a Python float: the error must say that the
    # user's NumPy call (not a float() of theirs) did it, and how to keep the graph.
    def f(x):
        return np.sum(np.abs([x[0], x[1]]))

    with pytest.raises(nd.GraphBreakError, match=r"list of 0-d arrays.*np\.stack"):
        nd.grad(f)(np.array([0.5, -1.5]))
    # the fix the message gives works, and agrees with the closed form (d|x|/dx = sign x)
    g = nd.grad(lambda x: np.sum(np.abs(np.stack([x[0], x[1]]))))(np.array([0.5, -1.5]))
    np.testing.assert_allclose(g, [1.0, -1.0])
