"""Demo section: a noisy speech clip as a field, denoised by the shipped audio denoiser, beside Wiener.

Registered in :data:`insp.demo.SECTIONS`.  The clip is the benchmark's test
speech (1 s from 2.0 s of ``insp.data.audio("speech")``, never used to train
or choose anything; 0.25 s with ``--quick``) with white Gaussian noise at
10 dB input SNR (seed 0).  It is fitted by :func:`insp.fit_audio` with its
defaults, denoised by :func:`insp.learned.denoise_audio` (noise level
measured on the field) and compared with :func:`insp.baselines.audio.wiener`
at the window the benchmark chose for 10 dB on its choosing clips (5
samples).  The measured comparison over all test clips and a drawn set is
``python -m benchmarks.audio --parts denoise,denoise-drawn`` (docs/audio.md).

Writes ``audio_denoise.png`` (waveform over 30 ms and spectrogram per
panel, :func:`audio_panels`), the clips as ``audio_<name>.wav`` to listen
to, and table rows with SI-SDR (dB) against the clean clip.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["audio_section", "audio_panels", "DEMO_SNR_DB", "WIENER_SIZE"]

#: input SNR of the demo clip (dB) and the Wiener window the benchmark chose at that level
DEMO_SNR_DB, WIENER_SIZE = 10.0, 5


def audio_panels(panels: dict[str, np.ndarray], clean: np.ndarray, sample_rate: int, path, *,
                 zoom_s: tuple[float, float] = (0.40, 0.43)) -> dict[str, float]:
    """Waveform (``zoom_s``, clean drawn behind in grey) over spectrogram, one column per clip; a PNG at ``path``.

    Returns each panel's SI-SDR against ``clean`` (dB), which the titles show.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import spectrogram

    from ..metrics import si_sdr

    scores = {name: si_sdr(clean, y) for name, y in panels.items()}
    fig, axes = plt.subplots(2, len(panels), figsize=(4 * len(panels), 6), constrained_layout=True, squeeze=False)
    t = np.arange(clean.shape[0]) / sample_rate
    lo, hi = (min(int(z * sample_rate), clean.shape[0] - 2) for z in zoom_s)
    zoom = slice(lo, max(hi, lo + 2))
    for col, (name, y) in enumerate(panels.items()):
        axes[0, col].plot(t[zoom] * 1e3, clean[zoom], color="0.7", lw=2, label="clean")
        axes[0, col].plot(t[zoom] * 1e3, y[zoom], lw=1, label=name)
        axes[0, col].set_title(f"{name}\nSI-SDR {scores[name]:.1f} dB" if np.isfinite(scores[name]) else name)
        axes[0, col].set_xlabel("ms")
        fr, tt, power = spectrogram(y, fs=sample_rate, nperseg=min(512, y.shape[0]), noverlap=None)
        axes[1, col].pcolormesh(tt, fr / 1e3, 10 * np.log10(power + 1e-12), shading="auto", vmin=-110, vmax=-30)
        axes[1, col].set_xlabel("s")
        axes[1, col].set_ylabel("kHz")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return scores


def audio_section(ctx) -> None:
    """Fit the noisy test speech, denoise the field, compare with Wiener; PNG, WAVs and SI-SDR rows."""
    import torch

    from .. import data
    from ..audioio import write_wav
    from ..baselines.audio import wiener
    from ..fields.fitting import fit_audio
    from ..learned.audio import denoise_audio
    from ..tasks import add_noise_at_snr, noise_sigma_for_snr

    sr = 16000
    speech, _ = data.audio("speech", sample_rate=sr)
    clean = speech[2 * sr:(2 * sr + sr // 4) if ctx.quick else 3 * sr]
    sigma = noise_sigma_for_snr(clean, DEMO_SNR_DB)
    noisy = add_noise_at_snr(clean, snr_db=DEMO_SNR_DB, seed=ctx.seed)
    n = clean.shape[0]

    t0 = time.perf_counter()
    field, hist = fit_audio(noisy, sample_rate=sr, seed=ctx.seed, progress=ctx.progress)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        inr = field.sample((n,))[:, 0].double().numpy()
        t1 = time.perf_counter()
        result = denoise_audio(field)
        ours = result.sample((n,))[:, 0].double().numpy()
    denoise_s, sample_s = time.perf_counter() - t1, t1 - t0
    t0 = time.perf_counter()
    classical = wiener(noisy, size=WIENER_SIZE)
    wiener_s = time.perf_counter() - t0

    panels = {f"noisy ({DEMO_SNR_DB:g} dB)": noisy, "INR of the noisy clip": inr, "insp denoiser": ours,
              f"Wiener (size {WIENER_SIZE})": classical}
    scores = audio_panels({"clean": clean, **panels}, clean, sr, ctx.path("audio_denoise.png"))
    for key, y in (("clean", clean), ("noisy", noisy), ("inr", inr), ("insp_denoiser", ours), ("wiener", classical)):
        write_wav(ctx.path(f"audio_{key}.wav"), np.clip(y, -1.0, 1.0), sr)
    times = dict(zip(panels, (None, fit_s + sample_s, denoise_s, wiener_s)))
    notes = {f"noisy ({DEMO_SNR_DB:g} dB)": f"speech {n / sr:g} s at {sr} Hz (test segment), white noise",
             "INR of the noisy clip": f"insp.fit_audio defaults, fit SNR {hist.config['snr']:.1f} dB to the noisy clip",
             "insp denoiser": f"insp.learned.denoise_audio, noise sigma measured {float(result.noise_sigma[0]):.4f} "
                              f"(true {sigma:.4f})",
             f"Wiener (size {WIENER_SIZE})": "scipy.signal.wiener on the noisy samples"}
    for name in panels:
        ctx.table.add("audio", name, time_s=times[name], notes=notes[name], si_sdr_db=scores[name])
    ctx.log(f"  audio: SI-SDR noisy {scores[next(iter(panels))]:.2f}, insp denoiser {scores['insp denoiser']:.2f}, "
            f"Wiener {scores[f'Wiener (size {WIENER_SIZE})']:.2f} dB; audio_*.wav to listen to")
