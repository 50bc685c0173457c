"""insp: signal processing directly on implicit neural representations.

The front door is lazy (as scikit-image's): ``import insp`` loads nothing
heavy, and each subpackage -- ``insp.fields``, ``insp.jet``, ``insp.ops``,
``insp.learned``, ``insp.tasks``, ``insp.baselines``, ``insp.testing``,
``insp.demo`` and the leaf modules -- is imported on first attribute access,
so ``insp.ops.gaussian_blur`` works right after ``import insp``.  The most
used names of :mod:`insp.fields` are also here: ``insp.fit``, ``insp.Siren``,
``insp.save``, ...

Examples
--------
>>> import insp
>>> insp.ops.laplacian.__module__
'insp.ops.differential'
>>> insp.fit is insp.fields.fit
True
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: subpackages and modules reachable as attributes of ``insp``
_SUBMODULES = ("fields", "jet", "ops", "learned", "datasets", "tasks", "baselines", "testing", "demo", "units",
               "metrics", "data", "imageio", "audioio", "runinfo", "cli")
#: names re-exported from :mod:`insp.fields`
_FIELD_NAMES = ("Domain", "Field", "FitHistory", "FourierFeatureMLP", "NeuralField", "ReluMLP", "Siren",
                "build_field", "fit", "fit_audio", "fit_many", "load", "sample", "save", "distill", "from_module",
                "from_siren_pytorch", "from_siren_state_dict", "WindowedField", "fit_sdf",
                "extract_surface")

__all__ = ["__version__", *_FIELD_NAMES, *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FIELD_NAMES:
        return getattr(importlib.import_module(".fields", __name__), name)
    raise AttributeError(f"module 'insp' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
