"""Cases for the scipy.linalg rules (ndgrad/_rules/scipy_linalg.py).

The matrices are those of the numpy.linalg cases: well conditioned (``M``), symmetric or
Hermitian positive definite with separated eigenvalues (``SPD``, ``HPD``), full rank with
separated singular values (``TALL``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl

from ._case import C, Case, R, calls
from .linalg import CM, HPD, SPD, SYM, TALL, M, pairs, projectors


def _cho(a, b, lower=False):
    """cho_factor then cho_solve: the unused triangle of c must not leak into the gradient."""
    return sl.cho_solve(sl.cho_factor(a, lower=lower), b)


def _lu(a, b, trans=0):
    return sl.lu_solve(sl.lu_factor(a), b, trans=trans)


_STRUCTURES = ["gen", "banded", "upper triangular", "lower triangular", "diagonal", "tridiagonal"]


CASES = {
    sl.solve_triangular: Case(
        calls(
            (M(3, 3), R(3, 2)),
            (CM(2, 2), C(2)),
            trans=[0, 1, 2],
            lower=[False, True],
        )
        + calls((M(2, 2), C(2)), (M(2, 3, 3), R(3)))
        + calls((M(3, 3), R(3)), (CM(2, 2), C(2)), unit_diagonal=[True], trans=["N", "T"])
    ),
    sl.cho_factor: Case(
        calls((SPD(3, 3),), (HPD(3, 3),), lower=[False, True]),
        call=lambda a, lower: sl.cho_factor(a, lower=lower)[0],
    ),
    sl.cho_solve: Case(
        calls(
            (SPD(3, 3), R(3)),
            (SPD(3, 3), R(3, 2)),
            (HPD(2, 2), C(2)),
            (SPD(2, 3, 3), R(3)),
            lower=[False, True],
        ),
        call=_cho,
    ),
    sl.cholesky: Case(calls((SPD(3, 3),), (HPD(2, 2),), (SPD(2, 3, 3),), lower=[False, True])),
    sl.solve: Case(
        calls((M(3, 3), R(3)), (M(3, 3), R(3, 2)), (CM(2, 2), C(2)), (M(2, 3, 3), R(3)))
        + calls((M(3, 3), R(3, 2)), transposed=[True])
        + calls((M(3, 3), R(3)), (CM(2, 2), C(2, 2)), assume_a=["sym", "her"], lower=[False, True])
        + calls(
            (M(3, 3), R(3)),
            assume_a=_STRUCTURES,
        )
        + calls((SPD(3, 3), R(3)), (HPD(2, 2), C(2, 2)), assume_a=["pos"], lower=[False, True])
    ),
    sl.inv: Case(
        calls((M(3, 3),), (CM(2, 2),), (M(2, 3, 3),))
        + calls((M(3, 3),), assume_a=["upper triangular", "lower triangular", "sym", "diagonal"])
        + calls((SPD(3, 3),), (HPD(2, 2),), assume_a=["pos", "her"], lower=[False, True])
    ),
    sl.det: Case(calls((M(3, 3),), (CM(2, 2),), (M(2, 2, 2),), (np.arange(9.0).reshape(3, 3),))),
    sl.lu_factor: Case(
        calls((R(3, 3),), (CM(2, 2),), (R(2, 3, 3),)), call=lambda a: sl.lu_factor(a)[0]
    ),
    sl.lu_solve: Case(
        calls((R(3, 3), R(3)), (R(3, 3), R(3, 2)), (C(3, 3), C(3)), trans=[0, 1, 2])
        + calls((R(2, 3, 3), R(3)), (R(2, 3, 3), R(2, 3, 1))),
        call=_lu,
    ),
    sl.lstsq: Case(
        calls((TALL(4, 2), R(4)), (TALL(3, 2), R(3, 2)), (M(2, 2), R(2)), (C(3, 2), C(3)))
        + calls((TALL(2, 3), R(2)), cond=[1e-3])
        + calls((TALL(4, 2), R(4, 2)), lapack_driver=["gelsy", "gelss"])
    ),
    sl.pinv: Case(
        calls((TALL(3, 2),), (TALL(2, 3),), (C(3, 2),), (TALL(2, 3, 2),))
        + calls((TALL(3, 2),), return_rank=[True]),
        call=lambda a, **kw: sl.pinv(a, **kw)[0] if kw else sl.pinv(a),
    ),
    sl.pinvh: Case(calls((SPD(3, 3),), (HPD(2, 2),), lower=[True, False])),
    sl.norm: Case(
        calls((R(3),), (R(2, 3),), (C(3),), ord=[None, 1, np.inf])
        + calls((TALL(3, 2),), ord=["fro", 2, "nuc", -2, 1])
        + calls((R(2, 3),), axis=[0, 1], keepdims=[True, False])
    ),
}


def _phase_free_eigh(a, b=None, **kw):
    out = sl.eigh(a, b, **kw)
    if kw.get("eigvals_only"):
        return out
    w, v = out
    return w, projectors(v)


def _phase_free_eig(a, b=None, **kw):
    out = sl.eig(a, b, **kw)
    if kw.get("right") is False:
        return out
    return out[0], projectors(out[1])


def _phase_free_svd(a, **kw):
    out = sl.svd(a, **kw)
    if kw.get("compute_uv") is False:
        return out
    u, s, vh = out
    return pairs(u, vh), s


def _pd(*shape):
    return SPD(*shape) + np.eye(shape[-1])


CASES.update(
    {
        sl.eigh: Case(
            calls((SYM(3, 3),), (HPD(3, 3),), (SPD(2, 3, 3),), lower=[True, False])
            + calls((SYM(3, 3),), eigvals_only=[True, False], subset_by_index=[[1, 2]])
            + calls((SYM(4, 4),), subset_by_value=[[-3.0, 2.0]])
            + calls((SYM(3, 3), _pd(3, 3)), (HPD(2, 2), _pd(2, 2)), lower=[True, False])
            + calls((SYM(3, 3), _pd(3, 3)), eigvals_only=[True], subset_by_index=[None, [0, 1]]),
            call=_phase_free_eigh,
        ),
        sl.eig: Case(
            calls((R(3, 3),), (M(3, 3),), (CM(2, 2),), right=[True, False])
            + calls((R(3, 3), _pd(3, 3)), (CM(2, 2), M(2, 2)), right=[True, False]),
            call=_phase_free_eig,
        ),
        # generic subspaces (no zero angle: dim A + dim B <= n), in either order of sizes
        sl.subspace_angles: Case(
            calls((TALL(5, 2), TALL(5, 3)), (TALL(5, 3), TALL(5, 2)), (TALL(4, 2), TALL(4, 2)))
            + calls(
                (C(4, 2), C(4, 1)),
            ),
        ),
        sl.svd: Case(
            calls((TALL(3, 2),), (TALL(2, 3),), (C(3, 2),), full_matrices=[False])
            + calls((TALL(3, 2),), (TALL(2, 2),), compute_uv=[False]),
            call=_phase_free_svd,
        ),
        sl.qr: Case(
            calls((R(3, 2),), (R(3, 3),), (R(2, 3),), (C(3, 2),), mode=["economic", "r"])
            + calls((R(2, 3),), (R(3, 3),), mode=["full"])
            + calls((R(3, 2),), (R(2, 3),), pivoting=[True], mode=["economic"]),
        ),
        sl.lu: Case(
            calls((R(3, 3),), (CM(2, 2),), (R(2, 3, 3),), permute_l=[False, True])
            + calls((R(3, 3),), p_indices=[True])
            + calls((R(2, 4),), (R(4, 2),), (C(3, 2),), (R(2, 2, 3),), permute_l=[False, True])
            + calls((R(4, 3),), (R(3, 4),), p_indices=[True]),
            call=lambda a, **kw: sl.lu(a, **kw)[-2:],
        ),
    }
)


def _banded(n, lower=1, upper=1):
    """Band storage (``lower`` sub-, ``upper`` superdiagonals) of a diagonally dominant
    matrix."""
    ab = R(lower + upper + 1, n)
    ab[upper] += 4
    return ab


def _stable(*shape):
    """Eigenvalues with negative real part (a continuous Lyapunov equation is solvable)."""
    return R(*shape) - 3 * np.eye(shape[-1])


def _contracting(*shape):
    """Spectral radius below 1 (a discrete Lyapunov equation is solvable)."""
    return 0.3 * R(*shape)


CASES.update(
    {
        sl.expm: Case(calls((R(3, 3),), (C(2, 2),), (R(2, 2, 2),), (0.5 * R(1, 1),))),
        sl.expm_frechet: Case(
            calls((R(2, 2), R(2, 2)), compute_expm=[True, False]),
            call=lambda a, e, compute_expm: sl.expm_frechet(a, e, compute_expm=compute_expm),
        ),
        sl.logm: Case(calls((M(2, 2),), (HPD(2, 2),))),
        sl.sqrtm: Case(calls((SPD(3, 3),), (M(3, 3),), (HPD(2, 2),))),
        sl.fractional_matrix_power: Case(
            calls((SPD(2, 2),), t=[0.3, -1.5])
            + calls((M(2, 2),), t=[2.0])
            + calls((SPD(2, 2), np.array(0.7))),  # the exponent differentiated too
            call=lambda a, t: sl.fractional_matrix_power(a, t),
        ),
        sl.solve_sylvester: Case(calls((M(3, 3), M(2, 2), R(3, 2)), (CM(2, 2), CM(2, 2), C(2, 2)))),
        sl.solve_continuous_lyapunov: Case(
            calls((_stable(3, 3), R(3, 3)), (_stable(2, 2) + 0.5j * R(2, 2), C(2, 2)))
        ),
        sl.solve_discrete_lyapunov: Case(
            calls((_contracting(3, 3), R(3, 3)), (_contracting(2, 2), C(2, 2)))
            + calls((_contracting(3, 3), R(3, 3)), method=["bilinear", "direct"]),
            call=lambda a, q, **kw: sl.solve_discrete_lyapunov(a, q, **kw),
        ),
        sl.solve_banded: Case(
            calls((_banded(4), R(4)), (_banded(4), R(4, 2)))
            + calls((_banded(4, lower=2), R(4)), l_and_u=[(2, 1)])
            + calls((_banded(3, lower=0, upper=2), C(3)), l_and_u=[(0, 2)]),
            call=lambda ab, b, l_and_u=(1, 1): sl.solve_banded(l_and_u, ab, b),
        ),
    }
)

CASES.update(
    {
        sl.toeplitz: Case(
            calls((R(3), R(4)), (R(1), R(3)), (C(3), C(2)), (R(2, 3), R(2)))
            + calls((R(3),), (C(3),), (np.array(1.5),))
        ),
        sl.circulant: Case(calls((R(3),), (C(4),), (R(2, 3),), (R(1),))),
        sl.hankel: Case(calls((R(3), R(4)), (R(3), R(1)), (C(2), C(3))) + calls((R(3),), (C(2),))),
    }
)


def _toeplitz_c(n):
    c = R(n)
    c[0] += 4
    return c


CASES[sl.solve_toeplitz] = Case(
    calls(
        (_toeplitz_c(3), R(3), R(3)), (_toeplitz_c(3), R(3), R(3, 2)), (_toeplitz_c(2), C(2), C(2))
    )
    + calls((_toeplitz_c(3), None, R(3)), (_toeplitz_c(2) + 0.5j, None, C(2))),
    call=lambda c, r, b: sl.solve_toeplitz(c if r is None else (c, r), b),
)
