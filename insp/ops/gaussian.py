"""Gaussian blur of a field: the heat-equation series and quadrature references.

``G_sigma * f`` (isotropic Gaussian, std ``sigma`` in coordinate units) is
available three ways:

* **series** -- ``exp(sigma^2/2 lap) f = sum_k (sigma^2/2)^k lap^k f / k!``,
  truncated after ``terms`` powers: a linear differential operator, cheap and
  exact for fields whose bandwidth ``w`` satisfies ``(sigma w)^2 / 2`` small.
  For a Fourier mode ``e^{i w.x}`` the truncated series is a truncated Taylor
  series of ``e^{-z}``, ``z = (sigma |w|)^2 / 2``: error ``< z^(N+1)/(N+1)!``,
  and for ``z`` beyond about ``N/2`` it *amplifies* instead of damping
  (``z = 4.9``, i.e. ``sigma = 1`` pixel at the Nyquist frequency, gives
  ``-11.5`` instead of ``0.007`` with three terms).  Each evaluation measures
  its last term; points where it is not negligible are flagged (see
  ``on_invalid``).
* **quadrature** -- Gauss--Hermite quadrature of ``E[f(x + sigma z)]``,
  ``z ~ N(0, I)``, with ``n`` nodes per axis around each query point (``n^d``
  evaluations of the field): resolution-agnostic and exact in the limit; the
  error on a mode ``e^{i w.x}`` is below ``5e-5`` for ``sigma |w| <= 3`` with
  ``n = 12`` and below ``1e-5`` for ``sigma |w| <= 4.6`` with ``n = 20``.
* **lattice** (grid sampling only) -- the trapezoid rule on a refined lattice:
  the field is sampled ``oversample`` times finer than the requested grid
  (plus a margin of ``truncate * sigma``) and convolved with the sampled,
  separable Gaussian.  Spectrally accurate for content below the refined
  Nyquist frequency and ~``oversample^d`` forward passes instead of ``n^d``.

``boundary="reflect"`` mirrors the field about the domain boundary (the
continuous counterpart of ``scipy.ndimage`` mode ``'mirror'``) for quadrature
and lattice; ``"extrapolate"`` evaluates the field outside its domain; the
series is local and always uses the field's own values near ``x``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from .._checks import check_number, check_shape
from ..fields.base import DEFAULT_CHUNK_SIZE, Field, check_chunk_size, check_field, field_dtype_device
from ..fields.domain import Domain
from ..jet.engine import DEFAULT_JET_CHUNK, check_order
from ..jet.indices import index_of, laplacian_power
from .linear import LinearOperatorField, OperatorField

__all__ = ["gaussian_blur", "GaussianBlur", "SeriesDivergenceError", "heat_series_coefficients", "BLUR_METHODS"]

BLUR_METHODS = ("auto", "series", "quadrature")
BOUNDARIES = ("reflect", "extrapolate")


class SeriesDivergenceError(ValueError):
    """The truncated heat series is not converged at some points (sigma too large for the field)."""


def heat_series_coefficients(d: int, sigma: float, terms: int) -> dict[tuple[int, ...], float]:
    """``{alpha: a_alpha}`` with ``sum_k (sigma^2/2)^k lap^k / k! = sum_alpha a_alpha d^alpha`` (k <= terms).

    Examples
    --------
    >>> import torch
    >>> from insp.ops import heat_series_coefficients, linear_operator
    >>> from insp.testing import Polynomial
    >>> heat_series_coefficients(2, 1.0, 1)                      # 1 + lap / 2
    {(0, 0): 1.0, (2, 0): 0.5, (0, 2): 0.5}
    >>> heat_series_coefficients(2, 1.0, 2)[(2, 2)]              # (1/2)^2 / 2! * 2 (from lap^2)
    0.25

    The series is exact on a quadratic (``lap^2 = 0``): blurring
    ``x0^2 + 3 x1^2`` by ``sigma`` adds ``4 sigma^2``.

    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)
    >>> heat = linear_operator(p, heat_series_coefficients(2, 0.5, 1))
    >>> x = torch.tensor([[0.0, 0.0], [0.5, -0.25]], dtype=torch.float64)
    >>> heat(x).tolist(), bool(torch.allclose(heat(x), p.blurred(0.5)(x)))
    ([[1.0], [1.4375]], True)
    """
    out: dict[tuple[int, ...], float] = {}
    t = sigma * sigma / 2
    for k in range(terms + 1):
        for alpha, c in laplacian_power(d, k).items():
            out[alpha] = out.get(alpha, 0.0) + t ** k / math.factorial(k) * c
    return out


def _reflect(x: torch.Tensor, domain: Domain) -> torch.Tensor:
    """Mirror coordinates into the domain (period ``2 (hi - lo)`` triangle wave)."""
    lo = x.new_tensor([b[0] for b in domain.bounds])
    hi = x.new_tensor([b[1] for b in domain.bounds])
    span = hi - lo
    y = torch.remainder(x - lo, 2 * span)
    return lo + torch.where(y > span, 2 * span - y, y)


def _check_sigma(sigma, field: Field) -> float:
    """A positive ``sigma`` no wider than ``field``'s domain: a wider kernel only averages extrapolated values."""
    try:
        sigma = check_number(sigma, "sigma", unit="coordinate units")
    except TypeError:  # a sigma that is not a number is refused like any other invalid sigma
        raise ValueError(f"sigma must be a positive finite number (coordinate units), got {sigma!r}") from None
    extent = max(hi - lo for lo, hi in field.domain.bounds)
    if sigma > extent:
        raise ValueError(f"sigma={sigma:g} is wider than the field's domain (largest extent {extent:g} coordinate "
                         f"units): the blur would only average values extrapolated outside it; use a sigma below "
                         f"{extent:g} (a constant field is the limit of a very wide blur)")
    return sigma


