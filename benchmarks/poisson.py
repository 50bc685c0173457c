"""Benchmark: gradient-domain reconstruction and Poisson blending, INR vs pixel grids (issue 6).

    OMP_NUM_THREADS=1 flock /tmp/insp-bench.lock .venv/bin/python -m benchmarks.poisson [--quick] [--size 256]
        [--pair-size 96] [--parts recon,blend]

Prints a table, writes ``benchmarks/results/poisson.json`` and PNG figures
(blends next to both baselines, the 4x seam crop) under ``benchmarks/results/``.

Metrics
-------
* reconstruction: PSNR of the field fitted to the gradients (Laplacian) of the
  camera INR, after removing the constant offset, against the image and against
  the INR it came from; gradient PSNR = PSNR of the gradient on the grid with
  ``data_range`` = peak-to-peak of the target gradient (coordinate units).
* blending: PSNR (data range 1) of the INR blend sampled on the grid against the
  sparse Poisson solution of the *same* problem (the fitted source/target
  rendered on the grid, same mask, same Dirichlet boundary), and against the
  sparse solution on the original pixels; relative gradient error inside the
  mask; seam visibility (:func:`insp.baselines.poisson.seam_visibility`).
"""

from __future__ import annotations

import argparse
import json
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


def pairs(n):
    """Four (name, source, target, mask) triples, n x n RGB, aligned (offset 0)."""
    import skimage.data
    from skimage.transform import resize

    def rs(a):
        return resize(a.astype(np.float64) / 255, (n, n), anti_aliasing=True)

    astro = skimage.data.astronaut()
    cat = skimage.data.chelsea()
    coffee = skimage.data.coffee()
    yy, xx = np.mgrid[0:n, 0:n] / n
    ellipse = ((yy - 0.5) / 0.3) ** 2 + ((xx - 0.5) / 0.25) ** 2 < 1
    box = np.zeros((n, n), bool)
    box[n // 4:3 * n // 4, n // 4:3 * n // 4] = True
    face = rs(astro[30:250, 140:360])
    catface = rs(cat[20:300, 100:380])
    return [
        ("cat face -> coffee", catface, rs(coffee[:, 100:500]), ellipse),
        ("astronaut face -> coffee", face, rs(coffee[:, 100:500]), ellipse),
        ("cat face -> astronaut", catface, rs(astro[:, :]), box),
        ("astronaut face -> cat", face, rs(cat[:, 50:350]), ellipse),
    ]


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


def blend_pair(name, s, t, m, args, log):
    n = t.shape[0]
    t0 = time.perf_counter()
    out = poisson_blend(s, t, m, fit_steps=args.fit_steps, progress=False)
    info = out.info
    t_inr = time.perf_counter() - t0
    R = render(out, (n, n))
    S, T = render(info["source_field"], (n, n)), render(info["target_field"], (n, n))
    t0 = time.perf_counter()
    ref_r = bp.poisson_blend(S, T, m)
    t_grid = time.perf_counter() - t0
    ref_p = bp.poisson_blend(s, t, m)
    t0 = time.perf_counter()
    cvn = bp.seamless_clone(s, t, m, mode="normal")
    t_cv = time.perf_counter() - t0
    cvm = bp.seamless_clone(s, t, m, mode="mixed")
    x = out.domain.grid((n, n)).reshape(-1, 2)
    gf = gradient_at(out, x, create_graph=False)
    with torch.no_grad():
        g = info["composite"].parts(x)[0]
    inside = torch.as_tensor(m.reshape(-1))
    gerr = float(((gf - g) ** 2).sum((-2, -1))[inside].mean() / (g**2).sum((-2, -1))[inside].mean())
    # the same problem with a FEATHER-pixel cross-fade at the boundary, on the fields already fitted
    t0 = time.perf_counter()
    out_f = poisson_blend(info["source_field"], info["target_field"], m, shape=(n, n), feather=FEATHER,
                          progress=False)
    t_inr_f = time.perf_counter() - t0
    R_f = render(out_f, (n, n))
    ref_f = bp.poisson_blend(S, T, m, feather=FEATHER)
    ref_pf = bp.poisson_blend(s, t, m, feather=FEATHER)
    row = dict(pair=name, size=n, psnr_vs_grid_poisson_same_fields=psnr(np.clip(R, 0, 1), np.clip(ref_r, 0, 1)),
               psnr_vs_grid_poisson_pixels=psnr(np.clip(R, 0, 1), np.clip(ref_p, 0, 1)),
               rel_gradient_error_inside=gerr,
               seam_inr=bp.seam_visibility(R, m), seam_grid_poisson=bp.seam_visibility(ref_p, m),
               seam_cv_normal=bp.seam_visibility(cvn, m), seam_cv_mixed=bp.seam_visibility(cvm, m),
               seam_paste=bp.seam_visibility(bp.paste(s, t, m), m), seam_target=bp.seam_visibility(t, m),
               time_inr_total_s=t_inr, time_inr_blend_s=info["membrane_s"] + info["potential_s"],
               time_fits_s=info["fit_target_s"] + info["fit_source_s"], time_grid_poisson_s=t_grid,
               time_cv_s=t_cv, feather=FEATHER,
               psnr_feathered_vs_grid_feathered_same_fields=psnr(np.clip(R_f, 0, 1), np.clip(ref_f, 0, 1)),
               psnr_feathered_vs_grid_poisson_same_fields=psnr(np.clip(R_f, 0, 1), np.clip(ref_r, 0, 1)),
               seam_inr_feathered=bp.seam_visibility(R_f, m), seam_grid_feathered=bp.seam_visibility(ref_pf, m),
               time_inr_feathered_blend_s=t_inr_f)
    log(f"{name}: " + ", ".join(f"{k}={v:.3g}" for k, v in row.items() if isinstance(v, float)))
    slug = name.replace(" -> ", "_to_").replace(" ", "_")
    panel = np.concatenate([np.clip(a, 0, 1) for a in (bp.paste(s, t, m), R, R_f, ref_p, cvn)], axis=1)
    write_image(OUT / f"poisson_blend_{slug}.png", panel)
    return row, out, m


def seam_rings(n, log):
    """Seam visibility of the pixel methods measured on rings at and inside the mask boundary.

    The metric looks only at the edges crossing the mask's boundary; OpenCV's
    seamlessClone moves its transition inside the mask, so the rings one and
    two pixels in show where each method's seam actually sits.
    """
    from scipy.ndimage import binary_erosion

    rows = []
    for name, s, t, m in pairs(n):
        methods = dict(grid_poisson=bp.poisson_blend(s, t, m), cv_normal=bp.seamless_clone(s, t, m, mode="normal"),
                       target=t)
        row = dict(pair=name)
        for ring in range(3):
            mm = binary_erosion(m, iterations=ring) if ring else m
            for key, img in methods.items():
                row[f"{key}_ring{ring}"] = bp.seam_visibility(img, mm)
        rows.append(row)
        log(f"{name}: " + ", ".join(f"{k}={v:.4f}" for k, v in row.items() if isinstance(v, float)))
    return rows


def seam_crop(out, m, n, name):
    """The INR blend at 4x around the top of the mask, next to the grid Poisson upsampled (nearest)."""
    ii, jj = np.nonzero(m)
    ci, cj = ii.min(), int(jj.mean())
    r = max(4, n // 8)
    big = render(out, (4 * n - 3, 4 * n - 3))  # same endpoints: pixel k sits at 4k
    crop = big[4 * max(ci - r, 0):4 * (ci + r), 4 * max(cj - r, 0):4 * (cj + r)]
    write_image(OUT / f"poisson_seam4x_{name}.png", np.clip(crop, 0, 1))


def main():
    global OUT
    ap = argparse.ArgumentParser(prog="python -m benchmarks.poisson")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--pair-size", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fit-steps", type=int, default=300, help="image fits of the blend pairs")
    ap.add_argument("--recon-fit-steps", type=int, default=1000, help="the camera INR (the gradient target)")
    ap.add_argument("--grad-steps", type=int, default=600, help="gradient-loss refinement after the value fit")
    ap.add_argument("--init-steps", type=int, default=1000, help="value fit to the integrated gradient")
    ap.add_argument("--lap-steps", type=int, default=150)
    ap.add_argument("--parts", default="recon,blend,rings", help="comma-separated: recon, blend, rings")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = ap.parse_args()
    OUT = args.out or OUT
    if args.quick:
        args.size, args.pair_size = 64, 48
        args.fit_steps, args.recon_fit_steps, args.grad_steps, args.lap_steps = 100, 100, 30, 20
        args.init_steps = 100
    parts = set(args.parts.split(","))
    torch.set_num_threads(args.threads)  # 1: OpenMP spin-waits make 2 threads slower on a shared 2-core box
    OUT.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    old = json.loads((OUT / "poisson.json").read_text()) if (OUT / "poisson.json").exists() else {}
    rec = recon(args.size, args.recon_fit_steps, args.grad_steps, args.lap_steps, log, args.init_steps) \
        if "recon" in parts \
        else old.get("reconstruction")
    rows = [] if "blend" in parts else old.get("blending", [])
    if "blend" in parts:
        for k, (name, s, t, m) in enumerate(pairs(args.pair_size)):
            row, out, mm = blend_pair(name, s, t, m, args, log)
            rows.append(row)
            if k == 0:
                seam_crop(out, mm, args.pair_size, "pair0")
    rings = seam_rings(args.pair_size, log) if "rings" in parts else old.get("seam_rings", [])
    total = time.perf_counter() - t_all
    head = ["pair", "vs grid (same fields)", "vs grid (pixels)", "grad err in", "seam INR", "seam grid", "seam cv",
            "seam paste", "t INR", "t grid", "t cv"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print(f"| {r['pair']} | {r['psnr_vs_grid_poisson_same_fields']:.2f} | {r['psnr_vs_grid_poisson_pixels']:.2f} | "
              f"{r['rel_gradient_error_inside']:.3f} | {r['seam_inr']:.4f} | {r['seam_grid_poisson']:.4f} | "
              f"{r['seam_cv_normal']:.4f} | {r['seam_paste']:.4f} | {r['time_inr_total_s']:.1f} | "
              f"{r['time_grid_poisson_s']:.3f} | {r['time_cv_s']:.3f} |")
    head = ["pair", f"feather {FEATHER:g}: vs grid feathered", "vs grid hard", "seam INR", "seam grid", "seam cv",
            "seam target", "t blend"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        if "seam_inr_feathered" in r:
            print(f"| {r['pair']} | {r['psnr_feathered_vs_grid_feathered_same_fields']:.2f} | "
                  f"{r['psnr_feathered_vs_grid_poisson_same_fields']:.2f} | {r['seam_inr_feathered']:.4f} | "
                  f"{r['seam_grid_feathered']:.4f} | {r['seam_cv_normal']:.4f} | {r['seam_target']:.4f} | "
                  f"{r['time_inr_feathered_blend_s']:.1f} |")
    print(f"recon: {json.dumps(rec)}")
    print(f"total {total:.0f} s")
    meta = run_metadata(threads=torch.get_num_threads(), quick=args.quick, seed=0, total_s=total, args=vars(args))
    runs = dict(old.get("runs", {}), **{p: meta for p in parts})
    result = dict(reconstruction=rec, blending=rows, seam_rings=rings, runs=runs)
    (OUT / "poisson.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
