"""Analytic fields: Fields whose derivatives and Gaussian blur are known in closed form.

An operator can then be checked against the truth rather than against another
approximation:

* :class:`GaussianSum` -- ``sum_j a_j exp(-sum_k (x_k - mu_jk)**2 / (2 s_jk**2))``
  (isotropic or axis-aligned bumps);
* :class:`SinusoidSum` -- ``sum_j a_j sin(k_j . x + phi_j)``;
* :class:`Polynomial` -- ``sum_alpha c_alpha x**alpha``;

in any dimension ``d`` in {1, 2, 3} and with any number of channels ``c``.
Each has

* ``derivative(x, alpha)`` -> ``(..., c)``, the partial derivative of
  multi-index ``alpha`` in coordinate units;
* ``jet(x, order)`` -> ``(..., c, M)``, all partials up to ``order`` in the
  library's order (graded, then lexicographically descending within an order:
  ``(0,0), (1,0), (0,1), (2,0), (1,1), (0,2)`` for ``d = 2``);
* ``blurred(sigma)`` -> the analytic field of the continuous convolution with
  the Gaussian of standard deviation ``sigma`` (coordinate units);
* ``translated(t)`` (``x -> f(x + t)``), ``rotated(R)`` (``x -> f(R x)``, ``R``
  orthogonal), and ``+``, ``-``, scalar ``*``, all again analytic fields.

Examples
--------
>>> import torch
>>> f = SinusoidSum([1.0], [[2.0, 0.0]], dtype=torch.float64)   # sin(2 x0)
>>> x = torch.zeros(1, 2, dtype=torch.float64)
>>> f.derivative(x, (1, 0))                                      # 2 cos(0)
tensor([[2.]], dtype=torch.float64)
>>> f.blurred(0.5)(torch.tensor([[0.25, 0.0]], dtype=torch.float64))   # exp(-0.5) sin(0.5)
tensor([[0.2908]], dtype=torch.float64)
"""

from __future__ import annotations

import itertools
import math
from typing import Mapping, Sequence

import torch
from torch import nn

from .._checks import check_multi_index, check_per_axis
from ..fields.base import Field, field_dtype_device
from ..fields.domain import Domain
from ..jet.indices import multi_indices

__all__ = ["AnalyticField", "GaussianSum", "SinusoidSum", "Polynomial", "AnalyticSum", "Warped", "WarpedField",
           "translated", "rotated"]


# --------------------------------------------------------------------------- argument checks

def _tensor(value, name: str, dtype, device) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        value = value.detach()
    try:
        t = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be array-like of numbers, got {type(value).__name__}") from None
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t.to(dtype=dtype or torch.get_default_dtype(), device=device)


def _check_dim(d: int, name: str) -> int:
    if d not in (1, 2, 3):
        raise ValueError(f"{name} must describe a dimension d in {{1, 2, 3}}, got d={d}")
    return d


def _per_term_vectors(value, name: str, dtype, device) -> torch.Tensor:
    """``value`` as a ``(J, d)`` tensor, one d-vector per term, J >= 1 and d in {1, 2, 3}."""
    t = _tensor(value, name, dtype, device)
    if t.ndim != 2 or t.shape[0] < 1:
        raise ValueError(f"{name} must have shape (J, d) with J >= 1, got {tuple(t.shape)}")
    _check_dim(t.shape[1], name)
    return t


def _check_domain(domain, d: int) -> Domain:
    if domain is None:
        return Domain.cube(d)
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be an insp.Domain or None, got {type(domain).__name__}")
    if domain.dim != d:
        raise ValueError(f"domain has dimension {domain.dim} but the field has d={d}")
    return domain


def _amplitudes(amplitudes, n_terms: int, dtype, device) -> torch.Tensor:
    a = _tensor(amplitudes, "amplitudes", dtype, device)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] != n_terms or a.shape[1] < 1:
        raise ValueError(f"amplitudes must have shape ({n_terms},) or ({n_terms}, c), got {tuple(a.shape)}")
    return a


