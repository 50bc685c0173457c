"""The registry of pretrained operators: one entry per shipped weight file.

Both the library (:mod:`insp.learned.pretrained`, which loads them) and the
training script (``python -m benchmarks.train_operators``, which writes them)
read this table, so an operator is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["PretrainedOperator", "PRETRAINED", "WEIGHTS_PACKAGE", "WEIGHTS_FOLDER", "shipped_weights",
           "load_shipped"]

#: where the weight files live: package data ``insp/learned/weights/<name>.inspop``
WEIGHTS_PACKAGE = "insp.learned"
WEIGHTS_FOLDER = "weights"


@dataclass(frozen=True)
class PretrainedOperator:
    """A shipped INSP-Net operator.

    ``task`` and ``protocol`` name the degradation (:func:`insp.tasks.get_task`)
    and how the INR it reads was fitted: to the whole degraded image
    (``"degraded"``) or to its known pixels only (``"known"``).
    """

    name: str
    task: str
    protocol: str
    summary: str

    @property
    def file(self) -> str:
        return f"{self.name}.inspop"


PRETRAINED: dict[str, PretrainedOperator] = {op.name: op for op in (
    PretrainedOperator("denoise", "denoise", "degraded", "Gaussian noise, sigma 25/255 (values in [0, 1])"),
    PretrainedOperator("deblur", "deblur", "degraded", "Gaussian blur of sigma 2 px (reflect boundary)"),
    PretrainedOperator("blur", "blur", "degraded", "Gaussian blur of sigma 1 px, learned"),
    PretrainedOperator("inpaint", "inpaint", "degraded", "30 % random pixel holes set to 0"),
    PretrainedOperator("inpaint_known", "inpaint", "known", "30 % random pixel holes, INR fitted to the known pixels"),
    PretrainedOperator("text", "text", "degraded", "white text drawn over the image"),
)}


def shipped_weights(file: str):
    """The package resource of the shipped weight file ``file`` (it may be missing: see :func:`load_shipped`)."""
    return resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FOLDER, file)


@lru_cache(maxsize=None)
def load_shipped(file: str, retrain: str):
    """``(net, metadata)`` of a shipped weight file, read once per process; the net is in eval mode and frozen.

    Every shipped operator (image, audio, shape) is read through here, so a
    missing file gives the same clear ``FileNotFoundError`` that names the
    command (``retrain``) which writes it again.
    """
    from ..fields.io import read_header
    from .inspnet import load_operator

    ref = shipped_weights(file)
    if not ref.is_file():
        raise FileNotFoundError(f"the shipped weights {file!r} ({ref}) are missing: the package data of insp.learned "
                                f"was not installed (reinstall insp, or retrain them with {retrain})")
    with resources.as_file(ref) as path:
        net = load_operator(path)
        meta = read_header(path, kind="insp-operator")["metadata"]
    for p in net.parameters():
        p.requires_grad_(False)
    return net, meta
