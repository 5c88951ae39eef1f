"""The last step of loading: check the merged rules' cross-references and build the RuleSet."""

from __future__ import annotations

from ..errors import RulesError
from .builder import Builder, MergedFinding
from .patterns import check_regex, expand_macros, phrase_regex
from .types import FindingRule, ModifierSettings, RuleSet, Scheme


def build(b: Builder) -> RuleSet:
    """The :class:`RuleSet` of everything merged into ``b``.

    Raises
    ------
    RulesError
        For a regex that does not compile, an unknown label or category named by a
        scheme, ``implies`` or ``no_finding_blockers``, or a finding without wording.
    """
    findings = [_finding(b, label, f) for label, f in b.findings.items()]
    full_labels = _extend_full_scheme(b, [f.label for f in findings])
    _check_references(b, full_labels)
    order = {label: i for i, label in enumerate(full_labels)}
    findings.sort(key=lambda f: order[f.label])
    return RuleSet(
        findings=tuple(findings),
        macros=dict(b.macros),
        cues=tuple(b.cues),
        terminators=tuple(b.terminators),
        forward_terminators=tuple(b.forward_terminators),
        sections=tuple(b.sections.values()),
        schemes=dict(b.schemes),
        no_finding_blockers=tuple(b.blockers),
        sources=tuple(b.sources),
        categories=tuple(b.categories.values()),
        modifiers=ModifierSettings(
            attributes=tuple(b.attributes.values()),
            rules=tuple(b.modifier_rules),
            window=b.modifier_window,
            stops=tuple(b.modifier_stops),
            boundaries=tuple(b.modifier_boundaries),
        ),
        metadata=b.metadata,
        conventions=b.conventions,
    )


def _finding(b: Builder, label: str, f: MergedFinding) -> FindingRule:
    where = (f.source.split("+")[-1], f"finding {label!r}")
    for phrase in f.phrases + f.exclusions:
        check_regex(phrase_regex(phrase), where, phrase)
    for pat in f.patterns + f.exclusion_patterns + [p for v in f.states.values() for p in v]:
        check_regex(expand_macros(pat, b.macros, where=where), where, pat)
    for target in f.implies:
        if target not in b.findings and target != "No Finding":
            raise RulesError(where[0], where[1], f"implies unknown label {target!r}")
    if not (f.phrases or f.patterns or f.states):
        raise RulesError(where[0], where[1], "a finding needs at least one phrase, pattern or state")
    return f.rule(label)


def _extend_full_scheme(b: Builder, labels: list[str]) -> list[str]:
    """The full scheme's labels; labels added by a user's file join it at the end."""
    if "full" not in b.schemes:
        raise RulesError("schemes.yaml", "schemes", "the 'full' scheme is missing")
    full = b.schemes["full"]
    full_labels = [label for _, label in full.columns]
    extra = [label for label in labels if label not in full_labels]
    if extra:
        columns = full.columns + tuple((x, x) for x in extra)
        b.schemes["full"] = Scheme(full.name, full.description, columns, full.no_finding, full.categories)
        full_labels += extra
    return full_labels


def _check_references(b: Builder, full_labels: list[str]) -> None:
    known = set(b.findings) | {"No Finding"}
    for scheme in b.schemes.values():
        source = b.scheme_sources.get(scheme.name, "schemes.yaml")
        for col, label in scheme.columns:
            if label not in known:
                raise RulesError(
                    source, f"scheme {scheme.name!r}", f"column {col!r} names unknown label {label!r}"
                )
        for name in scheme.categories:
            if name not in b.categories:
                raise RulesError(
                    source, f"scheme {scheme.name!r}", f"unknown category {name!r} in 'categories'"
                )
    missing = [label for label in b.findings if label not in full_labels]
    if missing:
        raise RulesError("schemes.yaml", "scheme 'full'", f"labels missing from the full scheme: {missing}")
    for blocker in b.blockers:
        if blocker not in known:
            raise RulesError(b.blockers_source, "no_finding_blockers", f"unknown label {blocker!r}")
    clash = [c for c in b.categories if c in known]
    if clash:
        src = b.categories[clash[0]].source
        raise RulesError(src, f"category {clash[0]!r}", "a category may not share its name with a label")
