"""Benchmark: gradient-domain reconstruction and Poisson blending, INR vs pixel grids (issues 6 and 22).

    OMP_NUM_THREADS=1 flock /tmp/insp-bench.lock .venv/bin/python -m benchmarks.poisson [--quick]
        [--parts recon,mechanism,e2e,seams] [--cases 120] [--e2e-cases 6]

Prints tables, writes ``benchmarks/results/poisson.json`` and PNG figures
under ``benchmarks/results/``.

Parts
-----
* ``mechanism``: many seeded cases (:mod:`benchmarks.poisson_cases`: sizes
  64-256, rectangles/ellipses/blobs/polygons, border or not, holes, soft,
  offsets, gray and RGB, replace/mixed/average) blended from *exact* fields
  (interpolating splines of the two images), so that only the blending
  mechanism is measured: PSNR (data range 1) of the INR blend sampled on the
  grid against :func:`insp.baselines.poisson.poisson_blend` of the same
  images, over the region and over the whole image; time of both per size.
  A soft mask's reference is the sparse solve on its support cross-faded by
  the mask (the INR's definition; the grid baseline binarises at 0.5).
* ``e2e``: a few cases end to end: the two images fitted by
  :func:`insp.fit` with its defaults inside ``poisson_blend``; PSNR against
  the sparse solve of the same fitted fields and of the original pixels.
* ``seams``: seam visibility of the Pérez solution, ``feather=2`` and
  OpenCV's seamlessClone on the drawn cases (original pixels).
* ``recon``: the camera INR reconstructed from its gradients / Laplacian.
* ``recon-all``: every image of :mod:`insp.data` (gray, ``--all-size``),
  fitted by :func:`insp.fit` defaults, then reconstructed from that INR's
  gradient by :func:`insp.ops.fit_gradients` defaults: PSNR against the INR
  on the pixel grid and on the grid twice as fine (between the pixels),
  against the image, and of the gradient; min and median over the images.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import torch

from insp.baselines import poisson as bp
from insp.fields import fit
from insp.imageio import write_image
from insp.jet import gradient_at
from insp.metrics import psnr
from insp.ops import fit_gradients, fit_laplacian, gradient, laplacian, poisson_blend
from insp.runinfo import run_metadata

OUT = Path(__file__).parent / "results"
#: cross-fade width (pixels) of the feathered contender (poisson_blend(..., feather=FEATHER))
FEATHER = 2.0


def camera(size):
    import skimage.data
    from skimage.transform import resize

    img = skimage.data.camera().astype(np.float64) / 255
    return resize(img, (size, size), anti_aliasing=True)


def render(f, shape):
    with torch.no_grad():
        return f.sample(shape).double().numpy()


def recon(size, fit_steps, grad_steps, lap_steps, log, init_steps=1000):
    img = camera(size)
    t = time.perf_counter()
    src, h = fit(img, channel_axis=None, steps=fit_steps, progress=False, data_range=1.0, seed=0)
    t_fit = time.perf_counter() - t
    srcimg = render(src, img.shape)[..., 0]
    res = dict(size=size, source_fit_psnr=psnr(srcimg, img), source_fit_s=t_fit)
    for kind in ("gradients", "laplacian"):
        t = time.perf_counter()
        if kind == "gradients":
            # default init: Simpson integration on the grid + value fit, then gradient refinement
            f, hist = fit_gradients(gradient(src), shape=img.shape, init_steps=init_steps, steps=grad_steps,
                                    batch_size=8192, progress=False)
        else:
            f, hist = fit_laplacian(laplacian(src), shape=img.shape, steps=lap_steps, lr=1e-4, batch_size=4096,
                                    value_range=1.0, progress=False)
        dt = time.perf_counter() - t
        out = render(f, img.shape)[..., 0]
        out_c = out - out.mean() + img.mean()
        row = dict(psnr_vs_image=psnr(out_c, img), psnr_vs_source_inr=psnr(out - out.mean() + srcimg.mean(), srcimg),
                   steps=hist.steps, time_s=dt, init=hist.config.get("init"), init_steps=hist.config.get("init_steps"))
        if kind == "gradients":
            x = src.domain.grid(img.shape).reshape(-1, 2)
            gt = gradient_at(src, x, create_graph=False)
            gf = gradient_at(f, x, create_graph=False)
            rng = float(gt.max() - gt.min())
            row["gradient_psnr"] = float(10 * np.log10(rng**2 / float(((gf - gt) ** 2).mean())))
        res[kind] = row
        write_image(OUT / f"poisson_recon_{kind}.png", np.clip(out_c, 0, 1))
        log(f"recon from {kind}: {row}")
    return res


def recon_all(size, log, names=None):
    """``recon-all``: each image's INR (``insp.fit`` defaults) rebuilt from its gradient (``fit_gradients`` defaults)."""
    from insp import data

    fine = (2 * size - 1, 2 * size - 1)  # every pixel of the grid and the midpoints between them
    rows = []
    for name in names or data.names():
        img = data.gray(name, size=size)
        t = time.perf_counter()
        src, _ = fit(img, progress=False, data_range=1.0, seed=0)
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        f, hist = fit_gradients(gradient(src), shape=img.shape, progress=False)
        dt = time.perf_counter() - t
        on = lambda field, shape: render(field, shape)[..., 0]  # noqa: E731
        s, o, sf, of = on(src, img.shape), on(f, img.shape), on(src, fine), on(f, fine)
        centred = lambda a, ref: a - a.mean() + ref.mean()  # noqa: E731  gradients fix the field up to a constant
        x = src.domain.grid(img.shape).reshape(-1, 2)
        gt, gf = gradient_at(src, x, create_graph=False), gradient_at(f, x, create_graph=False)
        rng = float(gt.max() - gt.min())
        row = dict(image=name, size=size, source_fit_psnr=psnr(s, img), source_fit_s=t_fit,
                   psnr_vs_source_inr=psnr(centred(o, s), s), psnr_vs_source_inr_between_pixels=psnr(centred(of, sf), sf),
                   psnr_vs_image=psnr(centred(o, img), img),
                   gradient_psnr=float(10 * np.log10(rng**2 / float(((gf - gt) ** 2).mean()))),
                   init_psnr=hist.config.get("init_psnr"), integration_refine=hist.config.get("integration_refine"),
                   steps=hist.steps, time_s=dt)
        rows.append(row)
        log(f"recon-all {name}: source {row['source_fit_psnr']:.1f} dB; rebuilt vs source {row['psnr_vs_source_inr']:.2f} "
            f"dB (between pixels {row['psnr_vs_source_inr_between_pixels']:.2f}), vs image {row['psnr_vs_image']:.2f}, "
            f"gradient {row['gradient_psnr']:.2f} dB, refine {row['integration_refine']}x, {dt:.0f} s")
    keys = ("psnr_vs_source_inr", "psnr_vs_source_inr_between_pixels", "psnr_vs_image", "gradient_psnr", "time_s")
    return dict(rows=rows, **{k: distribution(r[k] for r in rows) for k in keys},
                worst=min(rows, key=lambda r: r["psnr_vs_source_inr"])["image"])


