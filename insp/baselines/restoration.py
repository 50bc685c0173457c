"""Classical pixel-grid restoration: the contenders of the INSP-Net benchmark (``benchmarks/restoration.py``).

Images are float arrays in [0, 1], ``(H, W)`` or ``(H, W, C)`` with
``channel_axis=-1``; results are float64 of the same shape, clipped to
[0, 1].  Masks are boolean ``(H, W)``, ``True`` on *known* pixels (the
convention of :mod:`insp.tasks`; scikit-image and OpenCV want the opposite,
the pixels to fill, and get ``~known``).

Default parameters were chosen once on the *training* images of
:data:`insp.data.TRAIN_IMAGES` (``python -m benchmarks.restoration --tune``, mean
PSNR over those images at 256x256 with the protocol's degradations), never on
the test images; the chosen values and the grids searched are listed in
``docs/restoration.md``.

* denoise: :func:`denoise_tv` (Chambolle), :func:`denoise_nl_means`
  (patch-based, noise level from :func:`skimage.restoration.estimate_sigma`
  unless given), :func:`denoise_bm3d` (the ``bm3d`` package, optional),
  :func:`denoise_wavelet` (BayesShrink);
* deblur with a known PSF: :func:`deconv_wiener` pads the image by reflection
  (``numpy.pad(mode="symmetric")``, the boundary that blurred it),
  deconvolves and crops back, so that the FFT's periodic boundary does not
  ring across the edges; :func:`deconv_richardson_lucy` uses the reflect
  boundary in every convolution of its iteration;
* inpaint: :func:`inpaint_biharmonic`, :func:`inpaint_telea`, :func:`inpaint_ns`
  (OpenCV).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_image, check_number

__all__ = ["denoise_tv", "denoise_nl_means", "denoise_bm3d", "denoise_wavelet", "deconv_wiener",
           "deconv_richardson_lucy", "inpaint_biharmonic", "inpaint_telea", "inpaint_ns", "DEFAULTS"]

#: Parameters chosen on the training images (see the module notes).
DEFAULTS = dict(
    tv_weight=0.08,
    nl_means_h=0.6,  # h = nl_means_h * sigma
    wiener_balance=1e-4,
    rl_iterations=400,
    inpaint_radius=3,
)


def _img(image, channel_axis, name="image"):
    arr = np.asarray(image.detach().cpu().numpy() if hasattr(image, "detach") else image)
    arr, channel_axis = check_image(arr, channel_axis=channel_axis, spatial_dims=(2,), name=name)
    return arr, channel_axis


def _per_channel(fn, arr, channel_axis):
    if channel_axis is None:
        return fn(arr)
    moved = np.moveaxis(arr, channel_axis, -1)
    out = np.stack([fn(moved[..., c]) for c in range(moved.shape[-1])], axis=-1)
    return np.moveaxis(out, -1, channel_axis)


def _done(out):
    return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)


# --------------------------------------------------------------------------- denoising


def denoise_tv(image, *, weight: float | None = None, channel_axis=None) -> np.ndarray:
    """Total-variation denoising (:func:`skimage.restoration.denoise_tv_chambolle`), ``weight`` default 0.08.

    Run to convergence (``eps=1e-5``, up to 1000 iterations): scikit-image's
    default stopping rule (``eps=2e-4``) stops some images early, which made
    the PSNR jump by up to 5 dB between neighbouring weights.
    """
    from skimage.restoration import denoise_tv_chambolle

    arr, ca = _img(image, channel_axis)
    weight = check_number(DEFAULTS["tv_weight"] if weight is None else weight, "weight")
    return _done(denoise_tv_chambolle(arr, weight=weight, eps=1e-5, max_num_iter=1000, channel_axis=ca))


def _sigma(arr, sigma, ca):
    if sigma is None:
        from skimage.restoration import estimate_sigma

        return float(np.mean(estimate_sigma(arr, channel_axis=ca)))
    return check_number(sigma, "sigma")


def denoise_nl_means(image, *, sigma: float | None = None, h: float | None = None, patch_size: int = 5,
                     patch_distance: int = 6, channel_axis=None) -> np.ndarray:
    """Non-local means (:func:`skimage.restoration.denoise_nl_means`, fast mode).

    ``sigma``: the noise level (default: estimated with
    :func:`skimage.restoration.estimate_sigma`); the filter strength is
    ``h = nl_means_h * sigma`` (0.6 by default) unless ``h`` is given.
    """
    from skimage.restoration import denoise_nl_means as nlm

    arr, ca = _img(image, channel_axis)
    sigma = _sigma(arr, sigma, ca)
    h = DEFAULTS["nl_means_h"] * sigma if h is None else check_number(h, "h")
    return _done(nlm(arr, h=h, sigma=sigma, patch_size=patch_size, patch_distance=patch_distance, fast_mode=True,
                     channel_axis=ca))


def denoise_wavelet(image, *, sigma: float | None = None, channel_axis=None) -> np.ndarray:
    """Wavelet shrinkage (:func:`skimage.restoration.denoise_wavelet`, BayesShrink, soft, db1).

    ``sigma`` default: estimated from the finest detail coefficients.
    """
    from skimage.restoration import denoise_wavelet as dw

    arr, ca = _img(image, channel_axis)
    sigma = None if sigma is None else check_number(sigma, "sigma")
    return _done(dw(arr, sigma=sigma, method="BayesShrink", mode="soft", rescale_sigma=True, channel_axis=ca))


def denoise_bm3d(image, *, sigma: float | None = None, channel_axis=None) -> np.ndarray:
    """BM3D (the ``bm3d`` package, both stages) with noise level ``sigma`` (default: estimated).

    Each channel is denoised alone.  Needs ``pip install 'insp[baselines]'``
    (``bm3d``); raises ``ImportError`` saying so when it is missing.
    """
    try:
        import bm3d
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("denoise_bm3d needs the bm3d package: pip install 'insp[baselines]' (or bm3d)") from err
    arr, ca = _img(image, channel_axis)
    sigma = _sigma(arr, sigma, ca)
    return _done(_per_channel(lambda a: bm3d.bm3d(a, sigma_psd=sigma), arr, ca))


# --------------------------------------------------------------------------- deconvolution


def _check_psf(psf) -> np.ndarray:
    k = np.asarray(psf, dtype=np.float64)
    if k.ndim != 2 or k.size == 0 or not np.isfinite(k).all():
        raise ValueError(f"psf must be a finite 2-D array, got shape {k.shape}")
    if k.sum() <= 0:
        raise ValueError("psf must have a positive sum")
    return k / k.sum()


def _padded(fn, arr, psf, channel_axis):
    pad = max(psf.shape)

    def one(a):
        big = np.pad(a, pad, mode="symmetric")  # scipy.ndimage's "reflect" boundary
        return fn(big)[pad:-pad, pad:-pad]

    return _per_channel(one, arr, channel_axis)


def deconv_wiener(image, psf, *, balance: float | None = None, pad: bool = True, channel_axis=None) -> np.ndarray:
    """Wiener deconvolution (:func:`skimage.restoration.wiener`) with the known ``psf``.

    ``balance`` (default 1e-4) weighs the Laplacian regulariser against
    data fidelity.  ``pad=True`` pads by reflection, deconvolves and crops;
    ``pad=False`` is the plain periodic version (for comparison).
    """
    from skimage.restoration import wiener

    arr, ca = _img(image, channel_axis)
    k = _check_psf(psf)
    balance = check_number(DEFAULTS["wiener_balance"] if balance is None else balance, "balance")

    def fn(a):
        return wiener(a, k, balance, clip=False)

    return _done(_padded(fn, arr, k, ca) if pad else _per_channel(fn, arr, ca))


def _convolve_reflect(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.convolve(a, k, mode="reflect")`` for an odd kernel, by FFT (same result, faster)."""
    from scipy.signal import fftconvolve

    r0, r1 = k.shape[0] // 2, k.shape[1] // 2
    return fftconvolve(np.pad(a, ((r0, r0), (r1, r1)), mode="symmetric"), k, mode="valid")


