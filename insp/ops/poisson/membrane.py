"""The membrane of Poisson blending: the discrete 5-point problem solved on the output grid, as a spline field.

:func:`~insp.ops.poisson.blend.poisson_blend` writes its result as
``potential + membrane``.  This module computes the membrane: the correction
that turns the potential (the source, or the mean of source and target) into
the solution of the 5-point discrete Poisson problem on the output grid.  It
is solved exactly by one sparse LU factorisation on the region's bounding box
(plus a margin) and returned as an interpolating cubic B-spline
(:class:`~insp.fields.transforms.SplineField`), so the blend is again a
continuous, twice-differentiable field that equals the grid solution at the
grid points.  Why this and not a fitted network: ``docs/poisson.md``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ...fields.base import Field, field_dtype_device
from ...fields.domain import Domain
from ...fields.transforms import SplineField

__all__: list[str] = []

#: pixels added on every side of the region's bounding box for the membrane's grid (its spline's support)
BOX_MARGIN = 6


def outer_ring(region: torch.Tensor) -> torch.Tensor:
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


def membrane_grid(Q: np.ndarray, S: np.ndarray, T: np.ndarray, region: np.ndarray, ring: np.ndarray, *,
                  mode: str) -> np.ndarray:
    """The membrane's values ``H`` on a box of the output grid (arrays ``(*box, c)``; ``region``, ``ring`` bool).

    Solves, with ``L`` the 5-point Laplacian over the box's axis neighbours
    (a missing neighbour is dropped: Neumann at the box's edges)::

        L H = r          on region   (r = 0, or the mixed guidance's departure from Q's differences)
          H = T - Q      on ring
        L H = 0          elsewhere

    ``Q`` is the potential, ``S``/``T`` the source/target on the box.  With
    no ring (the region is the whole grid) ``H`` is fixed so that ``Q + H``
    has ``T``'s mean.  One sparse LU factorisation serves every channel.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    shape, c = region.shape, Q.shape[-1]
    n = math.prod(shape)
    idx = np.arange(n).reshape(shape)
    fixed = ring.reshape(-1)
    reg = region.reshape(-1)
    diag = np.zeros(n)
    rows, cols = [], []
    rhs = np.zeros((n, c))
    Sf, Tf = S.reshape(n, c), T.reshape(n, c)
    for k in range(len(shape)):
        a = [slice(None)] * len(shape)
        b = [slice(None)] * len(shape)
        a[k], b[k] = slice(0, shape[k] - 1), slice(1, shape[k])
        for p_sl, q_sl in ((a, b), (b, a)):  # each pixel with its neighbour one step up, then down, axis k
            p, q = idx[tuple(p_sl)].reshape(-1), idx[tuple(q_sl)].reshape(-1)
            keep = ~fixed[p]
            p, q = p[keep], q[keep]
            np.add.at(diag, p, 1.0)
            rows.append(p)
            cols.append(q)
            if mode == "mixed":  # the edge takes the larger difference; H carries where that is the target's
                inner = reg[p]
                dS, dT = Sf[p[inner]] - Sf[q[inner]], Tf[p[inner]] - Tf[q[inner]]
                np.add.at(rhs, p[inner], np.where(np.abs(dS) > np.abs(dT), 0.0, dT - dS))
    diag[fixed] = 1.0
    rhs[fixed] = (T - Q).reshape(n, c)[fixed]
    closed = not fixed.any()
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    vals = -np.ones(rows.size)
    if closed:  # Neumann everywhere: pin one value (the rhs sums to zero), fix the constant below
        keep = rows != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        diag[0], rhs[0] = 1.0, 0.0
    A = sp.csc_matrix((np.concatenate([diag, vals]), (np.concatenate([np.arange(n), rows]),
                                                       np.concatenate([np.arange(n), cols]))), shape=(n, n))
    H = spla.splu(A).solve(rhs)
    if closed:
        H += Tf.mean(0) - (Q.reshape(n, c) + H).mean(0)
    return H.reshape(*shape, c)


def _sample_at(field: Field, X: torch.Tensor, name: str, chunk: int = 16384) -> np.ndarray:
    dtype, device = field_dtype_device(field)
    flat = X.reshape(-1, X.shape[-1]).to(device=device, dtype=dtype)
    with torch.no_grad():
        out = torch.cat([field(flat[s:s + chunk]) for s in range(0, flat.shape[0], chunk)])
    out = out.double().cpu().numpy().reshape(*X.shape[:-1], -1)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} returns NaN or infinite values on the blend region's grid")
    return out


def solve_membrane(source: Field, target: Field, *, domain: Domain, shape, support: torch.Tensor,
                   source_domain: Domain, mode: str, dtype, device, margin: int = BOX_MARGIN):
    """The membrane of :func:`~insp.ops.poisson.blend.poisson_blend` as a :class:`SplineField`, and its counts.

    ``support`` is the region on the grid ``shape`` of ``domain`` (bool);
    ``source``/``target`` the fields in the target's frame (the potential
    is the source, or for ``mode="average"`` the mean of the two), ``source_domain`` where the source is defined (outside it the
    source counts as the target, as in the grid baseline).  The box is the
    region's bounding box grown by ``margin`` pixels (clipped to the grid).
    """
    t0 = time.perf_counter()
    d = len(shape)
    ring = outer_ring(support)
    nz = support.nonzero()
    lo = [max(int(nz[:, k].min()) - margin, 0) for k in range(d)]
    hi = [min(int(nz[:, k].max()) + margin + 1, shape[k]) for k in range(d)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    X = domain.grid(shape, dtype=torch.float64)[box]
    T = _sample_at(target, X, "target")
    S = _sample_at(source, X, "source")
    covered = source_domain.contains(X, atol=1e-9).numpy()
    S[~covered] = T[~covered]
    Q = 0.5 * (S + T) if mode == "average" else S
    H = membrane_grid(Q, S, T, support[box].numpy(), ring[box].numpy(), mode=mode)
    first, last = X[(0,) * d], X[(-1,) * d]
    bounds = tuple((float(first[k]), float(last[k])) for k in range(d))
    membrane = SplineField(torch.as_tensor(H), Domain(bounds)).to(dtype=dtype, device=device)
    membrane.requires_grad_(False)
    counts = dict(region_pixels=int(support.sum()), boundary_points=int(ring.sum()),
                  box=tuple((a, b) for a, b in zip(lo, hi)), solve_s=time.perf_counter() - t0)
    return membrane, counts
