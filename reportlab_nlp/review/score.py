"""The review score of a cell: how likely its label is wrong, from the shipped queue model.

``score = 1 / (1 + exp(-(b + w . x)))`` with ``x`` the cell's features
(:mod:`reportlab_nlp.review.features`) and ``w``, ``b`` a logistic regression
fitted on the Open-i development gold (:mod:`reportlab_nlp.review.fit`). A
record with model probabilities is scored by the ``model`` combiner, one
without (the ``rules`` engine) by the ``rules`` combiner. Deterministic:
rounded to 4 decimals, no randomness, no state.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .features import Cell, cells_of, features, present
from .tables import AccuracyTables

QUEUE_MODEL = Path(__file__).with_name("queue.json")
"""The shipped queue model (tables, combiners, provenance)."""


@dataclass(frozen=True)
class Combiner:
    """A fitted logistic regression over named features."""

    features: Sequence[str]
    weights: Sequence[float]
    intercept: float

    def score(self, x: Sequence[float]) -> float:
        z = self.intercept + sum(w * v for w, v in zip(self.weights, x, strict=True))
        return round(1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))), 4)

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "weights": list(self.weights), "intercept": self.intercept}


@dataclass(frozen=True)
class QueueModel:
    tables: AccuracyTables
    combiners: Mapping[str, Combiner]
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "provenance": dict(self.provenance),
            "combiners": {k: c.to_dict() for k, c in self.combiners.items()},
            "tables": self.tables.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueModel:
        combiners = {
            k: Combiner(tuple(c["features"]), tuple(float(w) for w in c["weights"]), float(c["intercept"]))
            for k, c in data["combiners"].items()
        }
        return cls(AccuracyTables.from_dict(data["tables"]), combiners, data.get("provenance", {}))

    def combiner(self, with_model: bool) -> Combiner:
        return self.combiners["model" if with_model else "rules"]

    def score_cell(self, cell: Cell, *, with_model: bool) -> float:
        return self.combiner(with_model).score(features(cell, self.tables, with_model=with_model))

    def reasons(self, cell: Cell, *, with_model: bool) -> list[str]:
        """Why a cell scores as it does, in words (the signals that point at an error)."""
        out = []
        kinds = {m.get("assertion") for m in cell.mentions}
        if kinds & {"present", "uncertain", "hypothetical"} and "negated" in kinds:
            out.append("conflicting mentions (present and absent)")
        if cell.value == -1 or kinds & {"uncertain", "hypothetical"}:
            out.append("hedged")
        acc = self.tables.value(cell.column, cell.value)
        shown = "blank" if cell.value is None else cell.value
        out.append(f"value {shown} of this label right {acc:.0%} on Open-i gold")
        cue = self.tables.cue(cell.column, cell.value, cell.mentions)
        if cell.mentions and cue < 0.9:
            out.append(f"weak cue (measured accuracy {cue:.0%})")
        if with_model and cell.probability is not None:
            disagrees = present(cell.value) != (cell.probability >= 0.5)
            out.append(f"model p={cell.probability:.2f}" + (" disagrees" if disagrees else " agrees"))
        if cell.flagged:
            out.append("hybrid review flag")
        return out


@functools.lru_cache(maxsize=1)
def shipped() -> QueueModel:
    """The queue model shipped with the package."""
    return QueueModel.from_dict(json.loads(QUEUE_MODEL.read_text(encoding="utf-8")))


def review_scores(record: Mapping[str, Any], model: QueueModel | None = None) -> dict[str, float]:
    """``{column: score}`` for every column of a JSONL record (the ``review_score`` field)."""
    model = model or shipped()
    with_model = isinstance(record.get("probabilities"), Mapping)
    return {c.column: model.score_cell(c, with_model=with_model) for c in cells_of(record)}


def prediction_scores(
    labels: Any, values: Sequence[tuple[str, str, Any]], extra: Mapping[str, Any]
) -> dict[str, float]:
    """``review_score`` of a model engine's prediction (``labels``: its ReportLabels; ``extra``: its
    ``probabilities`` and ``review``), by column, as :func:`review_scores` gives for the written record."""
    evidence = labels.to_dict()["evidence"]
    record = {
        "labels": {col: v.to_json() for col, _, v in values},
        "evidence": {
            col: evidence[label] for col, label, v in values if v.to_json() is not None and label in evidence
        },
        **extra,
    }
    return review_scores(record)
