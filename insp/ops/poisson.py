"""Gradient-domain processing on fields: fit a field to a gradient (or Laplacian), Poisson blending.

Pérez et al. 2003 made native to INRs (Sitzmann et al. 2020, Sec. 4.1): a new
field ``f`` is trained so that its *exact* gradient (the derivative engine,
differentiated through with ``create_graph=True``) matches a target vector
field ``g``::

    min_f  E_x |grad f(x) - g(x)|^2 / G  +  anchor_weight * (anchor term) / V

Gradients fix ``f`` only up to a constant, so a value **anchor** pins it: the
mean value, values on the domain boundary, or values at a few points
(:class:`Anchor`).  ``G`` and ``V`` are fixed normalisers (the mean squared
target gradient and the squared value scale) so that both terms are
dimensionless; no other rescaling happens and every derivative is in
coordinate units (see :mod:`insp.units` for pixel units).

:func:`poisson_blend` solves the guided interpolation of Pérez et al. for
the composite guidance field (:func:`composite_gradient`: the source's
gradient inside the mask, the target's outside; ``mixed``: the stronger of
the two per point; ``average``: the SIREN paper's 0.5/0.5 blend) without a
slow gradient-loss fit: the result is a potential of the guidance (the source
itself for ``replace``) plus a smooth *membrane* whose output layer is solved
in closed form (Farbman et al. 2009 observed that the Poisson blend is the
source plus a harmonic membrane).  Everything returned is a Field.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..fields.base import Field, field_dtype_device
from ..fields.domain import Domain, check_shape
from ..jet.engine import gradient_at, laplacian_at
from .linear import check_field

__all__ = ["BLEND_MODES", "INTEGRATION_SHAPE", "Anchor", "GridField", "Translated", "CompositeGradient",
           "PoissonBlendField",
           "composite_gradient", "fit_gradients", "fit_laplacian", "integrate_gradient", "poisson_blend"]

#: guidance-field modes of :func:`poisson_blend` / :func:`composite_gradient`
BLEND_MODES = ("replace", "mixed", "average")

#: defaults of the gradient-domain fits (measured in ``benchmarks/poisson.py``; see ``docs/poisson.md``)
GRADIENT_FIT_DEFAULTS: dict[str, Any] = dict(steps=500, lr=1e-4, refine_lr=3e-5, batch_size=8192, anchor_weight=1.0,
                                              init="integrate")
#: grid on which :func:`fit_gradients` integrates a target given as a Field without ``shape``, per dimension
INTEGRATION_SHAPE: dict[int, tuple[int, ...]] = {1: (4096,), 2: (256, 256), 3: (64, 64, 64)}
BLEND_DEFAULTS: dict[str, Any] = dict(features=1024, bandwidth=1.25, boundary_weight=1000.0, points_per_pixel=4,
                                      max_points=32768, steps=200, lr=1e-4, batch_size=4096, fit_steps=300)


#: mask values at or below this count as outside the region (round-off of the mask's interpolation)
_MASK_TOL = 1e-6

# --------------------------------------------------------------------------- helper fields


class GridField(Field):
    """Multilinear interpolation of values on a domain's grid (zero outside the domain).

    Turns a mask (or any array) sampled at ``linspace(low, high, n)`` into a
    Field that returns the array exactly at the grid points.  Not meant to be
    differentiated (its derivatives are piecewise constant).

    Parameters
    ----------
    values : array or Tensor ``(*shape)`` or ``(*shape, c)``
        ``d = domain.dim`` spatial axes, an optional trailing channel axis.
    domain : Domain
    """

    max_derivative_order = 0

    def __init__(self, values, domain: Domain):
        if not isinstance(domain, Domain):
            raise TypeError(f"domain must be an insp.Domain, got {type(domain).__name__}")
        v = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
        if v.dtype == torch.bool:
            v = v.to(torch.float64)
        if not v.is_floating_point():
            v = v.to(torch.float64)
        d = domain.dim
        if v.ndim == d:
            v = v.unsqueeze(-1)
        if v.ndim != d + 1 or d > 3:
            raise ValueError(f"values must have shape (*shape) or (*shape, c) with {d} spatial axes (d <= 3), "
                             f"got {tuple(v.shape)}")
        check_shape(v.shape[:d], d, name="values.shape")
        super().__init__(domain, int(v.shape[-1]))
        self.register_buffer("values", v.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # multilinear interpolation written with gathers (not grid_sample) so that forward-mode AD
        # (the derivative engine's general path) works through it
        x = self.check_points(x)
        d = self.in_features
        lo = x.new_tensor([b[0] for b in self.domain.bounds])
        hi = x.new_tensor([b[1] for b in self.domain.bounds])
        shape = self.values.shape[:d]
        n = x.new_tensor([float(s - 1) for s in shape])
        p = (x - lo) / (hi - lo) * n  # continuous grid index per axis
        i0 = torch.floor(p.detach())
        w = p - i0
        i0 = i0.long()
        vals = self.values.to(x.dtype).reshape(-1, self.out_features)
        strides = [math.prod(shape[k + 1:]) for k in range(d)]
        out = 0
        for corner in range(2 ** d):
            flat, weight, valid = 0, 1, True
            for k in range(d):
                bit = (corner >> k) & 1
                ik = i0[..., k] + bit
                valid = valid & (ik >= 0) & (ik < shape[k])
                flat = flat + ik.clamp(0, shape[k] - 1) * strides[k]
                weight = weight * (w[..., k] if bit else 1 - w[..., k])
            picked = vals.index_select(0, flat.reshape(-1)).reshape(*flat.shape, self.out_features)
            out = out + (weight * valid)[..., None] * picked
        return out

class Translated(Field):
    """``inner`` moved by ``shift``: ``f(x) = inner(x - shift)`` on the shifted domain.

    The shift is a fixed ``nn.Linear`` (identity weight, bias ``-shift``) in
    front of the inner field's modules, so the Taylor path still applies.
    """

    def __init__(self, inner: Field, shift):
        check_field(inner, name="inner")
        d = inner.in_features
        dtype, device = field_dtype_device(inner)
        s = torch.as_tensor(shift, dtype=torch.float64).reshape(-1)
        if s.numel() != d or not torch.isfinite(s).all():
            raise ValueError(f"shift must be {d} finite numbers, got {shift!r}")
        dom = Domain(tuple((lo + float(t), hi + float(t)) for (lo, hi), t in zip(inner.domain.bounds, s)))
        super().__init__(dom, inner.out_features)
        self.inner = inner
        lin = nn.Linear(d, d).to(dtype=dtype, device=device)
        with torch.no_grad():
            lin.weight.copy_(torch.eye(d))
            lin.bias.copy_(-s)
        lin.requires_grad_(False)
        self.shift = lin
        self.max_derivative_order = getattr(inner, "max_derivative_order", None)

    def taylor_modules(self):
        inner = self.inner.taylor_modules()
        return None if inner is None else [self.shift, *inner]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.shift(self.check_points(x)))


class CompositeGradient(Field):
    """The guidance field of Poisson blending: ``c * d`` channels, ``[..., i * d + k]``.

    With ``m`` the mask, ``gs``/``gt`` the source/target gradients of channel ``i``::

        replace: m gs + (1 - m) gt
        mixed:   m (gs if |gs| > |gt| else gt) + (1 - m) gt   (per point and channel)
        average: m (gs + gt) / 2 + (1 - m) gt

    Layout as :func:`insp.ops.gradient` (channel-major).  See
    :func:`composite_gradient`.
    """

    def __init__(self, source: Field, target: Field, mask: Field, *, mode: str = "replace"):
        _check_mode(mode)
        check_field(source, name="source")
        check_field(target, name="target")
        check_field(mask, name="mask")
        if source.in_features != target.in_features:
            raise ValueError(f"source is {source.in_features}-D but target is {target.in_features}-D")
        if source.out_features != target.out_features:
            raise ValueError(f"source has {source.out_features} channels but target has {target.out_features}")
        if mask.out_features != 1 or mask.in_features != target.in_features:
            raise ValueError(f"mask must be a 1-channel field on {target.in_features}-D points, got "
                             f"{mask.in_features}-D -> {mask.out_features} channels")
        super().__init__(target.domain, target.out_features * target.in_features)
        self.source, self.target, self.mask, self.mode = source, target, mask, mode

    def _inner(self, gs: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        if self.mode == "replace":
            return gs
        if self.mode == "mixed":
            stronger = (gs * gs).sum(-1, keepdim=True) > (gt * gt).sum(-1, keepdim=True)
            return torch.where(stronger, gs, gt)
        return 0.5 * (gs + gt)

    def parts(self, x: torch.Tensor, *, create_graph: bool = False):
        """``(g (..., c, d), m (..., 1), gs, gt)`` at ``x``."""
        gs = gradient_at(self.source, x, create_graph=create_graph)
        gt = gradient_at(self.target, x, create_graph=create_graph)
        m = self.mask(x).clamp(0, 1)
        mm = m[..., None]
        return mm * self._inner(gs, gt) + (1 - mm) * gt, m, gs, gt

    def inner_at(self, x: torch.Tensor) -> torch.Tensor:
        """The guidance inside the mask, ``(..., c, d)``, ignoring the mask (the ``m = 1`` case)."""
        return self._inner(gradient_at(self.source, x), gradient_at(self.target, x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        g = self.parts(x)[0]
        return g.reshape(*g.shape[:-2], -1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, out_features={self.out_features}"


def composite_gradient(source: Field, target: Field, mask: Field, *, mode: str = "replace") -> CompositeGradient:
    """The composite gradient field of :func:`poisson_blend` (see :class:`CompositeGradient`).

    All three fields live in the target's frame (translate a source with
    :class:`Translated`; turn a mask array into a field with :class:`GridField`).
    """
    return CompositeGradient(source, target, mask, mode=mode)


def _check_mode(mode) -> str:
    if mode not in BLEND_MODES:
        raise ValueError(f"mode must be one of {list(BLEND_MODES)}, got {mode!r}")
    return mode


# --------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class Anchor:
    """How a gradient-domain fit fixes the free constant (or, for a Laplacian, the harmonic part).

    Build with :meth:`mean`, :meth:`boundary` or :meth:`points`; a number (or
    one per channel) passed as ``anchor=`` means :meth:`mean`.

    * ``Anchor.mean(value)`` -- the field's mean over the training points is
      ``value`` (per channel);
    * ``Anchor.boundary(values)`` -- values on the domain's boundary, from a
      Field or from a grid array ``(*shape[, c])`` (its border samples);
    * ``Anchor.points(x, values)`` -- values ``(n, c)`` at points ``x`` ``(n, d)``.
    """

    kind: str
    values: Any = 0.0
    x: Any = None

    @classmethod
    def mean(cls, value=0.0) -> "Anchor":
        return cls("mean", value)

    @classmethod
    def boundary(cls, values) -> "Anchor":
        return cls("boundary", values)

    @classmethod
    def points(cls, x, values) -> "Anchor":
        return cls("points", values, x)


def _as_anchor(anchor) -> Anchor | None:
    if anchor is None or isinstance(anchor, Anchor):
        return anchor
    if isinstance(anchor, (int, float, np.floating, np.integer)) and not isinstance(anchor, bool):
        return Anchor.mean(float(anchor))
    if isinstance(anchor, (list, tuple, np.ndarray, torch.Tensor)) and np.ndim(np.asarray(anchor, dtype=object)) == 1:
        return Anchor.mean(anchor)
    raise TypeError(f"anchor must be None, a number (mean value), a sequence of per-channel means or an "
                    f"insp.ops.Anchor, got {type(anchor).__name__}")


def _border(shape) -> torch.Tensor:
    """Boolean mask of a grid's border samples."""
    border = torch.zeros(tuple(shape), dtype=torch.bool)
    for k in range(len(shape)):
        idx = [slice(None)] * len(shape)
        for end in (0, -1):
            idx[k] = end
            border[tuple(idx)] = True
    return border


