"""Stage 3: finding mentions, matched from the lexicon in ``rules/findings.yaml``.

Each label compiles to one regular expression of its phrases and patterns
(longest first), plus one for its fixed-state wordings ("heart size is normal"
is a negative mention of Cardiomegaly) and one for its exclusions ("pericardial
effusion" is no Pleural Effusion). Matching runs over the read sections only,
on the original text, so offsets need no mapping. A label's ``implies`` list
copies each of its mentions to the implied labels (Lung Nodule -> Lung Lesion;
a device -> Support Devices), unless the implied label has a mention of its own
at the same place.

The statements of categorical labels (``rules/categories.yaml``: "Commonly
reported imaging features of COVID-19 pneumonia are present") are matched in
the same pass; they take no assertion. So are the modifier words of
``rules/modifiers.yaml`` ("left", "small", "increased"), which the attributes
stage attaches to mentions: one pass over the text serves three stages.

Sets ``doc._.rl_mentions``: a list of :class:`Candidate`, sorted by offset;
``doc._.rl_category_hits``: a list of :class:`CategoryHit`; and
``doc._.rl_modifier_hits``: a list of
:class:`~reportlab_nlp.pipeline.attributes.Modifier` (both sorted by offset).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import NamedTuple

from spacy.tokens import Doc

from ..rules import RuleSet, expand_macros, phrase_regex
from ..types import Assertion, Mention, Section
from .attributes import Modifier
from .invisible import find_visible
from .matching import Hit, TriggerIndex, leftmost_longest, lower_same_length

NAME = "rl_mentions"


class Candidate(NamedTuple):
    """A lexicon match before assertion: label, span, sentence, fixed state."""

    label: str
    start: int
    end: int
    sentence: int
    section: str
    rule: str
    state: str = ""  # "", "negated", "uncertain", "present": fixed by the wording


def span_mention(
    label: str,
    text: str,
    span: tuple[int, int],
    sentence: tuple[int, int],
    section: str,
    assertion: Assertion,
    rule: str,
    cue: tuple[str, int, int] = ("", -1, -1),
) -> Mention:
    """The evidence record of a matched span: its text, its sentence's text and offsets,
    its section and assertion, and the cue (text, start, end; none: ``("", -1, -1)``)."""
    (start, end), (s, e) = span, sentence
    return Mention(
        label=label,
        text=text[start:end],
        start=start,
        end=end,
        sentence=text[s:e],
        sentence_start=s,
        sentence_end=e,
        section=section,
        assertion=assertion,
        cue=cue[0],
        cue_start=cue[1],
        cue_end=cue[2],
        rule=rule,
    )


class CategoryHit(NamedTuple):
    """A statement of a categorical label's value: category, value, span, sentence."""

    category: str
    value: str
    start: int
    end: int
    sentence: int
    section: str
    rule: str


