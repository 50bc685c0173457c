"""Fitting speed: the issue-2 targets, measured on this machine.

1. Camera 256x256 gray (``skimage.data.camera()`` 2x2 area mean, /255), 2 CPU
   threads: PSNR after 60 s of fitting and seconds to reach 30 dB for
   * the baseline: plain full-batch Adam, SIREN first layer + 3 hidden layers of
     128, omega_0 = 30, lr 1e-3 constant (run for twice the budget so that its
     time to 30 dB is measured too; its 60 s PSNR is read from the history);
   * insp's defaults: ``insp.fit(image, time_limit=60)``.
   The clock is the fit loop's (``FitHistory.time``): it leaves out the
   full-image evaluations made only to log PSNR, so logging does not cost
   either contender.  Both start from the same seed.
1b. Time to 30, 33 and 35 dB of ``insp.fit`` defaults in *units* (issue 21): a
   unit is one full-batch Adam step of a plain sine MLP 2-128x4-1 written
   here with ``torch.nn.Linear`` and ``torch.sin``, over the 65,536 points
   of a 256x256 grid, timed between the fits of the same run (median).
   Rows: camera 256 gray (defaults), the same through the autograd engine
   (``fit``'s engine before the SIREN engine), camera 512 gray, astronaut
   256 RGB.
1c. 512x512 gray (issue 21): three recipes (the defaults; 256 wide at first
   omega 30 and 45, batch 8192) fitted for a fixed time (75 s) to rocket and
   brick (training images), the one with the least mean time to 35 dB then
   fitted to camera beside the defaults: time to 33 and 35 dB, in seconds and
   units.  CPU only; left out with --quick.
2. ``fit_many`` on 256 signals of 32x32 (64x64 crops of 12 shipped skimage
   images, gray, 2x2 area mean) versus ``fit`` on each in turn, same
   settings (SIREN 2-16-16-16-1, 609 parameters; full batch; 200 steps;
   default lr and schedule), same run: seconds per signal, their ratio and the
   PSNRs.  Two more rows on 64 signals: width 32 (2,241 parameters), and
   the generic ``vmap`` engine.
3. Peak memory of ``sample()`` rendering 4096x4096 from a SIREN 256 wide
   with 3 hidden layers, in a fresh subprocess: peak resident set (VmHWM,
   reset through /proc/self/clear_refs just before the call) above the
   resident set before it.

Prints a table and writes ``benchmarks/results/fit_speed.json`` with the run
metadata (versions, threads, CPU, load average before/after each part).

Usage::

    python -m benchmarks.fit_speed            # full run, ~20 min on 2 idle cores
    python -m benchmarks.fit_speed --skip camera units many render   # the 512 part alone, ~10 min
    python -m benchmarks.fit_speed --quick    # smoke run, < 1 min
    python -m benchmarks.fit_speed --device cuda --long-steps 4000   # units and fit_many on a GPU
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from insp.runinfo import load_average, run_metadata

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- 1. camera


def psnr_at(hist, seconds: float) -> float:
    """PSNR of the last logged weights at or before ``seconds`` of fitting."""
    best = float("nan")
    for p, t in zip(hist.psnr, hist.time):
        if t <= seconds:
            best = p
    return best


def bench_camera(budget: float, size: int) -> dict:
    from insp import data
    from insp.fields import DEFAULTS, Siren, fit

    img = data.gray("camera", size=size)
    out = {"image": f"camera {size}x{size}", "budget_s": budget}

    load0 = load_average()
    base_model = Siren(2, 1, hidden_features=128, hidden_layers=3, first_omega_0=30.0, hidden_omega_0=30.0, seed=0)
    _, hb = fit(img, model=base_model, steps=10**7, lr=1e-3, batch_size="full", final_lr_ratio=1.0,
                time_limit=2 * budget, channel_axis=None, data_range=1.0, progress=False, seed=0)
    out["baseline"] = dict(
        config="SIREN 2-128x4-1 (3 hidden), omega 30, Adam lr 1e-3 constant, full batch",
        psnr_at_budget=round(psnr_at(hb, budget), 3), time_to_30db=_r(hb.time_to(30.0)),
        steps_in_budget=sum(1 for t in hb.time[:-1] if t <= budget), psnr_at_2x_budget=round(hb.final_psnr, 3),
        load_before=load0, load_after=load_average())

    load0 = load_average()
    _, ho = fit(img, time_limit=budget, channel_axis=None, data_range=1.0, progress=False, seed=0, log_every=10)
    out["ours"] = dict(
        config=(f"SIREN 2-{DEFAULTS['hidden_features']}x{DEFAULTS['hidden_layers'] + 1}-1 "
                f"({DEFAULTS['hidden_layers']} hidden), omega {DEFAULTS['first_omega_0']:g}/"
                f"{DEFAULTS['hidden_omega_0']:g}, Adam lr {DEFAULTS['lr']:g} cosine, "
                f"batch {DEFAULTS['batch_size']}, {DEFAULTS['steps']} steps"),
        psnr_at_budget=round(ho.final_psnr, 3), time_to_30db=_r(ho.time_to(30.0)), steps=ho.steps,
        stopped=ho.stopped, fit_seconds=round(ho.time[-1], 2), wall_seconds=round(ho.wall_time, 2),
        load_before=load0, load_after=load_average())
    return out


def _r(v, nd=2):
    return None if v is None else round(v, nd)


# --------------------------------------------------------------------------- 1b. units (issue 21)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def unit_step_seconds(points: int, repeats: int = 5, device: str = "cpu") -> float:
    """Median seconds of one *unit*: a full-batch Adam step of a plain sine MLP over ``points`` points.

    The MLP is written here with ``torch.nn.Linear`` and ``torch.sin`` (2-128, three 128-128, 128-1, omega 30)
    so that the unit does not speed up with insp's own layers or engines.
    """
    import torch
    from torch import nn

    torch.manual_seed(0)
    lins = nn.ModuleList([nn.Linear(2, 128)] + [nn.Linear(128, 128) for _ in range(3)] + [nn.Linear(128, 1)])
    lins = lins.to(device)
    x, y = (torch.rand(points, 2) * 2 - 1).to(device), torch.rand(points, 1).to(device)
    opt = torch.optim.Adam(lins.parameters(), lr=1e-4)

    def step():
        h = x
        for lin in lins[:-1]:
            h = torch.sin(30.0 * lin(h))
        loss = ((lins[-1](h) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bench_units(quick: bool, device: str = "cpu", long_steps: int | None = None) -> dict:
    """Time to 35 dB (and 30, 33) of ``insp.fit`` defaults in units, the unit timed before and after each fit.

    Rows: camera 256 gray with the defaults, the same with the autograd engine
    (what ``fit`` used before the SIREN engine), camera 512 gray and astronaut
    256 RGB; with ``long_steps``, camera 512 once more with that many steps.
    The fit's clock leaves out the logging evaluations (every 10 steps here);
    the wall time of each fit is reported beside it.
    """
    from insp import data
    from insp.fields import fit
    from insp.fields.fitting import fitters

    size = 64 if quick else 256
    rows = [("camera gray", data.gray("camera", size=size), None),
            ("camera gray, autograd engine", data.gray("camera", size=size), "module"),
            ("camera gray", data.gray("camera", size=2 * size), None),
            ("astronaut RGB", data.color("astronaut", size=size), None)]
    steps = [200 if quick else None] * len(rows)
    if long_steps:
        rows.append(("camera gray", data.gray("camera", size=2 * size), None))
        steps.append(long_steps)
    units = [unit_step_seconds(size * size, device=device)]
    out = []
    chosen = fitters._single_engine
    for (name, img, engine), n_steps in zip(rows, steps):
        # the autograd row swaps the engine choice for this one fit (a benchmark-only switch, restored below)
        fitters._single_engine = chosen if engine is None else (lambda model, e=engine: e)
        load0 = load_average()
        try:
            _, h = fit(img, progress=False, seed=0, log_every=10, data_range=1.0,
                       channel_axis=None if img.ndim == 2 else -1, steps=n_steps, device=device)
        finally:
            fitters._single_engine = chosen
        units.append(unit_step_seconds(size * size, device=device))
        unit = float(np.median(units))  # the unit is fixed per run: full batch of the 256x256 (64 quick) grid
        row = dict(image=f"{name} {img.shape[0]}x{img.shape[1]}", engine=engine or "default", steps=h.steps, final_psnr=round(h.final_psnr, 2),
                   fit_seconds=round(h.time[-1], 2), wall_seconds=round(h.wall_time, 2), unit_s=round(unit, 4),
                   load_before=load0, load_after=load_average())
        for target in (30.0, 33.0, 35.0):
            t = h.time_to(target)
            row[f"time_to_{target:g}db_s"] = _r(t)
            row[f"units_to_{target:g}db"] = None if t is None else round(t / unit, 1)
        out.append(row)
    return dict(unit=f"full-batch Adam step, plain nn.Linear/torch.sin MLP 2-128x4-1, {size * size} points",
                device=device,
                unit_samples_s=[round(u, 4) for u in units], rows=out)


# --------------------------------------------------------------------------- 1c. 512x512 (issue 21)

# Candidate recipes for 512x512 gray: (hidden width, first omega, batch size).  The default network has
# 50k parameters for 262k pixels; the wider ones test whether capacity, not steps, is the limit.
RECIPES_512 = {"defaults (128 wide, omega 30, batch 4096)": (128, 30.0, 4096),
               "256 wide, omega 30, batch 8192": (256, 30.0, 8192),
               "256 wide, omega 45, batch 8192": (256, 45.0, 8192)}
# Images that choose the recipe (insp.data.TRAIN_IMAGES); camera, which scores it, is a test image.
CHOOSING_512 = ("rocket", "brick")


def _fit_512(img, recipe, budget: float):
    from insp.fields import Siren, fit

    width, omega, batch = recipe
    model = Siren(2, 1, hidden_features=width, hidden_layers=3, first_omega_0=omega, hidden_omega_0=30.0, seed=0)
    load0 = load_average()
    # steps large so that the time budget ends the fit (the cosine then runs over the budget)
    _, h = fit(img, model=model, steps=10**6, batch_size=batch, time_limit=budget, log_every=100,
               data_range=1.0, channel_axis=None, progress=False, seed=0)
    return dict(final_psnr=round(h.final_psnr, 2), steps=h.steps, fit_seconds=round(h.time[-1], 2),
                time_to_33db_s=_r(h.time_to(33.0)), time_to_35db_s=_r(h.time_to(35.0)),
                load_before=load0, load_after=load_average())


def _recipe_cost(rows: list[dict]) -> tuple:
    """Sort key of a recipe on the choosing images: mean seconds to 35 dB (budget x 2 where not reached), then PSNR."""
    secs = [r["time_to_35db_s"] if r["time_to_35db_s"] is not None else 2 * r["budget_s"] for r in rows]
    return float(np.mean(secs)), -float(np.mean([r["final_psnr"] for r in rows]))


def bench_512(budget: float, size: int = 512) -> dict:
    """Time to 33 and 35 dB at 512x512 gray: choose a recipe on training images, score it on camera.

    Each fit runs for ``budget`` seconds (cosine schedule over the budget).  The recipe with the least mean
    time to 35 dB on :data:`CHOOSING_512` is then fitted to camera, beside the defaults; the unit (as in
    part 1b, 65,536 points) is timed in the same run so that the seconds read as units too.
    """
    from insp import data

    choosing = []
    for name, recipe in RECIPES_512.items():
        rows = []
        for image in CHOOSING_512:
            r = _fit_512(data.gray(image, size=size), recipe, budget)
            rows.append(dict(image=f"{image} {size}x{size}", recipe=name, budget_s=budget, **r))
            print(f"  choose: {image:<8} {name:<42} {r['final_psnr']:6.2f} dB, 33 dB after "
                  f"{r['time_to_33db_s']} s, 35 dB after {r['time_to_35db_s']} s", flush=True)
        choosing.append(dict(recipe=name, rows=rows, mean_time_to_35db_s=round(_recipe_cost(rows)[0], 2)))
    chosen = min(choosing, key=lambda c: _recipe_cost(c["rows"]))["recipe"]
    units = [unit_step_seconds(256 * 256)]
    scored = []
    for name in dict.fromkeys([next(iter(RECIPES_512)), chosen]):  # defaults, then the chosen one (once if equal)
        r = _fit_512(data.gray("camera", size=size), RECIPES_512[name], budget)
        units.append(unit_step_seconds(256 * 256))
        unit = float(np.median(units))
        for target in ("33", "35"):
            t = r[f"time_to_{target}db_s"]
            r[f"units_to_{target}db"] = None if t is None else round(t / unit, 1)
        scored.append(dict(image=f"camera {size}x{size}", recipe=name, chosen=name == chosen, unit_s=round(unit, 4), **r))
    return dict(budget_s=budget, choosing_images=list(CHOOSING_512), choosing=choosing, chosen=chosen,
                unit_samples_s=[round(u, 4) for u in units], camera=scored)


# --------------------------------------------------------------------------- 2. fit_many


def crops(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``n`` gray crops of ``2*size`` pixels from shipped skimage images, 2x2 area mean, in [0, 1]."""
    import skimage.data
    from skimage.color import rgb2gray

    names = ["camera", "astronaut", "coins", "moon", "brick", "grass", "gravel", "rocket", "coffee", "chelsea",
             "clock", "immunohistochemistry"]
    imgs = []
    for name in names:
        a = getattr(skimage.data, name)()
        a = rgb2gray(a) if a.ndim == 3 else a.astype(np.float64) / 255.0
        imgs.append(a)
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size))
    c = 2 * size
    for i in range(n):
        a = imgs[i % len(imgs)]
        r, k = rng.integers(0, a.shape[0] - c + 1), rng.integers(0, a.shape[1] - c + 1)
        out[i] = a[r:r + c, k:k + c].reshape(size, 2, size, 2).mean(axis=(1, 3))
    return out