def _sigma(sigma, d: int) -> tuple[float, ...]:
    return check_per_axis(sigma, d, name="sigma", allow_zero=False, unit="coordinate units")


def _zeros_like_out(x: torch.Tensor, c: int) -> torch.Tensor:
    """Zeros of shape ``(..., c)`` that stay connected to ``x`` in the autograd graph."""
    return (x[..., :1] * 0.0).repeat(*([1] * (x.ndim - 1)), c)


# --------------------------------------------------------------------------- base class

class AnalyticField(Field):
    """A Field with closed-form derivatives and Gaussian blur.

    Subclasses implement ``_derivative(x, alpha)`` (``x`` already checked,
    ``alpha`` a tuple of ``d`` ints) and :meth:`blurred`.  ``forward`` is the
    zero-order derivative, so the closed forms and the evaluated field are one
    computation.
    """

    default_source = "analytic"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._derivative(self.check_points(x), (0,) * self.in_features)

    def _check_alpha(self, alpha) -> tuple[int, ...]:
        return check_multi_index(alpha, self.in_features)

    def derivative(self, x: torch.Tensor, alpha) -> torch.Tensor:
        """Closed-form partial derivative ``d^alpha f`` at ``x``, coordinate units.

        Parameters
        ----------
        x : Tensor ``(..., d)``
        alpha : tuple of int
            Multi-index ``(a_0, ..., a_{d-1})``: ``a_k`` derivatives along
            coordinate ``k``.

        Returns
        -------
        Tensor ``(..., c)``, dtype and device of ``x``.
        """
        return self._derivative(self.check_points(x), self._check_alpha(alpha))

    def jet(self, x: torch.Tensor, order: int) -> torch.Tensor:
        """All partial derivatives up to ``order``: ``(..., c, M)`` in the library's order."""
        x = self.check_points(x)
        alphas = multi_indices(self.in_features, order)
        return torch.stack([self._derivative(x, a) for a in alphas], dim=-1)

    def derivative_stack(self, x: torch.Tensor, order: int) -> torch.Tensor:
        """Closed-form jet, used by :func:`insp.jet.jet` (``jet_method="native"``)."""
        return self.jet(x, order)

    def _derivative(self, x: torch.Tensor, alpha: tuple[int, ...]) -> torch.Tensor:
        raise NotImplementedError

    def blurred(self, sigma) -> "AnalyticField":
        """The continuous convolution with a Gaussian of std ``sigma`` (coordinate units).

        ``sigma`` is a positive number (isotropic) or one per axis.
        """
        raise NotImplementedError

    def translated(self, t) -> "AnalyticField":
        """``x -> f(x + t)``."""
        return translated(self, t)

    def rotated(self, matrix) -> "AnalyticField":
        """``x -> f(R x)`` for an orthogonal ``d x d`` matrix ``R``."""
        return rotated(self, matrix)

    # linear combinations -------------------------------------------------
    def __add__(self, other):
        if not isinstance(other, AnalyticField):
            return NotImplemented
        return AnalyticSum([self, other])

    def __sub__(self, other):
        if not isinstance(other, AnalyticField):
            return NotImplemented
        return AnalyticSum([self, other], weights=[1.0, -1.0])

    def __mul__(self, scalar):
        if isinstance(scalar, bool) or not isinstance(scalar, (int, float)):
            return NotImplemented
        return AnalyticSum([self], weights=[float(scalar)])

    __rmul__ = __mul__

    def __neg__(self):
        return AnalyticSum([self], weights=[-1.0])

    def _buf(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, name).to(dtype=x.dtype, device=x.device)

    def _new(self, cls, *args, **kwargs):
        buf = next(iter(self.buffers()), None)
        dtype = buf.dtype if buf is not None else None
        device = buf.device if buf is not None else None
        return cls(*args, domain=self.domain, dtype=dtype, device=device, **kwargs)


# --------------------------------------------------------------------------- Gaussians

