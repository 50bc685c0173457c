"""Device and dtype end to end: every public path computes in the dtype and on the device of its input."""

import numpy as np
import pytest
import torch

import insp
from insp.jet import jet
from insp.learned import INSPNet
from insp.ops import gaussian_blur, gradient_magnitude, laplacian, sharpen
from insp.testing import SinusoidSum


@pytest.fixture(scope="module")
def fitted64():
    img = np.random.default_rng(0).random((12, 12))
    return insp.fit(img, steps=3, dtype=torch.float64, device="cpu", progress=False)[0]


@pytest.mark.parametrize("make", [
    lambda f: f,
    lambda f: gaussian_blur(f, sigma=0.1),
    laplacian, sharpen, gradient_magnitude,
    lambda f: INSPNet(order=2, hidden_features=8, hidden_layers=1, seed=0).apply(f),  # float32 weights
    lambda f: insp.fields.Rescaled(f, 2.0),
])
@pytest.mark.parametrize("source", ["fit", "analytic"])
def test_float64_in_float64_out(fitted64, make, source):
    f = fitted64 if source == "fit" else SinusoidSum([1.0], [[1.0, 2.0]], dtype=torch.float64)
    g = make(f)
    x = torch.zeros(3, 2, dtype=torch.float64)
    assert g.sample((4, 4)).dtype == torch.float64
    assert g(x).dtype == torch.float64
    assert jet(g, x, order=1).values.dtype == torch.float64


def test_fit_many_and_distill_keep_float64(fitted64):
    img = np.random.default_rng(1).random((10, 10))
    fs, _ = insp.fit_many([img, img], steps=2, dtype=torch.float64, device="cpu", progress=False)
    assert all(f.sample((2, 2)).dtype == torch.float64 for f in fs)
    copy, _ = insp.distill(laplacian(fitted64), (8, 8), steps=2, progress=False)
    assert copy.sample((2, 2)).dtype == torch.float64


def test_explicit_cpu_device_everywhere(fitted64):
    f, _ = insp.fit(np.random.default_rng(2).random((10, 10)), steps=2, device=torch.device("cpu"), progress=False)
    assert f.sample((2, 2)).device.type == "cpu"
    assert insp.Siren(2, 1, hidden_features=8, hidden_layers=1, device="cpu").sample((2, 2)).device.type == "cpu"
