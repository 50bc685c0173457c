"""Classifying signals from their INRs: features read from the fields or their weights, and small classifiers.

Two ways to read an INR, neither through its pixels:

* **functional** (the INSP-ConvNet idea, Xu et al. 2022): sample the field's
  derivative stack -- ``f``, its gradient and its Hessian -- on a grid and feed
  the ``(1 + d + d(d+1)/2)`` channels to a small CNN.  :func:`siren_jets`
  computes the stack for a whole batch of SIRENs at once from their stacked
  weights (forward-mode rules of ``sin`` by hand, batched matrix products),
  equal to :func:`insp.jet.jet` to rounding and about a hundred times faster
  per INR than a jet per field;
* **weight space**: :class:`WeightMLP` reads the flattened weights (works
  when the INRs share their initialisation, which keeps hidden unit ``j`` of
  every INR "the same" unit), and :class:`InvariantWeightNet` is invariant to
  the permutations of hidden units that leave an INR's function unchanged
  (each hidden unit is embedded from its incoming weights, summed over the
  units of the layer below -- a DeepSets/NFN-style construction), so it does
  not need a shared initialisation.

:func:`train_classifier` is one training loop for all of them (Adam, cosine
decay, mini-batches, a progress bar, an optional checkpoint each epoch), and
:class:`SmallCNN` is the same network for pixel images and derivative stacks.
"""

from __future__ import annotations

import io
import math
import time

import numpy as np
import torch
from torch import nn

from .._checks import check_int, check_number, check_seed
from .._files import atomic_write
from ..fields.fitting.engines import siren_structure
from ..fields.fitting.loop import lr_factor, progress_bar

__all__ = ["siren_jets", "field_features", "siren_layers", "WeightMLP", "InvariantWeightNet", "SmallCNN",
           "train_classifier", "predict", "accuracy", "Standardise", "FEATURE_NAMES"]

#: channels of the order-2 derivative stack of a 2-D field, in :func:`siren_jets`' order
FEATURE_NAMES = ("f", "dx", "dy", "dxx", "dxy", "dyy")


# --------------------------------------------------------------------------- derivative stacks of SIREN batches


