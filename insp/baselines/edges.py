"""Canny edge maps on pixel grids (baselines of :func:`insp.ops.edges`).

Both back ends take thresholds in the same unit: the **true gradient magnitude
in pixel units** of the Gaussian-smoothed image (value units per pixel), so
that ``backend='skimage'`` and ``backend='opencv'`` and the field operators can
share one threshold.  The library conventions are divided out here:
``skimage.feature.canny`` thresholds ``|scipy.ndimage.sobel|`` (8x the true
magnitude, see :mod:`insp.units`).
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

from .._checks import SCIPY_MODES, check_choice, check_image, check_per_axis, check_thresholds
from . import conventions

__all__ = ["canny", "CANNY_BACKENDS", "DEFAULT_LOW_THRESHOLD", "DEFAULT_HIGH_THRESHOLD"]

CANNY_BACKENDS = ("skimage", "opencv")

#: skimage's default thresholds (0.1, 0.2 in Sobel units, for float images) as true pixel-unit magnitudes
DEFAULT_LOW_THRESHOLD = 0.1 / conventions.library_scale("scipy.ndimage.sobel")
DEFAULT_HIGH_THRESHOLD = 0.2 / conventions.library_scale("scipy.ndimage.sobel")

_INT16_RANGE = 16000.0  # |dx|, |dy| scaled to this for cv2 (dx^2 + dy^2 stays within int32)


def canny(image, *, sigma: float = 1.0, low_threshold: float | None = None, high_threshold: float | None = None,
          backend: str = "skimage", use_quantiles: bool = False, mode: str = "reflect") -> np.ndarray:
    """Canny edge map of a 2-D gray image.

    Parameters
    ----------
    image : array_like, 2-D
        Gray image (integers are cast to float64 without rescaling).
    sigma : float
        Standard deviation of the Gaussian pre-smoothing, in pixels (0: none).
    low_threshold, high_threshold : float, optional
        Hysteresis thresholds on the true gradient magnitude in pixel units of
        the smoothed image (with ``use_quantiles``: quantiles in [0, 1] of that
        magnitude).  Default: scikit-image's defaults expressed in that unit,
        ``DEFAULT_LOW_THRESHOLD = 0.0125``, ``DEFAULT_HIGH_THRESHOLD = 0.025``.
    backend : {'skimage', 'opencv'}
        ``'skimage'``: ``skimage.feature.canny`` (thresholds multiplied by 8
        before the call).  ``'opencv'``: the same smoothing
        (``scipy.ndimage.gaussian_filter``) and Sobel gradient, then OpenCV's
        non-maximum suppression and hysteresis, ``cv2.Canny(dx, dy, ...)`` with
        ``L2gradient=True``; the gradients are scaled to int16 (relative
        resolution 1/16000 of the largest component) and the thresholds with
        them, so float images are not quantised to 8 bits first.
    use_quantiles : bool
        Read the thresholds as quantiles of the gradient magnitude.
    mode : str
        Boundary mode of the smoothing (``'reflect'``; scikit-image's own
        default is ``'constant'`` with edge compensation).

    Returns
    -------
    ndarray of bool, the shape of ``image``.
    """
    arr, _ = check_image(image, spatial_dims=(2,))
    (sig,) = check_per_axis(sigma, 1, name="sigma", allow_zero=True, unit="in pixels")
    mode = check_choice(mode, "mode", SCIPY_MODES)
    if backend not in CANNY_BACKENDS:
        raise ValueError(f"backend must be one of {list(CANNY_BACKENDS)}, got {backend!r}")
    use_quantiles = bool(use_quantiles)
    low, high = check_thresholds(low_threshold, high_threshold, use_quantiles=use_quantiles,
                                 defaults=(DEFAULT_LOW_THRESHOLD, DEFAULT_HIGH_THRESHOLD))
    sobel = conventions.library_scale("scipy.ndimage.sobel")
    if backend == "skimage":
        import skimage.feature

        if not use_quantiles:
            low, high = low * sobel, high * sobel
        return skimage.feature.canny(arr, sigma=sig, low_threshold=low, high_threshold=high,
                                     use_quantiles=use_quantiles, mode=mode)
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - cv2 is installed with insp[baselines]
        raise ImportError("backend='opencv' needs OpenCV: pip install opencv-python-headless "
                          "(or insp[baselines])") from exc
    smoothed = ndi.gaussian_filter(arr, sig, mode=mode) if sig > 0 else arr
    gy = ndi.sobel(smoothed, axis=0) / sobel  # rows: cv2's y
    gx = ndi.sobel(smoothed, axis=1) / sobel  # columns: cv2's x
    if use_quantiles:
        low, high = np.quantile(np.hypot(gx, gy), [low, high])
    peak = max(float(np.abs(gx).max()), float(np.abs(gy).max()), high, 1e-300)
    s = _INT16_RANGE / peak
    dx = np.rint(gx * s).astype(np.int16)
    dy = np.rint(gy * s).astype(np.int16)
    return cv2.Canny(dx, dy, low * s, high * s, L2gradient=True) > 0
