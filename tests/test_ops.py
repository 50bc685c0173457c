"""Specification of the closed-form operators (insp.ops)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import insp
from insp import units
from insp.jet import jet
from insp.ops import (
    DifferentialPolynomial,
    SeriesDivergenceError,
    directional_derivative,
    divergence,
    edges,
    gaussian_blur,
    gradient,
    gradient_magnitude,
    hessian,
    laplacian,
    linear_operator,
    pixel_gradient,
    sharpen,
)
from insp.testing import GaussianSum, Polynomial, SinusoidSum, analytic_fields, rotated, translated

F64 = torch.float64
FEW = settings(max_examples=15, deadline=None)


def pts(n=6, d=2, seed=0):
    return torch.rand(n, d, dtype=F64, generator=torch.Generator().manual_seed(seed)) * 1.6 - 0.8


def close(a, b, tol=1e-9):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol * max(1.0, b.abs().max().item()))


def lap_closed(f, x):
    d = f.in_features
    return sum(f.derivative(x, tuple(2 * (j == k) for j in range(d))) for k in range(d))


def siren(d=2, c=1, seed=0):
    return insp.Siren(d, c, hidden_features=16, hidden_layers=1, first_omega_0=5.0, hidden_omega_0=5.0, seed=seed,
                      dtype=F64)


# ----------------------------------------------------------- closed forms

@FEW
@given(f=analytic_fields(dim=st.integers(1, 3), out_features=st.integers(1, 2)))
def test_operators_equal_closed_forms_on_analytic_fields(f):
    d, c = f.in_features, f.out_features
    x = pts(5, d)
    close(laplacian(f)(x), lap_closed(f, x))
    g = gradient(f)(x).reshape(5, c, d)
    for k in range(d):
        close(g[:, :, k], f.derivative(x, tuple(int(j == k) for j in range(d))))
    H = hessian(f)(x).reshape(5, c, d, d)
    close(H[:, :, 0, d - 1], f.derivative(x, tuple(int(j == 0) + int(j == d - 1) for j in range(d))))
    v = torch.linspace(-1, 2, d, dtype=F64)
    close(directional_derivative(f, direction=v.tolist())(x), (g * v).sum(-1))
    close(gradient_magnitude(f)(x), g.norm(dim=-1))
    close(sharpen(f, amount=0.3)(x), f(x) - 0.3 * lap_closed(f, x))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_operators_on_a_siren_match_the_reference_jet(d):
    f = siren(d, 2, seed=d)
    x = pts(4, d)
    ref = jet(f, x, order=4, jet_method="reference")
    close(laplacian(f)(x), ref.laplacian())
    close(laplacian(f, power=2)(x), ref.laplacian(2))
    close(gradient(f)(x), ref.gradient().reshape(4, -1))
    close(hessian(f)(x), ref.hessian().reshape(4, -1))


def test_polynomial_operators_by_hand():
    # f = x^2 y + 3 y^2  ->  grad = (2xy, x^2 + 6y), lap = 2y + 6, d_xy = 2x
    f = Polynomial({(2, 1): [1.0], (0, 2): [3.0]}, dtype=F64)
    x = torch.tensor([[0.5, -0.25], [1.0, 2.0]], dtype=F64)
    close(gradient(f)(x), torch.tensor([[-0.25, 0.25 - 1.5], [4.0, 13.0]], dtype=F64))
    close(laplacian(f)(x)[:, 0], torch.tensor([5.5, 10.0], dtype=F64))
    close(hessian(f)(x)[:, 1], torch.tensor([1.0, 2.0], dtype=F64))


# ----------------------------------------------------------- algebraic properties

@FEW
@given(f=analytic_fields(dim=2), g=analytic_fields(dim=2), a=st.floats(-2, 2), b=st.floats(-2, 2))
def test_linearity(f, g, a, b):
    x = pts()
    close(laplacian(a * f + b * g)(x), a * laplacian(f)(x) + b * laplacian(g)(x))
    close(gradient(a * f + b * g)(x), a * gradient(f)(x) + b * gradient(g)(x))


@FEW
@given(f=analytic_fields(dim=2), t=st.lists(st.floats(-0.5, 0.5), min_size=2, max_size=2))
def test_translation_equivariance(f, t):
    x = pts()
    shift = torch.tensor(t, dtype=F64)
    close(laplacian(translated(f, t))(x), laplacian(f)(x + shift))
    close(gradient_magnitude(translated(f, t))(x), gradient_magnitude(f)(x + shift))


@FEW
@given(f=analytic_fields(dim=2), theta=st.floats(0, 2 * math.pi))
def test_rotation_invariance_of_laplacian_and_gradient_magnitude(f, theta):
    R = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=F64)
    x = pts()
    g = rotated(f, R)  # g(x) = f(R x)
    close(laplacian(g)(x), laplacian(f)(x @ R.T))
    close(gradient_magnitude(g)(x), gradient_magnitude(f)(x @ R.T))


def test_rotation_invariance_holds_for_a_siren_too():
    f = siren(seed=3)
    theta = 0.7
    R = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=F64)
    g = rotated(f, R)  # a Field without Taylor rules: general path
    x = pts()
    close(laplacian(g)(x), laplacian(f)(x @ R.T))


@FEW
@given(f=analytic_fields(dim=st.integers(1, 3)))
def test_divergence_of_gradient_is_laplacian(f):
    if f.out_features != 1:
        return
    x = pts(5, f.in_features)
    close(divergence(gradient(f))(x), laplacian(f)(x))


def test_divergence_of_gradient_of_a_siren():
    f = siren()
    x = pts()
    close(divergence(gradient(f))(x), laplacian(f)(x))


# ----------------------------------------------------------- blur

def test_series_blur_equals_closed_form_for_band_limited_field():
    f = SinusoidSum([[1.0], [0.5]], [[3.0, 1.0], [0.0, 4.0]], dtype=F64)
    x = pts()
    for sigma in (0.02, 0.1):
        close(gaussian_blur(f, sigma=sigma, method="series", terms=6)(x), f.blurred(sigma)(x), 1e-8)


def test_quadrature_and_lattice_blur_equal_closed_form():
    f = GaussianSum([[1.0]], [[0.1, -0.2]], [[0.3, 0.3]], dtype=F64)
    x = pts()
    blurred = f.blurred(0.1)
    close(gaussian_blur(f, sigma=0.1, method="quadrature")(x), blurred(x), 1e-7)
    lattice = gaussian_blur(f, sigma=0.1, method="quadrature").sample((41, 41))
    close(lattice, blurred.sample((41, 41)), 1e-6)


def test_series_blur_is_exact_for_polynomials():
    # exp(s^2/2 lap) x^2 y^2 = (x^2 + s^2)(y^2 + s^2)
    f = Polynomial({(2, 2): [1.0]}, dtype=F64)
    x = pts()
    s = 0.3
    expect = ((x[:, 0] ** 2 + s * s) * (x[:, 1] ** 2 + s * s))[:, None]
    # the convergence check is conservative: it flags a large last term even when the series is exact
    close(gaussian_blur(f, sigma=s, method="series", terms=2, on_invalid="ignore")(x), expect)
    with pytest.raises(SeriesDivergenceError):
        gaussian_blur(f, sigma=s, method="series", terms=2)(x)


@FEW
@given(s1=st.floats(0.01, 0.06), s2=st.floats(0.01, 0.06))
def test_blur_semigroup_within_series_validity(s1, s2):
    f = SinusoidSum([[1.0], [0.7]], [[4.0, -2.0], [1.0, 5.0]], [0.3, 1.1], dtype=F64)
    x = pts()
    twice = gaussian_blur(gaussian_blur(f, sigma=s1, method="series", terms=4), sigma=s2, method="series", terms=4)
    once = gaussian_blur(f, sigma=math.hypot(s1, s2), method="series", terms=4)
    close(twice(x), once(x), 1e-7)


def test_series_blur_of_siren_matches_quadrature_at_small_sigma():
    f = siren(seed=1)
    x = pts()
    close(gaussian_blur(f, sigma=0.01, method="series")(x), gaussian_blur(f, sigma=0.01, method="quadrature")(x),
          1e-6)


def test_divergent_series_raises_warns_or_falls_back():
    f = SinusoidSum([[1.0]], [[40.0, 0.0]], dtype=F64)  # sigma * |k| = 4: far outside the series' range
    x = pts()
    with pytest.raises(SeriesDivergenceError, match="not converged"):
        gaussian_blur(f, sigma=0.1, method="series")(x)
    with pytest.warns(RuntimeWarning, match="not converged"):
        gaussian_blur(f, sigma=0.1, method="series", on_invalid="warn")(x)
    auto = gaussian_blur(f, sigma=0.1, quadrature_points=24)(x)  # falls back to quadrature
    close(auto, f.blurred(0.1)(x), 1e-6)


def test_laplacian_of_blur_composes():
    f = SinusoidSum([[1.0]], [[3.0, 2.0]], dtype=F64)
    x = pts()
    close(laplacian(gaussian_blur(f, sigma=0.05, method="series", terms=5))(x), laplacian(f.blurred(0.05))(x), 1e-8)


def test_blur_reflect_boundary_mirrors_about_the_domain_edge():
    f = Polynomial({(1, 0): [1.0]}, dtype=F64)  # f = x; mirrored at x = 1 it becomes 2 - x
    x = torch.tensor([[1.0, 0.0]], dtype=F64)
    g = gaussian_blur(f, sigma=0.1, method="quadrature", boundary="reflect")(x)
    # E[1 - |z|] for z ~ N(0, 0.1^2) = 1 - 0.1 * sqrt(2 / pi) (|z| has a kink: Gauss-Hermite is only ~1e-3 there)
    assert abs(g[0, 0].item() - (1 - 0.1 * math.sqrt(2 / math.pi))) < 5e-3


def test_lattice_blur_with_reflect_matches_gaussian_filter_mirror():
    from scipy.ndimage import gaussian_filter

    f = GaussianSum([[1.0]], [[0.9, -0.95]], [[0.3, 0.2]], dtype=F64)  # a bump touching the border
    shape = (65, 65)
    sigma_px = 2.0
    sigma = units.sigma_to_coordinates(sigma_px, shape)[0]
    got = gaussian_blur(f, sigma=sigma, boundary="reflect").sample(shape)[..., 0].numpy()
    ref = gaussian_filter(f.sample(shape)[..., 0].numpy(), sigma_px, mode="mirror", truncate=6.0)
    # the mirrored field has a kink at the border, where both trapezoid rules are only O(h^2)
    np.testing.assert_allclose(got, ref, atol=3e-3)
    np.testing.assert_allclose(got[6:-6, 6:-6], ref[6:-6, 6:-6], atol=2e-4)


# ----------------------------------------------------------- learnable operator

def test_differential_polynomial_equals_function_and_learns():
    f = siren(seed=2)
    x = pts()
    lap_coef = [0, 0, 0, 1, 0, 1]
    L = DifferentialPolynomial(2, order=2, coefficients=lap_coef).double()
    close(L.apply(f)(x), laplacian(f)(x))
    close(L(f)(x), linear_operator(f, {"dxx": 1, "dyy": 1})(x))
    # one gradient step towards a target operator reduces the loss
    target = linear_operator(f, {"dx": 1.0})(x).detach()
    L2 = DifferentialPolynomial(2, order=2).double()
    opt = torch.optim.SGD(L2.parameters(), lr=1e-4)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = (L2.apply(f)(x) - target).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert L2.coefficients.grad is not None and losses[-1] < losses[0]


def test_gradcheck_of_operators_in_float64():
    f = siren()
    x = pts(3).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: laplacian(f)(p), (x,))
    assert torch.autograd.gradcheck(lambda p: gradient_magnitude(f)(p), (x,))


# ----------------------------------------------------------- pixel units and edges

def test_pixel_gradient_matches_finite_differences_on_a_quadratic():
    f = Polynomial({(2, 0): [0.5], (1, 1): [1.0], (0, 1): [0.25]}, dtype=F64)
    shape = (33, 17)
    img = f.sample(shape)[..., 0].numpy()
    g = pixel_gradient(f, shape)
    # central differences are exact on quadratics (interior)
    np.testing.assert_allclose(g[0][1:-1, 1:-1], np.gradient(img, axis=0)[1:-1, 1:-1], atol=1e-12)
    np.testing.assert_allclose(g[1][1:-1, 1:-1], np.gradient(img, axis=1)[1:-1, 1:-1], atol=1e-12)
    h = units.pixel_spacing(shape)
    np.testing.assert_allclose(h, (2 / 32, 2 / 16))


def test_edges_of_a_disk_agree_with_canny():
    from insp.baselines import canny

    # a smooth disk of radius 0.5: edges on the circle
    f = GaussianSum([[1.0]], [[0.0, 0.0]], [[0.35, 0.35]], dtype=F64)
    shape = (64, 64)
    e = edges(f, shape, low_threshold=0.005, high_threshold=0.01)
    ref = canny(f.sample(shape)[..., 0].numpy(), sigma=0.0, low_threshold=0.005, high_threshold=0.01)
    assert e.dtype == bool and e.shape == shape and e.any()
    iou = (e & ref).sum() / (e | ref).sum()
    assert iou > 0.6, iou


# ----------------------------------------------------------- errors

@pytest.mark.parametrize("sigma", [0, -1.0, float("nan"), "1", None])
def test_invalid_sigma_raises(sigma):
    with pytest.raises(ValueError, match="sigma must be a positive finite number"):
        gaussian_blur(siren(), sigma=sigma)


def test_bad_arguments_raise_clear_errors():
    f = siren()
    with pytest.raises(ValueError, match="direction must be 2 finite numbers"):
        directional_derivative(f, direction=[1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="vector field with 2 channels"):
        divergence(f)
    with pytest.raises(ValueError, match="power must be a positive integer"):
        laplacian(f, power=0)
    with pytest.raises(ValueError, match="method must be one of"):
        gaussian_blur(f, sigma=0.1, method="fft")
    with pytest.raises(ValueError, match="boundary must be one of"):
        gaussian_blur(f, sigma=0.1, boundary="wrap")
    with pytest.raises(TypeError, match="field must be an insp.Field"):
        laplacian(lambda x: x)
    with pytest.raises(ValueError, match="coefficients must have shape"):
        DifferentialPolynomial(2, order=2, coefficients=[1.0, 2.0])
    with pytest.raises(ValueError, match="edges needs a 2-D field"):
        edges(siren(d=3), (4, 4, 4))


def test_relu_field_refuses_second_order_operators():
    f = insp.ReluMLP(2, 1, hidden_features=8, hidden_layers=1, seed=0, dtype=F64)
    assert gradient(f)(pts()).shape == (6, 2)
    with pytest.raises(ValueError, match="piecewise linear"):
        laplacian(f)
    with pytest.raises(ValueError, match="piecewise linear"):
        gaussian_blur(f, sigma=0.1)


def test_blur_answer_does_not_depend_on_the_batch():
    """The series convergence check uses a yardstick fixed per field, not the RMS of the batch evaluated."""
    from insp.ops import gaussian_blur
    from insp.testing import SinusoidSum

    f = SinusoidSum([1.0, 0.2], [[1.0, 0.0], [9.0, 4.0]], dtype=torch.float64)
    g = gaussian_blur(f, sigma=0.08)
    x = torch.rand(300, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    x[:150] *= 0.01  # a batch of near-zero values next to ordinary ones
    whole = g(x)
    parts = torch.cat([g(x[:150]), g(x[150:])])
    assert torch.equal(whole, parts)
