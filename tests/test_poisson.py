"""Gradient-domain fitting and Poisson blending (insp.ops.poisson, insp.baselines.poisson)."""

import numpy as np
import pytest
import torch

from insp.baselines import poisson as bp
from insp.fields import Domain, GridField, Siren, Translated
from insp.jet import gradient_at, jet
from insp.ops import (
    Anchor,
    CompositeGradient,
    composite_gradient,
    fit_gradients,
    fit_laplacian,
    gradient,
    integrate_gradient,
    laplacian,
    poisson_blend,
)
from insp.testing import GaussianSum, Polynomial


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(seed=0, c=1, width=24):
    return Siren(2, c, hidden_features=width, hidden_layers=2, seed=seed)


def grid(n, dtype=torch.float32):
    return Domain.cube(2).grid((n, n), dtype=dtype).reshape(-1, 2)


def box_mask(n, lo, hi):
    m = np.zeros((n, n), bool)
    m[lo:hi, lo:hi] = True
    return m


def centred_psnr(a, b):
    a = a - a.mean()
    b = b - b.mean()
    rng = float(b.max() - b.min())
    return 10 * np.log10(rng**2 / np.mean((a - b) ** 2))


# --------------------------------------------------------------------------- helper fields


def test_grid_field_is_exact_on_grid_and_zero_outside():
    vals = np.random.default_rng(0).random((5, 7))
    f = GridField(vals, Domain.cube(2))
    x = Domain.cube(2).grid((5, 7), dtype=torch.float64)
    assert torch.allclose(f(x)[..., 0], torch.as_tensor(vals))
    mid = f(torch.tensor([[-1.0, -1.0 + 1 / 6]], dtype=torch.float64))[0, 0]  # half-way between columns 0 and 1
    assert float(mid) == pytest.approx((vals[0, 0] + vals[0, 1]) / 2)
    assert float(f(torch.tensor([[1.5, 0.0]], dtype=torch.float64))[0, 0]) == 0.0


def test_translated_matches_shifted_evaluation_and_keeps_the_taylor_path():
    f = tiny()
    t = Translated(f, (0.25, -0.5))
    x = torch.rand(10, 2) - 0.5
    assert torch.allclose(t(x), f(x - torch.tensor([0.25, -0.5])))
    assert t.taylor_modules() is not None
    assert torch.allclose(jet(t, x, order=2).values, jet(f, x - torch.tensor([0.25, -0.5]), order=2).values,
                          atol=1e-4)
    assert t.domain.bounds == ((-0.75, 1.25), (-1.5, 0.5))


# --------------------------------------------------------------------------- composite gradient


def _analytic_pair():
    s = GaussianSum([1.0], [[0.1, 0.2]], [0.4], dtype=torch.float64)
    t = Polynomial({(1, 0): 0.3, (0, 2): -0.5}, dtype=torch.float64)
    return s, t


def test_composite_replace_takes_source_inside_target_outside():
    s, t = _analytic_pair()
    m = GridField(box_mask(9, 2, 7).astype(float), Domain.cube(2))
    comp = composite_gradient(s, t, m, mode="replace")
    x = Domain.cube(2).grid((9, 9), dtype=torch.float64).reshape(-1, 2)
    inside = torch.as_tensor(box_mask(9, 2, 7).reshape(-1))
    g = comp(x).reshape(-1, 1, 2)
    assert torch.allclose(g[inside], gradient_at(s, x[inside]))
    assert torch.allclose(g[~inside], gradient_at(t, x[~inside]))
    assert comp.out_features == 2


def test_composite_of_constant_source_is_zero_inside():
    const = Polynomial({(0, 0): 0.7}, dtype=torch.float64)
    _, t = _analytic_pair()
    m = GridField(box_mask(9, 2, 7).astype(float), Domain.cube(2))
    x = Domain.cube(2).grid((9, 9), dtype=torch.float64).reshape(-1, 2)
    inside = torch.as_tensor(box_mask(9, 2, 7).reshape(-1))
    g = CompositeGradient(const, t, m)(x)
    assert torch.count_nonzero(g[inside]) == 0
    assert torch.count_nonzero(g[~inside]) > 0


def test_mixed_picks_the_larger_gradient_per_point_and_average_is_the_mean():
    s, t = _analytic_pair()
    ones = GridField(np.ones((3, 3)), Domain.cube(2))
    x = (torch.rand(200, 2, dtype=torch.float64) * 2 - 1) * 0.99
    gs, gt = gradient_at(s, x)[:, 0], gradient_at(t, x)[:, 0]
    mixed = composite_gradient(s, t, ones, mode="mixed")(x)
    bigger = (gs.norm(dim=-1) > gt.norm(dim=-1))[:, None]
    assert bigger.any() and (~bigger).any()  # both cases occur
    assert torch.allclose(mixed, torch.where(bigger, gs, gt))
    avg = composite_gradient(s, t, ones, mode="average")(x)
    assert torch.allclose(avg, (gs + gt) / 2)


def test_composite_gradient_errors():
    s, t = _analytic_pair()
    m = GridField(np.ones((3, 3)), Domain.cube(2))
    with pytest.raises(ValueError, match="mode"):
        composite_gradient(s, t, m, mode="max")
    with pytest.raises(ValueError, match="channels"):
        composite_gradient(tiny(c=3), t, m)
    with pytest.raises(ValueError, match="mask"):
        composite_gradient(s, t, GridField(np.ones((3, 3, 2)), Domain.cube(2)))


# --------------------------------------------------------------------------- fit_gradients / fit_laplacian


