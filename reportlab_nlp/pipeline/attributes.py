"""Stage 5: attributes. What the sentence says of each mention: laterality,
severity or size, temporal change and location, from ``rules/modifiers.yaml``.

A modifier ("left", "small", "increased", "right lower lobe") describes a
mention in its own sentence, at most ``window`` words away and not across a
stop (";", "but", "which", ...). Words inside the matched wording count for
the attributes that allow it ("the heart is mildly enlarged": severity mild).
A modifier between two mentions describes the one on its side of a boundary
(a comma, "and", "with"): "right effusion, left lower lobe atelectasis"; with
no boundary or one on both sides, the mention after it ("stable left
effusion"), or the one before it when none follows. Of several values of one
attribute, the nearest wins, unless together they make another (left and right:
bilateral). Attributes never change an assertion or a label.

Sets each mention's ``attributes`` and ``attribute_spans`` (offsets into the
text, inside the mention's sentence) in ``doc._.rl_asserted``. The modifier
words come from the mentions stage (``doc._.rl_modifier_hits``), which finds
them in its pass over the text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from spacy.tokens import Doc

from ..rules import RuleSet
from ..types import Mention
from .matching import Hit, TriggerIndex, leftmost_longest, lower_same_length

NAME = "rl_attributes"

_WORD = re.compile(r"[A-Za-z0-9]+")
_NEVER = r"(?!x)x"
_EMPTY: Mapping[str, str] = {}  # never handed out: callers copy what attributes_of returns
_EMPTY_SPANS: Mapping[str, tuple[int, int]] = {}


class Modifier(NamedTuple):
    """A modifier found in a sentence: attribute, value, span."""

    attribute: str
    value: str
    start: int
    end: int


class AttributeDetector:
    """spaCy component: attach the stated attributes to each asserted mention."""

    def __init__(self, rules: RuleSet) -> None:
        settings = rules.modifiers
        self.index: TriggerIndex[tuple[str, str]] = TriggerIndex(
            [(m.regex, (m.attribute, m.value)) for m in settings.rules]
        )
        self.inside = {a.name: a.inside for a in settings.attributes}
        self.combine = {a.name: a.combine for a in settings.attributes}
        self.order = {a.name: i for i, a in enumerate(settings.attributes)}
        self.window = settings.window
        self.stops = re.compile("|".join(f"(?:{t})" for t in settings.stops) or _NEVER, re.IGNORECASE)
        self.boundaries = re.compile(
            "|".join(f"(?:{t})" for t in settings.boundaries) or _NEVER, re.IGNORECASE
        )

    def modifiers_in(self, text: str, low: str, start: int, end: int) -> list[Modifier]:
        """The modifiers of ``text[start:end]``: per attribute, the longest of overlapping wordings."""
        by_attribute: dict[str, list[Hit[tuple[str, str]]]] = {}
        for hit in self.index.find(text, low, start, end):
            by_attribute.setdefault(hit.payload[0], []).append(hit)
        out = []
        for attribute, hits in by_attribute.items():
            for hit in leftmost_longest(hits):
                s, e = hit.start, hit.end
                while e > s and text[e - 1].isspace():
                    e -= 1
                out.append(Modifier(attribute, hit.payload[1], s, e))
        return out

    def _reach(self, text: str, a: int, b: int) -> bool:
        """Whether a modifier reaches across ``text[a:b]`` (the words between it and a mention)."""
        if self.stops.search(text, a, b):
            return False
        return len(_WORD.findall(text, a, b)) <= self.window

    def assign(
        self, text: str, spans: Sequence[tuple[int, int]], modifiers: Sequence[Modifier]
    ) -> dict[tuple[int, int], dict[str, list[tuple[int, Modifier]]]]:
        """Which mention spans each modifier describes: {span: {attribute: [(distance, modifier)]}}."""
        ordered = sorted(set(spans))
        if len(ordered) == 1:  # one mention in the sentence (the usual case): no neighbour to weigh
            return self._assign_one(text, ordered[0], modifiers)
        # clusters of overlapping spans: a modifier before or after one describes them all
        clusters: list[tuple[int, int, list[tuple[int, int]]]] = []
        for s, e in ordered:
            if clusters and s < clusters[-1][1]:
                cs, ce, members = clusters[-1]
                members.append((s, e))
                clusters[-1] = (cs, max(ce, e), members)
            else:
                clusters.append((s, e, [(s, e)]))
        starts = [c[0] for c in clusters]
        out: dict[tuple[int, int], dict[str, list[tuple[int, Modifier]]]] = {}

        def attach(targets: Sequence[tuple[int, int]], distance: int, m: Modifier) -> None:
            for span in targets:
                out.setdefault(span, {}).setdefault(m.attribute, []).append((distance, m))

        for m in modifiers:
            overlapping = [(s, e) for s, e in ordered if s < m.end and m.start < e]
            if overlapping:
                if self.inside.get(m.attribute, True):
                    attach(overlapping, 0, m)
                continue  # words of a mention's own wording describe no other mention
            i = bisect.bisect_left(starts, m.end)  # the first cluster starting after the modifier
            before = clusters[i - 1] if i > 0 and clusters[i - 1][1] <= m.start else None
            after = clusters[i] if i < len(clusters) else None
            if before is not None and not self._reach(text, before[1], m.start):
                before = None
            if after is not None and not self._reach(text, m.end, after[0]):
                after = None
            if before is not None and after is not None:
                break_before = self.boundaries.search(text, before[1], m.start) is not None
                break_after = self.boundaries.search(text, m.end, after[0]) is not None
                if break_after and not break_before:
                    after = None
                else:
                    before = None
            if after is not None:
                attach(after[2], after[0] - m.end, m)
            elif before is not None:
                attach(before[2], m.start - before[1], m)
        return out

    def _assign_one(
        self, text: str, span: tuple[int, int], modifiers: Sequence[Modifier]
    ) -> dict[tuple[int, int], dict[str, list[tuple[int, Modifier]]]]:
        """:meth:`assign` for a sentence with a single mention span."""
        s, e = span
        found: dict[str, list[tuple[int, Modifier]]] = {}
        for m in modifiers:
            if m.start < e and s < m.end:
                if self.inside.get(m.attribute, True):
                    found.setdefault(m.attribute, []).append((0, m))
            elif m.end <= s:
                if self._reach(text, m.end, s):
                    found.setdefault(m.attribute, []).append((s - m.end, m))
            elif self._reach(text, e, m.start):
                found.setdefault(m.attribute, []).append((m.start - e, m))
        return {span: found} if found else {}

    def decide(
        self, found: dict[str, list[tuple[int, Modifier]]]
    ) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
        """One value per attribute: a combination if its parts are all there, else the nearest."""
        values: dict[str, str] = {}
        spans: dict[str, tuple[int, int]] = {}
        for attribute in sorted(found, key=lambda a: self.order.get(a, len(self.order))):
            hits = found[attribute]
            stated = {m.value for _, m in hits}
            chosen: tuple[str, int, int] | None = None
            for parts, into in self.combine.get(attribute, ()):
                if all(p in stated for p in parts):
                    used = [m for _, m in hits if m.value in parts]
                    chosen = (into, min(m.start for m in used), max(m.end for m in used))
                    break
            if chosen is None:
                _, m = min(hits, key=lambda h: (h[0], h[1].start))
                chosen = (m.value, m.start, m.end)
            values[attribute] = chosen[0]
            spans[attribute] = (chosen[1], chosen[2])
        return values, spans

    def attributes_of(
        self, text: str, mentions: Sequence[Mention], modifiers: Sequence[Modifier] | None = None
    ) -> list[tuple[Mapping[str, str], Mapping[str, tuple[int, int]]]]:
        """(attributes, attribute spans) of each mention, in order.

        ``modifiers``: the modifier words of the text, sorted by offset, when the
        mentions stage has found them (its one pass over the text); else each
        mention's sentence is scanned here. The mappings returned are shared
        (mentions of one span, and all that no modifier reaches): copy them.
        """
        none = (_EMPTY, _EMPTY_SPANS)
        if not mentions:
            return []
        if modifiers is not None and not modifiers:
            return [none] * len(mentions)  # no modifier word in the report: nothing to read
        low = lower_same_length(text) if modifiers is None else text
        by_sentence: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for m in mentions:
            by_sentence.setdefault((m.sentence_start, m.sentence_end), []).append((m.start, m.end))
        starts = [m.start for m in modifiers] if modifiers is not None else []
        decided: dict[tuple[int, int, int, int], tuple[Mapping[str, str], Mapping[str, tuple[int, int]]]] = {}
        for (s, e), spans in by_sentence.items():
            if modifiers is None:
                found = self.modifiers_in(text, low, s, e)
            else:
                lo = bisect.bisect_left(starts, s)
                hi = bisect.bisect_left(starts, e, lo)
                found = [m for m in modifiers[lo:hi] if m.end <= e] if hi > lo else []
            if not found:
                continue
            assigned = self.assign(text, spans, found)
            for span in spans:
                hits = assigned.get(span)
                if hits:
                    decided[(s, e, *span)] = self.decide(hits)
        if not decided:
            return [none] * len(mentions)
        return [decided.get((m.sentence_start, m.sentence_end, m.start, m.end), none) for m in mentions]

    def run(
        self, text: str, mentions: Sequence[Mention], modifiers: Sequence[Modifier] | None = None
    ) -> list[Mention]:
        """The mentions with their attributes (and attribute spans) set: new objects."""
        return [
            replace(m, attributes=dict(values), attribute_spans=dict(spans))
            for m, (values, spans) in zip(
                mentions, self.attributes_of(text, mentions, modifiers), strict=True
            )
        ]

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        mentions = ext.rl_asserted
        found = self.attributes_of(ext.rl_text, mentions, ext.rl_modifier_hits)
        setattr_ = object.__setattr__
        for m, (values, spans) in zip(mentions, found, strict=True):
            # the mentions the assertion stage has just made, not yet seen by anyone else: they
            # are completed in place (dataclasses.replace would cost more than the rest of this
            # stage); each gets its own mappings (they are pickled to worker processes and back)
            setattr_(m, "attributes", dict(values))
            setattr_(m, "attribute_spans", dict(spans))
        return doc
