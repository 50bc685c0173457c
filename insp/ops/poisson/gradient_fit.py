"""Gradient-domain fitting: a field whose gradient (or Laplacian) matches a target.

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
coordinate units (see :mod:`insp.units` for pixel units).  The updates run in
the library's one training loop (:mod:`insp.fields.fitting.loop`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..._checks import check_int, check_number, check_shape
from ...fields.base import Field, check_field, field_dtype_device
from ...fields.domain import Domain
from ...fields.fitting import FULL_BATCH, default_model, fit
from ...fields.fitting.loop import BatchSampler, FitHistory, TrainingLoop
from ...fields.transforms import GridField
from ...jet.engine import gradient_at, laplacian_at

__all__ = ["Anchor", "GRADIENT_FIT_DEFAULTS", "INTEGRATION_SHAPE", "fit_gradients", "fit_laplacian",
           "integrate_gradient"]

#: defaults of the gradient-domain fits (measured in ``benchmarks/poisson.py``; see ``docs/poisson.md``)
GRADIENT_FIT_DEFAULTS: dict[str, Any] = dict(steps=500, lr=1e-4, refine_lr=3e-5, batch_size=8192, anchor_weight=1.0,
                                              init="integrate", value_weight=100.0)
#: grid on which :func:`fit_gradients` integrates a target given as a Field without ``shape``, per dimension
INTEGRATION_SHAPE: dict[int, tuple[int, ...]] = {1: (4096,), 2: (256, 256), 3: (64, 64, 64)}
#: A Field target is integrated on grids 2, 4, 8, ... times finer than the grid asked for, read back at that
#: grid's own points, until two successive refinements agree within ``INTEGRATION_TOL`` of the potential's
#: range (or the next would pass :data:`INTEGRATION_POINTS` points, or the factor :data:`INTEGRATION_MAX_REFINE`).
#: A fitted INR varies between its pixels and Simpson's rule over one pixel misses it: on 128x128 INRs the
#: potential was 34.9 (grass) / 30.6 (camera) dB from the INR on the pixel grid, 52.6 / 59.0 dB refined 2x and
#: 81.9 / 92.2 dB refined 4x; a checkerboard's sharp edges need 8x (33.8 dB at 4x, 76.4 dB at 8x).
INTEGRATION_TOL = 1e-3
INTEGRATION_MAX_REFINE = 16
INTEGRATION_POINTS = 2**22


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


# --------------------------------------------------------------------------- training


class _PointSampler:
    """Training points of a gradient-domain fit: jittered grid points, or fresh uniform points in the domain.

    With a grid (``shape``) every step takes a random subset of its points
    (:class:`~insp.fields.fitting.loop.BatchSampler`, ``"subset"``), each moved
    uniformly within its cell and clamped to the domain -- never the bare
    grid, where a network could match the target at the samples and wiggle in
    between.  All draws come from ``gen``.
    """

    def __init__(self, domain: Domain, shape, batch_size, gen, dtype, device):
        self.domain, self.gen, self.dtype, self.device = domain, gen, dtype, device
        self.shape, self.batch_size = shape, batch_size
        self.lo = torch.tensor([b[0] for b in domain.bounds], dtype=dtype, device=device)
        self.hi = torch.tensor([b[1] for b in domain.bounds], dtype=dtype, device=device)
        if shape is not None:
            self.grid = domain.grid(shape, dtype=dtype, device=device).reshape(-1, domain.dim)
            self.h = torch.tensor(domain.spacing(shape), dtype=dtype, device=device)
            self.indices = BatchSampler(self.grid.shape[0], batch_size, generator=gen, device=device, scheme="subset")
        elif batch_size is None:
            raise ValueError("batch_size must be a positive integer when training on random points (no shape)")

    def next(self) -> torch.Tensor:
        if self.shape is None:
            u = torch.rand(self.batch_size, self.domain.dim, generator=self.gen, dtype=torch.float64)
            return self.lo + u.to(self.device, self.dtype) * (self.hi - self.lo)
        x = self.grid[self.indices.next()]
        u = torch.rand(x.shape, generator=self.gen, dtype=torch.float64).to(self.device, self.dtype) - 0.5
        return torch.minimum(torch.maximum(x + u * self.h, self.lo), self.hi)


def _train(model: Field, step_loss, *, steps: int, lr: float, time_limit, progress: bool, desc: str, config: dict,
           log_every: int = 10) -> FitHistory:
    """Adam on ``step_loss(step)`` in the shared :class:`~insp.fields.fitting.loop.TrainingLoop` (cosine to 0)."""
    t_start = time.perf_counter()
    history = FitHistory(config=config)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loop = TrainingLoop(opt, steps=steps, lr=lr, time_limit=time_limit, progress=progress, desc=desc)

    def step_fn(step, t_now):
        loss = step_loss(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        rec = dict(step=step, loss=float(loss.detach()), time=t_now)  # every step: the finite-loss check
        if step % log_every == 0 or step + 1 == steps:
            for k in ("step", "loss", "time"):
                getattr(history, k).append(rec[k])
        return rec

    model.train()
    try:
        stop = loop.run(step_fn)
    finally:
        model.eval()
    history.close(loop.done, stop, t_start)
    return history


def _set_affine(model: Field, scale: torch.Tensor, shift: torch.Tensor) -> None:
    affine = getattr(model, "value_affine", None)
    if affine is not None:
        with torch.no_grad():
            affine.scale.copy_(scale.to(affine.scale))
            affine.shift.copy_(shift.to(affine.shift))


def _new_model(model, d, c, domain, seed, dtype, device):
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

    Examples
    --------
    Simpson's rule is exact on the linear gradient of a quadratic, so the
    potential is the quadratic itself, up to its mean:

    >>> import numpy as np, torch
    >>> from insp.ops import gradient, integrate_gradient
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # x0^2 + 3 x1^2
    >>> u = integrate_gradient(gradient(p), (17, 17))
    >>> ref = p.sample((17, 17)).numpy()
    >>> u.shape, bool(np.abs(u - (ref - ref.mean())).max() < 1e-10)
    ((17, 17, 1), True)
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


def _refined_potential(target_grad: Field, shape: tuple[int, ...], dtype, device):
    """:func:`integrate_gradient` on ever finer grids read at ``shape``'s points: ``(potential, samples, factor)``.

    The grid ``k`` times finer has ``(n - 1) k + 1`` points per axis and holds every point of ``shape``'s grid,
    so reading every ``k``-th value is exact.  ``k`` doubles from 2 until the potential at the grid points
    changes by less than :data:`INTEGRATION_TOL` of its range (module constants above).
    """

    def at(k):
        fine = tuple((n - 1) * k + 1 if n > 1 else 1 for n in shape)
        u, g = integrate_gradient(target_grad, fine, dtype=dtype, device=device, _with_samples=True)
        every = tuple(slice(None, None, k) for _ in shape)
        u = u[every] - u[every].mean(axis=tuple(range(len(shape))))
        return np.ascontiguousarray(u), g[every]

    def points(k):
        return math.prod((n - 1) * k + 1 for n in shape)

    k = 2 if points(2) <= INTEGRATION_POINTS else 1
    u, g = at(k)
    while 2 * k <= INTEGRATION_MAX_REFINE and points(2 * k) <= INTEGRATION_POINTS:
        u2, g = at(2 * k)
        span = float(u2.max() - u2.min()) or 1.0
        change = float(np.abs(u2 - u).max()) / span
        u, k = u2, 2 * k
        if change < INTEGRATION_TOL:
            break
    return u, g, k


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
                  batch_size: int | str | None = None, anchor_weight: float | None = None,
                  value_range: float | Sequence[float] | None = None, init: str | None = None,
                  init_steps: int | None = None, value_weight: float | None = None, seed: int = 0,
                  progress: bool = True, time_limit: float | None = None, dtype=None, device=None):
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
        :func:`insp.fields.fitting.default_model` SIREN seeded with ``seed``.
    shape : sequence of int, optional
        For a Field target: train on this grid (the target is evaluated once).
        Default: fresh uniform random points every step.
    steps, lr, batch_size
        Adam updates (cosine-decayed learning rate), points per update
        (``"full"``: as many as the grid has points).  ``None``: the defaults
        in :data:`GRADIENT_FIT_DEFAULTS`.
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
        model's *values* to it (:func:`insp.fit`, ``init_steps``
        updates), then refine by the gradient loss for ``steps`` updates.  The
        value fit settles the large scales, which a gradient loss alone
        corrects only slowly (cameraman from its gradients: 18 dB after 600
        gradient steps from a random start, 35 dB this way; see
        ``docs/poisson.md``).  ``"random"``: gradient loss only, from the
        model as given (its output scale set from ``value_range``).
    init_steps : int, optional
        Updates of the value fit (default ``insp.fields.fitting.DEFAULTS["steps"]``).
        The integration grid is ``shape``, or ``INTEGRATION_SHAPE[d]``; a Field
        target is integrated on finer grids and read back at that grid's
        points (Simpson's rule over one pixel misses what a fitted INR does
        between its pixels): 2, 4, 8, ... times finer until two refinements
        agree (``INTEGRATION_TOL``), the factor recorded as
        ``history.config["integration_refine"]``.
    value_weight : float, optional
        With ``init="integrate"``: weight of a term that keeps the gradient
        refinement on the integrated potential at the grid points (mean
        squared difference, relative to the squared half value range; default
        ``GRADIENT_FIT_DEFAULTS["value_weight"]``, 0 turns it off).  Without
        it the refinement chases the target's gradient between the pixels and
        loses accuracy at them (camera 64x64 rebuilt from its INR's gradient:
        32.6 dB from the INR without, 55.5 dB with the default; see
        ``docs/poisson.md``).
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
            +  value_weight * mean_y |f(y) - u(y)|^2 / V

    with ``G`` the mean squared norm of the target gradient and ``V`` the
    squared half value range (both fixed before training).  ``A`` is the
    anchor's squared error: ``sum_i (mean_x f_i - a_i)^2`` for a mean anchor,
    the mean squared error at the anchor points otherwise.  The last term
    (``init="integrate"`` only) compares the field with the integrated
    potential ``u`` (anchored) at a batch ``y`` of the grid's own points.  The gradient is
    the exact Taylor-mode gradient of the network, differentiated with respect
    to its parameters (``create_graph=True``).

    Examples
    --------
    A tiny SIREN and a few updates (real fits use the defaults, see
    ``docs/poisson.md``):

    >>> import torch, insp
    >>> from insp.ops import fit_gradients, gradient
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)
    >>> model = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0, dtype=torch.float64)
    >>> field, history = fit_gradients(gradient(p), model=model, shape=(16, 16), steps=5, init_steps=20,
    ...                                progress=False)
    >>> field is model, history.steps, history.config["init"]
    (True, 5, 'integrate')
    >>> history.config["init_psnr"] > 5          # the value fit to the integrated potential (dB)
    True
    >>> field.sample((16, 16)).shape
    torch.Size([16, 16, 1])
    """
    D = GRADIENT_FIT_DEFAULTS
    lr_given = lr
    steps, lr, batch_size, anchor_weight, anchor = _derivative_fit_settings(steps, lr, batch_size, anchor_weight,
                                                                           anchor)
    if init_steps is not None:
        init_steps = check_int(init_steps, "init_steps")
    value_weight = check_number(D["value_weight"] if value_weight is None else value_weight, "value_weight",
                                strict=False)
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
    if arr is None and init == "integrate":
        potential, probe, refine = _refined_potential(field_t, ishape, pdtype, pdevice)
    else:  # samples on a grid: their multilinear interpolant is integrated exactly on that grid
        potential, probe = integrate_gradient(field_t, ishape, dtype=pdtype, device=pdevice, _with_samples=True)
        refine = 1
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
        start = potential + term.constant(potential)
        _, h0 = fit(start, model=model, steps=init_steps, seed=seed, progress=progress, domain=domain,
                    channel_axis=-1)
        init_info = dict(init_steps=h0.steps, init_psnr=float(h0.final_psnr), init_s=float(h0.wall_time),
                         integration_shape=list(ishape), integration_refine=refine)
        lr = check_number(D["refine_lr"] if lr_given is None else lr_given, "lr")
    else:
        centre = term.centre()
        _set_affine(model, vrange / 2, centre if centre is not None else torch.zeros(c, dtype=torch.float64))
    pts = _PointSampler(domain, shape, batch_size, gen, pdtype, pdevice)

    values = None
    if init == "integrate" and value_weight > 0:
        values = _potential_term(start, domain, ishape, batch_size, gen, value_weight / V, pdtype, pdevice)
    step_loss = _derivative_loss(model, pts, field_t, gradient_at, G=G, term=term, anchor_weight=anchor_weight, V=V,
                                 values=values)
    config = dict(kind="gradients", steps=steps, lr=lr, batch_size=batch_size, anchor=None if anchor is None else
                  anchor.kind, anchor_weight=anchor_weight, shape=None if shape is None else list(shape), seed=seed,
                  value_range=vrange.tolist(), G=G, init=init, value_weight=value_weight, **init_info)
    history = _train(model, step_loss, steps=steps, lr=lr, time_limit=time_limit, progress=progress,
                     desc="fit_gradients", config=config)
    return model, history


