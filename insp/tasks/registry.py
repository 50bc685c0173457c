"""Restoration tasks: what degrades the clean image, and what a perfect operator returns.

A :class:`Task` turns a clean image into a :class:`Degraded` pair: the input
(the degraded image that an INR is fitted to, and that classical methods
receive) and the target.  :data:`TASKS` holds the five tasks of the INSP-Net
benchmark with the parameters of ``docs/restoration.md``:

========  ====================================================  ==========================
name      input                                                 target
========  ====================================================  ==========================
denoise   clean + Gaussian noise, sigma 25/255, clipped to [0,1]  clean
deblur    clean convolved with a Gaussian PSF, sigma 2 px         clean
blur      clean                                                 ``gaussian_filter(clean, 1)``
inpaint   30 % of the pixels set to 0 (random, seeded)          clean
text      lines of white text drawn over the image (seeded)     clean
========  ====================================================  ==========================

Inpainting tasks (``inpaint``, ``text``) know which pixels are missing
(``Degraded.known``) and offer two fitting protocols: ``"degraded"`` fits the
INR to the whole degraded image (the original INSP-Net protocol) and
``"known"`` fits it to the known pixels only.  The other tasks have only
``"degraded"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from typing import Any, Callable

import numpy as np

from .._checks import check_seed
from .degrade import _image, add_noise, blur, random_holes, text_overlay

__all__ = ["Task", "Degraded", "TASKS", "get_task", "PROTOCOLS"]

PROTOCOLS = ("degraded", "known")


@dataclass(frozen=True, eq=False)
class Degraded:
    """A degraded image and what restoring it should give.

    ``input``: the degraded image; ``target``: the ideal output; ``known``:
    ``True`` on known pixels (inpainting tasks, else ``None``); ``psf``: the
    blur kernel (deblurring, else ``None``); ``noise_sigma``: the noise level
    (denoising, else ``None``).
    """

    input: np.ndarray
    target: np.ndarray
    known: np.ndarray | None = None
    psf: np.ndarray | None = None
    noise_sigma: float | None = None


def _denoise(clean, seed, p):
    return Degraded(add_noise(clean, sigma=p["sigma"], seed=seed, clip=p["clip"]), clean, noise_sigma=p["sigma"])


def _deblur(clean, seed, p):
    blurred, psf = blur(clean, sigma=p["sigma"], kernel=p["kernel"], repeat=p["repeat"], mode="reflect")
    return Degraded(blurred, clean, psf=psf)


def _blur(clean, seed, p):
    from scipy.ndimage import gaussian_filter

    sigma = (p["sigma"], p["sigma"]) + ((0.0,) if clean.ndim == 3 else ())
    return Degraded(clean, gaussian_filter(clean, sigma, mode="reflect", truncate=4.0))


def _inpaint(clean, seed, p):
    holey, known = random_holes(clean, fraction=p["fraction"], seed=seed)
    return Degraded(holey, clean, known=known)


def _text(clean, seed, p):
    img, known = text_overlay(clean, seed=seed, value=p["value"])
    return Degraded(img, clean, known=known)


@dataclass(frozen=True, eq=False)
class Task:
    """A restoration task: ``task.degrade(clean, seed=...)`` -> :class:`Degraded`.

    ``params`` are the degradation's parameters (recorded in cache keys);
    ``protocols`` the fitting protocols it supports (see module notes);
    ``fit`` overrides of :data:`insp.fields.fitting.DEFAULTS` for the INR fitted
    to the degraded image (recorded in cache keys and in the metadata of the
    operator trained on it).
    """

    name: str
    description: str
    params: dict = dc_field(default_factory=dict)
    protocols: tuple[str, ...] = ("degraded",)
    fit: dict = dc_field(default_factory=dict)
    _fn: Callable[[np.ndarray, int, dict], Degraded] | None = dc_field(default=None, repr=False)

    def degrade(self, clean, *, seed: int) -> Degraded:
        """Degrade ``clean`` (``(H, W)`` or ``(H, W, C)`` in [0, 1]) with ``seed``."""
        return self._fn(_image(clean, "clean"), check_seed(seed), dict(self.params))

    def check_protocol(self, protocol) -> str:
        if protocol not in self.protocols:
            raise ValueError(f"protocol must be one of {list(self.protocols)} for task {self.name!r}, "
                             f"got {protocol!r}")
        return protocol

    def with_params(self, **params: Any) -> "Task":
        """The same task with some parameters changed (unknown names raise)."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for task {self.name!r}; it has {sorted(self.params)}")
        return replace(self, params={**self.params, **params})


TASKS: dict[str, Task] = {
    # a first-layer omega of 10 (not 30) keeps the SIREN from fitting the noise: on the noisy camera,
    # 1000 steps at omega 30 end at +2.8 dB over the noisy image, at omega 10 at +6.1 dB (docs/restoration.md)
    "denoise": Task("denoise", "Gaussian noise (sigma in [0, 1] units), clipped to [0, 1]",
                    dict(sigma=25 / 255, clip=True), fit=dict(first_omega_0=10.0), _fn=_denoise),
    # deblurring reads order-4..6 derivatives of a very smooth image, and the INR's are only as good as its fit:
    # hidden omega 10 (not 30) and 4000 steps take rocket's fit from 58.7 to 71.6 dB and the error of its
    # bilaplacian from 68x to 0.5x the exact one's spread (docs/restoration.md, benchmarks/deblur_ceiling.py)
    "deblur": Task("deblur", "blur with a known PSF, reflect boundary", dict(sigma=2.0, kernel="gaussian", repeat=1),
                   fit=dict(hidden_omega_0=10.0, steps=4000), _fn=_deblur),
    "blur": Task("blur", "input = clean image, target = scipy gaussian_filter (sigma in px, reflect)",
                 dict(sigma=1.0), _fn=_blur),
    "inpaint": Task("inpaint", "random pixel holes set to 0", dict(fraction=0.3), protocols=PROTOCOLS,
                    _fn=_inpaint),
    "text": Task("text", "text drawn with Pillow's default font", dict(value=1.0), protocols=PROTOCOLS, _fn=_text),
}


def get_task(task, **params: Any) -> Task:
    """A task by name (or a :class:`Task`), with optional parameter overrides."""
    if isinstance(task, Task):
        t = task
    elif isinstance(task, str) and task in TASKS:
        t = TASKS[task]
    else:
        raise ValueError(f"task must be one of {list(TASKS)} or a Task, got {task!r}")
    return t.with_params(**params) if params else t
