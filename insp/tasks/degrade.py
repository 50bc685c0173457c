"""Degradations of pixel images: noise, blur, random holes, text overlays; white noise at a given SNR for any signal.

Images are float arrays in [0, 1], ``(H, W)`` (gray) or ``(H, W, C)``
(channels last).  Every random degradation takes a ``seed`` (an integer,
passed to :func:`numpy.random.default_rng`), so the same call gives the same
result on every machine.  The output is float64; the input is never modified.
Masks are boolean ``(H, W)`` arrays, ``True`` where the pixel is *known*
(the convention of :func:`insp.fit`'s ``known``).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import SCIPY_MODES, check_choice, check_image, check_number, check_seed

__all__ = ["add_noise", "add_noise_at_snr", "noise_sigma_for_snr", "blur", "blur_kernel", "random_holes", "text_overlay", "BLUR_KERNELS", "DEFAULT_TEXT"]

BLUR_KERNELS = ("gaussian", "box3")
#: Text drawn by :func:`text_overlay` when none is given (one line per entry).
DEFAULT_TEXT = ("signal processing", "on implicit neural", "representations", "INSP-Net 2022", "derivatives",
                "lorem ipsum dolor")


def _image(img, name: str = "img") -> np.ndarray:
    arr = np.asarray(img.detach().cpu().numpy() if hasattr(img, "detach") else img)
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (H, W, C), got shape {arr.shape}")
    arr, _ = check_image(arr, channel_axis=-1 if arr.ndim == 3 else None, spatial_dims=(2,), name=name)
    if min(arr.shape[:2]) < 2:
        raise ValueError(f"{name} needs at least 2 pixels per axis, got shape {arr.shape}")
    return arr


def _seed(seed) -> np.random.Generator:
    return np.random.default_rng(check_seed(seed))


def add_noise(img, *, sigma: float = 25 / 255, seed: int, clip: bool = True) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` (in image units, [0, 1] scale).

    Parameters
    ----------
    img : array ``(H, W)`` or ``(H, W, C)``
    sigma : float
        Noise standard deviation; ``25/255`` is the INSP-Net paper's level.
    seed : int
    clip : bool
        Clip the result to [0, 1] (default), as an image stored in [0, 1]
        (or 8 bits) would be: the noisy ``camera`` at 256x256 then scores
        20.6 dB, next to the paper's 20.4 dB (24.41 - 4.0); without
        clipping, 20.2 dB.  Clipping makes the noise slightly non-Gaussian
        near black and white.
    """
    arr = _image(img)
    sigma = check_number(sigma, "sigma", strict=False)
    out = arr + sigma * _seed(seed).standard_normal(arr.shape)
    return np.clip(out, 0.0, 1.0) if clip else out


def noise_sigma_for_snr(signal, snr_db: float) -> float:
    """The standard deviation of white noise whose power is ``mean(signal^2) / 10^(snr_db / 10)``.

    >>> noise_sigma_for_snr(np.ones(4), 20.0)
    0.1
    """
    snr_db = check_number(snr_db, "snr_db", minimum=None)
    return float(np.sqrt(np.mean(np.asarray(signal, dtype=np.float64) ** 2) / 10 ** (snr_db / 10)))


def add_noise_at_snr(signal, *, snr_db: float, seed: int) -> np.ndarray:
    """``signal`` (any shape, e.g. an audio clip) plus white Gaussian noise at input SNR ``snr_db`` (dB), unclipped."""
    arr = np.asarray(signal, dtype=np.float64)
    return arr + noise_sigma_for_snr(arr, snr_db) * _seed(seed).standard_normal(arr.shape)


def blur_kernel(*, sigma: float = 2.0, kernel: str = "gaussian", repeat: int = 1) -> np.ndarray:
    """The point-spread function of :func:`blur`: an odd square array that sums to 1.

    ``kernel="gaussian"``: the sampled Gaussian ``exp(-r^2 / (2 sigma^2))``
    on ``|i|, |j| <= ceil(4 sigma)`` (scipy's truncation), normalised.
    ``kernel="box3"``: the 3x3 mean filter convolved with itself ``repeat``
    times (the original INSP code's blur: a 3x3 kernel applied repeatedly);
    ``sigma`` is ignored.  ``repeat`` is a count for both kernels (the
    Gaussian is also self-convolved ``repeat`` times).
    """
    if kernel not in BLUR_KERNELS:
        raise ValueError(f"kernel must be one of {list(BLUR_KERNELS)}, got {kernel!r}")
    if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    if kernel == "gaussian":
        sigma = check_number(sigma, "sigma")
        r = int(math.ceil(4 * sigma))
        t = np.arange(-r, r + 1, dtype=np.float64)
        g = np.exp(-t**2 / (2 * sigma**2))
        base = np.outer(g, g)
    else:
        base = np.ones((3, 3))
    base = base / base.sum()
    from scipy.ndimage import convolve

    psf, r = base, base.shape[0] // 2
    for _ in range(int(repeat) - 1):  # full 2-D convolution: zero-pad by the base radius, then convolve
        psf = convolve(np.pad(psf, r), base, mode="constant")
    return psf / psf.sum()


