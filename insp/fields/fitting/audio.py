"""Reading waveforms: mono/stereo layout, sample rate, windows of a long clip.

A waveform is ``(n,)`` (mono) or two-dimensional with one axis of channels:
``channel_axis=-1`` (``(n, c)``, channels last: the layout of
``scipy.io.wavfile``, ``soundfile`` and :func:`insp.audioio.read_wav`) or
``channel_axis=0`` (``(c, n)``, channels first: librosa, torchaudio).
``channel_axis="auto"`` takes the axis of at most :data:`MAX_CHANNELS`
entries as channels and refuses a shape where both or neither axis could be.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..._checks import check_number
from .signal import CHANNEL_AXIS_AUTO, _check_dtype, as_array

__all__ = ["prepare_wave", "check_sample_rate", "MAX_CHANNELS", "windows_of", "omega_for_bandwidth"]

#: most channels an axis may hold for ``channel_axis="auto"`` to read it as channels
MAX_CHANNELS = 8


def check_sample_rate(sample_rate, name: str = "sample_rate") -> float:
    """A positive, finite number of samples per second."""
    return check_number(sample_rate, name)


def prepare_wave(wave, *, channel_axis=CHANNEL_AXIS_AUTO, mono: bool = False, name: str = "wave") -> torch.Tensor:
    """``wave`` as a float64 CPU tensor ``(n, c)``, checked (at least 2 finite samples; ``mono``: c == 1).

    Examples
    --------
    >>> import numpy as np
    >>> prepare_wave(np.zeros((2, 100))).shape, prepare_wave(np.zeros(5)).shape
    (torch.Size([100, 2]), torch.Size([5, 1]))
    """
    arr = as_array(wave, name)
    _check_dtype(arr, name)
    t = torch.as_tensor(np.asarray(arr)) if isinstance(arr, np.ndarray) else arr
    t = t.to("cpu", torch.float64)
    if t.ndim == 1:
        t = t.unsqueeze(-1)
    elif t.ndim == 2:
        if isinstance(channel_axis, str) and channel_axis == CHANNEL_AXIS_AUTO:
            small = [ax for ax in (0, 1) if t.shape[ax] <= MAX_CHANNELS]
            if len(small) != 1:
                raise ValueError(f"{name} of shape {tuple(t.shape)} is ambiguous: say which axis holds the channels "
                                 f"(channel_axis=-1 for (samples, channels), 0 for (channels, samples))")
            channel_axis = small[0]
        if isinstance(channel_axis, bool) or channel_axis not in (0, 1, -1, -2):
            raise ValueError(f"channel_axis must be 0 (channels first), -1 (channels last) or 'auto' for a 2-D "
                             f"{name}, got {channel_axis!r}")
        t = t.movedim(channel_axis, -1)
    else:
        raise ValueError(f"{name} must be (samples,) or 2-D with a channel axis, got shape {tuple(t.shape)}")
    if t.shape[0] < 2 or t.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 samples and 1 channel, got {t.shape[0]} samples and "
                         f"{t.shape[1]} channels (is it empty, or are its axes swapped?)")
    if mono and t.shape[1] != 1:
        raise ValueError(f"{name} has {t.shape[1]} channels where a mono clip is required; pick one channel or "
                         f"average them")
    bad = ~torch.isfinite(t)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite samples")
    return t.contiguous()


def windows_of(values: torch.Tensor, starts: list[int], window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The windows ``(K, window, c)`` of ``values`` ``(n, c)`` (zero past the end) and their known masks ``(K, window)``."""
    n, c = values.shape
    K = len(starts)
    out = values.new_zeros(K, window, c)
    known = torch.zeros(K, window, dtype=torch.bool)
    for k, s in enumerate(starts):
        e = min(s + window, n)
        out[k, : e - s] = values[s:e]
        known[k, : e - s] = True
    return out, known


def omega_for_bandwidth(hz: float, window: int, sample_rate: float) -> float:
    """First-layer ``omega_0`` (local coordinates ``[-1, 1]`` over ``window`` samples) for a bandwidth in Hz.

    The first layer's weights are uniform in ``(-1, 1)``, so its sines have
    angular frequencies up to ``omega_0`` per unit of ``u``; ``u`` advances by
    ``2 / (window - 1)`` per sample, i.e. ``2 sr / (window - 1)`` per second.
    """
    return 2 * math.pi * hz * (window - 1) / (2 * sample_rate)
