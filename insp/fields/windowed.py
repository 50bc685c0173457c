"""A long 1-D signal as overlapping windows, one small INR each, cross-faded into one field.

Audio is a 1-D field over time in seconds: a clip of ``n`` samples at rate
``sr`` lives on ``[0, (n - 1) / sr]``, sample ``i`` at ``t = i / sr`` (the
library's grid convention, ``linspace(low, high, n)``, with spacing exactly
``1 / sr``).  One SIREN over a long clip needs a width that grows with the
length, and in float32 its phases ``omega * t`` lose precision as ``t``
grows; :class:`WindowedField` instead holds ``K`` members of one small
architecture, member ``k`` fitted to samples ``[k H, k H + L - 1]`` (window
length ``L``, hop ``H``, overlap ``O = L - H``) on its own local coordinate
``u = -1 + 2 (t sr - k H) / (L - 1)`` in ``[-1, 1]``.  Each point lies in at
most two windows (``O <= L / 2``); in the overlap of windows ``k - 1`` and
``k`` the field is ``(1 - S(s)) g_{k-1} + S(s) g_k`` with
``s = (t sr - k H) / (O - 1)`` and ``S`` the smoothstep of order 8
(:func:`smoothstep`), whose first 8 derivatives vanish at both ends: the
field is ``C^8`` across seams (derivatives of order 9 and more jump there).

Derivatives come from :meth:`WindowedField.derivative_stack` (the jet's
``native`` path): each member's derivatives in ``u`` by nested autograd (one
backward pass per order, cheap in 1-D), times ``(du/dt)^j``, combined with
the cross-fade's derivatives by the Leibniz rule.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._checks import check_int, check_number
from .base import Field, check_field
from .domain import Domain

__all__ = ["WindowedField", "smoothstep", "window_starts", "SMOOTHSTEP_ORDER"]

#: derivatives of the cross-fade that vanish at both ends of an overlap
SMOOTHSTEP_ORDER = 8


def _smoothstep_poly(m: int) -> np.polynomial.Polynomial:
    """``S_m(s) = s^(m+1) sum_k C(m+k, k) (1-s)^k``: 0 -> 1 on [0, 1], first m derivatives 0 at both ends."""
    s = np.polynomial.Polynomial([0.0, 1.0])
    poly = sum(math.comb(m + k, k) * (1 - s) ** k for k in range(m + 1)) * s ** (m + 1)
    return poly


_POLYS: dict[int, list[np.polynomial.Polynomial]] = {}


def _derivative_polys(order: int) -> list[np.polynomial.Polynomial]:
    if order not in _POLYS:
        p = _smoothstep_poly(SMOOTHSTEP_ORDER)
        _POLYS[order] = [p.deriv(j) if j else p for j in range(order + 1)]
    return _POLYS[order]


def smoothstep(s: torch.Tensor, order: int = 0) -> torch.Tensor:
    """The cross-fade ``S`` and its derivatives in ``s``: shape ``(*s.shape, order + 1)``.

    ``S = 0`` for ``s <= 0``, ``1`` for ``s >= 1``, a polynomial of degree
    ``2 * SMOOTHSTEP_ORDER + 1`` in between (:data:`SMOOTHSTEP_ORDER`
    derivatives vanish at both ends), ``S(s) + S(1 - s) = 1``.

    Examples
    --------
    >>> import torch
    >>> v = smoothstep(torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0]), order=1)
    >>> v[:, 0].tolist(), v[:, 1].tolist()[:2]
    ([0.0, 0.0, 0.5, 1.0, 1.0], [0.0, 0.0])
    """
    order = check_int(order, "order", minimum=0)
    polys = _derivative_polys(order)
    inside = (s > 0) & (s < 1)
    sc = s.clamp(0, 1)
    outs = []
    for j, p in enumerate(polys):
        v = torch.zeros_like(sc)
        for c in reversed(p.coef.tolist()):  # Horner
            v = v * sc + c
        if j == 0:
            v = torch.where(s >= 1, torch.ones_like(v), torch.where(inside, v, torch.zeros_like(v)))
        else:
            v = torch.where(inside, v, torch.zeros_like(v))
        outs.append(v)
    return torch.stack(outs, dim=-1)


def window_starts(num_samples: int, window: int, hop: int) -> list[int]:
    """First sample of each window: ``0, H, 2H, ...`` until a window reaches the last sample.

    A clip no longer than ``window`` is one window.  The last window may run
    past the clip (its tail is not fitted, and never used: the field's
    domain ends at the last sample).

    Examples
    --------
    >>> window_starts(10, 4, 3), window_starts(4, 8, 6)
    ([0, 3, 6], [0])
    """
    n, L, H = (check_int(v, k) for v, k in ((num_samples, "num_samples"), (window, "window"), (hop, "hop")))
    if n <= L:
        return [0]
    return [k * H for k in range(math.ceil((n - L) / H) + 1)]


class WindowedField(Field):
    """Members on overlapping windows of a 1-D grid, cross-faded into one ``C^8`` field (module notes).

    Parameters
    ----------
    members : sequence of Field
        One 1-D field per window, each on its local coordinate ``[-1, 1]``,
        all with the same output channels.
    num_samples : int
        Samples ``n`` of the signal.
    window, hop : int
        Window length ``L`` and hop ``H`` in samples; the overlap
        ``L - H`` must be at least 2 and at most ``L / 2``.  With one member,
        ``window`` is the clip length (``hop`` is then ignored).
    sample_rate : float
        Samples per second; the domain is ``[0, (n - 1) / sample_rate]``.

    Examples
    --------
    Two windows of a linear ramp ``f(t) = t`` (each member holds its piece
    exactly) make the ramp again, seam included:

    >>> import torch, insp
    >>> from insp.testing import Polynomial
    >>> class Piece(insp.Field):             # t on window k as a function of its local u
    ...     def __init__(self, k):
    ...         super().__init__(insp.Domain.cube(1), 1); self.k = k
    ...     def forward(self, u):
    ...         return ((u + 1) * 7 / 2 + 6 * self.k) / 10.0
    >>> f = WindowedField([Piece(0), Piece(1)], num_samples=14, window=8, hop=6, sample_rate=10.0)
    >>> f.domain.bounds, f.starts
    (((0.0, 1.3),), [0, 6])
    >>> t = torch.linspace(0, 1.3, 14).unsqueeze(-1)
    >>> bool(torch.allclose(f(t), t))
    True
    """

    default_source = "fit"

    def __init__(self, members: Sequence[Field], *, num_samples: int, window: int, hop: int, sample_rate: float):
        members = list(members)
        if not members:
            raise ValueError("members must hold at least one field")
        for i, m in enumerate(members):
            check_field(m, name=f"members[{i}]", dim=1)
        c = members[0].out_features
        if any(m.out_features != c for m in members):
            raise ValueError(f"members must all have {c} output channels")
        n = check_int(num_samples, "num_samples", minimum=2)
        L = check_int(window, "window", minimum=2)
        H = check_int(hop, "hop")
        self.sample_rate = check_number(sample_rate, "sample_rate")
        if len(members) == 1:
            if L < n:
                raise ValueError(f"one member must cover the clip: window ({L}) must be at least num_samples ({n})")
            H = L
        else:
            if not (2 <= L - H <= L // 2):
                raise ValueError(f"the overlap window - hop must be between 2 and window / 2 samples, got window={L}, "
                                 f"hop={H}")
            expected = len(window_starts(n, L, H))
            if len(members) != expected:
                raise ValueError(f"{n} samples in windows of {L} with hop {H} need {expected} members, "
                                 f"got {len(members)}")
        super().__init__(Domain((((0.0, (n - 1) / self.sample_rate)),)), c)
        self.members = nn.ModuleList(members)
        self.num_samples, self.window, self.hop = n, L, H
        self.starts = window_starts(n, L, H) if len(members) > 1 else [0]

    @property
    def overlap(self) -> int:
        return self.window - self.hop

    def config(self) -> dict:
        return dict(num_samples=self.num_samples, window=self.window, hop=self.hop, sample_rate=self.sample_rate,
                    members=len(self.members))

    # ------------------------------------------------------------------ routing

    def _route(self, x: torch.Tensor):
        """For points ``x`` ``(N, 1)``: primary window, cross-fade position ``s`` and sample position ``p``."""
        p = x[:, 0] * self.sample_rate  # sample position (float)
        K = len(self.members)
        k = torch.clamp(torch.floor(p.detach() / self.hop), 0, K - 1).to(torch.long)
        if K == 1:
            return k, None, p
        s = (p - k.to(p.dtype) * self.hop) / (self.overlap - 1)
        s = torch.where(k > 0, s, torch.ones_like(s))  # window 0 has no predecessor
        return k, s, p

    def _local(self, p: torch.Tensor, k: int) -> torch.Tensor:
        return (-1.0 + 2.0 * (p - self.starts[k]) / (self.window - 1)).unsqueeze(-1)

    def _pieces(self, x: torch.Tensor):
        """Yield ``(window, point indices, local coordinates, primary?, fade position s)`` for each member needed."""
        k, s, p = self._route(x)
        for j in torch.unique(k).tolist():
            idx = torch.nonzero(k == j).squeeze(1)
            yield j, idx, self._local(p[idx], j), True, (None if s is None else s[idx])
            if j > 0:  # the points of window j still in the fade-out of window j - 1
                fade = idx[s[idx] < 1]
                if fade.numel():
                    yield j - 1, fade, self._local(p[fade], j - 1), False, s[fade]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        batch = x.shape[:-1]
        flat = x.reshape(-1, 1)
        out = None
        for j, idx, u, primary, s in self._pieces(flat):
            y = self.members[j](u)
            if s is not None:
                w = smoothstep(s)[:, :1]
                y = y * (w if primary else 1 - w)
            if out is None:
                out = y.new_zeros(flat.shape[0], self.out_features)
            out = out.index_add(0, idx, y)
        return out.reshape(*batch, self.out_features)

    # ------------------------------------------------------------------ derivatives

    @staticmethod
    def _member_derivatives(member: Field, u: torch.Tensor, order: int) -> torch.Tensor:
        """``d^j g / du^j`` for ``j = 0..order``: ``(N, c, order + 1)``, by nested autograd (1-D: per point)."""
        keep = torch.is_grad_enabled()
        with torch.enable_grad():
            u = u.detach().requires_grad_(True)
            y = member(u)
            channels = []
            for ch in range(y.shape[-1]):
                cur, stack = y[:, ch], [y[:, ch]]
                for j in range(order):
                    top = j == order - 1
                    (g,) = torch.autograd.grad(cur.sum(), u, create_graph=keep or not top, retain_graph=True,
                                               allow_unused=True)
                    cur = g[:, 0] if g is not None else torch.zeros_like(cur)
                    stack.append(cur)
                channels.append(torch.stack(stack, dim=-1))
        out = torch.stack(channels, dim=-2)
        return out if keep else out.detach()

    def derivative_stack(self, x: torch.Tensor, order: int) -> torch.Tensor:
        """``d^j f / dt^j`` for ``j = 0..order`` at points ``x`` ``(N, 1)``, in seconds: ``(N, c, order + 1)``."""
        x = self.check_points(x)
        order = check_int(order, "order", minimum=0)
        a = 2.0 * self.sample_rate / (self.window - 1)  # du/dt
        b = self.sample_rate / max(self.overlap - 1, 1)  # ds/dt
        flat = x.reshape(-1, 1)
        out = None
        binom = [[math.comb(m, i) for i in range(m + 1)] for m in range(order + 1)]
        for j, idx, u, primary, s in self._pieces(flat):
            g = self._member_derivatives(self.members[j], u, order)  # (n, c, K+1) in u
            g = g * torch.tensor([a**m for m in range(order + 1)], dtype=g.dtype, device=g.device)
            if s is not None:
                w = smoothstep(s, order) * torch.tensor([b**i for i in range(order + 1)], dtype=g.dtype,
                                                        device=g.device)
                if not primary:
                    w = torch.cat([1 - w[:, :1], -w[:, 1:]], dim=1)
                terms = [sum(binom[m][i] * w[:, None, i] * g[:, :, m - i] for i in range(m + 1))
                         for m in range(order + 1)]
                g = torch.stack(terms, dim=-1)
            if out is None:
                out = g.new_zeros(flat.shape[0], self.out_features, order + 1)
            out = out.index_add(0, idx, g)
        return out.reshape(*x.shape[:-1], self.out_features, order + 1)

    def extra_repr(self) -> str:
        return (f"members={len(self.members)}, window={self.window}, hop={self.hop}, "
                f"sample_rate={self.sample_rate:g}, num_samples={self.num_samples}")
