"""medspaCy ConText and target rule JSON files read through ``--rules``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import reportlab_nlp
from reportlab_nlp.errors import RulesError
from reportlab_nlp.rules import load_rules
from reportlab_nlp.types import LabelValue

medspacy = pytest.importorskip("medspacy", reason="medspacy is not installed")
from medspacy.context import ConTextRule  # noqa: E402
from medspacy.target_matcher import TargetRule  # noqa: E402

CONTEXT = [
    ConTextRule("nowhere to be seen", "NEGATED_EXISTENCE", direction="BACKWARD", max_scope=5),
    ConTextRule("quite conceivably", "POSSIBLE_EXISTENCE", direction="BIDIRECTIONAL"),
    ConTextRule("in the distant past", "HISTORICAL", direction="BACKWARD"),
    ConTextRule("nowhere near", "PSEUDO", direction="PSEUDO"),
    ConTextRule("albeit", "TERMINATE", direction="TERMINATE"),
]
TARGETS = [
    TargetRule("pectus excavatum", "PECTUS_EXCAVATUM"),
    TargetRule("pntx", "pneumothorax"),
    TargetRule("fluid", "PLEURAL_EFFUSION", pattern=r"(?i)\bliquor\s+pleurae\b"),
]


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def medspacy_files(tmp_path: Path) -> list[Path]:
    """Files written by medspaCy's own writers."""
    context, targets = tmp_path / "context.json", tmp_path / "targets.json"
    ConTextRule.to_json(CONTEXT, str(context))
    TargetRule.to_json(TARGETS, str(targets))
    return [context, targets]


@pytest.mark.parametrize(
    ("text", "label", "without", "with_rules"),
    [
        ("Pneumothorax is nowhere to be seen.", "Pneumothorax", LabelValue.POSITIVE, LabelValue.NEGATIVE),
        ("Quite conceivably a pneumothorax.", "Pneumothorax", LabelValue.POSITIVE, LabelValue.UNCERTAIN),
        ("Pneumonia in the distant past.", "Pneumonia", LabelValue.POSITIVE, LabelValue.BLANK),
        ("Small pntx.", "Pneumothorax", LabelValue.BLANK, LabelValue.POSITIVE),
        ("There is liquor pleurae on the left.", "Pleural Effusion", LabelValue.BLANK, LabelValue.POSITIVE),
        ("Pectus excavatum.", "PECTUS_EXCAVATUM", None, LabelValue.POSITIVE),
    ],
)
def test_medspacy_rules_label_as_their_cues_and_targets_say(
    medspacy_files: list[Path], text: str, label: str, without: LabelValue | None, with_rules: LabelValue
) -> None:
    base = reportlab_nlp.load().label(text).labels
    assert base.get(label) is without
    assert reportlab_nlp.load(medspacy_files).label(text).labels[label] is with_rules


def test_a_terminate_rule_ends_a_cues_scope(medspacy_files: list[Path]) -> None:
    labeler = reportlab_nlp.load(medspacy_files)
    assert labeler.label("Pneumothorax here is nowhere to be seen.").labels["Pneumothorax"] is (
        LabelValue.NEGATIVE
    )
    assert labeler.label("Pneumothorax albeit here is nowhere to be seen.").labels["Pneumothorax"] is (
        LabelValue.POSITIVE
    )


def test_the_files_map_onto_cues_terminators_and_findings(medspacy_files: list[Path]) -> None:
    rules = load_rules(medspacy_files)
    assert "pntx" in rules.finding("Pneumothorax").phrases
    assert rules.labels[-1] == "PECTUS_EXCAVATUM"
    assert rules.digest() != load_rules().digest()


@pytest.mark.parametrize(
    ("data", "entry", "problem"),
    [
        ({"context_rules": {"literal": "x"}}, "context_rules", "expected a list of rules, found dict"),
        ({"context_rules": ["no"]}, "context_rules[0]", "expected a rule (a mapping), found str"),
        (
            {
                "context_rules": [
                    {"literal": "no", "category": "NEGATED_EXISTENCE"},
                    {"category": "HISTORICAL"},
                ]
            },
            "context_rules[1]",
            "field 'literal': expected a non-empty string, found None",
        ),
        (
            {"context_rules": [{"literal": "no", "category": "FAMILY"}]},
            "context_rules[0]",
            "field 'category': expected one of NEGATED_EXISTENCE, POSSIBLE_EXISTENCE, HISTORICAL, "
            "HYPOTHETICAL, found 'FAMILY'",
        ),
        (
            {"context_rules": [{"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "UP"}]},
            "context_rules[0]",
            "field 'direction': expected one of FORWARD, BACKWARD, BIDIRECTIONAL, PSEUDO, TERMINATE, "
            "found 'UP'",
        ),
        (
            {"context_rules": [{"literal": "no", "category": "NEGATED_EXISTENCE", "max_scope": 0}]},
            "context_rules[0]",
            "field 'max_scope': expected a whole number of words, 1 or more, found 0",
        ),
        (
            {"context_rules": [{"literal": "no", "category": "NEGATED_EXISTENCE", "allowed_types": ["X"]}]},
            "context_rules[0]",
            "field 'allowed_types' is not supported here",
        ),
        (
            {"target_rules": [{"literal": "ptx", "category": "X", "pattern": [{"LOWER": "ptx"}]}]},
            "target_rules[0]",
            "spaCy token patterns are not supported",
        ),
        (
            {"target_rules": [{"literal": "ptx", "category": "X", "color": "red"}]},
            "target_rules[0]",
            "unknown field 'color': expected one of literal, category, pattern, metadata",
        ),
        (
            {"target_rules": [{"literal": "ptx", "category": "X", "pattern": "(unclosed"}]},
            "target_rules[0]",
            "field 'pattern': expected a regular expression, found '(unclosed' (missing )",
        ),
    ],
)
def test_a_bad_rule_names_the_file_the_rule_and_what_was_expected(
    tmp_path: Path, data: Any, entry: str, problem: str
) -> None:
    path = _write(tmp_path, "bad.json", data)
    with pytest.raises(RulesError) as info:
        load_rules([path])
    err = info.value
    assert err.exit_code == 2 and err.path == str(path)
    assert err.entry.startswith(entry), str(err)
    assert problem in err.problem


def test_the_command_line_exits_2_with_our_message(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.json", {"target_rules": [{"literal": "", "category": "X"}]})
    reports = tmp_path / "reports.csv"
    reports.write_text("report_id,text\n1,Small ptx.\n", encoding="utf-8")
    script = Path(sys.executable).with_name("reportlab-nlp")
    proc = subprocess.run(
        [str(script), "label", str(reports), "--out", str(tmp_path / "out.csv"), "--rules", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}: target_rules[0]: field 'literal': expected a non-empty string, found ''" in proc.stderr
