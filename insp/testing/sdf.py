"""Analytic signed-distance fields: shapes whose normals and curvatures are known in closed form.

Each class is a 3-D :class:`~insp.fields.base.Field` returning the exact
signed distance (negative inside, the convention of ``igl.signed_distance``
and of :func:`insp.fields.fitting.fit_sdf`) and methods with the closed forms
of the *level set through each point*:

* ``normal(x)`` -- the unit outward normal ``grad f``, ``(..., 3)``;
* ``mean_curvature(x)`` -- ``(k1 + k2) / 2``, positive where the surface is
  convex (a sphere of radius ``r``: ``1 / r``), ``(..., 1)``;
* ``gaussian_curvature(x)`` -- ``k1 k2``, ``(..., 1)``.

Shapes: :class:`SphereSDF` (level set at distance ``t``: a sphere of radius
``r + t``), :class:`CylinderSDF` (infinite, along coordinate 2: ``k1 = 1 / rho``,
``k2 = 0``), :class:`TorusSDF` (tube of radius ``r`` around a circle of radius
``R`` in the plane of coordinates 0 and 1: ``k1 = 1 / rho``,
``k2 = cos v / (R + rho cos v)``) and :class:`BoxSDF` (exact, but only
once differentiable on the medial axis and flat on the faces).

The fields are plain torch code (``sqrt`` of sums of squares), so the
derivative engine differentiates them on its general path; they are smooth
away from their centre, axis or core circle.

Examples
--------
>>> import torch
>>> s = SphereSDF(0.5, dtype=torch.float64)
>>> x = torch.tensor([[0.8, 0.0, 0.0]], dtype=torch.float64)
>>> s(x).tolist(), s.mean_curvature(x).tolist(), s.gaussian_curvature(x).tolist()
([[0.30000000000000004]], [[1.25]], [[1.5625]])
"""

from __future__ import annotations

import torch

from .._checks import check_number
from ..fields.base import Field
from ..fields.domain import Domain

__all__ = ["SphereSDF", "CylinderSDF", "TorusSDF", "BoxSDF"]


def _domain(domain) -> Domain:
    if domain is None:
        return Domain.cube(3)
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be an insp.Domain or None, got {type(domain).__name__}")
    if domain.dim != 3:
        raise ValueError(f"domain must be 3-D for a signed-distance shape, got a {domain.dim}-D one")
    return domain


class _AnalyticSDF(Field):
    default_source = "analytic"

    def __init__(self, centre, domain, dtype, device):
        super().__init__(_domain(domain), 1)
        c = torch.as_tensor(centre, dtype=torch.float64)
        if c.shape != (3,) or not torch.isfinite(c).all():
            raise ValueError(f"centre must be 3 finite numbers, got {centre!r}")
        self.register_buffer("centre", c.to(dtype=dtype or torch.get_default_dtype(), device=device))

    def _local(self, x: torch.Tensor) -> torch.Tensor:
        return self.check_points(x) - self.centre.to(x.dtype)


class SphereSDF(_AnalyticSDF):
    """``|x - centre| - radius``."""

    def __init__(self, radius: float = 0.5, *, centre=(0.0, 0.0, 0.0), domain: Domain | None = None, dtype=None,
                 device=None):
        super().__init__(centre, domain, dtype, device)
        self.radius = check_number(radius, "radius")

    def forward(self, x):
        return torch.linalg.vector_norm(self._local(x), dim=-1, keepdim=True) - self.radius

    def normal(self, x):
        p = self._local(x)
        return p / torch.linalg.vector_norm(p, dim=-1, keepdim=True)

    def mean_curvature(self, x):
        return 1.0 / torch.linalg.vector_norm(self._local(x), dim=-1, keepdim=True)

    def gaussian_curvature(self, x):
        return self.mean_curvature(x) ** 2

    def area(self) -> float:
        return 4.0 * torch.pi * self.radius**2

    def volume(self) -> float:
        return 4.0 / 3.0 * torch.pi * self.radius**3


