"""Helpers shared by the pixel-grid baselines (private); their argument checks are :mod:`insp._checks`."""

from __future__ import annotations

import numpy as np


def per_channel(func, image: np.ndarray, channel_axis, n_lead: int = 0):
    """Apply ``func`` (spatial array -> array of shape ``(*lead, *spatial)``) to each channel.

    The channel axis keeps its position among the image axes, after the
    ``n_lead`` leading axes that ``func`` adds (e.g. one per derivative).
    """
    if channel_axis is None:
        return func(image)
    outs = [func(np.take(image, c, axis=channel_axis)) for c in range(image.shape[channel_axis])]
    return np.moveaxis(np.stack(outs, axis=-1), -1, n_lead + channel_axis)
