"""Sign and scale conventions of the libraries the grid baselines call.

Every library below returns ``scale * D`` where ``D`` is the *true*
derivative in pixel units (exact on the polynomials named, in the interior of
the array) and ``scale`` includes the sign.  :func:`library_scale` returns the
number and :func:`from_library` divides it out.  Each row is verified in
``tests/test_units.py`` by running the library on polynomials.

* ``numpy.gradient`` -- scale 1: central differences along each array axis,
  pixel units only when no spacing is given; one-sided at the edges.
* ``scipy.ndimage.sobel`` -- scale ``2 * 4**(ndim-1)`` (8 in 2-D, 32 in 3-D):
  derivative along ``axis`` (= array axis) times the unnormalised smoothing
  ``[1, 2, 1]`` across every other axis.
* ``scipy.ndimage.prewitt`` -- scale ``2 * 3**(ndim-1)`` (6 in 2-D).
* ``scipy.ndimage.laplace`` -- scale +1: the positive (2 ndim + 1)-point
  Laplacian.
* ``skimage.filters.sobel_h`` / ``skimage.filters.sobel_v`` -- scale 2 (kernel normalised by
  1/4): ``_h`` ("horizontal edges") is the derivative along axis 0 (down the
  rows), ``_v`` along axis 1 (the columns), both with a positive sign.
  ``skimage.filters.sobel(image, axis=k)`` is the same for any ndim; with
  ``axis=None`` it returns ``sqrt(mean_k (2 d_k f)**2) = 2/sqrt(ndim) |grad f|``.
* ``skimage.filters.scharr(_h/_v)``, ``skimage.filters.prewitt(_h/_v)`` -- scale 2 (smoothing
  ``[3, 10, 3]/16``, ``[1, 1, 1]/3``), same axes as Sobel.
* ``skimage.filters.laplace`` -- scale **-1**: the NEGATIVE Laplacian; its
  ``ksize=3`` kernel is ``[[0, -1, 0], [-1, 4, -1], [0, -1, 0]]`` and a larger
  ``ksize`` only zero-pads the same stencil.
* ``cv2.Sobel`` -- **x is the column axis (array axis 1), y the row axis
  (axis 0)**; scale below.  Default border ``BORDER_REFLECT_101`` (= scipy
  ``mode='mirror'``; scipy's default ``'reflect'`` is cv2's ``BORDER_REFLECT``).
* ``cv2.Scharr`` -- scale 32 (kernel ``[3, 10, 3] x [-1, 0, 1]``), same axes.
* ``cv2.Laplacian`` -- ``ksize=1``: scale 1 (5-point stencil); ``ksize >= 3``
  is Sobel ``dxx + dyy`` of that size: scale ``2**(2 ksize - 4)`` (4, 64, 1024
  for ksize 3, 5, 7).

``cv2.Sobel(src, ddepth, dx, dy, ksize)`` (with the default ``scale=1``): the
kernel along an axis of derivative order ``m`` is ``m`` differences ``[-1, 1]``
convolved with ``ksize - 1 - m`` sums ``[1, 1]``, so that axis contributes
``2 ** (ksize - 1 - m)``; the scale is the product over both axes,
``2 ** (2 ksize - 2 - dx - dy)`` (8 for a first derivative with ``ksize=3``,
4 for a second one, 128 for a first derivative with ``ksize=5``).
``ksize=1`` uses no smoothing: ``[-1, 0, 1]`` (factor 2) for order 1,
``[1, -2, 1]`` (factor 1) for order 2, nothing for order 0.
``ksize=-1`` (``cv2.FILTER_SCHARR``) is :func:`cv2.Scharr` (32).

The smoothing kernels (Sobel, Prewitt, Scharr) reproduce polynomials of degree
<= 1 exactly, so every first-derivative filter above is exact on quadratics
(the derivative of a quadratic is linear), every Laplacian on cubics, and
``cv2.Sobel`` on polynomials of total degree ``<= dx + dy + 1``.

``skimage.feature.canny`` thresholds the magnitude of ``scipy.ndimage.sobel``
gradients, i.e. 8x the true gradient magnitude in pixel units;
``cv2.Canny(image, t1, t2, apertureSize=3)`` thresholds ``cv2.Sobel`` (also 8x),
in the L1 norm ``|dx| + |dy|`` unless ``L2gradient=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import check_multi_index

__all__ = ["LibraryConvention", "CONVENTIONS", "library_scale", "from_library", "cv2_orders"]


# --------------------------------------------------------------------------- library conventions

@dataclass(frozen=True)
class LibraryConvention:
    """What a library function returns relative to the true derivative in pixel units.

    ``library output = scale * true`` (sign included) on the polynomials of
    ``exact_on``, away from the border.
    """

    function: str
    approximates: str
    scale: str
    axes: str
    exact_on: str
    notes: str = ""


CONVENTIONS: dict[str, LibraryConvention] = {c.function: c for c in [
    LibraryConvention("numpy.gradient", "first derivative along each array axis (central differences)", "1",
                      "returns one array per axis, in array-axis order",
                      "quadratics (interior)",
                      "pixel units only when no spacing is given; edges one-sided of order edge_order"),
    LibraryConvention("scipy.ndimage.sobel", "first derivative along `axis`, smoothed [1,2,1] across the others",
                      "2 * 4**(ndim-1)  (8 in 2-D, 32 in 3-D)", "axis = array axis", "quadratics",
                      "default mode='reflect'"),
    LibraryConvention("scipy.ndimage.prewitt", "first derivative along `axis`, smoothed [1,1,1] across the others",
                      "2 * 3**(ndim-1)  (6 in 2-D, 18 in 3-D)", "axis = array axis", "quadratics",
                      "default mode='reflect'"),
    LibraryConvention("scipy.ndimage.laplace", "Laplacian, (2 ndim + 1)-point stencil", "+1", "all axes", "cubics",
                      "positive Laplacian; default mode='reflect'"),
    LibraryConvention("skimage.filters.sobel_h", "first derivative along axis 0 (rows)", "2",
                      "'h' = horizontal edges = derivative down the rows", "quadratics",
                      "kernel [[1,2,1],[0,0,0],[-1,-2,-1]]/4, convolved; 2-D only"),
    LibraryConvention("skimage.filters.sobel_v", "first derivative along axis 1 (columns)", "2",
                      "'v' = vertical edges = derivative along the columns", "quadratics", "2-D only"),
    LibraryConvention("skimage.filters.sobel", "with axis=k: first derivative along array axis k", "2",
                      "axis = array axis; any ndim", "quadratics",
                      "axis=None returns sqrt(mean_k (2 d_k f)**2) = 2/sqrt(ndim) |grad f|"),
    LibraryConvention("skimage.filters.scharr", "with axis=k: first derivative along array axis k, smoothed "
                      "[3,10,3]/16", "2", "axis = array axis; scharr_h = axis 0, scharr_v = axis 1",
                      "quadratics", "axis=None: 2/sqrt(ndim) |grad f| as for sobel"),
    LibraryConvention("skimage.filters.prewitt", "with axis=k: first derivative along array axis k, smoothed "
                      "[1,1,1]/3", "2", "axis = array axis; prewitt_h = axis 0, prewitt_v = axis 1",
                      "quadratics", "axis=None: 2/sqrt(ndim) |grad f| as for sobel"),
    LibraryConvention("skimage.filters.laplace", "NEGATIVE Laplacian, (2 ndim + 1)-point stencil", "-1",
                      "all axes", "cubics",
                      "ksize=3 kernel [[0,-1,0],[-1,4,-1],[0,-1,0]]; a larger ksize zero-pads the same stencil"),
    LibraryConvention("cv2.Sobel", "d^dx/dcol^dx d^dy/drow^dy", "2**(2 ksize - 2 - dx - dy) for ksize >= 3; "
                      "ksize=1: 2 per first-order axis, 1 otherwise; ksize=-1: Scharr (32)",
                      "x = column axis (array axis 1), y = row axis (array axis 0)",
                      "polynomials of total degree <= dx + dy + 1",
                      "default border BORDER_REFLECT_101 (= scipy mode 'mirror'); default scale=1"),
    LibraryConvention("cv2.Scharr", "first derivative: dx=1 along the columns, dy=1 along the rows", "32",
                      "x = column axis (array axis 1), y = row axis (array axis 0)", "quadratics",
                      "kernel [3,10,3] x [-1,0,1]"),
    LibraryConvention("cv2.Laplacian", "Laplacian", "ksize=1: 1 (5-point); ksize >= 3: 2**(2 ksize - 4)",
                      "all axes", "cubics",
                      "ksize >= 3 is Sobel d2/dx2 + d2/dy2 of the same ksize"),
]}

_ALIASES = {"skimage.filters.scharr_h": "skimage.filters.scharr", "skimage.filters.scharr_v": "skimage.filters.scharr",
            "skimage.filters.prewitt_h": "skimage.filters.prewitt",
            "skimage.filters.prewitt_v": "skimage.filters.prewitt"}


def _cv2_axis_factor(order: int, ksize: int) -> int:
    if ksize == 1:
        if order > 2:
            raise ValueError(f"cv2.Sobel with ksize=1 supports derivative orders <= 2 per axis, got {order}")
        return (1, 2, 1)[order]
    if order > ksize - 1:
        raise ValueError(f"cv2.Sobel with ksize={ksize} supports derivative orders <= {ksize - 1}, got {order}")
    return 2 ** (ksize - 1 - order)


def library_scale(function: str, *, ndim: int = 2, dx: int = 1, dy: int = 0, ksize: int = 3) -> float:
    """The factor (sign included) between a library's output and the true pixel-unit derivative.

    Parameters
    ----------
    function : str
        A key of :data:`CONVENTIONS` (``"scipy.ndimage.sobel"``,
        ``"cv2.Laplacian"``, ...), or ``skimage.filters.scharr_h/_v``,
        ``prewitt_h/_v``.
    ndim : int
        Array dimension (``scipy.ndimage.sobel`` / ``prewitt`` smooth across
        every other axis, so their scale grows with it).
    dx, dy, ksize : int
        The arguments of ``cv2.Sobel`` (``dx`` along the columns, ``dy`` along
        the rows); ``ksize`` also for ``cv2.Laplacian``.

    Examples
    --------
    >>> library_scale("scipy.ndimage.sobel")
    8.0
    >>> library_scale("skimage.filters.laplace")
    -1.0
    >>> library_scale("cv2.Sobel", dx=0, dy=2, ksize=5)
    64.0
    """
    key = _ALIASES.get(function, function)
    if key not in CONVENTIONS:
        raise ValueError(f"unknown library function {function!r}; expected one of "
                         f"{sorted(set(CONVENTIONS) | set(_ALIASES))}")
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 1:
        raise ValueError(f"ndim must be a positive integer, got {ndim!r}")
    if key in ("numpy.gradient", "scipy.ndimage.laplace"):
        return 1.0
    if key == "scipy.ndimage.sobel":
        return 2.0 * 4.0 ** (ndim - 1)
    if key == "scipy.ndimage.prewitt":
        return 2.0 * 3.0 ** (ndim - 1)
    if key.startswith("skimage.filters.") and key != "skimage.filters.laplace":
        return 2.0
    if key == "skimage.filters.laplace":
        return -1.0
    if key == "cv2.Scharr":
        return 32.0
    if key == "cv2.Sobel":
        for name, v in (("dx", dx), ("dy", dy)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if dx + dy == 0:
            raise ValueError("cv2.Sobel needs dx + dy >= 1")
        if ksize == -1:
            if (dx, dy) not in ((1, 0), (0, 1)):
                raise ValueError(f"ksize=-1 (Scharr) supports only first derivatives, got dx={dx}, dy={dy}")
            return 32.0
        if ksize not in (1, 3, 5, 7):
            raise ValueError(f"cv2.Sobel ksize must be -1, 1, 3, 5 or 7, got {ksize!r}")
        return float(_cv2_axis_factor(dx, ksize) * _cv2_axis_factor(dy, ksize))
    # cv2.Laplacian
    if ksize not in (1, 3, 5, 7):
        raise ValueError(f"cv2.Laplacian ksize must be 1, 3, 5 or 7, got {ksize!r}")
    return 1.0 if ksize == 1 else float(2 ** (2 * ksize - 4))


def from_library(values, function: str, **params):
    """Divide a library's output by :func:`library_scale` -> true derivative in pixel units.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage as ndi
    >>> ramp = np.add.outer(3.0 * np.arange(6), np.zeros(6))   # d/drow = 3
    >>> float(from_library(ndi.sobel(ramp, axis=0), "scipy.ndimage.sobel")[2, 2])
    3.0
    """
    return values / library_scale(function, **params)


def cv2_orders(alpha) -> tuple[int, int]:
    """``(dx, dy)`` arguments of ``cv2.Sobel`` for a 2-D multi-index ``alpha`` in "ij" order.

    cv2's x is the column axis (array axis 1) and y the row axis (axis 0), so
    ``alpha = (a_row, a_col)`` maps to ``dx = a_col, dy = a_row``.

    Examples
    --------
    >>> cv2_orders((2, 1))
    (1, 2)
    """
    a = check_multi_index(alpha, 2)
    return a[1], a[0]
