"""Demo section: the pretrained INSP-Net operators (denoise, deblur, inpaint) next to classical baselines.

Registered in :data:`insp.demo.SECTIONS`.  To stay fast it works on a crop of
the camera image (48x48; 24x24 with ``--quick``), degraded by the tasks of
:mod:`insp.tasks` (noise sigma 25/255, Gaussian blur sigma 2 px, 30 % holes).
Each degraded crop gets the SIREN its operator expects, fitted by
:func:`insp.learned.fit_for_operator` on :func:`insp.learned.pretrained_domain` (so
its samples are 2/255 apart, the spacing the operators were trained at),
then the pretrained operator is applied to the field and sampled on the
crop's grid.  The crop fits are full-batch and shorter (:data:`FIT_STEPS`)
than the 256x256 mini-batch fits the operators were trained on, so these
numbers illustrate; the measured comparison over the test split is
``python -m benchmarks.restoration`` (``docs/pretrained.md``).  The deblur crop gets
1000 steps: the deblurrer reads order-6 derivatives, which a 60-step fit
gets wrong (on this crop: 18.6 dB after 60 steps, worse than the blurred
20.5 dB; 24.2 dB after 1000).  The section takes about 40 s on the
project's 2-core machine.

Writes ``restoration_<task>.png``: degraded | INR | INSP-Net | classical | clean,
side by side; table rows with PSNR/SSIM against the clean crop.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["restoration_section", "FIT_STEPS", "CROP"]

#: Fit steps of the crop INRs (full batch) per task, normal and ``--quick``.
FIT_STEPS = {"denoise": (60, 30), "deblur": (1000, 30), "inpaint": (60, 30)}
#: Crop (top, left, size) of the 256x256 camera; ``--quick`` takes a 24x24 crop of the 32x32 image.
CROP = (56, 96, 48)


def _panel(images, gap: int = 2) -> np.ndarray:
    h = images[0].shape[0]
    parts = []
    for k, im in enumerate(images):
        parts.append(np.clip(im, 0, 1))
        if k < len(images) - 1:
            parts.append(np.ones((h, gap)))
    return np.concatenate(parts, axis=1)


def restoration_section(ctx) -> None:
    """Denoise / deblur / inpaint a camera crop: INR, pretrained operator, classical baseline."""
    import torch

    from ..baselines import restoration as R
    from ..imageio import write_image
    from ..learned import deblur, denoise, fit_for_operator, inpaint
    from ..metrics import psnr, ssim
    from ..tasks import get_task

    if ctx.quick:
        top, left, n = 4, 4, 24
    else:
        top, left, n = CROP
    clean = np.ascontiguousarray(ctx.image[top:top + n, left:left + n])
    if clean.shape != (n, n):
        raise ValueError(f"the restoration section needs an image of at least {top + n}x{left + n} pixels, "
                         f"got {ctx.image.shape}")
    cases = [
        ("denoise", denoise, {"TV (Chambolle)": lambda d: R.denoise_tv(d.input),
                                  "BM3D (sigma known)": lambda d: R.denoise_bm3d(d.input, sigma=d.noise_sigma)}),
        ("deblur", deblur, {"Wiener (reflect pad)": lambda d: R.deconv_wiener(d.input, d.psf)}),
        ("inpaint", inpaint, {"biharmonic": lambda d: R.inpaint_biharmonic(d.input, d.known)}),
    ]
    for k, (task, op, classical) in enumerate(cases):
        deg = get_task(task).degrade(clean, seed=ctx.seed + k)
        steps = FIT_STEPS[task][1] if ctx.quick else FIT_STEPS[task][0]
        t = time.perf_counter()
        # the INR configuration the operator was trained on (the denoiser's has a first omega of 10)
        field, _ = fit_for_operator(task, deg.input, steps=steps, seed=ctx.seed, progress=ctx.progress)
        t_fit = time.perf_counter() - t
        with torch.no_grad():
            inr = field.sample((n, n))[..., 0].double().numpy()
            t = time.perf_counter()
            # check=False: a small crop fitted for a few full-batch steps is outside the operators' measured
            # recipe and sizes (they would refuse it); the demo shows them anyway and says so in the table
            out = op(field, check=False).sample((n, n))[..., 0].double().numpy()
            t_op = time.perf_counter() - t
        rows = [("degraded input", deg.input, None, ""), ("INR fitted to it", inr, t_fit, f"{steps} full-batch steps"),
                ("INSP-Net (pretrained)", out, t_op,
                 "operator on the INR, check=False: crop and steps outside its measured recipe")]
        pics = [deg.input, inr, out]
        for cname, fn in classical.items():
            t = time.perf_counter()
            try:
                res = fn(deg)
            except ImportError as exc:  # an optional baseline package is missing: skip its row, say so
                ctx.log(f"[demo] restoration: {cname} skipped ({exc})")
                ctx.table.add("restoration", f"{task}: {cname}", notes=f"skipped: {exc}")
                continue
            rows.append((cname, res, time.perf_counter() - t, "classical, on the pixels"))
            pics.append(res)
        for item, img, secs, note in rows:
            img = np.clip(img, 0, 1)
            ctx.table.add("restoration", f"{task}: {item} ({n}x{n} crop)", psnr=psnr(img, clean, data_range=1.0),
                          ssim=ssim(img, clean, data_range=1.0), time_s=secs, notes=note)
        write_image(ctx.path(f"restoration_{task}.png"), _panel(pics + [clean]))