def test_fit_gradients_recovers_an_analytic_field_up_to_a_constant():
    g = GaussianSum([1.0, -0.7], [[0.2, -0.3], [-0.4, 0.5]], [0.3, 0.25], dtype=torch.float32)
    f, hist = fit_gradients(gradient(g), model=tiny(width=32), steps=150, lr=1e-3, batch_size=1024,
                            anchor=0.25, init="random", progress=False)
    x = grid(48)
    a, b = f(x).detach()[:, 0].numpy(), g(x)[:, 0].numpy()
    assert centred_psnr(a, b) > 35
    assert a.mean() == pytest.approx(0.25, abs=0.02)  # the mean anchor holds
    assert hist.loss[-1] < 0.05 * hist.loss[0]


def test_fit_gradients_from_grid_arrays_with_point_anchor():
    p = Polynomial({(1, 0): 0.5, (0, 1): -0.25, (1, 1): 0.3}, dtype=torch.float32)
    x = grid(16)
    garr = gradient_at(p, x).reshape(16, 16, 1, 2).numpy()
    pin = torch.tensor([[0.0, 0.0]])
    f, _ = fit_gradients(garr, model=tiny(width=32), anchor=Anchor.points(pin, torch.tensor([[2.0]])), steps=200,
                         lr=1e-3, batch_size=1024, init="random", progress=False)
    got = f(x).detach()[:, 0]
    assert float(f(pin).detach()[0, 0]) == pytest.approx(2.0, abs=0.05)
    assert centred_psnr(got.numpy(), p(x)[:, 0].numpy()) > 30


def test_integrate_gradient_is_exact_for_cubics():
    # Simpson's rule integrates a cubic's gradient (quadratic) exactly along every grid edge, so the
    # least-squares potential is the polynomial itself up to its mean, to rounding
    p = Polynomial({(3, 0): 0.4, (1, 2): -0.7, (0, 2): 0.3, (1, 0): 1.1, (0, 1): -0.2}, dtype=torch.float64)
    shape = (17, 23)
    u = integrate_gradient(gradient(p), shape)
    want = p(Domain.cube(2).grid(shape, dtype=torch.float64)).numpy()
    assert u.shape == (*shape, 1)
    assert abs(u.mean()) < 1e-12
    np.testing.assert_allclose(u, want - want.mean(), atol=1e-11)


def test_integrate_gradient_converges_at_high_order_and_per_channel():
    # a smooth two-channel field: the error of each channel falls by >= 2^3.5 per halving of the spacing
    f = Siren(2, 2, hidden_features=16, hidden_layers=2, first_omega_0=3, hidden_omega_0=3, seed=1).double()
    errs = []
    for n in (9, 17, 33):
        u = integrate_gradient(gradient(f), (n, n))
        with torch.no_grad():
            want = f(Domain.cube(2).grid((n, n), dtype=torch.float64)).numpy()
        errs.append(np.abs(u - (want - want.mean((0, 1)))).max((0, 1)))
    errs = np.array(errs)  # (3 sizes, 2 channels)
    assert (errs[-1] < 1e-4).all(), errs
    assert (errs[:-1] / errs[1:] > 2 ** 3.5).all(), errs


def test_fit_gradients_integrate_init_meets_each_anchor():
    g = GaussianSum([1.0, -0.7], [[0.2, -0.3], [-0.4, 0.5]], [0.3, 0.25], dtype=torch.float32)
    x = grid(32)
    truth = g(x)[:, 0].numpy()
    pin = torch.tensor([[0.1, -0.2]])
    anchors = [(0.25, lambda f: f(x).mean() - 0.25),
               (Anchor.points(pin, torch.tensor([[3.0]])), lambda f: f(pin)[0, 0] - 3.0),
               (Anchor.boundary(g), lambda f: (f(x) - g(x)).mean())]  # boundary of g itself: no offset at all
    for anchor, off in anchors:
        f, hist = fit_gradients(gradient(g), model=tiny(width=32), shape=(32, 32), init_steps=300, steps=20,
                                batch_size=1024, anchor=anchor, progress=False)
        got = f(x).detach()[:, 0].numpy()
        assert hist.config["init"] == "integrate" and hist.config["init_steps"] == 300
        assert centred_psnr(got, truth) > 35
        assert abs(float(off(f).detach())) < 0.05, anchor


def test_fit_laplacian_with_boundary_anchor():
    p = Polynomial({(2, 0): 0.5, (0, 1): 0.3}, dtype=torch.float32)  # lap = 1
    vals = p(Domain.cube(2).grid((12, 12)))[..., 0].numpy()
    model = Siren(2, 1, hidden_features=32, hidden_layers=2, first_omega_0=3, hidden_omega_0=3, seed=0)
    f, _ = fit_laplacian(laplacian(p), model=model, anchor=Anchor.boundary(vals), shape=(12, 12),
                         steps=200, lr=1e-3, batch_size=512, value_range=1.5, progress=False)
    x = grid(12)
    got, want = f(x).detach()[:, 0], p(x)[:, 0]
    assert float(torch.corrcoef(torch.stack([got, want]))[0, 1]) > 0.9
    assert float((got - want).abs().mean()) < 0.2


