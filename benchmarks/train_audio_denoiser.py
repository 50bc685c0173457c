"""Train the shipped audio denoiser ``insp/learned/weights/audio_denoise.inspop`` (issue 19).

    OMP_NUM_THREADS=2 .venv/bin/python -m benchmarks.train_audio_denoiser      # about 5 min on 2 idle cores
    .venv/bin/python -m benchmarks.train_audio_denoiser --quick --out /tmp/a.inspop   # smoke run, seconds

Data: the clips of :func:`benchmarks.audio.training_clips` (speech 0-2 s and
3-4 s, the chirp from 1 s, the tone chord, eight drawn 0.5-s clips; 10 s of
audio at 16 kHz), each with :data:`DRAWS` draws of white Gaussian noise at an
input SNR drawn uniformly from :data:`SNR_RANGE` dB (seed :data:`NOISE_SEED`).
Each noisy clip is fitted by ``insp.fit_audio`` with its defaults (the INR a
user gets); every sample of every fit is a training point: the stencil of the
INR divided by the clip's estimated noise level, and the target
``(clean - f) / sigma``.  None of the benchmark's test clips (speech 2-3 s,
the chirp's first 0.5 s, the AM tone, the drawn test set) takes part.

Training: :func:`insp.learned.train_operator` on the symmetrised network of
:mod:`insp.learned.audio` (Adam, cosine learning rate, :data:`TRAIN`).  The
stencil, the network's size and the training settings were fixed before any
test score was seen, and nothing was chosen afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import insp
from insp.learned import INSPNet, save_operator, train_operator
from insp.learned.audio import (
    AUDIO_DENOISER_FILE,
    AUDIO_DENOISER_NET,
    STENCIL_SAMPLES,
    AudioDenoised,
    field_noise_sigma,
    symmetrised,
)
from insp.runinfo import run_metadata
from insp.tasks import noise_sigma_for_snr

from .audio import add_noise, training_clips

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE.parent / "insp" / "learned" / "weights" / AUDIO_DENOISER_FILE
SAMPLE_RATE = 16000
#: noise draws per training clip, their input SNR range (dB) and seed
DRAWS, SNR_RANGE, NOISE_SEED = 3, (5.0, 25.0), 3000
TRAIN = dict(steps=4000, lr=1e-3, batch_size=4096, seed=0)
#: drawn synthetic training clips (:func:`benchmarks.audio.training_clips`)
SYNTHETIC = 8
#: validation clips (:func:`benchmarks.audio.validation_clips`) for ``--validate``
VALIDATION_COUNT = 16


class SymmetrisedNet(INSPNet):
    """An :class:`INSPNet` whose forward is :func:`~insp.learned.audio.symmetrised` (what training fits).

    Its state is an INSPNet's, so :func:`save_operator` writes it and
    ``load_operator`` reads it back as the plain network that
    :class:`~insp.learned.audio.AudioDenoised` symmetrises.
    """

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return symmetrised(super().forward, values)


def training_tensors(clips: dict, *, draws: int, quick: bool = False):
    """(values ``(P, S, 1)``, targets ``(P, 1)``, per-fit records) from INRs of noisy training clips."""
    rng = np.random.default_rng(NOISE_SEED)
    values, targets, records = [], [], []
    probe = INSPNet(**AUDIO_DENOISER_NET)  # only its input size: AudioDenoised checks it against the stencil
    for name, clean in clips.items():
        for d in range(draws):
            level = float(rng.uniform(*SNR_RANGE))
            noisy = add_noise(clean, level, seed=int(rng.integers(2**31)))
            t0 = time.perf_counter()
            field, hist = insp.fit_audio(noisy, sample_rate=SAMPLE_RATE, **(dict(steps=30) if quick else {}))
            fit_s = time.perf_counter() - t0
            with torch.no_grad():
                samples = field.sample((clean.shape[0],)).double().numpy()
                sigma = float(field_noise_sigma(samples)[0])
                op = AudioDenoised(field, probe, sample_rate=SAMPLE_RATE, noise_sigma=sigma)
                x = field.domain.grid((clean.shape[0],)).reshape(-1, 1)
                v = torch.cat([op.stencil_values(x[s:s + 16384]) for s in range(0, x.shape[0], 16384)])
            values.append(v[:, 0].float())                                       # (n, S, 1)
            targets.append(torch.as_tensor((clean - samples[:, 0]) / sigma, dtype=torch.float32)[:, None])
            true_sigma = noise_sigma_for_snr(clean, level)
            records.append(dict(clip=name, draw=d, input_snr_db=level, fit_seconds=fit_s,
                                sigma_estimated=sigma, sigma_true=true_sigma))
            print(f"  {name:22s} draw {d}: input {level:5.1f} dB, fit {fit_s:5.1f} s, sigma estimated "
                  f"{sigma:.4f} (true {true_sigma:.4f})", flush=True)
    return torch.cat(values), torch.cat(targets), records


def validate(paths) -> int:
    """Print each weight file's SI-SDR gain over the INR on the validation clips: mean, worst, per clip."""
    from insp.learned import load_operator
    from insp.metrics import si_sdr

    from .audio import validation_clips

    nets = {str(p): load_operator(p) for p in paths}
    gains = {k: [] for k in nets}
    for i, c in enumerate(validation_clips(VALIDATION_COUNT)):
        field, _ = insp.fit_audio(c["noisy"], sample_rate=SAMPLE_RATE)
        n = c["clean"].shape[0]
        with torch.no_grad():
            inr = si_sdr(c["clean"], field.sample((n,))[:, 0].double().numpy())
            for k, net in nets.items():
                y = insp.learned.denoise_audio(field, net=net).sample((n,))[:, 0].double().numpy()
                gains[k].append(si_sdr(c["clean"], y) - inr)
        print(f"  #{i:2d} {c['kind']:6s} {c['seconds']:.2f} s input {c['input_snr_db']:5.1f} dB, INR {inr:5.1f}: "
              + ", ".join(f"{g[-1]:+.2f}" for g in gains.values()), flush=True)
    for k, g in gains.items():
        g = np.array(g)
        print(f"{k}: gain over the INR mean {g.mean():+.2f}, median {np.median(g):+.2f}, worst {g.min():+.2f} dB, "
              f"below the INR on {(g < 0).sum()} of {g.size}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=WEIGHTS, help=f"weights file (default {WEIGHTS})")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 clips, 1 draw, short fits and training")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--synthetic", type=int, default=SYNTHETIC, help=f"drawn 0.5-s training clips (default {SYNTHETIC})")
    ap.add_argument("--validate", type=Path, nargs="+", default=None, metavar="WEIGHTS",
                    help="instead of training: score these weight files on the validation clips (SI-SDR gain over "
                         "the INR, dB) to choose between recipes")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.validate:
        return validate(args.validate)
    t_start = time.perf_counter()
    clips = training_clips(SAMPLE_RATE, synthetic=1 if args.quick else args.synthetic)
    if args.quick:
        clips = {k: v[:4000] for k, v in list(clips.items())[:2]}
    draws = 1 if args.quick else DRAWS
    print(f"fitting {len(clips)} clips x {draws} noise draws ({sum(c.size for c in clips.values()) * draws / SAMPLE_RATE:.1f}"
          f" s of audio)", flush=True)
    values, targets, records = training_tensors(clips, draws=draws, quick=args.quick)
    fit_s = time.perf_counter() - t_start
    net = SymmetrisedNet(**AUDIO_DENOISER_NET, seed=0)
    settings = {**TRAIN, "steps": 50} if args.quick else TRAIN
    hist = train_operator(net, values, targets, **settings, progress=not args.quick and sys.stderr.isatty())
    with torch.no_grad():
        mse = float(((net(values) - targets) ** 2).mean())
    print(f"trained on {values.shape[0]} points in {hist.wall_time:.1f} s: final minibatch loss {hist.loss[-1]:.4f}, "
          f"training MSE {mse:.4f} (units of sigma^2: returning the noisy INR itself scores about 1)", flush=True)
    meta = dict(
        operator="audio denoiser: stencil of field values / noise sigma -> correction (insp.learned.audio)",
        stencil_samples=list(STENCIL_SAMPLES), sample_rate=SAMPLE_RATE, noise="white Gaussian",
        input_snr_db=list(SNR_RANGE), inr=dict(function="insp.fit_audio", settings="defaults"),
        noise_sigma="insp.learned.audio.field_noise_sigma of the INR's samples",
        training_clips={k: int(v.size) for k, v in clips.items()}, draws=draws, points=int(values.shape[0]),
        train=settings, train_seconds=hist.wall_time, fit_seconds=fit_s, training_mse=mse,
        command="python -m benchmarks.train_audio_denoiser" + (" --quick" if args.quick else ""),
        run=run_metadata())
    path = save_operator(net, args.out, metadata=meta)
    total = time.perf_counter() - t_start
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB) in {total:.0f} s in all", flush=True)
    if not args.quick:  # the record of a run beside its weights: results/ for the shipped file
        out = HERE / "results" / "train_audio_denoiser.json" if args.out == WEIGHTS else args.out.with_suffix(".json")
        out.write_text(json.dumps(dict(meta, fits=records, total_seconds=total), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