def _hermite_e(m: int, u: torch.Tensor) -> torch.Tensor:
    """Probabilists' Hermite polynomial ``He_m(u)``: ``(d/du)^m e^{-u^2/2} = (-1)^m He_m(u) e^{-u^2/2}``."""
    if m == 0:
        return torch.ones_like(u)
    prev, cur = torch.ones_like(u), u
    for n in range(1, m):
        prev, cur = cur, u * cur - n * prev
    return cur


class GaussianSum(AnalyticField):
    """Sum of Gaussian bumps ``sum_j a_j exp(-sum_k (x_k - mu_jk)**2 / (2 s_jk**2))``.

    Parameters
    ----------
    amplitudes : array_like ``(J,)`` or ``(J, c)``
        Peak value of each bump (per channel).
    centres : array_like ``(J, d)``
    widths : float or array_like ``(J,)`` (isotropic) or ``(J, d)`` (axis-aligned)
        Standard deviations ``s``, positive, coordinate units.
    domain : Domain, optional
        Defaults to ``[-1, 1]^d``.
    dtype, device
        Of the stored parameters (inputs of any floating dtype are accepted;
        parameters are cast to the input's dtype).

    Notes
    -----
    Separable: ``d^alpha`` of a bump is ``prod_k (-1/s_k)**a_k He_{a_k}(u_k)``
    times the bump, ``u_k = (x_k - mu_k)/s_k``, with ``He`` the probabilists'
    Hermite polynomials.  Blur by ``sigma``: variances add,
    ``s_k**2 -> s_k**2 + sigma_k**2``, amplitude times ``prod_k s_k / s'_k``.
    """

    def __init__(self, amplitudes, centres, widths, *, domain: Domain | None = None, dtype=None, device=None):
        mu = _per_term_vectors(centres, "centres", dtype, device)
        n_terms, d = mu.shape
        a = _amplitudes(amplitudes, n_terms, dtype, device)
        s = _tensor(widths, "widths", dtype, device)
        if s.ndim == 0:
            s = s.expand(n_terms)
        if s.ndim == 1:
            if s.shape[0] != n_terms:
                raise ValueError(f"widths must have shape (), ({n_terms},) or ({n_terms}, {d}), got {tuple(s.shape)}")
            s = s[:, None].expand(n_terms, d)
        if s.shape != (n_terms, d):
            raise ValueError(f"widths must have shape (), ({n_terms},) or ({n_terms}, {d}), got {tuple(s.shape)}")
        if not (s > 0).all():
            raise ValueError("widths must be positive")
        super().__init__(_check_domain(domain, d), a.shape[1])
        self.register_buffer("amplitudes", a)
        self.register_buffer("centres", mu)
        self.register_buffer("widths", s.contiguous())

    def _derivative(self, x, alpha):
        mu, s, a = self._buf("centres", x), self._buf("widths", x), self._buf("amplitudes", x)
        u = (x[..., None, :] - mu) / s  # (..., J, d)
        g = torch.exp(-0.5 * (u * u).sum(-1))  # (..., J)
        for k, m in enumerate(alpha):
            if m:
                g = g * _hermite_e(m, u[..., k]) * (-1.0 / s[:, k]) ** m
        return g @ a

    def blurred(self, sigma) -> "GaussianSum":
        sig = torch.as_tensor(_sigma(sigma, self.in_features), dtype=self.widths.dtype, device=self.widths.device)
        s2 = torch.sqrt(self.widths ** 2 + sig ** 2)
        a = self.amplitudes * (self.widths / s2).prod(-1, keepdim=True)
        return self._new(GaussianSum, a, self.centres, s2)

    def extra_repr(self) -> str:
        return f"terms={self.centres.shape[0]}, d={self.in_features}, c={self.out_features}"


# --------------------------------------------------------------------------- sinusoids

