"""insp.baselines: pixel-grid operators returning true derivatives in pixel units."""

import doctest
import functools

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.feature
import skimage.filters as skf
import torch

from insp import baselines as B
from insp import sample, units
from insp.baselines import derivatives as D
from insp.testing import GaussianSum, Polynomial, SinusoidSum

F64 = torch.float64
RNG = np.random.default_rng(1)


@functools.lru_cache(maxsize=None)
def grid_sample(field, shape):
    out = sample(field, shape, dtype=F64)[..., 0].numpy()
    out.flags.writeable = False  # cached: shared between tests
    return out


@functools.lru_cache(maxsize=None)
def closed_form(field, alpha, shape):
    """Closed-form derivative of ``field`` on the grid, coordinate units."""
    out = field.derivative(field.domain.grid(shape, dtype=F64), alpha)[..., 0].numpy()
    out.flags.writeable = False
    return out


def closed_form_pixels(field, alpha, shape):
    """Closed-form derivative of ``field`` on the grid, converted to pixel units."""
    return units.to_pixel_units(closed_form(field, alpha, shape), alpha, shape)


def inner(a, r=3):
    return a[(slice(r, -r),) * a.ndim]


QUADRATIC = Polynomial({(0, 0): 0.3, (1, 0): -1.0, (0, 1): 2.0, (2, 0): 1.5, (1, 1): -0.7, (0, 2): 0.4}, dtype=F64)
CUBIC = Polynomial({(3, 0): 1.0, (1, 2): -2.0, (0, 3): 0.5, (2, 1): 0.25, (1, 0): 1.0}, dtype=F64)
WAVES = SinusoidSum([1.0, 0.5], [[3.0, 2.0], [-1.0, 4.0]], [0.2, 1.0], dtype=F64)
BUMPS = GaussianSum([1.0, -0.6], [[0.1, -0.2], [-0.3, 0.4]], [[0.35, 0.5], [0.4, 0.3]], dtype=F64)


# --------------------------------------------------------------------------- stencils

def test_fd_weights_known_stencils():
    np.testing.assert_allclose(D.fd_weights([-2, -1, 0, 1, 2], 1), [1 / 12, -2 / 3, 0, 2 / 3, -1 / 12], atol=1e-14)
    np.testing.assert_allclose(D.fd_weights([-2, -1, 0, 1, 2], 4), [1, -4, 6, -4, 1], atol=1e-12)
    np.testing.assert_allclose(D.fd_weights([0, 1, 2], 1), [-1.5, 2, -0.5], atol=1e-14)
    with pytest.raises(ValueError, match="needs more than 2 offsets"):
        D.fd_weights([0, 1], 2)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_central_difference_exact_on_polynomials(order, accuracy):
    """A (2p+1)-point central stencil is exact up to degree order + accuracy - 1 (+1 by symmetry)."""
    n = 40
    i = np.arange(n, dtype=np.float64) - n / 2
    coef = RNG.uniform(-1, 1, order + accuracy)
    f = np.polynomial.polynomial.polyval(i, coef)
    true = np.polynomial.polynomial.polyval(i, np.polynomial.polynomial.polyder(coef, order))
    for mode in ("reflect", "one-sided"):
        out = B.central_difference(f, axis=0, order=order, accuracy=accuracy, mode=mode)
        r = (order + 1) // 2 + accuracy // 2 - 1
        np.testing.assert_allclose(out[r:-r], true[r:-r], rtol=1e-9, atol=1e-6 * np.abs(true).max())
    # one-sided borders: exact for degree order + accuracy - 2 (one order less)
    coef = coef[:-1]
    f = np.polynomial.polynomial.polyval(i, coef)
    true = np.polynomial.polynomial.polyval(i, np.polynomial.polynomial.polyder(coef, order))
    out = B.central_difference(f, axis=0, order=order, accuracy=accuracy, mode="one-sided")
    np.testing.assert_allclose(out, true, rtol=1e-8, atol=1e-6 * np.abs(true).max())


def test_central_first_order_matches_numpy_gradient():
    f = RNG.normal(size=(12, 15))
    for axis in (0, 1):
        np.testing.assert_allclose(B.central_difference(f, axis=axis, mode="one-sided"),
                                   np.gradient(f, axis=axis, edge_order=2), atol=1e-13)
    np.testing.assert_allclose(B.gradient(f, mode="one-sided"), np.stack(np.gradient(f, edge_order=2)), atol=1e-13)


