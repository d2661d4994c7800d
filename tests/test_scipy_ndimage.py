"""scipy.ndimage rules: exact transposes at every boundary, tie and zero conventions, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

import ndgrad as nd
from ndgrad import GradArray, NotDifferentiableError
from ndgrad.testing import check_grad

MODES = ["reflect", "grid-mirror", "mirror", "nearest", "wrap", "grid-wrap", "constant"]


def _matrix(f, n):
    """The matrix of the affine map ``f`` on vectors of length ``n``, probed by SciPy itself."""
    return np.stack([f(e) - f(np.zeros(n)) for e in np.eye(n)], axis=1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_gaussian_filter_jacobian_is_the_filter_matrix_at_every_boundary(mode, n):
    def f(x):
        return ndi.gaussian_filter1d(x, 1.5, mode=mode, cval=0.0)

    expected = _matrix(f, n)  # kernel radius 6: wider than the input, extensions repeat
    assert np.allclose(nd.jacobian(f)(np.zeros(n)), expected, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_correlate1d_with_origin_and_even_kernel_is_transposed_exactly(mode):
    w = np.array([0.5, -1.0, 2.0, 0.25])

    def f(x):
        return ndi.correlate1d(x, w, mode=mode, origin=-2)

    assert np.allclose(nd.jacobian(f)(np.zeros(5)), _matrix(f, 5), atol=1e-12)


def test_gaussian_filter_wrap_conserves_mass():
    x = np.random.default_rng(0).standard_normal((6, 5))
    g = nd.grad(lambda x: np.sum(ndi.gaussian_filter(x, 1.2, mode="wrap")))(x)
    assert np.allclose(g, 1.0)


def test_maximum_filter_tie_sends_the_cotangent_to_the_first_window_element():
    g = nd.grad(lambda x: np.sum(ndi.maximum_filter(x, size=3, mode="nearest")))(np.ones(4))
    # Windows (in footprint order) of outputs 0..3 start at samples 0, 0, 1, 2 (nearest edge).
    assert np.array_equal(g, [2.0, 1.0, 1.0, 0.0])


def test_median_filter_gradient_is_one_hot_per_output():
    x = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0])
    jac = nd.jacobian(lambda x: ndi.median_filter(x, size=3))(x)
    y = ndi.median_filter(x, size=3)
    assert np.array_equal(jac.sum(axis=1), np.ones(7))
    assert np.array_equal(jac @ x, y)


def test_gaussian_gradient_magnitude_is_zero_gradient_on_a_flat_image():
    g = nd.grad(lambda x: np.sum(ndi.gaussian_gradient_magnitude(x, 1.0)))(np.ones((4, 4)))
    assert np.array_equal(g, np.zeros((4, 4)))


def test_prewitt_and_sobel_accept_per_axis_modes():
    x = np.random.default_rng(1).standard_normal((4, 5))
    for f in (ndi.sobel, ndi.prewitt):
        check_grad(lambda x, f=f: f(x, axis=0, mode=["wrap", "constant"]), x, order=2)


def test_output_array_is_refused_with_the_function_named():
    x = GradArray(np.ones(5), requires_grad=True)
    y = ndi.gaussian_filter(x, 1.0, output=np.zeros(5))
    with pytest.raises(NotDifferentiableError, match=r"gaussian_filter .*output="):
        np.sum(y).backward()


def test_output_dtype_is_allowed():
    g = nd.grad(lambda x: np.sum(ndi.uniform_filter(x, 3, output=np.float64)))(np.ones(5))
    assert g.shape == (5,)


def test_complex_weights_are_refused():
    x = GradArray(np.ones(5), requires_grad=True)
    y = ndi.correlate1d(x, np.array([1.0, 1j]))
    with pytest.raises(NotDifferentiableError, match="complex weights"):
        np.sum(np.abs(y)).backward()


def test_deconvolution_by_gradient_descent_recovers_the_image():
    rng = np.random.default_rng(2)
    image = ndi.uniform_filter(rng.uniform(size=(16, 16)), 3, mode="wrap")
    blurred = ndi.gaussian_filter(image, 1.0, mode="wrap")

    def loss(x):
        return np.sum((ndi.gaussian_filter(x, 1.0, mode="wrap") - blurred) ** 2)

    x = blurred.copy()
    step = nd.grad(loss)
    start = np.linalg.norm(x - image)
    for _ in range(300):
        x = x - 0.9 * step(x)
    assert np.linalg.norm(x - image) < start / 1.5


INTERPOLATION_MODES = ["nearest", "reflect", "mirror", "grid-wrap", "grid-constant", "constant"]


@pytest.mark.parametrize("mode", INTERPOLATION_MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_map_coordinates_jacobian_matches_scipy_at_ties_and_far_outside(mode, order):
    for n in (1, 2, 5):
        c = np.arange(-3 * n, 4 * n)[None] / 2.0  # every half-integer: rounding ties of order 0

        def f(x, c=c):
            return ndi.map_coordinates(x, c, order=order, mode=mode, cval=0.5)

        assert np.allclose(nd.jacobian(f)(np.zeros(n)), _matrix(f, n)), n


@pytest.mark.parametrize("mode", INTERPOLATION_MODES)
def test_shift_and_zoom_by_halves_at_order_0_pick_scipys_sample(mode):
    for f in (
        lambda x: ndi.shift(x, 0.5, order=0, mode=mode),
        lambda x: ndi.shift(x, -2.5, order=0, mode=mode),
        lambda x: ndi.zoom(x, 2.0, order=0, mode=mode, grid_mode=mode.startswith("grid")),
        lambda x: ndi.zoom(x, 1.6, order=1, mode=mode),
    ):
        assert np.allclose(nd.jacobian(f)(np.zeros(5)), _matrix(f, 5))


@pytest.mark.parametrize("order", [0, 1, 3])
def test_map_coordinates_takes_the_coordinates_as_a_nested_list(order):
    # SciPy reads any array-like; the rules indexed a list of lists as if it were an array
    # (a TypeError in backward)
    points = [[0.5, 1.2, 1.7], [0.3, 2.1, 2.6]]
    x = np.random.default_rng(3).standard_normal((3, 4))
    check_grad(lambda x: ndi.map_coordinates(x, points, order=order) ** 2, x)
    t = np.ones_like(x)
    _, tangent = nd.jvp(lambda x: np.sum(ndi.map_coordinates(x, points, order=order)), (x,), (t,))
    assert np.isclose(tangent, np.sum(ndi.map_coordinates(t, points, order=order, cval=0.0)))


def test_map_coordinates_rows_of_coordinates_that_require_grad():
    x = np.random.default_rng(4).standard_normal((3, 4))
    rows = (np.array([0.5, 1.2, 1.7]), np.array([0.3, 2.1, 2.6]))

    def f(x, r0, r1):
        return ndi.map_coordinates(x, [r0, r1], order=1) ** 2

    check_grad(f, x, *rows, order=2, eps=1e-5)


def test_map_coordinates_gradient_in_the_coordinates_is_the_slope():
    x = np.array([0.0, 1.0, 4.0, 9.0])
    g = nd.grad(lambda c: np.sum(ndi.map_coordinates(x, c, order=1)))(np.array([[0.5, 2.25]]))
    assert np.array_equal(g, [[1.0, 5.0]])


# --- spline orders 2 to 5 ----------------------------------------------------------------------

EXACT_PREFILTER = ["mirror", "constant", "grid-constant", "grid-wrap"]
APPROXIMATE_PREFILTER = ["nearest", "reflect", "grid-mirror"]


@pytest.mark.parametrize(
    "mode, prefilter",
    [(m, True) for m in EXACT_PREFILTER + APPROXIMATE_PREFILTER]
    + [(m, False) for m in INTERPOLATION_MODES],
)
@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_spline_jacobian_matches_scipy_at_knots_and_far_outside(mode, prefilter, order):
    for n in (1, 2, 6):
        c = np.arange(-3 * n, 4 * n)[None] / 2.0 + 0.01 * (order % 2)  # the knots, and beyond

        def f(x, c=c):
            return ndi.map_coordinates(x, c, order=order, mode=mode, cval=0.5, prefilter=prefilter)

        np.testing.assert_allclose(nd.jacobian(f)(np.zeros(n)), _matrix(f, n), atol=1e-12)


@pytest.mark.parametrize("order", [2, 3, 5])
def test_spline_transforms_of_an_image_pass_the_dot_product_test(order):
    """<u, A v> = <A.T u, v> for the whole map (prefilter, padding, evaluation), 24 x 20 pixels."""
    rng = np.random.default_rng(order)
    v = rng.standard_normal((24, 20))
    for f in (
        lambda x: ndi.rotate(x, 23.0, order=order, mode="constant"),
        lambda x: ndi.zoom(x, (0.7, 1.3), order=order, mode="grid-constant", grid_mode=True),
        lambda x: ndi.shift(x, (2.3, -7.6), order=order, mode="grid-wrap"),
        lambda x: ndi.affine_transform(x, [[1.1, 0.3], [-0.2, 0.8]], 1.5, order=order),
        lambda x: ndi.spline_filter(x, order, mode="mirror"),
    ):
        u = rng.standard_normal(np.shape(f(v)))
        _, vjp = nd.vjp(f, v)
        np.testing.assert_allclose(np.sum(u * f(v)), np.sum(vjp(u)[0] * v), rtol=1e-10)


@pytest.mark.parametrize("mode", [*APPROXIMATE_PREFILTER, "wrap"])
def test_spline_prefilter_with_approximate_initial_values_passes_the_dot_product_test(mode):
    """SciPy starts these prefilters from approximate initial values: the transpose is the
    explicit matrix's (SciPy's own filter applied to the identity), padding included."""
    rng = np.random.default_rng(7)
    v = rng.standard_normal((9, 7))
    maps = [
        lambda x: ndi.spline_filter(x, 4, mode=mode),
        lambda x: ndi.spline_filter1d(x, 5, axis=0, mode=mode),
    ]
    if mode != "wrap":  # the interpolators take 'grid-wrap' instead
        maps += [
            lambda x: ndi.shift(x, (2.3, -1.6), order=3, mode=mode),
            lambda x: ndi.zoom(x, 1.4, order=2, mode=mode),
        ]
    for f in maps:
        u = rng.standard_normal(np.shape(f(v)))
        _, vjp = nd.vjp(f, v)
        np.testing.assert_allclose(np.sum(u * f(v)), np.sum(vjp(u)[0] * v), rtol=1e-10)


@pytest.mark.parametrize("mode", APPROXIMATE_PREFILTER)
def test_spline_coordinates_gradient_with_approximate_prefilters_matches_finite_differences(mode):
    x = np.random.default_rng(8).standard_normal(8)
    c0 = np.array([[0.3, 2.7, 6.9, -1.2, 8.4]])

    def f(c):
        return np.sum(ndi.map_coordinates(x, c, order=3, mode=mode) ** 2)

    check_grad(f, c0, order=2)


def test_spline_on_prefiltered_coefficients_equals_the_prefiltered_call():
    """prefilter=False on spline_filter's output is the same map, and so the same gradient."""
    x = np.random.default_rng(3).standard_normal((5, 6))
    c = np.array([[0.3, 2.7, 4.4], [5.2, 1.9, -0.6]])

    def direct(x):
        return np.sum(ndi.map_coordinates(x, c, order=3, mode="mirror") ** 2)

    def split(x):
        coefficients = ndi.spline_filter(x, 3, mode="mirror")
        return np.sum(
            ndi.map_coordinates(coefficients, c, order=3, mode="mirror", prefilter=False) ** 2
        )

    np.testing.assert_allclose(nd.grad(direct)(x), nd.grad(split)(x), rtol=1e-10)


