"""Benchmark: restoration on the test split -- classical pixel methods, the degraded INR, learned operators (issue 5).

    # 1. fit and cache the INRs (test split by default; train|all) x every task and protocol; reruns are cheap.
    #    --lock holds the benchmark lock for one fit at a time, so other benchmarks can run in between.
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python -m benchmarks.restoration --build \\
        --lock /tmp/insp-bench.lock [--split test|train|all]
    # 2. the benchmark on the test split (uses the cached fits, fits what is missing)
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 flock /tmp/insp-bench.lock .venv/bin/python -m benchmarks.restoration
    # smoke test: 2 images at 32x32, 30 fit steps, temporary cache
    .venv/bin/python -m benchmarks.restoration --quick

Protocol (``docs/restoration.md``): every image of ``insp.data.TEST_IMAGES``
at 256x256 gray, degraded by each task of ``insp.tasks.TASKS`` with seed
``insp.tasks.image_seed(name, 0)``; an INR (default SIREN 3x128, 1000 steps,
fit seed 0) fitted to each degraded image, and for the inpainting tasks also
to the known pixels only.  Every contender gets the same degraded input (the
classical methods the pixel array, plus the known PSF / noise level / mask
where the task provides them); PSNR and SSIM (data range 1) against the
task's target, means over the test images.  Prints a table and writes
``benchmarks/results/restoration.json``.

Learned operators enter through :func:`learned_contenders`: the operators
shipped in ``insp/learned/weights/`` (``python -m benchmarks.train_operators``).
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

from insp import data
from insp.metrics import psnr, ssim
from insp.tasks import TASKS, get_task, image_seed, paired

OUT = Path(__file__).parent / "results"
CACHE = OUT / "cache"
ORDER = 4


def jobs(images, tasks):
    """Every (image, task, protocol) of the protocol, in build order: task by task, so that a partial
    build already covers whole rows of the table."""
    return [(name, t, p) for t in tasks for p in get_task(t).protocols for name in images]


def _locked(lock):
    """A context that holds ``flock(lock)`` (exclusive), or does nothing when ``lock`` is None."""
    import contextlib
    import fcntl

    if lock is None:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def held():
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    return held()


def build(images, tasks, *, size, steps, cache_dir, order=ORDER, progress=True, lock=None) -> list[dict]:
    """Fit (or load) every INR and its jet; returns one record per job with the fit's time.

    With ``lock`` (a path), each job holds ``flock(lock)`` only while it runs, so the project's other
    benchmarks can run between two fits of a long build.
    """
    from tqdm.auto import tqdm

    records = []
    todo = jobs(images, tasks)
    for name, t, p in tqdm(todo, desc="pairs", disable=not progress):
        t0 = time.perf_counter()
        with _locked(lock):
            pair = paired(name, t, order=order, size=size, seed=image_seed(name), protocol=p, steps=steps,
                          cache_dir=cache_dir, progress=progress)
        rec = dict(image=name, task=t, protocol=p, from_cache=pair.from_cache, fit_seconds=pair.fit_seconds,
                   seconds=time.perf_counter() - t0)
        records.append(rec)
        if lock is not None and pair.from_cache is False:
            time.sleep(2)  # let a benchmark waiting on the lock take it (flock does not queue fairly)
        print(f"{name:>22} {t:>8} {p:>9}  fit {pair.fit_seconds:7.1f} s  "
              f"{'(cached)' if pair.from_cache else '        '}  total {rec['seconds']:6.1f} s", flush=True)
    return records


# --------------------------------------------------------------------------- contenders
#
# A contender is ``fn(case) -> restored image`` where ``case`` is a :class:`Case`: the degraded input (with
# mask / PSF / noise level), the fitted INRs by protocol, the image name and the task.


class MissingFit(LookupError):
    """A contender needs an INR that is not cached (``--inr cached``)."""


class Case:
    """One test image under one task: what every contender receives."""

    def __init__(self, image, task, degraded, fields, size):
        self.image, self.task, self.degraded, self.fields, self.size = image, task, degraded, fields, size

    def inr(self, protocol="degraded") -> np.ndarray:
        """The INR fitted with ``protocol``, sampled on the pixel grid, ``(H, W)``."""
        if protocol not in self.fields:
            raise MissingFit(f"{self.image}/{self.task.name}/{protocol}")
        with torch.no_grad():
            return self.fields[protocol].sample((self.size, self.size)).double().numpy()[..., 0]


def _clip(a):
    return np.clip(a, 0.0, 1.0)


def classical_contenders(task: str) -> dict:
    """The pixel-grid contenders of ``task`` (name -> fn(case))."""
    from scipy.ndimage import gaussian_filter

    from insp.baselines import restoration as R

    if task == "denoise":
        return {
            "TV (Chambolle)": lambda c: R.denoise_tv(c.degraded.input),
            "NL-means (sigma estimated)": lambda c: R.denoise_nl_means(c.degraded.input),
            "wavelet (BayesShrink)": lambda c: R.denoise_wavelet(c.degraded.input),
            "BM3D (sigma known)": lambda c: R.denoise_bm3d(c.degraded.input, sigma=c.degraded.noise_sigma),
        }
    if task == "deblur":
        return {
            "Wiener (reflect pad)": lambda c: R.deconv_wiener(c.degraded.input, c.degraded.psf),
            "Richardson-Lucy (reflect pad)": lambda c: R.deconv_richardson_lucy(c.degraded.input, c.degraded.psf),
            "Wiener (periodic, no pad)": lambda c: R.deconv_wiener(c.degraded.input, c.degraded.psf, pad=False),
        }
    if task == "blur":
        s = get_task("blur").params["sigma"]
        return {
            "gaussian_filter of the pixels (= target)": lambda c: gaussian_filter(c.degraded.input, s, mode="reflect"),
            "gaussian_filter of the INR samples": lambda c: gaussian_filter(c.inr(), s, mode="reflect"),
        }
    if task in ("inpaint", "text"):
        return {
            "biharmonic": lambda c: R.inpaint_biharmonic(c.degraded.input, c.degraded.known),
            "OpenCV Telea": lambda c: R.inpaint_telea(c.degraded.input, c.degraded.known),
            "OpenCV NS": lambda c: R.inpaint_ns(c.degraded.input, c.degraded.known),
        }
    raise ValueError(f"unknown task {task!r}")


def inr_contenders(task: str) -> dict:
    """The degraded INR itself, sampled on the grid (one row per fitting protocol)."""
    rows = {"INR fitted to the input": lambda c: _clip(c.inr("degraded"))}
    if "known" in get_task(task).protocols:
        rows["INR fitted to known pixels only"] = lambda c: _clip(c.inr("known"))
    return rows


def _learned(operator: str, protocol: str):
    """``fn(case)``: the shipped operator ``operator`` on the INR fitted with ``protocol``, sampled on the grid."""
    def fn(c):
        from insp.learned import load_pretrained

        if protocol not in c.fields:
            raise MissingFit(f"{c.image}/{c.task.name}/{protocol}")
        with torch.no_grad():
            out = load_pretrained(operator).apply(c.fields[protocol]).sample((c.size, c.size))
        return _clip(out.double().numpy()[..., 0])

    return fn


def learned_contenders(task: str) -> dict:
    """The pretrained INSP-Net operators of ``insp.ops`` (``benchmarks/train_operators.py``; docs/pretrained.md).

    Inpainting gets both protocols: the operator on the INR fitted to the holey image (the paper's) and the
    operator trained on known-pixel fits applied to the INR fitted to the known pixels only.
    """
    rows = {f"INSP-Net {task} (pretrained) on the input's INR": _learned(task, "degraded")}
    if task == "inpaint":
        rows["INSP-Net inpaint_known on the known-pixel INR"] = _learned("inpaint_known", "known")
    return rows


def evaluate(images, tasks, *, size, steps, cache_dir, progress=True, inr="fit") -> dict:
    """Every contender on every image and task: per-image PSNR/SSIM/seconds, means and counts.

    ``inr="fit"`` fits the INRs the cache lacks; ``"cached"`` uses only cached fits, and a contender
    that needs a missing one skips that image (its ``n`` says over how many images its mean is).
    """
    from insp.tasks import fit_degraded

    results = {}
    for t in tasks:
        task = get_task(t)
        contenders = {"input (degraded, as is)": lambda c: c.degraded.input, **inr_contenders(t),
                      **classical_contenders(t), **learned_contenders(t)}
        rows = {name: dict(psnr={}, ssim={}, seconds={}) for name in contenders}
        fits = {}
        for name in images:
            degraded = task.degrade(data.gray(name, size), seed=image_seed(name))
            fields = {}
            for p in task.protocols:
                try:
                    _, fields[p], meta = fit_degraded(name, task, size=size, seed=image_seed(name), protocol=p,
                                                      steps=steps, cache_dir=cache_dir, progress=progress,
                                                      fit_missing=inr == "fit")
                    fits[f"{name}/{p}"] = meta["fit_seconds"]
                except LookupError:
                    pass
            case = Case(name, task, degraded, fields, size)
            target = degraded.target
            for cname, fn in contenders.items():
                t0 = time.perf_counter()
                try:
                    out = np.asarray(fn(case), dtype=np.float64)
                except MissingFit:
                    continue
                rows[cname]["seconds"][name] = time.perf_counter() - t0
                rows[cname]["psnr"][name] = psnr(out, target, data_range=1.0)
                rows[cname]["ssim"][name] = ssim(out, target, data_range=1.0)
        inp = rows["input (degraded, as is)"]["psnr"]
        for r in rows.values():
            r["n"] = len(r["psnr"])
            # gain over the input on the same images (a row with n < len(images) is compared fairly)
            r["gain_mean"] = float(np.mean([v - inp[k] for k, v in r["psnr"].items()])) if r["psnr"] else float("nan")
            for k in ("psnr", "ssim", "seconds"):
                r[f"{k}_mean"] = float(np.mean(list(r[k].values()))) if r[k] else float("nan")
        results[t] = dict(params=task.params, rows=rows, fit_seconds=fits)
    return results


def _json_safe(obj):
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)  # "inf": an exact result
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def print_table(results) -> None:
    for t, res in results.items():
        rows = res["rows"]
        print(f"\n## {t}  {res['params']}")
        print(f"{'contender':<42} {'PSNR':>7} {'gain':>7} {'SSIM':>6} {'s/img':>7} {'n':>3}")
        for name, r in rows.items():
            print(f"{name:<42} {r['psnr_mean']:7.2f} {r['gain_mean']:+7.2f} {r['ssim_mean']:6.3f} "
                  f"{r['seconds_mean']:7.3f} {r['n']:3d}")


def markdown(results) -> str:
    """The results as Markdown tables (one per task), e.g. for docs/restoration.md."""
    lines = []
    for t, res in results.items():
        rows = res["rows"]
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in res["params"].items())
        lines += ["", f"**{t}** ({params})", "", "| contender | PSNR (dB) | gain over input (dB, same images) | SSIM | s / image | n |",
                  "|---|---|---|---|---|---|"]
        for name, r in rows.items():
            p, g, q, sec = (float(r[k]) for k in ("psnr_mean", "gain_mean", "ssim_mean", "seconds_mean"))
            if r["n"] == 0:
                lines.append(f"| {name} | — | — | — | — | 0 |")
                continue
            ps = "∞" if np.isinf(p) else f"{p:.2f}"
            gain = "∞" if np.isinf(p) else f"{g:+.2f}"
            lines.append(f"| {name} | {ps} | {gain} | {q:.3f} | {sec:.3f} | {r['n']} |")
    return "\n".join(lines[1:])


def tune(images, *, size) -> dict:
    """Grid search of the classical parameters on ``images`` (the training split); mean PSNR per value."""
    from insp.baselines import restoration as R

    clean = {n: data.gray(n, size) for n in images}
    deg = {t: {n: get_task(t).degrade(clean[n], seed=image_seed(n)) for n in images} for t in ("denoise", "deblur")}
    grids = dict(
        tv_weight=("denoise", [0.04, 0.06, 0.08, 0.1, 0.12, 0.15], lambda d, v: R.denoise_tv(d.input, weight=v)),
        nl_means_h=("denoise", [0.4, 0.5, 0.6, 0.8, 1.0],
                    lambda d, v: R.denoise_nl_means(d.input, h=v * R._sigma(d.input, None, None))),
        wiener_balance=("deblur", [1e-5, 3e-5, 1e-4, 2e-4, 5e-4, 1e-3, 5e-3],
                        lambda d, v: R.deconv_wiener(d.input, d.psf, balance=v)),
        rl_iterations=("deblur", [30, 100, 200, 400],
                       lambda d, v: R.deconv_richardson_lucy(d.input, d.psf, iterations=v)),
    )
    out = {}
    for param, (t, values, fn) in grids.items():
        scores = {str(v): float(np.mean([psnr(fn(deg[t][n], v), clean[n]) for n in images])) for v in values}
        best = max(scores, key=scores.get)
        out[param] = dict(task=t, scores=scores, best=best)
        print(f"{param:>15}: " + "  ".join(f"{v}: {s:.2f}" for v, s in scores.items()) + f"   -> {best}")
    return out


def metadata(args, images, size, steps) -> dict:
    """The run record (:func:`insp.runinfo.run_metadata`) with the baselines' versions and the protocol."""
    from insp.fields import DEFAULTS
    from insp.runinfo import package_version, run_metadata

    return run_metadata(opencv=package_version("opencv-python-headless"), bm3d=package_version("bm3d"),
                        threads=torch.get_num_threads(), images=list(images), size=size,
                        fit=dict(DEFAULTS, steps=steps or DEFAULTS["steps"], fit_seed=0),
                        fit_overrides={name: t.fit for name, t in TASKS.items() if t.fit},
                        degradation_seeds={n: image_seed(n) for n in images}, quick=bool(args.quick))


def merge_results(path: Path, results: dict, run: dict) -> dict:
    """The results document with ``results``' tasks (re)placed: a run of some tasks keeps the others' tables.

    ``runs[task]`` says which run (versions, date, settings) each task's table comes from.
    """
    old = json.loads(path.read_text()) if path.is_file() else {}
    runs = old.get("runs") or {t: old["meta"] for t in old.get("tasks", {}) if "meta" in old}  # older layout
    return dict(tasks={**old.get("tasks", {}), **results}, runs={**runs, **{t: run for t in results}})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.restoration", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="store_true", help="only fit and cache the INRs and jets")
    ap.add_argument("--tune", action="store_true",
                    help="grid-search the classical parameters on the training images (no fits) and exit")
    ap.add_argument("--split", choices=("test", "train", "all"), default="test",
                    help="images to build (--build); the benchmark always uses the test split")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=None, help="fit steps (default: insp.fit's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as documented)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--inr", choices=("fit", "cached"), default="fit",
                    help="fit the INRs the cache lacks (default), or use only cached ones (rows report n)")
    ap.add_argument("--lock", type=Path, default=None,
                    help="--build: hold flock on this file for each fit only (e.g. /tmp/insp-bench.lock)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 images, 32x32, 30 steps, temporary cache")
    ap.add_argument("--out", type=Path, default=OUT / "restoration.json")
    ap.add_argument("--markdown", type=Path, default=None,
                    help="print the tables of this results JSON as Markdown and exit")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    images = {"test": data.TEST_IMAGES, "train": data.TRAIN_IMAGES,
              "all": data.TEST_IMAGES + data.TRAIN_IMAGES}[args.split]
    size, steps, cache = args.size, args.steps, args.cache
    tmp = None
    if args.quick:
        images, size, steps = data.TEST_IMAGES[:2], 32, 30
        tmp = tempfile.TemporaryDirectory()
        cache = Path(tmp.name)
    if args.markdown is not None:
        print(markdown(json.loads(args.markdown.read_text())["tasks"]))
        return 0
    try:
        if args.build:
            build(images, args.tasks, size=size, steps=steps, cache_dir=cache, lock=args.lock)
            return 0
        if args.tune:
            res = tune(data.TRAIN_IMAGES if not args.quick else data.TRAIN_IMAGES[:2], size=size)
            if not args.quick:
                (OUT / "restoration_tune.json").write_text(json.dumps(res, indent=1))
            return 0
        images = data.TEST_IMAGES if not args.quick else images
        t0 = time.perf_counter()
        results = evaluate(images, args.tasks, size=size, steps=steps, cache_dir=cache, inr=args.inr)
        print_table(results)
        run = dict(metadata(args, images, size, steps), inr=args.inr, wall_seconds=time.perf_counter() - t0)
        out = args.out if not args.quick else Path(cache) / "restoration_quick.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(_json_safe(merge_results(out, results, run)), indent=1))
        print(f"\nwrote {out}")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
