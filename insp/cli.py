"""The ``insp`` command line.

::

    insp fit IMAGE -o FILE [--steps N] [--lr LR] [--batch-size B] [--seed S] [--time-limit T] [--quiet]
    insp render FILE -o IMAGE [--size H W] [--chunk-size N] [--force] [--quiet]
    insp info FILE [--json]
    insp apply OP FILE -o OUT [--size H W] [--sigma-px S | --sigma S] [--amount A] [--distill-steps N]
    insp restore TASK IMAGE -o OUT [--steps N] [--reference CLEAN]
    insp edges IMAGE|FILE -o OUT [--size H W] [--low L --high H] [--steps N]
    insp blend SOURCE TARGET MASK -o OUT [--offset DY DX] [--mode replace|mixed|average] [--steps N]
    insp demo [--out DIR] [--quick] [--force]
    insp fit-dataset SIGNALS.npy -o DIR [--labels LABELS.npy] [--steps N] [--lr LR] [--hidden-features W]
                     [--hidden-layers L] [--shared-init] [--shard-size S] [--seed S] [--cluster ADDRESS] [--quiet]

``apply`` runs a closed-form or pretrained operator on a field file and writes
an image (any size; PNG row by row) or, for an ``.inspf`` output, the result
distilled into a fresh SIREN (:func:`insp.distill`; its accuracy is printed).
``restore`` is the one-shot path for a photo: fit the way the pretrained
operator expects, apply it, render at the image's size.

Images are 8/16-bit gray or RGB(A) files read into [0, 1] (alpha dropped);
fitted fields are ``.inspf`` files (see :mod:`insp.fields.io`).  Nothing is
imported beyond argparse until a command runs.

Every user error -- a missing or foreign file, a corrupt field, a size too
large, a fit that diverges, a full disk -- ends the command with one line on
stderr (``insp COMMAND: error: ...``) and exit status 1; bad arguments exit
with the usage and status 2.  Outputs are written atomically (a failed write
leaves the previous file as it was), and where a command's output goes is
checked before its work starts.  Progress bars are drawn only on a terminal.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "RENDER_LIMITS"]

#: what ``insp render`` refuses without ``--force``: estimated seconds, and bytes held in memory for
#: formats that are written whole (PNG is written row by row, in bounded memory, at any size)
RENDER_LIMITS = dict(seconds=600.0, bytes=2 * 2**30)


def _number(kind: type, description: str, ok):
    """An argparse type: ``text`` parsed by ``kind`` and accepted when ``ok(value)``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, "a positive integer", lambda v: v >= 1)
