"""Invisible white space after a full stop: how many label cells change. Prints a table; asserts nothing.

    python bench/invisible_spaces.py [--limit N]

Labels the Open-i development reports (../shared/corpora/iu_xray, findings +
impression, as the command line reads them) once as they are and once with every
``". "`` replaced by ``"."`` and one invisible or exotic space (no-break space,
zero-width space, U+2028, NEL, BOM, a bidi mark, a lone CR), and counts the label cells
(report x label of the full set) that differ from the original's. Issue 19.2:
with ``.\\u00a0`` the splitter joined sentences and 1,039 cells changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import reportlab_nlp
from reportlab_nlp.io.readers import ReportSource

DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "iu_xray" / "reports_dev.csv"
SPACES = {
    "no-break space U+00A0": "\u00a0",
    "zero-width space U+200B": "\u200b",
    "line separator U+2028": "\u2028",
    "NEL U+0085": "\u0085",
    "BOM U+FEFF": "\ufeff",
    "left-to-right mark U+200E": "\u200e",
    "lone CR": "\r",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N reports")
    args = parser.parse_args()
    reports = list(ReportSource(str(DEV), id_col="uid", text_cols=("findings", "impression")).reports())
    reports = reports[: args.limit] if args.limit else reports
    labeler = reportlab_nlp.load()

    def cells(texts: list[str]) -> list[dict[str, object]]:
        return [dict(r.labels) for r in labeler.pipe(texts)]

    base = cells([r.text for r in reports])
    n_cells = sum(len(b) for b in base)
    print(f"{len(reports)} reports, {n_cells} label cells; '. ' replaced by '.' + the character")
    print(f"{'character':<28}{'reports changed':>16}{'cells changed':>15}")
    for name, ch in SPACES.items():
        changed = cells([r.text.replace(". ", "." + ch) for r in reports])
        diff = [sum(b[k] != c[k] for k in b) for b, c in zip(base, changed, strict=True)]
        print(f"{name:<28}{sum(d > 0 for d in diff):>16}{sum(diff):>15}")


if __name__ == "__main__":
    main()
