"""Pretrained operators at other image sizes and on colour, through the documented user path.

For each shipped operator, test image (``insp.data.TEST_IMAGES``, never used in
training) and size (128, 256, 512: the image area-resized to that square),
the clean image is degraded by the operator's task (seeded), fitted with
``insp.learned.fit_for_operator`` (the trained recipe in pixel units and in
passes over the data, any size: ``trained_steps``)
and restored by the operator.  The gain is PSNR(output, target) minus
PSNR(input, target).  The criterion of the user-inputs issue: the gain at 128
and 512 within 0.5 dB of the gain at 256, or the operator refuses the case.
A colour row fits the RGB image (channel by channel operators) at 256.

Usage::

    python -m benchmarks.pretrained_sizes                      # all operators, camera and astronaut
    python -m benchmarks.pretrained_sizes --operators denoise blur --images camera --sizes 128 256

Prints a table and writes ``benchmarks/results/pretrained_sizes.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from insp import data
from insp.learned import fit_for_operator
from insp.learned import pretrained as P
from insp.metrics import psnr
from insp.runinfo import run_metadata
from insp.tasks import get_task

RESULTS = Path(__file__).resolve().parent / "results"
OPERATORS = {"denoise": P.denoise, "blur": P.blur, "inpaint": P.inpaint, "text": P.remove_text, "deblur": P.deblur}


def measure(name: str, clean: np.ndarray, *, seed: int = 0) -> dict:
    task = get_task(name)
    deg = task.degrade(clean, seed=seed)
    t = time.perf_counter()
    try:
        field, hist = fit_for_operator(name, deg.input, seed=seed, progress=False)
        with torch.no_grad():
            out = OPERATORS[name](field).sample(clean.shape[:2]).double().numpy()
    except ValueError as exc:  # a refusal is an acceptable answer: recorded as such
        return dict(refused=str(exc))
    out = out[..., 0] if clean.ndim == 2 else out
    target = np.asarray(deg.target)
    before = psnr(np.clip(deg.input, 0, 1), target, data_range=1.0)
    after = psnr(np.clip(out, 0, 1), target, data_range=1.0)
    return dict(input_db=before, output_db=after, gain_db=after - before, fit_psnr=hist.final_psnr,
                seconds=time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--operators", nargs="+", default=list(OPERATORS), choices=list(OPERATORS))
    ap.add_argument("--images", nargs="+", default=["camera", "astronaut"], choices=list(data.TEST_IMAGES))
    ap.add_argument("--sizes", nargs="+", type=int, default=[128, 256, 512])
    ap.add_argument("--color", default="coffee", help="test image of the colour row at 256 ('' for none)")
    ap.add_argument("--out", type=Path, default=RESULTS / "pretrained_sizes.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    rows = []
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)

    def record(row):
        rows.append(row)
        cells = [f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()]
        print("  ".join(cells), flush=True)
        out.write_text(json.dumps(dict(run=run_metadata(), rows=rows), indent=2))  # partial results survive

    for name in args.operators:
        for image in args.images:
            for n in args.sizes:
                record(dict(operator=name, image=image, size=n, **measure(name, data.gray(image, size=n))))
        if args.color:
            record(dict(operator=name, image=f"{args.color} (RGB)", size=256,
                        **measure(name, data.color(args.color, size=256))))
    print("\noperator  image        gain at 128 / 256 / 512 (dB)   spread vs 256")
    for name in args.operators:
        for image in args.images:
            g = {r["size"]: r.get("gain_db") for r in rows if r["operator"] == name and r["image"] == image}
            ref = g.get(256)
            spread = [abs(v - ref) for k, v in g.items() if k != 256 and v is not None and ref is not None]
            print(f"{name:<9} {image:<12} " + " / ".join("refused" if g.get(n) is None else f"{g[n]:+.2f}"
                                                        for n in args.sizes)
                  + (f"   max {max(spread):.2f}" if spread else ""))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
