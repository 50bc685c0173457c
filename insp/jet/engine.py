"""``jet(field, x, order=K)``: every partial derivative up to order K, three ways.

* ``jet_method="taylor"`` -- forward Taylor mode through the field's primitives
  (:mod:`insp.jet.taylor`): one pass (plus a reverse sweep per output channel
  for the top order when that is cheaper), exact, the default for the INRs
  insp ships;
* ``jet_method="native"`` -- the field's own ``derivative_stack(x, order)``
  (closed forms of analytic fields; operator fields, which derive their jet
  from a higher-order jet of the field they act on);
* ``jet_method="general"`` -- nested ``torch.func.jacfwd`` under ``vmap``, for any
  differentiable Field (cost grows like ``d^K``);
* ``jet_method="reference"`` -- nested ``torch.autograd.grad(create_graph=True)``,
  one backward pass per parent partial, the way the original INSP code builds
  its features; kept for tests and as the benchmark baseline.

All three return the same numbers (to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .._checks import check_int
from ..fields.base import Field, check_chunk_size
from .indices import index_of, laplacian_power, multi_indices, name_of, num_partials_of_order, parse_name
from .taylor import BilaplacianJet, LaplacianJet, TaylorJet, has_taylor_rules, propagate

__all__ = ["Jet", "jet", "laplacian_at", "gradient_at", "JET_METHODS", "resolve_jet_method", "check_order"]

JET_METHODS = ("auto", "taylor", "native", "general", "reference")

#: points per chunk for derivative stacks (each point carries M partials per feature)
DEFAULT_JET_CHUNK = 1024


@dataclass(frozen=True)
class Jet:
    """All partials up to ``order`` of a field at a batch of points.

    Attributes
    ----------
    values : Tensor ``(..., c, M)``
        ``values[..., i, m]`` is ``d^alpha f_i`` for ``alpha = indices[m]``,
        in coordinate units.
    d, order : int

    Examples
    --------
    ``f = x0^2 x1`` at ``(1, 2)``:

    >>> import torch
    >>> from insp.jet import jet
    >>> from insp.testing import Polynomial
    >>> q = Polynomial({(2, 1): 1.0}, dtype=torch.float64)
    >>> J = jet(q, torch.tensor([[1.0, 2.0]], dtype=torch.float64), order=3)
    >>> J.names
    ['f', 'dx', 'dy', 'dxx', 'dxy', 'dyy', 'dxxx', 'dxxy', 'dxyy', 'dyyy']
    >>> J["dxy"].tolist(), J[(2, 0)].tolist()            # 2 x0, 2 x1: by name or multi-index
    ([[2.0]], [[4.0]])
    >>> J.laplacian().tolist()                           # 2 x1 + 0
    [[4.0]]
    >>> J.gradient().tolist(), J.hessian().tolist()      # (2 x0 x1, x0^2), [[2 x1, 2 x0], [2 x0, 0]]
    ([[[4.0, 1.0]]], [[[[4.0, 2.0], [2.0, 0.0]]]])
    """

    values: torch.Tensor
    d: int
    order: int

    @property
    def indices(self) -> tuple[tuple[int, ...], ...]:
        """Multi-indices of the last axis (graded, then descending lexicographic)."""
        return multi_indices(self.d, self.order)

    @property
    def names(self) -> list[str]:
        """``['f', 'dx', 'dy', 'dxx', 'dxy', 'dyy', ...]``."""
        return [name_of(a) for a in self.indices]

    def __getitem__(self, key) -> torch.Tensor:
        """A partial by name (``"dxy"``) or multi-index (``(1, 1)``), shape ``(..., c)``."""
        alpha = parse_name(key, self.d) if isinstance(key, str) else tuple(key)
        return self.values[..., index_of(alpha, self.d, self.order)]

    def _of_order(self, n: int) -> list[int]:
        if n > self.order:
            raise ValueError(f"this jet has order {self.order}; order {n} terms are not available")
        return [i for i, a in enumerate(self.indices) if sum(a) == n]

    def gradient(self) -> torch.Tensor:
        """``(..., c, d)``."""
        return self.values[..., self._of_order(1)]

    def hessian(self) -> torch.Tensor:
        """``(..., c, d, d)``, symmetric."""
        self._of_order(2)
        d = self.d
        rows = []
        for k in range(d):
            cols = []
            for l in range(d):
                alpha = [0] * d
                alpha[k] += 1
                alpha[l] += 1
                cols.append(self[tuple(alpha)])
            rows.append(torch.stack(cols, dim=-1))
        return torch.stack(rows, dim=-2)

    def laplacian(self, power: int = 1) -> torch.Tensor:
        """``lap^power f``, shape ``(..., c)`` (needs ``order >= 2 * power``)."""
        return _contract(self.values, _laplacian_weights(self.d, self.order, power))


def _laplacian_weights(d: int, order: int, power: int) -> torch.Tensor:
    """Weights ``w`` over the stack with ``lap^p f = sum_m w_m d^{alpha_m} f`` (:func:`laplacian_power`)."""
    if isinstance(power, bool) or not isinstance(power, int) or power < 1:
        raise ValueError(f"power must be a positive integer, got {power!r}")
    if 2 * power > order:
        raise ValueError(f"lap^{power} needs derivatives of order {2 * power}, the jet has order {order}")
    w = torch.zeros(len(multi_indices(d, order)), dtype=torch.float64)
    for alpha, coef in laplacian_power(d, power).items():
        w[index_of(alpha, d, order)] = coef
    return w


def _contract(values: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return values @ w.to(dtype=values.dtype, device=values.device)


#: the highest derivative order the engine computes: beyond it the exact factorial weights of the Taylor
#: coefficients leave 64-bit integers (21! > 2**63), and a jet of order 20 in 3-D has 1,771 partials already
MAX_ORDER = 20


def check_order(field: Field, order, *, name: str = "order") -> int:
    """Validate a derivative order against the engine's limit and what ``field`` can provide (before any work)."""
    order = check_int(order, name, minimum=0)
    if order > MAX_ORDER:
        raise ValueError(f"{name} must be at most {MAX_ORDER} (the derivative engine's limit: the exact weights of "
                         f"higher orders overflow 64-bit integers), got {order}")
    limit = getattr(field, "max_derivative_order", None)
    if limit is not None and order > limit:
        reason = getattr(field, "derivative_limit_reason", None) or (
            f"is piecewise linear in its input encoding: derivatives of order > {limit} vanish or only reflect "
            f"the encoding")
        raise ValueError(
            f"{type(field).__name__} {reason}, so {name}={order} is refused. Use a smooth INR (Siren, or "
            f"activation='tanh'/'softplus') for higher-order operators.")
    return order


