"""Stage 3, mentions: lexicon matches in read sections, with exclusions, implied labels and states."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reportlab_nlp.pipeline import MentionMatcher, SectionDetector, SentenceSplitter
from reportlab_nlp.pipeline.mentions import Candidate
from reportlab_nlp.rules import RuleSet, load_rules

Find = Callable[[str], list[Candidate]]


def _finder(rules: RuleSet) -> Find:
    sections, sentences, mentions = SectionDetector(rules), SentenceSplitter(), MentionMatcher(rules)

    def find(text: str) -> list[Candidate]:
        secs = sections.find(text)
        sents = sentences.find(text, secs)
        found = mentions.find(text, secs, sents)
        for c in found:
            assert 0 <= c.start < c.end <= len(text)
            s, e = sents[c.sentence]
            assert s <= c.start and c.end <= e, "a mention lies inside its sentence"
            assert text[c.start : c.end] == text[c.start : c.end].strip()
        assert [(c.start, c.end) for c in found] == sorted((c.start, c.end) for c in found), (
            "sorted by offset"
        )
        return found

    return find


@pytest.fixture(scope="module")
def find(rules: RuleSet) -> Find:
    return _finder(rules)


def _spans(text: str, found: list[Candidate]) -> list[tuple[str, str]]:
    return [(c.label, text[c.start : c.end]) for c in found]


def test_phrase_mention_with_offsets(find: Find) -> None:
    text = "FINDINGS: Small left pleural effusion. No pneumothorax."
    found = find(text)
    assert _spans(text, found) == [("Pleural Effusion", "pleural effusion"), ("Pneumothorax", "pneumothorax")]
    assert found[0].start == text.index("pleural")
    assert found[0].section == "findings"
    assert found[0].rule == "phrase: pleural effusion"
    assert found[0].state == ""
    assert [c.sentence for c in found] == [0, 1]


def test_longest_match_wins_within_a_label(find: Find) -> None:
    text = "Left pleural effusion."
    assert _spans(text, find(text)) == [("Pleural Effusion", "pleural effusion")]


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("PNEUMOTHORAX.", "PNEUMOTHORAX"),
        ("Tiny pneumothoraces.", "pneumothoraces"),
        ("Air-space disease.", "Air-space disease"),
        ("Airspace disease.", "Airspace disease"),
        ("Air space\ndisease.", "Air space\ndisease"),
    ],
)
def test_case_plural_and_spacing_variants(find: Find, text: str, matched: str) -> None:
    assert matched in [t for _, t in _spans(text, find(text))]


@pytest.mark.parametrize("text", ["xpneumothorax.", "There is a small pneumothor", "pneumothoraxx"])
def test_whole_words_only(find: Find, text: str) -> None:
    assert [c for c in find(text) if c.label == "Pneumothorax"] == []


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Small pericardial effusion.", "Pleural Effusion"),
        ("Subcutaneous emphysema in the neck.", "Emphysema"),
        ("Breast mass.", "Lung Mass"),
    ],
)
def test_exclusions_suppress_a_match(find: Find, text: str, label: str) -> None:
    assert label not in {c.label for c in find(text)}


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Right upper lobe nodule.", {"Lung Nodule", "Lung Lesion"}),
        ("Hiatal hernia.", {"Hiatal Hernia", "Hernia"}),
    ],
)
def test_implied_labels_copy_the_mention(find: Find, text: str, labels: set[str]) -> None:
    found = find(text)
    assert {c.label for c in found} >= labels
    spans = {(c.start, c.end) for c in found if c.label in labels}
    assert len(spans) == 1, "the implied label shares the mention's span"
    assert any("(via " in c.rule for c in found if c.label in labels)


@pytest.mark.parametrize(
    ("text", "label", "state"),
    [
        ("Heart size is normal.", "Cardiomegaly", "negated"),
        (
            "The cardiomediastinal silhouette is within normal limits.",
            "Enlarged Cardiomediastinum",
            "negated",
        ),
        ("Heart size is borderline.", "Cardiomegaly", "uncertain"),
    ],
)
def test_state_wordings(find: Find, text: str, label: str, state: str) -> None:
    (c,) = [c for c in find(text) if c.label == label]
    assert c.state == state
    assert c.rule.startswith(f"{state} wording")


def test_unread_sections_are_not_matched(find: Find) -> None:
    text = (
        "INDICATION: pneumonia.\nHISTORY: pleural effusion.\nCOMPARISON: cardiomegaly.\n"
        "FINDINGS: pneumothorax."
    )
    assert _spans(text, find(text)) == [("Pneumothorax", "pneumothorax")]


def test_offsets_survive_non_ascii_text(find: Find) -> None:
    text = "Ünïcödé — İstanbul: ﬁne. Small pleural effusion."
    (c,) = find(text)
    assert text[c.start : c.end] == "pleural effusion"


def test_no_mentions_in_empty_or_blank_text(find: Find) -> None:
    assert find("") == []
    assert find("   \n\t") == []
    assert find("... 123 !!! ,,, 4.5") == []


def test_a_match_never_crosses_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "findings:\n  - label: Zz Finding\n    definition: d\n"
        "    patterns: ['(?<![A-Za-z])zzfoo\\s+zzbar']\n",
        encoding="utf-8",
    )
    find = _finder(load_rules([path]))
    one_sentence = "Zzfoo zzbar."
    assert _spans(one_sentence, find(one_sentence)) == [("Zz Finding", "Zzfoo zzbar")]
    assert find("Zzfoo\nZzbar.") == []  # a line break before a capital ends the sentence
    assert find("Zzfoo\n\nzzbar.") == []  # a blank line ends it
