"""Shapes as signed-distance INRs: fitting, curvature, smoothing against trimesh, cost of the 3-D jet.

    python -m benchmarks.shapes --steps 300 --batch-size 2048 --samples 50000 --grid 64 --parts fit,curvature,jet
                                           # the fit, curvature and jet figures of docs/shapes.md
    python -m benchmarks.shapes --threads 2 --grid 64 --parts smoothing,figure
                                           # the smoothing tables and the panel (fit_sdf defaults, 20 fits)
    python -m benchmarks.shapes --quick    # a smoke run (small fits, one noise level)

Cases come from seeded generators (:func:`meshes`, :func:`drawn_meshes`,
:func:`noisy_cases`).  The shapes are split once: ``TRAIN`` shapes (capsule,
sphere, cylinder, cone) choose every parameter (fit recipe, smoothing sigma,
trimesh iteration counts) and train the learned smoother
(``benchmarks/train_shape_smoother.py``); ``TEST`` shapes (torus, box and
four drawn, randomly rotated ellipsoids, boxes and tori) score them and are
never used for a choice.  Metrics against the clean mesh are those of
:func:`insp.metrics.surface_distances` (exact point-to-triangle distances,
Chamfer in units of the bounding-box diagonal here, normal consistency,
F-score at 1 % of the diagonal).  Writes ``benchmarks/results/shapes.json``.

Sections
--------
* ``fit``: Chamfer / normal consistency / F-score and seconds per mesh at a
  fixed number of steps; recipes compared on the train shapes.
* ``curvature``: mean-curvature error on surfaces of *fitted* fields against
  the closed form, for the INR (``insp.ops.mean_curvature`` at the extracted
  vertices) and for ``trimesh.curvature`` on the extracted mesh.
* ``smoothing``: normal noise at each level; the fitted noisy INR as is,
  heat-series and curvature-flow smoothing (sigma chosen on train shapes),
  the shipped learned smoother (``insp.learned.smooth_shape_learned``)
  against trimesh Laplacian, Taubin and Humphrey (iterations chosen on train
  shapes), mean over the test shapes, and the eikonal residual of the
  smoothed fields.
* ``jet``: seconds of order-2 and order-4 jets of the default SIREN in 3-D,
  in forward passes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from insp.baselines.meshes import MESH_SMOOTHERS, add_normal_noise, smooth_mesh
from insp.fields.fitting.sdf import SDF_DEFAULTS, fit_sdf
from insp.fields.surface import extract_surface
from insp.jet import jet
from insp.learned.shapes import smooth_shape_learned
from insp.metrics import sample_surface, surface_distances
from insp.ops import eikonal_residual, mean_curvature, smooth_shape
from insp.runinfo import run_metadata

OUT = Path(__file__).resolve().parent / "results"
TRAIN = ("capsule", "sphere", "cylinder", "cone")
#: drawn test shapes (rotated ellipsoids, boxes and tori of random proportions, :func:`drawn_meshes`) and their seed
DRAWN_TEST, DRAWN_SEED = 4, 500
TEST = ("torus", "box") + tuple(f"drawn {k}" for k in range(DRAWN_TEST))
NOISE = (0.005, 0.01)  # std of the normal displacement, in units of the bounding-box diagonal
SIGMAS = (0.008, 0.012, 0.018)  # smoothing sigma, units of the diagonal
ITERATIONS = (1, 2, 3, 5, 10, 20, 40)
CURVATURE_SIGMAS = (0.005, 0.01)  # heat smoothing before the curvature, units of the diagonal


def meshes() -> dict:
    """The benchmark's clean meshes (closed, outward oriented), built by trimesh.creation (no files)."""
    import trimesh

    return {
        **drawn_meshes(DRAWN_TEST, DRAWN_SEED),
        "capsule": trimesh.creation.capsule(height=1.0, radius=0.45, count=[48, 48]),
        "sphere": trimesh.creation.icosphere(5, radius=0.7),
        "cylinder": _fine(trimesh.creation.cylinder(radius=0.45, height=1.0, sections=64)),
        "cone": _fine(trimesh.creation.cone(radius=0.6, height=1.1, sections=64)),
        "torus": trimesh.creation.torus(0.6, 0.25, major_sections=96, minor_sections=48),
        "box": _fine(trimesh.creation.box((1.2, 0.8, 0.6))),
    }


def _fine(mesh):
    """Flat faces split into small triangles, so that normal noise moves every part of them."""
    import trimesh

    return trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=0.05))


