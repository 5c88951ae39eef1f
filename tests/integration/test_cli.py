"""The command line, through the installed console script and through ``cli.main``.

Every report here is invented for the test. The subprocess tests run the real
``reportlab-nlp`` script of the environment running the tests; the in-process
tests call ``reportlab_nlp.cli.main`` with their own streams. A labeler takes
about a second to build, so the in-process tests share one per (rules, scheme):
the CLI still builds it through the same ``load`` call, only once.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import reportlab_nlp
import reportlab_nlp.cli
from reportlab_nlp.cli import main
from reportlab_nlp.io.readers import join_fields

# ------------------------------------------------------------------ helpers


def _script() -> str:
    beside = Path(sys.executable).parent / "reportlab-nlp"
    if beside.exists():
        return str(beside)
    found = shutil.which("reportlab-nlp")
    if found is None:
        pytest.skip("the reportlab-nlp console script is not installed in this environment")
    return found


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def error_line(self) -> str:
        """The one error line the CLI prints for a user's mistake."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1, self.err
        assert lines[0].startswith("reportlab-nlp: error: "), self.err
        assert "Traceback" not in self.err
        return lines[0]


def run_script(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> Result:
    proc = subprocess.run(
        [_script(), *args], input=stdin, capture_output=True, timeout=300, cwd=cwd, env=dict(os.environ)
    )
    return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))


@functools.cache
def _shared_load(
    rules: tuple[str, ...], scheme: str, conventions: str | None = None
) -> reportlab_nlp.Labeler:
    return reportlab_nlp.load(list(rules), scheme=scheme, conventions=conventions)


@pytest.fixture(autouse=True)
def _one_labeler_per_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(
        rules: Sequence[str | Path] | None = None, *, scheme: str = "full", conventions: str | None = None
    ) -> reportlab_nlp.Labeler:
        return _shared_load(tuple(str(r) for r in rules or ()), scheme, conventions)

    monkeypatch.setattr(reportlab_nlp.cli, "load", load)


def columns(scheme: str = "full") -> list[str]:
    return _shared_load((), scheme).columns()


def call(*args: str | Path, stdin: bytes | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    rc = main(
        [str(a) for a in args], stdout=out, stderr=err, stdin=io.BytesIO(stdin) if stdin is not None else None
    )
    return Result(rc, out.getvalue(), err.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str = ",") -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


REPORTS = {
    "r1": "FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Mild cardiomegaly.",
    "r2": "The lungs are clear. Heart size is normal. No pleural effusion.",
    "r3": "Possible right lower lobe pneumonia versus atelectasis. Left chest tube in place.",
}
EXPECTED = {
    "r1": {"Pleural Effusion": "1", "Pneumothorax": "0", "Cardiomegaly": "1", "No Finding": ""},
    "r2": {"Pleural Effusion": "0", "Cardiomegaly": "0", "No Finding": "1"},
    "r3": {"Pneumonia": "-1", "Atelectasis": "-1", "Support Devices": "1", "No Finding": ""},
}


def check_csv(path: Path, columns: list[str], texts: dict[str, str]) -> list[dict[str, str]]:
    """The wide CSV: report_id then the scheme's columns, values 1/0/-1/blank, and no report text."""
    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["report_id", *columns]
    rows = read_csv(path)
    assert [r["report_id"] for r in rows] == list(texts)
    for row in rows:
        assert {v for k, v in row.items() if k != "report_id"} <= {"1", "0", "-1", ""}
    content = path.read_text(encoding="utf-8")
    for text in texts.values():
        for sentence in re.split(r"(?<=\.)\s+", text):
            if len(sentence) > 12:
                assert sentence not in content, "report text leaked into the CSV"
    return rows


def check_jsonl(path: Path, texts: dict[str, str], columns: list[str]) -> list[dict[str, Any]]:
    """JSONL records: labels per column, evidence whose offsets index the report text."""
    records = read_jsonl(path)
    assert [r["id"] for r in records] == list(texts)
    for rec in records:
        text = texts[rec["id"]]
        assert list(rec["labels"]) == columns
        assert set(rec["labels"].values()) <= {1, 0, -1, None}
        assert rec["text_length"] == len(text)
        for column, mentions in rec["evidence"].items():
            assert rec["labels"][column] is not None
            for m in mentions:
                assert text[m["start"] : m["end"]] == m["text"]
                assert text[m["sentence_start"] : m["sentence_end"]] == m["sentence"]
                if m["cue_start"] >= 0:
                    assert text[m["cue_start"] : m["cue_end"]] == m["cue"]
    return records


@pytest.fixture
def reports_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "reports.csv", ["report_id", "text"], list(REPORTS.items()))


