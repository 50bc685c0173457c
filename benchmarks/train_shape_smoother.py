"""Train the shipped shape smoother ``insp/learned/weights/shape_smooth.inspop`` (issue 20).

    python -m benchmarks.train_shape_smoother --threads 2      # about 9 min on 2 idle cores
    python -m benchmarks.train_shape_smoother --validate       # the choice: train without the cone, score on it
    python -m benchmarks.train_shape_smoother --quick --out /tmp/s.inspop   # smoke run

Data: every training shape of :mod:`benchmarks.shapes` (``TRAIN``: capsule,
sphere, cylinder, cone), at each noise level of ``NOISE`` (normal
displacement of 0.5 % and 1 % of the bounding-box diagonal), :data:`DRAWS`
noise draws each (seeds from :data:`NOISE_SEED`, apart from the benchmark's
cases).  Each noisy mesh is fitted by ``fit_sdf`` with its defaults (the INR
a user gets).  Training points: :data:`POINTS` samples of the clean surface,
each moved by Gaussian offsets of :data:`OFFSETS` (unit coordinates of the
field's domain); the input is the unit jet of the INR there
(:func:`insp.learned.shapes.unit_jet`), the target the clean mesh's signed
distance in the same units.  The test shapes (torus, box, the drawn shapes) take no part.

``--validate`` trains each candidate of :data:`CANDIDATES` on the training
shapes without :data:`HELD_OUT` and scores the extracted surfaces of the
held-out shape's fits (Chamfer, normal consistency) beside the INR itself;
the shipped configuration (``SHAPE_SMOOTHER_NET``) is the one it chose.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from insp.fields.fitting.sdf import fit_sdf, mesh_signed_distance
from insp.fields.surface import extract_surface
from insp.jet import jet
from insp.learned import INSPNet, save_operator, train_operator
from insp.learned.shapes import SHAPE_SMOOTHER_FILE, SHAPE_SMOOTHER_NET, LearnedShapeSmoothing, unit_jet
from insp.metrics import sample_surface
from insp.runinfo import run_metadata

from .shapes import NOISE, TRAIN, noisy_cases, scores

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE.parent / "insp" / "learned" / "weights" / SHAPE_SMOOTHER_FILE
#: noise draws per training shape and level; their seeds are NOISE_SEED + 10 * draw (+ the case's offset)
DRAWS, NOISE_SEED = 3, 1000
#: clean-surface samples per fit, and the std of the offsets moving them off the surface (unit coordinates)
POINTS, OFFSETS = 8000, (0.005, 0.02)
TRAIN_SETTINGS = dict(steps=4000, lr=1e-3, batch_size=4096, seed=0)
#: the training shape ``--validate`` holds out, and the configurations it compares
HELD_OUT = "cone"
CANDIDATES = {"order 2": dict(SHAPE_SMOOTHER_NET, order=2), "order 4": dict(SHAPE_SMOOTHER_NET, order=4)}
GRID = 64


def training_fits(names, *, draws: int, fit_kw: dict, log=print) -> list[dict]:
    """``fit_sdf`` of every noisy case: ``[{name, level, seed, clean, noisy, field, seconds}]``."""
    out = []
    for d in range(draws):
        for name, level, clean, noisy in noisy_cases(names, NOISE, seed=NOISE_SEED + 10 * d):
            t = time.perf_counter()
            f, _ = fit_sdf(noisy, progress=False, seed=0, **fit_kw)
            out.append(dict(name=name, level=level, draw=d, clean=clean, noisy=noisy, field=f,
                            seconds=time.perf_counter() - t))
            log(f"  fit {name:8s} noise {level:g} draw {d}: {out[-1]['seconds']:.0f} s", flush=True)
    return out


def training_tensors(fits: list[dict], order: int, *, points: int = POINTS) -> tuple[torch.Tensor, torch.Tensor]:
    """(unit jets ``(P, 1, M)``, clean signed distances in unit coordinates ``(P, 1)``) near each clean surface."""
    values, targets = [], []
    for k, case in enumerate(fits):
        f, clean = case["field"], case["clean"]
        s = f.domain.half_width
        rng = np.random.default_rng(NOISE_SEED + k)
        p = sample_surface(clean, points, seed=NOISE_SEED + k)[0]
        p = np.concatenate([p + rng.normal(size=p.shape) * std * s for std in OFFSETS])
        targets.append(torch.as_tensor(mesh_signed_distance(clean.vertices, clean.faces, p) / s,
                                       dtype=torch.float32)[:, None])
        with torch.no_grad():
            values.append(unit_jet(jet(f, torch.as_tensor(p, dtype=torch.float32), order=order).values, order, s))
    return torch.cat(values), torch.cat(targets)


def train(fits: list[dict], config: dict, settings: dict, *, progress: bool = False) -> tuple[INSPNet, dict]:
    net = INSPNet(**config, seed=0)
    values, targets = training_tensors(fits, net.order)
    hist = train_operator(net, values, targets, **settings, progress=progress)
    with torch.no_grad():
        mse = float(((net(values) - targets) ** 2).mean())
        inr_mse = float(((values[:, 0, :1] - targets) ** 2).mean())
    return net.eval(), dict(points=int(values.shape[0]), train_seconds=hist.wall_time, training_mse=mse,
                            inr_mse=inr_mse)


def validate(args, fit_kw: dict, settings: dict) -> int:
    names = [n for n in TRAIN if n != HELD_OUT]
    print(f"fitting the training shapes {', '.join(names)} and the held-out {HELD_OUT} ...", flush=True)
    fits = training_fits(names, draws=args.draws, fit_kw=fit_kw)
    held = training_fits([HELD_OUT], draws=1, fit_kw=fit_kw)
    rows = {"INR fit": [scores(extract_surface(c["field"], (GRID,) * 3), c["clean"], 30000) for c in held]}
    for label, config in CANDIDATES.items():
        net, info = train(fits, config, settings)
        rows[label] = [scores(extract_surface(LearnedShapeSmoothing(c["field"], net, scale=c["field"].domain.half_width),
                                              (GRID,) * 3), c["clean"], 30000) for c in held]
        print(f"  trained {label}: {info}", flush=True)
    levels = ", ".join(f"{c['level']:g}" for c in held)
    print(f"\nheld-out {HELD_OUT}, noise levels {levels}: Chamfer / diag, NC")
    for label, rs in rows.items():
        print(f"  {label:10s} " + "  ".join(f"{r['chamfer']:.5f} {r['normal_consistency']:.4f}" for r in rs)
              + f"   mean Chamfer {np.mean([r['chamfer'] for r in rs]):.5f}", flush=True)
    out = HERE / "results" / ("train_shape_smoother_validate" + ("_quick" if args.quick else "") + ".json")
    out.write_text(json.dumps(dict(held_out=HELD_OUT, rows=rows, candidates=CANDIDATES, fit=fit_kw,
                                   run=run_metadata()), indent=1, default=str))
    print(f"wrote {out}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=WEIGHTS, help=f"weights file (default {WEIGHTS})")
    ap.add_argument("--quick", action="store_true", help="smoke run: one draw, short fits and training")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--draws", type=int, default=DRAWS, help=f"noise draws per shape and level (default {DRAWS})")
    ap.add_argument("--validate", action="store_true",
                    help=f"instead of training: compare {', '.join(CANDIDATES)} on the held-out {HELD_OUT}")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    fit_kw = dict(steps=50, samples=20000, batch_size=2048) if args.quick else {}
    if args.quick:
        args.draws = 1
    settings = {**TRAIN_SETTINGS, "steps": 50} if args.quick else TRAIN_SETTINGS
    if args.validate:
        return validate(args, fit_kw, settings)
    t_start = time.perf_counter()
    print(f"fitting {len(TRAIN)} shapes x {len(NOISE)} noise levels x {args.draws} draws ...", flush=True)
    fits = training_fits(TRAIN, draws=args.draws, fit_kw=fit_kw)
    net, info = train(fits, SHAPE_SMOOTHER_NET, settings, progress=not args.quick and sys.stderr.isatty())
    print(f"trained on {info['points']} points in {info['train_seconds']:.1f} s: MSE {info['training_mse']:.3g} "
          f"(the INR itself {info['inr_mse']:.3g}; unit coordinates squared)", flush=True)
    meta = dict(
        operator="shape smoother: unit jet of an SDF field -> f + correction (insp.learned.shapes)",
        training_shapes=list(TRAIN), noise_levels=list(NOISE), draws=args.draws, noise_seed=NOISE_SEED,
        inr=dict(function="insp.fit_sdf", settings=fit_kw or "defaults"), points_per_fit=POINTS, offsets=list(OFFSETS),
        train=settings, fit_seconds=sum(c["seconds"] for c in fits), **info,
        command="python -m benchmarks.train_shape_smoother" + (" --quick" if args.quick else ""), run=run_metadata())
    path = save_operator(net, args.out, metadata=meta)
    total = time.perf_counter() - t_start
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB) in {total:.0f} s in all", flush=True)
    if not args.quick:
        out = HERE / "results" / "train_shape_smoother.json" if args.out == WEIGHTS else args.out.with_suffix(".json")
        fits_info = [dict(name=c["name"], level=c["level"], draw=c["draw"], seconds=c["seconds"]) for c in fits]
        out.write_text(json.dumps(dict(meta, fits=fits_info, total_seconds=total), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
