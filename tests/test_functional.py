"""Function transforms: values against closed forms and finite differences, nesting, structure."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import ndgrad as nd
from ndgrad._registry import NO_GRADIENT, TRACED_THROUGH, UNSUPPORTED, VJP_RULES
from ndgrad.testing import assert_grad_close

rng = np.random.default_rng(4)
X3 = np.array([0.3, -0.7, 1.1])
A33 = rng.standard_normal((3, 3))


def fd_jacobian(f, x, eps=1e-6):
    """Central differences: shape f(x).shape + x.shape (complex inputs step both parts)."""
    x = np.asarray(x, dtype=np.result_type(x, float))
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape, dtype=np.result_type(out, x))
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        d = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
        jac[(Ellipsis, *idx)] = d
    return jac


# --- grad and value_and_grad: structure of inputs and outputs ---------------------------------


def test_grad_of_python_float_is_python_float():
    g = nd.grad(lambda x: x**3)(2.0)
    assert type(g) is float
    assert g == pytest.approx(12.0)


def test_grad_returns_plain_ndarray_at_outermost_level():
    g = nd.grad(lambda x: np.sum(np.sin(x)))(X3)
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, np.cos(X3))


def test_grad_keeps_dict_list_tuple_structure():
    params = {"w": X3, "b": [0.5, (np.array([1.0, 2.0]),)]}

    def loss(p):
        return np.sum(p["w"] ** 2) + p["b"][0] * np.sum(p["b"][1][0])

    g = nd.grad(loss)(params)
    assert set(g) == {"w", "b"} and isinstance(g["b"], list) and isinstance(g["b"][1], tuple)
    assert_grad_close(g, {"w": 2 * X3, "b": [3.0, (np.array([0.5, 0.5]),)]})
    assert type(g["b"][0]) is float


def test_grad_leaves_caller_arrays_untouched():
    x = nd.GradArray(X3, requires_grad=True)
    before = x.copy()
    nd.grad(lambda x: np.sum(x**2))(x)
    assert x.grad is None
    np.testing.assert_array_equal(x, before)


def test_value_and_grad_with_aux():
    (value, aux), g = nd.value_and_grad(lambda x: (np.sum(x**2), x * 2), has_aux=True)(X3)
    assert type(aux) is np.ndarray
    np.testing.assert_allclose(aux, 2 * X3)
    assert float(value) == pytest.approx(np.sum(X3**2))
    np.testing.assert_allclose(g, 2 * X3)


# --- nesting ----------------------------------------------------------------------------------


def test_third_derivative_by_nesting_grad():
    d3 = nd.grad(nd.grad(nd.grad(np.sin)))
    for x in (0.0, 0.4, 2.0):
        assert d3(x) == pytest.approx(-np.cos(x))


def test_fourth_derivative_of_polynomial():
    assert nd.grad(nd.grad(nd.grad(nd.grad(lambda x: x**5))))(2.0) == pytest.approx(240.0)


def test_no_perturbation_confusion_siskind_pearlmutter():
    # d/dx ( x * (d/dy (x + y))|_{y=1} ) at x = 1: the inner derivative is 1, so this is 1.
    # Confusing the two perturbations gives 2.
    def outer(x):
        return x * nd.grad(lambda y: x + y)(1.0)

    assert nd.grad(outer)(1.0) == pytest.approx(1.0)


def test_no_perturbation_confusion_product():
    # d/dx [x * d/dy (x*y) at y=1] = d/dx [x * x] = 2x
    def outer(x):
        return x * nd.grad(lambda y: x * y)(1.0)

    for x in (1.0, 3.0, -0.5):
        assert nd.grad(outer)(x) == pytest.approx(2 * x)


def test_nested_derivative_reads_outer_variable():
    # d/dx [x * d/dy sin(x y)|_{y=1}] = d/dx [x^2 cos x] = 2x cos x - x^2 sin x
    def outer(x):
        return x * nd.grad(lambda y: np.sin(x * y))(1.0)

    x = 0.7
    assert nd.grad(outer)(x) == pytest.approx(2 * x * np.cos(x) - x**2 * np.sin(x))


def test_nested_grad_at_the_outer_point():
    # Manzyuk et al.: the inner function is evaluated at the outer variable itself.
    # d/dx [d/dy (x y^2)|_{y=x}] = d/dx [2 x^2] = 4x
    assert nd.grad(lambda x: nd.grad(lambda y: x * y**2)(x))(3.0) == pytest.approx(12.0)


def test_nested_grads_with_respect_to_different_arguments():
    # d/dx d/dy (x^2 y^3) = 6 x y^2
    def dfdy(x, y):
        return nd.grad(lambda x, y: x**2 * y**3, argnums=1)(x, y)

    assert nd.grad(dfdy)(2.0, 3.0) == pytest.approx(6 * 2.0 * 3.0**2)


def test_hessian_of_function_that_calls_grad():
    def energy(x):
        return np.sum(np.sin(x) * x**2)

    def grad_norm(x):
        g = nd.grad(energy)(x)
        return np.sum(g**2)

    h = nd.hessian(grad_norm)(X3)
    expected = fd_jacobian(lambda x: nd.grad(grad_norm)(x), X3)
    np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, h.T, rtol=1e-10)


def test_jacobian_of_grad_equals_hessian():
    f = lambda x: np.sum(np.tanh(A33 @ x) ** 2)
    np.testing.assert_allclose(nd.jacobian(nd.grad(f))(X3), nd.hessian(f)(X3), rtol=1e-12)


def test_grad_of_grad_through_backward_inside():
    # A function that itself calls backward(create_graph=True) composes with grad.
    def f(x):
        y = np.sum(x**3)
        return np.sum(nd.grad(lambda z: np.sum(z**3))(x) * x) + y

    # f = 3 sum x^3 + sum x^3 = 4 sum x^3 -> grad 12 x^2
    np.testing.assert_allclose(nd.grad(f)(X3), 12 * X3**2)


# --- jacobian and hessian ---------------------------------------------------------------------


def test_jacobian_matches_closed_form():
    jac = nd.jacobian(lambda x: np.tanh(A33 @ x))(X3)
    np.testing.assert_allclose(jac, (1 - np.tanh(A33 @ X3) ** 2)[:, None] * A33)


@pytest.mark.parametrize("shape_in", [(), (3,), (2, 2)])
@pytest.mark.parametrize("shape_out", [(), (2,), (2, 3)])
def test_jacobian_shape_is_out_shape_plus_in_shape(shape_in, shape_out):
    x = rng.standard_normal(shape_in)
    w = rng.standard_normal(shape_out)

    def f(x):
        return w * np.sum(np.sin(x))

    jac = nd.jacobian(f)(x)
    assert jac.shape == shape_out + shape_in
    np.testing.assert_allclose(jac, fd_jacobian(f, x), rtol=1e-6, atol=1e-8)


def test_jacobian_argnums_tuple_and_aux():
    f = lambda x, y: (x * y[:, None], "aux")
    (jx, jy), aux = nd.jacobian(f, argnums=(0, 1), has_aux=True)(np.ones(2), np.arange(3.0))
    assert aux == "aux"
    assert jx.shape == (3, 2, 2) and jy.shape == (3, 2, 3)
    np.testing.assert_allclose(jx, fd_jacobian(lambda x: x * np.arange(3.0)[:, None], np.ones(2)))
    np.testing.assert_allclose(jy, fd_jacobian(lambda y: np.ones(2) * y[:, None], np.arange(3.0)))


def test_jacobian_of_tuple_output_and_dict_input():
    def f(p):
        return p["a"] * p["b"], np.sum(p["a"])

    jac = nd.jacobian(f)({"a": X3, "b": 2.0})
    assert isinstance(jac, tuple) and set(jac[0]) == {"a", "b"}
    np.testing.assert_allclose(jac[0]["a"], 2.0 * np.eye(3))
    np.testing.assert_allclose(jac[0]["b"], X3)
    np.testing.assert_allclose(jac[1]["a"], np.ones(3))
    assert jac[1]["b"] == 0.0


def test_jacobian_of_complex_output_with_real_input():
    jac = nd.jacobian(lambda x: np.exp(1j * x))(X3)
    np.testing.assert_allclose(jac, np.diag(1j * np.exp(1j * X3)))


def test_jacobian_of_holomorphic_function():
    z = np.array([1.0 + 2.0j, -0.5 + 0.3j])
    jac = nd.jacobian(lambda z: z**3 + np.sin(z), holomorphic=True)(z)
    np.testing.assert_allclose(jac, np.diag(3 * z**2 + np.cos(z)))


def test_jacobian_of_scalar_function_of_python_float():
    jac = nd.jacobian(lambda x: x**2)(3.0)
    assert type(jac) is float and jac == pytest.approx(6.0)


def test_hessian_of_quadratic_form():
    h = nd.hessian(lambda x: x @ A33 @ x)(X3)
    np.testing.assert_allclose(h, A33 + A33.T, rtol=1e-12)


def test_hessian_blocks_for_argnums_tuple():
    f = lambda x, y: np.sum(x**2 * y) + np.sum(y**3)
    x, y = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    (hxx, hxy), (hyx, hyy) = nd.hessian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(hxx, np.diag(2 * y))
    np.testing.assert_allclose(hxy, np.diag(2 * x))
    np.testing.assert_allclose(hyx, np.diag(2 * x))
    np.testing.assert_allclose(hyy, np.diag(6 * y))


def test_third_order_tensor_by_jacobian_of_hessian():
    t = nd.jacobian(nd.hessian(lambda x: np.sum(x**3)))(X3)
    expected = np.zeros((3, 3, 3))
    for i in range(3):
        expected[i, i, i] = 6.0
    np.testing.assert_allclose(t, expected)


# --- vjp, jvp, hvp, elementwise_grad ----------------------------------------------------------


def test_vjp_matches_jacobian_transpose_and_can_be_called_twice():
    f = lambda x: np.tanh(A33 @ x)
    out, vjp_fn = nd.vjp(f, X3)
    assert type(out) is np.ndarray
    jac = nd.jacobian(f)(X3)
    for u in (np.array([1.0, 0.0, 0.0]), rng.standard_normal(3)):
        (g,) = vjp_fn(u)
        assert type(g) is np.ndarray
        np.testing.assert_allclose(g, u @ jac)


def test_vjp_of_several_primals_and_tuple_output():
    _, vjp_fn = nd.vjp(lambda x, y: (x * y, np.sin(x)), X3, 2.0)
    gx, gy = vjp_fn((np.ones(3), np.ones(3)))
    np.testing.assert_allclose(gx, 2.0 + np.cos(X3))
    assert type(gy) is float and gy == pytest.approx(np.sum(X3))


def test_vjp_with_aux():
    _, vjp_fn, aux = nd.vjp(lambda x: (x**2, {"n": 3}), X3, has_aux=True)
    assert aux == {"n": 3}
    np.testing.assert_allclose(vjp_fn(np.ones(3))[0], 2 * X3)


def test_vjp_rejects_a_cotangent_of_the_wrong_shape():
    _, vjp_fn = nd.vjp(lambda x: x**2, X3)
    with pytest.raises(ValueError, match="shape"):
        vjp_fn(np.ones(2))


def test_vjp_complex_convention():
    # f(z) = z^2 is holomorphic: the cotangent is u * conj(f'(z)).
    z = np.array([1.0 + 1.0j, 2.0 - 0.5j])
    u = np.array([0.5 + 0.2j, -1.0j])
    _, vjp_fn = nd.vjp(lambda z: z**2, z)
    np.testing.assert_allclose(vjp_fn(u)[0], u * np.conj(2 * z))


def test_jvp_matches_jacobian_times_tangent():
    f = lambda x: np.tanh(A33 @ x) * x
    t = rng.standard_normal(3)
    out, tangent = nd.jvp(f, (X3,), (t,))
    np.testing.assert_allclose(out, f(X3))
    np.testing.assert_allclose(tangent, nd.jacobian(f)(X3) @ t, rtol=1e-12)
    assert type(tangent) is np.ndarray


def test_jvp_of_several_primals_and_python_floats():
    out, tangent = nd.jvp(lambda x, y: x * y**2, (2.0, 3.0), (1.0, 0.5))
    # Outputs are 0-d arrays, as the value of value_and_grad is.
    assert type(out) is np.ndarray and type(tangent) is np.ndarray
    assert out == pytest.approx(18.0)
    assert tangent == pytest.approx(3.0**2 * 1.0 + 2 * 2.0 * 3.0 * 0.5)


def test_jvp_of_holomorphic_function():
    z = np.array([1.0 + 1.0j, 0.3 - 2.0j])
    t = np.array([0.5 - 1.0j, 2.0 + 0.1j])
    _, tangent = nd.jvp(np.exp, (z,), (t,))
    np.testing.assert_allclose(tangent, np.exp(z) * t)


def test_jvp_of_non_holomorphic_function():
    # |z|^2 = x^2 + y^2: the directional derivative along t is 2 Re(conj(z) t).
    z = np.array([1.0 + 1.0j, 0.3 - 2.0j])
    t = np.array([0.5 - 1.0j, 2.0 + 0.1j])
    _, tangent = nd.jvp(lambda z: np.real(z * np.conj(z)), (z,), (t,))
    np.testing.assert_allclose(tangent, 2 * np.real(np.conj(z) * t))


def test_grad_of_jvp_is_second_derivative():
    def directional(x):
        return np.sum(nd.jvp(np.sin, (x,), (np.ones(3),))[1])

    np.testing.assert_allclose(nd.grad(directional)(X3), -np.sin(X3))


def test_jvp_of_grad_is_hessian_vector_product():
    f = lambda x: np.sum(np.sin(x) * x**2)
    v = rng.standard_normal(3)
    _, hv = nd.jvp(nd.grad(f), (X3,), (v,))
    np.testing.assert_allclose(hv, nd.hessian(f)(X3) @ v, rtol=1e-10)


def test_hvp_matches_hessian_product():
    f = lambda x: np.sum(np.tanh(A33 @ x) ** 2)
    v = rng.standard_normal(3)
    hv = nd.hvp(f, X3, v)
    assert type(hv) is np.ndarray
    np.testing.assert_allclose(hv, nd.hessian(f)(X3) @ v, rtol=1e-10)


def test_hvp_of_container_input():
    f = lambda p: np.sum(p[0] ** 2 * p[1])
    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    hv = nd.hvp(f, (x, y), (np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    # H = [[2y, 2x], [2x, 0]] (blockwise diagonal): H v = (2y*[1,0] + 2x*[0,1], 2x*[1,0])
    assert_grad_close(hv, (np.array([6.0, 4.0]), np.array([2.0, 0.0])))


def test_hvp_of_complex_input_matches_finite_differences():
    # f(z) = sum |z|^4 seen as a function of (Re z, Im z).
    f = lambda z: np.sum(np.real(z * np.conj(z)) ** 2)
    z = np.array([1.0 + 0.5j, -0.3 + 0.2j])
    v = np.array([0.2 - 1.0j, 1.0 + 0.3j])
    g = nd.grad(f)
    eps = 1e-6
    expected = (g(z + eps * v) - g(z - eps * v)) / (2 * eps)
    np.testing.assert_allclose(nd.hvp(f, z, v), expected, rtol=1e-6)


def test_elementwise_grad():
    np.testing.assert_allclose(nd.elementwise_grad(np.tanh)(X3), 1 - np.tanh(X3) ** 2)
    d2 = nd.elementwise_grad(nd.elementwise_grad(np.sin))
    np.testing.assert_allclose(d2(X3), -np.sin(X3))


def test_integer_input_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="float"):
        nd.jacobian(lambda x: x * 2.0)(np.arange(3))


# --- checkpoint -------------------------------------------------------------------------------


def _layer(x, w):
    return np.tanh(x * w + 0.1)


def test_checkpoint_gives_the_same_values_and_gradients():
    block = nd.checkpoint(_layer)

    def plain(x, w):
        return np.sum(_layer(_layer(x, w), w) ** 2)

    def ckpt(x, w):
        return np.sum(block(block(x, w), w) ** 2)

    w = np.array([0.5, -1.2, 2.0])
    np.testing.assert_allclose(ckpt(X3, w), plain(X3, w))
    gp = nd.grad(plain, argnums=(0, 1))(X3, w)
    gc_ = nd.grad(ckpt, argnums=(0, 1))(X3, w)
    assert_grad_close(gc_, gp, rtol=1e-12)
    np.testing.assert_allclose(nd.hessian(ckpt)(X3, w), nd.hessian(plain)(X3, w), rtol=1e-10)


def test_checkpoint_with_backward_method_and_tuple_output():
    block = nd.checkpoint(lambda x: (np.sin(x), x * 2.0))
    x = nd.GradArray(X3, requires_grad=True)
    a, b = block(x)
    np.sum(a * b).backward()
    np.testing.assert_allclose(x.grad, np.cos(X3) * 2 * X3 + np.sin(X3) * 2)


def test_checkpoint_refuses_closure_arrays_that_require_grad():
    w = nd.GradArray([1.0, 2.0, 3.0], requires_grad=True)
    block = nd.checkpoint(lambda x: x * w)
    with pytest.raises(ValueError, match="argument"):
        block(nd.GradArray(X3, requires_grad=True))


@pytest.fixture
def restore_tables():
    """Undo registrations made by a test: the rule tables are global."""
    saved = (dict(VJP_RULES), dict(UNSUPPORTED), set(TRACED_THROUGH), set(NO_GRADIENT))
    yield
    for table, old in zip(
        (VJP_RULES, UNSUPPORTED, TRACED_THROUGH, NO_GRADIENT), saved, strict=True
    ):
        table.clear()
        table.update(old)


def test_checkpoint_lowers_peak_memory_of_saved_arrays(restore_tables):
    # Memory as tracemalloc sees it (NumPy reports its buffers to it), with arrays of 32 kB so
    # that the saved arrays dominate: counting nodes through gc.get_objects() would miss the
    # nodes the cyclic GC does not track.
    samples = []

    def probe_rule(g, ans, x):
        samples.append(tracemalloc.get_traced_memory()[0])
        return g

    # A probe with a rule of its own: when backward reaches it, see what the graph holds.
    probe = nd.defvjp(lambda x: x + 0.0, probe_rule, name="probe")

    def segment(x, w):
        for _ in range(8):
            x = np.tanh(x * w)
        return probe(x)

    def chain(x, w, seg):
        for _ in range(8):
            x = seg(x, w)
        return np.sum(x)

    def peak(seg):
        samples.clear()
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            x = nd.GradArray(np.linspace(-1.0, 1.0, 4096), requires_grad=True)
            w = nd.GradArray(np.full(4096, 0.9), requires_grad=True)
            loss = chain(x, w, seg)
            after_forward = tracemalloc.get_traced_memory()[0]
            loss.backward()
        finally:
            tracemalloc.stop()
        return max([after_forward, *samples]) - start, x.grad

    plain_peak, plain_grad = peak(segment)
    ckpt_peak, ckpt_grad = peak(nd.checkpoint(segment))
    np.testing.assert_allclose(ckpt_grad, plain_grad, rtol=1e-12)
    # 64 tanh layers keep at least an array of 32 kB each; checkpointing keeps 8 segment inputs and
    # outputs plus one segment's intermediates at a time.
    assert plain_peak >= 64 * 32768
    assert ckpt_peak < plain_peak / 2.5, (ckpt_peak, plain_peak)


# The user guide's doctests of the transforms and gradient checks (docs/user_guide/transforms.rst,
# testing.rst) run in tests/test_docs.py.


def test_checkpoint_recomputes_once_per_backward():
    calls = []

    def block(x, w):
        calls.append(1)
        return np.sin(x) * w, x * w

    ckpt = nd.checkpoint(block)
    x = nd.GradArray(X3, requires_grad=True)
    w = nd.GradArray(2.0, requires_grad=True)
    a, b = ckpt(x, w)
    np.sum(a + b).backward()
    assert len(calls) == 2  # the forward pass and one recomputation serving both inputs
    np.testing.assert_allclose(x.grad, 2.0 * np.cos(X3) + 2.0)
    assert w.grad == pytest.approx(np.sum(np.sin(X3) + X3))


def test_transforms_refuse_outputs_cut_from_the_graph():
    cut = lambda x: np.sin(np.asarray(x))  # np.asarray strips the GradArray
    with pytest.raises(ValueError, match="does not depend"):
        nd.jacobian(cut, scope=False)(X3)
    with pytest.raises(ValueError, match="does not depend"):
        nd.elementwise_grad(cut, scope=False)(X3)
    with pytest.raises(ValueError, match="does not depend"):
        nd.hessian(lambda x: np.sum(cut(x)), scope=False)(X3)
    with pytest.raises(ValueError, match="does not depend"):
        nd.hvp(lambda x: np.sum(cut(x)), X3, X3, scope=False)
    zeros = nd.jacobian(cut, allow_unused=True, scope=False)(X3)
    np.testing.assert_array_equal(zeros, np.zeros((3, 3)))


def test_transforms_keep_the_graph_through_asarray_by_default():
    cut = lambda x: np.sin(np.asarray(x))
    np.testing.assert_allclose(nd.jacobian(cut)(X3), np.diag(np.cos(X3)), rtol=1e-14)
    np.testing.assert_allclose(nd.elementwise_grad(cut)(X3), np.cos(X3), rtol=1e-14)
    np.testing.assert_allclose(nd.hessian(lambda x: np.sum(cut(x)))(X3), np.diag(-np.sin(X3)))
    np.testing.assert_allclose(nd.hvp(lambda x: np.sum(cut(x)), X3, X3), -np.sin(X3) * X3)


def test_second_derivative_of_linear_function_is_zero():
    f = lambda x: np.sum(3.0 * x)
    np.testing.assert_array_equal(nd.hessian(f)(X3), np.zeros((3, 3)))
    np.testing.assert_array_equal(nd.hvp(f, X3, X3), np.zeros(3))
    assert nd.grad(nd.grad(lambda x: 3.0 * x), allow_unused=True)(1.0) == 0.0


# --- classic examples -------------------------------------------------------------------------


def test_rosenbrock_gradient_and_hessian_at_minimum():
    def rosenbrock(p):
        x, y = p[0], p[1]
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    p = np.array([1.0, 1.0])
    np.testing.assert_allclose(nd.grad(rosenbrock)(p), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(nd.hessian(rosenbrock)(p), [[802.0, -400.0], [-400.0, 200.0]])


def test_higher_derivatives_of_tanh():
    # autograd's tanh example: d^k/dx^k tanh by nesting grad, checked against closed forms.
    x, t = 0.6, np.tanh(0.6)
    derivs = [1 - t**2, -2 * t * (1 - t**2), (1 - t**2) * (6 * t**2 - 2)]
    f = np.tanh
    for expected in derivs:
        f = nd.grad(f)
        assert f(x) == pytest.approx(expected, rel=1e-10)
    # the fourth one, against finite differences of the third
    eps = 1e-5
    assert nd.grad(f)(x) == pytest.approx((f(x + eps) - f(x - eps)) / (2 * eps), rel=1e-6)


def test_exp_is_its_own_fifth_derivative():
    f = np.exp
    for _ in range(5):
        f = nd.grad(f)
    assert f(0.3) == pytest.approx(np.exp(0.3), rel=1e-12)


def test_newton_step_inside_grad():
    # Differentiating through an optimiser that itself uses derivatives (implicit function):
    # one Newton step for argmin_y (y - a)^2 + y^4 / 4 depends on a; check d/da by differences.
    def newton(a):
        y = 0.0 * a
        for _ in range(3):
            dy = nd.grad(lambda y: (y - a) ** 2 + y**4 / 4)
            d2y = nd.grad(dy)
            y = y - dy(y) / d2y(y)
        return y

    a, eps = 0.8, 1e-6
    expected = (newton(a + eps) - newton(a - eps)) / (2 * eps)
    assert nd.grad(newton)(a) == pytest.approx(expected, rel=1e-6)


def test_transforms_in_threads_do_not_interfere():
    from concurrent.futures import ThreadPoolExecutor

    def work(k):
        f = lambda x: np.sum(np.sin(k * x) * x)
        x = np.linspace(0.1, 1.0, 3) * k
        return np.allclose(nd.hessian(f)(x), nd.jacobian(nd.grad(f))(x), rtol=1e-12)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, [1.0, 2.0, 3.0, 4.0] * 4))


def test_no_perturbation_confusion_with_nested_jvp():
    # The Siskind-Pearlmutter example in forward style: jvp inside jvp.
    def outer(x):
        return x * nd.jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    _, tangent = nd.jvp(outer, (1.0,), (1.0,))
    assert float(tangent) == pytest.approx(1.0)
    _, tangent = nd.jvp(lambda x: x * nd.jvp(lambda y: x * y, (1.0,), (1.0,))[1], (3.0,), (1.0,))
    assert float(tangent) == pytest.approx(6.0)
    assert nd.grad(outer)(1.0) == pytest.approx(1.0)


def test_checkpoint_of_block_that_strips_the_graph_raises():
    block = nd.checkpoint(lambda x: np.sin(np.asarray(x)), scope=False)
    x = nd.GradArray(X3, requires_grad=True)
    with pytest.raises(ValueError, match="strips the GradArray"):
        np.sum(block(x)).backward()


def test_vjp_function_is_linear_and_differentiable_later():
    # vjp_fn made at the top level can be differentiated afterwards: its Jacobian is J^T.
    f = lambda x: np.tanh(A33 @ x)
    _, vjp_fn = nd.vjp(f, X3)
    jt = nd.jacobian(lambda u: vjp_fn(u)[0])(np.ones(3))
    np.testing.assert_allclose(jt, nd.jacobian(f)(X3).T, rtol=1e-12)


def test_checkpoint_nodes_sharing_a_cotangent_object_keep_their_own_results():
    # ``a + b`` hands the very same cotangent object to both blocks: each must still get
    # the derivative at its own input.
    block = nd.checkpoint(lambda x, k: np.sin(x) * k)
    x = nd.GradArray([0.1, 0.2], requires_grad=True)
    y = nd.GradArray([1.0, 2.0], requires_grad=True)
    np.sum(block(x, 2.0) + block(y, 2.0)).backward()
    np.testing.assert_allclose(x.grad, 2.0 * np.cos([0.1, 0.2]))
    np.testing.assert_allclose(y.grad, 2.0 * np.cos([1.0, 2.0]))
    g = nd.grad(lambda x: np.sum(block(x, 1.0) + block(x, 3.0)))(X3)
    np.testing.assert_allclose(g, 4.0 * np.cos(X3))


def test_checkpoint_in_concurrent_threads():
    from concurrent.futures import ThreadPoolExecutor

    block = nd.checkpoint(lambda x: np.tanh(x) * x)
    xs = [np.linspace(-1.0, 1.0, 5) * k for k in range(1, 9)]

    def work(x):
        g = nd.grad(lambda x: np.sum(block(block(x))))(x)
        return np.allclose(
            g, nd.grad(lambda x: np.sum(np.tanh(np.tanh(x) * x) * np.tanh(x) * x))(x)
        )

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, xs * 3))


def test_jvp_with_aux():
    out, tangent, aux = nd.jvp(lambda x: (x**2, np.sum(x)), (X3,), (np.ones(3),), has_aux=True)
    assert type(aux) is np.ndarray and aux == pytest.approx(np.sum(X3))
    np.testing.assert_allclose(tangent, 2 * X3)
    np.testing.assert_allclose(out, X3**2)


# --- complex-to-complex Jacobians need holomorphic=True (as in JAX) -----------------------------

_Z = np.array([1 + 1j, 0.5 - 2j])


@pytest.mark.parametrize("f", [np.conj, lambda z: np.abs(z) ** 2 + 0j, lambda z: z * np.real(z)])
def test_jacobian_of_a_non_holomorphic_function_raises_with_or_without_the_flag(f):
    with pytest.raises(ValueError, match="holomorphic=True"):
        nd.jacobian(f)(_Z)
    with pytest.raises(ValueError, match="not holomorphic"):
        nd.jacobian(f, holomorphic=True)(_Z)


def test_jacobian_of_a_holomorphic_function_is_the_complex_derivative():
    with pytest.raises(ValueError, match="holomorphic=True"):
        nd.jacobian(lambda z: z**2)(_Z)
    jac = nd.jacobian(lambda z: z**3 + np.exp(z), holomorphic=True)(_Z)
    np.testing.assert_allclose(jac, np.diag(3 * _Z**2 + np.exp(_Z)))
    # the complex derivative from finite differences along the real axis
    h = 1e-6
    fd = ((_Z + h) ** 3 + np.exp(_Z + h) - (_Z - h) ** 3 - np.exp(_Z - h)) / (2 * h)
    np.testing.assert_allclose(np.diag(jac), fd, rtol=1e-6)


def test_hessian_of_a_real_function_of_complex_inputs_points_to_hvp():
    with pytest.raises(ValueError, match="hvp"):
        nd.hessian(lambda z: np.sum(np.abs(z) ** 2))(_Z)
    # real inputs, real and complex outputs are unaffected
    assert nd.jacobian(lambda x: np.exp(1j * x))(np.array([0.3])).dtype.kind == "c"
    assert nd.jacobian(np.abs)(_Z).shape == (2, 2)


def test_grad_of_a_list_of_numbers_names_the_actual_cause():
    """A list is a container of separate scalars: the message says so, not np.asarray."""
    for f in (lambda x: np.sum(x**2), lambda x: np.sum(np.sin(x))):
        expected = (TypeError, ValueError, nd.GraphBreakError)
        with pytest.raises(expected, match="container of 3 separate scalars"):
            nd.grad(f)([1.0, 2.0, 3.0])
        with pytest.raises(expected, match=r"np.array\(\[1.0, 2.0, 3.0\]\)"):
            nd.value_and_grad(f)([1.0, 2.0, 3.0])
    # a list of scalars used as a container still works, and arrays are unaffected
    assert nd.grad(lambda t: t[0] * t[1])([2.0, 5.0]) == [5.0, 2.0]
    with pytest.raises(ValueError, match="does not depend") as info:
        nd.grad(lambda x: np.sum(np.asarray(x.tolist())), scope=False)(np.ones(2))
    assert "separate scalars" not in str(info.value)
