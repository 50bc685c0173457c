"""Implicit neural representations shipped with insp.

All are :class:`~insp.fields.base.Field` s built as one ``nn.Sequential`` of
primitives (``nn.Linear``, :class:`Sine`, encodings, :class:`ValueAffine`),
which is what gives them the exact Taylor-mode derivative path.

* :class:`Siren` -- Sitzmann et al. 2020, the library's default.
* :class:`FourierFeatureMLP` -- Tancik et al. 2020 (Gaussian random features).
* :class:`ReluMLP` -- ReLU MLP with NeRF positional encoding (a comparison INR).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_device, check_dtype, check_int
from .base import Field
from .domain import Domain
from .layers import Activation, FourierFeatures, PositionalEncoding, Sine, ValueAffine

__all__ = ["NeuralField", "Siren", "FourierFeatureMLP", "ReluMLP", "ARCHITECTURES", "build_field"]

#: architecture name -> class, for files (see :mod:`insp.fields.io`).
ARCHITECTURES: dict[str, type["NeuralField"]] = {}


def _linear(in_features: int, out_features: int) -> nn.Linear:
    """An uninitialised ``nn.Linear``: every shipped INR fills its weights from its own
    generator, so building one must not draw from (and advance) torch's global RNG."""
    return nn.utils.skip_init(nn.Linear, in_features, out_features, device=torch.get_default_device())


class NeuralField(Field):
    """A Field computed by ``self.net``, an ``nn.Sequential`` ending in :class:`ValueAffine`.

    Subclasses set ``architecture`` and implement :meth:`config`, the keyword
    arguments that rebuild an identical (untrained) network.
    """

    architecture: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.architecture:
            ARCHITECTURES[cls.architecture] = cls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        w = self.net[-1].scale  # every NeuralField ends in its ValueAffine: its buffer has the weights' dtype
        if x.dtype != w.dtype:
            raise TypeError(f"x has dtype {x.dtype} but this field computes in {w.dtype}; convert the points "
                            f"(x.to({w.dtype})) or the field (field.to({x.dtype}))")
        return self.net(x)

    def taylor_modules(self):
        return list(self.net)

    @property
    def value_affine(self) -> ValueAffine:
        """The output de-normalisation layer (``scale``, ``shift`` per channel)."""
        return self.net[-1]

    def config(self) -> dict:
        raise NotImplementedError

    def _finish(self, domain, in_features, dtype, device):
        if domain is None:
            domain = Domain.cube(in_features)
        if domain.dim != in_features:
            raise ValueError(f"domain has dimension {domain.dim} but in_features is {in_features}")
        self.domain = domain
        self.to(dtype=check_dtype(dtype) or torch.get_default_dtype(), device=check_device(device))


class Siren(NeuralField):
    """SIREN: ``sin(omega_0 (W x + b))`` layers and a linear output layer.

    Parameters
    ----------
    in_features : int
        Input dimension ``d`` (1, 2 or 3 for audio, images, volumes).
    out_features : int
        Channels ``c``.
    hidden_features : int
        Width of every hidden layer.
    hidden_layers : int
        Number of hidden (width x width) sine layers after the first one.
    first_omega_0, hidden_omega_0 : float
        Frequency factor of the first layer and of the hidden layers (30, 30 in
        the reference implementation).
    domain : Domain, optional
        Defaults to ``[-1, 1]^d``.
    seed : int, optional
        Seed of the initialisation (a private generator: global RNG untouched).

    Notes
    -----
    Initialisation (Sitzmann et al. 2020, Sec. 3.2), with ``n`` the fan-in:
    first layer ``W ~ U(-1/n, 1/n)``; every later layer
    ``W ~ U(-sqrt(6/n)/omega, sqrt(6/n)/omega)`` where ``omega`` is the
    frequency factor of the hidden layers; biases keep PyTorch's default
    ``U(-1/sqrt(n), 1/sqrt(n))``, as in the reference code.  With this init the
    weight part ``omega W x`` of every hidden layer's pre-activation is close
    to ``N(0, 1)`` whatever the depth (the activations ``sin`` of the previous
    layer follow the arcsine law, variance 1/2).  The reference bias adds an
    independent ``omega b`` of variance ``omega^2 / (3 n)``, so the whole
    pre-activation has standard deviation ``sqrt(1 + omega^2 / (3 n))``
    (1.49 for n = 256, 1.77 for n = 128), also the same at every depth; the
    activations keep standard deviation ``1/sqrt(2)``.  Both are tested in
    ``tests/test_fields.py``.
    """

    architecture = "siren"
    init_variant = "sitzmann2020"

    def __init__(self, in_features: int = 2, out_features: int = 1, *, hidden_features: int = 256,
                 hidden_layers: int = 3, first_omega_0: float = 30.0, hidden_omega_0: float = 30.0,
                 domain: Domain | None = None, seed: int | None = None, dtype=None, device=None):
        in_features = check_int(in_features, "in_features")
        super().__init__(domain or Domain.cube(in_features), check_int(out_features, "out_features"))
        self.hidden_features = check_int(hidden_features, "hidden_features")
        self.hidden_layers = check_int(hidden_layers, "hidden_layers", minimum=0)
        self.first_omega_0 = float(first_omega_0)
        self.hidden_omega_0 = float(hidden_omega_0)
        layers: list[nn.Module] = [_linear(in_features, hidden_features), Sine(first_omega_0)]
        for _ in range(hidden_layers):
            layers += [_linear(hidden_features, hidden_features), Sine(hidden_omega_0)]
        layers += [_linear(hidden_features, out_features), ValueAffine(out_features)]
        self.net = nn.Sequential(*layers)
        self.reset_parameters(seed)
        self._finish(domain, in_features, dtype, device)

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Sitzmann et al. 2020 initialisation (see the class notes)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        for k, lin in enumerate(linears):
            fan_in = lin.in_features
            bound = 1.0 / fan_in if k == 0 else math.sqrt(6.0 / fan_in) / self.hidden_omega_0
            lin.weight.copy_(torch.rand(lin.weight.shape, generator=gen) * (2 * bound) - bound)
            bias_bound = 1.0 / math.sqrt(fan_in)
            lin.bias.copy_(torch.rand(lin.bias.shape, generator=gen) * (2 * bias_bound) - bias_bound)

    def config(self) -> dict:
        return dict(in_features=self.in_features, out_features=self.out_features,
                    hidden_features=self.hidden_features, hidden_layers=self.hidden_layers,
                    first_omega_0=self.first_omega_0, hidden_omega_0=self.hidden_omega_0)


