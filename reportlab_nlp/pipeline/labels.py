"""Stage 5: report-level labels, by the guidelines' aggregation.

Over the mentions of one label in one report: any present mention gives 1;
otherwise any uncertain mention gives -1; a hypothetical mention gives -1 only
when it is the label's only kind of mention; otherwise any negated mention
gives 0; otherwise blank. Historical mentions ("history of pneumonia") assert
nothing now. No Finding follows the scheme's policy.

A categorical label takes the value of its last statement in the report (the
impression comes last), with every statement as evidence, the chosen one last.

Sets ``doc._.rl_labels``: a :class:`~reportlab_nlp.types.ReportLabels` (id empty;
the labeler fills it in), with the report's metadata and categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from spacy.tokens import Doc

from ..rules import RuleSet, Scheme
from ..types import Assertion, CategoryValue, LabelValue, Mention, ReportLabels
from .mentions import CategoryHit, span_mention

NAME = "rl_labels"
NO_FINDING = "No Finding"


def aggregate(assertions: Iterable[Assertion]) -> LabelValue:
    """Report-level value of one label from the assertions of its mentions."""
    seen = set(assertions)
    if Assertion.PRESENT in seen:
        return LabelValue.POSITIVE
    if Assertion.UNCERTAIN in seen:
        return LabelValue.UNCERTAIN
    if Assertion.NEGATED in seen:
        return LabelValue.NEGATIVE
    if Assertion.HYPOTHETICAL in seen:
        return LabelValue.UNCERTAIN
    return LabelValue.BLANK


def no_finding(values: Mapping[str, LabelValue], blockers: Iterable[str]) -> LabelValue:
    """1 when none of ``blockers`` is 1 or -1, else blank."""
    hit = any(
        values.get(b, LabelValue.BLANK) in (LabelValue.POSITIVE, LabelValue.UNCERTAIN) for b in blockers
    )
    return LabelValue.BLANK if hit else LabelValue.POSITIVE


def project(
    report: ReportLabels, scheme: Scheme, blockers: Sequence[str]
) -> list[tuple[str, str, LabelValue]]:
    """(column, label, value) of one report under a scheme (No Finding per the scheme's policy)."""
    values = dict(report.labels)
    if scheme.no_finding == "any":
        nf_blockers: Iterable[str] = [k for k in values if k != NO_FINDING]
    else:
        nf_blockers = blockers
    # No Finding is blank in the full set only when nothing was read (an empty
    # report is not a normal one); keep it blank in every scheme then.
    unread = values.get(NO_FINDING) is LabelValue.BLANK and all(
        v is LabelValue.BLANK for k, v in values.items() if k != NO_FINDING
    )
    out = []
    for column, label in scheme.columns:
        if label == NO_FINDING:
            out.append((column, label, LabelValue.BLANK if unread else no_finding(values, nf_blockers)))
        else:
            out.append((column, label, values.get(label, LabelValue.BLANK)))
    return out


class LabelAggregator:
    """spaCy component: turn asserted mentions into report-level labels."""

    def __init__(self, rules: RuleSet) -> None:
        self.labels = rules.labels
        self.blockers = rules.no_finding_blockers
        self.categories = rules.categories

    def decide_categories(
        self, text: str, hits: Sequence[CategoryHit], sentences: Sequence[tuple[int, int]]
    ) -> dict[str, CategoryValue]:
        """The value of every categorical label: its last statement's, or None."""
        out: dict[str, CategoryValue] = {}
        for cat in self.categories:
            found = [h for h in hits if h.category == cat.name]
            if not found:
                out[cat.name] = CategoryValue(cat.name)
                continue
            evidence = [
                span_mention(
                    cat.name,
                    text,
                    (h.start, h.end),
                    sentences[h.sentence],
                    h.section,
                    Assertion.PRESENT,
                    h.rule,
                )
                for h in found
            ]
            value = cat.value(found[-1].value)
            export = {
                target: {"field": fieldname, "value": value.export[target]}
                for target, fieldname in cat.export.items()
            }
            out[cat.name] = CategoryValue(cat.name, value.value, export, tuple(evidence))
        return out

    def build(
        self, mentions: Sequence[Mention], *, empty: bool
    ) -> tuple[dict[str, LabelValue], dict[str, tuple[Mention, ...]]]:
        by_label: dict[str, list[Mention]] = {}
        for m in mentions:
            by_label.setdefault(m.label, []).append(m)
        values: dict[str, LabelValue] = {}
        evidence: dict[str, tuple[Mention, ...]] = {}
        blank = LabelValue.BLANK
        for label in self.labels:
            if label == NO_FINDING:
                continue
            ms = by_label.get(label)
            if not ms:  # most labels of a report: no mention, blank
                values[label] = blank
                continue
            value = aggregate(m.assertion for m in ms)
            values[label] = value
            if value is not blank:
                evidence[label] = tuple(ms)
        nf = LabelValue.BLANK if empty else no_finding(values, self.blockers)
        ordered = {label: (nf if label == NO_FINDING else values[label]) for label in self.labels}
        return ordered, evidence

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._  # one Underscore for all the accesses (spaCy makes one per `doc._`)
        text = ext.rl_text
        warnings: tuple[str, ...] = ()
        if not text.strip():
            warnings = ("empty report: no text to label",)
        elif not any(text[s.start : s.end].strip() for s in ext.rl_sections if s.read):
            warnings = (
                "no text to label: the report has only sections that are not read (indication, history, ...)",
            )
        values, evidence = self.build(ext.rl_asserted, empty=bool(warnings))
        hits = ext.rl_category_hits or ()
        ext.rl_labels = ReportLabels(
            id="",
            labels=values,
            evidence=evidence,
            warnings=warnings,
            sections=ext.rl_sections,
            metadata=dict(ext.rl_metadata or {}),
            categories=self.decide_categories(text, hits, ext.rl_sentences),
        )
        return doc
