"""Training INSP-Net operators: minibatch Adam on (jet, target) pairs, resumable checkpoints.

:func:`train_operator` runs the library's one training loop
(:class:`~insp.fields.fitting.loop.TrainingLoop`: cosine learning rate,
progress bar, finite-loss check) with points drawn with replacement
(:class:`~insp.fields.fitting.loop.BatchSampler`); the step count, never the
wall time, fixes the result.  Checkpoints use the container of
:mod:`insp.fields.io` and hold the weights, Adam's moments, the sampler's
state and the history, so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .._checks import check_int, check_number, check_seed
from ..fields.base import field_dtype_device
from ..fields.fitting.loop import BatchSampler, FitHistory, TrainingLoop, lr_factor
from ..fields.io import FileFormatError, read_container, write_container
from .inspnet import INSPNet, operator_header

__all__ = ["train_operator", "TrainHistory", "CHECKPOINT_FORMAT"]

#: The record of :func:`train_operator`: the loop kit's one history type.
TrainHistory = FitHistory

#: ``format`` of a training checkpoint's header
CHECKPOINT_FORMAT = "insp-operator-checkpoint"


@torch.no_grad()
def _mse(net: INSPNet, values: torch.Tensor, targets: torch.Tensor, batch: int = 65536) -> float:
    total = sum(((net(values[s:s + batch]) - targets[s:s + batch].to(values.dtype)) ** 2).sum().item()
                for s in range(0, values.shape[0], batch))
    return total / targets.numel()


def _training_state(net, opt, gen, step, settings, history, running) -> tuple[dict, dict]:
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    for i, p in enumerate(net.parameters()):
        s = opt.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in s:
                state[f"adam.{i}.{key}"] = s[key]
        if "step" in s:
            state[f"adam.{i}.step"] = torch.as_tensor(s["step"]).reshape(())
    state["rng"] = gen.get_state()
    header = operator_header(net, None)
    header.update(format=CHECKPOINT_FORMAT, step=step, settings=settings, history=asdict(history),
                  running_loss=running)
    return header, state


def _restore(path, net, opt, gen, settings) -> tuple[int, FitHistory, float]:
    name = repr(str(path))
    header, state = read_container(path, kind=CHECKPOINT_FORMAT)
    if header.get("config") != net.config():
        raise ValueError(f"checkpoint {name} is of another operator ({header.get('config')}); this net is "
                         f"{net.config()}: delete it or pass another checkpoint path")
    if header.get("settings") != settings:
        raise ValueError(f"checkpoint {name} was written with other training settings ({header.get('settings')}), "
                         f"not {settings}: resuming would not reproduce an uninterrupted run")
    try:
        net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")}, strict=True)
        for i, p in enumerate(net.parameters()):
            if f"adam.{i}.step" in state:
                opt.state[p] = dict(step=state[f"adam.{i}.step"].clone(),
                                    exp_avg=state[f"adam.{i}.exp_avg"].to(p).clone(),
                                    exp_avg_sq=state[f"adam.{i}.exp_avg_sq"].to(p).clone())
        gen.set_state(state["rng"])
        step = int(header["step"])
        history = FitHistory(**header["history"])
        running = float(header["running_loss"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise FileFormatError(f"checkpoint {name} is inconsistent: {exc}") from None
    return step, history, running


def train_operator(net: INSPNet, values: torch.Tensor, targets: torch.Tensor, *, steps: int, lr: float = 1e-3,
                   batch_size: int = 4096, seed: int = 0, progress: bool = True, checkpoint=None,
                   checkpoint_every: int = 500, val: tuple | None = None, log_every: int | None = None
                   ) -> FitHistory:
    """Fit ``net`` so that ``net(values) ~ targets``: minibatch Adam, cosine learning rate, MSE.

    Parameters
    ----------
    net : INSPNet
        Trained in place.  If its normalisation is not fitted yet, it is
        fitted here from ``values`` and ``targets`` first.
    values : Tensor ``(P, c, M)``
        Jets of the training points (e.g. ``jet(inr, grid, order=K).values``
        of INRs fitted to degraded signals, concatenated).
    targets : Tensor ``(P, c_out)``
        What the operator should output at those points (clean pixels).
    steps : int
        Optimiser steps (the result depends on steps, never on wall time).
    lr : float
        Peak learning rate; it decays as ``lr (1 + cos(pi t / steps)) / 2``.
    batch_size : int
        Points per step, drawn uniformly with replacement from a generator
        seeded by ``seed``.
    progress : bool
        tqdm progress bar.
    checkpoint : path, optional
        Written (atomically) every ``checkpoint_every`` steps and at the end:
        weights, Adam moments, sampler state, history.  If the file exists,
        training resumes from it, and the result equals that of an
        uninterrupted run; settings must be unchanged.
    val : (values, targets), optional
        Validation set, evaluated at every log point.
    log_every : int, optional
        Steps per history entry (default ``steps // 100``, at least 1).

    Returns
    -------
    FitHistory
        ``step[i]``, ``loss[i]`` (mean minibatch MSE over the ``log_every``
        steps ending there, in the target's units squared), ``lr[i]`` and,
        with ``val``, ``val_loss[i]``; ``wall_time`` (also ``seconds``) counts
        this call only (a resumed run counts its own part), ``resumed_from``
        the step it started at.

    Examples
    --------
    >>> import torch
    >>> from insp.learned import INSPNet
    >>> net = INSPNet(order=1, dim=1, hidden_layers=0, seed=0).double()  # linear: f + a . (f, f')
    >>> g = torch.Generator().manual_seed(0)
    >>> values = torch.randn(256, 1, 2, dtype=torch.float64, generator=g)  # jets (f, f') of 256 points
    >>> targets = values[:, :, 0] + 0.5 * values[:, :, 1]                  # the operator f + f'/2
    >>> h = train_operator(net, values, targets, steps=400, lr=5e-2, batch_size=64, progress=False)
    >>> round(net(torch.tensor([[[1.0, 2.0]]], dtype=torch.float64)).item(), 4)   # 1 + 2/2
    2.0
    """
    if not isinstance(net, INSPNet):
        raise TypeError(f"net must be an INSPNet, got {type(net).__name__}")
    net.check_jet(values)
    if values.ndim != 3:
        raise ValueError(f"values must have shape (P, c, {net.num_partials}), got {tuple(values.shape)}")
    targets = net._check_targets(values, targets)
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size")
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
    log_every = max(steps // 100, 1) if log_every is None else check_int(log_every, "log_every")
    lr = check_number(lr, "lr")
    seed = check_seed(seed)
    if val is not None:
        if not (isinstance(val, (tuple, list)) and len(val) == 2):
            raise TypeError("val must be a pair (values, targets)")
        net.check_jet(val[0], name="val[0]")
        net._check_targets(val[0], val[1])
    if not net.normalised:
        net.fit_normalisation(values, targets)
    settings = dict(steps=steps, lr=float(lr), batch_size=batch_size, seed=seed, points=int(values.shape[0]),
                    log_every=log_every)

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    sampler = BatchSampler(values.shape[0], batch_size, generator=gen, scheme="replacement")
    history, start, running = FitHistory(), 0, 0.0
    if checkpoint is not None:
        checkpoint = Path(os.fspath(checkpoint))
        if checkpoint.exists():
            start, history, running = _restore(checkpoint, net, opt, gen, settings)
            history.resumed_from = start
    t0 = time.perf_counter()
    _, pdevice = field_dtype_device(net)
    loop = TrainingLoop(opt, steps=steps, lr=lr, progress=progress, desc="training operator", start=start)

    last = {}  # the current step's record: the loop checks its loss, after_step accumulates it

    def step_fn(step, t_now):
        idx = sampler.next()
        v = values[idx].to(device=pdevice)
        t = targets[idx].to(device=pdevice, dtype=values.dtype)
        loss = ((net(v) - t) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        last["loss"] = loss.item()
        return last

    def after_step(done):
        nonlocal running
        running += last["loss"]
        if done % log_every == 0 or done == steps:
            n = done - (done - 1) // log_every * log_every
            history.step.append(done)
            history.loss.append(running / n)
            history.lr.append(lr * lr_factor(done - 1, steps))
            if val is not None:
                history.val_loss.append(_mse(net, val[0].to(pdevice), val[1].to(pdevice)))
            running = 0.0
        if checkpoint is not None and (done % checkpoint_every == 0 or done == steps):
            history.wall_time = time.perf_counter() - t0
            write_container(checkpoint, *_training_state(net, opt, gen, done, settings, history, running))

    net.train()
    try:
        loop.run(step_fn, after_step)
    finally:
        net.eval()
    history.wall_time = time.perf_counter() - t0
    return history
