"""The ``reportlab_nlp`` spaCy component in a user's own pipeline, saved and loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.util import registry

import reportlab_nlp
from reportlab_nlp.types import Assertion

TEXT = (
    "INDICATION: Cough.\n"
    "FINDINGS: No pleural effusion. Mild cardiomegaly. Possible left lower lobe pneumonia. "
    "History of pectus excavatum.\n"
    "IMPRESSION: Cardiomegaly without edema."
)
USER_RULES = "findings:\n  - label: Pectus Excavatum\n    phrases: [pectus excavatum]\n"


def _user_nlp(rules: list[str] | None = None, scheme: str = "full") -> spacy.Language:
    """A user's pipeline: spaCy's own English tokenizer, a sentencizer and an entity ruler first."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "SYMPTOM", "pattern": "Cough"}])  # type: ignore[attr-defined]
    nlp.add_pipe("reportlab_nlp", config={"scheme": scheme, "rules": rules or []})
    return nlp


def test_labels_a_doc_of_a_users_pipeline_as_the_labeler_does(tmp_path: Path) -> None:
    rules = tmp_path / "user.yaml"
    rules.write_text(USER_RULES, encoding="utf-8")
    doc = _user_nlp([str(rules)], scheme="chexpert")(TEXT)
    expected = reportlab_nlp.load([rules], scheme="chexpert").label(TEXT)
    assert doc._.reportlab_labels.labels == expected.labels
    assert doc._.reportlab_values == {c: v.to_json() for c, v in expected.labels.items()}
    spans = list(doc.spans["reportlab_nlp"])
    assert {s.label_ for s in spans} >= {"Pleural Effusion", "Cardiomegaly", "Pneumonia", "Pectus Excavatum"}
    for span in spans:  # offsets index doc.text, under spaCy's tokenizer
        mention = span._.reportlab_mention
        assert doc.text[mention.start : mention.end] == mention.text == span.text
        assert span._.is_negated is (mention.assertion is Assertion.NEGATED)
        assert span._.is_uncertain is (mention.assertion is Assertion.UNCERTAIN)
        assert span._.is_historical is (mention.assertion is Assertion.HISTORICAL)
        assert span._.section_category == mention.section
    by_label = {s.label_: s for s in spans}
    assert by_label["Pleural Effusion"]._.is_negated and by_label["Pneumonia"]._.is_uncertain
    assert by_label["Pectus Excavatum"]._.is_historical
    # the user's entity stays; ours join it without overlaps; the user's sentences stay
    assert doc.ents[0].label_ == "SYMPTOM"
    assert {e.label_ for e in doc.ents[1:]} <= {s.label_ for s in spans} and len(doc.ents) > 3
    assert len(list(doc.sents)) == len(list(spacy.blank("en").add_pipe("sentencizer")(doc.copy()).sents))


def test_saved_pipeline_loads_in_a_fresh_process_with_the_same_labels(tmp_path: Path) -> None:
    rules = tmp_path / "user.yaml"
    rules.write_text(USER_RULES, encoding="utf-8")
    nlp = _user_nlp([str(rules)], scheme="chexpert")
    before = nlp(TEXT)
    saved = tmp_path / "pipeline"
    nlp.to_disk(saved)
    rules.unlink()  # the saved pipeline holds its own copy
    meta = json.loads((saved / "reportlab_nlp" / "reportlab_nlp.json").read_text(encoding="utf-8"))
    assert meta["rules_hash"] == nlp.get_pipe("reportlab_nlp").labeler.rules_hash  # type: ignore[attr-defined]
    script = (  # no import of reportlab_nlp: spaCy finds the factory by its entry point
        "import json, sys, spacy\n"
        "doc = spacy.load(sys.argv[1])(sys.argv[2])\n"
        "spans = [[s.start_char, s.end_char, s.label_, s._.is_negated] for s in doc.spans['reportlab_nlp']]\n"
        "print(json.dumps([doc._.reportlab_values, spans, 'reportlab_nlp' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(saved), TEXT], check=True, capture_output=True, text=True
    ).stdout
    values, spans, imported = json.loads(out)
    assert values == before._.reportlab_values and values["Cardiomegaly"] == 1
    assert spans == [
        [s.start_char, s.end_char, s.label_, s._.is_negated] for s in before.spans["reportlab_nlp"]
    ]
    assert imported  # loaded through the entry point, which imports the package


def test_building_labelers_registers_nothing_new() -> None:
    reportlab_nlp.load()
    before = dict(registry.factories.get_all())
    for _ in range(3):
        reportlab_nlp.load()
        _user_nlp()(TEXT)
    assert dict(registry.factories.get_all()) == before
    assert not [name for name in before if "reportlab_rl_" in name]


def test_a_stage_alone_says_to_add_the_whole_pipeline() -> None:
    with pytest.raises(ValueError, match=r'nlp.add_pipe\("reportlab_nlp"\)'):
        spacy.blank("en").add_pipe("reportlab_nlp_mentions")


def test_the_stages_say_what_they_require_and_assign() -> None:
    analysis = reportlab_nlp.load().nlp.analyze_pipes()
    assert not any(analysis["problems"].values())
    assert "doc._.rl_labels" in analysis["summary"]["rl_labels"]["assigns"]


def test_the_readme_example_runs() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use in your own spaCy pipeline", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
