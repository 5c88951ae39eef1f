"""The label reference, generated from the rules data: ``docs/labels.md`` and ``reportlab-nlp labels``.

One source of truth: the definitions, the hierarchy (``implies``), the codes,
the wordings, the schemes, the categorical labels, the attributes and the
metadata fields all come from the loaded :class:`~reportlab_nlp.rules.RuleSet`;
``make docs`` writes :func:`markdown` to ``docs/labels.md`` and a test checks
that the file is current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import Conventions, RuleSet, Scheme

NO_FINDING = "No Finding"
_NO_FINDING_POLICY = {
    "pathology": "1 when none of the CheXpert pathologies is 1 or -1",
    "any": "1 when no label of the full set is 1 or -1",
}


@dataclass(frozen=True)
class LabelRow:
    """One label of a scheme, as the reference shows it."""

    column: str
    label: str
    parent: tuple[str, ...]
    definition: str
    codes: str
    phrases: int
    patterns: int
    states: int = 0


def format_codes(codes: Mapping[str, Any]) -> str:
    """``{"SCT": "16838000"}`` -> ``SCT 16838000`` (several joined by ``; ``)."""
    parts: list[str] = []
    for scheme, code in codes.items():
        values = code if isinstance(code, list | tuple) else [code]
        parts.extend(f"{scheme} {v}" for v in values)
    return "; ".join(parts)


def label_rows(rules: RuleSet, scheme: str = "full") -> list[LabelRow]:
    """The rows of a scheme's label table, in column order (No Finding included, computed)."""
    defs = {f.label: f for f in rules.findings}
    rows = []
    for column, label in rules.schemes[scheme].columns:
        f = defs.get(label)
        if f is None:
            policy = _NO_FINDING_POLICY.get(rules.schemes[scheme].no_finding, "")
            rows.append(LabelRow(column, label, (), f"computed: {policy}", "", 0, 0, 0))
            continue
        rows.append(
            LabelRow(
                column,
                label,
                f.implies,
                f.definition,
                format_codes(f.codes),
                len(f.phrases),
                len(f.patterns),
                sum(len(v) for v in f.states.values()),
            )
        )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def _schemes_of(rules: RuleSet) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, scheme in rules.schemes.items():
        if name == "full":
            continue
        for _, label in scheme.columns:
            out.setdefault(label, []).append(name)
    return out


def _scheme_columns(scheme: Scheme) -> str:
    cols = [col if col == label else f"{col} (= {label})" for col, label in scheme.columns]
    return ", ".join(cols + [f"{c} (category)" for c in scheme.categories])


