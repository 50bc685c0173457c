"""``fit_dataset``: fit N same-shaped signals into a resumable store of INRs, in-process or on a cluster.

The set is cut into shards of ``shard_size`` consecutive signals; one shard is
one :func:`~insp.fields.fitting.fit_many` call (all its INRs trained in one
batched loop) and one file of the store (:mod:`insp.datasets.store`).  The
process that calls :func:`fit_dataset` owns the index: it submits the shards
not yet done, and records each one in the index (an atomic rewrite) when its
file is complete.  So:

* **resumable**: a killed run loses at most the shards in flight; calling
  :func:`fit_dataset` again with the same recipe fits only what is missing.  A
  shard whose file was written but not yet indexed is recognised by its
  metadata (recipe digest and range) and adopted without refitting; a shard
  whose file no longer matches its recorded SHA-256 is refitted (with a
  warning), never read as data.
* **one recipe, one set**: the recipe (architecture and its configuration,
  initialisation, optimiser settings, seeds, shard size, signal shape and a
  digest of the signals and labels) is stored with its digest; resuming with a
  different recipe raises instead of mixing two sets.  INR ``i`` is seeded
  with ``seed + i`` (its initialisation and mini-batch order), so the same
  recipe gives the same set, bit for bit on the same thread count.
* **scale-out** (:mod:`insp.datasets.engines`): with ``cluster=`` (a Dask
  scheduler address or a ``distributed.Client``) the shards run as Dask tasks
  on the cluster's workers, which must see the store's directory (one machine,
  or a shared file system).  A task on a worker that dies is rescheduled by
  the scheduler; a task that raises is retried ``retries`` times.  A shard is
  never written twice: a task first looks for a complete file of its shard and
  returns it instead of refitting, and a shard is written in one atomic rename.
"""

from __future__ import annotations

import copy
import hashlib
import os
import socket
import time
import warnings
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import check_int, check_seed
from ..fields.fitting.fitters import DEFAULTS, FULL_BATCH, _options, fit_many
from ..fields.fitting.loop import progress_bar
from ..fields.fitting.signal import CHANNEL_AXIS_AUTO, check_finite, prepare_signal, split_signals
from ..fields.inr import ARCHITECTURES, NeuralField, Siren
from . import store as st
from .engines import run_shards

__all__ = ["fit_dataset", "ShardTask", "fit_shard", "DEFAULT_SHARD_SIZE"]

#: INRs per shard (one fit_many batch, one file) when not given
DEFAULT_SHARD_SIZE = 64


@dataclass
class ShardTask:
    """Everything a worker needs to fit shard ``shard`` and write it into the store at ``root``."""

    root: str
    digest: str
    shard: int
    start: int
    stop: int
    signals: np.ndarray  # (n, *signal_shape) float64
    labels: np.ndarray | None  # (n,) int64
    recipe: dict
    init_state: dict[str, torch.Tensor] | None = dc_field(default=None, repr=False)

    @property
    def keys(self) -> list[str]:
        return ["fit_psnr", "index"] + (["label"] if self.labels is not None else [])


def _models(task: ShardTask) -> list[NeuralField]:
    r = task.recipe
    cls = ARCHITECTURES[r["architecture"]]
    dtype = getattr(torch, r["dtype"])
    if task.init_state is not None:  # shared initialisation: every member starts from the template
        template = cls(**r["config"], dtype=dtype)
        template.load_state_dict(task.init_state)
        return [copy.deepcopy(template) for _ in range(task.stop - task.start)]
    return [cls(**r["config"], seed=r["seed"] + i, dtype=dtype) for i in range(task.start, task.stop)]


