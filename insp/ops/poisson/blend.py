"""Poisson blending on fields: the guided interpolation of Pérez et al. 2003 as ``potential + membrane``.

:func:`poisson_blend` solves the guided interpolation for the composite
guidance field (:func:`~insp.ops.poisson.guidance.composite_gradient`: the
source's gradient inside the mask, the target's outside; ``mixed``: the
stronger of the two per point; ``average``: the SIREN paper's 0.5/0.5 blend)
without a slow gradient-loss fit: the result is a potential of the guidance
(the source itself for ``replace``) plus a smooth *membrane* whose output
layer is solved in closed form (Farbman et al. 2009 observed that the Poisson
blend is the source plus a harmonic membrane).  The result is a
:class:`PoissonBlendField`.
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

from ..._checks import check_choice, check_int, check_number, check_seed, check_shape
from ...fields.base import Field, field_dtype_device
from ...fields.domain import Domain
from ...fields.fitting import FULL_BATCH, fit
from ...fields.fitting.loop import BatchSampler
from ...fields.inr import Siren
from ...fields.transforms import GridField, Mean, Product, Translated
from ...jet.engine import gradient_at
from .gradient_fit import _train
from .guidance import BLEND_MODES, CompositeGradient

__all__ = ["BLEND_DEFAULTS", "PoissonBlendField", "poisson_blend"]

#: defaults of :func:`poisson_blend` (measured in ``benchmarks/poisson.py``; see ``docs/poisson.md``)
BLEND_DEFAULTS: dict[str, Any] = dict(features=1024, bandwidth=1.25, boundary_weight=1000.0, points_per_pixel=4,
                                      max_points=32768, steps=200, lr=1e-4, batch_size=4096, fit_steps=300)

#: mask values at or below this count as outside the region (round-off of the mask's interpolation)
_MASK_TOL = 1e-6


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


def _fit_image(img: np.ndarray, *, domain: Domain, steps, seed, progress, dtype, device):
    return fit(img, channel_axis=-1 if img.ndim == 3 else None, domain=domain, steps=steps, seed=seed,
               progress=progress, dtype=dtype, device=device)[0]


def poisson_blend(source, target, mask, *, offset=(0, 0), mode: str = "replace", shape: Sequence[int] | None = None,
                  features: int | None = None, bandwidth: float | None = None, boundary_weight: float | None = None,
                  points_per_pixel: int | None = None, max_points: int | None = None, steps: int | None = None,
                  lr: float | None = None, batch_size: int | str | None = None, fit_steps: int | None = None,
                  seed: int = 0, feather: float = 0.0, progress: bool = True, dtype=None,
                  device=None) -> "PoissonBlendField":
    """Poisson blending on fields: the guided interpolation of Pérez et al. 2003 as ``potential + membrane``.

    Parameters
    ----------
    source, target : Field or image
        Images are ``(H, W)`` or ``(H, W, c)`` arrays (channels last, any
        value units), fitted on the fly with :func:`insp.fit` (``fit_steps``
        steps).  The target image defines the output grid; the source image
        is fitted on the part of the target's domain it covers after
        ``offset``, at the target's pixel spacing.  A source Field is moved by
        ``offset`` (:class:`~insp.fields.transforms.Translated`).  Colour is handled per channel.
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
        ``mode="mixed"`` only: Adam updates of the potential's gradient fit
        (``batch_size="full"``: every region point in every update).
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

    Returns
    -------
    PoissonBlendField
        Always this type.  Its :attr:`~PoissonBlendField.info` dict holds the
        source/target/mask fields, the potential, the membrane, the composite
        gradient, point counts and timings.  An empty mask gives the target
        itself (no potential, no membrane).

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

    The steps, each a function of this module: :func:`_blend_settings`
    (options), :func:`_read_inputs` (frames, channels and the mask, checked
    before any fitting), :func:`_input_fields` (on-the-fly fits),
    :func:`_region` (Omega, its ring, the training points), the potential,
    :func:`_fit_membrane`, :func:`_blend_weight` (mask and feathering).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from insp.testing import Polynomial
    >>> s = Polynomial({(1, 0): 1.0}, dtype=torch.float64)                  # a ramp
    >>> t = Polynomial({(0, 0): 0.5}, dtype=torch.float64)                  # a constant
    >>> mask = np.zeros((16, 16), bool); mask[5:11, 5:11] = True
    >>> blend = poisson_blend(s, t, mask, shape=(16, 16), features=64, progress=False)
    >>> bool((blend.sample((16, 16))[0] == 0.5).all())                      # outside the mask: the target
    True
    >>> sorted(blend.info)[:3]
    ['boundary_points', 'composite', 'fit_source_s']
    """
    t_all = time.perf_counter()
    opts = _blend_settings(mode=mode, features=features, bandwidth=bandwidth, boundary_weight=boundary_weight,
                           points_per_pixel=points_per_pixel, max_points=max_points, steps=steps, lr=lr,
                           batch_size=batch_size, fit_steps=fit_steps, feather=feather, seed=seed)
    inp = _read_inputs(source, target, mask, offset=offset, shape=shape)
    info: dict[str, Any] = {}
    tfield, sfield = _input_fields(inp, opts, info, progress=progress, dtype=dtype, device=device)
    pdtype, pdevice = field_dtype_device(tfield)
    if inp.empty:
        info.update(target_field=tfield, source_field=None, mask_field=inp.mask, total_s=time.perf_counter() - t_all)
        return PoissonBlendField(None, None, tfield, inp.mask, info=info)
    mfield = inp.mask.to(dtype=pdtype, device=pdevice)
    comp = CompositeGradient(sfield, tfield, mfield, mode=opts.mode)
    gen = torch.Generator().manual_seed(opts.seed)
    support, xi, xb = _region(inp, opts, gen)

    t0 = time.perf_counter()
    if opts.mode == "replace":
        q = sfield
    elif opts.mode == "average":
        q = Mean(sfield, tfield)
    else:
        q = _fit_potential(sfield, comp, xi.to(pdevice, pdtype), steps=opts.steps, lr=opts.lr,
                           batch_size=opts.batch_size, gen=gen, seed=opts.seed, progress=progress)
    info["potential_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    membrane = _fit_membrane(q, tfield, comp if opts.mode == "mixed" else None, xi, xb, c=inp.channels,
                             domain=inp.domain, features=opts.features, bandwidth=opts.bandwidth,
                             spacing=torch.tensor(inp.domain.spacing(inp.region_shape), dtype=torch.float64),
                             boundary_weight=opts.boundary_weight, gen=gen, dtype=pdtype, device=pdevice)
    info["membrane_s"] = time.perf_counter() - t0
    weight = _blend_weight(mfield, support, inp.domain, opts.feather)
    info.update(total_s=time.perf_counter() - t_all, target_field=tfield, source_field=sfield, mask_field=mfield,
                composite=comp, potential=q, membrane=membrane, region_points=int(xi.shape[0]),
                boundary_points=int(xb.shape[0]))
    return PoissonBlendField(q, membrane, tfield, weight, info=info)


# --------------------------------------------------------------------------- the steps


@dataclass(frozen=True)
class _BlendOptions:
    mode: str
    features: int
    bandwidth: float
    boundary_weight: float
    points_per_pixel: int
    max_points: int
    steps: int
    lr: float
    batch_size: int | None  # None: every region point
    fit_steps: int
    feather: float
    seed: int


def _blend_settings(*, mode, features, bandwidth, boundary_weight, points_per_pixel, max_points, steps, lr,
                    batch_size, fit_steps, feather, seed) -> _BlendOptions:
    """The options of :func:`poisson_blend`, ``None`` replaced by :data:`BLEND_DEFAULTS`, all checked."""
    D = BLEND_DEFAULTS

    def default(value, key):
        return D[key] if value is None else value

    batch_size = default(batch_size, "batch_size")
    return _BlendOptions(
        mode=check_choice(mode, "mode", BLEND_MODES),
        features=check_int(default(features, "features"), "features"),
        bandwidth=check_number(default(bandwidth, "bandwidth"), "bandwidth"),
        boundary_weight=check_number(default(boundary_weight, "boundary_weight"), "boundary_weight"),
        points_per_pixel=check_int(default(points_per_pixel, "points_per_pixel"), "points_per_pixel"),
        max_points=check_int(default(max_points, "max_points"), "max_points"),
        steps=check_int(default(steps, "steps"), "steps"),
        lr=check_number(default(lr, "lr"), "lr"),
        batch_size=None if batch_size == FULL_BATCH else check_int(batch_size, "batch_size"),
        fit_steps=check_int(default(fit_steps, "fit_steps"), "fit_steps"),
        feather=check_number(feather, "feather", strict=False),
        seed=check_seed(seed),
    )


@dataclass
class _Inputs:
    """The blend problem in the target's frame, read and checked before anything is fitted."""

    tfield: Field | None  # None: fitted from timg
    timg: np.ndarray | None
    source: Any  # the Field as given, or None
    simg: np.ndarray | None
    sdomain: Domain  # where the source lands in the target's frame
    domain: Domain  # the target's (output) domain
    shift: tuple[float, ...]  # the offset in coordinate units
    channels: int
    mask: Field  # in the target frame
    empty: bool
    region_shape: tuple[int, ...]  # the grid that defines the region and its boundary
    on_grid: torch.Tensor | None  # the mask sampled on that grid


