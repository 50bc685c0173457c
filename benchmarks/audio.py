"""Audio as a field: the omega sweep behind the defaults, fit SNR and time, resampling, operators, jet cost, denoising.

Parts (``--parts``, all by default):

``sweep``
    Chooses :data:`insp.fields.AUDIO_DEFAULTS` ``first_omega_hz`` and
    ``hidden_features`` by what the field does *between* the samples: each
    candidate fits the even samples (8 kHz) of the *choosing* clips (0.25 s
    at 16 kHz: a chirp segment from 1 s, the tone chord, speech from 0.50 s)
    for a fixed number of steps and is scored on the odd samples it never
    saw (held-out SNR; mean and worst case), beside its SNR at the fitted
    samples and ``scipy.signal.resample_poly`` on the same task.  The
    scoring clips below never take part in it.
``fit``
    The defaults on the *scoring* clips: speech (the whole 4 s utterance, its
    first 1 s, and a 10 s clip that repeats it), the AM tone, the stereo mix:
    SNR (dB), seconds, seconds per second of audio, parameters per sample.
``resample``
    A tone sum band-limited below 3.4 kHz, sampled at 8 kHz, fitted, and the
    field sampled at 16 kHz on the same time span against the analytic 16 kHz
    signal; baselines ``scipy.signal.resample`` (FFT) and
    ``scipy.signal.resample_poly`` (polyphase FIR) of the 8 kHz samples, over
    the whole clip and its interior (50 ms from each end).
``operators``
    A field fitted to a tone sum (1 s at 8 kHz): time derivative, Gaussian
    smoothing (``method="auto"``: lattice quadrature on a grid; and the heat
    series with its convergence check switched off) and sharpening, sampled
    on the grid, against
    ``scipy.ndimage.gaussian_filter1d`` / ``np.gradient`` / the analytic
    result, with ``insp.units`` converting sigma from seconds to samples.
``jet``
    Seconds for the Taylor-mode jet of order 4 of one SIREN (128 wide, 3
    hidden layers) at 4096 points, 1-D input against 2-D input (median of 5).

``denoise``
    White Gaussian noise at 10 and 20 dB input SNR (seeded) on the *test*
    clips (speech 1 s from 2.0 s, the chirp's first 0.5 s, the AM tone):
    the INR fitted to the noisy clip with the defaults (its own smoothness is
    the denoiser), that INR smoothed by ``insp.ops.gaussian_blur``, an
    INSP-Net (:data:`INSPNET`: an MLP on the order-4 jet, residual) trained
    on the INRs of the noisy *choosing* clips (both levels) to give the clean
    samples, the shipped denoiser :func:`insp.learned.denoise_audio` (a
    stencil of the field's values; trained by
    ``benchmarks/train_audio_denoiser.py`` on :func:`training_clips`), and the
    classical :mod:`insp.baselines.audio` denoisers (Wiener, Butterworth
    low-pass, Savitzky-Golay, spectral subtraction).  Every parameter (blur
    sigma, filter sizes, cutoffs) is chosen per noise level on the choosing
    clips, never on the test clips.  SNR and SI-SDR (dB) per clip, mean and
    worst case, beside the input's.

``denoise-drawn``
    The shipped denoiser on 16 clips nobody chose (:func:`drawn_test_clips`:
    drawn kinds, lengths 0.25-1 s and input SNRs 5-25 dB, seed
    :data:`DRAWN_TEST_SEED`) against each classical filter with its
    parameters chosen per clip on the clean clip (an oracle): SI-SDR gain
    mean, median, 10th percentile and worst, and the per-clip margin.

``figure`` (only when named)
    ``docs/img/audio_denoise.png``: waveform (30 ms) and spectrogram of the
    clean test speech, the noisy input (10 dB), the INR fitted to it, the
    insp denoiser and the Wiener filter; writes the five as WAV files under
    ``--wav-dir`` (default ``out/audio``) to listen to.

Torch runs on one thread (``--threads``) so that the timings do not depend on
what else shares the machine's two cores as much.  Prints a table per part
and writes ``benchmarks/results/audio.json`` with the run metadata.

Usage::

    python -m benchmarks.audio                     # ~10 min on a shared 2-core machine
    python -m benchmarks.audio --quick             # smoke run, ~1 min
    python -m benchmarks.audio --parts jet,resample
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import insp
from insp.metrics import snr
from insp.tasks import add_noise_at_snr
from insp.runinfo import load_average, run_metadata

HERE = Path(__file__).resolve().parent
PARTS = ("sweep", "fit", "resample", "operators", "jet", "denoise", "denoise-drawn")
#: parts run only when named (they write files beside the numbers)
EXTRA_PARTS = ("figure",)

#: the candidates of the sweep: (hidden_features, first_omega_hz)
SWEEP = ((64, 60.0), (64, 125.0), (64, 250.0), (64, 500.0), (64, 1000.0), (64, 2000.0), (128, 125.0),
         (128, 250.0), (128, 1000.0))


def choosing_clips(sample_rate: int = 16000, seconds: float = 0.25) -> dict[str, np.ndarray]:
    """The clips the sweep chooses on (never scored): chirp from 1 s, the tone chord, speech from 0.5 s."""
    n = int(seconds * sample_rate)
    chirp, _ = insp.data.audio("chirp", sample_rate=sample_rate, duration=2.0)
    tones, _ = insp.data.audio("tones", sample_rate=sample_rate, duration=seconds)
    speech, _ = insp.data.audio("speech", sample_rate=sample_rate)
    s0 = int(0.5 * sample_rate)
    return {"chirp@1s": chirp[sample_rate:sample_rate + n], "tones": tones, "speech@0.5s": speech[s0:s0 + n]}


def scoring_clips(sample_rate: int = 16000, *, quick: bool = False) -> dict[str, np.ndarray]:
    """Clips the defaults are scored on."""
    out = {}
    speech, _ = insp.data.audio("speech", sample_rate=sample_rate)
    out["speech 1 s"] = speech[:sample_rate]
    if not quick:
        out["speech 4 s"] = speech
        out["speech 10 s"], _ = insp.data.audio("speech", sample_rate=sample_rate, duration=10.0)
    out["am 1 s"], _ = insp.data.audio("am", sample_rate=sample_rate, duration=1.0)
    out["stereo 1 s"], _ = insp.data.audio("stereo", sample_rate=sample_rate, duration=1.0)
    return out


def _params_per_sample(field) -> float:
    return sum(p.numel() for p in field.parameters()) / field.num_samples


def part_sweep(*, steps: int, quick: bool) -> dict:
    from scipy.signal import resample_poly

    clips = choosing_clips()
    rows = []
    candidates = SWEEP[::3] if quick else SWEEP
    base = [snr(w[1::2][: w.shape[0] // 2 - 1], resample_poly(w[0::2], 2, 1)[1::2][: w.shape[0] // 2 - 1])
            for w in clips.values()]
    print(f"  resample_poly held-out SNR: {', '.join(f'{b:.1f}' for b in base)} dB (mean {np.mean(base):.2f})")
    for width, hz in candidates:
        fit_snr, held, secs = [], [], 0.0
        for wave in clips.values():
            even, odd = wave[0::2], wave[1::2]
            t0 = time.perf_counter()
            f, h = insp.fit_audio(even, sample_rate=8000, steps=steps, first_omega_hz=hz, hidden_features=width)
            secs += time.perf_counter() - t0
            m = 2 * even.shape[0] - 1
            with torch.no_grad():
                between = f.sample((m,))[1::2, 0].double().numpy()
            fit_snr.append(h.config["snr"])
            held.append(snr(odd[: between.shape[0]], between))
        rows.append(dict(hidden_features=width, first_omega_hz=hz, fit_snr=dict(zip(clips, fit_snr)),
                         held_out_snr=dict(zip(clips, held)), mean_held_out=float(np.mean(held)),
                         worst_held_out=float(np.min(held)), mean_fit=float(np.mean(fit_snr)), seconds=secs,
                         params_per_sample=_params_per_sample(f)))
        print(f"  width {width:3d}  omega {hz:6.0f} Hz  held-out SNR mean {rows[-1]['mean_held_out']:6.2f} worst "
              f"{rows[-1]['worst_held_out']:6.2f} ({', '.join(f'{s:.1f}' for s in held)})  at the samples "
              f"{rows[-1]['mean_fit']:6.2f} dB  {secs:5.1f} s", flush=True)
    best = max(rows, key=lambda r: (r["worst_held_out"], r["mean_held_out"]))
    print(f"  best by worst held-out SNR: width {best['hidden_features']}, {best['first_omega_hz']:.0f} Hz")
    return dict(clips=list(clips), steps=steps, rows=rows, resample_poly_held_out=dict(zip(clips, base)),
                best=dict(hidden_features=best["hidden_features"], first_omega_hz=best["first_omega_hz"]))


def part_fit(*, quick: bool) -> dict:
    rows = []
    for name, wave in scoring_clips(quick=quick).items():
        t0 = time.perf_counter()
        f, h = insp.fit_audio(wave, sample_rate=16000)
        secs = time.perf_counter() - t0
        seconds_audio = wave.shape[0] / 16000
        rows.append(dict(clip=name, seconds_audio=seconds_audio, snr=h.config["snr"], seconds=secs,
                         seconds_per_audio_second=secs / seconds_audio, windows=h.config["windows"],
                         params_per_sample=_params_per_sample(f), channels=h.config["channels"]))
        print(f"  {name:12s}  SNR {h.config['snr']:6.2f} dB  {secs:7.1f} s  ({secs / seconds_audio:5.1f} s per s, "
              f"{h.config['windows']} windows, {rows[-1]['params_per_sample']:.2f} params/sample)", flush=True)
    return dict(defaults=dict(insp.fields.AUDIO_DEFAULTS), rows=rows)


def band_limited(t: np.ndarray) -> np.ndarray:
    """A tone sum with every partial below 3.4 kHz (fits under the 4 kHz Nyquist of 8 kHz sampling)."""
    freqs = (311.3, 742.9, 1333.7, 2207.1, 3371.9)  # not whole cycles over the clip: no periodic shortcut
    return sum(0.18 * np.sin(2 * np.pi * f * t + 0.7 * k) for k, f in enumerate(freqs))


def part_resample() -> dict:
    from scipy.signal import resample, resample_poly

    n = 4000  # 0.5 s at 8 kHz
    t8 = np.arange(n) / 8000
    x8 = band_limited(t8)
    f, h = insp.fit_audio(x8, sample_rate=8000)
    m = 2 * n - 1  # same span [0, (n - 1) / 8000] at 16 kHz
    t16 = np.arange(m) / 16000
    truth = band_limited(t16)
    with torch.no_grad():
        ours = f.sample((m,))[:, 0].double().numpy()
    fft = resample(x8, 2 * n)[:m]  # periodic FFT resampling: its grid starts at t = 0 with step 1 / 16000
    poly = resample_poly(x8, 2, 1)[:m]  # polyphase FIR (Kaiser window), zero-padded ends
    inner = slice(800, -800)  # 50 ms from each end
    rows = dict(fit_snr_8k=h.config["snr"])
    for name, y in (("inr", ours), ("fft", fft), ("poly", poly)):
        rows[f"{name}_snr_16k"] = snr(truth, y)
        rows[f"{name}_snr_16k_interior"] = snr(truth[inner], y[inner])
    print("  " + "  ".join(f"{k} {v:.2f} dB" for k, v in rows.items()), flush=True)
    return rows


def part_operators() -> dict:
    from scipy.ndimage import gaussian_filter1d

    from insp.units import sigma_to_pixels

    sr, n = 8000, 8000
    t = np.arange(n) / sr
    freqs, amps = (110.0, 220.0, 440.0), (0.4, 0.3, 0.2)
    wave = sum(a * np.sin(2 * np.pi * fr * t) for a, fr in zip(amps, freqs))
    deriv = sum(a * 2 * np.pi * fr * np.cos(2 * np.pi * fr * t) for a, fr in zip(amps, freqs))
    f, h = insp.fit_audio(wave, sample_rate=sr)
    inner = slice(200, n - 200)  # away from the clip's ends (the baselines' boundary modes differ)
    out = dict(fit_snr=h.config["snr"])
    with torch.no_grad():
        d_inr = insp.ops.gradient(f).sample((n,))[:, 0].double().numpy()
    d_fd = np.gradient(wave, 1.0 / sr)
    out["derivative_snr_inr"] = snr(deriv[inner], d_inr[inner])
    out["derivative_snr_np_gradient"] = snr(deriv[inner], d_fd[inner])
    sigma = 0.25e-3  # seconds: 2 samples at 8 kHz
    sigma_px = sigma_to_pixels(sigma, (n,), domain=f.domain)[0]
    blurred = sum(a * np.exp(-((2 * np.pi * fr * sigma) ** 2) / 2) * np.sin(2 * np.pi * fr * t)
                  for a, fr in zip(amps, freqs))
    with torch.no_grad():
        g_inr = insp.ops.gaussian_blur(f, sigma=sigma, method="auto").sample((n,))[:, 0].double().numpy()
        g_series = insp.ops.gaussian_blur(f, sigma=sigma, method="series", terms=3,
                                          on_invalid="ignore").sample((n,))[:, 0].double().numpy()
    g_nd = gaussian_filter1d(wave, sigma_px, mode="mirror")
    out.update(sigma_samples=sigma_px, blur_snr_inr=snr(blurred[inner], g_inr[inner]),
               blur_snr_ndimage=snr(blurred[inner], g_nd[inner]), blur_inr_vs_ndimage=snr(g_nd[inner], g_inr[inner]),
               blur_snr_inr_series_unchecked=snr(blurred[inner], g_series[inner]))
    amount = sigma**2 / 2
    sharp = sum(a * (1 + amount * (2 * np.pi * fr) ** 2) * np.sin(2 * np.pi * fr * t) for a, fr in zip(amps, freqs))
    with torch.no_grad():
        s_inr = insp.ops.sharpen(f, amount=amount).sample((n,))[:, 0].double().numpy()
    lap_fd = np.gradient(np.gradient(wave, 1.0 / sr), 1.0 / sr)
    out.update(sharpen_snr_inr=snr(sharp[inner], s_inr[inner]),
               sharpen_snr_fd=snr(sharp[inner], (wave - amount * lap_fd)[inner]))
    print("  " + "  ".join(f"{k} {v:.2f}" for k, v in out.items()), flush=True)
    return out



def _timings(fn, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times[1:]

def part_jet(*, points: int = 4096, repeats: int = 5) -> dict:
    from insp.jet import jet

    out = {}
    for d in (1, 2):
        f = insp.Siren(d, 1, hidden_features=128, hidden_layers=3, seed=0)
        x = torch.rand(points, d, generator=torch.Generator().manual_seed(0)) * 2 - 1
        with torch.no_grad():
            times = _timings(lambda: jet(f, x, order=4, jet_method="taylor"), repeats)
        out[f"{d}d"] = dict(median=float(np.median(times)), min=float(np.min(times)), max=float(np.max(times)),
                            partials=len(insp.jet.multi_indices(d, 4)))
    out["ratio_2d_over_1d"] = out["2d"]["median"] / out["1d"]["median"]
    # the windowed field of fit_audio (members of the default size): its own derivative_stack
    d = insp.fields.AUDIO_DEFAULTS
    members = [insp.Siren(1, 1, hidden_features=d["hidden_features"], hidden_layers=d["hidden_layers"],
                          first_omega_0=50.0, seed=k) for k in range(5)]
    w = insp.WindowedField(members, num_samples=4096, window=d["window"], hop=d["window"] - d["overlap"],
                           sample_rate=16000.0)
    x = w.domain.grid((points,)).reshape(-1, 1)
    times = _timings(lambda: jet(w, x, order=4, create_graph=False), repeats)
    member = insp.Siren(1, 1, hidden_features=d["hidden_features"], hidden_layers=d["hidden_layers"], seed=0)
    with torch.no_grad():
        mtimes = _timings(lambda: jet(member, x, order=4, jet_method="taylor"), repeats)
    out["windowed_1d"] = dict(median=float(np.median(times)), min=float(np.min(times)),
                              max=float(np.max(times)), taylor_one_member=float(np.median(mtimes)))
    print(f"  order-4 jet at {points} points: 1-D {out['1d']['median'] * 1e3:.1f} ms ({out['1d']['partials']} partials), "
          f"2-D {out['2d']['median'] * 1e3:.1f} ms ({out['2d']['partials']} partials): 2-D/1-D "
          f"{out['ratio_2d_over_1d']:.2f}x; windowed field (default members, native jet) "
          f"{out['windowed_1d']['median'] * 1e3:.1f} ms, one such member by Taylor mode "
          f"{out['windowed_1d']['taylor_one_member'] * 1e3:.1f} ms", flush=True)
    return out


NOISE_SNRS = (10.0, 20.0)


def test_clips(sample_rate: int = 16000) -> dict[str, np.ndarray]:
    """Denoising test clips (disjoint from :func:`choosing_clips`)."""
    speech, _ = insp.data.audio("speech", sample_rate=sample_rate)
    chirp, _ = insp.data.audio("chirp", sample_rate=sample_rate, duration=0.5)
    am, _ = insp.data.audio("am", sample_rate=sample_rate, duration=0.5)
    return {"speech@2s": speech[2 * sample_rate:3 * sample_rate], "chirp@0s": chirp, "am": am}


def synthetic_clip(rng: np.random.Generator, n: int, sample_rate: int = 16000) -> tuple[str, np.ndarray]:
    """One drawn clip of ``n`` samples: a tone sum, an AM tone or a chirp with random parameters."""
    from scipy.signal import chirp

    t = np.arange(n) / sample_rate
    kind = ("tones", "am", "chirp")[int(rng.integers(3))]
    if kind == "tones":
        k = int(rng.integers(1, 6))
        f, a, p = rng.uniform(80, 3000, k), rng.uniform(0.05, 0.4, k), rng.uniform(0, 2 * np.pi, k)
        return kind, np.sum(a[:, None] * np.sin(2 * np.pi * f[:, None] * t + p[:, None]), axis=0)
    if kind == "am":
        fc, fm, depth = rng.uniform(150, 2500), rng.uniform(1, 20), rng.uniform(0.3, 0.9)
        return kind, 0.4 * (1 + depth * np.sin(2 * np.pi * fm * t)) / (1 + depth) * np.sin(2 * np.pi * fc * t)
    f0, f1 = rng.uniform(50, 1000), rng.uniform(500, 6000)
    return kind, 0.4 * chirp(t, f0=f0, t1=t[-1], f1=f1, method="linear")


#: seeds of the drawn clips: training (benchmarks/train_audio_denoiser.py), the drawn test set, and the
#: validation set that chooses between training recipes, all apart
TRAIN_SEED, DRAWN_TEST_SEED, VALIDATION_SEED = 1000, 2000, 4000


def training_clips(sample_rate: int = 16000, *, synthetic: int = 8) -> dict[str, np.ndarray]:
    """The learned denoiser's training clips: disjoint from :func:`test_clips` and the drawn test set.

    Speech 0-2 s and 3-4 s (the test segment is 2-3 s), the chirp from 1 s
    to 4 s (the test clip is its first 0.5 s), the tone chord, and
    ``synthetic`` drawn clips of 0.5 s (seed :data:`TRAIN_SEED`).
    """
    sr = sample_rate
    speech, _ = insp.data.audio("speech", sample_rate=sr)
    chirp, _ = insp.data.audio("chirp", sample_rate=sr, duration=4.0)
    tones, _ = insp.data.audio("tones", sample_rate=sr, duration=0.5)
    out = {"speech 0-2 s": speech[:2 * sr], "speech 3-4 s": speech[3 * sr:], "chirp 1-4 s": chirp[sr:],
           "tones": tones}
    rng = np.random.default_rng(TRAIN_SEED)
    for i in range(synthetic):
        kind, wave = synthetic_clip(rng, sr // 2, sr)
        out[f"drawn {kind} #{i}"] = wave
    return out


def add_noise(wave: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``wave`` plus white Gaussian noise of power ``mean(wave^2) / 10^(snr_db / 10)``."""
    return add_noise_at_snr(wave, snr_db=snr_db, seed=seed)