# --------------------------------------------------------------------------- blending on drawn cases


def exact_fields(case):
    """The case's images as exact fields: interpolating cubic splines, the source on its own grid (float64)."""
    from insp.fields import Domain, SplineField

    n = case.size
    h = 2.0 / (n - 1)
    tfield = SplineField(case.target, Domain.cube(2))
    hs, ws = case.mask.shape
    sfield = SplineField(case.source, Domain(((-1.0, -1.0 + (hs - 1) * h), (-1.0, -1.0 + (ws - 1) * h))))
    return sfield, tfield


def reference(case, source=None, target=None):
    """The sparse 5-point solution of the case (on the given source/target grids, default the case's images).

    A soft mask: the solve on its support, cross-faded by the mask (what the INR blend defines).
    """
    s = case.source if source is None else source
    t = case.target if target is None else target
    out = bp.poisson_blend(s, t, case.support(), offset=case.offset, mode=case.mode)
    if case.tags.get("soft"):
        m = np.zeros(t.shape[:2])
        h, w = case.mask.shape
        m[case.offset[0]:case.offset[0] + h, case.offset[1]:case.offset[1] + w] = case.mask
        m = m[..., None] if t.ndim == 3 else m
        out = m * out + (1 - m) * t
    return out


def scores(got, ref, region):
    """PSNR (data range 1) over the region and over the whole image."""
    return dict(psnr_region=psnr(got[region], ref[region]), psnr_image=psnr(got, ref))


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def mechanism_case(case):
    """The blending mechanism alone: exact fields in, the INR blend on the grid against the sparse solve."""
    sfield, tfield = exact_fields(case)
    n = case.size
    out, t_blend = _timed(lambda: poisson_blend(sfield, tfield, case.mask, offset=case.offset, mode=case.mode,
                                                shape=(n, n), progress=False))
    got, t_sample = _timed(lambda: render(out, (n, n)))
    got = got[..., 0] if case.target.ndim == 2 else got
    # the reference solves the same problem: the two fields sampled on their grids (equal to the images to ~1e-16;
    # using the images themselves lets that rounding flip mixed-mode ties |dS| = |dT| of quantised images)
    S, T = render(sfield, case.mask.shape), render(tfield, (n, n))
    if case.target.ndim == 2:
        S, T = S[..., 0], T[..., 0]
    ref, t_grid = _timed(lambda: reference(case, S, T))
    ref_pixels = reference(case)
    region = case.region()
    row = dict(case=case.name, size=n, kind=case.kind, mode=case.mode, channels=case.channels, **case.tags,
               region_pixels=int(out.info["region_pixels"]), **scores(got, ref, region),
               psnr_region_vs_image_pixels=psnr(got[region], ref_pixels[region]), time_inr_blend_s=t_blend, time_inr_sample_s=t_sample, time_grid_s=t_grid)
    row["images"] = list(row["images"])
    if case.name == "issue:rectangle 64x60":
        seam_crop(out, case.region(), n)
    return row, got, ref


