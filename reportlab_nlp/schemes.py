"""Label schemes over a rule set: look one up, project a result under its columns, shape a result.

One copy of the scheme logic, used by :class:`~reportlab_nlp.engines.Engine`
(which every command holds) and by :class:`~reportlab_nlp.Labeler`'s Python API
(which delegates here). It sits below both because :mod:`reportlab_nlp.engines`
builds labelers.
"""

from __future__ import annotations

from dataclasses import replace

from .errors import SchemeError
from .pipeline.labels import project
from .rules import RuleSet, Scheme
from .types import LabelValue, ReportLabels


def scheme_of(rules: RuleSet, name: str) -> Scheme:
    """The scheme called ``name`` in ``rules``.

    Raises
    ------
    SchemeError
        If the rules define no scheme of that name.
    """
    try:
        return rules.schemes[name]
    except KeyError:
        raise SchemeError(name, rules.schemes) from None


def scheme_values(rules: RuleSet, report: ReportLabels, scheme: str) -> list[tuple[str, str, LabelValue]]:
    """(column, label, value) triples of ``report`` (in any scheme: its full set is used) under ``scheme``."""
    return project(report.full or report, scheme_of(rules, scheme), rules.no_finding_blockers)


def columns(rules: RuleSet, scheme: str) -> list[str]:
    """Output column names of a scheme."""
    return [c for c, _ in scheme_of(rules, scheme).columns]


def shape(rules: RuleSet, report: ReportLabels, scheme: str) -> ReportLabels:
    """``report`` under a scheme: labels and evidence keyed by its columns, its categorical labels.

    The full scheme is the label set itself. The result keeps the full one as
    :attr:`ReportLabels.full`, so that it can be shaped again under another scheme.
    """
    full = report.full or report
    chosen = scheme_of(rules, scheme)
    if chosen.name == "full":
        return full
    triples = project(full, chosen, rules.no_finding_blockers)
    evidence = {col: full.evidence[label] for col, label, _ in triples if full.evidence.get(label)}
    categories = None
    if full.categories is not None:
        categories = {k: v for k, v in full.categories.items() if k in chosen.categories}
    return replace(
        full, labels={c: v for c, _, v in triples}, evidence=evidence, categories=categories, full=full
    )


__all__ = ["columns", "scheme_of", "scheme_values", "shape"]
