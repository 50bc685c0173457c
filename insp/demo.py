"""The demo: fit a shipped image, render it at 1x and 4x, and tabulate the metrics.

``insp demo --out out/demo`` (or ``make demo``) runs every entry of
:data:`SECTIONS` in order.  A section is a function ``section(ctx)`` that
reads what earlier sections left in the :class:`DemoContext` (the ground-truth
image, the fitted field, ...), writes its files with ``ctx.path(name)`` and
adds rows with ``ctx.table.add(...)``.  Sections are independent: one that
raises is reported (row "FAILED" and the traceback on stderr), the others still
run, and the command exits with status 1.

Adding a section (edge detection, blur, restoration, blending, ...)::

    def edges_section(ctx: DemoContext) -> None:
        g = gradient_magnitude(ctx.field)             # the camera SIREN
        img = g.sample(ctx.image.shape)[..., 0].numpy()
        write_image(ctx.path("camera_edges.png"), img / img.max())
        ctx.table.add("edges", "gradient magnitude vs Sobel", psnr=..., time_s=...)

    SECTIONS.append(Section("edges", edges_section))

``ctx.quick`` is set by ``--quick`` (tests): use smaller sizes and fewer steps.
Results land in the output directory: images, ``camera.inspf``,
``metrics.md`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
import traceback
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["DemoContext", "MetricsTable", "Section", "SECTIONS", "run_demo", "camera_image"]


class MetricsTable:
    """Rows of ``section | item | PSNR | SSIM | time | notes (+ extra columns)``."""

    base_columns = ("section", "item", "psnr_db", "ssim", "time_s", "notes")
    headings = {"section": "Section", "item": "Item", "psnr_db": "PSNR (dB)", "ssim": "SSIM",
                "time_s": "Time (s)", "notes": "Notes"}

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, section: str, item: str, *, psnr: float | None = None, ssim: float | None = None,
            time_s: float | None = None, notes: str = "", **extra: Any) -> dict:
        """Append a row; ``extra`` keywords become additional columns."""
        row = dict(section=section, item=item, psnr_db=psnr, ssim=ssim, time_s=time_s, notes=notes, **extra)
        self.rows.append(row)
        return row

    @property
    def columns(self) -> list[str]:
        cols = list(self.base_columns)
        for row in self.rows:
            cols += [k for k in row if k not in cols]
        return cols

    @staticmethod
    def _fmt(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            if math.isinf(value):
                return "inf"
            return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"
        return str(value).replace("|", "/")

    def markdown(self) -> str:
        cols = self.columns
        head = "| " + " | ".join(self.headings.get(c, c) for c in cols) + " |"
        rule = "|" + "|".join("---" for _ in cols) + "|"
        body = ["| " + " | ".join(self._fmt(r.get(c)) for c in cols) + " |" for r in self.rows]
        return "\n".join([head, rule, *body])


@dataclass
class DemoContext:
    """What sections share.  ``field``/``history`` are set by the fit section."""

    out: Path
    quick: bool
    seed: int
    progress: bool
    image: np.ndarray  # ground truth, float64 in [0, 1], (H, W)
    table: MetricsTable
    field: Any = None
    history: Any = None
    fields: dict[str, Any] = dc_field(default_factory=dict)  # named results for later sections
    log: Callable[[str], None] = print

    def path(self, name: str) -> Path:
        """A file in the output directory."""
        return self.out / name


@dataclass
class Section:
    name: str
    run: Callable[[DemoContext], None]


def camera_image(*, size: int = 256) -> np.ndarray:
    """``skimage.data.camera()`` in [0, 1], area-averaged to ``size x size`` (256 by default).

    skimage ships it at 512x512; the demo and ``benchmarks/fit_speed.py`` use
    the 2x2 block mean (256x256), the footing of the fitting targets.  One
    loader for every image: :func:`insp.data.gray`.
    """
    from . import data

    return data.gray("camera", size=size)


# --------------------------------------------------------------------------- sections


def fit_section(ctx: DemoContext) -> None:
    """Fit the default SIREN to the camera image and save it."""
    from .fields.fitting import fit
    from .fields.io import save
    from .imageio import write_image

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
    from .imageio import write_image
    from .metrics import psnr, ssim

    h, w = ctx.image.shape
    t = time.perf_counter()
    rec = ctx.field.sample((h, w))[..., 0].double().numpy()
    t1 = time.perf_counter() - t
    write_image(ctx.path("camera_fit.png"), rec)
    write_image(ctx.path("camera_error_x10.png"), np.abs(rec - ctx.image) * 10)
    quantised = np.round(np.clip(rec, 0, 1) * 255) / 255
    ctx.table.add("reconstruction", f"render {h}x{w} vs input", psnr=psnr(rec, ctx.image),
                  ssim=ssim(rec, ctx.image), time_s=t1)
    ctx.table.add("reconstruction", f"same, as 8-bit PNG", psnr=psnr(quantised, ctx.image),
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
    from .fields.io import load

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


def operators_section(ctx: DemoContext) -> None:
    """Edges and blur of the fitted field next to Sobel and gaussian_filter (:mod:`insp.demo_operators`)."""
    from .demo_operators import operators_section as run

    run(ctx)


def poisson_section(ctx: DemoContext) -> None:
    """The cat's face blended into the coffee scene, next to both baselines (:mod:`insp.demo_poisson`)."""
    from .demo_poisson import poisson_section as run

    run(ctx)