def drawn_meshes(n: int, seed: int) -> dict:
    """``n`` test shapes nobody chose: an ellipsoid, a box and a torus in turn, proportions drawn, randomly rotated."""
    import trimesh

    rng = np.random.default_rng(seed)
    out = {}
    for k in range(n):
        kind = ("ellipsoid", "box", "torus")[k % 3]
        if kind == "ellipsoid":
            m = trimesh.creation.icosphere(5, radius=1.0)
            m.vertices *= rng.uniform(0.3, 0.7, 3)
        elif kind == "box":
            m = _fine(trimesh.creation.box(rng.uniform(0.5, 1.3, 3)))
        else:
            major = rng.uniform(0.45, 0.7)
            m = trimesh.creation.torus(major, major * rng.uniform(0.25, 0.5), major_sections=96, minor_sections=48)
        m.apply_transform(trimesh.transformations.random_rotation_matrix(rng.random(3)))
        out[f"drawn {k}"] = m
    return out


def diagonal(mesh) -> float:
    return float(np.linalg.norm(mesh.extents))


def noisy_cases(names, levels, seed: int = 0):
    """``(name, level, clean, noisy)`` for each shape and noise level, seeded per case."""
    ms = meshes()
    for i, name in enumerate(names):
        for j, level in enumerate(levels):
            clean = ms[name]
            yield name, level, clean, add_normal_noise(clean, sigma=level * diagonal(clean), seed=seed + 100 * i + j)


def scores(surface, clean, samples: int) -> dict:
    m = surface_distances(surface, clean, samples=samples)
    d = diagonal(clean)
    return dict(chamfer=m["chamfer"] / d, normal_consistency=m["normal_consistency"], fscore=m["fscore"])


def _fit(mesh, args, **kw):
    t = time.perf_counter()
    f, hist = fit_sdf(mesh, steps=args.steps, samples=args.samples, batch_size=args.batch_size, progress=False, **kw)
    return f, time.perf_counter() - t


# --------------------------------------------------------------------------- sections


def section_fit(args, log) -> tuple[dict, dict]:
    ms = meshes()
    grid = (args.grid,) * 3
    rows, fields = [], {}
    recipes = {"regression (default)": {}, "siren losses": dict(recipe="siren")}
    for name in TRAIN + TEST:
        for label, kw in recipes.items():
            if name in TEST and label != "regression (default)":
                continue  # recipes are compared on the train shapes only
            kw = dict(kw)
            omega = kw.pop("first_omega_0", None)
            kw.pop("model", None)
            if omega is not None:
                from insp.fields import Siren

                kw["model"] = Siren(3, 1, hidden_features=SDF_DEFAULTS["hidden_features"],
                                    hidden_layers=SDF_DEFAULTS["hidden_layers"], first_omega_0=omega,
                                    hidden_omega_0=SDF_DEFAULTS["hidden_omega_0"], seed=0)
            f, secs = _fit(ms[name], args, **kw)
            s = scores(extract_surface(f, grid), ms[name], args.metric_samples)
            row = dict(mesh=name, split="train" if name in TRAIN else "test", recipe=label, seconds=secs, **s,
                       eikonal_residual=f.provenance.recipe["quality"]["eikonal_residual"])
            rows.append(row)
            log(f"fit {name:8s} {label:30s} chamfer {s['chamfer']:.5f} NC {s['normal_consistency']:.4f} "
                f"F {s['fscore']:.3f} {secs:.0f}s")
            if label == "regression (default)":
                fields[name] = f
    # a real mesh in its own units (the vendored PyVista ant) and a sampled SDF volume (the torus at 32^3)
    from insp.data import mesh as shipped_mesh
    from insp.testing import TorusSDF

    ant = shipped_mesh("ant")
    extra = [("ant (pyvista)", ant, ant)]
    from insp.fields import Domain

    vol_domain = Domain.around(ms["torus"].vertices, margin=0.1)
    torus = TorusSDF(0.6, 0.25, domain=vol_domain)
    extra.append(("torus from a 32^3 SDF volume", torus.sample((32, 32, 32))[..., 0], ms["torus"]))
    for label, source, ref in extra:
        kw = dict(domain=vol_domain) if "volume" in label else {}
        f, secs = _fit(source, args, **kw)
        s = scores(extract_surface(f, grid), ref, args.metric_samples)
        rows.append(dict(mesh=label, split="test", recipe="regression (default)", seconds=secs, **s,
                         eikonal_residual=f.provenance.recipe["quality"]["eikonal_residual"]))
        log(f"fit {label:30s} chamfer {s['chamfer']:.5f} NC {s['normal_consistency']:.4f} F {s['fscore']:.3f} "
            f"{secs:.0f}s")
    return dict(rows=rows), fields


