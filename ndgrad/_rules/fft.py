"""Gradient rules for ``numpy.fft``: the transforms, their real and Hermitian variants, shifts.

A rule is ``rule(g, ans, a, n=None, axis=-1, norm=None, out=None) -> cotangent`` (or ``s=`` and
``axes=`` for the n-dimensional transforms), with NumPy's own parameter names and defaults.

A discrete Fourier transform is linear, so its cotangent is the adjoint transform applied to
``g``: the adjoint of ``fft`` is ``ifft`` and the adjoint of ``ifft`` is ``fft``, with the
normalization swapped (``"backward"`` <-> ``"forward"``, ``"ortho"`` stays) so that the scale
factors match. ``n=``/``s=`` zero-pad or truncate the input before transforming; the adjoint
truncates or zero-pads the cotangent back to the input's length. The real transforms are
linear over the reals: ``rfft``'s adjoint zero-pads the half spectrum and keeps the real part of
a full inverse transform, and ``irfft``'s adjoint counts twice the frequencies that stand for a
conjugate pair. Complex inputs follow PyTorch's convention, like every rule in ndgrad.
"""

from __future__ import annotations

import numpy as np

from ndgrad._define import deflinear, defvjp
from ndgrad._rules._common import conj
from ndgrad._rules.indexing import scatter_add

_SWAP = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def _fit(x, n, axis):
    """``x`` truncated or zero-padded to length ``n`` along ``axis``, as NumPy fits an input."""
    axis = axis % x.ndim
    m = x.shape[axis]
    if m == n:
        return x
    key = (slice(None),) * axis + (slice(0, min(m, n)),)
    if m > n:
        return x[key]
    shape = (*x.shape[:axis], n, *x.shape[axis + 1 :])
    return scatter_add(x, key, shape)


def _cook_axes(ndim, s, axes, shape):
    """NumPy's choice of axes and lengths for the n-dimensional transforms."""
    if axes is None:
        axes = tuple(range(ndim)) if s is None else tuple(range(-len(s), 0))
    axes = tuple(k % ndim for k in axes)
    if s is None:
        return tuple(shape[k] for k in axes), axes
    # s[i] == -1 means the input's own length along axes[i]
    return tuple(shape[k] if n == -1 else n for n, k in zip(s, axes, strict=True)), axes


# --- complex transforms -------------------------------------------------------------------------


def _fftn_adjoint(g, shape, s, axes, norm, inverse):
    """The adjoint of ``fftn`` (``inverse=False``) or ``ifftn`` on ``g``, for an input of
    ``shape`` (rules pass ``a.shape`` only, so that ``a`` itself is not kept for backward)."""
    _, axes = _cook_axes(len(shape), s, axes, shape)
    adjoint = np.fft.fftn if inverse else np.fft.ifftn
    c = adjoint(g, axes=axes, norm=_SWAP[norm])
    for k in axes:
        c = _fit(c, shape[k], k)
    return c


def _fft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    return _fit(np.fft.ifft(g, axis=axis, norm=_SWAP[norm]), a.shape[axis], axis)


def _ifft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    return _fit(np.fft.fft(g, axis=axis, norm=_SWAP[norm]), a.shape[axis], axis)


defvjp(np.fft.fft, _fft_vjp)
defvjp(np.fft.ifft, _ifft_vjp)
defvjp(
    np.fft.fftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: _fftn_adjoint(
        g, a.shape, s, axes, norm, False
    ),
)
defvjp(
    np.fft.ifftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: _fftn_adjoint(
        g, a.shape, s, axes, norm, True
    ),
)
defvjp(
    np.fft.fft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None: _fftn_adjoint(
        g, a.shape, s, axes, norm, False
    ),
)
defvjp(
    np.fft.ifft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None: _fftn_adjoint(
        g, a.shape, s, axes, norm, True
    ),
)

# --- real transforms ----------------------------------------------------------------------------


def _rfft_adjoint(g, length, n, axis, norm):
    """Adjoint of ``rfft`` (length ``n``) on the half spectrum ``g``: the real part of the
    inverse transform of ``g`` zero-padded to ``n``, fitted to the input's ``length``."""
    return _fit(np.real(np.fft.ifft(g, n=n, axis=axis, norm=_SWAP[norm])), length, axis)


