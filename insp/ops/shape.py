"""Operators on shapes held as signed-distance fields: normals, curvatures, the eikonal residual, smoothing.

A shape is a 3-D field ``f`` whose zero level set is the surface, negative
inside (:func:`insp.fields.fitting.sdf.fit_sdf`, :mod:`insp.testing.sdf`).
With ``g = grad f`` and ``H`` the Hessian, all from one order-2 jet
(:func:`insp.jet.jet`), the operators here return, at every point ``x``,
properties of the level set of ``f`` through ``x``:

* :func:`normals` -- ``n = g / |g|``, the unit outward normal;
* :func:`mean_curvature` -- ``(|g|^2 tr H - g^T H g) / ((d - 1) |g|^3)``,
  which is ``div(n) / (d - 1)``: ``1 / r`` on a sphere of radius ``r``,
  positive where the surface is convex;
* :func:`gaussian_curvature` -- ``g^T adj(H) g / |g|^4`` (3-D), with
  ``adj(H) = ((tr H)^2 - tr H^2) / 2 I - tr H H + H^2`` (Cayley--Hamilton):
  ``1 / r^2`` on a sphere, ``0`` on a cylinder;
* :func:`eikonal_residual` -- ``|g| - 1``, zero for a true signed distance;
* :func:`smooth_shape` -- smoothing of the surface by time ``t = sigma^2 / 2``
  of the heat equation (``method="heat"``: the Gaussian blur of
  :mod:`insp.ops.gaussian`, by its series) or of level-set mean-curvature flow
  (``method="flow"``: one explicit step ``f + t |g| div(n) =
  f + t (lap f - n^T H n)``).

The distance property
---------------------
A blurred signed distance is no longer one: ``G_sigma * f`` keeps the
zero level set close to a smoothed surface, but ``|grad|`` drops below 1 near
curved parts and far from the surface (the blur of ``|x|`` is flat near 0),
so distances read off the result are off by a factor ``|g|`` (the ratio
``f / |g|`` is the first-order distance).  For an exact SDF ``H n = 0``, so
``n^T H n = 0`` and one flow step equals the one-term heat series: the two
methods differ only where the field is not yet a distance (a fit's noise,
far from the surface).  Neither re-distances; :func:`eikonal_residual`
measures the damage (``benchmarks/shapes.py`` reports it).

Examples
--------
>>> import torch
>>> from insp.testing import SphereSDF, TorusSDF
>>> x = torch.tensor([[0.0, 0.6, 0.0]], dtype=torch.float64)
>>> round(mean_curvature(SphereSDF(0.5, dtype=torch.float64))(x).item(), 6)          # 1 / 0.6
1.666667
>>> t = TorusSDF(0.5, 0.2, dtype=torch.float64)                     # outer equator: k1 = 1/0.1, k2 = 1/0.6
>>> round(gaussian_curvature(t)(x).item(), 6), round(1 / 0.1 / 0.6, 6)
(16.666667, 16.666667)
"""

from __future__ import annotations

import torch

from .._checks import check_choice, check_int, check_number
from ..fields.base import Field, check_field
from ..jet.engine import DEFAULT_JET_CHUNK, check_order
from .gaussian import gaussian_blur
from .linear import OperatorField

__all__ = ["ShapeOperator", "normals", "mean_curvature", "gaussian_curvature", "eikonal_residual",
           "smooth_shape", "SMOOTHING_METHODS"]

#: ``method=`` of :func:`smooth_shape`
SMOOTHING_METHODS = ("heat", "flow")

_KINDS = {"normals": 3, "mean_curvature": 1, "gaussian_curvature": 1, "eikonal_residual": 1, "flow": 1}


def _check_shape_field(field, *, name: str = "field", dim: int | None = 3) -> Field:
    field = check_field(field, name=name, dim=dim)
    if field.out_features != 1:
        raise ValueError(f"{name} must be a one-channel (signed-distance) field, got {field.out_features} channels")
    return field


