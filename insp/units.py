"""Units of derivatives on grids: coordinate units and pixel units.

Two unit systems
----------------
A field lives on coordinates in which each axis spans ``[low, high]``
(``[-1, 1]`` by default) and is sampled at ``linspace(low, high, n)``.  The
pixel spacing of axis ``k`` is therefore ``h_k = (high_k - low_k) / (n_k - 1)``
coordinate units (``2 / (n - 1)`` by default).

* **coordinate units**: derivatives with respect to the field's coordinates
  (what autograd on a field returns);
* **pixel units**: derivatives with respect to the array index, i.e. with unit
  spacing (what every finite-difference library returns).

A derivative of multi-index ``alpha`` converts by the chain rule::

    pixel = coordinate * prod_k h_k ** alpha_k

(:func:`pixel_scale`).  Lengths convert the other way: ``sigma_px = sigma / h``
(:func:`sigma_to_pixels`).

The sign and scale conventions of other libraries (``scipy.ndimage.sobel``
is 8x the central derivative, ``skimage.filters.laplace`` the negative
Laplacian, ...) are kept next to the baselines that use them:
:mod:`insp.baselines.conventions`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ._checks import check_multi_index, check_per_axis, check_shape

__all__ = [
    "pixel_spacing", "pixel_scale", "to_pixel_units", "to_coordinate_units", "sigma_to_pixels",
    "sigma_to_coordinates",
]


# --------------------------------------------------------------------------- grids and units

def _bounds(domain, dim: int) -> tuple[tuple[float, float], ...]:
    if domain is None:
        return ((-1.0, 1.0),) * dim
    bounds = getattr(domain, "bounds", domain)  # an insp.Domain or a sequence of (low, high)
    try:
        bounds = tuple((float(lo), float(hi)) for lo, hi in bounds)
    except (TypeError, ValueError):
        raise TypeError(f"domain must be an insp.Domain, a sequence of (low, high) pairs or None, "
                        f"got {domain!r}") from None
    if len(bounds) != dim:
        raise ValueError(f"domain has {len(bounds)} axes but shape has {dim}")
    for k, (lo, hi) in enumerate(bounds):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"domain axis {k} must be finite with low < high, got {(lo, hi)}")
    return bounds


def pixel_spacing(shape: Sequence[int], *, domain=None) -> tuple[float, ...]:
    """Grid spacing ``h_k = (high_k - low_k) / (n_k - 1)`` in coordinate units.

    Parameters
    ----------
    shape : sequence of int
        Samples per axis (an int is a 1-D grid).
    domain : insp.Domain or sequence of (low, high), optional
        Defaults to ``[-1, 1]`` on every axis, giving ``h = 2 / (n - 1)``.

    Examples
    --------
    >>> pixel_spacing((257, 129))
    (0.0078125, 0.015625)
    """
    shape = check_shape(shape)
    return tuple((hi - lo) / (n - 1) for (lo, hi), n in zip(_bounds(domain, len(shape)), shape))


def _is_single_alpha(alpha) -> bool:
    try:
        return all(isinstance(a, (int, np.integer)) for a in alpha)
    except TypeError:
        return False


def pixel_scale(alpha, shape: Sequence[int], *, domain=None):
    """Factor ``prod_k h_k ** alpha_k`` taking a derivative from coordinate to pixel units.

    Parameters
    ----------
    alpha : tuple of int, or sequence of tuples
        Multi-index ``(a_0, ..., a_{d-1})`` with ``d = len(shape)``; a sequence
        of multi-indices (for instance a jet's) gives one factor each.
    shape, domain
        The grid, as in :func:`pixel_spacing`.

    Returns
    -------
    float, or ndarray of shape ``(len(alpha),)`` for a sequence of multi-indices.

    Examples
    --------
    >>> pixel_scale((2, 0), (3, 5))   # h = (1, 0.5): d2/dx0^2 -> times 1
    1.0
    >>> pixel_scale([(0, 1), (1, 1)], (3, 5)).tolist()
    [0.5, 0.5]
    """
    h = pixel_spacing(shape, domain=domain)
    if _is_single_alpha(alpha):
        a = check_multi_index(alpha, len(h))
        return float(math.prod(hk ** ak for hk, ak in zip(h, a)))
    try:
        alphas = [check_multi_index(a, len(h)) for a in alpha]
    except TypeError:
        raise TypeError(f"alpha must be a multi-index or a sequence of multi-indices, got {alpha!r}") from None
    return np.array([math.prod(hk ** ak for hk, ak in zip(h, a)) for a in alphas], dtype=np.float64)


def _apply(values, factor):
    if isinstance(factor, float):
        return values * factor
    if isinstance(values, torch.Tensor):
        if values.ndim < 1 or values.shape[-1] != factor.shape[0]:
            raise ValueError(f"values must have a last axis of {factor.shape[0]} entries (one per multi-index), "
                             f"got shape {tuple(values.shape)}")
        return values * torch.as_tensor(factor, dtype=values.dtype, device=values.device)
    values = np.asarray(values)
    if values.ndim < 1 or values.shape[-1] != factor.shape[0]:
        raise ValueError(f"values must have a last axis of {factor.shape[0]} entries (one per multi-index), "
                         f"got shape {values.shape}")
    return values * factor


def to_pixel_units(values, alpha, shape: Sequence[int], *, domain=None):
    """Convert derivatives of multi-index ``alpha`` from coordinate to pixel units.

    ``values`` may be a number, a NumPy array or a torch tensor (dtype and
    device are kept).  With a sequence of multi-indices, the last axis of
    ``values`` holds one derivative per multi-index (a jet ``(..., c, M)``).

    Examples
    --------
    >>> to_pixel_units(3.0, (1,), (5,))   # h = 0.5
    1.5
    """
    return _apply(values, pixel_scale(alpha, shape, domain=domain))


def to_coordinate_units(values, alpha, shape: Sequence[int], *, domain=None):
    """Inverse of :func:`to_pixel_units`: divide by ``prod_k h_k ** alpha_k``.

    Examples
    --------
    >>> to_coordinate_units(1.5, (1,), (5,))
    3.0
    """
    factor = pixel_scale(alpha, shape, domain=domain)
    return _apply(values, 1.0 / factor)


def sigma_to_pixels(sigma, shape: Sequence[int], *, domain=None) -> tuple[float, ...]:
    """A length (e.g. a blur's ``sigma``) in coordinate units -> pixels of each axis.

    Returns one value per axis (``sigma / h_k``): an isotropic length in
    coordinates is anisotropic in pixels when the axes have different spacing.

    Examples
    --------
    >>> sigma_to_pixels(2 / 255, (256, 256))
    (1.0, 1.0)
    """
    h = pixel_spacing(shape, domain=domain)
    return tuple(s / hk for s, hk in zip(check_per_axis(sigma, len(h), name="sigma"), h))


def sigma_to_coordinates(sigma, shape: Sequence[int], *, domain=None) -> tuple[float, ...]:
    """A length in pixels (number or one per axis) -> coordinate units, one per axis.

    Examples
    --------
    >>> sigma_to_coordinates(1.0, (256, 129))
    (0.00784313725490196, 0.015625)
    """
    h = pixel_spacing(shape, domain=domain)
    return tuple(s * hk for s, hk in zip(check_per_axis(sigma, len(h), name="sigma"), h))