def siren_layers(stacked: dict[str, torch.Tensor], omegas: list[float]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``[(W, b), ...]`` of a batch of SIRENs from their stacked ``state_dict`` (``net.k.weight``: ``(B, out, in)``).

    The last pair is the linear output layer; ``len(omegas)`` sine layers precede it.
    """
    pairs = []
    for k in range(len(omegas) + 1):
        pairs.append((stacked[f"net.{2 * k}.weight"], stacked[f"net.{2 * k}.bias"]))
    return pairs


@torch.no_grad()
def siren_jets(stacked: dict[str, torch.Tensor], omegas: list[float], x: torch.Tensor, *, order: int = 2
               ) -> torch.Tensor:
    """Values and partial derivatives (to ``order`` 1 or 2) of B SIRENs at points ``x`` ``(P, d)``.

    Returns ``(B, P, c, M)`` in coordinate units, ``M = 1 + d`` (order 1) or
    ``1 + d + d(d+1)/2`` (order 2), ordered ``f, d_0, ..., d_{d-1}``, then
    ``d_00, d_01, ..., d_0(d-1), d_11, ...`` (the order of
    :func:`insp.jet.jet`'s multi-indices for ``d = 2``: ``f, dx, dy, dxx, dxy, dyy``).

    Forward mode by hand: for ``h' = sin(z)``, ``z = omega (W h + b)``,
    ``dh'_k = cos(z) dz_k`` and ``d2h'_kl = cos(z) d2z_kl - sin(z) dz_k dz_l``.

    Examples
    --------
    >>> import torch, insp
    >>> from insp.jet import jet
    >>> f = insp.Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0, dtype=torch.float64)
    >>> x = torch.rand(5, 2, dtype=torch.float64) * 2 - 1
    >>> stacked = {k: v[None] for k, v in f.state_dict().items()}
    >>> ours = siren_jets(stacked, [30.0, 30.0], x)[0]
    >>> torch.allclose(ours, jet(f, x, order=2).values)
    True
    """
    order = check_int(order, "order")
    if order > 2:
        raise ValueError(f"order must be 1 or 2, got {order}")
    layers = siren_layers(stacked, omegas)
    B, d = layers[0][0].shape[0], x.shape[-1]
    P = x.shape[0]
    dtype = layers[0][0].dtype
    h = x.to(dtype).expand(B, P, d)
    dh = torch.eye(d, dtype=dtype).expand(B, P, d, d)  # (B, P, d_k, features)
    pairs = [(k, l) for k in range(d) for l in range(k, d)]
    d2h = torch.zeros(B, P, len(pairs), d, dtype=dtype) if order == 2 else None
    for (W, b), om in zip(layers[:-1], omegas):
        Wt = (om * W).transpose(1, 2)  # (B, in, out)
        z = torch.baddbmm((om * b).unsqueeze(1), h, Wt)  # (B, P, out)
        dz = torch.einsum("bpki,bio->bpko", dh, Wt)
        s, c = torch.sin(z), torch.cos(z)
        if order == 2:
            d2z = torch.einsum("bpki,bio->bpko", d2h, Wt)
            prod = torch.stack([dz[:, :, k] * dz[:, :, l] for k, l in pairs], dim=2)
            d2h = c.unsqueeze(2) * d2z - s.unsqueeze(2) * prod
        h, dh = s, c.unsqueeze(2) * dz
    W, b = layers[-1]
    Wt = W.transpose(1, 2)
    scale = stacked[f"net.{2 * len(omegas) + 1}.scale"].to(dtype)[:, None, :]  # (B, 1, c)
    shift = stacked[f"net.{2 * len(omegas) + 1}.shift"].to(dtype)[:, None, :]
    out = [torch.baddbmm(b.unsqueeze(1), h, Wt) * scale + shift]
    out += [torch.einsum("bpi,bio->bpo", dh[:, :, k], Wt) * scale for k in range(d)]
    if order == 2:
        out += [torch.einsum("bpi,bio->bpo", d2h[:, :, m], Wt) * scale for m in range(len(pairs))]
    return torch.stack(out, dim=-1)  # (B, P, c, M)


def field_features(store, shape: tuple[int, ...], *, order: int = 2, indices=None, chunk: int = 256,
                   progress: bool = False) -> np.ndarray:
    """The derivative stack of every (or the ``indices``) INR(s) of an :class:`~insp.datasets.INRDataset` on a grid.

    Returns float32 ``(N, c * M, *shape)`` (channels ``FEATURE_NAMES`` for a
    gray 2-D set), in coordinate units.
    """
    recipe = store.recipe
    if recipe["architecture"] != "siren":
        raise ValueError(f"field_features reads SIREN stores, got {recipe['architecture']!r}")
    template = store[0]
    omegas = siren_structure(template)
    grid = template.domain.grid(tuple(shape), dtype=torch.float64).reshape(-1, len(shape))
    indices = np.arange(len(store)) if indices is None else np.asarray(indices)
    stacked = store.stacked()
    out = []
    bar = progress_bar(len(indices), progress, "field features")
    for s in range(0, len(indices), chunk):
        idx = torch.as_tensor(indices[s:s + chunk])
        part = {k: v[idx].double() for k, v in stacked.items()}
        J = siren_jets(part, omegas, grid, order=order)  # (b, P, c, M)
        b, _, c, M = J.shape
        out.append(J.reshape(b, *shape, c * M).movedim(-1, 1).float().numpy())
        if bar is not None:
            bar.update(b)
    if bar is not None:
        bar.close()
    return np.concatenate(out)


# --------------------------------------------------------------------------- classifiers


class Standardise(nn.Module):
    """``(x - mean) / std`` with statistics fixed at construction (per feature, or one per group)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float().clamp_min(1e-8))

    def forward(self, x):
        return (x - self.mean) / self.std


