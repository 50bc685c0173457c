"""insp.baselines.restoration: classical denoising, deconvolution and inpainting on pixel grids."""

import numpy as np
import pytest

from insp.baselines import restoration as R
from insp.metrics import psnr
from insp.tasks import add_noise, blur, random_holes


def smooth(n=48):
    """A smooth, non-periodic image in [0.1, 0.9]: a ramp plus two Gaussian bumps."""
    y, x = np.mgrid[0:n, 0:n] / (n - 1)
    img = 0.3 * x + 0.2 * y + 0.3 * np.exp(-((x - 0.3) ** 2 + (y - 0.6) ** 2) / 0.02) \
        + 0.2 * np.exp(-((x - 0.7) ** 2 + (y - 0.3) ** 2) / 0.05)
    return 0.1 + 0.8 * (img - img.min()) / np.ptp(img)


def wavy(n=48):
    """A smooth oscillating image in [0.1, 0.9] (blur removes several dB of it), not periodic on the grid."""
    y, x = np.mgrid[0:n, 0:n] / (n - 1)
    return 0.5 + 0.3 * np.sin(9 * x + 2 * y) * np.cos(7 * y) + 0.1 * x


def test_deconvolution_with_reflect_padding_beats_the_blurred_input():
    img = wavy()
    blurred, psf = blur(img, sigma=1.5)
    base = psnr(blurred, img)
    for fn in (R.deconv_wiener, lambda *a, **k: R.deconv_richardson_lucy(*a, iterations=50, **k)):
        padded = fn(blurred, psf)
        assert padded.shape == img.shape and 0 <= padded.min() and padded.max() <= 1
        assert psnr(padded, img) > base + 5
        # the FFT's periodic boundary rings across the edges of a non-periodic image; padding removes that
        assert psnr(padded, img) > psnr(fn(blurred, psf, pad=False), img) + 20


def test_deconvolution_of_a_constant_is_the_constant():
    const = np.full((20, 24), 0.4)
    _, psf = blur(const, sigma=1.0)
    np.testing.assert_allclose(R.deconv_wiener(const, psf), const, atol=2e-4)
    np.testing.assert_allclose(R.deconv_richardson_lucy(const, psf, iterations=5), const, atol=1e-6)


def test_denoisers_improve_a_noisy_smooth_image():
    img = smooth()
    noisy = add_noise(img, sigma=0.1, seed=0)
    base = psnr(noisy, img)
    outs = {
        "tv": R.denoise_tv(noisy),
        "nl_means": R.denoise_nl_means(noisy),
        "nl_means_known_sigma": R.denoise_nl_means(noisy, sigma=0.1),
        "wavelet": R.denoise_wavelet(noisy),
    }
    try:
        import bm3d  # noqa: F401
        outs["bm3d"] = R.denoise_bm3d(noisy, sigma=0.1)
    except ImportError:
        pass
    for name, out in outs.items():
        assert out.shape == img.shape and 0 <= out.min() and out.max() <= 1
        assert psnr(out, img) > base + 4, name


def test_inpainting():
    img = smooth()
    holey, known = random_holes(img, fraction=0.3, seed=0)
    bih = R.inpaint_biharmonic(holey, known)
    np.testing.assert_array_equal(bih[known], img[known])
    assert psnr(bih, img) > 45  # a smooth image is filled almost exactly
    for fn in (R.inpaint_telea, R.inpaint_ns):
        out = fn(holey, known)
        assert psnr(out, img) > psnr(holey, img) + 20, fn.__name__
        np.testing.assert_allclose(out[known], img[known], atol=1e-4)  # 16-bit round trip only


def test_channels():
    img = np.stack([smooth(), 1 - smooth()], axis=-1)
    holey, known = random_holes(img, fraction=0.2, seed=1)
    for fn in (R.inpaint_biharmonic, R.inpaint_ns):
        both = fn(holey, known, channel_axis=-1)
        np.testing.assert_allclose(both[..., 1], fn(holey[..., 1], known), atol=1e-12)
    blurred, psf = blur(img, sigma=1.0)
    w = R.deconv_wiener(blurred, psf, channel_axis=-1)
    np.testing.assert_allclose(w[..., 0], R.deconv_wiener(blurred[..., 0], psf), atol=1e-12)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: R.inpaint_biharmonic(smooth(), np.ones((48, 48))), TypeError, "known"),
    (lambda: R.inpaint_telea(smooth(), np.ones((40, 48), bool)), ValueError, "known"),
    (lambda: R.inpaint_ns(smooth(), np.zeros((48, 48), bool)), ValueError, "known"),
    (lambda: R.deconv_wiener(smooth(), np.ones(3)), ValueError, "psf"),
    (lambda: R.deconv_wiener(smooth(), np.ones((3, 3)), balance=-1), ValueError, "balance"),
    (lambda: R.deconv_richardson_lucy(smooth(), np.ones((3, 3)), iterations=0), ValueError, "iterations"),
    (lambda: R.denoise_tv(smooth(), weight=0), ValueError, "weight"),
    (lambda: R.denoise_nl_means(smooth(), sigma=-1), ValueError, "sigma"),
    (lambda: R.denoise_tv(np.zeros(5)), ValueError, "image"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