class CylinderSDF(_AnalyticSDF):
    """``sqrt(x0^2 + x1^2) - radius`` (relative to ``centre``): an infinite cylinder along coordinate 2."""

    def __init__(self, radius: float = 0.5, *, centre=(0.0, 0.0, 0.0), domain: Domain | None = None, dtype=None,
                 device=None):
        super().__init__(centre, domain, dtype, device)
        self.radius = check_number(radius, "radius")

    def _rho(self, x):
        return torch.linalg.vector_norm(self._local(x)[..., :2], dim=-1, keepdim=True)

    def forward(self, x):
        return self._rho(x) - self.radius

    def normal(self, x):
        p = self._local(x)
        return torch.cat([p[..., :2] / self._rho(x), torch.zeros_like(p[..., 2:])], dim=-1)

    def mean_curvature(self, x):
        return 0.5 / self._rho(x)

    def gaussian_curvature(self, x):
        return torch.zeros_like(self._rho(x))


class TorusSDF(_AnalyticSDF):
    """``sqrt((sqrt(x0^2 + x1^2) - R)^2 + x2^2) - r``: tube radius ``r`` around a circle of radius ``R``."""

    def __init__(self, major_radius: float = 0.5, minor_radius: float = 0.2, *, centre=(0.0, 0.0, 0.0),
                 domain: Domain | None = None, dtype=None, device=None):
        super().__init__(centre, domain, dtype, device)
        self.major_radius = check_number(major_radius, "major_radius")
        self.minor_radius = check_number(minor_radius, "minor_radius")
        if self.minor_radius >= self.major_radius:
            raise ValueError(f"minor_radius must be below major_radius ({self.major_radius}), "
                             f"got {self.minor_radius}")

    def _parts(self, x):
        p = self._local(x)
        s = torch.linalg.vector_norm(p[..., :2], dim=-1, keepdim=True)  # distance to the axis
        q = torch.cat([s - self.major_radius, p[..., 2:]], dim=-1)  # position in the tube's cross-section
        rho = torch.linalg.vector_norm(q, dim=-1, keepdim=True)
        return p, s, q, rho

    def forward(self, x):
        return self._parts(x)[3] - self.minor_radius

    def normal(self, x):
        p, s, q, rho = self._parts(x)
        radial = p[..., :2] / s
        return torch.cat([radial * q[..., :1], q[..., 1:]], dim=-1) / rho

    def _principal(self, x):
        _, s, q, rho = self._parts(x)
        cos_v = q[..., :1] / rho
        return 1.0 / rho, cos_v / s  # s = R + rho cos v

    def mean_curvature(self, x):
        k1, k2 = self._principal(x)
        return (k1 + k2) / 2

    def gaussian_curvature(self, x):
        k1, k2 = self._principal(x)
        return k1 * k2

    def area(self) -> float:
        return 4.0 * torch.pi**2 * self.major_radius * self.minor_radius

    def volume(self) -> float:
        return 2.0 * torch.pi**2 * self.major_radius * self.minor_radius**2


class BoxSDF(_AnalyticSDF):
    """The exact signed distance to an axis-aligned box of half-extents ``half`` (flat faces: zero curvature)."""

    def __init__(self, half=(0.4, 0.3, 0.2), *, centre=(0.0, 0.0, 0.0), domain: Domain | None = None, dtype=None,
                 device=None):
        super().__init__(centre, domain, dtype, device)
        h = torch.as_tensor(half, dtype=torch.float64)
        if h.shape != (3,) or not torch.isfinite(h).all() or not (h > 0).all():
            raise ValueError(f"half must be 3 positive finite numbers, got {half!r}")
        self.register_buffer("half_extents", h.to(self.centre))

    def forward(self, x):
        q = self._local(x).abs() - self.half_extents.to(x.dtype)
        outside = torch.linalg.vector_norm(q.clamp(min=0.0), dim=-1, keepdim=True)
        inside = q.max(dim=-1, keepdim=True).values.clamp(max=0.0)
        return outside + inside

    def area(self) -> float:
        a, b, c = (2 * self.half_extents).tolist()
        return 2 * (a * b + b * c + a * c)

    def volume(self) -> float:
        return float(torch.prod(2 * self.half_extents))