class SinusoidSum(AnalyticField):
    """Sum of plane waves ``sum_j a_j sin(k_j . x + phi_j)``.

    Parameters
    ----------
    amplitudes : array_like ``(J,)`` or ``(J, c)``
    frequencies : array_like ``(J, d)``
        Angular wave vectors ``k_j`` (radians per coordinate unit); the
        field's bandwidth is ``max_j |k_j|``.
    phases : array_like ``(J,)``, optional
        Zero by default.
    domain, dtype, device
        As for :class:`GaussianSum`.

    Notes
    -----
    ``d^alpha sin(k.x + phi) = prod_i k_i**alpha_i sin(k.x + phi + |alpha| pi/2)``.
    Blur by ``sigma``: ``a_j -> a_j exp(-sum_i sigma_i**2 k_ji**2 / 2)``.
    """

    def __init__(self, amplitudes, frequencies, phases=None, *, domain: Domain | None = None, dtype=None,
                 device=None):
        k = _per_term_vectors(frequencies, "frequencies", dtype, device)
        n_terms, d = k.shape
        a = _amplitudes(amplitudes, n_terms, dtype, device)
        phi = torch.zeros(n_terms, dtype=k.dtype, device=k.device) if phases is None else \
            _tensor(phases, "phases", dtype, device)
        if phi.shape != (n_terms,):
            raise ValueError(f"phases must have shape ({n_terms},), got {tuple(phi.shape)}")
        super().__init__(_check_domain(domain, d), a.shape[1])
        self.register_buffer("amplitudes", a)
        self.register_buffer("frequencies", k)
        self.register_buffer("phases", phi)

    @property
    def bandwidth(self) -> float:
        """``max_j |k_j|`` (radians per coordinate unit)."""
        return float(self.frequencies.norm(dim=-1).max())

    def _derivative(self, x, alpha):
        k, a = self._buf("frequencies", x), self._buf("amplitudes", x)
        theta = x @ k.T + self._buf("phases", x)  # (..., J)
        n = sum(alpha) % 4
        wave = (torch.sin, torch.cos, lambda t: -torch.sin(t), lambda t: -torch.cos(t))[n](theta)
        coef = torch.ones_like(k[:, 0])
        for i, m in enumerate(alpha):
            if m:
                coef = coef * k[:, i] ** m
        return (wave * coef) @ a

    def blurred(self, sigma) -> "SinusoidSum":
        sig = torch.as_tensor(_sigma(sigma, self.in_features), dtype=self.frequencies.dtype,
                              device=self.frequencies.device)
        damp = torch.exp(-0.5 * ((sig * self.frequencies) ** 2).sum(-1))
        return self._new(SinusoidSum, self.amplitudes * damp[:, None], self.frequencies, self.phases)

    def extra_repr(self) -> str:
        return f"terms={self.frequencies.shape[0]}, d={self.in_features}, c={self.out_features}"


# --------------------------------------------------------------------------- polynomials

def _falling(a: int, b: int) -> int:
    """``a (a-1) ... (a-b+1)`` = ``d^b/dx^b x^a`` coefficient (0 when b > a)."""
    return math.perm(a, b) if b <= a else 0


def _double_factorial_odd(j: int) -> int:
    """``(j-1)!!`` for even ``j``: the moment ``E[Z^j]`` of a standard normal."""
    return math.prod(range(j - 1, 0, -2)) if j > 0 else 1