# ------------------------------------------------------------------ the console script


def test_script_labels_a_csv_into_both_outputs(tmp_path: Path, reports_csv: Path) -> None:
    out_csv, out_jsonl = tmp_path / "out" / "labels.csv", tmp_path / "out" / "labels.jsonl"
    result = run_script(
        "label", str(reports_csv), "--out", str(out_csv), "--out", str(out_jsonl), "--no-progress"
    )
    assert result.rc == 0, result.err
    cols = columns()
    rows = check_csv(out_csv, cols, REPORTS)
    for row in rows:
        for label, value in EXPECTED[row["report_id"]].items():
            assert row[label] == value, (row["report_id"], label)
    records = check_jsonl(out_jsonl, REPORTS, cols)
    assert [{k: v for k, v in r["labels"].items() if v is not None} for r in records] == [
        {k: int(v) for k, v in row.items() if k != "report_id" and v} for row in rows
    ]
    assert "3 reports read, 3 labeled, 0 empty" in result.err
    assert str(out_csv) in result.err and str(out_jsonl) in result.err
    assert result.out == ""
    assert not list((tmp_path / "out").glob("*.partial"))


def test_script_reads_stdin(tmp_path: Path) -> None:
    out = tmp_path / "stdin.jsonl"
    result = run_script("label", "-", "--out", str(out), stdin=REPORTS["r1"].encode("utf-8"))
    assert result.rc == 0, result.err
    (record,) = check_jsonl(out, {"stdin": REPORTS["r1"]}, columns())
    assert record["labels"]["Pleural Effusion"] == 1


def test_script_explain_on_stdin() -> None:
    result = run_script("explain", "-", "--color", "never", stdin=b"No pneumothorax. Possible pneumonia.")
    assert result.rc == 0, result.err
    assert "{No} [pneumothorax]" in result.out
    assert "{Possible} [pneumonia]" in result.out
    assert "\033[" not in result.out


def test_script_labels_lists_the_scheme() -> None:
    result = run_script("labels", "--scheme", "chestxray14")
    assert result.rc == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("scheme chestxray14")
    assert lines[1].startswith("conventions chestxray14: ")  # the scheme's convention profile
    assert [line.split()[0] for line in lines[2:]] == [
        "Atelectasis",
        "Cardiomegaly",
        "Effusion",
        "Infiltration",
        "Mass",
        "Nodule",
        "Pneumonia",
        "Pneumothorax",
        "Consolidation",
        "Edema",
        "Emphysema",
        "Fibrosis",
        "Pleural_Thickening",
        "Hernia",
        "No",
    ]


def test_script_user_mistake_is_one_line_and_status_2(tmp_path: Path, reports_csv: Path) -> None:
    out = tmp_path / "labels.csv"
    result = run_script("label", str(reports_csv), "--text-col", "findings", "--out", str(out))
    assert result.rc == 2
    line = result.error_line
    assert "'findings'" in line and "'report_id'" in line and "'text'" in line
    assert not out.exists()


# ------------------------------------------------------------------ input formats