def fit_shard(task: ShardTask) -> dict:
    """Fit and write one shard (or adopt a complete file of it); returns its index record.

    Runs in the calling process or on a cluster worker; it touches only its own
    shard's file and appends one line to the store's log.
    """
    t0 = time.perf_counter()
    who = dict(shard=task.shard, pid=os.getpid(), host=socket.gethostname())
    found = st.probe_shard(Path(task.root), digest=task.digest, shard=task.shard, start=task.start,
                           stop=task.stop, keys=task.keys)
    if found is not None:
        st.append_log(Path(task.root), dict(who, event="adopted", time=time.time()))
        return dict(found, adopted=True)
    r = task.recipe
    models = _models(task)
    fields, history = fit_many(task.signals, model=models, steps=r["steps"], lr=r["lr"],
                               batch_size=r["batch_size"], seed=list(range(r["seed"] + task.start,
                                                                           r["seed"] + task.stop)),
                               final_lr_ratio=r["final_lr_ratio"], warmup_steps=r["warmup_steps"],
                               data_range=r["data_range"], channel_axis=r["channel_axis"], progress=False)
    states = [f.state_dict() for f in fields]
    tensors = {name: torch.stack([s[name].detach() for s in states]) for name in states[0]}
    tensors["fit_psnr"] = torch.tensor(history.member_psnr, dtype=torch.float64)
    tensors["index"] = torch.arange(task.start, task.stop, dtype=torch.int64)
    if task.labels is not None:
        tensors["label"] = torch.as_tensor(task.labels, dtype=torch.int64)
    rec = st.write_shard(Path(task.root), tensors, digest=task.digest, shard=task.shard, start=task.start,
                         stop=task.stop)
    seconds = time.perf_counter() - t0
    st.append_log(Path(task.root), dict(who, event="written", seconds=seconds, time=time.time()))
    return dict(rec, adopted=False, seconds=seconds, mean_psnr=float(np.mean(history.member_psnr)))


# --------------------------------------------------------------------------- reading the inputs


def _read_signals(signals, channel_axis) -> tuple[np.ndarray, Any]:
    items = split_signals(signals)
    out, spec = [], None
    for i, s in enumerate(items):
        v, sp = prepare_signal(s, channel_axis=channel_axis, name=f"signals[{i}]")
        check_finite(v, f"signals[{i}]")
        spec = sp if spec is None else spec
        out.append(np.asarray(s, dtype=np.float64) if not isinstance(s, torch.Tensor)
                   else s.detach().cpu().to(torch.float64).numpy())
    return np.ascontiguousarray(np.stack(out)), spec


def _read_labels(labels, count: int) -> np.ndarray | None:
    if labels is None:
        return None
    arr = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be one label per signal (shape ({count},)), got shape {arr.shape}")
    if len(arr) != count:
        raise ValueError(f"labels has {len(arr)} entries but there are {count} signals; give one label per signal")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"labels must be integers (class indices), got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _template(model, hidden_features, hidden_layers, spec, dtype) -> NeuralField:
    if model is None:
        hf = DEFAULTS["hidden_features"] if hidden_features is None else check_int(hidden_features, "hidden_features")
        hl = DEFAULTS["hidden_layers"] if hidden_layers is None else check_int(hidden_layers, "hidden_layers",
                                                                               minimum=0)
        return Siren(spec.dim, spec.channels, hidden_features=hf, hidden_layers=hl,
                     first_omega_0=DEFAULTS["first_omega_0"], hidden_omega_0=DEFAULTS["hidden_omega_0"], seed=0,
                     dtype=dtype)
    if hidden_features is not None or hidden_layers is not None:
        raise ValueError("hidden_features and hidden_layers size the default SIREN; with model= given, size the "
                         "model itself")
    if not isinstance(model, NeuralField) or not model.architecture:
        raise TypeError(f"model must be an insp NeuralField (Siren, FourierFeatureMLP, ...), got "
                        f"{type(model).__name__}")
    if model.in_features != spec.dim or model.out_features != spec.channels:
        raise ValueError(f"model maps {model.in_features}-D coordinates to {model.out_features} channels but the "
                         f"signals have {spec.dim} spatial axes and {spec.channels} channels")
    if not model.domain == type(model.domain).cube(spec.dim):
        raise ValueError("fit_dataset fits on the default domain [-1, 1]^d; model.domain differs")
    return model


