"""Classical audio denoisers on sampled waveforms: Wiener, Butterworth low-pass, Savitzky-Golay, spectral subtraction.

Each takes a 1-D float waveform (a mono clip; ``(n, c)`` stereo goes one
channel at a time through :func:`per_channel_wave`) and returns float64 of the
same shape.  They are the baselines of the audio denoising benchmark
(``benchmarks/audio.py``, part ``denoise``), where their parameters are
chosen on clips that are never scored.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_number

__all__ = ["AUDIO_DENOISERS", "lowpass", "savgol", "spectral_subtraction", "wiener"]


def _wave(wave, name: str = "wave") -> np.ndarray:
    a = np.asarray(wave, dtype=np.float64)
    if a.ndim != 1 or a.shape[0] < 2:
        raise ValueError(f"{name} must be a mono waveform (n,) with n >= 2, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite samples")
    return a


def wiener(wave, *, size: int = 5) -> np.ndarray:
    """:func:`scipy.signal.wiener` with a window of ``size`` samples (local mean and variance).

    Examples
    --------
    A straight line is its own local mean (away from the zero-padded ends):

    >>> import numpy as np
    >>> wiener(np.arange(8.0), size=3)[1:-1].round(6).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    """
    from scipy.signal import wiener as _wiener

    size = check_int(size, "size")
    return _wiener(_wave(wave), mysize=size)


def lowpass(wave, *, cutoff: float, sample_rate: float, order: int = 6) -> np.ndarray:
    """Zero-phase Butterworth low-pass (``scipy.signal.butter`` + ``sosfiltfilt``) at ``cutoff`` Hz."""
    from scipy.signal import butter, sosfiltfilt

    sr = check_number(sample_rate, "sample_rate")
    fc = check_number(cutoff, "cutoff", maximum=sr / 2)
    if fc >= sr / 2:
        raise ValueError(f"cutoff must be below the Nyquist frequency {sr / 2} Hz, got {fc}")
    sos = butter(check_int(order, "order"), fc, btype="low", fs=sr, output="sos")
    return sosfiltfilt(sos, _wave(wave))


def savgol(wave, *, window: int = 11, polyorder: int = 3) -> np.ndarray:
    """Savitzky-Golay smoothing (:func:`scipy.signal.savgol_filter`, ``mode="interp"``)."""
    from scipy.signal import savgol_filter

    window = check_int(window, "window", minimum=3)
    if window % 2 == 0 or polyorder >= window:
        raise ValueError(f"window must be odd and larger than polyorder, got window={window}, polyorder={polyorder}")
    return savgol_filter(_wave(wave), window, check_int(polyorder, "polyorder", minimum=0))


def spectral_subtraction(wave, *, sample_rate: float, nperseg: int = 512, over: float = 1.0,
                         floor: float = 0.05, noise_quantile: float = 0.1) -> np.ndarray:
    """Magnitude spectral subtraction on the STFT (Boll 1979), noise estimated from the quietest frames.

    The noise power per frequency is the mean power of the ``noise_quantile``
    share of frames with the least energy; each bin's power is reduced by
    ``over`` times it, with a spectral floor of ``floor`` times the noisy
    magnitude, and the phase kept.  Hann windows of ``nperseg`` samples, 75 %
    overlap; the inverse STFT is cut to the input length.
    """
    from scipy.signal import istft, stft

    x = _wave(wave)
    sr = check_number(sample_rate, "sample_rate")
    nperseg = check_int(nperseg, "nperseg", minimum=8)
    over = check_number(over, "over", strict=False)
    floor = check_number(floor, "floor", strict=False, maximum=1.0)
    q = check_number(noise_quantile, "noise_quantile", maximum=1.0)
    _, _, Z = stft(x, fs=sr, nperseg=nperseg, noverlap=3 * nperseg // 4)
    power = np.abs(Z) ** 2
    energy = power.sum(axis=0)
    k = max(1, int(np.ceil(q * energy.size)))
    noise = power[:, np.argsort(energy)[:k]].mean(axis=1, keepdims=True)
    clean = np.maximum(power - over * noise, (floor**2) * power)
    Y = np.sqrt(clean) * np.exp(1j * np.angle(Z))
    _, y = istft(Y, fs=sr, nperseg=nperseg, noverlap=3 * nperseg // 4)
    out = np.zeros_like(x)
    m = min(x.size, y.size)
    out[:m] = y[:m]
    return out


#: name -> function, for the benchmark
AUDIO_DENOISERS = {"wiener": wiener, "lowpass": lowpass, "savgol": savgol,
                   "spectral_subtraction": spectral_subtraction}
