"""Hostile use, class 7: errors a user can act on, named after the argument, at the call they made."""

import numpy as np
import pytest
import torch

import insp
from insp.fields import Siren
from insp.ops import gaussian_blur
from tests.hostile import small_field


def test_float64_points_into_a_float32_field():
    with pytest.raises(TypeError, match=r"x has dtype torch.float64 but this field computes in torch.float32"):
        small_field()(torch.zeros(3, 2, dtype=torch.float64))


@pytest.mark.parametrize("sigma", [np.float32(0.1), np.array(0.1), torch.tensor(0.1), 0.1, np.float64(0.1)])
def test_sigma_accepts_any_real_scalar(sigma):
    field = small_field()
    blurred = gaussian_blur(field, sigma=sigma)
    ref = gaussian_blur(field, sigma=0.1)
    x = torch.rand(4, 2) * 2 - 1
    assert torch.allclose(blurred(x), ref(x), atol=1e-6)


@pytest.mark.parametrize("sigma", ["0.1", [0.1], np.array([0.1, 0.2]), -0.1, float("nan")])
def test_sigma_refusals_name_the_argument(sigma):
    with pytest.raises((ValueError, TypeError), match="sigma"):
        gaussian_blur(small_field(), sigma=sigma)


@pytest.mark.parametrize("seed, kind", [(2**70, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_seed_out_of_range(seed, kind):
    with pytest.raises(kind, match=r"seed must be an integer"):
        insp.fit(np.random.rand(8, 8), steps=1, seed=seed, progress=False)


def test_one_pixel_image_is_too_small_not_ambiguous():
    with pytest.raises(ValueError, match="at least 2 samples along every spatial axis"):
        insp.fit(np.ones((1, 1)), steps=1, progress=False)


def test_nan_mask_is_named_as_nan():
    from insp.ops import poisson_blend

    mask = np.full((8, 8), np.nan)
    with pytest.raises(ValueError, match="mask contains 64 NaN"):
        poisson_blend(small_field(0), small_field(1), mask)


def test_cuda_on_a_cpu_build():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the refusal is for CPU builds")
    with pytest.raises(ValueError, match=r"device='cuda'.*use device='cpu'"):
        Siren(2, 1, hidden_features=8, hidden_layers=1, device="cuda")


@pytest.mark.parametrize("name, dtype", [("float64", torch.float64), ("torch.float32", torch.float32),
                                         (np.float64, torch.float64)])
def test_dtype_given_as_a_name(name, dtype):
    assert Siren(2, 1, hidden_features=8, hidden_layers=1, dtype=name).sample((2, 2)).dtype == dtype


@pytest.mark.parametrize("bad", ["float65", "int32", torch.int64])
def test_non_float_dtypes_are_refused(bad):
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        Siren(2, 1, hidden_features=8, hidden_layers=1, dtype=bad)
