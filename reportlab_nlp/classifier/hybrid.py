"""The hybrid policy: rule labels and calibrated model probabilities combined, cell by cell.

For each label of a report (``t`` is the label's threshold from the manifest,
chosen on held-out reports; ``p`` the model's calibrated probability that the
finding is present, i.e. positive or uncertain):

1. **The rules found a definite mention** (value 1 or 0): the rules decide.
2. **The model is off for this label** (``t`` is None: on held-out reports no
   threshold beat the rules alone, or too few positives to tell): the rules decide.
3. **The rules gave -1 (uncertain) or blank**, and the model is on:
   the model decides, by its value at threshold ``t`` (:func:`model_value`):
   ``p >= t`` gives 1, or -1 when the model's uncertain class outweighs its
   positive one; ``p < t`` turns a rules -1 into the model's more likely
   absent class (0 or blank) and leaves a rules blank as it is (the model
   only adds findings to unmentioned labels; it never writes a negation the
   text does not hold).
4. ``No Finding`` is not decided by the model: it is derived again from the
   final values (1 when none of its blocking labels is 1 or -1), as the rules do.

Every cell where the rules' presence (1 or -1) and the model's (``p >= t``, or
0.5 when the model is off) differ is flagged as a :class:`ReviewFlag`,
whoever decided; the JSONL output lists them under ``review``.

Evidence stays honest: the rules' mentions are kept as they are; a value the
model decided (different from the rules') gets one evidence record with
``source: "model"`` and no span (``text`` empty, every offset -1), so nothing
points at text the model did not read as a span.

Thresholds (:func:`choose_thresholds`) are chosen per label, on held-out
reports, as the one that maximises the hybrid's F1 for that label against the
targets, trying from high to low and keeping the model off unless it beats
the rules alone strictly and puts right at least :data:`MIN_NET_CELLS` more
cells than it puts wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..pipeline.labels import NO_FINDING, no_finding
from ..types import Assertion, LabelValue, Mention, ReportLabels

DEFAULT_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(19, 0, -1))
"""Thresholds tried, high to low: 0.95, 0.90, ..., 0.05."""
MIN_NET_CELLS = 3
"""A label's model is turned on only if it puts right at least this many more held-out cells than wrong.