#: classical candidates: name -> list of keyword sets (chosen on the choosing clips)
BASELINE_GRID = {
    "wiener": [dict(size=k) for k in (3, 5, 9, 15, 25)],
    "lowpass": [dict(cutoff=c, sample_rate=16000) for c in (1500.0, 2500.0, 4000.0, 6000.0)],
    "savgol": [dict(window=w, polyorder=3) for w in (7, 11, 21, 41)],
    "spectral_subtraction": [dict(sample_rate=16000, over=o, noise_quantile=q) for o in (1.0, 2.0)
                             for q in (0.05, 0.2)],
}
#: blur sigmas of the INR contender, in samples at 16 kHz
BLUR_SAMPLES = (0.5, 1.0, 2.0)


#: the INSP-Net audio denoiser: one network for both noise levels, on the jet of order 4 (in seconds)
INSPNET = dict(order=4, dim=1, hidden_features=64, hidden_layers=3, activation="silu", residual=True, seed=0)
INSPNET_TRAIN = dict(steps=1500, lr=2e-3, batch_size=2048, seed=0)


def _grid_jet(field, n: int, order: int) -> torch.Tensor:
    from insp.jet import jet

    x = field.domain.grid((n,)).reshape(-1, 1)
    return jet(field, x, order=order, create_graph=False).values.double()