def test_fit_gradients_errors():
    with pytest.raises(ValueError, match="target_grad"):
        fit_gradients(np.zeros((8, 8, 3)), progress=False)  # last axis must be d = 2
    with pytest.raises(ValueError, match="c \\* d"):
        fit_gradients(tiny(c=3), progress=False)
    with pytest.raises(TypeError, match="anchor"):
        fit_gradients(np.zeros((8, 8, 2)), anchor="boundary", progress=False)
    with pytest.raises(ValueError, match="anchor points"):
        fit_gradients(np.zeros((8, 8, 2)), anchor=Anchor.points(torch.zeros(3, 3), torch.zeros(3, 1)),
                      progress=False, steps=1)
    with pytest.raises(ValueError, match="NaN"):
        fit_gradients(np.full((8, 8, 2), np.nan), progress=False)
    with pytest.raises(ValueError, match="steps"):
        fit_gradients(np.zeros((8, 8, 2)), steps=0, progress=False)
    with pytest.raises(ValueError, match="init must be"):
        fit_gradients(np.zeros((8, 8, 2)), init="poisson", progress=False)
    with pytest.raises(ValueError, match="init_steps"):
        fit_gradients(np.zeros((8, 8, 2)), init_steps=0, progress=False)
    with pytest.raises(ValueError, match="value_weight"):
        fit_gradients(np.zeros((8, 8, 2)), value_weight=-1.0, progress=False)


def wiggly(dtype=torch.float64):
    """A field that varies between the points of a 16 x 16 grid (spacing 2/15): Gaussians of width 0.06."""
    return GaussianSum([1.0, -0.8, 0.6], [[0.13, -0.21], [-0.4, 0.35], [0.5, 0.52]], [0.06, 0.05, 0.07], dtype=dtype)


def test_a_field_target_is_integrated_between_its_grid_points():
    # Simpson's rule over one grid edge misses a bump narrower than the spacing; the potential integrated
    # finer (2x, 4x, ... until two agree) and read at the grid's points is close to exact (fit_gradients' start)
    from insp.ops.poisson.gradient_fit import _refined_potential

    g, shape = wiggly(), (16, 16)
    want = g.sample(shape).numpy()
    want = want - want.mean()
    coarse = integrate_gradient(gradient(g), shape)
    fine, probe, k = _refined_potential(gradient(g), shape, torch.float64, "cpu")
    err_coarse, err_fine = np.abs(coarse - want).max(), np.abs(fine - want).max()
    assert fine.shape == (*shape, 1) and probe.shape == (*shape, 1, 2) and k >= 4
    assert abs(fine.mean()) < 1e-12
    assert err_fine < 0.02 * err_coarse, (err_fine, err_coarse)
    np.testing.assert_allclose(fine, want, atol=3e-3)


def test_the_value_term_keeps_the_refinement_on_the_grid_values():
    # the gradient refinement alone drifts from the integrated values at the grid points; the default value
    # term keeps them (and its weight is recorded)
    g = wiggly(torch.float32)
    shape = (16, 16)
    want = g.sample(shape).numpy()[..., 0]
    got = {}
    for w in (0.0, None):
        f, hist = fit_gradients(gradient(g), model=tiny(width=32), shape=shape, init_steps=300, steps=150,
                                batch_size=256, value_weight=w, progress=False)
        got[w] = centred_psnr(f.sample(shape).detach().numpy()[..., 0], want)
        assert hist.config["value_weight"] == (0.0 if w == 0.0 else 100.0)
    assert got[None] > got[0.0] + 3, got


# --------------------------------------------------------------------------- poisson_blend


def test_blending_a_field_with_itself_returns_it():
    t = tiny(seed=3, c=3)
    out = poisson_blend(t, t, box_mask(16, 4, 12), shape=(16, 16), progress=False)
    assert out is not t
    # the membrane's boundary data t - s is zero, so the membrane is zero and the result is the target
    assert torch.allclose(out.sample((16, 16)), t.sample((16, 16)), atol=1e-5)


def test_blending_an_image_with_itself_returns_it():
    rng = np.random.default_rng(0)
    img = np.clip(np.cumsum(rng.normal(size=(12, 12)), 0) / 6 + 0.5, 0, 1)
    out = poisson_blend(img, img, box_mask(12, 3, 9), fit_steps=100, progress=False)
    info = out.info
    res = out.sample((12, 12)).detach()[..., 0].numpy()
    # source and target are fitted separately (different seeds): only their fitting errors remain
    assert np.abs(res - img).mean() < 0.02
    assert info["boundary_points"] == 6 * 4 + 4 * 0  # the ring of the 6x6 box (corners excluded)


def _grid_reference(s, t, m, n, mode="replace"):
    with torch.no_grad():
        S, T = s.sample((n, n)).double().numpy(), t.sample((n, n)).double().numpy()
    return bp.poisson_blend(S, T, m, mode=mode)


@pytest.mark.parametrize("mode", ["replace", "average", "mixed"])
def test_blend_matches_the_sparse_poisson_solution_of_the_same_problem(mode):
    # the specification: sampled on the grid, the field solves the discrete Poisson problem of its fields
    s = Siren(2, 3, hidden_features=32, hidden_layers=1, first_omega_0=12, seed=5)
    t = Siren(2, 3, hidden_features=32, hidden_layers=1, first_omega_0=12, seed=6)
    n = 32
    yy, xx = np.mgrid[0:n, 0:n] / n
    m = ((yy - 0.5) / 0.3) ** 2 + ((xx - 0.45) / 0.25) ** 2 < 1
    out = poisson_blend(s, t, m, shape=(n, n), mode=mode, progress=False)
    got = out.sample((n, n)).detach().double().numpy()
    ref = _grid_reference(s, t, m, n, mode)
    rng = float(ref.max() - ref.min())
    # the membrane is the sparse solve itself: equal to float32 rounding (the old random-feature fit: 52.6 dB)
    assert np.abs(got - ref).max() < 1e-5 * rng
    assert np.array_equal(got[~m], t.sample((n, n)).detach().double().numpy()[~m])  # outside: the target


