"""Operators on fitted INRs against pixel-grid baselines (issue 4).

Four parts, each on the same footing for every contender:

1. **Derivatives vs truth** -- analytic fields (``insp.testing``) sampled on a
   256x256 grid; a SIREN is fitted to the samples; the gradient and Laplacian
   of the fitted field (exact autodiff of the network, ``insp.jet``) and finite
   differences of the *same* samples (``insp.baselines``) are compared with
   the closed form.  Errors in pixel units; PSNR relative to the range of the
   true derivative.
2. **Resolution-agnostic edges** -- natural gray images (``skimage.data``,
   offline), centre-cropped square and resized (anti-aliased) to 128x128 and
   to a 512x512 reference.  A SIREN fitted at 128 gives the gradient magnitude
   at the 512 sample positions; contenders are central differences of the
   bicubic-upsampled 128 image, and Sobel (and central differences) at 128
   with the gradient bicubic-upsampled; the reference is central differences
   of the true 512 image.  Units: per pixel of the 512 grid.
3. **Blur** -- ``gaussian_blur`` of a SIREN fitted at 256x256 (lattice
   quadrature, ``boundary="reflect"``) against ``scipy.ndimage.gaussian_filter``
   of the 256 image (``mode="mirror"``), sigma = 0.5, 1, 2 pixels; and the
   heat series against the Gauss--Hermite quadrature of the same field on
   random points, with the fraction of points the series flags as not
   converged.
4. **Cost** per point in forward passes, next to the baselines' time.

Registration (part 2): ``skimage.transform.resize`` is *area*-aligned -- pixel
``j`` of an ``n``-grid covers ``[j, j+1] / n`` of the image -- so one 128-pixel
is exactly four 512-pixels, and the 512 sample ``j`` lies at 128-pixel index
``(j + 0.5) / 4 - 0.5``.  The field (fitted with the 128 samples at
``linspace(-1, 1, 128)``) is evaluated at exactly those points (slightly
outside ``[-1, 1]`` at the two outermost 512 samples), and its coordinate
derivatives are converted with ``d/dj = (2 / 127) / 4 * d/dx``.

Fitted fields are cached in ``benchmarks/results/cache/`` (keyed by image, size,
steps and seed), so a rerun only re-measures.

Usage::

    flock /tmp/insp-bench.lock .venv/bin/python -m benchmarks.operators           # full (<= 25 min, 2 cores)
    .venv/bin/python -m benchmarks.operators --quick --out /tmp/ops               # smoke run (~1 min)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: natural images (skimage.data, shipped with scikit-image, no download), at least 512 px on the short side
IMAGES = ("camera", "astronaut", "moon", "brick", "grass", "gravel", "immunohistochemistry", "cell")

FULL = dict(
    analytic_n=256, analytic_steps=2000,
    images=IMAGES, edge_low=128, edge_high=512, edge_steps=2000,
    blur_images=IMAGES, blur_n=256, blur_steps=2000,
    sigmas_px=(0.5, 1.0, 2.0), series_points=2048, quad_points=12, series_terms=3,
    cost_n=256, cost_repeats=3,
)
QUICK = dict(
    analytic_n=32, analytic_steps=15,
    images=("camera",), edge_low=16, edge_high=64, edge_steps=15,
    blur_images=("camera",), blur_n=32, blur_steps=15,
    sigmas_px=(1.0,), series_points=64, quad_points=4, series_terms=3,
    cost_n=16, cost_repeats=1,
)


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(msg, flush=True)


def psnr_range(est: np.ndarray, ref: np.ndarray, data_range: float) -> float:
    from insp.metrics import psnr

    return float(psnr(est, ref, data_range=data_range))


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def pearson(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def gray_image(name: str) -> np.ndarray:
    """``skimage.data.<name>`` as float64 gray in [0, 1], centre-cropped square."""
    import skimage.data
    from skimage.color import rgb2gray

    img = getattr(skimage.data, name)()
    if img.ndim == 3:
        img = rgb2gray(img[..., :3])
    img = np.asarray(img, dtype=np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    h, w = img.shape
    s = min(h, w)
    i0, j0 = (h - s) // 2, (w - s) // 2
    return img[i0:i0 + s, j0:j0 + s]


def resized(img: np.ndarray, n: int) -> np.ndarray:
    from skimage.transform import resize

    return resize(img, (n, n), order=1, anti_aliasing=True, mode="reflect")


def fitted(signal: np.ndarray, key: str, *, steps: int, seed: int, cache: Path, first_omega: float | None = None):
    """Fit (or load from the cache) the library's default SIREN to ``signal``; returns (field, info).

    Fits run a fixed number of ``steps`` (no time limit), so quality figures do not depend on how busy
    the machine is.  ``first_omega`` replaces the default first-layer frequency (30).
    """
    from insp.fields import DEFAULTS, fit
    from insp.fields.inr import Siren
    from insp.fields.io import load, read_header, save

    model = None
    if first_omega is not None:
        model = Siren(2, 1, hidden_features=DEFAULTS["hidden_features"], hidden_layers=DEFAULTS["hidden_layers"],
                      first_omega_0=first_omega, hidden_omega_0=DEFAULTS["hidden_omega_0"], seed=seed)
        key = f"{key}_w{first_omega:g}"
    path = cache / f"{key}_{signal.shape[0]}x{signal.shape[1]}_s{steps}_seed{seed}.inspf"
    if path.exists():
        meta = read_header(path).get("metadata", {})
        return load(path), dict(meta.get("fit", {}), cached=True)
    fld, hist = fit(signal, channel_axis=None, model=model, steps=steps, seed=seed, progress=False)
    info = dict(steps=hist.steps, stopped=hist.stopped, psnr=float(hist.final_psnr), seconds=float(hist.wall_time))
    cache.mkdir(parents=True, exist_ok=True)
    save(fld, path, metadata=dict(source=key, shape=list(signal.shape), fit=info))
    return fld, dict(info, cached=False)


def grid_points(n: int) -> "torch.Tensor":
    import torch

    t = torch.linspace(-1, 1, n)
    return torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)


def timed(fn, repeats: int):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), (max(times) - min(times))


# --------------------------------------------------------------------------- 1. derivatives vs truth


def analytic_fields():
    import torch

    from insp.testing import GaussianSum, SinusoidSum

    rng = np.random.default_rng(4)
    J = 12
    bumps = GaussianSum(rng.uniform(-1, 1, J), rng.uniform(-0.8, 0.8, (J, 2)), rng.uniform(0.08, 0.3, J),
                        dtype=torch.float64)
    K = 6
    ang = rng.uniform(0, 2 * np.pi, K)
    rad = rng.uniform(5, 30, K)  # rad / coordinate unit; Nyquist of the 256 grid is ~400
    waves = SinusoidSum(rng.uniform(0.2, 1.0, K) / K * 2, np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1),
                        rng.uniform(0, 2 * np.pi, K), dtype=torch.float64)
    mixed = bumps + waves
    return {"gaussians": (bumps, "12 Gaussian bumps, widths 0.08-0.3"),
            "sinusoids": (waves, f"6 plane waves, |k| <= {rad.max():.0f} rad/unit"),
            "mixed": (mixed, "the two summed")}


def part_derivatives(cfg, args, cache: Path) -> dict:
    import torch

    from insp import baselines
    from insp.jet import gradient_at, laplacian_at

    n = cfg["analytic_n"]
    h = 2.0 / (n - 1)
    x64 = grid_points(n).double()
    border = 4
    inner = (slice(border, n - border),) * 2
    out = {}
    for name, (f, desc) in analytic_fields().items():
        with torch.no_grad():
            samples = f(x64)[:, 0].reshape(n, n).numpy()
            g_true = torch.stack([f.derivative(x64, (1, 0)), f.derivative(x64, (0, 1))], 0)[..., 0]
            g_true = g_true.reshape(2, n, n).numpy() * h
            l_true = (f.derivative(x64, (2, 0)) + f.derivative(x64, (0, 2)))[:, 0].reshape(n, n).numpy() * h * h
        fld, info = fitted(samples, f"analytic-{name}", steps=cfg["analytic_steps"],
                           seed=args.seed, cache=cache)
        x = grid_points(n)
        g_inr = gradient_at(fld, x, create_graph=False)[:, 0, :].T.reshape(2, n, n).double().numpy() * h
        l_inr = laplacian_at(fld, x, create_graph=False)[:, 0].reshape(n, n).double().numpy() * h * h
        with torch.no_grad():
            rec = fld(x)[:, 0].reshape(n, n).double().numpy()
        contenders = {
            "INR (autodiff)": (g_inr, l_inr),
            "FD central O(h^2)": (baselines.gradient(samples, stencil="central"),
                                  baselines.laplacian(samples, stencil=5)),
            "FD central O(h^4)": (np.stack([baselines.central_difference(samples, axis=k, accuracy=4)
                                            for k in range(2)]),
                                  sum(baselines.central_difference(samples, axis=k, order=2, accuracy=4)
                                      for k in range(2))),
            "Sobel": (baselines.gradient(samples, stencil="sobel"), None),
        }
        g_range = float(g_true.max() - g_true.min())
        l_range = float(l_true.max() - l_true.min())
        rows = {}
        for cname, (g, lap) in contenders.items():
            r = dict(grad_rmse=rmse(g, g_true), grad_psnr=psnr_range(g, g_true, g_range),
                     grad_psnr_interior=psnr_range(g[(slice(None),) + inner], g_true[(slice(None),) + inner],
                                                   g_range))
            if lap is not None:
                r.update(lap_rmse=rmse(lap, l_true), lap_psnr=psnr_range(lap, l_true, l_range),
                         lap_psnr_interior=psnr_range(lap[inner], l_true[inner], l_range))
            rows[cname] = r
        out[name] = dict(description=desc, fit=info, value_psnr=psnr_range(rec, samples, float(np.ptp(samples))),
                         grad_range_px=g_range, lap_range_px=l_range, contenders=rows)
        log(f"  {name}: fit {out[name]['value_psnr']:.1f} dB; "
            + "; ".join(f"{c} grad {r['grad_psnr']:.1f} lap {r.get('lap_psnr', float('nan')):.1f}"
                        for c, r in rows.items()))
        if name == "mixed" and not args.no_figures:
            _figure_derivatives(args.out / "derivatives_mixed.png", l_true, l_inr,
                                contenders["FD central O(h^2)"][1])
    return out


# --------------------------------------------------------------------------- 2. edges at 4x


def area_points(n_low: int, n_high: int) -> "torch.Tensor":
    """The ``n_high`` area-aligned sample positions in the coordinates of a field fitted on ``n_low`` samples."""
    import torch

    ratio = n_high / n_low
    p = (torch.arange(n_high, dtype=torch.float64) + 0.5) / ratio - 0.5  # in low-res pixel indices
    t = (-1 + 2 * p / (n_low - 1)).float()
    return torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)


def part_edges(cfg, args, cache: Path) -> dict:
    import torch
    from skimage.transform import resize

    from insp import baselines
    from insp.jet import gradient_at

    lo, hi = cfg["edge_low"], cfg["edge_high"]
    ratio = hi / lo
    to_hi_px = (2.0 / (lo - 1)) / ratio  # d/d(high-res pixel) = to_hi_px * d/dx
    x = area_points(lo, hi)
    per_image, figs = {}, {}
    for name in cfg["images"]:
        img = gray_image(name)
        ref = resized(img, hi)
        low = resized(img, lo)
        ref_mag = baselines.gradient_magnitude(ref, stencil="central")
        fld, info = fitted(low, f"edges-{name}", steps=cfg["edge_steps"], first_omega=args.edge_first_omega,
                           seed=args.seed, cache=cache)
        t0 = time.perf_counter()
        g = gradient_at(fld, x, create_graph=False)[:, 0, :].double().numpy() * to_hi_px
        inr_mag = np.hypot(g[:, 0], g[:, 1]).reshape(hi, hi)
        t_inr = time.perf_counter() - t0
        with torch.no_grad():
            inr_val = fld(x)[:, 0].reshape(hi, hi).double().numpy()

        def up(a):
            return resize(a, (hi, hi), order=3, mode="reflect", anti_aliasing=False)

        t0 = time.perf_counter()
        bic = up(low)
        bic_mag = baselines.gradient_magnitude(bic, stencil="central")
        t_bic = time.perf_counter() - t0
        t0 = time.perf_counter()
        sob = baselines.gradient(low, stencil="sobel")
        sob_mag = np.hypot(up(sob[0]), up(sob[1])) / ratio
        t_sob = time.perf_counter() - t0
        cen = baselines.gradient(low, stencil="central")
        cen_mag = np.hypot(up(cen[0]), up(cen[1])) / ratio
        rng_ref = float(ref_mag.max() - ref_mag.min())
        maps = {"INR": inr_mag, "bicubic -> central FD": bic_mag, "Sobel@low -> bicubic": sob_mag,
                "central@low -> bicubic": cen_mag}
        rows = {k: dict(psnr=psnr_range(v, ref_mag, rng_ref), pearson=pearson(v, ref_mag)) for k, v in maps.items()}
        rows["INR"]["seconds"] = t_inr
        rows["bicubic -> central FD"]["seconds"] = t_bic
        rows["Sobel@low -> bicubic"]["seconds"] = t_sob
        per_image[name] = dict(fit=info, contenders=rows,
                               values_psnr=dict(INR=psnr_range(inr_val, ref, 1.0), bicubic=psnr_range(bic, ref, 1.0)))
        log(f"  {name}: fit {info['psnr']:.1f} dB ({info['steps']} steps); "
            + "; ".join(f"{k} {r['psnr']:.2f} dB r={r['pearson']:.3f}" for k, r in rows.items()))
        figs[name] = (ref_mag, maps)
    names = list(maps)
    summary = {k: dict(psnr=float(np.mean([per_image[i]["contenders"][k]["psnr"] for i in per_image])),
                       pearson=float(np.mean([per_image[i]["contenders"][k]["pearson"] for i in per_image])))
               for k in names}
    best_base = max((k for k in names if k != "INR"), key=lambda k: summary[k]["psnr"])
    wins = sum(per_image[i]["contenders"]["INR"]["psnr"] >= max(per_image[i]["contenders"][k]["psnr"]
                                                                  for k in names if k != "INR") for i in per_image)
    summary["_verdict"] = dict(best_baseline=best_base,
                               inr_minus_best_db=summary["INR"]["psnr"] - summary[best_base]["psnr"],
                               inr_wins=f"{wins}/{len(per_image)}")
    if not args.no_figures:
        for name in ("camera", "astronaut", "moon"):
            if name in figs:
                _figure_edges(args.out / f"edges_{name}.png", name, *figs[name], lo, hi)
    return dict(per_image=per_image, mean=summary, low=lo, high=hi)


# --------------------------------------------------------------------------- 3. blur


def part_blur(cfg, args, cache: Path) -> dict:
    import torch

    from insp import baselines, units
    from insp.ops import gaussian_blur

    n = cfg["blur_n"]
    rng = np.random.default_rng(args.seed)
    per_image, figs = {}, {}
    for name in cfg["blur_images"]:
        img = resized(gray_image(name), n)
        fld, info = fitted(img, f"blur-{name}", steps=cfg["blur_steps"],
                           seed=args.seed, cache=cache)
        with torch.no_grad():
            rec = fld.sample((n, n))[..., 0].double().numpy()
        res = dict(fit=info, fit_psnr=psnr_range(rec, img, 1.0), sigmas={})
        pts = torch.as_tensor(rng.uniform(-1, 1, (cfg["series_points"], 2)), dtype=torch.float32)
        for s_px in cfg["sigmas_px"]:
            sigma = units.sigma_to_coordinates(s_px, (n, n))[0]
            crop = int(math.ceil(3 * s_px))
            inner = (slice(crop, n - crop),) * 2
            t0 = time.perf_counter()
            with torch.no_grad():
                b_inr = gaussian_blur(fld, sigma=sigma, boundary="reflect").sample((n, n))[..., 0].double().numpy()
            t_inr = time.perf_counter() - t0
            t0 = time.perf_counter()
            b_ref = baselines.gaussian_blur(img, sigma=s_px, mode="mirror")
            t_ref = time.perf_counter() - t0
            # the operator's own error: the same discrete filter applied to the field's samples
            b_rec = baselines.gaussian_blur(rec, sigma=s_px, mode="mirror")
            r = dict(psnr=psnr_range(b_inr, b_ref, 1.0), psnr_interior=psnr_range(b_inr[inner], b_ref[inner], 1.0),
                     psnr_filter_of_fit=psnr_range(b_rec, b_ref, 1.0),
                     psnr_lattice_vs_filter_of_fit=psnr_range(b_inr, b_rec, 1.0),
                     seconds_inr=t_inr, seconds_filter=t_ref)
            # heat series against the quadrature reference of the same field (boundary: extrapolate, as the series)
            blur_s = gaussian_blur(fld, sigma=sigma, method="series", on_invalid="ignore", terms=cfg["series_terms"])
            blur_q = gaussian_blur(fld, sigma=sigma, method="quadrature", quadrature_points=cfg["quad_points"])
            with torch.no_grad():
                t0 = time.perf_counter()
                v_s, bad = blur_s._series_with_check(pts)
                t_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                v_q = blur_q(pts)
                t_q = time.perf_counter() - t0
            v_s, v_q, bad = v_s[:, 0].double().numpy(), v_q[:, 0].double().numpy(), bad.numpy()
            ok = ~bad
            r.update(series_psnr_all=psnr_range(v_s, v_q, 1.0),
                     series_psnr_flagged_ok=psnr_range(v_s[ok], v_q[ok], 1.0) if ok.any() else None,
                     series_max_err_flagged_ok=float(np.abs(v_s[ok] - v_q[ok]).max()) if ok.any() else None,
                     series_max_err_all=float(np.abs(v_s - v_q).max()),
                     series_flagged_fraction=float(bad.mean()),
                     series_seconds=t_s, quadrature_seconds=t_q)
            res["sigmas"][str(s_px)] = r
            if s_px == 1.0:
                figs[name] = (img, b_ref, b_inr)
        per_image[name] = res
        log(f"  {name}: fit {res['fit_psnr']:.1f} dB; "
            + "; ".join(f"s={s} px: {r['psnr']:.1f} dB (int {r['psnr_interior']:.1f}), series flagged "
                        f"{r['series_flagged_fraction']:.0%}" for s, r in res["sigmas"].items()))
    mean = {}
    for s_px in cfg["sigmas_px"]:
        rs = [per_image[i]["sigmas"][str(s_px)] for i in per_image]
        keys = [k for k in rs[0] if all(isinstance(r[k], float) for r in rs)]
        mean[str(s_px)] = {k: float(np.mean([r[k] for r in rs])) for k in keys}
    if not args.no_figures and "camera" in figs:
        _figure_blur(args.out / "blur_camera.png", *figs["camera"])
    return dict(per_image=per_image, mean=mean, n=n, fit_psnr_mean=float(np.mean([per_image[i]["fit_psnr"]
                                                                                   for i in per_image])))


# --------------------------------------------------------------------------- 4. cost


def part_cost(cfg, args, cache: Path) -> dict:
    import torch

    from insp import baselines, units
    from insp.ops import gaussian_blur, gradient, gradient_magnitude, hessian, laplacian

    n = cfg["cost_n"]
    name = cfg["blur_images"][0]
    img = resized(gray_image(name), cfg["blur_n"])
    fld, _ = fitted(img, f"blur-{name}", steps=cfg["blur_steps"], seed=args.seed,
                    cache=cache)
    x = grid_points(n)
    sigma = units.sigma_to_coordinates(1.0, (n, n))[0]
    reps = cfg["cost_repeats"]
    quad_sub = x[:: max(1, len(x) // 1024)]

    def run(op):
        with torch.no_grad():
            return op(x)

    ops = {
        "forward": lambda: run(fld),
        "gradient": lambda: run(gradient(fld)),
        "laplacian": lambda: run(laplacian(fld)),
        "hessian": lambda: run(hessian(fld)),
        "gradient_magnitude": lambda: run(gradient_magnitude(fld)),
        "blur series (3 terms)": lambda: run(gaussian_blur(fld, sigma=sigma, method="series", on_invalid="ignore")),
        "blur lattice (oversample 3)": lambda: gaussian_blur(fld, sigma=sigma, boundary="reflect").sample((n, n)),
    }
    base_img = img if img.shape[0] == n else resized(gray_image(name), n)
    base = {
        "gradient": lambda: baselines.gradient(base_img, stencil="central"),
        "laplacian": lambda: baselines.laplacian(base_img),
        "hessian": lambda: baselines.hessian(base_img),
        "gradient_magnitude": lambda: baselines.gradient_magnitude(base_img, stencil="sobel"),
        "blur series (3 terms)": lambda: baselines.gaussian_blur(base_img, sigma=1.0, mode="mirror"),
        "blur lattice (oversample 3)": lambda: baselines.gaussian_blur(base_img, sigma=1.0, mode="mirror"),
    }
    t_fwd, _ = timed(ops["forward"], reps)
    rows = {}
    for k, fn in ops.items():
        t, spread = (t_fwd, 0.0) if k == "forward" else timed(fn, reps)
        rows[k] = dict(seconds=t, spread=spread, forward_passes=t / t_fwd, us_per_point=t / len(x) * 1e6)
        if k in base:
            tb, _ = timed(base[k], max(reps, 3))
            rows[k]["baseline_seconds"] = tb
    # quadrature: on a subset, scaled per point
    q = gaussian_blur(fld, sigma=sigma, method="quadrature", quadrature_points=cfg["quad_points"])
    t_q, _ = timed(lambda: run_q(q, quad_sub), 1)
    rows[f"blur quadrature ({cfg['quad_points']}^2 nodes)"] = dict(
        seconds=t_q * len(x) / len(quad_sub), forward_passes=(t_q / len(quad_sub)) / (t_fwd / len(x)),
        us_per_point=t_q / len(quad_sub) * 1e6, note=f"measured on {len(quad_sub)} points, scaled")
    for k, r in rows.items():
        log(f"  {k:32s} {r['forward_passes']:7.1f} fwd  {r['seconds']:.3f} s"
            + (f"   baseline {r['baseline_seconds'] * 1e3:.1f} ms" if "baseline_seconds" in r else ""))
    return dict(points=len(x), grid=n, rows=rows)


def run_q(op, pts):
    import torch

    with torch.no_grad():
        return op(pts)


# --------------------------------------------------------------------------- figures


def _panel_figure(path: Path, panels, title: str, *, vmax=None, width=3.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), width + 0.45), dpi=90)
    for ax, (label, arr, kw) in zip(axes, panels):
        ax.imshow(arr, cmap=kw.get("cmap", "gray"), vmin=kw.get("vmin", 0), vmax=kw.get("vmax", vmax),
                  interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _figure_edges(path, name, ref_mag, maps, lo, hi):
    from insp.metrics import psnr

    c = hi // 2  # a centred crop of half the size, shown pixel for pixel
    sl = (slice(c // 2, c // 2 + c),) * 2
    vmax = float(np.quantile(ref_mag, 0.995))
    rng = float(ref_mag.max() - ref_mag.min())
    panels = [("reference: central FD of true 512", ref_mag[sl], {})]
    for k, v in maps.items():
        if k == "central@low -> bicubic":
            continue
        panels.append((f"{k}  {psnr(v, ref_mag, data_range=rng):.1f} dB", v[sl], {}))
    _panel_figure(path, panels, f"{name}: |grad| at {hi}x{hi} from a {lo}x{lo} image (centre crop)", vmax=vmax)


def _figure_blur(path, img, b_ref, b_inr):
    from insp.metrics import psnr

    _panel_figure(path, [
        ("input 256x256", img, dict(vmax=1)),
        ("gaussian_filter, sigma = 1 px", b_ref, dict(vmax=1)),
        (f"INR gaussian_blur  {psnr(b_inr, b_ref, data_range=1.0):.1f} dB", b_inr, dict(vmax=1)),
        ("|difference| x 20", np.abs(b_inr - b_ref) * 20, dict(vmax=1, cmap="magma")),
    ], "camera: blur of the fitted field vs the pixel filter")


def _figure_derivatives(path, l_true, l_inr, l_fd):
    r = float(np.abs(l_true).max())
    kw = dict(vmin=-r, vmax=r, cmap="RdBu_r")
    e = dict(vmin=-r / 10, vmax=r / 10, cmap="RdBu_r")
    _panel_figure(path, [("true Laplacian (px units)", l_true, kw), ("INR error x10", l_inr - l_true, e),
                         ("5-point FD error x10", l_fd - l_true, e)], "analytic field 'mixed'")


# --------------------------------------------------------------------------- driver


def metadata(args, cfg) -> dict:
    """The run record (:func:`insp.runinfo.run_metadata`) with this benchmark's settings."""
    import torch

    from insp.runinfo import run_metadata

    return run_metadata(threads=torch.get_num_threads(), seed=args.seed, quick=args.quick,
                        edge_first_omega=args.edge_first_omega,
                        config={k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()})


