"""Closed-form operators: Field -> Field, evaluated lazily (sample the result to see it).

* :mod:`~insp.ops.linear` -- one mechanism for linear differential operators with constant coefficients;
* :mod:`~insp.ops.differential` -- gradient, divergence, Laplacian (and its powers), Hessian, directional
  derivative, unsharp masking, gradient magnitude, the learnable :class:`DifferentialPolynomial`;
* :mod:`~insp.ops.gaussian` -- Gaussian blur (heat series, quadrature, lattice);
* :mod:`~insp.ops.shape` -- shapes as signed-distance fields: normals, mean and Gaussian curvature, the eikonal
  residual, smoothing (heat series, curvature flow);
* :mod:`~insp.ops.edges` -- Canny-like edge maps from exact gradients;
* :mod:`~insp.ops.poisson` -- gradient-domain fitting and Poisson blending.

Learned operators (INSP-Net and the pretrained ``denoise``, ``deblur``, ...) live in
:mod:`insp.learned`: nothing here reads weights.
"""

from .differential import (
                           DifferentialPolynomial,
                           directional_derivative,
                           divergence,
                           gradient,
                           gradient_magnitude,
                           hessian,
                           laplacian,
                           linear_operator,
                           sharpen,
)
from .edges import edges, non_maximum_suppression, pixel_gradient
from .gaussian import (
                           BLUR_METHODS,
                           GaussianBlur,
                           SeriesDivergenceError,
                           gaussian_blur,
                           heat_series_coefficients,
                           lattice_blur,
)
from .linear import LinearOperatorField, OperatorField
from .shape import (
                           SMOOTHING_METHODS,
                           ShapeOperator,
                           eikonal_residual,
                           gaussian_curvature,
                           mean_curvature,
                           normals,
                           smooth_shape,
)
from .poisson import (
                           BLEND_MODES,
                           INTEGRATION_SHAPE,
                           Anchor,
                           CompositeGradient,
                           PoissonBlendField,
                           composite_gradient,
                           fit_gradients,
                           fit_laplacian,
                           integrate_gradient,
                           poisson_blend,
)

__all__ = ["DifferentialPolynomial", "directional_derivative", "divergence", "gradient", "gradient_magnitude",
           "hessian", "laplacian", "linear_operator", "sharpen", "edges", "non_maximum_suppression", "pixel_gradient",
           "BLUR_METHODS", "GaussianBlur", "SeriesDivergenceError", "gaussian_blur", "heat_series_coefficients",
           "lattice_blur", "LinearOperatorField", "OperatorField", "BLEND_MODES", "INTEGRATION_SHAPE", "Anchor",
           "CompositeGradient", "PoissonBlendField", "composite_gradient", "fit_gradients", "fit_laplacian",
           "integrate_gradient", "poisson_blend", "SMOOTHING_METHODS", "ShapeOperator", "eikonal_residual",
           "gaussian_curvature", "mean_curvature", "normals", "smooth_shape"]
