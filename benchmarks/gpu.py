"""One short GPU measurement: fit, fit_many, a jet of order 4 and one operator, on CUDA (or the CPU to compare).

Absolute times on the device the script runs on, and the same work on the CPU
in the same run as the baseline (ratios CPU / device).  insp never depends on
a GPU; this script records what one gives.  Each figure is the median of
``--repeats`` runs after one warm-up run; CUDA timings synchronise first.

Usage::

    python -m benchmarks.gpu                 # CUDA if available, else says so and measures the CPU only
    python -m benchmarks.gpu --quick         # smaller sizes (a smoke run)

Writes ``benchmarks/results/gpu.json`` with the run metadata.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import insp
from insp.jet import jet
from insp.ops import gaussian_blur
from insp.runinfo import run_metadata

RESULTS = Path(__file__).resolve().parent / "results"


def _timed(fn, device: torch.device, repeats: int) -> float:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()  # warm-up (kernels, caches)
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _image(n: int) -> np.ndarray:
    import skimage.data
    import skimage.transform

    return skimage.transform.resize(skimage.data.camera() / 255.0, (n, n), anti_aliasing=True)


def workloads(quick: bool):
    n = 128 if quick else 256
    steps = 50 if quick else 200
    img = _image(n)
    crops = np.stack([_image(64)[i:i + 32, j:j + 32] for i in range(0, 32, 8) for j in range(0, 32, 8)])
    points = 4096 if quick else 65536

    def fit(device):
        return lambda: insp.fit(img, steps=steps, batch_size="full", device=device, progress=False)

    def fit_many(device):
        return lambda: insp.fit_many(list(crops), steps=steps, device=device, progress=False)

    def jet4(device):
        field = insp.Siren(2, 1, seed=0, device=device)
        x = torch.rand(points, 2, device=device) * 2 - 1
        return lambda: jet(field, x, order=4, create_graph=False)

    def blur(device):
        field = insp.Siren(2, 1, seed=0, device=device)
        op = gaussian_blur(field, sigma=2 * 2 / 255, method="series")
        x = torch.rand(points, 2, device=device) * 2 - 1
        return lambda: op(x).sum().item()

    return {f"fit {n}x{n} gray, {steps} full-batch steps": fit,
            f"fit_many {len(crops)} x 32x32, {steps} steps": fit_many,
            f"jet order 4, {points} points (3x128 SIREN)": jet4,
            f"gaussian_blur series, {points} points": blur}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
        print(f"device: {torch.cuda.get_device_name(0)}")
    else:
        print("no CUDA device here: measuring the CPU only (the figures of interest need a GPU)")
    rows = []
    for name, make in workloads(args.quick).items():
        row = {"workload": name}
        for dev in devices:
            row[f"{dev.type}_s"] = _timed(make(dev), dev, args.repeats)
        if "cuda_s" in row:
            row["cpu_over_cuda"] = row["cpu_s"] / row["cuda_s"]
        rows.append(row)
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{v}" for k, v in row.items()), flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "gpu.json"
    out.write_text(json.dumps(dict(run=run_metadata(quick=args.quick), rows=rows), indent=2))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
