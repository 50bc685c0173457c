"""Hypothesis strategies: small random networks, analytic fields and points, for property-based tests.

:func:`sirens`, :func:`fourier_mlps`, :func:`analytic_fields` (the fields of
:mod:`insp.testing.analytic`, with a bandwidth knob) and :func:`points`.
``hypothesis`` is imported only when a strategy is built, so this module (and
:mod:`insp.testing`) imports without it; a strategy then raises an
``ImportError`` that says what to install.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ..jet.indices import multi_indices
from .analytic import GaussianSum, Polynomial, SinusoidSum

__all__ = ["sirens", "fourier_mlps", "analytic_fields", "points", "ANALYTIC_KINDS"]

#: kinds drawn by :func:`analytic_fields`
ANALYTIC_KINDS = ("gaussian", "sinusoid", "polynomial")


def _st():
    try:
        from hypothesis import strategies as st
    except ImportError as exc:
        raise ImportError("the strategies of insp.testing need the 'hypothesis' package: "
                          "pip install hypothesis (or pip install 'insp[test]')") from exc
    return st


def _pick(draw, value, default):
    """``value`` itself, a draw from it if it is a strategy, or a draw from ``default`` if None."""
    from hypothesis.strategies import SearchStrategy

    if value is None:
        return draw(default)
    if isinstance(value, SearchStrategy):
        return draw(value)
    return value


def sirens(*, in_features=2, out_features=1, hidden_features=None, hidden_layers=None, omega=None, seed=None,
           dtype=torch.float64):
    """Hypothesis strategy drawing small random :class:`~insp.fields.Siren` s.

    Every option is a fixed value, a hypothesis strategy, or ``None`` to draw
    from its default range: ``in_features`` and ``out_features`` 1-3,
    ``hidden_features`` 2-16, ``hidden_layers`` 0-2, ``omega`` (used for both
    ``first_omega_0`` and ``hidden_omega_0``) uniform in [1, 30], ``seed``
    0-2**32-1.  ``dtype`` is float64 by default, for derivative checks.
    """
    st = _st()

    @st.composite
    def draw_siren(draw):
        from ..fields import Siren

        omega_ = _pick(draw, omega, st.floats(1.0, 30.0))
        return Siren(_pick(draw, in_features, st.integers(1, 3)), _pick(draw, out_features, st.integers(1, 3)),
                     hidden_features=_pick(draw, hidden_features, st.integers(2, 16)),
                     hidden_layers=_pick(draw, hidden_layers, st.integers(0, 2)),
                     first_omega_0=omega_, hidden_omega_0=omega_,
                     seed=_pick(draw, seed, st.integers(0, 2**32 - 1)), dtype=dtype)

    return draw_siren()


def fourier_mlps(*, in_features=2, out_features=1, num_features=None, scale=None, hidden_features=None,
                 hidden_layers=None, activation=None, seed=None, dtype=torch.float64):
    """Hypothesis strategy drawing small smooth :class:`~insp.fields.FourierFeatureMLP` s.

    Options as in :func:`sirens`; defaults: ``num_features`` 2-16, ``scale``
    (std of the frequencies, cycles per unit) uniform in [0.1, 2],
    ``hidden_features`` 2-16, ``hidden_layers`` 0-2, ``activation`` ``'tanh'``
    or ``'softplus'`` (smooth, so every derivative order is meaningful).
    """
    st = _st()

    @st.composite
    def draw_mlp(draw):
        from ..fields import FourierFeatureMLP

        return FourierFeatureMLP(
            _pick(draw, in_features, st.integers(1, 3)), _pick(draw, out_features, st.integers(1, 3)),
            num_features=_pick(draw, num_features, st.integers(2, 16)),
            scale=_pick(draw, scale, st.floats(0.1, 2.0)),
            hidden_features=_pick(draw, hidden_features, st.integers(2, 16)),
            hidden_layers=_pick(draw, hidden_layers, st.integers(0, 2)),
            activation=_pick(draw, activation, st.sampled_from(["tanh", "softplus"])),
            seed=_pick(draw, seed, st.integers(0, 2**32 - 1)), dtype=dtype)

    return draw_mlp()


def analytic_fields(*, dim=2, out_features=1, kinds: Sequence[str] = ANALYTIC_KINDS, max_frequency: float = 10.0,
                    max_terms: int = 3, max_degree: int = 3, dtype=torch.float64):
    """Hypothesis strategy drawing random :class:`GaussianSum`, :class:`SinusoidSum` or :class:`Polynomial`.

    Parameters
    ----------
    dim, out_features : int, strategy or None
        ``d`` and ``c``; ``None`` draws 1-3.
    kinds : sequence of {'gaussian', 'sinusoid', 'polynomial'}
    max_frequency : float
        The bandwidth knob ``K`` (radians per coordinate unit).  Sinusoids
        have ``|k_j| <= K``; Gaussian widths are drawn log-uniformly in
        ``[1/K, 4/K]``, so each bump's spectrum ``exp(-s**2 |k|**2 / 2)`` has
        standard deviation ``1/s <= K``.  The heat-equation blur series of
        :mod:`insp.ops` converges fast when ``sigma * K`` is small.
        Polynomials are not band-limited (the series is exact for them after
        ``degree / 2`` terms).
    max_terms : int
        1 to ``max_terms`` bumps / waves / monomials.
    max_degree : int
        Highest total degree of a monomial.
    dtype
        float64 by default.

    Amplitudes and coefficients are in [-1, 1]; centres and phases cover
    ``[-1, 1]^d`` and ``[0, 2 pi)``.
    """
    st = _st()
    kinds = tuple(kinds)
    if not kinds or any(k not in ANALYTIC_KINDS for k in kinds):
        raise ValueError(f"kinds must be a non-empty subset of {ANALYTIC_KINDS}, got {kinds}")
    if not (isinstance(max_frequency, (int, float)) and math.isfinite(max_frequency) and max_frequency > 0):
        raise ValueError(f"max_frequency must be a positive number, got {max_frequency!r}")
    for name, v in (("max_terms", max_terms), ("max_degree", max_degree)):
        if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "max_terms" else 0):
            raise ValueError(f"{name} must be a {'positive' if name == 'max_terms' else 'non-negative'} "
                             f"integer, got {v!r}")
    kmax = float(max_frequency)
    unit = st.floats(-1.0, 1.0)

    def vec(draw, n):
        return [draw(unit) for _ in range(n)]

    @st.composite
    def draw_field(draw):
        d = _pick(draw, dim, st.integers(1, 3))
        c = _pick(draw, out_features, st.integers(1, 3))
        kind = draw(st.sampled_from(kinds))
        n = draw(st.integers(1, max_terms))
        amps = [vec(draw, c) for _ in range(n)]
        if kind == "gaussian":
            centres = [vec(draw, d) for _ in range(n)]
            iso = draw(st.booleans())
            widths = [[2.0 ** draw(st.floats(0.0, 2.0)) / kmax for _ in range(1 if iso else d)] for _ in range(n)]
            widths = [w * d if iso else w for w in widths]
            return GaussianSum(amps, centres, widths, dtype=dtype)
        if kind == "sinusoid":
            freqs = []
            for _ in range(n):
                k = [kmax * v for v in vec(draw, d)]
                norm = math.sqrt(sum(v * v for v in k))
                freqs.append([v * kmax / norm for v in k] if norm > kmax else k)
            phases = [draw(st.floats(0.0, 2 * math.pi, exclude_max=True)) for _ in range(n)]
            return SinusoidSum(amps, freqs, phases, dtype=dtype)
        coeffs = {}
        for a in amps:
            deg = draw(st.integers(0, max_degree))
            alpha = draw(st.sampled_from([a for a in multi_indices(d, deg) if sum(a) == deg]))
            coeffs[alpha] = a
        return Polynomial(coeffs, dtype=dtype)

    return draw_field()


def points(d: int, n: int, *, low: float = -1.0, high: float = 1.0, dtype=torch.float64):
    """Hypothesis strategy drawing ``n`` points of ``[low, high]^d`` as a tensor ``(n, d)``."""
    st = _st()
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not low < high:
        raise ValueError(f"low must be < high, got {low}, {high}")
    return st.lists(st.floats(low, high), min_size=n * d, max_size=n * d).map(
        lambda v: torch.tensor(v, dtype=dtype).reshape(n, d))
