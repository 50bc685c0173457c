"""The demo: fit a shipped image, render it at 1x and 4x, process it, a sound clip and a mesh, tabulate the metrics.

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
``metrics.md`` and ``metrics.json`` (with the run record of
:func:`insp.runinfo.run_metadata`).

The sections live in :mod:`insp.demo.basics` (fit, reconstruction, file),
:mod:`insp.demo.operators` (edges and blur), :mod:`insp.demo.poisson`
(blending) and :mod:`insp.demo.restoration` (the pretrained operators), :mod:`insp.demo.audio`
(a noisy speech clip denoised as a field) and :mod:`insp.demo.shapes` (a noisy
mesh smoothed as a signed-distance field); the
table is :class:`insp.demo.table.MetricsTable`.  Sections load their images
through :mod:`insp.data` and import nothing from this module at run time.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._files import atomic_write
from .audio import audio_section
from .basics import file_section, fit_section, reconstruction_section
from .operators import operators_section
from .poisson import poisson_section
from .restoration import restoration_section
from .shapes import shapes_section
from .table import MetricsTable

__all__ = ["DemoContext", "MetricsTable", "Section", "SECTIONS", "run_demo"]


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


#: The demo's sections, run in order.  Append yours (see the module notes).
SECTIONS: list[Section] = [
    Section("fit", fit_section),
    Section("reconstruction", reconstruction_section),
    Section("file", file_section),
    Section("edges+blur", operators_section),
    Section("poisson", poisson_section),
    Section("restoration", restoration_section),
    Section("audio", audio_section),
    Section("shapes", shapes_section),
]


# --------------------------------------------------------------------------- driver


#: the file that marks a folder as a demo's output (written last by :func:`run_demo`)
MARKER = "metrics.json"


def check_output_dir(out, *, force: bool = False) -> Path:
    """``out`` as a Path, if the demo may write there: new, empty, or a previous demo's output (or ``force``).

    The demo writes a dozen files with fixed names; in a folder of the user's
    own files it would overwrite them without a word, so it refuses.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {str(out)!r} is a file, not a directory")
    if force or not out.exists() or not any(out.iterdir()):
        return out
    marker = out / MARKER
    try:
        previous = json.loads(marker.read_text(encoding="utf-8")).get("demo") == "insp"
    except (OSError, ValueError, AttributeError):
        previous = False
    if not previous:
        raise FileExistsError(f"--out {str(out)!r} holds other files and is not a previous demo's output; the demo "
                              "would overwrite files there. Choose a new directory or pass --force")
    return out


def run_demo(out="out/demo", *, quick: bool = False, seed: int = 0, progress: bool = True,
             sections: list[Section] | None = None) -> int:
    """Run the demo sections; write images, ``metrics.md`` and ``metrics.json`` under ``out``.

    Returns 0 when every section succeeded, 1 otherwise.
    """
    from .. import data
    from ..runinfo import run_metadata

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = MetricsTable()
    image = data.gray("camera", size=32 if quick else 256)  # 256: the 2x2 block mean of skimage's 512x512
    ctx = DemoContext(out=out, quick=quick, seed=seed, progress=progress, image=image, table=table)
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
    info = run_metadata(quick=quick, seed=seed)
    atomic_write(out / "metrics.md", [
        f"# insp demo metrics\n\n{md}\n\nRun: {json.dumps(info)}; total {total:.1f} s.\n".encode()])
    atomic_write(out / MARKER, [json.dumps(dict(
        demo="insp", rows=table.rows, run=info, total_seconds=round(total, 3), section_seconds=timings, failed=failed,
    ), indent=2, default=_json_default, allow_nan=True).encode()])
    return 1 if failed else 0


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)