def deconv_richardson_lucy(image, psf, *, iterations: int | None = None, pad: bool = True,
                           channel_axis=None) -> np.ndarray:
    """Richardson--Lucy deconvolution with the known ``psf`` (default 400 iterations).

    ``pad=True``: every convolution of the iteration uses the reflect
    boundary (``numpy.pad(mode="symmetric")``, the boundary that blurred the
    image), starting from the observed image::

        u <- u * (K^T * (f / (K * u)))

    Padding once and calling :func:`skimage.restoration.richardson_lucy`
    is not enough for many iterations: its zero-padded convolutions pull the
    estimate down from the border inwards by the PSF radius twice per
    iteration.  ``pad=False`` is scikit-image's function as it is (for
    comparison).  The PSF must have odd sides.
    """
    arr, ca = _img(image, channel_axis)
    k = _check_psf(psf)
    if k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(f"psf must have odd sides (a centre pixel), got shape {k.shape}")
    it = DEFAULTS["rl_iterations"] if iterations is None else iterations
    if isinstance(it, bool) or not isinstance(it, (int, np.integer)) or it < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    if (arr < 0).any():
        raise ValueError("image must be non-negative for Richardson-Lucy")
    k_mirror = k[::-1, ::-1]

    def reflect(f):
        u = f.copy()
        for _ in range(int(it)):
            u *= _convolve_reflect(f / np.maximum(_convolve_reflect(u, k), 1e-12), k_mirror)
        return u

    def plain(f):
        from skimage.restoration import richardson_lucy

        return richardson_lucy(f, k, num_iter=int(it), clip=False)

    return _done(_per_channel(reflect if pad else plain, arr, ca))


