"""Pixel-grid baselines: the operators of :mod:`insp.ops` on NumPy arrays.

Classical finite differences and filters (scipy.ndimage, scikit-image,
OpenCV), each returning **true derivatives in pixel units** ("ij" axes, positive
Laplacian) with the libraries' scale and sign conventions divided out by
:mod:`insp.units`.  NumPy in, float64 NumPy out.

* :mod:`~insp.baselines.derivatives` -- central differences of any order,
  gradient (central / Sobel / Scharr / Prewitt), Hessian, Laplacian (5- and
  9-point), gradient magnitude;
* :mod:`~insp.baselines.filters` -- Gaussian blur;
* :mod:`~insp.baselines.edges` -- Canny (scikit-image or OpenCV);
* :mod:`~insp.baselines.poisson` -- Poisson blending (sparse solve, OpenCV seamlessClone);
* :mod:`~insp.baselines.restoration` -- denoising (TV, NL-means, BM3D, wavelet), deconvolution
  (Wiener, Richardson--Lucy, reflect-padded), inpainting (biharmonic, OpenCV Telea / NS);
* :mod:`~insp.baselines.audio` -- audio denoisers (Wiener, Butterworth, Savitzky-Golay, spectral subtraction).
"""

from . import audio, poisson, restoration
from .derivatives import (
    STENCILS,
    central_difference,
    derivative,
    fd_weights,
    gradient,
    gradient_magnitude,
    hessian,
    laplacian,
)
from .edges import CANNY_BACKENDS, canny
from .filters import gaussian_blur

__all__ = ["STENCILS", "central_difference", "derivative", "fd_weights", "gradient", "gradient_magnitude",
           "hessian", "laplacian", "CANNY_BACKENDS", "canny", "gaussian_blur", "poisson", "restoration", "audio"]
