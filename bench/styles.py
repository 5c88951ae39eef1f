"""Four-class figures of the rule labeler on corpora/styles/ (`make styles`).

Labels both halves (reports_a.csv, reports_b.csv) with the chosen scheme (default
`chexpert`, which applies its convention profile) and scores them against
expected_a.csv / expected_b.csv with reportlab_nlp.evaluate.fourclass: presence,
positive, negative and uncertain F1 per label and their macro. `--errors` lists
every report whose labels differ from the expected ones, cell by cell.

Usage: python bench/styles.py [--scheme chexpert] [--conventions NAME] [--min-pos 1] [--errors]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import reportlab_nlp
from reportlab_nlp.evaluate.fourclass import normal, score

CORPUS = Path(__file__).resolve().parents[1] / "corpora" / "styles"
HALVES = ("a", "b")


def read(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a CSV by their ``report_id``."""
    with open(path, encoding="utf-8", newline="") as f:
        return {row["report_id"]: row for row in csv.DictReader(f)}


def label_styles(
    scheme: str = "chexpert", conventions: str | None = None
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], list[str]]:
    """(predicted, expected, columns) over both halves; cells as 1 / 0 / -1 / ''."""
    labeler = reportlab_nlp.load(scheme=scheme, conventions=conventions)
    columns = labeler.columns()
    pred: dict[str, dict[str, str]] = {}
    gold: dict[str, dict[str, str]] = {}
    for half in HALVES:
        reports = read(CORPUS / f"reports_{half}.csv")
        for rid, row in read(CORPUS / f"expected_{half}.csv").items():
            gold[rid] = {c: normal(row.get(c)) for c in columns}
            values = labeler.values(labeler.label(reports[rid]["text"], id=rid))
            pred[rid] = {c: "" if v.value is None else str(v.value) for c, _, v in values}
    return pred, gold, columns


def differences(pred: dict[str, str], gold: dict[str, str], columns: list[str]) -> list[str]:
    """``label expected E got P`` for every cell of one report that differs."""
    return [
        f"{c} expected {gold[c] or 'blank'} got {pred.get(c) or 'blank'}"
        for c in columns
        if gold[c] != (pred.get(c) or "")
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scheme", default="chexpert")
    ap.add_argument("--conventions", default=None)
    ap.add_argument("--min-pos", type=int, default=1)
    ap.add_argument("--errors", action="store_true", help="list the reports that differ, cell by cell")
    args = ap.parse_args(argv)
    pred, gold, columns = label_styles(args.scheme, args.conventions)
    if args.errors:
        for rid in gold:
            diff = differences(pred[rid], gold[rid], columns)
            if diff:
                print(f"{rid}: " + "; ".join(diff))
    scores = score(pred, gold, columns, min_pos=args.min_pos)
    sys.stdout.write(f"corpora/styles: {len(gold)} reports, scheme {args.scheme}\n")
    sys.stdout.write(scores.table())
    exact = sum(not differences(pred[r], gold[r], columns) for r in gold)
    print(f"reports with every label as expected: {exact} of {len(gold)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
