"""Poisson blending on fields: the guided interpolation of Pérez et al. 2003 as ``potential + membrane``.

:func:`poisson_blend` solves the guided interpolation for the composite
guidance field (:func:`~insp.ops.poisson.guidance.composite_gradient`: the
source's gradient inside the mask, the target's outside; ``mixed``: the
stronger of the two per edge; ``average``: the SIREN paper's 0.5/0.5 blend)
without a slow gradient-loss fit: the result is a potential (the source, or
the mean of source and target) plus a *membrane* (Farbman et al. 2009
observed that the Poisson blend is the source plus a harmonic membrane),
solved exactly on the output grid and interpolated by a cubic spline
(:mod:`~insp.ops.poisson.membrane`).  The result is a :class:`PoissonBlendField`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..._checks import check_choice, check_int, check_number, check_seed, check_shape
from ...fields.base import Field, field_dtype_device
from ...fields.domain import Domain
from ...fields.fitting import fit
from ...fields.transforms import GridField, Mean, Product, Translated
from .guidance import BLEND_MODES, CompositeGradient
from .membrane import solve_membrane

__all__ = ["BLEND_DEFAULTS", "PoissonBlendField", "poisson_blend"]

#: defaults of :func:`poisson_blend` (see ``docs/poisson.md``)
BLEND_DEFAULTS: dict[str, Any] = dict(fit_steps=300)

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


def poisson_blend(source, target, mask, *, offset=None, mode: str = "replace", shape: Sequence[int] | None = None,
                  fit_steps: int | None = None, seed: int = 0, feather: float = 0.0, progress: bool = True,
                  dtype=None, device=None) -> "PoissonBlendField":
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
    offset : (int, int, ...), optional
        In pixels of the output grid ("ij": rows, columns): source pixel
        ``(i, j)`` lands on target pixel ``(i + di, j + dj)``.  Default: none
        (zeros, one per axis).
    mode : {"replace", "mixed", "average"}
        Guidance inside the mask (see :class:`CompositeGradient`).
    shape : sequence of int, optional
        The output grid (default: the target image's).  Needed with Field
        inputs and a nonzero offset; without it a ``128^d`` (``32^3``) grid
        of the target's domain defines the region and its boundary.
    fit_steps : int, optional
        Steps of the on-the-fly image fits (default :data:`BLEND_DEFAULTS`).
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
        gradient, pixel counts and timings.  An empty mask gives the target
        itself (no potential, no membrane).

    Notes
    -----
    With ``Omega`` the region (grid pixels where the mask is positive) the
    result is ``f = t`` outside and ``f = q + h`` inside: ``q`` the
    *potential* (the source for ``replace`` and ``mixed``, ``(s + t) / 2``
    for ``average``), ``h`` the *membrane* that carries the low frequencies
    (Pérez et al. 2003; Farbman et al. 2009).  ``h`` is solved exactly on the
    output grid, restricted to the region's bounding box plus a margin: with
    the 5-point Laplacian ``L`` (neighbours inside the image only, so image
    borders get the natural Neumann condition, as in the grid baseline)::

        L h = L q - div v     on Omega       (v: the guidance differences along grid edges)
          h = t - q           on dOmega      (the pixels outside Omega with an axis neighbour in it)
        L h = 0               elsewhere in the box (a smooth harmonic extension, box edges Neumann)

    For ``replace`` and ``average`` the guidance is ``q``'s own differences,
    so ``h`` is discrete-harmonic in ``Omega``.  For ``mixed`` the guidance
    of each edge and channel is the source's or the target's difference,
    whichever is larger in magnitude (the grid baseline's rule), and ``h``
    takes the difference from the source's.  Where the source does not cover
    a ring pixel (an offset source image) ``q`` counts as the target there.
    The grid values are one sparse LU solve for all channels; ``h`` is their
    interpolating cubic B-spline (:class:`~insp.fields.transforms.SplineField`),
    so at the grid points ``q + h`` *is* the sparse solution of the same
    problem (to rounding), and between them ``h`` is C2 and differentiated
    exactly by the jet.  With a full mask (no boundary) ``h`` is fixed up to
    a constant, chosen so that the result has the target's mean.  The
    returned field is ``m (q + h) + (1 - m) t`` with ``m`` the (interpolated)
    mask: exactly the target where ``m = 0``; a soft mask blends the Poisson
    solution on its support with the target.

    The steps, each a function of this module: :func:`_blend_settings`
    (options), :func:`_read_inputs` (frames, channels and the mask, checked
    before any fitting), :func:`_input_fields` (on-the-fly fits),
    :func:`~insp.ops.poisson.membrane.solve_membrane` (the box, the sparse solve, the spline),
    :func:`_blend_weight` (mask and feathering).

    Examples
    --------
    A ramp source pasted into a constant target: the ramp has no Laplacian, so
    the result inside is the ramp plus a harmonic correction that meets the
    constant on the boundary ring.

    >>> import numpy as np, torch
    >>> from insp.testing import Polynomial
    >>> s = Polynomial({(1, 0): 1.0}, dtype=torch.float64)                  # a ramp
    >>> t = Polynomial({(0, 0): 0.5}, dtype=torch.float64)                  # a constant
    >>> mask = np.zeros((16, 16), bool); mask[5:11, 5:11] = True
    >>> blend = poisson_blend(s, t, mask, shape=(16, 16), progress=False)
    >>> bool((blend.sample((16, 16))[0] == 0.5).all())                      # outside the mask: the target
    True
    >>> from insp.baselines.poisson import poisson_blend as grid_blend
    >>> ref = grid_blend(s.sample((16, 16)).numpy(), t.sample((16, 16)).numpy(), mask)
    >>> bool(np.abs(blend.sample((16, 16)).numpy() - ref).max() < 1e-12)    # the sparse solve, on the grid
    True
    >>> blend.info["region_pixels"], blend.info["boundary_points"]
    (36, 24)
    """
    t_all = time.perf_counter()
    opts = _blend_settings(mode=mode, fit_steps=fit_steps, feather=feather, seed=seed)
    inp = _read_inputs(source, target, mask, offset=offset, shape=shape)
    info: dict[str, Any] = {}
    tfield, sfield = _input_fields(inp, opts, info, progress=progress, dtype=dtype, device=device)
    pdtype, pdevice = field_dtype_device(tfield)
    if inp.empty:
        info.update(target_field=tfield, source_field=None, mask_field=inp.mask, total_s=time.perf_counter() - t_all)
        return PoissonBlendField(None, None, tfield, inp.mask, info=info)
    mfield = inp.mask.to(dtype=pdtype, device=pdevice)
    comp = CompositeGradient(sfield, tfield, mfield, mode=opts.mode)
    support = inp.on_grid > _MASK_TOL  # not > 0: interpolation round-off leaks ~1e-16 into the mask's neighbours
    q = Mean(sfield, tfield) if opts.mode == "average" else sfield
    info["potential_s"] = 0.0  # the potential is given (kept for callers that add up the timings)

    t0 = time.perf_counter()
    membrane, counts = solve_membrane(sfield, tfield, domain=inp.domain, shape=inp.region_shape, support=support,
                                      source_domain=inp.sdomain, mode=opts.mode, dtype=pdtype, device=pdevice)
    info["membrane_s"] = time.perf_counter() - t0
    weight = _blend_weight(mfield, support, inp.domain, opts.feather)
    info.update(counts)
    info.update(total_s=time.perf_counter() - t_all, target_field=tfield, source_field=sfield, mask_field=mfield,
                composite=comp, potential=q, membrane=membrane)
    return PoissonBlendField(q, membrane, tfield, weight, info=info)