def _write_inputs(tmp_path: Path, kind: str) -> tuple[Path, list[str], bytes | None]:
    """The same three reports as a CSV, TSV, JSONL or folder; returns (input, extra args, stdin)."""
    if kind == "csv":
        return write_csv(tmp_path / "in.csv", ["report_id", "text"], list(REPORTS.items())), [], None
    if kind == "tsv":
        path = write_csv(tmp_path / "in.tsv", ["report_id", "text"], list(REPORTS.items()), delimiter="\t")
        return path, [], None
    if kind == "jsonl":
        path = tmp_path / "in.jsonl"
        lines = [json.dumps({"id": k, "text": v, "other": 1}) for k, v in REPORTS.items()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path, [], None
    folder = tmp_path / "in"
    folder.mkdir()
    for k, v in REPORTS.items():
        (folder / f"{k}.txt").write_text(v, encoding="utf-8")
    (folder / "notes.md").write_text("Large pneumothorax.", encoding="utf-8")  # not a .txt: not read
    return folder, [], None


@pytest.mark.parametrize(
    ("kind", "runner"),
    [
        ("csv", "main"),
        ("tsv", "main"),
        ("jsonl", "main"),
        ("folder", "main"),
        # the console script reads the other formats too (CSV and stdin: tests above)
        ("tsv", "script"),
        ("jsonl", "script"),
        ("folder", "script"),
    ],
)
def test_input_formats_give_the_same_labels(tmp_path: Path, kind: str, runner: str) -> None:
    source, extra, stdin = _write_inputs(tmp_path, kind)
    out = tmp_path / "labels.csv"
    if runner == "script":
        result = run_script("label", str(source), *extra, "--out", str(out), stdin=stdin or b"")
    else:
        result = call("label", source, *extra, "--out", out, stdin=stdin)
    assert result.rc == 0, result.err
    rows = check_csv(out, columns(), REPORTS)
    for row in rows:
        for label, value in EXPECTED[row["report_id"]].items():
            assert row[label] == value, (kind, row["report_id"], label)
    assert "3 reports read, 3 labeled" in result.err


def test_stdin_input(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    result = call("label", "-", "--out", out, stdin=REPORTS["r3"].encode("utf-8"))
    assert result.rc == 0, result.err
    (row,) = read_csv(out)
    assert row["report_id"] == "stdin"
    assert row["Pneumonia"] == "-1"


def test_default_columns_and_named_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv", ["uid", "report", "note"], [["u1", "Mild cardiomegaly.", "Pneumothorax."]]
    )
    out = tmp_path / "labels.csv"
    assert call("label", path, "--out", out).rc == 0  # uid and report found by their common names
    (row,) = read_csv(out)
    assert (row["report_id"], row["Cardiomegaly"], row["Pneumothorax"]) == ("u1", "1", "")
    assert call("label", path, "--id-col", "uid", "--text-col", "note", "--out", out).rc == 0
    (row,) = read_csv(out)
    assert (row["Cardiomegaly"], row["Pneumothorax"]) == ("", "1")


# ------------------------------------------------------------------ several text columns

MULTI = {
    "indication": "Evaluate for pneumonia. History of pneumothorax.",
    "findings": "No focal consolidation. Small left pleural effusion.",
    "impression": "Mild cardiomegaly. No pneumothorax.",
}


@pytest.fixture
def multi_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "multi.csv", ["uid", *MULTI], [["m1", *MULTI.values()]])


def test_one_text_column(tmp_path: Path, multi_csv: Path) -> None:
    out = tmp_path / "one.jsonl"
    assert call("label", multi_csv, "--text-col", "findings", "--out", out).rc == 0
    (rec,) = check_jsonl(out, {"m1": MULTI["findings"]}, columns())
    assert "fields" not in rec
    assert rec["labels"]["Pleural Effusion"] == 1
    assert rec["labels"]["Cardiomegaly"] is None


def test_several_text_columns_are_sections(tmp_path: Path, multi_csv: Path) -> None:
    out = tmp_path / "multi.jsonl"
    args = ["--text-col", "indication", "--text-col", "findings", "--text-col", "impression"]
    result = call("label", multi_csv, *args, "--out", out)
    assert result.rc == 0, result.err
    (rec,) = read_jsonl(out)
    # the indication is the clinical question: not labeled
    assert rec["labels"]["Pneumonia"] is None
    assert rec["labels"]["Pneumothorax"] == 0  # from the impression only
    assert rec["labels"]["Pleural Effusion"] == 1
    assert rec["labels"]["Consolidation"] == 0
    assert rec["labels"]["Cardiomegaly"] == 1
    assert [s["category"] for s in rec["sections"]] == ["indication", "findings", "impression"]
    assert [s["read"] for s in rec["sections"]] == [False, True, True]

    # evidence offsets index the joined text, whose layout "fields" gives
    fields = {f["name"]: (f["start"], f["end"]) for f in rec["fields"]}
    assert list(fields) == list(MULTI)
    joined, spans = join_fields(list(MULTI.items()))
    assert rec["text_length"] == len(joined)
    assert [(n, s, e) for n, s, e in spans] == [(n, *fields[n]) for n in MULTI]
    for name, (start, end) in fields.items():
        assert joined[start:end] == MULTI[name]
    n = 0
    for mentions in rec["evidence"].values():
        for m in mentions:
            (name,) = [k for k, (s, e) in fields.items() if s <= m["start"] and m["end"] <= e]
            s = fields[name][0]
            assert MULTI[name][m["start"] - s : m["end"] - s] == m["text"]
            assert MULTI[name][m["sentence_start"] - s : m["sentence_end"] - s] == m["sentence"]
            assert m["section"] == name
            n += 1
    assert n >= 4


