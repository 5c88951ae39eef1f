"""The bundled demo corpus as a regression test: corpora/demo/reports.csv against
corpora/demo/expected.json (every non-blank label of the full scheme, No Finding
included), through the same reader the command line uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import reportlab_nlp
from reportlab_nlp import LabelValue
from reportlab_nlp.io.readers import ReportSource

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "corpora" / "demo"
EXPECTED: dict[str, dict[str, int]] = json.loads((DEMO / "expected.json").read_text(encoding="utf-8"))
KNOWN: dict[str, str] = json.loads(
    (Path(__file__).parent / "known_failures.json").read_text(encoding="utf-8")
)["demo"]


@pytest.fixture(scope="module")
def observed() -> dict[str, dict[str, int]]:
    labeler = reportlab_nlp.load()
    source = ReportSource(str(DEMO / "reports.csv"), id_col="report_id", text_cols=["text"])
    source.check()
    out: dict[str, dict[str, int]] = {}
    for result in labeler.pipe(source.reports()):
        out[result.id] = {k: v.value for k, v in result.labels.items() if v is not LabelValue.BLANK}
    return out


def test_corpus_size_and_coverage() -> None:
    assert len(EXPECTED) >= 150
    labels = reportlab_nlp.load().labels
    for label in labels:
        values = {v.get(label) for v in EXPECTED.values()}
        assert 1 in values, f"no demo report has {label} = 1"


def _param(report_id: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN[report_id])] if report_id in KNOWN else []
    return pytest.param(report_id, id=report_id, marks=marks)


@pytest.mark.parametrize("report_id", [_param(r) for r in sorted(EXPECTED)])
def test_demo_report(report_id: str, observed: dict[str, dict[str, int]]) -> None:
    assert observed[report_id] == EXPECTED[report_id]
