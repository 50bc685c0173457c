"""The registry of pretrained operators: one entry per shipped weight file.

Both the library (:mod:`insp.learned.pretrained`, which loads them) and the
training script (``python -m benchmarks.train_operators``, which writes them)
read this table, so an operator is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PretrainedOperator", "PRETRAINED", "WEIGHTS_PACKAGE", "WEIGHTS_FOLDER"]

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
