"""Demo section: edge maps and blur of the fitted camera field, each next to its pixel baseline.

Registered in :data:`insp.demo.SECTIONS` (after the fit).  It reuses
``ctx.field`` -- the SIREN fitted to the ``H x W`` camera image -- and writes

* ``camera_edges_inr_4x.png``: ``|grad f|`` sampled at ``4H x 4W`` (exact
  derivatives of the field, no finite differences), next to
  ``camera_edges_sobel_4x.png``: Sobel of the ``H x W`` input, bicubic-upsampled;
  both in pixel units of the input grid and on one grey scale;
* ``camera_blur_inr.png`` (``gaussian_blur`` of the field, sigma = 1 input
  pixel) next to ``camera_blur_filter.png`` (``scipy.ndimage.gaussian_filter``
  of the input, ``mode="mirror"``).

Table rows: the edge maps at ``2H x 2W`` against central differences of the
true ``2H x 2W`` camera (skimage ships it at 512x512; the demo's input is its
block mean), and the blur against ``gaussian_filter``.  The full comparison
over many images is ``python -m benchmarks.operators`` (``docs/operators.md``).
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["operators_section"]


def _area_points(n_low: int, n_high: int, dtype):
    """Coordinates, in a field fitted on ``n_low`` samples at ``linspace(-1, 1)``, of the ``n_high`` block-mean
    (area-aligned) sample positions."""
    import torch

    p = (torch.arange(n_high, dtype=torch.float64) + 0.5) * (n_low / n_high) - 0.5
    return (-1 + 2 * p / (n_low - 1)).to(dtype)


def _pixel_gradient_magnitude(field, rows, cols, per_px_row: float, per_px_col: float) -> np.ndarray:
    import torch

    from ..jet import gradient_at

    x = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)
    g = gradient_at(field, x, create_graph=False)[:, 0, :].double().numpy()
    return np.hypot(g[:, 0] * per_px_row, g[:, 1] * per_px_col).reshape(len(rows), len(cols))


def operators_section(ctx) -> None:
    """Edges (INR at 4x vs Sobel) and blur (INR vs gaussian_filter) of ``ctx.field``."""
    import torch
    from skimage.transform import resize

    from .. import baselines, data, units
    from ..fields.base import field_dtype_device
    from ..imageio import write_image
    from ..metrics import psnr
    from ..ops import gaussian_blur

    if ctx.field is None:
        raise RuntimeError("the operators section needs the fitted field of the 'fit' section")
    field, img = ctx.field, ctx.image
    h, w = img.shape
    dtype = field_dtype_device(field)[0]
    hx, hy = units.pixel_spacing((h, w), domain=field.domain)

    # ---- edges: 4x picture, INR next to Sobel (pixel units of the input grid)
    t = time.perf_counter()
    with torch.no_grad():
        inr4 = _pixel_gradient_magnitude(field, _area_points(h, 4 * h, dtype), _area_points(w, 4 * w, dtype), hx, hy)
    t_inr4 = time.perf_counter() - t
    t = time.perf_counter()
    sob = baselines.gradient(img, stencil="sobel")
    sob4 = np.hypot(*(resize(s, (4 * h, 4 * w), order=3, mode="reflect") for s in sob))
    t_sob4 = time.perf_counter() - t
    vmax = float(np.quantile(np.hypot(*sob), 0.995)) or 1.0
    write_image(ctx.path("camera_edges_inr_4x.png"), inr4 / vmax)
    write_image(ctx.path("camera_edges_sobel_4x.png"), sob4 / vmax)

    # ---- edges scored at 2x against the true 2x camera (units: pixels of the 2x grid)
    truth2 = data.gray("camera", size=2 * h) if h == w else None
    if truth2 is not None:
        ref = baselines.gradient_magnitude(truth2, stencil="central")
        rng = float(ref.max() - ref.min())
        with torch.no_grad():
            inr2 = _pixel_gradient_magnitude(field, _area_points(h, 2 * h, dtype), _area_points(w, 2 * w, dtype),
                                             hx / 2, hy / 2)
        sob2 = np.hypot(*(resize(s, (2 * h, 2 * w), order=3, mode="reflect") for s in sob)) / 2
        bic2 = baselines.gradient_magnitude(resize(img, (2 * h, 2 * w), order=3, mode="reflect"), stencil="central")
        ctx.table.add("edges", f"INR |grad| at {4 * h}x{4 * w}", time_s=t_inr4,
                      notes=f"scored at {2 * h}x{2 * w} vs FD of the true camera: {psnr(inr2, ref, data_range=rng):.2f} dB",
                      psnr=psnr(inr2, ref, data_range=rng))
        ctx.table.add("edges", f"Sobel {h}x{w} -> bicubic {4 * h}x{4 * w}", time_s=t_sob4,
                      psnr=psnr(sob2, ref, data_range=rng), notes="baseline, scored the same way")
        ctx.table.add("edges", f"bicubic {2 * h}x{2 * w} -> central FD", psnr=psnr(bic2, ref, data_range=rng),
                      notes="baseline, scored the same way")

    # ---- blur, sigma = 1 input pixel
    sigma = units.sigma_to_coordinates(1.0, (h, w), domain=field.domain)[0]
    t = time.perf_counter()
    with torch.no_grad():
        blur = gaussian_blur(field, sigma=sigma, boundary="reflect").sample((h, w))[..., 0].double().numpy()
    t_blur = time.perf_counter() - t
    t = time.perf_counter()
    ref_blur = baselines.gaussian_blur(img, sigma=1.0, mode="mirror")
    t_ref = time.perf_counter() - t
    write_image(ctx.path("camera_blur_inr.png"), blur)
    write_image(ctx.path("camera_blur_filter.png"), ref_blur)
    ctx.table.add("blur", f"INR gaussian_blur sigma=1 px, {h}x{w}", psnr=psnr(blur, ref_blur, data_range=1.0),
                  time_s=t_blur, notes=f"vs gaussian_filter (mirror), which takes {t_ref * 1e3:.1f} ms")
