"""Golden regression suite: sentence -> expected labels (tests/regression/golden_sentences.json).

Every label not listed in a case's ``expected`` must come out blank (No Finding
is not compared). Cases whose wording the labeler does not yet get right are
listed in ``known_failures.json`` with a reason; they run as strict xfails, so
a fix is noticed. A case may name rules profiles to load (``"rules"``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import reportlab_nlp
from reportlab_nlp import Labeler, LabelValue

HERE = Path(__file__).parent
CASES: list[dict[str, Any]] = json.loads((HERE / "golden_sentences.json").read_text(encoding="utf-8"))[
    "cases"
]
KNOWN: dict[str, str] = json.loads((HERE / "known_failures.json").read_text(encoding="utf-8"))["golden"]


@cache
def labeler(profiles: tuple[str, ...] = ()) -> Labeler:
    return reportlab_nlp.load(list(profiles))


def observed(case: dict[str, Any]) -> dict[str, int]:
    result = labeler(tuple(case.get("rules", ()))).label(case["text"])
    return {
        k: v.value
        for k, v in result.labels.items()
        if k != "No Finding" and v is not LabelValue.BLANK and v.value is not None
    }


def _param(case: dict[str, Any]) -> Any:
    marks = []
    if case["id"] in KNOWN:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN[case["id"]]))
    return pytest.param(case, id=case["id"], marks=marks)


def test_suite_is_large_and_unique() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 200
    assert len(set(ids)) == len(ids)
    assert set(KNOWN) <= set(ids), f"known failures name unknown cases: {sorted(set(KNOWN) - set(ids))}"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_golden(case: dict[str, Any]) -> None:
    assert observed(case) == case["expected"], case["rule"]