def test_several_text_columns_through_the_reader_keep_offsets(tmp_path: Path, multi_csv: Path) -> None:
    from reportlab_nlp.io.readers import ReportSource

    source = ReportSource(str(multi_csv), id_col="uid", text_cols=["findings", "impression"])
    assert source.check() == 1
    (report,) = source.reports()
    assert [name for name, _, _ in report.fields] == ["findings", "impression"]
    for name, start, end in report.fields:
        assert report.text[start:end] == MULTI[name]
    result = _shared_load((), "full").label(report.text, id=report.id)
    for mentions in result.evidence.values():
        for m in mentions:
            assert report.text[m.start : m.end] == m.text


# ------------------------------------------------------------------ schemes and outputs


@pytest.mark.parametrize("scheme", ["full", "chexpert", "chestxray14"])
def test_scheme_picks_the_columns(tmp_path: Path, reports_csv: Path, scheme: str) -> None:
    out_csv, out_jsonl = tmp_path / "l.csv", tmp_path / "l.jsonl"
    result = call("label", reports_csv, "--scheme", scheme, "--out", out_csv, "--out", out_jsonl)
    assert result.rc == 0, result.err
    columns = _shared_load((), scheme).columns()
    rows = check_csv(out_csv, columns, REPORTS)
    records = check_jsonl(out_jsonl, REPORTS, columns)
    effusion = "Effusion" if scheme == "chestxray14" else "Pleural Effusion"
    assert [r[effusion] for r in rows] == ["1", "0", ""]
    assert [r["labels"][effusion] for r in records] == [1, 0, None]
    assert "Pleural Effusion" in records[0]["evidence"] or effusion in records[0]["evidence"]
    assert set(records[0]["evidence"]) <= set(columns)
    if scheme == "chestxray14":
        # r3 has a device only besides its uncertain findings; r2 is normal
        assert [r["No Finding"] for r in rows] == ["", "1", ""]


def test_format_flag_overrides_the_extension(tmp_path: Path, reports_csv: Path) -> None:
    out = tmp_path / "labels.out"
    assert call("label", reports_csv, "--format", "jsonl", "--out", out).rc == 0
    assert len(read_jsonl(out)) == 3
    assert call("label", reports_csv, "--out", out).rc == 0  # not .jsonl: CSV
    assert out.read_text(encoding="utf-8").startswith("report_id,")


def test_summary_table_on_stdout(tmp_path: Path, reports_csv: Path) -> None:
    result = call("label", reports_csv, "--summary", "--scheme", "chexpert", "--out", tmp_path / "l.csv")
    assert result.rc == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["label", "1", "0", "-1", "blank"]
    counts = {line.rsplit(None, 4)[0].strip(): [int(x) for x in line.split()[-4:]] for line in lines[1:]}
    assert len(counts) == 14
    assert counts["Pleural Effusion"] == [1, 1, 0, 1]
    assert all(sum(c) == 3 for c in counts.values())


# ------------------------------------------------------------------ bad input


def test_missing_id_column(tmp_path: Path, reports_csv: Path) -> None:
    result = call("label", reports_csv, "--id-col", "accession", "--out", tmp_path / "l.csv")
    assert result.rc == 2
    line = result.error_line
    assert "id column 'accession' not found" in line
    assert str(reports_csv) in line
    assert "columns are: 'report_id', 'text'" in line


def test_no_id_column_among_the_defaults(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", ["name", "text"], [["a", "No pneumothorax."]])
    line = call("label", path, "--out", tmp_path / "l.csv").error_line
    assert "id column" in line and "'name', 'text'" in line


def test_missing_text_column(tmp_path: Path, reports_csv: Path) -> None:
    result = call("label", reports_csv, "--text-col", "findings", "--out", tmp_path / "l.csv")
    assert result.rc == 2
    line = result.error_line
    assert "text column 'findings' not found" in line
    assert "columns are: 'report_id', 'text'" in line


def test_missing_key_in_jsonl_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"text": "y"}\n', encoding="utf-8")
    result = call("label", path, "--out", tmp_path / "l.csv")
    assert result.rc == 2
    assert "line 2" in result.error_line and "'id'" in result.error_line


