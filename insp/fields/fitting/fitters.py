"""Fitting fields to sampled signals: :func:`fit` (one) and :func:`fit_many` (a batch), one loop.

A signal is an array sampled on the grid ``linspace(low, high, n)`` of each
axis of a :class:`~insp.fields.domain.Domain` (``[-1, 1]^d`` by default);
:func:`fit` returns a field ``f`` with ``f.sample(signal_shape)`` close to the
signal, in the signal's own units.  How arrays are read (``channel_axis``,
masks) is :mod:`insp.fields.fitting.signal`.

:func:`fit` is the single-member case of :func:`fit_many`: both prepare
their members with :func:`_prepare_members` and run :func:`_fit_members`, one
:class:`~insp.fields.fitting.loop.TrainingLoop` over an engine of
:mod:`insp.fields.fitting.engines` (``fit``: plain autograd on the one field;
``fit_many``: stacked SIRENs or ``vmap``).

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
``None`` for an option means its default, :data:`DEFAULTS` (measured in
``benchmarks/fit_speed.py``; reasons in ``docs/fitting.md``).
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..._checks import check_callable, check_choice, check_int, check_number, check_seed
from ..base import Field, field_dtype_device
from ..domain import Domain
from ..inr import NeuralField, Siren
from ..provenance import Provenance
from ..windowed import WindowedField, window_starts
from .audio import check_sample_rate, omega_for_bandwidth, prepare_wave, windows_of
from .engines import ENGINES, ModuleEngine, SirenEngine, VmapEngine, siren_structure
from .loop import BatchSampler, FitHistory, TrainingLoop, psnr_from_mse
from .signal import (
    CHANNEL_AXIS_AUTO,
    SignalSpec,
    check_finite,
    check_mask,
    normalisation,
    prepare_signal,
    split_signals,
    unmask,
)
from .signal import data_range as _data_range

__all__ = ["fit", "fit_many", "fit_audio", "default_model", "DEFAULTS", "AUDIO_DEFAULTS", "FULL_BATCH"]


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

#: ``batch_size`` value for full-batch updates (every known sample in every step)
FULL_BATCH = "full"


def default_model(in_features: int, out_features: int, *, domain: Domain | None = None, seed: int | None = 0,
                  dtype=None, device=None) -> Siren:
    """The SIREN that :func:`fit` builds when no ``model`` is given (sizes from :data:`DEFAULTS`)."""
    return Siren(in_features, out_features, hidden_features=DEFAULTS["hidden_features"],
                 hidden_layers=DEFAULTS["hidden_layers"], first_omega_0=DEFAULTS["first_omega_0"],
                 hidden_omega_0=DEFAULTS["hidden_omega_0"], domain=domain, seed=seed, dtype=dtype, device=device)


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class _Options:
    """The loop options of a fit, defaults filled in and checked."""

    steps: int
    lr: float
    batch_size: int | None  # None: full batch
    time_limit: float | None
    log_every: int | None
    final_lr_ratio: float
    warmup_steps: int


def _options(steps, lr, batch_size, time_limit, log_every, final_lr_ratio, warmup_steps) -> _Options:
    def default(value, key):
        return DEFAULTS[key] if value is None else value

    batch_size = default(batch_size, "batch_size")
    return _Options(
        steps=check_int(default(steps, "steps"), "steps", minimum=0),
        lr=check_number(default(lr, "lr"), "lr"),
        batch_size=None if batch_size == FULL_BATCH else check_int(batch_size, "batch_size"),
        time_limit=check_number(time_limit, "time_limit", allow_none=True),
        log_every=check_int(log_every, "log_every", allow_none=True),
        final_lr_ratio=check_number(default(final_lr_ratio, "final_lr_ratio"), "final_lr_ratio", strict=False),
        warmup_steps=check_int(default(warmup_steps, "warmup_steps"), "warmup_steps", minimum=0),
    )


def _set_value_affine(model: nn.Module, scale: torch.Tensor, shift: torch.Tensor) -> None:
    affine = getattr(model, "value_affine", None)
    if affine is not None:
        with torch.no_grad():
            affine.scale.copy_(scale)
            affine.shift.copy_(shift)


# --------------------------------------------------------------------------- the shared fit


@dataclass
class _Members:
    """B prepared signals and their fields: what :func:`_fit_members` trains."""

    models: list
    spec: SignalSpec
    Y: torch.Tensor  # (B, P, c) float64 on the CPU, zero where unknown
    known: torch.Tensor  # (B, P) bool
    scale: torch.Tensor  # (B, c) float64
    shift: torch.Tensor
    ranges: list[float]  # per-member data range of the PSNR


def _prepare_members(values: list[torch.Tensor], spec: SignalSpec, models: list, known, data_range, *,
                     batched: bool) -> _Members:
    """Masks, finite checks, normalisation, data ranges; sets each model's ValueAffine."""
    B = len(values)
    Y = torch.stack([v.reshape(-1, spec.channels) for v in values])  # (B, P, c) float64
    P = Y.shape[1]
    if known is not None:
        m = check_mask(known, spec.spatial_shape, name="known", batch=B if batched else None)
        m = m.reshape(-1, P).expand(B, P) if m.shape == spec.spatial_shape else m.reshape(B, P)
    else:
        m = torch.ones(B, P, dtype=torch.bool)
    counts = m.sum(dim=1)
    if (counts == 0).any():
        if not batched:
            raise ValueError("known has no True entry: there is nothing to fit")
        raise ValueError(f"known has no True entry for signals {torch.nonzero(counts == 0).squeeze(1).tolist()}")
    scales, shifts, ranges = [], [], []
    for i in range(B):
        known_vals = Y[i][m[i]]
        what = f"signals[{i}]" if batched else "signal"
        check_finite(known_vals, what)
        pdtype = field_dtype_device(models[i])[0]
        biggest = float(known_vals.abs().max())
        if biggest > torch.finfo(pdtype).max:
            raise ValueError(f"{what} has values up to {biggest:.3g}, beyond what {pdtype} holds "
                             f"({torch.finfo(pdtype).max:.3g}); fit in float64 (dtype=torch.float64) or rescale it")
        sc, sh = normalisation(known_vals)
        scales.append(sc)
        shifts.append(sh)
        ranges.append(_data_range(data_range, known_vals))
    scale, shift = torch.stack(scales), torch.stack(shifts)
    Y = torch.where(m[..., None], Y, torch.zeros((), dtype=Y.dtype))  # hidden NaNs never reach the loss
    for mod, sc, sh in zip(models, scale, shift):
        pdtype, pdevice = field_dtype_device(mod)
        _set_value_affine(mod, sc.to(pdevice, pdtype), sh.to(pdevice, pdtype))
    return _Members(models, spec, Y, m, scale, shift, ranges)