class Polynomial(AnalyticField):
    """``sum_alpha c_alpha x**alpha`` with coefficients keyed by multi-index.

    Parameters
    ----------
    coefficients : mapping ``{alpha: c_alpha}``
        ``alpha`` a tuple of ``d`` non-negative ints (the exponents of
        ``x_0 ... x_{d-1}``); ``c_alpha`` a number (one channel) or a sequence
        of ``c`` numbers.  Equal keys after conversion to ints are summed.
    domain, dtype, device
        As for :class:`GaussianSum`.

    Notes
    -----
    Blur by ``sigma`` uses the Gaussian moments ``E[(x + sigma Z)**a] =
    sum_{j even} C(a, j) (j-1)!! sigma**j x**(a-j)`` per axis, so the blurred
    field is again a polynomial of the same degree.

    Examples
    --------
    >>> import torch
    >>> p = Polynomial({(2, 0): 1.0, (0, 1): 3.0}, dtype=torch.float64)   # x0^2 + 3 x1
    >>> p.blurred(0.5).coefficients[(0, 0)]
    (0.25,)
    """

    def __init__(self, coefficients: Mapping, *, domain: Domain | None = None, dtype=None, device=None):
        if not isinstance(coefficients, Mapping) or not coefficients:
            raise TypeError("coefficients must be a non-empty mapping {multi-index tuple: coefficient}")
        keys = []
        for alpha in coefficients:
            try:
                alpha_t = tuple(int(a) for a in alpha)
            except (TypeError, ValueError):
                raise TypeError(f"coefficient keys must be multi-index tuples of ints, got {alpha!r}") from None
            if any(a < 0 for a in alpha_t):
                raise ValueError(f"multi-index exponents must be non-negative, got {alpha!r}")
            keys.append(alpha_t)
        d = len(keys[0])
        if any(len(k) != d for k in keys):
            raise ValueError(f"all multi-indices must have the same length d, got {sorted(set(map(len, keys)))}")
        _check_dim(d, "the multi-indices")
        values = []
        for alpha, v in zip(keys, coefficients.values()):
            t = _tensor(v, f"coefficient of {alpha}", dtype, device).reshape(-1)
            values.append(t)
        c = values[0].numel()
        if c < 1 or any(v.numel() != c for v in values):
            raise ValueError(f"every coefficient must have the same number of channels, got "
                             f"{sorted(set(v.numel() for v in values))}")
        merged: dict[tuple[int, ...], torch.Tensor] = {}
        for alpha, v in zip(keys, values):
            merged[alpha] = merged[alpha] + v if alpha in merged else v
        super().__init__(_check_domain(domain, d), c)
        self.exponents: tuple[tuple[int, ...], ...] = tuple(merged)
        self.register_buffer("coeffs", torch.stack([merged[a] for a in self.exponents]))

    @property
    def degree(self) -> int:
        """Highest total degree among the stored terms (zero coefficients included)."""
        return max(sum(a) for a in self.exponents)

    @property
    def coefficients(self) -> dict[tuple[int, ...], tuple[float, ...]]:
        """``{alpha: (c_alpha per channel)}`` as Python floats."""
        return {a: tuple(float(v) for v in row) for a, row in zip(self.exponents, self.coeffs.tolist())}

    def _derivative(self, x, alpha):
        rows, exps, factors = [], [], []
        for p, e in enumerate(self.exponents):
            f = math.prod(_falling(ek, bk) for ek, bk in zip(e, alpha))
            if f:
                rows.append(p)
                exps.append(tuple(ek - bk for ek, bk in zip(e, alpha)))
                factors.append(float(f))
        if not rows:
            return _zeros_like_out(x, self.out_features)
        coeffs = self._buf("coeffs", x)[rows] * x.new_tensor(factors)[:, None]  # (P, c)
        one = x[..., 0] * 0.0 + 1.0  # ones, connected to x for autograd
        monos = []
        for e in exps:
            m = None
            for k, ek in enumerate(e):
                if ek:
                    t = x[..., k] ** ek
                    m = t if m is None else m * t
            monos.append(one if m is None else m)
        return torch.stack(monos, dim=-1) @ coeffs

    def blurred(self, sigma) -> "Polynomial":
        sig = _sigma(sigma, self.in_features)
        out: dict[tuple[int, ...], torch.Tensor] = {}
        coeffs = self.coeffs.to(torch.float64)
        for e, row in zip(self.exponents, coeffs):
            for js in itertools.product(*[range(0, ek + 1, 2) for ek in e]):
                w = math.prod(math.comb(ek, j) * _double_factorial_odd(j) * s ** j for ek, j, s in zip(e, js, sig))
                key = tuple(ek - j for ek, j in zip(e, js))
                out[key] = out[key] + w * row if key in out else w * row
        return self._new(Polynomial, out)

    def extra_repr(self) -> str:
        return f"terms={len(self.exponents)}, degree={self.degree}, d={self.in_features}, c={self.out_features}"


# --------------------------------------------------------------------------- combinations and warps

