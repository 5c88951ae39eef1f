"""Write a comparison's three files, each atomically: summary.json, disagreements.csv, report.html."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..io.writers import AtomicFile
from .compare import Comparison
from .disagreements import write_disagreements
from .report_html import render

SUMMARY = "summary.json"
DISAGREEMENTS = "disagreements.csv"
REPORT = "report.html"


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def summary_json(comparison: Comparison) -> str:
    """``summary.json``'s text: every figure of the comparison."""
    return json.dumps(_finite(comparison.to_dict()), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_outputs(
    comparison: Comparison, out_dir: str | Path, *, top: int = 50, title: str | None = None
) -> dict[str, Path]:
    """Write ``summary.json``, ``disagreements.csv`` and ``report.html`` into ``out_dir``.

    Each file appears only once it is complete; returns their paths by name.
    """
    out = Path(out_dir)
    page = render(comparison, top=top, title=title)
    paths = {name: out / name for name in (SUMMARY, DISAGREEMENTS, REPORT)}
    with AtomicFile(paths[SUMMARY]) as f:
        f.handle.write(summary_json(comparison))
    with AtomicFile(paths[DISAGREEMENTS]) as f:
        write_disagreements(f.handle, comparison.disagreements)
    with AtomicFile(paths[REPORT]) as f:
        f.handle.write(page)
    return paths


__all__ = ["DISAGREEMENTS", "REPORT", "SUMMARY", "summary_json", "write_outputs"]
