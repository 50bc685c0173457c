"""A stack of B SIRENs trained together: batched forward and hand-written backward.

This is the engine :func:`insp.fields.fit.fit_many` uses when every model is a
plain SIREN (``Linear, Sine, ..., Linear, Sine, Linear, ValueAffine``).  It
computes exactly the function and the gradient that autograd computes for
each network alone, in fewer passes over memory:

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
member ``i`` follows :func:`~insp.fields.fit.fit` on signal ``i`` up to
floating-point rounding (tested in ``tests/test_fit.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Sine, ValueAffine

__all__ = ["siren_structure", "SirenStack"]


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
        for w, b in layers[:-1]:
            z = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            h_next = torch.sin(z)
            if keep:
                cache.append((h, z))
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
        g = torch.bmm(grad_y, layers[L][0])  # d loss / d h_L
        for k in range(L - 1, -1, -1):
            h_in, z = cache[k]
            om = self.omegas[k]
            gz = torch.cos(z, out=z).mul_(g)  # d loss / d z, z = omega (W h + b)
            self.weights[k].grad[sl] = torch.bmm(gz.transpose(1, 2), h_in).mul_(om)
            self.biases[k].grad[sl] = gz.sum(dim=1).mul_(om)
            if k:
                g = torch.bmm(gz, layers[k][0])  # omega W: d z / d h_in
            del gz

    @torch.no_grad()
    def write_back(self, models: list[nn.Module]) -> None:
        for i, model in enumerate(models):
            linears = [m for m in model.net if isinstance(m, nn.Linear)]
            for k, lin in enumerate(linears):
                lin.weight.copy_(self.weights[k][i])
                lin.bias.copy_(self.biases[k][i])
