"""Fitting fields to sampled signals: one loop for one signal, one batched loop for many.

A signal is an array sampled on the grid ``linspace(low, high, n)`` of each
axis of a :class:`~insp.fields.domain.Domain` (``[-1, 1]^d`` by default);
:func:`fit` returns a field ``f`` with ``f.sample(signal_shape)`` close to the
signal, in the signal's own units.

Array layout
------------
``channel_axis`` says which array axis, if any, holds channels -- the
scikit-image convention:

* ``channel_axis=None``: every axis is spatial, one channel.  ``(n,)`` is a
  1-D signal, ``(H, W)`` a gray image, ``(D, H, W)`` a gray volume.
* ``channel_axis=-1`` (or any axis): that axis holds channels.  ``(n, c)``
  is a 1-D signal with ``c`` channels, ``(H, W, 3)`` an RGB image,
  ``(D, H, W, c)`` a volume with ``c`` channels.

When ``channel_axis`` is not given, a signal whose shape could be read both
ways -- 2 or 3 axes with a last axis of at most 4 samples, such as an
``(H, W, 3)`` array (RGB image, or a volume three slices deep?) -- raises a
``ValueError`` asking for it; every other shape is read as all-spatial.  The
spatial dimension ``d`` (1, 2 or 3) is the number of spatial axes, and each
needs at least 2 samples.

Values
------
The objective is the mean squared error on *normalised* values: each channel
is mapped to ``[-1, 1]`` by its mid-range and half-range (over the known
samples).  The network of a :class:`~insp.fields.inr.NeuralField` learns the
normalised values and its final :class:`~insp.fields.layers.ValueAffine`
(``net[-1].scale``, ``net[-1].shift``) stores the inverse map, so the fitted
field returns values in the signal's units and the normalisation is saved with
the weights.  PSNR in the history is in the signal's units with
``data_range`` (default: the signal's peak-to-peak range; 1 for an image
spanning [0, 1]).

Defaults
--------
See :data:`DEFAULTS` and ``docs/fitting.md`` for the measured reasons.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field as dc_field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .base import Field, field_dtype_device
from .domain import Domain
from ._siren_batch import SirenStack, siren_structure
from .inr import NeuralField, Siren

__all__ = ["fit", "fit_many", "FitHistory", "default_model", "DEFAULTS", "prepare_signal", "SignalSpec"]


#: The default fitting configuration (measured in ``benchmarks/fit_speed.py``;
#: reasons in ``docs/fitting.md``).
DEFAULTS: dict[str, Any] = dict(
    # model (see default_model): the reference SIREN sizes
    hidden_features=128,
    hidden_layers=3,
    first_omega_0=30.0,
    hidden_omega_0=30.0,
    # optimisation: Adam, random mini-batches, cosine decay to 0
    steps=1000,
    lr=1.5e-3,
    final_lr_ratio=0.0,  # cosine decay from lr to lr * final_lr_ratio over `steps`
    warmup_steps=0,
    batch_size=4096,  # points per step; signals with fewer known samples use all of them
)

_UNSET = object()  # sentinel: "channel_axis not given"


def default_model(in_features: int, out_features: int, *, domain: Domain | None = None, seed: int | None = 0,
                  dtype=None, device=None) -> Siren:
    """The SIREN that :func:`fit` builds when no ``model`` is given (sizes from :data:`DEFAULTS`)."""
    return Siren(in_features, out_features, hidden_features=DEFAULTS["hidden_features"],
                 hidden_layers=DEFAULTS["hidden_layers"], first_omega_0=DEFAULTS["first_omega_0"],
                 hidden_omega_0=DEFAULTS["hidden_omega_0"], domain=domain, seed=seed, dtype=dtype, device=device)


# --------------------------------------------------------------------------- input checking


@dataclass(frozen=True)
class SignalSpec:
    """How an array is read as a signal: spatial shape and channel count."""

    spatial_shape: tuple[int, ...]
    channels: int
    channel_axis: int | None  # normalised to a non-negative axis, or None

    @property
    def dim(self) -> int:
        return len(self.spatial_shape)


def _to_numpy_or_tensor(signal, name: str):
    if isinstance(signal, torch.Tensor):
        return signal.detach()
    if isinstance(signal, np.ndarray):
        return signal
    if isinstance(signal, (np.generic, int, float)):
        return np.asarray(signal)
    if isinstance(signal, (list, tuple)):
        try:
            return np.asarray(signal)
        except ValueError:
            raise ValueError(f"{name} is a ragged sequence; expected a rectangular array") from None
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(signal).__name__}")


def _check_dtype(arr, name: str) -> None:
    if isinstance(arr, torch.Tensor):
        ok = arr.is_floating_point() or (not arr.is_complex() and arr.dtype != torch.bool)
        if not ok:
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    else:
        if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def _read_layout(shape: tuple[int, ...], channel_axis, name: str) -> SignalSpec:
    ndim = len(shape)
    if ndim == 0:
        raise ValueError(f"{name} must have 1 to 3 spatial axes (plus an optional channel axis), got a scalar")
    if math.prod(shape) == 0:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least 2 samples per spatial axis")
    if channel_axis is _UNSET:
        if ndim in (2, 3) and shape[-1] <= 4:
            hint = ("an RGB(A) image (pass channel_axis=-1) or a volume of a few slices (pass channel_axis=None)"
                    if ndim == 3 else
                    "a 1-D signal with channels (pass channel_axis=-1) or a very narrow image (pass channel_axis=None)")
            raise ValueError(f"{name} of shape {shape} is ambiguous: it could be {hint}")
        channel_axis = None
    if channel_axis is None:
        spatial, channels = shape, 1
    else:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)) \
                or not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis must be None or an axis of {name} (ndim {ndim}), got {channel_axis!r}")
        channel_axis = int(channel_axis) % ndim
        spatial = shape[:channel_axis] + shape[channel_axis + 1:]
        channels = shape[channel_axis]
    if not 1 <= len(spatial) <= 3:
        raise ValueError(f"{name} must have 1, 2 or 3 spatial axes, got shape {shape} with channel_axis="
                         f"{channel_axis} ({len(spatial)} spatial axes)")
    if any(n < 2 for n in spatial):
        raise ValueError(f"{name} needs at least 2 samples along every spatial axis, got spatial shape {spatial}")
    return SignalSpec(tuple(spatial), channels, channel_axis)


def _check_mask(mask, spatial_shape: tuple[int, ...], name: str = "mask", *, batch: int | None = None):
    """A boolean mask of the spatial shape (or ``(batch, *spatial)``) as a flat bool tensor."""
    mask = _to_numpy_or_tensor(mask, name)
    dtype_ok = mask.dtype == torch.bool if isinstance(mask, torch.Tensor) else mask.dtype == np.bool_
    if not dtype_ok:
        raise TypeError(f"{name} must be a boolean array (True = known sample), got dtype {mask.dtype}")
    m = torch.as_tensor(np.ascontiguousarray(mask) if isinstance(mask, np.ndarray) else mask).cpu()
    shapes = [spatial_shape] + ([(batch, *spatial_shape)] if batch is not None else [])
    if tuple(m.shape) not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        raise ValueError(f"{name} must have the signal's spatial shape {expected}, got {tuple(m.shape)}")
    return m


def prepare_signal(signal, *, channel_axis=_UNSET, name: str = "signal") -> tuple[torch.Tensor, SignalSpec]:
    """Validate ``signal`` and return it as a float64 CPU tensor ``(*spatial, c)`` and its :class:`SignalSpec`.

    NaN/inf are *not* rejected here (they are allowed where a mask hides them).
    """
    arr = _to_numpy_or_tensor(signal, name)
    _check_dtype(arr, name)
    spec = _read_layout(tuple(arr.shape), channel_axis, name)
    t = torch.as_tensor(np.asarray(arr)) if isinstance(arr, np.ndarray) else arr
    t = t.to("cpu", torch.float64)
    if spec.channel_axis is None:
        t = t.unsqueeze(-1)
    else:
        t = t.movedim(spec.channel_axis, -1)
    return t.contiguous(), spec


def _check_finite(values: torch.Tensor, name: str) -> None:
    bad = ~torch.isfinite(values)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite values among its known samples; "
                         "clean them or exclude them with mask=")


def _normalisation(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) mapping the known values ``(N, c)`` onto [-1, 1]."""
    lo, hi = values.min(dim=0).values, values.max(dim=0).values
    shift = (hi + lo) / 2
    scale = (hi - lo) / 2
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a constant channel: identity scale
    return scale, shift


