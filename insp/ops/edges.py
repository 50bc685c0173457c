"""Binary edge maps of a field: exact gradients, then Canny's thinning and linking on a grid."""

from __future__ import annotations

import numpy as np
import torch

from .. import units
from .._checks import check_shape, check_thresholds
from ..baselines.edges import DEFAULT_HIGH_THRESHOLD, DEFAULT_LOW_THRESHOLD
from ..fields.base import DEFAULT_CHUNK_SIZE, Field, check_field, field_dtype_device
from ..jet.engine import gradient_at

__all__ = ["edges", "pixel_gradient", "non_maximum_suppression"]


def pixel_gradient(field: Field, shape, *, channel: int = 0, jet_method: str = "auto",
                   chunk_size: int = DEFAULT_CHUNK_SIZE) -> np.ndarray:
    """The field's exact gradient on the grid ``shape`` in **pixel units**, ``(d, *shape)``.

    A derivative along axis ``k`` in pixel units is the coordinate-unit one
    times the grid spacing ``(high_k - low_k) / (n_k - 1)`` (see :mod:`insp.units`).

    Examples
    --------
    >>> import torch
    >>> from insp.ops import pixel_gradient
    >>> from insp.testing import Polynomial
    >>> r = Polynomial({(1, 0): 2.0, (0, 1): -1.0}, dtype=torch.float64)   # grad r = (2, -1), coordinate units
    >>> g = pixel_gradient(r, (5, 5))                                     # spacing 2 / 4 = 0.5
    >>> g.shape, g[:, 0, 0].tolist(), g[:, 3, 2].tolist()
    ((2, 5, 5), [1.0, -0.5], [1.0, -0.5])
    """
    check_field(field)
    shape = check_shape(shape, field.in_features)
    if not (0 <= channel < field.out_features):
        raise ValueError(f"channel must be in [0, {field.out_features}), got {channel}")
    dtype, device = field_dtype_device(field)
    d = field.in_features
    total = int(np.prod(shape))
    out = np.empty((total, d))
    with torch.no_grad():
        for s in range(0, total, chunk_size):
            x = field.domain.grid_points(shape, s, min(total, s + chunk_size), dtype=dtype, device=device)
            out[s:s + len(x)] = gradient_at(field, x, jet_method=jet_method)[:, channel].double().cpu().numpy()
    alphas = [tuple(int(k == j) for j in range(d)) for k in range(d)]
    out = units.to_pixel_units(out, alphas, shape, domain=field.domain)
    return np.moveaxis(out.reshape(*shape, d), -1, 0)


def non_maximum_suppression(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Magnitude where it is a local maximum along the gradient direction, else 0.

    The magnitude is interpolated bilinearly at one pixel on either side along
    the (unit) gradient direction; ``gx`` is the derivative along axis 0.

    Examples
    --------
    >>> import numpy as np
    >>> from insp.ops import non_maximum_suppression
    >>> gx = np.array([0.0, 1.0, 3.0, 1.0, 0.0])[:, None].repeat(3, axis=1)   # a ridge across axis 0
    >>> non_maximum_suppression(gx, np.zeros_like(gx))[:, 1].tolist()       # only its crest stays
    [0.0, 0.0, 3.0, 0.0, 0.0]
    """
    from scipy.ndimage import map_coordinates

    mag = np.hypot(gx, gy)
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.where(mag > 0, gx / mag, 0.0)
        uy = np.where(mag > 0, gy / mag, 0.0)
    ii, jj = np.indices(mag.shape, dtype=float)
    ahead = map_coordinates(mag, [ii + ux, jj + uy], order=1, mode="nearest")
    behind = map_coordinates(mag, [ii - ux, jj - uy], order=1, mode="nearest")
    return np.where((mag >= ahead) & (mag >= behind) & (mag > 0), mag, 0.0)


def edges(field: Field, shape, *, low_threshold: float | None = None, high_threshold: float | None = None,
          nms: bool = True, use_quantiles: bool = False, channel: int = 0, jet_method: str = "auto") -> np.ndarray:
    """Canny-like binary edge map of a 2-D field sampled on ``shape``.

    The gradient is the field's exact derivative at every grid point (no
    finite differences, no pre-smoothing: pass ``gaussian_blur(field, ...)``
    to smooth first); then non-maximum suppression along the gradient and
    hysteresis thresholding.  Thresholds are gradient magnitudes in pixel
    units of ``shape`` -- the unit of :func:`insp.baselines.canny` -- so the
    same numbers give comparable maps at any resolution.

    Returns
    -------
    ndarray of bool, ``shape``.

    Examples
    --------
    ``sin(2 x0)`` is steepest on the row ``x0 = 0`` (pixel-unit slope
    ``2 * 0.1 = 0.2`` on 21 rows over [-1, 1]) and at the border rows
    (``|2 cos 2| * 0.1 = 0.083``, a local maximum there):

    >>> import numpy as np, torch
    >>> from insp.ops import edges
    >>> from insp.testing import SinusoidSum
    >>> f = SinusoidSum([1.0], [[2.0, 0.0]], dtype=torch.float64)
    >>> e = edges(f, (21, 21), low_threshold=0.1, high_threshold=0.15)
    >>> e.shape, e.dtype, np.flatnonzero(e.any(axis=1)).tolist(), int(e.sum())
    ((21, 21), dtype('bool'), [10], 21)
    >>> np.flatnonzero(edges(f, (21, 21)).any(axis=1)).tolist()             # the lower default thresholds
    [0, 10, 20]
    """
    from skimage.filters import apply_hysteresis_threshold

    check_field(field)
    if field.in_features != 2:
        raise ValueError(f"edges needs a 2-D field, got dimension {field.in_features}")
    low, high = check_thresholds(low_threshold, high_threshold, use_quantiles=bool(use_quantiles),
                                 defaults=(DEFAULT_LOW_THRESHOLD, DEFAULT_HIGH_THRESHOLD))
    gx, gy = pixel_gradient(field, shape, channel=channel, jet_method=jet_method)
    mag = non_maximum_suppression(gx, gy) if nms else np.hypot(gx, gy)
    if use_quantiles:
        low, high = np.quantile(np.hypot(gx, gy), [low, high])
    return apply_hysteresis_threshold(mag, low, high)





