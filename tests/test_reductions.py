"""Behaviour of the reduction, statistics and product rules beyond finite differences.

Shapes with keepdims, errors on empty axes, how ties and zeros are handled, NaN entries of the
``nan*`` functions, dtypes, and the patterns (logsumexp) that combine these rules.
"""

from __future__ import annotations

import re
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndgrad as nd
from ndgrad.testing import check_grad


def _grad(f, x):
    return nd.grad(lambda x: np.sum(f(x)))(np.asarray(x, dtype=float))


# --- shapes and errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.max(x, axis=1, keepdims=True),
        lambda x: np.var(x, axis=0, keepdims=True),
        lambda x: np.prod(x, axis=(0, 2), keepdims=True),
        lambda x: np.quantile(x, [0.2, 0.8], axis=1, keepdims=True),
        lambda x: np.nanstd(x, axis=-1, keepdims=True),
        lambda x: np.ptp(x, axis=2, keepdims=True),
    ],
)
def test_keepdims_results_and_gradients_keep_shapes(f):
    x = nd.GradArray(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=True)
    y = f(x)
    assert y.shape == f(np.asarray(x.values)).shape
    np.sum(y * 1.5).backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("f", [np.max, np.min, np.ptp])
def test_extremum_of_empty_axis_raises_like_numpy(f):
    x = nd.GradArray(np.zeros((0, 3)), requires_grad=True)
    with pytest.raises(ValueError):
        f(x, axis=0)


def test_median_of_empty_array_warns_like_numpy():
    x = nd.GradArray(np.zeros(0), requires_grad=True)
    with pytest.raises(RuntimeWarning):  # warnings are errors in this suite
        np.median(x)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sum(x, axis=0), lambda x: np.prod(x, axis=0), lambda x: np.cumsum(x, axis=0),
        lambda x: np.cumprod(x, axis=1), lambda x: np.dot(x.T, x),
        lambda x: np.einsum("ij,ij->", x, x), lambda x: np.diff(x, axis=1),
        lambda x: np.max(x, axis=0, initial=0.0), lambda x: np.tensordot(x, x, axes=([0], [0])),
    ],
)  # fmt: skip
def test_empty_arrays_get_empty_gradients(f):
    g = nd.grad(lambda x: np.sum(f(x)))(np.zeros((0, 3)))
    assert g.shape == (0, 3)


# --- ties, kinks and zeros --------------------------------------------------------------------


def test_max_ties_split_the_gradient_evenly():
    np.testing.assert_allclose(_grad(np.max, [1.0, 3.0, 3.0]), [0.0, 0.5, 0.5])
    np.testing.assert_allclose(_grad(lambda x: np.min(x, axis=0), [[1.0, 2.0], [1.0, 0.0]]),
                               [[0.5, 0.0], [0.5, 1.0]])  # fmt: skip


def test_median_ties_split_the_gradient_evenly():
    np.testing.assert_allclose(_grad(np.median, [1.0, 2.0, 2.0, 5.0]), [0, 0.5, 0.5, 0])
    # an even count averages the two middle values
    np.testing.assert_allclose(_grad(np.median, [1.0, 4.0, 2.0, 3.0]), [0, 0, 0.5, 0.5])
    # three-way tie at the median of an odd count: a third each
    np.testing.assert_allclose(_grad(np.median, [2.0, 2.0, 2.0]), [1 / 3] * 3)


def test_quantile_weights_follow_linear_interpolation():
    # q = 0.3 of 5 sorted values: index 1.2 -> 0.8 * x(1) + 0.2 * x(2)
    x = [5.0, 1.0, 4.0, 2.0, 3.0]
    np.testing.assert_allclose(_grad(lambda x: np.quantile(x, 0.3), x), [0, 0, 0, 0.8, 0.2])
    np.testing.assert_allclose(_grad(lambda x: np.percentile(x, 30.0), x), [0, 0, 0, 0.8, 0.2])


def test_ptp_sends_plus_to_the_maximum_and_minus_to_the_minimum():
    np.testing.assert_allclose(_grad(np.ptp, [3.0, -1.0, 3.0, 0.5]), [0.5, -1.0, 0.5, 0.0])


def test_prod_gradient_is_exact_at_zeros():
    np.testing.assert_allclose(_grad(np.prod, [0.0, 2.0, 3.0]), [6.0, 0.0, 0.0])
    np.testing.assert_allclose(_grad(np.prod, [0.0, 0.0, 3.0]), [0.0, 0.0, 0.0])
    # the Hessian is exact too: d2 prod / dx0 dx1 = x2 even though both are zero
    hessian = nd.hessian(np.prod)(np.array([0.0, 0.0, 3.0]))
    np.testing.assert_allclose(hessian, [[0, 3, 0], [3, 0, 0], [0, 0, 0]])