def _recipe_diff(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new))
    diffs = [k for k in keys if old.get(k) != new.get(k)]

    def short(v):
        text = repr(v)
        return text if len(text) <= 40 else text[:37] + "..."

    return ", ".join(f"{k}: stored {short(old.get(k))}, given {short(new.get(k))}" for k in diffs)


# --------------------------------------------------------------------------- fit_dataset


def fit_dataset(signals, *, labels=None, path, model: NeuralField | None = None, hidden_features: int | None = None,
                hidden_layers: int | None = None, shared_init: bool = False, steps: int | None = None,
                lr: float | None = None, batch_size: int | str | None = None, seed: int = 0,
                shard_size: int = DEFAULT_SHARD_SIZE, data_range: float | None = None,
                final_lr_ratio: float | None = None, warmup_steps: int | None = None, channel_axis=CHANNEL_AXIS_AUTO,
                dtype=None, cluster=None, retries: int = 3, progress: bool = True) -> st.INRDataset:
    """Fit one INR to each of N same-shaped signals and store them all; returns the opened store.

    Parameters
    ----------
    signals : array ``(N, *signal_shape)`` or a sequence of N arrays
        Read as by :func:`~insp.fields.fitting.fit_many` (``channel_axis``
        refers to one signal's axes); every sample must be finite.
    labels : sequence of N ints, optional
        Stored with the INRs (``store.labels``).
    path : str or Path
        The store's directory.  Created if missing; if it holds a store of the
        same recipe, the fit resumes (only missing or corrupt shards are
        fitted); a store of another recipe raises ``ValueError``.
    model : NeuralField, optional
        Template of the architecture (its ``architecture`` and ``config()``);
        default a SIREN with ``hidden_features`` x ``hidden_layers`` (default
        sizes from :data:`~insp.fields.fitting.DEFAULTS`).
    shared_init : bool
        ``False`` (default): INR ``i`` is initialised with seed ``seed + i``.
        ``True``: every INR starts from the same weights, the template's (the
        default template is seeded with 0), as meta-learned or functa-style
        sets do, which aligns the INRs' hidden units for weight-space learning.
    steps, lr, batch_size, final_lr_ratio, warmup_steps, data_range
        As in :func:`~insp.fields.fitting.fit_many`.
    seed : int
        INR ``i`` uses ``seed + i`` (initialisation unless ``shared_init``, and
        mini-batch order).
    shard_size : int
        INRs per shard: one ``fit_many`` batch, one file, one unit of work.
    dtype
        Of the INRs (default torch's default dtype).
    cluster : None, str or distributed.Client
        ``None`` (default): shards run one after another in this process.  A
        Dask scheduler address (``"tcp://host:8786"``) or a client: shards run
        as tasks on its workers (see :mod:`insp.datasets.engines`).
    retries : int
        Retries of a shard task that raises (on a cluster).
    progress : bool
        One progress bar over the whole set (INRs done / N).

    Returns
    -------
    INRDataset

    Examples
    --------
    >>> import numpy as np, tempfile, insp
    >>> rng = np.random.default_rng(0)
    >>> x = np.linspace(-1, 1, 8)
    >>> signals = [np.sin(a * x[:, None] + b * x[None, :]) for a, b in rng.uniform(1, 3, (6, 2))]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ds = insp.datasets.fit_dataset(signals, labels=[0, 0, 0, 1, 1, 1], path=d + "/set", steps=30,
    ...                                    lr=1e-2, hidden_features=16, hidden_layers=1, shard_size=4,
    ...                                    progress=False)
    ...     # the same recipe again: every shard is done, nothing is fitted
    ...     again = insp.datasets.fit_dataset(signals, labels=[0, 0, 0, 1, 1, 1], path=d + "/set", steps=30,
    ...                                       lr=1e-2, hidden_features=16, hidden_layers=1, shard_size=4,
    ...                                       progress=False)
    ...     field = ds[5]                                  # a Siren, rebuilt from its shard
    ...     len(ds), bool(ds.fit_psnr.min() > 25), tuple(field.sample((8, 8)).shape), again.index == ds.index
    (6, True, (8, 8, 1), True)
    """
    arr, spec = _read_signals(signals, channel_axis)
    count = len(arr)
    lab = _read_labels(labels, count)
    shard_size = check_int(shard_size, "shard_size")
    retries = check_int(retries, "retries", minimum=0)
    seed = check_seed(seed)
    if not isinstance(shared_init, bool):
        raise TypeError(f"shared_init must be True or False, got {shared_init!r}")
    dtype = dtype or torch.get_default_dtype()
    template = _template(model, hidden_features, hidden_layers, spec, dtype)
    opts = _options(steps, lr, batch_size, None, None, final_lr_ratio, warmup_steps)
    init_state = None
    if shared_init:
        init_state = {k: v.detach().to(dtype).clone() for k, v in template.state_dict().items()}
    recipe = dict(
        architecture=template.architecture, config=template.config(), shared_init=shared_init,
        init_digest=None if init_state is None else _digest(*(v.numpy() for v in init_state.values())),
        steps=opts.steps, lr=opts.lr, batch_size=FULL_BATCH if opts.batch_size is None else opts.batch_size,
        final_lr_ratio=opts.final_lr_ratio, warmup_steps=opts.warmup_steps, seed=seed,
        data_range=None if data_range is None else float(data_range),
        channel_axis=channel_axis, dtype=str(dtype).removeprefix("torch."),
        signal_shape=list(arr.shape[1:]), count=count, shard_size=shard_size, labelled=lab is not None,
        signals_digest=_digest(arr), labels_digest=_digest(lab))
    root = Path(os.fspath(path))
    index = _open_or_create(root, recipe, count, shard_size, init_state)
    digest = index["digest"]
    n_shards = st.num_shards(count, shard_size)
    pending = []
    for k in range(n_shards):
        if str(k) in index["shards"]:
            continue
        start, stop = st.shard_range(k, count, shard_size)
        pending.append(_task(root, digest, k, start, stop, arr, lab, recipe, init_state))
    done = count - sum(t.stop - t.start for t in pending)
    bar = progress_bar(count, progress, "fit_dataset", initial=done)
    if bar is not None:
        bar.unit = "INR"
    try:
        for task, rec in run_shards(fit_shard, pending, cluster=cluster, retries=retries):
            index["shards"][str(task.shard)] = {k: rec[k] for k in ("file", "start", "stop", "sha256", "bytes")}
            st.write_index(root, index)
            if bar is not None:
                bar.update(task.stop - task.start)
    finally:
        if bar is not None:
            bar.close()
    return st.INRDataset(root)


