"""insp.testing: analytic fields (closed forms vs autograd and quadrature) and hypothesis strategies."""

import doctest
import math
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import insp.testing as T
from insp import Domain, FourierFeatureMLP, Siren, sample
from insp.jet import multi_indices as _multi_indices
from insp.testing import GaussianSum, Polynomial, SinusoidSum, Warped, WarpedField

F64 = torch.float64
GEN = torch.Generator().manual_seed(0)
FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rand(*shape, low=-1.0, high=1.0):
    return torch.rand(*shape, generator=GEN, dtype=F64) * (high - low) + low


def autograd_derivative(field, x, alpha):
    """Reference: nested torch.autograd.grad on the forward (points are independent, so grad of the sum)."""
    return autograd_jet(field, x, sum(alpha))[tuple(alpha)]


def autograd_jet(field, x, order):
    """``{alpha: d^alpha field (..., c)}`` for all ``|alpha| <= order``, one grad per (alpha, channel)."""
    x = x.clone().requires_grad_(True)
    d = x.shape[-1]
    out = {(0,) * d: field(x)}
    for alpha in _multi_indices(d, order)[1:]:
        k = max(i for i, a in enumerate(alpha) if a)  # build alpha from alpha - e_k
        parent = out[alpha[:k] + (alpha[k] - 1,) + alpha[k + 1:]]
        chans = []
        for ch in range(parent.shape[-1]):
            p = parent[..., ch]
            # a derivative that no longer depends on x (e.g. of a linear polynomial) has no graph: its
            # derivatives are zero
            g = torch.autograd.grad(p.sum(), x, create_graph=True, allow_unused=True)[0] if p.requires_grad else None
            chans.append(torch.zeros_like(p) if g is None else g[..., k])
        out[alpha] = torch.stack(chans, dim=-1)
    return out


def make(kind, d, c=2):
    """One field of each family with random parameters, d inputs, c channels."""
    n = 3
    if kind == "gaussian":
        return GaussianSum(rand(n, c), rand(n, d), rand(n, d, low=0.3, high=0.8), dtype=F64)
    if kind == "gaussian-iso":
        return GaussianSum(rand(n, c), rand(n, d), rand(n, low=0.3, high=0.8), dtype=F64)
    if kind == "sinusoid":
        return SinusoidSum(rand(n, c), rand(n, d, low=-4, high=4), rand(n, low=0, high=6), dtype=F64)
    if kind == "polynomial":
        alphas = _multi_indices(d, 5)
        pick = torch.randperm(len(alphas), generator=GEN)[:6].tolist()
        return Polynomial({alphas[i]: rand(c).tolist() for i in pick}, dtype=F64)
    raise ValueError(kind)


def rotation(d, angle=0.7):
    if d == 1:
        return torch.tensor([[-1.0]], dtype=F64)  # the only non-trivial orthogonal map in 1-D
    c, s = math.cos(angle), math.sin(angle)
    r2 = torch.tensor([[c, -s], [s, c]], dtype=F64)
    if d == 2:
        return r2
    r = torch.eye(3, dtype=F64)
    r[1:, 1:] = r2
    q = torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=F64)  # a permutation, to mix every axis
    return q @ r


KINDS = ["gaussian", "gaussian-iso", "sinusoid", "polynomial"]


# --------------------------------------------------------------------------- multi-indices
# (the order itself is specified in tests/test_jet.py)

def test_multi_index_blocks_are_descending_lexicographic():
    for d in (1, 2, 3):
        m = _multi_indices(d, 4)
        for n in range(5):
            block = [a for a in m if sum(a) == n]
            assert block == sorted(block, reverse=True)


