"""A static check that a rule's regular expression cannot backtrack exponentially.

Python's ``re`` backtracks: a repetition whose body can match the same text in more
than one way (``(a+)+``, ``(\\w+\\s?)*``, ``(a|a)*``) tries every way on a text that
nearly matches, and a 200-character report can then take hours. :func:`backtracking_risk`
finds the two shapes behind such patterns in the parsed expression:

* a repetition inside a repetition, where the inner one can read the characters that
  come after it in the outer body (or, at the body's end, those that start it again);
* a repetition of alternatives two of which can start with the same character and
  one of which can match what the other matches (equal alternatives, or one char
  class inside another).

It works on character sets over a sample alphabet (ASCII and a few others), so it
is a heuristic: it refuses the classic shapes and lets the built-in rules through
(a test checks that). The run-time budget (:mod:`reportlab_nlp.pipeline.budget`)
stops what it misses.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import Any

try:  # Python 3.11+
    import re._constants as _c
    import re._parser as _p
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

_ALPHABET = frozenset(string.printable + "\u00a0\u00e9\u2013")
_CATEGORY = {
    _c.CATEGORY_DIGIT: frozenset(c for c in _ALPHABET if c.isdigit()),
    _c.CATEGORY_NOT_DIGIT: frozenset(c for c in _ALPHABET if not c.isdigit()),
    _c.CATEGORY_SPACE: frozenset(c for c in _ALPHABET if c.isspace()),
    _c.CATEGORY_NOT_SPACE: frozenset(c for c in _ALPHABET if not c.isspace()),
    _c.CATEGORY_WORD: frozenset(c for c in _ALPHABET if c.isalnum() or c == "_"),
    _c.CATEGORY_NOT_WORD: frozenset(c for c in _ALPHABET if not (c.isalnum() or c == "_")),
}
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None))
_ZERO_WIDTH = (_c.AT, _c.ASSERT, _c.ASSERT_NOT, _c.GROUPREF_EXISTS)


def backtracking_risk(regex: str) -> str | None:
    """Why ``regex`` may backtrack exponentially (a short description), or None."""
    try:
        parsed = _p.parse(regex, re.IGNORECASE)
    except (re.error, RecursionError):
        return None  # reported as a bad regular expression elsewhere
    return _scan(list(parsed))


def matches_empty(regex: str) -> bool:
    """Whether ``regex`` can match the empty string (lookarounds aside)."""
    try:
        return bool(_p.parse(regex, re.IGNORECASE).getwidth()[0] == 0)
    except (re.error, RecursionError):
        return False


def _scan(items: list[Any]) -> str | None:
    for op, av in items:
        found = None
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            body = list(av[2])
            if av[1] is _c.MAXREPEAT or av[1] > 1:
                found = _nested(body) or _ambiguous_branch(body)
            found = found or _scan(body)
        elif op in _REPEATS and op is not None:  # possessive: never gives back, so only look inside
            found = _scan(list(av[2]))
        elif op is _c.SUBPATTERN:
            found = _scan(list(av[-1]))
        elif op is _c.BRANCH:
            found = next((f for b in av[1] if (f := _scan(list(b)))), None)
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            found = _scan(list(av[1]))
        if found:
            return found
    return None


def _nested(body: list[Any]) -> str | None:
    """An unbounded repetition in ``body`` that can read what follows it (or body's start)."""
    start = _first(body)
    for i, (op, av) in enumerate(body):
        inner = _unbounded_repeat(op, av)
        if inner is None:
            if op is _c.SUBPATTERN:  # look inside groups, with what follows the group
                found = _nested(list(av[-1]) + body[i + 1 :])
                if found:
                    return found
            continue
        rest = body[i + 1 :]
        follow = _first(rest) | (start if _nullable(rest) else frozenset())
        if _chars(inner) & follow:
            return "a repetition inside a repetition can match the same text in many ways"
    return None


def _ambiguous_branch(body: list[Any]) -> str | None:
    """Alternatives in a repeated body that match the same text (``(a|a)``, which the parser
    turns into ``a(?:|)``: two empty alternatives), or two single characters that overlap."""
    for op, av in body:
        if op is _c.SUBPATTERN:
            found = _ambiguous_branch(list(av[-1]))
        elif op is _c.BRANCH:
            branches = [list(b) for b in av[1]]
            found = next((f for b in branches if (f := _ambiguous_branch(b))), None)
            for k, a in enumerate(branches):
                for b in branches[k + 1 :]:
                    same = a == b or (_nullable(a) and _nullable(b))
                    if same or (_single_char(a) and _single_char(b) and _chars(a) & _chars(b)):
                        found = found or "a repeated group has alternatives that match the same text"
        else:
            found = None
        if found:
            return found
    return None


def _unbounded_repeat(op: Any, av: Any) -> list[Any] | None:
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[1] is _c.MAXREPEAT:
        return list(av[2])
    return None


def _single_char(items: list[Any]) -> bool:
    return len(items) == 1 and items[0][0] in (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY, _c.CATEGORY)


def _nullable(items: Iterable[Any]) -> bool:
    return all(_item_nullable(op, av) for op, av in items)


def _item_nullable(op: Any, av: Any) -> bool:
    if op in _ZERO_WIDTH:
        return True
    if op in _REPEATS and op is not None:
        return bool(av[0] == 0 or _nullable(av[2]))
    if op is _c.SUBPATTERN:
        return _nullable(av[-1])
    if op is _c.BRANCH:
        return any(_nullable(b) for b in av[1])
    return False


def _first(items: Iterable[Any]) -> frozenset[str]:
    """Characters that a match of ``items`` can start with."""
    out: set[str] = set()
    for op, av in items:
        out |= _item_first(op, av)
        if not _item_nullable(op, av):
            break
    return frozenset(out)


def _item_first(op: Any, av: Any) -> frozenset[str]:
    if op in _REPEATS and op is not None:
        return _first(av[2])
    if op is _c.SUBPATTERN:
        return _first(av[-1])
    if op is _c.BRANCH:
        return frozenset().union(*(_first(b) for b in av[1]))
    if op in _ZERO_WIDTH:
        return frozenset()
    return _leaf(op, av)


def _chars(items: Iterable[Any]) -> frozenset[str]:
    """Every character a match of ``items`` can contain."""
    out: set[str] = set()
    for op, av in items:
        if op in _REPEATS and op is not None:
            out |= _chars(av[2])
        elif op is _c.SUBPATTERN:
            out |= _chars(av[-1])
        elif op is _c.BRANCH:
            for b in av[1]:
                out |= _chars(b)
        elif op not in _ZERO_WIDTH:
            out |= _leaf(op, av)
    return frozenset(out)


def _leaf(op: Any, av: Any) -> frozenset[str]:
    if op is _c.LITERAL:
        ch = chr(av)
        return frozenset({ch, ch.lower(), ch.upper()}) & _ALPHABET or frozenset({ch})
    if op is _c.NOT_LITERAL:
        return _ALPHABET - {chr(av), chr(av).lower(), chr(av).upper()}
    if op is _c.ANY:
        return _ALPHABET
    if op is _c.CATEGORY:
        return _CATEGORY.get(av, _ALPHABET)
    if op is _c.IN:
        return _charset(av)
    return _ALPHABET  # a back reference or anything else: assume the worst


def _charset(items: list[Any]) -> frozenset[str]:
    out: set[str] = set()
    negate = False
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            out |= _leaf(op, av)
        elif op is _c.RANGE:
            out |= {c for c in _ALPHABET if av[0] <= ord(c) <= av[1] or av[0] <= ord(c.lower()) <= av[1]}
        elif op is _c.CATEGORY:
            out |= _CATEGORY.get(av, _ALPHABET)
        else:
            out |= _ALPHABET
    return _ALPHABET - out if negate else frozenset(out)
