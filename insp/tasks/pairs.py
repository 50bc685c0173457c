"""Paired data for learned operators: an INR fitted to a degraded image, its jet, the clean target.

For one image of :mod:`insp.data` and one :class:`~insp.tasks.registry.Task`:

1. degrade the clean image (seeded) -> :class:`~insp.tasks.registry.Degraded`;
2. fit an INR to the degraded image with :func:`insp.fit` (SIREN 3x128 and
   :data:`insp.fields.fitting.DEFAULTS` settings with the task's overrides,
   :func:`fit_config`: denoise uses a first omega of 10), either to every pixel
   (``protocol="degraded"``) or, for inpainting tasks, to the known pixels only
   (``protocol="known"``, ``fit(..., known=known)``);
3. the derivative stack of the INR on the pixel grid,
   ``jet(field, grid, order=K, create_graph=False)``: features ``(H, W, c, M)``;
4. the target on the same grid ``(H, W, c)``.

Caching
-------
With ``cache_dir`` given, every fitted INR is saved (:func:`insp.save`) with a
``meta.json``, and every jet as ``jet{K}.npz``, in a folder named after the
image, size, task, protocol and seed plus a hash of everything that changes
the result (task parameters, fit steps, learning rate, batch size, fit seed,
network sizes, gray/colour, library version).  A second call with the same
key loads instead of refitting; files are written atomically, so an
interrupted build leaves no half-written entry.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import data as _data
from .._checks import check_int
from .._files import atomic_write
from ..fields import DEFAULTS, Siren, fit
from ..fields.io import load as load_field
from ..fields.io import save as save_field
from ..jet import jet
from .registry import Degraded, Task, get_task

__all__ = ["Pair", "cache_key", "fit_config", "image_seed", "fit_degraded", "paired", "training_tensors",
           "grid_jet"]

DEFAULT_ORDER = 4
_FIT_KEYS = ("hidden_features", "hidden_layers", "first_omega_0", "hidden_omega_0", "lr", "batch_size",
             "final_lr_ratio", "warmup_steps", "steps")


@dataclass(eq=False)
class Pair:
    """One training/test example: the degraded image, its INR, the INR's jet on the grid and the target.

    ``features``: ``(H, W, c, M)`` float32 partials in coordinate units
    (order of :func:`insp.jet.multi_indices`); ``target``: ``(H, W, c)``;
    ``fit_seconds``: wall time of the fit when it was made (also for cached
    entries, read from ``meta.json``); ``from_cache``: whether the INR was
    loaded rather than fitted.
    """

    image: str
    task: Task
    protocol: str
    degraded: Degraded
    field: torch.nn.Module
    features: torch.Tensor | None
    target: torch.Tensor
    fit_seconds: float | None
    from_cache: bool
    order: int | None


def cache_key(image: str, task, *, size: int = 256, seed: int = 0, protocol: str = "degraded",
              steps: int | None = None, fit_seed: int = 0, color: bool = False) -> dict:
    """Everything that determines a fitted INR, as a JSON-able dict (the cache is keyed by its hash)."""
    from .. import __version__

    task = get_task(task)
    if image not in _data.names():
        raise ValueError(f"image must be one of insp.data.names(), got {image!r}")
    fit_settings = fit_config(task)
    task_steps = fit_settings.pop("steps")  # the key's own "steps" is the one that was used
    return dict(image=image, size=check_int(size, "size", minimum=2), color=bool(color), task=task.name,
                params=task.params, seed=check_int(seed, "seed", minimum=0), protocol=task.check_protocol(protocol),
                steps=check_int(task_steps if steps is None else steps, "steps", minimum=0),
                fit_seed=check_int(fit_seed, "fit_seed", minimum=0), fit=fit_settings,
                version=__version__)


def fit_config(task) -> dict:
    """The fit settings of ``task``'s INRs: :data:`insp.fields.fitting.DEFAULTS` with the task's overrides."""
    task = get_task(task)
    unknown = sorted(set(task.fit) - set(_FIT_KEYS))
    if unknown:
        raise ValueError(f"task {task.name!r} overrides unknown fit setting(s) {unknown}; known: {list(_FIT_KEYS)}")
    return {k: task.fit.get(k, DEFAULTS[k]) for k in _FIT_KEYS}


def image_seed(image: str, seed: int = 0) -> int:
    """The degradation seed of ``image`` in a data set built with base ``seed``: ``seed + 1000 * k``.

    ``k`` is the image's position in :func:`insp.data.names`, so every image
    has its own noise, holes and text placement, independent of list order.
    """
    if image not in _data.names():
        raise ValueError(f"image must be one of insp.data.names(), got {image!r}")
    return check_int(seed, "seed", minimum=0) + 1000 * _data.names().index(image)


def _entry_dir(cache_dir, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{key['image']}-{key['size']}{'c' if key['color'] else ''}-{key['task']}-{key['protocol']}" \
           f"-s{key['seed']}-{digest}"
    return Path(cache_dir) / name


def _clean_image(image: str, size: int, color: bool) -> np.ndarray:
    return _data.color(image, size) if color else _data.gray(image, size)


def fit_degraded(image: str, task, *, size: int = 256, seed: int = 0, protocol: str = "degraded",
                 steps: int | None = None, fit_seed: int = 0, color: bool = False, cache_dir=None,
                 progress: bool = True, fit_missing: bool = True) -> tuple[Degraded, torch.nn.Module, dict]:
    """Degrade ``image`` for ``task`` and fit an INR to it (or load the cached fit).

    Parameters
    ----------
    image : str
        A name of :func:`insp.data.names` (e.g. one of ``TEST_IMAGES``).
    task : str or Task
    size : int
        Pixels per side.
    seed : int
        Seed of the degradation (noise, holes, text placement).
    protocol : {"degraded", "known"}
        Fit every pixel of the degraded image, or (inpainting tasks) only the
        known pixels.
    steps, fit_seed : int
        Fit steps (default: the task's, :func:`fit_config`) and the fit's seed
        (initialisation and mini-batch order).
    color : bool
        RGB instead of gray.
    cache_dir : path, optional
        Where fits are cached (module notes); ``None``: always fit, store nothing.
    progress : bool
        Progress bar of the fit.
    fit_missing : bool
        Fit when the cache has no entry (default); ``False`` raises
        ``LookupError`` instead (to use only what is cached).

    Returns
    -------
    (degraded, field, meta)
        ``meta`` holds the cache key, ``fit_seconds``, ``final_psnr`` (of the
        fit against what it was fitted to) and ``from_cache``.
    """
    task = get_task(task)
    key = cache_key(image, task, size=size, seed=seed, protocol=protocol, steps=steps, fit_seed=fit_seed,
                    color=color)
    clean = _clean_image(image, key["size"], key["color"])
    degraded = task.degrade(clean, seed=key["seed"])
    entry = _entry_dir(cache_dir, key) if cache_dir is not None else None
    if entry is not None and (entry / "field.inspf").is_file() and (entry / "meta.json").is_file():
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("key") == key:
            return degraded, load_field(entry / "field.inspf"), {**meta, "from_cache": True}
    if not fit_missing:
        raise LookupError(f"no cached fit for {image} / {task.name} / {key['protocol']} in {cache_dir}")
    known = degraded.known if key["protocol"] == "known" else None
    t0 = time.perf_counter()
    cfg = key["fit"]
    model = Siren(2, 3 if key["color"] else 1, hidden_features=cfg["hidden_features"],
                  hidden_layers=cfg["hidden_layers"], first_omega_0=cfg["first_omega_0"],
                  hidden_omega_0=cfg["hidden_omega_0"], seed=key["fit_seed"])
    field, hist = fit(degraded.input, model=model, steps=key["steps"], seed=key["fit_seed"], known=known,
                      lr=cfg["lr"], batch_size=cfg["batch_size"], final_lr_ratio=cfg["final_lr_ratio"],
                      warmup_steps=cfg["warmup_steps"], progress=progress,
                      channel_axis=-1 if key["color"] else None, data_range=1.0)
    meta = dict(key=key, fit_seconds=time.perf_counter() - t0, final_psnr=hist.final_psnr,
                threads=torch.get_num_threads())
    if entry is not None:
        entry.mkdir(parents=True, exist_ok=True)
        save_field(field, entry / "field.inspf", metadata=dict(key=key))
        atomic_write(entry / "meta.json", [json.dumps(meta, indent=1).encode()])
    return degraded, field, {**meta, "from_cache": False}


def grid_jet(field, size: int, *, order: int = DEFAULT_ORDER, chunk_size: int = 4096) -> torch.Tensor:
    """The jet of ``field`` on its domain's ``size x size`` pixel grid: ``(size, size, c, M)`` (no graph)."""
    x = field.domain.grid((size, size), dtype=next(field.parameters()).dtype)
    return jet(field, x, order=order, chunk_size=chunk_size, create_graph=False).values


def paired(image: str, task, *, order: int | None = DEFAULT_ORDER, size: int = 256, seed: int = 0,
           protocol: str = "degraded", steps: int | None = None, fit_seed: int = 0, color: bool = False,
           cache_dir=None, progress: bool = True, fit_missing: bool = True) -> Pair:
    """A :class:`Pair` for ``image`` and ``task``: fitted (or cached) INR, its jet on the grid, the target.

    Options as :func:`fit_degraded`; ``order`` is the highest derivative
    order of the features (``None``: no features, only the fit).  The jet is
    cached next to the INR as ``jet{order}.npz``.
    """
    task = get_task(task)
    degraded, field, meta = fit_degraded(image, task, size=size, seed=seed, protocol=protocol, steps=steps,
                                         fit_seed=fit_seed, color=color, cache_dir=cache_dir, progress=progress,
                                         fit_missing=fit_missing)
    key = meta["key"]
    target = np.asarray(degraded.target)
    target = torch.as_tensor(target if target.ndim == 3 else target[..., None], dtype=torch.float32)
    features = None
    if order is not None:
        order = check_int(order, "order", minimum=0)
        path = _entry_dir(cache_dir, key) / f"jet{order}.npz" if cache_dir is not None else None
        if path is not None and path.is_file():
            with np.load(path) as z:
                features = torch.from_numpy(z["features"])
        else:
            features = grid_jet(field, key["size"], order=order).to(torch.float32)
            if path is not None:
                buf = io.BytesIO()
                np.savez(buf, features=features.numpy())
                atomic_write(path, [buf.getvalue()])
    return Pair(image=image, task=task, protocol=key["protocol"], degraded=degraded, field=field,
                features=features, target=target, fit_seconds=meta.get("fit_seconds"),
                from_cache=meta["from_cache"], order=order)


def training_tensors(images, task, *, points_per_image: int | None = None, sample_seed: int = 0,
                     order: int = DEFAULT_ORDER, size: int = 256, seed: int = 0, protocol: str = "degraded",
                     steps: int | None = None, fit_seed: int = 0, color: bool = False, cache_dir=None,
                     progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Training tensors over several images: ``features (N, c, M)`` and ``targets (N, c)``, float32.

    Each image contributes ``points_per_image`` pixels drawn without
    replacement (``numpy.random.default_rng(sample_seed + i)`` for the i-th
    image), or every pixel when ``None``.  Each image is degraded with
    ``image_seed(name, seed)``, so that images do not share noise or hole
    patterns and an image gets the same degradation in every list.  Other
    options as :func:`paired`.
    """
    if isinstance(images, str) or not len(images):
        raise ValueError(f"images must be a non-empty sequence of image names, got {images!r}")
    if points_per_image is not None:
        points_per_image = check_int(points_per_image, "points_per_image", minimum=1)
    from tqdm.auto import tqdm

    feats, targs = [], []
    for i, name in enumerate(tqdm(list(images), desc=f"pairs[{get_task(task).name}]", disable=not progress)):
        p = paired(name, task, order=order, size=size, seed=image_seed(name, seed), protocol=protocol, steps=steps,
                   fit_seed=fit_seed, color=color, cache_dir=cache_dir, progress=progress)
        f = p.features.reshape(-1, *p.features.shape[-2:])
        t = p.target.reshape(-1, p.target.shape[-1])
        if points_per_image is not None:
            if points_per_image > f.shape[0]:
                raise ValueError(f"points_per_image={points_per_image} exceeds the {f.shape[0]} pixels of {name}")
            idx = np.random.default_rng(sample_seed + i).choice(f.shape[0], points_per_image, replace=False)
            idx = torch.from_numpy(np.sort(idx))
            f, t = f[idx], t[idx]
        feats.append(f)
        targs.append(t)
    return torch.cat(feats), torch.cat(targs)
