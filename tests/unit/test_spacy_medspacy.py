"""medspaCy's tools read the component's output, whichever of the two is imported first."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("medspacy", reason="medspacy is not installed")

TEXT = "FINDINGS: No pleural effusion. Mild cardiomegaly. Possible pneumonia."

SCRIPT = """
import json, sys
first, second = sys.argv[1:3]
__import__(first); __import__(second)
import spacy
from medspacy.io import DocConsumer
from medspacy.visualization import visualize_ent
nlp = spacy.blank("en")
nlp.add_pipe("reportlab_nlp")
doc = nlp(sys.argv[3])
html = visualize_ent(doc, jupyter=False)
consumer = DocConsumer(nlp, dtypes=("ents", "group"), span_group_name="reportlab_nlp")
consumer.dtype_attrs["group"] = consumer.dtype_attrs["ents"]
consumer(doc)
frame = doc._.to_dataframe("ents")
print(json.dumps({
    "html": html,
    "ents": {k: list(v) for k, v in doc._.get_data("ents").items()},
    "group": {k: list(v) for k, v in doc._.get_data("group").items()},
    "columns": list(frame.columns),
    "rows": len(frame),
}))
"""


@pytest.mark.parametrize("order", [("medspacy", "reportlab_nlp"), ("reportlab_nlp", "medspacy")])
def test_visualizer_and_doc_consumer_read_our_doc(order: tuple[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *order, TEXT], check=True, capture_output=True, text=True
    ).stdout
    data = json.loads(out)
    for label in ("PLEURAL EFFUSION", "CARDIOMEGALY", "PNEUMONIA"):
        assert label in data["html"]
    ents = data["ents"]
    assert ents["label_"] == ["Pleural Effusion", "Cardiomegaly", "Pneumonia"]
    assert ents["is_negated"] == [True, False, False]
    assert ents["is_uncertain"] == [False, False, True]
    assert ents["section_category"] == ["findings"] * 3
    assert [TEXT[s:e] for s, e in zip(ents["start_char"], ents["end_char"], strict=True)] == ents["text"]
    assert data["group"]["is_negated"] == [True, False, False]
    assert {"is_negated", "is_historical", "section_category"} <= set(data["columns"]) and data["rows"] == 3