class _AnchorTerm:
    """Evaluates an anchor's loss; built once per fit."""

    def __init__(self, anchor: Anchor | None, *, domain: Domain, c: int, dtype, device, gen):
        self.anchor, self.domain, self.c, self.gen = anchor, domain, c, gen
        self.dtype, self.device = dtype, device
        self.kind = None if anchor is None else anchor.kind
        if anchor is None:
            return
        if anchor.kind == "mean":
            v = torch.as_tensor(np.asarray(anchor.values, dtype=np.float64)).reshape(-1)
            if v.numel() == 1:
                v = v.expand(c)
            if v.numel() != c or not torch.isfinite(v).all():
                raise ValueError(f"anchor: the mean value must be a finite number or {c} per-channel numbers, "
                                 f"got {anchor.values!r}")
            self.value = v.to(device, dtype)
        elif anchor.kind == "points":
            x = torch.as_tensor(anchor.x).to(device, dtype)
            y = torch.as_tensor(anchor.values).to(device, dtype)
            if x.ndim != 2 or x.shape[-1] != domain.dim:
                raise ValueError(f"anchor points x must have shape (n, {domain.dim}), got {tuple(x.shape)}")
            if y.ndim == 1:
                y = y[:, None]
            if y.shape != (x.shape[0], c):
                raise ValueError(f"anchor point values must have shape ({x.shape[0]}, {c}), got {tuple(y.shape)}")
            if not bool(domain.contains(x).all()):
                raise ValueError("anchor points must lie inside the domain")
            self.x, self.y = x, y
        elif anchor.kind == "boundary":
            vals = anchor.values
            if isinstance(vals, Field):
                if vals.out_features != c or vals.in_features != domain.dim:
                    raise ValueError(f"anchor boundary field must map {domain.dim}-D points to {c} channels")
                self.field = vals
                self.x = self.y = None
            else:
                a = torch.as_tensor(np.asarray(vals, dtype=np.float64))
                d = domain.dim
                if a.ndim == d:
                    a = a[..., None]
                if a.ndim != d + 1 or a.shape[-1] != c:
                    raise ValueError(f"anchor boundary values must be a grid array (*shape) or (*shape, {c}), "
                                     f"got shape {tuple(a.shape)}")
                shape = check_shape(a.shape[:d], d, name="anchor boundary values shape")
                grid = domain.grid(shape, dtype=torch.float64)
                border = _border(shape)
                self.field = None
                self.x, self.y = grid[border].to(device, dtype), a[border].to(device, dtype)
        else:
            raise ValueError(f"anchor kind must be 'mean', 'boundary' or 'points', got {anchor.kind!r}")

    def centre(self) -> torch.Tensor | None:
        """A representative value per channel (for the output shift), or None."""
        if self.kind == "mean":
            return self.value
        if self.kind in ("points", "boundary") and self.y is not None:
            return self.y.mean(0)
        return None

    def constant(self, u: np.ndarray) -> np.ndarray:
        """The per-channel constant ``k`` for which ``u + k`` best meets the anchor.

        ``u`` ``(*shape, c)``: a potential on the grid ``domain.grid(shape)``
        (values between samples by multilinear interpolation).
        """
        c, d = self.c, self.domain.dim
        if self.kind is None:
            return np.zeros(c)
        if self.kind == "mean":
            return self.value.double().cpu().numpy() - u.reshape(-1, c).mean(0)
        ufield = GridField(u, self.domain)
        if self.kind == "boundary" and self.field is not None:  # the field on the border of u's grid
            xb = self.domain.grid(u.shape[:d], dtype=torch.float64)[_border(u.shape[:d])]
            y = _eval_on(self.field, xb, *field_dtype_device(self.field))
        else:
            xb, y = self.x.double().cpu(), self.y.double().cpu()
        with torch.no_grad():
            return (y - ufield(xb)).mean(0).numpy()

    def loss(self, model: Field, x: torch.Tensor, f: torch.Tensor | None) -> torch.Tensor:
        if self.kind == "mean":
            return ((f.mean(0) - self.value) ** 2).sum()
        if self.kind == "points" or (self.kind == "boundary" and self.field is None):
            return ((model(self.x) - self.y) ** 2).sum(-1).mean()
        # boundary from a field: random boundary points, a face per point
        n, d = 1024, self.domain.dim
        lo = x.new_tensor([b[0] for b in self.domain.bounds])
        hi = x.new_tensor([b[1] for b in self.domain.bounds])
        u = torch.rand(n, d, generator=self.gen, dtype=torch.float64).to(x)
        xb = lo + u * (hi - lo)
        axis = torch.randint(0, d, (n,), generator=self.gen)
        side = torch.randint(0, 2, (n,), generator=self.gen).to(x)
        ar = torch.arange(n)
        xb[ar, axis] = torch.where(side > 0, hi[axis], lo[axis])
        with torch.no_grad():
            yb = self.field(xb)
        return ((model(xb) - yb) ** 2).sum(-1).mean()


