"""Cases for the numpy.fft rules (ndgrad/_rules/fft.py): every transform with ``n=``/``s=``
(padding and truncation), ``axis=``/``axes=`` and the three ``norm=`` modes."""

from __future__ import annotations

import numpy as np

from ._case import C, Case, R, calls

NORMS = [None, "ortho", "forward"]


def _one_d(make):
    """Odd and even lengths, padded and truncated, along either axis of a 2-d input."""
    return (
        calls((make(4),), n=[None, 3, 6], norm=NORMS)
        + calls((make(5),), n=[None, 4, 7], norm=["backward"])
        + calls((make(2, 3),), axis=[0, -1], norm=NORMS)
        + calls((make(2, 3),), n=[2, 5], axis=[0])
    )


def _n_d(make, default_axes):
    out = calls((make(2, 3),), (make(2, 2, 3),), norm=NORMS)
    out += calls((make(2, 3),), axes=[(0,), (1, 0)])
    out += calls((make(2, 3),), s=[(3, 2), (1, 4), (-1, 4), (3, -1)], axes=[(0, 1)])
    out += calls((make(3, 2, 2),), s=[(3, 3)], axes=[(0, 2)], norm=["ortho"])
    if default_axes is None:
        out += calls((make(3, 2),), (make(2, 2, 2),))
    return out


CASES = {
    np.fft.fft: Case(_one_d(C) + calls((R(4),), n=[None, 5])),
    np.fft.ifft: Case(_one_d(C) + calls((R(4),), n=[None, 3])),
    np.fft.rfft: Case(_one_d(R)),
    np.fft.irfft: Case(_one_d(C)),
    np.fft.hfft: Case(_one_d(C)),
    np.fft.ihfft: Case(_one_d(R)),
    np.fft.fftn: Case(_n_d(C, None) + calls((R(2, 3),))),
    np.fft.ifftn: Case(_n_d(C, None)),
    np.fft.fft2: Case(_n_d(C, (-2, -1))),
    np.fft.ifft2: Case(_n_d(C, (-2, -1))),
    np.fft.rfftn: Case(_n_d(R, None)),
    np.fft.irfftn: Case(_n_d(C, None)),
    np.fft.rfft2: Case(_n_d(R, (-2, -1))),
    np.fft.irfft2: Case(_n_d(C, (-2, -1))),
    np.fft.fftshift: Case(calls((R(5),), (R(2, 3),), (C(4),)) + calls((R(3, 4),), axes=[0, (1,)])),
    np.fft.ifftshift: Case(calls((R(5),), (R(2, 3),), (C(4),)) + calls((R(3, 4),), axes=[0, (1,)])),
}
