"""The training-loop kit: one loop body for every optimisation in insp.

:func:`~insp.fields.fitting.fit` and :func:`~insp.fields.fitting.fit_many`
(fields to sampled signals), the gradient-domain fits of
:mod:`insp.ops.poisson` and :func:`insp.learned.train_operator` (INSP-Net
operators) all run :class:`TrainingLoop`.  What differs between them is only
the *step function*: the forward and backward pass on one mini-batch and
what it logs.  The loop owns everything else, once:

* the learning-rate schedule (:func:`lr_factor`: linear warm-up, then a
  cosine to ``final_lr_ratio``, progressing by steps or by the time budget,
  whichever is further along);
* the clock (:class:`Clock`: seconds of training, minus evaluations made only
  for logging);
* the progress bar (:func:`progress_bar`);
* the finite-loss check (:func:`check_finite_loss`: a diverging run stops
  with a clear error instead of leaving NaN weights);
* the callback and the time limit;
* the mini-batch sampler (:class:`BatchSampler`) and the record of a run
  (:class:`FitHistory`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Callable

import torch

__all__ = ["FitHistory", "BatchSampler", "Clock", "TrainingLoop", "lr_factor", "progress_bar", "check_finite_loss",
           "psnr_from_mse", "SAMPLING_SCHEMES"]

#: how :class:`BatchSampler` draws: each point once per epoch, a fresh subset per step, or with replacement
SAMPLING_SCHEMES = ("epoch", "subset", "replacement")


@dataclass
class FitHistory:
    """What happened during a fit or a training run.

    ``step[k]`` counts optimiser updates done when ``loss[k]`` (the objective:
    normalised MSE for signal fits), ``psnr[k]`` (dB, signal units, over the
    known samples; signal fits only) and ``time[k]`` (seconds since the loop
    started) were taken.  ``time`` leaves out the full-signal evaluations made
    only for logging (mini-batch fits); ``wall_time`` is everything, input
    checks included.  For :func:`~insp.fields.fitting.fit` the last entry is
    the returned weights.  For :func:`~insp.fields.fitting.fit_many`,
    ``loss`` and ``psnr`` are means over the signals and ``member_psnr`` holds
    each signal's final PSNR.  Operator training also logs the learning rate
    ``lr[k]`` and, with a validation set, ``val_loss[k]``; ``resumed_from`` is
    the step a resumed run started at.
    """

    step: list[int] = dc_field(default_factory=list)
    loss: list[float] = dc_field(default_factory=list)
    psnr: list[float] = dc_field(default_factory=list)
    time: list[float] = dc_field(default_factory=list)
    lr: list[float] = dc_field(default_factory=list)
    val_loss: list[float] = dc_field(default_factory=list)
    wall_time: float = 0.0
    steps: int = 0
    stopped: str = "steps"  # "steps", "time_limit" or "callback"
    data_range: float = 1.0
    member_psnr: list[float] | None = None
    resumed_from: int = 0
    config: dict = dc_field(default_factory=dict)

    @property
    def final_psnr(self) -> float:
        return self.psnr[-1] if self.psnr else float("nan")

    @property
    def seconds(self) -> float:
        """``wall_time`` (the name operator training used)."""
        return self.wall_time

    def time_to(self, target_psnr: float) -> float | None:
        """Seconds until the logged PSNR first reached ``target_psnr`` (``None`` if never)."""
        for p, t in zip(self.psnr, self.time):
            if p >= target_psnr:
                return t
        return None

    def close(self, done: int, stop: str | None, t_start: float) -> None:
        """Record how the run ended: updates made, why it stopped (``"steps"`` if it ran them all), wall time."""
        self.steps = done
        self.stopped = stop or "steps"
        self.wall_time = time.perf_counter() - t_start

    def to_dict(self) -> dict:
        return asdict(self)


def psnr_from_mse(mse: float, data_range: float) -> float:
    """PSNR in dB of a mean squared error (``inf`` for 0, ``-inf`` for an infinite error)."""
    if not math.isfinite(mse):
        return -math.inf if mse == math.inf else math.nan
    return math.inf if mse <= 0 else 10.0 * math.log10(data_range**2 / mse)


def lr_factor(step: int, steps: int, warmup: int = 0, final_ratio: float = 0.0, time_frac: float = 0.0) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine from 1 to ``final_ratio``.

    The cosine's progress is the larger of the step fraction and ``time_frac``
    (elapsed / time_limit), so a run with a time limit anneals by its deadline.
    """
    if step < warmup:
        return (step + 1) / warmup
    frac = min(1.0, max((step - warmup) / max(steps - warmup, 1), time_frac))
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * frac))


def check_finite_loss(loss: float, step: int, lr: float) -> None:
    """Stop a diverging run: the weights of a non-finite loss are not worth keeping."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"the loss became {loss} at step {step}; lower lr (got {lr})")


def progress_bar(total: int, enabled: bool, desc: str, *, initial: int = 0):
    """A tqdm bar over steps, or ``None`` when disabled."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", leave=False, dynamic_ncols=True)


def _now() -> float:
    """``perf_counter`` after the queued GPU work is done (CUDA kernels run asynchronously).

    Without the wait a GPU fit's clock would count kernel launches, not
    kernels, and ``time_limit`` would stop far too late; on CPU it is free.
    """
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