class WeightMLP(nn.Module):
    """An MLP on flattened INR weights, standardised per weight with the training set's statistics."""

    def __init__(self, train_weights: torch.Tensor, n_classes: int, *, width: int = 256, depth: int = 2,
                 dropout: float = 0.1):
        super().__init__()
        layers: list[nn.Module] = [Standardise(train_weights.mean(0), train_weights.std(0))]
        n = train_weights.shape[1]
        for _ in range(depth):
            layers += [nn.Linear(n, width), nn.ReLU(), nn.Dropout(dropout)]
            n = width
        layers.append(nn.Linear(n, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class InvariantWeightNet(nn.Module):
    """A classifier of SIREN weights that is invariant to permutations of every hidden layer's units.

    Hidden unit ``j`` of sine layer 1 is embedded from its own weights,
    ``u_j = phi_1(W1[j, :], b1[j])``; unit ``j`` of layer ``k > 1`` from the
    mean over the units ``i`` of layer ``k - 1`` of
    ``relu(A u_i + a Wk[j, i] + c)`` and its bias; the output sums ``psi(u_j, W_out[:, j])`` over the last
    layer's units and appends the output bias and the value normalisation.
    Every sum runs over a layer's units, so permuting them (with the matching
    rows and columns of the adjacent weight matrices, which leaves the INR's
    function unchanged) leaves the prediction unchanged.  Each weight tensor
    is divided by one scalar (its root mean square over the training set),
    which keeps the invariance.

    Input: the stacked ``state_dict`` of B SIRENs (``dict`` of ``(B, ...)``
    tensors, as :meth:`~insp.datasets.INRDataset.stacked` returns).
    """

    def __init__(self, train_stacked: dict[str, torch.Tensor], omegas: list[float], n_classes: int, *,
                 width: int = 64):
        super().__init__()
        self.n_sine = len(omegas)
        self.names = list(train_stacked)
        self.register_buffer("scales", torch.stack([train_stacked[n].float().square().mean().sqrt().clamp_min(1e-8)
                                                    for n in self.names]))
        W1 = train_stacked["net.0.weight"]
        d = W1.shape[2]
        c = train_stacked[f"net.{2 * self.n_sine}.weight"].shape[1]

        def mlp(n_in, n_out=width):
            return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, n_out), nn.ReLU())

        self.first = mlp(d + 1)
        # edge i -> j of layer k: relu(A u_i + a W[j, i] + c), averaged over i (A u_i is computed once per unit)
        self.edge_units = nn.ModuleList([nn.Linear(width, width) for _ in range(self.n_sine - 1)])
        self.edge_weights = nn.ParameterList([nn.Parameter(torch.randn(width) / 2) for _ in range(self.n_sine - 1)])
        self.nodes = nn.ModuleList([mlp(width + 1) for _ in range(self.n_sine - 1)])
        self.out_edge = mlp(width + c)
        self.head = nn.Sequential(nn.Linear(width + 3 * c, width), nn.ReLU(), nn.Linear(width, n_classes))

    def _get(self, x: dict, name: str) -> torch.Tensor:
        return x[name].float() / self.scales[self.names.index(name)]

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        u = self.first(torch.cat([self._get(x, "net.0.weight"), self._get(x, "net.0.bias")[..., None]], -1))
        for k in range(1, self.n_sine):
            W = self._get(x, f"net.{2 * k}.weight")  # (B, out, in)
            b = self._get(x, f"net.{2 * k}.bias")
            pre = self.edge_units[k - 1](u)[:, None] + W[..., None] * self.edge_weights[k - 1]  # (B, out, in, w)
            msg = torch.relu(pre).mean(dim=2)  # mean over the units below: invariant to their order
            u = self.nodes[k - 1](torch.cat([msg, b[..., None]], -1))
        L = 2 * self.n_sine
        Wo = self._get(x, f"net.{L}.weight")  # (B, c, n)
        pooled = self.out_edge(torch.cat([u, Wo.transpose(1, 2)], -1)).mean(dim=1)
        glob = torch.cat([self._get(x, f"net.{L}.bias"), self._get(x, f"net.{L + 1}.scale"),
                          self._get(x, f"net.{L + 1}.shift")], -1)
        return self.head(torch.cat([pooled, glob], -1))