def test_registering_a_shifted_image_recovers_the_shift():
    """Real use: fit a subpixel shift by gradient descent through a cubic-spline shift."""
    y, x = np.mgrid[0:16, 0:16]
    image = np.exp(-((y - 7.0) ** 2 + (x - 8.0) ** 2) / 8.0)
    target = ndi.shift(image, (1.3, -0.8), order=3, mode="grid-constant")

    def loss(s):
        return np.sum((ndi.shift(image, s, order=3, mode="grid-constant") - target) ** 2)

    s = np.zeros(2)
    for _ in range(60):
        s = s - 0.5 * nd.grad(loss)(s)
    np.testing.assert_allclose(s, [1.3, -0.8], atol=1e-3)


def test_geometric_transform_jacobian_is_scipys_matrix():
    def f(x):
        return ndi.geometric_transform(x, lambda o: (o[0] * 0.8 + 0.3,), order=3, mode="mirror")

    np.testing.assert_allclose(nd.jacobian(f)(np.zeros(6)), _matrix(f, 6), atol=1e-12)


def test_geometric_transform_mapping_closing_over_a_parameter_is_refused():
    """No gradient flows through the mapping: a closure over a graph array must not be cut."""
    x = np.ones((3, 3))
    with pytest.raises(NotDifferentiableError, match="geometric_transform"):
        nd.grad(lambda k: np.sum(ndi.geometric_transform(x, lambda o: (o[0] - k, o[1]))))(0.5)


def test_sigma_that_requires_grad_is_refused_not_zero():
    x = np.ones(5)
    with pytest.raises(NotDifferentiableError, match="sigma"):
        nd.grad(lambda s: np.sum(ndi.gaussian_filter(x * s, s)))(1.0)


def test_map_coordinates_takes_its_input_as_a_list_holding_parameters():
    p = np.array([0.7, 1.3, 0.4])
    check_grad(
        lambda p: ndi.map_coordinates([p[0], p[1], p[2], 0.5], [[0.5, 1.5, 2.2]], order=1) ** 2,
        p,
        order=2,
    )
