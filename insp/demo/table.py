"""The demo's metrics table: one row per result, with extra columns as sections need them, as Markdown."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MetricsTable"]


class MetricsTable:
    """Rows of ``section | item | PSNR | SSIM | time | notes (+ extra columns)``."""

    base_columns = ("section", "item", "psnr_db", "ssim", "time_s", "notes")
    headings = {"section": "Section", "item": "Item", "psnr_db": "PSNR (dB)", "ssim": "SSIM",
                "time_s": "Time (s)", "notes": "Notes"}

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, section: str, item: str, *, psnr: float | None = None, ssim: float | None = None,
            time_s: float | None = None, notes: str = "", **extra: Any) -> dict:
        """Append a row; ``extra`` keywords become additional columns."""
        row = dict(section=section, item=item, psnr_db=psnr, ssim=ssim, time_s=time_s, notes=notes, **extra)
        self.rows.append(row)
        return row

    @property
    def columns(self) -> list[str]:
        cols = list(self.base_columns)
        for row in self.rows:
            cols += [k for k in row if k not in cols]
        return cols

    @staticmethod
    def _fmt(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            if math.isinf(value):
                return "inf"
            return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"
        return str(value).replace("|", "/")

    def markdown(self) -> str:
        cols = self.columns
        head = "| " + " | ".join(self.headings.get(c, c) for c in cols) + " |"
        rule = "|" + "|".join("---" for _ in cols) + "|"
        body = ["| " + " | ".join(self._fmt(r.get(c)) for c in cols) + " |" for r in self.rows]
        return "\n".join([head, rule, *body])
