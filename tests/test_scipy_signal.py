"""scipy.signal: initial states, what raises, regressions and real use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.signal as ss

import ndgrad as nd
from ndgrad.testing import check_grad

from .cases.scipy_signal import LFILTER_ZI

rng = np.random.default_rng(141)
_B = np.array([0.2, 0.3, 0.1])
_A = np.array([1.3, -0.5, 0.2])


def test_lfilter_with_initial_state_matches_finite_differences():
    for args, kwargs in LFILTER_ZI.calls:
        check_grad(lambda *a, kw=kwargs: LFILTER_ZI.call(*a, **kw), *args, order=2)


def _check_jvp(f, x):
    t = rng.standard_normal(x.shape)
    _, tangent = nd.jvp(lambda x: np.sum(f(x)), (x,), (t,))
    h = 1e-6
    assert np.isclose(tangent, (np.sum(f(x + h * t)) - np.sum(f(x - h * t))) / (2 * h))


# SciPy takes lists for the coefficients, the state and the sections; the rules read them as
# arrays (``a / a[0]``, ``zi.shape``, ``sos[i, :3]``): a TypeError in backward before
_lists = np.random.default_rng(7)
_X12 = _lists.standard_normal(12)
LIST_ARGUMENTS = {
    "x, with b, a and zi lists": (
        lambda x: ss.lfilter([1, 0.5], [1, -0.3], x, zi=[0.1])[0] ** 2,
        _lists.standard_normal(12),
    ),
    "x, the final state": (
        lambda x: ss.lfilter([1, 0.5], [1, -0.3], x, zi=[0.1])[1] ** 2,
        _lists.standard_normal(12),
    ),
    "entries of b, a and zi lists": (
        lambda p: ss.lfilter([p[0], 0.5, 0.1], [1.0, p[1]], _X12, zi=[p[2], 0.3])[0] ** 2,
        np.array([1.0, -0.3, 0.2]),
    ),
    "sections as a nested list": (
        lambda x: ss.sosfilt(ss.butter(2, 0.3, output="sos").tolist(), x) ** 2,
        _lists.standard_normal(12),
    ),
    "entries of a nested list of sections": (
        lambda p: ss.sosfilt([[p[0], 0.2, 0.1, 1.0, p[1], 0.2]], _X12) ** 2,
        np.array([1.0, -0.3]),
    ),
    "hilbert of a list holding parameters": (
        lambda p: np.abs(ss.hilbert([p[0], p[1], p[2], 0.5])) ** 2,
        np.array([0.7, 1.3, 0.4]),
    ),
    "detrend of a list holding parameters": (
        lambda p: ss.detrend([p[0], p[1], p[2], 0.5]) ** 2,
        np.array([0.7, 1.3, 0.4]),
    ),
    "convolve of lists": (
        lambda p: ss.convolve([p[0], p[1], 0.5], [1.0, 0.5]) ** 2,
        np.array([0.7, 1.3]),
    ),
}


@pytest.mark.parametrize("name", LIST_ARGUMENTS)
def test_filters_take_their_coefficients_as_lists(name):
    f, x = LIST_ARGUMENTS[name]
    check_grad(f, x, order=2, eps=1e-5)
    _check_jvp(f, x)


def test_filtering_in_chunks_differentiates_like_the_whole_signal():
    """The final state of one chunk is the initial state of the next: gradients flow through."""
    x = rng.standard_normal(12)

    def chunked(b, a, x):
        y1, zf = ss.lfilter(b, a, x[:5], zi=np.zeros(2))
        y2, _ = ss.lfilter(b, a, x[5:], zi=zf)
        return np.sum(np.concatenate([y1, y2]) ** 2)

    def whole(b, a, x):
        return np.sum(ss.lfilter(b, a, x) ** 2)

    for got, want in zip(
        nd.grad(chunked, argnums=(0, 1, 2))(_B, _A, x),
        nd.grad(whole, argnums=(0, 1, 2))(_B, _A, x),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_lfilter_adjoint_is_the_filter_run_backwards():
    x, g = rng.standard_normal(9), rng.standard_normal(9)
    _, vjp = nd.vjp(lambda x: ss.lfilter(_B, _A, x), x)
    np.testing.assert_allclose(vjp(g)[0], ss.lfilter(_B, _A, g[::-1])[::-1])


def test_filtfilt_differentiates_in_x():
    check_grad(lambda x: ss.filtfilt(_B, _A, x), rng.standard_normal(20), order=2)


def test_filtfilt_in_the_coefficients_is_loud():
    """filtfilt's initial state comes from lfilter_zi, through scipy.linalg.companion."""
    with pytest.raises(nd.NotDifferentiableError):
        nd.grad(lambda b: np.sum(ss.filtfilt(b, _A, np.ones(20))))(_B)