def section_curvature(fields, args, log) -> dict:
    import trimesh

    from insp.testing import SphereSDF, TorusSDF

    truth = {"sphere": SphereSDF(0.7, dtype=torch.float64), "torus": TorusSDF(0.6, 0.25, dtype=torch.float64)}
    rows = []
    for name, exact in truth.items():
        f = fields[name]
        surf = extract_surface(f, (args.grid,) * 3)
        x = torch.as_tensor(surf.vertices, dtype=torch.float64)
        # closed form at the nearest point of the exact surface (the vertex moved along the exact normal)
        xs = x - exact(x) * exact.normal(x)
        h_true = exact.mean_curvature(xs)[:, 0].numpy()
        h_inr = mean_curvature(f)(x.float()).detach()[:, 0].double().numpy()
        spacing = f.domain.spacing((args.grid,) * 3)[0]
        mesh = trimesh.Trimesh(surf.vertices, surf.faces, process=False)
        row = dict(mesh=name, vertices=len(x), inr_mae=float(np.abs(h_inr - h_true).mean()),
                   inr_p95=float(np.percentile(np.abs(h_inr - h_true), 95)))
        for k in CURVATURE_SIGMAS:  # curvature of the heat-smoothed field (an order-4 jet): the fit's ripples damped
            sig = k * diagonal(trimesh.Trimesh(surf.vertices, surf.faces, process=False))
            h_s = mean_curvature(smooth_shape(f, sigma=sig, method="heat"))(x.float()).detach()[:, 0].double().numpy()
            row[f"inr_heat{k:g}_mae"] = float(np.abs(h_s - h_true).mean())
            row[f"inr_heat{k:g}_p95"] = float(np.percentile(np.abs(h_s - h_true), 95))
        for k in (2.0, 4.0):
            r = k * spacing
            h_mesh = trimesh.curvature.discrete_mean_curvature_measure(mesh, surf.vertices, r) / (np.pi * r * r)
            row[f"trimesh_r{k:g}h_mae"] = float(np.abs(h_mesh - h_true).mean())
            row[f"trimesh_r{k:g}h_p95"] = float(np.percentile(np.abs(h_mesh - h_true), 95))
        row["mean_abs_curvature"] = float(np.abs(h_true).mean())
        rows.append(row)
        log(f"curvature {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "mesh"))
    return dict(rows=rows)


def section_smoothing(args, log) -> dict:
    grid = (args.grid,) * 3
    levels = NOISE[:1] if args.quick else NOISE
    out = {}
    for level in levels:
        per = {"train": [], "test": []}
        for split, names in (("train", TRAIN), ("test", TEST)):
            for name, _, clean, noisy in noisy_cases(names, [level]):
                d = diagonal(clean)
                f, secs = _fit(noisy, args)
                case = {"noisy mesh": scores(noisy, clean, args.metric_samples),
                        "INR fit": scores(extract_surface(f, grid), clean, args.metric_samples)}
                for method in ("heat", "flow"):
                    for sig in SIGMAS:
                        g = smooth_shape(f, sigma=sig * d, method=method)
                        sc = scores(extract_surface(g, grid), clean, args.metric_samples)
                        x = torch.as_tensor(sample_surface(clean, 2000, seed=1)[0], dtype=torch.float32)
                        sc["eikonal_residual"] = float(eikonal_residual(g)(x).detach().abs().mean())
                        case[f"INR {method} {sig:g}"] = sc
                g = smooth_shape_learned(f)
                sc = scores(extract_surface(g, grid), clean, args.metric_samples)
                x = torch.as_tensor(sample_surface(clean, 2000, seed=1)[0], dtype=torch.float32)
                sc["eikonal_residual"] = float(eikonal_residual(g)(x).detach().abs().mean())
                case["INR learned"] = sc
                for method in MESH_SMOOTHERS:
                    for it in ITERATIONS:
                        case[f"trimesh {method} {it}"] = scores(smooth_mesh(noisy, method=method, iterations=it),
                                                                clean, args.metric_samples)
                per[split].append(dict(mesh=name, fit_seconds=secs, results=case))
                log(f"smoothing level {level} {split} {name}: fit {secs:.0f}s")
        # choose each contender's parameter on the train shapes (lowest mean Chamfer), score on test
        families = {"INR fit": ["INR fit"], "noisy mesh": ["noisy mesh"], "INR learned": ["INR learned"]}
        for method in ("heat", "flow"):
            families[f"INR {method}"] = [f"INR {method} {s:g}" for s in SIGMAS]
        for method in MESH_SMOOTHERS:
            families[f"trimesh {method}"] = [f"trimesh {method} {it}" for it in ITERATIONS]

        def mean(split, key, metric):
            return float(np.mean([c["results"][key][metric] for c in per[split]]))

        table = {}
        for fam, keys in families.items():
            best = min(keys, key=lambda k: mean("train", k, "chamfer"))
            row = dict(chosen=best, train_chamfer=mean("train", best, "chamfer"))
            for metric in ("chamfer", "normal_consistency", "fscore"):
                row[metric] = mean("test", best, metric)
                row[metric + "_worst"] = (max if metric == "chamfer" else min)(
                    c["results"][best][metric] for c in per["test"])
            if "eikonal_residual" in per["test"][0]["results"][best]:
                row["eikonal_residual"] = mean("test", best, "eikonal_residual")
            table[fam] = row
        out[str(level)] = dict(table=table, cases=per)
        log(f"\nsmoothing, noise {level} x diagonal: test means (parameter chosen on train by Chamfer)")
        log("| contender | chosen | Chamfer / diag | worst | normal consistency | worst | F-score | |grad|-1 |")
        log("|---|---|---|---|---|---|---|---|")
        for fam, r in table.items():
            log(f"| {fam} | {r['chosen']} | {r['chamfer']:.5f} | {r['chamfer_worst']:.5f} | "
                f"{r['normal_consistency']:.4f} | {r['normal_consistency_worst']:.4f} | {r['fscore']:.3f} | "
                f"{r.get('eikonal_residual', float('nan')):.3f} |")
        best_inr = min((f for f in table if f.startswith("INR")), key=lambda f: table[f]["chamfer"])
        best_tm = min((f for f in table if f.startswith("trimesh")), key=lambda f: table[f]["chamfer"])
        a, b = table[best_inr], table[best_tm]
        log(f"best INR ({best_inr}) / best trimesh ({best_tm}): Chamfer ratio {a['chamfer'] / b['chamfer']:.3f}, "
            f"normal consistency {a['normal_consistency']:.4f} vs {b['normal_consistency']:.4f}")
        out[str(level)]["verdict"] = dict(best_inr=best_inr, best_trimesh=best_tm,
                                          chamfer_ratio=a["chamfer"] / b["chamfer"],
                                          nc_difference=a["normal_consistency"] - b["normal_consistency"])
    return out


def section_jet(args, log) -> dict:
    from insp.fields import Siren

    f = Siren(3, 1, hidden_features=SDF_DEFAULTS["hidden_features"], hidden_layers=SDF_DEFAULTS["hidden_layers"],
              seed=0)
    x = torch.rand(8192, 3) * 2 - 1

    def timed(fn, reps=5):
        fn()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts)), float(np.min(ts)), float(np.max(ts))

    with torch.no_grad():
        fwd = timed(lambda: f(x))
        rows = dict(forward_s=fwd[0])
        for order in (1, 2, 4):
            t = timed(lambda: jet(f, x, order=order))
            rows[f"order{order}_s"] = t[0]
            rows[f"order{order}_s_range"] = [t[1], t[2]]
            rows[f"order{order}_forward_passes"] = t[0] / fwd[0]
    log("jet cost (8192 points, default SIREN): " + ", ".join(
        f"order {k} {rows[f'order{k}_forward_passes']:.1f} forward passes" for k in (1, 2, 4)))
    return rows