def restoration_section(ctx: DemoContext) -> None:
    """Pretrained denoise/deblur/inpaint next to classical baselines (:mod:`insp.demo_restoration`)."""
    from .demo_restoration import restoration_section as run

    run(ctx)


#: The demo's sections, run in order.  Append yours (see the module notes).
SECTIONS: list[Section] = [
    Section("fit", fit_section),
    Section("reconstruction", reconstruction_section),
    Section("file", file_section),
    Section("edges+blur", operators_section),
    Section("poisson", poisson_section),
    Section("restoration", restoration_section),
]


# --------------------------------------------------------------------------- driver


def _run_info(quick: bool, seed: int) -> dict:
    import torch

    from . import __version__

    return dict(insp=__version__, torch=torch.__version__, numpy=np.__version__, python=platform.python_version(),
                threads=torch.get_num_threads(), machine=platform.machine(), quick=quick, seed=seed)


def run_demo(out="out/demo", *, quick: bool = False, seed: int = 0, progress: bool = True,
             sections: list[Section] | None = None) -> int:
    """Run the demo sections; write images, ``metrics.md`` and ``metrics.json`` under ``out``.

    Returns 0 when every section succeeded, 1 otherwise.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = MetricsTable()
    ctx = DemoContext(out=out, quick=quick, seed=seed, progress=progress, image=camera_image(size=32 if quick else 256),
                      table=table)
    failed, timings = [], {}
    t_all = time.perf_counter()
    for sec in sections if sections is not None else SECTIONS:
        print(f"[demo] {sec.name} ...", flush=True)
        t = time.perf_counter()
        try:
            sec.run(ctx)
        except Exception as exc:  # independent sections: report and go on
            failed.append(sec.name)
            traceback.print_exc(file=sys.stderr)
            table.add(sec.name, "FAILED", notes=f"{type(exc).__name__}: {exc}")
        timings[sec.name] = round(time.perf_counter() - t, 3)
    total = time.perf_counter() - t_all
    md = table.markdown()
    print()
    print(md)
    print(f"\n{len(SECTIONS if sections is None else sections) - len(failed)} sections ok, "
          f"{len(failed)} failed; {total:.1f} s; results in {out}/")
    info = _run_info(quick, seed)
    (out / "metrics.md").write_text(
        f"# insp demo metrics\n\n{md}\n\nRun: {json.dumps(info)}; total {total:.1f} s.\n", encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(dict(
        rows=table.rows, run=info, total_seconds=round(total, 3), section_seconds=timings, failed=failed,
    ), indent=2, default=_json_default, allow_nan=True), encoding="utf-8")
    return 1 if failed else 0


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)
