"""Any network in: wrap an ``nn.Module`` as a Field, or convert the SIREN layouts users have into :class:`Siren`.

* :func:`from_module` -- any module mapping ``(..., d) -> (..., c)`` becomes a
  Field (derivatives by the general torch.func path);
* :func:`from_siren_pytorch` -- a ``SirenNet`` of the ``siren-pytorch``
  package becomes an :class:`~insp.fields.inr.Siren` (fast Taylor path);
* :func:`from_siren_state_dict` -- the ``state_dict`` of the original SIREN
  code (``net.net.N.0.weight``, an ``FCBlock`` of ``BatchLinear`` + ``Sine``
  with omega 30 in every layer) becomes an :class:`~insp.fields.inr.Siren`.

Both SIREN layouts compute ``sin(omega * (W x + b))`` per hidden layer and end
in a plain linear layer, as :class:`~insp.fields.inr.Siren` does, so the
conversion copies weights and is exact.  Imported fields record
``source="imported"`` and no fit grid (:mod:`insp.fields.provenance`).

Examples
--------
>>> import torch
>>> from torch import nn
>>> mlp = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3)).double()
>>> f = from_module(mlp)                       # on [-1, 1]^2 unless a domain is given
>>> f.in_features, f.out_features, f.provenance.source
(2, 3, 'imported')
>>> f.sample((4, 5)).shape
torch.Size([4, 5, 3])
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .base import Field
from .domain import Domain
from .inr import Siren
from .provenance import Provenance

__all__ = ["ModuleField", "from_module", "from_siren_pytorch", "from_siren_state_dict"]


def _domain(domain, in_features: int | None, name: str = "domain") -> Domain:
    if domain is None:
        if in_features is None:
            raise ValueError("give domain= (an insp.Domain) or in_features= so that the input dimension is known")
        return Domain.cube(in_features)
    if not isinstance(domain, Domain):
        try:
            domain = Domain(tuple(tuple(float(v) for v in b) for b in domain))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an insp.Domain or a sequence of (low, high) pairs, got {domain!r}") \
                from None
    if in_features is not None and domain.dim != in_features:
        raise ValueError(f"{name} has dimension {domain.dim} but the module takes {in_features} inputs")
    return domain


def _in_features(module: nn.Module) -> int | None:
    """The input size read from the first module with a 2-D ``weight`` (an ``nn.Linear`` or a layer like it)."""
    for m in module.modules():
        w = getattr(m, "weight", None)
        if isinstance(w, torch.Tensor) and w.ndim == 2:
            return int(w.shape[1])
    return None


class ModuleField(Field):
    """A Field computed by any ``nn.Module`` mapping ``(..., d)`` points to ``(..., c)`` values; see :func:`from_module`."""

    default_source = "imported"

    def __init__(self, module: nn.Module, domain: Domain, out_features: int):
        super().__init__(domain, out_features)
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(self.check_points(x))


def from_module(module: nn.Module, *, domain=None, in_features: int | None = None) -> ModuleField:
    """Any ``nn.Module`` mapping ``(..., d) -> (..., c)`` as a Field on ``domain`` (default ``[-1, 1]^d``).

    ``d`` comes from ``domain``, ``in_features`` or the module's first
    ``nn.Linear``; ``c`` from one probe evaluation.  Derivatives use the
    general (torch.func) path, so the module must be written in torch
    operations; a SIREN is faster converted by :func:`from_siren_pytorch` or
    :func:`from_siren_state_dict`.  The module is used as is (not copied) and
    put in eval mode.

    Examples
    --------
    >>> import torch
    >>> from insp.jet import jet
    >>> lin = torch.nn.Linear(2, 1).double()
    >>> f = from_module(lin)
    >>> j = jet(f, torch.zeros(1, 2, dtype=torch.float64), order=1)
    >>> torch.allclose(j.values[0, 0, 1:], lin.weight[0])     # the gradient of a linear map: its weights
    True
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    dom = _domain(domain, in_features if in_features is not None else _in_features(module))
    try:
        ref = next(module.parameters())
        dtype, device = ref.dtype, ref.device
    except StopIteration:
        dtype, device = torch.get_default_dtype(), torch.device("cpu")
    module.eval()
    try:
        with torch.no_grad():
            out = module(torch.zeros(2, dom.dim, dtype=dtype, device=device))
    except Exception as exc:  # any failure of the user's module on (n, d) points is an unusable module
        raise ValueError(f"module could not be evaluated on points of shape (n, {dom.dim}): "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"module must map (n, {dom.dim}) points to (n, c) values, got {shape}")
    field = ModuleField(module, dom, int(out.shape[1]))
    field.provenance = Provenance(source="imported", domain=dom.bounds)
    return field