def seam_crop(out, region, n):
    """The INR blend sampled at 4x around the top edge of the region (pixel k of the grid sits at 4k)."""
    ii, jj = np.nonzero(region)
    ci, cj, r = ii.min(), int(jj.mean()), max(4, n // 8)
    big = render(out, (4 * n - 3, 4 * n - 3))
    crop = big[4 * max(ci - r, 0):4 * (ci + r), 4 * max(cj - r, 0):4 * (cj + r)]
    write_image(OUT / "poisson_seam4x_issue_rectangle.png", np.clip(crop, 0, 1))


def e2e_case(case, fit_steps):
    """End to end: both images fitted inside poisson_blend (insp.fit, ``fit_steps``)."""
    n = case.size
    out, t_all = _timed(lambda: poisson_blend(case.source, case.target, case.mask, offset=case.offset,
                                              mode=case.mode, fit_steps=fit_steps, progress=False))
    info = out.info
    got = render(out, (n, n))
    T = render(info["target_field"], (n, n))
    S = T.copy()  # the fitted source where it is defined, the target elsewhere (the grid baseline's rule)
    h, w = case.mask.shape
    di, dj = case.offset
    S[di:di + h, dj:dj + w] = render(info["source_field"], (h, w))
    if case.target.ndim == 2:
        got, T, S = got[..., 0], T[..., 0], S[..., 0]
    region = case.region()
    same = bp.poisson_blend(S, T, region, mode=case.mode)
    if case.tags.get("soft"):
        m = np.zeros((n, n))
        m[di:di + h, dj:dj + w] = case.mask
        m = m[..., None] if T.ndim == 3 else m
        same = m * same + (1 - m) * T
    pix = reference(case)
    fit_psnr = psnr(T, case.target)
    row = dict(case=case.name, size=n, mode=case.mode, channels=case.channels, fit_steps=fit_steps,
               target_fit_psnr=fit_psnr, **{f"same_fields_{k}": v for k, v in scores(got, same, region).items()},
               **{f"pixels_{k}": v for k, v in scores(got, pix, region).items()},
               time_fits_s=info["fit_target_s"] + info["fit_source_s"], time_membrane_s=info["membrane_s"],
               time_total_s=t_all)
    return row, got, pix


def seams_case(case):
    """Seam visibility on the original pixels: Pérez (sparse), its 2-pixel feather, seamlessClone, the target."""
    s, t, m = case.source, case.target, case.support()
    grid = bp.poisson_blend(s, t, m, offset=case.offset)
    feathered = bp.poisson_blend(s, t, m, offset=case.offset, feather=FEATHER)
    sfield, tfield = exact_fields(case)
    n = case.size
    inr_f = render(poisson_blend(sfield, tfield, m, offset=case.offset, shape=(n, n), feather=FEATHER,
                                 progress=False), (n, n))
    inr_f = inr_f[..., 0] if t.ndim == 2 else inr_f
    cv = bp.seamless_clone(np.clip(s, 0, 1), np.clip(t, 0, 1), m, offset=case.offset)

    def seam(img):
        return bp.seam_visibility(img, m, offset=case.offset, target_shape=t.shape)

    return dict(case=case.name, seam_grid=seam(grid), seam_grid_feathered=seam(feathered),
                seam_inr_feathered=seam(inr_f), seam_cv_normal=seam(cv), seam_target=seam(t),
                seam_paste=seam(bp.paste(s, t, m, offset=case.offset)),
                psnr_inr_feathered_vs_grid_feathered=psnr(inr_f, feathered))


def distribution(values):
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = np.minimum(v, 400.0)  # identical results give inf; 400 dB is past float64 rounding
    return dict(n=int(v.size), min=float(v.min()), p5=float(np.percentile(v, 5)), median=float(np.median(v)),
                mean=float(v.mean()), max=float(v.max())) if v.size else dict(n=0)


def _fmt(d):
    return " | ".join(f"{d[k]:.1f}" for k in ("min", "p5", "median", "mean")) if d.get("n") else "- | - | - | -"


def picture(case, got, ref, path):
    """cut and paste | INR blend | sparse Poisson | 10 x |difference| (clipped to [0, 1])."""
    paste = bp.paste(case.source, case.target, case.support(), offset=case.offset)
    diff = np.clip(10 * np.abs(got - ref), 0, 1)
    write_image(path, np.concatenate([np.clip(a, 0, 1) for a in (paste, got, ref, diff)], axis=1))


def timing_table(rows):
    """Median INR blend time and sparse-solve time per size, and the growth of the INR time with region area."""
    out = []
    for n in sorted({r["size"] for r in rows}):
        rs = [r for r in rows if r["size"] == n]
        inr = np.median([r["time_inr_blend_s"] + r["time_inr_sample_s"] for r in rs])
        grid = np.median([r["time_grid_s"] for r in rs])
        out.append(dict(size=n, cases=len(rs), inr_s=float(inr), inr_blend_s=float(np.median(
            [r["time_inr_blend_s"] for r in rs])), grid_s=float(grid), ratio=float(inr / grid)))
    a = np.log([max(r["region_pixels"], 1) for r in rows])
    t = np.log([r["time_inr_blend_s"] for r in rows])
    slope = float(np.polyfit(a, t, 1)[0]) if len(rows) > 2 else None
    return out, slope


def main():
    global OUT
    from benchmarks.poisson_cases import draw_cases, issue_cases

    ap = argparse.ArgumentParser(prog="python -m benchmarks.poisson")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=256, help="recon: the camera's size")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", type=int, default=120, help="mechanism: drawn cases (seeds 0 ..)")
    ap.add_argument("--big-cases", type=int, default=2, help="mechanism: drawn 512x512 cases (seeds 5000 ..)")
    ap.add_argument("--e2e-cases", type=int, default=3, help="e2e: drawn cases (seeds 1000 ..; sizes 64, 96)")
    ap.add_argument("--e2e-issue", action="store_true", help="e2e: also the issue's three 128x128 cases")
    ap.add_argument("--fit-steps", type=int, default=1000, help="e2e: image fits (insp.fit's default: 1000)")
    ap.add_argument("--seam-cases", type=int, default=40, help="seams: drawn cases (hard masks off the border)")
    ap.add_argument("--recon-fit-steps", type=int, default=1000, help="the camera INR (the gradient target)")
    ap.add_argument("--grad-steps", type=int, default=600, help="gradient-loss refinement after the value fit")
    ap.add_argument("--init-steps", type=int, default=1000, help="value fit to the integrated gradient")
    ap.add_argument("--lap-steps", type=int, default=150)
    ap.add_argument("--all-size", type=int, default=128, help="recon-all: the images' size")
    ap.add_argument("--all-images", default=None, help="recon-all: comma-separated names (default: all of insp.data)")
    ap.add_argument("--parts", default="mechanism,seams",
                    help="comma-separated: mechanism, e2e, seams, recon, recon-all")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = ap.parse_args()
    OUT = args.out or OUT
    if args.quick:
        args.size, args.cases, args.e2e_cases, args.seam_cases, args.big_cases = 64, 12, 1, 6, 0
        args.fit_steps, args.recon_fit_steps, args.grad_steps, args.lap_steps, args.init_steps = 100, 100, 30, 20, 100
    parts = set(args.parts.split(","))
    torch.set_num_threads(args.threads)  # 1: OpenMP spin-waits make 2 threads slower on a shared 2-core box
    OUT.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    old = json.loads((OUT / "poisson.json").read_text()) if (OUT / "poisson.json").exists() else {}
    result = dict(old)

    if "mechanism" in parts:
        rows, worst = [], None
        big = draw_cases(args.big_cases, start=5000, sizes=(512,))
        for case in issue_cases() + draw_cases(args.cases) + big:
            row, got, ref = mechanism_case(case)
            rows.append(row)
            log(f"{row['case']}: region {row['psnr_region']:.1f} dB, image {row['psnr_image']:.1f} dB, "
                f"INR {row['time_inr_blend_s']:.2f}+{row['time_inr_sample_s']:.2f} s, grid {row['time_grid_s']:.3f} s")
            if worst is None or row["psnr_region"] < worst[0]:
                worst = (row["psnr_region"], case, got, ref)
        picture(worst[1], worst[2], worst[3], OUT / "poisson_worst_mechanism.png")
        drawn = [r for r in rows if not r["case"].startswith("issue")]
        times, slope = timing_table(drawn)
        result["mechanism"] = dict(rows=rows, worst=worst[1].name, timing=times, time_vs_area_slope=slope,
                                   region=distribution(r["psnr_region"] for r in drawn),
                                   region_vs_image_pixels=distribution(r["psnr_region_vs_image_pixels"]
                                                                       for r in drawn),
                                   image=distribution(r["psnr_image"] for r in drawn),
                                   by_mode={m: distribution(r["psnr_region"] for r in drawn if r["mode"] == m)
                                            for m in ("replace", "mixed", "average")})
    if "e2e" in parts:
        cases = (issue_cases() if args.e2e_issue else []) + draw_cases(args.e2e_cases, start=1000, sizes=(64, 96))
        keep = {r["case"]: r for r in old.get("e2e", {}).get("rows", [])}
        for k, case in enumerate(cases):
            row, got, ref = e2e_case(case, args.fit_steps)
            keep[row["case"]] = row
            log(f"{row['case']}: same fields {row['same_fields_psnr_region']:.1f} dB region, pixels "
                f"{row['pixels_psnr_region']:.1f} dB region / {row['pixels_psnr_image']:.1f} image, fits "
                f"{row['time_fits_s']:.0f} s, membrane {row['time_membrane_s']:.2f} s")
            if case.name.startswith("issue") or k == 0:
                slug = re.sub(r"[^A-Za-z0-9]+", "_", case.name.split(":", 1)[-1]).strip("_")
                picture(case, got, ref, OUT / f"poisson_e2e_{slug}.png")
        rows = list(keep.values())
        result["e2e"] = dict(rows=rows, **{key: distribution(r[key] for r in rows) for key in (
            "same_fields_psnr_region", "same_fields_psnr_image", "pixels_psnr_region", "pixels_psnr_image")})
    if "seams" in parts:
        rows = []
        for case in draw_cases(4 * args.seam_cases, soft=0.0):
            if len(rows) >= args.seam_cases:
                break
            if case.tags["border"] or case.tags["soft"] or case.mode != "replace":
                continue
            rows.append(seams_case(case))
        keys = ("seam_grid", "seam_grid_feathered", "seam_inr_feathered", "seam_cv_normal", "seam_target",
                "seam_paste")
        result["seams"] = dict(rows=rows, mean={k: float(np.mean([r[k] for r in rows])) for k in keys},
                               inr_feathered_below_cv=int(sum(r["seam_inr_feathered"] < r["seam_cv_normal"]
                                                              for r in rows)),
                               psnr_inr_feathered_vs_grid_feathered=distribution(
                                   r["psnr_inr_feathered_vs_grid_feathered"] for r in rows))
    if "recon" in parts:
        result["reconstruction"] = recon(args.size, args.recon_fit_steps, args.grad_steps, args.lap_steps, log,
                                         args.init_steps)
    if "recon-all" in parts:
        names = args.all_images.split(",") if args.all_images else (["camera", "grass"] if args.quick else None)
        result["reconstruction_all"] = recon_all(args.all_size if not args.quick else 64, log, names)
    total = time.perf_counter() - t_all
    report(result, parts)
    print(f"total {total:.0f} s")
    meta = run_metadata(threads=torch.get_num_threads(), quick=args.quick, seed=0, total_s=total, args=vars(args))
    result["runs"] = {k: v for k, v in dict(old.get("runs", {}), **{p: meta for p in parts}).items()
                      if k not in ("blend", "rings")}  # parts of the previous benchmark
    result.pop("blending", None)  # the four fixed pairs of the previous benchmark
    result.pop("seam_rings", None)
    (OUT / "poisson.json").write_text(json.dumps(result, indent=2, default=str))


