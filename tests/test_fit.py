"""Fitting: quality, determinism, layouts, masks, batched fitting, bad input."""

import math

import numpy as np
import pytest
import torch

from insp.fields import DEFAULTS, Domain, FitHistory, Siren, default_model, fit, fit_many
from insp.metrics import psnr


def small(d=2, c=1, seed=0, **kw):
    return Siren(d, c, hidden_features=32, hidden_layers=2, seed=seed, **kw)


@pytest.fixture(scope="module")
def image16():
    import skimage.data

    img = skimage.data.camera().astype(np.float64) / 255.0  # 512x512
    return img.reshape(16, 32, 16, 32).mean(axis=(1, 3))  # 16x16 area average


def test_fit_small_image_reaches_psnr_threshold():
    import skimage.data

    img = skimage.data.camera().astype(np.float64) / 255.0
    img = img.reshape(32, 16, 32, 16).mean(axis=(1, 3))  # 32x32: 1024 values, 2.3k parameters
    field, hist = fit(img, model=small(), steps=100, lr=1e-3, progress=False, data_range=1.0)
    assert hist.final_psnr > 33.0  # 36.6 dB when written
    rendered = field.sample(img.shape)[..., 0]
    assert psnr(rendered, img, data_range=1.0) == pytest.approx(hist.final_psnr, abs=0.01)
    assert not field.training


def test_default_model_and_defaults_fit(image16):
    model = default_model(2, 1, seed=0)
    assert model.hidden_features == DEFAULTS["hidden_features"]
    assert model.hidden_layers == DEFAULTS["hidden_layers"]
    field, hist = fit(image16, steps=30, progress=False)
    assert isinstance(field, Siren)
    assert hist.steps == 30 and hist.final_psnr > 20


