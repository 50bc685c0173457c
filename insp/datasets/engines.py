"""Where the shards of :func:`~insp.datasets.fit_dataset` run: this process, or a Dask cluster.

:func:`run_shards` yields ``(task, record)`` as shards finish; the caller
records them in the index.  Two engines:

* in-process (``cluster=None``, the default): the shards one after another,
  nothing to start;
* Dask distributed (``cluster="tcp://host:port"`` or a
  ``distributed.Client``): one task per shard, submitted with a key derived
  from the recipe digest and the shard number (two drivers on one cluster
  share a task instead of fitting it twice) and ``retries``; when a worker
  dies, the scheduler reschedules its tasks on the others (Dask's
  ``allowed-failures``, 3 by default, bounds how often one task may be on a
  dying worker).

Why Dask and not Ray (measured with ``python -m benchmarks.dataset_fit
--engines`` on this project's 2-core machine; figures in
``docs/datasets.md``): a Dask ``LocalCluster`` of two worker processes is
ready in about a second and a half and the package is pure Python (a few MB);
Ray's local start (GCS, raylet, dashboard processes) takes several times
longer on two cores and its wheel is two orders of magnitude larger.  The
shard tasks are coarse (seconds each), so the schedulers' per-task overheads
do not matter; start-up and footprint do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

__all__ = ["run_shards", "dask_client"]


def dask_client(cluster):
    """A ``distributed.Client`` for ``cluster`` (an address or a client), and whether we opened it."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - the optional group is installed by the Makefile
        raise ImportError("cluster= needs Dask distributed; install insp[distributed] "
                          "(pip install 'dask[distributed]')") from None
    if isinstance(cluster, distributed.Client):
        return cluster, False
    if isinstance(cluster, str):
        return distributed.Client(cluster, timeout=30), True
    raise TypeError(f"cluster must be None, a Dask scheduler address (str) or a distributed.Client, "
                    f"got {type(cluster).__name__}")


def run_shards(fn: Callable, tasks: list, *, cluster=None, retries: int = 3) -> Iterator[tuple[object, dict]]:
    """Run ``fn(task)`` for each of ``tasks``; yield ``(task, record)`` in order of completion (module notes).

    ``fn`` must be importable by the workers (a module-level function) and each
    task must carry ``digest`` and ``shard`` (the task key).
    """
    if not tasks:
        return
    if cluster is None:
        for task in tasks:
            yield task, fn(task)
        return
    from distributed import as_completed

    client, owned = dask_client(cluster)
    try:
        futures = {}
        for task in tasks:
            fut = client.submit(fn, task, key=f"insp-shard-{task.digest[:16]}-{task.shard}",
                                retries=retries, pure=False)
            futures[fut.key] = (fut, task)
        for fut in as_completed([f for f, _ in futures.values()]):
            yield futures[fut.key][1], fut.result()
    finally:
        if owned:
            client.close()
