"""Cross-check of benchmarks/derivatives.py: Taylor-path costs measured in ONE process, interleaved.

derivatives.py times each path in its own subprocess (for clean peak-memory
figures); its unit, one forward pass, is then measured in yet another process,
and that unit moved by 10-25 % between runs.  Here the forward pass and the
Laplacian, lap^2 and K = 4 jet share one process and one allocator state, at
three chunk sizes, and the INSP-style export (derivatives.py's contender,
timed on a quarter of the points and scaled by 4, as there: all of it needs
~8 GB) in the same process, so that the speed-up is a ratio of two timings
made side by side.  Setting as in derivatives.py (2-D SIREN 2->256x4->1,
65,536 points, float32, 2 threads); medians of 3.

    .venv/bin/python -m benchmarks.derivatives_inprocess
"""

from __future__ import annotations

import sys
import time

from benchmarks.derivatives import insp_style_features  # the contender, one definition


def median_time(fn, repeats: int = 3) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def main(argv=None) -> int:
    import argparse

    import torch

    import insp
    from insp.jet import jet, laplacian_at

    # no options: the parser gives --help and rejects stray arguments
    argparse.ArgumentParser(prog="python -m benchmarks.derivatives_inprocess",
                            description=__doc__.split("\n\n")[0]).parse_args(argv)
    torch.set_num_threads(2)
    f = insp.Siren(2, 1, hidden_features=256, hidden_layers=3, seed=0)
    for p in f.parameters():
        p.requires_grad_(False)
    x = f.domain.grid((256, 256)).reshape(-1, 2)
    with torch.no_grad():
        fw = median_time(lambda: f(x), 5)
    print("fw", fw)
    for cs in (512, 1024, 2048):
        l1 = median_time(lambda: laplacian_at(f, x, power=1, chunk_size=cs, create_graph=False))
        l2 = median_time(lambda: laplacian_at(f, x, power=2, chunk_size=cs, create_graph=False))
        k4 = median_time(lambda: jet(f, x, order=4, chunk_size=cs, create_graph=False).values, 1)
        print(cs, "lap", round(l1 / fw, 2), "lap2", round(l2 / fw, 2), "K4", round(k4 / fw, 2), flush=True)
    insp_k4 = 4 * median_time(lambda: insp_style_features(f, x[:len(x) // 4], 4), 1)
    k4 = median_time(lambda: jet(f, x, order=4, chunk_size=1024, create_graph=False).values)
    print("insp-style K4", round(insp_k4 / fw, 1), "passes; Taylor K4 (chunk 1024)", round(k4 / fw, 2),
          "passes; speed-up", round(insp_k4 / k4, 2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
