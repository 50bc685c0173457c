"""Mesh baselines for shapes: seeded normal noise and ``trimesh.smoothing`` (Laplacian, Taubin, Humphrey).

The counterpart of :mod:`insp.ops.shape`'s smoothing on triangle meshes, as
the mesh-processing world does it; ``trimesh`` is in the ``shapes`` extra.
Meshes in and out are ``(vertices, faces)`` NumPy pairs or ``trimesh.Trimesh``
(returned as ``trimesh.Trimesh``, never modified in place).

Examples
--------
>>> import trimesh
>>> ico = trimesh.creation.icosphere(3)
>>> noisy = add_normal_noise(ico, sigma=0.02, seed=0)
>>> smooth = smooth_mesh(noisy, method="taubin", iterations=10)
>>> noisy.vertices.shape == smooth.vertices.shape == ico.vertices.shape
True
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_number, check_seed

__all__ = ["MESH_SMOOTHERS", "add_normal_noise", "smooth_mesh"]

#: ``method=`` of :func:`smooth_mesh`: the trimesh filter and its parameters (trimesh's defaults)
MESH_SMOOTHERS = {
    "laplacian": ("filter_laplacian", dict(lamb=0.5)),
    "taubin": ("filter_taubin", dict(lamb=0.5, nu=0.5)),
    "humphrey": ("filter_humphrey", dict(alpha=0.1, beta=0.5)),
}


def _trimesh(mesh):
    import trimesh

    from ..metrics import _mesh_arrays

    v, f = _mesh_arrays(mesh, "mesh")
    return trimesh.Trimesh(v.copy(), f.copy(), process=False)


def add_normal_noise(mesh, *, sigma: float, seed: int = 0):
    """Move every vertex along its (area-weighted) vertex normal by ``N(0, sigma^2)``, in the mesh's units.

    The connectivity is kept, so a closed mesh stays closed (at noise far
    below the feature size it also stays free of self-intersections).
    """
    sigma = check_number(sigma, "sigma", strict=False)
    m = _trimesh(mesh)
    rng = np.random.default_rng(check_seed(seed))
    m.vertices = m.vertices + m.vertex_normals * rng.normal(scale=sigma, size=(len(m.vertices), 1))
    return m


def smooth_mesh(mesh, *, method: str = "taubin", iterations: int = 10):
    """``trimesh.smoothing`` filter ``method`` (:data:`MESH_SMOOTHERS`) run ``iterations`` times on a copy."""
    import trimesh.smoothing

    check_choice(method, "method", tuple(MESH_SMOOTHERS))
    iterations = check_int(iterations, "iterations", minimum=0)
    m = _trimesh(mesh)
    if iterations == 0:
        return m
    name, params = MESH_SMOOTHERS[method]
    getattr(trimesh.smoothing, name)(m, iterations=iterations, **params)
    return m
