"""Demo section: Poisson blending of two shipped images, the INR blend next to both pixel baselines.

Registered in :data:`insp.demo.SECTIONS`.  The cat's face (``skimage.data.chelsea``)
goes into the coffee scene (``skimage.data.coffee``) inside an ellipse, at
``N x N`` (128, image fits of 200 steps; 32 and 50 steps with ``--quick``).  Writes

* ``poisson_paste.png`` (cut and paste: the seam to remove),
  ``poisson_inr.png`` (:func:`insp.ops.poisson_blend`, sampled on the grid),
  ``poisson_inr_4x.png`` (the same field sampled at ``4N x 4N``),
  ``poisson_grid.png`` (sparse 5-point Poisson solve) and
  ``poisson_seamlessclone.png`` (OpenCV ``seamlessClone``, NORMAL);
* table rows: the INR blend scored against the sparse Poisson solution of the
  same problem (the fitted source and target rendered on the grid), and each
  method's seam visibility (:func:`insp.baselines.poisson.seam_visibility`,
  lower is better) and time.

The full comparison (four pairs, reconstruction from gradients) is
``python -m benchmarks.poisson`` (``docs/poisson.md``).
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["poisson_section", "blend_pair_images"]


def blend_pair_images(n: int):
    """``(source, target, mask)``: the cat's face, the coffee scene (``n x n`` RGB in [0, 1]) and an ellipse."""
    import skimage.data
    from skimage.transform import resize

    def rs(a):
        return resize(a.astype(np.float64) / 255, (n, n), anti_aliasing=True)

    source = rs(skimage.data.chelsea()[20:300, 100:380])
    target = rs(skimage.data.coffee()[:, 100:500])
    yy, xx = np.mgrid[0:n, 0:n] / n
    mask = ((yy - 0.5) / 0.3) ** 2 + ((xx - 0.5) / 0.25) ** 2 < 1
    return source, target, mask


def poisson_section(ctx) -> None:
    """The cat's face blended into the coffee scene: INR vs sparse Poisson vs seamlessClone."""
    import torch

    from ..baselines import poisson as bp
    from ..imageio import write_image
    from ..metrics import psnr
    from ..ops import poisson_blend

    n = 32 if ctx.quick else 128
    source, target, mask = blend_pair_images(n)
    t = time.perf_counter()
    out = poisson_blend(source, target, mask, fit_steps=50 if ctx.quick else 200,
                        seed=ctx.seed, progress=ctx.progress)
    info = out.info
    t_inr = time.perf_counter() - t
    with torch.no_grad():
        inr = out.sample((n, n)).double().numpy()
        inr4 = out.sample((4 * n - 3, 4 * n - 3)).double().numpy()  # same endpoints: pixel k sits at 4k
        S, T = (info[k].sample((n, n)).double().numpy() for k in ("source_field", "target_field"))
    t = time.perf_counter()
    grid = bp.poisson_blend(source, target, mask)
    t_grid = time.perf_counter() - t
    same = bp.poisson_blend(S, T, mask)  # the same problem as the INR's: its fitted fields on the grid
    t = time.perf_counter()
    try:
        cv = bp.seamless_clone(np.clip(source, 0, 1), np.clip(target, 0, 1), mask)
    except ImportError as exc:  # OpenCV is an optional baseline: skip its row and say so
        cv, cv_missing = None, str(exc)
    t_cv = time.perf_counter() - t
    paste = bp.paste(source, target, mask)
    for name, img in (("paste", paste), ("inr", inr), ("inr_4x", inr4), ("grid", grid), ("seamlessclone", cv)):
        if img is not None:
            write_image(ctx.path(f"poisson_{name}.png"), np.clip(img, 0, 1))

    def seam(img):
        return bp.seam_visibility(img, mask)

    fits = info["fit_target_s"] + info["fit_source_s"]
    ctx.table.add("poisson", f"INR poisson_blend {n}x{n} (cat -> coffee)", time_s=t_inr,
                  psnr=psnr(np.clip(inr, 0, 1), np.clip(same, 0, 1), data_range=1.0), seam=seam(inr),
                  notes=f"vs sparse Poisson of the same fitted fields; {fits:.1f} s of it fits the two images, "
                        f"{info['membrane_s']:.1f} s the membrane")
    ctx.table.add("poisson", "sparse Poisson (5-point, scipy)", time_s=t_grid, seam=seam(grid),
                  psnr=psnr(np.clip(inr, 0, 1), np.clip(grid, 0, 1), data_range=1.0),
                  notes="baseline; PSNR: the INR blend vs this, on the original pixels")
    if cv is None:
        ctx.table.add("poisson", "OpenCV seamlessClone NORMAL", notes=f"skipped: {cv_missing}")
    else:
        ctx.table.add("poisson", "OpenCV seamlessClone NORMAL", time_s=t_cv, seam=seam(cv),
                      psnr=psnr(cv, np.clip(grid, 0, 1), data_range=1.0), notes="baseline; PSNR vs sparse Poisson")
    ctx.table.add("poisson", "cut and paste", seam=seam(paste), notes="the seam to remove")
