"""insp.datasets: the store of INRs, fit_dataset (resumable, one recipe per set), the Dask engine.

Sizes are tiny (8x8 signals, 16-wide SIRENs, tens of steps) so the module runs
in seconds, except the cluster test (marked ``cluster``), which starts a local
Dask cluster of two worker processes and kills one mid-run (about 20 s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import insp
from insp.datasets import INRDataset, StoreIncompleteError, fit_dataset, open_dataset
from insp.datasets import store as st
from insp.fields.io import FileFormatError

RECIPE = dict(steps=40, lr=1e-2, hidden_features=16, hidden_layers=1, shard_size=4, progress=False)


def make_signals(n=10, size=8, seed=0):
    """Smooth seeded 2-D signals (plane waves of random frequency and phase)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, size)
    a, b, c = rng.uniform(0.5, 3, (3, n))
    return np.stack([np.sin(a[i] * x[:, None] + b[i] * x[None, :] + c[i]) for i in range(n)])


def labels_of(n):
    return np.arange(n) % 3


def shard_digests(ds: INRDataset) -> dict:
    return {k: rec["sha256"] for k, rec in ds.index["shards"].items()}


def log_events(path) -> list[dict]:
    file = Path(path) / st.LOG
    return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []


# tiny networks: one torch thread is faster (and steadier on a shared machine) than two
pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


@pytest.fixture(scope="module")
def signals():
    return make_signals()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, signals):
    return fit_dataset(signals, labels=labels_of(len(signals)), path=tmp_path_factory.mktemp("ref") / "set", **RECIPE)


# --------------------------------------------------------------------------- the store


def test_store_shape_labels_and_fields(reference, signals):
    ds = reference
    assert len(ds) == 10 and ds.num_shards == 3
    assert ds.labels.tolist() == labels_of(10).tolist()
    assert ds.fit_psnr.shape == (10,)
    f = ds[7]
    assert isinstance(f, insp.Siren) and f.config()["hidden_features"] == 16
    # the recorded PSNR is the PSNR of the stored field on its signal
    y = f.sample((8, 8)).detach().double().squeeze(-1).numpy()
    mse = np.mean((y - signals[7]) ** 2)
    ptp = signals[7].max() - signals[7].min()
    assert abs(10 * np.log10(ptp**2 / mse) - ds.fit_psnr[7]) < 0.05
    assert ds.fit_psnr.min() > 25
    with pytest.raises(IndexError, match="out of range"):
        ds[10]
    with pytest.raises(TypeError, match="integer"):
        ds[1.0]
    assert torch.equal(ds[-1].net[0].weight, ds[9].net[0].weight)


def test_members_equal_fit_many_with_their_seeds(reference, signals):
    """INR i of the set is exactly fit_many's member of seed i (same batch: the shard)."""
    fields, hist = insp.fit_many(signals[4:8], model=[insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=s)
                                                      for s in range(4, 8)], seed=list(range(4, 8)), steps=40,
                                 lr=1e-2, progress=False)
    for j, f in enumerate(fields):
        stored = reference.weights(4 + j)
        for name, t in f.state_dict().items():
            assert torch.equal(stored[name], t), name
    assert np.allclose(reference.fit_psnr[4:8], hist.member_psnr)


def test_same_recipe_same_set(tmp_path, reference, signals):
    again = fit_dataset(signals, labels=labels_of(10), path=tmp_path / "again", **RECIPE)
    assert shard_digests(again) == shard_digests(reference)
    other_seed = fit_dataset(signals[:4], labels=labels_of(4), path=tmp_path / "seed1", seed=1, **RECIPE)
    first = fit_dataset(signals[:4], labels=labels_of(4), path=tmp_path / "first", **RECIPE)
    assert torch.equal(first.flat_weights(), reference.flat_weights()[:4])  # a shard does not depend on the rest
    assert not torch.equal(other_seed.flat_weights(), first.flat_weights())


def test_torch_dataset_view(reference):
    view = reference.torch_dataset()
    assert len(view) == 10
    w, label = view[5]
    n_params = sum(t.numel() for t in reference[5].state_dict().values())
    assert w.shape == (n_params,) and label == 2
    xb, yb = next(iter(torch.utils.data.DataLoader(view, batch_size=4)))
    assert xb.shape == (4, n_params) and yb.tolist() == [0, 1, 2, 0]
    assert torch.equal(reference.flat_weights()[5], w)
    state, _ = reference.torch_dataset(flatten=False)[5]
    assert set(state) == set(reference[5].state_dict())


def test_unlabelled_set(tmp_path, signals):
    ds = fit_dataset(signals[:3], path=tmp_path / "s", steps=5, hidden_features=8, hidden_layers=1, progress=False)
    assert ds.labels is None and ds.torch_dataset()[0][1] == -1