def resolve_jet_method(field, jet_method: str) -> str:
    if jet_method not in JET_METHODS:
        raise ValueError(f"jet_method must be one of {JET_METHODS}, got {jet_method!r}")
    modules = field.taylor_modules() if isinstance(field, Field) else None
    fast = has_taylor_rules(modules)
    native = callable(getattr(field, "derivative_stack", None))
    if jet_method == "auto":
        return "taylor" if fast else "native" if native else "general"
    if jet_method == "taylor" and not fast:
        raise ValueError(f"jet_method='taylor' needs a field built from primitives with Taylor rules; "
                         f"{type(field).__name__} has none (use jet_method='general')")
    if jet_method == "native" and not native:
        raise ValueError(f"jet_method='native' needs a field with a derivative_stack(x, order) method; "
                         f"{type(field).__name__} has none (use jet_method='general')")
    return jet_method


def _check_field_points(field, x) -> torch.Tensor:
    if not isinstance(field, Field):
        raise TypeError(f"field must be an insp.Field, got {type(field).__name__}")
    return field.check_points(x)


def _chunked(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """Apply ``fn`` to ``x`` flattened to ``(P, d)`` in chunks; restore the batch shape."""
    batch = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    outs = [fn(flat[s:s + chunk_size]) for s in range(0, flat.shape[0], chunk_size)]
    out = torch.cat(outs, dim=0) if outs else fn(flat)
    return out.reshape(*batch, *out.shape[1:])


def _graph_context(create_graph):
    if create_graph is None:
        return torch.set_grad_enabled(torch.is_grad_enabled())
    return torch.set_grad_enabled(bool(create_graph))


# ------------------------------------------------------------------ paths

def _taylor_path(field: Field, x: torch.Tensor, order: int) -> torch.Tensor:
    # the top order by a reverse sweep (one per channel) when that is cheaper
    # than pushing its C(K + d - 1, d - 1) planes through every linear map
    by_adjoint = field.out_features < num_partials_of_order(x.shape[-1], order)
    out = propagate(field.taylor_modules(), TaylorJet.of_input(x, order, top_by_adjoint=by_adjoint))
    return out.derivatives()


def _general_path(field: Field, x: torch.Tensor, order: int) -> torch.Tensor:
    from torch.func import jacfwd, vmap

    d = x.shape[-1]

    def level0(p):  # (d,) -> (c,), all orders so far carried as aux
        y = field(p)
        return y, (y,)

    fn = level0
    for _ in range(order):  # one nested jacfwd chain; lower orders ride along as aux
        def fn(p, prev=fn):
            top, lower = jacfwd(prev, has_aux=True)(p)
            return top, lower + (top,)

    tensors = vmap(fn)(x)[1]  # tensors[n]: (N, c, d, ..., d) with n axes of size d
    stacks = []
    for alpha in multi_indices(d, order):
        axes = tuple(k for k in range(d) for _ in range(alpha[k]))
        stacks.append(tensors[sum(alpha)][(slice(None), slice(None)) + axes])
    return torch.stack(stacks, dim=-1)


def _reference_path(field: Field, x: torch.Tensor, order: int) -> torch.Tensor:
    d = x.shape[-1]
    idx = multi_indices(d, order)
    keep_graph = torch.is_grad_enabled()  # the caller's wish for the top order
    with torch.enable_grad():
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        y = field(x)
        channels = []
        for ch in range(y.shape[-1]):
            known = {idx[0]: y[:, ch]}
            for alpha in idx[1:]:
                if alpha in known:
                    continue
                k = max(i for i in range(d) if alpha[i] > 0)  # differentiate the parent along its last axis
                parent = tuple(a - (i == k) for i, a in enumerate(alpha))
                # lower orders are differentiated again; the top order only if the caller keeps a graph
                top = sum(alpha) == order
                grads = torch.autograd.grad(known[parent].sum(), x, create_graph=keep_graph or not top,
                                            retain_graph=True, allow_unused=True)[0]
                for i in range(d):
                    child = tuple(a + (j == i) for j, a in enumerate(parent))
                    if child not in known and sum(child) <= order:
                        known[child] = grads[:, i] if grads is not None else torch.zeros_like(y[:, ch])
            channels.append(torch.stack([known[a] for a in idx], dim=-1))
    return torch.stack(channels, dim=-2)


def _native_path(field: Field, x: torch.Tensor, order: int) -> torch.Tensor:
    return field.derivative_stack(x, order)


_PATHS = {"taylor": _taylor_path, "native": _native_path, "general": _general_path, "reference": _reference_path}


def jet(field: Field, x: torch.Tensor, *, order: int, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK,
        create_graph: bool | None = None) -> Jet:
    """All partial derivatives of ``field`` up to total ``order`` at points ``x``.

    Parameters
    ----------
    field : Field
    x : Tensor ``(..., d)``
        Points, any batch shape.
    order : int
        Highest total order ``K``.
    jet_method : {"auto", "taylor", "native", "general", "reference"}
        ``auto`` takes the Taylor path when every module of the field has a
        Taylor rule, else the field's own ``derivative_stack`` when it has
        one, else the general (torch.func) path.
    chunk_size : int
        Points per pass (memory grows with ``chunk_size * width * M``).
    create_graph : bool, optional
        Keep the autograd graph so the result can be back-propagated to the
        field's parameters (and ``x``).  Default: follow
        ``torch.is_grad_enabled()``.  ``False`` skips graph construction.

    Returns
    -------
    Jet
        ``values`` of shape ``(..., c, M)``, ``M = C(K + d, d)``, partials in
        coordinate units ordered as :func:`~insp.jet.indices.multi_indices`.

    Examples
    --------
    >>> import torch, insp
    >>> from insp.jet import jet
    >>> f = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0, dtype=torch.float64)
    >>> J = jet(f, torch.zeros(5, 2, dtype=torch.float64), order=2)
    >>> J.values.shape, J.names
    (torch.Size([5, 1, 6]), ['f', 'dx', 'dy', 'dxx', 'dxy', 'dyy'])
    """
    x = _check_field_points(field, x)
    order = check_order(field, order)
    jet_method = resolve_jet_method(field, jet_method)
    chunk_size = check_chunk_size(chunk_size)
    path = _PATHS[jet_method]
    with _graph_context(create_graph):
        values = _chunked(lambda pts: path(field, pts, order), x, chunk_size)
        if create_graph is False or (create_graph is None and not torch.is_grad_enabled()):
            values = values.detach()
    return Jet(values, x.shape[-1], order)


def laplacian_at(field: Field, x: torch.Tensor, *, power: int = 1, jet_method: str = "auto",
                 chunk_size: int = DEFAULT_JET_CHUNK, create_graph: bool | None = None) -> torch.Tensor:
    """``lap^power f`` at ``x``, shape ``(..., c)``, without every mixed partial where possible.

    On the Taylor path, ``power=1`` carries ``(f, grad f, lap f)`` only (d + 2
    parts, the forward Laplacian), ``power=2`` carries ``(f, grad f, Hess f,
    grad lap f, lap^2 f)``; higher powers contract the full jet of order
    ``2 * power``.  Other paths contract their full jet.

    Examples
    --------
    >>> import math, torch, insp
    >>> from insp.jet import jet, laplacian_at
    >>> from insp.testing import SinusoidSum
    >>> f = SinusoidSum([1.0], [[2.0, 0.0]], dtype=torch.float64)      # sin(2 x0): lap = -4 sin(2 x0)
    >>> laplacian_at(f, torch.tensor([[math.pi / 4, 0.0]], dtype=torch.float64)).tolist()
    [[-4.0]]

    On a SIREN the collapsed Laplacian jet (``d + 2`` parts) agrees with the
    contraction of the full order-2 jet:

    >>> s = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0, dtype=torch.float64)
    >>> x = torch.rand(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> laplacian_at(s, x).shape
    torch.Size([5, 1])
    >>> bool(torch.allclose(laplacian_at(s, x), jet(s, x, order=2).laplacian()))
    True
    """
    x = _check_field_points(field, x)
    if isinstance(power, bool) or not isinstance(power, int) or power < 1:
        raise ValueError(f"power must be a positive integer, got {power!r}")
    check_order(field, 2 * power)
    jet_method = resolve_jet_method(field, jet_method)
    chunk_size = check_chunk_size(chunk_size)
    if jet_method == "taylor" and power <= 2:
        kind = LaplacianJet if power == 1 else BilaplacianJet

        def fn(pts):
            out = propagate(field.taylor_modules(), kind.of_input(pts))
            return out.parts[-1].expand_as(out.parts[0]) if out.parts[-1] is not None else torch.zeros_like(out.parts[0])
    else:
        w = _laplacian_weights(x.shape[-1], 2 * power, power)

        def fn(pts):
            return _contract(_PATHS[jet_method](field, pts, 2 * power), w)

    with _graph_context(create_graph):
        out = _chunked(fn, x, chunk_size)
        if create_graph is False or (create_graph is None and not torch.is_grad_enabled()):
            out = out.detach()
    return out


def gradient_at(field: Field, x: torch.Tensor, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK,
                create_graph: bool | None = None) -> torch.Tensor:
    """``grad f`` at ``x``, shape ``(..., c, d)`` (an order-1 jet: ``d + 1`` parts).

    Examples
    --------
    >>> import torch, insp
    >>> from insp.jet import gradient_at, jet
    >>> from insp.testing import SinusoidSum
    >>> f = SinusoidSum([1.0], [[2.0, 0.0]], dtype=torch.float64)      # sin(2 x0)
    >>> gradient_at(f, torch.zeros(1, 2, dtype=torch.float64)).tolist()   # (2 cos 0, 0)
    [[[2.0, 0.0]]]
    >>> s = insp.Siren(2, 3, hidden_features=16, hidden_layers=1, seed=0, dtype=torch.float64)
    >>> x = torch.rand(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> g = gradient_at(s, x)                                            # (points, channels, axes)
    >>> g.shape, bool(torch.allclose(g, jet(s, x, order=1, jet_method="reference").gradient()))
    (torch.Size([5, 3, 2]), True)
    """
    J = jet(field, x, order=1, jet_method=jet_method, chunk_size=chunk_size, create_graph=create_graph)
    return J.gradient()