def _fit_members(mem: _Members, opts: _Options, *, seeds: list[int], engine: str, progress: bool, desc: str,
                 callback, subject, config: dict, t_start: float, per_member_history: bool) -> FitHistory:
    """Train the members in one :class:`~insp.fields.fitting.loop.TrainingLoop`; the fields are updated in place.

    ``engine``: ``"module"`` (one field, autograd; trained on its known points
    only), ``"siren"`` or ``"vmap"`` (see :mod:`~insp.fields.fitting.engines`).
    """
    models, spec = mem.models, mem.spec
    B, P, c = mem.Y.shape
    domain = models[0].domain
    pdtype, pdevice = field_dtype_device(models[0])
    x = domain.grid(spec.spatial_shape, dtype=pdtype, device=pdevice).reshape(-1, spec.dim)  # (P, d)
    inv_scale = (1.0 / mem.scale.to(pdevice, pdtype))[:, None, :]  # (B, 1, c)
    counts = mem.known.sum(dim=1)
    if engine == "module":  # one member, trained on its known points only
        known = torch.nonzero(mem.known[0]).squeeze(1)
        eng = ModuleEngine(models, x[known.to(pdevice)], mem.Y[0][known].to(pdevice, pdtype), inv_scale)
        known_idx = [torch.arange(known.numel(), device=pdevice)]
    else:
        full_mask = bool(mem.known.all())
        # per-member, per-point weights: 1 / (known count) on known points, 0 elsewhere
        weights = (mem.known.to(torch.float64) / counts[:, None]).to(pdevice, pdtype)[..., None]  # (B, P, 1)
        y = mem.Y.to(pdevice, pdtype)
        eng = (SirenEngine if engine == "siren" else VmapEngine)(models, x, y, inv_scale, weights, full_mask)
        known_idx = [torch.nonzero(mem.known[i]).squeeze(1).to(pdevice) for i in range(B)]
    samplers = [BatchSampler(int(counts[i]), opts.batch_size, seed=seeds[i], device=pdevice) for i in range(B)]
    full = all(s.full for s in samplers)
    if not full and any(s.full for s in samplers):
        raise ValueError(f"batch_size ({opts.batch_size}) must be 'full' or at most the smallest number of known "
                         f"samples among the signals ({int(counts.min())}) so that every member draws the same "
                         f"batch size")
    log_every = opts.log_every if opts.log_every is not None else 1 if full else 50

    mse_weights = (mem.scale**2).to(torch.float64)  # per-channel normalised MSE -> signal units
    history = FitHistory(data_range=float(np.mean(mem.ranges)), config=config)

    def record(step, per_member_channel, t):  # (B, c) normalised MSE
        mse_signal = (per_member_channel * mse_weights).mean(dim=1)
        member_psnr = [psnr_from_mse(float(e), r) for e, r in zip(mse_signal, mem.ranges)]
        rec = dict(step=step, loss=float(per_member_channel.mean()), psnr=float(np.mean(member_psnr)), time=t)
        if per_member_history:
            rec["member_psnr"] = member_psnr
            history.member_psnr = member_psnr
        for k in ("step", "loss", "psnr", "time"):
            getattr(history, k).append(rec[k])
        return rec

    def evaluate() -> torch.Tensor:
        return eng.evaluate(chunk=65536 if B == 1 else max(1, 262144 // B))

    def synced_callback(rec, subj):  # engines that train copies write them back so the callback sees the fit
        eng.write_back(models)
        return callback(rec, subj)

    opt = torch.optim.Adam(eng.parameters, lr=opts.lr, foreach=True)
    loop = TrainingLoop(opt, steps=opts.steps, lr=opts.lr, warmup_steps=opts.warmup_steps,
                        final_lr_ratio=opts.final_lr_ratio, time_limit=opts.time_limit, progress=progress,
                        desc=desc, callback=None if callback is None else synced_callback, subject=subject)

    finite = dict(step=0, weights=[p.detach().clone() for p in eng.parameters])  # the last finite state

    def step_fn(step, t_now):
        logging = step % log_every == 0
        rec = None
        if full:
            per_mc = eng.step(None)  # (B, c): each member's per-channel MSE over its known points
            if logging:  # full batch: the loss is the metric of the current weights, for free
                rec = record(step, per_mc.double().cpu(), t_now)
        else:
            if logging:
                rec = record(step, loop.clock.measure(evaluate), t_now)
            eng.step(torch.stack([known_idx[i][s.next()] for i, s in enumerate(samplers)]))  # (B, b)
        if rec is not None and math.isfinite(rec["loss"]):  # the weights this record measured
            finite.update(step=step, weights=[p.detach().clone() for p in eng.parameters])
        return rec

    was_training = [m.training for m in models]
    for m in models:
        m.train()
    try:
        stop = loop.run(step_fn)
    except FloatingPointError as exc:  # diverged: hand back the last finite weights, never NaN ones
        with torch.no_grad():
            for p, w in zip(eng.parameters, finite["weights"]):
                p.copy_(w)
        eng.write_back(models)
        raise FloatingPointError(f"{exc}; the field{'s keep' if B > 1 else ' keeps'} the weights of step "
                                 f"{finite['step']}, the last with a finite loss") from None
    finally:
        for m, mode in zip(models, was_training):
            m.train(mode)
    final = record(loop.done, evaluate(), loop.clock())
    if loop.done and history.psnr[0] - final["psnr"] > 1.0:  # a fit that made things worse says so
        warnings.warn(f"the fit ended at {final['psnr']:.2f} dB, below where it started ({history.psnr[0]:.2f} dB): "
                      f"the learning rate ({opts.lr:g}) is probably too high", RuntimeWarning, stacklevel=3)
    eng.write_back(models)
    for m in models:
        m.eval()
    history.close(loop.done, stop, t_start)
    member_psnr = final.get("member_psnr", [final["psnr"]])
    for i, m in enumerate(models):
        m.provenance = _provenance(mem, i, opts, seeds[i], "fit_many" if per_member_history else "fit",
                                   member_psnr[i], history)
    return history


def _provenance(mem: _Members, i: int, opts: _Options, seed: int, source: str, psnr: float,
                history: FitHistory) -> Provenance:
    """The record of member ``i``'s fit: grid, recipe, known share, PSNR, value range."""
    model, known = mem.models[i], mem.known[i]
    config = model.config() if isinstance(model, NeuralField) else {}
    lo, hi = mem.shift[i] - mem.scale[i], mem.shift[i] + mem.scale[i]  # the normalisation maps [lo, hi] to [-1, 1]
    return Provenance(
        source=source, grid_shape=mem.spec.spatial_shape, spacing=model.domain.spacing(mem.spec.spatial_shape),
        domain=model.domain.bounds,
        recipe=dict(architecture=getattr(model, "architecture", type(model).__name__), config=config,
                    steps=history.steps, lr=opts.lr, batch_size="full" if opts.batch_size is None else opts.batch_size,
                    final_lr_ratio=opts.final_lr_ratio, warmup_steps=opts.warmup_steps, seed=seed,
                    time_limit=opts.time_limit, stopped=history.stopped),
        known_fraction=float(known.float().mean()), fit_psnr=float(psnr),
        value_range=tuple((float(a), float(b)) for a, b in zip(lo, hi)))


# --------------------------------------------------------------------------- fit


def fit(signal, *, model: Field | None = None, steps: int | None = None, lr: float | None = None,
        batch_size: int | str | None = None, seed: int = 0, progress: bool = True, known=None,
        domain: Domain | None = None, channel_axis=CHANNEL_AXIS_AUTO, time_limit: float | None = None,
        callback: Callable[[dict, Field], bool | None] | None = None, log_every: int | None = None,
        data_range: float | None = None, final_lr_ratio: float | None = None, warmup_steps: int | None = None,
        dtype=None, device=None, sample_rate: float | None = None) -> tuple[Field, FitHistory]:
    """Fit a field to a sampled signal.

    With ``sample_rate`` the signal is a waveform and the call is
    :func:`fit_audio` (a field over time in seconds, windowed for long
    clips); ``model``, ``known``, ``domain`` and the schedule options that
    only a single INR has are then refused.

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
    batch_size : int or "full"
        Points per update (default ``DEFAULTS["batch_size"]``), drawn without
        replacement (a new random permutation each epoch); ``"full"``, or at
        least the number of known samples: full batch.
    seed : int
        Seeds the default model's initialisation and the mini-batch order.
        Same seed, same thread count: bit-identical weights on CPU.
    progress : bool
        Show a tqdm progress bar.
    known : bool array, optional
        Spatial shape; ``True`` where the sample is known.  Only known samples
        enter the loss (NaN/inf are allowed where ``known`` is False).
    domain : Domain, optional
        Domain of the default model (default ``[-1, 1]^d``).  With ``model``
        given, must be ``None`` or equal to ``model.domain``.
    channel_axis : int, None or "auto"
        Axis of ``signal`` that holds channels, ``None`` if there is none;
        ``"auto"`` (default) reads the shape and refuses ambiguous ones
        (:mod:`insp.fields.fitting.signal`).
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
    if sample_rate is not None:
        extra = dict(model=model, known=known, domain=domain, callback=callback, log_every=log_every,
                     data_range=data_range, final_lr_ratio=final_lr_ratio, warmup_steps=warmup_steps)
        given = [k for k, v in extra.items() if v is not None]
        if given:
            raise ValueError(f"fit(..., sample_rate=...) fits a waveform with fit_audio, which does not take "
                             f"{', '.join(given)}")
        return fit_audio(signal, sample_rate=sample_rate, channel_axis=channel_axis, steps=steps, lr=lr,
                         batch_size=batch_size, seed=seed, progress=progress, time_limit=time_limit, dtype=dtype,
                         device=device)
    t_start = time.perf_counter()
    signal, known = unmask(signal, known, channel_axis=channel_axis)
    values, spec = prepare_signal(signal, channel_axis=channel_axis)
    opts = _options(steps, lr, batch_size, time_limit, log_every, final_lr_ratio, warmup_steps)
    seed = check_seed(seed)
    check_callable(callback, "callback")
    model, domain = _resolve_model(model, domain, spec, seed, dtype, device)
    mem = _prepare_members([values], spec, [model], known, data_range, batched=False)
    config = dict(steps=opts.steps, lr=opts.lr, batch_size=opts.batch_size, seed=seed,
                  final_lr_ratio=opts.final_lr_ratio, warmup_steps=opts.warmup_steps, time_limit=opts.time_limit,
                  signal_shape=list(values.shape[:-1]), channels=spec.channels,
                  known_samples=int(mem.known.sum()), model=type(model).__name__)
    history = _fit_members(mem, opts, seeds=[seed], engine=_single_engine(model), progress=progress, desc="fit",
                           callback=callback, subject=model, config=config, t_start=t_start,
                           per_member_history=False)
    return model, history


def _single_engine(model: Field) -> str:
    """The engine of a one-field fit: ``"siren"`` for a plain SIREN that trains all its weights, else ``"module"``.

    The SIREN engine's hand-written backward pass computes autograd's
    gradient in fewer passes over memory: 1.3x per 4096-point step at width
    128 on 2 cores (``benchmarks/fit_speed.py``).  It trains every linear
    layer, so a model with frozen parameters goes through autograd.
    """
    if siren_structure(model) is None or not all(p.requires_grad for p in model.parameters()):
        return "module"
    return "siren"


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
             lr: float | None = None, batch_size: int | str | None = None, seed: int | Sequence[int] = 0,
             progress: bool = True, known=None, domain: Domain | None = None, channel_axis=CHANNEL_AXIS_AUTO,
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
      (:mod:`insp.fields.fitting.engines`), which saves most elementwise passes
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
    known : bool array, optional
        Known samples: spatial shape (shared) or ``(B, *spatial_shape)`` (one per signal).
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
    check_choice(engine, "engine", ENGINES)
    if isinstance(signals, np.ma.MaskedArray) or (isinstance(signals, (list, tuple)) and
                                                  any(isinstance(s, np.ma.MaskedArray) for s in signals)):
        signals, known = _unmask_batch(signals, known, channel_axis)
    items = split_signals(signals)
    values, spec = [], None
    for i, s in enumerate(items):
        v, sp = prepare_signal(s, channel_axis=channel_axis, name=f"signals[{i}]")
        if spec is not None and sp != spec:
            raise ValueError(f"signals must all have the same shape; signals[{i}] has shape {tuple(s.shape)}, "
                             f"signals[0] has {tuple(items[0].shape)}")
        spec = sp
        values.append(v)
    B = len(values)
    opts = _options(steps, lr, batch_size, time_limit, log_every, final_lr_ratio, warmup_steps)
    seeds = _member_seeds(seed, B)
    check_callable(callback, "callback")
    models = _member_models(model, B, domain, spec, seeds, dtype, device)
    mem = _prepare_members(values, spec, models, known, data_range, batched=True)
    if engine == "auto":
        engine = "siren" if siren_structure(models[0]) is not None else "vmap"
    if engine == "siren" and siren_structure(models[0]) is None:
        raise ValueError("engine='siren' needs plain SIREN models; use engine='vmap' for other fields")
    config = dict(steps=opts.steps, lr=opts.lr, batch_size=opts.batch_size, seeds=seeds,
                  final_lr_ratio=opts.final_lr_ratio, warmup_steps=opts.warmup_steps, time_limit=opts.time_limit,
                  signal_shape=list(values[0].shape[:-1]), channels=spec.channels, signals=B,
                  model=type(models[0]).__name__, engine=engine)
    history = _fit_members(mem, opts, seeds=seeds, engine=engine, progress=progress, desc=f"fit_many[{B}]",
                           callback=callback, subject=models, config=config, t_start=t_start,
                           per_member_history=True)
    return models, history


def _unmask_batch(signals, known, channel_axis):
    """Masked arrays among ``signals``: their masks become per-member ``known`` masks (combined with ``known``)."""
    items = list(signals)
    pairs = [unmask(np.ma.asarray(s) if isinstance(s, np.ma.MaskedArray) else np.ma.masked_array(np.asarray(s)),
                    None, channel_axis=channel_axis, name=f"signals[{i}]") for i, s in enumerate(items)]
    data, masks = [d for d, _ in pairs], np.stack([m for _, m in pairs])
    if known is not None:
        k = np.asarray(check_mask(known, masks.shape[1:], name="known", batch=len(items)).numpy())
        masks = masks & (k if k.ndim == masks.ndim else k[None])
    return data, masks


def _member_seeds(seed, B: int) -> list[int]:
    if isinstance(seed, (list, tuple)):
        if len(seed) != B:
            raise TypeError(f"seed must be an integer or a sequence of {B} integers, got {len(seed)} seeds")
        return [check_seed(s, f"seed[{i}]") for i, s in enumerate(seed)]
    try:
        base = check_seed(seed)
    except TypeError:
        raise TypeError(f"seed must be an integer or a sequence of {B} integers, got {seed!r}") from None
    return [check_seed(base + i, "seed + member index") for i in range(B)]


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


# --------------------------------------------------------------------------- fit_audio

#: The default audio fit (measured in ``benchmarks/audio.py``; reasons in ``docs/audio.md``).
AUDIO_DEFAULTS: dict[str, Any] = dict(
    window=1024,  # samples per member (64 ms at 16 kHz)
    overlap=64,  # samples shared by neighbouring windows (the cross-fade)
    hidden_features=64,  # wider members memorise the samples and ring between them (the sweep)
    hidden_layers=2,
    first_omega_hz=250.0,  # first-layer bandwidth (omega_0 = 2 pi * 250 rad/s): best worst-case held-out SNR
    hidden_omega_0=30.0,
    steps=300,  # the sweep's budget
    lr=2e-3,
    batch_size="full",  # every sample of each window in every update
    windows_per_step=32,  # members trained together: bounds the memory whatever the clip length
)


def fit_audio(wave, *, sample_rate: float, channel_axis=CHANNEL_AXIS_AUTO, steps: int | None = None,
              lr: float | None = None, batch_size: int | str | None = None, window: int | None = None,
              overlap: int | None = None, hidden_features: int | None = None, hidden_layers: int | None = None,
              first_omega_hz: float | None = None, hidden_omega_0: float | None = None,
              windows_per_step: int | None = None, seed: int = 0, progress: bool = False,
              time_limit: float | None = None, dtype=None, device=None) -> tuple[WindowedField, FitHistory]:
    """Fit a waveform as a field over time in seconds (a :class:`~insp.fields.windowed.WindowedField`).

    The clip is cut into windows of ``window`` samples overlapping by
    ``overlap``; each window gets its own small SIREN on local coordinates
    (:mod:`insp.fields.windowed`), and the windows are fitted with
    :func:`fit_many`, ``windows_per_step`` at a time, so memory is bounded by
    that group (``windows_per_step * window * hidden_features`` activations)
    however long the clip, and time grows linearly with its length.  The
    result's domain is ``[0, (n - 1) / sample_rate]`` seconds, so
    ``field.sample((m,))`` on the same span at another ``m`` resamples the
    clip, and derivatives are per second.

    Parameters
    ----------
    wave : ndarray or Tensor
        ``(n,)`` mono, or ``(n, c)`` / ``(c, n)`` with ``channel_axis`` -1 / 0
        (``"auto"``: the axis of at most 8 entries holds the channels;
        :mod:`insp.fields.fitting.audio`).
    sample_rate : float
        Samples per second.
    window, overlap : int
        Samples per window and shared by neighbours (``2 <= overlap <=
        window / 2``); a clip shorter than ``window`` is one window.
    hidden_features, hidden_layers, first_omega_hz, hidden_omega_0
        Each member's SIREN; the first layer's ``omega_0`` is
        :func:`~insp.fields.fitting.audio.omega_for_bandwidth` of
        ``first_omega_hz``.
    steps, lr, batch_size, seed, time_limit, progress, dtype, device
        As in :func:`fit_many` (``time_limit`` is shared out over the groups
        in proportion to their windows; ``batch_size`` is per window).

    Returns
    -------
    field : WindowedField
    history : FitHistory
        ``psnr`` and the final ``snr`` (``history.config["snr"]``, dB) over the
        whole clip in the wave's units; ``member_psnr`` per window.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 8000
    >>> t = np.arange(800) / sr
    >>> field, hist = fit_audio(0.5 * np.sin(2 * np.pi * 440 * t), sample_rate=sr, steps=150)
    >>> field.domain.bounds, len(field.members), hist.config["snr"] > 30
    (((0.0, 0.099875),), 1, True)
    """
    t_start = time.perf_counter()
    sr = check_sample_rate(sample_rate)
    values = prepare_wave(wave, channel_axis=channel_axis)
    n, c = values.shape

    def default(value, key):
        return AUDIO_DEFAULTS[key] if value is None else value

    L = min(check_int(default(window, "window"), "window", minimum=2), n)
    O = check_int(default(overlap, "overlap"), "overlap", minimum=2)
    if n > L and not 2 <= O <= L // 2:
        raise ValueError(f"overlap must be between 2 and window / 2 = {L // 2} samples, got {O}")
    H = L - O if n > L else L
    G = check_int(default(windows_per_step, "windows_per_step"), "windows_per_step")
    hz = check_number(default(first_omega_hz, "first_omega_hz"), "first_omega_hz")
    seed = check_seed(seed)
    limit = check_number(time_limit, "time_limit", allow_none=True)
    starts = window_starts(n, L, H)
    segs, known = windows_of(values, starts, L)
    K = len(starts)
    members = [Siren(1, c, hidden_features=default(hidden_features, "hidden_features"),
                     hidden_layers=default(hidden_layers, "hidden_layers"),
                     first_omega_0=omega_for_bandwidth(hz, L, sr),
                     hidden_omega_0=default(hidden_omega_0, "hidden_omega_0"), seed=seed + k, dtype=dtype,
                     device=device) for k in range(K)]
    full = [k for k in range(K) if bool(known[k].all())]
    tail = [k for k in range(K) if k not in full]  # the last window, when it runs past the clip
    groups = [full[i:i + G] for i in range(0, len(full), G)] + [[k] for k in tail]
    bs = default(batch_size, "batch_size")
    member_psnr = [0.0] * K
    done, stops = 0, set()
    for group in groups:
        count = int(known[group].sum(dim=1).min())
        gbs = bs if bs == FULL_BATCH or check_int(bs, "batch_size") < count else FULL_BATCH
        _, h = fit_many(segs[group], model=[members[k] for k in group], known=known[group] if tail == group else None,
                        channel_axis=-1, steps=default(steps, "steps"), lr=default(lr, "lr"), batch_size=gbs,
                        seed=[seed + k for k in group], progress=progress,
                        time_limit=None if limit is None else limit * len(group) / K)
        for k, p in zip(group, h.member_psnr):
            member_psnr[k] = p
        done = max(done, h.steps)
        stops.add(h.stopped)
    field = WindowedField(members, num_samples=n, window=L, hop=H, sample_rate=sr)
    field.eval()
    with torch.no_grad():
        fitted = field.sample((n,)).to(torch.float64).cpu()
    err = float(((fitted - values) ** 2).mean())
    power = float((values**2).mean())
    rng = float(values.max() - values.min()) or 1.0
    history = FitHistory(data_range=rng, member_psnr=member_psnr)
    history.step.append(done)
    history.loss.append(err)
    history.psnr.append(psnr_from_mse(err, rng))
    snr = math.inf if err == 0 else 10 * math.log10(power / err) if power > 0 else -math.inf
    history.config = dict(sample_rate=sr, samples=n, channels=c, window=L, overlap=L - H if K > 1 else 0,
                          windows=K, windows_per_step=G, first_omega_hz=hz, snr=snr, member_steps=done)
    history.time.append(time.perf_counter() - t_start)
    history.close(done, "time_limit" if "time_limit" in stops else "steps", t_start)
    field.provenance = Provenance(
        source="fit", grid_shape=(n,), spacing=(1.0 / sr,), domain=field.domain.bounds,
        recipe=dict(architecture="windowed_siren", config=dict(field.config(), member=members[0].config()),
                    steps=done, lr=default(lr, "lr"), batch_size=bs, seed=seed, time_limit=limit),
        known_fraction=1.0, fit_psnr=history.final_psnr,
        value_range=tuple((float(lo), float(hi)) for lo, hi in zip(values.min(0).values, values.max(0).values)))
    return field, history
