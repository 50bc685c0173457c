"""Surfaces out of 3-D fields: the zero level set by marching cubes, in bounded memory, and mesh files.

:func:`extract_surface` samples a field on the grid ``linspace(low, high, n)``
of each axis slab by slab (:func:`~insp.fields.base.sample_blocks`: ``rows``
planes of axis 0 at a time), runs ``skimage.measure.marching_cubes`` on each
slab plus the last plane of the one before, and joins the pieces, merging the
vertices that two slabs share.  Memory is bounded by one slab whatever the
grid (a 1024^3 extraction holds ``rows * 1024^2`` values at a time, plus the
mesh), and the mesh equals the one of a single unchunked call (same vertices,
same triangles; see ``tests/test_shapes.py``).

Conventions: the field is a signed distance (or any implicit function)
*negative inside*; triangles are wound counter-clockwise seen from outside,
so face normals and :attr:`Surface.normals` point out (towards increasing
values) and :meth:`Surface.volume` is positive.  Vertices are in the field's
coordinates (a field fitted by :func:`~insp.fields.fitting.sdf.fit_sdf` has
its domain in the mesh's units, so the surface comes back in them).

Examples
--------
>>> import torch
>>> from insp.testing import SphereSDF
>>> s = extract_surface(SphereSDF(0.5, dtype=torch.float64), (48, 48, 48))
>>> round(s.area() / (4 * 3.14159265 * 0.25), 2), round(s.volume() / (4 / 3 * 3.14159265 * 0.125), 2)
(1.0, 1.0)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .._checks import check_int, check_number, check_shape
from .base import DEFAULT_CHUNK_SIZE, check_field, sample_blocks

__all__ = ["Surface", "extract_surface", "render_surface", "MESH_FORMATS"]

#: file formats :meth:`Surface.save` writes (by suffix)
MESH_FORMATS = (".obj", ".ply")

#: values held per slab when ``rows`` is not given (about 16 MB in float32)
_SLAB_POINTS = 1 << 22


@dataclass
class Surface:
    """A triangle mesh: ``vertices (V, 3)`` float64, ``faces (F, 3)`` int64, ``normals (V, 3)`` (unit, outward)."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray

    @property
    def face_normals(self) -> np.ndarray:
        """Unit normals of the triangles from their winding, ``(F, 3)``."""
        cross = self._cross()
        n = np.linalg.norm(cross, axis=1, keepdims=True)
        return np.divide(cross, n, out=np.zeros_like(cross), where=n > 0)

    def _cross(self) -> np.ndarray:
        a, b, c = (self.vertices[self.faces[:, k]] for k in range(3))
        return np.cross(b - a, c - a)

    def area(self) -> float:
        """Total area of the triangles."""
        return float(np.linalg.norm(self._cross(), axis=1).sum() / 2)

    def volume(self) -> float:
        """Enclosed volume by the divergence theorem (positive for outward winding of a closed mesh)."""
        a = self.vertices[self.faces[:, 0]]
        return float(np.einsum("ij,ij->", a, self._cross()) / 6)

    def to_trimesh(self):
        """The same mesh as a ``trimesh.Trimesh`` (needs ``trimesh``: the ``shapes`` extra)."""
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, vertex_normals=self.normals, process=False)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the mesh as Wavefront OBJ or ASCII PLY (by the suffix of ``path``, :data:`MESH_FORMATS`)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in MESH_FORMATS:
            raise ValueError(f"path must end in one of {MESH_FORMATS}, got {str(path)!r}")
        v, f, n = self.vertices, self.faces, self.normals
        with open(path, "w", encoding="ascii") as out:
            if suffix == ".obj":
                out.write("# written by insp\n")
                np.savetxt(out, v, fmt="v %.9g %.9g %.9g")
                np.savetxt(out, n, fmt="vn %.6g %.6g %.6g")
                np.savetxt(out, np.repeat(f + 1, 2, axis=1)[:, [0, 1, 2, 3, 4, 5]], fmt="f %d//%d %d//%d %d//%d")
            else:
                out.write(f"ply\nformat ascii 1.0\ncomment written by insp\nelement vertex {len(v)}\n"
                          "property float x\nproperty float y\nproperty float z\n"
                          "property float nx\nproperty float ny\nproperty float nz\n"
                          f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n")
                np.savetxt(out, np.hstack([v, n]), fmt="%.9g %.9g %.9g %.6g %.6g %.6g")
                np.savetxt(out, np.hstack([np.full((len(f), 1), 3), f]), fmt="%d %d %d %d")
        return path


def _merge_vertices(vertices: np.ndarray, normals: np.ndarray, faces: np.ndarray):
    """Identify bit-identical vertices (those on the plane two slabs share) and drop the copies."""
    uniq, first, inverse = np.unique(vertices, axis=0, return_index=True, return_inverse=True)
    return uniq, normals[first], inverse.reshape(-1)[faces]


def extract_surface(field, shape: Sequence[int], *, level: float = 0.0, rows: int | None = None,
                    chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = False) -> Surface:
    """The level set ``field = level`` of a 3-D field as a triangle mesh (marching cubes, slab by slab).

    Parameters
    ----------
    field : Field
        A 3-D field with one channel (a signed distance, negative inside).
    shape : three ints
        Grid samples per axis (``linspace(low, high, n)`` of the field's
        domain), any size: only ``rows`` planes are held at a time.
    level : float
        The iso-value.
    rows : int, optional
        Planes of axis 0 per slab (default: about 4 million values per slab).
        The mesh does not depend on it.
    chunk_size : int
        Points per field evaluation (:func:`~insp.fields.base.sample`).
    progress : bool
        A progress bar over slabs.

    Returns
    -------
    Surface
        Vertices in the field's coordinates; outward winding and normals.
        Raises ``ValueError`` if the level set does not cross the grid.

    Examples
    --------
    >>> import torch
    >>> from insp.testing import TorusSDF
    >>> t = TorusSDF(0.5, 0.2, dtype=torch.float64)
    >>> a = extract_surface(t, (40, 40, 24))
    >>> b = extract_surface(t, (40, 40, 24), rows=7)             # seven planes at a time: the same mesh
    >>> a.faces.shape == b.faces.shape and bool(abs(a.area() - b.area()) < 1e-6)
    True
    """
    from skimage.measure import marching_cubes

    field = check_field(field, dim=3)
    if field.out_features != 1:
        raise ValueError(f"field must have one output channel, got {field.out_features}")
    shape = check_shape(shape, 3)
    if min(shape) < 2:
        raise ValueError(f"shape must have at least 2 samples per axis, got {shape}")
    level = check_number(level, "level", minimum=None)
    rows = check_int(rows, "rows", allow_none=True) or max(1, _SLAB_POINTS // (shape[1] * shape[2]))
    lo = np.array([b[0] for b in field.domain.bounds])
    step = np.array(field.domain.spacing(shape))
    blocks = sample_blocks(field, shape, rows=rows, chunk_size=chunk_size)
    if progress:
        from tqdm.auto import tqdm

        blocks = tqdm(blocks, total=math.ceil(shape[0] / rows), desc="marching cubes", unit="slab", leave=False)
    verts, norms, faces = [], [], []
    count, start, prev = 0, 0, None  # start: grid index of the slab's first plane
    vmin, vmax = math.inf, -math.inf
    for block in blocks:
        block = block[..., 0].detach().to("cpu", torch.float64).numpy()
        slab = block if prev is None else np.concatenate([prev, block])
        if not np.isfinite(slab).all():
            raise ValueError("field returned NaN or infinite values on the grid")
        vmin, vmax = min(vmin, float(block.min())), max(vmax, float(block.max()))
        if slab.shape[0] >= 2 and slab.min() < level < slab.max():
            v, f, n, _ = marching_cubes(slab, level=level, gradient_direction="descent")
            if len(f):
                v = v.astype(np.float64)
                v[:, 0] += start
                verts.append(v)
                norms.append(-n.astype(np.float64))  # skimage points them down the gradient
                faces.append(f.astype(np.int64) + count)
                count += len(v)
        start += slab.shape[0] - 1
        prev = block[-1:]
    if not faces:
        raise ValueError(f"the level set {level} does not cross the grid of shape {shape}: the field spans "
                         f"[{vmin:.4g}, {vmax:.4g}] there")
    v, n, f = _merge_vertices(np.concatenate(verts), np.concatenate(norms), np.concatenate(faces))
    n = np.divide(n, step, out=np.zeros_like(n))  # index-space gradient -> coordinate-space direction
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
    return Surface(lo + v * step, f, n)


def render_surface(surface: Surface, *, ax=None, values=None, cmap: str = "coolwarm", view=(20.0, -60.0),
                   color=(0.7, 0.75, 0.85), vmin: float | None = None, vmax: float | None = None):
    """Draw a mesh with matplotlib (Lambert shading, or per-vertex ``values`` through ``cmap``).

    Parameters
    ----------
    surface : Surface or any object with ``.vertices`` and ``.faces``
    ax : a 3-D matplotlib axis, optional (a new figure when omitted)
    values : ``(V,)`` array, optional
        Colours per vertex (averaged per face), e.g. mean curvature.
    view : (elevation, azimuth) in degrees

    Returns
    -------
    The axis.
    """
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    v, f = np.asarray(surface.vertices, dtype=np.float64), np.asarray(surface.faces)
    if ax is None:
        ax = plt.figure(figsize=(4, 4)).add_subplot(projection="3d")
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fn = cross / np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-300)
    elev, azim = np.radians(view[0]), np.radians(view[1])
    light = np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
    shade = 0.35 + 0.65 * np.clip(fn @ light, 0, 1)[:, None]
    if values is None:
        rgb = np.asarray(color)[None, :] * shade
    else:
        fv = np.asarray(values, dtype=np.float64).reshape(-1)[f].mean(axis=1)
        lo_v = np.nanpercentile(fv, 2) if vmin is None else vmin
        hi_v = np.nanpercentile(fv, 98) if vmax is None else vmax
        rgb = colormaps[cmap](np.clip((fv - lo_v) / max(hi_v - lo_v, 1e-12), 0, 1))[:, :3] * (0.5 + 0.5 * shade)
    ax.add_collection3d(Poly3DCollection(tri, facecolors=np.clip(rgb, 0, 1), edgecolors="none"))
    mid, half = (v.max(0) + v.min(0)) / 2, (v.max(0) - v.min(0)).max() / 2
    for k, setter in enumerate((ax.set_xlim, ax.set_ylim, ax.set_zlim)):
        setter(mid[k] - half, mid[k] + half)
    ax.view_init(elev=view[0], azim=view[1])
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    return ax
