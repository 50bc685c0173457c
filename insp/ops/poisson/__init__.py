"""Gradient-domain processing on fields, one module per job.

* :mod:`~insp.ops.poisson.guidance` -- the composite guidance field of blending
  (:func:`composite_gradient`, :data:`BLEND_MODES`);
* :mod:`~insp.ops.poisson.gradient_fit` -- fitting a field to a gradient or a
  Laplacian (:func:`fit_gradients`, :func:`fit_laplacian`, :func:`integrate_gradient`, :class:`Anchor`);
* :mod:`~insp.ops.poisson.blend` -- Poisson blending (:func:`poisson_blend`, :class:`PoissonBlendField`).

How each works and what it was measured at: ``docs/poisson.md``.
"""

from .blend import BLEND_DEFAULTS, PoissonBlendField, poisson_blend
from .gradient_fit import (
           GRADIENT_FIT_DEFAULTS,
           INTEGRATION_SHAPE,
           Anchor,
           fit_gradients,
           fit_laplacian,
           integrate_gradient,
)
from .guidance import BLEND_MODES, CompositeGradient, composite_gradient

__all__ = ["BLEND_DEFAULTS", "PoissonBlendField", "poisson_blend", "GRADIENT_FIT_DEFAULTS", "INTEGRATION_SHAPE",
           "Anchor", "fit_gradients", "fit_laplacian", "integrate_gradient", "BLEND_MODES", "CompositeGradient",
           "composite_gradient"]
