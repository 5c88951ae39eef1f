"""The signals of one (report, label) cell of a JSONL record, as numbers a combiner weighs.

A cell is a report's value for one column. Its signals, all read from the
JSONL record the labeler writes (nothing else is needed):

* the value itself (1, 0, -1 or blank) and the *measured* accuracy of that
  value for that column, of the deciding cue (assertion and cue words) and of
  the deciding lexicon entry (the mention's rule), looked up in a
  :class:`~reportlab_nlp.review.tables.AccuracyTables`;
* conflicting mentions (a present or uncertain mention and a negated one of
  the same label in one report), hedged mentions (uncertain or hypothetical),
  the number of mentions;
* where the record has them (the ``model`` and ``hybrid`` engines): the
  model's calibrated probability of presence, how far it is from the cell's
  presence, and whether the hybrid listed the cell under ``review``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tables import AccuracyTables

DECIDES = {1: ("present",), 0: ("negated",), -1: ("uncertain", "hypothetical")}
"""The mention assertions that give each value (the mentions that decided a cell)."""
POSITIVE = ("present", "uncertain", "hypothetical")

RULES_FEATURES = (
    "value_present",
    "value_uncertain",
    "value_blank",
    "value_accuracy",
    "cue_accuracy",
    "entry_accuracy",
    "conflict",
    "hedged",
    "support",
)
"""Features every record has (a rules-engine record has only these)."""
MODEL_FEATURES = ("model_disagreement", "model_flag")
"""Features of records with model probabilities (``model`` / ``hybrid`` engines)."""
RISKS = frozenset(
    (
        "value_accuracy",
        "cue_accuracy",
        "entry_accuracy",
        "conflict",
        "hedged",
        "model_disagreement",
        "model_flag",
    )
)
"""Features that point at an error: the fit keeps their weights at zero or above."""


def value_key(value: Any) -> str:
    """``1``, ``0``, ``-1`` or ``blank``: the value class of a JSONL label value."""
    return "blank" if value is None else str(int(value))


def present(value: Any) -> bool:
    """Presence in ``score.py``'s convention: 1 or -1."""
    return value in (1, -1)


MAX_CUE_WORDS = 4
"""A cue of more words is known by its rule (a cue the lexicon's triggers do not give word for word)."""


def cue_key(mention: Mapping[str, Any]) -> str:
    """The assertion cue of a mention: its assertion and its trigger words, lower-cased.

    Where the phrase is its own cue (a "negated wording" rule such as *heart size
    is normal*) or the cue is longer than :data:`MAX_CUE_WORDS` words, the cue is
    known by the rule that matched it, so that the table holds lexicon words and
    rule names, never a report's own phrasing.
    """
    words = str(mention.get("cue") or "").lower().split()
    own = (mention.get("cue_start"), mention.get("cue_end")) == (mention.get("start"), mention.get("end"))
    cue = f"rule: {mention.get('rule', '')}" if own or len(words) > MAX_CUE_WORDS else " ".join(words)
    return f"{mention.get('assertion', '')}|{cue}"


def entry_key(column: str, mention: Mapping[str, Any]) -> str:
    """The lexicon entry of a mention for a column: the column and the mention's rule."""
    return f"{column}|{mention.get('rule', '')}"


def deciding(value: Any, mentions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The mentions whose assertion gives ``value`` (all of them when none does)."""
    kinds = DECIDES.get(value, ()) if value is not None else ()
    chosen = [m for m in mentions if m.get("assertion") in kinds]
    return chosen or list(mentions)


@dataclass(frozen=True)
class Cell:
    """One (report, column) cell with what the review queue needs of its record."""

    report_id: str
    column: str
    value: Any
    mentions: tuple[Mapping[str, Any], ...]
    probability: float | None
    flagged: bool


def cells_of(record: Mapping[str, Any], columns: Sequence[str] | None = None) -> list[Cell]:
    """The cells of one JSONL record (its ``labels`` columns, or ``columns``)."""
    labels = record.get("labels") or {}
    evidence = record.get("evidence") or {}
    probs = record.get("probabilities")
    flagged = {e.get("label") for e in record.get("review") or () if isinstance(e, Mapping)}
    out = []
    for col in columns if columns is not None else list(labels):
        p = probs.get(col) if isinstance(probs, Mapping) else None
        out.append(
            Cell(
                report_id=str(record.get("id")),
                column=col,
                value=labels.get(col),
                mentions=tuple(m for m in evidence.get(col, ()) if m.get("source", "rules") == "rules"),
                probability=None if p is None else float(p),
                flagged=col in flagged,
            )
        )
    return out


def logit(p: float, eps: float = 1e-3) -> float:
    p = min(max(p, eps), 1 - eps)
    return math.log(p / (1 - p))


def features(cell: Cell, acc: AccuracyTables, *, with_model: bool) -> list[float]:
    """The feature vector of a cell, in the order of :data:`RULES_FEATURES` (+ :data:`MODEL_FEATURES`)."""
    v = cell.value
    kinds = {m.get("assertion") for m in cell.mentions}
    row = [
        float(v == 1),
        float(v == -1),
        float(v is None),
        -logit(acc.value(cell.column, v)),
        -logit(acc.cue(cell.column, v, cell.mentions)),
        -logit(acc.entry(cell.column, v, cell.mentions)),
        float(bool(kinds & set(POSITIVE)) and "negated" in kinds),
        float(v == -1 or bool(kinds & {"uncertain", "hypothetical"})),
        math.log1p(len(deciding(v, cell.mentions)) if cell.mentions else 0),
    ]
    if with_model:
        p = 0.5 if cell.probability is None else cell.probability
        off = 1.0 - p if present(v) else p
        row += [logit(off), float(cell.flagged)]
    return row


def names(with_model: bool) -> tuple[str, ...]:
    return RULES_FEATURES + (MODEL_FEATURES if with_model else ())


def has_model_signals(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every record carries model probabilities (a ``model``/``hybrid`` run)."""
    return bool(records) and all(isinstance(r.get("probabilities"), Mapping) for r in records)