def test_bad_json_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": \n', encoding="utf-8")
    result = call("label", path, "--out", tmp_path / "l.csv")
    assert result.rc == 2
    assert "line 2" in result.error_line and "not valid JSON" in result.error_line


def test_missing_input(tmp_path: Path) -> None:
    result = call("label", tmp_path / "nope.csv", "--out", tmp_path / "l.csv")
    assert result.rc == 2
    assert "nope.csv" in result.error_line


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = call("label", tmp_path / "empty", "--out", tmp_path / "l.csv")
    assert result.rc == 2
    assert "no .txt files" in result.error_line


def test_empty_and_whitespace_reports(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        ["report_id", "text"],
        [["ok", "Mild cardiomegaly."], ["empty", ""], ["blank", "  \n\t "], ["unread", "INDICATION: cough."]],
    )
    out_csv, out_jsonl = tmp_path / "l.csv", tmp_path / "l.jsonl"
    result = call("label", path, "--out", out_csv, "--out", out_jsonl)
    assert result.rc == 0, result.err
    rows = {r["report_id"]: r for r in read_csv(out_csv)}
    for rid in ("empty", "blank", "unread"):
        assert all(v == "" for k, v in rows[rid].items() if k != "report_id"), rid
    assert rows["ok"]["Cardiomegaly"] == "1"
    records = {r["id"]: r for r in read_jsonl(out_jsonl)}
    assert records["ok"]["warnings"] == []
    for rid in ("empty", "blank", "unread"):
        assert records[rid]["warnings"], rid
        assert all(v is None for v in records[rid]["labels"].values())
        assert records[rid]["evidence"] == {}
    assert "4 reports read, 4 labeled, 3 empty or without readable text, 3 with warnings" in result.err


def _bad_utf8_csv(tmp_path: Path) -> tuple[Path, int]:
    head = b"report_id,text\nr1,Mild cardiomegaly.\nr2,Caf"
    path = tmp_path / "latin1.csv"
    path.write_bytes(head + b"\xe9 small pleural effusion.\n")
    return path, len(head)


def test_invalid_utf8(tmp_path: Path) -> None:
    path, offset = _bad_utf8_csv(tmp_path)
    out = tmp_path / "l.csv"
    result = call("label", path, "--out", out)
    assert result.rc == 2
    line = result.error_line
    assert str(path) in line
    assert f"byte offset {offset}" in line
    assert "--encoding-errors replace" in line
    assert not out.exists()


def test_invalid_utf8_replaced(tmp_path: Path) -> None:
    path, _ = _bad_utf8_csv(tmp_path)
    out = tmp_path / "l.jsonl"
    result = call("label", path, "--encoding-errors", "replace", "--out", out)
    assert result.rc == 0, result.err
    records = read_jsonl(out)
    assert [r["id"] for r in records] == ["r1", "r2"]
    assert records[1]["labels"]["Pleural Effusion"] == 1


def test_invalid_utf8_in_a_folder_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_text("No pneumothorax.", encoding="utf-8")
    (folder / "b.txt").write_bytes(b"Small \xff effusion.")
    result = call("label", folder, "--out", tmp_path / "l.csv")
    assert result.rc == 2
    assert "b.txt" in result.error_line and "byte offset 6" in result.error_line
    assert call("label", folder, "--out", tmp_path / "l.csv", "--encoding-errors", "replace").rc == 0


def test_invalid_utf8_on_stdin(tmp_path: Path) -> None:
    result = call("label", "-", "--out", tmp_path / "l.csv", stdin=b"No \xc3pneumothorax.")
    assert result.rc == 2
    assert "<stdin>" in result.error_line and "byte offset 3" in result.error_line


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfreport_id,text\nb1,Mild cardiomegaly.\n")
    out = tmp_path / "l.csv"
    result = call("label", path, "--out", out)
    assert result.rc == 0, result.err
    (row,) = read_csv(out)
    assert row["report_id"] == "b1"
    assert row["Cardiomegaly"] == "1"
    stdin = call("label", "-", "--out", out, stdin=b"\xef\xbb\xbfMild cardiomegaly.")
    assert stdin.rc == 0
    assert read_csv(out)[0]["Cardiomegaly"] == "1"


