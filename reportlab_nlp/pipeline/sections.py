"""Stage 1: sections. Finds radiology headers and marks which parts are read.

Sets ``doc._.rl_sections``: a tuple of :class:`~reportlab_nlp.types.Section`
covering the text in order. Text before the first header is a ``body``
section (read). Headers come from ``rules/sections.yaml``.
"""

from __future__ import annotations

import re

from spacy.tokens import Doc

from ..rules import RuleSet, compile_pattern, expand_macros, phrase_regex
from ..types import Section
from .matching import Hit, TriggerIndex, leftmost_longest, lower_same_length
from .sentences import boundary_view

NAME = "rl_sections"

_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
# a sentence end on a line: the next sentence starts, or the line ends
_SENTENCE_END = re.compile(r"[.?!](?:[ \t]+(?=[A-Z0-9])|[ \t]*(?=\r?\n|$))")
_TITLE_SEP = r"[ \t,/&()-]+"


class SectionDetector:
    """spaCy component: split a report into sections by their headers.

    A header is recognised at the start of a line, or after a sentence end on a
    run-on line, when a colon follows it or it stands alone on its line (the
    header need not be upper case; the colon or the line end is what marks it).
    """

    def __init__(self, rules: RuleSet) -> None:
        self.read = {s.category: s.read for s in rules.sections}
        self.body_part = {s.category for s in rules.sections if s.body_part}
        entries = [
            (phrase_regex(h, plural=False), (s.category, False))
            for s in rules.sections
            if not s.body_part
            for h in s.headers
        ]
        # body-part headers of multi-exam reports ("Left knee:", "Chest.", "Pelvis and left hip.")
        # may carry a side and a second part, and may end in a period
        side = r"(?:(?:right|left|bilateral|both)\s+)?"
        for sec in rules.sections:
            if sec.body_part:
                alt = "|".join(phrase_regex(h, plural=False) for h in sec.headers)
                entries.append(
                    (
                        rf"(?<![A-Za-z0-9]){side}(?:{alt})(?:\s+(?:and|&)\s+{side}(?:{alt}))?(?![A-Za-z0-9])",
                        (sec.category, True),
                    )
                )
        self.index: TriggerIndex[tuple[str, bool]] = TriggerIndex(entries)
        self.titles = _title_regexes(rules)

    def find(self, text: str) -> tuple[Section, ...]:
        """Return the sections of ``text`` (pure function of the text)."""
        sections: list[Section] = []
        last_end = 0
        current: tuple[str, str, int, int] | None = None  # category, header, hstart, hend
        if ":" in text or "\n" in text or " - " in text or "." in text:
            low = lower_same_length(text)
            for hit in leftmost_longest(self.index.find(text, low) + self._titles(text)):
                hstart, hend = hit.start, hit.end
                if hstart < last_end:
                    continue
                category, body_part = hit.payload
                body_start = self._header_end(text, hstart, hend, period=body_part)
                if body_start < 0:
                    continue
                sections.append(self._make(current, last_end, hstart))
                current = (category, text[hstart:hend], hstart, hend)
                last_end = body_start
        sections.append(self._make(current, last_end, len(text)))
        return tuple(s for s in self._split_at_blank_lines(text, sections) if s.end > s.start or s.header)

    def _titles(self, text: str) -> list[Hit[tuple[str, bool]]]:
        """Exam-title lines ("PORTABLE AP CHEST RADIOGRAPH:"), as hits of their body part's header."""
        if self.titles is None:
            return []
        line, parts = self.titles
        hits: list[Hit[tuple[str, bool]]] = []
        for m in line.finditer(text):
            for part, category in parts:
                if part.search(m.group(1)):
                    hits.append(Hit(m.start(1), m.end(1), (category, True)))
                    break
        return hits

    def _split_at_blank_lines(self, text: str, sections: list[Section]) -> list[Section]:
        """End each skipped section (not a body part) where its own text ends (:func:`_own_end`);
        unheaded text after that is a read body section."""
        out: list[Section] = []
        for s in sections:
            end = -1
            if not (s.read or s.category in self.body_part or s.category == "body"):
                end = _own_end(text, s.start, s.end)
            if end < 0:
                out.append(s)
                continue
            out.append(Section(s.category, s.start, end, s.header, s.header_start, s.header_end, False))
            out.append(Section("body", end, s.end, read=True))
        return out

    @staticmethod
    def _header_end(text: str, hstart: int, hend: int, *, period: bool = False) -> int:
        """Where the section body starts if text[hstart:hend] is used as a header here, else -1."""
        # before: the start of a line (bullets allowed), a sentence end, or white space before CAPITALS
        i = hstart - 1
        while i >= 0 and text[i] in " \t*#>-":
            i -= 1
        at_line_start = i < 0 or text[i] == "\n"
        after_sentence = text[i] in ".!?" if i >= 0 else True
        in_capitals = text[hstart - 1].isspace() and text[hstart:hend].isupper()
        if not (at_line_start or after_sentence or in_capitals):
            return -1
        # after: a colon (or " - "), or the end of the line when the header stands alone on it
        j = hend
        n = len(text)
        while j < n and text[j] in " \t":
            j += 1
        if j < n and text[j] == ":":
            return j + 1
        if period and j < n and text[j] == "." and (j + 1 >= n or text[j + 1].isspace()):
            return j + 1  # "Right knee. Severe joint space narrowing ..."
        if j < n and text[j] == "-" and j + 1 < n and text[j + 1] in " \t":
            return j + 2
        if at_line_start and (j >= n or text[j] in "\r\n"):
            return j
        return -1

    def _make(self, current: tuple[str, str, int, int] | None, start: int, end: int) -> Section:
        if current is None:
            return Section("body", start, end, read=True)
        category, header, hstart, hend = current
        return Section(category, start, end, header, hstart, hend, read=self.read.get(category, True))

    def __call__(self, doc: Doc) -> Doc:
        # doc.text is rebuilt from the tokens at each access: keep one copy for every stage
        doc._.rl_text = doc.text
        # a same-length view: a header after ".\u00a0" or a lone CR is found as after ". " (issue 19.2)
        doc._.rl_sections = self.find(boundary_view(doc._.rl_text))
        return doc


