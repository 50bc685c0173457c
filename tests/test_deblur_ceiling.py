"""``python -m benchmarks.deblur_ceiling``: exact DCT Laplacian powers and the least-squares inverse they allow."""

import numpy as np
from scipy.fft import dctn, idctn

from benchmarks import deblur_ceiling as MOD


def test_laplacian_powers_scale_a_dct_mode_by_its_eigenvalue():
    n0, n1, k, l = 16, 12, 3, 5
    i, j = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
    mode = np.cos(np.pi * k * (i + 0.5) / n0) * np.cos(np.pi * l * (j + 0.5) / n1)
    lam = (np.pi * k / n0) ** 2 + (np.pi * l / n1) ** 2  # -Laplacian of the mode, pixel units
    for p, out in enumerate(MOD.laplacian_powers(mode, 3)):
        np.testing.assert_allclose(out, lam**p * mode, atol=1e-12)


def _heat_pairs(t, seeds, n=32):
    """Smooth random images and their heat flow by time t: blurred = exp(-t (-lap)) clean, exactly."""
    lam = (np.pi * np.arange(n) / n)[:, None] ** 2 + (np.pi * np.arange(n) / n)[None, :] ** 2
    pairs = []
    for s in seeds:
        spec = np.random.default_rng(s).standard_normal((n, n)) * np.exp(-lam)
        clean = idctn(spec, norm="ortho")
        clean = 0.2 + 0.6 * (clean - clean.min()) / np.ptp(clean)  # inside [0, 1]: no clipping in the score
        blurred = idctn(dctn(clean, norm="ortho") * np.exp(-t * lam), norm="ortho")
        pairs.append((clean, blurred, blurred))
    return pairs


def test_linear_gains_recover_the_heat_series_and_improve_with_order():
    t = 0.1
    train, test = _heat_pairs(t, range(4)), _heat_pairs(t, range(10, 13))
    gains = {}
    for K in (2, 4, 6):
        coef, g = MOD.linear_gains(train, test, K)
        gains[K] = np.mean(g)
    # the inverse is exp(t (-lap)) = 1 + t (-lap) + t^2/2 (-lap)^2 + ...: order 6 reads its first terms
    # (the last coefficient also absorbs the truncated tail, so it is left out)
    np.testing.assert_allclose(coef[:3], [1, t, t**2 / 2], rtol=0.05)
    assert 0 < gains[2] < gains[4] < gains[6]


def test_linear_gains_score_against_the_blurred_image_not_the_feature_source():
    t = 0.3
    train, test = _heat_pairs(t, range(4)), _heat_pairs(t, range(10, 13))
    noisy = [(c, b + 1e-3 * np.random.default_rng(7).standard_normal(b.shape), b) for c, b, _ in test]
    _, exact = MOD.linear_gains(train, test, 4)
    _, perturbed = MOD.linear_gains(train, noisy, 4)
    # a noisy feature source only loses; the baseline (blurred vs clean) is the same in both
    assert np.all(np.array(perturbed) < np.array(exact))
