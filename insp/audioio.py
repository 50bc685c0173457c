"""WAV files in and out: float64 waveforms in [-1, 1], channels last.

:func:`read_wav` returns ``(wave, sample_rate)``: ``wave`` is ``(n,)`` for a
mono file and ``(n, c)`` (channels last, the layout of ``scipy.io.wavfile``
and ``soundfile``) for more channels.  Integer PCM maps to [-1, 1) by its
full scale (int16 / 32768, int32 / 2^31, uint8 centred on 128); float files
are returned as stored.  :func:`write_wav` writes 16-bit PCM (clipping to
[-1, 1] with a warning that counts the clipped samples) or 32-bit float.
Reading uses :mod:`scipy.io.wavfile` (PCM and IEEE float; compressed WAVs,
such as ADPCM, are refused with a clear error).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ._checks import check_choice, check_number

__all__ = ["read_wav", "write_wav", "WAV_FORMATS"]

#: sample formats :func:`write_wav` writes
WAV_FORMATS = ("int16", "float32")


def read_wav(path, *, mono: bool = False) -> tuple[np.ndarray, int]:
    """Read a WAV file as ``(wave, sample_rate)``, values in [-1, 1] (float64).

    Parameters
    ----------
    path : str or Path
    mono : bool
        Require a one-channel file (a ``ValueError`` for more channels).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = write_wav(os.path.join(d, "a.wav"), np.array([0.0, 0.5, -0.5]), 8000)
    >>> wave, sr = read_wav(p)
    >>> sr, wave.tolist()
    (8000, [0.0, 0.5, -0.5])
    """
    from scipy.io import wavfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no WAV file at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # unknown chunks (LIST, ...) are skipped
            sr, data = wavfile.read(path)
    except ValueError as exc:
        raise ValueError(f"{path} is not a WAV file scipy can read (PCM or IEEE float): {exc}") from None
    if data.dtype == np.uint8:
        wave = (data.astype(np.float64) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        wave = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    else:
        wave = data.astype(np.float64)
    if wave.size == 0:
        raise ValueError(f"{path} holds no samples")
    if wave.ndim == 2 and wave.shape[1] == 1:
        wave = wave[:, 0]
    if mono and wave.ndim != 1:
        raise ValueError(f"{path} has {wave.shape[1]} channels where a mono clip is required; pick one channel "
                         f"(wave[:, 0]) or average them (wave.mean(axis=1))")
    return wave, int(sr)


def write_wav(path, wave, sample_rate, *, sample_format: str = "int16") -> Path:
    """Write ``wave`` (``(n,)`` or ``(n, c)``, channels last, values in [-1, 1]) to a WAV file.

    Parameters
    ----------
    sample_format : {"int16", "float32"}
        16-bit PCM (values clipped to [-1, 1]) or 32-bit float.

    Returns the path written (parent folders are created).
    """
    from scipy.io import wavfile

    check_choice(sample_format, "sample_format", WAV_FORMATS)
    rate = check_number(sample_rate, "sample_rate")
    if rate != int(rate):
        raise ValueError(f"sample_rate must be a whole number of samples per second for a WAV file, got {rate}")
    try:
        import torch

        if isinstance(wave, torch.Tensor):
            wave = wave.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim not in (1, 2) or wave.shape[0] == 0:
        raise ValueError(f"wave must be (n,) or (n, channels) with n >= 1, got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise ValueError("wave contains NaN or infinite values")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if sample_format == "int16":
        clipped = int(np.sum(np.abs(wave) > 1.0))
        if clipped:
            warnings.warn(f"write_wav: {clipped} samples outside [-1, 1] were clipped", stacklevel=2)
        # the inverse of read_wav's / 32768 (exact for multiples of 1 / 32768); +1 maps to 32767
        data = np.clip(np.round(np.clip(wave, -1.0, 1.0) * 32768.0), -32768, 32767).astype(np.int16)
    else:
        data = wave.astype(np.float32)
    wavfile.write(path, int(rate), data)
    return path