def test_initialisation_per_member_or_shared(tmp_path, signals):
    per = fit_dataset(signals[:3], path=tmp_path / "per", steps=0, hidden_features=8, hidden_layers=1, seed=5,
                      progress=False)
    for i in range(3):
        assert torch.equal(per[i].net[0].weight, insp.Siren(2, 1, hidden_features=8, hidden_layers=1,
                                                            seed=5 + i).net[0].weight)
    shared = fit_dataset(signals[:3], path=tmp_path / "shared", steps=0, hidden_features=8, hidden_layers=1,
                         shared_init=True, progress=False)
    assert torch.equal(shared[0].net[2].weight, shared[2].net[2].weight)
    assert not torch.equal(per[0].net[2].weight, per[2].net[2].weight)
    trained = fit_dataset(signals[:3], path=tmp_path / "shared10", steps=10, hidden_features=8, hidden_layers=1,
                          shared_init=True, progress=False)
    assert not torch.equal(trained[0].net[2].weight, trained[2].net[2].weight)


# --------------------------------------------------------------------------- resuming


def test_resume_after_kill(tmp_path, signals):
    """A run killed (SIGKILL) mid-set continues where it stopped and loses nothing already fitted."""
    path = tmp_path / "killed"
    n, recipe = 24, dict(steps=150, hidden_features=16, hidden_layers=1, shard_size=3)
    script = (f"import numpy as np, insp; from tests.test_datasets import make_signals, labels_of; "
              f"insp.datasets.fit_dataset(make_signals({n}), labels=labels_of({n}), path={str(path)!r}, "
              f"progress=False, **{recipe!r})")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[1],
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            done = len(json.loads((path / st.INDEX).read_text())["shards"]) if (path / st.INDEX).exists() else 0
            if done >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = json.loads((path / st.INDEX).read_text())["shards"]
    assert 2 <= len(before) < 8, "the run must be killed part-way"
    with pytest.raises(StoreIncompleteError, match="not fitted yet"):
        open_dataset(path)
    ds = fit_dataset(make_signals(n), labels=labels_of(n), path=path, progress=False, **recipe)
    assert len(ds.index["shards"]) == 8
    for k, rec in before.items():  # what was done is kept, not refitted
        assert ds.index["shards"][k] == rec
    written = [e["shard"] for e in log_events(path) if e["event"] == "written"]
    assert sorted(written) == sorted(set(written)) and len(set(written)) == 8 - sum(
        e["event"] == "adopted" for e in log_events(path))
    fresh = fit_dataset(make_signals(n), labels=labels_of(n), path=tmp_path / "fresh", progress=False, **recipe)
    assert shard_digests(ds) == shard_digests(fresh)


def test_written_but_unindexed_shard_is_adopted(tmp_path, signals):
    path = tmp_path / "s"
    ds = fit_dataset(signals, labels=labels_of(10), path=path, **RECIPE)
    index = json.loads((path / st.INDEX).read_text())
    rec = index["shards"].pop("1")
    (path / st.INDEX).write_text(json.dumps(index))  # as if killed between the shard's rename and the index update
    again = fit_dataset(signals, labels=labels_of(10), path=path, **RECIPE)
    assert again.index["shards"]["1"] == rec
    assert [e["event"] for e in log_events(path) if e["shard"] == 1] == ["written", "adopted"]
    assert shard_digests(again) == shard_digests(ds)


def test_corrupt_shard_detected_and_refitted(tmp_path, signals):
    path = tmp_path / "s"
    ds = fit_dataset(signals, labels=labels_of(10), path=path, **RECIPE)
    good = shard_digests(ds)
    file = path / ds.index["shards"]["2"]["file"]
    data = bytearray(file.read_bytes())
    data[-3] ^= 0xFF  # one flipped bit in a weight
    file.write_bytes(bytes(data))
    opened = open_dataset(path)
    opened[0]  # other shards still read
    with pytest.raises(FileFormatError, match="checksum"):
        opened[9]
    with pytest.warns(RuntimeWarning, match="shard 2 .* refitting"):
        again = fit_dataset(signals, labels=labels_of(10), path=path, **RECIPE)
    assert shard_digests(again) == good
    file.write_bytes(file.read_bytes()[:100])  # truncated mid-write
    with pytest.raises(FileFormatError, match="checksum"):
        open_dataset(path)[8]


def test_other_recipe_refused(tmp_path, signals):
    path = tmp_path / "s"
    fit_dataset(signals, labels=labels_of(10), path=path, **RECIPE)
    with pytest.raises(ValueError, match="another recipe.*steps: stored 40, given 41"):
        fit_dataset(signals, labels=labels_of(10), path=path, **{**RECIPE, "steps": 41})
    with pytest.raises(ValueError, match="another recipe.*signals_digest"):
        fit_dataset(signals + 1e-9, labels=labels_of(10), path=path, **RECIPE)
    with pytest.raises(ValueError, match="another recipe.*labels_digest"):
        fit_dataset(signals, labels=labels_of(10)[::-1], path=path, **RECIPE)


