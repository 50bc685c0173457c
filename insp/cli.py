"""The ``insp`` command line.

::

    insp fit IMAGE -o FILE [--steps N] [--lr LR] [--batch-size B] [--seed S] [--time-limit T] [--quiet]
    insp render FILE -o IMAGE [--size H W] [--chunk-size N] [--force] [--quiet]
    insp info FILE [--json]
    insp demo [--out DIR] [--quick] [--force]
    insp fit-dataset SIGNALS.npy -o DIR [--labels LABELS.npy] [--steps N] [--lr LR] [--hidden-features W]
                     [--hidden-layers L] [--shared-init] [--shard-size S] [--seed S] [--cluster ADDRESS] [--quiet]

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

    f = sub.add_parser("fit", help="fit a SIREN to an image and save it", description=(
        "Fit the default SIREN (see docs/fitting.md) to a gray or RGB image and save it as an .inspf file."))
    f.add_argument("image", metavar="IMAGE", help="gray or RGB(A) image file (PNG, JPEG, TIFF, ...)")
    f.add_argument("-o", "--output", required=True, metavar="FILE", help="output field file (.inspf)")
    f.add_argument("--steps", type=_nonnegative_int, default=None, help="optimiser steps (default: library default)")
    f.add_argument("--lr", type=_positive_float, default=None, help="peak learning rate")
    f.add_argument("--batch-size", type=_positive_int, default=None,
                   help="points per step (default: the library default, see docs/fitting.md)")
    f.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    f.add_argument("--time-limit", type=_positive_float, default=None, metavar="SECONDS",
                   help="stop fitting after this many seconds")
    f.add_argument("--quiet", action="store_true", help="no progress bar")

    r = sub.add_parser("render", help="sample a field file on a grid and write an image",
                       description="Render a 2-D field with 1 or 3 channels at any resolution (PNG: in bounded "
                                   "memory, row by row).")
    r.add_argument("field", metavar="FILE", help="field file written by `insp fit`")
    r.add_argument("-o", "--output", required=True, metavar="IMAGE", help="output image (PNG recommended)")
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


def _render_plan(field, size, args) -> tuple[int, float]:
    """Rows per block and the estimated seconds of the whole render (timed on a probe of the grid)."""
    import math
    import time

    from .fields.base import DEFAULT_CHUNK_SIZE, sample_blocks

    chunk = args.chunk_size or DEFAULT_CHUNK_SIZE
    h, w = size
    rows = max(1, min(h, chunk // w))
    probe_rows = max(1, min(h, 4096 // w))
    t = time.perf_counter()
    next(sample_blocks(field, (h, w), rows=probe_rows, chunk_size=chunk))
    per_point = (time.perf_counter() - t) / (probe_rows * w)
    return rows, per_point * math.prod(size)


def _cmd_render(args) -> int:
    import numpy as np

    from ._files import check_writable
    from .fields.base import DEFAULT_CHUNK_SIZE, sample_blocks
    from .fields.io import load, read_header
    from .imageio import to_uint8, write_image, write_png_rows

    field = load(args.field)  # checks the whole file first
    header = read_header(args.field)
    if field.in_features != 2 or field.out_features not in (1, 3):
        raise ValueError(f"{args.field} holds a {field.in_features}-D field with {field.out_features} channels; "
                         "only 2-D fields with 1 or 3 channels render to images")
    size = args.size or (header.get("metadata") or {}).get("shape") or field.provenance.grid_shape
    if not size:
        raise ValueError("the file does not record an image size; pass --size H W")
    h, w = (int(n) for n in size)
    out = check_writable(args.output)
    png = out.suffix.lower() == ".png"
    c = field.out_features
    rows, seconds = _render_plan(field, (h, w), args)
    held = h * w * c * (1 if png else 2)  # bytes in memory: one block for PNG, the whole image (and a copy) else
    if not args.force:
        if seconds > RENDER_LIMITS["seconds"]:
            raise ValueError(f"rendering {h}x{w} would take about {seconds / 60:.0f} min on this machine "
                             f"(limit {RENDER_LIMITS['seconds']:.0f} s); pass --force to render anyway")
        if not png and held > RENDER_LIMITS["bytes"]:
            raise ValueError(f"a {h}x{w} {out.suffix} image is written whole: about {held / 2**30:.1f} GiB in memory "
                             f"(limit {RENDER_LIMITS['bytes'] / 2**30:.0f} GiB); write a .png (row by row, any size) "
                             "or pass --force")
    lo, hi = (np.asarray(v, dtype=np.float64) for v in value_range(field, header))
    span = np.where(hi > lo, hi - lo, 1.0)
    blocks = sample_blocks(field, (h, w), rows=rows, chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE)
    if _progress(args):
        from tqdm.auto import tqdm

        blocks = tqdm(blocks, total=-(-h // rows), desc="rendering", unit="block", leave=False)
    as_bytes = (to_uint8((b.double().numpy() - lo) / span) for b in blocks)
    if png:
        write_png_rows(out, h, w, c, (b[..., 0] if c == 1 else b for b in as_bytes))
    else:
        write_image(out, np.concatenate(list(as_bytes)))
    print(f"rendered {args.field} at {h}x{w} -> {args.output}")
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
    affine = field.value_affine
    lines = [
        f"file          {args.field}",
        f"format        insp-field v{h['format_version']} (insp {h.get('insp_version')}, "
        f"torch {h.get('torch_version')}); checksum ok ({h['verified']})",
        f"architecture  {field.architecture} ({h.get('init_variant')} init)",
        f"config        {cfg}",
        f"domain        {list(field.domain.bounds)}",
        f"channels      {field.in_features}-D -> {field.out_features}",
        f"values        network * {affine.scale.tolist()} + {affine.shift.tolist()}",
        f"parameters    {sum(p.numel() for p in field.parameters())} ({h.get('dtype')})",
    ]
    lines += (field.provenance if isinstance(field.provenance, Provenance) else Provenance()).describe()
    for k, v in (h.get("metadata") or {}).items():
        lines.append(f"{k:<13} {v}")
    print("\n".join(lines))
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

COMMANDS = {"fit": _cmd_fit, "render": _cmd_render, "info": _cmd_info, "demo": _cmd_demo,
            "fit-dataset": _cmd_fit_dataset}


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
