"""Reading arrays as sampled signals: layout, masks, value normalisation.

Array layout
------------
``channel_axis`` says which array axis, if any, holds channels -- the
scikit-image convention:

* ``channel_axis=None``: every axis is spatial, one channel.  ``(n,)`` is a
  1-D signal, ``(H, W)`` a gray image, ``(D, H, W)`` a gray volume.
* ``channel_axis=-1`` (or any axis): that axis holds channels.  ``(n, c)``
  is a 1-D signal with ``c`` channels, ``(H, W, 3)`` an RGB image,
  ``(D, H, W, c)`` a volume with ``c`` channels.
* ``channel_axis="auto"`` (the default of :func:`~insp.fields.fitting.fit`):
  all-spatial, except that a shape which could be read both ways -- 2 or 3
  axes with a last axis of at most 4 samples, such as ``(H, W, 3)`` (RGB
  image, or a volume three slices deep?) -- raises a ``ValueError`` asking
  for ``channel_axis``.

The spatial dimension ``d`` (1, 2 or 3) is the number of spatial axes, and
each needs at least 2 samples.

Values
------
Fitting works on values mapped to ``[-1, 1]`` per channel by their mid-range
and half-range over the known samples (:func:`normalisation`); the fitted
field's :class:`~insp.fields.layers.ValueAffine` stores the inverse map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..._checks import check_number

__all__ = ["SignalSpec", "prepare_signal", "unmask", "check_mask", "check_finite", "normalisation", "data_range",
           "split_signals", "as_array", "CHANNEL_AXIS_AUTO"]

#: ``channel_axis`` default: read the layout from the shape, refuse ambiguous ones
CHANNEL_AXIS_AUTO = "auto"


@dataclass(frozen=True)
class SignalSpec:
    """How an array is read as a signal: spatial shape and channel count."""

    spatial_shape: tuple[int, ...]
    channels: int
    channel_axis: int | None  # normalised to a non-negative axis, or None

    @property
    def dim(self) -> int:
        return len(self.spatial_shape)


def as_array(signal, name: str):
    """``signal`` as a NumPy array or a detached tensor (sequences and scalars become arrays)."""
    if isinstance(signal, torch.Tensor):
        return signal.detach()
    if isinstance(signal, np.ndarray):
        return signal
    if isinstance(signal, (np.generic, int, float)):
        return np.asarray(signal)
    if isinstance(signal, (list, tuple)):
        try:
            return np.asarray(signal)
        except ValueError:
            raise ValueError(f"{name} is a ragged sequence; expected a rectangular array") from None
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(signal).__name__}")


def _check_dtype(arr, name: str) -> None:
    if isinstance(arr, torch.Tensor):
        ok = arr.is_floating_point() or (not arr.is_complex() and arr.dtype != torch.bool)
        if not ok:
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    else:
        if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def _read_layout(shape: tuple[int, ...], channel_axis, name: str) -> SignalSpec:
    ndim = len(shape)
    if ndim == 0:
        raise ValueError(f"{name} must have 1 to 3 spatial axes (plus an optional channel axis), got a scalar")
    if math.prod(shape) == 0:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least 2 samples per spatial axis")
    if isinstance(channel_axis, str) and channel_axis == CHANNEL_AXIS_AUTO:
        if any(n < 2 for n in shape[:-1]) or (ndim == 1 and shape[0] < 2):  # too small either way
            raise ValueError(f"{name} needs at least 2 samples along every spatial axis, got shape {shape}")
        if ndim in (2, 3) and shape[-1] <= 4:
            hint = ("an RGB(A) image (pass channel_axis=-1) or a volume of a few slices (pass channel_axis=None)"
                    if ndim == 3 else
                    "a 1-D signal with channels (pass channel_axis=-1) or a very narrow image (pass channel_axis=None)")
            raise ValueError(f"{name} of shape {shape} is ambiguous: it could be {hint}")
        channel_axis = None
    if channel_axis is None:
        spatial, channels = shape, 1
    else:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)) \
                or not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis must be None or an axis of {name} (ndim {ndim}), or 'auto', "
                             f"got {channel_axis!r}")
        channel_axis = int(channel_axis) % ndim
        spatial = shape[:channel_axis] + shape[channel_axis + 1:]
        channels = shape[channel_axis]
    if not 1 <= len(spatial) <= 3:
        raise ValueError(f"{name} must have 1, 2 or 3 spatial axes, got shape {shape} with channel_axis="
                         f"{channel_axis} ({len(spatial)} spatial axes)")
    if any(n < 2 for n in spatial):
        raise ValueError(f"{name} needs at least 2 samples along every spatial axis, got spatial shape {spatial}")
    return SignalSpec(tuple(spatial), channels, channel_axis)


def unmask(signal, known, *, channel_axis=CHANNEL_AXIS_AUTO, name: str = "signal"):
    """``(data, known)`` for a ``numpy.ma.MaskedArray``: its mask is honoured as unknown samples.

    A sample is known when none of its channels is masked; ``known`` given as
    well is combined with it (both must hold).  Other inputs pass through.
    """
    if not isinstance(signal, np.ma.MaskedArray):
        return signal, known
    data = np.ma.getdata(signal)
    hidden = np.ma.getmaskarray(signal)
    spec = _read_layout(tuple(data.shape), channel_axis, name)
    if spec.channel_axis is not None:
        hidden = hidden.any(axis=spec.channel_axis)
    ma_known = ~hidden
    if known is not None:
        ma_known = ma_known & np.asarray(check_mask(known, spec.spatial_shape).numpy())
    return data, ma_known


def check_mask(mask, spatial_shape: tuple[int, ...], name: str = "known", *, batch: int | None = None):
    """A boolean mask (True = known sample) of the spatial shape (or ``(batch, *spatial)``) as a bool tensor."""
    mask = as_array(mask, name)
    dtype_ok = mask.dtype == torch.bool if isinstance(mask, torch.Tensor) else mask.dtype == np.bool_
    if not dtype_ok:
        raise TypeError(f"{name} must be a boolean array (True = known sample), got dtype {mask.dtype}")
    m = torch.as_tensor(np.ascontiguousarray(mask) if isinstance(mask, np.ndarray) else mask).cpu()
    shapes = [spatial_shape] + ([(batch, *spatial_shape)] if batch is not None else [])
    if tuple(m.shape) not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        raise ValueError(f"{name} must have the signal's spatial shape {expected}, got {tuple(m.shape)}")
    return m


def prepare_signal(signal, *, channel_axis=CHANNEL_AXIS_AUTO, name: str = "signal"
                   ) -> tuple[torch.Tensor, SignalSpec]:
    """Validate ``signal`` and return it as a float64 CPU tensor ``(*spatial, c)`` and its :class:`SignalSpec`.

    NaN/inf are *not* rejected here (they are allowed where a mask hides them).
    """
    arr = as_array(signal, name)
    _check_dtype(arr, name)
    spec = _read_layout(tuple(arr.shape), channel_axis, name)
    t = torch.as_tensor(np.asarray(arr)) if isinstance(arr, np.ndarray) else arr
    t = t.to("cpu", torch.float64)
    if spec.channel_axis is None:
        t = t.unsqueeze(-1)
    else:
        t = t.movedim(spec.channel_axis, -1)
    return t.contiguous(), spec


def check_finite(values: torch.Tensor, name: str) -> None:
    bad = ~torch.isfinite(values)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite values among its known samples; "
                         "clean them or exclude them with known=")


def normalisation(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) mapping the known values ``(N, c)`` onto [-1, 1]."""
    lo, hi = values.min(dim=0).values, values.max(dim=0).values
    shift = (hi + lo) / 2
    scale = (hi - lo) / 2
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a constant channel: identity scale
    return scale, shift


