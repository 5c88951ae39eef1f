"""Two long exports of one corpus, one by the rules and one with a model's probabilities, concatenate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reportlab_nlp.export.provenance import Provenance
from reportlab_nlp.export.records import LabeledReport
from reportlab_nlp.export.table_schema import arrow_schema, read_long_csv_arrow
from reportlab_nlp.export.tables import LongCsvWriter

pa = pytest.importorskip("pyarrow", reason="pyarrow (spark extra) reads the tables")


def write(path: Path, reports: list[LabeledReport], provenance: Provenance, columns: list[str]) -> Path:
    writer = LongCsvWriter(path, columns, provenance)
    for r in reports:
        writer.write(r)
    writer.commit()
    return path


def test_rules_and_model_exports_concatenate(tmp_path: Path, rules) -> None:
    full = rules.schemes["full"]
    columns = [c for c, _ in full.columns]
    src = tmp_path / "reports.csv"
    src.write_text("report_id,text\n", encoding="utf-8")
    base = LabeledReport.from_labels("r1", {"Pleural Effusion": 1, "Edema": 0}, full)
    by_rules = write(
        tmp_path / "rules.csv", [base], Provenance.for_run(src, scheme="full", rules_hash="a" * 64), columns
    )
    model = dataclasses.replace(base, probabilities={"Pleural Effusion": 0.91, "Edema": 0.08})
    prov = Provenance.for_run(src, scheme="full", rules_hash="a" * 64, engine="hybrid", model_sha256="b" * 64)
    by_model = write(tmp_path / "model.csv", [model], prov, columns)
    # inferred types differ (the reason for the schema): an all-empty column is null-typed
    from pyarrow import csv as pacsv

    assert pacsv.read_csv(str(by_rules)).schema.field("probability").type == pa.null()
    a, b = read_long_csv_arrow(by_rules), read_long_csv_arrow(by_model)
    assert a.schema == b.schema == arrow_schema()
    both = pa.concat_tables([a, b])
    assert both.num_rows == 2 * len(columns)
    probs = both.column("probability").to_pylist()
    assert probs.count(None) == 2 * len(columns) - 2 and 0.91 in probs
    assert set(both.column("value").to_pylist()) == {1, 0, None}
    pd = pytest.importorskip("pandas")
    frame = pd.concat([a.to_pandas(), b.to_pandas()])
    assert str(frame["probability"].dtype) == "float64"
