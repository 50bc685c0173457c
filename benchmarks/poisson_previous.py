"""The previous (random-feature) membrane of ``poisson_blend`` on the issue-22 cases, for docs/poisson.md.

    git worktree add /tmp/oldpoisson 2047664
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.poisson_previous /tmp/oldpoisson

Imports ``insp`` from the old checkout (its ``poisson_blend``), builds the same
exact spline fields as ``benchmarks.poisson``'s mechanism part (the spline
class is loaded from this checkout's file) and prints the PSNR against the
sparse Poisson solve over the region and the image: the three issue cases,
then the first 12 drawn ``replace`` cases with hard masks.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch


def main():
    old = Path(sys.argv[1]).resolve()
    here = Path(__file__).resolve().parents[1]
    torch.set_num_threads(1)
    sys.path.insert(0, str(old))
    for name in [m for m in sys.modules if m == "insp" or m.startswith("insp.")]:
        del sys.modules[name]
    import insp.fields  # noqa: F401  (the old package, so the spline's relative imports resolve there)

    spec = importlib.util.spec_from_file_location("insp.fields._new_transforms", here / "insp/fields/transforms.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from insp.fields import Domain
    from insp.metrics import psnr
    from insp.ops import poisson_blend

    assert str(old) in poisson_blend.__code__.co_filename, "the old poisson_blend was not imported"
    sys.path.insert(1, str(here))
    from benchmarks import poisson as bench
    from benchmarks.poisson_cases import draw_cases, issue_cases

    cases = issue_cases() + [c for c in draw_cases(40) if c.mode == "replace" and not c.tags["soft"]][:12]
    drawn = []
    for case in cases:
        n, h = case.size, 2 / (case.size - 1)
        t = mod.SplineField(case.target, Domain.cube(2))
        hs, ws = case.mask.shape
        s = mod.SplineField(case.source, Domain(((-1.0, -1.0 + (hs - 1) * h), (-1.0, -1.0 + (ws - 1) * h))))
        t0 = time.perf_counter()
        out = poisson_blend(s, t, case.mask, offset=case.offset, shape=(n, n), progress=False)
        with torch.no_grad():
            got = out.sample((n, n)).double().numpy()
        dt = time.perf_counter() - t0
        got = got[..., 0] if case.target.ndim == 2 else got
        ref, r = bench.reference(case), case.region()
        pr = psnr(got[r], ref[r])
        if not case.name.startswith("issue"):
            drawn.append(pr)
        print(f"{case.name}: old membrane region {pr:.1f} dB, image {psnr(got, ref):.1f} dB, {dt:.1f} s", flush=True)
    print(f"drawn: min {min(drawn):.1f}, median {np.median(drawn):.1f} dB, {sum(p >= 35 for p in drawn)} of "
          f"{len(drawn)} >= 35 dB")


if __name__ == "__main__":
    main()