class GaussianBlur(OperatorField):
    """``G_sigma * f`` as a Field; see :func:`gaussian_blur`.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import GaussianBlur, SeriesDivergenceError, gaussian_blur, laplacian
    >>> from insp.testing import Polynomial, SinusoidSum
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # x0^2 + 3 x1^2
    >>> g = gaussian_blur(p, sigma=0.5, method="series", terms=2)
    >>> isinstance(g, GaussianBlur), g.sigma, g.blur_method
    (True, 0.5, 'series')
    >>> x = torch.tensor([[0.0, 0.0], [0.5, -0.25]], dtype=torch.float64)
    >>> g(x).tolist()                                   # p + 4 sigma^2: the series is exact here
    [[1.0], [1.4375]]
    >>> laplacian(g)(x).tolist()                        # derivatives of the blur: blur of the derivatives
    [[8.0], [8.0]]

    A sigma too large for the field's bandwidth is refused by the series
    (``method="auto"`` falls back to quadrature instead):

    >>> f = SinusoidSum([1.0], [[30.0, 0.0]], dtype=torch.float64)   # sin(30 x0): (sigma * 30)^2 / 2 = 112
    >>> try:
    ...     gaussian_blur(f, sigma=0.5, method="series")(x)
    ... except SeriesDivergenceError:
    ...     print("not converged")
    not converged
    """

    def __init__(self, inner: Field, *, sigma: float, method: str = "auto", terms: int = 3,
                 quadrature_points: int = 12, tol: float = 1e-2, on_invalid: str | None = None,
                 boundary: str = "extrapolate", oversample: int = 3, jet_method: str = "auto",
                 chunk_size: int = DEFAULT_JET_CHUNK):
        check_field(inner)
        sigma = _check_sigma(sigma, inner)
        if method not in BLUR_METHODS:
            raise ValueError(f"method must be one of {BLUR_METHODS}, got {method!r}")
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        for name, v, lo in (("terms", terms, 0), ("quadrature_points", quadrature_points, 1),
                            ("oversample", oversample, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if not (tol > 0):
            raise ValueError(f"tol must be positive, got {tol!r}")
        on_invalid = on_invalid or ("fallback" if method == "auto" else "raise")
        if on_invalid not in ("raise", "warn", "fallback", "ignore"):
            raise ValueError(f"on_invalid must be 'raise', 'warn', 'fallback' or 'ignore', got {on_invalid!r}")
        super().__init__(inner, inner.out_features, jet_method=jet_method, chunk_size=chunk_size)
        self.sigma, self.blur_method, self.terms = sigma, method, terms
        self.quadrature_points, self.tol, self.on_invalid = quadrature_points, tol, on_invalid
        self.boundary, self.oversample = boundary, oversample
        if method in ("auto", "series"):
            check_order(inner, 2 * terms, name="2 * terms")
            d = inner.in_features
            self.series = _series_operator(inner, sigma, terms, jet_method, chunk_size)
            # the last term alone, for the convergence check
            last = {a: v for a, v in heat_series_coefficients(d, sigma, terms).items() if sum(a) == 2 * terms}
            last_all = heat_series_coefficients(d, sigma, terms - 1) if terms > 0 else {}
            self._last_weights = {a: v - last_all.get(a, 0.0) for a, v in last.items()}
        else:
            self.series = None

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}, method={self.blur_method}, terms={self.terms}, boundary={self.boundary}"

    # ---------------------------------------------------------------- series
    def _series_with_check(self, x):
        """Series value and a mask of the points where its last term is not negligible."""
        d, K = self.in_features, 2 * self.terms
        values = self._jet(x, K).values  # (..., c, M)
        A = self.series.coefficients.to(dtype=values.dtype, device=values.device)
        out = torch.einsum("...im,oim->...o", values, A)
        w = torch.zeros(values.shape[-1], dtype=values.dtype, device=values.device)
        for a, v in self._last_weights.items():
            w[index_of(a, d, K)] = v
        last = (values @ w).abs().amax(-1)  # (...,) largest over channels
        return out, last > self.tol * self._value_scale(values.dtype, values.device)

    def _value_scale(self, dtype, device) -> torch.Tensor:
        """The RMS of the inner field on a fixed probe grid: the yardstick of the convergence check.

        Fixed per field (not the RMS of the points being evaluated), so that a
        point's answer does not depend on which batch or chunk it came in.
        """
        scale = self.__dict__.get("_scale")
        if scale is None:
            with torch.no_grad():
                probe = self.inner.domain.grid((9,) * self.in_features, dtype=dtype, device=device)
                values = self.inner(probe.reshape(-1, self.in_features))
            scale = values.square().mean().sqrt().clamp_min(1e-12)
            self.__dict__["_scale"] = scale
        return scale.to(dtype=dtype, device=device)

    # ------------------------------------------------------------ quadrature
    def _quadrature(self, x):
        d = self.in_features
        nodes, weights = np.polynomial.hermite_e.hermegauss(self.quadrature_points)
        weights = weights / weights.sum()
        z = torch.as_tensor(nodes, dtype=x.dtype, device=x.device) * self.sigma
        wz = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
        grids = torch.meshgrid(*([z] * d), indexing="ij")
        offsets = torch.stack([g.reshape(-1) for g in grids], dim=-1)  # (n^d, d)
        wgrids = torch.meshgrid(*([wz] * d), indexing="ij")
        w = torch.stack([g.reshape(-1) for g in wgrids], dim=-1).prod(-1)  # (n^d,)
        flat = x.reshape(-1, d)
        out = []
        per = max(1, DEFAULT_CHUNK_SIZE // offsets.shape[0])
        for s in range(0, flat.shape[0], per):
            pts = flat[s:s + per, None, :] + offsets  # (p, n^d, d)
            if self.boundary == "reflect":
                pts = _reflect(pts, self.domain)
            vals = self.inner(pts)  # (p, n^d, c)
            out.append(torch.einsum("pqc,q->pc", vals, w))
        return torch.cat(out, 0).reshape(*x.shape[:-1], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        if self.blur_method == "quadrature":
            return self._quadrature(x)
        out, bad = self._series_with_check(x)
        if bool(bad.any()) and self.on_invalid != "ignore":
            frac = bad.float().mean().item()
            msg = (f"heat series with terms={self.terms} is not converged at {frac:.1%} of the points "
                   f"(sigma={self.sigma:g} is too large for this field's bandwidth); use more terms, a smaller "
                   f"sigma, or method='quadrature'")
            if self.on_invalid == "raise":
                raise SeriesDivergenceError(msg)
            if self.on_invalid == "warn":
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
            else:  # fallback: quadrature where the series is not trustworthy
                out = out.clone()
                out[bad] = self._quadrature(x[bad])
        return out

    def derivative_stack(self, x: torch.Tensor, order: int) -> torch.Tensor:
        """Derivatives of the blurred field: the blur commutes with ``d^beta`` (series path only)."""
        if self.series is None:
            raise NotImplementedError("derivatives of a quadrature blur: use jet(..., jet_method='general')")
        return self.series.derivative_stack(x, order)

    # --------------------------------------------------------------- lattice
    def sample(self, shape, *, chunk_size: int = DEFAULT_CHUNK_SIZE, grad: bool = False, progress: bool = False):
        """On grids, ``method="auto"``/``"quadrature"`` use the lattice (trapezoid) quadrature."""
        if self.blur_method == "series":
            return super().sample(shape, chunk_size=chunk_size, grad=grad, progress=progress)
        return lattice_blur(self.inner, shape, sigma=self.sigma, oversample=self.oversample,
                            boundary=self.boundary, chunk_size=chunk_size, progress=progress)


def _series_operator(inner, sigma, terms, jet_method, chunk_size) -> LinearOperatorField:
    from .differential import linear_operator

    return linear_operator(inner, heat_series_coefficients(inner.in_features, sigma, terms),
                           name=f"heat_series(sigma={sigma:g}, terms={terms})", jet_method=jet_method,
                           chunk_size=chunk_size)


def lattice_blur(field: Field, shape, *, sigma: float, oversample: int = 3, truncate: float = 5.0,
                 boundary: str = "extrapolate", chunk_size: int = DEFAULT_CHUNK_SIZE,
                 progress: bool = False) -> torch.Tensor:
    """``G_sigma * f`` sampled on the grid ``shape`` by the trapezoid rule on a refined lattice.

    The field is sampled ``oversample`` times finer than ``shape``, with a
    margin of ``truncate * sigma`` (mirrored into the domain when
    ``boundary="reflect"``), and convolved with the sampled, normalised
    Gaussian axis by axis.  Returns a tensor ``(*shape, c)``.  This is what
    ``gaussian_blur(field, ...).sample(shape)`` uses for ``method="auto"`` or
    ``"quadrature"``.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import lattice_blur
    >>> from insp.testing import SinusoidSum
    >>> f = SinusoidSum([1.0], [[2.0, 0.0]], dtype=torch.float64)      # sin(2 x0)
    >>> b = lattice_blur(f, (9, 9), sigma=0.2)
    >>> b.shape, float((b - f.blurred(0.2).sample((9, 9))).abs().max()) < 1e-5   # exp(-0.08) sin(2 x0)
    (torch.Size([9, 9, 1]), True)
    """
    check_field(field)
    sigma = _check_sigma(sigma, field)
    shape = check_shape(shape, field.in_features)
    chunk_size = check_chunk_size(chunk_size)
    dtype, device = field_dtype_device(field)
    dom = field.domain
    steps = [h / oversample for h in dom.spacing(shape)]
    margins = [int(math.ceil(truncate * sigma / s)) for s in steps]
    fine_shape = [(n - 1) * oversample + 1 + 2 * r for n, r in zip(shape, margins)]
    bounds = [(lo - r * s, hi + r * s) for (lo, hi), r, s in zip(dom.bounds, margins, steps)]
    fine = Domain(tuple(bounds))

    class _Shifted(Field):  # the field seen through the margin-extended domain (and optional mirror)
        def forward(self, x):
            return field(_reflect(x, dom) if boundary == "reflect" else x)

    from ..fields.base import sample

    vals = sample(_Shifted(fine, field.out_features), fine_shape, chunk_size=chunk_size, progress=progress,
                  dtype=dtype, device=device)  # (*fine_shape, c)
    for axis, (s, r) in enumerate(zip(steps, margins)):
        t = torch.arange(-r, r + 1, dtype=torch.float64) * s
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = (k / k.sum()).to(dtype=vals.dtype, device=vals.device)
        v = vals.movedim(axis, -1)
        v = v.unfold(-1, 2 * r + 1, oversample) @ k  # valid convolution, stride = oversample
        vals = v.movedim(-1, axis)
    return vals


def gaussian_blur(field: Field, *, sigma: float, method: str = "auto", terms: int = 3, quadrature_points: int = 12,
                  tol: float = 1e-2, on_invalid: str | None = None, boundary: str = "extrapolate",
                  oversample: int = 3, jet_method: str = "auto",
                  chunk_size: int = DEFAULT_JET_CHUNK) -> GaussianBlur:
    """Gaussian blur ``G_sigma * f`` of a field (isotropic, ``sigma`` in coordinate units).

    Parameters
    ----------
    field : Field
    sigma : float
        Standard deviation in coordinate units; from pixels of a grid use
        ``insp.units.sigma_to_coordinates``.
    method : {"auto", "series", "quadrature"}
        ``series``: the heat-equation series (raises
        :class:`SeriesDivergenceError` where it has not converged, unless
        ``on_invalid`` says otherwise).  ``quadrature``: Gauss--Hermite around
        each point.  ``auto``: the series, with quadrature at the points where
        the series is not converged.  Sampling on a grid (``.sample``) with
        ``auto``/``quadrature`` uses the faster lattice quadrature.
    terms : int
        Powers of the Laplacian kept by the series (needs a jet of order
        ``2 * terms``).
    quadrature_points : int
        Gauss--Hermite nodes per axis.
    tol : float
        The series is accepted at a point when its last term is below
        ``tol`` times the RMS of the field over the evaluated chunk.
    on_invalid : {"raise", "warn", "fallback", "ignore"}, optional
        What a non-converged series does (default ``fallback`` for ``auto``,
        ``raise`` for ``series``).
    boundary : {"extrapolate", "reflect"}
    oversample : int
        Refinement of the lattice quadrature.

    Returns
    -------
    GaussianBlur
        A Field; with the series, its derivatives are exact (the blur
        commutes with differentiation), so ``laplacian(gaussian_blur(f, ...))``
        works.

    Examples
    --------
    >>> import torch, insp
    >>> from insp.ops import gaussian_blur
    >>> from insp.testing import SinusoidSum
    >>> f = SinusoidSum([1.0], [[3.0, 0.0]], dtype=torch.float64)
    >>> g = gaussian_blur(f, sigma=0.1, method="series", terms=6)
    >>> x = torch.zeros(1, 2, dtype=torch.float64) + 0.2
    >>> bool(torch.allclose(g(x), f.blurred(0.1)(x), atol=1e-8))
    True
    """
    return GaussianBlur(field, sigma=sigma, method=method, terms=terms, quadrature_points=quadrature_points, tol=tol,
                        on_invalid=on_invalid, boundary=boundary, oversample=oversample, jet_method=jet_method,
                        chunk_size=chunk_size)