def _irfft_adjoint(g, length, n, axis, norm):
    """Adjoint of ``irfft`` (output length ``n``) on the real ``g``: frequencies 1 .. n - n//2 - 1
    stand for themselves and their conjugate mirror, so they count twice."""
    c = np.fft.rfft(g, axis=axis, norm=_SWAP[norm])
    twice = np.ones(n // 2 + 1)
    twice[1 : n - n // 2] = 2  # a fresh constant, not recorded
    axis = axis % g.ndim
    c = c * np.reshape(twice, (-1,) + (1,) * (g.ndim - axis - 1))
    return _fit(c, length, axis)


def _rfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    length = a.shape[axis]
    return _rfft_adjoint(g, length, length if n is None else n, axis, norm)


def _irfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    length = a.shape[axis]
    return _irfft_adjoint(g, length, 2 * (length - 1) if n is None else n, axis, norm)


# hfft(a) is irfft(conj(a)) and ihfft(a) is conj(rfft(a)), each with the normalization swapped.
def _hfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    length = a.shape[axis]
    n = 2 * (length - 1) if n is None else n
    return conj(_irfft_adjoint(g, length, n, axis, _SWAP[norm]))


def _ihfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    length = a.shape[axis]
    return _rfft_adjoint(np.conj(g), length, length if n is None else n, axis, _SWAP[norm])


defvjp(np.fft.rfft, _rfft_vjp)
defvjp(np.fft.irfft, _irfft_vjp)
defvjp(np.fft.hfft, _hfft_vjp)
defvjp(np.fft.ihfft, _ihfft_vjp)


def _rfftn_adjoint(g, shape, s, axes, norm):
    """rfftn is rfft along the last axis, then fft along the others: adjoints in reverse."""
    s, axes = _cook_axes(len(shape), s, axes, shape)
    c = g
    if len(axes) > 1:
        c = np.fft.ifftn(c, axes=axes[:-1], norm=_SWAP[norm])
        for k in axes[:-1]:
            c = _fit(c, shape[k], k)
    return _rfft_adjoint(c, shape[axes[-1]], s[-1], axes[-1], norm)


def _irfftn_adjoint(g, shape, s, axes, norm):
    """irfftn is ifft along all axes but the last, then irfft along it: adjoints in reverse."""
    given = s is not None
    s, axes = _cook_axes(len(shape), s, axes, shape)
    if not given:  # the last output length defaults to 2 * (m - 1)
        s = (*s[:-1], 2 * (s[-1] - 1))
    c = _irfft_adjoint(g, shape[axes[-1]], s[-1], axes[-1], norm)
    if len(axes) > 1:
        c = np.fft.fftn(c, axes=axes[:-1], norm=_SWAP[norm])
        for k in axes[:-1]:
            c = _fit(c, shape[k], k)
    return c


defvjp(
    np.fft.rfftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: _rfftn_adjoint(
        g, a.shape, s, axes, norm
    ),
)
defvjp(
    np.fft.irfftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: _irfftn_adjoint(
        g, a.shape, s, axes, norm
    ),
)
defvjp(
    np.fft.rfft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None: _rfftn_adjoint(
        g, a.shape, s, axes, norm
    ),
)
defvjp(
    np.fft.irfft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None: _irfftn_adjoint(
        g, a.shape, s, axes, norm
    ),
)

# --- shifts: a permutation, whose adjoint is the opposite shift ---------------------------------
defvjp(np.fft.fftshift, lambda g, ans, x, axes=None: np.fft.ifftshift(g, axes))
defvjp(np.fft.ifftshift, lambda g, ans, x, axes=None: np.fft.fftshift(g, axes))

# --- forward mode: every transform is the same transform of the tangent ----------------------
# Linear for every ``n``/``s``, ``axis``/``axes`` and ``norm`` (a fixed scale). The real and
# Hermitian ones are linear over the reals, which is all a tangent needs: ``irfft`` and
# ``hfft`` drop the imaginary parts of their DC and Nyquist terms and ``hfft``/``ihfft``
# conjugate, each the same for the tangent as for the input.
deflinear(
    np.fft.fft, np.fft.ifft, np.fft.fftn, np.fft.ifftn, np.fft.fft2, np.fft.ifft2,
    np.fft.rfft, np.fft.irfft, np.fft.hfft, np.fft.ihfft,
    np.fft.rfftn, np.fft.irfftn, np.fft.rfft2, np.fft.irfft2,
    np.fft.fftshift, np.fft.ifftshift,
)  # fmt: skip
