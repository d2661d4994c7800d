"""Gradient rules for ``scipy.signal``: convolutions, IIR filters and linear transforms.

A rule is ``rule(g, ans, *args, **kwargs) -> cotangent`` for one positional argument, ``g`` the
cotangent of the output (a tuple when there are several outputs). Rules are written with NumPy
calls and with ``scipy.signal``'s own (wrapped) functions, so they differentiate again: the
adjoint of a convolution is a correlation, the adjoint of an IIR filter is the same filter run
backwards in time. Registration is lazy: importing ndgrad does not import SciPy. Complex inputs
follow ndgrad's convention (``g * conj(f')``); an input that is real gets the real part.

Convolutions (``convolve``, ``correlate``, ``fftconvolve``, ``oaconvolve``, ``convolve2d``,
``correlate2d``) differentiate in both inputs for every ``mode``; the 2-D ones also for every
``boundary`` (``fill`` with any ``fillvalue``, which differentiates too, ``wrap``, ``symm``).
Each is written as a ``valid`` convolution of the input extended by its boundary rule,
``convolve2d(E(in1), in2, 'valid')``, where ``E`` is a 0/1 matrix per axis (``np.pad`` of an
identity): its adjoint sums the cotangent back onto the entries the extension copied.
``fftconvolve``/``oaconvolve`` take ``axes=None`` only (``axes`` raises when differentiated).

``lfilter(b, a, x, axis, zi)`` differentiates in ``b``, ``a``, ``x`` and ``zi``. With
``A y = B x + a[0] zi`` (``zi`` padded to the signal length) and ``w = A^-H g`` (the filter
``1/A`` run backwards on ``g``): ``x`` gets ``B^H w``, ``b[k]`` gets ``<w, x delayed by k>``,
``a[k]`` gets ``-<w, y delayed by k>`` (plus ``<w, zi>`` for ``a[0]``), ``zi`` gets
``conj(a[0]) w`` over its first samples. The final state ``zf`` differentiates too: it is the
zero-input response that follows, ``zf[m] = sum_j (a[j] / a[0]) t[m - j]`` for the output
``t`` of ``x`` extended by zeros, so its cotangent joins ``g`` on that extension.
``filtfilt`` is traced and differentiates in ``x``.
``sosfilt`` is the cascade of its sections' ``lfilter`` and differentiates in ``sos`` and
``x`` (``zi`` raises).

``hilbert`` (``ifft(fft(x, N) * h)``) has the adjoint ``real(ifft(fft(g) * h))``; ``detrend``
is an orthogonal projection, its own adjoint. ``savgol_filter`` is linear along its axis: its
``(n, n)`` matrix (the filter applied to the identity) is formed in the backward pass, so its
memory grows as ``n**2``.

Forward mode (rules at the end): the convolutions and the segment FFT are bilinear, ``hilbert``
linear, ``detrend`` its own JVP; ``convolve2d``'s ``fillvalue`` and ``savgol_filter``'s ``cval``
are affine constants (set to 0 for the input's tangent); ``lfilter`` and ``sosfilt`` have rules
in the coefficients, which filter the input and the output again.

Short-time transforms: ``stft``, ``spectrogram``, ``welch``, ``csd``, ``periodogram`` and
``coherence`` are NumPy code around one private step, ``_spectral_helper``'s segment FFT
(``fft(detrend(x[segments]) * win)``), which gets a rule in ``x`` and the window: the FFT's
adjoint, the window's conjugate, the detrend (a projection, its own adjoint: a callable
``detrend`` of the user's is refused), then the segments added back where they overlap
(``scatter_add``). The rest, ``istft`` and ``ShortTimeFFT``'s ``stft``, ``stft_detrend``,
``istft`` and ``spectrogram`` are traced (see ``scipy_functions``).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np

from ndgrad._array import GradArray
from ndgrad._define import defjvp, deflinear, defmultilinear, defvjp
from ndgrad._errors import not_differentiable
from ndgrad._graph import grad_enabled
from ndgrad._registry import VJP_RULES
from ndgrad._rules._lazy import after_import
from ndgrad._rules._scipy import defvjp_scipy, install_wrappers, trace_methods
from ndgrad._rules.indexing import scatter_add

_MODULE = "scipy.signal"


def _signal() -> Any:
    return sys.modules[_MODULE]


def _real_like(c, x):
    """The cotangent of ``x``: its real part when ``x`` is real."""
    return c if np.iscomplexobj(x) else np.real(c)


def _raises(what: str) -> Any:
    """A rule for an argument that gets no gradient: asking for one is an error."""

    def rule(g, ans, p0=None, p1=None, p2=None, p3=None, p4=None, p5=None, p6=None, p7=None):
        raise not_differentiable(f"{_MODULE}.{what}", "no rule for this argument")

    return rule


# --- convolutions as a valid convolution of the extended input --------------------------------


def _widths(shape1, shape2, mode, flipped=False):
    """Padding of ``in1`` per axis that turns ``mode`` into a ``valid`` convolution.

    ``same`` keeps the centre SciPy keeps: ``convolve2d``/``convolve`` pad ``ceil((k-1)/2)``
    before, ``correlate2d`` (``flipped``) ``floor((k-1)/2)``.
    """
    if mode == "valid":
        return [(0, 0)] * len(shape1)
    if mode == "full":
        return [(k - 1, k - 1) for k in shape2]
    if flipped:
        return [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in shape2]
    return [(k - 1 - (k - 1) // 2, (k - 1) // 2) for k in shape2]


def _valid_cotangents(g, big, small, correlate):
    """Cotangents of both inputs of ``convolve(big, small, 'valid')`` (either may be larger)."""
    if all(n >= k for n, k in zip(np.shape(big), np.shape(small), strict=True)):
        g_big = correlate(g, small, "full")
        g_small = np.conj(np.flip(correlate(big, g, "valid")))
        return g_big, g_small
    g_small, g_big = _valid_cotangents(g, small, big, correlate)
    return g_big, g_small


def _crop(c, widths):
    return c[tuple(slice(lo, n - hi) for (lo, hi), n in zip(widths, c.shape, strict=True))]


def _nd_cotangents(which, g, in1, in2, mode, is_correlate, convolve, correlate):
    """Cotangent of ``in1`` (``which`` 0) or ``in2`` for an N-d convolution (zero boundary)."""
    kernel = np.conj(np.flip(in2)) if is_correlate else in2
    widths = _widths(np.shape(in1), np.shape(in2), mode)
    extended = np.pad(in1, widths) if mode != "valid" else in1
    g_ext, g_kernel = _valid_cotangents(g, extended, kernel, correlate)
    if which == 0:
        return _real_like(_crop(g_ext, widths), in1)
    if is_correlate:
        g_kernel = np.conj(np.flip(g_kernel))
    return _real_like(g_kernel, in2)


def _direct_pair(method):
    signal = _signal()

    def convolve(x, y, mode):
        return signal.convolve(x, y, mode=mode, method=method)

    def correlate(x, y, mode):
        return signal.correlate(x, y, mode=mode, method=method)

    return convolve, correlate


def _fft_pair(name):
    conv = getattr(_signal(), name)

    def convolve(x, y, mode):
        return conv(x, y, mode=mode)

    def correlate(x, y, mode):
        return conv(x, np.conj(np.flip(y)), mode=mode)

    return convolve, correlate


def _convolve_vjp(which, is_correlate):
    def rule(g, ans, in1, in2, mode="full", method="auto"):
        pair = _direct_pair(method)
        return _nd_cotangents(which, g, in1, in2, mode, is_correlate, *pair)

    rule.__doc__ = f"Cotangent of in{which + 1}: a correlation of ``g`` with the other input."
    return rule


def _fftconvolve_vjp(which, name):
    def rule(g, ans, in1, in2, mode="full", axes=None):
        if axes is not None:
            raise not_differentiable(f"{_MODULE}.{name} with axes", "only axes=None has a rule")
        return _nd_cotangents(which, g, in1, in2, mode, False, *_fft_pair(name))

    rule.__doc__ = f"Cotangent of in{which + 1}: {name} of ``g`` with the flipped other input."
    return rule


_BOUNDARY_PAD = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap",
                 "symm": "symmetric", "symmetric": "symmetric"}  # fmt: skip


def _extension(n, widths, boundary):
    """The ``(n + before + after, n)`` 0/1 matrix that extends an axis by ``boundary``."""
    return np.pad(np.eye(n), (widths, (0, 0)), mode=_BOUNDARY_PAD[boundary])


def _conv2d_cotangents(which, g, in1, in2, mode, boundary, fillvalue, is_correlate):
    """Cotangent of ``in1``, ``in2`` or ``fillvalue`` (``which`` 0, 1, 2) of a 2-D convolution."""
    signal = _signal()
    kernel = np.conj(np.flip(in2)) if is_correlate else in2
    if mode == "valid":
        rows = cols = None
        extended = in1
    else:
        widths = _widths(np.shape(in1), np.shape(in2), mode, flipped=is_correlate)
        rows = _extension(in1.shape[0], widths[0], boundary)
        cols = _extension(in1.shape[1], widths[1], boundary)
        extended = rows @ in1 @ np.swapaxes(cols, 0, 1)
        if _BOUNDARY_PAD[boundary] == "constant":  # the entries outside hold fillvalue
            outside = 1 - rows @ np.ones(in1.shape) @ np.swapaxes(cols, 0, 1)
            extended = extended + fillvalue * outside

    def correlate(x, y, m):
        return signal.correlate2d(x, y, mode=m)

    g_ext, g_kernel = _valid_cotangents(g, extended, kernel, correlate)
    if which == 0:
        c = g_ext if rows is None else np.swapaxes(rows, 0, 1) @ g_ext @ cols
        return _real_like(c, in1)
    if which == 1:
        return _real_like(np.conj(np.flip(g_kernel)) if is_correlate else g_kernel, in2)
    if rows is None or _BOUNDARY_PAD[boundary] != "constant":
        return np.zeros_like(fillvalue)
    return _real_like(np.sum(g_ext * outside), fillvalue)


def _conv2d_vjp(which, is_correlate):
    def rule(g, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
        return _conv2d_cotangents(which, g, in1, in2, mode, boundary, fillvalue, is_correlate)

    rule.__doc__ = "Cotangent of {}: the adjoint of the boundary extension and the correlation."
    rule.__doc__ = rule.__doc__.format(("in1", "in2", "fillvalue")[which])
    return rule


def _conv2d_jvp(name):
    """Forward rules of ``convolve2d``/``correlate2d``: bilinear in ``(in1, in2)`` but for the
    ``fillvalue`` the 'fill' boundary adds, itself bilinear with ``in2``: ``in1``'s tangent is
    convolved with fillvalue 0, ``in2``'s with the input as extended (fillvalue included), and
    ``fillvalue``'s tangent fills the border of a zero input."""

    def in1_rule(t, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
        return getattr(_signal(), name)(t, in2, mode, boundary, 0)

    def in2_rule(t, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
        return getattr(_signal(), name)(in1, t, mode, boundary, fillvalue)

    def fillvalue_rule(t, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
        if mode == "valid" or _BOUNDARY_PAD[boundary] != "constant":
            return None  # no entry outside is read
        return getattr(_signal(), name)(np.zeros(in1.shape), in2, mode, boundary, t)

    return in1_rule, in2_rule, None, None, fillvalue_rule


# --- IIR filters ------------------------------------------------------------------------------


def _delayed_products(w, z, taps):
    """``[sum(w[..., k:] * conj(z[..., :n-k])) for k < taps]``: correlations at small lags."""
    n = w.shape[-1]
    terms = [np.sum(w[..., k:] * np.conj(z[..., : n - k])) for k in range(min(taps, n))]
    terms += [np.sum(w[..., :0])] * (taps - len(terms))
    return np.stack(terms)


def _lfilter_cotangent(which, g, ans, b, a, x, axis, zi):
    """Cotangent of ``b``, ``a``, ``x`` or ``zi`` (``which`` 0 to 3) of ``lfilter``."""
    lfilter = _signal().lfilter
    xl = np.moveaxis(x, axis, -1)
    n = xl.shape[-1]
    taps = max(len(a), len(b)) - 1
    extra_a = None
    if zi is None:
        g = np.moveaxis(g, axis, -1)
        yl = np.moveaxis(ans, axis, -1)
    else:
        # The final state is the zero-input response that follows: with x extended by taps
        # zeros, the tail t of the output satisfies zf[m] = sum_j (a[j] / a[0]) t[m - j].
        g_y, g_zf = (np.moveaxis(c, axis, -1) for c in g)
        zil = np.moveaxis(zi, axis, -1)
        xl = np.concatenate([xl, np.zeros((*xl.shape[:-1], taps), dtype=xl.dtype)], axis=-1)
        yl = lfilter(b, a, xl, axis=-1, zi=zil)[0]
        tail = yl[..., n:]
        an = a / a[0]
        g_tail = [
            np.sum(np.conj(an[: taps - k]) * g_zf[..., k : k + len(an[: taps - k])], axis=-1)
            for k in range(taps)
        ]
        g = np.concatenate([g_y, np.stack(g_tail, axis=-1)], axis=-1)
        if which == 1:  # zf depends on a / a[0] directly too
            g_an = _delayed_products(g_zf, tail, len(a))
            a0 = np.conj(a[0])
            first = np.sum(g_an * np.conj(a)) / (a0 * a0)
            zeros = np.zeros(len(a) - 1, dtype=first.dtype)
            extra_a = g_an / a0 - np.concatenate([first[None], zeros])
    if which == 2:  # x: B^H A^-H g, the conjugate filter run backwards
        c = np.flip(lfilter(np.conj(b), np.conj(a), np.flip(g, -1), axis=-1), -1)
        return _real_like(np.moveaxis(c[..., :n], -1, axis), x)
    w = np.flip(lfilter(np.ones(1), np.conj(a), np.flip(g, -1), axis=-1), -1)  # A^-H g
    if which == 0:
        return _real_like(_delayed_products(w, xl, len(b)), b)
    if which == 1:
        c = -_delayed_products(w, yl, len(a))
        if zi is not None:  # A y = B x + a[0] zi: a[0] also scales the initial state
            first = np.sum(w[..., :taps] * np.conj(zil))
            c = c + np.concatenate([first[None], np.zeros(len(a) - 1, dtype=first.dtype)])
            c = c + extra_a
        return _real_like(c, a)
    c = np.moveaxis(np.conj(a[0]) * w[..., :taps], -1, axis)
    summed = tuple(i for i, (m, k) in enumerate(zip(zi.shape, c.shape, strict=True)) if m < k)
    return _real_like(np.sum(c, axis=summed, keepdims=True) if summed else c, zi)


def _lfilter_vjp(which):
    def rule(g, ans, b, a, x, axis=-1, zi=None):
        return _lfilter_cotangent(which, g, ans, b, a, x, axis, zi)

    rule.__doc__ = f"Cotangent of {('b', 'a', 'x', 'zi')[which]}: the adjoint filter."
    return rule


def _lfilter_b_jvp(t, ans, b, a, x, axis=-1, zi=None):
    """``A y = B x + a[0] zi`` is affine in ``b`` (the state's response does not depend on it)."""
    lfilter = _signal().lfilter
    if zi is None:
        return lfilter(t, a, x, axis)
    return lfilter(t, a, x, axis, np.zeros(zi.shape))  # (y, zf)


def _lfilter_a_jvp(t, ans, b, a, x, axis=-1, zi=None):
    """``A y = B x + a[0] zi``: ``dy = A^-1 (t[0] zi - T y)``, ``T`` the filter of ``t``. With
    ``zi`` the coefficients act normalised by ``a[0]`` (``zi`` is not), and ``zf`` follows the
    same recursion: with ``s = t[0] / a[0]``, (``dy``, ``dzf``) is ``-s`` times the filter
    ``b/a`` of ``x`` from a zero state, minus the filter ``(t - s a)/a`` of ``y``."""
    lfilter = _signal().lfilter
    if zi is None:
        return -lfilter(t, a, ans, axis)
    zeros = np.zeros(zi.shape)
    s = t[0] / a[0]
    # padded to the length of the state, which b may set
    c = np.concatenate([t - s * a, np.zeros(max(len(b) - len(a), 0))])
    y_b, zf_b = lfilter(b, a, x, axis, zeros)
    y_a, zf_a = lfilter(c, a, ans[0], axis, zeros)
    return -s * y_b - y_a, -s * zf_b - zf_a


def _lfilter_x_jvp(t, ans, b, a, x, axis=-1, zi=None):
    """Linear in ``(x, zi)`` together: the filter of ``t`` from a zero state."""
    lfilter = _signal().lfilter
    if zi is None:
        return lfilter(b, a, t, axis)
    return lfilter(b, a, t, axis, np.zeros(zi.shape))


def _lfilter_zi_jvp(t, ans, b, a, x, axis=-1, zi=None):
    """The response of the state ``t`` to a zero input."""
    return _signal().lfilter(b, a, np.zeros(x.shape), axis, t)


def _sosfilt_sos_jvp(t, ans, sos, x, axis=-1, zi=None):
    """Each section's tangent (``lfilter``'s in ``b`` and ``a``, without state), filtered by
    the sections after it."""
    if zi is not None:
        raise not_differentiable(f"{_MODULE}.sosfilt with zi", "no rule with zi")
    lfilter = _signal().lfilter
    signal, total = x, None
    for i in range(len(sos)):
        b, a = sos[i, :3], sos[i, 3:]
        y = ans if i == len(sos) - 1 else lfilter(b, a, signal, axis)
        d = lfilter(t[i, :3], a, signal, axis) - lfilter(t[i, 3:], a, y, axis)
        total = d if total is None else lfilter(b, a, total, axis) + d
        signal = y
    return total


def _sosfilt_x_jvp(t, ans, sos, x, axis=-1, zi=None):
    if zi is not None:
        raise not_differentiable(f"{_MODULE}.sosfilt with zi", "no rule with zi")
    return _signal().sosfilt(sos, t, axis)


def _sosfilt_vjp(which):
    def rule(g, ans, sos, x, axis=-1, zi=None):
        """Back through the cascade of sections, each an ``lfilter``."""
        if zi is not None:
            raise not_differentiable(f"{_MODULE}.sosfilt with zi", "no rule with zi")
        lfilter = _signal().lfilter
        signals = [x]
        for section in sos[:-1]:  # the inputs of each section, recomputed
            signals.append(lfilter(section[:3], section[3:], signals[-1], axis=axis))
        g_sections = []
        for i in range(len(sos) - 1, -1, -1):
            b, a, s = sos[i, :3], sos[i, 3:], signals[i]
            y = ans if i == len(sos) - 1 else signals[i + 1]
            if which == 0:
                g_sections.append(
                    np.concatenate(
                        [
                            _lfilter_cotangent(0, g, y, b, a, s, axis, None),
                            _lfilter_cotangent(1, g, y, b, a, s, axis, None),
                        ]
                    )
                )
            g = _lfilter_cotangent(2, g, y, b, a, s, axis, None)
        if which == 1:
            return g
        return np.stack(g_sections[::-1])

    return rule


# --- linear transforms ------------------------------------------------------------------------


def _hilbert_vjp(g, ans, x, N=None, axis=-1):
    """``ifft(fft(x, N) * h)`` is ``F^-1 H F``; its adjoint is the same map (``h`` is real)."""
    n = x.shape[axis]
    size = n if N is None else N
    h = np.zeros(size)
    h[0] = 1
    if size % 2 == 0:
        h[size // 2] = 1
        h[1 : size // 2] = 2
    else:
        h[1 : (size + 1) // 2] = 2
    shape = [1] * g.ndim
    shape[axis] = size
    c = np.fft.ifft(np.fft.fft(g, axis=axis) * np.reshape(h, shape), axis=axis)
    c = np.moveaxis(c, axis, -1)
    if size >= n:  # fft(x, N) padded x with zeros: the adjoint keeps the first n samples
        c = c[..., :n]
    else:  # fft(x, N) cut x: the samples it dropped get no gradient
        c = np.concatenate([c, np.zeros((*c.shape[:-1], n - size), dtype=c.dtype)], axis=-1)
    return _real_like(np.moveaxis(c, -1, axis), x)


def _detrend_vjp(g, ans, data, axis=-1, type="linear", bp=0, overwrite_data=False):
    """Removing a least-squares fit is an orthogonal projection: it is its own adjoint."""
    return _signal().detrend(g, axis=axis, type=type, bp=bp)


def _savgol_filter_vjp(
    g, ans, x, window_length, polyorder, deriv=0, delta=1.0, axis=-1, mode="interp", cval=0.0
):
    """The filter is a fixed ``(n, n)`` matrix ``S`` along ``axis``: ``x`` gets ``S^T g``."""
    n = x.shape[axis]
    matrix = _signal().savgol_filter(
        np.eye(n), window_length, polyorder, deriv=deriv, delta=delta, axis=0, mode=mode, cval=0.0
    )
    c = np.tensordot(np.swapaxes(matrix, 0, 1), np.moveaxis(g, axis, 0), axes=1)
    return np.moveaxis(c, 0, axis)


def _savgol_filter_jvp(
    t, ans, x, window_length, polyorder, deriv=0, delta=1.0, axis=-1, mode="interp", cval=0.0
):
    """Linear in ``x`` but for ``cval`` (mode 'constant'): the filter of ``t`` with cval 0."""
    return _signal().savgol_filter(t, window_length, polyorder, deriv, delta, axis, mode, cval=0.0)


# --- short-time Fourier transforms -------------------------------------------------------------


def _segment_index(n, nperseg, noverlap):
    """``idx[t, k] = t * step + k``: ``x[..., idx]`` are the segments SciPy's strided view holds."""
    step = nperseg - noverlap
    starts = np.arange(0, n - nperseg + 1, step)
    return starts[:, None] + np.arange(nperseg)


def _detrend_is_projection(detrend_func):
    """Whether ``detrend_func`` is one ``_spectral_helper`` made: none, or detrend by a type name.

    Removing the mean or a least-squares line is an orthogonal projection, its own adjoint; a
    function of the user's is not known to be linear, so it is refused.
    """
    if getattr(detrend_func, "__qualname__", "") != "_spectral_helper.<locals>.detrend_func":
        return False
    cells = dict(
        zip(detrend_func.__code__.co_freevars, detrend_func.__closure__ or (), strict=True)
    )
    return "detrend" not in cells or isinstance(cells["detrend"].cell_contents, str)


def _fft_helper_cotangent(which, g, x, win, detrend_func, nperseg, noverlap, nfft, sides):
    """Cotangent of ``x`` or ``win`` (``which`` 0, 1): back through the FFT, window, detrend."""
    fft_rule = VJP_RULES[np.fft.rfft if sides == "onesided" else np.fft.fft].rules[0]
    frame_shape = (*g.shape[:-1], nperseg)
    c = fft_rule(g, None, np.broadcast_to(0.0, frame_shape), nfft)  # of the windowed segments
    if which == 1:
        segments = detrend_func(x[..., _segment_index(x.shape[-1], nperseg, noverlap)])
        c = np.sum(np.reshape(c * np.conj(segments), (-1, nperseg)), axis=0)
        return _real_like(c, win)
    c = detrend_func(c * np.conj(win))
    return _real_like(
        scatter_add(c, (..., _segment_index(x.shape[-1], nperseg, noverlap)), x.shape), x
    )


def _fft_helper_vjp(which):
    def rule(g, ans, x, win, detrend_func, nperseg, noverlap, nfft, sides):
        return _fft_helper_cotangent(which, g, x, win, detrend_func, nperseg, noverlap, nfft, sides)

    rule.__doc__ = f"Cotangent of {('x', 'win')[which]} of the windowed segments' FFT."
    return rule


def _install_fft_helper(module):
    """Give ``_spectral_helper``'s segment FFT a rule: ``stft``, ``spectrogram``, ``welch``, ``csd``
    and ``coherence`` are NumPy code around it, traced."""
    spectral = sys.modules["scipy.signal._spectral_py"]
    original = spectral._fft_helper
    primitive = defvjp(
        original, _fft_helper_vjp(0), _fft_helper_vjp(1), name="scipy.signal.stft's segment FFT"
    )
    # fft(detrend(x[segments]) * win): linear in x and in win (detrend is a projection)
    defmultilinear(primitive)

    @functools.wraps(primitive)  # ``__wrapped__`` is the primitive, the key of its rules
    def fft_helper(x, win, detrend_func, nperseg, noverlap, nfft, sides):
        graph = grad_enabled() and any(
            isinstance(a, GradArray) and a._node is not None for a in (x, win)
        )
        if graph and not _detrend_is_projection(detrend_func):
            raise not_differentiable(
                f"{_MODULE}'s spectral functions with a callable detrend",
                "its adjoint is unknown; pass detrend='constant', 'linear' or False",
            )
        return primitive(x, win, detrend_func, nperseg, noverlap, nfft, sides)

    install_wrappers([(original, fft_helper)])


after_import(_MODULE, _install_fft_helper)
# The newer interface is NumPy code around scipy.fft (welch and csd call it too): traced.
trace_methods(_MODULE, "ShortTimeFFT", ("stft", "stft_detrend", "istft", "spectrogram"))


# The parameters SciPy reads as array_like: a list there (of numbers, or holding GradArrays) is
# made one array before the call is recorded (``Primitive.arrays``), so the rules read arrays.
_IN = ("in1", "in2")
_CONV = ("convolve", "correlate")
for _name in _CONV:
    defvjp_scipy(
        _MODULE,
        _name,
        _convolve_vjp(0, _name == "correlate"),
        _convolve_vjp(1, _name == "correlate"),
        arrays=_IN,
    )
for _name in ("fftconvolve", "oaconvolve"):
    defvjp_scipy(_MODULE, _name, _fftconvolve_vjp(0, _name), _fftconvolve_vjp(1, _name), arrays=_IN)
for _name in ("convolve2d", "correlate2d"):
    _flipped = _name == "correlate2d"
    defvjp_scipy(
        _MODULE,
        _name,
        _conv2d_vjp(0, _flipped),
        _conv2d_vjp(1, _flipped),
        None,
        None,
        _conv2d_vjp(2, _flipped),
        arrays=_IN,
    )
defvjp_scipy(
    _MODULE,
    "lfilter",
    _lfilter_vjp(0),
    _lfilter_vjp(1),
    _lfilter_vjp(2),
    None,
    _lfilter_vjp(3),
    arrays=("b", "a", "x", "zi"),
)
defvjp_scipy(
    _MODULE,
    "sosfilt",
    _sosfilt_vjp(0),
    _sosfilt_vjp(1),
    None,
    _raises("sosfilt zi"),
    arrays=("sos", "x", "zi"),
)
defvjp_scipy(_MODULE, "hilbert", _hilbert_vjp, arrays=("x",))
defvjp_scipy(_MODULE, "detrend", _detrend_vjp, arrays=("data",))
defvjp_scipy(
    _MODULE,
    "savgol_filter",
    _savgol_filter_vjp,
    None,
    None,
    None,
    _raises("savgol_filter with respect to delta"),
    None,
    None,
    _raises("savgol_filter with respect to cval"),
)


# --- forward mode -----------------------------------------------------------------------------
# The convolutions are bilinear (``correlate`` conjugates ``in2``: real-linear, which is what the
# tangent ``d/de f(x + e t)`` needs); hilbert is linear; detrend, a projection, is its own JVP
# (not called with ``overwrite_data``, which would write into the tangent). The others have
# rules above: the 2-D convolutions' fillvalue and savgol's cval are affine constants, and
# lfilter is nonlinear in ``a``.


def _register_jvps(module: Any) -> None:
    defmultilinear(module.convolve, module.correlate, module.fftconvolve, module.oaconvolve)
    deflinear(module.hilbert)
    defjvp(module.detrend, _detrend_vjp)
    defjvp(module.convolve2d, *_conv2d_jvp("convolve2d"))
    defjvp(module.correlate2d, *_conv2d_jvp("correlate2d"))
    defjvp(module.lfilter, _lfilter_b_jvp, _lfilter_a_jvp, _lfilter_x_jvp, None, _lfilter_zi_jvp)
    defjvp(module.sosfilt, _sosfilt_sos_jvp, _sosfilt_x_jvp, None, _raises("sosfilt zi"))
    savgol_refusals = [_raises(f"savgol_filter with respect to {p}") for p in ("delta", "cval")]
    defjvp(
        module.savgol_filter,
        _savgol_filter_jvp,
        None,
        None,
        None,
        savgol_refusals[0],
        None,
        None,
        savgol_refusals[1],
    )


after_import(_MODULE, _register_jvps)
