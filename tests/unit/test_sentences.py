"""Stage 2, sentences: a rule splitter for radiology reports."""

from __future__ import annotations

import time

import pytest

from reportlab_nlp import Labeler, LabelValue
from reportlab_nlp.pipeline import SectionDetector, SentenceSplitter
from reportlab_nlp.rules import RuleSet

SPLITTER = SentenceSplitter()


def _split(text: str) -> list[str]:
    spans = SPLITTER.split(text, 0, len(text))
    _check(text, spans)
    return [text[s:e] for s, e in spans]


def _check(text: str, spans: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> None:
    """Spans are in order, disjoint, non-empty and trimmed of white space."""
    pos = 0
    for s, e in spans:
        assert pos <= s < e <= len(text)
        piece = text[s:e]
        assert piece == piece.strip()
        pos = e


def test_plain_sentences() -> None:
    assert _split("The heart is normal. No effusion! Pneumothorax? No.") == [
        "The heart is normal.",
        "No effusion!",
        "Pneumothorax?",
        "No.",
    ]


def test_no_split_before_lower_case() -> None:
    assert _split("Discussed with XXXX at XXXX p.m. on the ward. Lungs clear.") == [
        "Discussed with XXXX at XXXX p.m. on the ward.",
        "Lungs clear.",
    ]


def _item_of(sentences: list[str], words: str) -> str:
    (found,) = [s for s in sentences if words in s]
    return found


@pytest.mark.parametrize(
    "text",
    [
        "IMPRESSION: 1. No pneumothorax. 2. Small effusion. 3. Mild cardiomegaly.",
        "1. No pneumothorax\n2. Small effusion\n3. Mild cardiomegaly",
        "1. No pneumothorax.\n2. Small effusion.\n3. Mild cardiomegaly.",
        "1) No pneumothorax 2) Small effusion 3) Mild cardiomegaly",
        "1. No pneumothorax 2. Small effusion 3. Mild cardiomegaly",
    ],
)
def test_numbered_list_items_are_separate_sentences(text: str) -> None:
    sentences = _split(text[text.index(":") + 1 :] if ":" in text else text)
    items = [_item_of(sentences, w) for w in ("pneumothorax", "effusion", "cardiomegaly")]
    assert len(set(items)) == 3
    assert "effusion" not in items[0]
    assert "cardiomegaly" not in items[1]


@pytest.mark.parametrize(
    "text",
    [
        "1. No pneumothorax. 2. Small effusion. 3. Mild cardiomegaly.",
        "1. No pneumothorax.\n2. Small effusion.\n3. Mild cardiomegaly.",
    ],
)
def test_numbered_list_marker_stays_with_its_item(text: str) -> None:
    assert _split(text) == ["1. No pneumothorax.", "2. Small effusion.", "3. Mild cardiomegaly."]


def test_bulleted_list_on_lines() -> None:
    assert _split("- Small effusion\n- Mild cardiomegaly\n* No pneumothorax") == [
        "- Small effusion",
        "- Mild cardiomegaly",
        "* No pneumothorax",
    ]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Discussed with Dr. Smith at noon. Lungs clear.", "Discussed with Dr. Smith at noon."),
        (
            "Atelectasis vs. pneumonia in the left base. Lungs clear.",
            "Atelectasis vs. pneumonia in the left base.",
        ),
        ("Infection, e.g. Pneumonia, is possible. Lungs clear.", "Infection, e.g. Pneumonia, is possible."),
        ("Nodule measures approx. 5 mm. Lungs clear.", "Nodule measures approx. 5 mm."),
        ("Tip at approx. T4. Lungs clear.", "Tip at approx. T4."),
        (
            "Nodule measures 2.5 cm in the right apex. Lungs clear.",
            "Nodule measures 2.5 cm in the right apex.",
        ),
        ("There is a 1.2 x 2.3 cm nodule. Lungs clear.", "There is a 1.2 x 2.3 cm nodule."),
        ("Dr. XXXX was notified of the findings. Lungs clear.", "Dr. XXXX was notified of the findings."),
        ("Findings discussed with Dr. XXXX XXXX. Lungs clear.", "Findings discussed with Dr. XXXX XXXX."),
    ],
)
def test_abbreviations_decimals_and_deidentification_marks(text: str, first: str) -> None:
    assert _split(text) == [first, "Lungs clear."]


