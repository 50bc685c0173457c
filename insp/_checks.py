"""Argument checks: the one home of the validators every layer uses.

Each check returns the value in its canonical form (a Python ``int``, a
``float``, a tuple of floats, a float64 array) or raises ``TypeError`` /
``ValueError`` with a message that names the argument and says what was
expected.  Scalars may be given as any real scalar type: Python numbers,
NumPy scalars, 0-d arrays and 0-d tensors.

A leaf module: it imports NumPy and torch only, so ``fields``, ``jet``,
``ops`` and everything above can use it.  Checks that need a library type
(``Field``, ``Domain``) live with that type (``insp.fields.base.check_field``).
"""

from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np
import torch

__all__ = ["check_int", "check_number", "check_choice", "check_bool", "check_seed", "check_shape", "check_per_axis",
           "check_image", "check_callable", "check_thresholds", "check_multi_index", "check_dtype", "check_device",
           "SCIPY_MODES"]

#: boundary modes of ``scipy.ndimage`` filters (the baselines' ``mode=``)
SCIPY_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")


def _scalar(value):
    """A 0-d array or tensor as its Python scalar; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def check_int(value, name: str, *, minimum: int | None = 1, allow_none: bool = False) -> int | None:
    """An integer ``>= minimum`` (any integer type, 0-d integer arrays and tensors); ``bool`` is refused."""
    if value is None and allow_none:
        return None
    value = _scalar(value)
    try:
        out = None if isinstance(value, (bool, np.bool_)) else operator.index(value)
    except TypeError:
        out = None
    if out is None or (minimum is not None and out < minimum):
        kind = ("a positive integer" if minimum == 1 else "a non-negative integer" if minimum == 0
                else "an integer" if minimum is None else f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}{' or None' if allow_none else ''}, got {value!r}")
    return out


def check_number(value, name: str, *, minimum: float | None = 0.0, strict: bool = True, maximum: float | None = None,
                 allow_none: bool = False, unit: str = "") -> float | None:
    """A finite real number (any real scalar type), ``> minimum`` (``strict``) or ``>= minimum``, ``<= maximum``.

    ``minimum=None`` accepts any finite number.  The default is a positive
    number; ``strict=False`` allows zero.
    """
    if value is None and allow_none:
        return None
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    ok = math.isfinite(v) and (minimum is None or (v > minimum if strict else v >= minimum)) \
        and (maximum is None or v <= maximum)
    if not ok:
        if maximum is not None:
            lo = "-inf" if minimum is None else f"{minimum:g}"
            kind = f"a number in {'(' if strict or minimum is None else '['}{lo}, {maximum:g}]"
        elif minimum is None:
            kind = "a finite number"
        elif minimum == 0:
            kind = f"a {'positive' if strict else 'non-negative'} finite number"
        else:
            kind = f"a finite number {'>' if strict else '>='} {minimum:g}"
        raise ValueError(f"{name} must be {kind}{f' ({unit})' if unit else ''}, got {value!r}")
    return v


def check_choice(value, name: str, options: Sequence) -> str:
    """One of ``options`` (compared with ``==``)."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(seed, name: str = "seed") -> int:
    """A seed for ``torch.Generator.manual_seed`` / NumPy: a non-negative integer below ``2**63``."""
    seed = _scalar(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2**63:
        raise ValueError(f"{name} must be an integer in [0, 2**63), got {seed}")
    return seed


def check_callable(value, name: str, *, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def check_shape(shape, dim: int | None = None, *, name: str = "shape") -> tuple[int, ...]:
    """A grid shape: ``dim`` axes (any number when ``None``; an int is one axis), each with at least 2 samples."""
    if dim is None and isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(operator.index(n) for n in shape)
    except TypeError:
        what = f"{dim} integers" if dim is not None else "integers (samples per axis)"
        raise TypeError(f"{name} must be a sequence of {what}, got {shape!r}") from None
    if dim is not None and len(shape) != dim:
        raise ValueError(f"{name} must have {dim} entries (one per axis), got {shape}")
    if not shape:
        raise ValueError(f"{name} must name at least one axis")
    if any(n < 2 for n in shape):
        raise ValueError(f"{name} needs at least 2 samples per axis, got {shape}")
    return shape


def check_per_axis(value, dim: int, *, name: str = "value", allow_zero: bool = True,
                   unit: str = "") -> tuple[float, ...]:
    """A number or one number per axis (list, array or tensor) as a tuple of ``dim`` finite floats.

    The one parser of per-axis lengths (``sigma`` and friends); the error
    names ``name`` and, if given, the ``unit`` the value is read in.
    """
    value = _scalar(value)
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        value = (float(value),) * dim
    try:
        value = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a sequence of {dim} numbers, got {value!r}") from None
    if len(value) != dim:
        raise ValueError(f"{name} must have {dim} entries (one per axis), got {len(value)}")
    if not all(math.isfinite(v) and v >= 0 and (allow_zero or v > 0) for v in value):
        need = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be finite and {need}{f' ({unit})' if unit else ''}, got {value}")
    return value


def check_image(image, *, channel_axis=None, spatial_dims=(1, 2, 3), name: str = "image"):
    """A finite float64 view of ``image`` (NumPy or torch) and its normalised channel axis.

    Integer images are cast to float64 *without* rescaling (values keep
    their units).  ``spatial_dims``: the numbers of spatial axes accepted.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be a real numeric array (integer or float), got dtype {arr.dtype}")
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
            raise TypeError(f"channel_axis must be an int or None, got {channel_axis!r}")
        if not -arr.ndim <= channel_axis < arr.ndim:
            raise ValueError(f"channel_axis={channel_axis} is out of range for {name} of shape {arr.shape}")
        channel_axis = int(channel_axis) % arr.ndim
    nspatial = arr.ndim - (channel_axis is not None)
    if nspatial not in spatial_dims:
        dims = "/".join(f"{d}-D" for d in spatial_dims)
        extra = " plus a channel axis" if channel_axis is not None else " (pass channel_axis=... for channels)"
        raise ValueError(f"{name} must be a {dims} array{extra}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr, channel_axis



def check_thresholds(low, high, *, use_quantiles: bool, defaults: tuple[float, float]) -> tuple[float, float]:
    """Hysteresis thresholds of a Canny edge map: ``0 <= low <= high``, in ``[0, 1]`` for quantiles.

    ``None`` takes ``defaults`` (gradient magnitudes), except with quantiles, which need both.
    """
    low = defaults[0] if low is None and not use_quantiles else low
    high = defaults[1] if high is None and not use_quantiles else high
    if use_quantiles and (low is None or high is None):
        raise ValueError("use_quantiles=True needs explicit low_threshold and high_threshold in [0, 1]")
    for name, v in (("low_threshold", low), ("high_threshold", high)):
        v = _scalar(v)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(v):
            raise TypeError(f"{name} must be a finite number, got {v!r}")
        if v < 0 or (use_quantiles and v > 1):
            rng = "in [0, 1] (quantiles)" if use_quantiles else ">= 0 (gradient magnitude in pixel units)"
            raise ValueError(f"{name} must be {rng}, got {v}")
    low, high = float(_scalar(low)), float(_scalar(high))
    if high < low:
        raise ValueError(f"low_threshold ({low}) must not exceed high_threshold ({high})")
    return low, high


def check_multi_index(alpha, dim: int, *, name: str = "alpha") -> tuple[int, ...]:
    """A multi-index of ``dim`` non-negative ints (the exponents of a partial derivative)."""
    try:
        alpha = tuple(alpha)
    except TypeError:
        raise TypeError(f"{name} must be a multi-index (tuple of {dim} non-negative ints), got {alpha!r}") from None
    if len(alpha) != dim:
        raise ValueError(f"{name} must be a multi-index of {dim} non-negative ints ({name} must have {dim} entries, "
                         f"one per axis), got {alpha!r}")
    if not all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) and a >= 0 for a in alpha):
        raise ValueError(f"{name} must be a multi-index of {dim} non-negative ints (one per axis), got {alpha!r}")
    return tuple(int(a) for a in alpha)


_FLOAT_DTYPES = {"float16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16,
                 "float32": torch.float32, "float": torch.float32, "float64": torch.float64, "double": torch.float64}


def check_dtype(dtype, name: str = "dtype", *, allow_none: bool = True) -> torch.dtype | None:
    """A floating torch dtype, given as a ``torch.dtype``, a NumPy dtype or a name (``"float64"``, ``"torch.float32"``)."""
    if dtype is None and allow_none:
        return None
    if isinstance(dtype, torch.dtype):
        out = dtype
    else:
        key = str(np.dtype(dtype)) if isinstance(dtype, type) and issubclass(dtype, np.generic) else str(dtype)
        out = _FLOAT_DTYPES.get(key.removeprefix("torch."))
    if out is None or not out.is_floating_point:
        raise TypeError(f"{name} must be a floating dtype (torch.float32, torch.float64 or a name such as "
                        f"'float64'), got {dtype!r}")
    return out


def check_device(device, name: str = "device", *, allow_none: bool = True) -> torch.device | None:
    """A torch device that this installation can use (``"cuda"`` on a CPU build is refused up front)."""
    if device is None and allow_none:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name} must be a torch device such as 'cpu' or 'cuda', got {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else "a CUDA build that sees no GPU"
        raise ValueError(f"{name}={device!r}, but this torch ({torch.__version__}) is {build}; use device='cpu'")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"{name}={device!r}, but MPS is not available here; use device='cpu'")
    return dev