def _inr_outputs(noisy: np.ndarray, sigmas_s, net=None) -> tuple[dict[str, np.ndarray], object]:
    f, _ = insp.fit_audio(noisy, sample_rate=16000)
    n = noisy.shape[0]
    out = {}
    with torch.no_grad():
        out["inr"] = f.sample((n,))[:, 0].double().numpy()
        for s in sigmas_s:
            g = insp.ops.gaussian_blur(f, sigma=s, method="auto")
            out[f"inr+blur({s * 16000:g} samples)"] = g.sample((n,))[:, 0].double().numpy()
        if net is not None:
            out["inspnet"] = net(_grid_jet(f, n, net.order).to(torch.float32))[:, 0].double().numpy()
        t0 = time.perf_counter()
        out["insp denoiser"] = insp.learned.denoise_audio(f).sample((n,))[:, 0].double().numpy()
        out["insp denoiser seconds"] = time.perf_counter() - t0
    return out, f


def train_inspnet(fields_and_clean, *, steps: int):
    """An :class:`~insp.learned.INSPNet` from (INR of a noisy clip, clean clip) pairs: jets at the samples -> clean."""
    from insp.learned import INSPNet, train_operator

    net = INSPNet(**INSPNET)
    values = torch.cat([_grid_jet(f, c.shape[0], net.order) for f, c in fields_and_clean]).to(torch.float32)
    targets = torch.cat([torch.as_tensor(c, dtype=torch.float32)[:, None] for _, c in fields_and_clean])
    hist = train_operator(net, values, targets, **{**INSPNET_TRAIN, "steps": steps}, progress=False)
    net.eval()
    return net, hist