def test_fit_is_bit_deterministic_with_a_seed(image16):
    a, ha = fit(image16, model=small(seed=3), steps=40, batch_size=64, seed=3, progress=False)
    b, hb = fit(image16, model=small(seed=3), steps=40, batch_size=64, seed=3, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert ha.loss == hb.loss
    c, _ = fit(image16, model=small(seed=3), steps=40, batch_size=64, seed=4, progress=False)  # other batches
    assert not torch.equal(a.net[0].weight, c.net[0].weight)
    # the default model is seeded by `seed` too
    d, _ = fit(image16, steps=3, seed=5, progress=False)
    e, _ = fit(image16, steps=3, seed=5, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(d.parameters(), e.parameters()))


def test_numpy_and_tensor_inputs_agree(image16):
    a, _ = fit(image16, model=small(), steps=10, progress=False)
    b, _ = fit(torch.from_numpy(image16), model=small(), steps=10, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_values_come_back_in_signal_units(image16):
    signal = 50.0 + 200.0 * image16  # [50, 250]
    field, hist = fit(signal, model=small(), steps=200, progress=False)
    aff = field.value_affine
    lo, hi = signal.min(), signal.max()
    assert aff.scale.item() == pytest.approx((hi - lo) / 2, rel=1e-6)
    assert aff.shift.item() == pytest.approx((hi + lo) / 2, rel=1e-6)
    out = field.sample(signal.shape)[..., 0].double().numpy()
    # ~113 dB: the residual is float32 rounding, where the engine's evaluation (omega folded into the
    # weights) and field.sample (Sine layers, then ValueAffine) round differently by a few hundredths of a dB
    assert psnr(out, signal, data_range=hi - lo) == pytest.approx(hist.final_psnr, abs=0.1)
    assert hist.data_range == pytest.approx(hi - lo)
    assert abs(out.mean() - signal.mean()) < 1.0


def test_history_records(image16):
    field, hist = fit(image16, model=small(), steps=20, progress=False)
    assert isinstance(hist, FitHistory)
    assert hist.step == list(range(21))  # full batch logs every step, plus the final weights
    assert len(hist.loss) == len(hist.psnr) == len(hist.time) == 21
    assert hist.time == sorted(hist.time) and hist.wall_time >= hist.time[-1]
    assert hist.stopped == "steps" and hist.steps == 20
    assert hist.psnr[-1] > hist.psnr[0]
    # loss is the normalised MSE: psnr = 10 log10(range^2 / (loss * scale^2))
    scale = field.value_affine.scale.item()
    assert hist.data_range == pytest.approx(image16.max() - image16.min())
    assert hist.psnr[5] == pytest.approx(10 * math.log10(hist.data_range**2 / (hist.loss[5] * scale**2)), rel=1e-6)
    d = hist.to_dict()
    assert d["steps"] == 20 and len(d["psnr"]) == 21
    assert hist.time_to(-100.0) == hist.time[0] and hist.time_to(1e9) is None


def test_minibatch_logging(image16):
    _, hist = fit(image16, model=small(), steps=25, batch_size=50, log_every=10, progress=False)
    assert hist.step == [0, 10, 20, 25]


def test_time_limit_and_callback_stop_early(image16):
    _, hist = fit(image16, model=small(), steps=100000, time_limit=0.2, progress=False)
    assert hist.stopped == "time_limit" and hist.steps < 100000
    seen = []

    def cb(record, field):
        seen.append(record["step"])
        return record["step"] >= 4

    _, hist = fit(image16, model=small(), steps=100, callback=cb, progress=False)
    assert hist.stopped == "callback" and hist.steps == 5 and seen == [0, 1, 2, 3, 4]


def test_progress_bar_runs(image16, capsys):
    fit(image16, model=small(), steps=3, progress=True)


# ---------------------------------------------------------------- layouts


def test_1d_signal_with_and_without_channels():
    x = np.linspace(-1, 1, 100)
    f1, h1 = fit(np.sin(4 * x), model=small(1, 1), steps=200, progress=False)
    assert f1.sample((100,)).shape == (100, 1) and h1.final_psnr > 35
    two = np.stack([np.sin(4 * x), np.cos(2 * x)], axis=-1)
    f2, h2 = fit(two, model=small(1, 2), steps=200, channel_axis=-1, progress=False)
    assert f2.sample((100,)).shape == (100, 2) and h2.final_psnr > 30
    # channels first is the same signal
    f3, _ = fit(two.T.copy(), model=small(1, 2), steps=200, channel_axis=0, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(f2.parameters(), f3.parameters()))


def test_rgb_image_and_volume(image16):
    rgb = np.stack([image16, image16[::-1], 1 - image16], axis=-1)
    f, h = fit(rgb, steps=5, channel_axis=-1, model=small(2, 3), progress=False)
    assert f.out_features == 3 and f.sample((16, 16)).shape == (16, 16, 3)
    vol = np.random.default_rng(0).random((5, 6, 7))
    g, _ = fit(vol, steps=5, channel_axis=None, model=small(3, 1), progress=False)
    assert g.sample((5, 6, 7)).shape == (5, 6, 7, 1)
    # default model picks the dimension and the channels from the layout
    g2, _ = fit(np.random.default_rng(0).random((4, 5, 6, 2)), steps=1, channel_axis=-1, progress=False)
    assert (g2.in_features, g2.out_features) == (3, 2)


@pytest.mark.parametrize("shape", [(16, 16, 3), (16, 16, 4), (50, 2), (8, 8, 1)])
def test_ambiguous_layouts_need_channel_axis(shape):
    with pytest.raises(ValueError, match="ambiguous.*channel_axis"):
        fit(np.zeros(shape), steps=1, progress=False)


def test_explicit_channel_axis_none_reads_a_thin_volume():
    f, _ = fit(np.random.default_rng(0).random((8, 8, 3)), channel_axis=None, model=small(3, 1), steps=1,
               progress=False)
    assert f.in_features == 3


def test_custom_domain(image16):
    dom = Domain(((0.0, 1.0), (0.0, 2.0)))
    f, _ = fit(image16, domain=dom, steps=2, progress=False)
    assert f.domain == dom
    with pytest.raises(ValueError, match="dimension"):
        fit(image16, domain=Domain.cube(3), steps=2, progress=False)
    with pytest.raises(ValueError, match="differs from model.domain"):
        fit(image16, domain=dom, model=small(), steps=2, progress=False)


# ---------------------------------------------------------------- masks


def test_mask_fits_only_known_samples(image16):
    mask = np.zeros(image16.shape, bool)
    mask[:, :8] = True
    damaged = image16.copy()
    damaged[~mask] = np.nan  # unknown samples may hold anything, NaN included
    field, hist = fit(damaged, model=small(), steps=60, known=mask, progress=False, data_range=1.0)
    out = field.sample(image16.shape)[..., 0].double().numpy()
    assert psnr(out[mask], image16[mask]) == pytest.approx(hist.final_psnr, abs=0.01)
    assert hist.final_psnr > 30
    assert psnr(out[~mask], image16[~mask]) < hist.final_psnr - 10  # the unknown half was not fitted
    assert hist.config["known_samples"] == mask.sum()
    # a mask changes nothing when it is all True
    a, _ = fit(image16, model=small(), steps=5, progress=False)
    b, _ = fit(image16, model=small(), steps=5, known=np.ones(image16.shape, bool), progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("mask,err,msg", [
    (np.ones((16, 15), bool), ValueError, r"known must have the signal's spatial shape \(16, 16\)"),
    (np.ones((16, 16)), TypeError, "known must be a boolean array"),
    (np.zeros((16, 16), bool), ValueError, "known has no True entry"),
    ("abc", TypeError, "known must be"),
])
def test_bad_masks(image16, mask, err, msg):
    with pytest.raises(err, match=msg):
        fit(image16, known=mask, steps=1, progress=False)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("signal,err,msg", [
    (np.array([[0.0, np.nan, 0, 0, 0], [1.0, 2.0, 0, 0, 0]]), ValueError, "signal contains 1 NaN or infinite"),
    (np.array([[0.0, np.inf, 0, 0, 0], [-np.inf, 2.0, 0, 0, 0]]), ValueError, "signal contains 2 NaN or infinite"),
    (np.zeros((0, 5)), ValueError, "signal is empty"),
    (np.zeros((3, 0, 5)), ValueError, "signal is empty"),
    (np.float64(3.0), ValueError, "scalar"),
    (np.zeros((3, 3, 3, 3, 3)), ValueError, "1, 2 or 3 spatial axes"),
    (np.zeros((1, 8)), ValueError, "at least 2 samples"),
    (np.ones((4, 4), bool), TypeError, "real numbers"),
    (np.ones((4, 4), complex), TypeError, "real numbers"),
    (np.array([["a", "b"], ["c", "d"]]), TypeError, "real numbers"),
    ("image.png", TypeError, "signal must be a numpy array or a torch tensor"),
    (torch.tensor([0.0, float("nan"), 1.0, 2.0]), ValueError, "NaN"),
])
def test_bad_signals(signal, err, msg):
    with pytest.raises(err, match=msg):
        fit(signal, steps=1, progress=False)


def test_wrong_dimensionality_with_channels():
    with pytest.raises(ValueError, match="1, 2 or 3 spatial axes"):
        fit(np.zeros((3, 3, 3, 3, 2)), channel_axis=-1, steps=1, progress=False)
    with pytest.raises(ValueError, match="channel_axis must be None or an axis"):
        fit(np.zeros((5, 5)), channel_axis=2, steps=1, progress=False)


@pytest.mark.parametrize("kw,err,msg", [
    (dict(steps=-1), ValueError, "steps must be"), (dict(steps=2.5), ValueError, "steps must be"),
    (dict(lr=0.0), ValueError, "lr must be"), (dict(lr="x"), TypeError, "lr must be a number"),
    (dict(batch_size=0), ValueError, "batch_size"), (dict(seed=1.5), TypeError, "seed"),
    (dict(time_limit=-1.0), ValueError, "time_limit"), (dict(callback=3), TypeError, "callback"),
    (dict(model=Siren(3, 1, hidden_features=8)), ValueError, "3-D coordinates"),
    (dict(model=Siren(2, 2, hidden_features=8)), ValueError, "2 output channels"),
    (dict(model=torch.nn.Linear(2, 1)), TypeError, "model must be an insp.Field"),
])
def test_bad_options(image16, kw, err, msg):
    with pytest.raises(err, match=msg):
        fit(image16, progress=False, **{"steps": 1, **kw})


def test_divergence_is_reported(image16):
    with pytest.raises(FloatingPointError, match="lower lr"):
        fit(image16 * 1e30, model=small(), lr=1e30, steps=50, progress=False)


# ---------------------------------------------------------------- fit_many


def _signals(image16, n=4):
    rng = np.random.default_rng(0)
    return np.stack([np.roll(image16, k, axis=1) * rng.uniform(0.5, 1.0) for k in range(n)])


@pytest.mark.parametrize("engine", ["siren", "vmap"])
def test_fit_many_matches_fit_per_signal(image16, engine):
    sigs = _signals(image16)
    models = [small(seed=10 + i) for i in range(4)]
    fields, hist = fit_many(sigs, model=[small(seed=10 + i) for i in range(4)], steps=100, seed=10,
                            progress=False, engine=engine)
    assert hist.config["engine"] == engine
    assert len(fields) == 4 and len(hist.member_psnr) == 4
    for i in range(4):
        single, hs = fit(sigs[i], model=models[i], steps=100, seed=10 + i, progress=False)
        assert hist.member_psnr[i] == pytest.approx(hs.final_psnr, abs=0.3)
        for p, q in zip(fields[i].parameters(), single.parameters()):
            assert torch.allclose(p, q, atol=2e-3, rtol=0), i
        assert torch.equal(fields[i].value_affine.scale, single.value_affine.scale)
    assert hist.psnr[-1] == pytest.approx(np.mean(hist.member_psnr))


def test_fit_many_default_models_use_seed_plus_index(image16):
    sigs = _signals(image16, 2)
    fields, hist = fit_many(sigs, steps=0, seed=7, progress=False)  # the initialisations
    for i, f in enumerate(fields):
        single, _ = fit(sigs[i], steps=0, seed=7 + i, progress=False)
        assert all(torch.equal(p, q) for p, q in zip(f.state_dict().values(), single.state_dict().values()))


@pytest.mark.parametrize("engine", ["siren", "vmap"])
def test_fit_many_minibatch_and_masks_match_fit(image16, engine):
    sigs = _signals(image16, 3)
    masks = np.random.default_rng(1).random((3, 16, 16)) < 0.7
    fields, hist = fit_many(sigs, model=small(seed=1), steps=60, batch_size=64, known=masks, seed=[5, 6, 7],
                            log_every=20, progress=False, engine=engine)
    assert hist.step == [0, 20, 40, 60]
    for i in range(3):
        single, hs = fit(sigs[i], model=small(seed=1), steps=60, batch_size=64, known=masks[i], seed=5 + i,
                         progress=False)
        assert hist.member_psnr[i] == pytest.approx(hs.final_psnr, abs=0.3)
        assert torch.allclose(fields[i].net[0].weight, single.net[0].weight, atol=2e-3)
    # a shared mask; per-signal masks with full batches
    shared = masks[0]
    f2, h2 = fit_many(sigs, model=small(seed=1), steps=20, known=shared, progress=False, engine=engine)
    s2, hs2 = fit(sigs[1], model=small(seed=1), steps=20, known=shared, seed=1, progress=False)
    assert h2.member_psnr[1] == pytest.approx(hs2.final_psnr, abs=0.1)
    f3, h3 = fit_many(sigs, model=small(seed=1), steps=20, known=masks, progress=False, engine=engine)
    s3, hs3 = fit(sigs[2], model=small(seed=1), steps=20, known=masks[2], seed=1, progress=False)
    assert h3.member_psnr[2] == pytest.approx(hs3.final_psnr, abs=0.1)
    assert torch.allclose(f3[2].net[0].weight, s3.net[0].weight, atol=1e-4)


def test_fit_many_other_architectures_use_vmap(image16):
    from insp.fields import FourierFeatureMLP

    def ff(i):
        return FourierFeatureMLP(2, 1, num_features=16, scale=2.0, hidden_features=16, hidden_layers=1,
                                 activation="tanh", seed=i)

    sigs = _signals(image16, 2)
    fields, hist = fit_many(sigs, model=[ff(0), ff(1)], steps=30, progress=False)
    assert hist.config["engine"] == "vmap"
    single, hs = fit(sigs[1], model=ff(1), steps=30, seed=1, progress=False)
    assert hist.member_psnr[1] == pytest.approx(hs.final_psnr, abs=0.1)
    with pytest.raises(ValueError, match="engine='siren' needs plain SIREN"):
        fit_many(sigs, model=[ff(0), ff(1)], steps=1, progress=False, engine="siren")
    with pytest.raises(ValueError, match="engine must be"):
        fit_many(sigs, steps=1, progress=False, engine="jit")


def test_fit_many_template_is_copied(image16):
    template = small(seed=0)
    before = [p.clone() for p in template.parameters()]
    fields, _ = fit_many(_signals(image16, 2), model=template, steps=5, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(template.parameters(), before))
    assert fields[0] is not fields[1] and fields[0] is not template


@pytest.mark.parametrize("signals,err,msg", [
    ([np.zeros((8, 8)), np.zeros((8, 9))], ValueError, r"same shape; signals\[1\] has shape \(8, 9\)"),
    ([], ValueError, "signals is empty"),
    (np.zeros(5), ValueError, "leading batch axis"),
    ("x", TypeError, "signals must be"),
    (np.stack([np.zeros((8, 8)), np.full((8, 8), np.nan)]), ValueError, r"signals\[1\] contains 64 NaN"),
    (np.zeros((2, 8, 8, 3)), ValueError, "ambiguous"),
])
def test_fit_many_bad_input(signals, err, msg):
    with pytest.raises(err, match=msg):
        fit_many(signals, steps=1, progress=False)


def test_fit_many_bad_models_and_masks(image16):
    sigs = _signals(image16, 2)
    with pytest.raises(ValueError, match="one field or 2 fields"):
        fit_many(sigs, model=[small()], steps=1, progress=False)
    m = small()
    with pytest.raises(ValueError, match="distinct"):
        fit_many(sigs, model=[m, m], steps=1, progress=False)
    with pytest.raises(ValueError, match="share one architecture"):
        fit_many(sigs, model=[small(), Siren(2, 1, hidden_features=16, hidden_layers=2)], steps=1, progress=False)
    with pytest.raises(ValueError, match="share one architecture"):  # same shapes, another omega_0
        fit_many(sigs, model=[small(), small(first_omega_0=10.0)], steps=1, progress=False)
    uneven = np.ones((2, 16, 16), bool)
    uneven[1, :, 4:] = False  # 64 known samples
    with pytest.raises(ValueError, match="smallest number of known samples"):
        fit_many(sigs, known=uneven, batch_size=100, steps=1, progress=False)
    with pytest.raises(ValueError, match=r"known must have the signal's spatial shape"):
        fit_many(sigs, known=np.ones((3, 16, 16), bool), steps=1, progress=False)
    with pytest.raises(TypeError, match="seed"):
        fit_many(sigs, seed=[1, 2, 3], steps=1, progress=False)


def test_lr_schedule_cosine_warmup_and_deadline():
    from insp.fields.fitting.loop import lr_factor as _lr_factor

    assert _lr_factor(0, 100, 0, 0.0) == 1.0
    assert _lr_factor(50, 100, 0, 0.0) == pytest.approx(0.5)
    assert _lr_factor(99, 100, 0, 0.1) == pytest.approx(0.1, abs=1e-3)
    assert _lr_factor(0, 100, 10, 0.0) == pytest.approx(0.1)  # linear warm-up
    assert _lr_factor(10, 100, 10, 0.0) == 1.0
    # with a time limit the cosine follows whichever fraction is further along
    assert _lr_factor(10, 100, 0, 0.0, time_frac=0.5) == pytest.approx(0.5)
    assert _lr_factor(10, 100, 0, 0.0, time_frac=2.0) == 0.0
    assert _lr_factor(90, 100, 0, 0.0, time_frac=0.1) == _lr_factor(90, 100, 0, 0.0)


# --------------------------------------------------------------------------- the SIREN engine of fit (issue 21)


def _fit_through(engine, monkeypatch, signal, **kw):
    from insp.fields.fitting import fitters

    with monkeypatch.context() as m:
        m.setattr(fitters, "_single_engine", lambda model: engine)
        return fit(signal, progress=False, **kw)


@pytest.mark.parametrize("batch_size", ["full", 64])
def test_siren_engine_follows_autograd_in_values_and_derivatives(image16, monkeypatch, batch_size):
    """fit's SIREN engine computes autograd's gradient: a short fit ends on the same field up to rounding."""
    from insp.jet import jet

    rgb = np.stack([image16, image16.T, 1 - image16], axis=-1)
    known = np.ones((16, 16), bool)
    known[4:9, 3:7] = False  # a masked fit goes through the engine's known-point path
    fields = [_fit_through(e, monkeypatch, rgb, model=small(c=3), steps=15, batch_size=batch_size, known=known,
                                channel_axis=-1)[0]
              for e in ("module", "siren")]
    x = torch.rand(50, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        a, b = [jet(f, x, order=2) for f in fields]
    for name in a.names:  # values, first and second partials, each against its own largest entry
        scale = float(a[name].abs().max()) + 1e-6
        assert float((a[name] - b[name]).abs().max()) < 1e-4 * scale, name


def test_fit_picks_the_siren_engine_only_for_fully_trainable_plain_sirens():
    from insp.fields.fitting.fitters import _single_engine
    from insp.testing import SinusoidSum

    assert _single_engine(small()) == "siren"
    frozen = small()
    frozen.net[0].weight.requires_grad_(False)
    assert _single_engine(frozen) == "module"
    assert _single_engine(SinusoidSum([1.0], [[1.0, 2.0]])) == "module"


def test_a_frozen_layer_stays_frozen(image16):
    model = small()
    model.net[0].weight.requires_grad_(False)
    before = model.net[0].weight.detach().clone()
    fit(image16, model=model, steps=5, progress=False)
    assert torch.equal(model.net[0].weight, before)


def test_callback_sees_the_weights_of_the_fit(image16):
    """The SIREN engine trains copies; the callback's field must be the current fit, not the initial weights."""
    seen = []

    def cb(record, field):
        seen.append(field.net[0].weight.detach().clone())

    field, _ = fit(image16, model=small(), steps=3, callback=cb, progress=False, log_every=1)
    assert not torch.equal(seen[0], seen[-1])
    assert torch.equal(seen[-1], field.net[0].weight)  # the last callback ran after the last update


def test_time_limit_is_kept_within_five_percent(image16):
    _, hist = fit(image16, model=small(), steps=10**7, time_limit=1.0, progress=False)
    assert hist.stopped == "time_limit" and 1.0 <= hist.time[-1] <= 1.05
