"""Keeping operator results: distil into a SIREN, checked on the grid and between samples; save refuses lazily."""

import numpy as np
import pytest
import torch

import insp
from insp.fields import distill, load, save
from insp.fields.fitting.distill import grid_siren
from insp.ops import gaussian_blur, laplacian
from insp.testing import SinusoidSum


@pytest.fixture(scope="module")
def distilled():
    f = SinusoidSum([1.0], [[1.0, 2.0]], dtype=torch.float32)
    return f, distill(laplacian(f), (64, 64), steps=150, progress=False)


def test_distilled_laplacian_matches_between_samples(distilled):
    f, (copy, report) = distilled
    assert report.psnr_grid > 35 and report.psnr_between > 30, report
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0)) * 1.8 - 0.9
    with torch.no_grad():
        exact = -(1.0 + 4.0) * torch.sin(x @ torch.tensor([1.0, 2.0]))[:, None]  # closed form of the Laplacian
        # the worst of 200 off-grid points sits near 10 % of the amplitude at 64x64 whatever the fit's path:
        # 0.47 (autograd engine) and 0.51 (SIREN engine) of 5.0 at 150 steps, 0.52 / 0.57 at 300
        assert float((copy(x) - exact).abs().max()) < 0.15 * float(exact.abs().max())


def test_distilled_copy_saves_with_its_chain(tmp_path, distilled):
    _, (copy, _) = distilled
    again = load(save(copy, tmp_path / "lap.inspf"))
    assert again.provenance.source == "distilled" and again.provenance.operators == ("laplacian",)
    assert torch.equal(again.sample((5, 5)), copy.sample((5, 5)))


def test_saving_an_operator_result_says_how_to_keep_it(tmp_path):
    f = insp.Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0)
    with pytest.raises(TypeError, match=r"insp.distill\(field\)"):
        save(gaussian_blur(f, sigma=0.1), tmp_path / "x.inspf")


def test_default_grid_is_the_recorded_one_and_refused_without():
    img = np.random.default_rng(0).random((12, 12))
    f, _ = insp.fit(img, steps=2, progress=False)
    copy, report = distill(laplacian(f), steps=2, progress=False)
    assert report.shape == (12, 12)
    with pytest.raises(ValueError, match="shape is needed"):
        distill(laplacian(SinusoidSum([1.0], [[1.0, 0.0]])), steps=1, progress=False)


@pytest.mark.parametrize("n", [16, 256, 1001])
def test_grid_siren_keeps_the_radians_per_sample(n):
    m = grid_siren(insp.Domain.cube(2), (n, n), 1)
    assert m.first_omega_0 * 2 / (n - 1) == pytest.approx(30 * 2 / 255)