@pytest.mark.parametrize(
    "text",
    [
        "There is a nodule in the right apex.There is no effusion.",
        "Calcified granuloma measures 5 mm.No effusion.",
    ],
)
def test_glued_period_splits(text: str) -> None:
    sentences = _split(text)
    assert len(sentences) == 2
    assert sentences[1].startswith(("There is no", "No effusion"))


def test_glued_period_inside_an_abbreviation_does_not_split() -> None:
    assert len(_split("Follow-up e.g.CT is advised.")) == 1


def test_wrapped_lines_join() -> None:
    text = "The lungs are clear without focal\nconsolidation or effusion. The heart\nis normal."
    assert _split(text) == [
        "The lungs are clear without focal\nconsolidation or effusion.",
        "The heart\nis normal.",
    ]


def test_line_breaks_that_end_a_sentence_split() -> None:
    assert _split("Heart normal\nLungs clear\n\nno effusion") == [
        "Heart normal",
        "Lungs clear",
        "no effusion",
    ]


def test_white_space_is_trimmed() -> None:
    text = "   Heart size normal.  \n\n  Lungs clear.   \n"
    spans = SPLITTER.split(text, 0, len(text))
    assert [text[s:e] for s, e in spans] == ["Heart size normal.", "Lungs clear."]
    assert spans[0][0] == 3


def test_white_space_only_has_no_sentences() -> None:
    assert SPLITTER.split("  \n\t ", 0, 5) == []
    assert SPLITTER.split("", 0, 0) == []


def test_split_offsets_are_absolute() -> None:
    text = "PREFIX Heart normal. Lungs clear. SUFFIX"
    spans = SPLITTER.split(text, 7, 33)
    assert [text[s:e] for s, e in spans] == ["Heart normal.", "Lungs clear."]


def test_sentences_never_cross_sections(rules: RuleSet) -> None:
    text = (
        "INDICATION: cough\nFINDINGS: Lungs clear\nno effusion IMPRESSION: Normal chest\n"
        "IMPRESSION\nNormal\nCOMPARISON: None."
    )
    sections = SectionDetector(rules).find(text)
    spans = SPLITTER.find(text, sections)
    _check(text, spans)
    for s, e in spans:
        assert any(sec.start <= s and e <= sec.end for sec in sections), text[s:e]
        assert "IMPRESSION" not in text[s:e] and "FINDINGS" not in text[s:e]
    assert [text[s:e] for s, e in spans] == [
        "cough",
        "Lungs clear\nno effusion",
        "Normal chest",
        "Normal",
        "None.",
    ]


# ------------------------------------------------------------------ known problems


@pytest.mark.parametrize(
    "text",
    [
        "Single view of the chest, AP. Cardiomegaly.",
        "Frontal and lateral views, PA and lat. Cardiomegaly.",
        "Chest 2 views PA and lat.\nCardiomegaly.",
    ],
)
def test_view_names_end_sentences(text: str) -> None:
    assert _split(text)[-1] == "Cardiomegaly."


def test_negation_does_not_leak_past_a_view_name(labeler: Labeler) -> None:
    result = labeler.label("No pneumothorax on the AP. Cardiomegaly.")
    assert result.labels["Pneumothorax"] is LabelValue.NEGATIVE
    assert result.labels["Cardiomegaly"] is LabelValue.POSITIVE


def test_sentences_of_the_labeled_report(labeler: Labeler) -> None:
    text = "FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Mild cardiomegaly."
    result = labeler.label(text)
    (m,) = result.evidence["Pneumothorax"]
    assert m.sentence == "No pneumothorax."
    assert text[m.sentence_start : m.sentence_end] == m.sentence
    (m,) = result.evidence["Cardiomegaly"]
    assert m.sentence == "Mild cardiomegaly."


