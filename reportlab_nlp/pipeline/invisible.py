"""Invisible characters inside words must not hide a mention (issue 19.2).

A zero-width space, joiner or non-joiner, word joiner, soft hyphen, byte-order
mark or bidi mark inside ``pneumo\\u00adthorax`` breaks every pattern's match.
:func:`find_visible` runs a finder on the text with those characters removed
and maps the spans it finds back onto the original text: a hit on
``compact[s:e]`` becomes ``text[kept[s] : kept[e - 1] + 1]``, so offsets index
the original text exactly and the evidence quotes it as written. A text without
such characters (nearly all) goes straight to the finder.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable
from typing import Any, TypeVar

from ..types import Section

HIDDEN = (
    "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"  # soft hyphen, zero-width characters, BOM
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi marks
)
_HIDDEN = re.compile(f"[{HIDDEN}]")

T = TypeVar("T")


def find_visible(
    find: Callable[[str, tuple[Section, ...], tuple[tuple[int, int], ...]], T],
    text: str,
    sections: tuple[Section, ...],
    sentences: tuple[tuple[int, int], ...],
) -> T:
    """``find(text, sections, sentences)`` as if the hidden characters were not there.

    ``find`` returns a tuple of lists of named tuples with ``start`` and ``end``
    (mentions, category statements, modifiers); their spans are mapped back.
    """
    if text.isascii() or not _HIDDEN.search(text):
        return find(text, sections, sentences)
    kept = [i for i, c in enumerate(text) if c not in HIDDEN]
    compact = "".join(text[i] for i in kept)

    def inward(o: int) -> int:
        return bisect.bisect_left(kept, o)

    def outward(s: int, e: int) -> tuple[int, int]:
        return (kept[s], kept[e - 1] + 1) if e > s else (kept[s] if s < len(kept) else len(text),) * 2

    secs = tuple(dataclasses.replace(s, start=inward(s.start), end=inward(s.end)) for s in sections)
    sents = tuple((inward(s), inward(e)) for s, e in sentences)
    found: Any = find(compact, secs, sents)
    mapped = []
    for items in found:
        out = []
        for h in items:
            start, end = outward(h.start, h.end)
            out.append(h._replace(start=start, end=end))
        mapped.append(out)
    result: T = type(found)(mapped)
    return result


__all__ = ["HIDDEN", "find_visible"]
