"""Input checks shared by the pixel-grid baselines (private)."""

from __future__ import annotations

import numpy as np

SCIPY_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")


def check_image(image, *, channel_axis=None, spatial_dims=(1, 2, 3), name: str = "image"):
    """A finite float64 copy-free view of ``image`` and the normalised channel axis.

    Integer images are cast to float64 *without* rescaling (values keep
    their units).  Raises ``TypeError`` / ``ValueError`` naming ``name``.
    """
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # a torch tensor: accept, as NumPy
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be a real numeric array (integer or float), got dtype {arr.dtype}")
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
            raise TypeError(f"channel_axis must be an int or None, got {channel_axis!r}")
        if not -arr.ndim <= channel_axis < arr.ndim:
            raise ValueError(f"channel_axis={channel_axis} is out of range for {name} of shape {arr.shape}")
        channel_axis = int(channel_axis) % arr.ndim
    nspatial = arr.ndim - (channel_axis is not None)
    if nspatial not in spatial_dims:
        dims = "/".join(f"{d}-D" for d in spatial_dims)
        extra = " plus a channel axis" if channel_axis is not None else " (pass channel_axis=... for channels)"
        raise ValueError(f"{name} must be a {dims} array{extra}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr, channel_axis


def per_channel(func, image: np.ndarray, channel_axis, n_lead: int = 0):
    """Apply ``func`` (spatial array -> array of shape ``(*lead, *spatial)``) to each channel.

    The channel axis keeps its position among the image axes, after the
    ``n_lead`` leading axes that ``func`` adds (e.g. one per derivative).
    """
    if channel_axis is None:
        return func(image)
    outs = [func(np.take(image, c, axis=channel_axis)) for c in range(image.shape[channel_axis])]
    return np.moveaxis(np.stack(outs, axis=-1), -1, n_lead + channel_axis)


def check_mode(mode, *, allowed=SCIPY_MODES) -> str:
    if mode not in allowed:
        raise ValueError(f"mode must be one of {list(allowed)}, got {mode!r}")
    return mode


def check_sigma(sigma, ndim: int, *, allow_zero: bool = False) -> tuple[float, ...]:
    """``sigma`` (a number or one per spatial axis) as a tuple of ``ndim`` floats, in pixels."""
    from ..units import per_axis

    return per_axis(sigma, ndim, name="sigma", allow_zero=allow_zero, unit="in pixels")
