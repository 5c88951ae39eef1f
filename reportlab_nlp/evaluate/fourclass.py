"""Four-class scoring of CheXpert-convention labels: presence, positive, negative, uncertain.

Values are ``1`` present, ``0`` absent, ``-1`` uncertain, empty not mentioned.
*Presence* is as ``../shared/tools/score.py`` defines it: predicted present is 1 or
-1, gold present is 1, and a gold -1 (uncertain) cell is left out of that label.
*Positive*, *negative* and *uncertain* are exact-value F1 for the values 1, 0 and -1:
a cell counts for a class when its value is that class's (blank counts for none).
A class's macro-F1 averages the labels with at least ``min_pos`` gold cells of it.
Used by ``tests/regression/test_styles.py`` and ``bench/styles.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

CLASSES = ("presence", "positive", "negative", "uncertain")
_VALUE = {"positive": "1", "negative": "0", "uncertain": "-1"}


def normal(value: str | None) -> str:
    """A cell as ``1``, ``0``, ``-1`` or ``""`` (``1.0`` -> ``1``)."""
    v = (value or "").strip()
    try:
        return str(int(float(v))) if v else ""
    except ValueError:
        return ""


@dataclass
class Count:
    """True and false positives and false negatives of one label and class."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def gold(self) -> int:
        return self.tp + self.fn

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0


@dataclass
class Scores:
    """Per label and class counts; macro-F1 per class over labels with ``min_pos`` gold cells."""

    labels: tuple[str, ...]
    counts: dict[tuple[str, str], Count] = field(default_factory=dict)
    min_pos: int = 1

    def count(self, label: str, cls: str) -> Count:
        return self.counts.setdefault((label, cls), Count())

    def macro(self, cls: str) -> float:
        f1s = [self.count(lab, cls).f1 for lab in self.labels if self.count(lab, cls).gold >= self.min_pos]
        return sum(f1s) / len(f1s) if f1s else 0.0

    def table(self) -> str:
        """A plain-text table: F1 (gold count) per label and class, then the macro row."""
        head = f"{'label':28s}" + "".join(f" {c:>16s}" for c in CLASSES)
        rows = [head]
        for lab in self.labels:
            cells = "".join(f" {self.count(lab, c).f1:9.3f} ({self.count(lab, c).gold:3d})" for c in CLASSES)
            rows.append(f"{lab:28s}{cells}")
        rows.append(
            f"{'macro (min gold ' + str(self.min_pos) + ')':28s}"
            + "".join(f" {self.macro(c):16.3f}" for c in CLASSES)
        )
        return "\n".join(rows) + "\n"


def score(
    pred: Mapping[str, Mapping[str, str]],
    gold: Mapping[str, Mapping[str, str]],
    labels: Sequence[str],
    *,
    min_pos: int = 1,
) -> Scores:
    """Score ``pred`` against ``gold`` (both: report id -> label -> cell) over ``labels``.

    A report missing from ``pred`` counts as all blank.
    """
    out = Scores(tuple(labels), min_pos=min_pos)
    for rid, g in gold.items():
        p = pred.get(rid, {})
        for lab in labels:
            gv, pv = normal(g.get(lab)), normal(p.get(lab))
            if gv != "-1":
                _add(out.count(lab, "presence"), pv in ("1", "-1"), gv == "1")
            for cls, value in _VALUE.items():
                _add(out.count(lab, cls), pv == value, gv == value)
    return out


def _add(c: Count, predicted: bool, actual: bool) -> None:
    if predicted and actual:
        c.tp += 1
    elif predicted:
        c.fp += 1
    elif actual:
        c.fn += 1
