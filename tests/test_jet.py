"""Specification of the derivative engine (insp.jet)."""

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import insp
from insp.fields import Field
from insp.jet import Jet, gradient_at, jet, laplacian_at, multi_indices, name_of, num_partials, parse_name
from insp.jet.taylor import TaylorJet, propagate

F64 = torch.float64
SETTINGS = dict(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def small_siren(d=2, c=1, *, width=12, layers=1, omega=6.0, seed=0):
    return insp.Siren(d, c, hidden_features=width, hidden_layers=layers, first_omega_0=omega,
                      hidden_omega_0=omega, seed=seed, dtype=F64)


class Wrapped(Field):
    """A Field without Taylor rules (forces the general path)."""

    def __init__(self, fn, d, c):
        super().__init__(insp.Domain.cube(d), c)
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


# ----------------------------------------------------------- multi-indices

def test_multi_index_order_is_graded_then_descending_lexicographic():
    assert multi_indices(2, 2) == ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
    assert multi_indices(3, 1) == ((0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1))
    assert multi_indices(1, 3) == ((0,), (1,), (2,), (3,))


@given(st.integers(1, 3), st.integers(0, 7))
def test_number_of_partials_is_binomial(d, K):
    idx = multi_indices(d, K)
    assert len(idx) == num_partials(d, K) == math.comb(K + d, d)
    assert len(set(idx)) == len(idx)
    assert [sum(a) for a in idx] == sorted(sum(a) for a in idx)


def test_names_round_trip():
    assert parse_name("dxy", 2) == (1, 1)
    assert parse_name("dxxz", 3) == (2, 0, 1)
    assert parse_name("f", 2) == (0, 0)
    assert name_of((0, 2)) == "dyy"
    for a in multi_indices(3, 4):
        assert parse_name(name_of(a), 3) == a
    with pytest.raises(ValueError, match="unknown derivative name"):
        parse_name("dz", 2)


# ----------------------------------------------------------- three paths agree

field_kinds = st.sampled_from(["siren", "fourier_tanh", "fourier_softplus", "posenc_tanh"])


def make_field(kind, d, c, seed):
    if kind == "siren":
        return small_siren(d, c, omega=4.0 + seed % 5, seed=seed, layers=1 + seed % 2)
    if kind.startswith("fourier"):
        return insp.FourierFeatureMLP(d, c, num_features=6, scale=1.0, hidden_features=10, hidden_layers=1,
                                      activation=kind.split("_")[1], seed=seed, dtype=F64)
    return insp.ReluMLP(d, c, num_frequencies=2, hidden_features=10, hidden_layers=1, activation="tanh",
                        seed=seed, dtype=F64)


@settings(**SETTINGS)
@given(kind=field_kinds, d=st.integers(1, 3), c=st.integers(1, 2), K=st.integers(0, 6), seed=st.integers(0, 10_000))
def test_three_paths_agree_to_1e9(kind, d, c, K, seed):
    f = make_field(kind, d, c, seed)
    x = torch.rand(5, d, dtype=F64, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    ref = jet(f, x, order=K, jet_method="reference").values
    # the general path costs d^K tangents: drawn up to order 3 here, order 6 below
    for method in ("taylor", "general") if K <= 3 else ("taylor",):
        got = jet(f, x, order=K, jet_method=method).values
        assert got.shape == (5, c, math.comb(K + d, d))
        assert rel_err(got, ref) < 1e-9, method


@settings(**SETTINGS)
@given(kind=field_kinds, d=st.integers(1, 3), c=st.integers(1, 4), K=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_top_order_by_adjoint_equals_forward_propagation(kind, d, c, K, seed):
    """The reverse sweep for the top order gives the forward jet's numbers and the same gradients."""
    f = make_field(kind, d, c, seed)
    x0 = torch.rand(4, d, dtype=F64, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    out = {}
    for by_adjoint in (False, True):
        f.zero_grad()
        x = x0.clone().requires_grad_(True)
        values = propagate(f.taylor_modules(), TaylorJet.of_input(x, K, top_by_adjoint=by_adjoint)).derivatives()
        (values.sin().sum()).backward()
        out[by_adjoint] = (values.detach(), x.grad, [p.grad for p in f.parameters()])
    (v0, gx0, gp0), (v1, gx1, gp1) = out[False], out[True]
    assert rel_err(v1, v0) < 1e-12
    assert rel_err(gx1, gx0) < 1e-10
    for a, b in zip(gp1, gp0):
        assert rel_err(a, b) < 1e-10


@pytest.mark.parametrize("kind,d", [("siren", 2), ("fourier_softplus", 1)])
def test_three_paths_agree_at_order_6(kind, d):
    f = make_field(kind, d, 1, 10)  # one hidden layer: the nested torch.func path is slow at order 6
    x = torch.rand(3, d, dtype=F64) * 2 - 1
    ref = jet(f, x, order=6, jet_method="reference").values
    assert rel_err(jet(f, x, order=6, jet_method="taylor").values, ref) < 1e-9
    assert rel_err(jet(f, x, order=6, jet_method="general").values, ref) < 1e-9


def test_one_layer_siren_matches_closed_form():
    """f(x) = sum_j a_j sin(w (W_j . x + b_j)) + a_0: d^alpha f = sum_j a_j w^|alpha| W_j^alpha sin^(|alpha|)(.)"""
    f = insp.Siren(2, 1, hidden_features=5, hidden_layers=0, first_omega_0=3.0, seed=4, dtype=F64)
    W, b = f.net[0].weight, f.net[0].bias
    a, a0 = f.net[2].weight[0], f.net[2].bias[0]
    x = torch.rand(9, 2, dtype=F64) * 2 - 1
    J = jet(f, x, order=6)
    u = 3.0 * (x @ W.T + b)
    for m, alpha in enumerate(multi_indices(2, 6)):
        n = sum(alpha)
        dn = torch.sin(u + n * math.pi / 2)  # n-th derivative of sin
        expect = (a * 3.0 ** n * W[:, 0] ** alpha[0] * W[:, 1] ** alpha[1] * dn).sum(-1) + (a0 if n == 0 else 0)
        torch.testing.assert_close(J.values[:, 0, m], expect, rtol=1e-12, atol=1e-12)


def test_general_path_matches_closed_form_of_analytic_field():
    """f = sin(2x) exp(y): every partial is known."""
    f = Wrapped(lambda p: (torch.sin(2 * p[..., 0]) * torch.exp(p[..., 1]))[..., None], 2, 1)
    x = torch.rand(6, 2, dtype=F64)
    J = jet(f, x, order=5)
    for m, (i, j) in enumerate(J.indices):
        expect = 2.0 ** i * torch.sin(2 * x[:, 0] + i * math.pi / 2) * torch.exp(x[:, 1])
        torch.testing.assert_close(J.values[:, 0, m], expect, rtol=1e-12, atol=1e-12)


def test_order_zero_is_the_field_value():
    f = small_siren(2, 3)
    x = torch.rand(4, 7, 2, dtype=F64)
    J = jet(f, x, order=0)
    assert J.values.shape == (4, 7, 3, 1)
    torch.testing.assert_close(J.values[..., 0], f(x), rtol=0, atol=1e-15)


@settings(**{**SETTINGS, "max_examples": 5})
@given(a=st.floats(-3, 3), b=st.floats(-3, 3), seed=st.integers(0, 1000))
def test_linearity(a, b, seed):
    f, g = small_siren(seed=seed), small_siren(seed=seed + 1)
    h = Wrapped(lambda p: a * f(p) + b * g(p), 2, 1)
    x = torch.rand(4, 2, dtype=F64) * 2 - 1
    lhs = jet(h, x, order=3).values  # general path (no Taylor rules for h)
    rhs = a * jet(f, x, order=3).values + b * jet(g, x, order=3).values
    torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10)


@settings(**SETTINGS)
@given(t=st.lists(st.floats(-0.5, 0.5), min_size=2, max_size=2), seed=st.integers(0, 1000))
def test_translation_equivariance(t, seed):
    """g(x) = f(x + t) is a SIREN with first bias b + W t; jet(g, x) == jet(f, x + t)."""
    f = small_siren(seed=seed)
    g = copy.deepcopy(f)
    t = torch.tensor(t, dtype=F64)
    with torch.no_grad():
        g.net[0].bias += g.net[0].weight @ t
    x = torch.rand(6, 2, dtype=F64) * 2 - 1
    torch.testing.assert_close(jet(g, x, order=5).values, jet(f, x + t, order=5).values, rtol=1e-10, atol=1e-10)


def test_mixed_partials_are_symmetric():
    from torch.func import jacfwd, vmap

    f = small_siren(2, 1, seed=3)
    x = torch.rand(5, 2, dtype=F64)
    H = vmap(jacfwd(jacfwd(f)))(x)[:, 0]  # (N, 2, 2), both orders of differentiation
    torch.testing.assert_close(H[:, 0, 1], H[:, 1, 0])
    torch.testing.assert_close(jet(f, x, order=2)["dxy"][:, 0], H[:, 0, 1])
    torch.testing.assert_close(jet(f, x, order=2).hessian()[:, 0], H)


@pytest.mark.parametrize("which", ["dx", "lap"])
def test_finite_differences_converge_at_second_order(which):
    f = small_siren(2, 1, omega=3.0, seed=7)
    x = torch.tensor([[0.1, -0.2], [0.3, 0.4]], dtype=F64)
    e0, e1 = torch.tensor([1.0, 0.0], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64)
    J = jet(f, x, order=2)
    exact = J["dx"][:, 0] if which == "dx" else J.laplacian()[:, 0]
    errs = []
    for h in (0.02, 0.01, 0.005):
        if which == "dx":
            fd = (f(x + h * e0) - f(x - h * e0))[:, 0] / (2 * h)
        else:
            fd = sum(f(x + h * e) + f(x - h * e) - 2 * f(x) for e in (e0, e1))[:, 0] / h ** 2
        errs.append((fd - exact).abs().max().item())
    ratios = [errs[i] / errs[i + 1] for i in range(2)]
    assert all(3.6 < r < 4.4 for r in ratios), (errs, ratios)


# ----------------------------------------------------------- cheap operators

@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("power", [1, 2, 3])
def test_laplacian_powers_match_full_jet(d, power):
    f = small_siren(d, 2, seed=d + power)
    x = torch.rand(4, d, dtype=F64) * 2 - 1
    full = jet(f, x, order=2 * power, jet_method="reference").laplacian(power)
    got = laplacian_at(f, x, power=power)
    assert got.shape == (4, 2)
    assert rel_err(got, full) < 1e-10


def test_laplacian_of_relu_encoded_tanh_net_and_gradient():
    f = make_field("posenc_tanh", 2, 1, 3)
    x = torch.rand(4, 2, dtype=F64)
    ref = jet(f, x, order=4, jet_method="reference")
    assert rel_err(laplacian_at(f, x), ref.laplacian()) < 1e-10
    assert rel_err(laplacian_at(f, x, power=2), ref.laplacian(2)) < 1e-10
    assert rel_err(gradient_at(f, x), ref.gradient()) < 1e-10


def test_jet_helpers_pick_terms():
    f = small_siren(2, 1)
    x = torch.rand(3, 2, dtype=F64)
    J = jet(f, x, order=2)
    assert J.names == ["f", "dx", "dy", "dxx", "dxy", "dyy"]
    torch.testing.assert_close(J.laplacian(), J["dxx"] + J["dyy"])
    torch.testing.assert_close(J.gradient()[..., 1], J[(0, 1)])
    with pytest.raises(ValueError, match="order 3"):
        J._of_order(3)
    with pytest.raises(ValueError, match="needs derivatives of order 4"):
        J.laplacian(2)


# ----------------------------------------------------------- parameters and graphs

def test_taylor_path_is_differentiable_through_parameters():
    f = small_siren(2, 1, seed=2)
    x = torch.rand(5, 2, dtype=F64)
    grads = {}
    for method in ("taylor", "reference"):
        f.zero_grad()
        J = jet(f, x, order=3, jet_method=method, create_graph=True)
        (J.values ** 2).sum().backward()
        grads[method] = torch.cat([p.grad.flatten() for p in f.parameters()])
    torch.testing.assert_close(grads["taylor"], grads["reference"], rtol=1e-9, atol=1e-12)


def test_create_graph_false_returns_detached_values():
    f = small_siren()
    J = jet(f, torch.rand(3, 2, dtype=F64), order=2, create_graph=False)
    assert J.values.grad_fn is None and not J.values.requires_grad
    with torch.no_grad():
        assert jet(f, torch.rand(3, 2, dtype=F64), order=2).values.grad_fn is None


def test_chunking_does_not_change_the_result():
    f = small_siren(2, 2)
    x = torch.rand(37, 2, dtype=F64)
    a = jet(f, x, order=3, chunk_size=5).values
    b = jet(f, x, order=3, chunk_size=1000).values
    torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_float32_taylor_path_is_accurate():
    f = insp.Siren(2, 1, hidden_features=64, hidden_layers=2, seed=0)
    x = torch.rand(50, 2)
    got = jet(f, x, order=4).values.double()
    ref = jet(f.double(), x.double(), order=4, jet_method="reference").values
    # relative to the size of each order's terms (they grow like omega^n)
    for n in range(5):
        cols = [m for m, a in enumerate(multi_indices(2, 4)) if sum(a) == n]
        assert rel_err(got[..., cols], ref[..., cols]) < 1e-4


# ----------------------------------------------------------- errors

def test_relu_network_refuses_second_order():
    f = insp.ReluMLP(2, 1, hidden_features=8, hidden_layers=1, seed=0, dtype=F64)
    x = torch.rand(3, 2, dtype=F64)
    assert jet(f, x, order=1).values.shape == (3, 1, 3)
    with pytest.raises(ValueError, match="piecewise linear"):
        jet(f, x, order=2)
    with pytest.raises(ValueError, match="piecewise linear"):
        laplacian_at(f, x)


@pytest.mark.parametrize("order", [-1, 1.5, "2", True])
def test_bad_order_raises(order):
    with pytest.raises(ValueError, match="order must be a non-negative integer"):
        jet(small_siren(), torch.rand(2, 2, dtype=F64), order=order)


def test_bad_points_and_methods_raise():
    f = small_siren()
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 2\)"):
        jet(f, torch.rand(4, 3, dtype=F64), order=1)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        jet(f, np.zeros((4, 2)), order=1)
    with pytest.raises(ValueError, match="jet_method must be one of"):
        jet(f, torch.rand(4, 2, dtype=F64), order=1, jet_method="magic")
    with pytest.raises(ValueError, match="jet_method='taylor' needs"):
        jet(Wrapped(lambda p: p[..., :1], 2, 1), torch.rand(4, 2, dtype=F64), order=1, jet_method="taylor")
    with pytest.raises(TypeError, match="field must be an insp.Field"):
        jet(lambda p: p, torch.rand(4, 2), order=1)
    with pytest.raises(ValueError, match="power must be a positive integer"):
        laplacian_at(f, torch.rand(4, 2, dtype=F64), power=0)
    with pytest.raises(ValueError, match="chunk_size"):
        jet(f, torch.rand(4, 2, dtype=F64), order=1, chunk_size=0)


def test_jet_result_type():
    J = jet(small_siren(), torch.rand(2, 2, dtype=F64), order=1)
    assert isinstance(J, Jet) and J.d == 2 and J.order == 1
