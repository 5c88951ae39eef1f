"""Hostile reports: patterns that backtrack, the matching budget, YAML alias bombs (issue 19)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from reportlab_nlp import Labeler
from reportlab_nlp.cli import main
from reportlab_nlp.errors import MatchBudgetError, ReportlabError, RulesError
from reportlab_nlp.rules import RuleSet, expand_macros, load_rules
from reportlab_nlp.rules.patterns import regex_problem

# (what it is, the text): each took seconds to minutes with the patterns before the fix
HOSTILE = [
    ("the issue's repro: 'heart size' read as one list item or two", "Heart" + " heart size" * 20 + " zzz."),
    ("a long list of words that both {LIST} and {VGAP} read", "Heart" + " size" * 4000 + " zzz."),
    ("redactions: XXXX in both {LIST} and {VGAP}", "Heart" + " xxxx" * 4000 + " zzz."),
    ("words that {VGAP} and the lungs' words before 'clear' share", "Lungs are" + " again" * 4000 + " zzz."),
]


@pytest.mark.parametrize(("what", "text"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_builtin_patterns_do_not_backtrack_on_hostile_reports(
    labeler: Labeler, at_most: Callable[[int], AbstractContextManager[None]], what: str, text: str
) -> None:
    with at_most(5):  # each takes milliseconds now
        result = labeler.label(text)
    assert result.labels  # labeled, not skipped


# ------------------------------------------------------------------ YAML aliases


def _alias_bomb(levels: int) -> str:
    """A rules file whose ``codes`` nest aliases ``levels`` deep, ten each: 10**levels values."""
    lines = ["findings:", "  - label: Pneumothorax", "    codes:", '      l0: &l0 ["zz", "zz", "zz"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * 10)
        lines.append(f"      l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_naming_the_file(rules_file: Callable[..., Path]) -> None:
    path = rules_file(_alias_bomb(9))  # under 1 KB, 10**9 values expanded
    assert path.stat().st_size < 2000
    with pytest.raises(RulesError) as info:
        load_rules([path])
    assert str(path) in str(info.value) and "aliases expand to more than" in str(info.value)


def test_an_alias_that_contains_itself_is_refused(rules_file: Callable[..., Path]) -> None:
    path = rules_file("findings:\n  - label: Pneumothorax\n    codes: &c {self: *c}\n")
    with pytest.raises(RulesError, match="aliases expand"):
        load_rules([path])


def test_a_few_aliases_are_fine(rules_file: Callable[..., Path]) -> None:
    path = rules_file(
        "findings:\n  - label: Pneumothorax\n    phrases: &p [zzptx, zzptx two]\n"
        "  - label: Pleural Effusion\n    phrases: *p\n"
    )
    assert "zzptx" in load_rules([path]).finding("Pleural Effusion").phrases


# ------------------------------------------------------------------ the static check


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("(zz+)+$", "repetition inside a repetition"),
        (r"(?:zz\w+\s?)*q", "repetition inside a repetition"),
        (r"(?:zz|zz)*q", "alternatives that match the same text"),
        (r"(?:zzab|zzab)*q", "alternatives that match the same text"),
        ("(?:zz)*", "matches the empty string"),
        (r"\b(?:zz)?", "matches the empty string"),
    ],
)
def test_a_user_pattern_that_backtracks_or_matches_nothing_is_refused(
    rules_file: Callable[..., Path], pattern: str, problem: str
) -> None:
    path = rules_file(f"findings:\n  - label: Pneumothorax\n    patterns: ['{pattern}']\n")
    with pytest.raises(RulesError) as info:
        load_rules([path])
    message = str(info.value)
    assert str(path) in message and "finding 'Pneumothorax'" in message and repr(pattern) in message
    assert problem in message


def test_cues_and_modifiers_are_checked_too(rules_file: Callable[..., Path]) -> None:
    with pytest.raises(RulesError, match=r"cue '\(a\+\)\+zz'.*repetition inside"):
        load_rules([rules_file("cues:\n  - {pattern: '(a+)+zz', category: negated}\n")])
    with pytest.raises(RulesError, match=r"modifiers.stops\[0\].*empty string"):
        load_rules([rules_file("modifiers:\n  stops: ['x*']\n")])


def test_every_builtin_pattern_passes_the_static_check(rules: RuleSet) -> None:
    # load_rules() applies it; this names the patterns it looked at, so that a change that
    # skipped it would show
    regexes = {c.regex for c in rules.cues} | {m.regex for m in rules.modifiers.rules}
    regexes |= set(rules.terminators) | set(rules.modifiers.stops)
    regexes |= {
        expand_macros(p, rules.macros, where=("", ""))
        for f in rules.findings
        for p in (*f.patterns, *f.exclusion_patterns, *(q for v in f.states.values() for q in v))
    }
    assert len(regexes) > 300
    assert [r for r in regexes if regex_problem(r)] == []


# ------------------------------------------------------------------ the run-time budget

# adjacent repetitions: no nesting for the static check to see, yet O(n**4) on a long word
SLOW = r"zq\w*\w*\w*\w*!"


def test_a_report_over_the_budget_is_skipped_and_listed(
    tmp_path: Path, rules_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPORTLAB_MATCH_BUDGET_S", "1")
    rules = rules_file(f"findings:\n  - label: Pneumothorax\n    patterns: ['{SLOW}']\n")
    reports = tmp_path / "reports.csv"
    reports.write_text(f"id,text\nok,Small pneumothorax.\nslow,zq{'a' * 400}\nok2,No effusion.\n", "utf-8")
    out = tmp_path / "labels.csv"
    err = io.StringIO()
    started = time.perf_counter()
    rc = main(
        ["label", str(reports), "--rules", str(rules), "--on-error", "skip", "--out", str(out)],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert time.perf_counter() - started < 30
    assert rc == 0, err.getvalue()
    assert [line.split(",")[0] for line in out.read_text("utf-8").splitlines()[1:]] == ["ok", "ok2"]
    (failure,) = [json.loads(line) for line in Path(f"{out}.errors.jsonl").read_text("utf-8").splitlines()]
    assert failure["id"] == "slow" and failure["error"] == "MatchBudgetError"
    assert "matching budget" in failure["message"] and "aaaa" not in failure["message"]


def test_the_budget_error_is_a_user_error_with_the_seconds() -> None:
    err = MatchBudgetError(2.5)
    assert isinstance(err, ReportlabError) and err.exit_code == 2 and "2.5 s" in str(err)
