"""Cases for the numpy.linalg rules (ndgrad/_rules/linalg.py).

Matrices are well conditioned (``M``: identity-dominated), symmetric positive definite with
distinct eigenvalues (``SPD``) where a factorization needs it. Complex eigen- and singular
vectors are only defined up to a phase, so their cases check phase-invariant functions of them.
"""

from __future__ import annotations

import numpy as np

from ._case import C, Case, R, calls


def M(*shape):
    """Well-conditioned square matrices: random plus 3 * identity."""
    return R(*shape) + 3 * np.eye(shape[-1])


def CM(*shape):
    return C(*shape) + 3 * np.eye(shape[-1])


def SPD(*shape):
    """Symmetric positive definite, eigenvalues well separated (1, 2, 3, ... times a scale)."""
    n = shape[-1]
    q, _ = np.linalg.qr(R(*shape))
    w = np.arange(1.0, n + 1) + 0.1 * R(*shape[:-1])
    return (q * np.expand_dims(w, -2)) @ np.swapaxes(q, -1, -2)


def HPD(*shape):
    """Hermitian positive definite, eigenvalues well separated."""
    n = shape[-1]
    q, _ = np.linalg.qr(C(*shape))
    w = np.arange(1.0, n + 1)
    return (q * w) @ np.conj(np.swapaxes(q, -1, -2))


def SYM(*shape):
    """Symmetric with distinct eigenvalues of both signs and distinct absolute values."""
    n = shape[-1]
    q, _ = np.linalg.qr(R(*shape))
    w = np.array([-2.5, 1.0, 4.0, -5.5][:n])
    return (q * w) @ np.swapaxes(q, -1, -2)


def TALL(*shape):
    """Full-rank tall or wide matrices with well separated singular values."""
    m, n = shape[-2:]
    k = min(m, n)
    u, _ = np.linalg.qr(R(*shape[:-2], m, k))
    v, _ = np.linalg.qr(R(*shape[:-2], n, k))
    return (u * np.arange(1.0, k + 1)) @ np.swapaxes(v, -1, -2)


def projectors(v):
    """``v_i v_i^H`` for each column ``v_i``: free of the columns' phases (and signs)."""
    vt = np.swapaxes(v, -1, -2)
    return np.expand_dims(vt, -1) * np.conj(np.expand_dims(vt, -2))


def pairs(u, vh):
    """``u_i v_i^H`` for each singular triple: free of the phase the pair shares."""
    return np.expand_dims(u, -1) * np.expand_dims(vh, -3)


def _phase_free_eig(a):
    w, v = np.linalg.eig(a)
    return w, projectors(v)


def _phase_free_eigh(a, UPLO="L"):
    w, v = np.linalg.eigh(a, UPLO)
    return w, projectors(v)


def _svd(a, **kw):
    """Complex singular vectors through their phase-free pairs; real ones as they are."""
    out = np.linalg.svd(a, **kw)
    if a.dtype.kind != "c" or kw.get("compute_uv") is False:
        return out
    u, s, vh = out
    return pairs(u, vh), s