def _read_inputs(source, target, mask, *, offset, shape) -> _Inputs:
    # ---- target and output grid
    if isinstance(target, Field):
        tfield, timg = target, None
        d = tfield.in_features
        grid_shape = None if shape is None else check_shape(shape, d)
    elif _is_array(target):
        tfield, timg = None, _image(target, "target")
        d = 2
        grid_shape = tuple(timg.shape[:2])
        if shape is not None and tuple(shape) != grid_shape:
            raise ValueError(f"shape {tuple(shape)} differs from the target image's {grid_shape}")
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

    # ---- source
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
        source = None
    else:
        raise TypeError(f"source must be an insp.Field or an image array, got {type(source).__name__}")
    c_t = tfield.out_features if tfield is not None else (1 if timg.ndim == 2 else timg.shape[-1])
    if c_s != c_t:
        raise ValueError(f"source has {c_s} channels but target has {c_t}")

    # ---- mask (in the source frame) and its checks
    mfield, empty = _mask_field(mask, sdomain, simg, tdomain, d, shift)
    region_shape = grid_shape or ((128,) * d if d <= 2 else (32,) * d)
    on_grid = None
    if not empty:
        with torch.no_grad():
            on_grid = _sample(mfield, tdomain, region_shape, torch.float64)[..., 0]
        if float(on_grid.max()) <= _MASK_TOL:
            raise ValueError(f"mask touches nothing: its support lies between the output grid's points "
                             f"(grid {region_shape}); use a larger mask")
    return _Inputs(tfield, timg, source, simg, sdomain, tdomain, shift, c_t, mfield, empty, region_shape, on_grid)


