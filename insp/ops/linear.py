"""Linear differential operators with constant coefficients: one mechanism for all.

An operator ``L`` of order ``L_ord`` is a coefficient tensor ``A`` of shape
``(c_out, c_in, M)`` over the multi-indices up to ``L_ord``::

    (L f)_o (x) = sum_{i, m} A[o, i, m] d^{alpha_m} f_i (x).

Gradient, divergence, Laplacian, Hessian, directional derivative, unsharp
masking, the heat-equation blur series and the learnable
:class:`DifferentialPolynomial` (Xu et al. 2022, Eq. 5) are all of this form.
Because ``d^beta (L f) = L (d^beta f)``, the derivatives of ``L f`` come from a
higher-order jet of ``f`` -- so operators compose (``laplacian(gaussian_blur(f))``)
without differentiating through the operator.
"""

from __future__ import annotations

import torch
from torch import nn

from ..fields.base import Field, check_field
from ..jet.engine import DEFAULT_JET_CHUNK, check_order, jet, laplacian_at
from ..jet.indices import index_of, multi_indices

__all__ = ["OperatorField", "LinearOperatorField"]


class OperatorField(Field):
    """A Field computed from another one (``self.inner``); evaluated lazily.

    Parameters
    ----------
    inner : Field
    out_features : int
    jet_method : str
        Derivative path for the inner field (see :func:`insp.jet.jet`).
    chunk_size : int
        Points per derivative pass.

    Examples
    --------
    A new operator on the jet of its inner field (here ``|d f / d x0|``):

    >>> import torch
    >>> from insp.ops import OperatorField
    >>> from insp.testing import Polynomial
    >>> class Slope(OperatorField):
    ...     def forward(self, x):
    ...         return self._jet(self.check_points(x), 1)["dx"].abs()
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # d p / d x0 = 2 x0
    >>> Slope(p, 1)(torch.tensor([[-0.5, 0.3]], dtype=torch.float64)).tolist()
    [[1.0]]
    >>> Slope(p, 1).sample((3, 3)).shape                                 # a Field like any other
    torch.Size([3, 3, 1])
    """

    def __init__(self, inner: Field, out_features: int, *, jet_method: str = "auto",
                 chunk_size: int = DEFAULT_JET_CHUNK):
        check_field(inner)
        super().__init__(inner.domain, out_features)
        self.inner = inner
        self.jet_method = jet_method
        self.chunk_size = chunk_size

    def _jet(self, x, order):
        return jet(self.inner, x, order=order, jet_method=self.jet_method, chunk_size=self.chunk_size)

    @property
    def provenance(self):
        """The inner field's record with this operator appended (its grid and recipe are the input's)."""
        return self.inner.provenance.then(getattr(self, "name", None) or type(self).__name__)


class LinearOperatorField(OperatorField):
    """``L f`` for a constant-coefficient linear differential operator (see module notes).

    Parameters
    ----------
    inner : Field
    coefficients : Tensor ``(c_out, c_in, M)``
        Over ``multi_indices(d, order)``; an ``nn.Parameter`` makes ``L`` learnable.
    order : int
        Highest derivative order of ``L``.
    name : str
        For ``repr``.

    Examples
    --------
    ``dx + dy`` from its coefficients over ``multi_indices(2, 1) = ((0, 0), (1, 0), (0, 1))``:

    >>> import torch
    >>> from insp.ops import LinearOperatorField, laplacian
    >>> from insp.testing import Polynomial
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)   # grad p = (2 x0, 6 x1)
    >>> A = torch.tensor([[[0.0, 1.0, 1.0]]], dtype=torch.float64)       # (c_out, c_in, M) = (1, 1, 3)
    >>> L = LinearOperatorField(p, A, 1, name="dx + dy")
    >>> L(torch.tensor([[0.5, -0.25]], dtype=torch.float64)).tolist()   # 1 - 1.5
    [[-0.5]]
    >>> lap = laplacian(p)                                               # the operators build these
    >>> type(lap).__name__, lap.order, tuple(lap.coefficients.shape)
    ('LinearOperatorField', 2, (1, 1, 6))
    """

    def __init__(self, inner: Field, coefficients: torch.Tensor, order: int, *, name: str = "L",
                 jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK, laplacian_power: int | None = None):
        check_field(inner)
        check_order(inner, order)
        d = inner.in_features
        m = len(multi_indices(d, order))
        if coefficients.ndim != 3 or coefficients.shape[1:] != (inner.out_features, m):
            raise ValueError(f"coefficients must have shape (c_out, {inner.out_features}, {m}), "
                             f"got {tuple(coefficients.shape)}")
        super().__init__(inner, coefficients.shape[0], jet_method=jet_method, chunk_size=chunk_size)
        if isinstance(coefficients, nn.Parameter):
            self.coefficients = coefficients
        else:
            self.register_buffer("coefficients", coefficients)
        self.order = order
        self.name = name
        # L = lap^p exactly: the collapsed Laplacian jet is cheaper than the full one
        self.laplacian_power = laplacian_power

    def extra_repr(self) -> str:
        return f"{self.name}, order={self.order}, out_features={self.out_features}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        if self.laplacian_power is not None:
            return laplacian_at(self.inner, x, power=self.laplacian_power, jet_method=self.jet_method,
                                chunk_size=self.chunk_size)
        values = self._jet(x, self.order).values  # (..., c_in, M)
        A = self.coefficients.to(dtype=values.dtype, device=values.device)
        return torch.einsum("...im,oim->...o", values, A)

    def derivative_stack(self, x: torch.Tensor, order: int) -> torch.Tensor:
        """``d^beta (L f)`` for every ``|beta| <= order``: ``(..., c_out, M_order)``, from one jet of ``f``."""
        d = self.in_features
        values = self._jet(x, order + self.order).values
        A = self.coefficients.to(dtype=values.dtype, device=values.device)
        inner_idx = multi_indices(d, self.order)
        cols = []
        for beta in multi_indices(d, order):
            shifted = [index_of(tuple(a + b for a, b in zip(alpha, beta)), d, order + self.order) for alpha in inner_idx]
            cols.append(torch.einsum("...im,oim->...o", values[..., shifted], A))
        return torch.stack(cols, dim=-1)

    @property
    def max_derivative_order(self):
        limit = getattr(self.inner, "max_derivative_order", None)
        return None if limit is None else max(limit - self.order, 0)