@pytest.mark.parametrize("field", [WAVES, BUMPS], ids=["sinusoids", "gaussians"])
@pytest.mark.parametrize("alpha,accuracy,rate", [((1, 0), 2, 4), ((0, 1), 2, 4), ((2, 0), 2, 4), ((1, 1), 2, 4),
                                                 ((0, 3), 2, 4), ((1, 0), 4, 16)])
def test_central_differences_converge(field, alpha, accuracy, rate):
    """Error against the closed form (coordinate units) falls as h^accuracy when the grid is refined."""
    errs = []
    for n in (33, 65, 129):
        shape = (n, n)
        out = B.derivative(grid_sample(field, shape), alpha, accuracy=accuracy, mode="one-sided")
        est = units.to_coordinate_units(out, alpha, shape)
        true = closed_form(field, alpha, shape)
        # common points (every grid contains the 33-grid) away from the border
        step = (n - 1) // 32
        errs.append(np.abs(est - true)[::step, ::step][4:-4, 4:-4].max())
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all(ratios > 0.75 * rate) and np.all(ratios < 1.3 * rate), (errs, ratios)


# --------------------------------------------------------------------------- gradient, laplacian, hessian

@pytest.mark.parametrize("method", B.STENCILS)
@pytest.mark.parametrize("mode", ["reflect", "nearest", "mirror"])
def test_gradient_methods_exact_on_quadratics(method, mode):
    shape = (21, 17)
    g = B.gradient(grid_sample(QUADRATIC, shape), stencil=method, mode=mode)
    assert g.shape == (2,) + shape and g.dtype == np.float64
    for k, alpha in enumerate([(1, 0), (0, 1)]):
        np.testing.assert_allclose(inner(g[k]), inner(closed_form_pixels(QUADRATIC, alpha, shape)), atol=1e-12)


def test_gradient_methods_match_their_libraries():
    cv2 = pytest.importorskip("cv2")
    f = RNG.normal(size=(14, 16))
    np.testing.assert_allclose(B.gradient(f, stencil="sobel")[0], ndi.sobel(f, axis=0) / 8)
    np.testing.assert_allclose(B.gradient(f, stencil="prewitt")[1], ndi.prewitt(f, axis=1) / 6)
    np.testing.assert_allclose(B.gradient(f, stencil="scharr")[0], skf.scharr_h(f) / 2, atol=1e-14)
    # cv2: x = columns; its default border is 'mirror' (BORDER_REFLECT_101)
    np.testing.assert_allclose(B.gradient(f, stencil="scharr", mode="mirror")[1], cv2.Scharr(f, cv2.CV_64F, 1, 0) / 32,
                               atol=1e-13)
    np.testing.assert_allclose(B.gradient(f, stencil="sobel", mode="mirror")[0],
                               cv2.Sobel(f, cv2.CV_64F, 0, 1, ksize=3) / 8, atol=1e-13)
    np.testing.assert_allclose(B.gradient(f, stencil="central")[0, 1:-1], np.gradient(f, axis=0)[1:-1])


def test_gradient_3d_and_1d():
    vol = RNG.normal(size=(6, 7, 8))
    g = B.gradient(vol, stencil="sobel")
    assert g.shape == (3, 6, 7, 8)
    np.testing.assert_allclose(g[2], ndi.sobel(vol, axis=2) / 32)
    sig = np.arange(10.0) ** 2
    assert B.gradient(sig).shape == (1, 10)
    np.testing.assert_allclose(B.gradient(sig)[0, 1:-1], 2 * np.arange(10.0)[1:-1])


@pytest.mark.parametrize("stencil", [5, 9])
def test_laplacian_exact_on_cubics_and_positive(stencil):
    shape = (19, 23)
    lap = B.laplacian(grid_sample(CUBIC, shape), stencil=stencil)
    true = closed_form_pixels(CUBIC, (2, 0), shape) + closed_form_pixels(CUBIC, (0, 2), shape)
    np.testing.assert_allclose(inner(lap), inner(true), atol=1e-12)


def test_laplacian_matches_libraries_with_their_sign():
    f = RNG.normal(size=(13, 11))
    np.testing.assert_allclose(B.laplacian(f), ndi.laplace(f))
    np.testing.assert_allclose(inner(B.laplacian(f), 1), inner(-skf.laplace(f), 1), atol=1e-13)
    vol = RNG.normal(size=(5, 6, 7))
    np.testing.assert_allclose(B.laplacian(vol), ndi.laplace(vol))
    np.testing.assert_allclose(B.laplacian(vol, mode="one-sided")[1:-1, 1:-1, 1:-1], ndi.laplace(vol)[1:-1, 1:-1, 1:-1])