def _own_end(text: str, start: int, end: int) -> int:
    """Where the own text of a skipped section ``text[start:end]`` ends, or -1 for all of it.

    It ends at its first blank line after some text of its own, or, when its text starts on
    the header's line and ends a sentence there, at that line's end if the next line is
    prose (three sentences or more): the clinical question or comparison is one line, the
    unheaded report body after it is read. Only when unheaded text follows."""
    first = start
    while first < end and text[first].isspace():
        first += 1
    blank = _BLANK_LINE.search(text, first, end)
    cut = blank.start() if blank else -1
    line_end = text.find("\n", first, end)
    one_line = line_end > 0 and "\n" not in text[start:first]
    if one_line and text[first:line_end].rstrip()[-1:] in (".", "?", "!") and (cut < 0 or line_end < cut):
        cut = line_end if _is_prose(text, line_end + 1, end) else cut
    return cut if cut >= 0 and text[cut:end].strip() else -1


def _is_prose(text: str, start: int, end: int) -> bool:
    """Whether the line at ``start`` is prose: it starts a sentence and holds three or more
    (a line of the report body, not the rest of a one-line clinical question)."""
    stop = text.find("\n", start, end)
    line = text[start : end if stop < 0 else stop].strip()
    return line[:1].isupper() and sum(1 for _ in _SENTENCE_END.finditer(line)) >= 3


def _title_regexes(rules: RuleSet) -> tuple[re.Pattern[str], list[tuple[re.Pattern[str], str]]] | None:
    """The exam-title line regex and, per body-part header, its regex and category.

    A title line is made only of ``{TITLE_WORD}`` words (``sections.yaml``) and body-part
    headers (with a side), at the start of a line and ending in a colon; which body part
    it names decides its section."""
    if "TITLE_WORD" not in rules.macros:
        return None
    parts = [
        (phrase_regex(h, plural=False), s.category) for s in rules.sections if s.body_part for h in s.headers
    ]
    if not parts:
        return None
    # the longest header first: "chest radiograph" before "chest"
    parts.sort(key=lambda p: -len(p[0]))
    word = expand_macros("{TITLE_WORD}", rules.macros, where=("sections.yaml", "macro TITLE_WORD"))
    words = rf"(?<![A-Za-z0-9])(?:{word}|right|left|bilateral|both)(?![A-Za-z0-9])"
    token = "(?:" + "|".join(p for p, _ in parts) + "|" + words + ")"
    line = compile_pattern(rf"(?im)^[ \t*#>-]*({token}(?:{_TITLE_SEP}{token})*\)?)[ \t]*:")
    return line, [(compile_pattern(p), c) for p, c in parts]