def _siren_from_layers(weights: list[tuple[torch.Tensor, torch.Tensor]], first_omega_0: float,
                       hidden_omega_0: float, domain, what: str) -> Siren:
    """A :class:`Siren` holding ``weights`` = [(W, b) of each linear layer, first to last]."""
    if len(weights) < 2:
        raise ValueError(f"{what} must have at least two linear layers (a sine layer and the output), got "
                         f"{len(weights)}")
    width = weights[0][0].shape[0]
    for i, (w, b) in enumerate(weights):
        if w.ndim != 2 or b is None or b.shape != (w.shape[0],):
            raise ValueError(f"{what}: layer {i} must have a 2-D weight and a bias of matching size")
        if 0 < i and w.shape[1] != weights[i - 1][0].shape[0]:
            raise ValueError(f"{what}: layer {i} takes {w.shape[1]} inputs but layer {i - 1} gives "
                             f"{weights[i - 1][0].shape[0]}")
        if 0 < i < len(weights) - 1 and w.shape[0] != width:
            raise ValueError(f"{what}: hidden layers of different widths ({width}, {w.shape[0]}) are not a Siren")
    d, c = weights[0][0].shape[1], weights[-1][0].shape[0]
    dtype = weights[0][0].dtype
    siren = Siren(d, c, hidden_features=width, hidden_layers=len(weights) - 2, first_omega_0=first_omega_0,
                  hidden_omega_0=hidden_omega_0, domain=_domain(domain, d), seed=0, dtype=dtype,
                  device=weights[0][0].device)
    linears = [m for m in siren.net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for lin, (w, b) in zip(linears, weights):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
    siren.provenance = Provenance(source="imported", domain=siren.domain.bounds)
    return siren.eval()


def from_siren_pytorch(net: nn.Module, *, domain=None) -> Siren:
    """A ``siren_pytorch.SirenNet`` (the PyPI package ``siren-pytorch``) as an exact :class:`Siren`.

    Its layers ``layers.N`` compute ``sin(w0 * (W x + b))`` (``w0_initial``
    for the first) and ``last_layer`` is linear (no final activation), which
    is :class:`Siren`'s structure.  Refused: a final activation, dropout in
    use, a layer without bias.  ``domain`` defaults to ``[-1, 1]^d`` (the
    coordinates the net was trained on).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> class Layer(nn.Module):                     # the package's layout, written out (it needs einops)
    ...     def __init__(self, i, o, w0, act=True):
    ...         super().__init__()
    ...         self.weight, self.bias = nn.Parameter(torch.randn(o, i) / i), nn.Parameter(torch.zeros(o))
    ...         self.activation = Sine(w0) if act else nn.Identity()
    >>> class Sine(nn.Module):
    ...     def __init__(self, w0):
    ...         super().__init__()
    ...         self.w0 = w0
    >>> class SirenNet(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layers = nn.ModuleList([Layer(2, 8, 30.0), Layer(8, 8, 1.0)])
    ...         self.last_layer = Layer(8, 1, 1.0, act=False)
    >>> f = from_siren_pytorch(SirenNet())
    >>> f.first_omega_0, f.hidden_omega_0, f.hidden_layers, f.hidden_features
    (30.0, 1.0, 1, 8)
    """
    layers = getattr(net, "layers", None)
    last = getattr(net, "last_layer", None)
    if not isinstance(layers, nn.ModuleList) or not isinstance(last, nn.Module) or not len(layers):
        raise TypeError(f"net must be a siren_pytorch SirenNet (with .layers and .last_layer), got "
                        f"{type(net).__name__}")
    omegas = []
    for i, layer in enumerate(layers):
        act = getattr(layer, "activation", None)
        if act is None or not hasattr(act, "w0"):
            raise ValueError(f"net.layers[{i}] has activation {type(act).__name__}, not siren_pytorch's Sine")
        drop = getattr(layer, "dropout", None)
        if isinstance(drop, nn.Dropout) and drop.p > 0 and net.training:
            raise ValueError("net uses dropout in training mode; call net.eval() first")
        omegas.append(float(act.w0))
    if not isinstance(getattr(last, "activation", nn.Identity()), nn.Identity):
        raise ValueError(f"net has a final activation ({type(last.activation).__name__}); only a linear last "
                         "layer converts to an insp Siren (use from_module for the general path)")
    if len(set(omegas[1:])) > 1:
        raise ValueError(f"net has hidden layers with different w0 {omegas[1:]}; a Siren has one hidden omega")
    weights = [(m.weight.detach(), None if m.bias is None else m.bias.detach()) for m in [*layers, last]]
    return _siren_from_layers(weights, omegas[0], omegas[1] if len(omegas) > 1 else omegas[0], domain,
                              "net")


_ORIGINAL_KEY = re.compile(r"^(?:.*\.)?net\.(\d+)\.0\.(weight|bias)$")


def from_siren_state_dict(state_dict, *, first_omega_0: float = 30.0, hidden_omega_0: float = 30.0,
                          domain=None) -> Siren:
    """The ``state_dict`` of the original SIREN code's networks as an exact :class:`Siren`.

    The layout is an ``FCBlock`` whose ``net`` is a ``Sequential`` of
    ``Sequential(BatchLinear, Sine)`` blocks and a last ``Sequential(BatchLinear)``:
    keys ``net.net.N.0.weight`` / ``net.net.N.0.bias`` (any prefix before
    ``net.N``).  Its ``Sine`` is ``sin(30 x)`` in every layer: change the
    omegas only for a model trained with others.  ``domain`` defaults to
    ``[-1, 1]^d``, the coordinates of the original code.

    Examples
    --------
    >>> import torch
    >>> sd = {"net.net.0.0.weight": torch.randn(8, 2) / 2, "net.net.0.0.bias": torch.zeros(8),
    ...       "net.net.1.0.weight": torch.randn(8, 8) / 8, "net.net.1.0.bias": torch.zeros(8),
    ...       "net.net.2.0.weight": torch.randn(3, 8) / 8, "net.net.2.0.bias": torch.zeros(3)}
    >>> f = from_siren_state_dict(sd)
    >>> f.in_features, f.out_features, f.hidden_layers, f.first_omega_0
    (2, 3, 1, 30.0)
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(f"state_dict must be a mapping of tensor names to tensors, got {type(state_dict).__name__}")
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        m = _ORIGINAL_KEY.match(str(key))
        if m is None:
            raise ValueError(f"state_dict key {key!r} is not of the original SIREN layout (net.net.N.0.weight/bias)")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state_dict[{key!r}] must be a tensor, got {type(value).__name__}")
        layers.setdefault(int(m.group(1)), {})[m.group(2)] = value.detach()
    if not layers or sorted(layers) != list(range(len(layers))):
        raise ValueError(f"state_dict must hold layers net.0 ... net.N without gaps, got layers {sorted(layers)}")
    weights = [(layers[i].get("weight"), layers[i].get("bias")) for i in range(len(layers))]
    if any(w is None for w, _ in weights):
        raise ValueError("state_dict has a layer without a weight")
    return _siren_from_layers(weights, float(first_omega_0), float(hidden_omega_0), domain, "state_dict")
