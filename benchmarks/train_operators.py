"""Train the pretrained INSP-Net operators shipped in ``insp/learned/weights/`` (issue 5).

    # 1. (optional) the validation experiment that chose the network: train candidates on the training
    #    images minus one, score them on that held-out *training* image (test images are never used)
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python -m benchmarks.train_operators --validate
    #    and the leave-one-out selection over all training images (chose the linear denoiser)
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python -m benchmarks.train_operators --loo --operators denoise
    # 2. train every operator and write its weights into the package
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python -m benchmarks.train_operators
    # smoke test: 2 images at 32x32, 30 fit steps, 20 training steps, temporary cache and output
    .venv/bin/python -m benchmarks.train_operators --quick

Data: for each operator, the images of :data:`OPERATOR_IMAGES` (all eight
of ``insp.data.TRAIN_IMAGES``; :data:`IMAGES`, a subset, for ``--quick``
and ``--validate``) at 256x256 gray, degraded by the operator's task (``insp.tasks``,
seed ``image_seed(name)``), an INR fitted to each degraded image with the
``insp.fit`` defaults and the task's overrides (SIREN 3x128, omega 30 --
10 in the first layer for denoise --, 1000 steps, fit seed 0; for
``inpaint_known`` to the known pixels only), its order-4 jet
on the pixel grid and the clean target -- all through
``insp.tasks.training_tensors`` and the shared cache
``benchmarks/results/cache/`` (fits already there are not refitted).  Every
pixel of every image is a training point.

Training: :func:`insp.learned.train_operator` (Adam, cosine learning rate,
minibatches of :data:`TRAIN` points, a fixed number of steps), with a
resumable checkpoint per operator in ``benchmarks/results/cache/train_operators/``.
The weights go to ``insp/learned/weights/<name>.inspop`` with metadata: the
task and its parameters, the INR configuration the operator expects, the
training images and points, steps, wall times (fits and training) and the
git commit.  A summary is written to ``benchmarks/results/train_operators.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from insp.learned.recipe import (
    ALL_TRAIN,
    CANDIDATES,
    IMAGES,
    LOO_CANDIDATES,
    NET,
    OPERATOR_IMAGES,
    OPERATORS,
    TRAIN,
    VAL_IMAGE,
    inr_config,
    net_config,
    partials,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results"
CACHE = OUT / "cache"
PACKAGE_DIR = ROOT / "insp" / "learned" / "weights"
#: Held-in test data of tests/test_pretrained.py: a crop of the first training image's jet and target per operator.
FIXTURE = ROOT / "tests" / "data" / "pretrained_heldin.npz"
FIXTURE_SIZE = 24

def images_for(name: str, args) -> list[str]:
    """The training images of operator ``name``: ``--images`` if given, else its default."""
    if args.images:
        return list(args.images)
    return list(IMAGES if args.quick else OPERATOR_IMAGES.get(name, IMAGES))
def tensors(name: str, images, *, size, fit_steps, cache, order, progress=True):
    """Training tensors ``(values (N, 1, M), targets (N, 1))`` and the fit seconds of each image."""
    from insp.tasks import image_seed, paired, training_tensors

    task, protocol = OPERATORS[name]
    values, targets = training_tensors(list(images), task, order=order, size=size, protocol=protocol,
                                       steps=fit_steps, cache_dir=cache, progress=progress)
    fits = {img: paired(img, task, order=None, size=size, seed=image_seed(img), protocol=protocol, steps=fit_steps,
                        cache_dir=cache, progress=False).fit_seconds for img in images}
    return values, targets, fits


def _psnr(out: torch.Tensor, target: torch.Tensor) -> float:
    from insp.metrics import psnr

    return psnr(out.double().clamp(0, 1).numpy(), target.double().numpy(), data_range=1.0)


@torch.no_grad()
def _apply(net, values: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    return torch.cat([net(values[s:s + chunk]) for s in range(0, values.shape[0], chunk)])


def train_one(name: str, values, targets, *, config: dict, train: dict, checkpoint=None, progress=True, val=None):
    """Build, normalise and train one operator; returns ``(net, history)``."""
    from insp.learned import INSPNet, train_operator

    net = INSPNet(**config, seed=train["seed"])
    hist = train_operator(net, values, targets, steps=train["steps"], lr=train["lr"],
                          batch_size=train["batch_size"], seed=train["seed"], progress=progress,
                          checkpoint=checkpoint, val=val)
    return net, hist


def validate(args, names, size, fit_steps, cache, train) -> dict:
    """Train every candidate on IMAGES minus VAL_IMAGE, score on VAL_IMAGE (PSNR of the full grid)."""
    from insp.tasks.pairs import DEFAULT_ORDER

    fit_images = [i for i in (args.images or IMAGES) if i != args.val_image]
    out = {}
    for name in names:
        kw = dict(size=size, fit_steps=fit_steps, cache=cache, order=DEFAULT_ORDER, progress=not args.quiet)
        vals, targs, _ = tensors(name, fit_images, **kw)
        hv, ht, _ = tensors(name, [args.val_image], **kw)
        rows = {"INR itself": _psnr(hv[:, :, 0], ht)}
        for cand, override in CANDIDATES.items():
            config = {**NET, **override}
            m = partials(config["order"])
            t0 = time.perf_counter()
            net, hist = train_one(name, vals[..., :m], targs, config=config, train=train, progress=not args.quiet)
            rows[cand] = _psnr(_apply(net, hv[..., :m]), ht)
            print(f"[validate] {name:>14} {cand:<26} held-out PSNR {rows[cand]:6.2f} dB  (INR itself "
                  f"{rows['INR itself']:.2f}; train loss {hist.loss[-1]:.3g}; {time.perf_counter() - t0:.0f} s)",
                  flush=True)
        out[name] = rows
    return out


def leave_one_out(args, names, size, fit_steps, cache, train) -> dict:
    """Every LOO candidate trained on an operator's training images minus one and scored on that one, in turn.

    The score is the gain (dB, full grid, against the clean target) over the held-out image's own INR; test
    images are never used.  Returns ``{operator: {candidate: {"gain_over_inr": {image: dB}, "mean": dB}}}``.
    """
    out = {}
    for name in names:
        images = images_for(name, args)
        if len(images) < 2:
            raise ValueError(f"--loo needs at least two training images for {name}, got {images}")
        order = max({**NET, **c}["order"] for c in LOO_CANDIDATES.values())  # one jet serves every candidate
        vals, targs, _ = tensors(name, images, size=size, fit_steps=fit_steps, cache=cache, order=order,
                                 progress=not args.quiet)
        n = size * size  # training_tensors stacks every pixel of every image, image by image
        rows = {}
        for cand, override in LOO_CANDIDATES.items():
            config = {**NET, **override}
            m = partials(config["order"])
            gains = {}
            t0 = time.perf_counter()
            for i, held in enumerate(images):
                keep = torch.ones(vals.shape[0], dtype=torch.bool)
                keep[i * n:(i + 1) * n] = False
                net, _ = train_one(name, vals[keep][..., :m], targs[keep], config=config, train=train, progress=False)
                hv, ht = vals[i * n:(i + 1) * n], targs[i * n:(i + 1) * n]
                gains[held] = _psnr(_apply(net, hv[..., :m]), ht) - _psnr(hv[:, :, 0], ht)
            rows[cand] = dict(gain_over_inr=gains, mean=float(np.mean(list(gains.values()))))
            print(f"[loo] {name:>14} {cand:<30} mean gain over the held-out INR {rows[cand]['mean']:+.3f} dB "
                  f"(per image {', '.join(f'{k} {v:+.2f}' for k, v in gains.items())}; "
                  f"{time.perf_counter() - t0:.0f} s)", flush=True)
        out[name] = rows
    return out


def _checkpoint_seconds(path: Path) -> float:
    """Training seconds recorded in an existing checkpoint (0 if there is none)."""
    if not path.is_file():
        return 0.0
    from insp.fields.io import read_header

    return float(read_header(path, kind="insp-operator-checkpoint")["history"]["seconds"])


def fixture_crop(values, targets, size: int, n: int = FIXTURE_SIZE) -> tuple[slice, slice]:
    """The ``n x n`` window (stride 8) of the first image where the INR is furthest from the target.

    A fixed crop can miss the degradation (text drawn elsewhere), and then the
    held-in test could not tell a working operator from a broken one.
    """
    err = ((values[:size * size, 0, 0] - targets[:size * size, 0]) ** 2).reshape(size, size).numpy()
    best, where = -1.0, (0, 0)
    for i in range(0, size - n + 1, 8):
        for j in range(0, size - n + 1, 8):
            e = float(err[i:i + n, j:j + n].mean())
            if e > best:
                best, where = e, (i, j)
    return slice(where[0], where[0] + n), slice(where[1], where[1] + n)


def write_fixture(name: str, values, targets, size: int) -> None:
    """Store a crop (:func:`fixture_crop`) of the first training image (jet and target) for the tests."""
    rows, cols = fixture_crop(values, targets, size)
    v = values[:size * size].reshape(size, size, *values.shape[1:])[rows, cols].numpy()
    t = targets[:size * size].reshape(size, size, -1)[rows, cols].numpy()
    old = dict(np.load(FIXTURE)) if FIXTURE.is_file() else {}
    old.update({f"{name}/values": v.astype(np.float32), f"{name}/target": t.astype(np.float32)})
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    tmp = FIXTURE.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **old)
    tmp.replace(FIXTURE)


def train_all(args, names, size, fit_steps, cache, train, out_dir: Path) -> dict:
    from insp.learned import save_operator
    from insp.runinfo import run_metadata
    from insp.tasks import get_task

    summary = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        task, protocol = OPERATORS[name]
        config = net_config(name)
        t0 = time.perf_counter()
        images = images_for(name, args)
        values, targets, fits = tensors(name, images, size=size, fit_steps=fit_steps, cache=cache,
                                        order=config["order"], progress=not args.quiet)
        data_seconds = time.perf_counter() - t0
        ckpt_dir = Path(cache) / "train_operators"
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        inr = inr_config(task, size, fit_steps)  # the tag changes with the data and the net: no stale resume
        tag = "-".join(images) + f"-{size}-w{inr['first_omega_0']:g}-{inr['hidden_omega_0']:g}-s{inr['steps']}" \
            f"-K{config['order']}"
        ckpt = ckpt_dir / f"{name}-{tag}.ckpt"
        before = _checkpoint_seconds(ckpt)  # a resumed run adds the time spent before the interruption
        net, hist = train_one(name, values, targets, config=config, train=train, checkpoint=ckpt,
                              progress=not args.quiet)
        train_seconds = before + hist.seconds
        held_in = dict(inr=_psnr(values[:, :, 0], targets), operator=_psnr(_apply(net, values), targets))
        fit_total = float(sum(v for v in fits.values() if v is not None))
        meta = run_metadata(
            name=name, task=task, task_params=get_task(task).params, protocol=protocol,
            inr=inr, training_images=images,
            training_points=int(values.shape[0]),
            degradation_seeds="insp.tasks.image_seed(name)", train=dict(train), order=config["order"], net=config,
            training_seconds=round(train_seconds, 1), fit_seconds=round(fit_total, 1),
            data_seconds=round(data_seconds, 1), final_loss=hist.loss[-1], held_in_psnr=held_in,
            threads=torch.get_num_threads(), quick=bool(args.quick),
            command="python -m benchmarks.train_operators" + (" --quick" if args.quick else ""))
        path = save_operator(net, out_dir / f"{name}.inspop", metadata=meta)
        if not args.quick:
            write_fixture(name, values, targets, size)
        summary[name] = meta
        print(f"[train] {name:>14}: held-in PSNR {held_in['inr']:.2f} (INR) -> {held_in['operator']:.2f} dB; "
              f"training {train_seconds:.0f} s, fits {fit_total:.0f} s -> {path} ({path.stat().st_size // 1024} KiB)",
              flush=True)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.train_operators", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--operators", nargs="+", default=list(OPERATORS), choices=list(OPERATORS))
    ap.add_argument("--images", nargs="+", default=None,
                    help="training images (insp.data.TRAIN_IMAGES; default: OPERATOR_IMAGES, else IMAGES)")
    ap.add_argument("--validate", action="store_true", help="run the validation experiment instead of training")
    ap.add_argument("--val-image", default=VAL_IMAGE, help="held-out training image of --validate")
    ap.add_argument("--loo", action="store_true",
                    help="leave-one-out selection over the operator's training images instead of training")
    ap.add_argument("--steps", type=int, default=TRAIN["steps"], help="training steps per operator")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as documented)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out-dir", type=Path, default=PACKAGE_DIR, help="where the weights go (the package)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 2 images at 32x32, 30 fit steps, 20 training steps, temporary cache and output")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    if args.validate and args.loo:
        ap.error("--validate and --loo are two different experiments: give one")
    torch.set_num_threads(args.threads)

    from insp import data
    from insp.runinfo import run_metadata

    assert set(ALL_TRAIN) == set(data.TRAIN_IMAGES)
    bad = [i for i in (args.images or []) + [args.val_image] if i not in data.TRAIN_IMAGES]
    if bad:
        ap.error(f"training images must come from insp.data.TRAIN_IMAGES {data.TRAIN_IMAGES}, got {bad}")
    size, fit_steps, cache, out_dir = 256, None, args.cache, args.out_dir
    train = dict(TRAIN, steps=args.steps)
    tmp = None
    if args.quick:
        size, fit_steps, train = 32, 30, dict(TRAIN, steps=20, batch_size=256)
        tmp = tempfile.TemporaryDirectory()
        cache = out_dir = Path(tmp.name)
    try:
        t0 = time.perf_counter()
        if args.validate:
            res = validate(args, args.operators, size, fit_steps, cache, train)
            doc = dict(images=args.images or list(IMAGES), val_image=args.val_image, net=NET, train=train,
                       candidates=CANDIDATES,
                       inr={op: inr_config(OPERATORS[op][0], size, fit_steps) for op in args.operators},
                       heldout_psnr=res, seconds=time.perf_counter() - t0,
                       run=run_metadata(threads=torch.get_num_threads(), quick=bool(args.quick)))
            if not args.quick:  # one entry per (operators, held-out image), earlier ones kept
                path = OUT / "train_operators_validation.json"
                runs = json.loads(path.read_text()).get("runs", {}) if path.is_file() else {}
                runs[f"{'+'.join(args.operators)} held out {args.val_image}"] = doc
                path.write_text(json.dumps(dict(runs=runs), indent=1))
            return 0
        if args.loo:
            res = leave_one_out(args, args.operators, size, fit_steps, cache, train)
            seconds = time.perf_counter() - t0
            docs = {op: dict(net=NET, train=train, candidates=LOO_CANDIDATES, images=images_for(op, args),
                             inr=inr_config(OPERATORS[op][0], size, fit_steps), loo=r, seconds=seconds,
                             run=run_metadata(threads=torch.get_num_threads(), quick=bool(args.quick)))
                    for op, r in res.items()}
            if not args.quick:  # one entry per operator, earlier ones kept
                path = OUT / "train_operators_loo.json"
                old = json.loads(path.read_text()) if path.is_file() else {}
                path.write_text(json.dumps({**old, **docs}, indent=1))
            return 0
        summary = train_all(args, args.operators, size, fit_steps, cache, train, out_dir)
        doc = run_metadata(operators=summary, net=NET, train=train, wall_seconds=time.perf_counter() - t0)
        if not args.quick:
            path = OUT / "train_operators.json"
            old = json.loads(path.read_text()) if path.is_file() else {}
            doc["operators"] = {**old.get("operators", {}), **summary}
            path.write_text(json.dumps(doc, indent=1))
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
