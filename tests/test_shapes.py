"""Shapes as signed-distance fields: analytic SDFs, shape operators, marching cubes, mesh metrics, fit_sdf."""

import numpy as np
import pytest
import torch
import trimesh  # the shapes extra (the Makefile installs it): a missing one fails here, it is not skipped

from insp.fields import Domain, Siren
from insp.fields.fitting.sdf import _fold_domain, check_watertight, fit_sdf, mesh_signed_distance
from insp.fields.surface import extract_surface
from insp.metrics import sample_surface, surface_distances
from insp.ops import eikonal_residual, gaussian_curvature, laplacian, mean_curvature, normals, smooth_shape
from insp.testing import BoxSDF, CylinderSDF, Polynomial, SphereSDF, TorusSDF

F64 = torch.float64


def _points(n, seed=0, low=-0.9, high=0.9):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, 3, generator=g, dtype=F64)


SHAPES = {
    "sphere": SphereSDF(0.5, centre=(0.1, -0.05, 0.0), dtype=F64),
    "cylinder": CylinderSDF(0.3, centre=(0.0, 0.1, 0.0), dtype=F64),
    "torus": TorusSDF(0.55, 0.2, dtype=F64),
}


def _away_from_singularities(name, x):
    if name == "sphere":
        return (x - torch.tensor([0.1, -0.05, 0.0], dtype=F64)).norm(dim=-1) > 0.2
    if name == "cylinder":
        return (x[:, :2] - torch.tensor([0.0, 0.1], dtype=F64)).norm(dim=-1) > 0.2
    s = x[:, :2].norm(dim=-1)
    tube = torch.sqrt((s - 0.55) ** 2 + x[:, 2] ** 2)
    return (s > 0.2) & (tube > 0.1) & (tube < 0.5)


# --------------------------------------------------------------------------- operators on analytic SDFs


@pytest.mark.parametrize("name", list(SHAPES))
def test_operators_match_closed_forms(name):
    f = SHAPES[name]
    x = _points(200, seed=1)
    x = x[_away_from_singularities(name, x)]
    assert len(x) > 50
    torch.testing.assert_close(normals(f)(x), f.normal(x), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(mean_curvature(f)(x), f.mean_curvature(x), atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(gaussian_curvature(f)(x), f.gaussian_curvature(x), atol=1e-8, rtol=1e-8)
    assert eikonal_residual(f)(x).abs().max() < 1e-10


def test_sphere_laplacian_is_twice_the_mean_curvature():
    # for any SDF, lap f = div(n) = 2 H
    f = SHAPES["sphere"]
    x = _points(50, seed=2)
    x = x[_away_from_singularities("sphere", x)]
    torch.testing.assert_close(laplacian(f)(x), 2 * f.mean_curvature(x), atol=1e-9, rtol=1e-9)


def test_box_faces_are_flat():
    box = BoxSDF((0.4, 0.3, 0.2), dtype=F64)
    x = torch.tensor([[0.5, 0.05, 0.02], [0.0, -0.1, 0.35], [0.1, 0.3, 0.0]], dtype=F64)  # off each face's centre
    torch.testing.assert_close(normals(box)(x), torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]], dtype=F64))
    torch.testing.assert_close(box(x), torch.tensor([[0.1], [0.15], [0.0]], dtype=F64))
    assert mean_curvature(box)(x).abs().max() < 1e-12


def test_curvature_of_a_non_distance_level_set_matches_finite_differences():
    # q = x^2 + 2 y^2 + 3 z^2: not a distance; H = div(n) / 2 checked by central differences of the normals
    q = Polynomial({(2, 0, 0): 1.0, (0, 2, 0): 2.0, (0, 0, 2): 3.0}, dtype=F64)
    x = torch.tensor([[0.3, -0.2, 0.4], [0.5, 0.1, -0.1]], dtype=F64)
    n = normals(q)
    h = 1e-5
    div = sum((n(x + h * e)[:, k] - n(x - h * e)[:, k]) / (2 * h) for k, e in enumerate(torch.eye(3, dtype=F64)))
    torch.testing.assert_close(mean_curvature(q)(x)[:, 0], div / 2, atol=1e-6, rtol=1e-6)