CASES = {
    np.linalg.inv: Case(calls((M(3, 3),), (M(2, 2, 2),), (CM(2, 2),))),
    np.linalg.solve: Case(
        calls(
            (M(3, 3), R(3)),
            (M(3, 3), R(3, 2)),
            (M(2, 3, 3), R(3)),
            (M(2, 2, 2), R(2, 1)),
            (M(2, 3, 3), R(1, 3, 2)),
            (M(1, 2, 2), R(3, 2, 1)),
            (CM(2, 2), C(2)),
            (M(2, 2), C(2)),
        )
    ),
    np.linalg.tensorsolve: Case(
        calls((M(6, 6).reshape(2, 3, 6), R(2, 3)), (M(6, 6).reshape(6, 2, 3), R(2, 3), (0,)))
    ),
    np.linalg.tensorinv: Case(
        calls((M(6, 6).reshape(6, 2, 3), 1), (M(4, 4).reshape(2, 2, 2, 2),), (CM(2, 2), 1))
    ),
    np.linalg.pinv: Case(
        calls((TALL(3, 2),), (TALL(2, 3),), (M(2, 2),), (TALL(2, 3, 2),), (C(3, 2),))
        + calls((SPD(3, 3),), hermitian=[True])
    ),
    np.linalg.lstsq: Case(
        calls((TALL(4, 2), R(4)), (TALL(3, 2), R(3, 2)), (M(2, 2), R(2)), (C(3, 2), C(3)))
        + calls((TALL(2, 3), R(2)), (TALL(3, 2), R(3)), rcond=[1e-3])
    ),
    np.linalg.matrix_power: Case(
        calls(
            (M(2, 2), 3), (M(2, 2), 1), (M(2, 2), 0), (M(2, 2), -2), (M(2, 2, 2), 2), (CM(2, 2), 2)
        )
    ),
    np.linalg.det: Case(
        calls(
            (M(3, 3),),
            (M(2, 2, 2),),
            (CM(2, 2),),
            (M(1, 1),),
            (np.arange(9.0).reshape(3, 3),),  # singular: the cofactor path
            (np.stack([[[1.0, 2.0], [2.0, 4.0]], M(2, 2)]),),  # one singular matrix of two
        )
    ),
    np.linalg.slogdet: Case(calls((M(3, 3),), (M(2, 2, 2),), (CM(2, 2),), (-M(2, 2),))),
    np.linalg.cholesky: Case(
        calls((SPD(3, 3),), (SPD(2, 2, 2),), (HPD(2, 2),), upper=[False, True])
    ),
    np.linalg.qr: Case(
        calls((R(3, 2),), (R(3, 3),), (R(2, 3),), (R(2, 3, 2),), (C(3, 2),), (C(2, 3),))
        + calls((R(3, 2),), (R(2, 3),), mode=["r"])
        + calls((R(2, 3),), (R(2, 2),), (C(2, 3),), mode=["complete"])
        + calls((C(3, 2),), (C(2, 3),), mode=["r"])
    ),
    np.linalg.eigh: Case(calls((SPD(3, 3),), (SYM(2, 3, 3),), UPLO=["L", "U"])),
    np.linalg.eigvalsh: Case(calls((SPD(3, 3),), (SYM(2, 3, 3),), (HPD(2, 2),), UPLO=["L", "U"])),
    np.linalg.eig: Case(calls((SPD(3, 3) + 0.3 * R(3, 3),), (SPD(2, 2, 2),))),
    np.linalg.eigvals: Case(calls((M(3, 3),), (SPD(2, 2, 2),), (CM(2, 2),))),
    np.linalg.svd: Case(
        calls((TALL(3, 2),), (TALL(2, 3),), (TALL(2, 3, 2),), full_matrices=[False])
        + calls((TALL(3, 3),))
        + calls((TALL(3, 2),), (C(2, 3),), compute_uv=[False])
        + calls((SYM(3, 3),), (SYM(2, 3, 3),), hermitian=[True])
        + calls((C(3, 2),), (C(2, 3),), (C(2, 2, 2),), full_matrices=[False])
        + calls((HPD(3, 3),), hermitian=[True]),
        call=_svd,
    ),
    np.linalg.svdvals: Case(calls((TALL(3, 2),), (TALL(2, 2, 3),), (C(2, 2),))),
    np.linalg.norm: Case(
        calls((R(4),), ord=[None, 2, 1, np.inf, -np.inf, 0, 3, 0.5])
        + calls((R(2, 3),), (C(2, 2),), ord=[None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
        + calls((R(2, 3),), axis=[0, -1], keepdims=[False, True])
        + calls((R(2, 3, 2),), axis=[(0, 2), (2, 1)], ord=["fro", 1, np.inf, "nuc", 2])
        + calls((R(2, 3, 2),), axis=[(2, 0)], keepdims=[True], ord=["fro", -1, -2])
        + calls((R(2, 3),), keepdims=[True])
        + calls((C(3),), ord=[None, 1, np.inf, 3])
    ),
    np.linalg.vector_norm: Case(
        calls((R(2, 3),), axis=[None, 0, (0, 1)], keepdims=[False, True])
        + calls((R(2, 3),), axis=[-1], ord=[1, np.inf, -np.inf, 0, 3])
        + calls((C(3),))
    ),
    np.linalg.matrix_norm: Case(
        calls((R(2, 3),), (R(2, 2, 3),), ord=["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
        + calls((R(2, 2, 3),), keepdims=[True])
    ),
    np.linalg.cond: Case(
        calls((M(3, 3),), (M(2, 2, 2),), p=[None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf])
        + calls((TALL(3, 2),))
    ),
}

# Phase-free functions of complex eigen- and singular vectors.
CASES[np.linalg.eig].calls += calls((M(3, 3) + 2 * R(3, 3),), (CM(2, 2),))
CASES[np.linalg.eig].call = _phase_free_eig
CASES[np.linalg.eigh].calls += calls((HPD(3, 3),))
CASES[np.linalg.eigh].call = _phase_free_eigh