def bench_fit_many(n: int, size: int, width: int, layers: int, steps: int, engine: str = "auto",
                   device: str = "cpu") -> dict:
    """``fit`` on each of ``n`` crops in turn, then ``fit_many`` on all of them, same settings."""
    import torch

    from insp.fields import Siren, fit, fit_many

    signals = crops(n, size)

    def model(i):
        return Siren(2, 1, hidden_features=width, hidden_layers=layers, seed=i, device=device)

    settings = dict(steps=steps, progress=False, data_range=1.0, channel_axis=None)
    # warm-up (allocator, kernels), not timed
    fit(signals[0], model=model(0), **{**settings, "steps": 5})
    fit_many(signals[:2], model=[model(0), model(1)], engine=engine, **{**settings, "steps": 5})

    load0 = load_average()
    t = time.perf_counter()
    singles = [fit(signals[i], model=model(i), seed=i, **settings)[1].final_psnr for i in range(n)]
    t_single = (time.perf_counter() - t) / n
    load1 = load_average()
    t = time.perf_counter()
    fields, hist = fit_many(signals, model=[model(i) for i in range(n)], seed=0, engine=engine, **settings)
    t_many = (time.perf_counter() - t) / n
    diff = np.abs(np.array(hist.member_psnr) - np.array(singles))
    params = sum(p.numel() for p in model(0).parameters())
    return dict(
        signals=n, shape=[size, size], model=f"SIREN 2-{width}x{layers + 1}-1 ({layers} hidden, {params} parameters)",
        steps=steps, batch="full", lr="default (cosine)", threads=torch.get_num_threads(), device=device,
        engine=hist.config["engine"],
        one_by_one_s_per_signal=round(t_single, 5), fit_many_s_per_signal=round(t_many, 5),
        speedup=round(t_single / t_many, 2),
        psnr_one_by_one_mean=round(float(np.mean(singles)), 3),
        psnr_fit_many_mean=round(float(np.mean(hist.member_psnr)), 3),
        psnr_abs_diff_max=round(float(diff.max()), 4), psnr_one_by_one_min=round(float(np.min(singles)), 3),
        load_before=load0, load_between=load1, load_after=load_average())


