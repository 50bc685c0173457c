"""Distil any field into a fresh SIREN: the way to keep an operator's result as a small, saveable network.

An operator result (``laplacian(f)``, ``denoise(f)``, a blend) is a lazy
Field that evaluates its input's jet at every point; :func:`distill` samples
it on a grid, fits a :class:`~insp.fields.inr.Siren` to the samples with
:func:`~insp.fields.fitting.fit`, and measures the copy against the original
on that grid *and* at the points half-way between samples (where a copy that
only interpolates its training grid would fail).  The copy is saved like any
fit (``insp.save``) and its provenance names the chain it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..._checks import check_shape
from ..base import Field, check_field, field_dtype_device, sample
from ..domain import Domain
from ..inr import Siren
from .fitters import DEFAULTS, fit

__all__ = ["distill", "DistillReport", "grid_siren"]


@dataclass(frozen=True)
class DistillReport:
    """How well the distilled SIREN matches the field it copies (PSNR over the original's value range)."""

    shape: tuple[int, ...]
    psnr_grid: float
    psnr_between: float
    max_error: float
    seconds: float
    steps: int

    def __str__(self) -> str:
        grid = "x".join(map(str, self.shape))
        return (f"distilled on {grid}: {self.psnr_grid:.2f} dB on the grid, {self.psnr_between:.2f} dB half-way "
                f"between samples, max |error| {self.max_error:.3g}; {self.steps} steps in {self.seconds:.1f} s")


def _psnr(a: torch.Tensor, b: torch.Tensor, span: float) -> float:
    mse = float(torch.mean((a.double() - b.double()) ** 2))
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(span * span / mse)).item()


def _between(domain: Domain, shape) -> Domain:
    """The domain of the grid of points half-way between the samples of ``shape`` (one fewer per axis)."""
    steps = domain.spacing(shape)
    return Domain(tuple((lo + h / 2, hi - h / 2) for (lo, hi), h in zip(domain.bounds, steps)))


#: the default first-layer frequency per sample: omega 30 at 256 samples over [-1, 1] (insp.fit's default)
_RADIANS_PER_SAMPLE = DEFAULTS["first_omega_0"] * 2.0 / 255


def grid_siren(domain: Domain, shape, out_features: int, *, seed: int = 0, dtype=None, device=None) -> Siren:
    """The default SIREN with its first omega set per sample of ``shape`` (not per coordinate unit).

    ``insp.fit``'s omega of 30 suits 256 samples over ``[-1, 1]``; on a coarser
    grid the same omega leaves the network free to oscillate between samples
    (measured: 47 dB half-way between samples of a 48x48 grid, 56 dB with the
    omega scaled), so the omega keeps its radians per sample.
    """
    h = min(domain.spacing(shape))
    return Siren(domain.dim, out_features, hidden_features=DEFAULTS["hidden_features"],
                 hidden_layers=DEFAULTS["hidden_layers"], first_omega_0=_RADIANS_PER_SAMPLE / h,
                 hidden_omega_0=DEFAULTS["hidden_omega_0"], domain=domain, seed=seed, dtype=dtype, device=device)


def _evaluate(field: Field, x: torch.Tensor, chunk_size: int) -> torch.Tensor:
    dtype, device = field_dtype_device(field)
    return torch.cat([field(c.to(dtype=dtype, device=device)).double().cpu() for c in x.split(chunk_size)])


def distill(field: Field, shape=None, *, steps: int | None = None, model: Field | None = None, seed: int = 0,
            progress: bool = True, chunk_size: int = 16384) -> tuple[Field, DistillReport]:
    """A fresh SIREN fitted to ``field`` sampled on ``shape``: ``(siren, report)``.

    Parameters
    ----------
    field : Field
        Any field (an operator result, a blend, an imported module).  Sample
        it finely enough for what it holds: the copy is only checked where it
        was sampled and half-way between.
    shape : sequence of int, optional
        The sampling grid over ``field.domain``; default: the grid recorded in
        the field's provenance (the grid its input was fitted on).
    steps, model, seed, progress
        As for :func:`~insp.fields.fitting.fit`; the default model is
        :func:`grid_siren` (insp.fit's SIREN, first omega per sample).

    Returns
    -------
    siren : Siren
        On ``field.domain``, with provenance ``source="distilled"`` and the
        operator chain of ``field``.
    report : DistillReport
        PSNR (over the value range of the samples) on the grid and half-way
        between samples, the largest error, time and steps.

    Examples
    --------
    >>> import torch
    >>> from insp.testing import SinusoidSum
    >>> from insp.ops import laplacian
    >>> f = SinusoidSum([1.0], [[1.0, 2.0]], dtype=torch.float32)
    >>> copy, report = distill(laplacian(f), (64, 64), steps=150, progress=False)
    >>> type(copy).__name__, copy.provenance.source, copy.provenance.operators
    ('Siren', 'distilled', ('laplacian',))
    >>> report.psnr_grid > 35 and report.psnr_between > 30
    True
    """
    import time

    field = check_field(field)
    if shape is None:
        shape = field.provenance.grid_shape
        if shape is None:
            raise ValueError("shape is needed: the field records no grid (pass shape=(H, W) or the grid to sample)")
    shape = check_shape(shape, field.in_features)
    t = time.perf_counter()
    with torch.no_grad():
        values = sample(field, shape, chunk_size=chunk_size)
    if not torch.isfinite(values).all():
        raise ValueError("field has non-finite values on the grid; nothing to distil")
    if model is None:
        model = grid_siren(field.domain, shape, field.out_features, seed=seed, dtype=values.dtype,
                           device=values.device)  # the copy computes in the dtype and on the device of the original
    channel_axis = -1 if field.out_features > 1 else None
    signal = values if channel_axis is not None else values[..., 0]
    copy, hist = fit(signal.detach(), model=model, steps=steps, seed=seed, progress=progress, domain=field.domain,
                     channel_axis=channel_axis)
    seconds = time.perf_counter() - t
    span = float(values.max() - values.min()) or 1.0
    with torch.no_grad():
        on_grid = sample(copy, shape, chunk_size=chunk_size).double()
        inner = [n - 1 for n in shape]  # the points half-way between samples, where no training value was
        x = _between(field.domain, shape).grid(inner, dtype=torch.float64).reshape(-1, field.in_features)
        truth, guess = _evaluate(field, x, chunk_size), _evaluate(copy, x, chunk_size)
    ours = copy.provenance
    copy.provenance = replace(field.provenance, source="distilled", recipe=ours.recipe, fit_psnr=ours.fit_psnr,
                              value_range=ours.value_range)
    report = DistillReport(shape=tuple(shape), psnr_grid=_psnr(on_grid, values, span),
                           psnr_between=_psnr(guess, truth, span),
                           max_error=float((guess - truth).abs().max()), seconds=seconds, steps=hist.steps)
    return copy, report