# --------------------------------------------------------------------------- shared training loop


class _Points:
    """Training points: random subsets of a fixed grid, or fresh uniform points in the domain."""

    def __init__(self, domain: Domain, shape, batch_size, gen, dtype, device, *, jitter=False):
        self.domain, self.gen, self.dtype, self.device = domain, gen, dtype, device
        self.jitter = jitter and shape is not None
        self.shape = shape
        self.batch_size = batch_size
        if shape is not None:
            self.grid = domain.grid(shape, dtype=dtype, device=device).reshape(-1, domain.dim)
            self.P = self.grid.shape[0]
            self.full = (batch_size is None or batch_size >= self.P) and not self.jitter
            self.h = torch.tensor(domain.spacing(shape), dtype=dtype, device=device)
        else:
            if batch_size is None:
                raise ValueError("batch_size must be a positive integer when training on random points (no shape)")
            self.full = False
        lo = torch.tensor([b[0] for b in domain.bounds], dtype=dtype, device=device)
        hi = torch.tensor([b[1] for b in domain.bounds], dtype=dtype, device=device)
        self.lo, self.hi = lo, hi

    def next(self):
        """``(x, idx)``: points and their grid indices (None for random points)."""
        if self.shape is None:
            u = torch.rand(self.batch_size, self.domain.dim, generator=self.gen, dtype=torch.float64)
            return self.lo + u.to(self.device, self.dtype) * (self.hi - self.lo), None
        if self.full:
            return self.grid, None
        b = self.batch_size or self.P
        if b > self.P:  # jittered points: more samples than grid cells is fine
            idx = torch.randint(0, self.P, (b,), generator=self.gen)
        else:
            idx = torch.randperm(self.P, generator=self.gen)[:b]
        idx = idx.to(self.device)
        x = self.grid[idx]
        if self.jitter:  # uniform in the cell of each grid point, clamped to the domain
            u = torch.rand(x.shape, generator=self.gen, dtype=torch.float64).to(self.device, self.dtype) - 0.5
            x = torch.minimum(torch.maximum(x + u * self.h, self.lo), self.hi)
        return x, idx


def _train(model: Field, step_loss, *, steps: int, lr: float, time_limit, progress: bool, desc: str, config: dict,
           log_every: int = 10):
    from ..fields.fit import FitHistory

    history = FitHistory(config=config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=desc, unit="step", leave=False, dynamic_ncols=True)
    t0 = time.perf_counter()
    done, stop = 0, None
    model.train()
    try:
        for step in range(steps):
            for group in opt.param_groups:  # cosine decay to 0
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1)))
            loss = step_loss(step)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {float(loss.detach())} at step {step}; lower lr (got {lr})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done = step + 1
            if step % log_every == 0 or done == steps:
                history.step.append(step)
                history.loss.append(float(loss.detach()))
                history.time.append(time.perf_counter() - t0)
            if bar is not None:
                bar.update(1)
                if step % log_every == 0:
                    bar.set_postfix(loss=f"{float(loss.detach()):.3g}", refresh=False)
            if time_limit is not None and time.perf_counter() - t0 >= time_limit:
                stop = "time_limit"
                break
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    history.steps = done
    history.stopped = stop or "steps"
    history.wall_time = time.perf_counter() - t0
    return history


