"""Forward Taylor-mode propagation through the primitives of the shipped INRs.

A *jet* here is a list of ``parts``: tensors of shape ``(N, F)`` (or ``(1, F)``
when constant over the points, or ``None`` when identically zero), one per
linear functional of the Taylor expansion that is carried along.  Part 0 is
always the value.  Three kinds of jet share one propagation mechanism:

* :class:`TaylorJet` -- every normalised Taylor coefficient
  ``f_alpha = d^alpha f / alpha!`` up to total order ``K`` (the full stack);
* :class:`LaplacianJet` -- ``(f, grad f, lap f)``: the "forward Laplacian"
  (Li et al. 2023), ``d + 2`` parts instead of ``C(2 + d, d)``;
* :class:`BilaplacianJet` -- ``(f, grad f, Hess f, grad lap f, lap^2 f)``,
  the smallest set closed under the chain rule that yields ``lap^2``.

Linear maps act on all parts at once (the bias only on the value); pointwise
nonlinearities apply the exact multivariate chain rule.  A full jet may
instead get its top order from one reverse sweep per output channel
(``TaylorJet(..., top_by_adjoint=True)``), which is cheaper when the channels
are fewer than the top-order partials.  Nothing builds a nested autograd
graph, and everything stays differentiable with respect to the network's
parameters and to ``x`` through ordinary autograd.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..fields.layers import Activation, FourierFeatures, PositionalEncoding, Sine, ValueAffine
from .indices import multi_indices, num_partials_of_order, product_table

__all__ = ["TaylorJet", "LaplacianJet", "BilaplacianJet", "propagate", "register_taylor_rule", "has_taylor_rules",
           "activation_derivatives"]


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _mul(a, b):
    return None if a is None or b is None else a * b


def _fma(acc, a, b, scale: float = 1.0):
    """``acc + scale * a * b`` with ``None`` as zero."""
    if a is None or b is None:
        return acc
    if acc is None:
        if scale == 1.0:
            return a * b
        if a.numel() < b.numel():  # scale the smaller factor
            return (a * scale) * b
        return a * (b * scale) if b.numel() < a.numel() else torch.mul(a, b).mul_(scale)
    return torch.addcmul(acc, a, b, value=scale)


def _poly_derivative_values(step: Callable[[np.polynomial.Polynomial], np.polynomial.Polynomial],
                            first: np.polynomial.Polynomial, t: torch.Tensor, n: int) -> list[torch.Tensor]:
    """Evaluate ``p_1 = first, p_{k+1} = step(p_k)`` at ``t`` for k = 1..n."""
    out, p = [], first
    for _ in range(n):
        coef = p.coef
        val = torch.zeros_like(t) + float(coef[-1])
        for c in coef[-2::-1]:  # Horner
            val = val * t + float(c)
        out.append(val)
        p = step(p)
    return out


def activation_derivatives(kind: str, v: torch.Tensor, n: int) -> list[tuple[torch.Tensor, float]]:
    """``[g(v), g'(v), ..., g^(n)(v)]`` for a named pointwise function ``g``, as ``(tensor, sign)`` pairs.

    The value of ``g^(k)(v)`` is ``sign * tensor``; signs are kept apart so
    that ``sin``'s derivatives reuse ``sin(v)`` and ``cos(v)`` without a
    negation pass (the jets fold the sign into their multiply-adds).
    ``tanh`` and ``softplus`` solve polynomial ODEs (``t' = 1 - t^2``,
    ``s' = s (1 - s)`` for the sigmoid ``s``), so all their derivatives are
    polynomials in ``t`` (resp. ``s``).
    """
    P = np.polynomial.Polynomial
    if kind in ("sin", "cos"):
        s, c = torch.sin(v), torch.cos(v)
        cycle = [(s, 1.0), (c, 1.0), (s, -1.0), (c, -1.0)] if kind == "sin" else [(c, 1.0), (s, -1.0), (c, -1.0), (s, 1.0)]
        return [cycle[k % 4] for k in range(n + 1)]
    if kind == "tanh":
        t = torch.tanh(v)
        one_minus_t2 = P([1.0, 0.0, -1.0])
        vals = [t] + _poly_derivative_values(lambda p: p.deriv() * one_minus_t2, one_minus_t2, t, n)
    elif kind == "softplus":
        sig = torch.sigmoid(v)
        logistic = P([0.0, 1.0, -1.0])
        vals = [nn.functional.softplus(v)] + _poly_derivative_values(lambda p: p.deriv() * logistic, P([0.0, 1.0]),
                                                                      sig, n)
    else:
        raise ValueError(f"no derivative rule for activation {kind!r}")
    return [(t, 1.0) for t in vals]


def _axpy(acc, x, alpha: float):
    """``acc + alpha * x`` with ``None`` as zero."""
    if x is None:
        return acc
    if acc is None:
        return x * alpha
    return torch.add(acc, x, alpha=alpha)


class _Jet:
    """Parts carried through a network; subclasses define the nonlinear rules."""

    def __init__(self, parts: list, d: int):
        self.parts = parts
        self.d = d

    def _new(self, parts: list) -> "_Jet":
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.parts = parts
        return out

    # ---- linear maps: every part alike, the bias only on the value ----
    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None) -> "_Jet":
        wt = weight.T
        parts = [None if p is None else p @ wt for p in self.parts[1:]]
        first = self.parts[0] @ wt if bias is None else torch.addmm(bias, self.parts[0], wt)
        return self._new([first] + parts)

    def scale(self, s) -> "_Jet":
        return self._new([None if p is None else p * s for p in self.parts])

    def shift(self, b) -> "_Jet":
        return self._new([self.parts[0] + b] + self.parts[1:])

    def cat(self, others: list["_Jet"]) -> "_Jet":
        """Concatenate features of several jets of the same points."""
        jets = [self] + list(others)
        n = max(p.shape[0] for j in jets for p in j.parts if p is not None)
        parts = []
        for k in range(len(self.parts)):
            items = [j.parts[k] for j in jets]
            if all(p is None for p in items):
                parts.append(None)
                continue
            widths = [j.parts[0].shape[-1] for j in jets]
            ref = next(p for p in items if p is not None)
            rows = 1 if all(p is None or p.shape[0] == 1 for p in items) else n
            items = [ref.new_zeros(rows, w) if p is None else p.expand(rows, w) for p, w in zip(items, widths)]
            parts.append(torch.cat(items, dim=-1))
        return self._new(parts)

    # ---- pointwise nonlinearities ----
    def relu(self) -> "_Jet":
        """Exact almost everywhere: ``relu' = 1[v > 0]``, all higher derivatives 0."""
        return self._relu_and_mask()[0]

    def _relu_and_mask(self) -> tuple["_Jet", torch.Tensor]:
        v = self.parts[0]
        mask = (v > 0).to(v.dtype)
        return self._new([torch.relu(v)] + [_mul(p, mask) for p in self.parts[1:]]), mask

    def apply(self, kind: str) -> "_Jet":
        raise NotImplementedError

    def sincos(self) -> tuple["_Jet", "_Jet"]:
        return self.apply("sin"), self.apply("cos")


class _Node:
    """A jet in the reverse sweep of :class:`TaylorJet` (``top_by_adjoint=True``).

    ``parents`` are ``(node, back)`` pairs, ``back`` mapping an adjoint of this
    node's features, ``(c, N, F)``, to one of the parent's; ``injection`` holds
    the top-order parts made here from lower orders.  A node is ``live`` when
    an injection reaches it, so the sweep never visits the rest.
    """

    __slots__ = ("parents", "injection", "live")

    def __init__(self, parents, injection=None):
        self.parents = [(p, back) for p, back in parents if p.live]
        self.injection = injection
        self.live = injection is not None or bool(self.parents)


class TaylorJet(_Jet):
    """Every normalised Taylor coefficient up to total order ``order``.

    ``parts[i]`` is ``d^alpha f / alpha!`` for ``alpha = multi_indices(d, order)[i]``.

    With ``top_by_adjoint=True`` the top order is not pushed through the
    linear maps.  It enters every coefficient of that order *linearly*:
    wherever a pointwise function ``g`` meets it, the chain rule reads
    ``g(v)_alpha = g'(v_0) v_alpha + (products of lower orders)``, and linear
    maps act on it as on a tangent.  So the network's top-order output is
    ``sum_l <a_l, N_l>`` over the nonlinearities ``l``, where ``N_l`` is the
    product part made at ``l`` and ``a_l`` the adjoint (reverse-mode
    gradient) of the output's value with respect to ``l``'s value.  One
    reverse sweep per output channel, one matrix product per linear map,
    replaces ``C(order + d - 1, d - 1)`` forward products per linear map: at
    order 4 in 2-D, 1 instead of 5 of the 15 planes.
    """

    def __init__(self, parts: list, d: int, order: int, *, top_by_adjoint: bool = False):
        super().__init__(parts, d)
        self.order = order
        self.node = None
        self.sweep = None
        if top_by_adjoint and order >= 1:
            self.sweep = []  # every node in creation order (a topological order), shared by derived jets
            self._recorded(self, [], nonlinear=True)  # order 1: the input's own gradient is the top order

    @classmethod
    def of_input(cls, x: torch.Tensor, order: int, *, top_by_adjoint: bool = False) -> "TaylorJet":
        """The jet of the identity map at points ``x`` (``(N, d)``)."""
        d = x.shape[-1]
        parts = [None] * len(multi_indices(d, order))
        parts[0] = x
        for k in range(min(d, len(parts) - 1)):
            parts[1 + k] = torch.nn.functional.one_hot(torch.tensor([k]), d).to(x)
        return cls(parts, d, order, top_by_adjoint=top_by_adjoint)

    # ---- bookkeeping of the reverse sweep for the top order ----
    def _top(self) -> range:
        n = len(multi_indices(self.d, self.order))
        return range(n - num_partials_of_order(self.d, self.order), n)

    def _recorded(self, out: "TaylorJet", parents, *, nonlinear: bool = False) -> "TaylorJet":
        """Give ``out`` its node; after a nonlinearity, move its top-order parts into the injection."""
        if self.sweep is None:
            return out
        injection = None
        if nonlinear:
            top = self._top()
            injection = [out.parts[l] for l in top]
            out.parts = [None if l in top else p for l, p in enumerate(out.parts)]
            if all(p is None for p in injection):
                injection = None
        out.node = _Node(parents, injection)
        self.sweep.append(out.node)
        return out

    def linear(self, weight, bias):
        return self._recorded(super().linear(weight, bias), [(self.node, lambda a: a @ weight)])

    def scale(self, s):
        return self._recorded(super().scale(s), [(self.node, lambda a: a * s)])

    def shift(self, b):
        return self._recorded(super().shift(b), [(self.node, lambda a: a)])

    def cat(self, others):
        out, parents, start = super().cat(others), [], 0
        for j in [self] + list(others):
            w = j.parts[0].shape[-1]
            parents.append((j.node, lambda a, s=start, w=w: a[..., s:s + w]))
            start += w
        return self._recorded(out, parents)

    def relu(self):
        out, mask = self._relu_and_mask()
        return self._recorded(out, [(self.node, lambda a: a * mask)])

    def _adjoint_top(self) -> list[torch.Tensor | None]:
        """The top-order parts of this (output) jet, by one reverse sweep per channel."""
        v0 = self.parts[0]
        c = v0.shape[-1]
        adjoints = {id(self.node): torch.eye(c, dtype=v0.dtype, device=v0.device).reshape(c, 1, c)}
        top = [None] * len(self._top())
        for node in reversed(self.sweep):
            a = adjoints.pop(id(node), None)
            if a is None:
                continue
            for k, inj in enumerate(node.injection or ()):
                if inj is not None:
                    top[k] = _add(top[k], (a * inj).sum(-1).T)  # (N, c)
            for parent, back in node.parents:
                adjoints[id(parent)] = _add(adjoints.get(id(parent)), back(a))
        return top

    def _orders(self) -> list[int]:
        return [sum(a) for a in multi_indices(self.d, self.order)]

    def sincos(self, *, top_cos: bool = True):
        """``sin`` and ``cos`` of the jet together, by the Euler-operator recurrence.

        With ``E = sum_k x_k d_k`` (which multiplies a homogeneous part of
        order ``n`` by ``n``), ``E sin(v) = cos(v) E v`` gives, coefficient by
        coefficient, ``n s_alpha = sum_{0 < beta <= alpha} |beta| v_beta c_{alpha-beta}``
        and likewise ``n c_alpha = -sum |beta| v_beta s_{alpha-beta}``.
        ``top_cos=False`` skips the cosine's top order, which ``sin`` alone
        never reads.
        """
        v = self.parts
        orders = self._orders()
        s = [torch.sin(v[0])] + [None] * (len(v) - 1)
        c = [torch.cos(v[0])] + [None] * (len(v) - 1)
        table = product_table(self.d, self.order, 1, 0)
        for l in range(1, len(v)):
            n = orders[l]
            want_cos = top_cos or n < self.order
            acc_s = acc_c = None
            for i, j in table[l]:
                w = orders[i] / n  # |beta| / |alpha|, folded into the multiply-add
                acc_s = _fma(acc_s, v[i], c[j], w)
                if want_cos:
                    acc_c = _fma(acc_c, v[i], s[j], -w)
            s[l], c[l] = acc_s, acc_c
        s0, c0 = s[0], c[0]
        return (self._recorded(self._new(s), [(self.node, lambda a: a * c0)], nonlinear=True),
                self._recorded(self._new(c), [(self.node, lambda a: a * -s0)], nonlinear=True))

    def apply(self, kind: str) -> "TaylorJet":
        if kind == "sin":
            return self.sincos(top_cos=False)[0]
        if kind == "cos":
            return self.sincos()[1]
        # g(v0 + delta) = sum_k g^(k)(v0) / k! delta^k, delta = v - v0 (no constant term)
        v = self.parts
        g = activation_derivatives(kind, v[0], self.order)
        delta = [None] + v[1:]
        out = [g[0][0]] + [_fma(None, p, g[1][0], g[1][1]) for p in delta[1:]]
        power = delta
        for k in range(2, self.order + 1):
            table = product_table(self.d, self.order, k - 1, 1)
            nxt = [None] * len(v)
            for l, pairs in table.items():
                for i, j in pairs:
                    nxt[l] = _fma(nxt[l], power[i], delta[j])
            power = nxt
            coef, sign = g[k]
            out = [_fma(o, p, coef, sign / math.factorial(k)) for o, p in zip(out, power)]
        (g1, s1) = g[1] if self.order >= 1 else (None, 1.0)
        return self._recorded(self._new(out), [(self.node, lambda a: a * g1 * s1)], nonlinear=True)

    def derivatives(self) -> torch.Tensor:
        """The stack ``(N, F, M)`` of derivatives ``d^alpha f`` (not divided by ``alpha!``)."""
        v0 = self.parts[0]
        facts = [math.prod(math.factorial(a) for a in alpha) for alpha in multi_indices(self.d, self.order)]
        parts = list(self.parts)
        if self.sweep is not None:
            for l, p in zip(self._top(), self._adjoint_top()):
                parts[l] = p
        cols = [torch.zeros_like(v0) if p is None else (p * f if f != 1 else p).expand_as(v0)
                for p, f in zip(parts, facts)]
        return torch.stack(cols, dim=-1)


class LaplacianJet(_Jet):
    """``parts = [f, d_1 f, ..., d_d f, lap f]`` (forward Laplacian)."""

    @classmethod
    def of_input(cls, x: torch.Tensor) -> "LaplacianJet":
        d = x.shape[-1]
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        return cls([x] + [eye[k:k + 1] for k in range(d)] + [None], d)

    def apply(self, kind: str) -> "LaplacianJet":
        v, grad, lap = self.parts[0], self.parts[1:1 + self.d], self.parts[-1]
        (g0, _), (g1, s1), (g2, s2) = activation_derivatives(kind, v, 2)
        sq = None
        for gk in grad:
            sq = _fma(sq, gk, gk)
        out_lap = _fma(_fma(None, g1, lap, s1), g2, sq, s2)
        return self._new([g0] + [_fma(None, g1, gk, s1) for gk in grad] + [out_lap])


class BilaplacianJet(_Jet):
    """``parts = [f, grad f (d), Hess f (upper triangle, d(d+1)/2), grad lap f (d), lap^2 f]``."""

    @classmethod
    def of_input(cls, x: torch.Tensor) -> "BilaplacianJet":
        d = x.shape[-1]
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        nh = d * (d + 1) // 2
        return cls([x] + [eye[k:k + 1] for k in range(d)] + [None] * (nh + d + 1), d)

    def _split(self):
        d, p = self.d, self.parts
        nh = d * (d + 1) // 2
        grad, hess, tgrad, bilap = p[1:1 + d], p[1 + d:1 + d + nh], p[1 + d + nh:1 + 2 * d + nh], p[-1]
        pairs = [(k, l) for k in range(d) for l in range(k, d)]
        H = {}
        for (k, l), h in zip(pairs, hess):
            H[k, l] = H[l, k] = h
        return p[0], grad, H, pairs, tgrad, bilap

    def apply(self, kind: str) -> "BilaplacianJet":
        """Chain rule for ``g(v)``, from Faa di Bruno.

        In 1-D it reduces to ``lap^2 g(v) = g1 v4 + g2 (4 v1 v3 + 3 v2^2) + 6 g3 v1^2 v2 + g4 v1^4``
        (``gk``, ``vk``: k-th derivatives).
        """
        d = self.d
        v, grad, H, pairs, tgrad, bilap = self._split()
        (g0, _), (g1, s1), (g2, s2), (g3, s3), (g4, s4) = activation_derivatives(kind, v, 4)
        lap = None
        for k in range(d):
            lap = _add(lap, H[k, k])
        sq = None  # |grad v|^2
        for gk in grad:
            sq = _fma(sq, gk, gk)
        Hg = [None] * d  # H grad v
        for k in range(d):
            for l in range(d):
                Hg[k] = _fma(Hg[k], H[k, l], grad[l])
        gHg = None
        for k in range(d):
            gHg = _fma(gHg, grad[k], Hg[k])
        HF = None  # |H|_F^2, off-diagonal entries counted twice
        for k, l in pairs:
            HF = _fma(HF, H[k, l], H[k, l], 1.0 if k == l else 2.0)
        gT = None
        for k in range(d):
            gT = _fma(gT, grad[k], tgrad[k])
        out_grad = [_fma(None, g1, gk, s1) for gk in grad]
        out_hess = [_fma(_fma(None, g1, H[k, l], s1), g2, _mul(grad[k], grad[l]), s2) for k, l in pairs]
        out_t = []
        for k in range(d):
            t = _fma(None, g1, tgrad[k], s1)
            t = _fma(t, g2, _axpy(_mul(lap, grad[k]), Hg[k], 2.0), s2)
            t = _fma(t, g3, _mul(sq, grad[k]), s3)
            out_t.append(t)
        b = _fma(None, g1, bilap, s1)
        b = _fma(b, g2, _axpy(_axpy(_mul(lap, lap), gT, 4.0), HF, 2.0), s2)  # 4 grad.T + lap^2 + 2 |H|^2
        b = _fma(b, g3, _axpy(_mul(sq, lap), gHg, 2.0), 2.0 * s3)  # 2 |grad|^2 lap + 4 grad.H.grad
        b = _fma(b, g4, _mul(sq, sq), s4)
        return self._new([g0] + out_grad + out_hess + out_t + [b])


# ---------------------------------------------------------------- lowering

_RULES: dict[type, Callable[[nn.Module, _Jet], _Jet]] = {}


def register_taylor_rule(module_type: type):
    """Register ``rule(module, jet) -> jet`` for a module type (decorator).

    A rule may only use the jet's ``linear``, ``scale``, ``shift``, ``cat``,
    ``relu``, ``apply`` and ``sincos`` methods, so that it works for every
    kind of jet at once.

    Examples
    --------
    A module that doubles its input, and a field built from it:

    >>> import torch, insp
    >>> from torch import nn
    >>> from insp.jet import jet, laplacian_at, register_taylor_rule
    >>> class Times2(nn.Module):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> @register_taylor_rule(Times2)
    ... def _times2(module, j):
    ...     return j.scale(2.0)                 # every Taylor coefficient doubles
    >>> class Line(insp.Field):                 # f(x) = 2 x on [-1, 1]
    ...     def __init__(self):
    ...         super().__init__(insp.Domain.cube(1), 1)
    ...         self.times2 = Times2()
    ...     def forward(self, x):
    ...         return self.times2(self.check_points(x))
    ...     def taylor_modules(self):
    ...         return [self.times2]
    >>> x = torch.tensor([[0.25]])
    >>> jet(Line(), x, order=2, jet_method="taylor").values.tolist()   # f, f', f''
    [[[0.5, 2.0, 0.0]]]
    >>> laplacian_at(Line(), x).tolist()        # the same rule serves the collapsed Laplacian jet
    [[0.0]]
    """

    def deco(fn):
        _RULES[module_type] = fn
        return fn

    return deco


def has_taylor_rules(modules) -> bool:
    return modules is not None and all(_rule_for(m) is not None for m in modules)


def _rule_for(module: nn.Module):
    for cls in type(module).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return None


def _fused_linear(m: nn.Module, nxt: nn.Module | None):
    """Weights of ``nn.Linear`` followed by a per-feature affine map, folded into one linear map.

    ``Sine(w)`` after a linear layer is ``sin`` of the linear layer scaled by
    ``w``; ``ValueAffine`` is a diagonal affine map.  Folding them into the
    (small) weight matrix saves one pass over every part of the jet.
    """
    if type(m) is not nn.Linear or nxt is None:
        return None
    bias = m.bias
    if isinstance(nxt, Sine):
        w = nxt.omega_0
        return m.weight * w, None if bias is None else bias * w, "sin"
    if isinstance(nxt, ValueAffine):
        scale = nxt.scale.to(m.weight)
        shift = nxt.shift.to(m.weight)
        return m.weight * scale[:, None], (shift if bias is None else bias * scale + shift), None
    return None


def propagate(modules, jet: _Jet) -> _Jet:
    """Push ``jet`` through ``modules`` in order."""
    modules = list(modules)
    i = 0
    while i < len(modules):
        m = modules[i]
        fused = _fused_linear(m, modules[i + 1] if i + 1 < len(modules) else None)
        if fused is not None:
            weight, bias, activation = fused
            jet = jet.linear(weight, bias)
            if activation is not None:
                jet = jet.apply(activation)
            i += 2
            continue
        rule = _rule_for(m)
        if rule is None:
            raise TypeError(f"no Taylor rule for module {type(m).__name__}")
        jet = rule(m, jet)
        i += 1
    return jet


@register_taylor_rule(nn.Linear)
def _linear(m: nn.Linear, jet):
    return jet.linear(m.weight, m.bias)


@register_taylor_rule(nn.Sequential)
def _sequential(m: nn.Sequential, jet):
    return propagate(list(m), jet)


@register_taylor_rule(nn.Identity)
def _identity(m, jet):
    return jet


@register_taylor_rule(Sine)
def _sine(m: Sine, jet):
    return jet.scale(m.omega_0).apply("sin")


@register_taylor_rule(Activation)
def _activation(m: Activation, jet):
    return jet.relu() if m.name == "relu" else jet.apply(m.name)


@register_taylor_rule(nn.ReLU)
def _relu(m, jet):
    return jet.relu()


@register_taylor_rule(nn.Tanh)
def _tanh(m, jet):
    return jet.apply("tanh")


@register_taylor_rule(ValueAffine)
def _value_affine(m: ValueAffine, jet):
    return jet.scale(m.scale).shift(m.shift)


@register_taylor_rule(FourierFeatures)
def _fourier(m: FourierFeatures, jet):
    s, c = jet.linear(m.frequencies.to(jet.parts[0].dtype), None).sincos()
    return s.cat([c])


@register_taylor_rule(PositionalEncoding)
def _posenc(m: PositionalEncoding, jet):
    freqs = m.frequencies.to(dtype=jet.parts[0].dtype, device=jet.parts[0].device)
    s, c = jet.linear(freqs, None).sincos()
    return jet.cat([s, c])