def test_foreign_newer_and_truncated_index(tmp_path, signals):
    path = tmp_path / "s"
    fit_dataset(signals[:2], path=path, steps=1, hidden_features=8, hidden_layers=1, progress=False)
    index = json.loads((path / st.INDEX).read_text())
    (path / st.INDEX).write_text(json.dumps({**index, "version": st.FORMAT_VERSION + 1}))
    with pytest.raises(FileFormatError, match="newer insp"):
        open_dataset(path)
    (path / st.INDEX).write_text(json.dumps(index)[:50])
    with pytest.raises(FileFormatError, match="not valid JSON"):
        open_dataset(path)
    (path / st.INDEX).write_text(json.dumps({**index, "recipe": {**index["recipe"], "steps": 2}}))
    with pytest.raises(FileFormatError, match="digest"):
        open_dataset(path)
    with pytest.raises(FileNotFoundError, match="not an INR store"):
        open_dataset(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not an INR store"):
        fit_dataset(signals[:2], path=tmp_path / "other", steps=1, progress=False)


def test_bad_inputs(tmp_path, signals):
    kw = dict(path=tmp_path / "s", steps=1, hidden_features=8, hidden_layers=1, progress=False)
    with pytest.raises(ValueError, match=r"same shape; signals\[1\]"):
        fit_dataset([np.zeros((8, 8)), np.zeros((8, 9))], **kw)
    bad = signals.copy()
    bad[3, 2, 2] = np.nan
    with pytest.raises(ValueError, match=r"signals\[3\] contains 1 NaN"):
        fit_dataset(bad, **kw)
    with pytest.raises(ValueError, match="labels has 9 entries but there are 10 signals"):
        fit_dataset(signals, labels=np.arange(9), **kw)
    with pytest.raises(TypeError, match="labels must be integers"):
        fit_dataset(signals, labels=np.zeros(10), **kw)
    with pytest.raises(ValueError, match="shard_size"):
        fit_dataset(signals, shard_size=0, **kw)
    with pytest.raises(ValueError, match="size the model itself"):
        fit_dataset(signals, model=insp.Siren(2, 1, hidden_features=8), **kw)
    with pytest.raises(ValueError, match="3 channels"):
        fit_dataset(signals, model=insp.Siren(2, 3, hidden_features=8), path=tmp_path / "t", progress=False)
    with pytest.raises(TypeError, match="cluster must be"):
        fit_dataset(signals, cluster=3, **kw)
    assert not (tmp_path / "t").exists()


# --------------------------------------------------------------------------- the cluster


@pytest.mark.cluster
def test_local_cluster_survives_a_killed_worker(tmp_path):
    """Dask LocalCluster of 2 worker processes; one is SIGKILLed mid-run; the store is complete and correct.

    Every shard is written once (the log), and the set equals the in-process
    one bit for bit (one torch thread on both sides).
    """
    distributed = pytest.importorskip("distributed", reason="the [distributed] group is installed by the Makefile")
    n, recipe = 16, dict(steps=100, hidden_features=16, hidden_layers=1, shard_size=2, progress=False)
    sig, lab = make_signals(n), labels_of(n)
    local = fit_dataset(sig, labels=lab, path=tmp_path / "local", **recipe)  # one thread (the module's fixture)
    path = tmp_path / "cluster"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_class=distributed.Nanny) as cluster, distributed.Client(cluster) as client:
        result = {}

        def run():
            try:
                result["ds"] = fit_dataset(sig, labels=lab, path=path, cluster=cluster.scheduler_address, **recipe)
            except BaseException as exc:
                result["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        pids = client.run(os.getpid)  # before the wait: the kill must follow the first indexed shard at once
        victim = sorted(pids.values())[0]

        def indexed() -> int:  # a shard counts once the index holds it (its file is written before that)
            try:
                return len(json.loads((path / st.INDEX).read_text())["shards"])
            except (OSError, ValueError, KeyError):
                return 0

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and indexed() < 1:
            time.sleep(0.02)
        done_at_kill = indexed()
        os.kill(victim, signal.SIGKILL)
        worker.join(60)
        assert not worker.is_alive()
    assert "error" not in result, result.get("error")
    assert 1 <= done_at_kill < 8, "the worker must be killed part-way"
    events = log_events(path)
    written = [e["shard"] for e in events if e["event"] == "written"]
    assert len(written) == len(set(written)), "a shard was written twice"
    assert {e["pid"] for e in events} - {victim}, "the surviving or restarted workers finished the set"
    ds = result["ds"]
    assert len(ds.index["shards"]) == 8 and len(ds) == n
    assert shard_digests(ds) == shard_digests(local)
    assert ds.labels.tolist() == lab.tolist()


def test_cli_fit_dataset(tmp_path, signals, capsys):
    from insp.cli import main

    np.save(tmp_path / "s.npy", signals[:5])
    np.save(tmp_path / "l.npy", labels_of(5))
    args = [str(tmp_path / "s.npy"), "-o", str(tmp_path / "set"), "--labels", str(tmp_path / "l.npy"), "--steps",
            "30", "--lr", "0.01", "--hidden-features", "8", "--hidden-layers", "1", "--shard-size", "2", "--quiet"]
    assert main(["fit-dataset", *args]) == 0
    assert "5 INRs in 3 shards" in capsys.readouterr().out
    assert open_dataset(tmp_path / "set").labels.tolist() == labels_of(5).tolist()
    assert main(["fit-dataset", *args[:-2], "3", "--quiet"]) == 1  # another recipe at the same path
    assert "another recipe" in capsys.readouterr().err
