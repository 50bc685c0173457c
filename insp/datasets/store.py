"""A store of many INRs: safetensors shards and one JSON index, read lazily.

Layout of a store (a directory)::

    index.json                  format, version, the recipe and its digest, the shards done
    shards/shard-00000.safetensors
    shards/shard-00001.safetensors
    ...
    log.jsonl                   one line per shard written or adopted (who, when, how long)

Shard ``k`` holds INRs ``k * shard_size`` to ``min((k + 1) * shard_size, count)``
as stacked tensors: every parameter of the INR's ``state_dict`` with a leading
member axis (``net.0.weight`` of shape ``(n, 32, 2)``, ...), ``fit_psnr``
``(n,)`` float64, ``index`` ``(n,)`` int64 (the INR's position in the set)
and, when the set has labels, ``label`` ``(n,)`` int64.  The shard's
safetensors metadata repeats the store format, the recipe digest and the
shard's range, so a shard found without an index entry (a run killed between
the write and the index update) is recognised and adopted, never refitted.

Why safetensors: a maintained format (Hugging Face) made for exactly this,
named tensors in a flat binary file with a JSON header; ``safe_open`` reads one
tensor, or one member of it, without reading the rest, and nothing in a file is
executed (no pickle).  Each shard is one file written atomically
(:func:`insp._files.atomic_write`: temporary file, fsync, rename), so
concurrent writers on different shards never share a file, and a killed writer
leaves either the previous state or the complete shard.  HDF5 (h5py) keeps the
whole set in one file, which a killed writer can leave unreadable and which
several processes cannot write at once without SWMR/MPI; zarr writes chunks
as separate files too but brings a larger stack (numcodecs, async I/O) for
no gain at this size.

The index records each shard's SHA-256; a shard is hashed once when first read
and a mismatch raises :class:`~insp.fields.io.FileFormatError` (it is never
read as data); :func:`~insp.datasets.fit_dataset` refits such a shard on
resume.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._files import atomic_write
from ..fields.inr import ARCHITECTURES, NeuralField
from ..fields.io import FileFormatError

__all__ = ["INRDataset", "open_dataset", "FORMAT", "FORMAT_VERSION", "INDEX", "recipe_digest",
           "StoreIncompleteError"]

FORMAT = "insp-inr-dataset"
FORMAT_VERSION = 1
INDEX = "index.json"
SHARDS = "shards"
LOG = "log.jsonl"
#: tensors of a shard that are not parameters of the INR
EXTRA_KEYS = ("fit_psnr", "index", "label")


class StoreIncompleteError(RuntimeError):
    """The store's shards are not all fitted yet (an interrupted :func:`~insp.datasets.fit_dataset`)."""