# --------------------------------------------------------------------------- inpainting


def _mask(known, shape, name="known"):
    m = np.asarray(known)
    if m.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array (True = known pixel), got dtype {m.dtype}")
    if m.shape != tuple(shape):
        raise ValueError(f"{name} must have the image's spatial shape {tuple(shape)}, got {m.shape}")
    if not m.any():
        raise ValueError(f"{name} has no known pixel: nothing to inpaint from")
    return m


def _spatial_shape(arr, ca):
    return arr.shape if ca is None else tuple(n for i, n in enumerate(arr.shape) if i != ca)


def inpaint_biharmonic(image, known, *, channel_axis=None) -> np.ndarray:
    """Biharmonic inpainting (:func:`skimage.restoration.inpaint_biharmonic`) of the pixels where ``known`` is False."""
    from skimage.restoration import inpaint_biharmonic as ib

    arr, ca = _img(image, channel_axis)
    m = _mask(known, _spatial_shape(arr, ca))
    return _done(ib(arr, ~m, channel_axis=ca))


def _opencv(image, known, radius, channel_axis, flag_name):
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("OpenCV inpainting needs opencv: pip install 'insp[baselines]'") from err
    arr, ca = _img(image, channel_axis)
    m = _mask(known, _spatial_shape(arr, ca))
    radius = check_number(DEFAULTS["inpaint_radius"] if radius is None else radius, "radius")
    holes = (~m).astype(np.uint8)
    flag = getattr(cv2, flag_name)
    # 16-bit input: OpenCV's Telea mis-handles float32 images in [0, 1] (returns them nearly unfilled), and
    # 16 bits quantise by 1.5e-5, far below what PSNR can see
    def one(a):
        q = np.round(np.clip(a, 0.0, 1.0) * 65535).astype(np.uint16)
        return cv2.inpaint(q, holes, radius, flag).astype(np.float64) / 65535

    return _done(_per_channel(one, arr, ca))


def inpaint_telea(image, known, *, radius: float | None = None, channel_axis=None) -> np.ndarray:
    """OpenCV's fast-marching inpainting (Telea 2004), ``radius`` 3 px by default."""
    return _opencv(image, known, radius, channel_axis, "INPAINT_TELEA")


def inpaint_ns(image, known, *, radius: float | None = None, channel_axis=None) -> np.ndarray:
    """OpenCV's Navier--Stokes inpainting (Bertalmio et al. 2001), ``radius`` 3 px by default."""
    return _opencv(image, known, radius, channel_axis, "INPAINT_NS")
