"""Reading and writing 8/16-bit gray and RGB images as float arrays in [0, 1] (Pillow).

``read_image`` returns ``(H, W)`` for gray images and ``(H, W, 3)`` for colour
ones (alpha is dropped, palettes are expanded); ``write_image`` takes the same
layouts (or ``(H, W, 1)``), clips to ``[0, 1]`` and writes 8 bits per channel.
No rescaling happens beyond the fixed integer-to-[0, 1] map.  Every write is
atomic (:func:`insp._files.atomic_write`).  :func:`write_png_rows` writes a
PNG of any size from blocks of rows, so memory stays bounded by one block.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ._files import atomic_write

__all__ = ["read_image", "write_image", "write_png_rows", "to_uint8", "MAX_PIXELS"]

#: images larger than this are refused on reading (decompression bombs); about 16k x 16k
MAX_PIXELS = 2**28


def read_image(path) -> np.ndarray:
    """Image file -> float64 array in [0, 1], ``(H, W)`` (gray) or ``(H, W, 3)`` (RGB)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} does not exist" if not path.exists()
                                else f"image {str(path)!r} is not a file")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
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
    except Image.DecompressionBombError:
        raise ValueError(f"image {str(path)!r} has more than {MAX_PIXELS} pixels; refused as a possible "
                         "decompression bomb") from None
    except (OSError, SyntaxError, struct.error, zlib.error, EOFError) as exc:  # truncated or corrupt data
        raise ValueError(f"image {str(path)!r} is truncated or corrupt: {exc}") from None


def to_uint8(image) -> np.ndarray:
    """Clip to [0, 1] and quantise to uint8 (round half to even)."""
    a = np.asarray(image, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError("image contains NaN or infinite values")
    return np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_image(path, image) -> Path:
    """Write a float image in [0, 1] (``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; or uint8) as 8-bit gray/RGB."""
    from PIL import Image

    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)):
        raise ValueError(f"image must have shape (H, W), (H, W, 1) or (H, W, 3), got {a.shape}")
    path = Path(os.fspath(path))
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"path {str(path)!r} has no image suffix Pillow knows (.png, .jpg, .tif, ...)")
    import io

    buf = io.BytesIO()
    Image.fromarray(a if a.dtype == np.uint8 else to_uint8(a)).save(buf, format=fmt)
    return atomic_write(path, [buf.getvalue()])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_rows(path, height: int, width: int, channels: int, blocks, *, level: int = 6) -> Path:
    """Write an 8-bit gray (1 channel) or RGB (3) PNG from an iterable of row blocks, atomically.

    ``blocks`` yields uint8 arrays ``(rows, width, channels)`` (or ``(rows,
    width)`` for gray) that together hold the ``height`` rows in order.
    Rows are compressed as they arrive, so memory stays bounded by one block
    whatever the image size.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (gray) or 3 (RGB), got {channels}")
    if height < 1 or width < 1 or height >= 2**31 or width >= 2**31:
        raise ValueError(f"a PNG needs 1 to 2**31 - 1 rows and columns, got {height}x{width}")

    def chunks():
        yield b"\x89PNG\r\n\x1a\n"
        yield _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0))
        comp = zlib.compressobj(level)
        rows = 0
        for block in blocks:
            block = np.asarray(block)
            if block.dtype != np.uint8 or block.reshape(block.shape[0], -1).shape[1] != width * channels:
                raise ValueError(f"row blocks must be uint8 of width {width} and {channels} channels, got "
                                 f"{block.dtype} {block.shape}")
            rows += block.shape[0]
            if rows > height:
                raise ValueError(f"row blocks hold more than the {height} rows declared")
            flat = block.reshape(block.shape[0], width * channels)
            filtered = np.concatenate([np.zeros((flat.shape[0], 1), np.uint8), flat], axis=1)  # filter type 0
            data = comp.compress(filtered.tobytes())
            if data:
                yield _png_chunk(b"IDAT", data)
        if rows != height:
            raise ValueError(f"row blocks held {rows} rows, not the {height} declared")
        yield _png_chunk(b"IDAT", comp.flush())
        yield _png_chunk(b"IEND", b"")

    return atomic_write(path, chunks())
