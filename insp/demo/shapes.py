"""Demo section: a noisy mesh as a signed-distance field, smoothed by the shipped learned smoother, beside Taubin.

A torus (not one of the benchmark's cases: its own noise seed) has its
vertices moved along their normals by 1 % of the bounding-box diagonal; the
noisy mesh is fitted by :func:`insp.fit_sdf`, smoothed by
:func:`insp.learned.smooth_shape_learned` and extracted by marching cubes;
trimesh's Taubin filter runs on the noisy mesh with the iteration count
``benchmarks/shapes.py`` chose on its training shapes.  Writes a picture, the
meshes as PLY and Chamfer / normal-consistency rows against the clean mesh.
"""

from __future__ import annotations

import time

__all__ = ["shapes_section", "DEMO_NOISE", "TAUBIN_ITERATIONS"]

#: normal noise of the demo mesh, in units of its bounding-box diagonal
DEMO_NOISE = 0.01
#: Taubin iterations: the count benchmarks/shapes.py chose on its training shapes at this noise level
TAUBIN_ITERATIONS = 40


def shapes_section(ctx) -> None:
    """Fit a noisy torus, smooth the field, compare with Taubin; PNG, PLY files and Chamfer / NC rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import trimesh

    from ..baselines.meshes import add_normal_noise, smooth_mesh
    from ..fields.fitting.sdf import fit_sdf
    from ..fields.surface import Surface, extract_surface, render_surface
    from ..learned.shapes import smooth_shape_learned
    from ..metrics import surface_distances

    clean = trimesh.creation.torus(0.6, 0.25, major_sections=96, minor_sections=48)
    diag = float(np.linalg.norm(clean.extents))
    noisy = add_normal_noise(clean, sigma=DEMO_NOISE * diag, seed=ctx.seed + 7)
    grid = (48,) * 3 if ctx.quick else (64,) * 3
    t0 = time.perf_counter()
    kw = dict(steps=60, samples=20000, batch_size=2048) if ctx.quick else {}
    field, _ = fit_sdf(noisy, seed=ctx.seed, progress=ctx.progress, **kw)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    inr = extract_surface(field, grid)
    inr_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    learned = extract_surface(smooth_shape_learned(field), grid)
    learned_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    taubin = smooth_mesh(noisy, method="taubin", iterations=TAUBIN_ITERATIONS)
    taubin_s = time.perf_counter() - t0

    panels = {f"noisy mesh ({DEMO_NOISE:.0%} of the diagonal)": (noisy, None),
              "INR of the noisy mesh": (inr, fit_s + inr_s),
              "insp learned smoother": (learned, learned_s),
              f"Taubin, {TAUBIN_ITERATIONS} iterations": (taubin, taubin_s),
              "clean": (clean, None)}
    fig = plt.figure(figsize=(15, 3.2))
    scores = {}
    for k, (title, (mesh, _)) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        render_surface(mesh, ax=ax, view=(35, -60))
        if title != "clean":
            m = surface_distances(mesh, clean, samples=5000 if ctx.quick else 30000)
            scores[title] = (m["chamfer"] / diag, m["normal_consistency"])
            title += f"\nChamfer {scores[title][0]:.4f}, NC {scores[title][1]:.3f}"
        ax.set_title(title, fontsize=9)
    # 3-D axes leave wide empty margins under tight_layout; place them edge to edge, titles inside the figure
    fig.subplots_adjust(left=0, right=1, bottom=-0.15, top=0.92, wspace=-0.05)
    fig.savefig(ctx.path("shapes_smooth.png"), dpi=80)
    plt.close(fig)
    for key, mesh in (("noisy", noisy), ("inr", inr), ("learned", learned), ("taubin", taubin)):
        path = ctx.path(f"shape_{key}.ply")
        mesh.save(path) if isinstance(mesh, Surface) else mesh.export(str(path))
    notes = {"INR of the noisy mesh": f"insp.fit_sdf defaults, marching cubes on {grid[0]}^3",
             "insp learned smoother": "insp.learned.smooth_shape_learned of that field",
             f"Taubin, {TAUBIN_ITERATIONS} iterations": "trimesh.smoothing.filter_taubin on the noisy mesh"}
    for title, (chamfer, nc) in scores.items():
        ctx.table.add("shapes", title, time_s=panels[title][1], notes=notes.get(title, "torus, seeded normal noise"),
                      chamfer_per_diag=chamfer, normal_consistency=nc)
    best = min(scores, key=lambda t: scores[t][0])
    ctx.log(f"  shapes: Chamfer / diag " + ", ".join(f"{t.split(' (')[0]} {c:.4f}" for t, (c, _) in scores.items())
            + f"; best {best}")
