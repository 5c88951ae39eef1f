"""Stage 4, assertion: cue classes, directions, scope limits and which cue decides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reportlab_nlp import Assertion, Mention
from reportlab_nlp.pipeline import AssertionDetector, MentionMatcher, SectionDetector, SentenceSplitter
from reportlab_nlp.rules import RuleSet, load_rules

Run = Callable[[str], list[Mention]]

A = Assertion


def _runner(rules: RuleSet) -> Run:
    sections, sentences = SectionDetector(rules), SentenceSplitter()
    mentions, assertion = MentionMatcher(rules), AssertionDetector(rules)

    def run(text: str) -> list[Mention]:
        secs = sections.find(text)
        sents = sentences.find(text, secs)
        out = assertion.run(text, mentions.find(text, secs, sents), sents)
        for m in out:
            assert text[m.start : m.end] == m.text
            assert text[m.sentence_start : m.sentence_end] == m.sentence
            if m.cue_start >= 0:
                assert text[m.cue_start : m.cue_end] == m.cue
                assert m.sentence_start <= m.cue_start < m.cue_end <= m.sentence_end
            else:
                assert m.cue == "" and m.cue_end == -1
        return out

    return run


@pytest.fixture(scope="module")
def run(rules: RuleSet) -> Run:
    return _runner(rules)


def _of(mentions: list[Mention], label: str) -> Mention:
    found = [m for m in mentions if m.label == label]
    assert len(found) == 1, f"{label}: {found}"
    return found[0]


def _assertion(run: Run, text: str, label: str) -> Assertion:
    return _of(run(text), label).assertion


# ------------------------------------------------------------------ cue classes, built-in cues


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Pneumothorax.", ""),
        ("Small left pneumothorax.", ""),
        ("Stable small pneumothorax.", ""),
        ("Persistent pneumothorax.", ""),
        ("Slightly decreased pneumothorax.", ""),
        ("New right pneumothorax.", ""),
    ],
)
def test_present(run: Run, text: str, cue: str) -> None:
    m = _of(run(text), "Pneumothorax")
    assert m.assertion is A.PRESENT
    assert (m.cue, m.cue_start, m.cue_end) == ("", -1, -1)


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("No pneumothorax.", "No"),
        ("There is no pneumothorax.", "no"),
        ("Without pneumothorax.", "Without"),
        ("Negative for pneumothorax.", "Negative for"),
        ("No evidence of pneumothorax.", "No evidence of"),
        ("Pneumothorax is not seen.", "is not seen"),
        ("Pneumothorax is not identified.", "is not identified"),
        ("No definite pneumothorax.", "No"),
        ("No new pneumothorax.", "No"),
    ],
)
def test_negated(run: Run, text: str, cue: str) -> None:
    m = _of(run(text), "Pneumothorax")
    assert m.assertion is A.NEGATED
    assert m.cue == cue


@pytest.mark.parametrize(
    "text",
    [
        "Possible pneumonia.",
        "Possibly pneumonia.",
        "Probable pneumonia.",
        "Likely pneumonia.",
        "Suspected pneumonia.",
        "Findings suspicious for pneumonia.",
        "Findings concerning for pneumonia.",
        "Findings suggestive of pneumonia.",
        "This may represent pneumonia.",
        "This might be pneumonia.",
        "Pneumonia cannot be excluded.",
        "Cannot exclude pneumonia.",
        "Pneumonia is not excluded.",
        "Questionable pneumonia.",
        "Differential includes pneumonia.",
        "Atelectasis versus pneumonia.",
        "Atelectasis vs pneumonia.",
        "Atelectasis vs. pneumonia.",
        "Pneumonia versus atelectasis.",
        "Atelectasis or pneumonia.",
        "Atelectasis/pneumonia.",
        "Opacity consistent with pneumonia.",
    ],
)
def test_uncertain(run: Run, text: str) -> None:
    m = _of(run(text), "Pneumonia")
    assert m.assertion is A.UNCERTAIN
    assert m.cue


@pytest.mark.parametrize(
    "text", ["Atelectasis versus pneumonia.", "Atelectasis or pneumonia.", "Atelectasis/pneumonia."]
)
def test_each_alternative_is_uncertain(run: Run, text: str) -> None:
    found = run(text)
    assert _of(found, "Atelectasis").assertion is A.UNCERTAIN
    assert _of(found, "Pneumonia").assertion is A.UNCERTAIN


def test_consistent_with_hedges_only_the_interpretation(run: Run) -> None:
    found = run("Right basilar opacity consistent with pneumonia.")
    assert _of(found, "Lung Opacity").assertion is A.PRESENT
    assert _of(found, "Pneumonia").assertion is A.UNCERTAIN


@pytest.mark.parametrize("text", ["History of pneumothorax.", "Prior history of pneumothorax."])
def test_historical(run: Run, text: str) -> None:
    m = _of(run(text), "Pneumothorax")
    assert m.assertion is A.HISTORICAL
    assert "history" in m.cue.lower()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("If pneumonia persists, recommend follow-up.", "Pneumonia"),
        ("Follow-up to exclude a nodule.", "Lung Nodule"),
        ("Recommend repeat imaging to evaluate for pneumothorax.", "Pneumothorax"),
    ],
)
def test_hypothetical(run: Run, text: str, label: str) -> None:
    assert _assertion(run, text, label) is A.HYPOTHETICAL


def test_a_pure_recommendation_is_no_mention(run: Run) -> None:
    assert run("Recommend CT.") == []


@pytest.mark.parametrize(
    "text",
    [
        "No change in the pleural effusion.",
        "No interval change in the left pleural effusion.",
        "No significant change in the small pleural effusion.",
        "Pleural effusion, without change.",
    ],
)
def test_pseudo_cues_hide_the_negation_inside_them(run: Run, text: str) -> None:
    m = _of(run(text), "Pleural Effusion")
    assert m.assertion is A.PRESENT
    assert m.cue == ""


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The pleural effusion has resolved.", "Pleural Effusion"),
        ("Pleural effusion resolved.", "Pleural Effusion"),
        ("Interval resolution of the pneumothorax.", "Pneumothorax"),
        ("The endotracheal tube has been removed.", "Support Devices"),
        ("Interval removal of the chest tube.", "Support Devices"),
        ("Right chest tube removed.", "Support Devices"),
    ],
)
def test_resolved_and_removed_negate(run: Run, text: str, label: str) -> None:
    m = _of(run(text), label)
    assert m.assertion is A.NEGATED
    assert any(w in m.cue.lower() for w in ("resol", "remov"))


# ------------------------------------------------------------------ scope: lists, terminators


@pytest.mark.parametrize(
    "text",
    [
        "No pleural effusion, pneumothorax or consolidation.",
        "No pleural effusion, pneumothorax, or consolidation.",
        "No pleural effusion, pneumothorax and consolidation.",
        "Without pleural effusion, pneumothorax or consolidation.",
        "There is no pleural effusion, pneumothorax or focal consolidation.",
    ],
)
def test_negation_covers_a_list(run: Run, text: str) -> None:
    found = run(text)
    for label in ("Pleural Effusion", "Pneumothorax", "Consolidation"):
        m = _of(found, label)
        assert m.assertion is A.NEGATED, label
        assert m.cue.lower() in ("no", "without")


@pytest.mark.parametrize(
    "text",
    [
        "No pneumothorax, but there is a small pleural effusion.",
        "No pneumothorax, however a small pleural effusion is present.",
        "No pneumothorax, although a small pleural effusion is present.",
        "No pneumothorax, otherwise small pleural effusion.",
        "No pneumothorax; small pleural effusion.",
        "No abnormality except a small pleural effusion.",
        "No pneumothorax. Small pleural effusion.",
    ],
)
def test_terminators_end_the_scope(run: Run, text: str) -> None:
    found = run(text)
    assert _of(found, "Pleural Effusion").assertion is A.PRESENT
    if "pneumothorax" in text:
        assert _of(found, "Pneumothorax").assertion is A.NEGATED


def test_weak_or_yields_to_a_negation(run: Run) -> None:
    found = run("No atelectasis or pneumonia.")
    for label in ("Atelectasis", "Pneumonia"):
        m = _of(found, label)
        assert m.assertion is A.NEGATED
        assert m.cue == "No"


def test_hedge_on_the_test_not_the_finding(run: Run) -> None:
    assert _assertion(
        run, "No pneumothorax, although sensitivity is limited on a supine film.", "Pneumothorax"
    ) is (A.NEGATED)


def test_sentence_wide_hedge(run: Run) -> None:
    text = "Effusion is not clearly seen, though a small one cannot be excluded."
    assert _assertion(run, text, "Pleural Effusion") is A.UNCERTAIN


def test_poorly_seen_is_uncertain(run: Run) -> None:
    assert _assertion(run, "Known pneumothorax, not well seen on this film.", "Pneumothorax") is A.UNCERTAIN


# ------------------------------------------------------------------ mechanism, with cues made for the test

TEST_CUES = """
terminators: ['zzstop']
cues:
  - {phrase: zzfwd, category: negated, direction: forward, window: 3}
  - {phrase: zzback, category: negated, direction: backward, window: 3}
  - {phrase: zzboth, category: uncertain, direction: both, window: 3}
  - {phrase: zzsent, category: uncertain, direction: sentence}
  - {phrase: zzneg, category: negated}
  - {phrase: zzunc, category: uncertain}
  - {phrase: zzweak, category: uncertain, direction: both, weak: true}
  - {phrase: zzhist, category: historical}
  - {phrase: zzhyp, category: hypothetical}
  - {phrase: zzpseudo zzneg, category: pseudo}
