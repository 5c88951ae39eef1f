"""corpora/styles/ scored four-class (presence, positive, negative, uncertain) with `--scheme chexpert`.

Each report is a case: its fourteen labels must be the expected ones
(corpora/styles/expected_*.csv). The reports that differ today are listed in
styles_known_failures.json and run as strict xfails, so a fix is noticed. The
macro figures have floors at the measured values (bench/styles.py prints the table).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reportlab_nlp.evaluate.fourclass import score

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpora" / "styles"
KNOWN = json.loads((Path(__file__).with_name("styles_known_failures.json")).read_text(encoding="utf-8"))[
    "failures"
]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_styles", ROOT / "bench" / "styles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ids() -> list[str]:
    ids: list[str] = []
    for half in ("a", "b"):
        with open(CORPUS / f"expected_{half}.csv", encoding="utf-8", newline="") as f:
            ids += [row["report_id"] for row in csv.DictReader(f)]
    return ids


def _case(rid: str) -> Any:
    if rid in KNOWN:
        return pytest.param(rid, marks=pytest.mark.xfail(strict=True, reason=KNOWN[rid]), id=rid)
    return pytest.param(rid, id=rid)


@pytest.fixture(scope="module")
def labeled() -> tuple[Any, dict[str, dict[str, str]], dict[str, dict[str, str]], list[str]]:
    bench = _bench()
    pred, gold, columns = bench.label_styles("chexpert")
    return bench, pred, gold, columns


@pytest.mark.parametrize("rid", [_case(r) for r in _ids()])
def test_report_labels(labeled: Any, rid: str) -> None:
    bench, pred, gold, columns = labeled
    assert bench.differences(pred[rid], gold[rid], columns) == []


def test_known_failures_are_reports_of_the_corpus() -> None:
    assert set(KNOWN) <= set(_ids())


@pytest.mark.parametrize(
    ("cls", "floor"),
    # measured 0.952 / 0.933 / 0.939 / 0.900 when written; issue 17 asks presence >= 0.95, uncertain >= 0.85
    [("presence", 0.95), ("positive", 0.93), ("negative", 0.93), ("uncertain", 0.85)],
)
def test_macro_f1_floors(labeled: Any, cls: str, floor: float) -> None:
    _, pred, gold, columns = labeled
    assert score(pred, gold, columns).macro(cls) >= floor


def test_fourclass_counts_a_blank_as_no_class() -> None:
    s = score({"r": {"A": ""}}, {"r": {"A": "0"}}, ["A"])
    assert (s.count("A", "negative").fn, s.count("A", "presence").f1) == (1, 0.0)
    s = score({"r": {"A": "-1"}}, {"r": {"A": "1"}}, ["A"])
    assert s.count("A", "presence").tp == 1 and s.count("A", "positive").fn == 1
    assert s.count("A", "uncertain").fp == 1
