"""Every failure the fuzzer (or a review) found, as a named test that would catch it again."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray
from ndgrad.testing import check_grad

from .programs import Program


def test_inplace_add_into_plain_array_with_traced_operand_raises():
    # fuzz: `out = plain * 1.0; out += traced` used to be a candidate for a silent graph loss
    out = np.ones(2)
    with pytest.raises(nd.NotDifferentiableError, match="out="):
        out += GradArray([1.0, 2.0], requires_grad=True)


def test_zero_d_inplace_rebinds_like_a_numpy_scalar():
    # fuzz, then issue 12: NumPy rebinds a float32 scalar to float64 here, and so does ndgrad
    x = GradArray(np.float32(1.5), requires_grad=True)
    out = x * 1.0
    before = out
    out += np.float_power(x, x)
    want = np.float32(1.5) * 1.0
    want += np.float_power(np.float32(1.5), np.float32(1.5))
    assert before is not out and before.dtype == np.float32
    assert out.dtype == want.dtype and out.values == want
    out.backward()
    expected = 1.0 + 1.5**1.5 * (np.log(1.5) + 1.0)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-6)


def test_float_power_then_inplace_program_matches_numpy_on_arrays():
    program = Program(
        [(), (), ()],
        [("reshape", (0,)), ("binary", (0, 0, np.float_power)), ("inplace", (0, 4, "add"))],
    )
    xs = [np.asarray(v, np.float32) for v in (0.3, -1.2, 0.8)]
    with np.errstate(all="ignore"):
        expected = program.run(*[x.copy() for x in xs])
        got = program.run(*[GradArray(x, requires_grad=True) for x in xs])
    np.testing.assert_array_equal(got.values, np.asarray(expected))


def test_maximum_reduce_where_initial_wins():
    # review: the rule divided by a tie count of zero
    x = GradArray([[-1.0, -2.0]], requires_grad=True)
    np.sum(np.maximum.reduce(x, axis=1, initial=0.0)).backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0]])


def test_complex_arccosh_left_half_plane():
    # review: sqrt(x*x - 1) took the wrong branch for Re(x) < 0
    check_grad(np.arccosh, np.array([-0.5 + 0.2j, -2.0 - 0.1j]))


def test_fmod_then_floor_divide_by_zero_warns_like_numpy():
    # fuzz: fmod(x, x) == 0, then floor_divide by it: NumPy warns, and so does ndgrad
    x = GradArray([1.5], requires_grad=True)
    with pytest.warns(RuntimeWarning):
        np.floor_divide(x, np.fmod(x, x))


def test_zero_d_complex_square_is_computed_by_the_array_loop():
    # fuzz: NumPy's scalar math and its array loop differ by an ulp for complex square; ndgrad
    # keeps 0-d arrays, so it matches the array loop exactly
    z = np.array(np.tanh(0.4 + 0.9j) * 2.0)
    got = np.square(GradArray(z, requires_grad=True))
    np.testing.assert_array_equal(got.values, np.square(z[None])[0])


def test_0d_leaf_gradient_is_an_array_not_a_numpy_scalar():
    # fuzz (aliasing property): rules on 0-d values return NumPy scalars, which became .grad
    x = GradArray(2.0, requires_grad=True)
    np.abs(np.abs(np.abs(x))).backward()
    assert type(x.grad) is np.ndarray and x.grad.flags.writeable


def test_zero_d_complex_tanh_chain_stays_within_the_0d_bound():
    # fuzz (long profile): NumPy's scalar math and its array loops differ by an ulp per step;
    # through four steps of complex tanh they were 30 eps apart, past the old fixed bound of 8
    program = Program(
        [()],
        [("reused_buffer", (0, 0)), ("out_alias", (1, 0)), ("out_alias", (2, 0)),
         ("out_alias", (3, 0))],
        smooth=True,
    )  # fmt: skip
    x = np.asarray(np.random.default_rng(1427).standard_normal(()) + 0.5j)
    expected = np.asarray(program.run(x.copy()))
    got = program.run(GradArray(x.copy(), requires_grad=True)).values
    eps = np.finfo(np.complex128).eps
    np.testing.assert_allclose(got, expected, rtol=0, atol=8 * len(program.steps) * eps)


def test_large_product_gradient_matches_finite_differences_at_a_wider_step():
    # fuzz (long profile): prod of 18 arccos terms is about -2.5e6; central differences at
    # 1e-6 lose the third digit to cancellation (-0.50967 against -0.50987), at 1e-4 they
    # agree with ndgrad to 3e-7
    program = Program(
        [(2, 3, 3), ()],
        [("view_write", (0, 0)), ("unary", (0, np.arccos)), ("unary", (1, np.arccos)),
         ("shape_assign", (0, 0)), ("reduce", (5, "prod", None, False)),
         ("unary", (0, np.arccos))],
        smooth=True,
    )  # fmt: skip
    rng = np.random.default_rng(161)
    inputs = [rng.standard_normal(s) for s in program.shapes]
    with np.errstate(all="ignore"):
        check_grad(program.run, *inputs, order=1, rtol=1e-4, atol=1e-6, eps=1e-4)


@pytest.mark.parametrize(("shape", "size"), [((1, 3, 3), 1e8), ((2, 2, 3), 1e12)])
def test_gradient_of_a_huge_product_is_checked_to_what_differences_resolve(shape, size):
    # fuzz (long profile, 2026-12-05, seed 0): a product of the input's terms scaled by a
    # shifted constant; the gradient in the 0-d input is 1.2. On a (1, 3, 3) input the output is
    # 6.3e8: central differences give 1.1921 at 1e-6 and 1.19984 at 1e-4, and agree at 1e-2
    # (1.2000024). On (2, 2, 3) it is 1.1e13: 1.17 at 1e-2, 1.2012 at 1e-1, so the oracle checks
    # that component to eps * |f| / h, and the large components (1.4e12) relatively.
    from .test_programs import _check_grad_at_two_steps, _inputs

    program = Program(
        shapes=[shape, (), (3,)],
        steps=[("reshape", (0,)), ("plain_constant_modified", (0,)), ("reshape", (1,)),
               ("reduce", (4, "prod", None, False))],
        smooth=True,
    )  # fmt: skip
    inputs = _inputs(program, 0)
    assert abs(float(program.run(*inputs))) > size
    _check_grad_at_two_steps(program, inputs)


def test_add_at_with_a_repeated_index_and_one_value_in_reverse_over_forward():
    """Found by the hvp fuzz test: ``np.add.at(out, [n - 1, n - 1], v)`` with one value adds it
    twice; the tangent is scattered the same way (``scatter_add``), and the backward pass
    through that scatter gathered two cotangents for the one value (a loud shape error in
    ``nd.hvp`` and ``grad(jvp)``). Checked against central differences of the gradient."""
    program = Program(shapes=[(1,)], steps=[("ufunc_at", (0, 0))], smooth=True)
    f = lambda xs: program.run(*xs)
    x, v = (np.array([0.3]),), (np.array([0.7]),)
    g = nd.grad(f)
    h = 1e-6
    fd = (g((x[0] + h * v[0],))[0] - g((x[0] - h * v[0],))[0]) / (2 * h)
    np.testing.assert_allclose(nd.hvp(f, x, v)[0], fd, rtol=1e-6)
    rof = nd.grad(lambda xs: nd.jvp(f, (xs,), (v,))[1])(x)
    np.testing.assert_allclose(rof[0], fd, rtol=1e-6)

    def direct(b):  # the same scatter on a public route: one value added at a repeated index
        out = np.zeros(3)
        np.add.at(out, [2, 2, 0], np.sin(b))
        return np.sum(out**2)

    b0, u = np.array([0.4]), np.array([1.0])
    fd2 = (nd.grad(direct)(b0 + h * u) - nd.grad(direct)(b0 - h * u)) / (2 * h)
    np.testing.assert_allclose(nd.hvp(direct, b0, u), fd2, rtol=1e-6)