def _check_int(value, name: str, *, minimum: int = 1, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise ValueError(f"{name} must be {kind} integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _check_positive(value, name: str, *, allow_none: bool = False, allow_zero: bool = False):
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number, got {value!r}")
    return v


# --------------------------------------------------------------------------- history


@dataclass
class FitHistory:
    """What happened during a fit.

    ``step[k]`` counts optimiser updates done when ``loss[k]`` (normalised
    MSE, the objective), ``psnr[k]`` (dB, signal units, over the known
    samples) and ``time[k]`` (seconds since the loop started) were taken.
    ``time`` leaves out the full-signal evaluations made only for logging
    (mini-batch fits); ``wall_time`` is everything, input checks included.
    The last entry is the returned weights.  For :func:`fit_many`, ``loss``
    and ``psnr`` are means over the signals and ``member_psnr`` holds each
    signal's final PSNR.
    """

    step: list[int] = dc_field(default_factory=list)
    loss: list[float] = dc_field(default_factory=list)
    psnr: list[float] = dc_field(default_factory=list)
    time: list[float] = dc_field(default_factory=list)
    wall_time: float = 0.0
    steps: int = 0
    stopped: str = "steps"  # "steps", "time_limit" or "callback"
    data_range: float = 1.0
    member_psnr: list[float] | None = None
    config: dict = dc_field(default_factory=dict)

    @property
    def final_psnr(self) -> float:
        return self.psnr[-1] if self.psnr else float("nan")

    def time_to(self, target_psnr: float) -> float | None:
        """Seconds until the logged PSNR first reached ``target_psnr`` (``None`` if never)."""
        for p, t in zip(self.psnr, self.time):
            if p >= target_psnr:
                return t
        return None

    def to_dict(self) -> dict:
        return asdict(self)


def _psnr_from_mse(mse_signal: float, data_range: float) -> float:
    if not math.isfinite(mse_signal):
        return -math.inf if mse_signal == math.inf else math.nan
    return math.inf if mse_signal <= 0 else 10.0 * math.log10(data_range**2 / mse_signal)


# --------------------------------------------------------------------------- shared loop pieces


class _BatchSampler:
    """Indices of the next mini-batch: a fresh random permutation each epoch, fixed-size batches."""

    def __init__(self, n: int, batch_size: int | None, seed: int, device):
        self.n = n
        self.full = batch_size is None or batch_size >= n
        self.batch_size = n if self.full else batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.device = device
        self.perm = None
        self.pos = n

    def next(self) -> torch.Tensor | None:
        if self.full:
            return None
        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen).to(self.device)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx


def _lr_factor(step: int, steps: int, warmup: int, final_ratio: float, time_frac: float = 0.0) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine from 1 to ``final_ratio``.

    The cosine's progress is the larger of the step fraction and ``time_frac``
    (elapsed / time_limit), so a fit with a time limit anneals by its deadline.
    """
    if step < warmup:
        return (step + 1) / warmup
    frac = min(1.0, max((step - warmup) / max(steps - warmup, 1), time_frac))
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * frac))


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def _close_history(history: "FitHistory", done: int, stop: str | None, t_start: float) -> None:
    """Record how a fit ended: updates made, why it stopped (``"steps"`` if it ran them all), wall time."""
    history.steps = done
    history.stopped = stop or "steps"
    history.wall_time = time.perf_counter() - t_start


class _Clock:
    """Seconds of fitting: wall time minus the evaluations made only for logging."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.paused = 0.0

    def __call__(self) -> float:
        return time.perf_counter() - self.t0 - self.paused

    def measure(self, fn):
        t = time.perf_counter()
        try:
            return fn()
        finally:
            self.paused += time.perf_counter() - t


def _options(steps, lr, batch_size, seed, time_limit, log_every, final_lr_ratio, warmup_steps):
    steps = _check_int(DEFAULTS["steps"] if steps is None else steps, "steps", minimum=0)
    lr = _check_positive(DEFAULTS["lr"] if lr is None else lr, "lr")
    batch_size = _check_int(DEFAULTS["batch_size"] if batch_size is _UNSET else batch_size, "batch_size",
                            allow_none=True)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    time_limit = _check_positive(time_limit, "time_limit", allow_none=True)
    log_every = _check_int(log_every, "log_every", allow_none=True)
    final_lr_ratio = _check_positive(DEFAULTS["final_lr_ratio"] if final_lr_ratio is None else final_lr_ratio,
                                     "final_lr_ratio", allow_zero=True)
    warmup_steps = _check_int(DEFAULTS["warmup_steps"] if warmup_steps is None else warmup_steps, "warmup_steps",
                              minimum=0)
    return steps, lr, batch_size, int(seed), time_limit, log_every, final_lr_ratio, warmup_steps


def _progress_bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)