class SmallCNN(nn.Module):
    """Two 3x3 conv blocks (ReLU, 2x2 max-pool) and a linear head; inputs standardised per channel."""

    def __init__(self, train_images: torch.Tensor, n_classes: int, *, width: int = 32):
        super().__init__()
        ch = train_images.shape[1]
        dims = (0, 2, 3)
        self.norm = Standardise(train_images.mean(dims)[None, :, None, None],
                                train_images.std(dims)[None, :, None, None])
        self.features = nn.Sequential(
            nn.Conv2d(ch, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(3), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(2 * width * 9, 128), nn.ReLU(),
                                  nn.Linear(128, n_classes))

    def forward(self, x):
        return self.head(self.features(self.norm(x)))


# --------------------------------------------------------------------------- training


def _take(inputs, idx):
    if isinstance(inputs, dict):
        return {k: v[idx] for k, v in inputs.items()}
    return inputs[idx]


def _count(inputs) -> int:
    return len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)


def train_classifier(model: nn.Module, inputs, labels, *, epochs: int = 30, lr: float = 1e-3,
                     batch_size: int = 128, weight_decay: float = 1e-4, seed: int = 0, progress: bool = True,
                     checkpoint=None, desc: str = "train") -> dict:
    """Train ``model`` on ``(inputs, labels)`` with Adam(W) and a cosine schedule; returns a history dict.

    ``inputs``: a tensor ``(N, ...)`` or a dict of such tensors (for
    :class:`InvariantWeightNet`).  ``checkpoint``: a file that receives the
    model's ``state_dict`` and the epoch after every epoch (atomically).
    Seeded: the same seed, initial model and thread count give the same model
    (dropout draws from torch's global generator inside ``fork_rng``, which is
    restored afterwards).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 2, generator=g); y = (x[:, 0] > 0).long()
    >>> _ = torch.manual_seed(0); net = torch.nn.Linear(2, 2)
    >>> hist = train_classifier(net, x, y, epochs=10, lr=0.1, batch_size=50, progress=False)
    >>> accuracy(net, x, y) > 0.95
    True
    """
    epochs = check_int(epochs, "epochs")
    lr = check_number(lr, "lr")
    batch_size = check_int(batch_size, "batch_size")
    seed = check_seed(seed)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    n = _count(inputs)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries but inputs has {n}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # dropout; the batch order has its own generator
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        steps_per_epoch = math.ceil(n / batch_size)
        total = epochs * steps_per_epoch
        loss_fn = nn.CrossEntropyLoss()
        history = dict(loss=[], seconds=0.0)
        bar = progress_bar(epochs, progress, desc)
        t0 = time.perf_counter()
        step = 0
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            total_loss = 0.0
            for s in range(0, n, batch_size):
                for group in opt.param_groups:
                    group["lr"] = lr * lr_factor(step, total)
                idx = perm[s:s + batch_size]
                loss = loss_fn(model(_take(inputs, idx)), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total_loss += float(loss.detach()) * len(idx)
                step += 1
            history["loss"].append(total_loss / n)
            if checkpoint is not None:
                buf = io.BytesIO()
                torch.save(dict(epoch=epoch + 1, state_dict=model.state_dict()), buf)
                atomic_write(checkpoint, [buf.getvalue()])
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
        if bar is not None:
            bar.close()
    model.eval()
    history["seconds"] = time.perf_counter() - t0
    return history


@torch.no_grad()
def predict(model: nn.Module, inputs, *, batch_size: int = 512) -> np.ndarray:
    """Predicted class of every input (eval mode)."""
    model.eval()
    n = _count(inputs)
    out = [model(_take(inputs, slice(s, s + batch_size))).argmax(-1) for s in range(0, n, batch_size)]
    return torch.cat(out).numpy()


def accuracy(model: nn.Module, inputs, labels) -> float:
    """Share of ``inputs`` whose predicted class is the label."""
    return float(np.mean(predict(model, inputs) == np.asarray(labels)))
