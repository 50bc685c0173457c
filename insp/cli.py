"""The ``insp`` command line.

::

    insp fit IMAGE -o FILE [--steps N] [--lr LR] [--batch-size B] [--seed S] [--time-limit T] [--quiet]
    insp render FILE -o IMAGE [--size H W] [--chunk-size N]
    insp info FILE [--json]
    insp demo [--out DIR] [--quick]

Images are 8/16-bit gray or RGB(A) files read into [0, 1] (alpha dropped);
fitted fields are ``.inspf`` files (see :mod:`insp.fields.io`).  Nothing is
imported beyond argparse until a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main", "build_parser"]


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
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    f.add_argument("--time-limit", type=_positive_float, default=None, metavar="SECONDS",
                   help="stop fitting after this many seconds")
    f.add_argument("--quiet", action="store_true", help="no progress bar")

    r = sub.add_parser("render", help="sample a field file on a grid and write an image",
                       description="Render a 2-D field with 1 or 3 channels at any resolution.")
    r.add_argument("field", metavar="FILE", help="field file written by `insp fit`")
    r.add_argument("-o", "--output", required=True, metavar="IMAGE", help="output image (PNG recommended)")
    r.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=None,
                   help="output size (default: the size of the fitted image)")
    r.add_argument("--chunk-size", type=_positive_int, default=None, help="points evaluated at once")

    i = sub.add_parser("info", help="describe a field file")
    i.add_argument("field", metavar="FILE")
    i.add_argument("--json", action="store_true", help="print the whole header as JSON")

    d = sub.add_parser("demo", help="run the demo: fit camera, render, metrics table")
    d.add_argument("--out", default="out/demo", metavar="DIR", help="output directory (default out/demo)")
    d.add_argument("--quick", action="store_true", help="small and fast (for tests)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _cmd_fit(args) -> int:
    from pathlib import Path

    from .fields.fitting import fit
    from .fields.io import save
    from .imageio import read_image

    image = read_image(args.image)
    rgb = image.ndim == 3
    options = {} if args.batch_size is None else {"batch_size": args.batch_size}  # else the library default
    field, hist = fit(image, channel_axis=-1 if rgb else None, steps=args.steps, lr=args.lr, seed=args.seed,
                      time_limit=args.time_limit, progress=not args.quiet, data_range=1.0, **options)
    meta = dict(source=Path(args.image).name, shape=list(image.shape[:2]), channels=3 if rgb else 1,
                value_range=[0.0, 1.0], fit=dict(steps=hist.steps, psnr_db=round(hist.final_psnr, 3),
                                                 seconds=round(hist.wall_time, 2), seed=args.seed))
    path = save(field, args.output, metadata=meta)
    print(f"fitted {args.image} ({image.shape[1]}x{image.shape[0]}, {'RGB' if rgb else 'gray'}) in "
          f"{hist.wall_time:.1f} s, {hist.steps} steps: PSNR {hist.final_psnr:.2f} dB -> {path}")
    return 0


def _cmd_render(args) -> int:
    import numpy as np

    from .fields.base import DEFAULT_CHUNK_SIZE
    from .fields.io import load, read_header
    from .imageio import write_image

    header = read_header(args.field)
    field = load(args.field)
    if field.in_features != 2 or field.out_features not in (1, 3):
        print(f"insp render: {args.field} holds a {field.in_features}-D field with {field.out_features} channels; "
              "only 2-D fields with 1 or 3 channels render to images", file=sys.stderr)
        return 2
    size = args.size or header.get("metadata", {}).get("shape")
    if not size:
        print("insp render: the file does not record an image size; pass --size H W", file=sys.stderr)
        return 2
    lo, hi = header.get("metadata", {}).get("value_range", [0.0, 1.0])
    values = field.sample(tuple(size), chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE).numpy()
    values = (values.astype(np.float64) - lo) / (hi - lo)
    write_image(args.output, values)
    print(f"rendered {args.field} at {size[0]}x{size[1]} -> {args.output}")
    return 0


def _cmd_info(args) -> int:
    from .fields.io import read_header

    h = read_header(args.field)
    if args.json:
        h = {k: v for k, v in h.items() if k != "tensors"} | {"tensors": len(h["tensors"])}
        print(json.dumps(h, indent=2, sort_keys=True))
        return 0
    cfg = ", ".join(f"{k}={v}" for k, v in h["config"].items())
    vn = h["value_normalisation"]
    lines = [
        f"file          {args.field}",
        f"format        insp-field v{h['format_version']} (insp {h['insp_version']}, torch {h['torch_version']})",
        f"architecture  {h['architecture']} ({h['init_variant']} init)",
        f"config        {cfg}",
        f"domain        {h['domain']['bounds']}",
        f"channels      {h['in_features']}-D -> {h['out_features']}",
        f"values        network * {vn['scale']} + {vn['shift']}",
        f"parameters    {h['parameters']} ({h['dtype']})",
    ]
    for k, v in (h.get("metadata") or {}).items():
        lines.append(f"{k:<13} {v}")
    print("\n".join(lines))
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args.out, quick=args.quick, seed=args.seed, progress=not args.quiet)


def main(argv=None) -> int:
    """Entry point of the ``insp`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler = {"fit": _cmd_fit, "render": _cmd_render, "info": _cmd_info, "demo": _cmd_demo}[args.command]
    try:
        return handler(args)
    except (ValueError, OSError) as exc:  # bad input or file: one clear line, no traceback
        print(f"insp {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