class AnalyticSum(AnalyticField):
    """``sum_i w_i f_i`` of analytic fields with the same ``d`` and ``c`` (weights default to 1)."""

    def __init__(self, fields: Sequence[AnalyticField], *, weights: Sequence[float] | None = None):
        fields = list(fields)
        if not fields or not all(isinstance(f, AnalyticField) for f in fields):
            raise TypeError("fields must be a non-empty sequence of AnalyticField")
        weights = [1.0] * len(fields) if weights is None else [float(w) for w in weights]
        if len(weights) != len(fields) or not all(math.isfinite(w) for w in weights):
            raise ValueError(f"weights must be {len(fields)} finite numbers, got {weights}")
        d, c = fields[0].in_features, fields[0].out_features
        if any(f.in_features != d or f.out_features != c for f in fields):
            raise ValueError(f"all fields must share d and c; got {[(f.in_features, f.out_features) for f in fields]}")
        # flatten nested sums so that f + g + h is one sum
        flat, flat_w = [], []
        for f, w in zip(fields, weights):
            if isinstance(f, AnalyticSum):
                flat += list(f.fields)
                flat_w += [w * v for v in f.weights]
            else:
                flat.append(f)
                flat_w.append(w)
        super().__init__(fields[0].domain, c)
        self.fields = nn.ModuleList(flat)
        self.weights = tuple(flat_w)

    def _derivative(self, x, alpha):
        out = None
        for f, w in zip(self.fields, self.weights):
            y = f._derivative(x, alpha) * w
            out = y if out is None else out + y
        return out

    def blurred(self, sigma) -> "AnalyticSum":
        return AnalyticSum([f.blurred(sigma) for f in self.fields], weights=self.weights)

    def extra_repr(self) -> str:
        return f"weights={self.weights}"


class Warped(AnalyticField):
    """``x -> f(A x + b)`` with ``A`` orthogonal (a rotation or reflection) and ``b`` a shift.

    Built by :func:`translated` and :func:`rotated`.  Derivatives follow the
    chain rule ``d/dx_i = sum_j A_ji d/dy_j``; blur commutes with orthogonal
    maps and shifts, so ``blurred(sigma)`` (isotropic ``sigma``) is the warp
    of the blurred inner field.
    """

    def __init__(self, field: AnalyticField, matrix, offset, *, domain: Domain | None = None):
        dom, a, b = _warp_parts(field, AnalyticField, "an AnalyticField", matrix, offset, domain)
        super().__init__(dom, field.out_features)
        _hold_warp(self, field, a, b)

    def _derivative(self, x, alpha):
        a = self._buf("matrix", x)
        y = x @ a.T + self._buf("offset", x)
        d = self.in_features
        # expand prod_i (sum_j A_ji D_j)^alpha_i into {beta: coefficient}
        terms: dict[tuple[int, ...], torch.Tensor] = {(0,) * d: a.new_ones(())}
        for i, ai in enumerate(alpha):
            for _ in range(ai):
                nxt: dict[tuple[int, ...], torch.Tensor] = {}
                for beta, coef in terms.items():
                    for j in range(d):
                        key = beta[:j] + (beta[j] + 1,) + beta[j + 1:]
                        t = coef * a[j, i]
                        nxt[key] = nxt[key] + t if key in nxt else t
                terms = nxt
        out = None
        for beta, coef in terms.items():
            t = self.field._derivative(y, beta) * coef
            out = t if out is None else out + t
        return out

    def blurred(self, sigma) -> "Warped":
        sig = _sigma(sigma, self.in_features)
        identity = torch.equal(self.matrix, torch.eye(self.in_features, dtype=self.matrix.dtype,
                                                      device=self.matrix.device))
        if not identity and len(set(sig)) != 1:
            raise ValueError("blurred() of a rotated field needs an isotropic sigma (one number), got "
                             f"{sig}")
        return Warped(self.field.blurred(sig), self.matrix, self.offset, domain=self.domain)