def _table(title: str, header: list[str], rows) -> None:
    """Log a markdown table: ``## title``, the header, the rule and one line per row (lists of cells)."""
    log(f"\n## {title}")
    log("| " + " | ".join(header) + " |")
    log("|" + "---|" * len(header))
    for row in rows:
        log("| " + " | ".join(str(c) for c in row) + " |")


def print_tables(res: dict) -> None:
    if "derivatives" in res:
        _table("Derivatives vs closed form (pixel units, PSNR rel. to the true range; interior = 4 px border cut)",
               ["field", "method", "grad PSNR", "grad PSNR interior", "Laplacian PSNR", "Laplacian PSNR interior"],
               [[f"{f} (fit {r['value_psnr']:.1f} dB)", c, f"{v['grad_psnr']:.1f}", f"{v['grad_psnr_interior']:.1f}",
                 *((f"{v['lap_psnr']:.1f}", f"{v['lap_psnr_interior']:.1f}") if "lap_psnr" in v else ("-", "-"))]
                for f, r in res["derivatives"].items() for c, v in r["contenders"].items()])
    if "edges" in res:
        e = res["edges"]
        names = [k for k in e["mean"] if not k.startswith("_")]
        rows = [[i, f"{r['fit']['psnr']:.1f}",
                 *(f"{r['contenders'][k]['psnr']:.2f} / {r['contenders'][k]['pearson']:.3f}" for k in names)]
                for i, r in e["per_image"].items()]
        rows.append(["**mean**", "", *(f"**{e['mean'][k]['psnr']:.2f} / {e['mean'][k]['pearson']:.3f}**"
                                        for k in names)])
        _table(f"|grad| at {e['high']} from {e['low']} vs central FD of the true {e['high']} image "
               f"(mean of {len(e['per_image'])} images)", ["image", "fit PSNR", *names], rows)
        v = e["mean"]["_verdict"]
        log(f"INR - best baseline ({v['best_baseline']}): {v['inr_minus_best_db']:+.2f} dB; INR best on "
            f"{v['inr_wins']} images")
    if "blur" in res:
        b = res["blur"]

        def flagged(m):
            ok = m.get("series_psnr_flagged_ok")
            return ok if ok is None else format(ok, ".1f")

        _table(f"Blur vs scipy gaussian_filter (mode='mirror') at {b['n']}x{b['n']}; mean fit PSNR "
               f"{b['fit_psnr_mean']:.1f} dB",
               ["sigma (px)", "PSNR", "PSNR interior", "filter(fit) vs filter(image)", "lattice vs filter(fit)",
                "series vs quadrature (all / flagged-ok pts)", "series flagged"],
               [[s, f"{m['psnr']:.2f}", f"{m['psnr_interior']:.2f}", f"{m['psnr_filter_of_fit']:.2f}",
                 f"{m['psnr_lattice_vs_filter_of_fit']:.2f}", f"{m['series_psnr_all']:.1f} / {flagged(m)}",
                 f"{m['series_flagged_fraction']:.1%}"] for s, m in b["mean"].items()])
    if "cost" in res:
        c = res["cost"]
        _table(f"Cost on a {c['grid']}x{c['grid']} grid ({c['points']} points)",
               ["operator", "forward passes / point", "time (s)", "pixel baseline (ms)"],
               [[k, f"{r['forward_passes']:.1f}", f"{r['seconds']:.3f}",
                 f"{r['baseline_seconds'] * 1e3:.1f}" if "baseline_seconds" in r else ""] for k, r in c["rows"].items()])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.operators", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes and step counts (smoke run)")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="results directory")
    ap.add_argument("--cache", type=Path, default=None, help="fitted-field cache (default OUT/cache)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parts", default="derivatives,edges,blur,cost")
    ap.add_argument("--no-figures", action="store_true")
    ap.add_argument("--edge-first-omega", type=float, default=None,
                    help="first-layer omega of the SIREN fitted at the low resolution (default: "
                         "10 * low / 128; a sweep of 7, 10, 15 and 30 at 128 on these images picked 10, "
                         "see docs/operators.md)")
    ap.add_argument("--images", default=None, help="comma-separated skimage.data names (default: the full list)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = dict(QUICK if args.quick else FULL)
    if args.edge_first_omega is None:
        args.edge_first_omega = 10.0 * cfg["edge_low"] / 128
    if args.images:
        cfg["images"] = cfg["blur_images"] = tuple(args.images.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or (args.out / "cache")
    res = dict(run=metadata(args, cfg))
    t_all = time.perf_counter()
    parts = dict(derivatives=part_derivatives, edges=part_edges, blur=part_blur, cost=part_cost)
    for p in args.parts.split(","):
        log(f"[{p}]")
        t0 = time.perf_counter()
        res[p] = parts[p](cfg, args, cache)
        res["run"][f"seconds_{p}"] = round(time.perf_counter() - t0, 1)
    res["run"]["seconds_total"] = round(time.perf_counter() - t_all, 1)
    print_tables(res)
    name = "operators_quick.json" if args.quick else "operators.json"
    (args.out / name).write_text(json.dumps(res, indent=1, default=float), encoding="utf-8")
    log(f"\nwrote {args.out / name} ({res['run']['seconds_total']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