Chosen with the 5-fold cross-validation on the Open-i development reports in
view (so its figures there are slightly optimistic): with 1 or 2, a threshold
taken on a few lucky held-out cells cost up to 0.06 pooled F1 on a label (in
one fold, Edema's was taken on two cells and broke more than it fixed on the
fold's own reports); with 3 the hybrid stayed within 0.01 of the rules on
every label."""
OFF_THRESHOLD = 0.5
"""The presence cut used to flag disagreements on a label where the model is off."""

_ASSERTION = {
    LabelValue.POSITIVE: Assertion.PRESENT,
    LabelValue.NEGATIVE: Assertion.NEGATED,
    LabelValue.UNCERTAIN: Assertion.UNCERTAIN,
}
_PRESENT = (LabelValue.POSITIVE, LabelValue.UNCERTAIN)


@dataclass(frozen=True)
class ReviewFlag:
    """A label where rules and model disagree on presence: for a person to review.

    Attributes
    ----------
    label
        The label (full set name).
    rules
        The rules' value.
    model
        The model's value at the threshold.
    probability
        The model's calibrated probability that the finding is present.
    threshold
        The label's threshold (None: the model is off for this label).
    final
        The value the hybrid wrote.
    decided_by
        ``rules`` or ``model``.
    """

    label: str
    rules: LabelValue
    model: LabelValue
    probability: float
    threshold: float | None
    final: LabelValue
    decided_by: str

    def to_dict(self, column: str | None = None) -> dict[str, Any]:
        """The JSONL record (``column``: the label's name in the output scheme)."""
        return {
            "label": column or self.label,
            "rules": self.rules.to_json(),
            "model": self.model.to_json(),
            "probability": round(self.probability, 4),
            "threshold": self.threshold,
            "final": self.final.to_json(),
            "decided_by": self.decided_by,
        }


def model_value(probs: Sequence[float], present: float, threshold: float) -> LabelValue:
    """The model's value of one label at ``threshold``.

    Parameters
    ----------
    probs
        Class probabilities (blank, positive, negative, uncertain).
    present
        The calibrated probability of presence.
    threshold
        The presence cut.
    """
    if present >= threshold:
        return LabelValue.POSITIVE if probs[1] >= probs[3] else LabelValue.UNCERTAIN
    return LabelValue.NEGATIVE if probs[2] > probs[0] else LabelValue.BLANK


def model_mention(label: str, value: LabelValue, model_name: str) -> Mention:
    """The evidence record of a value the model gave: ``source: "model"``, no span."""
    return Mention(
        label=label,
        text="",
        start=-1,
        end=-1,
        sentence="",
        sentence_start=-1,
        sentence_end=-1,
        section="",
        assertion=_ASSERTION[value],
        rule=f"model:{model_name}",
        source="model",
        attributes={},
        attribute_spans={},
    )


def combine(
    rules: ReportLabels,
    *,
    probs: Mapping[str, Sequence[float]],
    present: Mapping[str, float],
    thresholds: Mapping[str, float | None],
    blockers: Sequence[str],
    model_name: str,
) -> tuple[ReportLabels, tuple[ReviewFlag, ...]]:
    """Apply the policy of the module to one report.

    Parameters
    ----------
    rules
        The rule labeler's result.
    probs
        The model's class probabilities per label (blank, positive, negative, uncertain).
    present
        The model's calibrated presence probability per label.
    thresholds
        Per label: the threshold, or None where the model is off. A label the
        model does not know (absent from ``present``) is left to the rules.
    blockers
        The labels whose presence blocks No Finding (the rules' list).
    model_name
        Named in the model's evidence records.

    Returns
    -------
    (ReportLabels, tuple of ReviewFlag)
        The combined labels (rules' id, sections, warnings, metadata kept) and the flags.
    """
    values = dict(rules.labels)
    evidence = {k: tuple(v) for k, v in rules.evidence.items()}
    flags: list[ReviewFlag] = []
    changed = False
    for label, r in rules.labels.items():
        if label == NO_FINDING or label not in present:
            continue
        p = float(present[label])
        t = thresholds.get(label)
        cut = OFF_THRESHOLD if t is None else t
        flagged = (r in _PRESENT) != (p >= cut)
        if r in (LabelValue.POSITIVE, LabelValue.NEGATIVE) or t is None:
            if flagged:  # the model's value is needed only for the flag
                flags.append(ReviewFlag(label, r, model_value(probs[label], p, cut), p, t, r, "rules"))
            continue
        m = model_value(probs[label], p, cut)
        if p >= t or r is LabelValue.UNCERTAIN:
            final, by = m, "model"
        else:
            final, by = r, "rules"  # rules blank, model below threshold: stays blank
        if final is not r:
            changed = True
            values[label] = final
            if final is not LabelValue.BLANK:
                evidence[label] = (*evidence.get(label, ()), model_mention(label, final, model_name))
        if flagged:
            flags.append(ReviewFlag(label, r, m, p, t, final, by))
    if changed and NO_FINDING in values:
        unread = all(v is LabelValue.BLANK for k, v in values.items() if k != NO_FINDING)
        values[NO_FINDING] = LabelValue.BLANK if unread else no_finding(values, blockers)
    return replace(rules, labels=values, evidence=evidence), tuple(flags)


def _f1(truth: Sequence[bool], pred: Sequence[bool]) -> float:
    tp = sum(t and p for t, p in zip(truth, pred, strict=True))
    fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
    fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def hybrid_present(
    rules: Sequence[LabelValue], present: Sequence[float], threshold: float | None
) -> list[bool]:
    """The hybrid's presence for one label over reports (the policy of :func:`combine`)."""
    out = []
    for r, p in zip(rules, present, strict=True):
        if r in (LabelValue.POSITIVE, LabelValue.NEGATIVE) or threshold is None:
            out.append(r in _PRESENT)
        else:
            out.append(p >= threshold)
    return out


def choose_thresholds(
    labels: Sequence[str],
    rules: Sequence[Sequence[LabelValue]],
    present: Sequence[Sequence[float]],
    truth: Sequence[Sequence[bool]],
    *,
    grid: Sequence[float] = DEFAULT_GRID,
    min_positives: int = 3,
    min_net_cells: int = MIN_NET_CELLS,
) -> tuple[dict[str, float | None], dict[str, dict[str, Any]]]:
    """Per-label thresholds for the hybrid, chosen on held-out reports.

    Parameters
    ----------
    labels
        The label order.
    rules, present, truth
        Per report, per label: the rules' value, the model's calibrated
        presence probability, and whether the finding is present (the target).
    grid
        Thresholds tried, in order (high to low keeps ties conservative).
    min_positives
        A label with fewer present targets keeps the model off.
    min_net_cells
        A threshold is taken only if, on these reports, the model's decisions
        put right at least this many more cells than they put wrong (besides
        raising F1): one or two lucky cells of a few hundred reports are noise.

    Returns
    -------
    (thresholds, details)
        ``thresholds[label]`` is a float or None (model off); ``details[label]``
        holds the positives, the rules' F1, the hybrid's F1 at the choice and
        the cells the model put right and wrong there.
    """
    thresholds: dict[str, float | None] = {}
    details: dict[str, dict[str, Any]] = {}
    for j, label in enumerate(labels):
        col_r = [row[j] for row in rules]
        col_p = [float(row[j]) for row in present]
        col_t = [bool(row[j]) for row in truth]
        positives = sum(col_t)
        plain = hybrid_present(col_r, col_p, None)
        base = _f1(col_t, plain)
        best_f1, best_t, best_fixed, best_broken = base, None, 0, 0
        if label != NO_FINDING and positives >= min_positives:
            for t in grid:
                mixed = hybrid_present(col_r, col_p, t)
                f1 = _f1(col_t, mixed)
                changed = [(m, truth_) for m, r, truth_ in zip(mixed, plain, col_t, strict=True) if m != r]
                fixed = sum(m == truth_ for m, truth_ in changed)
                broken = len(changed) - fixed
                if f1 > best_f1 + 1e-12 and fixed - broken >= min_net_cells:
                    best_f1, best_t, best_fixed, best_broken = f1, float(t), fixed, broken
        thresholds[label] = best_t
        details[label] = {
            "positives": positives,
            "rules_f1": round(base, 4),
            "hybrid_f1": round(best_f1, 4),
            "cells_fixed": best_fixed,
            "cells_broken": best_broken,
        }
    return thresholds, details


__all__ = [
    "DEFAULT_GRID",
    "MIN_NET_CELLS",
    "OFF_THRESHOLD",
    "ReviewFlag",
    "choose_thresholds",
    "combine",
    "hybrid_present",
    "model_mention",
    "model_value",
]