def test_sosfilt_initial_state_raises():
    sos = ss.butter(2, 0.3, output="sos")
    with pytest.raises(nd.NotDifferentiableError, match="sosfilt"):
        nd.grad(lambda z: np.sum(ss.sosfilt(sos, np.ones(5), zi=z)[0]))(np.zeros((1, 2)))


def test_fftconvolve_axes_raises_when_differentiated():
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 2))
    with pytest.raises(nd.NotDifferentiableError, match="axes"):
        nd.grad(lambda a: np.sum(ss.fftconvolve(a, b, axes=1)))(a)


def test_complex_fftconvolve_inside_a_transform():
    """Regression: SciPy's own buffers were GradArrays inside the scope; pocketfft refused."""
    a = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    g = nd.grad(lambda a: np.sum(np.abs(ss.fftconvolve(a, np.ones(3))) ** 2))(a)
    assert g.shape == a.shape and np.all(np.isfinite(g))


def test_filter_design_works_with_ndgrad_imported():
    """Regression: iirfilter compares prototype functions by identity; wrapping them broke it."""
    code = """
        import ndgrad, numpy as np
        import scipy.signal as ss
        for design in (ss.butter, ss.bessel):
            b, a = design(3, 0.3)
        b, a = ss.cheby1(3, 1, 0.3)
        b, a = ss.cheby2(3, 30, 0.3)
        b, a = ss.ellip(3, 1, 30, 0.3)
        """
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, timeout=120)


def test_convolve2d_closed_form_in_the_kernel():
    """d/dk sum(convolve2d(x, k, 'valid')) is the sum of the windows of x."""
    x, k = rng.standard_normal((5, 6)), rng.standard_normal((2, 3))
    g = nd.grad(lambda k: np.sum(ss.convolve2d(x, k, "valid")))(k)
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape)
    np.testing.assert_allclose(g, np.flip(np.sum(windows, axis=(0, 1))))


# --- real use, unmodified ---------------------------------------------------------------------


def _impulse_response_loss(b, a, target):
    """Fit an IIR filter's impulse response to a target: a classic filter-design loss."""
    impulse = np.zeros(len(target))
    impulse[0] = 1.0
    h = ss.lfilter(b, a, impulse)
    return np.sum((h - target) ** 2)


def test_filter_design_loss_through_lfilter():
    target = 0.6 ** np.arange(16) * np.cos(0.7 * np.arange(16))
    b = np.array([0.5, 0.1])
    a = np.array([1.0, -0.4, 0.1])
    check_grad(lambda b, a: _impulse_response_loss(b, a, target), b, a, order=2)
    gb, ga = nd.grad(_impulse_response_loss, argnums=(0, 1))(b, a, target)
    before = _impulse_response_loss(b, a, target)
    assert _impulse_response_loss(b - 0.05 * gb, a - 0.05 * ga, target) < before


def test_denoising_loss_through_savgol_and_convolve():
    x = np.sin(np.linspace(0, 3, 30)) + 0.1 * rng.standard_normal(30)
    kernel = np.array([0.25, 0.5, 0.25])

    def loss(x, kernel):
        smooth = ss.savgol_filter(x, 7, 2)
        return np.sum((ss.convolve(x, kernel, "same") - smooth) ** 2) + np.sum(
            np.abs(ss.hilbert(ss.detrend(x))) ** 2
        )

    check_grad(loss, x, kernel, order=2, rtol=1e-4, atol=1e-6)


# --- short-time Fourier transforms: one segment FFT with a rule, the rest traced ---------------

