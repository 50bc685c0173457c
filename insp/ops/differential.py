"""Closed-form differential operators: Field -> Field, evaluated lazily.

Every result is a Field on the same domain, in coordinate units (use
:mod:`insp.units` for pixel units of a grid).  Channel layout of vector
results is channel-major: ``gradient(f)[..., i * d + k] = d_k f_i``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..fields.base import Field, check_field
from ..jet.engine import DEFAULT_JET_CHUNK, check_order
from ..jet.indices import index_of, laplacian_power, multi_indices, parse_name
from .linear import LinearOperatorField, OperatorField

__all__ = ["gradient", "divergence", "laplacian", "hessian", "directional_derivative", "gradient_magnitude",
           "sharpen", "DifferentialPolynomial", "linear_operator"]


def _zeros(field: Field, c_out: int, order: int) -> torch.Tensor:
    return torch.zeros(c_out, field.out_features, len(multi_indices(field.in_features, order)), dtype=torch.float64)


def _unit(d: int, *axes: int) -> tuple[int, ...]:
    alpha = [0] * d
    for k in axes:
        alpha[k] += 1
    return tuple(alpha)


def linear_operator(field: Field, terms: dict, *, name: str = "L", **kw) -> LinearOperatorField:
    """Channel-wise ``L f_i = sum_alpha terms[alpha] d^alpha f_i`` from a dict.

    Keys are multi-indices or names (``{"dxx": 1, "dyy": 1}`` is the Laplacian).

    Examples
    --------
    >>> import torch
    >>> from insp.ops import laplacian, linear_operator
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # x0^2 + 3 x1^2
    >>> x = torch.tensor([[0.0, 0.0], [0.5, -0.25]], dtype=torch.float64)
    >>> linear_operator(p, {"dxx": 1.0, "dyy": -1.0})(x).tolist()        # 2 - 6
    [[-4.0], [-4.0]]
    >>> linear_operator(p, {(1, 0): 1.0})(x).tolist()                    # multi-index keys: d/dx0 = 2 x0
    [[0.0], [1.0]]
    >>> lap = linear_operator(p, {"dxx": 1.0, "dyy": 1.0})               # the Laplacian, by hand
    >>> bool(torch.equal(lap(x), laplacian(p)(x)))
    True
    """
    check_field(field)
    d = field.in_features
    if not terms:
        raise ValueError("terms must name at least one derivative")
    alphas = {(parse_name(k, d) if isinstance(k, str) else tuple(k)): float(v) for k, v in terms.items()}
    for a in alphas:
        if len(a) != d or any(x < 0 for x in a):
            raise ValueError(f"terms: multi-index {a} must have {d} non-negative entries")
    order = max(sum(a) for a in alphas)
    A = _zeros(field, field.out_features, order)
    for a, v in alphas.items():
        for i in range(field.out_features):
            A[i, i, index_of(a, d, order)] = v
    return LinearOperatorField(field, A.to(_dtype(field)), order, name=name, **kw)


def _dtype(field: Field):
    from ..fields.base import field_dtype_device

    return field_dtype_device(field)[0]


def gradient(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> LinearOperatorField:
    """``grad f``: ``c * d`` channels, ``[..., i * d + k] = d_k f_i``.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import gradient
    >>> from insp.testing import Polynomial, SinusoidSum
    >>> f = SinusoidSum([1.0], [[2.0, 0.0]], dtype=torch.float64)        # sin(2 x0)
    >>> gradient(f)(torch.zeros(1, 2, dtype=torch.float64)).tolist()     # (2 cos 0, 0)
    [[2.0, 0.0]]
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # x0^2 + 3 x1^2
    >>> gradient(p)(torch.tensor([[0.5, -0.25]], dtype=torch.float64)).tolist()   # (2 x0, 6 x1)
    [[1.0, -1.5]]
    >>> gradient(p).sample((4, 4)).shape                                 # a lazy Field: sample it
    torch.Size([4, 4, 2])
    """
    check_field(field)
    d, c = field.in_features, field.out_features
    A = _zeros(field, c * d, 1)
    for i in range(c):
        for k in range(d):
            A[i * d + k, i, index_of(_unit(d, k), d, 1)] = 1.0
    return LinearOperatorField(field, A.to(_dtype(field)), 1, name="gradient", jet_method=jet_method, chunk_size=chunk_size)


def divergence(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> LinearOperatorField:
    """``div v = sum_k d_k v_k`` of a vector field with ``c = d`` channels.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import divergence, gradient
    >>> from insp.testing import Polynomial
    >>> v = Polynomial({(1, 0): [1.0, 0.0], (0, 1): [0.0, 2.0]}, dtype=torch.float64)   # v = (x0, 2 x1)
    >>> x = torch.tensor([[0.0, 0.0], [0.5, -0.25]], dtype=torch.float64)
    >>> divergence(v)(x).tolist()                                        # 1 + 2
    [[3.0], [3.0]]
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)
    >>> divergence(gradient(p))(x).tolist()                              # div grad = the Laplacian
    [[8.0], [8.0]]
    """
    check_field(field)
    d = field.in_features
    if field.out_features != d:
        raise ValueError(f"field must be a vector field with {d} channels (one per axis) for divergence, "
                         f"got {field.out_features}")
    A = _zeros(field, 1, 1)
    for k in range(d):
        A[0, k, index_of(_unit(d, k), d, 1)] = 1.0
    return LinearOperatorField(field, A.to(_dtype(field)), 1, name="divergence", jet_method=jet_method, chunk_size=chunk_size)


def laplacian(field: Field, *, power: int = 1, jet_method: str = "auto",
              chunk_size: int = DEFAULT_JET_CHUNK) -> LinearOperatorField:
    """``lap^power f`` per channel (``power=1``: ``sum_k d_k^2 f``).

    Evaluated with the collapsed Laplacian jets of :func:`insp.jet.laplacian_at`.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import laplacian
    >>> from insp.testing import Polynomial, SinusoidSum
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # x0^2 + 3 x1^2
    >>> x = torch.tensor([[0.0, 0.0], [0.5, -0.25]], dtype=torch.float64)
    >>> laplacian(p)(x).tolist()                                         # 2 + 6, everywhere
    [[8.0], [8.0]]
    >>> laplacian(p, power=2)(x).tolist()                                # lap^2 of a quadratic
    [[0.0], [0.0]]
    >>> f = SinusoidSum([1.0], [[3.0, 4.0]], dtype=torch.float64)        # sin(3 x0 + 4 x1)
    >>> y = torch.tensor([[0.1, 0.2]], dtype=torch.float64)
    >>> bool(torch.allclose(laplacian(f)(y), -25 * f(y)))                # -|k|^2 f
    True
    """
    check_field(field)
    if isinstance(power, bool) or not isinstance(power, int) or power < 1:
        raise ValueError(f"power must be a positive integer, got {power!r}")
    d = field.in_features
    terms = {alpha: float(c) for alpha, c in laplacian_power(d, power).items()}
    op = linear_operator(field, terms, name="laplacian" if power == 1 else f"laplacian^{power}", jet_method=jet_method,
                         chunk_size=chunk_size)
    op.laplacian_power = power
    return op


def hessian(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> LinearOperatorField:
    """``Hess f``: ``c * d * d`` channels, ``[..., (i * d + k) * d + l] = d_k d_l f_i``.

    Examples
    --------
    >>> import torch
    >>> from insp.ops import hessian
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0, (1, 1): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # x0^2 + x0 x1 + 3 x1^2
    >>> H = hessian(p)(torch.tensor([[0.5, -0.25]], dtype=torch.float64))
    >>> H.tolist()                                                       # [[2, 1], [1, 6]], row-major
    [[2.0, 1.0, 1.0, 6.0]]
    >>> H.reshape(2, 2).tolist()
    [[2.0, 1.0], [1.0, 6.0]]
    """
    check_field(field)
    d, c = field.in_features, field.out_features
    A = _zeros(field, c * d * d, 2)
    for i in range(c):
        for k in range(d):
            for l in range(d):
                A[(i * d + k) * d + l, i, index_of(_unit(d, k, l), d, 2)] = 1.0
    return LinearOperatorField(field, A.to(_dtype(field)), 2, name="hessian", jet_method=jet_method, chunk_size=chunk_size)


def directional_derivative(field: Field, *, direction, jet_method: str = "auto",
                           chunk_size: int = DEFAULT_JET_CHUNK) -> LinearOperatorField:
    """``v . grad f`` per channel for a constant ``direction`` ``v`` of length ``d`` (not normalised).

    Examples
    --------
    >>> import torch
    >>> from insp.ops import directional_derivative
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # grad p = (2 x0, 6 x1)
    >>> x = torch.tensor([[0.5, -0.25]], dtype=torch.float64)
    >>> directional_derivative(p, direction=[1.0, 1.0])(x).tolist()      # 1 - 1.5
    [[-0.5]]
    >>> directional_derivative(p, direction=[0.0, 2.0])(x).tolist()      # not normalised: 2 * (-1.5)
    [[-3.0]]
    """
    check_field(field)
    d = field.in_features
    v = torch.as_tensor(direction, dtype=torch.float64).flatten()
    if v.numel() != d or not torch.isfinite(v).all():
        raise ValueError(f"direction must be {d} finite numbers (one per axis), got {direction!r}")
    return linear_operator(field, {_unit(d, k): float(v[k]) for k in range(d)}, name="directional_derivative",
                           jet_method=jet_method, chunk_size=chunk_size)


def sharpen(field: Field, *, amount: float = 1.0, jet_method: str = "auto",
            chunk_size: int = DEFAULT_JET_CHUNK) -> LinearOperatorField:
    """Unsharp masking by the Laplacian: ``f - amount * lap f``.

    ``amount`` has units of squared coordinate length; ``amount = s^2 / 2``
    undoes, to first order, a Gaussian blur of std ``s`` (the heat equation
    run backwards).

    Examples
    --------
    >>> import torch
    >>> from insp.ops import sharpen
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # lap p = 8
    >>> x = torch.tensor([[0.0, 0.0], [0.5, -0.25]], dtype=torch.float64)
    >>> sharpen(p, amount=0.5)(x).tolist()                               # p - 0.5 * 8
    [[-4.0], [-3.5625]]

    Sharpening by ``s^2 / 2`` undoes a blur of std ``s`` exactly on a
    quadratic (blur adds ``4 s^2`` to ``p``):

    >>> s = 0.3
    >>> bool(torch.allclose(sharpen(p.blurred(s), amount=s ** 2 / 2)(x), p(x)))
    True
    """
    check_field(field)
    if not (isinstance(amount, (int, float)) and math.isfinite(amount)):
        raise ValueError(f"amount must be a finite number, got {amount!r}")
    d = field.in_features
    terms = {(0,) * d: 1.0}
    for k in range(d):
        terms[_unit(d, k, k)] = -float(amount)
    return linear_operator(field, terms, name=f"sharpen(amount={amount:g})", jet_method=jet_method, chunk_size=chunk_size)


class GradientMagnitude(OperatorField):
    """``|grad f_i|`` per channel (edge strength), coordinate units."""

    def __init__(self, inner: Field, *, eps: float = 0.0, **kw):
        check_order(inner, 1)
        super().__init__(inner, inner.out_features, **kw)
        self.eps = eps

    def forward(self, x):
        x = self.check_points(x)
        g = self._jet(x, 1).gradient()  # (..., c, d)
        return torch.sqrt((g * g).sum(-1) + self.eps)


def gradient_magnitude(field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> OperatorField:
    """Edge strength ``|grad f_i|`` per channel (a nonlinear operator; its own derivatives go
    through the general path).

    Examples
    --------
    >>> import torch
    >>> from insp.ops import gradient_magnitude
    >>> from insp.testing import Polynomial
    >>> r = Polynomial({(1, 0): 3.0, (0, 1): 4.0}, dtype=torch.float64)   # 3 x0 + 4 x1
    >>> x = torch.tensor([[0.1, -0.7], [0.5, 0.5], [-1.0, 1.0]], dtype=torch.float64)
    >>> gradient_magnitude(r)(x).tolist()                                # |(3, 4)| = 5 everywhere
    [[5.0], [5.0], [5.0]]
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)
    >>> round(gradient_magnitude(p)(torch.tensor([[0.5, -0.25]], dtype=torch.float64)).item(), 4)  # |(1, -1.5)|
    1.8028
    """
    check_field(field)
    return GradientMagnitude(field, jet_method=jet_method, chunk_size=chunk_size)


class DifferentialPolynomial(nn.Module):
    """A linear differential operator with learnable (or given) coefficients.

    The linear INSP operator of Xu et al. 2022 (Eq. 5):
    ``L f = sum_{|alpha| <= order} a_alpha d^alpha f``, the same coefficients
    for every channel (``shared=True``) or one set per channel.  Any
    shift-invariant linear filter is approximated by such a polynomial in the
    gradient operator.

    Parameters
    ----------
    dim : int
        Input dimension ``d`` of the fields it applies to.
    order : int
    channels : int
        Channels of the fields (only used when ``shared=False``).
    coefficients : array_like, optional
        ``(M,)`` (shared) or ``(channels, M)``; default zeros except the
        identity term.
    shared : bool

    Examples
    --------
    >>> import torch, insp
    >>> from insp.ops import DifferentialPolynomial
    >>> L = DifferentialPolynomial(2, order=2, coefficients=[0, 0, 0, 1, 0, 1])  # the Laplacian
    >>> g = L.apply(insp.Siren(2, 1, seed=0))
    """

    def __init__(self, dim: int, *, order: int, channels: int = 1, coefficients=None, shared: bool = True):
        super().__init__()
        m = len(multi_indices(dim, order))
        rows = 1 if shared else channels
        if coefficients is None:
            coef = torch.zeros(rows, m)
            coef[:, 0] = 1.0
        else:
            coef = torch.as_tensor(coefficients, dtype=torch.get_default_dtype())
            coef = coef.reshape(1, -1) if coef.ndim == 1 else coef
            if coef.shape != (rows, m):
                raise ValueError(f"coefficients must have shape ({m},) shared or ({channels}, {m}) per channel "
                                 f"for dim={dim}, order={order}; got {tuple(torch.as_tensor(coefficients).shape)}")
        self.dim, self.order, self.channels, self.shared = dim, order, channels, shared
        self.coefficients = nn.Parameter(coef)

    @property
    def indices(self):
        return multi_indices(self.dim, self.order)

    def apply(self, field: Field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> LinearOperatorField:
        """``L f`` as a Field (gradients flow to ``self.coefficients``)."""
        check_field(field)
        if field.in_features != self.dim:
            raise ValueError(f"field has dimension {field.in_features}, this operator was built for {self.dim}")
        c = field.out_features
        if not self.shared and c != self.channels:
            raise ValueError(f"field has {c} channels, this per-channel operator has {self.channels}")
        eye = torch.eye(c, dtype=self.coefficients.dtype, device=self.coefficients.device)
        coef = self.coefficients.expand(c, -1) if self.shared else self.coefficients
        A = eye[:, :, None] * coef[None, :, :]  # (c, c, M): diagonal in channels
        return LinearOperatorField(field, A, self.order, name="DifferentialPolynomial", jet_method=jet_method,
                                   chunk_size=chunk_size)

    def forward(self, field: Field) -> LinearOperatorField:
        return self.apply(field)
