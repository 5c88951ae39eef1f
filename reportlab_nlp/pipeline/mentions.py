"""Stage 3: finding mentions, matched from the lexicon in ``rules/findings.yaml``.

Each label compiles to one regular expression of its phrases and patterns
(longest first), plus one for its fixed-state wordings ("heart size is normal"
is a negative mention of Cardiomegaly) and one for its exclusions ("pericardial
effusion" is no Pleural Effusion). Matching runs over the read sections only,
on the original text, so offsets need no mapping. A label's ``implies`` list
copies each of its mentions to the implied labels (Lung Nodule -> Lung Lesion).

Sets ``doc._.rl_mentions``: a list of :class:`Candidate`, sorted by offset.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from spacy.tokens import Doc

from ..rules import RuleSet, expand_macros, phrase_regex
from ..types import Section
from .matching import Hit, TriggerIndex, leftmost_longest, lower_same_length

NAME = "rl_mentions"


@dataclass(frozen=True)
class Candidate:
    """A lexicon match before assertion: label, span, sentence, fixed state."""

    label: str
    start: int
    end: int
    sentence: int
    section: str
    rule: str
    state: str = ""  # "", "negated", "uncertain", "present": fixed by the wording


@dataclass(frozen=True)
class _Rule:
    """What a lexicon regex stands for: its label, kind (main/state/exclusion) and wording."""

    label: str
    kind: str  # "main", "excl" or a state name
    description: str


class MentionMatcher:
    """spaCy component: find the lexicon's finding mentions in read sections."""

    def __init__(self, rules: RuleSet) -> None:
        entries: list[tuple[str, _Rule]] = []
        for f in rules.findings:
            where = (f.source, f"finding {f.label!r}")
            for ph in f.phrases:
                entries.append((phrase_regex(ph), _Rule(f.label, "main", f"phrase: {ph}")))
            for pat in f.patterns:
                entries.append(
                    (expand_macros(pat, rules.macros, where=where), _Rule(f.label, "main", f"pattern: {pat}"))
                )
            for state, pats in f.states.items():
                for pat in pats:
                    rx = expand_macros(pat, rules.macros, where=where)
                    entries.append((rx, _Rule(f.label, state, f"{state} wording: {pat}")))
            for ex in f.exclusions:
                entries.append((phrase_regex(ex), _Rule(f.label, "excl", f"exclusion: {ex}")))
            for pat in f.exclusion_patterns:
                rx = expand_macros(pat, rules.macros, where=where)
                entries.append((rx, _Rule(f.label, "excl", f"exclusion pattern: {pat}")))
        self.index: TriggerIndex[_Rule] = TriggerIndex(entries)
        self.implies = {f.label: f.implies for f in rules.findings}
        self.order = {f.label: i for i, f in enumerate(rules.findings)}

    def find(
        self, text: str, sections: tuple[Section, ...], sentences: tuple[tuple[int, int], ...]
    ) -> list[Candidate]:
        """Return the mentions in the read sections of ``text``, sorted by offset."""
        sent_starts = [s for s, _ in sentences]
        low = lower_same_length(text)
        out: list[Candidate] = []
        for section in sections:
            if not section.read or section.end <= section.start:
                continue
            groups: dict[tuple[str, str], list[Hit[_Rule]]] = {}
            for hit in self.index.find(text, low, section.start, section.end):
                groups.setdefault((hit.payload.label, hit.payload.kind), []).append(hit)
            for (label, kind), hits in groups.items():
                if kind == "excl":
                    continue
                excluded = [(h.start, h.end) for h in groups.get((label, "excl"), ())]
                for hit in leftmost_longest(hits):
                    start, end = hit.start, hit.end
                    while end > start and text[end - 1].isspace():
                        end -= 1
                    if any(s <= start and end <= e for s, e in excluded):
                        continue  # inside an excluded wording ("pericardial effusion")
                    i = bisect.bisect_right(sent_starts, start) - 1
                    if i < 0 or end > sentences[i][1]:
                        continue  # crosses a sentence boundary or lies outside any sentence
                    state = "" if kind == "main" else kind
                    rule = hit.payload.description
                    out.append(Candidate(label, start, end, i, section.category, rule, state))
                    for implied in self.implies.get(label, ()):
                        out.append(
                            Candidate(
                                implied, start, end, i, section.category, f"{rule} (via {label})", state
                            )
                        )
        out.sort(key=lambda c: (c.start, c.end, self.order.get(c.label, 0)))
        return out

    def __call__(self, doc: Doc) -> Doc:
        doc._.rl_mentions = self.find(doc._.rl_text, doc._.rl_sections, doc._.rl_sentences)
        return doc