def report(result, parts):
    """Print the tables of the parts that ran."""
    if "recon-all" in parts and "reconstruction_all" in result:
        r = result["reconstruction_all"]
        print(f"\nrecon-all ({r['psnr_vs_source_inr']['n']} images): rebuilt from the gradient, dB")
        print("| against | min | p5 | median | mean |\n|---|---|---|---|---|")
        for key, what in (("psnr_vs_source_inr", "the source INR, pixels"),
                          ("psnr_vs_source_inr_between_pixels", "the source INR, 2x finer grid"),
                          ("psnr_vs_image", "the image"), ("gradient_psnr", "gradient (pixels)")):
            print(f"| {what} | {_fmt(r[key])} |")
        print(f"worst: {r['worst']}; time per image median {r['time_s']['median']:.0f} s")
    if "mechanism" in parts and "mechanism" in result:
        m = result["mechanism"]
        print(f"\nmechanism ({m['region']['n']} drawn cases, exact fields): PSNR vs sparse Poisson, dB")
        print("| over | min | p5 | median | mean |\n|---|---|---|---|---|")
        print(f"| region | {_fmt(m['region'])} |\n| image | {_fmt(m['image'])} |")
        print(f"| region, vs the solve on the image arrays | {_fmt(m['region_vs_image_pixels'])} |")
        for mode, d in m["by_mode"].items():
            print(f"| region, {mode} ({d.get('n', 0)}) | {_fmt(d)} |")
        print(f"worst: {m['worst']}")
        for r in (r for r in m["rows"] if r["case"].startswith("issue")):
            print(f"{r['case']}: region {r['psnr_region']:.1f} dB, image {r['psnr_image']:.1f} dB")
        print("| size | cases | INR blend + sample (median s) | sparse solve (median s) | ratio |\n|---|---|---|---|---|")
        for t in m["timing"]:
            print(f"| {t['size']} | {t['cases']} | {t['inr_s']:.3f} | {t['grid_s']:.4f} | {t['ratio']:.0f}x |")
        print(f"INR blend time ~ region_pixels^{m['time_vs_area_slope']:.2f}")
    if "e2e" in parts and "e2e" in result:
        e = result["e2e"]
        print("\ne2e: | case | fit steps | target fit | same fields region | image | pixels region | image | fits s |")
        for r in e["rows"]:
            print(f"| {r['case']} | {r['fit_steps']} | {r['target_fit_psnr']:.1f} | {r['same_fields_psnr_region']:.1f} | "
                  f"{r['same_fields_psnr_image']:.1f} | {r['pixels_psnr_region']:.1f} | {r['pixels_psnr_image']:.1f} | "
                  f"{r['time_fits_s']:.0f} |")
    if "seams" in parts and "seams" in result:
        sm = result["seams"]
        print(f"\nseams ({len(sm['rows'])} cases, mean): " + ", ".join(f"{k}={v:.4f}" for k, v in sm["mean"].items())
              + f"; INR feathered below seamlessClone in {sm['inr_feathered_below_cv']}")


if __name__ == "__main__":
    main()
