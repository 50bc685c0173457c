"""Learned denoising of audio fields: a network on the field's values over a stencil of time offsets.

A function of the derivatives at one point is a local operator: it cannot
average over a neighbourhood the way every good denoiser does (docs/audio.md
measures the one-point INSP-Net 1.3-1.8 dB behind Wiener).  This operator
reads the field itself at ``t + k h`` for a fixed symmetric set of sample
offsets ``k`` (dense near 0, sparser out to 32 samples, 23 offsets in all,
``h = 1 / sample_rate``), so it sees 4 ms of context at 16 kHz, and maps those
values, divided by the clip's noise level ``sigma``, to a correction::

    D f (t) = f(t) + sigma * P(f(t + k h) / sigma),
    P(v) = (p(v) + p(rev v) - p(-v) - p(-rev v)) / 4,

with ``p`` a small MLP (an :class:`~insp.learned.inspnet.INSPNet` of order 0
whose input channels are the offsets) and ``rev`` the time reversal of the
stencil.  The average makes three properties exact rather than learned:

* **time reversal**: playing the clip backwards plays the result backwards;
* **polarity**: ``D(-f) = -D(f)``;
* **scale**: ``D(a f) = a D(f)`` for every ``a != 0``, since ``sigma``
  (estimated from the field, :func:`estimate_noise_sigma`) scales with ``|a|``.

Shift invariance holds by construction (the stencil moves with ``t``).  The
result is again a field, defined at every ``t`` of the domain (the stencil is
reflected at the clip's ends), so it can be resampled like the input.

The shipped weights (``insp/learned/weights/audio_denoise.inspop``, 44 kB)
are trained by ``python -m benchmarks.train_audio_denoiser`` on the INRs
(``insp.fit_audio`` defaults, 16 kHz) of clips with white Gaussian noise at
5-25 dB input SNR; the clips of the benchmark's test split are never used.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import check_int, check_number
from ..fields.base import Field, check_field
from .inspnet import INSPNet
from .registry import load_shipped

__all__ = ["AudioDenoised", "STENCIL_SAMPLES", "AUDIO_DENOISER_FILE", "denoise_audio", "estimate_noise_sigma",
           "load_audio_denoiser", "stencil_offsets", "symmetrised", "field_samples", "field_noise_sigma"]

#: one side of the stencil, in samples (the stencil is these and their negatives)
STENCIL_SAMPLES = (0, 1, 2, 3, 4, 5, 6, 8, 11, 16, 22, 32)
#: the shipped weights, package data in ``insp/learned/weights/``
AUDIO_DENOISER_FILE = "audio_denoise.inspop"
#: the network ``p`` (its input channels are the stencil's offsets)
AUDIO_DENOISER_NET = dict(order=0, dim=1, channels="joint", in_channels=2 * len(STENCIL_SAMPLES) - 1, out_channels=1,
                          hidden_features=64, hidden_layers=3, activation="silu", residual=False)
#: points evaluated per pass (each reads the inner field at every offset)
DENOISE_CHUNK = 16384
#: the noise estimate: a quantile of short-time power spectra, Hann segments of this many samples
NOISE_QUANTILE, NOISE_SEGMENT = 0.1, 256
#: the band (fraction of Nyquist) in which :func:`denoise_audio` measures the noise an INR holds
DENOISER_NOISE_BAND = 0.35
#: the noise level is never taken below this fraction of the clip's RMS (60 dB SNR): a clip the INR
#: holds without noise is then left nearly as it is, instead of divided by ~0
NOISE_FLOOR = 1e-3


def stencil_offsets(one_side=STENCIL_SAMPLES) -> np.ndarray:
    """The symmetric stencil, in samples, ascending: ``-32, ..., -1, 0, 1, ..., 32`` for the default.

    >>> stencil_offsets((0, 1, 3)).tolist()
    [-3, -1, 0, 1, 3]
    """
    k = sorted({abs(int(v)) for v in one_side} | {0})
    return np.array([-v for v in k[:0:-1]] + k, dtype=np.int64)


def estimate_noise_sigma(wave, *, quantile: float = NOISE_QUANTILE, segment: int = NOISE_SEGMENT,
                         max_frequency: float = 1.0) -> np.ndarray:
    """Standard deviation of white noise in a clip, per channel: a low quantile of its short-time spectrum.

    White noise spreads its power evenly over every time-frequency bin of a
    short-time Fourier transform, while speech, tones and chirps occupy few
    bins at a time; so a low ``quantile`` of the bins' powers measures the
    noise and barely the signal.  With Hann windows of ``segment`` samples
    (half overlap, DC and Nyquist rows left out), a bin of white noise of
    standard deviation ``s`` has a power that is exponential with mean
    ``s^2 sum(w^2) / sum(w)^2``, whose ``q``-quantile is ``-log(1 - q)``
    times that mean; the estimate inverts it.

    Measured on white noise added to the benchmark's clips at 10 and 20 dB
    (``benchmarks/audio.py``): within 0.99-1.09 of the true value on tones,
    AM tones and chirps up to 6 kHz (a MAD of third differences, the
    wavelet-style estimator, was up to 3x too high on chirps near 4 kHz), 1.12-1.26 on
    the recorded speech, whose own recording noise adds to the white noise.

    Parameters
    ----------
    wave : array ``(n,)`` or ``(n, c)``
        Samples, channels last, ``n >= 32`` (a clip shorter than two segments
        uses segments of half its length).
    quantile : float
        In (0, 1).
    segment : int
        Window length in samples.
    max_frequency : float
        Use only the bins up to this fraction of the Nyquist frequency, in
        (0, 1].  An INR fitted to a noisy clip holds the noise faithfully only
        up to a few kHz (at 16 kHz and 24 dB input SNR, ``insp.fit_audio``'s
        defaults keep 100 % of the noise power up to 2.5 kHz, 23 % at 4 kHz,
        under 1 % above 5.5 kHz), so :func:`denoise_audio` reads the field
        below :data:`DENOISER_NOISE_BAND` of Nyquist.

    Returns
    -------
    ndarray ``(c,)``
        One value per channel (``(1,)`` for a mono clip).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(0.0, 0.1, 20000)
    >>> float(estimate_noise_sigma(x)[0].round(2))
    0.1
    """
    from scipy.signal import stft

    a = np.asarray(wave, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 32:
        raise ValueError(f"wave must be a clip (n,) or (n, channels) with n >= 32 samples, got shape "
                         f"{np.asarray(wave).shape}")
    if not np.isfinite(a).all():
        raise ValueError("wave contains NaN or infinite samples")
    q = check_number(quantile, "quantile", maximum=1.0)
    if q >= 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    m = min(check_int(segment, "segment", minimum=8), a.shape[0] // 2)
    m -= m % 2
    fmax = check_number(max_frequency, "max_frequency", maximum=1.0)
    top = max(1, min(m // 2 - 1, int(fmax * (m // 2))))               # highest bin used (never Nyquist's)
    w = np.hanning(m + 1)[:-1]
    _, _, z = stft(a.T, window=w, nperseg=m, noverlap=m // 2, boundary=None, padded=False, scaling="spectrum")
    power = np.abs(z[:, 1:top + 1]) ** 2                              # (c, freq, frames)
    mean = np.quantile(power.reshape(power.shape[0], -1), q, axis=1) / -np.log1p(-q)
    return np.sqrt(mean * np.sum(w) ** 2 / np.sum(w**2))


def symmetrised(net, values: torch.Tensor) -> torch.Tensor:
    """``P(v)`` of the module notes: ``net`` (a callable) averaged over time reversal and polarity.

    ``values`` is ``(..., S, 1)``: the stencil's values (ascending offsets) as
    the input channels of an order-0 joint INSP-Net; the result is ``(..., 1)``.
    """
    rev = values.flip(-2)
    return (net(values) + net(rev) - net(-values) - net(-rev)) / 4


def _sample_rate(field: Field, sample_rate) -> float:
    if sample_rate is None:
        sample_rate = getattr(field, "sample_rate", None)
        if sample_rate is None:
            raise ValueError("sample_rate is needed (samples per second of the clip the field holds): this field "
                             "does not record one (insp.fit_audio's WindowedField does)")
    return check_number(sample_rate, "sample_rate")


def field_samples(field: Field, sample_rate: float) -> torch.Tensor:
    """The field at its samples ``low + i / sample_rate`` (``(n, c)``, float64): the clip it holds."""
    low, high = field.domain.bounds[0]
    n = int(math.floor((high - low) * sample_rate + 1e-6)) + 1
    return field.sample((n,)).double()


def field_noise_sigma(samples) -> np.ndarray:
    """The noise level :func:`denoise_audio` divides by: :func:`estimate_noise_sigma` of an INR's samples
    below :data:`DENOISER_NOISE_BAND` of Nyquist, at least :data:`NOISE_FLOOR` times each channel's RMS."""
    a = np.asarray(samples, dtype=np.float64)
    rms = np.sqrt(np.mean((a if a.ndim == 2 else a[:, None]) ** 2, axis=0))
    return np.maximum(estimate_noise_sigma(a, max_frequency=DENOISER_NOISE_BAND), NOISE_FLOOR * rms)


