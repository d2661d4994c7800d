"""Cases for the product rules: dot, inner, outer, tensordot, einsum, kron, cross, ..."""

from __future__ import annotations

import numpy as np

from ._case import C, Case, R, calls


def _einsum(subscripts):
    return lambda *operands: np.einsum(subscripts, *operands)


CASES = {
    np.dot: Case(
        calls(
            (R(), R(3)),
            (R(2, 3), R()),
            (R(3), R(3)),
            (R(2, 3), R(3)),
            (R(3), R(3, 2)),
            (R(2, 3), R(3, 4)),
            (R(2, 3), R(2, 3, 4)),
            (R(2, 2, 3), R(3)),
            (C(2, 3), C(3, 2)),
        )
    ),
    np.vdot: Case(calls((R(3), R(3)), (R(2, 3), R(3, 2)), (C(4), C(2, 2)))),
    np.inner: Case(
        calls((R(), R(3)), (R(3), R(3)), (R(2, 3), R(3)), (R(2, 3), R(4, 3)), (C(2, 3), C(3)))
    ),
    np.outer: Case(calls((R(3), R(2)), (R(2, 2), R(3)), (R(), R(2)), (C(2), C(3)))),
    np.tensordot: Case(
        calls((R(2, 3), R(3, 4), 1), (R(2, 3), R(4), 0), (C(2, 3), C(3, 2), 1))
        + calls((R(2, 3, 2), R(3, 2, 2)), (R(2, 3), R(2, 3)))
        + calls((R(2, 3), R(2, 3), ([0, 1], [0, 1])), (R(2, 3, 4), R(4, 2), ([0, 2], [1, 0])))
        + calls((R(3, 2), R(2, 3), (-1, 0)))
    ),
    np.kron: Case(calls((R(2, 2), R(2, 3)), (R(3), R(2)), (R(2), R(2, 2)), (C(2, 1), C(2, 2)))),
    np.cross: Case(
        calls((R(3), R(3)), (R(2, 3), R(3)), (R(2, 3), R(1, 3)), (C(3), C(3)))
        + calls((R(3, 2), R(2, 3)), axisa=[0])
        + calls((R(3, 2), R(3, 2)), axis=[0])
        + calls((R(2, 3), R(2, 3)), axisc=[0])
    ),
    np.trace: Case(
        calls((R(3, 3),), (R(3, 4), 1), (R(3, 3), -1), (C(2, 2),))
        + calls((R(2, 3, 4),), axis1=[2], axis2=[0])
    ),
    # the arrays are separate arguments here, so that each is checked; the call lists them
    np.linalg.multi_dot: Case(
        calls(
            (R(2, 3), R(3, 4)),
            (R(3), R(3, 2), R(2, 2)),
            (R(2, 3), R(3, 2), R(2)),
            (R(3), R(3, 2), R(2)),
            (R(2, 3), R(3, 4), R(4, 2), R(2, 2)),
            (C(2, 2), C(2, 3)),
        ),
        call=lambda *arrays: np.linalg.multi_dot(list(arrays)),
    ),
}

# convolve and correlate: every length order and mode, and complex inputs
for _f in (np.convolve, np.correlate):
    CASES[_f] = Case(
        calls(
            (R(5), R(3)),
            (R(3), R(5)),
            (R(4), R(4)),
            (R(1), R(3)),
            (R(2), R(5)),
            mode=["full", "same", "valid"],
        )
        + calls((C(4), C(3)))
    )

_EINSUM = [
    ("ij,jk->ik", (R(2, 3), R(3, 4))),
    ("ij,jk", (R(2, 3), R(3, 2))),
    ("ii->i", (R(3, 3),)),
    ("ii", (R(3, 3),)),
    ("iij->ij", (R(2, 2, 3),)),
    ("ij->", (R(2, 3),)),
    ("ij->j", (R(2, 3),)),
    ("ji", (R(2, 3),)),
    ("i,i", (R(3), R(3))),
    ("i,j->ij", (R(2), R(3))),
    ("...ij,...jk->...ik", (R(2, 2, 3), R(3, 2))),
    ("...i,i", (R(2, 3), R(3))),
    ("i...->...", (R(2, 3),)),
    ("bij,bjk->bik", (R(1, 2, 3), R(2, 3, 2))),
    ("ij,ij->ij", (C(2, 3), C(2, 3))),
    (",i->i", (R(), R(3))),
    ("ij,jk->ik", (R(2, 1), R(3, 2))),  # j broadcast: size 1 in one operand
    ("i,i->", (R(1), R(3))),
    ("ij,ij->ij", (R(1, 3), R(2, 3))),
]
CASES[np.einsum] = Case(
    [((subscripts, *ops), {}) for subscripts, ops in _EINSUM],
    call=lambda subscripts, *ops: np.einsum(subscripts, *ops),
)
