"""Fast matching of many regular expressions at word starts: a trigger index.

Running a hundred alternations over every position of a report is what makes
naive rule labelers slow. Every rule here (a phrase, a pattern, a cue) can only
match where a word starts, and each begins with one of a few literal prefixes,
which :func:`literal_prefixes` derives from the parsed regular expression.
:class:`TriggerIndex` files each rule under those prefixes (up to three
characters) and, at each word start of a text, tries only the rules filed under
the characters found there. Rules whose start cannot be derived (rare) run as
ordinary scans. Results are the same as scanning every word start with every
rule; only the work differs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, Generic, NamedTuple, TypeVar

try:  # Python 3.11+
    import re._constants as _c
    import re._parser as _p
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

from ..rules import compile_pattern

P = TypeVar("P")

KEY_LEN = 3
_MAX_TRIED = 50_000  # word prefixes whose rule lists a TriggerIndex keeps
_MAX_PREFIXES = 400
_WORD_START = re.compile("[A-Za-z0-9\u0130\u0131\u017f\u212a]+")
"""Runs of ASCII letters and digits, and of the four other characters that
``re.IGNORECASE`` equates with an ASCII letter (İ ı ſ and the Kelvin sign)."""


class _Unknown(Exception):
    """The start of a pattern cannot be reduced to literal prefixes."""


def _is_word_char(code: int) -> bool:
    ch = chr(code)
    return ch.isalnum()


def _charset_chars(items: Any) -> tuple[set[str], bool] | None:
    """Characters of a parsed [...] set, and whether it also holds classes that cannot
    start a word (white space, non-word); None if it holds one we do not expand."""
    chars: set[str] = set()
    non_word = False
    for op, av in items:
        if op is _c.LITERAL:
            chars.add(chr(av))
        elif op is _c.RANGE:
            lo, hi = av
            if hi - lo > 64:
                return None
            chars.update(chr(c) for c in range(lo, hi + 1))
        elif op is _c.CATEGORY and av in (_c.CATEGORY_SPACE, _c.CATEGORY_NOT_WORD):
            non_word = True
        elif op is _c.CATEGORY and av is _c.CATEGORY_DIGIT:
            chars.update("0123456789")
        else:
            return None
    return chars, non_word


def _prefixes(seq: Sequence[Any], done: str, at_start: bool) -> set[str]:
    """Literal prefixes (lowercase, at most KEY_LEN chars) of matches of ``seq`` after ``done``."""
    if len(done) >= KEY_LEN:
        return {done[:KEY_LEN]}
    if not seq:
        if not done:
            raise _Unknown("can match the empty string")
        return {done}
    op, av = seq[0]
    rest = list(seq[1:])
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return _prefixes(rest, done, at_start)
    if op is _c.LITERAL:
        ch = chr(av).lower()
        if not done and not ch.isalnum():
            return set()  # a match at a word start cannot begin with this
        if ch.isspace():
            return {done}
        return _prefixes(rest, done + ch, False)
    if op is _c.CATEGORY or op is _c.NOT_LITERAL or op is _c.ANY:
        if done:
            return {done}
        if op is _c.CATEGORY and av in (_c.CATEGORY_SPACE, _c.CATEGORY_NOT_WORD):
            return set()
        raise _Unknown("a character class starts the match")
    if op is _c.IN:
        found = _charset_chars(av)
        if found is None:
            if done:
                return {done}
            raise _Unknown("a character class starts the match")
        chars, non_word = found
        if done and (non_word or len(chars) > 8):
            return {done}  # white space or a wide class: the prefix ends here
        if not done:
            chars = {c for c in chars if c.isalnum()}
        out: set[str] = set()
        for ch in {c.lower() for c in chars}:
            out |= _prefixes(rest, done + ch, False)
        return out
    if op is _c.SUBPATTERN:
        body = list(av[-1])
        return _prefixes(body + rest, done, at_start)
    if op is _c.BRANCH:
        out = set()
        for branch in av[1]:
            out |= _prefixes(list(branch) + rest, done, at_start)
            if len(out) > _MAX_PREFIXES:
                raise _Unknown("too many alternatives")
        return out
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        lo, hi, body = av
        out = set()
        if lo == 0:
            out |= _prefixes(rest, done, at_start)
        if hi != 0:
            more = list(body) + (
                [(op, (max(lo - 1, 0), hi if hi == _c.MAXREPEAT else hi - 1, body))] if hi != 1 else []
            )
            out |= _prefixes(more + rest, done, at_start)
        return out
    if op is _c.ANY:
        if done:
            return {done}
        raise _Unknown("any character starts the match")
    if op is _c.NOT_LITERAL:
        if done:
            return {done}
        raise _Unknown("a negated literal starts the match")
    if done:
        return {done}
    raise _Unknown(f"cannot read {op}")


def literal_prefixes(regex: str) -> set[str] | None:
    """Lowercase literal prefixes (1 to 3 characters) that every match at a word start begins with.

    Returns None when they cannot be derived; the rule must then be scanned.
    """
    found = _literal_prefixes(regex)
    return None if found is None else set(found)


@functools.lru_cache(maxsize=8192)
def _literal_prefixes(regex: str) -> frozenset[str] | None:
    try:
        parsed = _p.parse(regex, re.IGNORECASE)
        found = _prefixes(list(parsed), "", True)
    except (_Unknown, RecursionError):
        return None
    # no prefix at all: the rule matches only inside words (a slash): scan for it
    return frozenset(found) or None


class Hit(NamedTuple, Generic[P]):
    """A rule's match: where, and the rule's payload (a named tuple: made by the thousand)."""

    start: int
    end: int
    payload: P


class TriggerIndex(Generic[P]):
    """Many regular expressions, each with a payload, matched at word starts."""

    def __init__(self, rules: Sequence[tuple[str, P]]) -> None:
        self.by_key: dict[str, list[tuple[re.Pattern[str], P]]] = {}
        self.scanned: list[tuple[re.Pattern[str], P]] = []
        for regex, payload in rules:
            compiled = compile_pattern(regex)
            prefixes = literal_prefixes(regex)
            if prefixes is None:
                self.scanned.append((compiled, payload))
                continue
            # keep an antichain: "no" makes "non" redundant, and then a rule is tried
            # at most once per word start (the keys tried there are nested)
            minimal = {p for p in prefixes if not any(q != p and p.startswith(q) for q in prefixes)}
            for pre in minimal:
                self.by_key.setdefault(pre, []).append((compiled, payload))
        self.key_lengths = sorted({len(k) for k in self.by_key})
        self.longest = self.key_lengths[-1] if self.key_lengths else 0
        # the rules to try where a word starts with a given `longest`-character prefix: the
        # buckets of all its keys, in key-length order, gathered once per prefix seen
        self._tried: dict[str, list[tuple[re.Pattern[str], P]]] = {}

    def _rules_at(self, prefix: str) -> list[tuple[re.Pattern[str], P]]:
        rules: list[tuple[re.Pattern[str], P]] = []
        for n in self.key_lengths:
            if n <= len(prefix):
                rules.extend(self.by_key.get(prefix[:n], ()))
        if len(self._tried) < _MAX_TRIED:  # bounded, whatever the text
            self._tried[prefix] = rules
        return rules

    def find(self, text: str, low: str, start: int = 0, end: int | None = None) -> list[Hit[P]]:
        """All matches starting at word starts of ``text[start:end]`` (``low`` is ``text`` lowercased)."""
        end = len(text) if end is None else end
        hits: list[Hit[P]] = []
        tried = self._tried
        longest = self.longest
        for w in _WORD_START.finditer(text, start, end):
            pos = w.start()
            prefix = low[pos : pos + longest]
            rules = tried.get(prefix)
            if rules is None:
                rules = self._rules_at(prefix)
            for compiled, payload in rules:
                m = compiled.match(text, pos, end)
                if m is not None and m.end() > pos:
                    hits.append(Hit(pos, m.end(), payload))
        for compiled, payload in self.scanned:
            for m in compiled.finditer(text, start, end):
                if m.end() > m.start():
                    hits.append(Hit(m.start(), m.end(), payload))
        return hits


_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})
"""The only characters outside ASCII that ``re.IGNORECASE`` equates with an ASCII
letter where ``str.lower()`` does not (dotted and dotless i, long s): found by
trying every code point against every letter."""


def lower_same_length(text: str) -> str:
    """``text.lower()``, keeping every character where lowering would change the length.

    Characters that ``re.IGNORECASE`` equates with an ASCII letter are folded to
    it (``"maſs"`` -> ``"mass"``), so an index keyed on lowered text finds what a
    case-insensitive scan finds.
    """
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return low if text.isascii() else low.translate(_FOLD)


def leftmost_longest(hits: Sequence[Hit[P]]) -> list[Hit[P]]:
    """Non-overlapping hits, scanning left to right and preferring the longest at each start."""
    out: list[Hit[P]] = []
    last_end = -1
    for h in sorted(hits, key=lambda h: (h.start, -h.end)):
        if h.start >= last_end:
            out.append(h)
            last_end = h.end
    return out