def test_shape_operators_on_a_siren_agree_across_jet_paths():
    s = Siren(3, 1, hidden_features=16, hidden_layers=1, seed=3, dtype=F64)
    x = _points(7, seed=4)
    for op in (mean_curvature, gaussian_curvature, normals):
        torch.testing.assert_close(op(s)(x), op(s, jet_method="general")(x), atol=1e-9, rtol=1e-9)


def test_shape_operators_refuse_wrong_fields():
    image = Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0)
    with pytest.raises(ValueError, match="3-D"):
        gaussian_curvature(image)
    with pytest.raises(ValueError, match="one-channel"):
        normals(Siren(3, 2, hidden_features=8, hidden_layers=1, seed=0))
    with pytest.raises(TypeError, match="insp.Field"):
        mean_curvature(lambda x: x)
    with pytest.raises(ValueError, match="method"):
        smooth_shape(SHAPES["sphere"], sigma=0.1, method="median")
    with pytest.raises(ValueError, match="sigma"):
        smooth_shape(SHAPES["sphere"], sigma=-1.0)


# --------------------------------------------------------------------------- smoothing and the distance property


@pytest.mark.parametrize("method", ["heat", "flow"])
def test_smoothing_a_sphere_shrinks_it_at_mean_curvature_speed_and_breaks_the_distance(method):
    r, sigma = 0.5, 0.1
    t = sigma**2 / 2
    sphere = SphereSDF(r, dtype=F64)
    sm = smooth_shape(sphere, sigma=sigma, method=method)
    rho = torch.tensor([0.3, 0.5, 0.8], dtype=F64)
    x = torch.stack([rho, torch.zeros_like(rho), torch.zeros_like(rho)], dim=-1)
    # f + t lap f = rho - r + 2 t / rho; |grad| = 1 - 2 t / rho^2: no longer a distance
    torch.testing.assert_close(sm(x)[:, 0], rho - r + 2 * t / rho)
    torch.testing.assert_close(eikonal_residual(sm)(x)[:, 0], -2 * t / rho**2)


# --------------------------------------------------------------------------- marching cubes


def test_marching_cubes_of_a_sphere_has_its_area_and_volume():
    sphere = SphereSDF(0.6, dtype=F64)
    s = extract_surface(sphere, (64, 64, 64))
    assert abs(s.area() / sphere.area() - 1) < 0.01
    assert abs(s.volume() / sphere.volume() - 1) < 0.01
    radial = np.linalg.norm(s.vertices, axis=1)
    assert np.abs(radial - 0.6).max() < 2e-3  # vertices lie on the sphere to interpolation accuracy
    assert (np.sum(s.normals * s.vertices, axis=1) / radial).min() > 0.99  # outward normals
    assert (np.sum(s.face_normals * s.vertices[s.faces[:, 0]], axis=1)).min() > 0  # outward winding


@pytest.mark.parametrize("rows", [1, 5, 17])
def test_chunked_extraction_equals_unchunked(rows):
    torus = TorusSDF(0.5, 0.2, dtype=F64)
    a = extract_surface(torus, (33, 30, 20), rows=1000)
    b = extract_surface(torus, (33, 30, 20), rows=rows)
    assert a.vertices.shape == b.vertices.shape and a.faces.shape == b.faces.shape
    # marching cubes works in float32: a slab's vertices differ from the unchunked ones by float32 rounding
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-6)

    def triangles(s):
        key = np.round(s.vertices * 1e5).astype(np.int64)
        return {tuple(sorted(map(tuple, key[t]))) for t in s.faces}

    assert triangles(a) == triangles(b)


def test_extraction_errors():
    with pytest.raises(ValueError, match="does not cross"):
        extract_surface(SphereSDF(0.5, centre=(5.0, 5.0, 5.0), dtype=F64), (8, 8, 8))
    with pytest.raises(ValueError, match="3-D"):
        extract_surface(Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0), (8, 8))
    with pytest.raises(ValueError, match="at least 2"):
        extract_surface(SphereSDF(0.5), (1, 8, 8))


