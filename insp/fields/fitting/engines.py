"""Engines of the fitting loop: how one update of B fields is computed.

:func:`~insp.fields.fitting.fit` and :func:`~insp.fields.fitting.fit_many`
share one loop (:mod:`insp.fields.fitting.loop`); an engine computes the
forward and backward pass of an update for the B members and evaluates
their errors:

* :class:`ModuleEngine` -- one field of any kind, plain autograd (what
  :func:`~insp.fields.fitting.fit` uses);
* :class:`VmapEngine` -- B fields of any one architecture, parameters
  stacked with :func:`torch.func.stack_module_state` and evaluated with
  ``vmap(functional_call)``;
* :class:`SirenEngine` -- B plain SIRENs as stacked tensors
  (:class:`SirenStack`) with a hand-written backward pass.

Every engine's ``step(batch)`` takes ``None`` (all training points) or a
``(B, b)`` tensor of point indices, sets ``.grad`` of :attr:`parameters` and
returns the ``(B, c)`` per-member, per-channel MSE of the normalised values;
``evaluate(chunk)`` returns the same over all known points without a graph.

:class:`SirenStack` computes exactly the function and the gradient that
autograd computes for each network alone, in fewer passes over memory:

* ``sin(omega (W h + b))`` is evaluated as one ``baddbmm`` with ``omega W``
  and ``omega b`` (tiny tensors) followed by ``sin``, instead of
  ``linear -> mul -> sin``;
* the backward pass reuses the stored pre-activation buffer for
  ``cos(z) * grad`` in place and folds ``omega`` into the small weight
  tensors, so each sine layer costs one ``cos`` and one multiply instead of
  autograd's five elementwise passes;
* there is no autograd graph at all: ``.grad`` of the stacked parameters is
  written directly and handed to ``torch.optim.Adam``.

The gradient of every member equals that of its own objective (the members'
objectives are summed and share no parameters), and Adam is elementwise, so
member ``i`` follows :func:`~insp.fields.fitting.fit` on signal ``i`` up to
floating-point rounding (tested in ``tests/test_fit.py``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..layers import Sine, ValueAffine

__all__ = ["siren_structure", "SirenStack", "ModuleEngine", "VmapEngine", "SirenEngine", "ENGINES"]


def siren_structure(model: nn.Module) -> list[float] | None:
    """The sine layers' ``omega_0`` list if ``model.net`` is a plain SIREN stack, else ``None``."""
    net = getattr(model, "net", None)
    if not isinstance(net, nn.Sequential) or len(net) < 4 or len(net) % 2:
        return None
    mods = list(net)
    omegas = []
    for k in range(0, len(mods) - 2, 2):
        lin, act = mods[k], mods[k + 1]
        if type(lin) is not nn.Linear or lin.bias is None or type(act) is not Sine:
            return None
        omegas.append(float(act.omega_0))
    if type(mods[-2]) is not nn.Linear or mods[-2].bias is None or type(mods[-1]) is not ValueAffine:
        return None
    return omegas