def test_empty_mask_returns_the_target():
    t = tiny(seed=1)
    out = poisson_blend(tiny(seed=2), t, np.zeros((16, 16)), shape=(16, 16), progress=False)
    assert torch.equal(out.sample((16, 16)), t.sample((16, 16)))


def test_full_mask_returns_the_source_up_to_the_target_mean():
    s = GaussianSum([0.8], [[0.1, -0.2]], [0.5], dtype=torch.float32)
    t = tiny(seed=1, width=32)
    out = poisson_blend(s, t, np.ones((24, 24)), shape=(24, 24), progress=False)
    r, sv, tv = (f.sample((24, 24)).detach()[..., 0].numpy() for f in (out, s, t))
    assert centred_psnr(r, sv) > 50  # no boundary: the membrane is a constant
    assert r.mean() == pytest.approx(tv.mean(), abs=1e-3)


def test_constant_source_into_a_target_constant_on_the_boundary_is_flat_inside():
    # harmonic membrane with constant boundary data is that constant: zero gradient inside the mask
    const = Polynomial({(0, 0): 0.7}, dtype=torch.float64)
    a = -1 + 5 * 2 / 23  # the ring of the box mask 6..17 on a 24-grid sits at x, y = +-a
    t = Polynomial({(2, 2): 1.0, (2, 0): -a * a, (0, 2): -a * a, (0, 0): a**4 + 0.3}, dtype=torch.float64)
    m = box_mask(24, 6, 18)
    out = poisson_blend(const, t, m, shape=(24, 24), progress=False, dtype=torch.float64)
    x = grid(24, torch.float64)
    inside = torch.as_tensor(box_mask(24, 7, 17).reshape(-1))
    g_out = gradient_at(out, x[inside], create_graph=False).norm(dim=-1)
    g_t = gradient_at(t, x[inside], create_graph=False).norm(dim=-1)
    assert float(g_out.max()) < 1e-3 * float(g_t.mean())
    assert torch.allclose(out(x[inside]), torch.full_like(out(x[inside]), 0.3), atol=1e-4)


def test_mixed_keeps_the_stronger_target_texture():
    # a flat source (tiny amplitude) into a textured target: mixed guidance is the target's, so is the result
    s = Siren(2, 1, hidden_features=16, hidden_layers=1, seed=2)
    with torch.no_grad():
        s.value_affine.scale.fill_(1e-3)
        s.value_affine.shift.fill_(0.5)
    t = Siren(2, 1, hidden_features=32, hidden_layers=1, first_omega_0=10, seed=7)
    m = box_mask(20, 5, 15)
    out = poisson_blend(s, t, m, shape=(20, 20), mode="mixed", progress=False)
    replace = poisson_blend(s, t, m, shape=(20, 20), progress=False)
    tv = t.sample((20, 20)).detach()[..., 0].numpy()
    err_mixed = np.abs(out.sample((20, 20)).detach()[..., 0].numpy() - tv)[m].mean()
    err_replace = np.abs(replace.sample((20, 20)).detach()[..., 0].numpy() - tv)[m].mean()
    assert err_mixed < 0.3 * err_replace


def test_soft_mask_blends_and_mask_field_is_accepted():
    s, t = tiny(seed=2), tiny(seed=1)
    soft = np.zeros((16, 16))
    soft[4:12, 4:12] = 0.5
    soft[6:10, 6:10] = 1.0
    out = poisson_blend(s, t, soft, shape=(16, 16), progress=False)
    got, tv = out.sample((16, 16)).detach(), t.sample((16, 16)).detach()
    assert torch.allclose(got[torch.as_tensor(soft == 0)], tv[torch.as_tensor(soft == 0)], atol=1e-6)
    assert not torch.allclose(got[6:10, 6:10], tv[6:10, 6:10])
    mf = GridField(box_mask(8, 2, 6).astype(float), Domain.cube(2))
    out = poisson_blend(s, t, mf, progress=False)
    assert torch.isfinite(out.sample((8, 8))).all()


def test_feathered_blend_cross_fades_the_hard_blend_into_the_target():
    # feather: out = w * hard + (1 - w) * target with w = min(1, distance inside / width), on the grid and the field
    s = Siren(2, 1, hidden_features=32, hidden_layers=1, first_omega_0=12, seed=5)
    t = Siren(2, 1, hidden_features=32, hidden_layers=1, first_omega_0=12, seed=6)
    n = 24
    yy, xx = np.mgrid[0:n, 0:n] / n
    m = ((yy - 0.5) / 0.3) ** 2 + ((xx - 0.5) / 0.35) ** 2 < 1
    hard, soft = (poisson_blend(s, t, m, shape=(n, n), feather=f, progress=False) for f in (0, 2))
    H, F, T = (f.sample((n, n)).detach().double().numpy()[..., 0] for f in (hard, soft, t))
    w = bp.feather_weights(m, 2)
    assert np.abs(F - (w * H + (1 - w) * T)).max() < 1e-6
    assert np.abs(F - H)[w == 1].max() < 1e-6 and np.array_equal(F[~m], T[~m])
    with torch.no_grad():
        S = s.sample((n, n)).double().numpy()[..., 0]
    grid_hard, grid_soft = (bp.poisson_blend(S, T, m, feather=f) for f in (0, 2))
    assert np.allclose(grid_soft, w * grid_hard + (1 - w) * T)
    assert bp.seam_visibility(grid_soft, m) < bp.seam_visibility(grid_hard, m)
    with pytest.raises(ValueError, match="feather"):
        poisson_blend(s, t, m, shape=(n, n), feather=-1, progress=False)
    with pytest.raises(ValueError, match="feather"):
        bp.poisson_blend(S, T, m, feather=float("nan"))


