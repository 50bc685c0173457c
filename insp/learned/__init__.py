"""Learned operators: INSP-Net (Xu et al. 2022), its training, and the pretrained operators.

A folder apart from :mod:`insp.ops` (the closed-form operators) so that a
reader knows from the import whether weights are involved:

* :mod:`~insp.learned.inspnet` -- :class:`INSPNet` (a network on the jet of a field),
  :class:`INSPNetField` (``net.apply(field)``), operator files;
* :mod:`~insp.learned.train` -- :func:`train_operator`;
* :mod:`~insp.learned.pretrained` -- the shipped operators ``denoise``, ``deblur``, ``blur``,
  ``inpaint``, ``remove_text`` and :func:`fit_for_operator`;
* :mod:`~insp.learned.audio` -- :func:`denoise_audio`, the shipped denoiser of audio fields (a
  network on the field's values over a stencil of time offsets);
* :mod:`~insp.learned.shapes` -- :func:`smooth_shape_learned`, the shipped smoother of
  signed-distance fields (an INSP-Net on the field's jet in its domain's unit coordinates);
* :mod:`~insp.learned.registry` -- the table of shipped image operators;
* :mod:`~insp.learned.recipe` -- how the shipped operators were trained (read by the training script).
"""

from .audio import denoise_audio, estimate_noise_sigma
from .inspnet import INSPNet, INSPNetField, invariant_feature_names, invariant_features, load_operator, save_operator
from .pretrained import (
                         available_operators,
                         blur,
                         deblur,
                         denoise,
                         fit_for_operator,
                         inpaint,
                         load_pretrained,
                         pretrained_domain,
                         remove_text,
)
from .registry import PRETRAINED, PretrainedOperator
from .shapes import load_shape_smoother, smooth_shape_learned
from .train import TrainHistory, train_operator

__all__ = ["denoise_audio", "estimate_noise_sigma", "INSPNet", "INSPNetField", "invariant_feature_names", "invariant_features", "load_operator",
           "save_operator", "available_operators", "blur", "deblur", "denoise", "fit_for_operator", "inpaint",
           "load_pretrained", "pretrained_domain", "remove_text", "PRETRAINED", "PretrainedOperator",
           "TrainHistory", "train_operator", "load_shape_smoother", "smooth_shape_learned"]