def _set_value_affine(model: nn.Module, scale: torch.Tensor, shift: torch.Tensor) -> None:
    affine = getattr(model, "value_affine", None)
    if affine is not None:
        with torch.no_grad():
            affine.scale.copy_(scale)
            affine.shift.copy_(shift)


# --------------------------------------------------------------------------- fit


def _check_loss(rec: dict, step: int, lr: float) -> None:
    if not math.isfinite(rec["loss"]):
        raise FloatingPointError(f"the loss became {rec['loss']} at step {step}; lower lr (got {lr})")


def _end_of_step(bar, rec: dict | None, callback, subject, clock: "_Clock", time_limit) -> str | None:
    """Progress bar, callback and time limit after an optimiser step (``rec``: this step's log record, if any).

    Returns why the loop should stop (``"callback"``, ``"time_limit"``) or ``None``.
    """
    if bar is not None:
        bar.update(1)
        if rec is not None:
            bar.set_postfix(psnr=f"{rec['psnr']:.2f}", refresh=False)
    if rec is not None and callback is not None and callback(rec, subject):
        return "callback"
    if time_limit is not None and clock() >= time_limit:
        return "time_limit"
    return None


def fit(signal, *, model: Field | None = None, steps: int | None = None, lr: float | None = None,
        batch_size: int | None = _UNSET, seed: int = 0, progress: bool = True, mask=None,
        domain: Domain | None = None, channel_axis=_UNSET, time_limit: float | None = None,
        callback: Callable[[dict, Field], bool | None] | None = None, log_every: int | None = None,
        data_range: float | None = None, final_lr_ratio: float | None = None, warmup_steps: int | None = None,
        dtype=None, device=None) -> tuple[Field, FitHistory]:
    """Fit a field to a sampled signal.

    Parameters
    ----------
    signal : ndarray or Tensor
        Samples on the grid ``linspace(low, high, n)`` of each axis: ``(n,)``,
        ``(H, W)``, ``(D, H, W)``, or any of these with a channel axis (see
        ``channel_axis`` and the module notes).
    model : Field, optional
        The field to train (in place).  Default: :func:`default_model` (a SIREN
        of :data:`DEFAULTS` sizes) seeded with ``seed``.  Its input size must
        be the signal's spatial dimension and its output size the channel
        count; the signal is fitted in the model's dtype and device.  The
        model's :class:`~insp.fields.layers.ValueAffine`, if any, is set to the
        signal's normalisation.
    steps : int
        Optimiser updates (default ``DEFAULTS["steps"]``).
    lr : float
        Peak Adam learning rate, decayed by a cosine to
        ``lr * final_lr_ratio`` over ``steps`` after ``warmup_steps`` of
        linear warm-up.
    batch_size : int or None
        Points per update (default ``DEFAULTS["batch_size"]``), drawn without
        replacement (a new random permutation each epoch); ``None``, or at
        least the number of known samples: full batch.
    seed : int
        Seeds the default model's initialisation and the mini-batch order.
        Same seed, same thread count: bit-identical weights on CPU.
    progress : bool
        Show a tqdm progress bar.
    mask : bool array, optional
        Spatial shape; ``True`` where the sample is known.  Only known samples
        enter the loss (NaN/inf are allowed where ``mask`` is False).
    domain : Domain, optional
        Domain of the default model (default ``[-1, 1]^d``).  With ``model``
        given, must be ``None`` or equal to ``model.domain``.
    channel_axis : int or None
        Axis of ``signal`` that holds channels, ``None`` if there is none.
        Required when the shape is ambiguous (see module notes).
    time_limit : float, optional
        Stop after this many seconds of fitting (checked after every update;
        the clock of ``history.time``, which leaves out the full-signal
        evaluations made only for logging).  The cosine schedule then
        progresses by ``max(step / steps, seconds / time_limit)``, so the
        learning rate has decayed when the time is up.  Timing makes such
        a fit not bit-reproducible; without ``time_limit`` it is.
    callback : callable, optional
        ``callback(record, field)`` at every logged step, ``record`` a dict
        with ``step, loss, psnr, time``; returning ``True`` stops the fit.
    log_every : int, optional
        Log every this many steps.  Default: every step for full batch (the
        loss is free), every 50 steps for mini-batches (each log evaluates
        all known samples).
    data_range : float, optional
        For the PSNR in the history; default: the known samples' peak-to-peak
        range (1.0 if constant).
    final_lr_ratio, warmup_steps
        Schedule details (defaults in :data:`DEFAULTS`).
    dtype, device
        Of the default model (default: torch's default dtype, CPU).

    Returns
    -------
    field : Field
        The fitted field (``model`` itself when given), in eval mode.
    history : FitHistory

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 64)
    >>> field, hist = fit(np.sin(3 * x), steps=100, progress=False)
    >>> hist.final_psnr > 30
    True
    """
    t_start = time.perf_counter()
    values, spec = prepare_signal(signal, channel_axis=channel_axis)
    steps, lr, batch_size, seed, time_limit, log_every, final_lr_ratio, warmup_steps = _options(
        steps, lr, batch_size, seed, time_limit, log_every, final_lr_ratio, warmup_steps)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    model, domain = _resolve_model(model, domain, spec, seed, dtype, device)
    pdtype, pdevice = field_dtype_device(model)

    flat = values.reshape(-1, spec.channels)
    known = None
    if mask is not None:
        m = _check_mask(mask, spec.spatial_shape).reshape(-1)
        if not m.any():
            raise ValueError("mask has no True entry: there is nothing to fit")
        known = torch.nonzero(m).squeeze(1)
        flat = flat[known]
    _check_finite(flat, "signal")
    scale64, shift64 = _normalisation(flat)
    data_range = _data_range(data_range, flat)

    x = domain.grid(spec.spatial_shape, dtype=pdtype, device=pdevice).reshape(-1, spec.dim)
    if known is not None:
        x = x[known.to(pdevice)]
    y = flat.to(pdevice, pdtype)
    scale, shift = scale64.to(pdevice, pdtype), shift64.to(pdevice, pdtype)
    inv_scale = 1.0 / scale
    _set_value_affine(model, scale, shift)
    # mean squared error in signal units from the per-channel normalised MSE
    mse_weights = (scale64**2).tolist()
    n = x.shape[0]
    sampler = _BatchSampler(n, batch_size, seed, pdevice)
    if log_every is None:
        log_every = 1 if sampler.full else 50

    history = FitHistory(data_range=data_range, config=dict(
        steps=steps, lr=lr, batch_size=batch_size, seed=seed, final_lr_ratio=final_lr_ratio,
        warmup_steps=warmup_steps, time_limit=time_limit, signal_shape=list(values.shape[:-1]),
        channels=spec.channels, known_samples=n, model=type(model).__name__))

    def record(step, per_channel, t):
        mse_sig = sum(w * float(v) for w, v in zip(mse_weights, per_channel)) / len(mse_weights)
        rec = dict(step=step, loss=float(per_channel.mean()), psnr=_psnr_from_mse(mse_sig, data_range), time=t)
        for k in ("step", "loss", "psnr", "time"):
            getattr(history, k).append(rec[k])
        return rec

    @torch.no_grad()
    def evaluate() -> torch.Tensor:
        acc = torch.zeros(spec.channels, dtype=torch.float64)
        for start in range(0, n, 65536):
            err = (model(x[start:start + 65536]) - y[start:start + 65536]) * inv_scale
            acc += (err.double() ** 2).sum(dim=0).cpu()
        return acc / n

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    opt = torch.optim.Adam(params, lr=lr, foreach=True)
    bar = _progress_bar(steps, progress, "fit")
    was_training = model.training
    model.train()
    clock = _Clock()
    stop = None
    done = 0
    try:
        for step in range(steps):
            t_now = clock()
            _set_lr(opt, lr * _lr_factor(step, steps, warmup_steps, final_lr_ratio,
                                         t_now / time_limit if time_limit else 0.0))
            idx = sampler.next()
            xb, yb = (x, y) if idx is None else (x[idx], y[idx])
            logging = step % log_every == 0
            if logging and idx is not None:
                rec = record(step, clock.measure(evaluate), t_now)
            opt.zero_grad(set_to_none=True)
            err = (model(xb) - yb) * inv_scale
            per_channel = (err * err).mean(dim=0)
            loss = per_channel.mean()
            loss.backward()
            if logging and idx is None:  # full batch: the loss is the metric of the current weights
                rec = record(step, per_channel.detach().double().cpu(), t_now)
            if logging:
                _check_loss(rec, step, lr)
            opt.step()
            done = step + 1
            stop = _end_of_step(bar, rec if logging else None, callback, model, clock, time_limit)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    model.eval()
    t_end = clock()
    record(done, evaluate(), t_end)
    _close_history(history, done, stop, t_start)
    return model, history


