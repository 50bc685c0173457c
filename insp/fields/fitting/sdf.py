"""Fitting shapes: a SIREN signed-distance field from a triangle mesh, a sampled SDF volume or an SDF field.

:func:`fit_sdf` returns a :class:`~insp.fields.inr.Siren` ``f`` with
``f(x)`` the signed distance to the surface at ``x``, *negative inside*, in
the units of the input, on the input's domain (a mesh's: the cube
:meth:`~insp.fields.domain.Domain.around` its bounding box).  The network is
trained on ``u = domain.to_unit(x)`` in ``[-1, 1]^3`` with distances divided
by ``domain.half_width``; at the end the similarity is folded into the first
layer and the output layer (:func:`_fold_domain`), so the returned field takes
mesh coordinates and returns mesh distances, and derivatives (normals,
curvature) come out in mesh units.

Training points
---------------
A pool drawn once (``samples`` points, seeded): a third on the surface
(uniform by area, with the faces' normals), a third near it (surface points
moved by ``N(0, near^2)`` per axis, half with ``near[0]``, half with
``near[1]``, in unit coordinates) and a third uniform in the domain.
Ground-truth signed distances at every pool point come from
:func:`mesh_signed_distance` (``igl.signed_distance`` from the ``libigl``
wheel, else ``trimesh.proximity.signed_distance``, which needs ``rtree``),
from trilinear interpolation of a volume, or from the field given.

Recipes (``recipe=``)
---------------------
* ``"regression"`` (default) -- mean squared error to the true distance on
  every batch point, plus ``eikonal_weight`` times the eikonal penalty
  ``(|grad f| - 1)^2``.  Measured better than ``"siren"`` on Chamfer
  distance at equal time (``benchmarks/shapes.py``, ``docs/shapes.md``).
* ``"siren"`` -- the losses of Sitzmann et al. 2020 (Sec. 4.2), which need
  only the surface and its normals: ``|f|`` and ``1 - cos(grad f, n)`` on
  surface points, ``exp(-alpha |f|)`` off the surface and the eikonal term
  everywhere, with the paper's weights (:data:`SIREN_LOSS_WEIGHTS`).  Off
  the surface it uses no ground truth, so it also fits open or non-watertight
  scans (pass ``check_watertight=False``).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch

from ..._checks import check_callable, check_choice, check_int, check_number, check_seed
from ..base import Field, field_dtype_device
from ..domain import Domain
from ..inr import Siren
from ..provenance import Provenance
from ..transforms import GridField
from .loop import BatchSampler, FitHistory, TrainingLoop

__all__ = ["fit_sdf", "SDF_DEFAULTS", "SDF_RECIPES", "SIREN_LOSS_WEIGHTS", "mesh_signed_distance", "as_mesh",
           "check_watertight"]

#: ``recipe=`` of :func:`fit_sdf`
SDF_RECIPES = ("regression", "siren")

#: defaults of :func:`fit_sdf` (measured in ``benchmarks/shapes.py``; about a minute on 2 cores)
SDF_DEFAULTS: dict[str, Any] = dict(
    hidden_features=64, hidden_layers=3, first_omega_0=15.0, hidden_omega_0=30.0,
    steps=600, lr=1e-3, final_lr_ratio=0.0, batch_size=4096, samples=100_000, near=(0.01, 0.05),
    eikonal_weight=0.05, margin=0.1,
)

#: the weights of Sitzmann et al. 2020's SDF losses (surface value, normal, eikonal, off-surface) and alpha
SIREN_LOSS_WEIGHTS = dict(surface=3e3, normal=1e2, eikonal=5e1, off_surface=1e2, alpha=100.0)


# --------------------------------------------------------------------------- meshes


def as_mesh(mesh, *, name: str = "mesh") -> tuple[np.ndarray, np.ndarray]:
    """``(vertices (V, 3) float64, faces (F, 3) int64)`` of a ``trimesh.Trimesh``, any object with ``.vertices``
    and ``.faces``, a ``(vertices, faces)`` pair, or a path to a mesh file (read by ``trimesh``)."""
    from ...metrics import _mesh_arrays

    if isinstance(mesh, (str, bytes)) or hasattr(mesh, "__fspath__"):
        import trimesh

        mesh = trimesh.load(mesh, force="mesh", process=False)
    return _mesh_arrays(mesh, name)


def check_watertight(vertices: np.ndarray, faces: np.ndarray, *, name: str = "mesh") -> None:
    """Raise ``ValueError`` unless every edge of the mesh is shared by exactly two faces, once in each direction
    (closed, consistently oriented: inside and outside are defined)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed, counts = np.unique(e, axis=0, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} is not consistently oriented (an edge is used twice in the same direction); "
                         f"fix the winding (trimesh: mesh.fix_normals())")
    key = np.sort(directed, axis=1)
    _, undirected = np.unique(key, axis=0, return_counts=True)
    if (undirected != 2).any():
        raise ValueError(f"{name} is not watertight ({int((undirected != 2).sum())} edges are not shared by exactly "
                         f"two faces): the signed distance needs an inside; repair it, or use recipe='siren' with "
                         f"check_watertight=False")


