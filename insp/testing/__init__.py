"""Analytic fields and hypothesis strategies for testing operators on fields.

* :mod:`insp.testing.analytic`: Fields whose derivatives and Gaussian blur are
  known in closed form (:class:`GaussianSum`, :class:`SinusoidSum`,
  :class:`Polynomial`, their sums and warps, :func:`translated`,
  :func:`rotated`), so an operator is checked against the truth;
* :mod:`insp.testing.sdf`: signed-distance shapes with closed-form normals
  and curvatures (:class:`SphereSDF`, :class:`CylinderSDF`, :class:`TorusSDF`,
  :class:`BoxSDF`);
* :mod:`insp.testing.strategies`: hypothesis strategies (:func:`sirens`,
  :func:`fourier_mlps`, :func:`analytic_fields`, :func:`points`);
  ``hypothesis`` is imported only when one is called.

Every public name of both is importable from here
(``from insp.testing import GaussianSum, sirens``).
"""

from .analytic import (
    AnalyticField,
    AnalyticSum,
    GaussianSum,
    Polynomial,
    SinusoidSum,
    Warped,
    WarpedField,
    rotated,
    translated,
)
from .sdf import BoxSDF, CylinderSDF, SphereSDF, TorusSDF
from .strategies import ANALYTIC_KINDS, analytic_fields, fourier_mlps, points, sirens

__all__ = [
    "AnalyticField", "GaussianSum", "SinusoidSum", "Polynomial", "AnalyticSum", "Warped", "WarpedField",
    "translated", "rotated", "SphereSDF", "CylinderSDF", "TorusSDF", "BoxSDF", "sirens", "fourier_mlps", "analytic_fields", "points", "ANALYTIC_KINDS",
]