def _data_range(data_range, known_values: torch.Tensor) -> float:
    if data_range is not None:
        return _check_positive(data_range, "data_range")
    ptp = float(known_values.max() - known_values.min())
    return ptp if ptp > 0 else 1.0


def _resolve_model(model, domain, spec: SignalSpec, seed, dtype, device):
    if domain is not None and not isinstance(domain, Domain):
        raise TypeError(f"domain must be an insp.Domain, got {type(domain).__name__}")
    if domain is not None and domain.dim != spec.dim:
        raise ValueError(f"domain has dimension {domain.dim} but the signal has {spec.dim} spatial axes "
                         f"(spatial shape {spec.spatial_shape})")
    if model is None:
        model = default_model(spec.dim, spec.channels, domain=domain, seed=seed, dtype=dtype, device=device)
        return model, model.domain
    if not isinstance(model, Field):
        raise TypeError(f"model must be an insp.Field, got {type(model).__name__}")
    if domain is not None and domain != model.domain:
        raise ValueError(f"domain {domain.bounds} differs from model.domain {model.domain.bounds}; pass one of them")
    if model.in_features != spec.dim:
        raise ValueError(f"model takes {model.in_features}-D coordinates but the signal has {spec.dim} spatial axes "
                         f"(spatial shape {spec.spatial_shape})")
    if model.out_features != spec.channels:
        raise ValueError(f"model has {model.out_features} output channels but the signal has {spec.channels}")
    return model, model.domain


