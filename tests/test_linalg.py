"""numpy.linalg gradients against closed forms, and the documented edge cases.

The systematic test (test_rules.py) checks every rule against finite differences; this file
checks what finite differences alone do not pin down: closed forms, the one-triangle convention,
degenerate spectra, phase-free complex vectors and the clear errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad.testing import check_grad

rng = np.random.default_rng(7)


def _mat(n, shift=3.0):
    return rng.standard_normal((n, n)) + shift * np.eye(n)


def _spd(n):
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


# --- closed forms -------------------------------------------------------------------------------


def test_det_gradient_is_det_times_inverse_transpose():
    a = _mat(3)
    g = nd.grad(np.linalg.det)(a)
    np.testing.assert_allclose(g, np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-10)


@pytest.mark.parametrize(
    "a", [np.array([[1.0, 2.0], [2.0, 4.0]]), np.arange(9.0).reshape(3, 3), np.zeros((3, 3))]
)
def test_det_gradient_of_singular_matrix_is_cofactor_matrix(a):
    n = a.shape[0]
    cofactor = np.array(
        [
            [(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
            for i in range(n)
        ]
    )
    np.testing.assert_allclose(nd.grad(np.linalg.det)(a), cofactor, atol=1e-12)


def test_det_gradient_of_nearly_singular_complex_matrix():
    a = np.arange(9.0).reshape(3, 3) + 1j * np.array([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]])
    a[2] = a[0] + a[1] + 1e-13
    check_grad(np.linalg.det, a)


def test_logabsdet_gradient_is_inverse_transpose_even_for_negative_det():
    a = -_mat(3)
    assert np.linalg.det(a) < 0
    g = nd.grad(lambda x: np.linalg.slogdet(x)[1])(a)
    np.testing.assert_allclose(g, np.linalg.inv(a).T, rtol=1e-10)


def test_logdet_hessian_closed_form():
    # d2 log det / dA_ij dA_kl = -inv[l, i] * inv[j, k]
    a = _mat(2)
    h = nd.hessian(lambda x: np.linalg.slogdet(x)[1])(a)
    inv = np.linalg.inv(a)
    expected = -np.einsum("li,jk->ijkl", inv, inv)
    np.testing.assert_allclose(h, expected, rtol=1e-8, atol=1e-12)


def test_inv_gradient_of_trace():
    # d tr(A^-1) / dA = -(A^-2)^T
    a = _mat(3)
    g = nd.grad(lambda x: np.sum(np.linalg.inv(x) * np.eye(3)))(a)
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(g, -(inv @ inv).T, rtol=1e-10)


def test_solve_gradients_closed_form():
    a, b, c = _mat(3), rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = nd.grad(lambda a, b: c @ np.linalg.solve(a, b), argnums=(0, 1))(a, b)
    y = np.linalg.solve(a.T, c)
    x = np.linalg.solve(a, b)
    np.testing.assert_allclose(gb, y, rtol=1e-10)
    np.testing.assert_allclose(ga, -np.outer(y, x), rtol=1e-10)


def test_solve_batched_a_with_shared_b_sums_gradient_of_b():
    a = np.stack([_mat(3), _mat(3)])
    b = rng.standard_normal(3)
    gb = nd.grad(lambda b: np.sum(np.linalg.solve(a, b)))(b)
    expected = sum(np.linalg.solve(a[i].T, np.ones(3)) for i in range(2))
    np.testing.assert_allclose(gb, expected, rtol=1e-10)


def test_lstsq_square_equals_solve_gradient():
    a, b = _mat(3), rng.standard_normal(3)
    ga, gb = nd.grad(lambda a, b: np.sum(np.linalg.lstsq(a, b)[0] ** 2), argnums=(0, 1))(a, b)
    ha, hb = nd.grad(lambda a, b: np.sum(np.linalg.solve(a, b) ** 2), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, ha, rtol=1e-8)
    np.testing.assert_allclose(gb, hb, rtol=1e-8)


def test_nuclear_norm_gradient_is_u_vh():
    a = rng.standard_normal((3, 2))
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    g = nd.grad(lambda x: np.linalg.norm(x, "nuc"))(a)
    np.testing.assert_allclose(g, u @ vh, rtol=1e-10)


def test_spectral_norm_gradient_is_top_singular_pair():
    a = rng.standard_normal((3, 3))
    u, _, vh = np.linalg.svd(a)
    g = nd.grad(lambda x: np.linalg.matrix_norm(x, ord=2))(a)
    np.testing.assert_allclose(g, np.outer(u[:, 0], vh[0]), rtol=1e-8)


def test_matrix_power_gradient_matches_products():
    a = _mat(2)
    g = nd.grad(lambda x: np.sum(np.linalg.matrix_power(x, 3)))(a)
    h = nd.grad(lambda x: np.sum(x @ x @ x))(a)
    np.testing.assert_allclose(g, h, rtol=1e-10)


def test_eigvalsh_sum_of_squares_is_frobenius_on_lower_triangle():
    # sum(w^2) = ||A||_F^2 of the symmetric matrix NumPy builds from the lower triangle.
    a = _spd(3)
    g = nd.grad(lambda x: np.sum(np.linalg.eigvalsh(x) ** 2))(a)
    expected = np.tril(4 * a, -1) + np.diag(2 * np.diag(a))
    np.testing.assert_allclose(g, expected, rtol=1e-8, atol=1e-10)


# --- one triangle read --------------------------------------------------------------------------


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_ignored_triangle_gets_zero_gradient(upper):
    a = _spd(3)
    g = nd.grad(lambda x: np.sum(np.linalg.cholesky(x, upper=upper) ** 2))(a)
    ignored = np.triu(g, 1) if not upper else np.tril(g, -1)
    assert np.all(ignored == 0)


def test_cholesky_of_symmetrized_input_gives_symmetric_inverse():
    # 2 sum(log diag L) = log det A, whose gradient over symmetric A is A^-1.
    a = _spd(3)
    g = nd.grad(
        lambda x: 2 * np.sum(np.log(np.sum(np.linalg.cholesky((x + x.T) / 2) * np.eye(3), 1)))
    )(a)
    np.testing.assert_allclose(g, np.linalg.inv(a), rtol=1e-8)


def test_eigh_upper_reads_upper_triangle():
    a = _spd(3)
    g = nd.grad(lambda x: np.sum(np.linalg.eigh(x, UPLO="U")[0] ** 3))(a)
    assert np.all(np.tril(g, -1) == 0)
    check_grad(lambda x: np.linalg.eigh(x, UPLO="U")[0], a, order=2)


# --- degenerate spectra -------------------------------------------------------------------------


def test_eigenvalue_gradient_finite_at_degenerate_eigenvalues():
    a = np.diag([1.0, 1.0, 2.0])
    g = nd.grad(lambda x: np.sum(np.linalg.eigh(x)[0] ** 2))(a)
    np.testing.assert_allclose(g, 2 * a, atol=1e-12)


def test_eigenvector_gradient_at_degenerate_eigenvalues_is_finite():
    # Undefined mathematically; ndgrad drops the coupling of equal eigenvalues (documented).
    a = np.diag([1.0, 1.0, 2.0])
    g = nd.grad(lambda x: np.sum(np.linalg.eigh(x)[1][:, 2] ** 2 * np.arange(3)))(a)
    assert np.all(np.isfinite(g))


def test_svdvals_gradient_finite_at_repeated_singular_values():
    g = nd.grad(lambda x: np.sum(np.linalg.svd(x)[1]))(np.eye(3))
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)


def test_infinity_norm_splits_ties_evenly():
    x = np.array([1.0, -3.0, 3.0])
    g = nd.grad(lambda v: np.linalg.norm(v, np.inf))(x)
    np.testing.assert_allclose(g, [0.0, -0.5, 0.5])


def test_two_norm_of_zero_vector_has_zero_gradient():
    g = nd.grad(lambda v: np.linalg.norm(v))(np.zeros(3))
    np.testing.assert_array_equal(g, np.zeros(3))


# --- complex ------------------------------------------------------------------------------------


def _complex(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(3, 2), (2, 3), (2, 2), (2, 2, 3)])
def test_complex_svd_phase_free_functions(shape):
    def f(a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.abs(u) ** 2, s, np.abs(vh) ** 2, u[..., :1] @ vh[..., :1, :]

    check_grad(f, _complex(*shape), order=2)


def test_complex_det_is_holomorphic_convention():
    # f = |det A|^2 = det conj(det): the gradient is 2 |det A|^2 A^-H.
    a = _complex(2, 2) + 2 * np.eye(2)
    g = nd.grad(lambda x: np.abs(np.linalg.det(x)) ** 2)(a)
    expected = 2 * np.abs(np.linalg.det(a)) ** 2 * np.linalg.inv(a).conj().T
    np.testing.assert_allclose(g, expected, rtol=1e-10)


def test_complex_slogdet_sign_gradient():
    a = _complex(2, 2) + 2 * np.eye(2)
    check_grad(lambda x: np.linalg.slogdet(x)[0], a, order=2)


def test_eig_of_real_matrix_with_complex_eigenvalues():
    a = np.array([[1.0, -2.0, 0.3], [2.0, 1.0, 0.1], [0.0, 0.5, 3.0]])
    assert np.iscomplexobj(np.linalg.eigvals(a))
    check_grad(np.linalg.eigvals, a, order=2)
    check_grad(lambda x: np.abs(np.linalg.eig(x)[1]) ** 2, a)


# --- errors and types ---------------------------------------------------------------------------


def test_full_svd_of_non_square_refuses_extra_columns():
    a = nd.GradArray(rng.standard_normal((3, 2)), requires_grad=True)
    u, _, _ = np.linalg.svd(a)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        np.sum(u).backward()


def test_full_svd_of_non_square_allows_singular_values():
    a = rng.standard_normal((3, 2))
    g = nd.grad(lambda x: np.sum(np.linalg.svd(x)[1]))(a)
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(g, u @ vh, rtol=1e-10)


def test_complete_qr_of_tall_matrix_raises():
    a = nd.GradArray(rng.standard_normal((3, 2)), requires_grad=True)
    q, _ = np.linalg.qr(a, mode="complete")
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        np.sum(q).backward()


def test_matrix_rank_is_a_plain_integer():
    a = nd.GradArray(_mat(3), requires_grad=True)
    r = np.linalg.matrix_rank(a)
    assert not isinstance(r, nd.GradArray)
    assert r == 3


def test_inv_float32_gradient_stays_float32():
    a = nd.GradArray(_mat(3).astype(np.float32), requires_grad=True)
    np.sum(np.linalg.inv(a)).backward()
    assert a.grad.dtype == np.float32


def test_inv_rule_keeps_only_its_output():
    from ndgrad._registry import VJP_RULES

    prim = VJP_RULES[np.linalg.inv]
    assert prim.saves == frozenset() and prim.saves_ans


def test_solve_rule_keeps_a_and_only_the_shape_of_b():
    from ndgrad._registry import VJP_RULES

    prim = VJP_RULES[np.linalg.solve]
    assert prim.saves == frozenset({0}) and prim.meta == frozenset({1})


def test_solve_after_b_is_modified_in_place_still_backpropagates():
    a = nd.GradArray(_mat(3), requires_grad=True)
    b = rng.standard_normal(3)
    x = np.linalg.solve(a, b)
    b[:] = 0.0  # b is not needed for the gradient
    np.sum(x).backward()
    expected = -np.outer(np.linalg.solve(a.values.T, np.ones(3)), x.values)
    np.testing.assert_allclose(a.grad, expected, rtol=1e-10)


@pytest.mark.parametrize(
    "f",
    [
        np.linalg.det,
        lambda a: np.linalg.slogdet(a)[1],
        lambda a: np.linalg.eigh(a)[1],
        np.linalg.eigvalsh,
        lambda a: np.linalg.svd(a)[0],
        np.linalg.svdvals,
        np.linalg.cholesky,
        lambda a: np.linalg.qr(a)[1],
        np.linalg.pinv,
        lambda a: np.linalg.norm(a, "nuc"),
        lambda a: np.linalg.eig(a)[0],
    ],
)
def test_float32_gradients_stay_float32(f):
    a = nd.GradArray(_spd(3).astype(np.float32), requires_grad=True)
    np.sum(np.abs(f(a))).backward()
    assert a.grad.dtype == np.float32 and np.all(np.isfinite(a.grad))


def test_lstsq_rank_deficient_gradient_in_b_uses_the_minimum_norm_solution():
    a = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    b, w = rng.standard_normal(3), rng.standard_normal(2)
    g = nd.grad(lambda v: np.sum(w * np.linalg.lstsq(a, v)[0]))(b)
    np.testing.assert_allclose(g, np.linalg.pinv(a).T @ w, rtol=1e-10)


def test_jvp_of_inv_and_eigvalsh():
    a, da = _mat(3), rng.standard_normal((3, 3))
    _, t = nd.jvp(np.linalg.inv, (a,), (da,))
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(t, -inv @ da @ inv, rtol=1e-10)
    s, ds = _spd(3), np.tril(rng.standard_normal((3, 3)))
    _, t = nd.jvp(np.linalg.eigvalsh, (s,), (ds,))
    eps = 1e-6
    fd = (np.linalg.eigvalsh(s + eps * ds) - np.linalg.eigvalsh(s - eps * ds)) / (2 * eps)
    np.testing.assert_allclose(t, fd, rtol=1e-6, atol=1e-8)


# --- rank-deficient inputs ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("hermitian", [False, True])
def test_pinv_of_a_fixed_low_rank_matches_finite_differences_to_second_order(seed, hermitian):
    """``pinv(x.T @ x)`` of a rank-2 ``x = u @ v`` (3 x 3, rank 2): the rank stays 2 along every
    direction of ``u`` and ``v``, so finite differences in them test pinv's rule (its terms with
    ``I - A X`` vanish at full rank) to second order."""
    rng = np.random.default_rng(seed)
    u, v, w = rng.standard_normal((5, 2)), rng.standard_normal((2, 3)), rng.standard_normal((3, 3))

    def f(u, v):
        x = u @ v
        return np.sum(np.linalg.pinv(x.T @ x, hermitian=hermitian) * w)

    check_grad(f, u, v, order=2)
    check_grad(lambda u, v: np.linalg.pinv(u @ v), u, v, order=2)


def test_qr_of_a_rank_deficient_input_with_a_zero_cotangent_gives_zero():
    """R is singular, so the rule cannot solve with it; a zero cotangent needs no solve."""
    for a0 in (np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), np.zeros((2, 3))):
        a = nd.GradArray(a0, requires_grad=True)
        q, r = np.linalg.qr(a)
        (np.sum(a) + 0.0 * np.sum(r) + 0.0 * np.sum(q)).backward()
        np.testing.assert_array_equal(a.grad, np.ones_like(a0))
    a = nd.GradArray(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), requires_grad=True)
    with pytest.raises(np.linalg.LinAlgError, match="rank-deficient"):
        np.sum(np.linalg.qr(a)[1]).backward()