def markdown(rules: RuleSet) -> str:
    """The label reference as Markdown (the content of ``docs/labels.md``)."""
    lines: list[str] = [
        "# Label reference",
        "",
        "<!-- Generated from reportlab_nlp/rules/*.yaml by `make docs`; do not edit by hand. -->",
        "",
        "Every label of the full set, in the order of the `full` scheme, with its parent in",
        "the hierarchy (a mention of the label is also a mention of its parent: `implies`),",
        "its one-line definition, its codes, how many phrases, patterns and fixed-state",
        "wordings mention it, and the other schemes that carry it. Label semantics: the",
        "project's label guidelines; `reportlab-nlp labels` prints the same per scheme.",
        "",
        f"## Labels ({len(rules.labels)})",
        "",
        "| # | label | parent | definition | codes | phrases | patterns | states | schemes |",
        "| ---: | --- | --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    in_schemes = _schemes_of(rules)
    for i, row in enumerate(label_rows(rules), start=1):
        schemes = ", ".join(in_schemes.get(row.label, []))
        lines.append(
            f"| {i} | {_cell(row.label)} | {_cell(', '.join(row.parent))} | {_cell(row.definition)} | "
            f"{_cell(row.codes)} | {row.phrases} | {row.patterns} | {row.states} | {_cell(schemes)} |"
        )
    lines += _conventions_section(rules)
    lines += [
        "",
        "## Categorical labels",
        "",
        "One value per report, read from the wording that states it (`rules/categories.yaml`);",
        "the last statement in the report wins. In the JSONL record under `categories`; in a",
        "CSV, one column after the label columns in the schemes that carry it.",
        "",
    ]
    for cat in rules.categories:
        exports = ", ".join(f"{target}: `{field}`" for target, field in cat.export.items())
        lines += [
            f"### {cat.name}",
            "",
            cat.definition,
            "",
            f"Exported as {exports}." if exports else "",
            "",
            "| value | definition | " + " | ".join(f"{t} value" for t in cat.export) + " | wordings |",
            "| --- | --- | " + " | ".join("---" for _ in cat.export) + " | ---: |",
        ]
        for v in cat.values:
            targets = " | ".join(f"`{v.export.get(t, '')}`" for t in cat.export)
            n = len(v.phrases) + len(v.patterns)
            lines.append(f"| {_cell(v.value)} | {_cell(v.definition)} | {targets} | {n} |")
        lines.append("")
    lines += [
        "## Schemes",
        "",
        "| scheme | description | No Finding | columns |",
        "| --- | --- | --- | --- |",
    ]
    for name, scheme in rules.schemes.items():
        has_nf = any(label == NO_FINDING for _, label in scheme.columns)
        policy = _NO_FINDING_POLICY.get(scheme.no_finding, scheme.no_finding) if has_nf else "-"
        columns = "every label above" if name == "full" else _scheme_columns(scheme)
        lines.append(f"| `{name}` | {_cell(scheme.description)} | {_cell(policy)} | {_cell(columns)} |")
    lines += [
        "",
        "## Attributes of mentions",
        "",
        "Every mention in the JSONL evidence has `attributes` (and `attribute_spans`, offsets",
        "inside its sentence) read from `rules/modifiers.yaml`, at most "
        f"{rules.modifiers.window} words from the mention.",
        "",
        "| attribute | values | read inside the matched wording |",
        "| --- | --- | --- |",
    ]
    for a in rules.modifiers.attributes:
        combine = "; ".join(f"{' + '.join(parts)} = {into}" for parts, into in a.combine)
        shown = ", ".join(a.values) + (f" ({combine})" if combine else "")
        lines.append(f"| {a.name} | {_cell(shown)} | {'yes' if a.inside else 'no'} |")
    lines += [
        "",
        "## Report metadata",
        "",
        "Read from "
        + ", ".join(f"`{s}`" for s in rules.metadata.sources)
        + " (in that order of preference),",
        "in the JSONL record under `metadata` (`rules/metadata.yaml`).",
        "",
        "| field | values |",
        "| --- | --- |",
    ]
    for f in rules.metadata.fields:
        values: list[str] = []
        for value, _, _ in f.values:
            if value not in values:
                values.append(value)
        several = f" (several joined by `{rules.metadata.separator}`)" if f.multiple else ""
        lines.append(f"| {f.name} | {_cell(', '.join(values))}{several} |")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def _conventions_line(c: Conventions) -> str:
    return (
        f"conventions {c.name}: {c.description} (weak hedges: {c.weak_hedge}; strong hedges: "
        f"{c.strong_hedge}; hypothetical: {c.hypothetical}; see docs/conventions.md)"
    )


def _conventions_section(rules: RuleSet) -> list[str]:
    """Each scheme's convention profile (``rules/profiles/``), as a Markdown table."""
    from . import load_rules

    lines = [
        "",
        "## Schemes and their conventions",
        "",
        "Choosing a scheme applies its convention profile (`rules/profiles/NAME.yaml`);",
        "`--conventions NAME|none` overrides it. The conventions, one by one: docs/conventions.md.",
        "",
        "| scheme | conventions | weak hedges | strong hedges | hypothetical | what |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, scheme in rules.schemes.items():
        c = load_rules([scheme.conventions]).conventions if scheme.conventions else rules.conventions
        codes = f"{c.weak_hedge} | {c.strong_hedge} | {c.hypothetical}"
        lines.append(f"| {name} | {c.name} | {codes} | {_cell(c.description)} |")
    return lines


def text(rules: RuleSet, scheme: str = "full") -> str:
    """The plain-text listing of ``reportlab-nlp labels``: one line per column, then the categories."""
    s = rules.schemes[scheme]
    rows = label_rows(rules, scheme)
    width = max([len(r.column) for r in rows] + [len(c) for c in s.categories]) + 2
    out = [f"scheme {s.name}: {s.description}", _conventions_line(rules.conventions)]
    for r in rows:
        alias = f" (= {r.label})" if r.column != r.label else ""
        if r.label == NO_FINDING and not r.phrases:
            out.append(f"{r.column:<{width}}{r.definition}{alias}")
            continue
        facts = []
        if r.parent:
            facts.append(f"parent: {', '.join(r.parent)}")
        if r.codes:
            facts.append(f"codes: {r.codes}")
        states = f", {r.states} state wordings" if r.states else ""
        facts.append(f"{r.phrases} phrases, {r.patterns} patterns{states}")
        out.append(f"{r.column:<{width}}{r.definition}{alias} [{'; '.join(facts)}]")
    for name in s.categories:
        cat = rules.category(name)
        values = " | ".join(v.value for v in cat.values)
        exports = "; ".join(f"{t}: {f}" for t, f in cat.export.items())
        out.append(f"{name:<{width}}category: {values}" + (f" [{exports}]" if exports else ""))
    return "\n".join(out) + "\n"