# --------------------------------------------------------------------------- fit_many


def fit_many(signals, *, model: NeuralField | Sequence[NeuralField] | None = None, steps: int | None = None,
             lr: float | None = None, batch_size: int | None = _UNSET, seed: int | Sequence[int] = 0,
             progress: bool = True, mask=None, domain: Domain | None = None, channel_axis=_UNSET,
             time_limit: float | None = None, callback: Callable[[dict, list], bool | None] | None = None,
             log_every: int | None = None, data_range: float | None = None, final_lr_ratio: float | None = None,
             warmup_steps: int | None = None, dtype=None, device=None,
             engine: str = "auto") -> tuple[list[NeuralField], FitHistory]:
    """Fit one field to each of many same-shaped signals, all in one batched loop.

    The objective is the *sum* of the per-signal objectives, so each network
    receives exactly the gradient it would get alone, and Adam (elementwise)
    updates each one as :func:`fit` would.  Member ``i`` therefore matches
    ``fit(signals[i], seed=seed + i, ...)`` up to floating-point rounding.

    Two engines compute the batched step:

    * ``"vmap"``: any architecture; parameters stacked with
      :func:`torch.func.stack_module_state`, evaluated with
      ``vmap(functional_call)``, autograd backward;
    * ``"siren"``: plain SIRENs; the same maths as stacked tensors with
      ``baddbmm`` and a hand-written backward pass
      (:mod:`insp.fields._siren_batch`), which saves most elementwise passes
      over memory.  ``"auto"`` (default) picks it whenever it applies.

    Parameters
    ----------
    signals : ndarray or Tensor of shape ``(B, *signal_shape)``, or a sequence of B arrays
        All of the same shape; each read as in :func:`fit` (``channel_axis``
        refers to the axes of one signal).
    model : NeuralField or sequence of B NeuralFields, optional
        One template (every member starts from a copy of it) or one model per
        signal (trained in place).  Default: :func:`default_model` seeded with
        ``seed + i`` for member ``i``.
    seed : int or sequence of B ints
        Per-member seeds (model init and mini-batch order): ``seed + i`` when
        an int.
    mask : bool array, optional
        Spatial shape (shared) or ``(B, *spatial_shape)`` (one per signal).
    callback : callable, optional
        ``callback(record, fields)`` at each logged step; ``record`` has the
        mean ``loss``/``psnr`` and ``member_psnr``; returning ``True`` stops.
        The fields' weights are written back only at the end.
    engine : {"auto", "siren", "vmap"}
        See above.
    Other parameters
        As in :func:`fit`; ``data_range`` defaults to each signal's own range.

    Returns
    -------
    fields : list of NeuralField
    history : FitHistory (means over the members; ``member_psnr`` per signal)
    """
    t_start = time.perf_counter()
    if engine not in ("auto", "siren", "vmap"):
        raise ValueError(f"engine must be 'auto', 'siren' or 'vmap', got {engine!r}")
    items = _split_signals(signals)
    values, spec = [], None
    for i, s in enumerate(items):
        v, sp = prepare_signal(s, channel_axis=channel_axis, name=f"signals[{i}]")
        if spec is not None and sp != spec:
            raise ValueError(f"signals must all have the same shape; signals[{i}] has shape {tuple(s.shape)}, "
                             f"signals[0] has {tuple(items[0].shape)}")
        spec = sp
        values.append(v)
    B = len(values)
    steps, lr, batch_size, _, time_limit, log_every, final_lr_ratio, warmup_steps = _options(
        steps, lr, batch_size, 0, time_limit, log_every, final_lr_ratio, warmup_steps)
    seeds = _member_seeds(seed, B)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    models = _member_models(model, B, domain, spec, seeds, dtype, device)
    domain = models[0].domain
    pdtype, pdevice = field_dtype_device(models[0])

    Y = torch.stack([v.reshape(-1, spec.channels) for v in values])  # (B, P, c) float64
    P = Y.shape[1]
    if mask is not None:
        m = _check_mask(mask, spec.spatial_shape, batch=B)
        m = m.reshape(-1, P).expand(B, P) if m.shape == spec.spatial_shape else m.reshape(B, P)
    else:
        m = torch.ones(B, P, dtype=torch.bool)
    counts = m.sum(dim=1)
    if (counts == 0).any():
        raise ValueError(f"mask has no True entry for signals {torch.nonzero(counts == 0).squeeze(1).tolist()}")
    scales, shifts, ranges = [], [], []
    for i in range(B):
        known_vals = Y[i][m[i]]
        _check_finite(known_vals, f"signals[{i}]")
        sc, sh = _normalisation(known_vals)
        scales.append(sc)
        shifts.append(sh)
        ranges.append(_data_range(data_range, known_vals))
    scale64, shift64 = torch.stack(scales), torch.stack(shifts)  # (B, c)
    Y = torch.where(m[..., None], Y, torch.zeros((), dtype=Y.dtype))  # hidden NaNs never reach the loss
    for mod, sc, sh in zip(models, scale64, shift64):
        _set_value_affine(mod, sc.to(pdevice, pdtype), sh.to(pdevice, pdtype))

    x = domain.grid(spec.spatial_shape, dtype=pdtype, device=pdevice).reshape(-1, spec.dim)  # (P, d)
    y = Y.to(pdevice, pdtype)
    inv_scale = (1.0 / scale64).to(pdevice, pdtype)[:, None, :]  # (B, 1, c)
    full_mask = bool(m.all())
    # per-member, per-point weights: 1 / (known count) on known points, 0 elsewhere
    weights = (m.to(torch.float64) / counts[:, None]).to(pdevice, pdtype)[..., None]  # (B, P, 1)
    samplers = [_BatchSampler(int(counts[i]), batch_size, seeds[i], pdevice) for i in range(B)]
    full = all(s.full for s in samplers)
    if not full and any(s.full for s in samplers):
        raise ValueError(f"batch_size ({batch_size}) must be None or at most the smallest number of known samples "
                         f"among the signals ({int(counts.min())}) so that every member draws the same batch size")
    known_idx = [torch.nonzero(m[i]).squeeze(1).to(pdevice) for i in range(B)]
    if log_every is None:
        log_every = 1 if full else 50

    if engine == "auto":
        engine = "siren" if siren_structure(models[0]) is not None else "vmap"
    if engine == "siren":
        if siren_structure(models[0]) is None:
            raise ValueError("engine='siren' needs plain SIREN models; use engine='vmap' for other fields")
        eng = _SirenEngine(models, y, inv_scale, weights, full_mask)
    else:
        eng = _VmapEngine(models, y, inv_scale, weights, full_mask)

    weights_c = torch.tensor([[float(w) for w in sc**2] for sc in scale64], dtype=torch.float64)  # (B, c)
    range_t = torch.tensor(ranges, dtype=torch.float64)

    history = FitHistory(data_range=float(np.mean(ranges)), config=dict(
        steps=steps, lr=lr, batch_size=batch_size, seeds=seeds, final_lr_ratio=final_lr_ratio,
        warmup_steps=warmup_steps, time_limit=time_limit, signal_shape=list(values[0].shape[:-1]),
        channels=spec.channels, signals=B, model=type(models[0]).__name__, engine=engine))

    def record(step, per_member_channel, t):  # (B, c) normalised MSE
        mse_sig = (per_member_channel * weights_c).mean(dim=1)
        member_psnr = [_psnr_from_mse(float(e), float(r)) for e, r in zip(mse_sig, range_t)]
        rec = dict(step=step, loss=float(per_member_channel.mean()), psnr=float(np.mean(member_psnr)), time=t,
                   member_psnr=member_psnr)
        for k in ("step", "loss", "psnr", "time"):
            getattr(history, k).append(rec[k])
        history.member_psnr = member_psnr
        return rec

    def evaluate() -> torch.Tensor:
        return eng.evaluate(x, chunk=max(1, 262144 // B))

    opt = torch.optim.Adam(eng.parameters, lr=lr, foreach=True)
    bar = _progress_bar(steps, progress, f"fit_many[{B}]")
    clock = _Clock()
    stop = None
    done = 0
    arangeB = torch.arange(B, device=pdevice)[:, None]
    try:
        for step in range(steps):
            t_now = clock()
            _set_lr(opt, lr * _lr_factor(step, steps, warmup_steps, final_lr_ratio,
                                         t_now / time_limit if time_limit else 0.0))
            logging = step % log_every == 0
            if full:
                per_mc = eng.step(x, None)  # (B, c): each member's per-channel MSE over its known points
                if logging:
                    rec = record(step, per_mc.double().cpu(), t_now)
            else:
                if logging:
                    rec = record(step, clock.measure(evaluate), t_now)
                idx = torch.stack([known_idx[i][s.next()] for i, s in enumerate(samplers)])  # (B, b)
                eng.step(x[idx], (arangeB, idx))
            if logging:
                _check_loss(rec, step, lr)
            opt.step()
            done = step + 1
            stop = _end_of_step(bar, rec if logging else None, callback, models, clock, time_limit)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    t_end = clock()
    record(done, evaluate(), t_end)
    eng.write_back(models)
    for mod in models:
        mod.eval()
    _close_history(history, done, stop, t_start)
    return models, history



class _VmapEngine:
    """Generic batched fields: ``stack_module_state`` + ``vmap(functional_call)``, autograd backward."""

    def __init__(self, models, y, inv_scale, weights, full_mask):
        from torch.func import functional_call, stack_module_state, vmap

        params, self.buffers = stack_module_state(models)
        self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        base = copy.deepcopy(models[0]).to("meta")

        def call(p, b, xx):
            return functional_call(base, (p, b), (xx,))

        self.forward_shared = vmap(call, in_dims=(0, 0, None))  # every member on the same points
        self.forward_each = vmap(call, in_dims=(0, 0, 0))  # member i on its own points
        self.y, self.inv_scale, self.weights, self.full_mask = y, inv_scale, weights, full_mask
        self.P = y.shape[1]

    @property
    def parameters(self):
        return list(self.params.values())

    def step(self, xb, index) -> torch.Tensor:
        """Forward + backward on the batch; ``.grad`` set; returns the (B, c) MSE (detached)."""
        for p in self.params.values():
            p.grad = None
        if index is None:
            err = (self.forward_shared(self.params, self.buffers, xb) - self.y) * self.inv_scale
            sq = err * err if self.full_mask else err * err * (self.weights * self.P)
        else:
            err = (self.forward_each(self.params, self.buffers, xb) - self.y[index]) * self.inv_scale
            sq = err * err
        per_mc = sq.mean(dim=1)
        per_mc.mean(dim=1).sum().backward()  # sum over members: each gets its own gradient
        return per_mc.detach()

    @torch.no_grad()
    def evaluate(self, x, chunk: int) -> torch.Tensor:
        acc = None
        for start in range(0, self.P, chunk):
            sl = slice(start, start + chunk)
            err = (self.forward_shared(self.params, self.buffers, x[sl]) - self.y[:, sl]) * self.inv_scale
            part = ((err.double() ** 2) * self.weights[:, sl].double()).sum(dim=1).cpu()
            acc = part if acc is None else acc + part
        return acc

    @torch.no_grad()
    def write_back(self, models):
        for i, mod in enumerate(models):
            for name, p in mod.named_parameters():
                p.copy_(self.params[name][i])


_BLOCK_VALUES = 2**17


class _SirenEngine:
    """Plain SIRENs: :class:`~insp.fields._siren_batch.SirenStack` (batched, hand-written backward)."""

    def __init__(self, models, y, inv_scale, weights, full_mask):
        self.stack = SirenStack(models)
        # normalised targets: the network learns (y - shift) / scale before its ValueAffine
        scale = torch.stack([m.value_affine.scale for m in models]).to(y.dtype)[:, None, :]
        shift = torch.stack([m.value_affine.shift for m in models]).to(y.dtype)[:, None, :]
        self.yn = (y - shift) / scale
        self.weights, self.full_mask = weights, full_mask
        self.P, self.c = y.shape[1], y.shape[2]
        # members per block: keep one activation tensor near 2**17 values (512 KiB in float32), so a
        # block's working set stays in cache; large signals go one member at a time
        width = max(w.shape[1] for w in self.stack.weights)
        self.block = max(1, _BLOCK_VALUES // (self.P * width))

    @property
    def parameters(self):
        return self.stack.parameters

    def step(self, xb, index) -> torch.Tensor:
        """Forward + hand-written backward, members in cache-sized blocks; returns the (B, c) MSE."""
        B = self.yn.shape[0]
        per_mc = torch.empty(B, self.c, dtype=self.yn.dtype, device=self.yn.device)
        masked = index is None and not self.full_mask
        for start in range(0, B, self.block):
            sl = slice(start, min(start + self.block, B))
            xs = xb if xb.ndim == 2 else xb[sl]
            out, saved = self.stack.forward(xs, members=sl, keep=True)
            target = self.yn[sl] if index is None else self.yn[index[0][sl], index[1][sl]]
            err = out - target
            w = self.weights[sl] if masked else 1.0 / err.shape[1]  # 1 / known count on known points
            sq = err * err
            per_mc[sl] = (sq * w).sum(dim=1) if masked else sq.mean(dim=1)
            self.stack.backward(err.mul_(w * (2.0 / self.c)), saved)
        return per_mc

    @torch.no_grad()
    def evaluate(self, x, chunk: int) -> torch.Tensor:
        acc = None
        for start in range(0, self.P, chunk):
            sl = slice(start, start + chunk)
            err = self.stack.forward(x[sl]) - self.yn[:, sl]
            part = ((err.double() ** 2) * self.weights[:, sl].double()).sum(dim=1).cpu()
            acc = part if acc is None else acc + part
        return acc

    def write_back(self, models):
        self.stack.write_back(models)


def _split_signals(signals) -> list:
    if isinstance(signals, (np.ndarray, torch.Tensor)):
        if signals.ndim < 2:
            raise ValueError(f"signals must have a leading batch axis and at least one signal axis, "
                             f"got shape {tuple(signals.shape)}")
        items = list(signals)
    elif isinstance(signals, (list, tuple)):
        items = [_to_numpy_or_tensor(s, f"signals[{i}]") for i, s in enumerate(signals)]
    else:
        raise TypeError(f"signals must be an array/tensor (B, ...) or a sequence of arrays, "
                        f"got {type(signals).__name__}")
    if not items:
        raise ValueError("signals is empty: nothing to fit")
    shape0 = tuple(items[0].shape)
    for i, s in enumerate(items):
        if tuple(s.shape) != shape0:
            raise ValueError(f"signals must all have the same shape; signals[{i}] has shape {tuple(s.shape)}, "
                             f"signals[0] has {shape0}")
    return items


def _member_seeds(seed, B: int) -> list[int]:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + i for i in range(B)]
    if isinstance(seed, (list, tuple)) and len(seed) == B and \
            all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in seed):
        return [int(s) for s in seed]
    raise TypeError(f"seed must be an integer or a sequence of {B} integers, got {seed!r}")


def _member_models(model, B: int, domain, spec: SignalSpec, seeds, dtype, device) -> list[NeuralField]:
    if model is None or isinstance(model, Field):
        if model is not None:
            _resolve_model(model, domain, spec, 0, dtype, device)
            models = [copy.deepcopy(model) for _ in range(B)]
        else:
            models = [_resolve_model(None, domain, spec, s, dtype, device)[0] for s in seeds]
    elif isinstance(model, (list, tuple)):
        if len(model) != B:
            raise ValueError(f"model must be one field or {B} fields (one per signal), got {len(model)}")
        models = [_resolve_model(m, domain, spec, 0, dtype, device)[0] for m in model]
        if len({id(m) for m in models}) != B:
            raise ValueError("model must hold B distinct fields, got the same object more than once")
    else:
        raise TypeError(f"model must be a Field or a sequence of Fields, got {type(model).__name__}")
    kinds = {(type(m), tuple((n, tuple(p.shape), p.dtype) for n, p in m.named_parameters()),
              json.dumps(m.config(), sort_keys=True) if isinstance(m, NeuralField) else None) for m in models}
    if len(kinds) != 1:
        raise ValueError("all models of fit_many must share one architecture (same class, configuration and "
                         "parameter shapes)")
    return models