def data_range(value, known_values: torch.Tensor) -> float:
    """``value`` if given, else the known samples' peak-to-peak range (1.0 for a constant signal)."""
    if value is not None:
        return check_number(value, "data_range")
    ptp = float(known_values.max() - known_values.min())
    return ptp if ptp > 0 else 1.0


def split_signals(signals) -> list:
    """A batch ``(B, ...)`` or a sequence of B same-shaped arrays as a list of B arrays."""
    if isinstance(signals, (np.ndarray, torch.Tensor)):
        if signals.ndim < 2:
            raise ValueError(f"signals must have a leading batch axis and at least one signal axis, "
                             f"got shape {tuple(signals.shape)}")
        items = list(signals)
    elif isinstance(signals, (list, tuple)):
        items = [as_array(s, f"signals[{i}]") for i, s in enumerate(signals)]
    else:
        raise TypeError(f"signals must be an array/tensor (B, ...) or a sequence of arrays, "
                        f"got {type(signals).__name__}")
    if not items:
        raise ValueError("signals is empty: nothing to fit")
    shape0 = tuple(items[0].shape)
    for i, s in enumerate(items):
        if tuple(s.shape) != shape0:
            raise ValueError(f"signals must all have the same shape; signals[{i}] has shape {tuple(s.shape)}, "
                             f"signals[0] has {shape0}")
    return items
