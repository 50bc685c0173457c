"""Fitting a dataset of INRs: throughput in-process and on a local cluster, and Dask against Ray at start-up.

1. ``--parts engines``: seconds until a local cluster of 2 worker processes
   is ready, until each worker has run a first task that imports torch and
   insp (what every shard task needs), and to shut it down, for Dask
   distributed (``LocalCluster``) and Ray (``ray.init``; only when ray is
   installed -- it is not a dependency of insp).  Three repeats each,
   alternating, median and range printed.
2. ``--parts throughput``: INRs per second on MNIST-5k digits with the
   recipe of ``benchmarks/classification.py`` (2-32-32-1 SIREN, 100 full-batch
   steps, shared initialisation): ``insp.fit`` one by one (on the first 32
   images), ``fit_dataset`` in this process, and ``fit_dataset`` on a Dask
   ``LocalCluster`` of 2 workers x 1 thread (workers warmed up first; the
   cluster's start-up is part 1).  The per-shard seconds from the store's log
   give the spread.  The load average before and after is printed: these
   two cores are shared.

Usage::

    python -m benchmarks.dataset_fit                    # both parts, ~5 min
    python -m benchmarks.dataset_fit --parts engines
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from insp.runinfo import load_average, run_metadata

HERE = Path(__file__).resolve().parent


def _warm() -> int:
    """What every shard task needs first: torch and insp imported (returns the torch thread count)."""
    import torch

    import insp.datasets

    return torch.get_num_threads() + 0 * len(insp.datasets.__all__)


def dask_start() -> dict:
    import distributed

    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    ready = time.perf_counter() - t0
    futs = [client.submit(_warm, pure=False, workers=[w]) for w in client.scheduler_info()["workers"]]
    client.gather(futs)
    warm = time.perf_counter() - t0
    t1 = time.perf_counter()
    client.close()
    cluster.close()
    return dict(ready=ready, first_task=warm, shutdown=time.perf_counter() - t1)


def ray_start() -> dict | None:
    try:
        import ray
    except ImportError:
        return None
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ready = time.perf_counter() - t0
    warm = ray.remote(num_cpus=1)(_warm)
    ray.get([warm.remote() for _ in range(2)])
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    ray.shutdown()
    return dict(ready=ready, first_task=first, shutdown=time.perf_counter() - t1)


def engines_part(repeats: int) -> dict:
    runs = dict(dask=[], ray=[])
    for _ in range(repeats):
        runs["dask"].append(dask_start())
        r = ray_start()
        if r is not None:
            runs["ray"].append(r)
    out = {}
    for name, rs in runs.items():
        if not rs:
            out[name] = None
            continue
        out[name] = {k: dict(median=statistics.median(r[k] for r in rs), min=min(r[k] for r in rs),
                             max=max(r[k] for r in rs)) for k in rs[0]}
    return out


def throughput_part(count: int) -> dict:
    import copy

    import torch

    import insp
    from benchmarks.classification import RECIPE
    from insp.datasets import digits, fit_dataset

    torch.set_num_threads(1)
    images, labels = digits.mnist5k()
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(images), count, replace=False))  # every class
    images, labels = images[pick], labels[pick]
    recipe = dict(RECIPE, shard_size=32)
    out = {}
    # one by one
    t0 = time.perf_counter()
    template = insp.Siren(2, 1, hidden_features=recipe["hidden_features"], hidden_layers=recipe["hidden_layers"],
                          seed=0)
    for i in range(32):
        insp.fit(images[i], model=copy.deepcopy(template), steps=recipe["steps"], lr=recipe["lr"], seed=i,
                 progress=False)
    out["fit_one_by_one"] = dict(inrs=32, seconds=time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        ds = fit_dataset(images, labels=labels, path=Path(d) / "local", progress=False, **recipe)
        secs = time.perf_counter() - t0
        shard_secs = [e["seconds"] for e in _log(Path(d) / "local") if e["event"] == "written"]
        out["fit_dataset_in_process"] = dict(inrs=len(ds), seconds=secs, shard_seconds=_spread(shard_secs),
                                             psnr_mean=float(ds.fit_psnr.mean()))
        import distributed

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            client.gather([client.submit(_warm, pure=False, workers=[w]) for w in client.scheduler_info()["workers"]])
            t0 = time.perf_counter()
            dc = fit_dataset(images, labels=labels, path=Path(d) / "cluster", cluster=client, progress=False,
                             **recipe)
            secs = time.perf_counter() - t0
        shard_secs = [e["seconds"] for e in _log(Path(d) / "cluster") if e["event"] == "written"]
        same = all(torch.equal(a, b) for a, b in zip(ds.stacked().values(), dc.stacked().values()))
        out["fit_dataset_dask_2_workers"] = dict(inrs=len(dc), seconds=secs, shard_seconds=_spread(shard_secs),
                                                 identical_to_in_process=same, psnr_mean=float(dc.fit_psnr.mean()))
    for v in out.values():
        v["inrs_per_second"] = v["inrs"] / v["seconds"]
    return out


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()]


def _spread(values) -> dict:
    return dict(median=float(np.median(values)), min=float(np.min(values)), max=float(np.max(values)))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="engines,throughput")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--count", type=int, default=256)
    args = ap.parse_args(argv)
    record = dict(meta=run_metadata(), load_before=load_average())
    if "engines" in args.parts:
        record["engines"] = engines_part(args.repeats)
        for name, r in record["engines"].items():
            if r is None:
                print(f"{name}: not installed")
                continue
            print(f"{name:5s} ready {r['ready']['median']:.2f} s [{r['ready']['min']:.2f}, {r['ready']['max']:.2f}]"
                  f"  first task on both workers {r['first_task']['median']:.2f} s"
                  f"  shutdown {r['shutdown']['median']:.2f} s")
    if "throughput" in args.parts:
        record["throughput"] = throughput_part(args.count)
        base = record["throughput"]["fit_one_by_one"]["inrs_per_second"]
        for name, r in record["throughput"].items():
            print(f"{name:28s} {r['inrs_per_second']:6.2f} INR/s  ({r['inrs']} in {r['seconds']:.1f} s, "
                  f"x{r['inrs_per_second'] / base:.1f} vs one by one)")
    record["load_after"] = load_average()
    print("load average before/after:", record["load_before"], record["load_after"])
    name = HERE / "results" / "dataset_fit.json"
    name.write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {name}")
    return record


if __name__ == "__main__":
    main()