# --------------------------------------------------------------------------- 3. render memory

_RENDER_WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads({threads})
from insp.fields import Siren

def kb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0

m = Siren(2, 1, hidden_features=256, hidden_layers=3, seed=0)
m.sample((256, 256))  # warm-up: allocator pools, BLAS buffers
reset = True
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
except OSError:
    reset = False
rss0 = kb("VmRSS")
hwm0 = kb("VmHWM")
t = time.perf_counter()
img = m.sample(({size}, {size}))
dt = time.perf_counter() - t
peak = kb("VmHWM")
print(json.dumps(dict(rss_before_mb=rss0 / 1024, peak_rss_mb=peak / 1024, hwm_reset=reset,
                      hwm_before_mb=hwm0 / 1024, seconds=dt, output_mb=img.numel() * img.element_size() / 2**20,
                      finite=bool(torch.isfinite(img).all()))))
"""


def bench_render_memory(size: int, threads: int) -> dict:
    code = _RENDER_WORKER.format(threads=threads, size=size)
    load0 = load_average()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    from insp.fields.base import DEFAULT_CHUNK_SIZE

    delta = res["peak_rss_mb"] - res["rss_before_mb"]
    return dict(shape=[size, size], model="SIREN 2-256x4-1 (3 hidden)", chunk_size=DEFAULT_CHUNK_SIZE,
                peak_rss_delta_mb=round(delta, 1), peak_rss_mb=round(res["peak_rss_mb"], 1),
                output_tensor_mb=round(res["output_mb"], 1), hwm_reset=res["hwm_reset"],
                seconds=round(res["seconds"], 1), finite=res["finite"], load_before=load0, load_after=load_average())


# --------------------------------------------------------------------------- driver


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fit_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short smoke run (small sizes, 5 s budget)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=None, help="fit seconds (default 60; 5 with --quick)")
    p.add_argument("--skip", nargs="*", default=[], choices=["camera", "units", "512", "many", "render"])
    p.add_argument("--device", default="cpu", help="torch device of the units and fit_many parts (e.g. cuda); "
                                                   "the camera and render parts are CPU-only and skipped otherwise")
    p.add_argument("--long-steps", type=int, default=None,
                   help="units part: fit camera 512 once more with this many steps (time to 33 and 35 dB)")
    p.add_argument("--budget-512", type=float, default=75.0,
                   help="seconds per fit of the 512x512 part (recipes chosen on rocket and brick, scored on camera)")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/fit_speed.json; "
                                                          "fit_speed_quick.json with --quick)")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    np.random.seed(0)
    budget = args.budget or (5.0 if args.quick else 60.0)
    meta = run_metadata(threads=args.threads)
    print(f"insp {meta['insp']}, torch {meta['torch']}, numpy {meta['numpy']}, python {meta['python']}; "
          f"{meta['torch_threads']} threads on {meta['cpu_count']} x {meta['processor']}; load {load_average()}",
          flush=True)
    res = dict(meta=meta, quick=args.quick, device=args.device)
    if args.device != "cpu":
        args.skip = sorted(set(args.skip) | {"camera", "render"})
        res["device_name"] = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else args.device
        print(f"device {res['device_name']}", flush=True)

    if "camera" not in args.skip:
        print(f"[1/3] camera: baseline ({2 * budget:g} s) then defaults ({budget:g} s) ...", flush=True)
        res["camera"] = cam = bench_camera(budget, 64 if args.quick else 256)
        b, o = cam["baseline"], cam["ours"]
        print(f"  baseline: {b['psnr_at_budget']:.2f} dB at {budget:g} s ({b['steps_in_budget']} steps), "
              f"30 dB after {b['time_to_30db']} s", flush=True)
        print(f"  defaults: {o['psnr_at_budget']:.2f} dB after {o['fit_seconds']} s ({o['steps']} steps, "
              f"stopped by {o['stopped']}), 30 dB after {o['time_to_30db']} s", flush=True)
    if "units" not in args.skip:
        print("[1b/3] time to 30/33/35 dB in units (full-batch steps of a plain sine MLP) ...", flush=True)
        res["units"] = un = bench_units(args.quick, device=args.device, long_steps=args.long_steps)
        for r in un["rows"]:
            print(f"  {r['image']:<40} {r['final_psnr']:6.2f} dB after {r['steps']} steps, {r['fit_seconds']:6.2f} s "
                  f"(wall {r['wall_seconds']:.1f} s); 35 dB after {r['time_to_35db_s']} s = "
                  f"{r['units_to_35db']} units (unit {1000 * r['unit_s']:.0f} ms)", flush=True)
    if "512" not in args.skip and not args.quick and args.device == "cpu":
        n_fits = len(RECIPES_512) * len(CHOOSING_512) + 2
        print(f"[1c/3] 512x512 gray: {n_fits} fits of {args.budget_512:g} s (choose on {', '.join(CHOOSING_512)}, "
              f"score on camera) ...", flush=True)
        res["fit_512"] = f5 = bench_512(args.budget_512)
        for r in f5["camera"]:
            print(f"  {r['image']} {r['recipe']:<42}{' (chosen)' if r['chosen'] else '':<10} {r['final_psnr']:6.2f} dB; "
                  f"33 dB after {r['time_to_33db_s']} s = {r['units_to_33db']} units, 35 dB after "
                  f"{r['time_to_35db_s']} s = {r['units_to_35db']} units", flush=True)
    if "many" not in args.skip:
        # the target setting (small per-signal networks, 609 parameters for 1024 pixels), then wider nets and
        # the generic vmap engine on 64 signals for comparison
        runs = [(256, 16, 2, "auto"), (64, 32, 2, "auto"), (64, 16, 2, "vmap")]
        if args.quick:
            runs = [(16, 16, 2, "auto"), (16, 16, 2, "vmap")]
        steps = 50 if args.quick else 200
        res["fit_many"] = []
        for n, width, layers, engine in runs:
            print(f"[2/3] fit_many vs fit: {n} signals of 32x32, width {width}, {steps} steps, engine {engine} ...",
                  flush=True)
            m = bench_fit_many(n, 32, width=width, layers=layers, steps=steps, engine=engine, device=args.device)
            res["fit_many"].append(m)
            print(f"  one by one {1000 * m['one_by_one_s_per_signal']:.1f} ms/signal "
                  f"({m['psnr_one_by_one_mean']:.2f} dB), fit_many[{m['engine']}] "
                  f"{1000 * m['fit_many_s_per_signal']:.1f} ms/signal ({m['psnr_fit_many_mean']:.2f} dB, "
                  f"max |diff| {m['psnr_abs_diff_max']:.3f} dB): {m['speedup']:.1f}x", flush=True)
    if "render" not in args.skip:
        size = 1024 if args.quick else 4096
        print(f"[3/3] render {size}x{size} from a 256-wide SIREN ...", flush=True)
        res["render_memory"] = r = bench_render_memory(size, args.threads)
        print(f"  peak RSS +{r['peak_rss_delta_mb']:.0f} MB (output tensor {r['output_tensor_mb']:.0f} MB), "
              f"{r['seconds']:.0f} s", flush=True)

    default = "fit_speed" + ("" if args.device == "cpu" else "_" + args.device.split(":")[0]) + ("_quick" if args.quick else "")
    out = args.out or HERE / "results" / (default + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