def _positive_int(value, name, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _positive_float(value, name, *, allow_zero=False):
    from ..fields.fit import _check_positive  # one validator for fit and blend options

    return _check_positive(value, name, allow_zero=allow_zero)


def _set_affine(model: Field, scale: torch.Tensor, shift: torch.Tensor) -> None:
    affine = getattr(model, "value_affine", None)
    if affine is not None:
        with torch.no_grad():
            affine.scale.copy_(scale.to(affine.scale))
            affine.shift.copy_(shift.to(affine.shift))


def _new_model(model, d, c, domain, seed, dtype, device):
    from ..fields.fit import default_model

    if model is None:
        return default_model(d, c, domain=domain, seed=seed, dtype=dtype, device=device)
    check_field(model, name="model")
    if model.in_features != d or model.out_features != c:
        raise ValueError(f"model must map {d}-D points to {c} channels, got {model.in_features}-D -> "
                         f"{model.out_features}")
    if model.domain != domain:
        raise ValueError(f"model.domain {model.domain.bounds} differs from the domain {domain.bounds}")
    return model


def _eval_on(field: Field, pts: torch.Tensor, dtype, device, chunk: int = 16384) -> torch.Tensor:
    """``field`` at points ``(..., d)`` (no graph, chunked), returned in float64 on the CPU."""
    flat = pts.reshape(-1, pts.shape[-1]).to(device, dtype)
    with torch.no_grad():
        out = torch.cat([field(flat[s:s + chunk]) for s in range(0, flat.shape[0], chunk)])
    return out.double().cpu().reshape(*pts.shape[:-1], -1)


def integrate_gradient(target_grad: Field, shape: Sequence[int], *, dtype=None, device=None,
                       _with_samples: bool = False) -> np.ndarray:
    """Least-squares potential of a gradient field on a grid: ``(*shape, c)``, zero mean per channel.

    ``target_grad`` is a Field with ``c * d`` channels laid out as
    :func:`insp.ops.gradient`; the grid is ``target_grad.domain.grid(shape)``.
    Each grid edge's difference ``u[i + 1] - u[i]`` is the Simpson integral of
    ``g_k`` along the edge (its two ends and its midpoint are sampled, so the
    error is O(h^5) per edge for a smooth field); the least-squares ``u`` solves
    the normal equations ``D^T D u = D^T b``, whose matrix is the Neumann
    Laplacian of the grid, diagonalised by the DCT-II -- an exact solve in
    O(P log P).  :func:`fit_gradients` starts from this potential.
    """
    from scipy import fft as sfft

    check_field(target_grad, name="target_grad")
    domain = target_grad.domain
    d = domain.dim
    shape = check_shape(shape, d)
    if target_grad.out_features % d:
        raise ValueError(f"target_grad must have c * d channels (d = {d}), got {target_grad.out_features}")
    c = target_grad.out_features // d
    if dtype is None or device is None:
        fdtype, fdevice = field_dtype_device(target_grad)
        dtype, device = dtype or fdtype, device or fdevice
    grid = domain.grid(shape, dtype=torch.float64)
    g = _eval_on(target_grad, grid, dtype, device).reshape(*shape, c, d)
    h = domain.spacing(shape)
    rhs = torch.zeros(*shape, c, dtype=torch.float64)
    for k in range(d):
        if shape[k] < 2:
            continue
        lo = [slice(None)] * d
        hi = [slice(None)] * d
        lo[k], hi[k] = slice(0, -1), slice(1, None)
        mid = grid[tuple(lo)].clone()
        mid[..., k] += h[k] / 2
        gm = _eval_on(target_grad, mid, dtype, device).reshape(*mid.shape[:-1], c, d)[..., k]
        b = h[k] / 6 * (g[tuple(lo)][..., k] + 4 * gm + g[tuple(hi)][..., k])  # u[i+1] - u[i] along axis k
        rhs[tuple(hi)] += b
        rhs[tuple(lo)] -= b
    lam = np.zeros(shape)
    for k, n in enumerate(shape):
        ev = 2 - 2 * np.cos(np.pi * np.arange(n) / n)
        lam = lam + ev.reshape([n if j == k else 1 for j in range(d)])
    lam.flat[0] = 1.0  # the constant mode: fixed to zero mean below
    coef = sfft.dctn(rhs.numpy(), type=2, norm="ortho", axes=tuple(range(d))) / lam[..., None]
    coef[(0,) * d] = 0.0
    u = sfft.idctn(coef, type=2, norm="ortho", axes=tuple(range(d)))
    return (u, g) if _with_samples else u


# --------------------------------------------------------------------------- fit_gradients / fit_laplacian


def _read_target(target, what: str, domain, shape, dtype, device):
    """A target given as a Field or a grid array -> (field or None, grid values or None, domain, shape, c)."""
    if isinstance(target, Field):
        if domain is not None and domain != target.domain:
            raise ValueError(f"domain {domain.bounds} differs from {what}.domain {target.domain.bounds}")
        domain = target.domain
        if shape is not None:
            shape = check_shape(shape, domain.dim)
        return target, None, domain, shape
    if isinstance(target, (np.ndarray, torch.Tensor)) or hasattr(target, "__array__"):
        a = target.detach().cpu() if isinstance(target, torch.Tensor) else torch.as_tensor(np.asarray(target))
        if a.dtype == torch.bool or not (a.is_floating_point() or a.dtype in (torch.int32, torch.int64, torch.uint8)):
            raise TypeError(f"{what} must hold real numbers, got dtype {a.dtype}")
        a = a.to(torch.float64)
        if not torch.isfinite(a).all():
            raise ValueError(f"{what} contains NaN or infinite values")
        return None, a, domain, shape
    raise TypeError(f"{what} must be an insp.Field or an array on a grid, got {type(target).__name__}")


def fit_gradients(target_grad, *, domain: Domain | None = None, anchor=0.0, model: Field | None = None,
                  shape: Sequence[int] | None = None, steps: int | None = None, lr: float | None = None,
                  batch_size: int | None = -1, anchor_weight: float | None = None,
                  value_range: float | Sequence[float] | None = None, init: str | None = None,
                  init_steps: int | None = None, seed: int = 0, progress: bool = True,
                  time_limit: float | None = None, dtype=None, device=None):
    """Fit a field whose gradient matches ``target_grad`` (Sitzmann et al. 2020, Sec. 4.1).

    Parameters
    ----------
    target_grad : Field or array
        A Field with ``c * d`` channels laid out as :func:`insp.ops.gradient`
        (``[..., i * d + k] = d_k f_i``), or an array on the grid
        ``linspace(low, high, n)`` of each axis: ``(*shape, d)`` (one channel)
        or ``(*shape, c, d)``.  **Coordinate units** (``d f / d x_k`` with
        ``x`` in the domain's coordinates; multiply pixel-unit differences by
        ``(n_k - 1) / (high_k - low_k)``, see :func:`insp.units.to_coordinate_units`).
    domain : Domain, optional
        For arrays (default ``[-1, 1]^d``); a Field brings its own.
    anchor : number, sequence, Anchor or None
        The value anchor; a number is the mean value (default 0: the result
        has zero mean).  ``None``: no anchor (the constant is whatever the
        network drifts to).
    model : Field, optional
        The field to train (in place); default a fresh
        :func:`insp.fields.fit.default_model` SIREN seeded with ``seed``.
    shape : sequence of int, optional
        For a Field target: train on this grid (the target is evaluated once).
        Default: fresh uniform random points every step.
    steps, lr, batch_size
        Adam updates (cosine-decayed learning rate), points per update
        (``None``: the whole grid).  Defaults in :data:`GRADIENT_FIT_DEFAULTS`.
    anchor_weight : float
        Weight of the anchor term.
    value_range : float or per-channel floats, optional
        Expected peak-to-peak value range, sets the output scale of the
        network and the anchor term's scale (default: the range of the
        integrated potential, see ``init``).
    init : {"integrate", "random"}
        ``"integrate"`` (default): integrate the target on a grid first
        (:func:`integrate_gradient`: Simpson's rule per grid edge, exact
        least-squares solve), shift the potential to meet the anchor, fit the
        model's *values* to it (:func:`insp.fields.fit`, ``init_steps``
        updates), then refine by the gradient loss for ``steps`` updates.  The
        value fit settles the large scales, which a gradient loss alone
        corrects only slowly (cameraman from its gradients: 18 dB after 600
        gradient steps from a random start, 35 dB this way; see
        ``docs/poisson.md``).  ``"random"``: gradient loss only, from the
        model as given (its output scale set from ``value_range``).
    init_steps : int, optional
        Updates of the value fit (default ``insp.fields.fit.DEFAULTS["steps"]``).
        The integration grid is ``shape``, or ``INTEGRATION_SHAPE[d]``.
    seed : int
        Model initialisation and point sampling.
    progress : bool
        tqdm progress bar.
    time_limit : float, optional
        Stop the gradient phase after this many seconds.

    Returns
    -------
    field : Field
    history : insp.fields.FitHistory
        ``loss`` per logged step of the gradient phase (``psnr`` is not
        tracked); ``config["init_psnr"]``: PSNR of the value fit against the
        integrated potential.

    Notes
    -----
    The loss at a batch of points ``x`` is::

        mean_x sum_{i,k} (d_k f_i(x) - g_ik(x))^2 / G  +  anchor_weight * A / V

    with ``G`` the mean squared norm of the target gradient and ``V`` the
    squared half value range (both fixed before training).  ``A`` is the
    anchor's squared error: ``sum_i (mean_x f_i - a_i)^2`` for a mean anchor,
    the mean squared error at the anchor points otherwise.  The gradient is
    the exact Taylor-mode gradient of the network, differentiated with respect
    to its parameters (``create_graph=True``).
    """
    D = GRADIENT_FIT_DEFAULTS
    lr_given = lr
    steps, lr, batch_size, anchor_weight, anchor = _derivative_fit_settings(steps, lr, batch_size, anchor_weight,
                                                                           anchor)
    if init_steps is not None:
        init_steps = _positive_int(init_steps, "init_steps")
    field_t, arr, domain, shape = _read_target(target_grad, "target_grad", domain, shape, dtype, device)
    if field_t is not None:
        d = field_t.in_features
        if field_t.out_features % d:
            raise ValueError(f"target_grad must have c * d channels (d = {d}), got {field_t.out_features}")
        c = field_t.out_features // d
    else:
        d = arr.shape[-1]
        if arr.ndim == d + 1:
            arr = arr.unsqueeze(-2)
        if arr.ndim != d + 2 or arr.shape[-1] != d:
            raise ValueError(f"target_grad must have shape (*shape, d) or (*shape, c, d) with d spatial axes, "
                             f"got {tuple(arr.shape)}")
        c = arr.shape[-2]
        if shape is not None and tuple(shape) != tuple(arr.shape[:d]):
            raise ValueError(f"shape {tuple(shape)} differs from target_grad's grid {tuple(arr.shape[:d])}")
        shape = check_shape(arr.shape[:d], d, name="target_grad grid shape")
        domain = domain or Domain.cube(d)
        if not isinstance(domain, Domain) or domain.dim != d:
            raise ValueError(f"domain must be an insp.Domain of dimension {d}, got {domain!r}")
    init = D["init"] if init is None else init
    if init not in ("integrate", "random"):
        raise ValueError(f"init must be 'integrate' or 'random', got {init!r}")
    model = _new_model(model, d, c, domain, seed, dtype, device)
    pdtype, pdevice = field_dtype_device(model)
    gen = torch.Generator().manual_seed(seed)
    if arr is not None:  # the samples define a continuous target by multilinear interpolation
        field_t = GridField(arr.reshape(*shape, c * d), domain).to(pdevice, pdtype)
    if init == "integrate":
        ishape = shape or INTEGRATION_SHAPE[d]
    else:  # only the scales are needed: a coarse grid
        ishape = shape or ((64,) * d if d <= 2 else (24,) * d)
    potential, probe = integrate_gradient(field_t, ishape, dtype=pdtype, device=pdevice, _with_samples=True)
    G = float((probe ** 2).sum((-2, -1)).mean())
    G = G if G > 0 else 1.0
    if value_range is None:
        flat = potential.reshape(-1, c)
        vrange = torch.as_tensor(flat.max(0) - flat.min(0)).clamp_min(1e-6)
    else:
        vrange = torch.as_tensor(np.asarray(value_range, dtype=np.float64)).reshape(-1).expand(c).clone()
        if not (torch.isfinite(vrange).all() and (vrange > 0).all()):
            raise ValueError(f"value_range must be positive and finite, got {value_range!r}")
    term = _AnchorTerm(anchor, domain=domain, c=c, dtype=pdtype, device=pdevice, gen=gen)
    V = float(((vrange / 2) ** 2).mean())
    init_info = {}
    if init == "integrate":
        from ..fields.fit import fit

        start = potential + term.constant(potential)
        _, h0 = fit(start, model=model, steps=init_steps, seed=seed, progress=progress, domain=domain,
                    channel_axis=-1)
        init_info = dict(init_steps=h0.steps, init_psnr=float(h0.final_psnr), init_s=float(h0.wall_time),
                         integration_shape=list(ishape))
        lr = _positive_float(D["refine_lr"] if lr_given is None else lr_given, "lr")
    else:
        centre = term.centre()
        _set_affine(model, vrange / 2, centre if centre is not None else torch.zeros(c, dtype=torch.float64))
    # points: jittered grid points (uniform in each cell) when there is a grid, else uniform in the domain --
    # never the bare grid, where a network could match the gradient at the samples and wiggle in between
    pts = _Points(domain, shape, batch_size, gen, pdtype, pdevice, jitter=True)

    step_loss = _derivative_loss(model, pts, field_t, gradient_at, G=G, term=term, anchor_weight=anchor_weight, V=V)
    config = dict(kind="gradients", steps=steps, lr=lr, batch_size=batch_size, anchor=None if anchor is None else
                  anchor.kind, anchor_weight=anchor_weight, shape=None if shape is None else list(shape), seed=seed,
                  value_range=vrange.tolist(), G=G, init=init, **init_info)
    history = _train(model, step_loss, steps=steps, lr=lr, time_limit=time_limit, progress=progress,
                     desc="fit_gradients", config=config)
    return model, history


def _derivative_fit_settings(steps, lr, batch_size, anchor_weight, anchor):
    """The validated training settings shared by :func:`fit_gradients` and :func:`fit_laplacian`
    (``None``, and ``-1`` for ``batch_size``, take ``GRADIENT_FIT_DEFAULTS``)."""
    D = GRADIENT_FIT_DEFAULTS
    steps = _positive_int(D["steps"] if steps is None else steps, "steps")
    lr = _positive_float(D["lr"] if lr is None else lr, "lr")
    batch_size = _positive_int(D["batch_size"] if batch_size == -1 else batch_size, "batch_size", allow_none=True)
    anchor_weight = _positive_float(D["anchor_weight"] if anchor_weight is None else anchor_weight, "anchor_weight",
                                    allow_zero=True)
    return steps, lr, batch_size, anchor_weight, _as_anchor(anchor)


def _derivative_loss(model: Field, pts, field_t: Field, derivative, *, G: float, term, anchor_weight: float,
                     V: float):
    """The per-step loss of :func:`fit_gradients` and :func:`fit_laplacian` (see fit_gradients' Notes).

    ``derivative(model, x, create_graph=True, chunk_size=...)`` is
    :func:`gradient_at` ``(n, c, d)`` or :func:`laplacian_at` ``(n, c)``; the
    target field's values at ``x`` are reshaped to match.
    """

    def step_loss(step):
        x, _ = pts.next()
        with torch.no_grad():
            target = field_t(x)
        got = derivative(model, x, create_graph=True, chunk_size=max(x.shape[0], 1))
        loss = ((got - target.reshape(got.shape)) ** 2).flatten(1).sum(-1).mean() / G
        if term.kind is not None and anchor_weight > 0:
            f = model(x) if term.kind == "mean" else None
            loss = loss + anchor_weight * term.loss(model, x, f) / V
        return loss

    return step_loss


def fit_laplacian(target_laplacian, *, domain: Domain | None = None, anchor=0.0, model: Field | None = None,
                  shape: Sequence[int] | None = None, steps: int | None = None, lr: float | None = None,
                  batch_size: int | None = -1, anchor_weight: float | None = None,
                  value_range: float | Sequence[float] | None = None, seed: int = 0, progress: bool = True,
                  time_limit: float | None = None, dtype=None, device=None):
    """Fit a field whose Laplacian matches ``target_laplacian`` (Laplacian-only supervision).

    Like :func:`fit_gradients`, with ``target_laplacian`` a ``c``-channel
    Field or a grid array ``(*shape)`` / ``(*shape, c)`` (coordinate units:
    ``sum_k d^2 f / d x_k^2``) and the loss
    ``mean_x |lap f - L|^2 / G + anchor_weight * A / V``.  A Laplacian fixes
    a field only up to a harmonic function, so a mean anchor leaves that part
    to the network's bias; ``Anchor.boundary(values)`` pins it (Dirichlet
    problem).  ``value_range`` should be given (the default guess, 1, suits
    images in [0, 1]).
    """
    steps, lr, batch_size, anchor_weight, anchor = _derivative_fit_settings(steps, lr, batch_size, anchor_weight,
                                                                           anchor)
    field_t, arr, domain, shape = _read_target(target_laplacian, "target_laplacian", domain, shape, dtype, device)
    if field_t is not None:
        d, c = field_t.in_features, field_t.out_features
    else:
        if domain is not None:
            d = domain.dim
        else:
            d = arr.ndim
        if arr.ndim == d:
            arr = arr.unsqueeze(-1)
        if arr.ndim != d + 1:
            raise ValueError(f"target_laplacian must have shape (*shape) or (*shape, c) with {d} spatial axes "
                             f"(pass domain= for channels), got {tuple(arr.shape)}")
        c = arr.shape[-1]
        shape = check_shape(arr.shape[:d], d, name="target_laplacian grid shape")
        domain = domain or Domain.cube(d)
    model = _new_model(model, d, c, domain, seed, dtype, device)
    pdtype, pdevice = field_dtype_device(model)
    gen = torch.Generator().manual_seed(seed)
    if arr is not None:
        field_t = GridField(arr, domain).to(pdevice, pdtype)
    probe_shape = shape or ((64,) * d if d <= 2 else (24,) * d)
    grid = domain.grid(probe_shape, dtype=pdtype, device=pdevice).reshape(-1, d)
    with torch.no_grad():
        probe = torch.cat([field_t(grid[s:s + 16384]) for s in range(0, grid.shape[0], 16384)])
    G = float((probe.double() ** 2).sum(-1).mean())
    G = G if G > 0 else 1.0
    vrange = torch.as_tensor(np.asarray(1.0 if value_range is None else value_range, dtype=np.float64))
    vrange = vrange.reshape(-1).expand(c).clone()
    if not (torch.isfinite(vrange).all() and (vrange > 0).all()):
        raise ValueError(f"value_range must be positive and finite, got {value_range!r}")
    term = _AnchorTerm(anchor, domain=domain, c=c, dtype=pdtype, device=pdevice, gen=gen)
    centre = term.centre()
    _set_affine(model, vrange / 2, centre if centre is not None else torch.zeros(c, dtype=torch.float64))
    V = float(((vrange / 2) ** 2).mean())
    pts = _Points(domain, shape, batch_size, gen, pdtype, pdevice, jitter=True)

    step_loss = _derivative_loss(model, pts, field_t, laplacian_at, G=G, term=term, anchor_weight=anchor_weight, V=V)
    config = dict(kind="laplacian", steps=steps, lr=lr, batch_size=batch_size, anchor=None if anchor is None else
                  anchor.kind, anchor_weight=anchor_weight, shape=None if shape is None else list(shape), seed=seed,
                  value_range=vrange.tolist(), G=G)
    history = _train(model, step_loss, steps=steps, lr=lr, time_limit=time_limit, progress=progress,
                     desc="fit_laplacian", config=config)
    return model, history


# --------------------------------------------------------------------------- poisson_blend


def _is_array(a) -> bool:
    return isinstance(a, (np.ndarray, torch.Tensor))


def _image(a, name: str) -> np.ndarray:
    arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be a real-valued image, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be an image (H, W) or (H, W, c), got shape {arr.shape}")
    if min(arr.shape[:2]) < 2:
        raise ValueError(f"{name} needs at least 2 pixels along each axis, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _fit_image(img: np.ndarray, *, domain: Domain, steps, seed, progress, dtype, device, model=None):
    from ..fields.fit import fit

    return fit(img, channel_axis=-1 if img.ndim == 3 else None, domain=domain if model is None else None,
               model=model, steps=steps, seed=seed, progress=progress, dtype=dtype, device=device)[0]


def poisson_blend(source, target, mask, *, offset=(0, 0), mode: str = "replace", shape: Sequence[int] | None = None,
                  features: int | None = None, bandwidth: float | None = None, boundary_weight: float | None = None,
                  points_per_pixel: int | None = None, max_points: int | None = None, steps: int | None = None,
                  lr: float | None = None, batch_size: int | None = -1, fit_steps: int | None = None, seed: int = 0,
                  feather: float = 0.0, progress: bool = True, return_info: bool = False, dtype=None, device=None):
    """Poisson blending on fields: the guided interpolation of Pérez et al. 2003 as ``potential + membrane``.

    Parameters
    ----------
    source, target : Field or image
        Images are ``(H, W)`` or ``(H, W, c)`` arrays (channels last, any
        value units), fitted on the fly with :func:`insp.fit` (``fit_steps``
        steps).  The target image defines the output grid; the source image
        is fitted on the part of the target's domain it covers after
        ``offset``, at the target's pixel spacing.  A source Field is moved by
        ``offset`` (:class:`Translated`).  Colour is handled per channel.
    mask : array or Field
        Where to take the source's gradient, on the **source's** grid (an
        array with the source image's spatial shape; for a source Field, an
        array on any grid of the source's domain) or a 1-channel Field in the
        source's own frame (moved by ``offset`` with it); values in ``[0, 1]``
        (bool, or soft weights).
    offset : (int, int, ...)
        In pixels of the output grid ("ij": rows, columns): source pixel
        ``(i, j)`` lands on target pixel ``(i + di, j + dj)``.
    mode : {"replace", "mixed", "average"}
        Guidance inside the mask (see :class:`CompositeGradient`).
    shape : sequence of int, optional
        The output grid (default: the target image's).  Needed with Field
        inputs and a nonzero offset; without it a ``128^d`` (``32^3``) grid
        of the target's domain defines the region and its boundary.
    features, bandwidth, boundary_weight, points_per_pixel, max_points
        The membrane (defaults in :data:`BLEND_DEFAULTS`): number of sine
        features, standard deviation of their frequencies in radians per
        output pixel, weight of the boundary condition against the Dirichlet
        energy, training points per pixel of the region, cap on their number.
    steps, lr, batch_size
        ``mode="mixed"`` only: Adam updates of the potential's gradient fit.
    fit_steps : int, optional
        Steps of the on-the-fly image fits.
    feather : float
        Width, in pixels of the output grid, of a linear cross-fade from the
        target at the region's boundary to the Poisson solution ``feather``
        pixels inside (:func:`insp.baselines.poisson.feather_weights`; the
        grid baseline takes the same option).  0 (default): the plain Pérez
        solution, whose gradient jumps at the boundary wherever source and
        target differ there; 2 hides that jump (docs/poisson.md, seam
        table) at the price of a 2-pixel band that is not the Poisson
        solution.
    return_info : bool
        Also return a dict with the source/target/mask fields, the potential,
        the membrane, the composite gradient and timings.

    Returns
    -------
    :class:`PoissonBlendField` (and the info dict when ``return_info``).  An
    empty mask returns a copy of the target field.

    Notes
    -----
    With ``Omega`` the region (grid pixels where the mask is positive) and
    ``g_in`` the guidance inside it, the Poisson solution is ``f = t`` outside
    and, inside, ``f = q + h`` where ``q`` is a *potential* of the guidance
    (``grad q ~ g_in``) and ``h`` the *membrane* that carries the low
    frequencies (Pérez et al. 2003; Farbman et al. 2009)::

        minimise  mean_{x in Omega+} |grad h - (g_in - grad q)|^2
                  + boundary_weight * mean_{y in dOmega} |q(y) + h(y) - t(y)|^2

    ``Omega+`` is ``Omega`` with its outer ring of pixels (jittered points,
    ``points_per_pixel`` per pixel), ``dOmega`` the ring's pixel centres (the
    Dirichlet boundary of the discrete problem).  ``q`` is the source for
    ``replace`` and ``(s + t) / 2`` for ``average`` (their guidance is a
    gradient, so the first term is the membrane's Dirichlet energy and ``h``
    is harmonic).  ``mixed`` guidance is not a gradient: ``q`` starts as a
    copy of the source field and is fitted to ``g_in`` on ``Omega+`` (``steps``
    Adam updates: the high frequencies converge fast), and the membrane then
    takes the remaining low-frequency error.  ``h`` is a one-hidden-layer
    SIREN (``sin(W x + b)`` features, ``W ~ N(0, bandwidth^2 / pixel^2)``)
    whose output layer solves this least-squares problem exactly (it is
    quadratic in that layer), so no slow gradient descent on the membrane is
    needed.  With a full mask (no boundary) the membrane is the constant that
    gives the result the target's mean.  The returned field is
    ``m (q + h) + (1 - m) t`` with ``m`` the (interpolated) mask: exactly the
    target where ``m = 0``; a soft mask blends the Poisson solution on its
    support with the target.
    """
    t_all = time.perf_counter()
    _check_mode(mode)
    B = BLEND_DEFAULTS
    K = _positive_int(B["features"] if features is None else features, "features")
    bandwidth = _positive_float(B["bandwidth"] if bandwidth is None else bandwidth, "bandwidth")
    wb = _positive_float(B["boundary_weight"] if boundary_weight is None else boundary_weight, "boundary_weight")
    ppp = _positive_int(B["points_per_pixel"] if points_per_pixel is None else points_per_pixel, "points_per_pixel")
    max_points = _positive_int(B["max_points"] if max_points is None else max_points, "max_points")
    steps = _positive_int(B["steps"] if steps is None else steps, "steps")
    lr = _positive_float(B["lr"] if lr is None else lr, "lr")
    batch_size = _positive_int(B["batch_size"] if batch_size == -1 else batch_size, "batch_size", allow_none=True)
    fit_steps = _positive_int(B["fit_steps"] if fit_steps is None else fit_steps, "fit_steps")
    feather = _positive_float(feather, "feather", allow_zero=True)
    info: dict[str, Any] = {}

    # ---- target and output grid
    if isinstance(target, Field):
        tfield = target
        d = tfield.in_features
        grid_shape = None if shape is None else check_shape(shape, d)
        timg = None
    elif _is_array(target):
        timg = _image(target, "target")
        d = 2
        grid_shape = tuple(timg.shape[:2])
        if shape is not None and tuple(shape) != grid_shape:
            raise ValueError(f"shape {tuple(shape)} differs from the target image's {grid_shape}")
        tfield = None
    else:
        raise TypeError(f"target must be an insp.Field or an image array, got {type(target).__name__}")
    tdomain = tfield.domain if tfield is not None else Domain.cube(2)
    try:
        off = tuple(float(o) for o in offset)
    except TypeError:
        raise TypeError(f"offset must be a sequence of {d} pixel offsets, got {offset!r}") from None
    if len(off) != d or not all(math.isfinite(o) for o in off):
        raise ValueError(f"offset must have {d} finite entries (pixels per axis), got {offset!r}")
    if any(o != 0 for o in off) and grid_shape is None:
        raise ValueError("offset is in pixels of the output grid: pass shape= when target is a Field")
    h = tdomain.spacing(grid_shape) if grid_shape is not None else (0.0,) * d
    shift = tuple(o * hk for o, hk in zip(off, h))

    # ---- source (checked before any fitting)
    if isinstance(source, Field):
        simg = None
        if source.in_features != d:
            raise ValueError(f"source is {source.in_features}-D but target is {d}-D")
        sdomain = Domain(tuple((lo + s, hi + s) for (lo, hi), s in zip(source.domain.bounds, shift)))
        c_s = source.out_features
    elif _is_array(source):
        simg = _image(source, "source")
        if d != 2 or grid_shape is None:
            raise ValueError("an image source needs an image target or shape= (the output grid)")
        sdomain = Domain(tuple((lo + o * hk, lo + (o + n - 1) * hk)
                               for (lo, _), o, hk, n in zip(tdomain.bounds, off, h, simg.shape[:2])))
        c_s = 1 if simg.ndim == 2 else simg.shape[-1]
    else:
        raise TypeError(f"source must be an insp.Field or an image array, got {type(source).__name__}")
    c_t = tfield.out_features if tfield is not None else (1 if timg.ndim == 2 else timg.shape[-1])
    if c_s != c_t:
        raise ValueError(f"source has {c_s} channels but target has {c_t}")
    c = c_t

    # ---- mask (in the source frame) and its checks
    mfield, empty = _mask_field(mask, sdomain, simg, tdomain, d, shift)
    region_shape = grid_shape or ((128,) * d if d <= 2 else (32,) * d)
    if not empty:
        with torch.no_grad():
            on_grid = _sample(mfield, tdomain, region_shape, torch.float64)[..., 0]
        if float(on_grid.max()) <= _MASK_TOL:
            raise ValueError(f"mask touches nothing: its support lies between the output grid's points "
                             f"(grid {region_shape}); use a larger mask")

    # ---- fields (fitted on the fly)
    t0 = time.perf_counter()
    if tfield is None:
        tfield = _fit_image(timg, domain=tdomain, steps=fit_steps, seed=seed, progress=progress, dtype=dtype,
                            device=device)
    info["fit_target_s"] = time.perf_counter() - t0
    pdtype, pdevice = field_dtype_device(tfield)
    if empty:
        out = copy.deepcopy(tfield).eval()
        info.update(target_field=tfield, source_field=None, mask_field=mfield, total_s=time.perf_counter() - t_all)
        return (out, info) if return_info else out
    t0 = time.perf_counter()
    if simg is not None:
        sfield = _fit_image(simg, domain=sdomain, steps=fit_steps, seed=seed + 1, progress=progress, dtype=pdtype,
                            device=pdevice)
    else:
        sfield = Translated(source, shift) if any(s != 0 for s in shift) else source
    info["fit_source_s"] = time.perf_counter() - t0
    mfield = mfield.to(dtype=pdtype, device=pdevice)
    comp = CompositeGradient(sfield, tfield, mfield, mode=mode)

    # ---- the region Omega (mask support on the grid), its outer ring (the Dirichlet boundary) and training points
    gen = torch.Generator().manual_seed(seed)
    support = on_grid > _MASK_TOL  # not > 0: interpolation round-off leaks ~1e-16 into the mask's neighbours
    ring = _outer_ring(support)
    X = tdomain.grid(region_shape, dtype=torch.float64)
    cells = X[support | ring]
    reps = max(1, min(ppp, max_points // max(cells.shape[0], 1)))
    if cells.shape[0] > max_points:
        cells = cells[torch.randperm(cells.shape[0], generator=gen)[:max_points]]
    step = torch.tensor(tdomain.spacing(region_shape), dtype=torch.float64)
    lo = torch.tensor([b[0] for b in tdomain.bounds], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in tdomain.bounds], dtype=torch.float64)
    jitter = torch.rand(reps, *cells.shape, generator=gen, dtype=torch.float64) - 0.5
    xi = torch.minimum(torch.maximum((cells[None] + jitter * step).reshape(-1, d), lo), hi)
    xb = X[ring]

    # ---- the potential q
    t0 = time.perf_counter()
    if mode == "replace":
        q = sfield
    elif mode == "average":
        q = _Mean(sfield, tfield)
    else:
        q = _fit_potential(sfield, comp, xi.to(pdevice, pdtype), steps=steps, lr=lr, batch_size=batch_size,
                           gen=gen, seed=seed, progress=progress)
    info["potential_s"] = time.perf_counter() - t0

    # ---- the membrane h: least squares on its output layer
    t0 = time.perf_counter()
    membrane = _fit_membrane(q, tfield, comp if mode == "mixed" else None, xi, xb, c=c, domain=tdomain,
                             features=K, bandwidth=bandwidth, spacing=step, boundary_weight=wb, gen=gen,
                             dtype=pdtype, device=pdevice)
    info["membrane_s"] = time.perf_counter() - t0
    weight = mfield
    if feather > 0:
        from ..baselines.poisson import feather_weights  # the grid baseline's weights, one definition

        ramp = GridField(feather_weights(support.cpu().numpy(), feather), tdomain).to(dtype=pdtype, device=pdevice)
        weight = _Product(mfield, ramp)
    out = PoissonBlendField(q, membrane, tfield, weight)
    info.update(total_s=time.perf_counter() - t_all, target_field=tfield, source_field=sfield, mask_field=mfield,
                composite=comp, potential=q, membrane=membrane, region_points=int(xi.shape[0]),
                boundary_points=int(xb.shape[0]))
    return (out, info) if return_info else out


class PoissonBlendField(Field):
    """The result of :func:`poisson_blend`: ``m (q + h) + (1 - m) t``.

    ``q`` the potential (the source, the mean of source and target, or the
    field fitted to mixed guidance), ``h`` the membrane (a one-hidden-layer
    SIREN), ``t`` the target, ``m`` the mask field.  Derivatives: the mask is
    piecewise multilinear, so only first derivatives are offered
    (``max_derivative_order = 1``); for higher orders re-fit the sampled
    result (``insp.fit(field.sample(shape))``).
    """

    max_derivative_order = 1

    def __init__(self, potential: Field, membrane: Field, target: Field, mask: Field):
        super().__init__(target.domain, target.out_features)
        self.potential, self.membrane, self.target, self.mask = potential, membrane, target, mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        m = self.mask(x).clamp(0, 1)
        return m * (self.potential(x) + self.membrane(x)) + (1 - m) * self.target(x)


class _Product(Field):
    """``a * b`` (the mask times the feather ramp)."""

    max_derivative_order = 0

    def __init__(self, a: Field, b: Field):
        super().__init__(a.domain, a.out_features)
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) * self.b(x)


class _Mean(Field):
    """``(a + b) / 2``: the potential of ``average`` guidance."""

    def __init__(self, a: Field, b: Field):
        super().__init__(b.domain, b.out_features)
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.a(x) + self.b(x))


def _fit_potential(sfield: Field, comp: CompositeGradient, x: torch.Tensor, *, steps, lr, batch_size, gen, seed,
                   progress) -> Field:
    """A field whose gradient fits the inner guidance at the region points ``x`` (``mixed`` mode)."""
    if isinstance(sfield, nn.Module) and any(True for _ in sfield.parameters()):
        u = copy.deepcopy(sfield)
    else:
        raise ValueError("mode='mixed' fits a potential starting from the source field, which needs parameters "
                         "(a neural field); pass the source as an image or an insp.fit result")
    for p in u.parameters():
        p.requires_grad_(True)
    with torch.no_grad():  # the guidance at the fixed region points, computed once
        g_all = torch.cat([comp.inner_at(x[s:s + 4096]) for s in range(0, x.shape[0], 4096)])
    G = float((g_all.double() ** 2).sum((-2, -1)).mean()) or 1.0
    b = x.shape[0] if batch_size is None else min(batch_size, x.shape[0])

    def step_loss(step):
        idx = torch.randint(0, x.shape[0], (b,), generator=gen).to(x.device)
        xb, g = x[idx], g_all[idx]
        gu = gradient_at(u, xb, create_graph=True, chunk_size=max(b, 1))
        return ((gu - g) ** 2).sum((-2, -1)).mean() / G

    _train(u, step_loss, steps=steps, lr=lr, time_limit=None, progress=progress, desc="poisson_blend[mixed potential]",
           config=dict(kind="mixed potential", steps=steps, lr=lr, batch_size=batch_size, seed=seed, G=G))
    u.requires_grad_(False)
    return u


def _fit_membrane(q: Field, tfield: Field, comp: CompositeGradient | None, xi: torch.Tensor, xb: torch.Tensor, *,
                  c: int, domain: Domain, features: int, bandwidth: float, spacing: torch.Tensor,
                  boundary_weight: float, gen, dtype, device, chunk: int = 4096):
    """The membrane ``h`` of :func:`poisson_blend` (see its Notes): a one-hidden-layer SIREN solved in closed form.

    ``comp`` given: the first term fits the residual ``g_in - grad q``
    (``mixed``); otherwise the guidance is ``grad q`` and the term is the
    Dirichlet energy.  Returns the SIREN in ``dtype`` on ``device``.
    """
    from ..fields.inr import Siren

    d = domain.dim
    W = torch.randn(features, d, generator=gen, dtype=torch.float64) * (bandwidth / spacing)
    bias = torch.rand(features, generator=gen, dtype=torch.float64) * (2 * math.pi) - math.pi
    N = torch.zeros(features + 1, features + 1, dtype=torch.float64)
    rhs = torch.zeros(features + 1, c, dtype=torch.float64)
    wi = 1.0 / xi.shape[0]
    for s in range(0, xi.shape[0], chunk):  # Dirichlet energy (or residual) rows, accumulated as normal equations
        x = xi[s:s + chunk]
        A = (torch.cos(x @ W.T + bias)[:, None, :] * W.T[None]).reshape(-1, features)  # d/dx_k of each feature
        N[:features, :features] += wi * A.T @ A
        if comp is not None:
            xx = x.to(device, dtype)
            with torch.no_grad():
                r = comp.inner_at(xx) - gradient_at(q, xx, create_graph=False)  # (P, c, d)
            rhs[:features] += wi * A.T @ r.double().cpu().transpose(1, 2).reshape(-1, c)
    if xb.shape[0]:  # boundary rows: q + h = t on the ring
        with torch.no_grad():
            xx = xb.to(device, dtype)
            data = (tfield(xx) - q(xx)).double().cpu()
        Ab = torch.cat([torch.sin(xb @ W.T + bias), torch.ones(xb.shape[0], 1, dtype=torch.float64)], 1)
        wb = boundary_weight / xb.shape[0]
    else:  # no boundary (the mask covers the grid): the mean over the region is the target's
        with torch.no_grad():
            xx = xi.to(device, dtype)
            data = (tfield(xx) - q(xx)).double().cpu().mean(0, keepdim=True)
        Ab = torch.cat([torch.sin(xi @ W.T + bias).mean(0, keepdim=True), torch.ones(1, 1, dtype=torch.float64)], 1)
        wb = boundary_weight
    N += wb * Ab.T @ Ab
    rhs += wb * Ab.T @ data
    ridge = 1e-10 * float(N.diagonal().mean())
    coef = torch.linalg.solve(N + ridge * torch.eye(features + 1, dtype=torch.float64), rhs)
    h = Siren(d, c, hidden_features=features, hidden_layers=0, first_omega_0=1.0, domain=domain)
    first, last = h.net[0], h.net[-2]
    with torch.no_grad():
        first.weight.copy_(W)
        first.bias.copy_(bias)
        last.weight.copy_(coef[:features].T)
        last.bias.copy_(coef[features])
    h.requires_grad_(False)
    return h.to(device=device, dtype=dtype).eval()


def _sample(field: Field, domain: Domain, shape, dtype, chunk: int = 16384) -> torch.Tensor:
    X = domain.grid(shape, dtype=dtype).reshape(-1, domain.dim)
    _, dev = field_dtype_device(field)
    with torch.no_grad():
        out = torch.cat([field(X[s:s + chunk].to(dev)) for s in range(0, X.shape[0], chunk)])
    return out.reshape(*shape, -1)


def _outer_ring(region: torch.Tensor) -> torch.Tensor:
    """Grid points outside ``region`` with an axis neighbour inside it (the 5-point stencil's Dirichlet boundary)."""
    grown = region.clone()
    for k in range(region.ndim):
        n = region.shape[k]
        lower = [slice(None)] * region.ndim
        upper = [slice(None)] * region.ndim
        lower[k], upper[k] = slice(0, n - 1), slice(1, n)
        grown[tuple(lower)] |= region[tuple(upper)]
        grown[tuple(upper)] |= region[tuple(lower)]
    return grown & ~region


def _mask_field(mask, sdomain: Domain, simg, tdomain: Domain, d: int, shift):
    """The mask as a Field in the target frame, and whether it is empty; raises for bad masks."""
    if isinstance(mask, Field):
        if mask.out_features != 1 or mask.in_features != d:
            raise ValueError(f"mask must be a 1-channel field on {d}-D points, got {mask.in_features}-D -> "
                             f"{mask.out_features} channels")
        mf = Translated(mask, shift) if any(s != 0 for s in shift) else mask
        probe_dom = mf.domain
        with torch.no_grad():
            vals = _sample(mf, probe_dom, (96,) * d if d <= 2 else (32,) * d, field_dtype_device(mf)[0])[..., 0]
        if not torch.isfinite(vals).all() or float(vals.min()) < -_MASK_TOL or float(vals.max()) > 1 + _MASK_TOL:
            raise ValueError("mask field values must lie in [0, 1]")
        pts = probe_dom.grid(vals.shape, dtype=torch.float64)[vals > _MASK_TOL]
        empty = pts.shape[0] == 0
        _check_inside(pts, tdomain)
        return mf, empty
    if not _is_array(mask):
        raise TypeError(f"mask must be an array or an insp.Field, got {type(mask).__name__}")
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if m.dtype != bool:
        if not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
            raise TypeError(f"mask must be boolean or real-valued in [0, 1], got dtype {m.dtype}")
        m = m.astype(np.float64)
        if not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            raise ValueError(f"mask values must lie in [0, 1], got range [{np.nanmin(m)}, {np.nanmax(m)}]")
    if m.ndim != d:
        raise ValueError(f"mask must have {d} axes (a grid on the source), got shape {m.shape}")
    if simg is not None and m.shape != simg.shape[:2]:
        raise ValueError(f"mask must have the source image's spatial shape {simg.shape[:2]}, got {m.shape}")
    mf = GridField(m.astype(np.float64), sdomain)
    grid = sdomain.grid(m.shape, dtype=torch.float64)
    pts = grid[torch.as_tensor(m > 0)]
    empty = pts.shape[0] == 0
    _check_inside(pts, tdomain)
    return mf, empty


def _check_inside(pts: torch.Tensor, domain: Domain) -> None:
    if pts.shape[0] == 0:
        return
    inside = domain.contains(pts, atol=1e-9)
    if not bool(inside.any()):
        raise ValueError(f"mask touches nothing: all of its support lies outside the target's domain "
                         f"{domain.bounds} (check offset)")
    if not bool(inside.all()):
        raise ValueError(f"mask extends outside the target's domain {domain.bounds}: {int((~inside).sum())} of its "
                         f"{pts.shape[0]} support points (check offset)")