_X, _Y = rng.standard_normal(16), rng.standard_normal(16)
_STFT = ss.ShortTimeFFT(ss.windows.hann(6), hop=3, fs=1.0)
_STFT_TWOSIDED = ss.ShortTimeFFT(ss.windows.hann(6), hop=2, fs=1.0, fft_mode="centered")


def _power(z):
    """A real loss of a (complex) spectrum or signal that weights each entry differently."""
    return np.sum(np.abs(z) ** 2 * np.arange(1, z.size + 1).reshape(z.shape))


@pytest.mark.parametrize(
    "loss, x",
    [
        (lambda x: _power(ss.spectrogram(x, nperseg=6, mode="complex")[2]), _X),
        (lambda x: np.sum(ss.spectrogram(x, nperseg=6, mode="magnitude")[2]), _X),
        (lambda x: np.sum(ss.spectrogram(x, nperseg=6, detrend="linear")[2]), _X),
        (lambda x: np.sum(ss.welch(x, nperseg=6)[1] ** 2), _X),
        (lambda x: np.sum(ss.welch(x, nperseg=6, average="median")[1]), _X),
        (lambda x: _power(ss.csd(x, _Y, nperseg=6)[1]), _X),
        (lambda y: np.sum(ss.coherence(_X, y, nperseg=6)[1]), _Y),
        (lambda x: np.sum(ss.periodogram(x, window="hann")[1]), _X),
        (lambda z: _power(ss.istft(z, nperseg=6)[1]), ss.stft(_X, nperseg=6)[2]),
        (lambda x: _power(_STFT.stft(x)), _X),
        (lambda x: _power(_STFT.stft_detrend(x, "linear", padding="even")), _X),
        (lambda x: np.sum(_STFT.spectrogram(x, _Y)).real, _X),
        (lambda x: _power(_STFT_TWOSIDED.stft(x)), _X + 1j * _Y),
        (lambda s: _power(_STFT.istft(s, k1=16)), _STFT.stft(_X)),
    ],
    ids=[
        "spectrogram-complex", "spectrogram-magnitude", "spectrogram-detrend", "welch",
        "welch-median", "csd", "coherence", "periodogram", "istft", "ShortTimeFFT.stft",
        "ShortTimeFFT.stft_detrend", "ShortTimeFFT.cross-spectrogram", "ShortTimeFFT-complex",
        "ShortTimeFFT.istft",
    ],
)  # fmt: skip
def test_spectral_functions_match_finite_differences(loss, x):
    """Traced NumPy code around rules that test_rules checks to second order: first order here."""
    check_grad(loss, x, order=1)


def test_stft_of_a_graph_array_is_scipys_value():
    x = nd.GradArray(_X, requires_grad=True)
    for kwargs in ({}, {"detrend": "linear", "boundary": "odd"}, {"return_onesided": False}):
        np.testing.assert_array_equal(
            ss.stft(x, nperseg=6, **kwargs)[2].view(np.ndarray), ss.stft(_X, nperseg=6, **kwargs)[2]
        )


def test_stft_then_istft_is_the_identity_and_so_is_its_gradient():
    g = nd.grad(lambda x: np.sum(ss.istft(ss.stft(x, nperseg=6)[2], nperseg=6)[1][:16] * _Y))(_X)
    np.testing.assert_allclose(g, _Y, atol=1e-12)


def test_spectral_functions_with_a_callable_detrend_are_refused():
    with pytest.raises(nd.NotDifferentiableError, match="callable detrend"):
        nd.grad(lambda x: np.sum(np.abs(ss.stft(x, nperseg=6, detrend=lambda d: d)[2])))(_X)


def test_fitting_a_signal_to_a_target_spectrogram_descends():
    """Real use: match a magnitude spectrogram by gradient descent on the signal."""
    target = ss.spectrogram(np.sin(0.7 * np.arange(16)), nperseg=6)[2]

    def loss(x):
        return np.sum((ss.spectrogram(x, nperseg=6)[2] - target) ** 2)

    x = _X.copy()
    first = loss(x)
    for _ in range(30):
        x = x - 0.05 * nd.grad(loss)(x)
    assert loss(x) < 0.5 * first
