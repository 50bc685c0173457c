"""Benchmark: how much a pointwise operator on an order-K jet can deblur (issue 5, the deblur miss).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/deblur_ceiling.py [--configs 30,30,1000 30,10,4000] [--image rocket]

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

Prints two tables and writes ``benchmarks/results/deblur_ceiling.json``.
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
from insp.fields import Siren, fit
from insp.fields.fit import DEFAULTS
from insp.jet import laplacian_at
from insp.metrics import psnr
from insp.tasks import get_task, image_seed

OUT = Path(__file__).parent / "results" / "deblur_ceiling.json"
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


def laplacian_powers(img: np.ndarray, top: int) -> list[np.ndarray]:
    """``(-lap)^k img`` for k = 0..top, exact for the DCT (reflect-boundary) interpolant, pixel units."""
    n0, n1 = img.shape
    lam = (np.pi * np.arange(n0) / n0)[:, None] ** 2 + (np.pi * np.arange(n1) / n1)[None, :] ** 2
    spec = dctn(img, norm="ortho")
    return [idctn(spec * lam**k, norm="ortho") for k in range(top + 1)]


def degraded(name: str, size: int):
    clean = gray(name, size)
    return clean, get_task("deblur").degrade(clean, seed=image_seed(name)).input


def ceiling(orders, size, log):
    rows = []
    train = [degraded(n, size) for n in TRAIN_IMAGES]
    test = [degraded(n, size) for n in TEST_IMAGES]
    for K in orders:
        A = np.concatenate([np.stack([f.ravel() for f in laplacian_powers(b, K // 2)], 1) for _, b in train])
        y = np.concatenate([c.ravel() for c, _ in train])
        coef = np.linalg.lstsq(A, y, rcond=None)[0]
        gains = {}
        for name, (c, b) in zip(TEST_IMAGES, test):
            out = sum(a * f for a, f in zip(coef, laplacian_powers(b, K // 2)))
            gains[name] = psnr(np.clip(out, 0, 1), c) - psnr(b, c)
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
        with torch.no_grad():
            v = field(x).reshape(size, size).double().numpy()
        lap = laplacian_at(field, x, power=1, create_graph=False).reshape(size, size).double().numpy() * h2
        lap2 = laplacian_at(field, x, power=2, create_graph=False).reshape(size, size).double().numpy() * h2**2
        A = np.stack([v[s].ravel(), -lap[s].ravel(), lap2[s].ravel()], 1)
        coef = np.linalg.lstsq(A, c[s].ravel(), rcond=None)[0]
        gain = psnr(np.clip(A @ coef, 0, 1).reshape(c[s].shape), c[s]) - base

        def rel(a, e):
            return float(np.sqrt(np.mean((a[s] - e[s]) ** 2)) / np.std(e[s]))

        rows.append(dict(first_omega_0=w0, hidden_omega_0=wh, steps=steps, fit_psnr=psnr(v, b), linear_gain=gain,
                         coefficients=coef.tolist(),
                         laplacian_rel_error=rel(-lap, exact[1]), bilaplacian_rel_error=rel(lap2, exact[2]),
                         seconds=time.perf_counter() - t0))
        r = rows[-1]
        log(f"{name} omegas {w0:g}/{wh:g}, {steps} steps: fit {r['fit_psnr']:.2f} dB, linear gain {gain:+.2f} dB, "
            f"lap error {r['laplacian_rel_error']:.2f}, lap^2 error {r['bilaplacian_rel_error']:.2f} "
            f"({r['seconds']:.0f} s)")
    exact_gain = None
    A = np.stack([exact[k][s].ravel() for k in range(3)], 1)
    coef = np.linalg.lstsq(A, c[s].ravel(), rcond=None)[0]
    exact_gain = psnr(np.clip(A @ coef, 0, 1).reshape(c[s].shape), c[s]) - base
    log(f"{name} exact derivatives, same fit: linear gain {exact_gain:+.2f} dB")
    return dict(image=name, blurred_psnr_interior=base, exact_linear_gain=exact_gain, fits=rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, nargs="+", default=[2, 4, 6, 8, 10])
    ap.add_argument("--configs", type=_config, nargs="*", default=DEFAULT_CONFIGS,
                    help="INR fits of part 2 as first_omega,hidden_omega,steps (none: skip part 2)")
    ap.add_argument("--image", default="rocket", choices=TRAIN_IMAGES, help="training image of part 2")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    log = lambda s: print(s, flush=True)  # noqa: E731
    result = dict(args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                  ceiling=ceiling(args.orders, args.size, log))
    if args.configs:
        result["inr"] = inr_features(args.image, args.configs, args.size, log)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