@pytest.mark.parametrize("stencil", [5, 9])
def test_laplacian_converges(stencil):
    errs = []
    for n in (33, 65, 129):
        shape = (n, n)
        est = units.to_coordinate_units(B.laplacian(grid_sample(WAVES, shape), stencil=stencil), (2, 0), shape)
        true = closed_form(WAVES, (2, 0), shape) + closed_form(WAVES, (0, 2), shape)
        step = (n - 1) // 32
        errs.append(np.abs(est - true)[::step, ::step][2:-2, 2:-2].max())
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 3.0) & (ratios < 5.2)), ratios


def test_hessian_symmetric_and_exact_on_quadratics():
    shape = (15, 18)
    hess = B.hessian(grid_sample(QUADRATIC, shape))
    assert hess.shape == (2, 2) + shape
    np.testing.assert_array_equal(hess[0, 1], hess[1, 0])
    for (k, m), alpha in {(0, 0): (2, 0), (0, 1): (1, 1), (1, 1): (0, 2)}.items():
        np.testing.assert_allclose(inner(hess[k, m]), inner(closed_form_pixels(QUADRATIC, alpha, shape)), atol=1e-12)
    np.testing.assert_allclose(np.trace(hess), B.laplacian(grid_sample(QUADRATIC, shape)), atol=1e-12)


def test_gradient_magnitude():
    shape = (16, 16)
    f = grid_sample(QUADRATIC, shape)
    true = np.hypot(closed_form_pixels(QUADRATIC, (1, 0), shape), closed_form_pixels(QUADRATIC, (0, 1), shape))
    for method in B.STENCILS:
        np.testing.assert_allclose(inner(B.gradient_magnitude(f, stencil=method)), inner(true), atol=1e-12)


def test_channel_axis_keeps_position():
    rgb = RNG.normal(size=(10, 12, 3))
    g = B.gradient(rgb, channel_axis=-1)
    assert g.shape == (2, 10, 12, 3)
    for c in range(3):
        np.testing.assert_allclose(g[..., c], B.gradient(rgb[..., c]))
    chw = np.moveaxis(rgb, -1, 0)
    h = B.hessian(chw, channel_axis=0)
    assert h.shape == (2, 2, 3, 10, 12)
    np.testing.assert_allclose(h[:, :, 1], B.hessian(rgb[..., 1]))
    np.testing.assert_allclose(B.laplacian(rgb, channel_axis=2)[..., 0], B.laplacian(rgb[..., 0]))
    np.testing.assert_allclose(B.gaussian_blur(chw, sigma=1.0, channel_axis=0)[2],
                               B.gaussian_blur(rgb[..., 2], sigma=1.0))


def test_integer_images_are_not_rescaled():
    img = (np.arange(36).reshape(6, 6) % 7).astype(np.uint8)
    np.testing.assert_allclose(B.laplacian(img), ndi.laplace(img.astype(float)))
    assert B.gaussian_blur(img, sigma=1.0).max() > 1.0


# --------------------------------------------------------------------------- blur

def test_gaussian_blur_is_scipy_gaussian_filter_with_modes():
    f = RNG.normal(size=(20, 21))
    np.testing.assert_allclose(B.gaussian_blur(f, sigma=1.5), ndi.gaussian_filter(f, 1.5, mode="reflect"))
    np.testing.assert_allclose(B.gaussian_blur(f, sigma=(1.0, 2.0), mode="wrap"),
                               ndi.gaussian_filter(f, (1.0, 2.0), mode="wrap"))
    assert not np.allclose(B.gaussian_blur(f, sigma=2, mode="constant"), B.gaussian_blur(f, sigma=2))


@pytest.mark.parametrize("field", [WAVES, BUMPS], ids=["sinusoids", "gaussians"])
def test_gaussian_blur_matches_analytic_blur(field):
    shape = (257, 257)
    sigma = 0.04  # coordinate units = 5.12 px
    blurred = B.gaussian_blur(grid_sample(field, shape), sigma=units.sigma_to_pixels(sigma, shape))
    true = grid_sample(field.blurred(sigma), shape)
    r = 30  # beyond truncate * sigma_px = 20.5 px, no boundary effect
    np.testing.assert_allclose(blurred[r:-r, r:-r], true[r:-r, r:-r], atol=2e-4)


# --------------------------------------------------------------------------- canny

def disk(n=64, radius=18.0, value=1.0):
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return value * ((i - n / 2) ** 2 + (j - n / 2.3) ** 2 < radius ** 2).astype(np.float64)


