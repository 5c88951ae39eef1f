"""Golden cases for what test_golden.py does not compare: mention attributes and categorical labels.

Cases in ``golden_sentences.json`` may carry ``"attributes": {label: {attribute: value}}``
(every mention of the label has exactly these attributes; ``{}`` for none) and
``"categories": {category: value or null}``. Their labels are checked by
test_golden.py like every other case. The suite must cover every attribute
value and every RSNA COVID-19 category a few times, and every label added
after the first 31 with positive, negative and uncertain cases.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import reportlab_nlp
from reportlab_nlp import Labeler

HERE = Path(__file__).parent
CASES: list[dict[str, Any]] = json.loads((HERE / "golden_sentences.json").read_text(encoding="utf-8"))[
    "cases"
]
ATTRIBUTE_CASES = [c for c in CASES if "attributes" in c]
CATEGORY_CASES = [c for c in CASES if "categories" in c]
RSNA = "RSNA COVID-19 Category"
FIRST_31 = 31


@cache
def labeler() -> Labeler:
    return reportlab_nlp.load()


@pytest.mark.parametrize("case", ATTRIBUTE_CASES, ids=[c["id"] for c in ATTRIBUTE_CASES])
def test_golden_attributes(case: dict[str, Any]) -> None:
    result = labeler().label(case["text"])
    for label, expected in case["attributes"].items():
        mentions = result.evidence.get(label, ())
        assert mentions, f"no mention of {label}"
        for m in mentions:
            assert dict(m.attributes or {}) == expected, (label, m.text, case["rule"])
            for name, (start, end) in (m.attribute_spans or {}).items():
                assert m.sentence_start <= start < end <= m.sentence_end, name


@pytest.mark.parametrize("case", CATEGORY_CASES, ids=[c["id"] for c in CATEGORY_CASES])
def test_golden_categories(case: dict[str, Any]) -> None:
    result = labeler().label(case["text"])
    for name, expected in case["categories"].items():
        assert result.category(name) == expected, case["rule"]


def test_every_attribute_value_has_three_cases() -> None:
    counts: Counter[tuple[str, str]] = Counter()
    for case in ATTRIBUTE_CASES:
        for attributes in case["attributes"].values():
            for name, value in attributes.items():
                counts[(name, value)] += 1
    for attribute in labeler().rules.modifiers.attributes:
        for value in attribute.values:
            assert counts[(attribute.name, value)] >= 3, (attribute.name, value)


def test_every_rsna_category_has_four_cases() -> None:
    counts = Counter(c["categories"][RSNA] for c in CATEGORY_CASES if RSNA in c["categories"])
    for value in labeler().rules.category(RSNA).values:
        assert counts[value.value] >= 4, value.value


def test_every_new_label_has_five_cases_of_each_kind() -> None:
    """At least five cases per label added after the first 31, with a 1, a 0 and a -1 among them."""
    for label in labeler().labels[FIRST_31:]:
        values = [c["expected"][label] for c in CASES if label in c["expected"]]
        assert len(values) >= 5, label
        assert {1, 0, -1} <= set(values), (label, sorted(set(values)))
