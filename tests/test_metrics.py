"""PSNR and SSIM: agreement with scikit-image, numpy/torch inputs, clear errors."""

import math

import numpy as np
import pytest
import skimage.metrics
import torch

from insp.metrics import mse, psnr, ssim


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    a = rng.random((32, 40))
    return a, np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1)


def test_psnr_matches_skimage_and_closed_form(pair):
    a, b = pair
    assert psnr(a, b) == pytest.approx(skimage.metrics.peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-12)
    assert psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)
    assert psnr(np.zeros(4), np.full(4, 25.5), data_range=255) == pytest.approx(20.0)
    assert psnr(a, a) == math.inf
    assert mse(np.zeros(3), np.ones(3)) == 1.0


def test_ssim_matches_skimage(pair):
    a, b = pair
    assert ssim(a, b) == pytest.approx(skimage.metrics.structural_similarity(a, b, data_range=1.0), rel=1e-12)
    rgb_a, rgb_b = np.stack([a, a, b], -1), np.stack([b, a, a], -1)
    ref = skimage.metrics.structural_similarity(rgb_a, rgb_b, data_range=1.0, channel_axis=-1)
    assert ssim(rgb_a, rgb_b, channel_axis=-1) == pytest.approx(ref, rel=1e-12)
    assert ssim(a, a) == pytest.approx(1.0)


def test_torch_and_numpy_agree(pair):
    a, b = pair
    ta, tb = torch.tensor(a, dtype=torch.float32, requires_grad=True), torch.tensor(b, dtype=torch.float32)
    assert psnr(ta, tb) == pytest.approx(psnr(ta.detach().numpy(), b), rel=1e-9)
    assert ssim(ta, b) == pytest.approx(ssim(ta.detach().numpy(), b), rel=1e-9)
    assert isinstance(psnr(ta, tb), float)


@pytest.mark.parametrize("fn", [psnr, ssim])
def test_shape_mismatch_and_bad_input(fn):
    with pytest.raises(ValueError, match=r"same shape, got \(8, 8\) and \(8, 9\)"):
        fn(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match="NaN"):
        fn(np.full((8, 8), np.nan), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 8)), np.zeros((0, 8)))
    with pytest.raises(TypeError, match="x must be a numpy array or a torch tensor"):
        fn({}, np.zeros(3))
    with pytest.raises(TypeError, match="x must hold numbers"):
        fn("abc", np.zeros(3))
    with pytest.raises(ValueError, match="data_range"):
        fn(np.zeros((8, 8)), np.zeros((8, 8)), data_range=0)


def test_ssim_needs_seven_samples_and_a_valid_channel_axis():
    with pytest.raises(ValueError, match="at least 7 samples"):
        ssim(np.zeros((5, 20)), np.zeros((5, 20)))
    with pytest.raises(ValueError, match="channel_axis"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)), channel_axis=3)
