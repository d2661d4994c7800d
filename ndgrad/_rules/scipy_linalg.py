"""Gradient rules for ``scipy.linalg``: solves, factorizations, decompositions, matrix functions.

A rule is ``rule(g, ans, *args, **kwargs) -> cotangent`` for one positional argument, with
SciPy's own parameter names and order; a function with several outputs (``eigh``, ``svd``,
``cho_factor``, ``lu_factor``, ``lstsq``) gets ``g`` and ``ans`` as tuples. An argument that is
a tuple (``cho_solve((c, lower), b)``, ``lu_solve((lu, piv), b)``, ``solve_banded((l, u), ab,
b)``) gets a cotangent of the same structure, ``None`` where nothing flows. Rules are NumPy
calls and calls of ``scipy.linalg`` itself (through ndgrad's wrappers), so they differentiate
again. SciPy is imported lazily: registration runs once ``scipy.linalg`` is imported.

The math is that of ``numpy.linalg``'s rules (``ndgrad/_rules/linalg.py``), whose helpers are
called here, and so are its conventions: complex gradients are ``dL/dRe z + 1j dL/dIm z``;
eigen- and singular vectors are defined up to a phase; at repeated eigenvalues or singular
values the terms that couple exactly equal values are dropped (``1 / 0`` taken as ``0``).

Triangles. A function that reads one triangle of its input gets the derivative of exactly the
function SciPy computes: the triangle it ignores gets zero, and each off-diagonal element of the
triangle it reads gets the contributions of both positions it stands for. This covers
``cholesky``, ``eigh``/``eigvalsh`` (``lower``), ``pinvh``, ``solve``/``inv`` with
``assume_a`` in ``'sym'``, ``'her'``, ``'pos'`` (one triangle), ``'upper triangular'``/``'lower
triangular'``, ``'diagonal'``, ``'tridiagonal'`` (the bands read), ``solve_triangular`` (and its
diagonal, ignored with ``unit_diagonal=True``), ``cho_solve`` and ``lu_solve`` (the triangles of
the factor that hold ``L`` and ``U``). ``cho_factor`` returns ``c`` whose unused triangle is
what LAPACK left there, an exact copy of ``a``'s (SciPy 1.17 and before; its cotangent flows
straight to that triangle of ``a``), or zeros (SciPy 1.18; no cotangent), so ``cho_factor``
then ``cho_solve`` differentiates as ``solve`` of the Hermitian matrix built from the triangle
that was read.

``solve`` and ``inv`` with ``assume_a=None`` detect the structure from the values: a small
change of any element gives a general matrix, so their gradient is the general one.

Forward mode: a JVP rule beside each VJP rule (``_jvp``), the differential of the same function
with the same conventions (triangles read, gauges of eigen- and singular vectors); the special
matrices (``toeplitz``, ``circulant``, ``hankel``) are linear.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np

from ndgrad._array import as_array
from ndgrad._errors import not_differentiable
from ndgrad._registry import unbroadcast
from ndgrad._rules._common import conj, is_complex, zeros_of
from ndgrad._rules._lazy import after_import
from ndgrad._rules._scipy import defjvp_scipy, deflinear_scipy, defvjp_scipy
from ndgrad._rules.indexing import scatter_add
from ndgrad._rules.linalg import (
    cholesky_jvp,
    cholesky_vjp,
    det_jvp,
    det_vjp,
    diag_embed,
    diagonals,
    eig_grad,
    eig_jvp,
    hermitian_from,
    inv_gap,
    lstsq_jvp,
    lstsq_vjp,
    mH,
    mT,
    norm_jvp,
    norm_vjp,
    pinv_grad,
    pinv_jvp,
    qr_grad,
    qr_jvp,
    right_solve,
    svd_jvp,
    svd_vjp,
    tri_read,
)

_MODULE = "scipy.linalg"


def _sl() -> Any:
    """``scipy.linalg`` (imported by then: rules run only after it registered them)."""
    return sys.modules[_MODULE]


# SciPy's names of the matrices and vectors its functions read as ``array_like``: a nested
# list there (of numbers, or holding GradArrays) is made one array before the call is recorded.
# Not the tuples some take (``c_and_lower``, ``lu_and_piv``, ``l_and_u``, ``c_or_cr``).
_ARRAY_LIKE = ("a", "b", "A", "E", "c", "r", "ab", "q")


def _rule(name: str, *rules: Any) -> None:
    defvjp_scipy(_MODULE, name, *rules, arrays=_ARRAY_LIKE)


# --- masks and structured matrices: constants (no gradient), built with NumPy ----------------


def _tri_mask(n, lower, strict=False):
    """The lower (or upper) triangle of an ``n x n`` matrix, with or without the diagonal."""
    k = -1 if strict else 0
    mask = np.tri(n, k=k, dtype=bool)
    return mask if lower else mask.T


def _band_mask(n, below, above):
    i = np.arange(n)
    d = np.expand_dims(i, -1) - i  # row - column
    return (d <= below) & (-d <= above)


_TRANS = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2, "n": 0, "t": 1, "c": 2}


def _op_adjoint_solve(solve, g, trans, complex_):
    """``op(M)^-H g`` given ``solve(rhs, trans)`` = ``op_trans(M)^-1 rhs``."""
    if trans == 0:
        return solve(g, 2 if complex_ else 1)
    if trans == 2:
        return solve(g, 0)
    # op(M) = M^T, whose conjugate transpose is conj(M): conj(M)^-1 g = conj(M^-1 conj(g))
    return conj(solve(conj(g), 0)) if complex_ else solve(g, 0)


def _from_op(g_op, trans):
    """The cotangent of M from that of op(M) (M, M^T or M^H)."""
    return g_op if trans == 0 else mT(g_op) if trans == 1 else mH(g_op)


def _as_columns(b, x):
    """``x`` with a trailing column axis when ``b`` is a vector."""
    if b.ndim == 1:
        return np.expand_dims(x, -1)
    return x


def _vector_back(x, b):
    """Drop the column axis ``_as_columns`` added for a vector ``b``."""
    return x[..., 0] if b.ndim == 1 else x


def _column_cotangent(gb, b):
    """The cotangent of ``b`` from that of its column form, summed over a batch it was shared by."""
    return unbroadcast(gb[..., 0] if b.ndim == 1 else gb, b.shape)


# --- solving linear systems ----------------------------------------------------------------


def _solve_triangular_gb(g, a, trans, lower, unit_diagonal, b):
    """op(T)^-H g, with a column axis when ``b`` is a vector."""

    def solve(rhs, tr):
        return _sl().solve_triangular(a, rhs, trans=tr, lower=lower, unit_diagonal=unit_diagonal)

    return _op_adjoint_solve(
        solve, _as_columns(b, g), _TRANS[trans], is_complex(a) or is_complex(g)
    )


def _solve_triangular_vjp_a(
    g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, **kwargs
):
    """x = op(T)^-1 b: gT = -(op(T)^-H g) x^H, transposed back through op, on the triangle."""
    gb = _solve_triangular_gb(g, a, trans, lower, unit_diagonal, b)
    x = _as_columns(b, ans)
    ga = _from_op(-gb @ mH(x), _TRANS[trans]) * _tri_mask(a.shape[-1], lower, unit_diagonal)
    return unbroadcast(ga, a.shape)


def _solve_triangular_vjp_b(
    g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, **kwargs
):
    return _column_cotangent(_solve_triangular_gb(g, a, trans, lower, unit_diagonal, b), b)


def _solve_triangular_jvp_a(
    t, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, **kwargs
):
    """dx = -op(T)^-1 op(dT) x, dT the part of ``t`` that is read."""
    dt = t * _tri_mask(t.shape[-1], lower, unit_diagonal)
    rhs = -(_from_op(dt, _TRANS[trans]) @ _as_columns(b, ans))
    dx = _sl().solve_triangular(a, rhs, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    return _vector_back(dx, b)


def _solve_triangular_jvp_b(
    t, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, **kwargs
):
    return _sl().solve_triangular(a, t, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


_rule("solve_triangular", _solve_triangular_vjp_a, _solve_triangular_vjp_b)
defjvp_scipy(_MODULE, "solve_triangular", _solve_triangular_jvp_a, _solve_triangular_jvp_b)


def _structured(a, assume_a, lower):
    """The matrix SciPy solves with for ``assume_a``: the parts of ``a`` it reads, filled in."""
    n = a.shape[-1]
    if assume_a in ("her", "hermitian", "pos", "positive definite"):
        return hermitian_from(a, lower)
    if assume_a in ("sym", "symmetric"):
        strict = a * _tri_mask(n, lower, strict=True)
        return a * np.eye(n) + strict + mT(strict)
    mask = _read_mask(n, assume_a, lower)
    return a if mask is None else a * mask


def _read_mask(n, assume_a, lower):
    if assume_a in ("upper triangular", "lower triangular"):
        return _tri_mask(n, assume_a == "lower triangular")
    if assume_a == "diagonal":
        return np.eye(n, dtype=bool)
    if assume_a == "tridiagonal":
        return _band_mask(n, 1, 1)
    return None


def _structured_read(grad, assume_a, lower):
    """The cotangent of ``a`` from that of the matrix ``_structured`` built from it."""
    n = grad.shape[-1]
    if assume_a in ("her", "hermitian", "pos", "positive definite"):
        return tri_read(grad, lower)
    if assume_a in ("sym", "symmetric"):
        return (grad + mT(grad)) * _tri_mask(n, lower, strict=True) + grad * np.eye(n)
    mask = _read_mask(n, assume_a, lower)
    return grad if mask is None else grad * mask


def _solve_gb(g, a, b, lower, assume_a, transposed):
    m = _structured(a, assume_a, lower)
    m = mT(m) if transposed else m
    return m, np.linalg.solve(mH(m), _as_columns(b, g))


def _solve_vjp_a(
    g, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
    assume_a=None, transposed=False,
):  # fmt: skip
    """x = M^-1 b, M the matrix built from the parts of ``a`` read: gM = -(M^-H g) x^H."""
    _, gb = _solve_gb(g, a, b, lower, assume_a, transposed)
    gm = -gb @ mH(_as_columns(b, ans))
    gm = mT(gm) if transposed else gm
    return unbroadcast(_structured_read(gm, assume_a, lower), a.shape)


def _solve_vjp_b(
    g, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
    assume_a=None, transposed=False,
):  # fmt: skip
    _, gb = _solve_gb(g, a, b, lower, assume_a, transposed)
    gb = gb[..., 0] if b.ndim == 1 else gb
    return unbroadcast(gb, b.shape)


def _solve_matrix(a, assume_a, lower, transposed):
    m = _structured(a, assume_a, lower)
    return mT(m) if transposed else m


def _solve_jvp_a(
    t, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
    assume_a=None, transposed=False,
):  # fmt: skip
    """dx = -M^-1 dM x, dM built from ``t`` as M from ``a``."""
    dm = _solve_matrix(t, assume_a, lower, transposed)
    m = _solve_matrix(a, assume_a, lower, transposed)
    return _vector_back(np.linalg.solve(m, -(dm @ _as_columns(b, ans))), b)


def _solve_jvp_b(
    t, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
    assume_a=None, transposed=False,
):  # fmt: skip
    m = _solve_matrix(a, assume_a, lower, transposed)
    return _vector_back(np.linalg.solve(m, _as_columns(b, t)), b)


_rule("solve", _solve_vjp_a, _solve_vjp_b)
defjvp_scipy(_MODULE, "solve", _solve_jvp_a, _solve_jvp_b)


def _inv_vjp(g, ans, a, overwrite_a=False, check_finite=True, *, assume_a=None, lower=False):
    """d(M^-1) = -M^-1 dM M^-1 for the matrix M built from the parts of ``a`` read."""
    if assume_a == "diagonal":
        # SciPy inverts the diagonal and leaves the other elements of ``a`` as they are.
        return np.where(np.eye(a.shape[-1], dtype=bool), -g * conj(ans * ans), g)
    return _structured_read(-mH(ans) @ g @ mH(ans), assume_a, lower)


def _inv_jvp(t, ans, a, overwrite_a=False, check_finite=True, *, assume_a=None, lower=False):
    if assume_a == "diagonal":  # the diagonal inverted, the other elements of ``a`` kept
        return np.where(np.eye(t.shape[-1], dtype=bool), -t * ans * ans, t)
    return -ans @ _structured(t, assume_a, lower) @ ans


_rule("inv", _inv_vjp)
defjvp_scipy(_MODULE, "inv", _inv_jvp)
_rule("det", lambda g, ans, a, overwrite_a=False, check_finite=True: det_vjp(g, ans, a))
defjvp_scipy(
    _MODULE, "det", lambda t, ans, a, overwrite_a=False, check_finite=True: det_jvp(t, ans, a)
)

# --- Cholesky ------------------------------------------------------------------------------


def _cholesky_vjp_scipy(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    return cholesky_vjp(g, ans, a, upper=not lower)


_rule("cholesky", _cholesky_vjp_scipy)
defjvp_scipy(
    _MODULE,
    "cholesky",
    lambda t, ans, a, lower=False, overwrite_a=False, check_finite=True: cholesky_jvp(
        t, ans, upper=not lower
    ),
)


@functools.cache
def _cho_factor_keeps_other() -> bool:
    """Whether this SciPy's ``cho_factor`` leaves ``a``'s own values in the triangle it does not
    use (SciPy 1.17 and before) or zeros there (1.18): the gradient of that triangle is ``g``
    itself, or zero. Asked of SciPy once, since the two give the same values where ``a`` has
    zeros there."""
    c, _ = _sl().cho_factor(np.array([[2.0, 1.0], [1.0, 2.0]]))
    return bool(c[1, 0] != 0)


def _cho_factor_vjp(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    """The factor's triangle as ``cholesky``; the other triangle is ``a``'s own, copied, or
    zeros (``_cho_factor_keeps_other``)."""
    gc = g[0]
    n = a.shape[-1]
    used = _tri_mask(n, lower)
    grad = cholesky_vjp(gc * used, ans[0] * used, a, upper=not lower)
    if not _cho_factor_keeps_other():
        return grad
    return grad + gc * _tri_mask(n, not lower, strict=True)


def _cho_factor_jvp(t, ans, a, lower=False, overwrite_a=False, check_finite=True):
    n = t.shape[-1]
    factor = cholesky_jvp(t, ans[0] * _tri_mask(n, lower), upper=not lower)
    if not _cho_factor_keeps_other():
        return factor, None
    return factor + t * _tri_mask(n, not lower, strict=True), None


_rule("cho_factor", _cho_factor_vjp)
defjvp_scipy(_MODULE, "cho_factor", _cho_factor_jvp)


def _cho_solve_gb(g, c_and_lower, b):
    return _sl().cho_solve(c_and_lower, _as_columns(b, g))


def _cho_solve_vjp_c(g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    """x = (L L^H)^-1 b, L the triangle of c: gA = -(A^-1 g) x^H, gL = (gA + gA^H) L."""
    c, lower = c_and_lower
    lower = bool(np.ravel(lower)[0])  # a batched cho_factor returns one flag per matrix
    n = c.shape[-1]
    gb = _cho_solve_gb(g, c_and_lower, b)
    ga = -gb @ mH(_as_columns(b, ans))
    ga = ga + mH(ga)
    tri = c * _tri_mask(n, lower)
    gc = ga @ tri if lower else tri @ ga
    return (unbroadcast(gc * _tri_mask(n, lower), c.shape), None)


def _cho_solve_vjp_b(g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    return _column_cotangent(_cho_solve_gb(g, c_and_lower, b), b)


def _cho_solve_jvp_c(t, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    """A = L L^H (or U^H U), L the triangle of c: dx = -A^-1 dA x."""
    c, lower = c_and_lower
    lower = bool(np.ravel(lower)[0])
    mask = _tri_mask(c.shape[-1], lower)
    tri, dtri = c * mask, t[0] * mask
    x = _as_columns(b, ans)
    if lower:
        da_x = dtri @ (mH(tri) @ x) + tri @ (mH(dtri) @ x)
    else:
        da_x = mH(dtri) @ (tri @ x) + mH(tri) @ (dtri @ x)
    return _vector_back(_sl().cho_solve(c_and_lower, -da_x), b)


_rule("cho_solve", _cho_solve_vjp_c, _cho_solve_vjp_b)
defjvp_scipy(
    _MODULE,
    "cho_solve",
    _cho_solve_jvp_c,
    lambda t, ans, c_and_lower, b, overwrite_b=False, check_finite=True: _sl().cho_solve(
        c_and_lower, t
    ),
)

# --- LU ------------------------------------------------------------------------------------


def _perm_from_piv(piv):
    """Row order ``perm`` with ``a[perm] = L U``, from LAPACK's row swaps (plain integers)."""
    piv = np.asarray(piv)
    n = piv.shape[-1]
    perm = np.broadcast_to(np.arange(n), piv.shape).copy()
    flat_perm = perm.reshape(-1, n)
    for row, swaps in zip(flat_perm, piv.reshape(-1, n), strict=True):
        for i, j in enumerate(swaps):
            row[i], row[j] = row[j], row[i]
    return perm


