"""scipy.linalg: conventions (triangles, cho_factor's unused triangle), traced functions, what
raises, and real use (multivariate_normal, a Gaussian-process likelihood)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.stats as st

import ndgrad as nd
from ndgrad import GradArray, NotDifferentiableError
from ndgrad.testing import check_grad

from .cases.linalg import HPD, SPD, SYM, TALL, M

rng = np.random.default_rng(1405)


def _garbage(c, lower):
    """``c`` with random values in the triangle that cho_solve does not read."""
    n = c.shape[-1]
    other = np.triu(np.ones((n, n)), 1) if lower else np.tril(np.ones((n, n)), -1)
    return c + other * rng.standard_normal((n, n))


@pytest.mark.parametrize("lower", [False, True])
def test_cho_solve_unused_triangle_gets_zero_gradient(lower):
    c, _ = sl.cho_factor(SPD(3, 3), lower=lower)
    c = _garbage(c, lower)
    b = rng.standard_normal(3)
    check_grad(lambda c, b: sl.cho_solve((c, lower), b), c, b, order=2)
    g = nd.grad(lambda c: np.sum(sl.cho_solve((c, lower), b) ** 2))(c)
    unused = np.triu(g, 1) if lower else np.tril(g, -1)
    assert np.all(unused == 0)


@pytest.mark.parametrize("lower", [False, True])
def test_cho_factor_then_cho_solve_is_solve_of_the_triangle_read(lower):
    a = _garbage(SPD(3, 3), lower)  # the triangle cho_factor does not read is garbage
    b = rng.standard_normal((3, 2))
    g1 = nd.grad(lambda a: np.sum(np.sin(sl.cho_solve(sl.cho_factor(a, lower=lower), b))))(a)
    g2 = nd.grad(lambda a: np.sum(np.sin(sl.solve(a, b, assume_a="pos", lower=lower))))(a)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("lower", [False, True])
def test_cho_factor_unused_triangle_follows_what_scipy_puts_there(lower):
    """SciPy 1.17 and before leave ``a``'s own values in the triangle ``cho_factor`` does not
    use (its gradient is ``g`` itself there); SciPy 1.18 puts zeros there (no gradient). Which
    one this SciPy does is read off its output for this ``a``, whose triangle has no zeros."""
    a = SPD(3, 3)
    other = np.tril(np.ones((3, 3)), -1) if not lower else np.triu(np.ones((3, 3)), 1)
    c = sl.cho_factor(a, lower=lower)[0]
    keeps = bool(np.all(c[other == 1] == a[other == 1]))
    assert keeps or np.all(c[other == 1] == 0)
    g = nd.grad(lambda a: np.sum(sl.cho_factor(a, lower=lower)[0] * other))(a)
    np.testing.assert_array_equal(g, other if keeps else np.zeros((3, 3)))


def test_cholesky_reads_one_triangle():
    a = SPD(3, 3)
    g = nd.grad(lambda a: np.sum(sl.cholesky(a, lower=True) ** 3))(a)
    assert np.all(np.triu(g, 1) == 0)


def test_norm_compiled_path_returns_a_gradarray():
    x = GradArray(rng.standard_normal(3), requires_grad=True)
    y = sl.norm(x)
    assert isinstance(y, GradArray) and y.ndim == 0
    y.backward()
    np.testing.assert_allclose(x.grad, np.asarray(x) / np.linalg.norm(np.asarray(x)))
    m = GradArray(rng.standard_normal((2, 3)), requires_grad=True)
    sl.norm(m, 1).backward()
    assert m.grad is not None and np.any(m.grad != 0)


def test_inv_diagonal_is_what_scipy_computes():
    # SciPy inverts the diagonal only; the other elements pass through unchanged
    a = M(2, 2)
    np.testing.assert_allclose(
        nd.grad(lambda a: np.sum(sl.inv(a, assume_a="diagonal")))(a),
        np.where(np.eye(2, dtype=bool), -1 / np.diag(a) ** 2, 1.0),
    )


def test_eigh_other_types_raise():
    with pytest.raises(NotDifferentiableError, match="type=1"):
        nd.grad(lambda a: np.sum(sl.eigh(a, SPD(2, 2), type=2)[0]))(SYM(2, 2))


def test_eigh_generalized_matches_reduction_to_standard():
    a, b = SYM(3, 3), SPD(3, 3) + np.eye(3)

    def reduced(a, b):
        lo = np.linalg.cholesky(b)
        c = np.linalg.solve(lo, np.linalg.solve(lo, a).T).T
        return np.linalg.eigvalsh(c)

    for argnum in (0, 1):
        g1 = nd.grad(lambda a, b: np.sum(np.sin(sl.eigvalsh(a, b))), argnum)(a, b)
        sym = nd.grad(lambda a, b: np.sum(np.sin(reduced(a, b))), argnum)(a, b)
        # eigvalsh reads the lower triangle; the reduction reads the whole symmetric matrix
        np.testing.assert_allclose(g1, np.tril(sym + sym.T) - np.diag(np.diag(sym)), atol=1e-10)


@pytest.mark.parametrize(
    "func, args",
    [
        (lambda a: sl.eigvalsh(a), (SYM(3, 3),)),
        (lambda a, b: sl.eigvalsh(a, b), (SYM(3, 3), SPD(3, 3) + np.eye(3))),
        (lambda a: sl.eigvalsh(a, subset_by_index=[1, 2]), (SYM(3, 3),)),
        (lambda a: sl.eigvals(a), (M(3, 3),)),
        (lambda a: sl.svdvals(a), (TALL(3, 2),)),
        (lambda a: sl.polar(a)[1], (TALL(3, 2),)),
        (lambda a: sl.polar(a, side="left")[1], (M(2, 2),)),
        (lambda a: sl.eigvalsh(a), (HPD(2, 2),)),
    ],
)
def test_traced_functions_match_finite_differences(func, args):
    check_grad(func, *args, order=2)


def test_multivariate_normal_logpdf_differentiates_in_x_mean_and_cov():
    x = rng.standard_normal((4, 3))
    mean = rng.standard_normal(3)
    cov = SPD(3, 3) + np.eye(3)
    check_grad(lambda x, m, c: st.multivariate_normal.logpdf(x, m, c), x, mean, cov, order=2)

    # a symmetric parametrization gives the familiar closed form in cov
    def f(s):
        return np.sum(st.multivariate_normal.logpdf(x, mean, (s + s.T) / 2))

    g = nd.grad(f)(cov)
    inv = np.linalg.inv(cov)
    r = x - mean
    expected = 0.5 * (inv @ r.T @ r @ inv) - 0.5 * len(x) * inv
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)


def _gp_nll(log_params, x, y):
    """A Gaussian-process negative log marginal likelihood, written as in a textbook."""
    length, signal, noise = np.exp(log_params)
    d2 = (x[:, None] - x[None, :]) ** 2
    k = signal**2 * np.exp(-0.5 * d2 / length**2) + noise**2 * np.eye(len(x))
    c, lower = sl.cho_factor(k, lower=True)
    alpha = sl.cho_solve((c, lower), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(c))) + 0.5 * len(x) * np.log(2 * np.pi)


def test_gaussian_process_marginal_likelihood_matches_finite_differences():
    x = np.linspace(0, 5, 8)
    y = np.sin(x) + 0.1 * rng.standard_normal(8)
    params = np.log(np.array([1.2, 0.9, 0.3]))
    check_grad(_gp_nll, params, x, y, order=2)
    g = nd.grad(_gp_nll)(params, x, y)
    eps = 1e-6
    fd = [
        (_gp_nll(params + eps * e, x, y) - _gp_nll(params - eps * e, x, y)) / (2 * eps)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_expm_gradient_is_the_adjoint_frechet_derivative():
    a, e, g = rng.standard_normal((3, 3, 3))
    ga = nd.grad(lambda a: np.sum(g * sl.expm(a)))(a)
    np.testing.assert_allclose(np.sum(ga * e), np.sum(g * sl.expm_frechet(a, e)[1]), rtol=1e-10)


def test_solve_banded_matches_dense_solve():
    ab = rng.standard_normal((3, 4))
    ab[1] += 4
    b = rng.standard_normal(4)
    dense = np.diag(ab[1]) + np.diag(ab[0, 1:], 1) + np.diag(ab[2, :-1], -1)
    g = nd.grad(lambda b: np.sum(np.sin(sl.solve_banded((1, 1), ab, b))))(b)
    np.testing.assert_allclose(g, nd.grad(lambda b: np.sum(np.sin(np.linalg.solve(dense, b))))(b))


def test_solve_sylvester_real_a_with_complex_q_raises():
    a, b = M(2, 2), M(2, 2)
    q = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
    with pytest.raises(NotDifferentiableError, match="complex q"):
        nd.grad(lambda q: np.sum(np.abs(sl.solve_sylvester(a, b, q)) ** 2))(q)


def test_khatri_rao_is_traced():
    check_grad(sl.khatri_rao, rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), order=2)


def test_toeplitz_without_r_is_hermitian_in_c():
    c = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    check_grad(sl.toeplitz, c, order=2)


_A = 0.5 * rng.standard_normal((3, 3))


@pytest.mark.parametrize(
    "func, args",
    [
        (sl.cosm, (_A,)),
        (sl.sinm, (_A,)),
        (sl.tanm, (_A,)),
        (sl.coshm, (_A,)),
        (sl.sinhm, (_A,)),
        (sl.tanhm, (_A,)),
        (sl.companion, (np.array([2.0, 0.5, -1.0, 0.3]),)),
        (sl.fiedler, (rng.standard_normal(4),)),
        (sl.fiedler_companion, (np.array([2.0, 0.5, -1.0, 0.3]),)),
        (sl.leslie, (rng.standard_normal(3), rng.standard_normal(2))),
        (lambda a: sl.convolution_matrix(a, 5), (rng.standard_normal(3),)),
        (lambda s: sl.diagsvd(s, 3, 2), (rng.standard_normal(2),)),
        (lambda a, b: sl.orthogonal_procrustes(a, b)[0], (TALL(4, 3), rng.standard_normal((4, 3)))),
        (sl.solve_circulant, (np.array([3.0, 0.5, -0.2]), rng.standard_normal(3))),
    ],
)
def test_more_traced_functions_match_finite_differences(func, args):
    check_grad(func, *args, order=2)


@pytest.mark.parametrize("shapes", [((4, 3), (4, 2)), ((5, 3), (5, 3)), ((3, 3), (3, 1))])
def test_subspace_angles_forced_to_zero_have_zero_gradient(shapes):
    """dim A + dim B > n: the subspaces intersect, the last angle stays 0 whatever the inputs.

    Finite differences cannot check it: SciPy computes that angle as ~1e-8 of rounding noise.
    """
    a, b = (rng.standard_normal(s) for s in shapes)
    ga, gb = nd.grad(lambda a, b: sl.subspace_angles(a, b)[-1], argnums=(0, 1))(a, b)
    assert np.all(ga == 0) and np.all(gb == 0)

    def others(a, b):  # the nonzero angles differentiate as usual
        return sl.subspace_angles(a, b)[:-1]

    if shapes[0][1] + shapes[1][1] - shapes[0][0] < min(shapes[0][1], shapes[1][1]):
        check_grad(others, a, b, order=1)


def test_subspace_angles_of_a_rotated_plane_are_the_rotation_angle():
    """Rotating the plane span(e0, e1) by t towards e2 gives angles (t, 0): d theta / dt = 1."""

    def angle(t):
        a = np.stack([np.cos(t) * np.array([1.0, 0, 0]) + np.sin(t) * np.array([0, 0, 1.0]),
                      np.array([0, 1.0, 0])], axis=1)  # fmt: skip
        return sl.subspace_angles(a, np.eye(3)[:, :2])[0]

    np.testing.assert_allclose(nd.grad(angle)(0.4), 1.0, rtol=1e-10)


def test_eig_generalized_matches_the_standard_problem_of_b_inverse_a():
    a, b = M(3, 3), SPD(3, 3) + np.eye(3)

    def generalized(a, b):
        return np.sum(np.abs(sl.eigvals(a, b)) ** 2)

    def standard(a, b):
        return np.sum(np.abs(np.linalg.eigvals(np.linalg.solve(b, a))) ** 2)

    for got, want in zip(
        nd.grad(generalized, argnums=(0, 1))(a, b),
        nd.grad(standard, argnums=(0, 1))(a, b),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-9)


def test_eig_left_eigenvectors_still_raise():
    with pytest.raises(NotDifferentiableError, match="right eigenvectors"):
        nd.grad(lambda a: np.sum(np.abs(sl.eig(a, left=True)[1]) ** 2))(M(3, 3))


def test_lu_of_a_wide_matrix_reconstructs_and_differentiates():
    a = rng.standard_normal((3, 5))

    def loss(a):
        p, lo, up = sl.lu(a)
        return np.sum((p @ lo @ up - a) ** 2) + np.sum(up**2) + np.sum(lo**3)

    check_grad(loss, a, order=2)


def test_gaussian_process_hyperparameters_fit_with_minimize_jac_true():
    from scipy.optimize import minimize

    x = np.linspace(0, 5, 12)
    y = np.sin(x) + 0.1 * rng.standard_normal(12)
    start = np.log(np.array([0.5, 2.0, 0.5]))
    res = minimize(nd.value_and_grad(_gp_nll), start, args=(x, y), jac=True, method="BFGS")
    assert res.success and res.fun < _gp_nll(start, x, y)
    np.testing.assert_allclose(nd.grad(_gp_nll)(res.x, x, y), 0, atol=1e-4)


def test_fractional_matrix_power_differentiates_in_the_exponent():
    """The exponent had no rule (a silent zero); d(A^t)/dt = A^t log(A), checked against FD."""
    rng = np.random.default_rng(3)
    m = rng.standard_normal((3, 3))
    a = m @ m.T + 3 * np.eye(3)
    w = rng.standard_normal((3, 3))

    def f(t):
        return np.sum(sl.fractional_matrix_power(a, t) * w)

    for t in (0.7, -1.3, 2.0):
        h = 1e-6
        fd = (f(t + h) - f(t - h)) / (2 * h)
        np.testing.assert_allclose(nd.grad(f)(t), fd, rtol=1e-6)
        fd2 = (nd.grad(f)(t + h) - nd.grad(f)(t - h)) / (2 * h)
        np.testing.assert_allclose(nd.grad(nd.grad(f))(t), fd2, rtol=1e-5)


def test_lstsq_residuals_imaginary_part_takes_no_cotangent():
    """SciPy 1.18 returns the residuals of a complex least-squares problem as a complex number
    whose imaginary part is zero for every a and b: a cotangent's imaginary part there must not
    change the gradient (it did, silently, before the rule took the real part)."""
    from ndgrad._rules.linalg import lstsq_vjp

    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 2)) + 1j * rng.standard_normal((4, 2))
    b = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    gx, gs = rng.standard_normal(2) + 1j * rng.standard_normal(2), np.zeros(2)
    for is_b in (False, True):
        real = lstsq_vjp((gx, np.complex128(0.7), None, gs), a, b, None, is_b=is_b)
        imag = lstsq_vjp((gx, np.complex128(0.7 + 3.0j), None, gs), a, b, None, is_b=is_b)
        np.testing.assert_array_equal(real, imag)


# --- array_like arguments given as lists -----------------------------------------------------

_C = [[2.0, 0.3], [0.1, 1.5]]
_V = [1.0, -0.5]


def _nested(p):  # a matrix built from parameters as a nested list, as model code writes it
    return [[p[0] + 2, p[1]], [p[1] * 0.5, p[2] + 2]]


def _spd(p):
    return [[p[0] + 2, p[1]], [p[1], p[2] + 2]]


# Each of these raised AttributeError or TypeError in backward: the rules read ``a.shape``,
# ``b.ndim`` of what SciPy had taken as array_like. The lists are now made arrays (a nested
# list holding GradArrays is stacked, so that its entries stay inputs) before the call is
# recorded.
LISTS = {
    "solve, a constant list": lambda p: sl.solve(_C, p[:2]),
    "solve, b a constant list": lambda p: sl.solve(np.diag(2 + np.exp(p[:2])), _V),
    "solve, a nested list of parameters": lambda p: sl.solve(_nested(p), _V),
    "solve_triangular, b a list": lambda p: sl.solve_triangular(np.diag(2 + np.exp(p[:2])), _V),
    "det": lambda p: sl.det(_nested(p)),
    # (SciPy 1.18's cho_factor and lstsq read a.shape of a list themselves: an array here)
    "cho_solve, b a list": lambda p: sl.cho_solve(sl.cho_factor(np.diag(2 + np.exp(p[:2]))), _V),
    "lu_solve, b a list": lambda p: sl.lu_solve(sl.lu_factor(_nested(p)), _V),
    "lstsq, b a list": lambda p: sl.lstsq(np.reshape(p, (2, 2)) + 3 * np.eye(2), _V)[0],
    "pinv": lambda p: sl.pinv(_nested(p)),
    "pinvh": lambda p: sl.pinvh(_spd(p)),
    "norm": lambda p: sl.norm(_nested(p)),
    "qr": lambda p: np.abs(np.diag(sl.qr(_nested(p))[1])),
    "expm": lambda p: sl.expm(_nested(p)),
    "expm_frechet, A a list": lambda p: sl.expm_frechet(_C, np.reshape(p, (2, 2)))[1],
    "solve_banded, ab a list": lambda p: sl.solve_banded(
        (1, 1), [[0.0, 0.3, 0.2], [2.0, 2.0, 2.0], [0.1, 0.2, 0.0]], p[:3]
    ),
    "solve_banded, b a list": lambda p: sl.solve_banded(
        (1, 1),
        np.array([[0.0, 0.3, 0.2], [2.0, 2.0, 2.0], [0.1, 0.2, 0.0]]) * p[0],
        [1.0, 2.0, 3.0],
    ),
}


@pytest.mark.parametrize("name", LISTS)
def test_array_like_arguments_given_as_lists(name):
    f = LISTS[name]
    p = np.array([1.0, 0.3, 0.5, -0.2])
    check_grad(lambda p: f(p) ** 2, p)
    t = np.array([0.3, -0.2, 0.5, 0.1])
    _, tangent = nd.jvp(lambda p: np.sum(f(p) ** 2), (p,), (t,))
    h = 1e-6
    want = (np.sum(f(p + h * t) ** 2) - np.sum(f(p - h * t) ** 2)) / (2 * h)
    assert np.isclose(tangent, want, rtol=1e-5)


_B3 = [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "call",
    [
        lambda p: sl.solve_toeplitz([p, np.array([3.0, 0.2, 0.1])], _B3),  # a list: two c's
        lambda p: sl.solve_toeplitz([3.0, 0.5, 0.1], p),  # a list of numbers: c
        lambda p: sl.solve_toeplitz(p, _B3),
        lambda p: sl.solve_toeplitz((p, [3.0, 0.2, 0.1]), _B3),  # a tuple: the pair (c, r)
        lambda p: sl.solve_toeplitz(([3.0, 0.2, 0.1], p), _B3),
        lambda p: sl.solve_toeplitz(([3.0, 0.5, 0.1], [3.0, 0.2, 0.1]), p),
    ],
)
def test_solve_toeplitz_reads_only_a_tuple_as_the_pair_c_r(call):
    # SciPy takes a tuple as (c, r) and anything else as c; the rules took a list as (c, r)
    # too: a batch of two c's given as a list got a gradient error in reverse mode and, in
    # forward mode, a wrong directional derivative (-2.51 for -1.41) without any error
    def f(p):
        return np.sum(call(p) ** 2)

    p = np.array([3.0, 0.5, 0.1])
    check_grad(f, p)
    t = np.array([0.3, -0.2, 0.5])
    _, tangent = nd.jvp(f, (p,), (t,))
    h = 1e-6
    assert np.isclose(tangent, (f(p + h * t) - f(p - h * t)) / (2 * h), rtol=1e-5)
