"""Domains: the box a field lives on and the grids it is sampled on.

Conventions (fixed once for the whole library):

* each axis spans ``[low, high]``, ``[-1, 1]`` by default;
* a grid of ``n`` samples along an axis is ``linspace(low, high, n)``, endpoints
  included, so the pixel spacing is ``h = (high - low) / (n - 1)``;
* coordinate ``k`` corresponds to array axis ``k`` ("ij" indexing): for an image
  array ``img[i, j]``, coordinate 0 runs down the rows and coordinate 1 along
  the columns.

A domain may be in the units of the data (a shape's domain is its mesh's
bounding box, in the mesh's units: :meth:`Domain.around`); networks see it
through :meth:`Domain.to_unit`, the similarity onto ``[-1, 1]^d`` (one scale
for every axis, so distances scale by one factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .._checks import check_shape
from ..units import pixel_spacing

__all__ = ["Domain"]


@dataclass(frozen=True)
class Domain:
    """An axis-aligned box ``[low_0, high_0] x ... x [low_{d-1}, high_{d-1}]``.

    Parameters
    ----------
    bounds : sequence of (low, high) pairs
        Extent of each coordinate axis, in the order of the array axes.

    Examples
    --------
    >>> d = Domain.cube(2)
    >>> d.grid((3, 2))[..., 0]
    tensor([[-1., -1.],
            [ 0.,  0.],
            [ 1.,  1.]])
    >>> d.spacing((257, 129))
    (0.0078125, 0.015625)
    """

    bounds: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        try:
            bounds = tuple((float(lo), float(hi)) for lo, hi in self.bounds)
        except (TypeError, ValueError):
            raise TypeError(f"bounds must be a sequence of (low, high) pairs, got {self.bounds!r}") from None
        if not bounds:
            raise ValueError("bounds must name at least one axis")
        for k, (lo, hi) in enumerate(bounds):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"bounds[{k}] must be finite with low < high, got {(lo, hi)}")
        object.__setattr__(self, "bounds", bounds)

    @classmethod
    def cube(cls, dim: int, low: float = -1.0, high: float = 1.0) -> "Domain":
        """The box ``[low, high]^dim`` (``[-1, 1]^dim`` by default)."""
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        return cls(((low, high),) * dim)

    @classmethod
    def around(cls, points, *, margin: float = 0.1) -> "Domain":
        """The cube around the bounding box of ``points`` (``(n, d)``), its half side ``1 + margin`` times the
        box's largest half extent (so the box, scaled by :meth:`to_unit`, fills ``[-1, 1]^d`` less the margin).

        Examples
        --------
        >>> import torch
        >>> Domain.around(torch.tensor([[0.0, 0.0, 0.0], [4.0, 2.0, 1.0]]), margin=0.25).bounds
        ((-0.5, 4.5), (-1.5, 3.5), (-2.0, 3.0))
        """
        p = torch.as_tensor(points, dtype=torch.float64)
        if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
            raise ValueError(f"points must have shape (n, d) with n >= 1, got {tuple(p.shape)}")
        if not torch.isfinite(p).all():
            raise ValueError("points contains NaN or infinite values")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not (0 <= margin < math.inf):
            raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
        lo, hi = p.min(dim=0).values, p.max(dim=0).values
        half = float((hi - lo).max()) / 2 * (1 + margin)
        if not half > 0:
            raise ValueError("points must not all coincide: their bounding box is a single point")
        centre = ((lo + hi) / 2).tolist()
        return cls(tuple((c - half, c + half) for c in centre))

    @property
    def centre(self) -> tuple[float, ...]:
        """The box's centre."""
        return tuple((lo + hi) / 2 for lo, hi in self.bounds)

    @property
    def half_width(self) -> float:
        """The largest half extent: :meth:`to_unit` divides by it."""
        return max((hi - lo) / 2 for lo, hi in self.bounds)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - centre) / half_width``: the similarity taking the domain into ``[-1, 1]^d``."""
        return (x - x.new_tensor(self.centre)) / self.half_width

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`to_unit`."""
        return u * self.half_width + u.new_tensor(self.centre)

    @property
    def dim(self) -> int:
        """Number of coordinate axes ``d``."""
        return len(self.bounds)

    def spacing(self, shape: Sequence[int]) -> tuple[float, ...]:
        """Grid spacing ``h_k = (high_k - low_k) / (n_k - 1)`` in coordinate units."""
        return pixel_spacing(check_shape(shape, self.dim), domain=self)  # the one computation, in insp.units

    def axes(self, shape: Sequence[int], *, dtype=None, device=None) -> list[torch.Tensor]:
        """The 1-D sample positions of each axis: ``linspace(low, high, n)``."""
        shape = check_shape(shape, self.dim)
        dtype = dtype or torch.get_default_dtype()
        return [
            torch.linspace(lo, hi, n, dtype=dtype, device=device) for (lo, hi), n in zip(self.bounds, shape)
        ]

    def grid(self, shape: Sequence[int], *, dtype=None, device=None) -> torch.Tensor:
        """All grid points, shape ``(*shape, d)``, "ij" indexing."""
        axes = self.axes(shape, dtype=dtype, device=device)
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)

    def grid_points(self, shape: Sequence[int], start: int, stop: int, *, dtype=None, device=None) -> torch.Tensor:
        """Grid points with flat (C-order) indices ``start:stop``, shape ``(stop - start, d)``.

        Lets a sampler walk a huge grid in chunks without materialising it.
        """
        axes = self.axes(shape, dtype=dtype, device=device)
        flat = torch.arange(start, stop, device=device)
        coords = []
        for n, ax in zip(reversed(check_shape(shape, self.dim)), reversed(axes)):
            coords.append(ax[flat % n])
            flat = flat // n
        return torch.stack(coords[::-1], dim=-1)

    def contains(self, x: torch.Tensor, *, atol: float = 1e-6) -> torch.Tensor:
        """Boolean mask of the points of ``x`` (``(..., d)``) inside the box."""
        lo = x.new_tensor([b[0] for b in self.bounds])
        hi = x.new_tensor([b[1] for b in self.bounds])
        return ((x >= lo - atol) & (x <= hi + atol)).all(dim=-1)

    def to_json(self) -> dict:
        return {"bounds": [list(b) for b in self.bounds]}

    @classmethod
    def from_json(cls, obj: dict) -> "Domain":
        return cls(tuple(tuple(b) for b in obj["bounds"]))
