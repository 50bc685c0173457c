"""Audio as a 1-D field over seconds: WAV files, waveform layout, windowed fields, fitting, operators, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import insp
from insp.audioio import read_wav, write_wav
from insp.fields.fitting.audio import omega_for_bandwidth, prepare_wave
from insp.fields.windowed import SMOOTHSTEP_ORDER, WindowedField, _smoothstep_poly, smoothstep, window_starts
from insp.jet import jet
from insp.metrics import si_sdr, snr

F64 = torch.float64


class GlobalSine(insp.Field):
    """``sin(omega t + phase)`` of *global* time, seen from window ``start`` of ``window`` samples (local u)."""

    def __init__(self, start, window, sr, omega, phase=0.0):
        super().__init__(insp.Domain.cube(1), 1)
        self.start, self.window, self.sr, self.omega, self.phase = start, window, sr, omega, phase
        self.register_buffer("anchor", torch.zeros((), dtype=F64))  # gives sample() the dtype

    def forward(self, u):
        t = (self.start + (u + 1) * (self.window - 1) / 2) / self.sr
        return torch.sin(self.omega * t + self.phase)


def sine_windowed(n=50, window=16, hop=12, sr=100.0, omega=7.0):
    starts = window_starts(n, window, hop)
    members = [GlobalSine(s, window, sr, omega) for s in starts]
    return WindowedField(members, num_samples=n, window=window, hop=hop, sample_rate=sr)


# --------------------------------------------------------------------------- WAV files and layout

def test_wav_round_trip_int16_float32_and_stereo(tmp_path):
    rng = np.random.default_rng(0)
    mono = np.round(rng.uniform(-1, 1, 500) * 32767) / 32768
    w, sr = read_wav(write_wav(tmp_path / "m.wav", mono, 8000))
    assert sr == 8000 and w.shape == (500,) and np.array_equal(w, mono)
    stereo = rng.uniform(-1, 1, (300, 2))
    w, sr = read_wav(write_wav(tmp_path / "s.wav", stereo, 44100, sample_format="float32"))
    assert sr == 44100 and w.shape == (300, 2)
    np.testing.assert_allclose(w, stereo.astype(np.float32), rtol=0, atol=0)
    w16, _ = read_wav(write_wav(tmp_path / "s16.wav", stereo, 44100))
    assert np.abs(w16 - stereo).max() <= 0.5 / 32768 + 1e-12


def test_wav_errors(tmp_path):
    stereo = write_wav(tmp_path / "s.wav", np.zeros((10, 2)), 8000)
    with pytest.raises(ValueError, match="mono clip is required"):
        read_wav(stereo, mono=True)
    with pytest.raises(FileNotFoundError):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError, match="not a WAV file"):
        read_wav(tmp_path / "junk.wav")
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]), 8000)
    with pytest.raises(ValueError, match="whole number"):
        write_wav(tmp_path / "r.wav", np.zeros(4), 8000.5)
    with pytest.warns(UserWarning, match="clipped"):
        write_wav(tmp_path / "c.wav", np.array([0.0, 2.0]), 8000)


def test_prepare_wave_layouts_and_errors():
    x = np.arange(200.0).reshape(100, 2)
    last = prepare_wave(x, channel_axis=-1)
    assert torch.equal(prepare_wave(x.T, channel_axis=0), last)
    assert torch.equal(prepare_wave(x), last) and torch.equal(prepare_wave(x.T), last)  # "auto": the short axis
    with pytest.raises(ValueError, match="ambiguous"):
        prepare_wave(np.zeros((6, 6)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        prepare_wave(np.zeros(0))
    with pytest.raises(ValueError, match="NaN"):
        prepare_wave(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="mono clip is required"):
        prepare_wave(x, mono=True)
    with pytest.raises(ValueError, match="must be"):
        prepare_wave(np.zeros((4, 4, 4)))
    with pytest.raises(TypeError, match="real numbers"):
        prepare_wave(np.zeros(8, dtype=complex))


@pytest.mark.parametrize("bad", [0, -8000, float("nan"), float("inf"), True, "16k"])
def test_bad_sample_rate(bad):
    with pytest.raises((ValueError, TypeError), match="sample_rate"):
        insp.fit_audio(np.zeros(64), sample_rate=bad, steps=1)


def test_fit_with_sample_rate_is_fit_audio_and_refuses_image_options():
    wave = np.sin(np.linspace(0, 20, 200))
    f, _ = insp.fit(wave, sample_rate=1000, steps=3, progress=False)
    assert isinstance(f, WindowedField) and f.domain.bounds == ((0.0, 0.199),)
    with pytest.raises(ValueError, match="does not take known"):
        insp.fit(wave, sample_rate=1000, known=np.ones(200, bool))


def test_data_audio():
    w, sr = insp.data.audio("speech")
    assert (sr, w.shape) == (16000, (64000,)) and -1 <= w.min() < 0 < w.max() <= 1
    w8, sr8 = insp.data.audio("speech", sample_rate=8000, duration=1.0)
    assert (sr8, w8.shape) == (8000, (8000,))
    s, _ = insp.data.audio("stereo", duration=0.1)
    assert s.shape == (1600, 2)
    long, _ = insp.data.audio("speech", duration=9.0)
    assert np.array_equal(long[64000:128000], w)  # repeats the utterance
    for name in insp.data.AUDIO_NAMES:
        assert np.abs(insp.data.audio(name, duration=0.5)[0]).max() <= 1
    with pytest.raises(ValueError, match="name"):
        insp.data.audio("nope")
    with pytest.raises(ValueError, match="duration"):
        insp.data.audio("chirp", duration=0)


# --------------------------------------------------------------------------- the windowed field

def test_smoothstep_is_a_partition_with_flat_ends():
    s = torch.linspace(-0.5, 1.5, 401, dtype=F64)
    v = smoothstep(s, order=SMOOTHSTEP_ORDER)
    torch.testing.assert_close(v[:, 0] + smoothstep(1 - s)[:, 0], torch.ones_like(s))
    poly = _smoothstep_poly(SMOOTHSTEP_ORDER)  # derivatives 1..8 vanish at both ends, the 9th does not
    assert [poly.deriv(j)(e) for j in range(1, SMOOTHSTEP_ORDER + 1) for e in (0.0, 1.0)] == [0.0] * 16
    assert poly.deriv(SMOOTHSTEP_ORDER + 1)(0.0) != 0
    # the derivative columns are derivatives: central differences of column j give column j + 1
    h = 1e-4
    x = torch.tensor([0.2, 0.5, 0.9], dtype=F64)
    fd = (smoothstep(x + h, order=3) - smoothstep(x - h, order=3)) / (2 * h)
    exact = smoothstep(x, order=3)[:, 1:]
    assert ((fd[:, :3] - exact).abs() / exact.abs().amax(dim=0)).max() < 1e-5


def test_window_starts_cover_the_clip():
    for n, L, H in [(10, 4, 3), (1000, 128, 100), (129, 128, 64), (64, 128, 64)]:
        s = window_starts(n, L, H)
        assert s[0] == 0 and s[-1] + L >= n and all(b - a == H for a, b in zip(s, s[1:]))
        assert len(s) == 1 or s[-2] + L < n  # no window is superfluous


def test_windowed_sine_has_closed_form_derivatives_across_seams():
    """Identical global signals in every window: the cross-fade must cancel in every derivative."""
    omega = 7.0
    f = sine_windowed(omega=omega).double()
    t = torch.linspace(0, 0.49, 301, dtype=F64).unsqueeze(-1)
    J = jet(f, t, order=6)
    assert J.values.shape == (301, 1, 7)
    for j in range(7):
        closed = omega**j * torch.sin(omega * t[:, 0] + j * math.pi / 2)
        # the cross-fade terms (up to (sr / overlap)^j = 33^j here) cancel to rounding
        torch.testing.assert_close(J.values[:, 0, j], closed, rtol=0, atol=2e-6 * omega**j)


def test_windowed_native_jet_equals_nested_autograd_on_distinct_members():
    members = [insp.Siren(1, 2, hidden_features=12, hidden_layers=1, first_omega_0=5.0, seed=k, dtype=F64)
               for k in range(4)]
    f = WindowedField(members, num_samples=40, window=14, hop=10, sample_rate=50.0)
    t = torch.linspace(-0.01, 0.79, 41, dtype=F64).unsqueeze(-1)  # a little outside the domain too
    native, ref = jet(f, t, order=4).values, jet(f, t, order=4, jet_method="reference").values
    scale = ref.abs().amax(dim=(0, 1))  # per order
    assert ((native - ref).abs() / scale).max() < 1e-8


def test_windowed_field_is_smooth_at_the_ends_of_each_overlap():
    members = [insp.Siren(1, 1, hidden_features=8, hidden_layers=1, first_omega_0=4.0, seed=k, dtype=F64)
               for k in range(3)]
    f = WindowedField(members, num_samples=30, window=12, hop=9, sample_rate=10.0)
    seams = torch.tensor([9.0, 11.0, 18.0, 20.0], dtype=F64) / 10  # the ends of overlaps [9, 11] and [18, 20]
    t = torch.stack([seams - 1e-9, seams + 1e-9], dim=1).reshape(-1, 1)
    J = jet(f, t, order=4).values[:, 0].reshape(4, 2, 5)  # (seam, side, order)
    scale = J.abs().amax(dim=(0, 1))
    assert ((J[:, 0] - J[:, 1]).abs() / scale).max() < 1e-6


def test_windowed_field_errors():
    m = [insp.Siren(1, 1, hidden_features=4, hidden_layers=0, seed=0)]
    with pytest.raises(ValueError, match="must cover"):
        WindowedField(m, num_samples=20, window=10, hop=8, sample_rate=1.0)
    with pytest.raises(ValueError, match="need 3 members"):
        WindowedField(m * 2, num_samples=20, window=8, hop=6, sample_rate=1.0)
    with pytest.raises(ValueError, match="overlap"):
        WindowedField(m * 2, num_samples=14, window=8, hop=7, sample_rate=1.0)
    with pytest.raises(ValueError, match="1-D"):
        WindowedField([insp.Siren(2, 1, hidden_features=4, hidden_layers=0)], num_samples=5, window=5, hop=5,
                      sample_rate=1.0)


# --------------------------------------------------------------------------- fitting

def test_fit_recovers_a_pure_tone_and_resamples_it():
    sr, n, freq, amp = 8000, 800, 440.0, 0.5
    t = np.arange(n) / sr
    f, h = insp.fit_audio(amp * np.sin(2 * np.pi * freq * t), sample_rate=sr, steps=150)
    assert h.config["snr"] > 35
    # at 4x the rate on the same span: the analytic tone
    m = 4 * (n - 1) + 1
    t4 = np.arange(m) / (4 * sr)
    with torch.no_grad():
        y = f.sample((m,))[:, 0].double().numpy()
    assert snr(amp * np.sin(2 * np.pi * freq * t4), y) > 30
    # frequency and amplitude by least squares on a fine frequency grid
    freqs = np.arange(400.0, 480.0, 0.25)
    fits = [np.linalg.lstsq(np.stack([np.sin(2 * np.pi * q * t4), np.cos(2 * np.pi * q * t4)], 1), y, rcond=None)
            for q in freqs]
    best = int(np.argmin([r[1][0] for r in fits]))
    assert abs(freqs[best] - freq) <= 0.5
    assert abs(np.hypot(*fits[best][0]) - amp) < 0.01 * amp


def test_stereo_channels_first_and_last_fit_the_same_field():
    wave, sr = insp.data.audio("stereo", sample_rate=4000, duration=0.1)
    a, ha = insp.fit_audio(wave, sample_rate=sr, steps=4, window=256, overlap=16)
    b, _ = insp.fit_audio(wave.T, sample_rate=sr, steps=4, window=256, overlap=16, channel_axis=0)
    assert a.out_features == 2 and ha.config["windows"] == 2
    with torch.no_grad():
        torch.testing.assert_close(a.sample((400,)), b.sample((400,)))


def test_grouping_windows_does_not_change_the_fit():
    """Windows fitted 2 at a time (bounded memory) or all at once: the same members up to rounding."""
    wave, sr = insp.data.audio("chirp", sample_rate=8000, duration=0.2)
    kw = dict(sample_rate=sr, steps=15, window=256, overlap=32)
    a, ha = insp.fit_audio(wave, windows_per_step=2, **kw)
    b, _ = insp.fit_audio(wave, windows_per_step=16, **kw)
    assert ha.config["windows"] == 7
    with torch.no_grad():
        torch.testing.assert_close(a.sample((1600,)), b.sample((1600,)), rtol=1e-4, atol=1e-5)
    assert a.provenance.grid_shape == (1600,) and a.provenance.spacing == (1 / sr,)


def test_omega_for_bandwidth():
    # one unit of u is (window - 1) / 2 samples, i.e. (window - 1) / (2 sr) seconds
    assert omega_for_bandwidth(1000.0, 1025, 16000) == pytest.approx(2 * math.pi * 1000 * 1024 / 32000)


# --------------------------------------------------------------------------- operators against scipy

def test_operators_on_audio_match_scipy_on_the_sampled_signal():
    from scipy.ndimage import gaussian_filter1d

    from insp.units import sigma_to_pixels

    sr, n, omega = 100.0, 50, 7.0
    f = sine_windowed(n=n, sr=sr, omega=omega).double()
    t = np.arange(n) / sr
    wave = np.sin(omega * t)
    inner = slice(8, -8)
    # time derivative in seconds: np.gradient with the sample spacing, second order
    d = insp.ops.gradient(f).sample((n,))[:, 0].numpy()
    np.testing.assert_allclose(d, omega * np.cos(omega * t), atol=1e-9)
    fd = np.gradient(wave, 1 / sr)
    assert np.abs(fd - d)[inner].max() < (omega / sr) ** 2 / 6 * omega * 1.01  # FD truncation error bound
    # Gaussian smoothing: sigma in seconds -> samples with insp.units
    sigma = 0.02
    g = insp.ops.gaussian_blur(f, sigma=sigma, method="series", terms=4).sample((n,))[:, 0].numpy()
    closed = np.exp(-(sigma * omega) ** 2 / 2) * wave
    np.testing.assert_allclose(g, closed, atol=2e-6)
    s_px = sigma_to_pixels(sigma, (n,), domain=f.domain)[0]
    assert s_px == pytest.approx(2.0)
    np.testing.assert_allclose(gaussian_filter1d(wave, s_px, mode="mirror")[inner], g[inner], atol=1e-3)
    # sharpening undoes the blur to first order
    sh = insp.ops.sharpen(f, amount=sigma**2 / 2).sample((n,))[:, 0].numpy()
    np.testing.assert_allclose(sh, (1 + (sigma * omega) ** 2 / 2) * wave, atol=1e-9)


# --------------------------------------------------------------------------- metrics

def test_snr_and_si_sdr_closed_forms():
    t = np.arange(4000) / 4000
    r = np.sin(2 * np.pi * 13 * t)
    noise = np.cos(2 * np.pi * 29 * t)  # orthogonal to r, same power
    assert snr(r, r + 0.1 * noise) == pytest.approx(20.0)
    assert si_sdr(r, r + 0.1 * noise) == pytest.approx(20.0)
    assert si_sdr(r, r) == math.inf
    assert si_sdr(r, r + 5.0) > 250  # an offset is not a distortion (inf but for rounding)
    assert snr(r, 0.5 * r) == pytest.approx(20 * math.log10(2))
    with pytest.raises(ValueError, match="constant"):
        si_sdr(np.ones(10), np.arange(10.0))
    with pytest.raises(ValueError, match="same shape"):
        snr(r, r[:-1])


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(min_value=1e-3, max_value=1e3) | st.floats(min_value=-1e3, max_value=-1e-3),
       seed=st.integers(0, 1000))
def test_si_sdr_is_scale_invariant(scale, seed):
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(256)
    e = r + 0.3 * rng.standard_normal(256)
    assert si_sdr(r, scale * e) == pytest.approx(si_sdr(r, e), abs=1e-7)


# --------------------------------------------------------------------------- classical denoisers, benchmark helpers

def test_audio_baselines():
    from insp.baselines.audio import lowpass, savgol, spectral_subtraction, wiener

    sr = 16000
    t = np.arange(4000) / sr
    low, high = np.sin(2 * np.pi * 200 * t), 0.5 * np.sin(2 * np.pi * 6000 * t)
    out = lowpass(low + high, cutoff=1500.0, sample_rate=sr)
    assert snr(low[200:-200], out[200:-200]) > 40  # the 6 kHz tone is gone, the 200 Hz one kept
    ramp = np.linspace(0, 1, 50)  # the local mean of a line is the line
    np.testing.assert_allclose(wiener(ramp, size=5)[5:-5], ramp[5:-5], atol=1e-12)
    cubic = t**3
    np.testing.assert_allclose(savgol(cubic, window=11, polyorder=3), cubic, atol=1e-12)  # exact on cubics
    noise = np.random.default_rng(0).standard_normal(8000) * 0.1
    assert np.mean(spectral_subtraction(noise, sample_rate=sr) ** 2) < 0.5 * np.mean(noise**2)
    with pytest.raises(ValueError, match="mono"):
        wiener(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="cutoff"):
        lowpass(low, cutoff=9000.0, sample_rate=sr)
    with pytest.raises(ValueError, match="odd"):
        savgol(low, window=10)


def test_benchmark_noise_and_clip_split():
    from benchmarks import audio as bench

    clean = insp.data.audio("speech")[0][:16000]
    for level in bench.NOISE_SNRS:
        assert snr(clean, bench.add_noise(clean, level, seed=3)) == pytest.approx(level, abs=0.2)
    choose, test = bench.choosing_clips(), bench.test_clips()
    assert not set(choose) & set(test)
    speech = insp.data.audio("speech")[0]
    # the speech segments come from disjoint stretches of the utterance
    assert np.array_equal(choose["speech@0.5s"], speech[8000:12000])
    assert np.array_equal(test["speech@2s"], speech[32000:48000])


def test_time_limit_is_shared_out_and_reported():
    wave, sr = insp.data.audio("tones", sample_rate=4000, duration=0.3)
    f, h = insp.fit_audio(wave, sample_rate=sr, steps=10**6, window=256, overlap=16, windows_per_step=2,
                          time_limit=1.0)
    assert h.stopped == "time_limit" and h.wall_time < 20
    assert h.config["windows"] == 5 and len(h.member_psnr) == 5
    _, h = insp.fit_audio(wave, sample_rate=sr, steps=2, window=256, overlap=16, time_limit=60.0)
    assert h.stopped == "steps"


# --------------------------------------------------------------------------- saving, and the command line


@pytest.fixture(scope="module")
def clip_field():
    """A short stereo clip (3 windows at 8 kHz) fitted briefly: what `insp fit clip.wav` would save."""
    sr = 8000
    t = np.arange(2200) / sr
    wave = np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 700 * t + 1)], axis=1)
    with torch.random.fork_rng():
        field, _ = insp.fit_audio(wave, sample_rate=sr, steps=10, window=1024, overlap=64)
    return field, wave, sr


def test_windowed_field_save_load_is_bit_exact(clip_field, tmp_path):
    from insp.fields.io import read_header, verify

    field, _, _ = clip_field
    path = insp.save(field, tmp_path / "clip.inspf", metadata=dict(kind="audio"))
    back = insp.load(path)
    assert isinstance(back, WindowedField) and len(back.members) == len(field.members) == 3
    assert (back.num_samples, back.window, back.hop, back.sample_rate) == (field.num_samples, field.window,
                                                                            field.hop, field.sample_rate)
    x = torch.linspace(0, field.domain.bounds[0][1], 777)[:, None]
    with torch.no_grad():
        assert torch.equal(back(x), field(x))
    assert torch.equal(back.derivative_stack(x[:50], 2), field.derivative_stack(x[:50], 2))
    assert back.provenance == field.provenance
    header = read_header(path)
    assert header["architecture"] == "windowed" and header["member"]["architecture"] == "siren"
    assert header["metadata"] == dict(kind="audio") and verify(path)["verified"] == "header and payload"


def test_windowed_field_files_refuse_edits_and_mixed_members(clip_field, tmp_path):
    from insp.fields.io import FileFormatError

    field, _, _ = clip_field
    path = insp.save(field, tmp_path / "clip.inspf")
    raw = bytearray(path.read_bytes())
    at = raw.index(b'"members": 3')
    raw[at:at + 12] = b'"members": 2'  # a header that asks for another windowing: refused before any weight
    (tmp_path / "edited.inspf").write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="need 3 members, got 2"):
        insp.load(tmp_path / "edited.inspf")
    other = insp.Siren(1, 2, hidden_features=8, hidden_layers=1)
    mixed = WindowedField([other] + list(field.members)[1:], num_samples=field.num_samples, window=field.window,
                          hop=field.hop, sample_rate=field.sample_rate)
    with pytest.raises(TypeError, match="field.members must share one architecture"):
        insp.save(mixed, tmp_path / "mixed.inspf")
    with pytest.raises(TypeError, match="field.members must be registered"):
        insp.save(sine_windowed(), tmp_path / "analytic.inspf")
    # crafted headers with a valid digest: each refused as a file-format error, nothing built
    from insp.fields.io import read_container, write_container

    header, state = read_container(path, kind="insp-field")
    header = {k: v for k, v in header.items() if k not in ("tensors", "payload_bytes", "format_version")}
    for key, bad in (("member", []), ("member", dict(header["member"], architecture="windowed")),
                     ("config", dict(header["config"], members=10**9)), ("domain", "nowhere"),
                     ("config", dict(header["config"], sample_rate=-1.0))):
        write_container(tmp_path / "crafted.inspf", dict(header, **{key: bad}), state)
        with pytest.raises(FileFormatError):
            insp.load(tmp_path / "crafted.inspf")
    assert not (tmp_path / "mixed.inspf").exists() and not (tmp_path / "analytic.inspf").exists()


def test_cli_fits_renders_and_describes_a_wav_clip(tmp_path, capsys):
    from insp.cli import main

    sr = 8000
    t = np.arange(1500) / sr
    write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 300 * t), sr)
    out = tmp_path / "tone.inspf"
    assert main(["fit", str(tmp_path / "tone.wav"), "-o", str(out), "--steps", "60", "--quiet"]) == 0
    assert "SNR" in capsys.readouterr().out
    field = insp.load(out)
    assert isinstance(field, WindowedField) and field.sample_rate == sr
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "windowed: 2 x siren" in info and "sample_rate   8000" in info
    # at the clip's own rate the WAV is the field on its samples (int16 rounding apart)
    assert main(["render", str(out), "-o", str(tmp_path / "same.wav")]) == 0
    same, rate = read_wav(tmp_path / "same.wav")
    with torch.no_grad():
        want = field(torch.arange(1500, dtype=torch.float64)[:, None].float() / sr)[:, 0].double().numpy()
    assert rate == sr and same.shape == (1500,)
    np.testing.assert_allclose(same, want, atol=1 / 32768 + 1e-7)
    # another rate resamples: 2x the rate, 2x - 1 samples over the same span
    assert main(["render", str(out), "-o", str(tmp_path / "up.wav"), "--rate", "16000"]) == 0
    up, rate = read_wav(tmp_path / "up.wav")
    assert rate == 16000 and up.shape == (2999,)
    np.testing.assert_allclose(up[::2], same, atol=2 / 32768)
    # a low-pass through the command line is the library's Gaussian blur of the field (sigma 2 samples),
    # sampled at the clip's rate
    assert main(["apply", "gaussian-blur", str(out), "-o", str(tmp_path / "blur.wav"), "--sigma-px", "2"]) == 0
    blurred, rate = read_wav(tmp_path / "blur.wav")
    with torch.no_grad():
        t_s = torch.arange(1500, dtype=torch.float64)[:, None].float() / sr
        lib = insp.ops.gaussian_blur(field, sigma=2.0 / sr)(t_s)[:, 0].double().numpy()
    assert rate == sr and blurred.shape == (1500,)
    np.testing.assert_allclose(blurred, lib, atol=1 / 32768 + 1e-6)
    assert np.abs(np.diff(blurred, 2)).mean() < 0.9 * np.abs(np.diff(same, 2)).mean()  # it is smoother
    # the shipped audio denoiser through the command line is insp.learned.denoise_audio of the field
    capsys.readouterr()
    assert main(["apply", "denoise", str(out), "-o", str(tmp_path / "clean.wav")]) == 0
    assert "noise sigma" in capsys.readouterr().out
    cleaned, rate = read_wav(tmp_path / "clean.wav")
    with torch.no_grad():
        lib = insp.learned.denoise_audio(field)(t_s)[:, 0].double().numpy()
    assert rate == sr and cleaned.shape == (1500,)
    np.testing.assert_allclose(cleaned, lib, atol=1 / 32768 + 1e-6)
    capsys.readouterr()
    for argv, message in ((["render", str(out), "-o", str(tmp_path / "x.png")], "renders to a .wav"),
                          (["render", str(out), "-o", str(tmp_path / "x.wav"), "--size", "4", "4"],
                           "--size is for images"),
                          (["apply", "laplacian", str(out), "-o", str(tmp_path / "x.wav")], "works on images"),
                          (["apply", "gaussian-blur", str(out), "-o", str(tmp_path / "x.wav")], "--sigma-px")):
        assert main(argv) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