@pytest.mark.parametrize(
    "text",
    [
        "Heart normal. Lungs clear.\nNo effusion.",
        "FINDINGS: Heart normal. Lungs clear.\nIMPRESSION: 1. No effusion. 2. Mild cardiomegaly.",
        "There is a nodule in the right apex.There is no effusion.",
    ],
)
def test_doc_sents_agree_with_the_sentence_spans(labeler: Labeler, text: str) -> None:
    doc = labeler.nlp(text)
    spans = doc._.rl_sentences
    token_starts = {t.idx for t in doc}
    assert all(s in token_starts for s, _ in spans), "every sentence starts on a token"
    starts = {s for s, _ in spans}
    assert {t.idx for t in doc if t.is_sent_start} == {0} | starts
    assert [sent.start_char for sent in doc.sents] == sorted({0} | starts)


def _sentence_stage_seconds(labeler: Labeler, text: str, repeat: int) -> float:
    sections, sentences = labeler.nlp.get_pipe("rl_sections"), labeler.nlp.get_pipe("rl_sentences")
    best = float("inf")
    for _ in range(repeat):
        doc = sections(labeler.nlp.make_doc(text))
        start = time.perf_counter()
        sentences(doc)
        best = min(best, time.perf_counter() - start)
    return best


def test_sentence_stage_scales_linearly(labeler: Labeler) -> None:
    small = _sentence_stage_seconds(labeler, "The lungs are clear. " * 2000, repeat=3)
    large = _sentence_stage_seconds(labeler, "The lungs are clear. " * 8000, repeat=2)
    # four times the text: about four times the time when linear, sixteen when quadratic
    assert large / small < 8, f"{small:.3f} s for 2,000 sentences, {large:.3f} s for 8,000"


INVISIBLE = ["\u00a0", "\u200b", "\u2028", "\u2029", "\u0085", "\ufeff", "\u200e", "\u202f", "\r", " \u200b"]


@pytest.mark.parametrize("space", INVISIBLE)
def test_invisible_and_exotic_spaces_end_a_sentence(labeler: Labeler, space: str) -> None:
    """Issue 19.2: after a full stop, a no-break space, zero-width space, U+2028, NEL, BOM, a bidi
    mark or a lone CR ended no sentence, so a negation reached the next one."""
    text = f"No pneumothorax.{space}Large left pleural effusion.{space}Heart size normal."
    spans = SPLITTER.split(text, 0, len(text))
    _check(text, spans)
    assert [text[s:e].strip("\u200b\ufeff\u200e") for s, e in spans] == [
        "No pneumothorax.",
        "Large left pleural effusion.",
        "Heart size normal.",
    ]
    result = labeler.label(text)
    assert result.labels["Pleural Effusion"] is LabelValue.POSITIVE
    assert result.labels["Pneumothorax"] is LabelValue.NEGATIVE
    for m in result.evidence["Pleural Effusion"]:  # offsets index the original text
        assert text[m.start : m.end] == m.text


def test_a_header_after_a_no_break_space_is_still_a_header(labeler: Labeler) -> None:
    plain = "Chest. Lungs are clear. Left knee. Large osteophytes on the femur."
    nbsp = plain.replace(". ", ".\u00a0")
    assert labeler.label(nbsp).labels == labeler.label(plain).labels


@pytest.mark.parametrize("hidden", ["\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff", "\u200e"])
def test_invisible_characters_inside_words_hide_no_mention(labeler: Labeler, hidden: str) -> None:
    text = f"FINDINGS: Small left pneumo{hidden}thorax. No pleural ef{hidden}fusion. Heart size normal."
    result = labeler.label(text)
    assert result.labels["Pneumothorax"] is LabelValue.POSITIVE
    assert result.labels["Pleural Effusion"] is LabelValue.NEGATIVE
    for label in ("Pneumothorax", "Pleural Effusion"):
        (m, *_) = result.evidence[label]
        assert text[m.start : m.end] == m.text and hidden in m.text  # offsets into the original