def _potential_term(potential, domain: Domain, shape, batch_size, gen, weight: float, dtype, device):
    """``model -> weight * mean |model(x) - potential(x)|^2`` over a random subset of the grid's points each step.

    Keeps the refinement of :func:`fit_gradients` on the integrated potential at the grid points (see
    ``value_weight`` there); the gradient term then shapes the field between them.
    """
    x = domain.grid(shape, dtype=dtype, device=device).reshape(-1, domain.dim)
    u = torch.as_tensor(np.asarray(potential).reshape(x.shape[0], -1)).to(device, dtype)
    pick = BatchSampler(x.shape[0], batch_size, generator=gen, device=device, scheme="subset")

    def term(model):
        idx = pick.next()
        xb, ub = (x, u) if idx is None else (x[idx], u[idx])
        return weight * ((model(xb) - ub) ** 2).mean()

    return term


def _derivative_fit_settings(steps, lr, batch_size, anchor_weight, anchor):
    """The validated training settings shared by :func:`fit_gradients` and :func:`fit_laplacian`
    (``None`` takes ``GRADIENT_FIT_DEFAULTS``; ``batch_size="full"``: the whole grid)."""
    D = GRADIENT_FIT_DEFAULTS
    steps = check_int(D["steps"] if steps is None else steps, "steps")
    lr = check_number(D["lr"] if lr is None else lr, "lr")
    batch_size = D["batch_size"] if batch_size is None else batch_size
    batch_size = None if batch_size == FULL_BATCH else check_int(batch_size, "batch_size")
    anchor_weight = check_number(D["anchor_weight"] if anchor_weight is None else anchor_weight, "anchor_weight",
                                 strict=False)
    return steps, lr, batch_size, anchor_weight, _as_anchor(anchor)


