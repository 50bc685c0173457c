"""insp.data, insp.tasks: images, degradations, the task registry, paired data and its cache."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from insp import data
from insp.tasks import (
    TASKS,
    add_noise,
    blur,
    blur_kernel,
    get_task,
    grid_jet,
    image_seed,
    paired,
    random_holes,
    text_overlay,
    training_tensors,
)
from insp.tasks import pairs as pairs_mod

# --------------------------------------------------------------------------- data


def test_gray_and_color_shapes_ranges():
    g = data.gray("astronaut", 32)
    c = data.color("astronaut", 32)
    assert g.shape == (32, 32) and c.shape == (32, 32, 3)
    assert g.dtype == c.dtype == np.float64
    assert 0 <= g.min() and g.max() <= 1 and 0 <= c.min() and c.max() <= 1
    # gray is the BT.709 luma of the colour image (the area resize is linear, so the order does not matter)
    np.testing.assert_allclose(g, c @ np.array(data.LUMA_WEIGHTS), atol=1e-12)
    # a gray image in colour is three equal channels
    cam = data.color("camera", 16)
    np.testing.assert_array_equal(cam[..., 0], cam[..., 2])


def test_area_resize_is_block_mean():
    full = data.gray("camera", None)  # 512 x 512, already square
    assert full.shape == (512, 512)
    half = data.gray("camera", 256)
    np.testing.assert_allclose(half, full.reshape(256, 2, 256, 2).mean(axis=(1, 3)), atol=1e-12)


def test_centre_crop():
    raw = data.load("coins")  # (303, 384)
    assert data.gray("coins", None).shape == (303, 303)
    np.testing.assert_array_equal(data.gray("coins", None), raw[:, 40:343])


def test_split_is_fixed_and_disjoint():
    assert "camera" in data.TEST_IMAGES
    assert not set(data.TRAIN_IMAGES) & set(data.TEST_IMAGES)
    assert set(data.TRAIN_IMAGES + data.TEST_IMAGES) <= set(data.names())
    assert 8 <= len(data.TRAIN_IMAGES) <= 10 and len(data.TEST_IMAGES) == 5


@pytest.mark.parametrize("kw, match", [(dict(name="lena"), "name"), (dict(name="camera", size=1), "size"),
                                       (dict(name="camera", size=2.5), "size")])
def test_data_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        data.gray(**kw)


# --------------------------------------------------------------------------- degradations

IMG = np.linspace(0, 1, 24 * 20).reshape(24, 20)


def test_noise_seeded_and_sigma():
    a = add_noise(IMG, seed=3)
    np.testing.assert_array_equal(a, add_noise(IMG, seed=3))
    assert not np.array_equal(a, add_noise(IMG, seed=4))
    flat = np.full((256, 256), 0.5)
    noise = add_noise(flat, sigma=0.05, seed=0, clip=False) - flat
    assert abs(noise.std() - 0.05) < 0.05 * 0.02  # 65536 samples: std error ~0.3 %
    assert abs(noise.mean()) < 0.05 * 0.02
    clipped = add_noise(IMG, sigma=0.5, seed=1)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    np.testing.assert_array_equal(clipped, np.clip(add_noise(IMG, sigma=0.5, seed=1, clip=False), 0, 1))
    np.testing.assert_array_equal(add_noise(IMG, sigma=0, seed=0), IMG)


def test_noise_does_not_modify_input_and_handles_channels():
    img = np.stack([IMG, IMG[::-1]], axis=-1)
    before = img.copy()
    out = add_noise(img, seed=0)
    assert out.shape == img.shape
    np.testing.assert_array_equal(img, before)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: add_noise(IMG, sigma=-0.1, seed=0), ValueError, "sigma"),
    (lambda: add_noise(IMG, seed=1.5), TypeError, "seed"),
    (lambda: add_noise(IMG, seed=True), TypeError, "seed"),
    (lambda: add_noise(np.zeros(5), seed=0), ValueError, "img"),
    (lambda: add_noise(np.full((4, 4), np.nan), seed=0), ValueError, "NaN"),
    (lambda: blur(IMG, kernel="disk"), ValueError, "kernel"),
    (lambda: blur(IMG, sigma=0), ValueError, "sigma"),
    (lambda: blur(IMG, repeat=0), ValueError, "repeat"),
    (lambda: blur(IMG, mode="circular"), ValueError, "mode"),
    (lambda: random_holes(IMG, fraction=1.0, seed=0), ValueError, "fraction"),
    (lambda: random_holes(IMG, fraction=-0.1, seed=0), ValueError, "fraction"),
    (lambda: text_overlay(IMG, text="", seed=0), ValueError, "text"),
    (lambda: text_overlay(IMG, seed=0, font_size=0), ValueError, "font_size"),
])
def test_degradation_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_blur_kernel():
    box = blur_kernel(kernel="box3")
    np.testing.assert_allclose(box, np.full((3, 3), 1 / 9))
    box2 = blur_kernel(kernel="box3", repeat=2)
    # the 3x3 box convolved with itself: outer product of [1, 2, 3, 2, 1] / 9
    t = np.array([1, 2, 3, 2, 1]) / 9
    np.testing.assert_allclose(box2, np.outer(t, t), atol=1e-15)
    g = blur_kernel(sigma=1.5)
    assert g.shape == (13, 13)  # radius ceil(4 * 1.5) = 6
    for k in (box, box2, g, blur_kernel(sigma=0.7, repeat=3)):
        assert abs(k.sum() - 1) < 1e-12
        np.testing.assert_allclose(k, k[::-1, ::-1])
        np.testing.assert_allclose(k, k.T)


def test_blur_matches_gaussian_filter_and_keeps_constants():
    out, psf = blur(IMG, sigma=2.0)
    np.testing.assert_allclose(out, gaussian_filter(IMG, 2.0, mode="reflect", truncate=4.0), atol=1e-12)
    const = np.full((10, 12), 0.3)
    for kw in (dict(sigma=2.0), dict(kernel="box3", repeat=4)):
        np.testing.assert_allclose(blur(const, **kw)[0], const, atol=1e-14)
    rgb = np.stack([IMG, 1 - IMG], axis=-1)
    np.testing.assert_allclose(blur(rgb, sigma=1.0)[0][..., 1], blur(1 - IMG, sigma=1.0)[0], atol=1e-14)


def test_random_holes_fraction_and_seed():
    img = np.random.default_rng(0).random((40, 50))
    holey, known = random_holes(img, fraction=0.3, seed=5)
    assert known.dtype == bool and known.shape == img.shape
    assert (~known).sum() == round(0.3 * 2000)
    np.testing.assert_array_equal(holey[known], img[known])
    assert (holey[~known] == 0).all()
    h2, k2 = random_holes(img, fraction=0.3, seed=5)
    np.testing.assert_array_equal(k2, known)
    assert not np.array_equal(random_holes(img, fraction=0.3, seed=6)[1], known)
    rgb = np.stack([img, img], axis=-1)
    hr, kr = random_holes(rgb, fraction=0.3, seed=5, fill=0.5)
    np.testing.assert_array_equal(kr, known)
    assert (hr[~kr] == 0.5).all()


def test_text_overlay_mask_and_seed():
    img = np.full((64, 64), 0.2)
    out, known = text_overlay(img, seed=0)
    assert known.shape == img.shape and known.dtype == bool
    assert 0 < (~known).sum() < img.size * 0.6
    np.testing.assert_array_equal(out[known], img[known])
    assert (out[~known] > 0.2).all() and out.max() <= 1.0
    big, _ = text_overlay(img, text="Hi", seed=0, font_size=30)
    assert np.isclose(big.max(), 1.0)  # fully covered pixels take the text value
    np.testing.assert_array_equal(text_overlay(img, seed=0)[0], out)
    assert not np.array_equal(text_overlay(img, seed=1)[1], known)
    # a single line lies inside the image, whatever the seed
    for seed in range(5):
        _, k = text_overlay(img, text="Hi", seed=seed, font_size=30)
        assert (~k).any()


# --------------------------------------------------------------------------- registry


def test_task_targets():
    clean = data.gray("camera", 16)
    d = get_task("denoise").degrade(clean, seed=0)
    np.testing.assert_array_equal(d.target, clean)
    assert d.noise_sigma == 25 / 255
    b = get_task("blur").degrade(clean, seed=0)
    np.testing.assert_array_equal(b.input, clean)
    np.testing.assert_allclose(b.target, gaussian_filter(clean, 1.0, mode="reflect"))
    db = get_task("deblur").degrade(clean, seed=0)
    np.testing.assert_allclose(db.input, blur(clean, sigma=2.0)[0])
    assert db.psf.shape == (17, 17)
    for t in ("inpaint", "text"):
        m = get_task(t).degrade(clean, seed=0)
        assert m.known is not None and (~m.known).any()
        assert get_task(t).protocols == ("degraded", "known")
    assert set(TASKS) == {"denoise", "deblur", "blur", "inpaint", "text"}


def test_task_errors_and_overrides():
    assert get_task("denoise", sigma=0.1).params["sigma"] == 0.1
    assert TASKS["denoise"].params["sigma"] == 25 / 255  # the registry is not modified
    with pytest.raises(ValueError, match="unknown parameter"):
        get_task("denoise", fraction=0.3)
    with pytest.raises(ValueError, match="task"):
        get_task("superres")
    with pytest.raises(ValueError, match="protocol"):
        get_task("denoise").check_protocol("known")


def test_image_seed_distinct():
    seeds = {image_seed(n) for n in data.names()}
    assert len(seeds) == len(data.names())
    assert image_seed("camera", 1) == image_seed("camera") + 1
    with pytest.raises(ValueError, match="image"):
        image_seed("lena")


# --------------------------------------------------------------------------- paired data + cache


@pytest.fixture
def count_fits(monkeypatch):
    calls = []
    real = pairs_mod.fit

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pairs_mod, "fit", counting)
    return calls


def test_paired_caches_fit_and_features(tmp_path, count_fits):
    kw = dict(size=12, steps=3, cache_dir=tmp_path, progress=False)
    p1 = paired("camera", "denoise", order=2, **kw)
    assert len(count_fits) == 1 and not p1.from_cache
    assert p1.features.shape == (12, 12, 1, 6) and p1.target.shape == (12, 12, 1)
    p2 = paired("camera", "denoise", order=2, **kw)
    assert len(count_fits) == 1 and p2.from_cache  # no refit
    assert torch.equal(p1.features, p2.features) and torch.equal(p1.target, p2.target)
    for a, b in zip(p1.field.parameters(), p2.field.parameters()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(p1.degraded.input, p2.degraded.input)
    # the cached jet is the jet of the cached field
    torch.testing.assert_close(grid_jet(p2.field, 12, order=2).float(), p2.features)
    # another order reuses the fit; another seed, step count or protocol refits
    assert paired("camera", "denoise", order=1, **kw).features.shape[-1] == 3 and len(count_fits) == 1
    paired("camera", "denoise", order=None, seed=1, **kw)
    assert len(count_fits) == 2
    paired("camera", "denoise", order=None, **{**kw, "steps": 4})
    assert len(count_fits) == 3


def test_paired_known_protocol_fits_known_pixels(tmp_path, count_fits):
    p = paired("camera", "inpaint", order=None, size=12, steps=2, protocol="known", cache_dir=tmp_path,
               progress=False)
    np.testing.assert_array_equal(count_fits[-1]["known"], p.degraded.known)
    paired("camera", "inpaint", order=None, size=12, steps=2, protocol="degraded", cache_dir=tmp_path,
           progress=False)
    assert count_fits[-1]["known"] is None and len(count_fits) == 2
    with pytest.raises(ValueError, match="protocol"):
        paired("camera", "deblur", size=12, steps=2, protocol="known", progress=False)


def test_training_tensors(tmp_path, count_fits):
    f, t = training_tensors(["camera", "coins"], "blur", points_per_image=20, order=1, size=10, steps=2,
                            cache_dir=tmp_path, progress=False)
    assert f.shape == (40, 1, 3) and t.shape == (40, 1) and f.dtype == t.dtype == torch.float32
    f2, t2 = training_tensors(["camera", "coins"], "blur", points_per_image=20, order=1, size=10, steps=2,
                              cache_dir=tmp_path, progress=False)
    assert torch.equal(f, f2) and torch.equal(t, t2) and len(count_fits) == 2
    fa, ta = training_tensors(["coins"], "blur", order=1, size=10, steps=2, cache_dir=tmp_path, progress=False)
    assert fa.shape == (100, 1, 3)
    clean = data.gray("coins", 10)
    torch.testing.assert_close(ta[:, 0].double(), torch.from_numpy(gaussian_filter(clean, 1.0, mode="reflect")
                                                                  ).reshape(-1), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="points_per_image"):
        training_tensors(["coins"], "blur", points_per_image=101, order=1, size=10, steps=2, cache_dir=tmp_path,
                         progress=False)
    with pytest.raises(ValueError, match="images"):
        training_tensors("coins", "blur", size=10, steps=2, progress=False)


def test_fit_config_is_the_defaults_with_the_task_overrides():
    from insp.fields import DEFAULTS
    from insp.tasks import Task, cache_key, fit_config

    assert fit_config("denoise")["first_omega_0"] == 10.0  # fits the image, not the noise
    deblur = fit_config("deblur")  # accurate 4th derivatives: gentler hidden layers, longer fit
    assert deblur["hidden_omega_0"] == 10.0 and deblur["steps"] == 4000 and deblur["first_omega_0"] == 30.0
    for name in ("blur", "inpaint", "text"):
        cfg = fit_config(name)
        assert all(cfg[k] == DEFAULTS[k] for k in cfg), name
    # the key holds the steps actually used once, and the other settings under "fit"
    key = cache_key("camera", "deblur")
    assert key["steps"] == 4000 and "steps" not in key["fit"]
    assert cache_key("camera", "deblur", steps=7)["steps"] == 7
    assert cache_key("camera", "denoise")["fit"] == {k: v for k, v in fit_config("denoise").items() if k != "steps"}
    odd = Task("odd", "unknown override", fit=dict(omega=3.0), _fn=TASKS["blur"]._fn)
    with pytest.raises(ValueError, match="omega"):
        fit_config(odd)


def test_fit_degraded_uses_the_task_fit_config(tmp_path):
    from insp.tasks import fit_degraded

    _, field, meta = fit_degraded("camera", "denoise", size=16, steps=2, cache_dir=tmp_path, progress=False)
    assert field.first_omega_0 == 10.0 and meta["key"]["fit"]["first_omega_0"] == 10.0
    _, field, _ = fit_degraded("camera", "deblur", size=16, steps=2, cache_dir=tmp_path, progress=False)
    assert field.first_omega_0 == 30.0 and field.hidden_omega_0 == 10.0
    _, field, _ = fit_degraded("camera", "blur", size=16, steps=2, cache_dir=tmp_path, progress=False)
    assert field.first_omega_0 == field.hidden_omega_0 == 30.0