# --------------------------------------------------------------------------- the steps


@dataclass(frozen=True)
class _BlendOptions:
    mode: str
    fit_steps: int
    feather: float
    seed: int


def _blend_settings(*, mode, fit_steps, feather, seed) -> _BlendOptions:
    """The options of :func:`poisson_blend`, ``None`` replaced by :data:`BLEND_DEFAULTS`, all checked."""
    return _BlendOptions(
        mode=check_choice(mode, "mode", BLEND_MODES),
        fit_steps=check_int(BLEND_DEFAULTS["fit_steps"] if fit_steps is None else fit_steps, "fit_steps"),
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
        off = (0.0,) * d if offset is None else tuple(float(o) for o in offset)
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

    ``q`` the potential (the source, or the mean of source and target),
    ``h`` the membrane (a :class:`~insp.fields.transforms.SplineField` on the
    region's box), ``t`` the target, ``m`` the mask field.  For an empty mask
    ``q`` and ``h`` are ``None`` and the field is ``t``.  Derivatives: every
    part is differentiated exactly by the jet (the spline is C2), but the
    mask is piecewise multilinear, so only first derivatives are offered
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
        m = torch.where(m > _MASK_TOL, m, torch.zeros_like(m))  # round-off of the mask's interpolation: outside
        return m * (self.potential(x) + self.membrane(x)) + (1 - m) * self.target(x)


def _sample(field: Field, domain: Domain, shape, dtype, chunk: int = 16384) -> torch.Tensor:
    X = domain.grid(shape, dtype=dtype).reshape(-1, domain.dim)
    _, dev = field_dtype_device(field)
    with torch.no_grad():
        out = torch.cat([field(X[s:s + chunk].to(dev)) for s in range(0, X.shape[0], chunk)])
    return out.reshape(*shape, -1)


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