# --------------------------------------------------------------------------- closed forms vs autograd

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_derivatives_match_autograd_up_to_order_4(kind, d):
    f = make(kind, d)
    x = rand(5, d)
    jet = f.jet(x, 4)
    alphas = _multi_indices(d, 4)
    assert jet.shape == (5, 2, len(alphas))
    refs = autograd_jet(f, x, 4)
    for m, alpha in enumerate(alphas):
        ref = refs[alpha]
        torch.testing.assert_close(f.derivative(x, alpha), ref, rtol=1e-10, atol=1e-9)
        torch.testing.assert_close(jet[..., m], ref, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_warps_and_sums_match_autograd(d):
    base = make("gaussian", d) + 0.5 * make("sinusoid", d) - make("polynomial", d)
    assert isinstance(base, T.AnalyticSum) and base.weights == (1.0, 0.5, -1.0)  # nested sums are flattened
    x = rand(4, d)
    for f in [T.translated(T.rotated(base, rotation(d)), rand(d))]:  # x -> base(R x + t): rotation and shift
        order = 3 if d == 3 else 4  # d = 3, order 4 is slow (15 inner partials per partial) and adds nothing
        refs = autograd_jet(f, x, order)
        for alpha in _multi_indices(d, order):
            torch.testing.assert_close(f.derivative(x, alpha), refs[alpha], rtol=1e-10, atol=1e-9)


def test_forward_is_the_zero_derivative_and_batch_shapes():
    f = make("sinusoid", 2)
    x = rand(3, 4, 2)
    assert f(x).shape == (3, 4, 2)
    torch.testing.assert_close(f(x), f.derivative(x, (0, 0)))
    assert f.jet(x, 2).shape == (3, 4, 2, 6)
    assert sample(f, (5, 6)).shape == (5, 6, 2)


def test_values_against_hand_computed_closed_forms():
    x = torch.tensor([[0.3, -0.2]], dtype=F64)
    g = GaussianSum([2.0], [[0.1, 0.0]], [[0.5, 0.25]], dtype=F64)
    val = 2 * math.exp(-0.5 * ((0.2 / 0.5) ** 2 + (0.2 / 0.25) ** 2))
    assert g(x).item() == pytest.approx(val)
    assert g.derivative(x, (1, 0)).item() == pytest.approx(-val * 0.2 / 0.25)
    s = SinusoidSum([1.5], [[2.0, -3.0]], [0.4], dtype=F64)
    assert s.derivative(x, (1, 1)).item() == pytest.approx(1.5 * 2 * -3 * -math.sin(0.6 + 0.6 + 0.4))
    p = Polynomial({(2, 1): 3.0, (0, 0): 1.0}, dtype=F64)
    assert p.derivative(x, (1, 1)).item() == pytest.approx(6 * 0.3)
    assert p.derivative(x, (3, 0)).item() == 0.0


def test_torch_func_and_float32():
    f = make("gaussian", 2) + make("sinusoid", 2)
    x = rand(6, 2)
    jac = torch.func.vmap(torch.func.jacrev(lambda p: f(p)))(x)  # (6, c, d)
    torch.testing.assert_close(jac[..., 0], f.derivative(x, (1, 0)))
    hess = torch.func.vmap(torch.func.hessian(lambda p: f(p)[0]))(x)
    torch.testing.assert_close(hess[:, 0, 1], f.derivative(x, (1, 1))[:, 0])
    f32 = make("polynomial", 2).to(torch.float32)
    y = f32(x.float())
    assert y.dtype == torch.float32 and f32.jet(x.float(), 2).dtype == torch.float32
    # parameters stored in float32 are cast to float64 inputs: the float64 closed form stays consistent
    torch.testing.assert_close(f32.derivative(x, (1, 1)), autograd_derivative(f32, x, (1, 1)))


def test_constant_polynomial_is_differentiable():
    p = Polynomial({(0, 0): 2.0}, dtype=F64)
    x = rand(3, 2)
    torch.testing.assert_close(autograd_derivative(p, x, (1, 0)), torch.zeros(3, 1, dtype=F64))
    torch.testing.assert_close(p.derivative(x, (0, 2)), torch.zeros(3, 1, dtype=F64))


# --------------------------------------------------------------------------- blur

def quadrature_blur_1d(f, x, sigma, n=4001):
    """sum_y f(x - y) N(y; 0, sigma^2) on a fine trapezoid grid over +-10 sigma."""
    y = torch.linspace(-10 * sigma, 10 * sigma, n, dtype=F64)
    w = torch.exp(-0.5 * (y / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    vals = f((x[:, None, :] - y[None, :, None]))  # (N, n, c)
    return torch.trapezoid(vals * w[:, None], y, dim=1)


def quadrature_blur_2d(f, x, sigma, n=161):
    y = torch.linspace(-8 * sigma, 8 * sigma, n, dtype=F64)
    yy = torch.stack(torch.meshgrid(y, y, indexing="ij"), dim=-1)  # (n, n, 2)
    w = torch.exp(-0.5 * (yy ** 2).sum(-1) / sigma ** 2) / (2 * math.pi * sigma ** 2)
    vals = f(x[:, None, None, :] - yy)  # (N, n, n, c)
    inner = torch.trapezoid(vals * w[..., None], y, dim=2)
    return torch.trapezoid(inner, y, dim=1)


@pytest.mark.parametrize("kind", KINDS)
def test_blur_matches_quadrature_1d(kind):
    f = make(kind, 1)
    x = rand(7, 1)
    for sigma in (0.05, 0.3):
        torch.testing.assert_close(f.blurred(sigma)(x), quadrature_blur_1d(f, x, sigma), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_blur_matches_quadrature_2d(kind):
    f = make(kind, 2)
    x = rand(4, 2)
    sigma = 0.2
    torch.testing.assert_close(f.blurred(sigma)(x), quadrature_blur_2d(f, x, sigma), rtol=1e-6, atol=1e-7)


def test_blur_of_warps_and_sums_matches_quadrature_2d():
    f = (make("gaussian", 2) - make("sinusoid", 2)).rotated(rotation(2)).translated(rand(2))
    x = rand(4, 2)
    torch.testing.assert_close(f.blurred(0.15)(x), quadrature_blur_2d(f, x, 0.15), rtol=1e-6, atol=1e-7)


def test_anisotropic_blur_is_separable():
    f = make("gaussian", 2)
    x = rand(5, 2)
    # blur (s0, s1) = blur (s0, tiny) then (tiny, s1), up to the tiny extra variance
    two_steps = f.blurred((0.2, 1e-9)).blurred((1e-9, 0.3))
    torch.testing.assert_close(f.blurred((0.2, 0.3))(x), two_steps(x))
    with pytest.raises(ValueError, match="isotropic sigma"):
        f.rotated(rotation(2)).blurred((0.1, 0.2))


@pytest.mark.parametrize("kind", KINDS)
def test_blur_semigroup_closed_form(kind):
    f = make(kind, 2)
    x = rand(6, 2)
    torch.testing.assert_close(f.blurred(0.1).blurred(0.2)(x), f.blurred(math.hypot(0.1, 0.2))(x))


def test_polynomial_blur_by_moments():
    p = Polynomial({(4,): 1.0}, dtype=F64)  # E[(x + s Z)^4] = x^4 + 6 s^2 x^2 + 3 s^4
    assert p.blurred(0.5).coefficients == {(4,): (1.0,), (2,): (1.5,), (0,): (0.1875,)}


# --------------------------------------------------------------------------- warps

def test_translated_and_rotated_values():
    f = make("gaussian", 3)
    x = rand(5, 3)
    t = rand(3)
    r = rotation(3)
    torch.testing.assert_close(f.translated(t)(x), f(x + t))
    torch.testing.assert_close(f.rotated(r)(x), f(x @ r.T))
    # folded: rotated(translated(f, t), R)(x) = f(R x + t)
    g = f.translated(t).rotated(r)
    assert isinstance(g, Warped) and isinstance(g.field, GaussianSum)
    torch.testing.assert_close(g(x), f(x @ r.T + t))


def test_warps_of_any_field():
    s = Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0, dtype=F64)
    x = rand(4, 2)
    r = rotation(2)
    w = T.rotated(T.translated(s, [0.1, 0.2]), r)
    assert isinstance(w, WarpedField)
    torch.testing.assert_close(w(x), s(x @ r.T + torch.tensor([0.1, 0.2], dtype=F64)))
    with pytest.raises(ValueError, match="orthogonal"):
        T.rotated(s, [[2.0, 0.0], [0.0, 1.0]])


# --------------------------------------------------------------------------- errors

def test_constructor_errors():
    with pytest.raises(ValueError, match=r"centres must have shape \(J, d\)"):
        GaussianSum([1.0], [0.0, 0.0], [0.1])
    with pytest.raises(ValueError, match="widths must be positive"):
        GaussianSum([1.0], [[0.0, 0.0]], [-0.1])
    with pytest.raises(ValueError, match=r"amplitudes must have shape \(2,\)"):
        GaussianSum([1.0], [[0.0], [0.5]], 0.1)
    with pytest.raises(ValueError, match="centres contains NaN"):
        GaussianSum([1.0], [[float("nan")]], 0.1)
    with pytest.raises(ValueError, match="d in \\{1, 2, 3\\}"):
        SinusoidSum([1.0], [[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match=r"phases must have shape \(1,\)"):
        SinusoidSum([1.0], [[1.0]], [0.0, 1.0])
    with pytest.raises(TypeError, match="non-empty mapping"):
        Polynomial({})
    with pytest.raises(ValueError, match="same length d"):
        Polynomial({(1, 0): 1.0, (1,): 2.0})
    with pytest.raises(ValueError, match="same number of channels"):
        Polynomial({(1, 0): 1.0, (0, 1): [1.0, 2.0]})
    with pytest.raises(ValueError, match="non-negative"):
        Polynomial({(-1,): 1.0})
    with pytest.raises(ValueError, match="domain has dimension 1"):
        Polynomial({(1, 0): 1.0}, domain=Domain.cube(1))
    with pytest.raises(ValueError, match="share d and c"):
        make("gaussian", 2) + make("gaussian", 3)


def test_call_errors():
    f = make("sinusoid", 2)
    with pytest.raises(ValueError, match="alpha must be a multi-index of 2"):
        f.derivative(rand(3, 2), (1,))
    with pytest.raises(ValueError, match="alpha must be a multi-index of 2"):
        f.derivative(rand(3, 2), (1, -1))
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 2\)"):
        f(rand(3, 3))
    for sigma in (0.0, -0.1, float("inf")):
        with pytest.raises(ValueError, match="sigma must be finite and positive"):
            f.blurred(sigma)
    with pytest.raises(ValueError, match="order must be a non-negative integer"):
        f.jet(rand(3, 2), -1)


# --------------------------------------------------------------------------- strategies

@FAST
@given(T.analytic_fields(dim=None, out_features=None, max_frequency=6.0), st.data())
def test_random_analytic_fields_match_autograd(f, data):
    d = f.in_features
    x = data.draw(T.points(d, 3))
    assert x.shape == (3, d) and x.dtype == F64 and bool((x.abs() <= 1).all())
    refs = autograd_jet(f, x, 2)
    for alpha in _multi_indices(d, 2):
        torch.testing.assert_close(f.derivative(x, alpha), refs[alpha], rtol=1e-9, atol=1e-9)


@FAST
@given(T.analytic_fields(kinds=["sinusoid", "gaussian"], max_frequency=3.0))
def test_bandwidth_knob(f):
    if isinstance(f, SinusoidSum):
        assert f.bandwidth <= 3.0 + 1e-9
    else:
        assert bool((f.widths >= 1 / 3.0 - 1e-12).all()) and bool((f.widths <= 4 / 3.0 + 1e-12).all())


@FAST
@given(T.sirens(in_features=None, out_features=None))
def test_sirens_strategy(s):
    assert isinstance(s, Siren) and 1 <= s.in_features <= 3 and s.hidden_features <= 16 and s.hidden_layers <= 2
    assert 1.0 <= s.first_omega_0 <= 30.0 and next(s.parameters()).dtype == F64
    x = rand(2, s.in_features)
    assert torch.isfinite(s(x)).all()


@FAST
@given(T.fourier_mlps(hidden_layers=st.just(1)))
def test_fourier_mlps_strategy(m):
    assert isinstance(m, FourierFeatureMLP) and m.activation in ("tanh", "softplus") and m.hidden_layers == 1
    assert m.max_derivative_order is None


def test_strategy_argument_errors():
    with pytest.raises(ValueError, match="kinds must be"):
        T.analytic_fields(kinds=["spline"])
    with pytest.raises(ValueError, match="max_frequency must be a positive"):
        T.analytic_fields(max_frequency=0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        T.points(2, 0)


def test_hypothesis_is_optional(monkeypatch):
    """insp.testing imports without hypothesis; only the strategies need it, and say so."""
    import importlib

    import insp

    monkeypatch.setitem(sys.modules, "hypothesis", None)  # makes any ``import hypothesis`` fail
    # a fresh import of the package and its modules; the originals come back when the test ends
    for name in [m for m in sys.modules if m == "insp.testing" or m.startswith("insp.testing.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(insp, "testing", T)
    module = importlib.import_module("insp.testing")  # no hypothesis import at import time
    assert module is not T
    assert module.GaussianSum([1.0], [[0.0]], 0.5)(torch.zeros(1, 1)).item() == 1.0
    with pytest.raises(ImportError, match="need the 'hypothesis' package"):
        module.sirens()


def test_doctests():
    for module in (T, T.analytic, T.strategies):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_grid_samples_are_numpy_friendly():
    f = make("polynomial", 2)
    arr = sample(f, (4, 5)).numpy()
    assert isinstance(arr, np.ndarray) and arr.shape == (4, 5, 2)


def test_polynomial_derivatives_at_the_origin_are_finite():
    p = Polynomial({(1, 0): 1.0, (2, 1): 2.0, (4, 0): 1.0, (0, 3): 1.0}, dtype=F64)
    x = torch.zeros(2, 2, dtype=F64)
    refs = autograd_jet(p, x, 4)
    for alpha, ref in refs.items():
        assert torch.isfinite(ref).all()
        torch.testing.assert_close(p.derivative(x, alpha), ref)
