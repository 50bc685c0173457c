"""Signal-quality metrics: PSNR and SSIM (images), SNR and SI-SDR (audio), on arrays or tensors.

Both take the two signals first and their options keyword-only, accept numpy
arrays or tensors (any device; they are copied to host float64), and raise a
clear error when the shapes differ.  ``data_range`` is the span of the value
scale (1 for images in [0, 1], 255 for 8-bit images); it is never guessed from
the data, so a score does not change meaning from one image to the next.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["psnr", "ssim", "mse", "snr", "si_sdr"]


def _as_float64(a, name: str) -> np.ndarray:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        torch = None
    if torch is not None and isinstance(a, torch.Tensor):
        a = a.detach().to("cpu", torch.float64).numpy()
    elif isinstance(a, (list, tuple)) or np.isscalar(a):
        a = np.asarray(a)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(a).__name__}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise TypeError(f"{name} must be real, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_float64(x, "x"), _as_float64(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("x and y must not be empty")
    for a, name in ((x, "x"), (y, "y")):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return x, y


def _check_range(data_range) -> float:
    if isinstance(data_range, bool):
        raise TypeError(f"data_range must be a positive number, got {data_range!r}")
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise TypeError(f"data_range must be a positive number, got {data_range!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
    return value


def mse(x, y) -> float:
    """Mean squared error between two same-shaped arrays or tensors."""
    x, y = _pair(x, y)
    return float(np.mean((x - y) ** 2))


def psnr(x, y, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` in dB.

    Parameters
    ----------
    x, y : array_like or Tensor
        Two signals of the same shape (any number of dimensions and channels).
    data_range : float
        Span of the value scale: 1 for images in [0, 1], 255 for uint8.

    Returns
    -------
    float
        PSNR in dB; ``inf`` when ``x`` and ``y`` are identical.

    Notes
    -----
    Same formula as :func:`skimage.metrics.peak_signal_noise_ratio` with an
    explicit ``data_range``; computed in float64.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros(4), np.full(4, 0.1)), 6)
    20.0
    """
    data_range = _check_range(data_range)
    err = mse(x, y)
    if err == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / err)


def ssim(x, y, *, data_range: float = 1.0, channel_axis: int | None = None) -> float:
    """Mean structural similarity (Wang et al. 2004), wrapping :func:`skimage.metrics.structural_similarity`.

    Parameters
    ----------
    x, y : array_like or Tensor
        Two signals of the same shape, at least 7 samples along every
        spatial axis (skimage's default 7-sample uniform window).
    data_range : float
        Span of the value scale (1 for images in [0, 1]).
    channel_axis : int or None
        Axis holding channels (e.g. ``-1`` for an ``(H, W, 3)`` image); ``None``
        (default) when every axis is spatial.

    Returns
    -------
    float
        Mean SSIM, at most 1.
    """
    from skimage.metrics import structural_similarity

    data_range = _check_range(data_range)
    x, y = _pair(x, y)
    spatial = list(range(x.ndim))
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, int) or not -x.ndim <= channel_axis < x.ndim:
            raise ValueError(f"channel_axis must be None or an axis of an array of {x.ndim} dimensions, "
                             f"got {channel_axis!r}")
        spatial.pop(channel_axis % x.ndim)
    small = [x.shape[k] for k in spatial if x.shape[k] < 7]
    if not spatial or small:
        raise ValueError(f"ssim needs at least 7 samples along every spatial axis, got shape {x.shape} "
                         f"(channel_axis={channel_axis})")
    return float(structural_similarity(x, y, data_range=data_range, channel_axis=channel_axis))


def snr(reference, estimate) -> float:
    """Signal-to-noise ratio ``10 log10(sum r^2 / sum (r - e)^2)`` in dB.

    ``reference`` is the clean signal, ``estimate`` its approximation (same
    shape; every sample and channel counts).  ``inf`` when they are equal.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.array([1.0, -1.0, 1.0, -1.0])
    >>> round(snr(r, 0.9 * r), 6)          # error 0.1 r: 20 dB
    20.0
    """
    r, e = _pair(reference, estimate)
    noise = float(np.sum((r - e) ** 2))
    power = float(np.sum(r**2))
    if power == 0:
        raise ValueError("reference is all zeros: its SNR is undefined")
    return math.inf if noise == 0 else 10.0 * math.log10(power / noise)


def si_sdr(reference, estimate) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019).

    The estimate is projected on the (zero-mean) reference,
    ``target = (<e, r> / <r, r>) r``, and
    ``SI-SDR = 10 log10(|target|^2 / |e - target|^2)``.  Both signals are
    made zero-mean first, so a constant offset does not count; scaling the
    estimate by any non-zero factor leaves the score unchanged.  1-D signals,
    or ``(n, c)`` with channels last (the score of the concatenated channels
    each projected on its own reference is not what this computes: pass one
    channel at a time for per-channel scores).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 1, 1000, endpoint=False)
    >>> r, n = np.sin(2 * np.pi * 5 * t), np.cos(2 * np.pi * 7 * t)   # orthogonal, equal power
    >>> round(si_sdr(r, 3.0 * (r + 0.1 * n)), 6)                     # 10 log10(1 / 0.01)
    20.0
    """
    r, e = _pair(reference, estimate)
    r = r - r.mean(axis=0)
    e = e - e.mean(axis=0)
    rr = float(np.sum(r * r))
    if rr == 0:
        raise ValueError("reference is constant: its SI-SDR is undefined")
    target = (float(np.sum(e * r)) / rr) * r
    residual = float(np.sum((e - target) ** 2))
    t2 = float(np.sum(target**2))
    if residual == 0:
        return math.inf
    return -math.inf if t2 == 0 else 10.0 * math.log10(t2 / residual)