def test_cumprod_gradient_is_exact_at_zeros():
    # x0 + x0 x1 + x0 x1 x2 at (2, 0, 3): d/dx = (1 + x1 + x1 x2, x0 + x0 x2, x0 x1)
    np.testing.assert_allclose(_grad(np.cumprod, [2.0, 0.0, 3.0]), [1.0, 8.0, 0.0])
    np.testing.assert_allclose(_grad(np.multiply.accumulate, [2.0, 0.0, 3.0]), [1.0, 8.0, 0.0])


def test_max_result_patched_in_place_still_differentiates():
    # SciPy's log_softmax patches the max in place (m[~isfinite(m)] = 0) before using it
    def f(x):
        m = np.max(x, axis=-1, keepdims=True)
        m[~np.isfinite(m)] = 0
        return np.sum(np.exp(x - m))

    x = np.array([[0.5, 1.0], [2.0, -1.0]])
    check_grad(f, x, order=2)


def test_std_of_constant_data_has_zero_gradient():
    np.testing.assert_array_equal(_grad(np.std, [2.0, 2.0, 2.0]), [0.0, 0.0, 0.0])


def test_var_of_complex_data_follows_the_real_imaginary_convention():
    z = np.array([1 + 2j, -1j, 0.5 + 0j])
    expected = 2 * (z - z.mean()) / 3  # dL/dRe + 1j dL/dIm of mean(|z - mean|^2)
    np.testing.assert_allclose(nd.grad(np.var)(z), expected)


def test_average_returned_sum_of_weights_has_a_gradient():
    x, w = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0])

    def f(w):
        avg, total = np.average(x, weights=w, returned=True)
        return avg + total

    expected = (x - np.average(x, weights=w)) / w.sum() + 1
    np.testing.assert_allclose(nd.grad(f)(w), expected)


# --- NaN entries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f",
    [
        np.nansum, np.nanprod, np.nanmean, np.nanvar, np.nanstd, np.nanmax, np.nanmin,
        np.nanmedian, np.nancumsum, np.nancumprod,
        lambda x: np.nanquantile(x, 0.3), lambda x: np.nanpercentile(x, [20.0, 70.0]),
    ],
)  # fmt: skip
def test_nan_entries_get_zero_gradient(f):
    x = np.array([0.5, np.nan, -1.2, 2.0])
    g = _grad(f, x)
    assert g[1] == 0.0
    assert np.all(np.isfinite(g))
    check_grad(f, x, order=2)


# --- dtypes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f",
    [
        np.prod, np.var, np.std, np.max, np.median, np.cumsum, np.cumprod, np.diff,
        lambda x: np.quantile(x, 0.4), lambda x: np.average(x, weights=x),
        lambda x: np.dot(x, x), lambda x: np.einsum("i,i->", x, x), lambda x: np.outer(x, x),
        lambda x: np.convolve(x, x), lambda x: np.cov(x), lambda x: np.polyval(x, x),
        lambda x: np.interp(x, [0.0, 1.0], [1.0, 3.0]), lambda x: np.gradient(x),
    ],
)  # fmt: skip
def test_float32_gradients_stay_float32(f):
    x = nd.GradArray(np.array([0.3, 0.7, 0.2, 0.9], dtype=np.float32), requires_grad=True)
    np.sum(f(x)).backward()
    assert x.grad.dtype == np.float32


# --- patterns ---------------------------------------------------------------------------------


def _logsumexp(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def test_logsumexp_pattern_gradient_is_softmax():
    x = np.array([[1000.0, 1001.0, 999.0], [-3.0, 0.5, 2.0]])  # large: the max keeps it finite
    g = nd.grad(lambda x: np.sum(_logsumexp(x, axis=1)))(x)
    softmax = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(g, softmax / softmax.sum(axis=1, keepdims=True))
    check_grad(lambda x: _logsumexp(x, axis=1), x[1:] * np.ones((2, 1)), order=2)
    check_grad(lambda x: _logsumexp(x), np.array([0.3, -1.2, 0.8]), order=2)


def test_log_softmax_pattern_matches_finite_differences():
    def log_softmax(x):
        m = np.max(x, axis=-1, keepdims=True)
        return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))

    check_grad(log_softmax, np.random.default_rng(1).standard_normal((2, 3)), order=2)


