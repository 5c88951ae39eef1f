"""Results: reports as the engine's, predictions as the response's JSON, and `GET /v1/labels`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engines import Engine, Prediction
from ..io.readers import join_fields
from ..io.writers import jsonl_record
from ..rules import RuleSet
from ..rules.reference import NO_FINDING
from ..types import Report
from .errors import to_json
from .schemas import ReportIn

VALUE_MEANINGS = (
    (1, "positive", "the finding is present (asserted, or stated as seen)"),
    (0, "negative", "the finding is mentioned and negated (absent)"),
    (-1, "uncertain", "the finding is mentioned with uncertainty (possible, cannot exclude, ...)"),
    (None, "blank", "the finding is not mentioned (or only as history or hypothesis)"),
)


def to_report(item: ReportIn) -> Report:
    """A request's report as the engine's :class:`~reportlab_nlp.types.Report` (sections joined)."""
    if item.text is not None:
        return Report(item.id, item.text)
    text, spans = join_fields([(s.name, s.text) for s in item.sections or ()])
    return Report(item.id, text, tuple(spans))


def result_record(engine: Engine, prediction: Prediction, report: Report, scheme: str) -> dict[str, Any]:
    """The ``LabelResult`` of one report: the JSONL record under ``scheme`` plus probabilities."""
    values = engine.values(prediction.labels, scheme)
    record = jsonl_record(prediction.labels, values, report)
    probabilities = None
    if prediction.probabilities is not None:
        probs = prediction.probabilities
        probabilities = {col: float(probs[label]) for col, label, _ in values if label in probs}
    review = None
    if engine.name == "hybrid":
        review = prediction.extra_record(values).get("review", [])
    evidence = {col: [_evidence(m) for m in ms] for col, ms in record["evidence"].items()}
    categories = record.get("categories")
    if categories is not None:
        categories = {
            name: {**c, "evidence": [_evidence(m) for m in c["evidence"]]} for name, c in categories.items()
        }
    return {
        "id": report.id,
        "scheme": scheme,
        "engine": engine.name,
        "labels": record["labels"],
        "probabilities": probabilities,
        "review": review,
        "evidence": evidence,
        "warnings": record["warnings"],
        "sections": record["sections"],
        "metadata": record.get("metadata"),
        "categories": categories,
        "text_length": record["text_length"],
        "fields": record.get("fields"),
    }


@dataclass(frozen=True)
class RenderResults:
    """A label request's response body from its predictions (picklable: it runs in the labeling process)."""

    scheme: str
    provenance: dict[str, Any]
    reports: list[Report]
    batch: bool

    def __call__(self, engine: Engine, predictions: list[Prediction]) -> bytes:
        results = [
            result_record(engine, p, r, self.scheme) for p, r in zip(predictions, self.reports, strict=True)
        ]
        if self.batch:
            return to_json({"count": len(results), "results": results, "provenance": self.provenance})
        return to_json({**results[0], "provenance": self.provenance})


def _evidence(mention: dict[str, Any]) -> dict[str, Any]:
    mention.setdefault("attributes", {})
    mention.setdefault("attribute_spans", {})
    return mention


def labels_document(
    rules: RuleSet, default_scheme: str, engines: list[str], rules_hash: str
) -> dict[str, Any]:
    """The ``LabelsResponse`` of ``GET /v1/labels``."""
    findings = {f.label: f for f in rules.findings}
    labels = []
    for label in rules.labels:
        f = findings.get(label)
        if f is None:
            definition = (
                "computed: 1 when no finding of the scheme's no-finding policy is 1 or -1"
                if label == NO_FINDING
                else ""
            )
            labels.append({"label": label, "definition": definition, "parents": [], "codes": {}})
            continue
        codes = {
            system: [str(c) for c in (code if isinstance(code, list | tuple) else [code])]
            for system, code in f.codes.items()
        }
        labels.append(
            {"label": label, "definition": f.definition, "parents": list(f.implies), "codes": codes}
        )
    schemes = [
        {
            "name": s.name,
            "description": s.description,
            "no_finding": s.no_finding,
            "columns": [{"column": c, "label": lab} for c, lab in s.columns],
            "categories": list(s.categories),
        }
        for s in rules.schemes.values()
    ]
    categories = [
        {
            "name": c.name,
            "definition": c.definition,
            "values": [{"value": v.value, "definition": v.definition} for v in c.values],
        }
        for c in rules.categories
    ]
    return {
        "default_scheme": default_scheme,
        "engines": engines,
        "values": [{"value": v, "name": n, "meaning": m} for v, n, m in VALUE_MEANINGS],
        "labels": labels,
        "schemes": schemes,
        "categories": categories,
        "rules_hash": rules_hash,
    }


__all__ = ["RenderResults", "labels_document", "result_record", "to_report"]