def test_canny_skimage_thresholds_in_true_units():
    img = disk()
    ours = B.canny(img, sigma=1.5, low_threshold=0.05, high_threshold=0.1)
    theirs = skimage.feature.canny(img, sigma=1.5, low_threshold=0.4, high_threshold=0.8, mode="reflect")
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == bool and ours.sum() > 50
    np.testing.assert_array_equal(B.canny(img), skimage.feature.canny(img, mode="reflect"))  # defaults = skimage's
    # max true gradient of a unit step blurred with sigma px is 1/(sqrt(2 pi) sigma) ~ 0.27: above it, nothing
    assert not B.canny(img, sigma=1.5, low_threshold=0.3, high_threshold=0.35).any()


@pytest.mark.parametrize("method", B.CANNY_BACKENDS)
def test_canny_methods_agree_and_scale_with_the_image(method):
    pytest.importorskip("cv2")
    img = disk()
    ref = B.canny(img, sigma=1.5, low_threshold=0.05, high_threshold=0.1, backend="skimage")
    out = B.canny(img, sigma=1.5, low_threshold=0.05, high_threshold=0.1, backend=method)
    assert (out & ref).sum() / (out | ref).sum() > 0.7
    scaled = B.canny(3 * img, sigma=1.5, low_threshold=0.15, high_threshold=0.3, backend=method)
    np.testing.assert_array_equal(scaled, out)
    q = B.canny(img, sigma=1.5, low_threshold=0.8, high_threshold=0.9, use_quantiles=True, backend=method)
    assert q.any()


def test_canny_errors():
    img = disk()
    with pytest.raises(ValueError, match="2-D"):
        B.canny(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="must not exceed"):
        B.canny(img, low_threshold=0.2, high_threshold=0.1)
    with pytest.raises(ValueError, match="sigma must be finite and non-negative"):
        B.canny(img, sigma=-1)
    with pytest.raises(ValueError, match="backend must be one of"):
        B.canny(img, backend="matlab")
    with pytest.raises(ValueError, match="use_quantiles=True needs"):
        B.canny(img, use_quantiles=True)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        B.canny(img, low_threshold=0.5, high_threshold=2.0, use_quantiles=True)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("func", [B.gradient, B.laplacian, B.hessian, B.gradient_magnitude,
                                  lambda a: B.gaussian_blur(a, sigma=1.0),
                                  lambda a: B.central_difference(a, axis=0),
                                  lambda a: B.derivative(a, (1, 0))])
def test_bad_arrays_raise(func):
    with pytest.raises(ValueError, match="image must be a 1-D/2-D/3-D array"):
        func(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="image must be a 1-D/2-D/3-D array"):
        func(np.float64(1.0))
    bad = np.zeros((5, 5))
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="image contains NaN"):
        func(bad)
    bad[2, 2] = np.inf
    with pytest.raises(ValueError, match="image contains NaN or infinite"):
        func(bad)
    with pytest.raises(TypeError, match="real numeric array"):
        func(np.zeros((5, 5), dtype=complex))
    with pytest.raises(TypeError, match="real numeric array"):
        func(np.zeros((5, 5), dtype=bool))


def test_option_errors():
    f = np.zeros((8, 8))
    for sigma in (0.0, -1.0, float("nan"), (1.0, 0.0)):
        with pytest.raises(ValueError, match="sigma must be finite and positive"):
            B.gaussian_blur(f, sigma=sigma)
    with pytest.raises(ValueError, match="2 entries"):
        B.gaussian_blur(f, sigma=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="mode must be one of"):
        B.gaussian_blur(f, sigma=1.0, mode="one-sided")
    with pytest.raises(ValueError, match="mode must be one of"):
        B.gradient(f, stencil="sobel", mode="one-sided")
    with pytest.raises(ValueError, match="stencil must be one of"):
        B.gradient(f, stencil="roberts")
    with pytest.raises(ValueError, match="stencil must be 5"):
        B.laplacian(f, stencil=7)
    with pytest.raises(ValueError, match="2-D images only"):
        B.laplacian(np.zeros((4, 4, 4)), stencil=9)
    with pytest.raises(ValueError, match="accuracy must be a positive even integer"):
        B.central_difference(f, axis=0, accuracy=3)
    with pytest.raises(ValueError, match="axis must be an integer"):
        B.central_difference(f, axis=2)
    with pytest.raises(ValueError, match="alpha must have 2 entries"):
        B.derivative(f, (1,))
    with pytest.raises(ValueError, match="needs at least 5 samples"):
        B.central_difference(np.zeros(4), axis=0, order=3, mode="one-sided")
    with pytest.raises(ValueError, match="channel_axis=3 is out of range"):
        B.gradient(f, channel_axis=3)


def test_doctests():
    assert doctest.testmod(D).failed == 0