class SirenStack:
    """B SIRENs of one architecture as stacked tensors ``W: (B, out, in)``, ``b: (B, out)``."""

    def __init__(self, models: list[nn.Module]):
        omegas = siren_structure(models[0])
        if omegas is None:
            raise TypeError("SirenStack needs plain SIREN networks")
        self.omegas = omegas
        linears = [[m for m in model.net if isinstance(m, nn.Linear)] for model in models]
        with torch.no_grad():
            self.weights = [torch.stack([ls[k].weight.detach() for ls in linears]).clone()
                            for k in range(len(linears[0]))]
            self.biases = [torch.stack([ls[k].bias.detach() for ls in linears]).clone()
                           for k in range(len(linears[0]))]
        for t in self.weights + self.biases:
            t.grad = torch.zeros_like(t)
        self.B = len(models)
        self._workspace: dict[tuple, torch.Tensor] = {}

    def _buffer(self, name: str, shape: tuple, like: torch.Tensor) -> torch.Tensor:
        """A reused activation buffer: a training step allocates no large tensor after the first.

        Fresh multi-megabyte tensors come from ``mmap`` and are page-faulted
        in on every step; reusing them was worth 1.2-1.4x per 4096-point step
        at width 128 on 2 cores (``benchmarks/fit_speed.py``).
        """
        key = (name, tuple(shape))
        buf = self._workspace.get(key)
        if buf is None or buf.dtype != like.dtype or buf.device != like.device:
            buf = self._workspace[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buf

    @property
    def parameters(self) -> list[torch.Tensor]:
        return self.weights + self.biases

    def _scaled(self, sl: slice):
        """``(omega W, omega b)`` of each sine layer, then the output layer's ``(W, b)``, for members ``sl``."""
        out = [(w[sl] * om, b[sl] * om) for w, b, om in zip(self.weights, self.biases, self.omegas)]
        out.append((self.weights[-1][sl], self.biases[-1][sl]))
        return out

    @torch.no_grad()
    def forward(self, x: torch.Tensor, *, members: slice = slice(None), keep: bool = False):
        """Network outputs before the value de-normalisation, ``(b, P, c)`` for the members ``members``.

        ``x``: ``(P, d)`` shared by every member or ``(b, P, d)``.  With
        ``keep`` the activations needed by :meth:`backward` are returned too.
        """
        layers = self._scaled(members)
        if x.ndim == 2:
            x = x.expand(layers[0][0].shape[0], *x.shape)
        h, cache = x, []
        for k, (w, b) in enumerate(layers[:-1]):
            if keep:  # activations kept for backward live in the workspace
                shape = (h.shape[0], h.shape[1], w.shape[1])
                z = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), out=self._buffer(f"z{k}", shape, h))
                h_next = torch.sin(z, out=self._buffer(f"h{k}", shape, h))
                cache.append((h, z))
            else:
                h_next = torch.sin(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
            h = h_next
        w, b = layers[-1]
        y = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if keep:
            cache.append((h, None))
            return y, (cache, layers, members)
        return y

    @torch.no_grad()
    def backward(self, grad_y: torch.Tensor, saved) -> None:
        """Write ``d loss / d parameter`` into ``.grad`` (of the members saved) given ``grad_y = d loss / d y``.

        Consumes ``saved`` (its pre-activation buffers are overwritten).
        """
        cache, layers, sl = saved
        L = len(self.omegas)
        h, _ = cache[L]
        self.weights[L].grad[sl] = torch.bmm(grad_y.transpose(1, 2), h)
        self.biases[L].grad[sl] = grad_y.sum(dim=1)
        g_shape = (h.shape[0], h.shape[1], layers[L][0].shape[2])
        g = torch.bmm(grad_y, layers[L][0], out=self._buffer("g", g_shape, h))  # d loss / d h_L
        for k in range(L - 1, -1, -1):
            h_in, z = cache[k]
            om = self.omegas[k]
            gz = torch.cos(z, out=z).mul_(g)  # d loss / d z, z = omega (W h + b)
            self.weights[k].grad[sl] = torch.bmm(gz.transpose(1, 2), h_in).mul_(om)
            self.biases[k].grad[sl] = gz.sum(dim=1).mul_(om)
            if k:  # omega W: d z / d h_in (g's old value is spent: it went into gz)
                shape = (h_in.shape[0], h_in.shape[1], layers[k][0].shape[2])
                g = torch.bmm(gz, layers[k][0], out=self._buffer("g", shape, h_in))
            del gz

    @torch.no_grad()
    def write_back(self, models: list[nn.Module]) -> None:
        for i, model in enumerate(models):
            linears = [m for m in model.net if isinstance(m, nn.Linear)]
            for k, lin in enumerate(linears):
                lin.weight.copy_(self.weights[k][i])
                lin.bias.copy_(self.biases[k][i])


@torch.no_grad()
def _weighted_error(error, weights: torch.Tensor, chunk: int) -> torch.Tensor:
    """``sum_p w_bp err_bpc^2`` ``(B, c)`` in float64, with ``error(points slice)`` -> ``(B, p, c)`` chunk by chunk."""
    acc = None
    for start in range(0, weights.shape[1], chunk):
        sl = slice(start, start + chunk)
        part = ((error(sl).double() ** 2) * weights[:, sl].double()).sum(dim=1).cpu()
        acc = part if acc is None else acc + part
    return acc


class ModuleEngine:
    """One field of any kind, trained in place with autograd (B = 1).

    ``x``, ``y``: the known training points ``(n, d)`` and their values
    ``(n, c)``; every point counts (a mask is applied by the caller, who
    passes the known points only).
    """

    def __init__(self, models, x, y, inv_scale):
        (self.model,) = models
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("model has no trainable parameters")
        self.x, self.y, self.inv_scale = x, y, inv_scale[0, 0]  # (c,)
        self.n = x.shape[0]

    @property
    def parameters(self):
        return self.params

    def step(self, batch) -> torch.Tensor:
        for p in self.params:
            p.grad = None
        xb, yb = (self.x, self.y) if batch is None else (self.x[batch[0]], self.y[batch[0]])
        err = (self.model(xb) - yb) * self.inv_scale
        per_channel = (err * err).mean(dim=0)
        per_channel.mean().backward()
        return per_channel.detach()[None]

    @torch.no_grad()
    def evaluate(self, chunk: int = 65536) -> torch.Tensor:
        acc = torch.zeros(self.y.shape[-1], dtype=torch.float64)
        for start in range(0, self.n, chunk):
            err = (self.model(self.x[start:start + chunk]) - self.y[start:start + chunk]) * self.inv_scale
            acc += (err.double() ** 2).sum(dim=0).cpu()
        return (acc / self.n)[None]

    def write_back(self, models) -> None:
        pass  # trained in place


class VmapEngine:
    """B fields of one architecture: ``stack_module_state`` + ``vmap(functional_call)``, autograd backward.

    ``x``: the grid ``(P, d)`` shared by the members; ``y``: ``(B, P, c)``;
    ``weights``: ``(B, P, 1)``, ``1 / known count`` on known points, 0 elsewhere.
    """

    def __init__(self, models, x, y, inv_scale, weights, full_mask):
        from torch.func import functional_call, stack_module_state, vmap

        params, self.buffers = stack_module_state(models)
        self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        base = copy.deepcopy(models[0]).to("meta")

        def call(p, b, xx):
            return functional_call(base, (p, b), (xx,))

        self.forward_shared = vmap(call, in_dims=(0, 0, None))  # every member on the same points
        self.forward_each = vmap(call, in_dims=(0, 0, 0))  # member i on its own points
        self.x, self.y, self.inv_scale, self.weights, self.full_mask = x, y, inv_scale, weights, full_mask
        self.P = y.shape[1]
        self.members = torch.arange(y.shape[0], device=y.device)[:, None]

    @property
    def parameters(self):
        return list(self.params.values())

    def step(self, batch) -> torch.Tensor:
        for p in self.params.values():
            p.grad = None
        if batch is None:
            err = (self.forward_shared(self.params, self.buffers, self.x) - self.y) * self.inv_scale
            sq = err * err if self.full_mask else err * err * (self.weights * self.P)
        else:
            err = (self.forward_each(self.params, self.buffers, self.x[batch]) - self.y[self.members, batch]) \
                * self.inv_scale
            sq = err * err
        per_mc = sq.mean(dim=1)
        per_mc.mean(dim=1).sum().backward()  # sum over members: each gets its own gradient
        return per_mc.detach()

    def evaluate(self, chunk: int) -> torch.Tensor:
        return _weighted_error(lambda sl: (self.forward_shared(self.params, self.buffers, self.x[sl]) - self.y[:, sl])
                               * self.inv_scale, self.weights, chunk)

    @torch.no_grad()
    def write_back(self, models) -> None:
        for i, mod in enumerate(models):
            for name, p in mod.named_parameters():
                p.copy_(self.params[name][i])


#: members per block of :class:`SirenEngine`: one activation tensor near 2**19 values (2 MiB in float32).
#: With the activation buffers reused, 2**19 beat 2**15, 2**17, 2**21 and 2**23 (128 signals of 32x32,
#: width 16, 2 threads: 16.5 ms per signal against 30.3, 20.0, 19.0 and 23.0 for 100 steps)
_BLOCK_VALUES = 2**19


class SirenEngine:
    """Plain SIRENs: :class:`SirenStack` (batched, hand-written backward); arguments as :class:`VmapEngine`."""

    def __init__(self, models, x, y, inv_scale, weights, full_mask):
        self.stack = SirenStack(models)
        # normalised targets: the network learns (y - shift) / scale before its ValueAffine
        scale = torch.stack([m.value_affine.scale for m in models]).to(y.dtype)[:, None, :]
        shift = torch.stack([m.value_affine.shift for m in models]).to(y.dtype)[:, None, :]
        self.x, self.yn = x, (y - shift) / scale
        self.weights, self.full_mask = weights, full_mask
        self.P, self.c = y.shape[1], y.shape[2]
        self.members = torch.arange(y.shape[0], device=y.device)[:, None]
        # a block's working set stays in cache; large signals go one member at a time
        width = max(w.shape[1] for w in self.stack.weights)
        self.block = max(1, _BLOCK_VALUES // (self.P * width))

    @property
    def parameters(self):
        return self.stack.parameters

    def step(self, batch) -> torch.Tensor:
        """Forward + hand-written backward, members in cache-sized blocks; returns the (B, c) MSE."""
        B = self.yn.shape[0]
        per_mc = torch.empty(B, self.c, dtype=self.yn.dtype, device=self.yn.device)
        masked = batch is None and not self.full_mask
        for start in range(0, B, self.block):
            sl = slice(start, min(start + self.block, B))
            xs = self.x if batch is None else self.x[batch[sl]]
            out, saved = self.stack.forward(xs, members=sl, keep=True)
            target = self.yn[sl] if batch is None else self.yn[self.members[sl], batch[sl]]
            err = out - target
            w = self.weights[sl] if masked else 1.0 / err.shape[1]  # 1 / known count on known points
            sq = err * err
            per_mc[sl] = (sq * w).sum(dim=1) if masked else sq.mean(dim=1)
            self.stack.backward(err.mul_(w * (2.0 / self.c)), saved)
        return per_mc

    def evaluate(self, chunk: int) -> torch.Tensor:
        return _weighted_error(lambda sl: self.stack.forward(self.x[sl]) - self.yn[:, sl], self.weights, chunk)

    def write_back(self, models) -> None:
        self.stack.write_back(models)


#: engine names of :func:`~insp.fields.fitting.fit_many` (``"auto"``: ``"siren"`` whenever it applies)
ENGINES = ("auto", "siren", "vmap")
