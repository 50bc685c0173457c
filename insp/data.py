"""Offline test images: scikit-image's sample data as float64 arrays in [0, 1].

Every image ships with scikit-image (no network).  An image is loaded,
centre-cropped to a square (the largest square in its middle) and
area-resized to ``size x size`` with
:func:`skimage.transform.resize_local_mean` (each output pixel is the mean of
the input area it covers; exact box averaging for integer factors).

Gray conversion (``gray``): ITU-R BT.709 luma on the stored (gamma-encoded)
values, ``Y = 0.2125 R + 0.7154 G + 0.0721 B`` -- the weights of
:func:`skimage.color.rgb2gray`.  An alpha channel is dropped, a gray image
passed to :func:`color` is repeated on three channels, a boolean image maps
False/True to 0/1.

Restoration split
-----------------
:data:`TRAIN_IMAGES` and :data:`TEST_IMAGES` are fixed and disjoint; learned
operators are trained on the first and measured on the second only (see
``docs/restoration.md``).  Both hold natural photographs whose short side is
at least 300 pixels, so that 256x256 is a down-sampling.  ``cat`` is left out
of both (it is the same photograph as ``chelsea``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["names", "gray", "color", "load", "mesh", "MESHES", "TRAIN_IMAGES", "TEST_IMAGES", "LUMA_WEIGHTS"]

#: Meshes shipped with insp (``insp/_meshes``, licences beside them), read by :func:`mesh`.
MESHES = ("ant",)

#: The images that load offline (the names of :mod:`skimage.data` functions).
_NAMES = (
    "astronaut", "binary_blobs", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee",
    "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "moon",
    "microaneurysms", "page", "retina", "rocket", "shepp_logan_phantom", "text",
)

#: Training images of the restoration split (never used for testing).
TRAIN_IMAGES = ("moon", "brick", "grass", "gravel", "immunohistochemistry", "cell", "clock", "rocket")
#: Test images of the restoration split (never used for training); ``camera`` as in the INSP-Net paper.
TEST_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "coins")

#: RGB -> gray weights (ITU-R BT.709, as :func:`skimage.color.rgb2gray`).
LUMA_WEIGHTS = (0.2125, 0.7154, 0.0721)

DEFAULT_SIZE = 256


def names() -> tuple[str, ...]:
    """Names of every available image (sorted)."""
    return _NAMES


def _check_name(name) -> str:
    if not isinstance(name, str) or name not in _NAMES:
        raise ValueError(f"name must be one of {list(_NAMES)}, got {name!r}")
    return name


def _check_size(size) -> int | None:
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise ValueError(f"size must be an integer >= 2 (pixels per side) or None, got {size!r}")
    return int(size)


def load(name: str) -> np.ndarray:
    """The image ``name`` as stored, converted to float64 in [0, 1]: ``(H, W)`` or ``(H, W, 3)``.

    Integer images are divided by their dtype's maximum; an alpha channel is
    dropped; booleans become 0/1.
    """
    import skimage.data

    raw = np.asarray(getattr(skimage.data, _check_name(name))())
    if raw.dtype == np.bool_:
        img = raw.astype(np.float64)
    elif np.issubdtype(raw.dtype, np.integer):
        img = raw.astype(np.float64) / np.iinfo(raw.dtype).max
    else:
        img = np.clip(raw.astype(np.float64), 0.0, 1.0)
    if img.ndim == 3:
        img = img[..., :3]
    return img


def _crop_resize(img: np.ndarray, size: int | None) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = img[top:top + s, left:left + s]
    if size is None or size == s:
        return np.ascontiguousarray(img)
    from skimage.transform import resize_local_mean

    out = resize_local_mean(img, (size, size), channel_axis=-1 if img.ndim == 3 else None)
    return np.clip(out, 0.0, 1.0)


def gray(name: str, size: int | None = DEFAULT_SIZE) -> np.ndarray:
    """Gray image ``(size, size)``, float64 in [0, 1] (centre square, area-resized; ``size=None``: no resize).

    Examples
    --------
    >>> img = gray("camera", size=64)
    >>> img.shape, img.dtype, bool(0 <= img.min() <= img.max() <= 1)
    ((64, 64), dtype('float64'), True)
    """
    size = _check_size(size)
    img = load(name)
    if img.ndim == 3:
        img = img @ np.asarray(LUMA_WEIGHTS)
    return _crop_resize(img, size)


def color(name: str, size: int | None = DEFAULT_SIZE) -> np.ndarray:
    """RGB image ``(size, size, 3)``, float64 in [0, 1] (a gray image is repeated on the three channels)."""
    size = _check_size(size)
    img = load(name)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return _crop_resize(img, size)


def mesh(name: str):
    """A mesh shipped with insp, as a ``trimesh.Trimesh`` (needs the ``shapes`` extra), in its own units.

    ``"ant"``: a closed mesh of 912 triangles, about 32 units across, from the
    PyVista examples (MIT licence, kept in ``insp/_meshes``).

    Examples
    --------
    >>> m = mesh("ant")
    >>> m.faces.shape, bool(m.is_watertight)
    ((912, 3), True)
    """
    if name not in MESHES:
        raise ValueError(f"name must be one of {MESHES}, got {name!r}")
    from pathlib import Path

    import trimesh

    return trimesh.load(Path(__file__).resolve().parent / "_meshes" / f"{name}.ply", force="mesh")