def test_feather_weights_ramp_with_the_distance_inside():
    r = np.zeros((11, 11), bool)
    r[2:9, 2:9] = True
    w = bp.feather_weights(r, 3.0)
    assert np.array_equal(w[~r], np.zeros(int((~r).sum())))
    assert w[2, 5] == pytest.approx(1 / 3) and w[3, 5] == pytest.approx(2 / 3) and w[5, 5] == 1.0
    assert np.array_equal(bp.feather_weights(r, 0), r.astype(float))
    assert np.array_equal(bp.feather_weights(np.ones((4, 4), bool), 2), np.ones((4, 4)))  # no boundary: no fade
    with pytest.raises(TypeError, match="boolean"):
        bp.feather_weights(r.astype(float), 2)


@pytest.mark.parametrize("n", [24, 31, 32])
def test_region_is_the_mask_support_exactly(n):
    # the mask's interpolation leaks round-off into its neighbours; the Dirichlet ring must still sit right outside
    from scipy.ndimage import binary_dilation

    s, t = tiny(seed=2), tiny(seed=1)
    yy, xx = np.mgrid[0:n, 0:n] / n
    m = ((yy - 0.5) / 0.3) ** 2 + ((xx - 0.5) / 0.35) ** 2 < 1
    ring = binary_dilation(m, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)) & ~m
    info = poisson_blend(s, t, m, shape=(n, n), progress=False).info
    assert info["boundary_points"] == int(ring.sum())  # with "mask > 0" it was 50, 66, 64


def test_blend_result_has_exact_first_derivatives_and_refuses_higher():
    s, t = tiny(seed=2), tiny(seed=1)
    out = poisson_blend(s, t, box_mask(16, 4, 12), shape=(16, 16), progress=False)
    x = torch.tensor([[0.0, 0.05]])  # inside the mask: the gradient is that of source + membrane
    want = gradient_at(s, x) + gradient_at(out.membrane, x)
    assert torch.allclose(gradient_at(out, x, create_graph=False), want, atol=1e-4)
    with pytest.raises(ValueError, match="order"):
        laplacian(out)(x)


def test_offset_moves_the_source_image():
    # source = the target's lower-right corner; pasted back where it came from, nothing changes
    rng = np.random.default_rng(1)
    img = np.clip(np.cumsum(np.cumsum(rng.normal(size=(12, 12)), 0), 1) / 30 + 0.5, 0, 1)
    src = img[4:, 5:]
    m = np.zeros(src.shape, bool)
    m[2:6, 2:5] = True
    out = poisson_blend(src, img, m, offset=(4, 5), fit_steps=100, progress=False)
    info = out.info
    dom = info["source_field"].domain
    h = 2 / 11
    assert dom.bounds[0] == pytest.approx((-1 + 4 * h, 1.0))
    assert dom.bounds[1] == pytest.approx((-1 + 5 * h, 1.0))
    assert np.abs(out.sample((12, 12)).detach()[..., 0].numpy() - img).mean() < 0.02


def test_poisson_blend_errors():
    t, s = tiny(seed=1), tiny(seed=2)
    img = np.random.default_rng(0).random((10, 10))
    with pytest.raises(ValueError, match="mode"):
        poisson_blend(s, t, np.ones((8, 8)), mode="max", progress=False)
    with pytest.raises(ValueError, match="source image's spatial shape"):
        poisson_blend(img, img, np.ones((9, 10)), progress=False)
    with pytest.raises(ValueError, match="channels"):
        poisson_blend(np.zeros((10, 10, 3)), img, np.ones((10, 10)), progress=False)
    with pytest.raises(ValueError, match="extends outside"):
        poisson_blend(img, img, box_mask(10, 2, 8), offset=(5, 0), progress=False)
    with pytest.raises(ValueError, match="touches nothing"):
        poisson_blend(img, img, box_mask(10, 2, 8), offset=(30, 0), progress=False)
    with pytest.raises(ValueError, match="mask values"):
        poisson_blend(s, t, np.full((8, 8), 1.5), progress=False)
    with pytest.raises(ValueError, match="shape="):
        poisson_blend(s, t, np.ones((8, 8)), offset=(1, 0), progress=False)
    with pytest.raises(ValueError, match="mask must have 2 axes"):
        poisson_blend(s, t, np.ones(8), progress=False)
    with pytest.raises(TypeError, match="source"):
        poisson_blend("cat.png", t, np.ones((8, 8)), progress=False)
    with pytest.raises(ValueError, match="offset"):
        poisson_blend(img, img, np.ones((10, 10)), offset=(1, 2, 3), progress=False)


# --------------------------------------------------------------------------- pixel-grid baselines


def test_grid_poisson_self_empty_full_and_replace():
    rng = np.random.default_rng(0)
    img = rng.random((20, 24, 3))
    other = rng.random((20, 24, 3))
    m = box_mask(20, 5, 15)[:, :20]
    m = np.pad(m, ((0, 0), (0, 4)))
    assert np.allclose(bp.poisson_blend(img, img, m), img)
    assert np.array_equal(bp.poisson_blend(other, img, np.zeros((20, 24), bool)), img)
    full = bp.poisson_blend(other, img, np.ones((20, 24), bool))
    assert np.allclose(full - full.mean((0, 1)), other - other.mean((0, 1)))
    assert np.allclose(full.mean((0, 1)), img.mean((0, 1)))
    out = bp.poisson_blend(other, img, m)
    assert np.array_equal(out[~m], img[~m])
    # discrete Poisson equation holds inside: 4 f_p - sum f_q = 4 s_p - sum s_q
    lap = lambda a: 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    inner = m[1:-1, 1:-1]
    assert np.allclose(lap(out)[inner], lap(other)[inner])


