"""How the shipped INSP-Net operators were trained: data, network, settings, the candidates that chose them.

The recipe of ``python -m benchmarks.train_operators``, which imports it, as
data the library keeps with the weights it produced: the training images
(``insp.data.TRAIN_IMAGES``; the test split is never read here), the network
each operator uses (:data:`NET` with its :data:`OVERRIDES`), the training
settings (:data:`TRAIN`), and the candidates of the experiments that chose
them (:data:`CANDIDATES`, :data:`LOO_CANDIDATES`; results in
``docs/pretrained.md``).  :func:`net_config` and :func:`inr_config` turn the
tables into what an operator is built with and what it expects.
"""

from __future__ import annotations

from ..tasks import fit_config
from .registry import PRETRAINED

__all__ = ["OPERATORS", "IMAGES", "ALL_TRAIN", "OPERATOR_IMAGES", "VAL_IMAGE", "NET", "OVERRIDES", "TRAIN",
           "CANDIDATES", "LOO_CANDIDATES", "net_config", "inr_config", "partials"]

#: Operator name -> (task, fitting protocol).  ``inpaint_known`` acts on INRs fitted to the known pixels only.
OPERATORS = {name: (op.task, op.protocol) for name, op in PRETRAINED.items()}

#: Training images (a subset of insp.data.TRAIN_IMAGES: a photograph and a texture; the fits of all eight
#: images did not fit the time budget of the first build, see docs/pretrained.md).
IMAGES = ("brick", "rocket")
#: Every shipped operator is trained on all eight training images (IMAGES stays for --quick and --validate).
ALL_TRAIN = ("moon", "brick", "grass", "gravel", "immunohistochemistry", "cell", "clock", "rocket")
OPERATOR_IMAGES = {name: ALL_TRAIN for name in ("denoise", "deblur", "blur", "inpaint", "inpaint_known", "text")}
#: Held-out training image of the validation experiment.
VAL_IMAGE = "rocket"

#: The network every shipped operator uses (chosen by ``--validate``; see docs/pretrained.md).
NET = dict(order=4, features="partials", hidden_features=64, hidden_layers=3, activation="silu", residual=True)
#: Per-operator overrides of NET: the validation experiment (denoise) preferred order 2 and the leave-one-out
#: selection (--loo) a linear map for it -- the MLP made the test images 0.4 dB worse than their INRs -- and order 2
#: for inpaint, inpaint_known and text; the held-out-rocket check (deblur) order 6 (docs/pretrained.md).
OVERRIDES = {"denoise": dict(order=2, hidden_layers=0), "deblur": dict(order=6), "inpaint": dict(order=2),
             "inpaint_known": dict(order=2), "text": dict(order=2)}
#: Training settings (steps, not wall time, fix the result).
TRAIN = dict(steps=1500, lr=2e-3, batch_size=2048, seed=0)

#: Candidates of the validation experiment (each overrides NET).
CANDIDATES = {
    "partials K=4 residual": {},
    "invariant K=4 residual": dict(features="invariant"),
    "partials K=2 residual": dict(order=2),
    "partials K=4 direct": dict(residual=False),
}

#: Candidates of the leave-one-out selection (``--loo``; each overrides NET): the MLP against a linear map
#: (no hidden layer: output = f + a . partials), at orders 2 and 4.
LOO_CANDIDATES = {
    "partials K=2 residual": dict(order=2),
    "partials K=2 residual, linear": dict(order=2, hidden_layers=0),
    "partials K=4 residual": {},
    "partials K=4 residual, linear": dict(hidden_layers=0),
}


def partials(order: int) -> int:
    """Number of de-duplicated partials up to ``order`` in 2-D: the first ones of a higher-order jet."""
    return (order + 1) * (order + 2) // 2


def inr_config(task: str, size: int, steps: int | None) -> dict:
    """The INR configuration an operator is trained on (and checks for): the ``insp.fit`` defaults with the
    task's overrides (:func:`insp.tasks.fit_config`)."""
    cfg = fit_config(task)
    return dict(architecture="siren", **{k: cfg[k] for k in ("hidden_features", "hidden_layers", "first_omega_0",
                                                             "hidden_omega_0", "lr", "batch_size")},
                steps=steps or cfg["steps"], fit_seed=0, image_size=size, domain=[-1.0, 1.0],
                pixel_spacing=2.0 / (size - 1), channels=1)


def net_config(name: str) -> dict:
    """The :class:`~insp.learned.INSPNet` keyword arguments of the shipped operator ``name``."""
    if name not in OPERATORS:
        raise ValueError(f"name must be one of {list(OPERATORS)}, got {name!r}")
    return {**NET, **OVERRIDES.get(name, {})}
