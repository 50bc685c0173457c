"""Demo sections on the camera image: fit a SIREN, render it at 1x and 4x, save and reload it.

Registered first in :data:`insp.demo.SECTIONS`, in this order: :func:`fit_section`
sets ``ctx.field`` (and ``ctx.fields["camera"]``) for every later section.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the runner imports this module: no import back at run time
    from . import DemoContext

__all__ = ["fit_section", "reconstruction_section", "file_section"]


def fit_section(ctx: DemoContext) -> None:
    """Fit the default SIREN to the camera image and save it."""
    from ..fields.fitting import fit
    from ..fields.io import save
    from ..imageio import write_image

    steps = 50 if ctx.quick else None
    write_image(ctx.path("camera_input.png"), ctx.image)
    field, hist = fit(ctx.image, channel_axis=None, steps=steps, seed=ctx.seed, progress=ctx.progress,
                      data_range=1.0)
    ctx.field, ctx.history = field, hist
    ctx.fields["camera"] = field
    save(field, ctx.path("camera.inspf"), metadata=dict(source="skimage.data.camera", shape=list(ctx.image.shape),
                                                        channels=1, value_range=[0.0, 1.0]))
    t30 = hist.time_to(30.0)
    ctx.table.add("fit", f"SIREN fit {ctx.image.shape[0]}x{ctx.image.shape[1]} ({hist.steps} steps)",
                  psnr=hist.final_psnr, time_s=hist.wall_time,
                  notes=f"30 dB after {t30:.1f} s" if t30 is not None else "30 dB not reached")


def reconstruction_section(ctx: DemoContext) -> None:
    """Render the fitted field at 1x and 4x, compare 1x with the input."""
    from ..imageio import write_image
    from ..metrics import psnr, ssim

    h, w = ctx.image.shape
    t = time.perf_counter()
    rec = ctx.field.sample((h, w))[..., 0].double().numpy()
    t1 = time.perf_counter() - t
    write_image(ctx.path("camera_fit.png"), rec)
    write_image(ctx.path("camera_error_x10.png"), np.abs(rec - ctx.image) * 10)
    quantised = np.round(np.clip(rec, 0, 1) * 255) / 255
    ctx.table.add("reconstruction", f"render {h}x{w} vs input", psnr=psnr(rec, ctx.image),
                  ssim=ssim(rec, ctx.image), time_s=t1)
    ctx.table.add("reconstruction", "same, as 8-bit PNG", psnr=psnr(quantised, ctx.image),
                  ssim=ssim(quantised, ctx.image))
    t = time.perf_counter()
    big = ctx.field.sample((4 * h, 4 * w))[..., 0].double().numpy()
    t4 = time.perf_counter() - t
    write_image(ctx.path("camera_fit_4x.png"), big)
    # consistency: the 4x render, averaged back over 4x4 blocks, against the input
    # (sample points differ by a sub-pixel shift, so this is a sanity check, not a score)
    down = big.reshape(h, 4, w, 4).mean(axis=(1, 3))
    ctx.table.add("reconstruction", f"render {4 * h}x{4 * w} (4x)", time_s=t4,
                  notes=f"4x4 block mean vs input: {psnr(down, ctx.image):.1f} dB")


def file_section(ctx: DemoContext) -> None:
    """Reload the saved field and check that it renders identically."""
    from ..fields.io import load

    path = ctx.path("camera.inspf")
    t = time.perf_counter()
    again = load(path)
    dt = time.perf_counter() - t
    same = bool((again.sample(ctx.image.shape) == ctx.field.sample(ctx.image.shape)).all())
    kb = path.stat().st_size / 1024
    raw_kb = ctx.image.size / 1024  # 8-bit pixels
    ctx.table.add("file", "camera.inspf reload", time_s=dt,
                  notes=f"{kb:.0f} KiB ({kb / raw_kb:.1f}x the 8-bit pixels); identical render: {same}")
    if not same:
        raise AssertionError("reloaded field renders differently")