def mesh_signed_distance(vertices, faces, points) -> np.ndarray:
    """Signed distance from ``points`` ``(n, 3)`` to a closed triangle mesh, negative inside, ``(n,)`` float64.

    Uses ``igl.signed_distance`` (the ``libigl`` wheel; winding-number sign)
    when it imports, else ``trimesh.proximity.signed_distance`` (needs
    ``rtree``; its sign, positive inside, is flipped).

    Examples
    --------
    >>> import trimesh
    >>> box = trimesh.creation.box((2.0, 2.0, 2.0))
    >>> mesh_signed_distance(box.vertices, box.faces, [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]]).round(6).tolist()
    [-1.0, 2.0]
    """
    v = np.ascontiguousarray(vertices, dtype=np.float64)
    f = np.ascontiguousarray(faces, dtype=np.int64)
    p = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    try:
        import igl
    except ImportError:
        igl = None
    if igl is not None:
        s = igl.signed_distance(p, v, f)[0]
        return np.asarray(s, dtype=np.float64)
    try:
        import trimesh
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("mesh_signed_distance needs libigl, or trimesh with rtree: pip install 'insp[shapes]'") \
            from None
    mesh = trimesh.Trimesh(v, f, process=False)
    return -np.asarray(trimesh.proximity.signed_distance(mesh, p), dtype=np.float64)


# --------------------------------------------------------------------------- targets


class _Target:
    """What the fit learns: a surface sample with normals and the true signed distance at any point (both in
    the input's units), on ``domain``."""

    def __init__(self, domain: Domain, surface: tuple[np.ndarray, np.ndarray], distance: Callable, kind: str):
        self.domain, self.surface, self.distance, self.kind = domain, surface, distance, kind


def _target(shape, domain, margin, check_closed: bool, recipe: str) -> _Target:
    if isinstance(shape, Field):
        from ..surface import extract_surface

        if shape.in_features != 3 or shape.out_features != 1:
            raise ValueError(f"shape must be a 3-D one-channel field, got in_features={shape.in_features}, "
                             f"out_features={shape.out_features}")
        if domain is not None and domain != shape.domain:
            raise ValueError(f"domain {domain.bounds} differs from shape.domain {shape.domain.bounds}")
        surf = extract_surface(shape, (64, 64, 64))
        pdtype, pdevice = field_dtype_device(shape)

        def distance(p):
            with torch.no_grad():
                return shape(torch.as_tensor(p, dtype=pdtype, device=pdevice))[..., 0].double().cpu().numpy()

        return _Target(shape.domain, (surf.vertices, surf.faces), distance, "field")
    if isinstance(shape, (np.ndarray, torch.Tensor)) and np.ndim(shape) == 3:
        from ..surface import extract_surface

        vol = torch.as_tensor(np.asarray(shape.detach().cpu() if isinstance(shape, torch.Tensor) else shape),
                              dtype=torch.float64)
        if min(vol.shape) < 2:
            raise ValueError(f"shape (an SDF volume) must have at least 2 samples per axis, got {tuple(vol.shape)}")
        if not torch.isfinite(vol).all():
            raise ValueError("shape (an SDF volume) contains NaN or infinite values")
        domain = Domain.cube(3) if domain is None else domain
        if not isinstance(domain, Domain) or domain.dim != 3:
            raise ValueError(f"domain must be a 3-D insp.Domain, got {domain!r}")
        grid = GridField(vol, domain)
        surf = extract_surface(grid, tuple(vol.shape))

        def distance(p):
            with torch.no_grad():
                return grid(torch.as_tensor(p, dtype=torch.float64))[..., 0].numpy()

        return _Target(domain, (surf.vertices, surf.faces), distance, "volume")
    if isinstance(shape, (np.ndarray, torch.Tensor)):
        raise ValueError(f"shape as an array must be a 3-D SDF volume (D, H, W), got shape {tuple(np.shape(shape))}")
    v, f = as_mesh(shape, name="shape")
    if check_closed:
        check_watertight(v, f, name="shape")
    if domain is None:
        domain = Domain.around(v, margin=margin)
    elif not isinstance(domain, Domain) or domain.dim != 3:
        raise ValueError(f"domain must be a 3-D insp.Domain, got {domain!r}")
    return _Target(domain, (v, f), lambda p: mesh_signed_distance(v, f, p), "mesh")


