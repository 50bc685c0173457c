"""Restoration tasks: degradations of pixel images, the task registry, paired data for learned operators.

* :mod:`~insp.tasks.degrade` -- :func:`add_noise`, :func:`blur` (+ :func:`blur_kernel`),
  :func:`random_holes`, :func:`text_overlay`: seeded, on ``(H, W)`` / ``(H, W, C)`` arrays in [0, 1];
  :func:`add_noise_at_snr` (+ :func:`noise_sigma_for_snr`) for any signal, e.g. audio;
* :mod:`~insp.tasks.registry` -- :class:`Task`, :data:`TASKS` (denoise, deblur, blur, inpaint, text);
* :mod:`~insp.tasks.pairs` -- fit INRs to degraded images, jet features on the grid, clean targets,
  with an on-disk cache (:func:`paired`, :func:`training_tensors`).

The protocol and its parameters are documented in ``docs/restoration.md``.
"""

from .degrade import (BLUR_KERNELS, DEFAULT_TEXT, add_noise, add_noise_at_snr, blur, blur_kernel, random_holes,
                      noise_sigma_for_snr, text_overlay)
from .pairs import Pair, cache_key, fit_config, fit_degraded, grid_jet, image_seed, paired, training_tensors
from .registry import PROTOCOLS, TASKS, Degraded, Task, get_task

__all__ = ["BLUR_KERNELS", "DEFAULT_TEXT", "add_noise", "add_noise_at_snr", "noise_sigma_for_snr", "blur", "blur_kernel", "random_holes", "text_overlay",
           "PROTOCOLS", "TASKS", "Degraded", "Task", "get_task", "Pair", "cache_key", "fit_config", "fit_degraded",
           "grid_jet", "image_seed", "paired", "training_tensors"]
