"""Where a field came from: the grid it was fitted on, the recipe, the fit's quality and value range.

Every :class:`~insp.fields.base.Field` answers ``field.provenance``.
:func:`~insp.fields.fitting.fit` and :func:`~insp.fields.fitting.fit_many`
record what an operator needs to check or adapt to: the sample grid (shape,
spacing per axis, domain), the recipe (architecture and its configuration,
steps, learning rate and schedule, batch size, seed, the mask of known
samples), the fit's PSNR and the value range of the fitted samples.  The
record is saved in the ``.inspf`` header and read back by
:func:`~insp.fields.io.load`; ``insp info`` prints it.  Fields made otherwise
carry what is known and say what is not: an analytic field has no grid
(``source="analytic"``), an operator's result keeps its input's grid and names
the operator (``source="operator"``), a module brought in from elsewhere is
``"imported"``, and anything else ``"unknown"``.

Examples
--------
>>> import numpy as np, insp
>>> field, _ = insp.fit(np.random.default_rng(0).random((8, 12)), steps=5, progress=False)
>>> p = field.provenance
>>> p.source, p.grid_shape, [round(h, 4) for h in p.spacing]
('fit', (8, 12), [0.2857, 0.1818])
>>> p.recipe["steps"], p.recipe["architecture"]
(5, 'siren')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field, replace
from typing import Any

__all__ = ["Provenance", "SOURCES"]

#: how a field came to be
SOURCES = ("fit", "fit_many", "fit_sdf", "analytic", "operator", "distilled", "imported", "unknown")


@dataclass(frozen=True)
class Provenance:
    """What is known of a field's origin (``None``: not known).

    Attributes
    ----------
    source : str
        One of :data:`SOURCES`.
    grid_shape : tuple of int or None
        Samples per axis of the signal the field was fitted to.
    spacing : tuple of float or None
        Sample spacing per axis, in coordinate units.
    domain : tuple of (low, high) or None
        The domain the samples spanned.
    recipe : dict or None
        How it was fitted: ``architecture``, its ``config`` (omegas, sizes),
        ``steps``, ``lr``, ``batch_size``, ``final_lr_ratio``,
        ``warmup_steps``, ``seed``, ``time_limit``, ``stopped``.
    known_fraction : float or None
        Share of the samples that were known (1.0 without a mask).
    fit_psnr : float or None
        PSNR of the fit over the known samples (dB, in the signal's units).
    value_range : tuple of (min, max) per channel, or None
        Range of the known samples the field was fitted to.
    operators : tuple of str
        Operators applied since (innermost first), for results of operators.
    """

    source: str = "unknown"
    grid_shape: tuple[int, ...] | None = None
    spacing: tuple[float, ...] | None = None
    domain: tuple[tuple[float, float], ...] | None = None
    recipe: dict | None = None
    known_fraction: float | None = None
    fit_psnr: float | None = None
    value_range: tuple[tuple[float, float], ...] | None = None
    operators: tuple[str, ...] = dc_field(default_factory=tuple)

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")

    @property
    def fitted(self) -> bool:
        """Whether the field was fitted to samples on a known grid."""
        return self.grid_shape is not None

    def then(self, operator: str) -> "Provenance":
        """The record of an operator's result on this field: same grid and recipe, the operator appended."""
        return replace(self, source="operator", operators=(*self.operators, operator))

    def to_json(self) -> dict[str, Any]:
        def finite(x):
            return x if x is None or math.isfinite(x) else None

        return dict(
            source=self.source,
            grid_shape=None if self.grid_shape is None else list(self.grid_shape),
            spacing=None if self.spacing is None else list(self.spacing),
            domain=None if self.domain is None else [list(b) for b in self.domain],
            recipe=self.recipe,
            known_fraction=self.known_fraction,
            fit_psnr=finite(self.fit_psnr),
            value_range=None if self.value_range is None else [list(r) for r in self.value_range],
            operators=list(self.operators),
        )

    @classmethod
    def from_json(cls, obj) -> "Provenance":
        """Read a record written by :meth:`to_json`; ``TypeError``/``ValueError`` on malformed input."""
        if not obj:
            return cls()
        if not isinstance(obj, dict):
            raise TypeError(f"provenance must be a mapping, got {type(obj).__name__}")

        def tup(v, conv):
            return None if v is None else tuple(conv(x) for x in v)

        recipe = obj.get("recipe")
        if recipe is not None and not isinstance(recipe, dict):
            raise TypeError(f"provenance recipe must be a mapping, got {type(recipe).__name__}")
        return cls(
            source=str(obj.get("source", "unknown")),
            grid_shape=tup(obj.get("grid_shape"), int),
            spacing=tup(obj.get("spacing"), float),
            domain=tup(obj.get("domain"), lambda b: (float(b[0]), float(b[1]))),
            recipe=recipe,
            known_fraction=None if obj.get("known_fraction") is None else float(obj["known_fraction"]),
            fit_psnr=None if obj.get("fit_psnr") is None else float(obj["fit_psnr"]),
            value_range=tup(obj.get("value_range"), lambda r: (float(r[0]), float(r[1]))),
            operators=tuple(str(o) for o in obj.get("operators", ())),
        )

    def describe(self) -> list[str]:
        """Lines for ``insp info``: what is known, and "unknown" for what is not."""

        def known(value, fmt=str):
            return "unknown" if value is None else fmt(value)

        lines = [f"source        {self.source}" + (f" ({' -> '.join(self.operators)})" if self.operators else "")]
        lines.append(f"grid          {known(self.grid_shape, lambda s: 'x'.join(map(str, s)))}"
                     + (f", spacing {', '.join(f'{h:.6g}' for h in self.spacing)}" if self.spacing else ""))
        if self.recipe:
            keys = ("architecture", "steps", "lr", "batch_size", "seed", "stopped")
            lines.append("recipe        " + ", ".join(f"{k}={self.recipe[k]}" for k in keys if k in self.recipe))
        else:
            lines.append("recipe        unknown")
        lines.append(f"fit PSNR      {known(self.fit_psnr, lambda p: f'{p:.2f} dB')}"
                     + ("" if self.known_fraction in (None, 1.0) else f" over {self.known_fraction:.1%} known samples"))
        lines.append(f"value range   {known(self.value_range, lambda r: ', '.join(f'[{a:.6g}, {b:.6g}]' for a, b in r))}")
        return lines
