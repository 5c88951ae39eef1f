"""Stage 4: assertion. Decides whether each mention is present, negated,
uncertain, historical or hypothetical, from the cues in ``rules/cues.yaml``.

ConText-style: a cue reaches forward, backward, both ways or over its whole
sentence, up to a terminator ("but", "however", ";", ...) or the end of its
sentence, and at most ``window`` words. Overlapping cues: the longer wins
(pseudo cues such as "no change" hide the "no" inside them). When several cues
reach a mention: a sentence-wide cue wins, then a hypothetical one, then the
nearest strong cue, then the nearest weak one ("or" between alternatives yields
to "no A or B"). A cue looking both ways does not reach back across a comma.
Mentions whose wording fixes their state ("heart size is normal") keep it.

A convention profile (``rules/profiles/``, ``RuleSet.conventions``) may code hedged
mentions by the strength of their hedge: when any cue marked ``hedge: weak`` reaches
an uncertain mention it takes ``weak_hedge`` (absent: negated), else when a
``hedge: strong`` cue does it takes ``strong_hedge``; ``hypothetical: absent`` codes
hypothetical mentions negated. The deciding cue stays the mention's evidence.

Sets ``doc._.rl_asserted``: a list of :class:`~reportlab_nlp.types.Mention`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from spacy.tokens import Doc

from ..rules import CueRule, RuleSet
from ..types import Assertion, Mention
from .matching import TriggerIndex, leftmost_longest, lower_same_length
from .mentions import Candidate, span_mention

NAME = "rl_assertion"

_WORD = re.compile(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*")
_CATEGORY = {
    "negated": Assertion.NEGATED,
    "uncertain": Assertion.UNCERTAIN,
    "historical": Assertion.HISTORICAL,
    "hypothetical": Assertion.HYPOTHETICAL,
}
IGNORE = "ignore"
_CODED = {"absent": Assertion.NEGATED, "present": Assertion.PRESENT, "uncertain": Assertion.UNCERTAIN}


class Cue(NamedTuple):
    """A cue found in a sentence (a named tuple: made for every cue of every sentence)."""

    start: int
    end: int
    category: str
    direction: str
    window: int
    weak: bool
    hedge: str = ""


class AssertionDetector:
    """spaCy component: assert each candidate mention from the cues around it."""

    def __init__(self, rules: RuleSet) -> None:
        self.cue_index: TriggerIndex[CueRule] = TriggerIndex([(c.regex, c) for c in rules.cues])
        self.history_present = {f.label for f in rules.findings if f.history == "present"}
        conv = rules.conventions
        self.weak_hedge, self.strong_hedge = _CODED[conv.weak_hedge], _CODED[conv.strong_hedge]
        self.by_strength = (conv.weak_hedge, conv.strong_hedge) != ("uncertain", "uncertain")
        self.hypothetical = Assertion.NEGATED if conv.hypothetical == "absent" else Assertion.HYPOTHETICAL
        self.term_regex = re.compile(
            "|".join(f"(?:{t})" for t in rules.terminators) or r"(?!x)x", re.IGNORECASE
        )
        self.fwd_regex = re.compile(
            "|".join(f"(?:{t})" for t in rules.forward_terminators) or r"(?!x)x", re.IGNORECASE
        )

    def cues_in(self, text: str, low: str, start: int, end: int) -> list[Cue]:
        """Cues in ``text[start:end]``: overlapping cues resolved leftmost-longest, then
        pseudo cues dropped (they only hide what they overlap)."""
        found = []
        hits = self.cue_index.find(text, low, start, end)
        kept = leftmost_longest(hits)
        spans = {(h.start, h.end) for h in kept}
        # cues of exactly the same span all stand ("resolved" reaches forward and backward)
        kept += [h for h in hits if (h.start, h.end) in spans and h not in kept]
        for hit in kept:
            rule = hit.payload
            if rule.category == "pseudo":
                continue
            s, e = hit.start, hit.end
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            found.append(Cue(s, e, rule.category, rule.direction, rule.window, rule.weak, rule.hedge))
        return found

    def terminators_in(self, text: str, start: int, end: int) -> tuple[list[int], list[int]]:
        """Offsets of the terminators in a sentence: (both ways, forward scopes only)."""
        both = [m.start() for m in self.term_regex.finditer(text, start, end)]
        forward = [m.start() for m in self.fwd_regex.finditer(text, start, end)]
        return both, both + forward

    @staticmethod
    def _reaches(cue: Cue, c: Candidate, text: str, terms: tuple[list[int], list[int]]) -> int | None:
        """Distance in characters from ``cue`` to ``c`` if the cue's scope reaches it, else None."""
        if cue.direction == "sentence":
            return 0
        if cue.start >= c.start and cue.end <= c.end:
            # a cue inside the mention ("heart is not enlarged") reaches it forwards
            return 0 if cue.direction in ("forward", "both") else None
        if cue.end <= c.start and cue.direction in ("forward", "both"):
            gap = (cue.end, c.start)
            stops = terms[1]
        elif c.end <= cue.start and cue.direction in ("backward", "both"):
            gap = (c.end, cue.start)
            if cue.direction == "both" and "," in text[gap[0] : gap[1]]:
                return None
            stops = terms[0]
        else:
            return None
        if any(gap[0] <= t < gap[1] for t in stops):
            return None
        if cue.window and len(_WORD.findall(text, gap[0], gap[1])) >= cue.window:
            return None
        return gap[1] - gap[0]

    def assert_one(
        self, c: Candidate, text: str, cues: list[Cue], terms: tuple[list[int], list[int]]
    ) -> tuple[Assertion | None, Cue | None]:
        """Return the assertion of one candidate and the cue that decided it.

        The assertion is None when an ``ignore`` cue (a disclaimer such as
        "fractures may not be demonstrated") decides: the mention is dropped.
        """
        if c.state:
            return Assertion(c.state if c.state != "present" else "present"), None
        best: tuple[int, int, Cue] | None = None  # (rank, distance, cue)
        for cue in cues:
            distance = self._reaches(cue, c, text, terms)
            if distance is None:
                continue
            if cue.direction == "sentence":
                rank = 0
            elif cue.category == "hypothetical":
                rank = 1
            else:
                rank = 3 if cue.weak else 2
            if best is None or (rank, distance) < best[:2]:
                best = (rank, distance, cue)
        if best is None:
            return Assertion.PRESENT, None
        cue = best[2]
        if cue.category == IGNORE:
            return None, cue
        if cue.category == "historical" and c.label in self.history_present:
            return Assertion.PRESENT, cue  # an old fracture is a fracture (guidelines)
        if cue.category == "uncertain" and self.by_strength:
            return self._by_strength(c, text, cues, terms), cue
        if cue.category == "hypothetical":
            return self.hypothetical, cue
        return _CATEGORY[cue.category], cue

    def _by_strength(
        self, c: Candidate, text: str, cues: list[Cue], terms: tuple[list[int], list[int]]
    ) -> Assertion:
        """A convention's code for an uncertain mention: by the weakest hedge that reaches it."""
        strengths = {q.hedge for q in cues if q.hedge and self._reaches(q, c, text, terms) is not None}
        if "weak" in strengths:
            return self.weak_hedge
        if "strong" in strengths:
            return self.strong_hedge
        return Assertion.UNCERTAIN

    def run(
        self, text: str, candidates: list[Candidate], sentences: tuple[tuple[int, int], ...]
    ) -> list[Mention]:
        cache: dict[int, tuple[list[Cue], tuple[list[int], list[int]]]] = {}
        out: list[Mention] = []
        low = lower_same_length(text) if candidates else text
        for c in candidates:
            if c.sentence not in cache:
                s, e = sentences[c.sentence]
                cache[c.sentence] = (self.cues_in(text, low, s, e), self.terminators_in(text, s, e))
            cues, terms = cache[c.sentence]
            assertion, cue = self.assert_one(c, text, cues, terms)
            if assertion is None:
                continue
            if cue is not None:
                found = (text[cue.start : cue.end], cue.start, cue.end)
            elif c.state:
                found = (text[c.start : c.end], c.start, c.end)
            else:
                found = ("", -1, -1)
            span, sentence = (c.start, c.end), sentences[c.sentence]
            out.append(span_mention(c.label, text, span, sentence, c.section, assertion, c.rule, found))
        return out

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._  # one Underscore for all the accesses (spaCy makes one per `doc._`)
        ext.rl_asserted = self.run(ext.rl_text, ext.rl_mentions, ext.rl_sentences)
        return doc
