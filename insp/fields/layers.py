"""Primitive layers the shipped INRs are built from.

Each primitive has an exact Taylor rule in :mod:`insp.jet.taylor`, so every
network assembled from them (``nn.Linear`` plus the modules below) gets the
fast, exact derivative path.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Sine", "ValueAffine", "FourierFeatures", "PositionalEncoding", "Activation", "ACTIVATIONS"]


class Sine(nn.Module):
    """``sin(omega_0 * u)``, the SIREN activation."""

    def __init__(self, omega_0: float = 30.0):
        super().__init__()
        omega_0 = float(omega_0)
        if not math.isfinite(omega_0) or omega_0 <= 0:
            raise ValueError(f"omega_0 must be a positive finite number, got {omega_0}")
        self.omega_0 = omega_0

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega_0 * u)

    def extra_repr(self) -> str:
        return f"omega_0={self.omega_0:g}"


class Activation(nn.Module):
    """A named pointwise activation (``relu``, ``tanh``, ``softplus``)."""

    def __init__(self, name: str):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
        self.name = name

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.name](u)

    def extra_repr(self) -> str:
        return self.name


ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "softplus": nn.functional.softplus}


class ValueAffine(nn.Module):
    """Output de-normalisation ``y * scale + shift`` (per channel, stored with the weights).

    Fitting works on normalised values; this layer maps them back to the
    units of the signal, so a field fitted to an image in [0, 1] returns
    values in [0, 1].
    """

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("scale", torch.ones(channels))
        self.register_buffer("shift", torch.zeros(channels))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.scale + self.shift


class FourierFeatures(nn.Module):
    """Random Fourier features ``[sin(2 pi B x), cos(2 pi B x)]`` (Tancik et al. 2020).

    ``B`` has shape ``(m, d)`` with entries drawn from ``N(0, scale^2)``; it is
    a buffer (fixed, saved with the weights).
    """

    def __init__(self, in_features: int, num_features: int = 256, scale: float = 10.0, *, generator=None):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be positive, got {num_features}")
        if not (scale > 0):
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = float(scale)
        self.register_buffer("B", torch.randn(num_features, in_features, generator=generator) * scale)

    @property
    def frequencies(self) -> torch.Tensor:
        """Angular frequencies ``2 pi B``, shape ``(m, d)``."""
        return 2 * math.pi * self.B

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.frequencies.to(x.dtype).T
        return torch.cat([torch.sin(z), torch.cos(z)], dim=-1)

    @property
    def out_features(self) -> int:
        return 2 * self.B.shape[0]


class PositionalEncoding(nn.Module):
    """NeRF-style encoding ``[x, sin(2^k pi x), cos(2^k pi x)]`` for ``k < num_frequencies``."""

    def __init__(self, in_features: int, num_frequencies: int = 8):
        super().__init__()
        if num_frequencies < 1:
            raise ValueError(f"num_frequencies must be positive, got {num_frequencies}")
        self.in_features = in_features
        self.num_frequencies = num_frequencies

    @property
    def frequencies(self) -> torch.Tensor:
        """Angular frequency matrix ``(L*d, d)``: row ``k*d + i`` is ``2^k pi e_i``."""
        f = (2.0 ** torch.arange(self.num_frequencies, dtype=torch.float64)) * math.pi
        return torch.kron(f[:, None], torch.eye(self.in_features, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.frequencies.to(x.dtype).to(x.device).T
        return torch.cat([x, torch.sin(z), torch.cos(z)], dim=-1)

    @property
    def out_features(self) -> int:
        return self.in_features * (1 + 2 * self.num_frequencies)
