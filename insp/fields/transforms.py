"""Fields made from other fields or from arrays: grids, translations, products, means.

Small generic building blocks that operators compose (the Poisson blend's
mask and potential, for one).  Each is a :class:`~insp.fields.base.Field`:

* :class:`GridField` -- multilinear interpolation of an array on a domain's grid;
* :class:`SplineField` -- interpolating cubic B-spline of an array on a domain's grid (C2, exact on the grid);
* :class:`Translated` -- a field moved by a constant shift (keeps the Taylor path);
* :class:`Rescaled` -- a field read on stretched coordinates, ``inner(x * factor)`` (keeps the Taylor path);
* :class:`Product`, :class:`Mean` -- pointwise ``a * b`` and ``(a + b) / 2``.

Examples
--------
>>> import torch
>>> from insp.fields import Domain
>>> g = GridField(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), Domain.cube(2))
>>> g(torch.tensor([[0.0, 0.0]]))            # the centre: the mean of the four corners
tensor([[1.5000]])
>>> Translated(g, (1.0, 0.0)).domain.bounds
((0.0, 2.0), (-1.0, 1.0))
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .._checks import check_shape
from .base import Field, check_field, field_dtype_device
from .domain import Domain

__all__ = ["GridField", "Mean", "Product", "Rescaled", "SplineField", "Translated"]


class GridField(Field):
    """Multilinear interpolation of values on a domain's grid (zero outside the domain).

    Turns a mask (or any array) sampled at ``linspace(low, high, n)`` into a
    Field that returns the array exactly at the grid points.  Not meant to be
    differentiated (its derivatives are piecewise constant).

    Parameters
    ----------
    values : array or Tensor ``(*shape)`` or ``(*shape, c)``
        ``d = domain.dim`` spatial axes, an optional trailing channel axis.
    domain : Domain
    """

    max_derivative_order = 0
    derivative_limit_reason = "interpolates multilinearly: its derivatives are piecewise constant, not the signal's"

    def __init__(self, values, domain: Domain):
        v = _grid_values(values, domain)
        super().__init__(domain, int(v.shape[-1]))
        self.register_buffer("values", v.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # multilinear interpolation written with gathers (not grid_sample) so that forward-mode AD
        # (the derivative engine's general path) works through it
        x = self.check_points(x)
        d = self.in_features
        lo = x.new_tensor([b[0] for b in self.domain.bounds])
        hi = x.new_tensor([b[1] for b in self.domain.bounds])
        shape = self.values.shape[:d]
        n = x.new_tensor([float(s - 1) for s in shape])
        p = (x - lo) / (hi - lo) * n  # continuous grid index per axis
        i0 = torch.floor(p.detach())
        w = p - i0
        i0 = i0.long()
        vals = self.values.to(x.dtype).reshape(-1, self.out_features)
        strides = [math.prod(shape[k + 1:]) for k in range(d)]
        out = 0
        for corner in range(2 ** d):
            flat, weight, valid = 0, 1, True
            for k in range(d):
                bit = (corner >> k) & 1
                ik = i0[..., k] + bit
                valid = valid & (ik >= 0) & (ik < shape[k])
                flat = flat + ik.clamp(0, shape[k] - 1) * strides[k]
                weight = weight * (w[..., k] if bit else 1 - w[..., k])
            picked = vals.index_select(0, flat.reshape(-1)).reshape(*flat.shape, self.out_features)
            out = out + (weight * valid)[..., None] * picked
        return out


def _grid_values(values, domain: Domain) -> torch.Tensor:
    """``values`` as a floating tensor ``(*shape, c)`` on ``domain``'s grid (checked)."""
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be an insp.Domain, got {type(domain).__name__}")
    v = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    if v.dtype == torch.bool or not v.is_floating_point():
        v = v.to(torch.float64)
    d = domain.dim
    if v.ndim == d:
        v = v.unsqueeze(-1)
    if v.ndim != d + 1 or d > 3:
        raise ValueError(f"values must have shape (*shape) or (*shape, c) with {d} spatial axes (d <= 3), "
                         f"got {tuple(v.shape)}")
    check_shape(v.shape[:d], d, name="values.shape")
    return v