def _shipped():
    return load_shipped(AUDIO_DENOISER_FILE, "python -m benchmarks.train_audio_denoiser")


def load_audio_denoiser() -> tuple[INSPNet, dict]:
    """The shipped network ``p`` and its metadata (stencil, training data and command, figures); read once."""
    net, meta = _shipped()
    return net, dict(meta)


class AudioDenoised(Field):
    """``D f`` of the module notes, evaluated lazily (see :func:`denoise_audio`)."""

    def __init__(self, inner: Field, net: INSPNet, *, sample_rate: float, noise_sigma, offsets=None,
                 chunk_size: int = DENOISE_CHUNK):
        check_field(inner)
        if inner.in_features != 1:
            raise ValueError(f"field must be a 1-D (audio) field, got a {inner.in_features}-D field")
        super().__init__(inner.domain, inner.out_features)
        self.inner = inner
        self.net = net
        self.sample_rate = check_number(sample_rate, "sample_rate")
        self.offsets = stencil_offsets() if offsets is None else np.asarray(offsets, dtype=np.int64)
        if net.in_channels != self.offsets.size:
            raise ValueError(f"the network reads {net.in_channels} offsets, the stencil has {self.offsets.size}")
        low, high = inner.domain.bounds[0]
        reach = int(np.abs(self.offsets).max()) / self.sample_rate
        if high - low < reach:
            n = int(round((high - low) * self.sample_rate)) + 1
            raise ValueError(f"field holds {n} samples; the denoiser's stencil needs at least "
                             f"{int(np.abs(self.offsets).max()) + 1}")
        sigma = torch.as_tensor(np.asarray(noise_sigma, dtype=np.float64).reshape(-1))
        if sigma.numel() == 1:
            sigma = sigma.expand(inner.out_features).clone()
        if sigma.numel() != inner.out_features or not torch.isfinite(sigma).all() or (sigma <= 0).any():
            raise ValueError(f"noise_sigma must be one positive finite value or one per channel "
                             f"({inner.out_features}), got {noise_sigma!r}")
        self.register_buffer("noise_sigma", sigma)
        self.chunk_size = check_int(chunk_size, "chunk_size")

    def _reflect(self, t: torch.Tensor) -> torch.Tensor:
        low, high = self.domain.bounds[0]
        t = torch.where(t < low, 2 * low - t, t)
        return torch.where(t > high, 2 * high - t, t)

    def stencil_values(self, x: torch.Tensor) -> torch.Tensor:
        """The network's input at points ``x`` ``(P, 1)``: ``f(t + k h) / sigma``, ``(P, c, S, 1)``."""
        h = torch.as_tensor(self.offsets, dtype=x.dtype, device=x.device) / self.sample_rate
        t = self._reflect(x[:, :1] + h)                                  # (P, S)
        vals = self.inner(t.reshape(-1, 1)).reshape(t.shape[0], t.shape[1], -1)   # (P, S, c)
        return (vals / self.noise_sigma.to(vals)).transpose(1, 2).unsqueeze(-1)

    def _chunk(self, x: torch.Tensor) -> torch.Tensor:
        v = self.stencil_values(x)
        y = symmetrised(self.net, v.to(self.net.in_scale.dtype)).to(v.dtype)       # (P, c, 1)
        centre = int(np.flatnonzero(self.offsets == 0)[0])
        return (v[:, :, centre] + y)[..., 0] * self.noise_sigma.to(v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        return torch.cat([self._chunk(x[s:s + self.chunk_size]) for s in range(0, x.shape[0], self.chunk_size)])

    def extra_repr(self) -> str:
        return (f"offsets={self.offsets.size} (out to {int(np.abs(self.offsets).max())} samples), "
                f"sample_rate={self.sample_rate:g}, noise_sigma={self.noise_sigma.tolist()}")


def denoise_audio(field: Field, *, noise_sigma=None, sample_rate=None, net: INSPNet | None = None) -> AudioDenoised:
    """Remove white noise from an audio field with the shipped stencil denoiser (module notes).

    Parameters
    ----------
    field : Field
        A 1-D field holding a clip, e.g. ``insp.fit_audio(noisy, sample_rate=sr)[0]``
        (any number of channels, each denoised alone).
    noise_sigma : float or sequence, optional
        Standard deviation of the noise (one value, or one per channel), in
        the field's units.  Default: :func:`field_noise_sigma` of the field's
        samples (what the shipped network was trained with).
    sample_rate : float, optional
        Samples per second of the clip; the stencil's offsets are in samples.
        Default: the field's ``sample_rate`` (a :class:`~insp.fields.WindowedField` records it).
    net : INSPNet, optional
        Another trained ``p`` (default: the shipped one).

    Returns
    -------
    AudioDenoised
        A Field on the same domain; sample it at any rate.

    Examples
    --------
    The operator is odd: flipping the polarity of the clip flips the result
    (a 50 Hz tone here; ``noise_sigma`` given, since a clean tone has none to measure):

    >>> import torch, insp
    >>> from insp.testing import SinusoidSum
    >>> dom = insp.Domain(((0.0, 0.1),))
    >>> f = SinusoidSum([0.5], [[2 * 3.14159 * 50]], domain=dom, dtype=torch.float64)
    >>> g = SinusoidSum([-0.5], [[2 * 3.14159 * 50]], domain=dom, dtype=torch.float64)
    >>> a = insp.learned.denoise_audio(f, sample_rate=16000, noise_sigma=0.01).sample((1601,))
    >>> b = insp.learned.denoise_audio(g, sample_rate=16000, noise_sigma=0.01).sample((1601,))
    >>> bool(torch.allclose(a, -b))
    True
    """
    check_field(field)
    if field.in_features != 1:
        raise ValueError(f"field must be a 1-D (audio) field, got a {field.in_features}-D field; "
                         "images take insp.learned.denoise")
    sr = _sample_rate(field, sample_rate)
    if net is None:
        net, _ = _shipped()
    elif not isinstance(net, INSPNet):
        raise TypeError(f"net must be an INSPNet, got {type(net).__name__}")
    if noise_sigma is None:
        with torch.no_grad():
            noise_sigma = field_noise_sigma(field_samples(field, sr).numpy())
        if not (noise_sigma > 0).all():
            raise ValueError("the field's samples are silent (estimated noise_sigma 0); pass noise_sigma")
    return AudioDenoised(field, net, sample_rate=sr, noise_sigma=noise_sigma)