def blur(img, *, sigma: float = 2.0, kernel: str = "gaussian", repeat: int = 1, mode: str = "reflect"
         ) -> tuple[np.ndarray, np.ndarray]:
    """Convolve with the PSF of :func:`blur_kernel`; returns ``(blurred, psf)``.

    ``mode`` is the boundary handling of :func:`scipy.ndimage.convolve`
    (``"reflect"``: half-sample symmetric, ``d c b a | a b c d``).  Each
    channel is blurred alone.  The PSF is symmetric, so convolution and
    correlation agree.
    """
    from scipy.ndimage import convolve


    arr = _image(img)
    mode = check_choice(mode, "mode", SCIPY_MODES)
    psf = blur_kernel(sigma=sigma, kernel=kernel, repeat=repeat)
    if arr.ndim == 2:
        out = convolve(arr, psf, mode=mode)
    else:
        out = np.stack([convolve(arr[..., c], psf, mode=mode) for c in range(arr.shape[-1])], axis=-1)
    return out, psf


def random_holes(img, *, fraction: float = 0.3, seed: int, fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Remove ``round(fraction * H * W)`` pixels chosen uniformly at random (all channels of a pixel).

    Returns ``(holey, known)``: the image with removed pixels set to ``fill``
    and the boolean mask, ``True`` where the pixel is kept.
    """
    arr = _image(img)
    fraction = check_number(fraction, "fraction", strict=False, maximum=1.0)
    fill = check_number(fill, "fill", minimum=None)
    h, w = arr.shape[:2]
    n_holes = int(round(fraction * h * w))
    if n_holes >= h * w:
        raise ValueError(f"fraction={fraction} removes every pixel; nothing would be left to restore from")
    known = np.ones(h * w, dtype=bool)
    known[_seed(seed).permutation(h * w)[:n_holes]] = False
    known = known.reshape(h, w)
    out = arr.copy()
    out[~known] = fill
    return out, known


def text_overlay(img, *, text=None, seed: int, value: float = 1.0, font_size: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Draw lines of text at random positions, with Pillow's bundled default font.

    Parameters
    ----------
    img : array ``(H, W)`` or ``(H, W, C)``
    text : str or sequence of str, optional
        The lines (default :data:`DEFAULT_TEXT`); each is placed at a random
        position (seeded) that keeps it inside the image.
    seed : int
    value : float
        Intensity of the text (1 = white).
    font_size : int, optional
        In pixels; default ``max(8, H // 12)``.

    Returns
    -------
    (image, known)
        The image ``img * (1 - a) + value * a`` where ``a`` is the rendered
        (anti-aliased) text coverage, and the mask ``a == 0`` (``True`` where
        the pixel is untouched by the text).
    """
    from PIL import Image, ImageDraw, ImageFont

    arr = _image(img)
    rng = _seed(seed)
    value = check_number(value, "value", strict=False, maximum=1.0)
    lines = DEFAULT_TEXT if text is None else ((text,) if isinstance(text, str) else tuple(text))
    if not lines or not all(isinstance(s, str) and s.strip() for s in lines):
        raise ValueError(f"text must be a non-empty string or a sequence of non-empty strings, got {text!r}")
    h, w = arr.shape[:2]
    if font_size is None:
        font_size = max(8, h // 12)
    if isinstance(font_size, bool) or not isinstance(font_size, (int, np.integer)) or font_size < 1:
        raise ValueError(f"font_size must be a positive integer, got {font_size!r}")
    try:
        font = ImageFont.load_default(size=int(font_size))  # Pillow >= 10.1 with FreeType: a scalable font
    except TypeError as err:  # pragma: no cover - depends on the installed Pillow
        raise ImportError("text_overlay needs Pillow >= 10.1 (a sizeable default font)") from err
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for line in lines:
        left, top, right, bottom = draw.textbbox((0, 0), line, font=font)
        tw, th = right - left, bottom - top
        x = int(rng.integers(0, max(w - tw, 0) + 1)) - left
        y = int(rng.integers(0, max(h - th, 0) + 1)) - top
        draw.text((x, y), line, fill=255, font=font)
    alpha = np.asarray(canvas, dtype=np.float64) / 255.0
    if not alpha.any():
        raise ValueError(f"no text was drawn on an image of shape {arr.shape}; use a larger image or font_size")
    a = alpha if arr.ndim == 2 else alpha[..., None]
    return arr * (1 - a) + value * a, alpha == 0
