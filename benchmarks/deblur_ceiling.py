"""Benchmark: how much a pointwise operator on an order-K jet can deblur (issue 5, the deblur miss).

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.deblur_ceiling [--configs 30,30,1000 30,10,4000] [--image rocket]
        [--scales 1 0.3 0.1 0.03 0]

Two measurements on the deblur task (Gaussian PSF, sigma 2 px, reflect
boundary; ``insp.tasks``):

1. **Exact-derivative ceiling.**  The inverse of a Gaussian blur is the
   heat-equation series ``exp(-sigma^2/2 lap)``; an isotropic *linear*
   operator on an order-K jet can apply any polynomial of degree K/2 in the
   Laplacian.  The best such polynomial is fitted by least squares on the
   training images, with the Laplacian powers of the blurred pixels computed
   exactly in the DCT basis (reflect boundary), and scored on the test images
   (PSNR gain over the blurred image).  This is what the learned operator
   could reach if the INR's derivatives were those of the blurred image.
2. **What the INR's derivatives allow.**  On one training image, SIRENs with
   several (first omega, hidden omega, steps) are fitted to the blurred image
   (``insp.fit``'s settings otherwise); the same least-squares fit (value, Laplacian,
   bilaplacian; in-sample, 3 coefficients) on the INR's own derivatives gives
   the linear gain available to an order-4 operator, next to the relative
   error of the INR's Laplacian and bilaplacian against the exact ones
   (8-pixel border excluded).

3. **How precise the INR must be.**  A SIREN with hidden omega 10 interpolates
   its own samples almost exactly like the DCT does (its Laplacian powers at
   the pixel centres match the DCT ones of its grid values to 0-9 %, order
   2-6), so its derivative error is the DCT derivative of its *residual*
   ``r = INR - blurred`` on the grid.  This part takes the deblur task's
   fits of all 13 images (``insp.tasks.fit_degraded``, from ``--cache``;
   missing ones are fitted, ~3 min each on one thread), replaces each
   residual by ``scale * r`` and repeats part 1's least squares on
   ``blurred + scale * r``: the linear gain an operator could reach from
   INRs that are ``-20 log10(scale)`` dB more precise, with the same
   residual spectrum.  Wiener (reflect pad, tuned balance) is measured on
   the same test images for reference.

Prints three tables and writes ``benchmarks/results/deblur_ceiling.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.fft import dctn, idctn

from insp.data import TEST_IMAGES, TRAIN_IMAGES, gray
from insp.fields import DEFAULTS, Siren, fit
from insp.jet import laplacian_at
from insp.metrics import psnr
from insp.runinfo import run_metadata
from insp.tasks import get_task, image_seed

OUT = Path(__file__).parent / "results" / "deblur_ceiling.json"
CACHE = Path(__file__).parent / "results" / "cache"
BORDER = 8
#: (first omega, hidden omega, steps): insp.fit's default, a lower first omega, and the deblur task's fit
#: (hidden omega 10, insp.tasks.fit_config("deblur")) after 1000, 2000 and 4000 steps.
DEFAULT_CONFIGS = [(30.0, 30.0, 1000), (10.0, 30.0, 1000), (30.0, 10.0, 1000), (30.0, 10.0, 2000),
                   (30.0, 10.0, 4000)]


def _config(text: str) -> tuple[float, float, int]:
    try:
        w0, wh, steps = text.split(",")
        return float(w0), float(wh), int(steps)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected first_omega,hidden_omega,steps (e.g. 30,10,4000), got {text!r}")


def grid_values(field, size: int) -> np.ndarray:
    """The field sampled on the ``size x size`` pixel grid of its domain, float64."""
    x = field.domain.grid((size, size), dtype=torch.float32).reshape(-1, 2)
    with torch.no_grad():
        return field(x).reshape(size, size).double().numpy()


def laplacian_powers(img: np.ndarray, top: int) -> list[np.ndarray]:
    """``(-lap)^k img`` for k = 0..top, exact for the DCT (reflect-boundary) interpolant, pixel units."""
    n0, n1 = img.shape
    lam = (np.pi * np.arange(n0) / n0)[:, None] ** 2 + (np.pi * np.arange(n1) / n1)[None, :] ** 2
    spec = dctn(img, norm="ortho")
    return [idctn(spec * lam**k, norm="ortho") for k in range(top + 1)]


def degraded(name: str, size: int):
    clean = gray(name, size)
    return clean, get_task("deblur").degrade(clean, seed=image_seed(name)).input


def linear_gains(train, test, K):
    """Least-squares polynomial in the Laplacian (degree K/2) on ``train`` pairs; PSNR gain per ``test`` pair.

    Pairs are ``(clean, features_source, blurred)``: the operator reads the DCT Laplacian powers of
    ``features_source`` and the gain is measured over ``blurred``.
    """
    A = np.concatenate([np.stack([f.ravel() for f in laplacian_powers(src, K // 2)], 1) for _, src, _ in train])
    y = np.concatenate([c.ravel() for c, _, _ in train])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    gains = [psnr(np.clip(sum(a * f for a, f in zip(coef, laplacian_powers(src, K // 2))), 0, 1), c) - psnr(b, c)
             for c, src, b in test]
    return coef, gains


def ceiling(orders, size, log):
    rows = []
    train = [(c, b, b) for c, b in (degraded(n, size) for n in TRAIN_IMAGES)]
    test = [(c, b, b) for c, b in (degraded(n, size) for n in TEST_IMAGES)]
    for K in orders:
        coef, g = linear_gains(train, test, K)
        gains = dict(zip(TEST_IMAGES, g))
        rows.append(dict(order=K, coefficients=coef.tolist(), gain_mean=float(np.mean(list(gains.values()))),
                         gain=gains))
        log(f"K={K}: mean gain {rows[-1]['gain_mean']:+.2f} dB  coefficients {np.round(coef, 3).tolist()}")
    return rows


def inr_features(name, configs, size, log):
    c, b = degraded(name, size)
    exact = laplacian_powers(b, 2)
    s = (slice(BORDER, -BORDER),) * 2
    base = psnr(b[s], c[s])
    h2 = (2 / (size - 1)) ** 2  # coordinate units -> pixel units, per Laplacian
    rows = []
    for w0, wh, steps in configs:
        t0 = time.perf_counter()
        model = Siren(2, 1, hidden_features=DEFAULTS["hidden_features"], hidden_layers=DEFAULTS["hidden_layers"],
                      first_omega_0=w0, hidden_omega_0=wh, seed=0)
        field, hist = fit(b, model=model, steps=steps, seed=0, progress=False, channel_axis=None, data_range=1.0)
        x = field.domain.grid((size, size), dtype=torch.float32).reshape(-1, 2)
        v = grid_values(field, size)
        lap = laplacian_at(field, x, power=1, create_graph=False).reshape(size, size).double().numpy() * h2
        lap2 = laplacian_at(field, x, power=2, create_graph=False).reshape(size, size).double().numpy() * h2**2
        own = laplacian_powers(v, 2)
        A = np.stack([v[s].ravel(), -lap[s].ravel(), lap2[s].ravel()], 1)
        coef = np.linalg.lstsq(A, c[s].ravel(), rcond=None)[0]
        gain = psnr(np.clip(A @ coef, 0, 1).reshape(c[s].shape), c[s]) - base

        def rel(a, e):
            return float(np.sqrt(np.mean((a[s] - e[s]) ** 2)) / np.std(e[s]))

        rows.append(dict(first_omega_0=w0, hidden_omega_0=wh, steps=steps, fit_psnr=psnr(v, b), linear_gain=gain,
                         coefficients=coef.tolist(),
                         laplacian_rel_error=rel(-lap, exact[1]), bilaplacian_rel_error=rel(lap2, exact[2]),
                         # against the DCT interpolant of the INR's own samples: how band-limited it interpolates
                         self_dct_rel_error=[rel(-lap, own[1]), rel(lap2, own[2])],
                         seconds=time.perf_counter() - t0))
        r = rows[-1]
        log(f"{name} omegas {w0:g}/{wh:g}, {steps} steps: fit {r['fit_psnr']:.2f} dB, linear gain {gain:+.2f} dB, "
            f"lap error {r['laplacian_rel_error']:.2f}, lap^2 error {r['bilaplacian_rel_error']:.2f} "
            f"(vs own samples' DCT: {r['self_dct_rel_error'][0]:.3f}, {r['self_dct_rel_error'][1]:.3f}) "
            f"({r['seconds']:.0f} s)")
    exact_gain = None
    A = np.stack([exact[k][s].ravel() for k in range(3)], 1)
    coef = np.linalg.lstsq(A, c[s].ravel(), rcond=None)[0]
    exact_gain = psnr(np.clip(A @ coef, 0, 1).reshape(c[s].shape), c[s]) - base
    log(f"{name} exact derivatives, same fit: linear gain {exact_gain:+.2f} dB")
    return dict(image=name, blurred_psnr_interior=base, exact_linear_gain=exact_gain, fits=rows)


def precision(scales, orders, size, cache, log):
    from insp.baselines.restoration import deconv_wiener
    from insp.tasks import fit_degraded

    def load(name):
        deg, field, meta = fit_degraded(name, "deblur", size=size, seed=image_seed(name), cache_dir=cache,
                                        progress=False)
        v = grid_values(field, size)
        log(f"{name}: INR {meta['final_psnr']:.2f} dB from the blurred image"
            f" ({'cached' if meta['from_cache'] else 'fitted'})")
        return deg.target, deg.input, v - deg.input, deg.psf

    train = [load(n) for n in TRAIN_IMAGES]
    test = [load(n) for n in TEST_IMAGES]
    wiener = [psnr(deconv_wiener(b, psf), c) - psnr(b, c) for c, b, _, psf in test]
    log(f"Wiener (reflect pad) on the test split: mean gain {np.mean(wiener):+.2f} dB")
    rows = []
    for scale in scales:
        row = dict(scale=scale, precision_db=None if scale == 0 else 0.0 - 20 * float(np.log10(scale)), gain_mean={})
        for K in orders:
            _, g = linear_gains([(c, b + scale * r, b) for c, b, r, _ in train],
                                [(c, b + scale * r, b) for c, b, r, _ in test], K)
            row["gain_mean"][str(K)] = float(np.mean(g))
        rows.append(row)
        more = "exact" if scale == 0 else f"{row['precision_db']:+.1f} dB"
        log(f"residual x {scale:<5g} ({more:>9}): " + "  ".join(f"K={K} {g:+.2f}" for K, g in row["gain_mean"].items()))
    return dict(wiener_gain_mean=float(np.mean(wiener)), wiener_gain=dict(zip(TEST_IMAGES, wiener)), rows=rows)


def main():
    ap = argparse.ArgumentParser(prog="python -m benchmarks.deblur_ceiling", description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, nargs="+", default=[2, 4, 6, 8, 10])
    ap.add_argument("--configs", type=_config, nargs="*", default=DEFAULT_CONFIGS,
                    help="INR fits of part 2 as first_omega,hidden_omega,steps (none: skip part 2)")
    ap.add_argument("--image", default="rocket", choices=TRAIN_IMAGES, help="training image of part 2")
    ap.add_argument("--scales", type=float, nargs="*", default=[1.0, 0.3, 0.1, 0.03, 0.0],
                    help="part 3: residual scales (1: the deblur task's fits as they are; none: skip part 3)")
    ap.add_argument("--cache", type=Path, default=CACHE, help="part 3: cache of the deblur task's fits")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if any(not 0 <= v <= 1 for v in args.scales):
        ap.error(f"--scales must lie in [0, 1], got {args.scales}")
    torch.set_num_threads(args.threads)
    log = lambda s: print(s, flush=True)  # noqa: E731
    result = dict(run=run_metadata(), args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                  ceiling=ceiling(args.orders, args.size, log))
    if args.configs:
        result["inr"] = inr_features(args.image, args.configs, args.size, log)
    if args.scales:
        result["precision"] = precision(args.scales, [K for K in args.orders if K <= 8], args.size, args.cache, log)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