def test_surface_files_round_trip(tmp_path):
    s = extract_surface(SphereSDF(0.5, dtype=F64), (20, 20, 20))
    for suffix in (".obj", ".ply"):
        m = trimesh.load(s.save(tmp_path / f"s{suffix}"), process=False, force="mesh")
        assert m.vertices.shape == s.vertices.shape and m.faces.shape == s.faces.shape
        np.testing.assert_allclose(m.vertices, s.vertices, atol=1e-6)
    with pytest.raises(ValueError, match="suffix|end in"):
        s.save(tmp_path / "s.stl")


# --------------------------------------------------------------------------- metrics


def test_surface_distances_closed_forms():
    ico = trimesh.creation.icosphere(3, radius=1.0)
    same = surface_distances(ico, ico, samples=5000)
    assert same["chamfer"] < 1e-9 and same["normal_consistency"] > 1 - 1e-9 and same["fscore"] == 1.0
    moved = surface_distances((ico.vertices + [0.0, 0.0, 0.3], ico.faces), ico, samples=5000)
    assert 0.05 < moved["chamfer"] < 0.3 and moved["fscore"] < 0.5
    grown = surface_distances((ico.vertices * 1.05, ico.faces), ico, samples=5000)
    assert grown["chamfer"] == pytest.approx(0.5 * (0.05 + 0.05 / 1.05), rel=0.03)  # radial gaps, both ways
    approx = surface_distances(ico, ico, samples=5000, exact=False)  # the point-sample floor
    assert 0.005 < approx["chamfer"] < 0.05


def test_surface_sampling_is_uniform_by_area():
    box = trimesh.creation.box((1.0, 2.0, 4.0))
    p, n = sample_surface(box, 40000, seed=0)
    share_z = np.mean(np.abs(n[:, 2]) > 0.5)  # faces normal to z: 2 * (1 * 2) of the area 28
    assert share_z == pytest.approx(4 / 28, abs=0.01)


def test_metric_errors():
    ico = trimesh.creation.icosphere(1)
    bad = ico.vertices.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        surface_distances((bad, ico.faces), ico)
    with pytest.raises(ValueError, match="no faces"):
        surface_distances((ico.vertices, np.zeros((0, 3), dtype=int)), ico)
    with pytest.raises(TypeError, match="mesh"):
        surface_distances(3.0, ico)


# --------------------------------------------------------------------------- fitting


def test_fold_domain_puts_the_field_in_mesh_units():
    s = Siren(3, 1, hidden_features=16, hidden_layers=1, seed=0, dtype=F64)
    dom = Domain.around(torch.tensor([[1.0, 2.0, 3.0], [5.0, 4.0, 3.5]]), margin=0.2)
    x = dom.from_unit(_points(20, seed=5))
    before = s(dom.to_unit(x)) * dom.half_width
    _fold_domain(s, dom)
    torch.testing.assert_close(s(x), before)
    assert s.domain == dom