def test_standardize_pattern_matches_finite_differences():
    def standardize(x):
        return (x - np.mean(x, axis=0)) / np.std(x, axis=0, ddof=1)

    check_grad(standardize, np.random.default_rng(2).standard_normal((4, 2)), order=2)


# --- arguments without a gradient refuse, never drop it ---------------------------------------


def test_quantile_gradient_in_q_is_the_gap_times_the_index_slope():
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0])  # linear: virtual index q * (n - 1)
    g = nd.grad(lambda q: np.quantile(x, q))(0.3)
    np.testing.assert_allclose(g, (3.0 - 2.0) * 4)
    g = nd.grad(lambda q: np.percentile(x, q, method="weibull"))(30.0)  # index q * (n + 1) - 1
    np.testing.assert_allclose(g, (2.0 - 1.0) * 6 / 100)
    assert nd.grad(lambda q: np.quantile(x, q, method="nearest"))(0.3) == 0.0


def test_median_with_overwrite_input_refuses():
    x = nd.GradArray(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    y = np.median(x, overwrite_input=True)
    with pytest.raises(nd.NotDifferentiableError, match="overwrite_input"):
        y.backward()


def test_einsum_with_three_operands():
    rng = np.random.default_rng(7)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    check_grad(lambda a, b, c: np.einsum("ij,jk,k->i", a, b, c), a, b, c, order=2)
    check_grad(lambda a, b, c: np.einsum("ij,jk,k", a, b, c, optimize=True), a, b, c, order=2)


def test_quantile_accepts_a_list_of_q():
    # regression: a list read only for its shape used to be taken for a dtype spec
    g = nd.grad(lambda x: np.sum(np.quantile(x, [0.0, 1.0])))(np.array([2.0, 1.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 1.0, 1.0])


def test_interp_period_itself_is_not_differentiable():
    # NumPy dispatches interp on x, xp and fp only: one of them must be a GradArray
    period = nd.GradArray(np.array(3.0), requires_grad=True)
    fp = nd.GradArray(np.array([0.0, 1.0, 0.0]), requires_grad=True)
    y = np.interp(np.array([0.5]), np.array([0.0, 1.0, 2.0]), fp, None, None, period)
    with pytest.raises(nd.NotDifferentiableError, match="period"):
        np.sum(y).backward()


def test_interp_with_period_wraps_the_knots():
    # x = 350 lies between the knots 300 and 10 (= 370): fp[2] gets 2/7, fp[0] 5/7
    xp, fp = np.array([10.0, 100.0, 300.0]), np.array([1.0, 2.0, 3.0])
    g = nd.grad(lambda fp: np.interp(350.0, xp, fp, period=360.0))(fp)
    np.testing.assert_allclose(g, [5 / 7, 0.0, 2 / 7])


def test_cov_aweights_by_keyword_get_a_gradient():
    m = np.array([[0.5, 1.0, -2.0], [1.0, 0.0, 3.0]])
    aw = np.array([1.0, 2.0, 1.5])
    check_grad(lambda aw: np.cov(m, aweights=aw), aw, order=2)
    # uniform weights leave the covariance unchanged: its gradient is orthogonal to them
    g = nd.grad(lambda w: np.sum(np.cov(m, aweights=w)))(np.ones(3))
    np.testing.assert_allclose(np.sum(g), 0.0, atol=1e-12)


def test_gradient_wrt_coordinates_matches_numpy_differences():
    # with f fixed, moving a coordinate changes the stencil weights of its neighbours;
    # compare with central differences of NumPy's own np.gradient
    f, x = np.array([0.0, 1.0, 4.5, 2.0]), np.array([0.0, 0.8, 2.0, 2.5])
    g = nd.grad(lambda x: np.gradient(f, x)[1])(x)
    eps = 1e-6
    numeric = [
        (np.gradient(f, x + eps * e)[1] - np.gradient(f, x - eps * e)[1]) / (2 * eps)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


def test_gradient_of_plain_data_wrt_a_scalar_spacing():
    # np.gradient(f, h) = stencil(f) / h: d/dh sum = -sum(out) / h
    f = np.array([1.0, 2.0, 5.0, 3.0])
    g = nd.grad(lambda h: np.sum(np.gradient(f, h)))(0.5)
    np.testing.assert_allclose(g, -np.sum(np.gradient(f, 0.5)) / 0.5)


def test_einsum_with_sublist_subscripts():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    check_grad(lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), a, b, order=2)
    check_grad(lambda a: np.einsum(a, [0, 1]), a, order=2)
    check_grad(lambda a: np.einsum(a, [Ellipsis, 1], [Ellipsis]), a, order=2)


# --- traced functions and wrappers ------------------------------------------------------------


def test_trapezoid_is_traced_in_both_y_and_x():
    rng = np.random.default_rng(3)
    y, x = rng.standard_normal((2, 4)), np.sort(rng.standard_normal(4))
    check_grad(lambda y, x: np.trapezoid(y, x), y, x, order=2)
    check_grad(lambda y: np.trapezoid(y, dx=0.3, axis=0), y, order=2)
    # plain y, traced x: the graph goes through diff(x), not through a plain buffer
    g = nd.grad(lambda x: np.trapezoid(np.array([1.0, 3.0, 2.0]), x))(np.array([0.0, 1.0, 3.0]))
    np.testing.assert_allclose(g, [-2.0, -0.5, 2.5])


def test_cross_of_2_vectors_matches_finite_differences():
    rng = np.random.default_rng(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 2-vectors are deprecated
        try:
            np.cross(np.ones(2), np.ones(2))
        except ValueError as refused:  # NumPy 2.5 removed them: refused as NumPy refuses
            with pytest.raises(ValueError, match=re.escape(str(refused))):
                np.cross(nd.GradArray(np.ones(2), requires_grad=True), np.ones(2))
            return
        for a, b in [((2,), (2,)), ((4, 2), (2,)), ((2,), (3,)), ((3,), (2,))]:
            check_grad(np.cross, rng.standard_normal(a), rng.standard_normal(b), order=2)


@pytest.mark.parametrize(
    ("f", "shapes"),
    [
        (np.linalg.cross, [(2, 3), (3,)]),
        (np.linalg.outer, [(3,), (2,)]),
        (lambda a, b: np.linalg.tensordot(a, b, axes=1), [(2, 3), (3, 2)]),
        (np.linalg.trace, [(2, 3, 3)]),
        (np.linalg.vecdot, [(2, 3), (3,)]),
        (np.linalg.matmul, [(2, 3), (3, 2)]),
        (np.linalg.diagonal, [(2, 3, 3)]),
        (np.linalg.matrix_transpose, [(2, 3)]),
    ],
)
def test_linalg_array_api_wrappers_are_traced(f, shapes):
    rng = np.random.default_rng(5)
    check_grad(f, *[rng.standard_normal(s) for s in shapes], order=2)


def test_einsum_with_a_repeated_operand_accumulates():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(nd.grad(lambda x: np.einsum("i,i->", x, x))(x), 2 * x)
    a = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(nd.grad(lambda a: np.einsum("ii", a))(a), np.eye(3))


# --- random shapes and axes -------------------------------------------------------------------

_REDUCTIONS = {
    "sum": np.sum,
    "prod": np.prod,
    "mean": np.mean,
    "var": np.var,
    "std": np.std,
    "max": np.max,
    "min": np.min,
    "ptp": np.ptp,
    "median": np.median,
    "quantile": lambda x, **kw: np.quantile(x, 0.37, **kw),
    "nanmean": np.nanmean,
    "nanvar": np.nanvar,
}


@st.composite
def _reduction_calls(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axes = draw(st.one_of(st.none(), st.lists(st.integers(0, len(shape) - 1), min_size=1,
                                              max_size=len(shape), unique=True)))  # fmt: skip
    axis = None if axes is None else tuple(axes) if len(axes) > 1 else axes[0]
    name = draw(st.sampled_from(sorted(_REDUCTIONS)))
    keepdims = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return name, np.random.default_rng(seed).standard_normal(shape), axis, keepdims


@given(_reduction_calls())
def test_reductions_over_random_shapes_and_axes(call):
    name, x, axis, keepdims = call
    f = _REDUCTIONS[name]
    check_grad(lambda x: f(x, axis=axis, keepdims=keepdims), x, order=2)


@st.composite
def _einsum_calls(draw):
    """Two operands with random labels from a small alphabet; sizes fixed per label."""
    sizes = {c: draw(st.integers(1, 3)) for c in "ijkl"}
    terms = [draw(st.lists(st.sampled_from("ijkl"), min_size=0, max_size=3)) for _ in range(2)]
    used = sorted(set(terms[0]) | set(terms[1]))
    out = draw(st.lists(st.sampled_from(used), unique=True)) if used else []
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    ops = [rng.standard_normal([sizes[c] for c in t]) for t in terms]
    return f"{''.join(terms[0])},{''.join(terms[1])}->{''.join(out)}", ops


@given(_einsum_calls())
def test_einsum_with_random_subscripts(call):
    subscripts, ops = call
    check_grad(lambda a, b: np.einsum(subscripts, a, b), *ops, order=2)


_RUNNING = {
    "cumsum": np.cumsum,
    "cumprod": np.cumprod,
    "nancumsum": np.nancumsum,
    "nancumprod": np.nancumprod,
    "cumulative_sum": lambda x, axis: np.cumulative_sum(x, axis=axis, include_initial=True),
    "cumulative_prod": lambda x, axis: np.cumulative_prod(x, axis=axis),
    "diff": lambda x, axis: np.diff(x, axis=axis, prepend=0.5),
    "gradient": lambda x, axis: np.gradient(x, 0.5, axis=axis) if x.shape[axis] > 1 else x,
}


@given(
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    st.sampled_from(sorted(_RUNNING)),
    st.integers(0, 2**16),
    st.data(),
)
def test_running_reductions_over_random_axes_with_zeros(shape, name, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * (rng.random(shape) > 0.3)  # about a third exact zeros
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    check_grad(lambda x: _RUNNING[name](x, axis=axis), x, order=2)


@given(
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3),
    st.integers(0, 2**16),
)
def test_dot_and_inner_over_random_shapes(shape_a, shape_b, seed):
    rng = np.random.default_rng(seed)
    # make the summed axes agree: a's last with b's second-to-last (dot) or last (inner)
    if shape_a and shape_b:
        shape_b = (*shape_b[:-2], shape_a[-1], shape_b[-1]) if len(shape_b) > 1 else shape_a[-1:]
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    check_grad(np.dot, a, b, order=2)
    b_inner = np.swapaxes(b, -1, -2) if np.ndim(b) > 1 else b
    check_grad(np.inner, a, b_inner, order=2)


# --- var/std with a mean that requires grad -----------------------------------------------------

_A = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
_M = np.array([[2.1], [0.4]])


@pytest.mark.parametrize("f", [np.var, np.std])
@pytest.mark.parametrize(
    "kw", [{}, {"ddof": 1}, {"correction": 1}, {"where": np.array([[1, 0, 1], [1, 1, 1]], bool)}]
)
def test_var_and_std_differentiate_in_a_given_mean(f, kw):
    """``mean=m`` is a keyword-only argument: a GradArray there used to raise."""
    check_grad(lambda a, m: f(a, axis=1, mean=m, **kw), _A, _M, order=2)
    got = f(_A, axis=1, keepdims=True, mean=nd.GradArray(_M, requires_grad=True), **kw)
    assert np.array_equal(got.view(np.ndarray), f(_A, axis=1, keepdims=True, mean=_M, **kw))


def test_var_gradient_in_mean_has_its_closed_form():
    a = np.array([1.0, 2.0, 4.0])
    g = nd.grad(lambda m: np.var(a, mean=m))(np.array(0.5))
    assert g == pytest.approx(-2 * np.sum(a - 0.5) / 3)
    z = np.array([1 + 1j, 2 - 1j, 0.5j])
    check_grad(lambda z, m: np.var(z, mean=m), z, np.array(0.3 + 0.2j), order=2)


# Small cotangents of sum and mean are spread into new arrays, large ones as broadcast views
# (_rules/reductions._SPREAD_COPY_MAX): both sizes, every axis form, against closed forms.
@pytest.mark.parametrize("shape", [(3, 4), (70, 80)], ids=["small", "large"])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_and_mean_gradients_at_both_sizes(shape, axis, keepdims, dtype):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    w = np.random.default_rng(1).standard_normal(np.sum(a, axis=axis, keepdims=keepdims).shape)
    w = w.astype(dtype)
    count = a.size // np.sum(a, axis=axis, keepdims=keepdims).size
    for f, scale in ((np.sum, 1), (np.mean, count)):
        g = nd.grad(lambda x, f=f: np.sum(f(x, axis=axis, keepdims=keepdims) * w))(a)
        want = np.broadcast_to(w if keepdims or axis is None else np.expand_dims(w, axis), shape)
        assert g.dtype == dtype and g.shape == shape
        np.testing.assert_allclose(g, want / scale, rtol=1e-6)
        g[...] = 0  # the caller owns the gradient: writable, and shared with nothing
    check_grad(lambda x: np.mean(np.sin(x), axis=axis, keepdims=keepdims), a.astype(float))