def _pool(target: _Target, samples: int, near, rng: np.random.Generator, with_truth: bool):
    """Unit-coordinate training points, their unit-scale distances, and the surface part with its normals."""
    from ...metrics import sample_surface

    dom = target.domain
    c, s = np.array(dom.centre), dom.half_width
    n_surf = samples // 3
    n_near = samples // 3
    n_unif = samples - n_surf - n_near
    ps, ns = sample_surface(target.surface, n_surf, seed=int(rng.integers(2**31)))
    us = (ps - c) / s
    base = us[rng.integers(0, n_surf, n_near)]
    scale = np.where(np.arange(n_near)[:, None] < n_near // 2, near[0], near[1])
    un = base + rng.normal(size=base.shape) * scale
    lo = (np.array([b[0] for b in dom.bounds]) - c) / s
    hi = (np.array([b[1] for b in dom.bounds]) - c) / s
    uu = lo + rng.random((n_unif, 3)) * (hi - lo)
    off = np.concatenate([un, uu])
    d_off = target.distance(off * s + c) / s if with_truth else np.full(len(off), np.nan)
    return us, ns, off, d_off


# --------------------------------------------------------------------------- the fit


def _value_and_gradient(model: Siren, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``f(x)`` ``(n,)`` and ``grad f(x)`` ``(n, 3)`` of a SIREN by forward tangents through its layers.

    The three tangents ride along the forward pass (``(n, 3, width)``), so the
    eikonal and normal losses cost about four forward passes and one backward
    pass, instead of the double backward of ``autograd.grad(create_graph=True)``
    (ten times slower here on CPU).
    """
    layers = list(model.net)
    z = x
    t = torch.eye(3, dtype=x.dtype, device=x.device).expand(x.shape[0], 3, 3)  # d z / d x, (n, 3, in)
    for k in range(0, len(layers) - 2, 2):
        lin, act = layers[k], layers[k + 1]
        pre = act.omega_0 * lin(z)
        z = torch.sin(pre)
        t = act.omega_0 * torch.cos(pre)[:, None, :] * (t @ lin.weight.T)
    out, affine = layers[-2], layers[-1]
    y = affine(out(z))[:, 0]
    g = (t @ out.weight.T)[..., 0] * affine.scale[0]
    return y, g


def _fold_domain(model: Siren, domain: Domain) -> None:
    """Make a SIREN trained on ``u = domain.to_unit(x)`` with distances in units of ``half_width`` take ``x``
    and return distances in the domain's units (first layer ``W / s``, ``b - W c / s``; output times ``s``)."""
    first, affine = model.net[0], model.value_affine
    c = torch.tensor(domain.centre, dtype=torch.float64)
    s = domain.half_width
    with torch.no_grad():
        W, b = first.weight.double(), first.bias.double()
        first.bias.copy_((b - W @ c / s).to(first.bias))
        first.weight.copy_((W / s).to(first.weight))
        affine.scale.mul_(s)
        affine.shift.mul_(s)
    model.domain = domain


def fit_sdf(shape, *, recipe: str = "regression", domain: Domain | None = None, model: Siren | None = None,
            steps: int | None = None, lr: float | None = None, batch_size: int | None = None,
            samples: int | None = None, near=None, eikonal_weight: float | None = None, margin: float | None = None,
            check_watertight: bool = True, seed: int = 0, time_limit: float | None = None, progress: bool = True,
            callback: Callable | None = None, log_every: int = 50, dtype=None, device=None) -> tuple[Siren, FitHistory]:
    """Fit a SIREN signed-distance field to a shape (see the module notes for the recipes and the points).

    Parameters
    ----------
    shape : mesh, path, SDF volume or Field
        A closed triangle mesh (``trimesh.Trimesh``, ``(vertices, faces)``,
        or a file ``trimesh`` reads); or a 3-D array of signed distances
        (negative inside) on the grid ``linspace(low, high, n)`` of
        ``domain``; or a 3-D one-channel Field that is a signed distance.
    recipe : {"regression", "siren"}
    domain : Domain, optional
        Where the field lives, in the input's units.  Default: for a mesh,
        ``Domain.around(vertices, margin=margin)``; for a volume ``[-1, 1]^3``;
        for a Field its own domain.
    model : Siren, optional
        Trained in place (its domain is replaced).  Default: a SIREN of
        :data:`SDF_DEFAULTS` sizes seeded with ``seed``.
    steps, lr, batch_size : optimisation (Adam, cosine decay to 0), defaults in :data:`SDF_DEFAULTS`.
    samples : int
        Size of the training pool.
    near : (float, float)
        Standard deviations of the near-surface points, unit coordinates.
    eikonal_weight : float
        Weight of ``(|grad f| - 1)^2`` in ``"regression"`` (0 turns it off and
        halves the cost of a step).
    margin : float
        Of the default domain around a mesh.
    check_watertight : bool
        Refuse a mesh that is not closed (the distance's sign needs an inside).
    seed, time_limit, progress, callback, log_every
        As in :func:`~insp.fields.fitting.fit` (``callback(record, model)``;
        ``record`` has ``step``, ``loss``, ``time``).
    dtype, device
        Of the default model.

    Returns
    -------
    field : Siren
        Mesh coordinates in, signed distance in mesh units out; provenance
        ``source="fit_sdf"`` with the recipe and ``recipe["quality"]``: the
        mean absolute error of the distance on held-out near-surface points
        (``near_abs_error``, mesh units) and the mean eikonal residual
        ``| |grad f| - 1 |`` on held-out uniform points.
    history : FitHistory

    Examples
    --------
    >>> import torch
    >>> from insp.testing import SphereSDF
    >>> threads = torch.get_num_threads(); torch.set_num_threads(1)   # faster on a busy 2-core machine
    >>> f, hist = fit_sdf(SphereSDF(0.5), steps=150, samples=3000, batch_size=1024, progress=False)
    >>> torch.set_num_threads(threads)
    >>> f.provenance.source, f.domain.bounds[0]
    ('fit_sdf', (-1.0, 1.0))
    >>> x = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.7, 0.0], [0.0, 0.0, 0.4]])
    >>> err = (f(x) - torch.tensor([[0.0], [0.2], [-0.1]])).abs()
    >>> bool(err.max() < 0.05)
    True
    """
    t_start = time.perf_counter()
    check_choice(recipe, "recipe", SDF_RECIPES)

    def opt(value, key):
        return SDF_DEFAULTS[key] if value is None else value

    steps = check_int(opt(steps, "steps"), "steps", minimum=0)
    lr = check_number(opt(lr, "lr"), "lr")
    batch_size = check_int(opt(batch_size, "batch_size"), "batch_size")
    samples = check_int(opt(samples, "samples"), "samples", minimum=30)
    eikonal_weight = check_number(opt(eikonal_weight, "eikonal_weight"), "eikonal_weight", strict=False)
    margin = check_number(opt(margin, "margin"), "margin", strict=False)
    near = tuple(opt(near, "near"))
    if len(near) != 2:
        raise ValueError(f"near must be two standard deviations, got {near!r}")
    near = tuple(check_number(v, "near") for v in near)
    time_limit = check_number(time_limit, "time_limit", allow_none=True)
    log_every = check_int(log_every, "log_every")
    seed = check_seed(seed)
    check_callable(callback, "callback")
    if domain is not None and not isinstance(domain, Domain):
        raise TypeError(f"domain must be an insp.Domain, got {type(domain).__name__}")

    target = _target(shape, domain, margin, check_watertight, recipe)
    rng = np.random.default_rng(seed)
    us, ns, off, d_off = _pool(target, samples, near, rng, with_truth=recipe == "regression")

    if model is None:
        model = Siren(3, 1, hidden_features=SDF_DEFAULTS["hidden_features"],
                      hidden_layers=SDF_DEFAULTS["hidden_layers"], first_omega_0=SDF_DEFAULTS["first_omega_0"],
                      hidden_omega_0=SDF_DEFAULTS["hidden_omega_0"], seed=seed, dtype=dtype, device=device)
    elif not isinstance(model, Siren) or model.in_features != 3 or model.out_features != 1:
        raise TypeError("model must be an insp.Siren with 3 inputs and 1 output")
    model.domain = Domain.cube(3)
    pdtype, pdevice = field_dtype_device(model)

    def tensor(a):
        return torch.as_tensor(np.asarray(a), dtype=pdtype, device=pdevice)

    U_s, N_s, U_o, D_o = tensor(us), tensor(ns), tensor(off), tensor(d_off)
    D_s = torch.zeros(len(U_s), dtype=pdtype, device=pdevice)
    gen = torch.Generator().manual_seed(seed)
    half = max(1, batch_size // 2)
    surf_sampler = BatchSampler(len(U_s), half, generator=gen, device=pdevice, scheme="subset")
    off_sampler = BatchSampler(len(U_o), batch_size - half, generator=gen, device=pdevice, scheme="subset")
    w = SIREN_LOSS_WEIGHTS
    history = FitHistory(data_range=1.0, config=dict(recipe=recipe, steps=steps, lr=lr, batch_size=batch_size,
                                                     samples=samples, near=list(near), seed=seed,
                                                     eikonal_weight=eikonal_weight, target=target.kind))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loop = TrainingLoop(optimizer, steps=steps, lr=lr, final_lr_ratio=SDF_DEFAULTS["final_lr_ratio"],
                        time_limit=time_limit, progress=progress, desc="fit_sdf", callback=callback, subject=model)

    def step_fn(step, t_now):
        i_s, i_o = surf_sampler.next(), off_sampler.next()
        need_grad = recipe == "siren" or eikonal_weight > 0
        x = torch.cat([U_s[i_s], U_o[i_o]])
        ns_ = len(i_s)
        if need_grad:
            y, g = _value_and_gradient(model, x)
            eik = ((g.norm(dim=-1) - 1) ** 2).mean()
        else:
            y = model(x)[:, 0]
        if recipe == "regression":
            target_d = torch.cat([D_s[i_s], D_o[i_o]])
            loss = ((y - target_d) ** 2).mean() + (eikonal_weight * eik if need_grad else 0.0)
        else:
            cos = torch.nn.functional.cosine_similarity(g[:ns_], N_s[i_s], dim=-1)
            loss = (w["surface"] * y[:ns_].abs().mean() + w["normal"] * (1 - cos).mean() + w["eikonal"] * eik
                    + w["off_surface"] * torch.exp(-w["alpha"] * y[ns_:].abs()).mean())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        rec = dict(step=step, loss=float(loss.detach()), time=t_now)
        if step % log_every == 0 or step + 1 == steps:
            history.step.append(step)
            history.loss.append(rec["loss"])
            history.time.append(t_now)
        return rec

    was_training = model.training
    model.train()
    try:
        stop = loop.run(step_fn)
    finally:
        model.train(was_training)
    model.eval()
    history.close(loop.done, stop, t_start)
    quality = _quality(model, target, near, rng)
    _fold_domain(model, target.domain)
    model.provenance = Provenance(
        source="fit_sdf", domain=target.domain.bounds,
        recipe=dict(architecture="siren", config=model.config(), recipe=recipe, steps=history.steps, lr=lr,
                    batch_size=batch_size, samples=samples, near=list(near), eikonal_weight=eikonal_weight,
                    seed=seed, time_limit=time_limit, stopped=history.stopped, target=target.kind,
                    seconds=history.wall_time, quality=quality))
    return model, history


def _quality(model: Siren, target: _Target, near, rng) -> dict:
    """Held-out checks before the domain is folded in (unit coordinates; errors reported in the input's units)."""
    s = target.domain.half_width
    us, _, off, d_off = _pool(target, 3000, (near[0], near[0]), rng, with_truth=True)
    pdtype, pdevice = field_dtype_device(model)
    n_near = len(off) // 2
    x = torch.as_tensor(off, dtype=pdtype, device=pdevice).requires_grad_(True)
    y = model(x)[:, 0]
    g = torch.autograd.grad(y.sum(), x)[0]
    y = y.detach().double().cpu().numpy()
    eik = (g.norm(dim=-1) - 1).abs().double().cpu().numpy()
    return dict(near_abs_error=float(np.abs(y[:n_near] - d_off[:n_near]).mean() * s),
                uniform_abs_error=float(np.abs(y[n_near:] - d_off[n_near:]).mean() * s),
                eikonal_residual=float(eik[n_near:].mean()))
