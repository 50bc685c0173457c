"""The learned audio denoiser (insp.learned.audio): noise estimate, exact symmetries, denoising, errors."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import insp
from insp.learned import INSPNet
from insp.learned.audio import (
    AUDIO_DENOISER_NET,
    STENCIL_SAMPLES,
    AudioDenoised,
    denoise_audio,
    estimate_noise_sigma,
    field_noise_sigma,
    load_audio_denoiser,
    stencil_offsets,
    symmetrised,
)
from insp.metrics import si_sdr
from insp.testing import SinusoidSum

SR = 16000


def noisy_field(seed: int, *, amplitude: float = 1.0, span: float = 0.05, terms: int = 60, shift: float = 0.0,
                reverse: bool = False):
    """An analytic clip on [shift, shift + span] s: a 440 Hz tone plus a dense sum of random sinusoids up to
    7 kHz (noise-like in every short-time spectrum).  ``reverse`` plays it backwards (t -> span - t)."""
    rng = np.random.default_rng(seed)
    k = np.concatenate([[2 * np.pi * 440.0], 2 * np.pi * rng.uniform(50, 7000, terms)])
    a = np.concatenate([[0.5], np.full(terms, 0.02)]) * amplitude
    p = rng.uniform(0, 2 * np.pi, terms + 1)
    if reverse:  # sin(k (span - t) + p) = sin(-k t + k span + p)
        k, p = -k, k * span + p
    p = p - k * shift  # f(t - shift)
    dom = insp.Domain(((shift, shift + span),))
    return SinusoidSum(a.tolist(), k[:, None].tolist(), p.tolist(), domain=dom, dtype=torch.float64)


def grid(field, n=None):
    lo, hi = field.domain.bounds[0]
    n = n or int(round((hi - lo) * SR)) + 1
    return torch.linspace(lo, hi, n, dtype=torch.float64)[:, None]


# --------------------------------------------------------------------------- the noise level

@pytest.mark.parametrize("sigma", [0.003, 0.1])
def test_noise_estimate_of_white_noise(sigma):
    x = np.random.default_rng(1).normal(0.0, sigma, 32000)
    assert estimate_noise_sigma(x)[0] == pytest.approx(sigma, rel=0.04)
    assert estimate_noise_sigma(x, max_frequency=0.35)[0] == pytest.approx(sigma, rel=0.06)


def test_noise_estimate_ignores_a_loud_tone_and_reads_channels_apart():
    rng = np.random.default_rng(2)
    t = np.arange(32000) / SR
    tone = 0.8 * np.sin(2 * np.pi * 440 * t)
    x = np.stack([tone + rng.normal(0, 0.01, t.size), tone + rng.normal(0, 0.05, t.size)], axis=1)
    est = estimate_noise_sigma(x)
    assert est.shape == (2,)
    assert est[0] == pytest.approx(0.01, rel=0.1) and est[1] == pytest.approx(0.05, rel=0.1)


@pytest.mark.parametrize("bad, kw, match", [
    (np.zeros(10), {}, "n >= 32"),
    (np.full(100, np.nan), {}, "NaN"),
    (np.zeros((4, 4, 4)), {}, "clip"),
    (np.zeros(100), dict(quantile=1.0), "quantile"),
    (np.zeros(100), dict(max_frequency=0.0), "max_frequency"),
])
def test_noise_estimate_refuses_bad_input(bad, kw, match):
    with pytest.raises(ValueError, match=match):
        estimate_noise_sigma(bad, **kw)


def test_noise_floor_keeps_a_clean_clip_finite():
    t = np.arange(4000) / SR
    clean = np.sin(2 * np.pi * 300 * t)  # no noise: the estimate alone would be ~1e-9
    assert field_noise_sigma(clean)[0] >= 1e-3 * np.sqrt(np.mean(clean**2)) * 0.999


# --------------------------------------------------------------------------- exact symmetries

def test_stencil_is_symmetric_and_matches_the_network():
    k = stencil_offsets()
    assert k.tolist() == sorted(k.tolist()) and (k == -k[::-1]).all() and 0 in k
    assert k.size == 2 * len(STENCIL_SAMPLES) - 1 == AUDIO_DENOISER_NET["in_channels"]


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_symmetrised_network_is_odd_and_reversal_invariant(seed):
    net = INSPNet(**AUDIO_DENOISER_NET, seed=seed % 7, dtype=torch.float64)
    with torch.no_grad():  # an untrained net outputs 0: give its last layer weights
        net.mlp[-1].weight.normal_(generator=torch.Generator().manual_seed(seed))
    v = torch.randn(16, net.in_channels, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    y = symmetrised(net, v)
    assert torch.allclose(symmetrised(net, -v), -y, atol=1e-12)
    assert torch.allclose(symmetrised(net, v.flip(-2)), y, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 1000), st.floats(-4.0, 4.0).filter(lambda a: abs(a) > 0.05))
def test_scale_and_polarity_equivariance_with_the_estimated_noise(seed, a):
    f, g = noisy_field(seed), noisy_field(seed, amplitude=a)
    df, dg = denoise_audio(f, sample_rate=SR), denoise_audio(g, sample_rate=SR)
    assert float(dg.noise_sigma[0]) == pytest.approx(abs(a) * float(df.noise_sigma[0]), rel=1e-9)
    x = grid(f)
    with torch.no_grad():
        assert torch.allclose(dg(x), a * df(x), atol=1e-5 * abs(a))


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 1000))
def test_time_reversal_equivariance(seed):
    f, r = noisy_field(seed), noisy_field(seed, reverse=True)
    # at one noise level (the estimate reads other STFT frames of a reversed clip, so it may differ)
    df, dr = (denoise_audio(g, sample_rate=SR, noise_sigma=0.02) for g in (f, r))
    t = torch.rand(200, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 0.05
    with torch.no_grad():  # every point, the reflected ends included
        assert torch.allclose(dr(0.05 - t), df(t), atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 1000), st.floats(-0.3, 0.3))
def test_shift_invariance_away_from_the_ends(seed, tau):
    f, g = noisy_field(seed), noisy_field(seed, shift=tau)
    df = denoise_audio(f, sample_rate=SR, noise_sigma=0.02)
    dg = denoise_audio(g, sample_rate=SR, noise_sigma=0.02)
    margin = 33 / SR  # the stencil's reach: no reflection inside
    t = margin + torch.rand(200, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) \
        * (0.05 - 2 * margin)
    with torch.no_grad():
        assert torch.allclose(dg(t + tau), df(t), atol=1e-5)


def test_the_field_is_the_stencil_formula_at_any_point():
    """D f (t) = f(t) + sigma P(f(t + k h) / sigma), written out by hand at off-grid points."""
    f = noisy_field(3)
    d = denoise_audio(f, sample_rate=SR, noise_sigma=0.02)
    net, _ = load_audio_denoiser()
    t = torch.tensor([[0.01], [0.0123456], [0.04]], dtype=torch.float64)
    k = torch.as_tensor(stencil_offsets(), dtype=torch.float64) / SR
    with torch.no_grad():
        v = f((t + k).reshape(-1, 1)).reshape(3, -1, 1) / 0.02
        want = f(t) + 0.02 * symmetrised(net, v.float()).double()
        assert torch.allclose(d(t), want, atol=1e-6)


# --------------------------------------------------------------------------- it denoises

def test_denoises_a_fitted_noisy_clip_beyond_its_inr():
    """White noise at 10 dB on two tones the operator never saw (0.25 s): measured +3.4 dB over the INR."""
    t = np.arange(4000) / SR
    clean = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t + 1.0)
    rng = np.random.default_rng(11)
    noisy = clean + rng.normal(0, np.sqrt(np.mean(clean**2) / 10), t.size)
    field, _ = insp.fit_audio(noisy, sample_rate=SR)
    with torch.no_grad():
        inr = field.sample((t.size,))[:, 0].double().numpy()
        out = denoise_audio(field).sample((t.size,))[:, 0].double().numpy()
    assert si_sdr(clean, out) > si_sdr(clean, inr) + 2.5
    assert si_sdr(clean, out) > si_sdr(clean, noisy) + 3.0


def test_channels_are_denoised_apart():
    f = noisy_field(5)
    stereo = _Stack(f, noisy_field(6))
    d2 = denoise_audio(stereo, sample_rate=SR, noise_sigma=[0.02, 0.03])
    d1 = denoise_audio(f, sample_rate=SR, noise_sigma=0.02)
    x = grid(f, 300)
    with torch.no_grad():
        assert torch.allclose(d2(x)[:, :1], d1(x), atol=1e-6)


class _Stack(insp.Field):
    def __init__(self, a, b):
        super().__init__(a.domain, 2)
        self.a, self.b = a, b

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=-1)


def test_shipped_weights_describe_their_training():
    net, meta = load_audio_denoiser()
    assert net.config()["in_channels"] == len(stencil_offsets())
    assert meta["stencil_samples"] == list(STENCIL_SAMPLES)
    assert meta["sample_rate"] == SR and meta["points"] > 100_000
    assert "train_audio_denoiser" in meta["command"]


def test_training_clips_never_hold_a_test_clip():
    from benchmarks import audio as bench

    train = list(bench.training_clips().values())
    for name, clip in bench.test_clips().items():
        probe = clip[1000:1256]
        for w in train:
            hits = np.flatnonzero(np.abs(w[: w.size - probe.size] - probe[0]) < 1e-12)
            assert not any(np.allclose(w[i:i + probe.size], probe) for i in hits), name


# --------------------------------------------------------------------------- errors

def test_errors_name_the_argument():
    f = noisy_field(0)
    with pytest.raises(ValueError, match="sample_rate"):
        denoise_audio(f)  # an analytic field records no sample rate
    with pytest.raises(ValueError, match="1-D"):
        denoise_audio(SinusoidSum([1.0], [[1.0, 2.0]]), sample_rate=SR)
    for bad in (-0.1, float("nan"), [0.1, 0.2]):
        with pytest.raises(ValueError, match="noise_sigma"):
            denoise_audio(f, sample_rate=SR, noise_sigma=bad)
    with pytest.raises(ValueError, match="stencil needs"):
        denoise_audio(noisy_field(0, span=10 / SR), sample_rate=SR, noise_sigma=0.1)
    with pytest.raises(TypeError, match="INSPNet"):
        denoise_audio(f, sample_rate=SR, noise_sigma=0.1, net=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="offsets"):
        AudioDenoised(f, INSPNet(order=0, dim=1, channels="joint", in_channels=5, out_channels=1), sample_rate=SR,
                      noise_sigma=0.1)


def test_training_script_smoke(tmp_path):
    from benchmarks import train_audio_denoiser as T

    out = tmp_path / "a.inspop"
    assert T.main(["--quick", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert math.isfinite(insp.fields.io.read_header(out, kind="insp-operator")["metadata"]["training_mse"])