"""


@pytest.fixture(scope="module")
def trun(tmp_path_factory: pytest.TempPathFactory) -> Run:
    path: Path = tmp_path_factory.mktemp("cues") / "cues.yaml"
    path.write_text(TEST_CUES, encoding="utf-8")
    return _runner(load_rules([path]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # forward reaches what follows, not what precedes
        ("zzfwd pneumothorax.", A.NEGATED),
        ("Pneumothorax zzfwd.", A.PRESENT),
        # backward the reverse
        ("Pneumothorax zzback.", A.NEGATED),
        ("zzback pneumothorax.", A.PRESENT),
        # both ways
        ("zzboth pneumothorax.", A.UNCERTAIN),
        ("Pneumothorax zzboth.", A.UNCERTAIN),
        # the whole sentence, across terminators, but not into the next sentence
        ("Pneumothorax zzstop tiny zzsent.", A.UNCERTAIN),
        ("zzsent zzstop small pneumothorax.", A.UNCERTAIN),
        ("zzsent. Pneumothorax.", A.PRESENT),
        ("Pneumothorax. Zzsent.", A.PRESENT),
        # the classes
        ("zzhist pneumothorax.", A.HISTORICAL),
        ("zzhyp pneumothorax.", A.HYPOTHETICAL),
        ("zzunc pneumothorax.", A.UNCERTAIN),
        # a pseudo cue hides the cue it overlaps
        ("zzpseudo zzneg pneumothorax.", A.PRESENT),
    ],
)
def test_directions_and_classes(trun: Run, text: str, expected: Assertion) -> None:
    assert _assertion(trun, text, "Pneumothorax") is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zzfwd small left pneumothorax.", A.NEGATED),  # two words between: inside a window of 3
        ("zzfwd small left apical pneumothorax.", A.PRESENT),  # three words: outside
        ("Pneumothorax, small left zzback.", A.NEGATED),
        ("Pneumothorax, small left apical zzback.", A.PRESENT),
        ("zzboth small left apical pneumothorax.", A.PRESENT),
        ("zzneg small left apical lateral basilar pneumothorax.", A.NEGATED),  # window 0: no limit
    ],
)
def test_window_limits(trun: Run, text: str, expected: Assertion) -> None:
    assert _assertion(trun, text, "Pneumothorax") is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zzneg small zzstop pneumothorax.", A.PRESENT),
        ("Pneumothorax zzstop zzback.", A.PRESENT),
        ("zzneg small; pneumothorax.", A.PRESENT),
        ("zzneg small, but pneumothorax.", A.PRESENT),
        ("zzneg small, however pneumothorax.", A.PRESENT),
        ("zzneg small, although pneumothorax.", A.PRESENT),
        ("zzneg small, otherwise pneumothorax.", A.PRESENT),
        ("zzneg small, except pneumothorax.", A.PRESENT),
        ("Pneumothorax; zzback.", A.PRESENT),
    ],
)
def test_terminators(trun: Run, text: str, expected: Assertion) -> None:
    assert _assertion(trun, text, "Pneumothorax") is expected


@pytest.mark.parametrize(
    ("text", "expected", "cue"),
    [
        ("zzneg zzunc pneumothorax.", A.UNCERTAIN, "zzunc"),
        ("zzunc zzneg pneumothorax.", A.NEGATED, "zzneg"),
        ("zzunc small pneumothorax zzback.", A.NEGATED, "zzback"),
        ("zzneg pneumothorax, small zzboth.", A.NEGATED, "zzneg"),
        # a sentence-wide cue wins over a nearer one
        ("zzneg pneumothorax, zzsent.", A.UNCERTAIN, "zzsent"),
        # a weak cue yields to a strong one even when nearer...
        ("zzneg atelectasis zzweak pneumothorax.", A.NEGATED, "zzneg"),
        # ...and applies when it is alone
        ("Atelectasis zzweak pneumothorax.", A.UNCERTAIN, "zzweak"),
    ],
)
def test_which_cue_decides(trun: Run, text: str, expected: Assertion, cue: str) -> None:
    m = _of(trun(text), "Pneumothorax")
    assert m.assertion is expected
    assert m.cue == cue
    assert text[m.cue_start : m.cue_end] == cue


def test_a_cue_inside_the_mention_counts(run: Run) -> None:
    found = [m for m in run("The heart is not enlarged.") if m.label == "Cardiomegaly"]
    assert found
    assert all(m.assertion is A.NEGATED for m in found)


def test_a_fixed_state_wording_keeps_its_state(trun: Run) -> None:
    m = _of(trun("zzunc heart size is normal."), "Cardiomegaly")
    assert m.assertion is A.NEGATED
    assert (m.cue_start, m.cue_end) == (m.start, m.end), "the wording itself is the evidence"


def test_each_sentence_has_its_own_cues(trun: Run) -> None:
    found = trun("zzneg pneumothorax. Pneumothorax again.")
    assert [m.assertion for m in found if m.label == "Pneumothorax"] == [A.NEGATED, A.PRESENT]