def _rows(x, perm):
    """``x[..., perm, :]`` for a stack of row orders."""
    return np.take_along_axis(x, np.expand_dims(perm, -1), axis=-2)


def _lu_parts(lu):
    n = lu.shape[-1]
    lo = lu * _tri_mask(n, True, strict=True) + np.eye(n)
    up = lu * _tri_mask(n, False)
    return lo, up


def _lu_factor_vjp(g, ans, a, overwrite_a=False, check_finite=True):
    """P^T A = L U: gA = P L^-H (tril_(L^H gL) + triu(gU U^H)) U^-H, gL, gU read from g."""
    if a.shape[-1] != a.shape[-2]:
        raise not_differentiable(
            "scipy.linalg.lu_factor", "the gradient is implemented for square matrices only"
        )
    glu = g[0]
    lu, piv = ans
    n = lu.shape[-1]
    lo, up = _lu_parts(lu)
    inner = (mH(lo) @ glu) * _tri_mask(n, True, strict=True) + (glu @ mH(up)) * _tri_mask(n, False)
    x = np.linalg.solve(mH(lo), inner)
    x = mH(np.linalg.solve(up, mH(x)))  # (L^-H inner) U^-H
    return _rows(x, np.argsort(_perm_from_piv(piv), axis=-1))