def test_grid_poisson_mixed_and_constant_source():
    rng = np.random.default_rng(0)
    img = rng.random((16, 16))
    m = box_mask(16, 4, 12)
    flat = bp.poisson_blend(np.full((16, 16), 0.3), img, m)
    assert np.abs(np.diff(flat[6:10, 6:10], axis=0)).max() < np.abs(np.diff(img[6:10, 6:10], axis=0)).max()
    mixed = bp.poisson_blend(np.full((16, 16), 0.3), img, m, mode="mixed")  # target's texture is stronger
    assert np.allclose(mixed, img)


def test_offsets_agree_between_grid_poisson_and_opencv():
    pytest.importorskip("cv2")
    rng = np.random.default_rng(2)
    img = np.clip(np.cumsum(np.cumsum(rng.normal(size=(40, 48, 3)), 0), 1) / 100 + 0.5, 0, 1)
    src = np.zeros_like(img)
    src[:-5, :-7] = img[5:, 7:]  # source pixel (i, j) = target pixel (i + 5, j + 7)
    m = box_mask(40, 10, 25)[:, :40]
    m = np.pad(m, ((0, 0), (0, 8)))
    assert np.abs(bp.poisson_blend(src, img, m, offset=(5, 7)) - img).max() < 1e-10
    cv = bp.seamless_clone(src, img, m, offset=(5, 7))
    assert np.abs(cv - img).mean() < 2e-3
    assert np.abs(bp.seamless_clone(src, img, m, offset=(5, 8)) - img).mean() > 2 * np.abs(cv - img).mean()


def test_seam_visibility_sees_a_paste():
    rng = np.random.default_rng(0)
    img = np.clip(np.cumsum(np.cumsum(rng.normal(size=(32, 32)), 0), 1) / 60 + 0.5, 0, 1)
    other = img[::-1].copy() * 0.5 + 0.4
    m = box_mask(32, 8, 24)
    pasted = bp.paste(other, img, m)
    blended = bp.poisson_blend(other, img, m)
    assert bp.seam_visibility(pasted, m) > 3 * bp.seam_visibility(blended, m)


def test_grid_baseline_errors():
    img = np.zeros((10, 10))
    with pytest.raises(ValueError, match="mode"):
        bp.poisson_blend(img, img, np.ones((10, 10), bool), mode="max")
    with pytest.raises(ValueError, match="mask must have the source's spatial shape"):
        bp.poisson_blend(img, img, np.ones((9, 10), bool))
    with pytest.raises(ValueError, match="extends outside"):
        bp.poisson_blend(img, img, box_mask(10, 2, 8), offset=(4, 0))
    with pytest.raises(ValueError, match="touches nothing"):
        bp.poisson_blend(img, img, box_mask(10, 2, 8), offset=(40, 0))
    with pytest.raises(ValueError, match="whole pixels"):
        bp.poisson_blend(img, img, box_mask(10, 2, 8), offset=(0.5, 0))
    with pytest.raises(ValueError, match="channels"):
        bp.poisson_blend(np.zeros((10, 10, 3)), img, np.ones((10, 10), bool))


# --------------------------------------------------------------------------- the membrane: properties (issue 22)

from hypothesis import given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from insp.fields import SplineField  # noqa: E402
from insp.ops.poisson.membrane import outer_ring  # noqa: E402
from insp.testing.strategies import analytic_fields  # noqa: E402