_nonnegative_int = _number(int, "a non-negative integer", lambda v: v >= 0)
_positive_float = _number(float, "a positive number", lambda v: 0 < v < float("inf"))
_seed = _number(int, "an integer in [0, 2**63)", lambda v: 0 <= v < 2**63)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="insp", description="Signal processing on implicit neural representations.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    f = sub.add_parser("fit", help="fit a SIREN to an image or a WAV clip and save it", description=(
        "Fit the default SIREN (see docs/fitting.md) to a gray or RGB image, or windowed SIRENs to a mono or "
        "multi-channel WAV clip (docs/audio.md), and save the field as an .inspf file."))
    f.add_argument("image", metavar="IMAGE",
                   help="gray or RGB(A) image file (PNG, JPEG, TIFF, ...) or a .wav clip (PCM or float)")
    f.add_argument("-o", "--output", required=True, metavar="FILE", help="output field file (.inspf)")
    f.add_argument("--steps", type=_nonnegative_int, default=None, help="optimiser steps (default: library default)")
    f.add_argument("--lr", type=_positive_float, default=None, help="peak learning rate")
    f.add_argument("--batch-size", type=_positive_int, default=None,
                   help="points per step (default: the library default, see docs/fitting.md)")
    f.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    f.add_argument("--time-limit", type=_positive_float, default=None, metavar="SECONDS",
                   help="stop fitting after this many seconds")
    f.add_argument("--quiet", action="store_true", help="no progress bar")

    r = sub.add_parser("render", help="sample a field file on a grid and write an image or a WAV clip",
                       description="Render a 2-D field with 1 or 3 channels at any resolution (PNG: in bounded "
                                   "memory, row by row), or a 1-D audio field as a WAV clip at any sample rate.")
    r.add_argument("field", metavar="FILE", help="field file written by `insp fit`")
    r.add_argument("-o", "--output", required=True, metavar="IMAGE",
                   help="output image (PNG recommended), or .wav for an audio field")
    r.add_argument("--rate", type=_positive_int, default=None, metavar="HZ",
                   help="audio fields: samples per second of the WAV (default: the fitted clip's rate; another "
                        "rate resamples the field)")
    r.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=None,
                   help="output size (default: the size of the fitted image)")
    r.add_argument("--chunk-size", type=_positive_int, default=None, help="points evaluated at once")
    r.add_argument("--force", action="store_true",
                   help=f"render even when the estimate exceeds {RENDER_LIMITS['seconds']:.0f} s (or, for formats "
                        f"written whole, {RENDER_LIMITS['bytes'] / 2**30:.0f} GiB of memory)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    i = sub.add_parser("info", help="check and describe a field file")
    i.add_argument("field", metavar="FILE")
    i.add_argument("--json", action="store_true", help="print the whole header as JSON")

    a = sub.add_parser("apply", help="apply an operator to a field file; write an image or a distilled field",
                       description="Apply a closed-form or pretrained operator to a field file. An image output "
                                   "(.png: row by row, any size) samples the result; an .inspf output distils it into "
                                   "a fresh SIREN and prints its accuracy.")
    a.add_argument("operator", choices=APPLY_OPERATORS, metavar="OP", help=", ".join(APPLY_OPERATORS))
    a.add_argument("field", metavar="FILE", help="field file (.inspf)")
    a.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="image file, or .inspf for a distilled field; .wav for an audio field")
    a.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=None,
                   help="output grid (default: the grid the field was fitted on)")
    a.add_argument("--rate", type=_positive_int, default=None, metavar="HZ",
                   help="audio fields (gaussian-blur and denoise, written to .wav): samples per second (default: the "
                        "clip's)")
    sig = a.add_mutually_exclusive_group()
    sig.add_argument("--sigma-px", type=_positive_float, default=None, metavar="S",
                     help="gaussian-blur: sigma in pixels of the output grid")
    sig.add_argument("--sigma", type=_positive_float, default=None, metavar="S",
                     help="gaussian-blur: sigma in coordinate units")
    a.add_argument("--amount", type=_positive_float, default=1.0, help="sharpen: amount (default 1)")
    a.add_argument("--distill-steps", type=_positive_int, default=None, metavar="N",
                   help="steps of the distilling fit for an .inspf output (default: insp.fit's)")
    a.add_argument("--chunk-size", type=_positive_int, default=None, help="points evaluated at once")
    a.add_argument("--force", action="store_true", help="render even above the time or memory limit")
    a.add_argument("--quiet", action="store_true", help="no progress bar")

    rs = sub.add_parser("restore", help="restore a photo with a pretrained operator (fit, apply, render)",
                        description="Fit IMAGE the way the pretrained operator expects (any size), apply it and write "
                                    "the result at the image's size.")
    rs.add_argument("task", choices=RESTORE_TASKS, metavar="TASK", help=", ".join(RESTORE_TASKS))
    rs.add_argument("image", metavar="IMAGE")
    rs.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (PNG recommended)")
    rs.add_argument("--steps", type=_positive_int, default=None, help="fit steps (default: the operator's recipe)")
    rs.add_argument("--seed", type=_seed, default=0)
    rs.add_argument("--reference", default=None, metavar="CLEAN", help="clean image: print PSNRs against it")
    rs.add_argument("--force", action="store_true", help="render even above the time or memory limit")
    rs.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("edges", help="edge map of an image or field file (exact gradients, NMS, hysteresis)")
    e.add_argument("input", metavar="IMAGE|FILE", help="image (fitted first) or field file")
    e.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (white edges)")
    e.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=None)
    e.add_argument("--low", type=_positive_float, default=None, help="low threshold (pixel-unit gradient)")
    e.add_argument("--high", type=_positive_float, default=None, help="high threshold (pixel-unit gradient)")
    e.add_argument("--steps", type=_positive_int, default=None, help="fit steps for an image input")
    e.add_argument("--seed", type=_seed, default=0)
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    b = sub.add_parser("blend", help="Poisson-blend SOURCE into TARGET where MASK is white")
    b.add_argument("source", metavar="SOURCE")
    b.add_argument("target", metavar="TARGET")
    b.add_argument("mask", metavar="MASK", help="image of the source's size: white (> 0.5) where its gradient is taken")
    b.add_argument("-o", "--output", required=True, metavar="OUT")
    b.add_argument("--offset", type=int, nargs=2, default=(0, 0), metavar=("DY", "DX"),
                   help="source pixel (y, x) lands on target pixel (y + DY, x + DX)")
    b.add_argument("--mode", choices=("replace", "mixed", "average"), default="replace")
    b.add_argument("--steps", type=_positive_int, default=None, help="fit steps of the two images")
    b.add_argument("--seed", type=_seed, default=0)
    b.add_argument("--force", action="store_true", help="render even above the time or memory limit")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("fit-dataset", help="fit one INR per signal of an .npy array into a resumable store",
                       description=("Fit a SIREN to each signal of SIGNALS.npy (shape (N, *signal_shape), the "
                                    "signals on [-1, 1]^d) into the INR store DIR (see docs/datasets.md). Run it "
                                    "again with the same arguments to resume an interrupted fit."))
    s.add_argument("signals", metavar="SIGNALS.npy", help="array of N same-shaped signals (.npy)")
    s.add_argument("-o", "--output", required=True, metavar="DIR", help="the store's directory")
    s.add_argument("--labels", metavar="LABELS.npy", default=None, help="N integer labels (.npy)")
    s.add_argument("--steps", type=_nonnegative_int, default=None, help="optimiser steps per INR")
    s.add_argument("--lr", type=_positive_float, default=None, help="peak learning rate")
    s.add_argument("--hidden-features", type=_positive_int, default=None, help="SIREN width")
    s.add_argument("--hidden-layers", type=_nonnegative_int, default=None, help="SIREN hidden layers")
    s.add_argument("--shared-init", action="store_true", help="every INR starts from the same weights")
    s.add_argument("--shard-size", type=_positive_int, default=64, help="INRs per shard (default 64)")
    s.add_argument("--seed", type=_seed, default=0, help="INR i uses seed + i (default 0)")
    s.add_argument("--cluster", metavar="ADDRESS", default=None, help="Dask scheduler address (tcp://host:port)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    d = sub.add_parser("demo", help="run the demo: fit camera, render, metrics table")
    d.add_argument("--out", default="out/demo", metavar="DIR", help="output directory (default out/demo)")
    d.add_argument("--quick", action="store_true", help="small and fast (for tests)")
    d.add_argument("--seed", type=_seed, default=0)
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.add_argument("--force", action="store_true", help="write into a non-empty directory that is not a demo's")
    return p


def _progress(args) -> bool:
    """Progress bars only where a person watches: a terminal, and not ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


# --------------------------------------------------------------------------- fit


def _cmd_fit(args) -> int:
    from ._files import check_writable
    from .fields.fitting import fit
    from .fields.io import save
    from .imageio import read_image

    check_writable(args.output)  # before the fit, not after it
    if Path(args.image).suffix.lower() == ".wav":
        return _fit_wav(args)
    image = read_image(args.image)
    rgb = image.ndim == 3
    field, hist = fit(image, channel_axis=-1 if rgb else None, steps=args.steps, lr=args.lr, seed=args.seed,
                      batch_size=args.batch_size, time_limit=args.time_limit, progress=_progress(args),
                      data_range=1.0)
    meta = dict(source=Path(args.image).name, shape=list(image.shape[:2]), channels=3 if rgb else 1,
                value_range=[0.0, 1.0], fit=dict(steps=hist.steps, psnr_db=round(hist.final_psnr, 3),
                                                 seconds=round(hist.wall_time, 2), seed=args.seed))
    path = save(field, args.output, metadata=meta)
    print(f"fitted {args.image} ({image.shape[1]}x{image.shape[0]}, {'RGB' if rgb else 'gray'}) in "
          f"{hist.wall_time:.1f} s, {hist.steps} steps: PSNR {hist.final_psnr:.2f} dB -> {path}")
    return 0


def _fit_wav(args) -> int:
    from .audioio import read_wav
    from .fields.fitting import fit
    from .fields.io import save

    wave, sr = read_wav(args.image)
    field, hist = fit(wave, sample_rate=sr, channel_axis=-1 if wave.ndim == 2 else "auto", steps=args.steps,
                      lr=args.lr, seed=args.seed, batch_size=args.batch_size, time_limit=args.time_limit,
                      progress=_progress(args))
    c = 1 if wave.ndim == 1 else wave.shape[1]
    snr = float(hist.config["snr"])
    meta = dict(source=Path(args.image).name, kind="audio", sample_rate=sr, num_samples=int(wave.shape[0]),
                channels=c, fit=dict(steps=hist.steps, snr_db=round(snr, 3), seconds=round(hist.wall_time, 2),
                                     seed=args.seed))
    path = save(field, args.output, metadata=meta)
    print(f"fitted {args.image} ({wave.shape[0] / sr:.2f} s at {sr} Hz, {c} channel{'s' * (c > 1)}, "
          f"{len(field.members)} windows) in {hist.wall_time:.1f} s, {hist.steps} steps: SNR {snr:.2f} dB -> {path}")
    return 0


# --------------------------------------------------------------------------- render


def value_range(field, header: dict) -> tuple[list[float], list[float]]:
    """The per-channel value range that maps to black and white: recorded, else the field's own normalisation.

    A file written by ``insp fit`` records ``metadata.value_range``; a fitted
    field records the range of its samples (``provenance.value_range``);
    otherwise the stored normalisation (``shift -/+ scale``) gives it.
    """
    recorded = (header.get("metadata") or {}).get("value_range")
    c = field.out_features
    if isinstance(recorded, (list, tuple)) and len(recorded) == 2:
        return [float(recorded[0])] * c, [float(recorded[1])] * c
    prov = field.provenance.value_range
    if prov is not None and len(prov) == c:
        return [lo for lo, _ in prov], [hi for _, hi in prov]
    affine = field.value_affine
    return (affine.shift - affine.scale).tolist(), (affine.shift + affine.scale).tolist()


def _render_plan(field, size, chunk: int) -> tuple[int, float]:
    """Rows per block and the estimated seconds of the whole render (timed on a probe of the grid)."""
    import math
    import time

    from .fields.base import sample_blocks

    h, w = size
    rows = max(1, min(h, chunk // w))
    probe_rows = max(1, min(h, 4096 // w))
    t = time.perf_counter()
    next(sample_blocks(field, (h, w), rows=probe_rows, chunk_size=chunk))
    per_point = (time.perf_counter() - t) / (probe_rows * w)
    return rows, per_point * math.prod(size)


def _write_field_image(field, size, output, lo, hi, args) -> None:
    """Sample ``field`` on ``size`` and write ``output``, mapping ``[lo, hi]`` (per channel) to black..white.

    The time is estimated first and refused above :data:`RENDER_LIMITS` unless
    ``args.force``; PNG is written block by block (bounded memory), other
    formats whole.  The output is checked writable before any sampling.
    """
    import numpy as np

    from ._files import check_writable
    from .fields.base import DEFAULT_CHUNK_SIZE, sample_blocks
    from .imageio import to_uint8, write_image, write_png_rows

    if field.in_features != 2 or field.out_features not in (1, 3):
        raise ValueError(f"the result is a {field.in_features}-D field with {field.out_features} channels; "
                         "only 2-D fields with 1 or 3 channels render to images")
    h, w = (int(n) for n in size)
    out = check_writable(output)
    png = out.suffix.lower() == ".png"
    c = field.out_features
    chunk = getattr(args, "chunk_size", None) or DEFAULT_CHUNK_SIZE
    rows, seconds = _render_plan(field, (h, w), chunk)
    held = h * w * c * (1 if png else 2)  # bytes in memory: one block for PNG, the whole image (and a copy) else
    if not getattr(args, "force", False):
        if seconds > RENDER_LIMITS["seconds"]:
            raise ValueError(f"rendering {h}x{w} would take about {seconds / 60:.0f} min on this machine "
                             f"(limit {RENDER_LIMITS['seconds']:.0f} s); pass --force to render anyway")
        if not png and held > RENDER_LIMITS["bytes"]:
            raise ValueError(f"a {h}x{w} {out.suffix} image is written whole: about {held / 2**30:.1f} GiB in memory "
                             f"(limit {RENDER_LIMITS['bytes'] / 2**30:.0f} GiB); write a .png (row by row, any size) "
                             "or pass --force")
    lo, hi = (np.asarray(v, dtype=np.float64) for v in (lo, hi))
    span = np.where(hi > lo, hi - lo, 1.0)
    blocks = sample_blocks(field, (h, w), rows=rows, chunk_size=chunk)
    if _progress(args):
        from tqdm.auto import tqdm

        blocks = tqdm(blocks, total=-(-h // rows), desc="rendering", unit="block", leave=False)
    as_bytes = (to_uint8((b.detach().double().numpy() - lo) / span) for b in blocks)
    if png:
        write_png_rows(out, h, w, c, (b[..., 0] if c == 1 else b for b in as_bytes))
    else:
        write_image(out, np.concatenate(list(as_bytes)))


def _render_wav(field, args, clip_rate: float | None, what: str | None = None) -> int:
    """Sample a 1-D field at ``args.rate`` (default ``clip_rate``) from its start to its end; write a WAV."""
    import torch

    from ._files import check_writable
    from .audioio import write_wav
    from .fields.base import DEFAULT_CHUNK_SIZE, field_dtype_device

    if Path(args.output).suffix.lower() != ".wav":
        raise ValueError(f"output: an audio field renders to a .wav file, got {args.output!r}")
    if args.size is not None:
        raise ValueError("--size is for images; an audio field takes --rate HZ")
    rate = args.rate or clip_rate
    if rate is None:
        raise ValueError("the file does not record a sample rate; pass --rate HZ")
    check_writable(args.output)
    lo, hi = field.domain.bounds[0]
    m = int(math.floor((hi - lo) * rate + 1e-9)) + 1  # t = lo + j / rate up to the clip's end
    t = lo + torch.arange(m, dtype=torch.float64) / rate
    dtype = field_dtype_device(field)[0]
    with torch.no_grad():
        wave = torch.cat([field(c.to(dtype)[:, None]) for c in t.split(DEFAULT_CHUNK_SIZE)]).double().numpy()
    write_wav(args.output, wave[:, 0] if wave.shape[1] == 1 else wave, rate)
    print(f"{what or 'rendered'} {args.field} at {rate:g} Hz ({m} samples, {m / rate:.2f} s) -> {args.output}")
    return 0


def _cmd_render(args) -> int:
    from .fields.io import load, read_header

    field = load(args.field)  # checks the whole file first
    if field.in_features == 1:
        return _render_wav(field, args, getattr(field, "sample_rate", None))
    if args.rate is not None:
        raise ValueError("--rate is for audio fields; an image takes --size H W")
    header = read_header(args.field)
    size = args.size or (header.get("metadata") or {}).get("shape") or field.provenance.grid_shape
    if not size:
        raise ValueError("the file does not record an image size; pass --size H W")
    lo, hi = value_range(field, header)
    _write_field_image(field, size, args.output, lo, hi, args)
    print(f"rendered {args.field} at {size[0]}x{size[1]} -> {args.output}")
    return 0


# --------------------------------------------------------------------------- info


def _cmd_info(args) -> int:
    from .fields.io import load, verify
    from .fields.provenance import Provenance

    h = verify(args.field)  # the whole file: a corrupt or truncated one is an error, not a description
    if args.json:
        h = {k: v for k, v in h.items() if k != "tensors"} | {"tensors": len(h["tensors"])}
        print(json.dumps(h, indent=2, sort_keys=True))
        return 0
    field = load(args.field)
    cfg = ", ".join(f"{k}={v}" for k, v in field.config().items())
    lines = [
        f"file          {args.field}",
        f"format        insp-field v{h['format_version']} (insp {h.get('insp_version')}, "
        f"torch {h.get('torch_version')}); checksum ok ({h['verified']})",
    ]
    if h["architecture"] == "windowed":  # an audio clip: windows of one small network each
        member = h["member"]
        lines += [
            f"architecture  windowed: {len(field.members)} x {member['architecture']} "
            f"({member.get('init_variant')} init)",
            f"windows       {cfg}",
            f"member        {', '.join(f'{k}={v}' for k, v in member['config'].items())}",
            f"domain        {list(field.domain.bounds)} seconds",
        ]
    else:
        affine = field.value_affine
        lines += [
            f"architecture  {field.architecture} ({h.get('init_variant')} init)",
            f"config        {cfg}",
            f"domain        {list(field.domain.bounds)}",
            f"values        network * {affine.scale.tolist()} + {affine.shift.tolist()}",
        ]
    lines += [
        f"channels      {field.in_features}-D -> {field.out_features}",
        f"parameters    {sum(p.numel() for p in field.parameters())} ({h.get('dtype')})",
    ]
    lines += (field.provenance if isinstance(field.provenance, Provenance) else Provenance()).describe()
    for k, v in (h.get("metadata") or {}).items():
        lines.append(f"{k:<13} {v}")
    print("\n".join(lines))
    return 0


# --------------------------------------------------------------------------- apply, restore, edges, blend

#: ``insp apply`` operators: name -> (how to build it from a field and the arguments, value range of the picture:
#: "input" maps the input's range to black..white, "result" the result's own (derivatives are not in [0, 1]))
def _op_table():
    from . import ops
    from .learned import pretrained as P

    def blur(field, args):
        return ops.gaussian_blur(field, sigma=_sigma(field, args))

    return {
        "gaussian-blur": (blur, "input"),
        "laplacian": (lambda f, a: ops.laplacian(f), "result"),
        "gradient-magnitude": (lambda f, a: ops.gradient_magnitude(f), "result"),
        "sharpen": (lambda f, a: ops.sharpen(f, amount=a.amount), "input"),
        "denoise": (lambda f, a: P.denoise(f), "input"),
        "deblur": (lambda f, a: P.deblur(f), "input"),
        "blur": (lambda f, a: P.blur(f), "input"),
        "inpaint": (lambda f, a: P.inpaint(f), "input"),
        "remove-text": (lambda f, a: P.remove_text(f), "input"),
    }


APPLY_OPERATORS = ("gaussian-blur", "laplacian", "gradient-magnitude", "sharpen", "denoise", "deblur", "blur",
                   "inpaint", "remove-text")
RESTORE_TASKS = ("denoise", "deblur", "blur", "inpaint", "text")


def _grid(field, args, header=None) -> tuple[int, int] | None:
    size = getattr(args, "size", None) or ((header or {}).get("metadata") or {}).get("shape") \
        or field.provenance.grid_shape
    return None if not size else (int(size[0]), int(size[1]))


def _sigma(field, args) -> float:
    if args.sigma is not None:
        return args.sigma
    if args.sigma_px is None:
        raise ValueError("gaussian-blur needs --sigma-px S (pixels of the field's grid) or --sigma S (coordinate "
                         "units)")
    grid = _grid(field, args)
    if grid is None:
        raise ValueError("--sigma-px needs the pixel grid: the file records none; pass --size H W or use --sigma")
    return args.sigma_px * min(field.domain.spacing(grid))


def _result_range(field, grid) -> tuple[list[float], list[float]]:
    """The 0.5-99.5 % range of ``field`` on a probe grid of at most 256 per axis (for derivatives)."""
    import numpy as np

    probe = tuple(min(n, 256) for n in grid)
    v = field.sample(probe).detach().double().numpy().reshape(-1, field.out_features)
    lo, hi = np.percentile(v, 0.5, axis=0), np.percentile(v, 99.5, axis=0)
    return lo.tolist(), hi.tolist()


def _load_or_fit(path, args):
    """A field file, or an image fitted with insp.fit's defaults (``--steps``): ``(field, header or None)``."""
    from .fields.io import MAGIC, load, read_header

    with open(path, "rb") as fh:
        is_field = fh.read(len(MAGIC)) == MAGIC
    if is_field:
        return load(path), read_header(path)
    from .fields.fitting import fit
    from .imageio import read_image

    image = read_image(path)
    field, hist = fit(image, channel_axis=-1 if image.ndim == 3 else None, steps=args.steps, seed=args.seed,
                      progress=_progress(args), data_range=1.0)
    print(f"fitted {path} ({image.shape[1]}x{image.shape[0]}) in {hist.wall_time:.1f} s: PSNR {hist.final_psnr:.2f} dB")
    return field, None


def _cmd_apply(args) -> int:
    import time

    from ._files import check_writable
    from .fields.io import SUFFIX, load, read_header, save

    out = check_writable(args.output)
    field = load(args.field)
    if field.in_features == 1:
        return _apply_audio(field, args)
    header = read_header(args.field)
    build, scale = _op_table()[args.operator]
    t = time.perf_counter()
    result = build(field, args)
    grid = _grid(field, args, header)
    if grid is None:
        raise ValueError("the file does not record an image size; pass --size H W")
    if out.suffix == SUFFIX:
        from .fields.fitting import distill

        copy, report = distill(result, grid, steps=args.distill_steps, progress=_progress(args))
        save(copy, out, metadata=dict((header.get("metadata") or {}), operator=args.operator))
        print(f"{args.operator} of {args.field}, {report} -> {out}")
        return 0
    lo, hi = value_range(field, header) if scale == "input" else _result_range(result, grid)
    _write_field_image(result, grid, out, lo, hi, args)
    print(f"{args.operator} of {args.field} rendered at {grid[0]}x{grid[1]} in {time.perf_counter() - t:.1f} s "
          f"(values {_fmt_range(lo, hi)} -> black..white) -> {out}")
    return 0


#: ``insp apply`` operators that take a 1-D audio field (the others are image operators or pretrained on images)
AUDIO_APPLY_OPERATORS = ("gaussian-blur", "denoise")


def _apply_audio(field, args) -> int:
    """An operator on an audio field, written as a WAV clip at the clip's rate (``--rate``: another)."""
    from . import ops

    if args.operator not in AUDIO_APPLY_OPERATORS:
        raise ValueError(f"operator {args.operator!r} works on images; an audio field takes "
                         f"{', '.join(AUDIO_APPLY_OPERATORS)}")
    if args.operator == "denoise":  # the shipped audio denoiser (insp.learned.audio), noise level measured
        from .learned.audio import denoise_audio

        result = denoise_audio(field)
        levels = ", ".join(f"{v:.3g}" for v in result.noise_sigma.tolist())
        return _render_wav(result, args, field.sample_rate, what=f"denoise (noise sigma {levels}) of")
    if args.sigma is None and args.sigma_px is None:
        raise ValueError("gaussian-blur needs --sigma-px S (samples of the clip) or --sigma S (seconds)")
    sigma = args.sigma if args.sigma is not None else args.sigma_px / field.sample_rate
    return _render_wav(ops.gaussian_blur(field, sigma=sigma), args, field.sample_rate,
                       what=f"gaussian-blur (sigma {sigma:.3g} s) of")


def _fmt_range(lo, hi) -> str:
    return ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in zip(lo, hi))


