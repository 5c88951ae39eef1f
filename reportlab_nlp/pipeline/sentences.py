"""Stage 2: sentences. A fast rule splitter made for radiology reports.

medspaCy's default splitter (PyRuSH) costs most of a pipeline's time; this one
is a few regular expressions. It splits within each section (never across a
header) at sentence-final punctuation followed by a capital, digit or list
marker; at blank lines; at line breaks that end a sentence or start a list
item; before inline list items (``1. ... 2. ...``); and where a period is
glued to the next sentence (``apex.There``). It does not split after common
abbreviations (``Dr.``, ``vs.``, ``e.g.``, ``approx.``), inside decimals
(``2.5 cm``), or after de-identification marks that stand for a name
(``Dr. XXXX``).

Invisible and exotic white space does not hide a boundary: the splitter reads a
same-length view of the text (:func:`boundary_view`) in which no-break and other
Unicode spaces, zero-width spaces and joiners, byte-order marks and bidi marks
are spaces, and U+2028/U+2029, NEL (U+0085), vertical tab, form feed and a
lone carriage return (old Mac line ends) are line breaks; the spans it returns
index the original text, character for character.

Sets ``doc._.rl_sentences``: a tuple of ``(start, end)`` character spans, and
marks ``token.is_sent_start`` so that ``doc.sents`` agrees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

import numpy
from spacy.attrs import SENT_START
from spacy.tokens import Doc

from ..types import Section

NAME = "rl_sentences"

_ABBREVIATIONS = (
    "dr",
    "drs",
    "mr",
    "mrs",
    "ms",
    "st",
    "vs",
    "e.g",
    "i.e",
    "eg",
    "ie",
    "etc",
    "approx",
    "appx",
    "incl",
    "cf",
    "fig",
    "no",
    "nos",
    "resp",
    "pt",
    "pts",
    "hx",
    "sx",
    "dx",
    "a.m",
    "p.m",
    "al",
    "mt",
)

# Candidate boundaries: end punctuation + space(s) + something that starts a sentence;
# a blank line; a line break; an inline list marker; a period glued to a capitalised word.
_BOUNDARY = re.compile(
    r"(?P<punct>[.!?]+[\"')\]]*)(?P<space>[ \t]+|[ \t]*\r?\n[ \t\r\n]*)(?=[A-Z0-9\"'(\[*\-\u2022_]|[a-z])"
    r"|(?P<blank>\r?\n[ \t]*\r?\n\s*)"
    r"|(?P<newline>\r?\n[ \t]*)"
    r"|(?<=[a-z]{2})(?P<glued>\.)(?=[A-Z][a-z])"
)
_LIST_ITEM = re.compile(r"(?:\d{1,2}|[a-hA-H])[.)]\s+\S|[-*\u2022]\s+\S")
_INLINE_LIST = re.compile(r"(?<=[\s,;:])(?=(?:\d{1,2})[.)]\s+[A-Za-z])")
_LIST_NUMBER = re.compile(r"(?:^|[\s(])\d{1,2}\.$")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)[.]*$")


_AS_SPACE = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
    "\u200b\u200c\u200d\u2060\ufeff\u180e"  # zero-width spaces and joiners, word joiner, BOM
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi marks
)
_AS_NEWLINE = "\u2028\u2029\u0085\x0b\x0c"
_VIEW = str.maketrans({**dict.fromkeys(_AS_SPACE, " "), **dict.fromkeys(_AS_NEWLINE, "\n")})
_LONE_CR = re.compile(r"\r(?!\n)")


def boundary_view(text: str) -> str:
    """``text`` with the same length, exotic white space made ``" "`` or ``"\\n"`` (see the module)."""
    if "\r" in text:
        text = _LONE_CR.sub("\n", text)
    return text if text.isascii() else text.translate(_VIEW)


def _is_abbreviation(before: str) -> bool:
    m = _LAST_WORD.search(before)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    return word in _ABBREVIATIONS


MAX_SENTENCE = 1000
"""Longest sentence in characters: a run-on "sentence" (a report without
punctuation) is cut at white space so that assertion stays linear in the text."""


def _cap(segment: str, s: int, e: int) -> list[tuple[int, int]]:
    """Cut ``segment[s:e]`` into pieces of at most MAX_SENTENCE characters, at white space."""
    pieces = []
    while e - s > MAX_SENTENCE:
        cut = segment.rfind(" ", s + MAX_SENTENCE // 2, s + MAX_SENTENCE)
        if cut <= s:
            cut = s + MAX_SENTENCE
        pieces.append((s, cut))
        s = cut
    pieces.append((s, e))
    return pieces


class SentenceSplitter:
    """spaCy component: rule-based sentence boundaries within read sections."""

    def split(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Return sentence spans of ``text[start:end]``, white space trimmed."""
        cuts: list[int] = []
        segment = boundary_view(text[start:end])  # same length: offsets index the original text
        for m in _BOUNDARY.finditer(segment):
            kind = m.lastgroup
            if kind == "punct" or m.group("punct") is not None:
                before = segment[max(0, m.start("punct") - 16) : m.start("punct") + 1]
                punct = m.group("punct")
                nxt = segment[m.end() : m.end() + 2]
                if punct.startswith(".") and _is_abbreviation(before[-12:]):
                    continue
                if punct == "." and _LIST_NUMBER.search(before):
                    continue  # "1. No pneumothorax": the marker opens the item
                if "\n" not in m.group("space") and nxt[:1].islower():
                    continue
                cuts.append(m.end())
            elif m.group("blank") is not None:
                cuts.append(m.end())
            elif m.group("newline") is not None:
                prev = segment[max(0, m.start() - 1) : m.start()]
                follow = segment[m.end() : m.end() + 4]
                if prev in (".", "!", "?", ":", ";") or _LIST_ITEM.match(follow) or follow[:1].isupper():
                    cuts.append(m.end())
            else:  # glued period
                cuts.append(m.end())
        for m in _INLINE_LIST.finditer(segment):
            cuts.append(m.start())
        spans: list[tuple[int, int]] = []
        prev_cut = 0
        for cut in sorted(set(cuts)):
            spans.append((prev_cut, cut))
            prev_cut = cut
        spans.append((prev_cut, len(segment)))
        out: list[tuple[int, int]] = []
        for s, e in spans:
            for s2, e2 in _cap(segment, s, e):
                piece = segment[s2:e2]
                stripped = piece.strip()
                if not stripped:
                    continue
                lead = len(piece) - len(piece.lstrip())
                out.append((start + s2 + lead, start + s2 + lead + len(stripped)))
        return out

    def find(self, text: str, sections: Iterable[Section]) -> tuple[tuple[int, int], ...]:
        spans: list[tuple[int, int]] = []
        for section in sections:
            spans.extend(self.split(text, section.start, section.end))
        return tuple(spans)

    def __call__(self, doc: Doc) -> Doc:
        spans = self.find(doc._.rl_text, doc._.rl_sections)
        doc._.rl_sentences = spans
        if len(doc):
            # one array for all tokens: setting token.is_sent_start one by one
            # re-checks the whole Doc each time (quadratic on a long report)
            starts = numpy.array([t.idx for t in doc])
            flags = numpy.full((len(doc), 1), -1, dtype=numpy.int64)
            flags[0, 0] = 1
            positions = numpy.searchsorted(starts, [s for s, _ in spans])
            positions = positions[positions < len(doc)]
            flags[positions, 0] = 1
            doc.from_array([SENT_START], cast(Any, flags.view(numpy.uint64)))
        return doc