class WarpedField(Field):
    """``x -> f(A x + b)`` for any Field (forward only; see :class:`Warped` for analytic fields).

    ``A`` must be orthogonal (rotations and reflections).  Built by
    :func:`translated` and :func:`rotated` when the field has no closed forms
    (a SIREN, say), for invariance tests of operators.
    """

    def __init__(self, field: Field, matrix, offset, *, domain: Domain | None = None):
        dom, a, b = _warp_parts(field, Field, "an insp.Field", matrix, offset, domain)
        super().__init__(dom, field.out_features)
        _hold_warp(self, field, a, b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        a = self.matrix.to(dtype=x.dtype, device=x.device)
        return self.field(x @ a.T + self.offset.to(dtype=x.dtype, device=x.device))


def _warp_parts(field, kind: type, what: str, matrix, offset, domain):
    """Checked ``(domain, A, b)`` for a warp of ``field`` (which must be a ``kind``)."""
    if not isinstance(field, kind):
        raise TypeError(f"field must be {what}, got {type(field).__name__}")
    d = field.in_features
    dtype, device = field_dtype_device(field)
    a, b = _check_warp(matrix, offset, d, dtype, device)
    return (_check_domain(domain, d) if domain is not None else field.domain), a, b


def _hold_warp(module: Field, field: Field, a: torch.Tensor, b: torch.Tensor) -> None:
    """Keep the inner field and the warp ``(A, b)`` (as buffers: they move with the module)."""
    module.field = field
    module.register_buffer("matrix", a)
    module.register_buffer("offset", b)


def _check_warp(matrix, offset, d: int, dtype, device):
    a = _tensor(matrix, "matrix", dtype, device)
    b = _tensor(offset, "offset", dtype, device)
    if a.shape != (d, d):
        raise ValueError(f"matrix must have shape ({d}, {d}), got {tuple(a.shape)}")
    if b.shape != (d,):
        raise ValueError(f"t (offset) must have shape ({d},), got {tuple(b.shape)}")
    ad = a.to(torch.float64)
    if not torch.allclose(ad.T @ ad, torch.eye(d, dtype=torch.float64, device=ad.device), atol=1e-5):
        raise ValueError("matrix must be orthogonal (R^T R = I): rotations and reflections only")
    return a, b


def _compose(field, matrix, t):
    """``x -> field(R (x + t))`` folded into one warp (``matrix`` None: identity; ``t`` None: 0)."""
    if not isinstance(field, Field):
        raise TypeError(f"field must be an insp.Field, got {type(field).__name__}")
    d = field.in_features
    dtype, device = field_dtype_device(field)
    r = torch.eye(d, dtype=torch.float64) if matrix is None else _tensor(matrix, "matrix", torch.float64, "cpu")
    t = torch.zeros(d, dtype=torch.float64) if t is None else _tensor(t, "t", torch.float64, "cpu")
    _check_warp(r, t, d, torch.float64, None)
    inner, a, b = field, torch.eye(d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64)
    if isinstance(field, (Warped, WarpedField)):
        inner, a, b = field.field, field.matrix.to(torch.float64).cpu(), field.offset.to(torch.float64).cpu()
    # f(A (R (x + t)) + b) = f((A R) x + (A R t + b))
    a_new, b_new = a @ r, a @ (r @ t) + b
    cls = Warped if isinstance(inner, AnalyticField) else WarpedField
    return cls(inner, a_new.to(dtype=dtype, device=device), b_new.to(dtype=dtype, device=device),
               domain=field.domain)


def translated(field: Field, t) -> Field:
    """The field ``x -> field(x + t)`` (``t`` of shape ``(d,)``).

    An :class:`AnalyticField` gives a :class:`Warped` (with closed forms),
    any other Field a :class:`WarpedField`.  Warps of warps are folded into one.
    """
    return _compose(field, None, t)


def rotated(field: Field, matrix) -> Field:
    """The field ``x -> field(R x)`` for an orthogonal ``d x d`` matrix ``R``.

    An :class:`AnalyticField` gives a :class:`Warped` (with closed forms),
    any other Field a :class:`WarpedField`.  Warps of warps are folded into one.
    """
    return _compose(field, matrix, None)
