"""The ``cv.json`` that ``cross-validate`` writes: its name, reading it, and its model-manifest record.

Shared by :mod:`~reportlab_nlp.classifier.crossval` (which writes it) and
:mod:`~reportlab_nlp.classifier.export` (``export-model --cv``, which records it
in the manifest), so that neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..constants import ENGINE_NAMES
from ..errors import InputError

CV_FILE = "cv.json"
ENGINES: tuple[str, ...] = ENGINE_NAMES


def load_cv(path: str | Path) -> dict[str, Any]:
    """Read a ``cv.json`` (for the model card); a clear error if it is not one."""
    p = Path(path)
    if p.is_dir():
        p = p / CV_FILE
    try:
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{p}: cannot read the cross-validation results: {e.strerror}") from e
    except ValueError as e:
        raise InputError(f"{p}: not JSON ({e}); expected the cv.json that cross-validate writes") from e
    for key in ("folds", "pooled", "verdict", "mean_over_folds"):
        if not isinstance(data, dict) or key not in data:
            raise InputError(f"{p}: missing {key!r}; expected the cv.json that cross-validate writes")
    return data


def manifest_record(cv: Mapping[str, Any]) -> dict[str, Any]:
    """The ``cross_validation`` entry of a model manifest (what the model card shows) from a ``cv.json``."""
    settings = cv["settings"]
    rules, hybrid, model = (cv["pooled"][e] for e in ("rules", "hybrid", "model"))
    return {
        "folds": len(cv["folds"]),
        "description": f"scikit-learn KFold, shuffled with seed {settings['seed']}, over the "
        f"{cv['gold']['reports']} reports of `{cv['gold']['file']}`; each fold's model trained, "
        "calibrated and thresholded on the other folds only",
        "scorer": "score.py's conventions (reportlab_nlp.evaluate.compare: gold -1 left out, our -1 present)",
        "command": cv.get("command"),
        "min_positives": settings["min_positives"],
        "per_fold": [
            {
                "fold": f["fold"] + 1,
                "reports": f["test_reports"],
                **{e: f[e]["macro_f1"] for e in ENGINES},
                **{f"{e}_micro": f[e]["micro_f1"] for e in ENGINES},
            }
            for f in cv["folds"]
        ],
        "mean_over_folds": cv["mean_over_folds"],
        "pooled": {e: {k: cv["pooled"][e][k] for k in ("macro_f1", "micro_f1")} for e in ENGINES},
        "pooled_per_label": {
            label: {
                "positives": r["positives"],
                "rules": r["f1"],
                "model": model["labels"][label]["f1"],
                "hybrid": hybrid["labels"][label]["f1"],
                "in_average": r["in_average"],
            }
            for label, r in rules["labels"].items()
        },
        "verdict": cv["verdict"],
    }


__all__ = ["CV_FILE", "ENGINES", "load_cv", "manifest_record"]
