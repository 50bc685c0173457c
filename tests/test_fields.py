"""Fields: SIREN initialisation and forward pass, grids, chunked sampling, shapes."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

from insp.fields import Domain, FourierFeatureMLP, ReluMLP, Siren, sample
from insp.fields.layers import Sine


@torch.no_grad()
def _preactivations(model: Siren, x: torch.Tensor):
    """Per sine layer: (omega * W h, omega * (W h + b), sin(...)) for inputs x."""
    linears = [m for m in model.net if isinstance(m, nn.Linear)]
    sines = [m for m in model.net if isinstance(m, Sine)]
    out, h = [], x
    for lin, sine in zip(linears, sines):
        wx = sine.omega_0 * (h @ lin.weight.T)
        pre = wx + sine.omega_0 * lin.bias
        h = torch.sin(pre)
        out.append((wx, pre, h))
    return out


# ---------------------------------------------------------------- SIREN initialisation


@pytest.mark.parametrize("width", [128, 256])
def test_siren_init_weight_preactivations_are_standard_normal_at_every_depth(width):
    model = Siren(2, 1, hidden_features=width, hidden_layers=6, seed=3, dtype=torch.float64)
    x = torch.rand(8192, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    layers = _preactivations(model, x)
    for depth, (wx, _, _) in enumerate(layers[1:], start=1):  # hidden layers (first layer: U(-1/n, 1/n))
        v = wx.flatten()
        assert abs(v.mean().item()) < 0.1, depth
        assert 0.9 < v.std().item() < 1.1, depth
        # the shape as well as the scale: excess kurtosis 0 for a normal law
        # (-1.2 for a uniform one, 1.5 for the arcsine law of the activations)
        assert abs(scipy.stats.kurtosis(v.numpy())) < 0.6, depth


@pytest.mark.parametrize("width", [128, 256])
def test_siren_init_full_preactivation_and_activation_statistics_are_stable_with_depth(width):
    omega = 30.0
    model = Siren(2, 1, hidden_features=width, hidden_layers=6, seed=5, dtype=torch.float64)
    x = torch.rand(8192, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    layers = _preactivations(model, x)
    expected = math.sqrt(1 + omega**2 / (3 * width))  # weights N(0,1) + reference bias omega*U(+-1/sqrt(n))
    stds = [pre.std().item() for _, pre, _ in layers[1:]]
    for s in stds:
        assert abs(s / expected - 1) < 0.12
    # activations: arcsine law, variance 1/2, at every depth (first layer included)
    for _, _, h in layers:
        assert abs(h.std().item() - 1 / math.sqrt(2)) < 0.03
        assert abs(h.mean().item()) < 0.15  # a mean over n units: fluctuates by ~0.7 / sqrt(n)


def test_siren_init_bounds_follow_the_reference():
    model = Siren(3, 2, hidden_features=64, hidden_layers=2, first_omega_0=20.0, hidden_omega_0=15.0, seed=0)
    lins = [m for m in model.net if isinstance(m, nn.Linear)]
    assert lins[0].weight.abs().max() <= 1 / 3
    assert lins[0].weight.abs().max() > 0.9 / 3  # uses the whole range
    for lin in lins[1:]:
        bound = math.sqrt(6 / lin.in_features) / 15.0
        assert lin.weight.abs().max() <= bound
        assert lin.weight.abs().max() > 0.9 * bound
    assert [m.omega_0 for m in model.net if isinstance(m, Sine)] == [20.0, 15.0, 15.0]


def test_siren_seed_is_deterministic_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = Siren(2, 1, hidden_features=32, seed=7)
    b = Siren(2, 1, hidden_features=32, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = Siren(2, 1, hidden_features=32, seed=8)
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


# ---------------------------------------------------------------- forward, by hand


def test_siren_forward_equals_hand_computation():
    model = Siren(2, 1, hidden_features=2, hidden_layers=1, first_omega_0=2.0, hidden_omega_0=3.0,
                  dtype=torch.float64)
    l0, l1, l2 = [m for m in model.net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        l0.weight.copy_(torch.tensor([[0.5, -1.0], [0.25, 0.0]], dtype=torch.float64))
        l0.bias.copy_(torch.tensor([0.1, -0.2], dtype=torch.float64))
        l1.weight.copy_(torch.tensor([[1.0, 2.0], [-0.5, 0.5]], dtype=torch.float64))
        l1.bias.copy_(torch.tensor([0.0, 0.3], dtype=torch.float64))
        l2.weight.copy_(torch.tensor([[2.0, -1.0]], dtype=torch.float64))
        l2.bias.copy_(torch.tensor([0.5], dtype=torch.float64))
        model.value_affine.scale.fill_(0.5)
        model.value_affine.shift.fill_(0.25)
    x0, x1 = 0.3, -0.6
    h0 = math.sin(2 * (0.5 * x0 - 1.0 * x1 + 0.1))
    h1 = math.sin(2 * (0.25 * x0 - 0.2))
    g0 = math.sin(3 * (1.0 * h0 + 2.0 * h1 + 0.0))
    g1 = math.sin(3 * (-0.5 * h0 + 0.5 * h1 + 0.3))
    expected = (2.0 * g0 - 1.0 * g1 + 0.5) * 0.5 + 0.25
    out = model(torch.tensor([[x0, x1]], dtype=torch.float64))
    assert out.shape == (1, 1)
    assert out.item() == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_forward_accepts_leading_batch_dims_and_checks_points():
    model = Siren(3, 2, hidden_features=16, hidden_layers=1, seed=0)
    assert model(torch.zeros(4, 5, 3)).shape == (4, 5, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 3\)"):
        model(torch.zeros(4, 2))
    with pytest.raises(TypeError, match="floating"):
        model(torch.zeros(4, 3, dtype=torch.long))


# ---------------------------------------------------------------- grids


def test_grid_endpoints_and_ij_order():
    d = Domain.cube(2)
    g = d.grid((3, 5))
    assert g.shape == (3, 5, 2)
    # coordinate 0 runs down the rows (array axis 0), coordinate 1 along the columns
    assert torch.equal(g[:, 0, 0], torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(g[0, :, 1], torch.linspace(-1, 1, 5))
    assert torch.all(g[:, :, 0] == g[:, :1, 0])  # constant along axis 1
    assert d.spacing((3, 5)) == (1.0, 0.5)


def test_grid_of_custom_bounds():
    d = Domain(((0.0, 2.0), (-3.0, 1.0), (5.0, 6.0)))
    g = d.grid((3, 2, 2))
    assert g[0, 0, 0].tolist() == [0.0, -3.0, 5.0]
    assert g[-1, -1, -1].tolist() == [2.0, 1.0, 6.0]


def test_grid_points_match_full_grid():
    d = Domain.cube(3)
    full = d.grid((4, 3, 5)).reshape(-1, 3)
    assert torch.equal(d.grid_points((4, 3, 5), 7, 41), full[7:41])


@pytest.mark.parametrize("bad", [((1.0, -1.0),), ((0.0, float("nan")),), ()])
def test_domain_rejects_bad_bounds(bad):
    with pytest.raises(ValueError, match="bounds"):
        Domain(bad)


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize("dim,shape", [(1, (37,)), (2, (9, 13)), (3, (4, 5, 6))])
def test_sample_shapes_1d_2d_3d(dim, shape):
    model = Siren(dim, 3, hidden_features=16, hidden_layers=1, seed=0)
    out = sample(model, shape)
    assert out.shape == (*shape, 3)
    assert torch.equal(model.sample(shape), out)
    # equals evaluating the explicit grid
    assert torch.allclose(out, model(model.domain.grid(shape)), atol=1e-6)


def test_sample_is_chunk_size_invariant_exactly():
    model = Siren(2, 2, hidden_features=32, hidden_layers=2, seed=1)
    ref = sample(model, (23, 19), chunk_size=23 * 19)
    for chunk in (1, 7, 100, 300, 10**6):
        assert torch.equal(sample(model, (23, 19), chunk_size=chunk), ref), chunk


def test_sample_without_grad_and_with_grad():
    model = Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0)
    assert not sample(model, (4, 4)).requires_grad
    out = sample(model, (4, 4), grad=True, chunk_size=5)
    assert out.requires_grad
    out.sum().backward()
    assert model.net[0].weight.grad is not None


@pytest.mark.parametrize("shape,err,msg", [
    ((4,), ValueError, "2 entries"), ((1, 4), ValueError, "at least 2 samples"), ("ab", TypeError, "integers"),
    (5, TypeError, "sequence"), ((4.5, 4), TypeError, "integers"),
])
def test_sample_rejects_bad_shapes(shape, err, msg):
    model = Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0)
    with pytest.raises(err, match=msg):
        sample(model, shape)


@pytest.mark.parametrize("chunk", [0, -3, 2.5, True])
def test_sample_rejects_bad_chunk_size(chunk):
    model = Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0)
    with pytest.raises(ValueError, match="chunk_size"):
        sample(model, (4, 4), chunk_size=chunk)


def test_float64_fields_sample_in_float64():
    model = Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0, dtype=torch.float64)
    assert sample(model, (3, 3)).dtype == torch.float64


@pytest.mark.parametrize("cls", [FourierFeatureMLP, ReluMLP])
def test_comparison_inrs_are_fields_of_any_dimension(cls):
    for dim in (1, 2, 3):
        model = cls(dim, 2, hidden_features=16, hidden_layers=1, seed=0)
        assert model.sample((5,) * dim).shape == (*(5,) * dim, 2)
        assert np.isfinite(model.sample((5,) * dim).numpy()).all()