def part_denoise(*, quick: bool) -> dict:
    from insp.baselines.audio import AUDIO_DENOISERS
    from insp.metrics import si_sdr

    res = {}
    choose = choosing_clips()
    test = test_clips()
    if quick:
        test = dict(list(test.items())[:1])
        choose = dict(list(choose.items())[:1])
    sigmas = [b / 16000 for b in BLUR_SAMPLES]
    chosen, blur_best, pairs = {}, {}, []
    for level in NOISE_SNRS:
        # --- choose every parameter, and collect the operator's training pairs, on the choosing clips
        chosen[level] = {}
        noisy_c = {k: add_noise(w, level, seed=100 + i) for i, (k, w) in enumerate(choose.items())}
        for name, grid in BASELINE_GRID.items():
            scores = [np.mean([si_sdr(choose[k], AUDIO_DENOISERS[name](noisy_c[k], **kw)) for k in choose])
                      for kw in grid]
            chosen[level][name] = grid[int(np.argmax(scores))]
        inr_c = {}
        for k, v in noisy_c.items():
            inr_c[k], field = _inr_outputs(v, sigmas)
            pairs.append((field, choose[k]))
        blur_names = [n for n in next(iter(inr_c.values())) if n.startswith("inr+blur")]
        blur_best[level] = max(blur_names, key=lambda n: np.mean([si_sdr(choose[k], inr_c[k][n]) for k in choose]))
    net, hist = train_inspnet(pairs, steps=200 if quick else INSPNET_TRAIN["steps"])
    print(f"  INSP-Net trained on {sum(c.shape[0] for _, c in pairs)} samples of the choosing clips in "
          f"{hist.wall_time:.1f} s (final loss {hist.loss[-1]:.3g})", flush=True)
    res["inspnet"] = dict(config=INSPNET, train=INSPNET_TRAIN, seconds=hist.wall_time, final_loss=hist.loss[-1])
    for level in NOISE_SNRS:
        # --- score on the test clips
        rows = {}
        for i, (k, clean) in enumerate(test.items()):
            noisy = add_noise(clean, level, seed=i)
            outs = {"input": noisy}
            inr_outs, _ = _inr_outputs(noisy, sigmas, net)
            outs.update({n: v for n, v in inr_outs.items() if n in ("inr", blur_best[level], "inspnet",
                                                                    "insp denoiser")})
            for name, kw in chosen[level].items():
                outs[name] = AUDIO_DENOISERS[name](noisy, **kw)
            rows[k] = {n: dict(snr=snr(clean, y), si_sdr=si_sdr(clean, y)) for n, y in outs.items()}
        methods = list(next(iter(rows.values())))
        summary = {m: dict(mean_si_sdr=float(np.mean([rows[k][m]["si_sdr"] for k in rows])),
                           worst_si_sdr=float(np.min([rows[k][m]["si_sdr"] for k in rows])),
                           mean_snr=float(np.mean([rows[k][m]["snr"] for k in rows]))) for m in methods}
        base = summary["input"]["mean_si_sdr"]
        print(f"  input SNR {level:.0f} dB (parameters: {chosen[level]}, blur {blur_best[level]})")
        for m in methods:
            r = summary[m]
            print(f"    {m:28s} SI-SDR mean {r['mean_si_sdr']:6.2f} (gain {r['mean_si_sdr'] - base:+6.2f}) worst "
                  f"{r['worst_si_sdr']:6.2f}  SNR mean {r['mean_snr']:6.2f}  per clip "
                  + ", ".join(f"{rows[k][m]['si_sdr']:.1f}" for k in rows), flush=True)
        res[f"{level:g}dB"] = dict(chosen=chosen[level], blur=blur_best[level], per_clip=rows, summary=summary)
    res["test_clips"] = list(test)
    res["choosing_clips"] = list(choose)
    return res