def _lu_factor_jvp(t, ans, a, overwrite_a=False, check_finite=True):
    """P^T A = L U: X = L^-1 P^T dA U^-1, dL = L tril_(X), dU = triu(X) U."""
    if t.shape[-1] != t.shape[-2]:
        raise not_differentiable(
            "scipy.linalg.lu_factor", "the derivative is implemented for square matrices only"
        )
    lu, piv = ans
    n = lu.shape[-1]
    lo, up = _lu_parts(lu)
    x = right_solve(np.linalg.solve(lo, _rows(t, _perm_from_piv(piv))), up)
    return lo @ (x * _tri_mask(n, True, strict=True)) + (x * _tri_mask(n, False)) @ up, None


_rule("lu_factor", _lu_factor_vjp)
defjvp_scipy(_MODULE, "lu_factor", _lu_factor_jvp)


def _lu_solve_gb(g, lu_and_piv, trans, b, complex_):
    def solve(rhs, tr):
        return _sl().lu_solve(lu_and_piv, rhs, trans=tr)

    return _op_adjoint_solve(solve, _as_columns(b, g), _TRANS[trans], complex_)


def _lu_solve_vjp_lu(g, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """x = op(A)^-1 b, A = P L U: gA as for ``solve``, then gL = P^T gA U^H, gU = L^H P^T gA."""
    lu, piv = lu_and_piv
    n = lu.shape[-1]
    gb = _lu_solve_gb(g, lu_and_piv, trans, b, is_complex(lu) or is_complex(g))
    ga = _from_op(-gb @ mH(_as_columns(b, ans)), _TRANS[trans])
    pga = _rows(ga, _perm_from_piv(piv))
    lo, up = _lu_parts(lu)
    glu = (pga @ mH(up)) * _tri_mask(n, True, strict=True) + (mH(lo) @ pga) * _tri_mask(n, False)
    return (unbroadcast(glu, lu.shape), None)


def _lu_solve_vjp_b(g, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    gb = _lu_solve_gb(g, lu_and_piv, trans, b, is_complex(lu_and_piv[0]) or is_complex(g))
    return _column_cotangent(gb, b)


def _lu_solve_jvp_lu(t, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """x = op(A)^-1 b, A = P L U: dx = -op(A)^-1 op(dA) x, dA = P (dL U + L dU)."""
    lu, piv = lu_and_piv
    n = lu.shape[-1]
    lo, up = _lu_parts(lu)
    dlu = t[0]
    d_rows = (dlu * _tri_mask(n, True, strict=True)) @ up + lo @ (dlu * _tri_mask(n, False))
    da = _rows(d_rows, np.argsort(_perm_from_piv(piv), axis=-1))
    rhs = -(_from_op(da, _TRANS[trans]) @ _as_columns(b, ans))
    return _vector_back(_sl().lu_solve(lu_and_piv, rhs, trans=trans), b)


_rule("lu_solve", _lu_solve_vjp_lu, _lu_solve_vjp_b)
defjvp_scipy(
    _MODULE,
    "lu_solve",
    _lu_solve_jvp_lu,
    lambda t, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True: _sl().lu_solve(
        lu_and_piv, t, trans=trans
    ),
)

# --- least squares and pseudo-inverses -----------------------------------------------------


def _lstsq_rcond(a, cond):
    # SciPy's cond=None means machine precision relative to the largest singular value.
    return np.finfo(a.dtype).eps if cond is None else cond


def _lstsq_g(g, ans, a):
    """``g`` with zeros for the singular values that ``lapack_driver='gelsy'`` does not return."""
    if ans[3] is None:
        return (*g[:3], np.zeros(min(a.shape[-2:])))
    return g


def _lstsq_vjp_a(g, ans, a, b, cond=None, overwrite_a=False, overwrite_b=False, **kwargs):
    return lstsq_vjp(_lstsq_g(g, ans, a), a, b, _lstsq_rcond(a, cond))


def _lstsq_vjp_b(g, ans, a, b, cond=None, overwrite_a=False, overwrite_b=False, **kwargs):
    return lstsq_vjp(_lstsq_g(g, ans, a), a, b, _lstsq_rcond(a, cond), is_b=True)


_rule("lstsq", _lstsq_vjp_a, _lstsq_vjp_b)
defjvp_scipy(
    _MODULE,
    "lstsq",
    lambda t, ans, a, b, cond=None, overwrite_a=False, overwrite_b=False, **kwargs: lstsq_jvp(
        t, ans, a, b, _lstsq_rcond(a, cond)
    ),
    lambda t, ans, a, b, cond=None, overwrite_a=False, overwrite_b=False, **kwargs: lstsq_jvp(
        t, ans, a, b, _lstsq_rcond(a, cond), is_b=True
    ),
)


def _pinv_vjp(g, ans, a, *, atol=None, rtol=None, return_rank=False, check_finite=True):
    """As ``numpy.linalg.pinv`` (exact while the rank is constant)."""
    if return_rank:
        g, ans = g[0], ans[0]
    return pinv_grad(g, ans, a)


def _pinvh_vjp(g, ans, a, atol=None, rtol=None, lower=True, return_rank=False, **kwargs):
    """As ``pinv`` of the Hermitian matrix built from the triangle that is read."""
    if return_rank:
        g, ans = g[0], ans[0]
    return tri_read(pinv_grad(g, ans, hermitian_from(a, lower)), lower)


def _pinv_jvp(t, ans, a, *, atol=None, rtol=None, return_rank=False, check_finite=True):
    if return_rank:
        return pinv_jvp(t, ans[0], a), None
    return pinv_jvp(t, ans, a)


def _pinvh_jvp(t, ans, a, atol=None, rtol=None, lower=True, return_rank=False, **kwargs):
    if return_rank:
        return pinv_jvp(hermitian_from(t, lower), ans[0], hermitian_from(a, lower)), None
    return pinv_jvp(hermitian_from(t, lower), ans, hermitian_from(a, lower))


_rule("pinv", _pinv_vjp)
_rule("pinvh", _pinvh_vjp)
defjvp_scipy(_MODULE, "pinv", _pinv_jvp)
defjvp_scipy(_MODULE, "pinvh", _pinvh_jvp)


def _norm_vjp_scipy(g, ans, a, ord=None, axis=None, keepdims=False, check_finite=True):
    """As ``numpy.linalg.norm`` (the same kinks: ties split evenly, 0 at a zero vector)."""
    return norm_vjp(g, ans, a, ord, axis, keepdims)


_rule("norm", _norm_vjp_scipy)
defjvp_scipy(
    _MODULE,
    "norm",
    lambda t, ans, a, ord=None, axis=None, keepdims=False, check_finite=True: norm_jvp(
        t, ans, a, ord, axis, keepdims
    ),
)


def _keep_attributes(module: Any) -> None:
    """SciPy reads ``lstsq.default_lapack_driver`` through the name ``lstsq``: the wrapper."""
    import scipy.linalg._basic as basic  # imported by now: scipy.linalg imports it

    original = getattr(basic.lstsq, "__wrapped__", None)
    if original is not None:
        for name, value in vars(original).items():
            if not name.startswith("__"):
                setattr(basic.lstsq, name, value)


after_import(_MODULE, _keep_attributes)

# --- eigenvalues -----------------------------------------------------------------------------


def _eigh_selected(w, subset_by_index, subset_by_value):
    """The indices (a slice) into the full ascending spectrum ``w`` that SciPy returned."""
    if subset_by_index is not None:
        lo, hi = subset_by_index
        return slice(int(lo), int(hi) + 1)
    if subset_by_value is not None:
        lo, hi = subset_by_value  # SciPy returns the eigenvalues in (lo, hi]
        w = np.asarray(w)
        first = int(np.sum(w <= lo, axis=-1).min())
        return slice(first, first + int(np.sum((w > lo) & (w <= hi), axis=-1).max()))
    return slice(None)


def _eigh_parts(g, ans, a, b, lower, eigvals_only, type, subset_by_index, subset_by_value):
    """Cotangents of the full ``w`` and ``V``, with the full ``w`` and ``V`` they go with."""
    if type != 1:
        raise not_differentiable(
            "scipy.linalg.eigh", f"the gradient is implemented for type=1 only, not {type}"
        )
    gw, gv = (g, None) if eigvals_only else g
    subset = subset_by_index is not None or subset_by_value is not None
    if eigvals_only or subset:  # the eigenvectors (and the rest of the spectrum) are needed
        w, v = _sl().eigh(a, b, lower=lower)
    else:
        w, v = ans
    if subset:
        sel = _eigh_selected(w, subset_by_index, subset_by_value)
        gw = scatter_add(gw, (Ellipsis, sel), w.shape)
        if gv is not None:
            gv = scatter_add(gv, (Ellipsis, slice(None), sel), v.shape)
            # The returned eigenvectors may differ from the recomputed ones by a sign (phase):
            # the cotangent belongs to the returned ones, so they take their columns' place.
            cols = np.zeros(w.shape[-1], dtype=bool)
            cols[sel] = True
            v = np.where(cols, scatter_add(ans[1], (Ellipsis, slice(None), sel), v.shape), v)
    return gw, gv, w, v


def _eigh_inner(gw, gv, w, v):
    """P-cotangent ``diag(gw) + F o (V^H gV)`` and ``V^H gV``; F_ij = 1 / (w_j - w_i)."""
    inner = diag_embed(gw)
    if gv is None:
        return inner, None
    vh_gv = mH(v) @ gv
    return inner + vh_gv * inv_gap(w), vh_gv


def _eigh_vjp_a(
    g, ans, a, b=None, *, lower=True, eigvals_only=False, type=1, subset_by_index=None,
    subset_by_value=None, **kwargs,
):  # fmt: skip
    """A V = B V diag(w), V^H B V = I: gA = V (diag(gw) + F o (V^H gV)) V^H, read off the
    triangle that is used (``lower``)."""
    parts = _eigh_parts(g, ans, a, b, lower, eigvals_only, type, subset_by_index, subset_by_value)
    gw, gv, w, v = parts
    inner, _ = _eigh_inner(gw, gv, w, v)
    return tri_read(v @ inner @ mH(v), lower)


def _eigh_vjp_b(
    g, ans, a, b=None, *, lower=True, eigvals_only=False, type=1, subset_by_index=None,
    subset_by_value=None, **kwargs,
):  # fmt: skip
    """gB = -V (P w^T + diag(Re diag(V^H gV)) / 2) V^H, P the cotangent of V^H dA V (the
    second term from the normalization V^H B V = I)."""
    parts = _eigh_parts(g, ans, a, b, lower, eigvals_only, type, subset_by_index, subset_by_value)
    gw, gv, w, v = parts
    inner, vh_gv = _eigh_inner(gw, gv, w, v)
    inner = inner * np.expand_dims(w, -2)
    if vh_gv is not None:
        inner = inner + 0.5 * diag_embed(np.real(diagonals(vh_gv)))
    return tri_read(-(v @ inner @ mH(v)), lower)


def _eigh_jvp(which, t, ans, a, b, lower, eigvals_only, type, subset_by_index, subset_by_value):
    """A V = B V W, V^H B V = I. With P_A = V^H dA V, P_B = V^H dB V and dV = V C:
    dw = diag(P_A - P_B W), C = F o (P_A - P_B W) - diag(P_B) / 2, F_ij = 1 / (w_j - w_i)
    (off the diagonal; the diagonal of C is the normalization's, real: the gauge of the VJP
    rules). A subset of the spectrum needs all of it, recomputed as the VJP rule does."""
    if type != 1:
        raise not_differentiable(
            "scipy.linalg.eigh", f"the derivative is implemented for type=1 only, not {type}"
        )
    subset = subset_by_index is not None or subset_by_value is not None
    sel = slice(None)
    if eigvals_only or subset:
        w, v = _sl().eigh(a, b, lower=lower)
        sel = _eigh_selected(w, subset_by_index, subset_by_value)
        if subset and not eigvals_only:  # the returned vectors' signs (phases), as in the VJP
            cols = np.zeros(w.shape[-1], dtype=bool)
            cols[sel] = True
            v = np.where(cols, scatter_add(ans[1], (Ellipsis, slice(None), sel), v.shape), v)
    else:
        w, v = ans
    p = mH(v) @ hermitian_from(t, lower) @ v
    q = p if which == 0 else -p * np.expand_dims(w, -2)
    dw = np.real(diagonals(q))[..., sel]
    if eigvals_only:
        return dw
    c = q * inv_gap(w)
    if which == 1:
        c = c - 0.5 * diag_embed(np.real(diagonals(p)))
    return dw, (v @ c)[..., sel]


def _eigh_jvp_a(
    t, ans, a, b=None, *, lower=True, eigvals_only=False, type=1, subset_by_index=None,
    subset_by_value=None, **kwargs,
):  # fmt: skip
    return _eigh_jvp(0, t, ans, a, b, lower, eigvals_only, type, subset_by_index, subset_by_value)


def _eigh_jvp_b(
    t, ans, a, b=None, *, lower=True, eigvals_only=False, type=1, subset_by_index=None,
    subset_by_value=None, **kwargs,
):  # fmt: skip
    return _eigh_jvp(1, t, ans, a, b, lower, eigvals_only, type, subset_by_index, subset_by_value)


_rule("eigh", _eigh_vjp_a, _eigh_vjp_b)
defjvp_scipy(_MODULE, "eigh", _eigh_jvp_a, _eigh_jvp_b)


def _eig_vjp_ab(which, g, ans, a, b, left, right, kwargs):
    """As ``numpy.linalg.eig``: unit-norm right eigenvectors (SciPy normalizes the generalized
    ones too). ``A v = w B v`` is the standard problem of ``C = B^-1 A``: its rule gives ``gC``,
    then ``gA = B^-H gC`` and ``gB = -B^-H gC C^H``."""
    if left or kwargs.get("homogeneous_eigvals"):
        raise not_differentiable(
            "scipy.linalg.eig",
            "the gradient is implemented for right eigenvectors only and homogeneous_eigvals=False",
        )
    c = a if b is None else np.linalg.solve(b, a)
    if right:
        gc = eig_grad(g[0], g[1], ans[0], ans[1])
    else:  # the eigenvectors in SciPy's order of the eigenvalues (ggev's, not geev's on C)
        v = _sl().eig(a, b)[1]
        gc = np.linalg.solve(mH(v), np.expand_dims(g, -1) * mH(v))
    if b is None:
        return _real_like_input(gc, a)
    ga = np.linalg.solve(mH(b), gc)
    return _real_like_input(ga if which == 0 else -ga @ mH(c), (a, b)[which])


def _real_like_input(c, x):
    """The cotangent of a real input is the real part (eigenvalues are complex)."""
    return c if is_complex(x) else np.real(c)


def _eig_vjp(g, ans, a, b=None, left=False, right=True, **kwargs):
    return _eig_vjp_ab(0, g, ans, a, b, left, right, kwargs)


def _eig_vjp_b(g, ans, a, b=None, left=False, right=True, **kwargs):
    return _eig_vjp_ab(1, g, ans, a, b, left, right, kwargs)


def _eig_jvp_ab(which, t, ans, a, b, left, right, kwargs):
    """The standard problem of C = B^-1 A: dC = B^-1 dA, or -B^-1 dB C."""
    if left or kwargs.get("homogeneous_eigvals"):
        raise not_differentiable(
            "scipy.linalg.eig",
            "the derivative is implemented for right eigenvectors only and "
            "homogeneous_eigvals=False",
        )
    if b is None:
        dc = t
    elif which == 0:
        dc = np.linalg.solve(b, t)
    else:
        dc = -np.linalg.solve(b, t @ np.linalg.solve(b, a))
    if not right:
        v = _sl().eig(a, b)[1]
        return diagonals(np.linalg.solve(v, dc @ v))
    w, v = ans
    dw, dv = eig_jvp(dc, w, v)
    return dw, dv if is_complex(v) else np.real(dv)  # real vectors: all eigenvalues real


def _eig_jvp(t, ans, a, b=None, left=False, right=True, **kwargs):
    return _eig_jvp_ab(0, t, ans, a, b, left, right, kwargs)


def _eig_jvp_b(t, ans, a, b=None, left=False, right=True, **kwargs):
    return _eig_jvp_ab(1, t, ans, a, b, left, right, kwargs)


_rule("eig", _eig_vjp, _eig_vjp_b)
defjvp_scipy(_MODULE, "eig", _eig_jvp, _eig_jvp_b)

# --- decompositions --------------------------------------------------------------------------


def _svd_vjp_scipy(g, ans, a, full_matrices=True, compute_uv=True, **kwargs):
    """As ``numpy.linalg.svd``: thin factors; extra columns of a full U or V must get none."""
    return svd_vjp(g, ans, a, full_matrices, compute_uv)


_rule("svd", _svd_vjp_scipy)
defjvp_scipy(
    _MODULE,
    "svd",
    lambda t, ans, a, full_matrices=True, compute_uv=True, **kwargs: svd_jvp(
        t, ans, a, full_matrices, compute_uv
    ),
)


def _qr_vjp_scipy(g, ans, a, overwrite_a=False, lwork=None, mode="full", pivoting=False, **kw):
    """As ``numpy.linalg.qr`` on ``a[:, p]`` (``pivoting``: the column order is constant)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "raw":
        raise not_differentiable("scipy.linalg.qr", "no gradient for mode='raw'; use 'economic'")
    if pivoting:
        perm = ans[-1]
        ap = a[..., perm]
    else:
        ap = a
    if mode == "r":
        gq = None
        q, r = _sl().qr(ap, mode="economic")
        gr = (g[0] if isinstance(g, tuple) else g)[..., :k, :]  # SciPy returns (r,)
    else:
        gq, gr = g[0], g[1]
        q, r = ans[0], ans[1]
        if mode == "full" and m > n:
            if np.any(gq[..., n:] != 0):
                raise not_differentiable(
                    "scipy.linalg.qr",
                    "the extra columns of Q with mode='full' are not unique and get no gradient; "
                    "use mode='economic'",
                )
            q, gq, r, gr = q[..., :n], gq[..., :n], r[..., :n, :], gr[..., :n, :]
    gq = zeros_of(q) if gq is None else gq
    grad = qr_grad(gq, gr, q, r, ap)
    if pivoting:
        grad = grad[..., np.argsort(perm)]
    return grad


def _qr_jvp_scipy(t, ans, a, overwrite_a=False, lwork=None, mode="full", pivoting=False, **kw):
    """As ``numpy.linalg.qr`` on ``a[:, p]``; mode='r' gives R as in 'full' (zero rows below)."""
    m, n = t.shape[-2:]
    if mode == "raw":
        raise not_differentiable("scipy.linalg.qr", "no derivative for mode='raw'; use 'economic'")
    if pivoting:
        perm = ans[-1]
        a, t = a[..., perm], t[..., perm]
    if mode == "r":
        q, r = _sl().qr(a, mode="economic")
        dr = qr_jvp(t, q, r)[1]
        if m > n:
            dr = np.concatenate([dr, np.zeros((*dr.shape[:-2], m - n, n), dr.dtype)], axis=-2)
        return (dr, None) if pivoting else dr
    if mode == "full" and m > n:
        raise not_differentiable(
            "scipy.linalg.qr",
            "the extra columns of Q with mode='full' are not unique and have no derivative; use "
            "mode='economic'",
        )
    dq, dr = qr_jvp(t, ans[0], ans[1])
    return (dq, dr, None) if pivoting else (dq, dr)


_rule("qr", _qr_vjp_scipy)
defjvp_scipy(_MODULE, "qr", _qr_jvp_scipy)


def _lu_grad(gl, gu, lo, up):
    """A' = L U, L (m, k) unit lower, U (k, n) upper, k = min(m, n) (PyTorch's lu backward).

    Square: gA' = L^-H (tril_(L^H gL) + triu(gU U^H)) U^-H. Wide, U = [U1 U2]: the square part
    has gL - L^-H gU2 U2^H in place of gL, and gA2' = L^-H gU2. Tall, L = [L1; L2]: the square
    part has gU - L2^H gL2 U^-H in place of gU, and gA2' = gL2 U^-H.
    """
    m, k = lo.shape[-2:]
    n = up.shape[-1]
    lower, upper = _tri_mask(k, True, strict=True), _tri_mask(k, False)
    if m < n:  # wide: L is square
        up1, up2, gu1, gu2 = up[..., :k], up[..., k:], gu[..., :k], gu[..., k:]
        inner = (mH(lo) @ gl - gu2 @ mH(up2)) * lower + (gu1 @ mH(up1)) * upper
        x = np.linalg.solve(mH(lo), inner)
        left = mH(np.linalg.solve(up1, mH(x)))
        return np.concatenate([left, np.linalg.solve(mH(lo), gu2)], axis=-1)
    lo1, lo2, gl1, gl2 = lo[..., :k, :], lo[..., k:, :], gl[..., :k, :], gl[..., k:, :]
    inner = (mH(lo1) @ gl1) * lower + (gu @ mH(up) - mH(lo2) @ gl2) * upper
    x = np.linalg.solve(mH(lo1), inner)
    top = mH(np.linalg.solve(up, mH(x)))
    if m == k:  # square
        return top
    return np.concatenate([top, mH(np.linalg.solve(up, mH(gl2)))], axis=-2)


def _lu_vjp(g, ans, a, permute_l=False, overwrite_a=False, check_finite=True, p_indices=False):
    """A = P L U; with ``permute_l`` the output is (P L, U), and gL = P^T g(PL)."""
    if permute_l:
        p, lo, up = _sl().lu(a)
        gpl, gu = g
        gl = mT(p) @ gpl
    else:
        p, lo, up = ans
        _, gl, gu = g
    if p_indices and not permute_l:
        return _rows(_lu_grad(gl, gu, lo, up), p)  # a = (l @ u)[p]
    return p @ _lu_grad(gl, gu, lo, up)


def _lu_jvp_parts(d, lo, up):
    """A' = L U (L m x k unit lower, U k x n upper): the square part as for ``lu_factor``
    (X = L1^-1 dA'1 U1^-1, dL1 = L1 tril_(X), dU1 = triu(X) U1); wide, the rest of U:
    dU2 = L^-1 (dA'2 - dL U2); tall, the rest of L: dL2 = (dA'2 - L2 dU) U^-1."""
    m, k = lo.shape[-2:]
    n = up.shape[-1]
    strict, upper = _tri_mask(k, True, strict=True), _tri_mask(k, False)
    if m < n:  # wide: L is square
        x = right_solve(np.linalg.solve(lo, d[..., :k]), up[..., :k])
        dl = lo @ (x * strict)
        du1 = (x * upper) @ up[..., :k]
        du2 = np.linalg.solve(lo, d[..., k:] - dl @ up[..., k:])
        return dl, np.concatenate([du1, du2], axis=-1)
    x = right_solve(np.linalg.solve(lo[..., :k, :], d[..., :k, :]), up)
    dl1 = lo[..., :k, :] @ (x * strict)
    du = (x * upper) @ up
    if m == k:
        return dl1, du
    dl2 = right_solve(d[..., k:, :] - lo[..., k:, :] @ du, up)
    return np.concatenate([dl1, dl2], axis=-2), du


def _lu_jvp(t, ans, a, permute_l=False, overwrite_a=False, check_finite=True, p_indices=False):
    """A = P L U, so dA' = P^T dA (``p_indices``: a = (L U)[p], dA' = dA[argsort(p)])."""
    p, lo, up = _sl().lu(a) if permute_l else ans
    if p_indices and not permute_l:
        d = _rows(t, np.argsort(p, axis=-1))
    else:
        d = mT(p) @ t
    dl, du = _lu_jvp_parts(d, lo, up)
    if permute_l:
        return p @ dl, du
    return None, dl, du


_rule("lu", _lu_vjp)
defjvp_scipy(_MODULE, "lu", _lu_jvp)

# --- principal angles ------------------------------------------------------------------------


def _orth(a):
    """``scipy.linalg.orth`` in NumPy calls (so that the rule differentiates again)."""
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    rank = int(np.sum(s > np.max(s, initial=0.0) * np.finfo(s.dtype).eps * max(a.shape)))
    return u[..., :rank]


def _subspace_angles_vjp(which, g, ans, A, B):
    """Principal angles: ``cos(theta_i) = sigma_i``, the singular values of ``QA^H QB``.

    With the principal vectors ``u_i = QA y_i`` and ``v_i = QB z_i`` (``y_i``, ``z_i`` the
    singular vectors), moving span(A) moves ``u_i`` by ``dP_A u_i``, so ``d sigma_i =
    Re(u_i^H dP_A v_i) + Re(u_i^H dP_B v_i)``; with ``dP_A = (I - P_A) dA A^+ + h.c.`` the
    cotangent of ``A`` is ``-sum_i g_i (I - P_A) v_i (A^+ u_i)^H / sin(theta_i)``, and the
    same with the roles swapped for ``B``. ``|(I - P_A) v_i| = sin(theta_i)``: each term is
    bounded, but its direction is undefined at ``theta_i = 0``, where the angle is a cone
    (``|x|``) in the inputs: there it gets the minimal-norm subgradient 0, which is the exact
    gradient when the subspaces must intersect (``dim A + dim B > n``). For a repeated angle only
    symmetric functions of the angles (their sum) have a gradient.
    """
    qa, qb = _orth(A), _orth(B)
    y, sigma, zh = np.linalg.svd(mH(qa) @ qb, full_matrices=False)
    u, v = qa @ y, qb @ mH(zh)  # principal vectors, columns paired by sigma (descending)
    mine, other, q = (A, v, qa) if which == 0 else (B, u, qb)
    own = u if which == 0 else v
    away = other - q @ (mH(q) @ other)  # (I - P) times the other principal vector
    sine = np.sqrt(np.sum(np.abs(away) ** 2, axis=0))
    k = sigma.shape[-1]
    weights = g[::-1][:k]  # SciPy lists the angles from the largest: sigma ascending
    moving = sine > 1e-12 * max(A.shape[0], 1)
    scale = np.where(moving, -weights / np.where(moving, sine, 1.0), 0.0)
    grad = (away * scale) @ mH(np.linalg.pinv(mine) @ own)
    return grad if is_complex(mine) else np.real(grad)


def _subspace_angles_jvp(which, t, ans, A, B):
    """d theta_i = -Re((I - P) v_i)^H dA (A^+ u_i) / sin(theta_i), the transpose of the VJP
    rule's sum (0 where the angle is 0), listed from the largest angle as SciPy lists them."""
    qa, qb = _orth(A), _orth(B)
    y, _, zh = np.linalg.svd(mH(qa) @ qb, full_matrices=False)
    u, v = qa @ y, qb @ mH(zh)
    mine, other, q = (A, v, qa) if which == 0 else (B, u, qb)
    own = u if which == 0 else v
    away = other - q @ (mH(q) @ other)
    sine = np.sqrt(np.sum(np.abs(away) ** 2, axis=0))
    moving = sine > 1e-12 * max(A.shape[0], 1)
    d = np.real(np.sum(conj(away) * (t @ (np.linalg.pinv(mine) @ own)), axis=0))
    return np.where(moving, -d / np.where(moving, sine, 1.0), 0.0)[::-1]


_rule(
    "subspace_angles",
    lambda g, ans, A, B: _subspace_angles_vjp(0, g, ans, A, B),
    lambda g, ans, A, B: _subspace_angles_vjp(1, g, ans, A, B),
)
defjvp_scipy(
    _MODULE,
    "subspace_angles",
    lambda t, ans, A, B: _subspace_angles_jvp(0, t, ans, A, B),
    lambda t, ans, A, B: _subspace_angles_jvp(1, t, ans, A, B),
)

# --- matrix functions ------------------------------------------------------------------------
# For a primary matrix function f with real coefficients (exp, log, square root, real powers)
# the Frechet derivative is the upper right block of f([[X, E], [0, X]]), and the adjoint of
# E -> L_f(X, E) is E -> L_f(X^H, E): so gA = f([[A^H, g], [0, A^H]])[:n, n:], a call of f
# itself that differentiates again.


def _block(x, e):
    """``[[x, e], [0, x]]`` for a stack of square matrices."""
    top = np.concatenate([x, e], axis=-1)
    bottom = np.concatenate([zeros_of(x), x], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


def _frechet_adjoint(f, a, g):
    n = a.shape[-1]
    return f(_block(mH(a), g))[..., :n, n:]


def _first(out):
    """The matrix itself from a function that may also return an error estimate (``disp``)."""
    return out[0] if isinstance(out, tuple) else out


def _frechet(f, a, e):
    """L_f(A, E): the upper right block of f([[A, E], [0, A]])."""
    n = a.shape[-1]
    return _first(f(_block(a, e)))[..., :n, n:]


_rule("expm", lambda g, ans, A: _frechet_adjoint(_sl().expm, A, g))
defjvp_scipy(_MODULE, "expm", lambda t, ans, A: _frechet(_sl().expm, A, t))


def _first_g(g):
    return g[0] if isinstance(g, tuple) else g


_rule("logm", lambda g, ans, A, disp=None: _frechet_adjoint(_sl().logm, A, _first_g(g)))


def _logm_jvp(t, ans, A, disp=None):
    d = _frechet(_sl().logm, A, t)
    return (d, None) if disp is False else d  # disp=False: (logm, error estimate)


defjvp_scipy(_MODULE, "logm", _logm_jvp)


def _fractional_matrix_power_vjp(g, ans, A, t):
    return _frechet_adjoint(lambda m: _sl().fractional_matrix_power(m, t), A, g)


def _fractional_matrix_power_vjp_t(g, ans, A, t):
    """d(A^t)/dt = A^t log(A) (they commute); t is real, so the real part of <g, A^t log A>."""
    return np.real(np.sum(np.conj(g) * (ans @ _sl().logm(A))))


def _fractional_matrix_power_jvp(tan, ans, A, t):
    return _frechet(lambda m: _sl().fractional_matrix_power(m, t), A, tan)


def _fractional_matrix_power_jvp_t(tan, ans, A, t):
    """d(A^t) = A^t log(A) dt."""
    return tan * (ans @ _sl().logm(A))


_rule("fractional_matrix_power", _fractional_matrix_power_vjp, _fractional_matrix_power_vjp_t)
defjvp_scipy(
    _MODULE, "fractional_matrix_power", _fractional_matrix_power_jvp, _fractional_matrix_power_jvp_t
)


def _sqrtm_vjp(g, ans, A, disp=None, blocksize=None):
    """X = sqrtm(A), X dX + dX X = dA: gA solves X^H gA + gA X^H = g."""
    x = _first(ans)
    return _sl().solve_sylvester(mH(x), mH(x), _first_g(g))


def _sqrtm_jvp(t, ans, A, disp=None, blocksize=None):
    """X dX + dX X = dA."""
    x = _first(ans)
    d = _sl().solve_sylvester(x, x, t)
    return (d, None) if isinstance(ans, tuple) else d


_rule("sqrtm", _sqrtm_vjp)
defjvp_scipy(_MODULE, "sqrtm", _sqrtm_jvp)


def _expm_frechet_grads(g, ans, A, E, compute_expm):
    """expm_frechet(A, E) is the upper right block of expm(M), M = [[A, E], [0, A]]: the
    cotangent of M is that of expm at M with [[g_expm, g_L], [0, 0]]."""
    n = A.shape[-1]
    g_exp, g_l = g if compute_expm else (zeros_of(g), g)
    gm = _frechet_adjoint(_sl().expm, _block(A, E), _block(g_exp, g_l) * _upper_blocks(n))
    return gm[..., :n, :n] + gm[..., n:, n:], gm[..., :n, n:]


def _upper_blocks(n):
    """1 on the top row of blocks of a 2n x 2n matrix, 0 on the bottom row."""
    return np.expand_dims(np.arange(2 * n) < n, -1)


def _expm_frechet_vjp_a(g, ans, A, E, method=None, compute_expm=True, check_finite=True):
    return _expm_frechet_grads(g, ans, A, E, compute_expm)[0]


def _expm_frechet_vjp_e(g, ans, A, E, method=None, compute_expm=True, check_finite=True):
    return _expm_frechet_grads(g, ans, A, E, compute_expm)[1]


def _expm_frechet_jvp_a(t, ans, A, E, method=None, compute_expm=True, check_finite=True):
    """(expm(A), L(A, E)) = blocks of expm(M), M = [[A, E], [0, A]]; dM = [[dA, 0], [0, dA]]:
    their differentials are the same blocks of L(M, dM)."""
    n = A.shape[-1]
    lm = _sl().expm_frechet(_block(A, E), _block(t, zeros_of(E)), method, compute_expm=False)
    dl = lm[..., :n, n:]
    return (lm[..., :n, :n], dl) if compute_expm else dl


def _expm_frechet_jvp_e(t, ans, A, E, method=None, compute_expm=True, check_finite=True):
    """Linear in E."""
    dl = _sl().expm_frechet(A, t, method, compute_expm=False)
    return (None, dl) if compute_expm else dl


_rule("expm_frechet", _expm_frechet_vjp_a, _expm_frechet_vjp_e)
defjvp_scipy(_MODULE, "expm_frechet", _expm_frechet_jvp_a, _expm_frechet_jvp_e)

# --- matrix equations ------------------------------------------------------------------------


def _real_with_complex_q(name, a, b, q):
    # SciPy 1.17 solves A X + X B = Q wrongly (residuals of 0.1) for real A and B with complex
    # eigenvalues and a complex Q: neither its value nor a gradient can be trusted.
    if is_complex(q) and not (is_complex(a) or is_complex(b)):
        raise not_differentiable(
            f"scipy.linalg.{name}",
            "SciPy's solution is inaccurate for real a (and b) with a complex q; pass complex "
            "a (a.astype(complex))",
        )


def _sylvester_y(g, a, b, q):
    """The adjoint solve: A^H Y + Y B^H = g."""
    _real_with_complex_q("solve_sylvester", a, b, q)
    return _sl().solve_sylvester(mH(a), mH(b), g)


_rule(
    "solve_sylvester",
    lambda g, ans, a, b, q: -_sylvester_y(g, a, b, q) @ mH(ans),
    lambda g, ans, a, b, q: -mH(ans) @ _sylvester_y(g, a, b, q),
    lambda g, ans, a, b, q: _sylvester_y(g, a, b, q),
)


def _sylvester_dx(rhs, a, b, q):
    """A dX + dX B = rhs (A X + X B = Q differentiated)."""
    _real_with_complex_q("solve_sylvester", a, b, q)
    return _sl().solve_sylvester(a, b, rhs)


defjvp_scipy(
    _MODULE,
    "solve_sylvester",
    lambda t, ans, a, b, q: _sylvester_dx(-(t @ ans), a, b, q),
    lambda t, ans, a, b, q: _sylvester_dx(-(ans @ t), a, b, q),
    lambda t, ans, a, b, q: _sylvester_dx(t, a, b, q),
)


def _continuous_lyapunov_y(g, a, q):
    """The adjoint solve: A^H Y + Y A = g."""
    _real_with_complex_q("solve_continuous_lyapunov", a, a, q)
    return _sl().solve_continuous_lyapunov(mH(a), g)


def _continuous_lyapunov_vjp_a(g, ans, a, q):
    """A X + X A^H = Q; Y solves A^H Y + Y A = g: gA = -(Y X^H + Y^H X)."""
    y = _continuous_lyapunov_y(g, a, q)
    return -(y @ mH(ans) + mH(y) @ ans)


_rule(
    "solve_continuous_lyapunov",
    _continuous_lyapunov_vjp_a,
    lambda g, ans, a, q: _continuous_lyapunov_y(g, a, q),
)


def _continuous_lyapunov_dx(rhs, a, q):
    """A dX + dX A^H = rhs (A X + X A^H = Q differentiated)."""
    _real_with_complex_q("solve_continuous_lyapunov", a, a, q)
    return _sl().solve_continuous_lyapunov(a, rhs)


defjvp_scipy(
    _MODULE,
    "solve_continuous_lyapunov",
    lambda t, ans, a, q: _continuous_lyapunov_dx(-(t @ ans + ans @ mH(t)), a, q),
    lambda t, ans, a, q: _continuous_lyapunov_dx(t, a, q),
)


def _discrete_lyapunov_vjp_a(g, ans, a, q, method=None):
    """X - A X A^H = Q; Y solves Y - A^H Y A = g: gA = Y A X^H + Y^H A X."""
    y = _sl().solve_discrete_lyapunov(mH(a), g, method=method)
    return y @ a @ mH(ans) + mH(y) @ a @ ans


_rule(
    "solve_discrete_lyapunov",
    _discrete_lyapunov_vjp_a,
    lambda g, ans, a, q, method=None: _sl().solve_discrete_lyapunov(mH(a), g, method=method),
)


def _discrete_lyapunov_jvp_a(t, ans, a, q, method=None):
    """dX - A dX A^H = dA X A^H + A X dA^H (X - A X A^H = Q differentiated)."""
    rhs = t @ ans @ mH(a) + a @ ans @ mH(t)
    return _sl().solve_discrete_lyapunov(a, rhs, method=method)


defjvp_scipy(
    _MODULE,
    "solve_discrete_lyapunov",
    _discrete_lyapunov_jvp_a,
    lambda t, ans, a, q, method=None: _sl().solve_discrete_lyapunov(a, t, method=method),
)


def _band_gather(x, rows, cols):
    """``x[rows, cols]`` where both are in range, 0 elsewhere (a masked gather)."""
    n_rows, n_cols = x.shape[-2], x.shape[-1]
    ok = (rows >= 0) & (rows < n_rows) & (cols >= 0) & (cols < n_cols)
    picked = x[..., np.clip(rows, 0, n_rows - 1), np.clip(cols, 0, n_cols - 1)]
    return np.where(ok, picked, 0)


def _banded_adjoint(ab, lower, upper):
    """The band storage of M^H, which has ``upper`` subdiagonals and ``lower`` superdiagonals:
    abH[r, j] = conj(ab[l + u - r, j + r - l])."""
    r = np.expand_dims(np.arange(lower + upper + 1), -1)
    j = np.arange(ab.shape[-1])
    return conj(_band_gather(ab, lower + upper - r, j + r - lower))


def _solve_banded_gb(g, l_and_u, ab, b):
    lower, upper = l_and_u
    return _sl().solve_banded((upper, lower), _banded_adjoint(ab, lower, upper), g)


def _solve_banded_vjp_ab(g, ans, l_and_u, ab, b, overwrite_ab=False, **kwargs):
    """gM = -(M^-H g) x^H on the band: gab[r, j] = gM[j + r - u, j]."""
    lower, upper = l_and_u
    gb = _as_columns(b, _solve_banded_gb(g, l_and_u, ab, b))
    x = _as_columns(b, ans)
    r = np.expand_dims(np.arange(lower + upper + 1), -1)
    j = np.arange(ab.shape[-1])
    i = j + r - upper
    n = gb.shape[-2]
    ok = (i >= 0) & (i < n)
    rows = gb[np.clip(i, 0, n - 1), :]  # (rows of ab, n, k)
    return np.where(ok, -np.sum(rows * conj(x), axis=-1), 0)


def _solve_banded_vjp_b(g, ans, l_and_u, ab, b, overwrite_ab=False, **kwargs):
    return _solve_banded_gb(g, l_and_u, ab, b)


def _band_matvec(dab, x, lower, upper):
    """dM x for dM in band storage, dM[i, j] = dab[upper + i - j, j]: row r of ``dab``
    times x, shifted down by r - upper rows (what falls outside the matrix dropped)."""
    n = x.shape[-2]
    total = None
    for r in range(lower + upper + 1):
        shift = r - upper
        if abs(shift) >= n:
            continue
        part = np.expand_dims(dab[r], -1) * x
        pad = np.zeros((abs(shift), x.shape[-1]), part.dtype)
        if shift > 0:
            part = np.concatenate([pad, part[: n - shift]], axis=0)
        elif shift < 0:
            part = np.concatenate([part[-shift:], pad], axis=0)
        total = part if total is None else total + part
    return total


def _solve_banded_jvp_ab(t, ans, l_and_u, ab, b, overwrite_ab=False, **kwargs):
    """dx = -M^-1 dM x."""
    lower, upper = l_and_u
    dm_x = _band_matvec(t, _as_columns(b, ans), lower, upper)
    return _vector_back(_sl().solve_banded(l_and_u, ab, -dm_x), b)


_rule("solve_banded", None, _solve_banded_vjp_ab, _solve_banded_vjp_b)
defjvp_scipy(
    _MODULE,
    "solve_banded",
    None,
    _solve_banded_jvp_ab,
    lambda t, ans, l_and_u, ab, b, overwrite_ab=False, **kwargs: _sl().solve_banded(l_and_u, ab, t),
)

# --- special matrices: each entry is one element of the inputs (a gather), so the cotangent of
# an input element is the sum of ``g`` over the entries that hold it (a scatter-add) ----------


def _diff_index(m, n, offset):
    """``offset + i - j`` for an ``m x n`` matrix (constant)."""
    return offset + np.expand_dims(np.arange(m), -1) - np.arange(n)


def _with_zero_first(g):
    """``g`` with a zero in front along the last axis (the element a matrix ignores)."""
    return np.concatenate([np.zeros((*g.shape[:-1], 1), dtype=g.dtype), g], axis=-1)


def _toeplitz_parts(g, c, r):
    """Cotangents of c and of r[1:]: entry (i, j) is c[i - j] (i >= j) or r[j - i] (i < j)."""
    m, n = g.shape[-2:]
    gvals = scatter_add(g, (Ellipsis, _diff_index(m, n, n - 1)), (*g.shape[:-2], m + n - 1))
    return gvals[..., n - 1 :], gvals[..., n - 2 :: -1] if n > 1 else gvals[..., :0]


def _toeplitz_vjp_c(g, ans, c, r=None):
    gc, gr_tail = _toeplitz_parts(g, c, r)
    if r is None:  # r = conj(c): c[k] also stands at r[k] for k >= 1
        gc = gc + _with_zero_first(conj(gr_tail))
    return np.reshape(unbroadcast(gc, np.shape(np.atleast_1d(c))), np.shape(c))


def _toeplitz_vjp_r(g, ans, c, r=None):
    _, gr_tail = _toeplitz_parts(g, c, r)  # r[0] is not used: c[0] is the diagonal
    return np.reshape(
        unbroadcast(_with_zero_first(gr_tail), np.shape(np.atleast_1d(r))), np.shape(r)
    )


_rule("toeplitz", _toeplitz_vjp_c, _toeplitz_vjp_r)


def _circulant_vjp(g, ans, c):
    """Entry (i, j) is c[(i - j) mod n]."""
    n = g.shape[-1]
    idx = _diff_index(n, n, 0) % n
    return np.reshape(scatter_add(g, (Ellipsis, idx), (*g.shape[:-2], n)), np.shape(c))


_rule("circulant", _circulant_vjp)


def _hankel_parts(g):
    """Cotangents of c and of r[1:]: entry (i, j) is c[i + j] or r[i + j - m + 1]."""
    m, n = g.shape[-2:]
    idx = np.expand_dims(np.arange(m), -1) + np.arange(n)
    gvals = scatter_add(g, (Ellipsis, idx), (m + n - 1,))
    return gvals[:m], gvals[m:]


def _hankel_vjp_c(g, ans, c, r=None):
    return np.reshape(_hankel_parts(g)[0], np.shape(c))


def _hankel_vjp_r(g, ans, c, r=None):
    return np.reshape(_with_zero_first(_hankel_parts(g)[1]), np.shape(r))  # r[0] is not used


_rule("hankel", _hankel_vjp_c, _hankel_vjp_r)
# Each entry is an element of c or r (toeplitz's r = conj(c) when omitted: real-linear, which is
# all the tangent needs; hankel's omitted r is zeros): linear in c and r together.
deflinear_scipy(_MODULE, "toeplitz", "circulant", "hankel")


def _toeplitz_cr(c_or_cr):
    """``(c, r)`` as SciPy reads ``c_or_cr``: a tuple is the pair, anything else (a list too:
    a batch of ``c``) is ``c``, with ``r = conj(c)``."""
    if isinstance(c_or_cr, tuple):
        return as_array(c_or_cr[0]), as_array(c_or_cr[1])
    return as_array(c_or_cr), None


def _solve_toeplitz_vjp_c(g, ans, c_or_cr, b, check_finite=True):
    """x = T^-1 b: gT = -(T^-H g) x^H, sent to c and r as ``toeplitz`` sends it. T^H is the
    Toeplitz matrix with first column conj([c0, r1, r2, ...]) and first row conj(c)."""
    c, r = _toeplitz_cr(c_or_cr)
    rr = conj(c) if r is None else r
    column = conj(np.concatenate([c[..., :1], rr[..., 1:]], axis=-1))
    gb = _sl().solve_toeplitz((column, conj(c)), _as_columns(b, g))
    gt = -gb @ mH(_as_columns(b, ans))
    gc, gr_tail = _toeplitz_parts(gt, c, r)
    if r is None:
        return gc + _with_zero_first(conj(gr_tail))
    return type(c_or_cr)([gc, _with_zero_first(gr_tail)])


def _solve_toeplitz_vjp_b(g, ans, c_or_cr, b, check_finite=True):
    c, r = _toeplitz_cr(c_or_cr)
    rr = conj(c) if r is None else r
    column = conj(np.concatenate([c[..., :1], rr[..., 1:]], axis=-1))
    return _column_cotangent(_sl().solve_toeplitz((column, conj(c)), _as_columns(b, g)), b)


def _solve_toeplitz_jvp_c(t, ans, c_or_cr, b, check_finite=True):
    """dx = -T^-1 dT x, dT the Toeplitz matrix of the tangents (r = conj(c) when omitted)."""
    if isinstance(c_or_cr, tuple):  # SciPy's (c, r) pair; a list is c
        dt = _sl().toeplitz(t[0], t[1])
    else:
        dt = _sl().toeplitz(t)
    return _vector_back(_sl().solve_toeplitz(c_or_cr, -(dt @ _as_columns(b, ans))), b)


_rule("solve_toeplitz", _solve_toeplitz_vjp_c, _solve_toeplitz_vjp_b)
defjvp_scipy(
    _MODULE,
    "solve_toeplitz",
    _solve_toeplitz_jvp_c,
    lambda t, ans, c_or_cr, b, check_finite=True: _sl().solve_toeplitz(c_or_cr, t),
)
