"""Finite-difference derivatives on pixel grids (the baselines of :mod:`insp.ops`).

Every function takes a NumPy array (1-D to 3-D, or with a ``channel_axis``),
returns float64 NumPy arrays, and returns **true derivatives in pixel units**
(unit spacing, array axis ``k`` = coordinate ``k``, "ij").  Library scale and
sign conventions (``scipy.ndimage.sobel`` is 8x the derivative,
``skimage.filters.laplace`` is the negative Laplacian, ...) are divided out
with :func:`insp.baselines.conventions.from_library`.  To compare with a field's derivatives
(coordinate units) use :func:`insp.units.to_coordinate_units`.

Borders: ``mode`` is a ``scipy.ndimage`` boundary mode (``'reflect'`` by
default, as scipy and scikit-image); within the stencil radius of the border
any padding biases the result.  The central-difference functions also take
``mode='one-sided'``: stencils of the same width shifted inside the array at
the borders (like :func:`numpy.gradient`), one order less accurate there for
even derivative orders.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

from .._checks import SCIPY_MODES, check_choice, check_image, check_int, check_multi_index
from . import conventions
from ._common import per_channel

__all__ = ["fd_weights", "central_difference", "derivative", "gradient", "hessian", "laplacian",
           "gradient_magnitude", "STENCILS"]

#: names accepted by ``gradient(stencil=...)``
STENCILS = ("central", "sobel", "scharr", "prewitt")

_CENTRAL_MODES = SCIPY_MODES + ("one-sided",)

# the isotropic 9-point Laplacian (Patra & Karttunen 2006; "Mehrstellen" weights)
_LAPLACE_9 = np.array([[1.0, 4.0, 1.0], [4.0, -20.0, 4.0], [1.0, 4.0, 1.0]]) / 6.0


def fd_weights(offsets, order: int) -> np.ndarray:
    """Finite-difference weights of derivative ``order`` at 0 on the given offsets (Fornberg 1988).

    ``sum_i w_i f(offsets_i) = f^(order)(0) + O(h^(len(offsets) - order))``
    for unit spacing.

    Examples
    --------
    >>> fd_weights([-1, 0, 1], 1).tolist()
    [-0.5, 0.0, 0.5]
    >>> fd_weights([-1, 0, 1], 2).tolist()
    [1.0, -2.0, 1.0]
    """
    z = np.asarray(offsets, dtype=np.float64)
    order = check_int(order, "order", minimum=0)
    n = z.size
    if n <= order:
        raise ValueError(f"a derivative of order {order} needs more than {order} offsets, got {n}")
    c = np.zeros((n, order + 1))
    c1, c4 = 1.0, z[0]
    c[0, 0] = 1.0
    for i in range(1, n):
        mn = min(i, order)
        c2, c5, c4 = 1.0, c4, z[i]
        for j in range(i):
            c3 = z[i] - z[j]
            c2 *= c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return c[:, order]


def _radius(order: int, accuracy: int) -> int:
    return (order + 1) // 2 + accuracy // 2 - 1


def _central_1d(image: np.ndarray, axis: int, order: int, accuracy: int, mode: str) -> np.ndarray:
    if order == 0:
        return image.copy()
    p = _radius(order, accuracy)
    w = fd_weights(np.arange(-p, p + 1), order)
    n = image.shape[axis]
    if mode != "one-sided":
        return ndi.correlate1d(image, w, axis=axis, mode=mode)
    if n < 2 * p + 1:
        raise ValueError(f"mode='one-sided' with order={order}, accuracy={accuracy} needs at least {2 * p + 1} "
                         f"samples along axis {axis}, got {n}")
    out = ndi.correlate1d(image, w, axis=axis, mode="nearest")  # interior exact; borders replaced below
    moved_in = np.moveaxis(image, axis, -1)
    moved_out = np.moveaxis(out, axis, -1)  # a view: writing it writes ``out``
    for i in list(range(p)) + list(range(n - p, n)):
        start = min(max(i - p, 0), n - 2 * p - 1)
        offs = np.arange(start, start + 2 * p + 1)
        moved_out[..., i] = moved_in[..., offs] @ fd_weights(offs - i, order)
    return out


def _check_accuracy(accuracy) -> int:
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, np.integer)) or accuracy < 2 or accuracy % 2:
        raise ValueError(f"accuracy must be a positive even integer (2, 4, ...), got {accuracy!r}")
    return int(accuracy)


def _check_axis(axis, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"axis must be an integer in [-{ndim}, {ndim}) (a spatial axis), got {axis!r}")
    return int(axis) % ndim


def central_difference(image, *, axis: int, order: int = 1, accuracy: int = 2, mode: str = "reflect",
                       channel_axis: int | None = None) -> np.ndarray:
    """Central finite difference of any order along one spatial axis, in pixel units.

    Parameters
    ----------
    image : array_like
        1-D, 2-D or 3-D (plus a channel axis if ``channel_axis`` is given).
    axis : int
        Spatial axis (counted without the channel axis).
    order : int
        Derivative order (0 returns a float64 copy).
    accuracy : int
        Even order of accuracy: the error is ``O(h**accuracy)``.  The stencil
        has ``2 p + 1`` points, ``p = (order + 1) // 2 + accuracy // 2 - 1``.
    mode : str
        A ``scipy.ndimage`` boundary mode or ``'one-sided'`` (see module notes).
    channel_axis : int, optional

    Returns
    -------
    ndarray, float64, the shape of ``image``.

    Examples
    --------
    >>> central_difference(np.arange(5.0) ** 2, axis=0)[1:-1].tolist()
    [2.0, 4.0, 6.0]
    """
    arr, ch = check_image(image, channel_axis=channel_axis)
    nsp = arr.ndim - (ch is not None)
    axis = _check_axis(axis, nsp)
    order = check_int(order, "order", minimum=0)
    accuracy = _check_accuracy(accuracy)
    mode = check_choice(mode, "mode", _CENTRAL_MODES)
    return per_channel(lambda a: _central_1d(a, axis, order, accuracy, mode), arr, ch)


def _derivative(a: np.ndarray, alpha, accuracy: int, mode: str) -> np.ndarray:
    out = a
    for k, ak in enumerate(alpha):
        if ak:
            out = _central_1d(out, k, ak, accuracy, mode)
    return out.copy() if out is a else out


def derivative(image, alpha, *, accuracy: int = 2, mode: str = "reflect",
               channel_axis: int | None = None) -> np.ndarray:
    """Partial derivative of multi-index ``alpha`` by central differences, in pixel units.

    Applies :func:`central_difference` of order ``alpha[k]`` along each axis
    ``k`` (mixed derivatives are products of 1-D stencils), so the error is
    ``O(h**accuracy)``.

    Examples
    --------
    >>> i, j = np.meshgrid(np.arange(6.0), np.arange(6.0), indexing="ij")
    >>> float(derivative(i * j, (1, 1))[2, 3])
    1.0
    """
    arr, ch = check_image(image, channel_axis=channel_axis)
    alpha = check_multi_index(alpha, arr.ndim - (ch is not None))
    accuracy = _check_accuracy(accuracy)
    mode = check_choice(mode, "mode", _CENTRAL_MODES)
    return per_channel(lambda a: _derivative(a, alpha, accuracy, mode), arr, ch)


def _check_stencil(stencil) -> str:
    if stencil not in STENCILS:
        raise ValueError(f"stencil must be one of {list(STENCILS)}, got {stencil!r}")
    return stencil


def _gradient(a: np.ndarray, stencil: str, mode: str) -> np.ndarray:
    d = a.ndim
    if stencil == "central":
        comps = [_central_1d(a, k, 1, 2, mode) for k in range(d)]
    elif stencil == "sobel":
        comps = [conventions.from_library(ndi.sobel(a, axis=k, mode=mode), "scipy.ndimage.sobel", ndim=d)
                 for k in range(d)]
    elif stencil == "prewitt":
        comps = [conventions.from_library(ndi.prewitt(a, axis=k, mode=mode), "scipy.ndimage.prewitt", ndim=d)
                 for k in range(d)]
    else:
        import skimage.filters

        comps = [conventions.from_library(skimage.filters.scharr(a, axis=k, mode=mode), "skimage.filters.scharr")
                 for k in range(d)]
    return np.stack(comps, axis=0)


def gradient(image, *, stencil: str = "central", mode: str = "reflect",
             channel_axis: int | None = None) -> np.ndarray:
    """Gradient in pixel units, one component per spatial axis ("ij" order).

    Parameters
    ----------
    image : array_like
        1-D, 2-D or 3-D (plus a channel axis if ``channel_axis`` is given).
    stencil : {'central', 'sobel', 'scharr', 'prewitt'}
        ``'central'``: ``(f[i+1] - f[i-1]) / 2``; ``'sobel'``:
        ``scipy.ndimage.sobel / (2 * 4**(ndim-1))``; ``'scharr'``:
        ``skimage.filters.scharr(axis=k) / 2``; ``'prewitt'``:
        ``scipy.ndimage.prewitt / (2 * 3**(ndim-1))``.  All are exact on
        quadratics; Sobel/Scharr/Prewitt additionally smooth across the other
        axes (less noise, more blur).
    mode : str
        ``scipy.ndimage`` boundary mode; ``'one-sided'`` only for ``'central'``.
    channel_axis : int, optional

    Returns
    -------
    ndarray of shape ``(ndim_spatial, *image.shape)``: component ``k`` is the
    derivative along spatial axis ``k``.
    """
    arr, ch = check_image(image, channel_axis=channel_axis)
    stencil = _check_stencil(stencil)
    mode = check_choice(mode, "mode", _CENTRAL_MODES if stencil == "central" else SCIPY_MODES)
    return per_channel(lambda a: _gradient(a, stencil, mode), arr, ch, n_lead=1)


def gradient_magnitude(image, *, stencil: str = "central", mode: str = "reflect",
                       channel_axis: int | None = None) -> np.ndarray:
    """``|grad f|`` in pixel units (Euclidean norm of :func:`gradient`), the shape of ``image``."""
    g = gradient(image, stencil=stencil, mode=mode, channel_axis=channel_axis)
    return np.sqrt(np.sum(g * g, axis=0))


def hessian(image, *, accuracy: int = 2, mode: str = "reflect", channel_axis: int | None = None) -> np.ndarray:
    """Hessian by central differences, in pixel units.

    Returns
    -------
    ndarray of shape ``(d, d, *image.shape)`` (``d`` spatial axes), symmetric:
    entry ``[k, l]`` is ``d2f / dx_k dx_l``.  Diagonal: second-difference
    stencil; off-diagonal: product of two first-difference stencils.
    """
    arr, ch = check_image(image, channel_axis=channel_axis)
    accuracy = _check_accuracy(accuracy)
    mode = check_choice(mode, "mode", _CENTRAL_MODES)

    def one(a):
        d = a.ndim
        out = np.empty((d, d) + a.shape)
        for k in range(d):
            for m in range(k, d):
                alpha = [0] * d
                alpha[k] += 1
                alpha[m] += 1
                out[k, m] = _derivative(a, alpha, accuracy, mode)
                out[m, k] = out[k, m]
        return out

    return per_channel(one, arr, ch, n_lead=2)


def laplacian(image, *, stencil: int = 5, mode: str = "reflect", channel_axis: int | None = None) -> np.ndarray:
    """Laplacian in pixel units (positive sign: ``sum_k d2f/dx_k2``).

    Parameters
    ----------
    image : array_like
        1-D, 2-D or 3-D (plus a channel axis if ``channel_axis`` is given).
    stencil : {5, 9}
        ``5``: the compact (2 d + 1)-point stencil (5-point in 2-D, 7-point in
        3-D), ``scipy.ndimage.laplace``.  ``9``: 2-D only, the isotropic
        9-point stencil ``[[1, 4, 1], [4, -20, 4], [1, 4, 1]] / 6`` whose
        leading error ``h**2/12 * Delta**2 f`` is rotation invariant.
        Both are exact on cubics, ``O(h**2)``.
    mode : str
        ``scipy.ndimage`` boundary mode; ``'one-sided'`` only for ``stencil=5``.
    channel_axis : int, optional

    Returns
    -------
    ndarray, float64, the shape of ``image``.
    """
    arr, ch = check_image(image, channel_axis=channel_axis)
    nsp = arr.ndim - (ch is not None)
    if stencil not in (5, 9) or isinstance(stencil, bool):
        raise ValueError(f"stencil must be 5 (compact, 2d+1 points) or 9 (isotropic, 2-D), got {stencil!r}")
    if stencil == 9 and nsp != 2:
        raise ValueError(f"stencil=9 is defined for 2-D images only, got {nsp} spatial axes")
    mode = check_choice(mode, "mode", _CENTRAL_MODES if stencil == 5 else SCIPY_MODES)

    def one(a):
        if stencil == 9:
            return ndi.correlate(a, _LAPLACE_9, mode=mode)
        if mode == "one-sided":
            return sum(_central_1d(a, k, 2, 2, mode) for k in range(a.ndim))
        return conventions.from_library(ndi.laplace(a, mode=mode), "scipy.ndimage.laplace")

    return per_channel(one, arr, ch)