def _derivative_loss(model: Field, pts, field_t: Field, derivative, *, G: float, term, anchor_weight: float,
                     V: float, values=None):
    """The per-step loss of :func:`fit_gradients` and :func:`fit_laplacian` (see fit_gradients' Notes).

    ``derivative(model, x, create_graph=True, chunk_size=...)`` is
    :func:`gradient_at` ``(n, c, d)`` or :func:`laplacian_at` ``(n, c)``; the
    target field's values at ``x`` are reshaped to match.
    """

    def step_loss(step):
        x = pts.next()
        with torch.no_grad():
            target = field_t(x)
        got = derivative(model, x, create_graph=True, chunk_size=max(x.shape[0], 1))
        loss = ((got - target.reshape(got.shape)) ** 2).flatten(1).sum(-1).mean() / G
        if term.kind is not None and anchor_weight > 0:
            f = model(x) if term.kind == "mean" else None
            loss = loss + anchor_weight * term.loss(model, x, f) / V
        if values is not None:
            loss = loss + values(model)
        return loss

    return step_loss


def fit_laplacian(target_laplacian, *, domain: Domain | None = None, anchor=0.0, model: Field | None = None,
                  shape: Sequence[int] | None = None, steps: int | None = None, lr: float | None = None,
                  batch_size: int | str | None = None, anchor_weight: float | None = None,
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

    Examples
    --------
    A constant Laplacian of 8 on a 16 x 16 grid (that of ``x0^2 + 3 x1^2``),
    a tiny SIREN and a few updates:

    >>> import numpy as np, torch, insp
    >>> from insp.ops import fit_laplacian
    >>> model = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0, dtype=torch.float64)
    >>> field, history = fit_laplacian(np.full((16, 16), 8.0), model=model, steps=10, value_range=4.0,
    ...                                progress=False)
    >>> field is model, history.steps, history.config["kind"], history.config["shape"]
    (True, 10, 'laplacian', [16, 16])
    >>> history.loss[-1] < history.loss[0]       # the normalised Laplacian loss went down
    True
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
    pts = _PointSampler(domain, shape, batch_size, gen, pdtype, pdevice)

    step_loss = _derivative_loss(model, pts, field_t, laplacian_at, G=G, term=term, anchor_weight=anchor_weight, V=V)
    config = dict(kind="laplacian", steps=steps, lr=lr, batch_size=batch_size, anchor=None if anchor is None else
                  anchor.kind, anchor_weight=anchor_weight, shape=None if shape is None else list(shape), seed=seed,
                  value_range=vrange.tolist(), G=G)
    history = _train(model, step_loss, steps=steps, lr=lr, time_limit=time_limit, progress=progress,
                     desc="fit_laplacian", config=config)
    return model, history