def _input_fields(inp: _Inputs, opts: _BlendOptions, info: dict, *, progress, dtype, device):
    """The target and source fields: given, translated, or fitted on the fly (timings in ``info``)."""
    t0 = time.perf_counter()
    tfield = inp.tfield
    if tfield is None:
        tfield = _fit_image(inp.timg, domain=inp.domain, steps=opts.fit_steps, seed=opts.seed, progress=progress,
                            dtype=dtype, device=device)
    info["fit_target_s"] = time.perf_counter() - t0
    if inp.empty:
        return tfield, None
    pdtype, pdevice = field_dtype_device(tfield)
    t0 = time.perf_counter()
    if inp.simg is not None:
        sfield = _fit_image(inp.simg, domain=inp.sdomain, steps=opts.fit_steps, seed=opts.seed + 1,
                            progress=progress, dtype=pdtype, device=pdevice)
    else:
        sfield = Translated(inp.source, inp.shift) if any(s != 0 for s in inp.shift) else inp.source
    info["fit_source_s"] = time.perf_counter() - t0
    return tfield, sfield


def _region(inp: _Inputs, opts: _BlendOptions, gen):
    """The region Omega (mask support on the grid), the training points in Omega and its ring, the ring's centres.

    Returns ``(support, xi, xb)``: the boolean grid of Omega, jittered points
    ``(N, d)`` (``points_per_pixel`` per pixel of Omega and its outer ring,
    at most ``max_points`` cells) and the ring's pixel centres ``(n_b, d)``
    (the Dirichlet boundary of the 5-point stencil), float64.
    """
    d, domain = inp.domain.dim, inp.domain
    support = inp.on_grid > _MASK_TOL  # not > 0: interpolation round-off leaks ~1e-16 into the mask's neighbours
    ring = _outer_ring(support)
    X = domain.grid(inp.region_shape, dtype=torch.float64)
    cells = X[support | ring]
    reps = max(1, min(opts.points_per_pixel, opts.max_points // max(cells.shape[0], 1)))
    if cells.shape[0] > opts.max_points:
        cells = cells[torch.randperm(cells.shape[0], generator=gen)[:opts.max_points]]
    step = torch.tensor(domain.spacing(inp.region_shape), dtype=torch.float64)
    lo = torch.tensor([b[0] for b in domain.bounds], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in domain.bounds], dtype=torch.float64)
    jitter = torch.rand(reps, *cells.shape, generator=gen, dtype=torch.float64) - 0.5
    xi = torch.minimum(torch.maximum((cells[None] + jitter * step).reshape(-1, d), lo), hi)
    return support, xi, X[ring]


def _blend_weight(mfield: Field, support: torch.Tensor, domain: Domain, feather: float) -> Field:
    """The mask field, times the feather ramp when ``feather > 0`` (one definition with the grid baseline)."""
    if feather <= 0:
        return mfield
    from ...baselines.poisson import feather_weights

    dtype, device = field_dtype_device(mfield)
    ramp = GridField(feather_weights(support.cpu().numpy(), feather), domain).to(dtype=dtype, device=device)
    return Product(mfield, ramp)


class PoissonBlendField(Field):
    """The result of :func:`poisson_blend`: ``m (q + h) + (1 - m) t``.

    ``q`` the potential (the source, the mean of source and target, or the
    field fitted to mixed guidance), ``h`` the membrane (a one-hidden-layer
    SIREN), ``t`` the target, ``m`` the mask field.  For an empty mask ``q``
    and ``h`` are ``None`` and the field is ``t``.  Derivatives: the mask is
    piecewise multilinear, so only first derivatives are offered
    (``max_derivative_order = 1``); for higher orders re-fit the sampled
    result (``insp.fit(field.sample(shape))``).

    Examples
    --------
    With an empty mask there is nothing to blend: the field is the target.

    >>> import numpy as np, torch
    >>> from insp.ops import PoissonBlendField, poisson_blend
    >>> from insp.testing import Polynomial
    >>> s = Polynomial({(1, 0): 1.0}, dtype=torch.float64)
    >>> t = Polynomial({(0, 1): 2.0}, dtype=torch.float64)
    >>> b = poisson_blend(s, t, np.zeros((8, 8), bool), shape=(8, 8), progress=False)
    >>> isinstance(b, PoissonBlendField), b.potential is None, b.max_derivative_order
    (True, True, 1)
    >>> bool(torch.equal(b.sample((8, 8)), t.sample((8, 8))))
    True
    """

    max_derivative_order = 1
    derivative_limit_reason = ("blends through a multilinear mask: only first derivatives exist (re-fit the "
                               "sampled result, insp.fit(field.sample(shape)), for higher orders)")

    def __init__(self, potential: Field | None, membrane: Field | None, target: Field, mask: Field, *,
                 info: dict | None = None):
        super().__init__(target.domain, target.out_features)
        self.potential, self.membrane, self.target, self.mask = potential, membrane, target, mask
        #: what the blend was made of and how long each step took (see :func:`poisson_blend`)
        self.info = {} if info is None else info

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        if self.potential is None:  # an empty mask: nothing to blend
            return self.target(x)
        m = self.mask(x).clamp(0, 1)
        return m * (self.potential(x) + self.membrane(x)) + (1 - m) * self.target(x)


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
    sampler = BatchSampler(x.shape[0], b, generator=gen, device=x.device, scheme="replacement")

    def step_loss(step):
        idx = sampler.next()
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
        if not np.isfinite(m).all():
            raise ValueError(f"mask contains {int((~np.isfinite(m)).sum())} NaN or infinite values; expected values "
                             "in [0, 1]")
        if m.min() < 0 or m.max() > 1:
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
