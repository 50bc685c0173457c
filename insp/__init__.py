"""insp: signal processing directly on implicit neural representations."""

__version__ = "0.1.0"

from .fields import (  # noqa: E402
    Domain, Field, FitHistory, FourierFeatureMLP, NeuralField, ReluMLP, Siren, build_field, fit, fit_many, load,
    sample, save,
)

__all__ = ["__version__", "Domain", "Field", "FourierFeatureMLP", "NeuralField", "ReluMLP", "Siren",
           "build_field", "sample", "fit", "fit_many", "FitHistory", "save", "load"]