class SplineField(Field):
    """The interpolating cubic B-spline of values on a domain's grid.

    ``f(x) = sum_k c_k B(p(x) - k)`` with ``B`` the uniform cubic B-spline,
    ``p`` the continuous grid index and the coefficients ``c`` prefiltered
    (:func:`scipy.ndimage.spline_filter1d`, ``mode="mirror"``) so that ``f``
    equals ``values`` at every grid point.  ``f`` is piecewise cubic and C2;
    it is written in torch operations (the grid index is detached, the cubic
    weights are polynomials of the point), so every derivative path of
    :mod:`insp.jet` differentiates it exactly: first and second derivatives
    are continuous, the third is piecewise constant
    (``max_derivative_order = 2``).  Outside the domain the spline continues
    as its mirror image across the edges (the boundary rule of the prefilter).

    Parameters
    ----------
    values : array or Tensor ``(*shape)`` or ``(*shape, c)``
        ``d = domain.dim`` spatial axes (``d <= 3``), an optional trailing channel axis.
    domain : Domain

    Examples
    --------
    Exact at the grid points; between them its derivative is that of the
    sampled function to the spline's O(h^4) accuracy (here ``cos`` on 33 points):

    >>> import numpy as np, torch
    >>> from insp.fields import Domain
    >>> from insp.jet import gradient_at
    >>> xs = np.linspace(-1, 1, 33)
    >>> f = SplineField(np.cos(xs), Domain.cube(1))
    >>> bool(torch.allclose(f(torch.tensor(xs)[:, None])[:, 0], torch.tensor(np.cos(xs))))
    True
    >>> x = torch.tensor([[0.1]], dtype=torch.float64)
    >>> round(float(gradient_at(f, x)[0, 0, 0]), 5), round(-float(np.sin(0.1)), 5)
    (-0.09983, -0.09983)
    """

    max_derivative_order = 2
    derivative_limit_reason = "is a cubic spline: its third derivatives are piecewise constant, not the signal's"

    def __init__(self, values, domain: Domain):
        from scipy.ndimage import spline_filter1d

        v = _grid_values(values, domain)
        if not torch.isfinite(v).all():
            raise ValueError("values must be finite (no NaN or infinity)")
        d = domain.dim
        super().__init__(domain, int(v.shape[-1]))
        coef = v.detach().cpu().double().numpy()
        for k in range(d):
            coef = spline_filter1d(coef, order=3, axis=k, mode="mirror")
        self.register_buffer("coefficients", torch.as_tensor(coef).to(dtype=v.dtype, device=v.device))

    @staticmethod
    def _weights(t: torch.Tensor) -> list[torch.Tensor]:
        """The cubic B-spline weights of the four neighbours ``i - 1 .. i + 2`` at fraction ``t`` (sum to 1)."""
        t2, t3 = t * t, t * t * t
        return [(1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        d, c = self.in_features, self.out_features
        shape = self.coefficients.shape[:d]
        lo = x.new_tensor([b[0] for b in self.domain.bounds])
        hi = x.new_tensor([b[1] for b in self.domain.bounds])
        n = x.new_tensor([float(s - 1) for s in shape])
        p = (x - lo) / (hi - lo) * n  # continuous grid index per axis
        i0 = torch.floor(p.detach())
        t = p - i0
        i0 = i0.long()
        coef = self.coefficients.to(x.dtype).reshape(-1, c)
        strides = [math.prod(shape[k + 1:]) for k in range(d)]
        per_axis = []  # per axis: four (flat-index contribution, weight) pairs
        for k in range(d):
            period = 2 * (shape[k] - 1)
            ws = self._weights(t[..., k])
            terms = []
            for o in range(4):
                j = torch.remainder(i0[..., k] + (o - 1), period)  # mirror: ... 2 1 | 0 1 ... n-1 | n-2 ...
                j = torch.where(j > shape[k] - 1, period - j, j)
                terms.append((j * strides[k], ws[o]))
            per_axis.append(terms)
        out = 0
        for combo in range(4 ** d):
            flat, weight = 0, 1
            for k in range(d):
                j, w = per_axis[k][(combo >> (2 * k)) & 3]
                flat, weight = flat + j, weight * w
            picked = coef.index_select(0, flat.reshape(-1)).reshape(*flat.shape, c)
            out = out + weight[..., None] * picked
        return out


class _CoordinateMap(Field):
    """``inner`` read through a fixed affine map of the coordinates, ``f(x) = inner(A x + b)``.

    The map is a frozen ``nn.Linear`` in front of the inner field's modules, so
    the Taylor path still applies; values, derivatives and provenance are the
    inner field's, read through the map.
    """

    def __init__(self, inner: Field, domain: Domain, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__(domain, inner.out_features)
        self.inner = inner
        dtype, device = field_dtype_device(inner)
        d = inner.in_features
        lin = nn.Linear(d, d).to(dtype=dtype, device=device)
        with torch.no_grad():
            lin.weight.copy_(weight)
            lin.bias.copy_(bias)
        lin.requires_grad_(False)
        self.map = lin
        self.max_derivative_order = getattr(inner, "max_derivative_order", None)

    @property
    def provenance(self):
        return self.inner.provenance

    def taylor_modules(self):
        inner = self.inner.taylor_modules()
        return None if inner is None else [self.map, *inner]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.map(self.check_points(x)))


def _per_axis(value, d: int, name: str, *, positive: bool) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if positive and t.numel() == 1:
        t = t.expand(d)
    if t.numel() != d or not torch.isfinite(t).all() or (positive and not (t > 0).all()):
        what = f"one or {d} positive finite numbers" if positive else f"{d} finite numbers"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return t


class Translated(_CoordinateMap):
    """``inner`` moved by ``shift``: ``f(x) = inner(x - shift)`` on the shifted domain (keeps the Taylor path)."""

    def __init__(self, inner: Field, shift):
        check_field(inner, name="inner")
        s = _per_axis(shift, inner.in_features, "shift", positive=False)
        dom = Domain(tuple((lo + float(t), hi + float(t)) for (lo, hi), t in zip(inner.domain.bounds, s)))
        super().__init__(inner, dom, torch.eye(inner.in_features), -s)


class Rescaled(_CoordinateMap):
    """``inner`` read on stretched coordinates: ``f(x) = inner(x * factor)`` on the domain ``inner.domain / factor``.

    ``factor`` is one positive number per axis (or one for all).  An order-k
    partial of ``f`` is ``factor**alpha`` times that of ``inner``: this is how
    derivatives are expressed in other units (pixel units of another grid, for
    one).  Keeps the Taylor path.

    Examples
    --------
    >>> import torch
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0}, dtype=torch.float64)          # x0^2 on [-1, 1]^2
    >>> r = Rescaled(p, 0.5)                                        # (x0 / 2)^2 on [-2, 2]^2
    >>> r.domain.bounds, float(r(torch.tensor([[2.0, 0.0]], dtype=torch.float64)))
    (((-2.0, 2.0), (-2.0, 2.0)), 1.0)
    """

    def __init__(self, inner: Field, factor):
        check_field(inner, name="inner")
        a = _per_axis(factor, inner.in_features, "factor", positive=True)
        dom = Domain(tuple((lo / float(t), hi / float(t)) for (lo, hi), t in zip(inner.domain.bounds, a)))
        super().__init__(inner, dom, torch.diag(a), torch.zeros_like(a))
        self.factor = tuple(float(t) for t in a)


class Product(Field):
    """``a(x) * b(x)``, channel by channel (broadcast over a 1-channel factor).

    Only its values are offered (``max_derivative_order = 0``): it multiplies
    mask-like fields, whose derivatives carry no information.
    """

    max_derivative_order = 0

    def __init__(self, a: Field, b: Field):
        super().__init__(a.domain, a.out_features)
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) * self.b(x)


class Mean(Field):
    """``(a(x) + b(x)) / 2`` on ``b``'s domain (the potential of Poisson blending's ``average`` guidance)."""

    def __init__(self, a: Field, b: Field):
        super().__init__(b.domain, b.out_features)
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.a(x) + self.b(x))
