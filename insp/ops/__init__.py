"""Operators: Field -> Field, evaluated lazily (sample the result to see it).

Closed-form differential operators, Gaussian blur (heat series and
quadrature), edge maps, the learnable linear operator and the learned INSP-Net operator
(:mod:`insp.ops.inspnet`).
"""

from .blur import BLUR_METHODS, GaussianBlur, SeriesDivergenceError, gaussian_blur, heat_series_coefficients, lattice_blur
from .differential import (DifferentialPolynomial, directional_derivative, divergence, gradient, gradient_magnitude,
                           hessian, laplacian, linear_operator, sharpen)
from .edges import edges, non_maximum_suppression, pixel_gradient
from .inspnet import INSPNet, INSPNetField, TrainHistory, load_operator, save_operator, train_operator
from .linear import LinearOperatorField, OperatorField
from .poisson import (BLEND_MODES, Anchor, CompositeGradient, GridField, Translated, composite_gradient, fit_gradients,
                      fit_laplacian, poisson_blend)

__all__ = ["BLUR_METHODS", "GaussianBlur", "SeriesDivergenceError", "gaussian_blur", "heat_series_coefficients",
           "lattice_blur", "DifferentialPolynomial", "directional_derivative", "divergence", "gradient",
           "gradient_magnitude", "hessian", "laplacian", "linear_operator", "sharpen", "edges",
           "non_maximum_suppression", "pixel_gradient", "INSPNet", "INSPNetField", "TrainHistory", "load_operator",
           "save_operator", "train_operator", "LinearOperatorField", "OperatorField",
           "BLEND_MODES", "Anchor", "CompositeGradient", "GridField", "Translated", "composite_gradient", "fit_gradients",
           "fit_laplacian", "poisson_blend"]
