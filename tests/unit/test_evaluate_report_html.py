"""report.html: self-contained, escaped, deterministic; the evidence highlighted."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reportlab_nlp.evaluate import compare
from reportlab_nlp.evaluate.compare import Comparison, Disagreement
from reportlab_nlp.evaluate.outputs import write_outputs
from reportlab_nlp.evaluate.report_html import highlight, render
from reportlab_nlp.types import Assertion, LabelValue, Mention

EVIL_ID = '<img src="https://example.org/x.png" onerror="alert(1)">'
SENTENCE = 'No <b>pleural</b> effusion & "no" pneumothorax.'

URL_ATTRIBUTE = re.compile(r"""\b(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def comparison() -> Comparison:
    theirs = {EVIL_ID: {"Pleural Effusion": "1", "Edema": "0"}, "2": {"Pleural Effusion": "0", "Edema": "1"}}
    ours = {EVIL_ID: {"Pleural Effusion": 0, "Edema": 0}, "2": {"Pleural Effusion": 0, "Edema": None}}
    start = SENTENCE.index("effusion")

    def evidence(ids: set[str]) -> dict[str, dict[str, tuple[Mention, ...]]]:
        assert ids == {EVIL_ID, "2"}
        m = Mention(
            label="Pleural Effusion",
            text="effusion",
            start=100 + start,
            end=100 + start + len("effusion"),
            sentence=SENTENCE,
            sentence_start=100,
            sentence_end=100 + len(SENTENCE),
            section="findings",
            assertion=Assertion.NEGATED,
            cue="No",
            cue_start=100,
            cue_end=102,
        )
        return {EVIL_ID: {"Pleural Effusion": (m,)}}

    return compare(theirs, ours, min_pos=1, n_boot=100, evidence=evidence)


def test_page_is_self_contained_and_escaped() -> None:
    page = render(comparison())
    assert page.startswith("<!DOCTYPE html>")
    assert URL_ATTRIBUTE.search(page) is None
    for banned in ("<script", "<link", "@import", "<iframe", "<img"):
        assert banned not in page.lower(), banned
    assert re.search(r"url\(\s*['\"]?(?!#)", page) is None  # only local fragments (SVG clip paths)
    assert html_escaped(EVIL_ID) in page
    assert "<svg" in page and "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata" not in page
    assert '<table class="summary">' in page and "@media print" in page
    # the only URLs are the SVG namespaces (and the escaped text of the hostile id)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page.replace(html_escaped(EVIL_ID), ""))) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_evidence_is_highlighted_in_the_disagreements() -> None:
    c = comparison()
    d = next(x for x in c.disagreements if x.label == "Pleural Effusion")
    assert (d.matched, d.cue, d.assertion, d.section) == ("effusion", "No", "negated", "findings")
    marked = highlight(d)
    assert marked == (
        '<span class="cue">No</span> &lt;b&gt;pleural&lt;/b&gt; <mark>effusion</mark> '
        "&amp; &quot;no&quot; pneumothorax."
    )
    assert marked in render(c)


def test_highlight_falls_back_to_searching_the_phrase() -> None:
    d = Disagreement(
        "1",
        "Edema",
        "Edema",
        LabelValue.POSITIVE,
        LabelValue.NEGATIVE,
        sentence="Mild edema.",
        matched="edema",
    )
    assert highlight(d) == "Mild <mark>edema</mark>."
    d.matched = "not there"
    assert highlight(d) == "Mild edema."


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    a = write_outputs(comparison(), tmp_path / "a")
    b = write_outputs(comparison(), tmp_path / "b")
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    summary = json.loads(a["summary.json"].read_text(encoding="utf-8"))
    assert summary["labels"][0]["label"] == "Pleural Effusion"
    assert summary["disagreements"]["count"] == 2
    assert summary["reports"]["in_both"] == 2


def test_without_reference_or_bootstrap_and_an_undefined_kappa() -> None:
    theirs = {"a": {"X": "", "Y": "1"}, "b": {"X": "", "Y": "0"}}
    ours = {"a": {"X": None, "Y": 1}, "b": {"X": None, "Y": 0}}
    c = compare(theirs, ours, reference=False, n_boot=0)
    assert c.label("X").kappa.value is None and c.label("Y").kappa.value == 1.0
    page = render(c)
    assert "undefined" in page and "F1 for presence" not in page and '<th class="n">F1</th>' not in page
    assert c.to_dict()["overall"]["kappa_macro"] == 1.0  # the mean of the defined kappas