def _task(root, digest, k, start, stop, arr, lab, recipe, init_state) -> ShardTask:
    return ShardTask(root=str(root), digest=digest, shard=k, start=start, stop=stop, signals=arr[start:stop],
                     labels=None if lab is None else lab[start:stop], recipe=recipe, init_state=init_state)


def _open_or_create(root: Path, recipe: dict, count: int, shard_size: int, init_state) -> dict:
    """The store's index: an existing one of the same recipe (corrupt shards dropped) or a new one."""
    if (root / st.INDEX).exists():
        index = st.read_index(root)
        if index["recipe"] != recipe:
            raise ValueError(f"path {str(root)!r} holds a store of another recipe ({_recipe_diff(index['recipe'], recipe)}); "
                             "give another path, or the same signals, labels and settings to resume it")
        for k, rec in list(index["shards"].items()):
            file = root / rec["file"]
            if not file.is_file() or st.file_digest(file) != rec["sha256"]:
                warnings.warn(f"shard {k} of store {str(root)!r} is missing or does not match its checksum; "
                              "refitting it", RuntimeWarning, stacklevel=3)
                del index["shards"][k]
                file.unlink(missing_ok=True)  # never adopted again
        return index
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"path {str(root)!r} exists and is not an INR store; give a new or empty directory")
    (root / st.SHARDS).mkdir(parents=True, exist_ok=True)
    index = st.new_index(recipe, count, shard_size)
    st.write_index(root, index)
    return index