class Clock:
    """Seconds of training: wall time minus the evaluations made only for logging (:meth:`measure`)."""

    def __init__(self):
        self.t0 = _now()
        self.paused = 0.0

    def __call__(self) -> float:
        return _now() - self.t0 - self.paused

    def measure(self, fn):
        """``fn()``, its time left out of the clock."""
        t = _now()
        try:
            return fn()
        finally:
            self.paused += _now() - t


class BatchSampler:
    """Indices of the next mini-batch of ``batch_size`` among ``n`` points.

    ``scheme``: ``"epoch"`` -- a fresh random permutation each epoch, every
    point once per epoch (``next()`` returns ``None`` for a full batch:
    ``batch_size`` ``None`` or at least ``n``); ``"subset"`` -- a fresh random
    subset each step (with replacement when ``batch_size > n``);
    ``"replacement"`` -- uniform draws with replacement.  The draws come from
    ``generator`` (shared with the caller's other draws) or a private one
    seeded with ``seed``.
    """

    def __init__(self, n: int, batch_size: int | None, *, seed: int | None = None,
                 generator: torch.Generator | None = None, device=None, scheme: str = "epoch"):
        if scheme not in SAMPLING_SCHEMES:
            raise ValueError(f"scheme must be one of {SAMPLING_SCHEMES}, got {scheme!r}")
        if (seed is None) == (generator is None):
            raise ValueError("pass exactly one of seed= and generator=")
        self.n, self.scheme, self.device = n, scheme, device
        self.gen = generator if generator is not None else torch.Generator().manual_seed(seed)
        self.full = scheme == "epoch" and (batch_size is None or batch_size >= n)
        self.batch_size = n if batch_size is None or self.full else batch_size
        self.perm = None
        self.pos = n

    def next(self) -> torch.Tensor | None:
        if self.full:
            return None
        b = self.batch_size
        if self.scheme == "replacement" or (self.scheme == "subset" and b > self.n):
            return torch.randint(0, self.n, (b,), generator=self.gen).to(self.device)
        if self.scheme == "subset":
            return torch.randperm(self.n, generator=self.gen)[:b].to(self.device)
        if self.pos + b > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen).to(self.device)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + b]
        self.pos += b
        return idx


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


class TrainingLoop:
    """The loop body shared by every optimisation (see the module notes).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its parameters' ``.grad`` are set by the step function; the loop sets
        the learning rate and calls ``optimizer.step()``.
    steps : int
        Total updates (a resumed run starts at ``start``).
    lr : float
        Peak learning rate of the schedule (:func:`lr_factor`).
    warmup_steps, final_lr_ratio : schedule details.
    time_limit : float, optional
        Stop once :attr:`clock` reaches it (checked after every update).
    progress : bool
        Show a progress bar titled ``desc``.
    callback : callable, optional
        ``callback(record, subject)`` after each logged update; ``True`` stops.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, steps: int, lr: float, warmup_steps: int = 0,
                 final_lr_ratio: float = 0.0, time_limit: float | None = None, progress: bool = False,
                 desc: str = "fit", callback: Callable | None = None, subject=None, start: int = 0):
        self.opt, self.steps, self.lr = optimizer, steps, lr
        self.warmup_steps, self.final_lr_ratio, self.time_limit = warmup_steps, final_lr_ratio, time_limit
        self.progress, self.desc, self.start = progress, desc, start
        self.callback, self.subject = callback, subject
        self.clock = Clock()
        self.done = start

    def lr_at(self, step: int, t: float) -> float:
        return self.lr * lr_factor(step, self.steps, self.warmup_steps, self.final_lr_ratio,
                                   t / self.time_limit if self.time_limit else 0.0)

    def run(self, step_fn: Callable[[int, float], dict | None],
            after_step: Callable[[int], None] | None = None) -> str | None:
        """Run the updates; returns why it stopped early (``"time_limit"``, ``"callback"``) or ``None``.

        ``step_fn(step, t)`` does the forward and backward pass of update
        ``step`` (``t``: the clock at its start) and returns a record dict
        with at least ``"loss"`` when that update is logged, else ``None``.
        ``after_step(done)`` runs after each update (checkpoints).
        :attr:`done` counts the updates made.
        """
        bar = progress_bar(self.steps, self.progress, self.desc, initial=self.start)
        stop = None
        try:
            for step in range(self.start, self.steps):
                t_now = self.clock()
                _set_lr(self.opt, self.lr_at(step, t_now))
                rec = step_fn(step, t_now)
                if rec is not None:
                    check_finite_loss(rec["loss"], step, self.lr)
                self.opt.step()
                self.done = step + 1
                if after_step is not None:
                    after_step(self.done)
                stop = self._end_of_step(bar, rec)
                if stop:
                    break
        finally:
            if bar is not None:
                bar.close()
        return stop

    def _end_of_step(self, bar, rec: dict | None) -> str | None:
        if bar is not None:
            bar.update(1)
            if rec is not None:
                key = "psnr" if "psnr" in rec else "loss"
                bar.set_postfix({key: f"{rec[key]:.2f}" if key == "psnr" else f"{rec[key]:.3g}"}, refresh=False)
        if rec is not None and self.callback is not None and self.callback(rec, self.subject):
            return "callback"
        if self.time_limit is not None and self.clock() >= self.time_limit:
            return "time_limit"
        return None
