"""insp.units: coordinate/pixel conversion and the sign/scale table of each baseline library.

Every row of ``insp.baselines.conventions.CONVENTIONS`` is checked by running the library on
polynomials whose derivatives are known exactly (a quadratic ramp and random
polynomials of the degree the stencil reproduces).
"""

import doctest

import numpy as np
import numpy.polynomial.polynomial as npoly
import pytest
import scipy.ndimage as ndi
import skimage.filters as skf
import torch

from insp import Domain, units
from insp.baselines import conventions

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- polynomials on pixel grids

def poly_grid(coef, shape):
    """Polynomial with coefficient array ``coef[p, q, (r)]`` of ``i**p j**q (k**r)`` on the pixel grid."""
    axes = [np.arange(n, dtype=np.float64) - n // 2 for n in shape]
    grids = np.meshgrid(*axes, indexing="ij")
    return {2: npoly.polyval2d, 3: npoly.polyval3d}[len(shape)](*grids, coef)


def poly_derivative(coef, alpha, shape):
    for k, a in enumerate(alpha):
        if a:
            coef = npoly.polyder(coef, a, axis=k)
    return poly_grid(coef, shape)


def random_poly(degree, d=2):
    """Random coefficients of total degree <= ``degree``."""
    coef = RNG.uniform(-1, 1, (degree + 1,) * d)
    idx = np.indices(coef.shape).sum(0)
    coef[idx > degree] = 0.0
    return coef


def interior(a, r=3):
    return a[(slice(r, -r),) * a.ndim]


def check(lib_out, true, function, **params):
    np.testing.assert_allclose(interior(conventions.from_library(lib_out, function, **params)), interior(true),
                               rtol=1e-10, atol=1e-8)


SHAPE2 = (17, 19)
SHAPE3 = (11, 12, 13)


def test_quadratic_ramp_every_2d_gradient_library():
    """f = 3 i + 5 j + i^2: d/di = 3 + 2 i, d/dj = 5 (the "ramp" of the issue)."""
    i, j = np.meshgrid(np.arange(20.0), np.arange(21.0), indexing="ij")
    f = 3 * i + 5 * j + i ** 2
    di, dj = 3 + 2 * i, 5 + 0 * j
    import cv2

    check(ndi.sobel(f, axis=0), di, "scipy.ndimage.sobel")
    check(ndi.sobel(f, axis=1), dj, "scipy.ndimage.sobel")
    check(ndi.prewitt(f, axis=0), di, "scipy.ndimage.prewitt")
    check(skf.sobel_h(f), di, "skimage.filters.sobel_h")
    check(skf.sobel_v(f), dj, "skimage.filters.sobel_v")
    check(skf.scharr_h(f), di, "skimage.filters.scharr_h")
    check(skf.prewitt_v(f), dj, "skimage.filters.prewitt_v")
    check(np.gradient(f)[0], di, "numpy.gradient")
    check(cv2.Sobel(f, cv2.CV_64F, 1, 0, ksize=3), dj, "cv2.Sobel", dx=1, dy=0, ksize=3)  # x = columns
    check(cv2.Sobel(f, cv2.CV_64F, 0, 1, ksize=3), di, "cv2.Sobel", dx=0, dy=1, ksize=3)  # y = rows
    check(cv2.Scharr(f, cv2.CV_64F, 0, 1), di, "cv2.Scharr")
    assert conventions.library_scale("scipy.ndimage.sobel") == 8.0
    assert conventions.library_scale("scipy.ndimage.prewitt") == 6.0
    assert conventions.library_scale("skimage.filters.sobel_h") == 2.0


@pytest.mark.parametrize("shape,axis", [(SHAPE2, 0), (SHAPE2, 1), (SHAPE3, 0), (SHAPE3, 1), (SHAPE3, 2)])
def test_first_derivative_libraries_on_quadratics(shape, axis):
    d = len(shape)
    coef = random_poly(2, d)
    f = poly_grid(coef, shape)
    alpha = tuple(int(k == axis) for k in range(d))
    true = poly_derivative(coef, alpha, shape)
    check(ndi.sobel(f, axis=axis), true, "scipy.ndimage.sobel", ndim=d)
    check(ndi.prewitt(f, axis=axis), true, "scipy.ndimage.prewitt", ndim=d)
    check(skf.sobel(f, axis=axis), true, "skimage.filters.sobel")
    check(skf.scharr(f, axis=axis), true, "skimage.filters.scharr")
    check(skf.prewitt(f, axis=axis), true, "skimage.filters.prewitt")
    check(np.gradient(f)[axis], true, "numpy.gradient")


def test_skimage_h_v_axes_and_magnitude():
    coef = random_poly(2)
    f = poly_grid(coef, SHAPE2)
    di, dj = poly_derivative(coef, (1, 0), SHAPE2), poly_derivative(coef, (0, 1), SHAPE2)
    for name, true in [("sobel_h", di), ("sobel_v", dj), ("scharr_h", di), ("scharr_v", dj),
                       ("prewitt_h", di), ("prewitt_v", dj)]:
        check(getattr(skf, name)(f), true, "skimage.filters." + name)
    # axis=None: sqrt(mean_k (2 d_k f)^2) = 2/sqrt(2) |grad f|
    np.testing.assert_allclose(interior(skf.sobel(f)), interior(np.sqrt(2.0) * np.hypot(di, dj)), rtol=1e-10)


@pytest.mark.parametrize("shape", [SHAPE2, SHAPE3])
def test_laplacians_on_cubics(shape):
    d = len(shape)
    coef = random_poly(3, d)
    f = poly_grid(coef, shape)
    lap = sum(poly_derivative(coef, tuple(2 * int(k == m) for k in range(d)), shape) for m in range(d))
    check(ndi.laplace(f), lap, "scipy.ndimage.laplace")
    check(skf.laplace(f, ksize=3), lap, "skimage.filters.laplace")  # the NEGATIVE Laplacian
    check(skf.laplace(f, ksize=5), lap, "skimage.filters.laplace")
    assert conventions.library_scale("skimage.filters.laplace") == -1.0


def test_skimage_laplace_kernel_is_negative_five_point():
    from skimage.restoration import uft

    _, kernel = uft.laplacian(2, (3, 3))
    np.testing.assert_array_equal(kernel, [[0, -1, 0], [-1, 4, -1], [0, -1, 0]])


CV2_CASES = [(dx, dy, k) for k in (1, 3, 5, 7) for dx in range(3) for dy in range(3)
             if 1 <= dx + dy and (k > 1 or dx + dy <= 2) and dx < max(k, 3) and dy < max(k, 3)]


@pytest.mark.parametrize("dx,dy,ksize", CV2_CASES)
def test_cv2_sobel_scale_and_axes(dx, dy, ksize):
    cv2 = pytest.importorskip("cv2")
    coef = random_poly(dx + dy + 1)
    shape = (23, 25)
    f = poly_grid(coef, shape)
    true = poly_derivative(coef, (dy, dx), shape)  # y = rows (axis 0), x = columns (axis 1)
    assert conventions.cv2_orders((dy, dx)) == (dx, dy)
    out = cv2.Sobel(f, cv2.CV_64F, dx, dy, ksize=ksize)
    check(out, true, "cv2.Sobel", dx=dx, dy=dy, ksize=ksize)


def test_cv2_scharr_and_sobel_scharr_aperture():
    cv2 = pytest.importorskip("cv2")
    coef = random_poly(2)
    f = poly_grid(coef, SHAPE2)
    for dx, dy in [(1, 0), (0, 1)]:
        true = poly_derivative(coef, (dy, dx), SHAPE2)
        check(cv2.Scharr(f, cv2.CV_64F, dx, dy), true, "cv2.Scharr")
        check(cv2.Sobel(f, cv2.CV_64F, dx, dy, ksize=-1), true, "cv2.Sobel", dx=dx, dy=dy, ksize=-1)


@pytest.mark.parametrize("ksize", [1, 3, 5, 7])
def test_cv2_laplacian(ksize):
    cv2 = pytest.importorskip("cv2")
    coef = random_poly(3)
    shape = (23, 25)
    f = poly_grid(coef, shape)
    lap = poly_derivative(coef, (2, 0), shape) + poly_derivative(coef, (0, 2), shape)
    check(cv2.Laplacian(f, cv2.CV_64F, ksize=ksize), lap, "cv2.Laplacian", ksize=ksize)


def test_every_convention_is_documented_and_has_a_scale():
    for name, conv in conventions.CONVENTIONS.items():
        assert conv.function == name and conv.approximates and conv.scale and conv.axes and conv.exact_on
        assert conventions.library_scale(name) != 0
        assert name in conventions.__doc__
    assert conventions.library_scale("scipy.ndimage.sobel", ndim=3) == 32.0
    assert conventions.library_scale("cv2.Sobel", dx=1, dy=0, ksize=5) == 128.0
    assert conventions.library_scale("cv2.Laplacian", ksize=3) == 4.0


def test_library_scale_errors():
    with pytest.raises(ValueError, match="unknown library function"):
        conventions.library_scale("scipy.ndimage.foo")
    with pytest.raises(ValueError, match="ksize"):
        conventions.library_scale("cv2.Sobel", ksize=4)
    with pytest.raises(ValueError, match="orders <= 2"):
        conventions.library_scale("cv2.Sobel", dx=3, dy=0, ksize=1)
    with pytest.raises(ValueError, match="dx \\+ dy >= 1"):
        conventions.library_scale("cv2.Sobel", dx=0, dy=0)
    with pytest.raises(ValueError, match="Scharr"):
        conventions.library_scale("cv2.Sobel", dx=2, dy=0, ksize=-1)
    with pytest.raises(ValueError, match="ndim"):
        conventions.library_scale("scipy.ndimage.sobel", ndim=0)


# --------------------------------------------------------------------------- coordinate <-> pixel units

def test_pixel_spacing_default_and_domain():
    assert units.pixel_spacing((257, 129)) == (2 / 256, 2 / 128)
    assert units.pixel_spacing(5) == (0.5,)
    assert units.pixel_spacing((3, 5), domain=Domain(((0, 1), (0, 8)))) == (0.5, 2.0)
    assert units.pixel_spacing((3,), domain=[(0.0, 4.0)]) == (2.0,)


def test_pixel_scale_single_and_many():
    h = (2 / 10, 2 / 4)  # shape (11, 5)
    assert units.pixel_scale((0, 0), (11, 5)) == 1.0
    assert units.pixel_scale((2, 1), (11, 5)) == pytest.approx(h[0] ** 2 * h[1])
    many = units.pixel_scale([(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)], (11, 5))
    np.testing.assert_allclose(many, [1, h[0], h[1], h[0] ** 2, h[0] * h[1], h[1] ** 2])


def test_conversion_round_trip_numpy_torch_and_jets():
    shape = (65, 33)
    v = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(units.to_coordinate_units(units.to_pixel_units(v, (1, 2), shape), (1, 2), shape), v)
    t = torch.randn(4, 2, 6, dtype=torch.float64)
    alphas = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    tp = units.to_pixel_units(t, alphas, shape)
    assert isinstance(tp, torch.Tensor) and tp.dtype == torch.float64
    torch.testing.assert_close(tp[..., 4], t[..., 4] * (2 / 64) * (2 / 32))
    torch.testing.assert_close(units.to_coordinate_units(tp, alphas, shape), t)
    t32 = torch.ones(3, dtype=torch.float32)
    assert units.to_pixel_units(t32, [(1,), (2,), (0,)], (5,)).dtype == torch.float32


def test_chain_rule_on_a_real_function():
    """Pixel-unit finite difference of f(x) = sin(3 x) on a grid equals the converted true derivative."""
    n = 401
    x = np.linspace(-1, 1, n)
    f = np.sin(3 * x)
    fd_pixel = np.gradient(f)  # pixel units
    true_coord = 3 * np.cos(3 * x)
    np.testing.assert_allclose(units.to_coordinate_units(fd_pixel, (1,), (n,))[1:-1], true_coord[1:-1], atol=1e-3)


def test_sigma_conversions():
    assert units.sigma_to_pixels(2 / 255, (256, 256)) == pytest.approx((1.0, 1.0))
    assert units.sigma_to_coordinates(1.0, (256, 129)) == pytest.approx((2 / 255, 2 / 128))
    s = units.sigma_to_pixels((0.1, 0.2), (11, 21))
    assert units.sigma_to_coordinates(s, (11, 21)) == pytest.approx((0.1, 0.2))


def test_unit_errors():
    with pytest.raises(ValueError, match="alpha must be a multi-index of 2"):
        units.pixel_scale((1,), (5, 5))
    with pytest.raises(ValueError, match="non-negative"):
        units.pixel_scale((1, -1), (5, 5))
    with pytest.raises(ValueError, match="at least 2 samples"):
        units.pixel_spacing((1, 5))
    with pytest.raises(ValueError, match="domain has 1 axes"):
        units.pixel_spacing((5, 5), domain=[(0, 1)])
    with pytest.raises(ValueError, match="low < high"):
        units.pixel_spacing((5,), domain=[(1, 0)])
    with pytest.raises(ValueError, match="last axis of 2"):
        units.to_pixel_units(np.ones((3, 4)), [(1,), (0,)], (5,))
    with pytest.raises(ValueError, match="sigma must be finite and non-negative"):
        units.sigma_to_pixels(-1.0, (5, 5))
    with pytest.raises(ValueError, match="2 entries"):
        units.sigma_to_pixels((1.0, 1.0, 1.0), (5, 5))


def test_doctests():
    assert doctest.testmod(units).failed == 0
    assert doctest.testmod(conventions).failed == 0
