"""Fields: the Field protocol, domains and grids, the shipped INRs, fitting (signals and shapes), surfaces, files."""

from .base import DEFAULT_CHUNK_SIZE, Field, sample
from .domain import Domain
from .fitting import (AUDIO_DEFAULTS, DEFAULTS, FULL_BATCH, SDF_DEFAULTS, DistillReport, FitHistory, default_model,
                      distill, fit, fit_audio, fit_many, fit_sdf)
from .inr import ARCHITECTURES, FourierFeatureMLP, NeuralField, ReluMLP, Siren, build_field
from .imports import ModuleField, from_module, from_siren_pytorch, from_siren_state_dict
from .io import FileFormatError, load, read_header, save
from .layers import FourierFeatures, PositionalEncoding, Sine, ValueAffine
from .surface import Surface, extract_surface, render_surface
from .transforms import GridField, Mean, Product, Rescaled, SplineField, Translated
from .windowed import WindowedField

__all__ = [
    "DEFAULT_CHUNK_SIZE", "Field", "sample", "Domain", "ARCHITECTURES", "FourierFeatureMLP", "NeuralField",
    "ReluMLP", "Siren", "build_field", "FourierFeatures", "PositionalEncoding", "Sine", "ValueAffine",
    "DEFAULTS", "FULL_BATCH", "FitHistory", "default_model", "fit", "fit_many", "FileFormatError", "load", "read_header", "save",
    "GridField", "Mean", "Product", "Rescaled", "SplineField", "Translated",
    "DistillReport", "distill", "ModuleField", "from_module", "from_siren_pytorch", "from_siren_state_dict",
    "AUDIO_DEFAULTS", "fit_audio", "WindowedField",
    "SDF_DEFAULTS", "fit_sdf", "Surface", "extract_surface", "render_surface",
]