@st.composite
def small_masks(draw):
    """A rectangle or an ellipse (or several) on a small grid, touching the border or not, maybe with a hole."""
    n = draw(st.integers(8, 18))
    m = np.zeros((n, n), bool)
    yy, xx = np.mgrid[0:n, 0:n]
    for _ in range(draw(st.integers(1, 2))):
        i0, j0 = draw(st.integers(0, n - 2)), draw(st.integers(0, n - 2))
        h, w = draw(st.integers(1, n - i0)), draw(st.integers(1, n - j0))
        if draw(st.booleans()):
            m[i0:i0 + h, j0:j0 + w] = True
        else:
            m |= ((yy - i0 - h / 2) / (h / 2 + 0.5)) ** 2 + ((xx - j0 - w / 2) / (w / 2 + 0.5)) ** 2 < 1
    if draw(st.booleans()) and m.sum() > 9:  # a one-pixel hole
        ii, jj = np.nonzero(m)
        k = draw(st.integers(0, ii.size - 1))
        m[ii[k], jj[k]] = False
    if not m.any():
        m[n // 2, n // 2] = True
    return m


def _lap5(a, inside):
    """The 5-point Laplacian at the pixels ``inside``, neighbours outside the array dropped (Neumann)."""
    out = np.zeros_like(a)
    n0, n1 = a.shape[:2]
    for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        for i, j in zip(*np.nonzero(inside)):
            if 0 <= i + di < n0 and 0 <= j + dj < n1:
                out[i, j] += a[i, j] - a[i + di, j + dj]
    return out[inside]


@hsettings(max_examples=25)
@given(small_masks(), analytic_fields(dim=2, out_features=2, max_frequency=6.0),
       analytic_fields(dim=2, out_features=2, max_frequency=6.0), st.sampled_from(["replace", "mixed", "average"]))
def test_property_blend_is_the_sparse_solve_on_the_grid(m, s, t, mode):
    n = m.shape[0]
    out = poisson_blend(s, t, m, shape=(n, n), mode=mode, progress=False)
    got = out.sample((n, n)).numpy()
    S, T = s.sample((n, n)).numpy(), t.sample((n, n)).numpy()
    ref = bp.poisson_blend(S, T, m, mode=mode)
    scale = max(1.0, float(np.abs(ref).max()))
    assert np.abs(got - ref).max() < 1e-9 * scale  # the discrete problem, to float64 rounding
    assert np.array_equal(got[~m], T[~m])  # outside the region: the target, exactly
    X = Domain.cube(2).grid((n, n), dtype=torch.float64)
    H = out.membrane(X).numpy()
    Q = 0.5 * (S + T) if mode == "average" else S
    ring = outer_ring(torch.as_tensor(m)).numpy()
    assert np.abs((Q + H)[ring] - T[ring]).max() < 1e-9 * scale  # the boundary condition, on the ring
    if mode != "mixed" and not m.all():  # harmonic correction: zero discrete Laplacian on the region
        assert np.abs(_lap5(H, m)).max() < 1e-9 * scale


@hsettings(max_examples=15)
@given(st.integers(10, 16), st.integers(0, 4), st.integers(0, 4), analytic_fields(dim=2, out_features=1),
       analytic_fields(dim=2, out_features=1))
def test_property_offset_source_matches_the_grid_baseline(n, di, dj, s, t):
    # a source window of (n - 4)^2 pixels on its own grid, pasted at (di, dj); the mask reaches the window's edge,
    # so part of the Dirichlet ring lies where the source is not defined (there it counts as the target)
    k = n - 4
    h = 2 / (n - 1)
    src_dom = Domain(((-1.0, -1.0 + (k - 1) * h),) * 2)
    simg = s(src_dom.grid((k, k), dtype=torch.float64)).numpy()
    sfield = SplineField(simg, src_dom)
    m = np.zeros((k, k), bool)
    m[0:k - 2, 2:k] = True
    out = poisson_blend(sfield, t, m, offset=(di, dj), shape=(n, n), progress=False)
    T = t.sample((n, n)).numpy()
    ref = bp.poisson_blend(simg, T, m, offset=(di, dj))
    assert np.abs(out.sample((n, n)).numpy() - ref).max() < 1e-9 * max(1.0, float(np.abs(ref).max()))


def test_blend_derivative_matches_finite_differences():
    # the jet differentiates source + spline membrane exactly: central differences agree to O(eps^2)
    s = Siren(2, 2, hidden_features=16, hidden_layers=1, first_omega_0=6, seed=3, dtype=torch.float64)
    t = Siren(2, 2, hidden_features=16, hidden_layers=1, first_omega_0=6, seed=4, dtype=torch.float64)
    n = 20
    m = box_mask(n, 4, 15)
    out = poisson_blend(s, t, m, shape=(n, n), progress=False)
    g = torch.Generator().manual_seed(0)
    lo, hi = -1 + 5 * 2 / (n - 1), -1 + 13 * 2 / (n - 1)  # well inside the mask: m = 1 there
    x = lo + (hi - lo) * torch.rand(30, 2, generator=g, dtype=torch.float64)
    grad = gradient_at(out, x, create_graph=False)
    eps = 1e-5
    fd = torch.stack([(out(x + eps * e) - out(x - eps * e)) / (2 * eps) for e in torch.eye(2, dtype=torch.float64)],
                     dim=-1)
    assert torch.allclose(grad, fd, atol=1e-7, rtol=0)
    assert float(gradient_at(out.membrane, x).abs().max()) > 1e-3  # the membrane contributes: not a vacuous check
    assert torch.allclose(grad, gradient_at(s, x) + gradient_at(out.membrane, x), atol=1e-12)


def test_issue_rectangle_far_from_the_borders_has_no_low_frequency_offset():
    # the issue's failing case, scaled down: a 32x30 box in a 64x64 grid, two different textured fields; the
    # random-feature membrane left a smooth offset here (19.8 dB at 128 px), the grid solve leaves none
    s = Siren(2, 1, hidden_features=32, hidden_layers=2, first_omega_0=20, seed=11, dtype=torch.float64)
    t = Siren(2, 1, hidden_features=32, hidden_layers=2, first_omega_0=20, seed=12, dtype=torch.float64)
    n = 64
    m = np.zeros((n, n), bool)
    m[16:48, 17:47] = True
    got = poisson_blend(s, t, m, shape=(n, n), progress=False).sample((n, n)).numpy()
    ref = _grid_reference(s, t, m, n)
    assert np.abs(got - ref)[m].max() < 1e-10


def test_blend_closed_forms_constant_source_and_self():
    # a constant source: the result inside is the discrete harmonic interpolation of the target's ring values
    n = 14
    m = box_mask(n, 3, 11)
    c = Polynomial({(0, 0): 0.25}, dtype=torch.float64)
    t = GaussianSum([1.0], [[0.3, -0.2]], [0.5], dtype=torch.float64)
    got = poisson_blend(c, t, m, shape=(n, n), progress=False).sample((n, n)).numpy()[..., 0]
    T = t.sample((n, n)).numpy()[..., 0]
    assert np.abs(_lap5(got, m)).max() < 1e-12 and np.array_equal(got[~m], T[~m])
    same = poisson_blend(t, t, m, shape=(n, n), progress=False)
    assert float(same.membrane.coefficients.abs().max()) == 0.0  # t - t = 0 on the ring: no membrane at all


def test_blend_input_errors():
    s, t = _analytic_pair()
    m = box_mask(8, 2, 6)
    with pytest.raises(TypeError, match="mask must be boolean or real"):
        poisson_blend(s, t, m.astype(complex), shape=(8, 8), progress=False)
    with pytest.raises(ValueError, match="mask contains 16 NaN"):
        poisson_blend(s, t, np.where(m, np.nan, 0.0), shape=(8, 8), progress=False)
    with pytest.raises(ValueError, match="mask must have 2 axes"):
        poisson_blend(s, t, np.ones((8, 8, 1)), shape=(8, 8), progress=False)
    with pytest.raises(ValueError, match="channels"):
        poisson_blend(tiny(c=3), t, m, shape=(8, 8), progress=False)
    with pytest.raises(ValueError, match="source is 3-D but target is 2-D"):
        poisson_blend(Polynomial({(1, 0, 0): 1.0}, dtype=torch.float64), t, m, shape=(8, 8), progress=False)
    with pytest.raises(ValueError, match="target image contains NaN|target contains NaN"):
        poisson_blend(np.zeros((8, 8)), np.full((8, 8), np.nan), m, progress=False)

    class NaNField(type(t)):
        def forward(self, x):
            return super().forward(x) * float("nan")

    bad = NaNField({(1, 0): 0.3}, dtype=torch.float64)
    with pytest.raises(ValueError, match="source returns NaN"):
        poisson_blend(bad, t, m, shape=(8, 8), progress=False)


# --------------------------------------------------------------------------- SplineField


def test_spline_field_is_exact_on_the_grid_and_is_scipys_cubic_spline_between():
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng(1)
    v = rng.random((6, 9, 2))
    dom = Domain(((-0.5, 0.3), (0.1, 1.0)))
    f = SplineField(v, dom)
    X = dom.grid((6, 9), dtype=torch.float64)
    assert torch.allclose(f(X), torch.as_tensor(v), atol=1e-13, rtol=0)
    x = torch.as_tensor(rng.uniform([-0.7, -0.1], [0.5, 1.2], size=(200, 2)))  # inside and past the edges
    p = ((x.numpy() - [-0.5, 0.1]) / [0.8, 0.9] * [5, 8]).T
    ref = np.stack([map_coordinates(v[..., c], p, order=3, mode="mirror") for c in range(2)], -1)
    assert np.abs(f(x).numpy() - ref).max() < 1e-12


def test_spline_field_is_c2_and_its_jet_matches_finite_differences():
    rng = np.random.default_rng(2)
    f = SplineField(rng.random((7, 7)), Domain.cube(2))
    knot = -1 + 2 * 3 / 6  # a grid line: the cubic pieces meet here
    side = torch.tensor([[knot - 1e-9, 0.1], [knot + 1e-9, 0.1]], dtype=torch.float64)
    J = jet(f, side, order=2).values[:, 0]
    assert torch.allclose(J[0], J[1], atol=1e-6)  # value, gradient and Hessian agree across the knot
    x = torch.tensor([[0.13, -0.41], [0.77, 0.05]], dtype=torch.float64)
    eps = 1e-4
    H = jet(f, x, order=2).hessian()[:, 0]
    gp = [gradient_at(f, x + eps * e) for e in torch.eye(2, dtype=torch.float64)]
    gm = [gradient_at(f, x - eps * e) for e in torch.eye(2, dtype=torch.float64)]
    fd = torch.stack([(a - b)[:, 0] / (2 * eps) for a, b in zip(gp, gm)], dim=-1)
    assert torch.allclose(H, fd, atol=1e-6)
    with pytest.raises(ValueError, match="order"):
        jet(f, x, order=3)


def test_spline_field_errors_and_3d():
    with pytest.raises(ValueError, match="finite"):
        SplineField(np.full((4, 4), np.nan), Domain.cube(2))
    with pytest.raises(TypeError, match="Domain"):
        SplineField(np.zeros((4, 4)), (-1, 1))
    with pytest.raises(ValueError, match="at least 2 samples"):
        SplineField(np.zeros((1, 4)), Domain.cube(2))
    v = np.random.default_rng(3).random((4, 5, 3))
    f = SplineField(v, Domain.cube(3))
    assert torch.allclose(f(Domain.cube(3).grid((4, 5, 3), dtype=torch.float64))[..., 0], torch.as_tensor(v),
                          atol=1e-13)


def test_blend_in_3d_solves_the_7_point_problem():
    # the membrane is written for any dimension: in 3-D the result satisfies the 7-point Poisson equation
    s = GaussianSum([1.0], [[0.1, 0.2, 0.0]], [0.4], dtype=torch.float64)
    t = Polynomial({(1, 0, 0): 0.3, (0, 2, 1): -0.5}, dtype=torch.float64)
    n = 10
    m = np.zeros((n, n, n), bool)
    m[2:7, 3:8, 1:9] = True
    out = poisson_blend(s, t, m, shape=(n, n, n), progress=False)
    F, S, T = (f.sample((n, n, n)).numpy()[..., 0] for f in (out, s, t))
    assert np.array_equal(F[~m], T[~m])

    def lap7(a):  # the mask stays off the borders, so the wrap-around of roll never reaches it
        return sum(a - np.roll(a, sh, axis=k) for k in range(3) for sh in (1, -1))

    assert np.abs((lap7(F) - lap7(S))[m]).max() < 1e-12
    assert np.abs(F - S)[m].max() > 1e-2  # the membrane is not zero: the check is not vacuous