def _cmd_restore(args) -> int:
    import time

    import numpy as np

    from ._files import check_writable
    from .imageio import read_image
    from .learned import fit_for_operator
    from .learned import pretrained as P
    from .metrics import psnr

    out = check_writable(args.output)
    image = read_image(args.image)
    reference = read_image(args.reference) if args.reference else None
    if reference is not None and reference.shape != image.shape:
        raise ValueError(f"--reference has shape {reference.shape}, the image {image.shape}")
    t = time.perf_counter()
    field, hist = fit_for_operator(args.task, image, steps=args.steps, seed=args.seed, progress=_progress(args))
    t_fit = time.perf_counter() - t
    op = {"denoise": P.denoise, "deblur": P.deblur, "blur": P.blur, "inpaint": P.inpaint,
          "text": P.remove_text}[args.task]
    t = time.perf_counter()
    result = op(field)
    c = field.out_features
    _write_field_image(result, image.shape[:2], out, [0.0] * c, [1.0] * c, args)
    t_op = time.perf_counter() - t
    line = (f"{args.task}: fitted {image.shape[1]}x{image.shape[0]} in {t_fit:.1f} s ({hist.steps} steps, "
            f"PSNR {hist.final_psnr:.2f} dB to the input), operator and render {t_op:.1f} s -> {out}")
    if reference is not None:
        restored = read_image(out)
        line += (f"\nPSNR to --reference: input {psnr(np.clip(image, 0, 1), reference, data_range=1.0):.2f} dB, "
                 f"restored {psnr(restored, reference, data_range=1.0):.2f} dB")
    print(line)
    return 0