def drawn_clips(count: int, *, seed: int, speech: np.ndarray, sample_rate: int = 16000) -> list[dict]:
    """Clips nobody chose: drawn kinds, lengths and input SNRs.

    Each is a synthetic clip (:func:`synthetic_clip`) or a stretch of
    ``speech`` (a random start and length), 0.25-1 s long, with white noise
    at an input SNR drawn from 5 to 25 dB.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = int(rng.integers(sample_rate // 4, sample_rate + 1))
        if rng.random() < 0.35:
            start = int(rng.integers(0, speech.size - n + 1))
            kind, wave = "speech", speech[start:start + n]
        else:
            kind, wave = synthetic_clip(rng, n, sample_rate)
        level = float(rng.uniform(5.0, 25.0))
        out.append(dict(kind=kind, seconds=n / sample_rate, input_snr_db=level, clean=wave,
                        noisy=add_noise(wave, level, seed=int(rng.integers(2**31)))))
    return out


def drawn_test_clips(count: int, sample_rate: int = 16000) -> list[dict]:
    """:func:`drawn_clips` of the speech test segment (2-3 s), seed :data:`DRAWN_TEST_SEED`: scoring only."""
    speech, _ = insp.data.audio("speech", sample_rate=sample_rate)
    return drawn_clips(count, seed=DRAWN_TEST_SEED, speech=speech[2 * sample_rate:3 * sample_rate],
                       sample_rate=sample_rate)


def validation_clips(count: int, sample_rate: int = 16000) -> list[dict]:
    """:func:`drawn_clips` of the training speech (0-2 s), seed :data:`VALIDATION_SEED`: for choosing between
    training recipes, never for scoring."""
    speech, _ = insp.data.audio("speech", sample_rate=sample_rate)
    return drawn_clips(count, seed=VALIDATION_SEED, speech=speech[:2 * sample_rate], sample_rate=sample_rate)


def part_denoise_drawn(*, quick: bool, count: int = 16) -> dict:
    """The shipped denoiser on :func:`drawn_test_clips`, against each classical filter *tuned on the clip itself*.

    Each baseline gets the best of its whole parameter grid per clip (an
    oracle, measured against the clean clip), so the comparison favours the
    classical side; the insp denoiser has no parameter.
    """
    from insp.baselines.audio import AUDIO_DENOISERS
    from insp.metrics import si_sdr

    clips = drawn_test_clips(3 if quick else count)
    rows = []
    for i, c in enumerate(clips):
        clean, noisy = c["clean"], c["noisy"]
        f, _ = insp.fit_audio(noisy, sample_rate=16000)
        with torch.no_grad():
            inr = f.sample((clean.shape[0],))[:, 0].double().numpy()
            ours = insp.learned.denoise_audio(f).sample((clean.shape[0],))[:, 0].double().numpy()
        row = dict(kind=c["kind"], seconds=c["seconds"], input_snr_db=c["input_snr_db"],
                   si_sdr={"input": si_sdr(clean, noisy), "inr": si_sdr(clean, inr), "insp denoiser": si_sdr(clean, ours)})
        for name, grid in BASELINE_GRID.items():
            row["si_sdr"][name + " (oracle)"] = max(si_sdr(clean, AUDIO_DENOISERS[name](noisy, **kw)) for kw in grid)
        rows.append(row)
        print(f"  #{i:2d} {c['kind']:6s} {c['seconds']:.2f} s input {c['input_snr_db']:5.1f} dB: "
              + ", ".join(f"{k} {v:.1f}" for k, v in row["si_sdr"].items()), flush=True)
    methods = list(rows[0]["si_sdr"])
    gains = {m: np.array([r["si_sdr"][m] - r["si_sdr"]["input"] for r in rows]) for m in methods}
    best_classical = np.array([max(r["si_sdr"][m] for m in methods if m.endswith("(oracle)")) for r in rows])
    margin = np.array([r["si_sdr"]["insp denoiser"] for r in rows]) - best_classical
    summary = {m: dict(mean_gain=float(g.mean()), worst_gain=float(g.min()), median_gain=float(np.median(g)),
                       p10_gain=float(np.percentile(g, 10))) for m, g in gains.items()}
    summary["insp denoiser - best oracle classical"] = dict(
        mean=float(margin.mean()), worst=float(margin.min()), median=float(np.median(margin)),
        clips_ahead=int((margin > 0).sum()), clips=len(rows))
    print("  SI-SDR gain over the input (dB): mean / median / 10th percentile / worst")
    for m in methods[1:]:
        r = summary[m]
        print(f"    {m:36s} {r['mean_gain']:6.2f} / {r['median_gain']:6.2f} / {r['p10_gain']:6.2f} / "
              f"{r['worst_gain']:6.2f}")
    r = summary["insp denoiser - best oracle classical"]
    print(f"  insp denoiser minus the best oracle-tuned classical filter per clip: mean {r['mean']:+.2f}, median "
          f"{r['median']:+.2f}, worst {r['worst']:+.2f} dB; ahead on {r['clips_ahead']} of {r['clips']} clips",
          flush=True)
    return dict(rows=rows, summary=summary, seed=DRAWN_TEST_SEED)


def part_figure(*, wav_dir: Path, png: Path) -> dict:
    from insp.audioio import write_wav
    from insp.baselines.audio import wiener
    from insp.demo.audio import audio_panels

    sr = 16000
    clean = test_clips()["speech@2s"]
    noisy = add_noise(clean, 10.0, seed=0)
    f, h = insp.fit_audio(noisy, sample_rate=sr)
    with torch.no_grad():
        inr = f.sample((clean.shape[0],))[:, 0].double().numpy()
        ours = insp.learned.denoise_audio(f).sample((clean.shape[0],))[:, 0].double().numpy()
    panels = {"clean": clean, "noisy (10 dB)": noisy, "INR of the noisy clip": inr, "insp denoiser": ours,
              "Wiener (size 5)": wiener(noisy)}
    scores = audio_panels(panels, clean, sr, png)
    wavs = {}
    for name, y in panels.items():
        key = name.split(" (")[0].split(" of ")[0].replace(" ", "_").lower()
        wavs[key] = str(write_wav(wav_dir / f"{key}.wav", np.clip(y, -1, 1), sr))
    print(f"  wrote {png} and {len(wavs)} WAV files under {wav_dir}; SI-SDR "
          + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()), flush=True)
    return dict(png=str(png), wavs=wavs, si_sdr=scores, fit_snr_of_noisy=h.config["snr"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.audio", description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--quick", action="store_true", help="smoke run: fewer candidates and clips")
    p.add_argument("--sweep-steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--wav-dir", type=Path, default=Path("out/audio"))
    p.add_argument("--png", type=Path, default=HERE.parent / "docs" / "img" / "audio_denoise.png")
    args = p.parse_args(argv)
    parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    bad = [s for s in parts if s not in PARTS + EXTRA_PARTS]
    if bad:
        p.error(f"unknown parts {bad}; expected a subset of {PARTS + EXTRA_PARTS}")
    torch.set_num_threads(args.threads)
    res = dict(meta=run_metadata(threads=args.threads), quick=args.quick)
    for part in parts:
        print(f"[{part}]", flush=True)
        t0, load0 = time.perf_counter(), load_average()
        if part == "sweep":
            r = part_sweep(steps=50 if args.quick else args.sweep_steps, quick=args.quick)
        elif part == "fit":
            r = part_fit(quick=args.quick)
        elif part == "resample":
            r = part_resample()
        elif part == "operators":
            r = part_operators()
        elif part == "denoise":
            r = part_denoise(quick=args.quick)
        elif part == "denoise-drawn":
            r = part_denoise_drawn(quick=args.quick)
        elif part == "figure":
            r = part_figure(wav_dir=args.wav_dir, png=args.png)
        else:
            r = part_jet(points=512 if args.quick else 4096, repeats=2 if args.quick else 5)
        r["part_seconds"] = time.perf_counter() - t0
        r["load_average"] = dict(before=load0, after=load_average())
        res[part] = r
    name = "audio_quick.json" if args.quick else "audio.json"
    if args.parts != ",".join(PARTS):
        name = name.replace(".json", "_" + "_".join(parts) + ".json")
    out = args.out or HERE / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