class ShapeOperator(OperatorField):
    """A property of the level sets of a scalar field, from its order-1 or order-2 jet (see module notes).

    ``kind`` is one of ``"normals"``, ``"mean_curvature"``, ``"gaussian_curvature"``,
    ``"eikonal_residual"``, ``"flow"`` (one mean-curvature-flow step of time ``t``).
    ``eps`` guards ``|g|`` against zero (at a centre or medial axis the
    properties are undefined; they come out finite but meaningless there).

    Examples
    --------
    >>> import torch
    >>> from insp.ops import ShapeOperator
    >>> from insp.testing import SphereSDF
    >>> op = ShapeOperator(SphereSDF(0.5, dtype=torch.float64), "flow", t=0.01)   # one flow step: f + t 2 / |x|
    >>> op(torch.tensor([[0.0, 0.5, 0.0]], dtype=torch.float64)).tolist(), op.name
    ([[0.04]], 'curvature_flow(t=0.01)')
    """

    def __init__(self, inner: Field, kind: str, *, t: float = 0.0, eps: float = 1e-12,
                 jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK):
        check_choice(kind, "kind", tuple(_KINDS))
        _check_shape_field(inner, dim=3 if kind == "gaussian_curvature" else None)
        self.order = 1 if kind in ("normals", "eikonal_residual") else 2
        check_order(inner, self.order)
        super().__init__(inner, _KINDS[kind], jet_method=jet_method, chunk_size=chunk_size)
        self.kind, self.t, self.eps = kind, float(t), float(eps)
        self.name = kind if kind != "flow" else f"curvature_flow(t={self.t:g})"

    def extra_repr(self) -> str:
        return f"kind={self.kind}" + (f", t={self.t:g}" if self.kind == "flow" else "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        J = self._jet(x, self.order)
        g = J.gradient()[..., 0, :]  # (..., d)
        gg = (g * g).sum(-1, keepdim=True)
        norm = torch.sqrt(gg + self.eps**2)
        if self.kind == "normals":
            return g / norm
        if self.kind == "eikonal_residual":
            return norm - 1.0
        H = J.hessian()[..., 0, :, :]  # (..., d, d)
        trace = torch.diagonal(H, dim1=-2, dim2=-1).sum(-1, keepdim=True)
        gHg = torch.einsum("...i,...ij,...j->...", g, H, g)[..., None]
        if self.kind == "flow":  # f + t |g| div(g / |g|) = f + t (lap f - g^T H g / |g|^2)
            return J["f"] + self.t * (trace - gHg / (gg + self.eps**2))
        if self.kind == "mean_curvature":
            return (gg * trace - gHg) / ((x.shape[-1] - 1) * norm**3)
        H2 = H @ H
        tr2 = torch.diagonal(H2, dim1=-2, dim2=-1).sum(-1)[..., None, None]
        eye = torch.eye(3, dtype=H.dtype, device=H.device)
        adj = (trace[..., None] ** 2 - tr2) / 2 * eye - trace[..., None] * H + H2
        return torch.einsum("...i,...ij,...j->...", g, adj, g)[..., None] / norm**4


def normals(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> ShapeOperator:
    """The unit normal ``grad f / |grad f|`` of the level sets of a scalar field (outward for an SDF negative
    inside), 3 channels for a 3-D field.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import normals
    >>> from insp.testing import CylinderSDF
    >>> normals(CylinderSDF(0.3, dtype=torch.float64))(torch.tensor([[0.6, 0.8, 0.5]], dtype=torch.float64)).tolist()
    [[0.6, 0.8, 0.0]]
    """
    return ShapeOperator(field, "normals", jet_method=jet_method, chunk_size=chunk_size)


def mean_curvature(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> ShapeOperator:
    """Mean curvature ``div(n) / (d - 1)`` of the level set through each point (``1 / r`` on a sphere).

    In 2-D it is the curvature of the level curves.  Coordinate units
    (inverse length); positive where the surface is convex seen from outside.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import mean_curvature
    >>> from insp.testing import CylinderSDF
    >>> x = torch.tensor([[0.0, 0.5, 0.1]], dtype=torch.float64)
    >>> mean_curvature(CylinderSDF(0.3, dtype=torch.float64))(x).tolist()      # 1 / (2 * 0.5)
    [[1.0]]
    """
    return ShapeOperator(field, "mean_curvature", jet_method=jet_method, chunk_size=chunk_size)


def gaussian_curvature(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> ShapeOperator:
    """Gaussian curvature ``k1 k2`` of the level surface through each point of a 3-D scalar field.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import gaussian_curvature
    >>> from insp.testing import SphereSDF
    >>> gaussian_curvature(SphereSDF(0.5, dtype=torch.float64))(torch.tensor([[0.0, 0.0, -0.5]],
    ...                                                                      dtype=torch.float64)).tolist()
    [[4.0]]
    """
    return ShapeOperator(field, "gaussian_curvature", jet_method=jet_method, chunk_size=chunk_size)


def eikonal_residual(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> ShapeOperator:
    """``|grad f| - 1``: zero wherever ``f`` is a signed distance.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import eikonal_residual, gaussian_blur
    >>> from insp.testing import Polynomial
    >>> plane = Polynomial({(1, 0, 0): 1.0}, dtype=torch.float64)          # the SDF of the plane x0 = 0
    >>> x = torch.tensor([[0.3, 0.1, -0.2]], dtype=torch.float64)
    >>> eikonal_residual(plane)(x).tolist(), eikonal_residual(2.0 * plane)(x).tolist()
    ([[0.0]], [[1.0]])
    """
    return ShapeOperator(field, "eikonal_residual", jet_method=jet_method, chunk_size=chunk_size)


def smooth_shape(field: Field, *, sigma: float, method: str = "heat", terms: int = 1, jet_method: str = "auto",
                 chunk_size: int = DEFAULT_JET_CHUNK) -> OperatorField:
    """Smooth the surface of a signed-distance field by the time ``t = sigma^2 / 2`` of a diffusion.

    Parameters
    ----------
    field : Field
        3-D (or any dimension for ``"heat"``), one channel.
    sigma : float
        Length scale in coordinate units (the std of the Gaussian for ``"heat"``).
    method : {"heat", "flow"}
        ``"heat"``: the heat series with ``terms`` powers of the Laplacian
        (:func:`~insp.ops.gaussian.gaussian_blur`, ``method="series"``);
        ``terms=1`` is one explicit step ``f + t lap f`` of the heat
        equation.  It is taken as the smoothing itself, so the series'
        convergence check (which would flag every point near the zero level
        set, where ``f`` is small) is off: keep ``sigma`` small against the
        field's feature size (``benchmarks/shapes.py`` chooses it on training
        shapes); ``"flow"``: one step of level-set mean-curvature flow,
        ``f + t (lap f - n^T H n)`` (order-2 jet).
    terms : int
        Heat-series terms (``"heat"`` only).

    Returns
    -------
    Field
        Not a signed distance any more: see the module notes and
        :func:`eikonal_residual`.

    Examples
    --------
    A sphere of radius ``r`` under the flow shrinks by ``t * 2 / r`` (its
    mean-curvature speed); the heat step moves it by the same amount here,
    since ``n^T H n = 0`` for an exact distance:

    >>> import torch
    >>> from insp.ops import smooth_shape
    >>> from insp.testing import SphereSDF
    >>> s = SphereSDF(0.5, dtype=torch.float64)
    >>> x = torch.tensor([[0.5, 0.0, 0.0]], dtype=torch.float64)
    >>> [round(smooth_shape(s, sigma=0.1, method=m)(x).item(), 6) for m in ("heat", "flow")]   # t 2 / r = 0.02
    [0.02, 0.02]
    """
    _check_shape_field(field, dim=3 if method == "flow" else None)
    check_choice(method, "method", SMOOTHING_METHODS)
    sigma = check_number(sigma, "sigma", unit="coordinate units")
    terms = check_int(terms, "terms")
    if method == "heat":
        # the truncated series is the smoothing step itself (an explicit heat step for terms=1), not an
        # approximation of a larger blur, so its last term is meant to be O(t): no convergence check
        return gaussian_blur(field, sigma=sigma, method="series", terms=terms, on_invalid="ignore",
                             jet_method=jet_method, chunk_size=chunk_size)
    return ShapeOperator(field, "flow", t=sigma**2 / 2, jet_method=jet_method, chunk_size=chunk_size)