def recipe_digest(recipe: dict) -> str:
    """SHA-256 of the recipe's canonical JSON (sorted keys): the identity of a set."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def shard_name(k: int) -> str:
    return f"{SHARDS}/shard-{k:05d}.safetensors"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- the index


def read_index(path: Path) -> dict:
    """The store's index, checked: format, version (a newer one raises and says so), required keys."""
    file = Path(path) / INDEX
    if not file.is_file():
        raise FileNotFoundError(f"{str(path)!r} is not an INR store (no {INDEX}); create it with fit_dataset")
    try:
        index = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"{str(file)!r} is not valid JSON (truncated or corrupt): {exc}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise FileFormatError(f"{str(file)!r} is not the index of an insp INR store (format {FORMAT!r} expected)")
    version = index.get("version")
    if not isinstance(version, int) or version < 1:
        raise FileFormatError(f"{str(file)!r} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise FileFormatError(f"{str(file)!r} was written by a newer insp (store format {version}; this insp reads "
                              f"up to {FORMAT_VERSION}); upgrade insp to read it")
    for key, kind in (("recipe", dict), ("digest", str), ("count", int), ("shard_size", int), ("shards", dict)):
        if not isinstance(index.get(key), kind):
            raise FileFormatError(f"{str(file)!r} lacks a valid {key!r} entry")
    if index["digest"] != recipe_digest(index["recipe"]):
        raise FileFormatError(f"{str(file)!r}: the recipe does not match its digest (edited or corrupt index)")
    return index


def write_index(path: Path, index: dict) -> None:
    atomic_write(Path(path) / INDEX, [json.dumps(index, indent=1, sort_keys=True).encode()])


def new_index(recipe: dict, count: int, shard_size: int) -> dict:
    import insp

    return dict(format=FORMAT, version=FORMAT_VERSION, insp_version=insp.__version__, recipe=recipe,
                digest=recipe_digest(recipe), count=count, shard_size=shard_size, shards={})


def num_shards(count: int, shard_size: int) -> int:
    return -(-count // shard_size)


def shard_range(k: int, count: int, shard_size: int) -> tuple[int, int]:
    return k * shard_size, min((k + 1) * shard_size, count)


def append_log(path: Path, record: dict) -> None:
    """One JSON line in the store's log (``O_APPEND``: whole lines from concurrent writers)."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(Path(path) / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- one shard


def payload_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors (names, dtypes, shapes and bytes, in name order), kept in the shard's metadata."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def encode_shard(tensors: dict[str, torch.Tensor], *, digest: str, shard: int, start: int, stop: int) -> bytes:
    from safetensors.torch import save

    # one metadata key: safetensors writes several keys in a random order, which would make equal shards differ
    meta = json.dumps(dict(format=FORMAT, version=FORMAT_VERSION, digest=digest, shard=shard, start=start,
                           stop=stop, payload=payload_digest(tensors)), sort_keys=True)
    return save({k: v.contiguous() for k, v in tensors.items()}, metadata={"insp": meta})


def write_shard(root: Path, tensors: dict[str, torch.Tensor], *, digest: str, shard: int, start: int,
                stop: int) -> dict:
    """Write shard ``shard`` atomically; returns its index record (file, range, SHA-256, bytes)."""
    data = encode_shard(tensors, digest=digest, shard=shard, start=start, stop=stop)
    atomic_write(Path(root) / shard_name(shard), [data])
    return dict(file=shard_name(shard), start=start, stop=stop, sha256=hashlib.sha256(data).hexdigest(),
                bytes=len(data))


def probe_shard(root: Path, *, digest: str, shard: int, start: int, stop: int, keys: list[str]) -> dict | None:
    """The index record of a complete shard file already on disk for this recipe, or ``None``.

    Complete means: a readable safetensors file whose metadata names this recipe
    digest and range, whose tensors match the payload digest of its metadata,
    and which holds every expected tensor with ``stop - start`` members (a
    truncated, corrupt or foreign file is ``None`` and gets refitted).
    """
    from safetensors import safe_open
    from safetensors.torch import load

    file = Path(root) / shard_name(shard)
    if not file.is_file():
        return None
    try:
        with safe_open(str(file), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("insp", "{}"))
        if (meta.get("format"), meta.get("digest"), meta.get("shard"), meta.get("start"), meta.get("stop")) != (
                FORMAT, digest, shard, start, stop):
            return None
        tensors = load(file.read_bytes())
        if payload_digest(tensors) != meta.get("payload") or not set(keys) <= set(tensors):
            return None
        if any(tensors[k].shape[0] != stop - start for k in keys):
            return None
    except Exception:
        return None
    return dict(file=shard_name(shard), start=start, stop=stop, sha256=file_digest(file), bytes=file.stat().st_size)


# --------------------------------------------------------------------------- the store


class INRDataset:
    """A fitted set of INRs, opened lazily (see the module notes for the layout).

    ``len(ds)`` INRs; ``ds[i]`` the ``i``-th field (a
    :class:`~insp.fields.inr.NeuralField`, rebuilt from the recipe and its
    weights); :meth:`weights` its ``state_dict``; :attr:`fit_psnr` and
    :attr:`labels` for the whole set; :meth:`torch_dataset` a
    ``torch.utils.data.Dataset`` view.  A shard is read (and its SHA-256
    checked against the index) the first time one of its INRs is asked for; a
    few shards stay cached.

    Examples
    --------
    >>> import numpy as np, tempfile, insp
    >>> signals = np.random.default_rng(0).random((5, 6, 6))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ds = insp.datasets.fit_dataset(signals, labels=[0, 1, 0, 1, 1], path=d + "/set", steps=5,
    ...                                    hidden_features=8, hidden_layers=1, shard_size=2, progress=False)
    ...     len(ds), ds.num_shards, ds.labels.tolist(), type(ds[3]).__name__
    (5, 3, [0, 1, 0, 1, 1], 'Siren')
    """

    def __init__(self, path, *, cache_shards: int = 8):
        self.path = Path(os.fspath(path))
        self.index = read_index(self.path)
        self.recipe: dict[str, Any] = self.index["recipe"]
        self.count: int = self.index["count"]
        self.shard_size: int = self.index["shard_size"]
        self.num_shards = num_shards(self.count, self.shard_size)
        missing = [k for k in range(self.num_shards) if str(k) not in self.index["shards"]]
        if missing:
            raise StoreIncompleteError(
                f"store {str(self.path)!r} has {len(missing)} of {self.num_shards} shards not fitted yet (first: "
                f"{missing[0]}); run fit_dataset again with the same recipe to finish it")
        arch = self.recipe["architecture"]
        if arch not in ARCHITECTURES:
            raise FileFormatError(f"store {str(self.path)!r} holds INRs of unknown architecture {arch!r}")
        #: parameter names in ``state_dict`` order (a shard file keeps them in its own order)
        self.param_names: list[str] = list(ARCHITECTURES[arch](**self.recipe["config"]).state_dict())
        self._cache: OrderedDict[int, dict[str, torch.Tensor]] = OrderedDict()
        self._cache_size = cache_shards
        self._psnr: np.ndarray | None = None
        self._labels: np.ndarray | None = None

    # ---- shards

    def shard(self, k: int) -> dict[str, torch.Tensor]:
        """Every tensor of shard ``k`` (stacked over its members), checked against the index's SHA-256."""
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        from safetensors.torch import load

        rec = self.index["shards"][str(k)]
        file = self.path / rec["file"]
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise FileFormatError(f"shard {k} of store {str(self.path)!r} is missing ({rec['file']}); run "
                                  "fit_dataset again with the same recipe to refit it") from None
        if hashlib.sha256(data).hexdigest() != rec["sha256"]:
            raise FileFormatError(f"shard {k} of store {str(self.path)!r} ({rec['file']}) does not match its "
                                  "checksum (corrupt or truncated); run fit_dataset again with the same recipe "
                                  "to refit it")
        tensors = load(data)
        self._cache[k] = tensors
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return tensors

    def _locate(self, i) -> tuple[int, int]:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"index must be an integer, got {type(i).__name__}")
        i = int(i)
        if not -self.count <= i < self.count:
            raise IndexError(f"index {i} is out of range for a store of {self.count} INRs")
        i %= self.count
        return divmod(i, self.shard_size)

    def _column(self, key: str) -> np.ndarray:
        return np.concatenate([self.shard(k)[key].numpy() for k in range(self.num_shards)])

    # ---- the public face

    def __len__(self) -> int:
        return self.count

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        """The ``state_dict`` of INR ``i`` (copies, safe to modify)."""
        k, j = self._locate(i)
        tensors = self.shard(k)
        return {name: tensors[name][j].clone() for name in self.param_names}

    def field(self, i: int, *, device=None) -> NeuralField:
        """INR ``i`` as a field (eval mode), on ``device`` (default CPU)."""
        state = self.weights(i)
        dtype = next(iter(state.values())).dtype
        model = ARCHITECTURES[self.recipe["architecture"]](**self.recipe["config"], dtype=dtype, device=device)
        model.load_state_dict(state)
        return model.eval()

    def __getitem__(self, i: int) -> NeuralField:
        return self.field(i)

    def __iter__(self):
        return (self.field(i) for i in range(self.count))

    @property
    def fit_psnr(self) -> np.ndarray:
        """Fit PSNR of every INR (dB), shape ``(len,)``."""
        if self._psnr is None:
            self._psnr = self._column("fit_psnr")
        return self._psnr

    @property
    def labels(self) -> np.ndarray | None:
        """Label of every INR (int64), or ``None`` when the set was fitted without labels."""
        if not self.recipe.get("labelled"):
            return None
        if self._labels is None:
            self._labels = self._column("label")
        return self._labels

    def stacked(self) -> dict[str, torch.Tensor]:
        """Every parameter of every INR, stacked: ``name -> (len, *shape)`` (reads every shard)."""
        return {n: torch.cat([self.shard(k)[n] for k in range(self.num_shards)]) for n in self.param_names}

    def flat_weights(self) -> torch.Tensor:
        """``(len, P)``: each INR's parameters flattened in ``state_dict`` order (see :meth:`stacked`)."""
        st = self.stacked()
        return torch.cat([t.reshape(self.count, -1) for t in st.values()], dim=1)

    def torch_dataset(self, *, flatten: bool = True):
        """A ``torch.utils.data.Dataset`` of ``(weights, label)`` pairs.

        ``weights`` is one flat tensor per INR (``flatten=True``) or its
        ``state_dict``; ``label`` is the int label, or ``-1`` for a set without
        labels.  Reads lazily, one shard at a time.
        """
        return _TorchView(self, flatten)

    def __repr__(self) -> str:
        return (f"INRDataset({str(self.path)!r}, {self.count} x {self.recipe['architecture']} "
                f"{self.recipe['config']}, {self.num_shards} shards)")


class _TorchView(torch.utils.data.Dataset):
    def __init__(self, store: INRDataset, flatten: bool):
        self.store, self.flatten = store, flatten

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i):
        w = self.store.weights(i)
        labels = self.store.labels
        label = -1 if labels is None else int(labels[i])
        if self.flatten:
            w = torch.cat([t.reshape(-1) for t in w.values()])
        return w, label


def open_dataset(path, **kwargs) -> INRDataset:
    """Open a finished store written by :func:`~insp.datasets.fit_dataset` (see :class:`INRDataset`)."""
    return INRDataset(path, **kwargs)
