"""Regular expressions of the rules: phrases to regexes, ``{MACRO}`` expansion, compiling."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from ..errors import RulesError
from .safety import backtracking_risk, matches_empty

MACRO_REF = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
WORD_CHARS = "A-Za-z0-9"


def _word_regex(word: str, plural: bool) -> str:
    parts = [re.escape(p) for p in word.split("-")]
    body = r"[\s\-]?".join(parts)
    if plural and word[-1:].isalpha():
        last = word.lower()
        if last.endswith("y") and len(last) > 2 and last[-2] not in "aeiou":
            body = body[:-1] + "(?:y|ies)"
        elif last.endswith("s"):
            body += "(?:es)?"  # mass -> masses
        else:
            body += "(?:s|es)?"
    return body


def phrase_regex(phrase: str, *, plural: bool = True) -> str:
    """Turn a literal phrase into a case-insensitive, whitespace-tolerant regex.

    Words may be separated by any run of whitespace or hyphens (``air space``
    matches ``air-space`` and ``airspace``); a word's own hyphen is optional;
    the last word takes an optional plural; the phrase matches whole words.
    """
    words = phrase.split()
    if not words:
        raise ValueError("empty phrase")
    body = r"[\s\-]*".join(_word_regex(w, plural and i == len(words) - 1) for i, w in enumerate(words))
    left = f"(?<![{WORD_CHARS}])" if phrase[0].isalnum() else ""
    right = f"(?![{WORD_CHARS}])" if phrase[-1].isalnum() else ""
    return f"{left}{body}{right}"


def expand_macros(pattern: str, macros: Mapping[str, str], *, where: tuple[str, str]) -> str:
    """Replace ``{NAME}`` by ``(?:macro)``, recursively; unknown names are errors."""
    for _ in range(10):
        missing = [m for m in MACRO_REF.findall(pattern) if m not in macros]
        if missing:
            raise RulesError(where[0], where[1], f"unknown macro {{{missing[0]}}} in pattern {pattern!r}")
        new = MACRO_REF.sub(lambda m: f"(?:{macros[m.group(1)]})", pattern)
        if new == pattern:
            return new
        pattern = new
    raise RulesError(where[0], where[1], f"macros nest too deeply in {pattern!r}")


@functools.lru_cache(maxsize=8192)
def compile_pattern(regex: str) -> re.Pattern[str]:
    """``re.compile(regex, re.IGNORECASE)``, cached: the loader checks each rule's regex and
    the pipeline's matchers compile the same strings, so each is compiled once per process."""
    return re.compile(regex, re.IGNORECASE)


def check_regex(regex: str, where: tuple[str, str], shown: str) -> None:
    """Compile ``regex`` and check it (:func:`regex_problem`); a problem is a
    :class:`RulesError` at ``where`` showing ``shown`` (the rule as written)."""
    try:
        compile_pattern(regex)
    except re.error as e:
        raise RulesError(where[0], where[1], f"bad regular expression {shown!r}: {e}") from e
    problem = regex_problem(regex)
    if problem:
        raise RulesError(where[0], where[1], f"pattern {shown!r}: {problem}")


@functools.lru_cache(maxsize=8192)
def regex_problem(regex: str) -> str | None:
    """Why a compiled ``regex`` is refused as a rule, or None: it matches the empty string
    (it would fire at every position), or it may backtrack exponentially (:mod:`.safety`)."""
    if matches_empty(regex):
        return "matches the empty string; a rule must match at least one character"
    risk = backtracking_risk(regex)
    if risk:
        return f"{risk}, so a short report could take hours; write it so that text can match one way only"
    return None