def _cmd_edges(args) -> int:
    import numpy as np

    from ._files import check_writable
    from .imageio import write_image
    from .ops import edges

    out = check_writable(args.output)
    field, header = _load_or_fit(args.input, args)
    grid = _grid(field, args, header)
    if grid is None:
        raise ValueError("the file does not record an image size; pass --size H W")
    if (args.low is None) != (args.high is None):
        raise ValueError("give both --low and --high (gradient magnitudes in pixel units), or neither")
    mask = edges(field, grid, low_threshold=args.low, high_threshold=args.high)
    write_image(out, mask.astype(np.uint8) * 255)
    print(f"edges of {args.input} at {grid[0]}x{grid[1]}: {int(mask.sum())} edge pixels -> {out}")
    return 0


def _cmd_blend(args) -> int:
    import time

    from ._files import check_writable
    from .imageio import read_image
    from .ops import poisson_blend

    out = check_writable(args.output)
    source, target, mask = (read_image(p) for p in (args.source, args.target, args.mask))
    if mask.ndim == 3:
        mask = mask.mean(axis=-1)
    if source.ndim != target.ndim:
        raise ValueError(f"source and target must both be gray or both RGB, got shapes {source.shape} and "
                         f"{target.shape}")
    t = time.perf_counter()
    result = poisson_blend(source, target, mask > 0.5, offset=tuple(args.offset), mode=args.mode,
                           fit_steps=args.steps, seed=args.seed, progress=_progress(args))
    c = result.out_features
    _write_field_image(result, target.shape[:2], out, [0.0] * c, [1.0] * c, args)
    print(f"blended {args.source} into {args.target} ({args.mode}, offset {tuple(args.offset)}) in "
          f"{time.perf_counter() - t:.1f} s -> {out}")
    return 0


