"""Reading and writing 8/16-bit gray and RGB images as float arrays in [0, 1] (Pillow).

``read_image`` returns ``(H, W)`` for gray images and ``(H, W, 3)`` for colour
ones (alpha is dropped, palettes are expanded); ``write_image`` takes the same
layouts (or ``(H, W, 1)``), clips to ``[0, 1]`` and writes 8 bits per channel.
No rescaling happens beyond the fixed integer-to-[0, 1] map.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["read_image", "write_image", "to_uint8"]


def read_image(path) -> np.ndarray:
    """Image file -> float64 array in [0, 1], ``(H, W)`` (gray) or ``(H, W, 3)`` (RGB)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(os.fspath(path))
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("1", "L", "LA"):
                return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
            if mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(im, dtype=np.float64) / 65535.0
            if mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr"):
                if mode in ("P", "PA"):
                    im = im.convert("RGBA")
                return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
            raise ValueError(f"image {str(path)!r} has unsupported mode {mode!r}; "
                             "expected 8/16-bit gray, palette or RGB(A)")
    except UnidentifiedImageError:
        raise ValueError(f"{str(path)!r} is not an image Pillow can read") from None


def to_uint8(image) -> np.ndarray:
    """Clip to [0, 1] and quantise to uint8 (round half to even)."""
    a = np.asarray(image, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError("image contains NaN or infinite values")
    return np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_image(path, image) -> Path:
    """Write a float image in [0, 1] (``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``) as 8-bit gray/RGB."""
    from PIL import Image

    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)):
        raise ValueError(f"image must have shape (H, W), (H, W, 1) or (H, W, 3), got {a.shape}")
    path = Path(os.fspath(path))
    Image.fromarray(to_uint8(a)).save(path)
    return path
