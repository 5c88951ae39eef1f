"""Measured accuracies of the rules' decisions: per value, per assertion cue, per lexicon entry.

A decision is *right* in ``score.py``'s convention: the cell's presence (1 or
-1) equals gold presence (gold 1); gold -1 (ambiguous) cells are not counted.
Counts are kept (right, seen) so that the shipped table says how much each
figure rests on; an accuracy is smoothed towards its parent (entry and cue
towards the column's value accuracy, that towards the value class over all
columns) with :data:`PRIOR_WEIGHT` pseudo-cells, so a cue seen twice says
little.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .features import Cell, cue_key, deciding, entry_key, present, value_key

PRIOR_WEIGHT = 10.0
"""Pseudo-cells of the parent accuracy added to every count."""
DEFAULT_ACCURACY = 0.95
"""The accuracy of a value class never measured (no gold for it)."""

Counts = dict[str, list[int]]


def _add(table: Counts, key: str, right: bool) -> None:
    c = table.setdefault(key, [0, 0])
    c[0] += int(right)
    c[1] += 1


def _smooth(counts: Sequence[int] | None, prior: float) -> float:
    right, seen = counts if counts else (0, 0)
    return (right + PRIOR_WEIGHT * prior) / (seen + PRIOR_WEIGHT)


@dataclass
class AccuracyTables:
    """Right/seen counts of the rules' decisions, and the smoothed accuracies looked up from them."""

    classes: Counts = field(default_factory=dict)
    """value class (``1``/``0``/``-1``/``blank``) over all columns"""
    values: Counts = field(default_factory=dict)
    """``column|value class``"""
    cues: Counts = field(default_factory=dict)
    """``assertion|cue words`` of the deciding mentions"""
    entries: Counts = field(default_factory=dict)
    """``column|rule`` of the deciding mentions"""

    def add(self, cell: Cell, gold: int) -> None:
        """Count one cell against its gold value (1, 0; -1 is skipped)."""
        if gold == -1:
            return
        right = present(cell.value) == (gold == 1)
        v = value_key(cell.value)
        _add(self.classes, v, right)
        _add(self.values, f"{cell.column}|{v}", right)
        for m in deciding(cell.value, cell.mentions):
            _add(self.cues, cue_key(m), right)
            _add(self.entries, entry_key(cell.column, m), right)

    def value(self, column: str, value: Any) -> float:
        v = value_key(value)
        return _smooth(self.values.get(f"{column}|{v}"), _smooth(self.classes.get(v), DEFAULT_ACCURACY))

    def cue(self, column: str, value: Any, mentions: Sequence[Mapping[str, Any]]) -> float:
        """Mean smoothed accuracy of the deciding mentions' cues (the value's accuracy without mentions)."""
        prior = self.value(column, value)
        chosen = deciding(value, mentions)
        if not chosen:
            return prior
        return sum(_smooth(self.cues.get(cue_key(m)), prior) for m in chosen) / len(chosen)

    def entry(self, column: str, value: Any, mentions: Sequence[Mapping[str, Any]]) -> float:
        """Mean smoothed accuracy of the deciding mentions' lexicon entries."""
        prior = self.value(column, value)
        chosen = deciding(value, mentions)
        if not chosen:
            return prior
        return sum(_smooth(self.entries.get(entry_key(column, m)), prior) for m in chosen) / len(chosen)

    def to_dict(self) -> dict[str, Any]:
        """The counts and accuracies as JSON-able data (sorted keys; ``[right, seen, accuracy]``)."""

        def table(counts: Counts, parent: Any) -> dict[str, list[float]]:
            return {k: [c[0], c[1], round(_smooth(c, parent(k)), 4)] for k, c in sorted(counts.items())}

        return {
            "classes": table(self.classes, lambda k: DEFAULT_ACCURACY),
            "values": table(
                self.values, lambda k: _smooth(self.classes.get(k.rsplit("|", 1)[1]), DEFAULT_ACCURACY)
            ),
            "cues": {k: [c[0], c[1]] for k, c in sorted(self.cues.items())},
            "entries": {k: [c[0], c[1]] for k, c in sorted(self.entries.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccuracyTables:
        def counts(name: str) -> Counts:
            return {k: [int(v[0]), int(v[1])] for k, v in (data.get(name) or {}).items()}

        return cls(counts("classes"), counts("values"), counts("cues"), counts("entries"))


def measure(cells: Iterable[tuple[Cell, int]]) -> AccuracyTables:
    """Tables counted over (cell, gold) pairs."""
    tables = AccuracyTables()
    for cell, gold in cells:
        tables.add(cell, gold)
    return tables