# --------------------------------------------------------------------------- demo


def _cmd_demo(args) -> int:
    from .demo import check_output_dir, run_demo

    check_output_dir(args.out, force=args.force)
    return run_demo(args.out, quick=args.quick, seed=args.seed, progress=_progress(args))


# --------------------------------------------------------------------------- fit-dataset


def _cmd_fit_dataset(args) -> int:
    import numpy as np

    from .datasets import fit_dataset

    signals = np.load(args.signals, allow_pickle=False)
    labels = None if args.labels is None else np.load(args.labels, allow_pickle=False)
    ds = fit_dataset(signals, labels=labels, path=args.output, steps=args.steps, lr=args.lr,
                     hidden_features=args.hidden_features, hidden_layers=args.hidden_layers,
                     shared_init=args.shared_init, shard_size=args.shard_size, seed=args.seed,
                     cluster=args.cluster, channel_axis=None, progress=_progress(args))
    psnr = ds.fit_psnr
    print(f"{len(ds)} INRs in {ds.num_shards} shards -> {args.output}: fit PSNR mean {psnr.mean():.2f} dB, "
          f"min {psnr.min():.2f} dB")
    return 0


# --------------------------------------------------------------------------- entry point

COMMANDS = {"fit": _cmd_fit, "render": _cmd_render, "info": _cmd_info, "apply": _cmd_apply, "restore": _cmd_restore,
            "edges": _cmd_edges, "blend": _cmd_blend, "demo": _cmd_demo, "fit-dataset": _cmd_fit_dataset}


def _is_user_error(exc: BaseException) -> bool:
    """Errors of the input or the machine (reported in one line), not bugs (which keep their traceback)."""
    if isinstance(exc, (ValueError, TypeError, OSError, FloatingPointError, MemoryError, ImportError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("allocate" in text or "out of memory" in text)


def main(argv=None) -> int:
    """Entry point of the ``insp`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"insp {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        message = str(exc) or type(exc).__name__
        if isinstance(exc, MemoryError) or isinstance(exc, RuntimeError):
            message = f"not enough memory ({message.splitlines()[0]}); try a smaller size or --chunk-size"
        print(f"insp {args.command}: error: {message.splitlines()[0] if message else message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