class _EncodedMLP(NeuralField):
    """An input encoding followed by an MLP with a named activation."""

    def _build(self, encoding: nn.Module, enc_features: int, out_features: int, hidden_features: int,
               hidden_layers: int, activation: str, gen) -> None:
        self.hidden_features = check_int(hidden_features, "hidden_features")
        self.hidden_layers = check_int(hidden_layers, "hidden_layers", minimum=0)
        self.activation = activation
        layers: list[nn.Module] = [encoding]
        width = enc_features
        for _ in range(hidden_layers + 1):
            layers += [_linear(width, hidden_features), Activation(activation)]
            width = hidden_features
        layers += [_linear(width, out_features), ValueAffine(out_features)]
        self.net = nn.Sequential(*layers)
        with torch.no_grad():  # PyTorch's default init, drawn from the private generator
            for lin in (m for m in self.net if isinstance(m, nn.Linear)):
                bound = 1.0 / math.sqrt(lin.in_features)
                lin.weight.copy_(torch.rand(lin.weight.shape, generator=gen) * (2 * bound) - bound)
                lin.bias.copy_(torch.rand(lin.bias.shape, generator=gen) * (2 * bound) - bound)
        if activation == "relu":
            # piecewise linear in its encoding: derivatives above 1 only see the
            # encoding's curvature, not the signal's; refuse them (see jet docs)
            self.max_derivative_order = 1


class FourierFeatureMLP(_EncodedMLP):
    """Gaussian random Fourier features + MLP (Tancik et al. 2020).

    ``activation="relu"`` is the paper's network; ``"tanh"`` or ``"softplus"``
    give a smooth field whose higher derivatives are meaningful.
    ``scale`` is the standard deviation of the frequencies ``B`` (cycles per
    unit of the coordinate).
    """

    architecture = "fourier_mlp"

    def __init__(self, in_features: int = 2, out_features: int = 1, *, num_features: int = 256,
                 scale: float = 10.0, hidden_features: int = 256, hidden_layers: int = 3,
                 activation: str = "relu", domain: Domain | None = None, seed: int | None = None,
                 dtype=None, device=None):
        in_features = check_int(in_features, "in_features")
        super().__init__(domain or Domain.cube(in_features), check_int(out_features, "out_features"))
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.num_features = check_int(num_features, "num_features")
        self.scale = float(scale)
        enc = FourierFeatures(in_features, num_features, scale, generator=gen)
        self._build(enc, enc.out_features, out_features, hidden_features, hidden_layers, activation, gen)
        self._finish(domain, in_features, dtype, device)

    def config(self) -> dict:
        return dict(in_features=self.in_features, out_features=self.out_features, num_features=self.num_features,
                    scale=self.scale, hidden_features=self.hidden_features, hidden_layers=self.hidden_layers,
                    activation=self.activation)


class ReluMLP(_EncodedMLP):
    """MLP with NeRF positional encoding (``num_frequencies`` octaves) and ReLU by default."""

    architecture = "relu_mlp"

    def __init__(self, in_features: int = 2, out_features: int = 1, *, num_frequencies: int = 8,
                 hidden_features: int = 256, hidden_layers: int = 3, activation: str = "relu",
                 domain: Domain | None = None, seed: int | None = None, dtype=None, device=None):
        in_features = check_int(in_features, "in_features")
        super().__init__(domain or Domain.cube(in_features), check_int(out_features, "out_features"))
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.num_frequencies = check_int(num_frequencies, "num_frequencies")
        enc = PositionalEncoding(in_features, num_frequencies)
        self._build(enc, enc.out_features, out_features, hidden_features, hidden_layers, activation, gen)
        self._finish(domain, in_features, dtype, device)

    def config(self) -> dict:
        return dict(in_features=self.in_features, out_features=self.out_features,
                    num_frequencies=self.num_frequencies, hidden_features=self.hidden_features,
                    hidden_layers=self.hidden_layers, activation=self.activation)


def build_field(architecture: str, config: dict, *, domain: Domain | None = None, dtype=None,
                device=None) -> NeuralField:
    """Rebuild an (untrained) INR from its architecture name and :meth:`~NeuralField.config`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](**config, domain=domain, dtype=dtype, device=device)