def test_duplicate_ids(tmp_path: Path) -> None:
    rows = [["a", "x."], ["b", "Mild cardiomegaly."], ["a", "y."], ["c", "z."], ["b", "No effusion."]]
    path = write_csv(tmp_path / "dup.csv", ["report_id", "text"], rows)
    out = tmp_path / "l.csv"
    result = call("label", path, "--out", out)
    assert result.rc == 2
    line = result.error_line
    assert "duplicate report ids: 'a', 'b'" in line
    assert "'c'" not in line
    assert "--allow-duplicate-ids" in line
    assert not out.exists()
    allowed = call("label", path, "--allow-duplicate-ids", "--out", out)
    assert allowed.rc == 0, allowed.err
    assert [r["report_id"] for r in read_csv(out)] == ["a", "b", "a", "c", "b"]


def test_large_and_odd_reports(tmp_path: Path) -> None:
    # a findings sentence, then long sentences of de-identification marks (the sentence stage is
    # slow on very many short sentences: see test_sentences.py), then a finding at the very end
    paragraph = "Seen with XXXX on XXXX at the XXXX, " * 30 + "as discussed.\n"
    big = "FINDINGS: Heart size is normal.\n" + paragraph * (1_000_000 // len(paragraph) + 1)
    big = big[: 1_000_000 - 30] + "\nSmall left pleural effusion."
    assert 999_000 < len(big) <= 1_000_000
    odd = {
        "punct": "... ,,, ;;; !!! ??? --- /// (( )) [] {} ** ## @@ %% ^^ && ~~",
        "digits": "123 4.5 6,7 8/9 10:11 2021-01-01 0.0001 1e9",
        "marks": "XXXX XXXX. XXXX, ___ ___.",
        "mixed": "1. 2. 3. a) b) - * \u2022 \u2014 \u00a0 \ufeff \u200b",
    }
    texts = {"big": big, **odd}
    path = write_csv(tmp_path / "odd.csv", ["report_id", "text"], list(texts.items()))
    out = tmp_path / "l.jsonl"
    result = call("label", path, "--out", out)
    assert result.rc == 0, result.err
    records = {r["id"]: r for r in check_jsonl(out, texts, columns())}
    assert records["big"]["labels"]["Pleural Effusion"] == 1
    assert records["big"]["labels"]["Cardiomegaly"] == 0
    for rid in odd:
        assert all(v in (None, 1) for v in records[rid]["labels"].values()), rid
        assert records[rid]["evidence"] == {}, rid


def test_bad_rules_file(tmp_path: Path, reports_csv: Path) -> None:
    rules = tmp_path / "my_rules.yaml"
    rules.write_text("cues:\n  - {phrase: zznope, category: sorta}\n", encoding="utf-8")
    out = tmp_path / "l.csv"
    result = call("label", reports_csv, "--rules", rules, "--out", out)
    assert result.rc == 2
    line = result.error_line
    assert str(rules) in line and "cue 'zznope'" in line and "sorta" in line
    assert not out.exists()
    missing = call("explain", "No effusion.", "--rules", tmp_path / "nope.yaml")
    assert missing.rc == 2
    assert "nope.yaml" in missing.error_line


def test_rules_file_is_applied(tmp_path: Path, reports_csv: Path) -> None:
    rules = tmp_path / "my_rules.yaml"
    rules.write_text("findings:\n  - label: Zz Tube\n    definition: d\n    phrases: [chest tube]\n", "utf-8")
    out = tmp_path / "l.csv"
    assert call("label", reports_csv, "--rules", rules, "--out", out).rc == 0
    rows = read_csv(out)
    assert list(rows[0])[-1] == "Zz Tube"
    assert [r["Zz Tube"] for r in rows] == ["", "", "1"]


def test_unknown_scheme(tmp_path: Path, reports_csv: Path) -> None:
    result = call("label", reports_csv, "--scheme", "mimic", "--out", tmp_path / "l.csv")
    assert result.rc == 2
    assert "unknown scheme 'mimic'" in result.error_line
    assert re.search(r"known schemes are: .*chestxray14, chexpert, .*full", result.error_line)
    assert call("labels", "--scheme", "mimic").rc == 2


def test_unwritable_output(tmp_path: Path, reports_csv: Path) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    result = call("label", reports_csv, "--out", tmp_path / "afile" / "l.csv")
    assert result.rc == 2
    assert "afile" in result.error_line


# ------------------------------------------------------------------ atomic output


def _precious(tmp_path: Path) -> tuple[Path, Path]:
    csv_out, jsonl_out = tmp_path / "labels.csv", tmp_path / "labels.jsonl"
    csv_out.write_text("precious csv\n", encoding="utf-8")
    jsonl_out.write_text("precious jsonl\n", encoding="utf-8")
    return csv_out, jsonl_out


def _untouched(tmp_path: Path, csv_out: Path, jsonl_out: Path) -> None:
    assert csv_out.read_text(encoding="utf-8") == "precious csv\n"
    assert jsonl_out.read_text(encoding="utf-8") == "precious jsonl\n"
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]


