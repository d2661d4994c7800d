"""Cases for the scipy.signal rules (ndgrad/_rules/scipy_signal.py).

Convolutions in every mode, with either input the larger (SciPy swaps them in ``valid`` mode),
complex and mixed real/complex inputs; the 2-D ones with every boundary and a ``fillvalue``
that is differentiated too. Filters are stable (poles inside the unit circle); ``sosfilt``
varies the free coefficients of its sections only (``sos[:, 3]`` must stay 1).
"""

from __future__ import annotations

import numpy as np
import scipy.signal as ss

from ._case import C, Case, P, R, calls

_PAIRS = [(R(6), R(3)), (R(6), R(4)), (R(3), R(5)), (R(4, 5), R(2, 3)), (C(5), C(3)), (R(5), C(2))]
_PAIRS_2D = [(R(5, 6), R(3, 4)), (R(4, 4), R(2, 2)), (C(4, 3), C(2, 2))]
_MODES = ["full", "same", "valid"]

_B = np.array([0.2, 0.3, 0.1])
_A = np.array([1.3, -0.5, 0.2])  # a[0] != 1: SciPy normalizes, the rule must too
_SOS = ss.butter(4, 0.3, output="sos")


def _sosfilt(b, a, x, axis=-1):
    """``sosfilt`` of sections whose numerators ``b`` and denominators ``a[:, 1:]`` vary."""
    sos = np.concatenate([b, np.ones((len(b), 1)), a], axis=1)
    return ss.sosfilt(sos, x, axis=axis)


def _convolve2d(in1, in2, fillvalue=0, **kwargs):
    """``fillvalue`` by keyword: the engine moves it to its position, where its rule is."""
    return ss.convolve2d(in1, in2, fillvalue=fillvalue, **kwargs)


def _correlate2d(in1, in2, fillvalue=0, **kwargs):
    return ss.correlate2d(in1, in2, fillvalue=fillvalue, **kwargs)


def _stft(x, window, **kwargs):
    """stft's segment FFT (the rule, in ``x`` and the window) through SciPy's own stft."""
    return ss.stft(x, window=window, nperseg=len(window), **kwargs)[2]


def _lfilter_zi(b, a, x, zi, axis=-1):
    return ss.lfilter(b, a, x, axis=axis, zi=zi)  # (y, zf): both outputs are checked


CASES = {
    ss._spectral_py._fft_helper.__wrapped__: Case(
        calls((R(9), P(4)), (R(2, 7), P(4)))
        + calls((C(7), P(4)), return_onesided=[False], scaling=["psd"])
        + calls((R(8), P(5)), noverlap=[3], nfft=[7], detrend=["linear"], boundary=["even"])
        + calls((R(7, 2), P(4)), axis=[0], detrend=["constant"], boundary=[None], padded=[False]),
        call=_stft,
    ),
    ss.convolve: Case(calls(*_PAIRS, mode=_MODES) + calls((R(5), R(3)), method=["direct", "fft"])),
    ss.correlate: Case(calls(*_PAIRS, mode=_MODES) + calls((R(5), R(4)), method=["fft"])),
    ss.fftconvolve: Case(calls(*_PAIRS, mode=_MODES)),
    ss.oaconvolve: Case(calls(*_PAIRS, mode=_MODES)),
    ss.convolve2d: Case(
        calls(*_PAIRS_2D, mode=_MODES, boundary=["fill", "wrap", "symm"])
        + calls((R(2, 3), R(4, 5)), mode=["valid"])
        + [((R(4, 5), R(3, 2), R()), {"mode": "same"})],  # fillvalue, differentiated
        call=_convolve2d,
    ),
    ss.correlate2d: Case(
        calls(*_PAIRS_2D, mode=_MODES, boundary=["fill", "wrap", "symm"])
        + calls((R(2, 3), R(4, 5)), mode=["valid"])
        + [((R(4, 5), R(3, 2), R()), {"mode": "full"})],
        call=_correlate2d,
    ),
    ss.lfilter: Case(
        calls((_B, _A, R(8)), (_B, _A[:1], R(6)), (R(5), _A, R(3)), (_B + 0.1j, _A, C(6)))
        + calls((_B, _A, R(7, 2)), axis=[0])
        # with an initial state (positional, so that it is differentiated): (y, zf)
        + calls(
            (_B, _A, R(8), -1, R(2)),
            (R(4), _A, R(6), -1, R(3)),  # b sets the state's length
            (R(2), np.array([1.2, 0.3, -0.2, 0.1]), R(2), -1, R(3)),
            (_B + 0.1j, _A, C(6), -1, C(2)),
            (_B, _A, R(7, 2), 0, R(2, 2)),
        )
    ),
    ss.sosfilt: Case(
        calls((_SOS[:, :3], _SOS[:, 4:], R(10)), (_SOS[:, :3], _SOS[:, 4:], R(2, 9)))
        + calls((_SOS[:, :3], _SOS[:, 4:], R(9, 2)), axis=[0]),
        call=_sosfilt,
    ),
    ss.hilbert: Case(calls((R(8),), (R(7),)) + calls((R(7, 2),), N=[9, 6], axis=[0])),
    ss.detrend: Case(
        calls((R(8),), (R(2, 8),), type=["linear", "constant"])
        + calls((R(8, 2),), axis=[0], bp=[[3]])
    ),
    ss.savgol_filter: Case(
        calls(
            (R(9),),
            window_length=[5],
            polyorder=[2],
            mode=["interp", "mirror", "nearest", "constant", "wrap"],
        )
        + calls((R(9, 2),), window_length=[5], polyorder=[3], deriv=[1], delta=[0.5], axis=[0])
        + calls((R(9),), window_length=[5], polyorder=[2], mode=["constant"], cval=[0.7])
    ),
}

# lfilter with an initial state (a second output, so a second case for the same rule)
LFILTER_ZI = Case(
    calls(
        (_B, _A, R(8), R(2)),
        (_B, _A, R(1), R(2)),
        (R(4), _A, R(6), R(3)),
        (R(2), np.array([1.2, 0.3, -0.2, 0.1]), R(6), R(3)),
        (_B + 0.1j, _A, C(6), C(2)),
    )
    + calls((_B, _A, R(7, 2), R(2, 2)), axis=[0]),
    call=_lfilter_zi,
)
