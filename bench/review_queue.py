"""How many of the rules' errors the review queue puts in front of a curator (issue 16, point 3).

Ranks every (report, label) cell of a gold corpus by its review score and
prints the share of the rules' errors (``score.py``'s conventions: presence is
1 or -1, gold -1 is never an error) found in the top 1%, 2%, 5% and 10% of the
cells, against random order (its expectation: the same share as the cells) and
against today's hybrid flags (the cells listed under ``review``, the most
confident model disagreement first, then the other cells in a seeded random
order).

* Open-i dev (``gold_dev.csv``, the gold columns): cross-fitted, 5 folds; every
  fold is scored by accuracy tables and a combiner fitted on the other folds.
  The shipped model saw most of these reports in training, so the queue is
  also measured without its signals (the ``rules`` combiner on the rules JSONL).
* corpora/styles (400 reports the model never saw, four-class gold,
  ``--scheme chexpert``): scored by the shipped ``queue.json`` (fitted on
  Open-i only); errors in ``score.py``'s conventions and, second, any cell whose
  four-class value differs from the expected one.

Labels the corpora first (into ``--work``, default build/review) where the
JSONL files are not there. ``--curve`` adds the share at every 1% up to 20%.

Usage: python bench/review_queue.py [--work build/review] [--curve]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from reportlab_nlp.review.features import Cell, present
from reportlab_nlp.review.fit import GoldCells, crossfit_scores, is_error, read_gold
from reportlab_nlp.review.records import read_records
from reportlab_nlp.review.score import shipped

ROOT = Path(__file__).resolve().parents[1]
OPENI = ROOT.parent / "shared" / "corpora" / "iu_xray"
STYLES = ROOT / "corpora" / "styles"
TOPS = (1, 2, 5, 10)
SEED = 0


def label(work: Path, name: str, args: Sequence[str]) -> Path:
    out = work / f"{name}.jsonl"
    if not out.is_file():
        cmd = ["reportlab-nlp", "label", *args, "--out", str(out), "--no-progress", "--workers", "1"]
        subprocess.run(cmd, check=True)
    return out


def captured(order: Sequence[int], errors: Sequence[bool], pct: float) -> float:
    """The share of all errors in the first ``pct`` percent of ``order``."""
    k = math.ceil(len(order) * pct / 100)
    total = sum(errors)
    return sum(errors[i] for i in order[:k]) / total if total else 0.0


def by_score(scores: Sequence[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def by_flags(cells: Sequence[Cell]) -> list[int]:
    """Flagged cells first (the model's farthest from the cell's presence first), then the rest shuffled."""

    def off(c: Cell) -> float:
        p = c.probability or 0.0
        return 1 - p if present(c.value) else p

    flagged = sorted((i for i, c in enumerate(cells) if c.flagged), key=lambda i: (-off(cells[i]), i))
    rest = [i for i, c in enumerate(cells) if not c.flagged]
    random.Random(SEED).shuffle(rest)
    return flagged + rest


def rows(name: str, cells: Sequence[Cell], errors: Sequence[bool], orders: dict[str, list[int]]) -> list[str]:
    out = [f"\n{name}: {len(cells):,} cells, {sum(errors)} rules errors ({sum(errors) / len(cells):.2%})"]
    out.append(f"{'order':34s} " + " ".join(f"{'top ' + str(t) + '%':>8s}" for t in TOPS))
    out.append(f"{'random (expected)':34s} " + " ".join(f"{t / 100:8.1%}" for t in TOPS))
    for label_, order in orders.items():
        out.append(f"{label_:34s} " + " ".join(f"{captured(order, errors, t):8.1%}" for t in TOPS))
    return out


def curve(name: str, order: Sequence[int], errors: Sequence[bool]) -> str:
    points = ", ".join(f"{t}%: {captured(order, errors, t):.1%}" for t in range(1, 21))
    return f"curve {name}: {points}"


def openi(work: Path, want_curve: bool) -> list[str]:
    common = [
        str(OPENI / "reports_dev.csv"),
        "--id-col",
        "uid",
        "--text-col",
        "findings",
        "--text-col",
        "impression",
    ]
    gold = read_gold(OPENI / "gold_dev.csv")
    rules = GoldCells.of(read_records(label(work, "dev-rules", [*common, "--engine", "rules"])), gold)
    hybrid = GoldCells.of(read_records(label(work, "dev-hybrid", [*common, "--engine", "hybrid"])), gold)
    cells = [c for c, _ in hybrid.flat()]
    errors = [is_error(c, g) for c, g in hybrid.flat()]
    assert errors == [is_error(c, g) for c, g in rules.flat()], "hybrid and rules values differ"
    orders = {
        "queue, rules signals only": by_score(crossfit_scores(rules, with_model=False)),
        "queue, with model signals": by_score(crossfit_scores(hybrid, with_model=True)),
        "hybrid flags": by_flags(cells),
    }
    out = rows("Open-i dev, 5-fold cross-fitted", cells, errors, orders)
    out.append(
        f"hybrid flags: {sum(c.flagged for c in cells)} cells flagged, "
        f"{sum(e for c, e in zip(cells, errors, strict=True) if c.flagged)} of them errors"
    )
    if want_curve:
        out += [curve(k, o, errors) for k, o in orders.items()]
    return out


def styles(work: Path, want_curve: bool) -> list[str]:
    records = []
    gold = {}
    for half in ("a", "b"):
        args = [str(STYLES / f"reports_{half}.csv"), "--scheme", "chexpert", "--engine", "hybrid"]
        records += read_records(label(work, f"styles-{half}-hybrid", args))
        gold.update(read_gold(STYLES / f"expected_{half}.csv"))
    four = {
        rid: row for half in ("a", "b") for rid, row in read_four(STYLES / f"expected_{half}.csv").items()
    }
    data = GoldCells.of(records, gold)
    cells = [c for c, _ in data.flat()]
    model = shipped()
    out = []
    for name, errors in (
        ("corpora/styles, score.py conventions", [is_error(c, g) for c, g in data.flat()]),
        ("corpora/styles, four-class mismatches", [_four_error(c, four) for c in cells]),
    ):
        orders = {
            "queue, rules signals only": by_score([model.score_cell(c, with_model=False) for c in cells]),
            "queue, with model signals": by_score([model.score_cell(c, with_model=True) for c in cells]),
            "hybrid flags": by_flags(cells),
        }
        out += rows(name, cells, errors, orders)
        if want_curve:
            out += [curve(k, o, errors) for k, o in orders.items()]
    return out


def read_four(path: Path) -> dict[str, dict[str, int | None]]:
    """Four-class gold: 1 / 0 / -1, blank as None."""
    with open(path, encoding="utf-8", newline="") as f:
        return {
            r["report_id"]: {c: int(v) if v.strip() else None for c, v in r.items() if c != "report_id"}
            for r in csv.DictReader(f)
        }


def _four_error(cell: Cell, four: dict[str, dict[str, int | None]]) -> bool:
    return four[cell.report_id][cell.column] != cell.value


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "review")
    ap.add_argument("--curve", action="store_true", help="also the share at every 1% up to 20%")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    lines = openi(args.work, args.curve) + styles(args.work, args.curve)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