@dataclass(frozen=True)
class _Rule:
    """What a lexicon regex stands for: its label, kind (main/state/exclusion) and wording."""

    label: str
    kind: str  # "main", "excl", a state name, "cat" / "catx" (a category value / its exclusion), "mod"
    description: str
    value: str = ""  # the category value of a "cat" / "catx" rule, the attribute value of a "mod" rule


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
        for cat in rules.categories:
            where = (cat.source, f"category {cat.name!r}")
            for v in cat.values:
                for ph in v.phrases:
                    entries.append(
                        (phrase_regex(ph, plural=False), _Rule(cat.name, "cat", f"{v.value}: {ph}", v.value))
                    )
                for pat in v.patterns:
                    rx = expand_macros(pat, rules.macros, where=where)
                    entries.append((rx, _Rule(cat.name, "cat", f"{v.value}: {pat}", v.value)))
                for ph in v.exclusions:
                    rx = phrase_regex(ph, plural=False)
                    entries.append((rx, _Rule(cat.name, "catx", f"exclusion: {ph}", v.value)))
                for pat in v.exclusion_patterns:
                    rx = expand_macros(pat, rules.macros, where=where)
                    entries.append((rx, _Rule(cat.name, "catx", f"exclusion pattern: {pat}", v.value)))
        for m in rules.modifiers.rules:
            entries.append((m.regex, _Rule(m.attribute, "mod", m.text, m.value)))
        self.index: TriggerIndex[_Rule] = TriggerIndex(entries)
        self.implies = {f.label: f.implies for f in rules.findings}
        self.order = {f.label: i for i, f in enumerate(rules.findings)}

    def find(
        self, text: str, sections: tuple[Section, ...], sentences: tuple[tuple[int, int], ...]
    ) -> list[Candidate]:
        """Return the mentions in the read sections of ``text``, sorted by offset."""
        return self.find_all(text, sections, sentences)[0]

    def find_all(
        self, text: str, sections: tuple[Section, ...], sentences: tuple[tuple[int, int], ...]
    ) -> tuple[list[Candidate], list[CategoryHit], list[Modifier]]:
        """Return the mentions, the category statements and the modifier words in the read
        sections of ``text``."""
        sent_starts = [s for s, _ in sentences]
        low = lower_same_length(text)
        out: list[Candidate] = []
        implied_out: list[Candidate] = []
        categories: list[CategoryHit] = []
        modifiers: list[Modifier] = []
        for section in sections:
            if not section.read or section.end <= section.start:
                continue
            groups: dict[tuple[str, str], list[Hit[_Rule]]] = {}
            for hit in self.index.find(text, low, section.start, section.end):
                groups.setdefault((hit.payload.label, hit.payload.kind), []).append(hit)
            for (label, kind), hits in groups.items():
                if kind == "excl" or kind == "catx":
                    continue
                if kind == "mod":  # per attribute, the longest of overlapping wordings
                    for hit in leftmost_longest(hits):
                        start, end = hit.start, hit.end
                        while end > start and text[end - 1].isspace():
                            end -= 1
                        modifiers.append(Modifier(label, hit.payload.value, start, end))
                    continue
                if kind == "cat":
                    categories.extend(
                        self._categories(text, sentences, sent_starts, section, label, hits, groups)
                    )
                    continue
                excluded = [(h.start, h.end) for h in groups.get((label, "excl"), ())]
                for hit in leftmost_longest(hits):
                    start, end = hit.start, hit.end
                    while end > start and text[end - 1].isspace():
                        end -= 1
                    if kind == "main" and any(s <= start and end <= e for s, e in excluded):
                        continue  # inside an excluded wording ("pericardial effusion"); states stand
                    i = bisect.bisect_right(sent_starts, start) - 1
                    if i < 0 or end > sentences[i][1]:
                        continue  # crosses a sentence boundary or lies outside any sentence
                    state = "" if kind == "main" else kind
                    rule = hit.payload.description
                    out.append(Candidate(label, start, end, i, section.category, rule, state))
                    for implied in self.implies.get(label, ()):
                        implied_out.append(
                            Candidate(
                                implied, start, end, i, section.category, f"{rule} (via {label})", state
                            )
                        )
        if implied_out:
            # an implied mention adds nothing where the label has its own mention at the same
            # place ("endotracheal tube" is a Support Devices phrase too): keep one
            own = {(c.label, c.start, c.end, c.state) for c in out}
            seen: set[tuple[str, int, int, str]] = set()
            for c in implied_out:
                key = (c.label, c.start, c.end, c.state)
                if key not in own and key not in seen:
                    seen.add(key)
                    out.append(c)
        out.sort(key=lambda c: (c.start, c.end, self.order.get(c.label, 0)))
        categories.sort(key=lambda h: (h.start, h.end))
        modifiers.sort(key=lambda m: (m.start, m.end))
        return out, categories, modifiers

    @staticmethod
    def _categories(
        text: str,
        sentences: tuple[tuple[int, int], ...],
        sent_starts: list[int],
        section: Section,
        category: str,
        hits: list[Hit[_Rule]],
        groups: dict[tuple[str, str], list[Hit[_Rule]]],
    ) -> list[CategoryHit]:
        """The statements of one category's values: the longest of overlapping ones,
        not inside an exclusion of the same value, within one sentence."""
        excluded = [(h.start, h.end, h.payload.value) for h in groups.get((category, "catx"), ())]
        found = []
        for hit in leftmost_longest(hits):
            start, end = hit.start, hit.end
            while end > start and text[end - 1].isspace():
                end -= 1
            value = hit.payload.value
            if any(s <= start and end <= e and v == value for s, e, v in excluded):
                continue
            i = bisect.bisect_right(sent_starts, start) - 1
            if i < 0 or end > sentences[i][1]:
                continue
            found.append(
                CategoryHit(category, value, start, end, i, section.category, hit.payload.description)
            )
        return found

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._  # one Underscore for all the accesses (spaCy makes one per `doc._`)
        # zero-width characters and soft hyphens inside words hide no mention (offsets stay exact)
        ext.rl_mentions, ext.rl_category_hits, ext.rl_modifier_hits = find_visible(
            self.find_all, ext.rl_text, ext.rl_sections, ext.rl_sentences
        )
        return doc
