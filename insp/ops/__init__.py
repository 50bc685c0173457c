"""Operators: Field -> Field, evaluated lazily (sample the result to see it).

Closed-form differential operators, Gaussian blur (heat series and
quadrature), edge maps, the learnable linear operator, the learned INSP-Net operator
(:mod:`insp.ops.inspnet`) and its pretrained instances (:mod:`insp.ops.pretrained`:
``denoise``, ``deblur``, ``blur``, ``inpaint``, ``remove_text``).  ``insp.ops.blur`` is the
pretrained sigma = 1 px operator; the closed-form blur of any sigma is ``gaussian_blur``
(:mod:`insp.ops.gaussian`).
"""

from .gaussian import BLUR_METHODS, GaussianBlur, SeriesDivergenceError, gaussian_blur, heat_series_coefficients, lattice_blur
from .differential import (DifferentialPolynomial, directional_derivative, divergence, gradient, gradient_magnitude,
                           hessian, laplacian, linear_operator, sharpen)
from .edges import edges, non_maximum_suppression, pixel_gradient
from .inspnet import INSPNet, INSPNetField, TrainHistory, load_operator, save_operator, train_operator
from .linear import LinearOperatorField, OperatorField
from .pretrained import (available_operators, blur, deblur, denoise, fit_for_operator, inpaint, load_pretrained,
                         pretrained_domain, remove_text)
from .poisson import (BLEND_MODES, INTEGRATION_SHAPE, Anchor, CompositeGradient, PoissonBlendField, composite_gradient,
                      fit_gradients, fit_laplacian, integrate_gradient, poisson_blend)

__all__ = ["BLUR_METHODS", "GaussianBlur", "SeriesDivergenceError", "gaussian_blur", "heat_series_coefficients",
           "lattice_blur", "DifferentialPolynomial", "directional_derivative", "divergence", "gradient",
           "gradient_magnitude", "hessian", "laplacian", "linear_operator", "sharpen", "edges",
           "non_maximum_suppression", "pixel_gradient", "INSPNet", "INSPNetField", "TrainHistory", "load_operator",
           "save_operator", "train_operator", "LinearOperatorField", "OperatorField",
           "BLEND_MODES", "INTEGRATION_SHAPE", "Anchor", "CompositeGradient", "PoissonBlendField",
           "composite_gradient", "fit_gradients", "fit_laplacian", "integrate_gradient", "poisson_blend",
           "available_operators", "blur", "deblur", "denoise", "fit_for_operator", "inpaint", "load_pretrained",
           "pretrained_domain",
           "remove_text"]