def figure(args, res, log, img: Path) -> dict:
    """The docs' pictures: a shape panel (noisy, INR heat-smoothed, INR learned, Taubin, clean) and a curvature-coloured torus."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from insp.fields.surface import render_surface

    level = NOISE[-1]
    table = res.get("smoothing", {}).get(str(level), {}).get("table", {})
    heat = table.get("INR heat", {}).get("chosen", f"INR heat {SIGMAS[1]:g}")
    taubin = table.get("trimesh taubin", {}).get("chosen", "trimesh taubin 10")
    sigma, iterations = float(heat.split()[-1]), int(taubin.split()[-1])
    name, _, clean, noisy = next(noisy_cases(["torus"], [level], seed=7))
    grid = (args.grid,) * 3
    f, _ = _fit(noisy, args)
    smoothed = extract_surface(smooth_shape(f, sigma=sigma * diagonal(clean), method="heat"), grid)
    panels = [("noisy mesh", noisy), (f"INR heat, sigma {sigma:g} diag", smoothed),
              ("INR, learned smoother", extract_surface(smooth_shape_learned(f), grid)),
              (f"Taubin, {iterations} iterations", smooth_mesh(noisy, method="taubin", iterations=iterations)),
              ("clean", clean)]
    fig = plt.figure(figsize=(15, 3.4))
    scored = {}
    for k, (title, mesh) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        render_surface(mesh, ax=ax, view=(35, -60))
        sc = scores(mesh, clean, args.metric_samples) if k < len(panels) - 1 else None
        scored[title] = sc
        ax.set_title(title + (f"\nChamfer {sc['chamfer']:.4f}, NC {sc['normal_consistency']:.3f}" if sc else ""),
                     fontsize=9)
    fig.tight_layout()
    img.mkdir(parents=True, exist_ok=True)
    fig.savefig(img / "shapes_panel.png", dpi=110)
    plt.close(fig)
    g, _ = _fit(clean, args)
    surf = extract_surface(g, grid)
    x = torch.as_tensor(surf.vertices, dtype=torch.float32)
    sig = CURVATURE_SIGMAS[-1] * diagonal(clean)
    fig = plt.figure(figsize=(8.4, 3.6))
    for k, (title, field) in enumerate([("fitted torus SDF", g),
                                        (f"after heat smoothing, sigma {CURVATURE_SIGMAS[-1]:g} diag",
                                         smooth_shape(g, sigma=sig, method="heat"))]):
        h = mean_curvature(field)(x).detach()[:, 0].numpy()
        ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        render_surface(surf, ax=ax, values=h, cmap="viridis", view=(35, -60), vmin=0.3, vmax=2.9)
        ax.set_title(f"mean curvature: {title}\n(colours 0.3 .. 2.9; exact range 0.57 .. 2.59)", fontsize=9)
    fig.tight_layout()
    fig.savefig(img / "shapes_curvature.png", dpi=110)
    plt.close(fig)
    log(f"figures in {img}: {scored}")
    return dict(sigma=sigma, iterations=iterations, scores=scored)


def main():
    ap = argparse.ArgumentParser(prog="python -m benchmarks.shapes")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=SDF_DEFAULTS["steps"])
    ap.add_argument("--samples", type=int, default=SDF_DEFAULTS["samples"])
    ap.add_argument("--batch-size", type=int, default=SDF_DEFAULTS["batch_size"])
    ap.add_argument("--grid", type=int, default=96)
    ap.add_argument("--metric-samples", type=int, default=30000)
    ap.add_argument("--parts", default="jet,fit,curvature,smoothing")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.steps, args.samples, args.grid, args.metric_samples = 100, 20000, 48, 5000
    torch.set_num_threads(args.threads)  # 1: OpenMP spin-waits make 2 threads slower on a shared 2-core box
    out_dir = args.out or OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = set(args.parts.split(","))
    log = lambda s: print(s, flush=True)  # noqa: E731
    path = out_dir / ("shapes_quick.json" if args.quick else "shapes.json")
    res = json.loads(path.read_text()) if path.exists() else {}
    res["meta"] = run_metadata(quick=args.quick, threads=args.threads, steps=args.steps, samples=args.samples,
                               batch_size=args.batch_size,
                               grid=args.grid, metric_samples=args.metric_samples, train=TRAIN, test=TEST,
                               noise=NOISE, sigmas=SIGMAS, iterations=ITERATIONS)
    if "jet" in parts:
        res["jet"] = section_jet(args, log)
    fields = {}
    if "fit" in parts:
        res["fit"], fields = section_fit(args, log)
    elif "curvature" in parts:  # the curvature section alone fits only its two shapes
        fields = {name: _fit(meshes()[name], args)[0] for name in ("sphere", "torus")}
    if "curvature" in parts:
        res["curvature"] = section_curvature(fields, args, log)
    if "smoothing" in parts:
        res["smoothing"] = section_smoothing(args, log)
    if "figure" in parts:
        res["figure"] = figure(args, res, log, Path(__file__).resolve().parent.parent / "docs" / "img")
    path.write_text(json.dumps(res, indent=1))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
