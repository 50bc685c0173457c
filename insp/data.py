"""Offline sample data: scikit-image's images as float64 arrays in [0, 1], and audio clips.

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

Audio
-----
:func:`audio` returns ``(wave, sample_rate)``, float64 in [-1, 1], mono
``(n,)`` or stereo ``(n, 2)`` (channels last).  ``"speech"`` is CMU ARCTIC
utterance a0007 (4.0 s of a male voice at 16 kHz, shipped in
``insp/sounds/`` with its licence); the others are synthetic and exact at any
rate and length (:data:`AUDIO_NAMES`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["names", "gray", "color", "load", "TRAIN_IMAGES", "TEST_IMAGES", "LUMA_WEIGHTS", "audio", "AUDIO_NAMES",
           "mesh", "MESHES"]

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


# --------------------------------------------------------------------------- audio

#: the clips :func:`audio` returns: a recorded voice and synthetic signals
AUDIO_NAMES = ("speech", "chirp", "tones", "am", "stereo")

_SPEECH_FILE = "arctic_a0007.wav"  # 16 kHz, 64,000 samples


def _synthetic(name: str, t: np.ndarray) -> np.ndarray:
    from scipy.signal import chirp

    if name == "chirp":  # linear sweep 100 Hz -> 4 kHz over 4 s (then it keeps rising)
        return 0.5 * chirp(t, f0=100.0, t1=4.0, f1=4000.0, method="linear")
    if name == "tones":  # a chord with decaying harmonics
        return sum(0.15 / k * np.sin(2 * np.pi * k * f * t + k) for f in (220.0, 277.18, 329.63) for k in (1, 2, 3))
    if name == "am":  # 1 kHz carrier, 3 Hz envelope
        return 0.6 * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) / 1.5 * np.sin(2 * np.pi * 1000.0 * t)
    # stereo: two tones and a shared chirp, one channel each side
    base = 0.25 * chirp(t, f0=200.0, t1=4.0, f1=2000.0, method="linear")
    return np.stack([base + 0.3 * np.sin(2 * np.pi * 440.0 * t), base + 0.3 * np.sin(2 * np.pi * 660.0 * t)],
                    axis=-1)


def audio(name: str, *, sample_rate: int = 16000, duration: float | None = None) -> tuple[np.ndarray, int]:
    """A sound clip ``(wave, sample_rate)``: float64 in [-1, 1], ``(n,)`` or ``(n, 2)`` for ``"stereo"``.

    Parameters
    ----------
    name : str
        One of :data:`AUDIO_NAMES`.
    sample_rate : int
        Samples per second.  ``"speech"`` is recorded at 16 kHz and resampled
        (:func:`scipy.signal.resample_poly`) to any other rate.
    duration : float, optional
        Seconds (default 4.0, the length of the speech clip).  Speech longer
        than 4 s repeats the utterance; shorter keeps its start.

    Examples
    --------
    >>> wave, sr = audio("tones", sample_rate=8000, duration=0.5)
    >>> wave.shape, sr, bool(abs(wave).max() <= 1)
    ((4000,), 8000, True)
    """
    if not isinstance(name, str) or name not in AUDIO_NAMES:
        raise ValueError(f"name must be one of {list(AUDIO_NAMES)}, got {name!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 100:
        raise ValueError(f"sample_rate must be an integer of at least 100 samples per second, got {sample_rate!r}")
    sample_rate = int(sample_rate)
    if duration is None:
        duration = 4.0
    if isinstance(duration, bool) or not isinstance(duration, (int, float, np.floating)) \
            or not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    n = max(2, int(round(float(duration) * sample_rate)))
    if name != "speech":
        return _synthetic(name, np.arange(n) / sample_rate), sample_rate
    from importlib.resources import as_file, files

    from .audioio import read_wav

    with as_file(files("insp").joinpath("sounds", _SPEECH_FILE)) as path:
        wave, sr = read_wav(path, mono=True)
    if sample_rate != sr:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sample_rate, sr)
        wave = resample_poly(wave, sample_rate // g, sr // g)
    reps = -(-n // wave.shape[0])
    return np.clip(np.tile(wave, reps)[:n], -1.0, 1.0), sample_rate


# --------------------------------------------------------------------------- meshes


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
