"""Fields made from other fields or from arrays: grids, translations, products, means.

Small generic building blocks that operators compose (the Poisson blend's
mask and potential, for one).  Each is a :class:`~insp.fields.base.Field`:

* :class:`GridField` -- multilinear interpolation of an array on a domain's grid;
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

__all__ = ["GridField", "Translated", "Rescaled", "Product", "Mean"]


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
        if not isinstance(domain, Domain):
            raise TypeError(f"domain must be an insp.Domain, got {type(domain).__name__}")
        v = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
        if v.dtype == torch.bool:
            v = v.to(torch.float64)
        if not v.is_floating_point():
            v = v.to(torch.float64)
        d = domain.dim
        if v.ndim == d:
            v = v.unsqueeze(-1)
        if v.ndim != d + 1 or d > 3:
            raise ValueError(f"values must have shape (*shape) or (*shape, c) with {d} spatial axes (d <= 3), "
                             f"got {tuple(v.shape)}")
        check_shape(v.shape[:d], d, name="values.shape")
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


class Translated(Field):
    """``inner`` moved by ``shift``: ``f(x) = inner(x - shift)`` on the shifted domain.

    The shift is a fixed ``nn.Linear`` (identity weight, bias ``-shift``) in
    front of the inner field's modules, so the Taylor path still applies.
    """

    def __init__(self, inner: Field, shift):
        check_field(inner, name="inner")
        d = inner.in_features
        dtype, device = field_dtype_device(inner)
        s = torch.as_tensor(shift, dtype=torch.float64).reshape(-1)
        if s.numel() != d or not torch.isfinite(s).all():
            raise ValueError(f"shift must be {d} finite numbers, got {shift!r}")
        dom = Domain(tuple((lo + float(t), hi + float(t)) for (lo, hi), t in zip(inner.domain.bounds, s)))
        super().__init__(dom, inner.out_features)
        self.inner = inner
        lin = nn.Linear(d, d).to(dtype=dtype, device=device)
        with torch.no_grad():
            lin.weight.copy_(torch.eye(d))
            lin.bias.copy_(-s)
        lin.requires_grad_(False)
        self.shift = lin
        self.max_derivative_order = getattr(inner, "max_derivative_order", None)

    def taylor_modules(self):
        inner = self.inner.taylor_modules()
        return None if inner is None else [self.shift, *inner]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.shift(self.check_points(x)))


class Rescaled(Field):
    """``inner`` read on stretched coordinates: ``f(x) = inner(x * factor)`` on the domain ``inner.domain / factor``.

    ``factor`` is one positive number per axis (or one for all).  An order-k
    partial of ``f`` is ``factor**alpha`` times that of ``inner``: this is how
    derivatives are expressed in other units (pixel units of another grid, for
    one).  The stretch is a fixed diagonal ``nn.Linear`` in front of the inner
    field's modules, so the Taylor path still applies.

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
        d = inner.in_features
        dtype, device = field_dtype_device(inner)
        a = torch.as_tensor(factor, dtype=torch.float64).reshape(-1)
        if a.numel() == 1:
            a = a.expand(d)
        if a.numel() != d or not torch.isfinite(a).all() or not (a > 0).all():
            raise ValueError(f"factor must be one or {d} positive finite numbers, got {factor!r}")
        dom = Domain(tuple((lo / float(t), hi / float(t)) for (lo, hi), t in zip(inner.domain.bounds, a)))
        super().__init__(dom, inner.out_features)
        self.inner = inner
        self.factor = tuple(float(t) for t in a)
        lin = nn.Linear(d, d).to(dtype=dtype, device=device)
        with torch.no_grad():
            lin.weight.copy_(torch.diag(a))
            lin.bias.zero_()
        lin.requires_grad_(False)
        self.stretch = lin
        self.max_derivative_order = getattr(inner, "max_derivative_order", None)

    @property
    def provenance(self):
        return self.inner.provenance

    def taylor_modules(self):
        inner = self.inner.taylor_modules()
        return None if inner is None else [self.stretch, *inner]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.stretch(self.check_points(x)))


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