def test_failure_before_labeling_leaves_outputs_untouched(tmp_path: Path) -> None:
    csv_out, jsonl_out = _precious(tmp_path)
    path = write_csv(tmp_path / "dup.csv", ["report_id", "text"], [["a", "x"], ["a", "y"]])
    assert call("label", path, "--out", csv_out, "--out", jsonl_out).rc == 2
    _untouched(tmp_path, csv_out, jsonl_out)


def test_failure_while_labeling_leaves_outputs_untouched(tmp_path: Path) -> None:
    csv_out, jsonl_out = _precious(tmp_path)
    path = tmp_path / "in.jsonl"
    lines = [
        {"id": "a", "text": "Small pleural effusion."},
        {"id": "b", "text": "No pneumothorax."},
        {"id": "c", "text": 5},  # found only on the second pass, after a and b were written
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    result = call("label", path, "--out", csv_out, "--out", jsonl_out)
    assert result.rc == 2
    assert "line 3" in result.error_line
    _untouched(tmp_path, csv_out, jsonl_out)


def test_success_replaces_the_outputs(tmp_path: Path, reports_csv: Path) -> None:
    csv_out, jsonl_out = _precious(tmp_path)
    assert call("label", reports_csv, "--out", csv_out, "--out", jsonl_out).rc == 0
    assert len(read_csv(csv_out)) == 3
    assert len(read_jsonl(jsonl_out)) == 3
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]


# ------------------------------------------------------------------ explain and labels


def test_explain_text() -> None:
    result = call(
        "explain",
        "FINDINGS: No pneumothorax. Possible pneumonia.\nIMPRESSION: Mild cardiomegaly.",
        "--color",
        "never",
    )
    assert result.rc == 0
    out = result.out
    assert re.search(r"^Pneumothorax\s+0\s+negative$", out, re.M)
    assert re.search(r"^Pneumonia\s+-1\s+uncertain$", out, re.M)
    assert re.search(r"^Cardiomegaly\s+1\s+positive$", out, re.M)
    assert "{No} [pneumothorax]." in out
    assert "{Possible} [pneumonia]." in out
    assert "Mild [cardiomegaly]." in out
    assert '[findings 13:25; cue "No"]' in out
    assert "Fracture" not in out  # blank labels only with --all
    assert "\033[" not in out


def test_explain_all_and_color() -> None:
    result = call("explain", "Mild cardiomegaly.", "--all", "--color", "always")
    assert result.rc == 0
    assert "Fracture" in result.out and "blank" in result.out
    assert "\033[" in result.out


def test_explain_stdin() -> None:
    result = call(
        "explain", "-", "--color", "never", stdin=b"Heart size is normal. Small left pleural effusion."
    )
    assert result.rc == 0
    assert "Small left [pleural effusion]." in result.out
    assert re.search(r"^Cardiomegaly\s+0\s+negative$", result.out, re.M)


def test_explain_empty_text() -> None:
    result = call("explain", "   ", "--color", "never")
    assert result.rc == 0
    assert "warning:" in result.out and "(no labels)" in result.out


@pytest.mark.parametrize("scheme", ["full", "chexpert", "chestxray14"])
def test_labels_lists_the_scheme(scheme: str) -> None:
    result = call("labels", "--scheme", scheme)
    assert result.rc == 0
    labeler = _shared_load((), scheme)
    lines = result.out.splitlines()
    assert lines[0].startswith(f"scheme {scheme}: ")
    assert lines[1].startswith(f"conventions {labeler.conventions}: ")
    assert len(lines) == 2 + len(labeler.columns())
    for line, column in zip(lines[2:], labeler.columns(), strict=True):
        assert line.startswith(column + " ")
    if scheme == "chestxray14":
        assert any(line.startswith("Effusion ") and "(= Pleural Effusion)" in line for line in lines)


def test_version() -> None:
    with pytest.raises(SystemExit) as info:
        call("--version")
    assert info.value.code == 0


def test_usage_error_is_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        call("label")  # no input, no --out
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err