def test_mesh_signed_distance_is_negative_inside():
    ico = trimesh.creation.icosphere(4, radius=2.0)
    d = mesh_signed_distance(ico.vertices, ico.faces, [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    np.testing.assert_allclose(d, [-2.0, 1.0], atol=0.01)


@pytest.fixture(scope="module")
def fitted_capsule():
    # a capsule in its own units (length 4, radius 1, shifted): results must come back in those units
    mesh = trimesh.creation.capsule(height=2.0, radius=1.0, count=[16, 16])
    mesh.apply_translation([10.0, -3.0, 2.0])
    n = torch.get_num_threads()  # one thread, as conftest's one_torch_thread (module scope here: one fit, 4 tests)
    torch.set_num_threads(1)
    try:
        f, hist = fit_sdf(mesh, steps=300, samples=20000, batch_size=2048, progress=False)
    finally:
        torch.set_num_threads(n)
    return mesh, f, hist


def test_fit_sdf_from_a_mesh_returns_mesh_units(fitted_capsule):
    mesh, f, hist = fitted_capsule
    assert f.provenance.source == "fit_sdf" and hist.steps == 300
    lo, hi = np.array(f.domain.bounds).T
    assert np.all(lo < mesh.bounds[0]) and np.all(hi > mesh.bounds[1])
    probe = torch.tensor([[10.7, -3.0, 2.0], [11.5, -3.0, 2.0], [10.0, -3.0, 4.5]])  # depth 0.3; 0.5 and 0.5 out
    np.testing.assert_allclose(f(probe).detach()[:, 0].numpy(), [-0.3, 0.5, 0.5], atol=0.05)
    q = f.provenance.recipe["quality"]
    assert q["near_abs_error"] < 0.05 and q["eikonal_residual"] < 0.2
    surf = extract_surface(f, (40, 40, 40))
    m = surface_distances(surf, mesh, samples=4000)
    assert m["chamfer"] < 0.05 and m["normal_consistency"] > 0.97


def test_a_fitted_shape_saves_and_loads_in_mesh_units(fitted_capsule, tmp_path):
    import insp

    _, f, _ = fitted_capsule
    path = insp.save(f, tmp_path / "capsule.inspf")
    g = insp.load(path)
    assert g.domain == f.domain and g.provenance.source == "fit_sdf"
    x = torch.tensor([[10.7, -3.0, 2.0], [11.5, -3.0, 2.5]])
    torch.testing.assert_close(g(x), f(x))


def test_fit_sdf_from_a_volume_and_from_a_field(one_torch_thread):
    sphere = SphereSDF(0.5)
    vol = sphere.sample((24, 24, 24))[..., 0]
    for source in (vol, sphere):
        f, _ = fit_sdf(source, steps=150, samples=9000, batch_size=2048, progress=False)
        x = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 0.4], [0.0, 0.6, 0.0]])
        np.testing.assert_allclose(f(x).detach()[:, 0].numpy(), [0.0, -0.1, 0.1], atol=0.03)


def test_fit_sdf_siren_recipe_runs_and_fits_a_sphere(one_torch_thread):
    f, hist = fit_sdf(SphereSDF(0.5), recipe="siren", steps=150, samples=6000, batch_size=1024, progress=False)
    assert hist.loss[-1] < hist.loss[0]
    x = torch.tensor([[0.5, 0.0, 0.0], [0.0, -0.5, 0.0], [0.0, 0.0, 0.5]])
    assert f(x).abs().max() < 0.05


def test_fit_sdf_errors():
    ico = trimesh.creation.icosphere(2)
    with pytest.raises(ValueError, match="watertight"):
        fit_sdf((ico.vertices, ico.faces[1:]), steps=1, progress=False)
    with pytest.raises(ValueError, match="oriented"):
        flipped = ico.faces.copy()
        flipped[0] = flipped[0, ::-1]
        check_watertight(ico.vertices, flipped)
    with pytest.raises(ValueError, match="no faces"):
        fit_sdf((ico.vertices, np.zeros((0, 3), dtype=int)), steps=1, progress=False)
    bad = ico.vertices.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_sdf((bad, ico.faces), steps=1, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        fit_sdf(np.full((8, 8, 8), np.nan), steps=1, progress=False)
    with pytest.raises(ValueError, match="3-D"):
        fit_sdf(np.zeros((8, 8)), steps=1, progress=False)
    with pytest.raises(ValueError, match="recipe"):
        fit_sdf(ico, recipe="magic", steps=1, progress=False)
    with pytest.raises(ValueError, match="3-D"):
        fit_sdf(Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0), steps=1, progress=False)


# --------------------------------------------------------------------------- the benchmark's cases


def test_benchmark_cases_are_closed_seeded_and_split():
    from benchmarks import shapes as bench

    assert not set(bench.TRAIN) & set(bench.TEST)
    for name, mesh in bench.meshes().items():
        check_watertight(mesh.vertices, mesh.faces, name=name)
        assert mesh.volume > 0  # outward oriented
    a = [c[3].vertices for c in bench.noisy_cases(["torus"], [0.01])]
    b = [c[3].vertices for c in bench.noisy_cases(["torus"], [0.01])]
    np.testing.assert_array_equal(a[0], b[0])
    clean = bench.meshes()["torus"]
    moved = np.linalg.norm(a[0] - clean.vertices, axis=1)
    assert moved.std() > 0 and np.sqrt((moved**2).mean()) == pytest.approx(0.01 * bench.diagonal(clean), rel=0.1)
