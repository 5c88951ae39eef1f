"""``label``'s input and output options (issue 18): delimiters, encodings, TSV, refusals, notes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from reportlab_nlp.cli import main

TEXTS = ["No pleural effusion; heart size normal.", "Mild cardiomegaly, no edema.", "Café: clear lungs."]


def run(*argv: str | Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["label", *map(str, argv), "--no-progress"], stdout=out, stderr=err)
    return rc, err.getvalue()


def _table(
    path: Path, delimiter: str, encoding: str = "utf-8", header: tuple[str, str] = ("id", "text")
) -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows([f"r{i}", t] for i, t in enumerate(TEXTS))
    return path


def test_semicolons_are_sniffed_or_named_and_label_as_commas(tmp_path: Path) -> None:
    comma = _table(tmp_path / "comma.csv", ",")
    semi = _table(tmp_path / "semi.csv", ";")
    assert run(comma, "--out", tmp_path / "a.csv")[0] == 0
    assert run(semi, "--out", tmp_path / "b.csv")[0] == 0  # sniffed from the header line
    assert run(semi, "--out", tmp_path / "c.csv", "--delimiter", ";")[0] == 0
    a = (tmp_path / "a.csv").read_bytes()
    assert a == (tmp_path / "b.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()
    assert a.count(b"\n") == 4


def test_encoding_reads_cp1252(tmp_path: Path) -> None:
    src = _table(tmp_path / "win.csv", ",", encoding="cp1252")
    rc, err = run(src, "--out", tmp_path / "x.jsonl")
    assert rc == 2 and "invalid UTF-8 at byte offset" in err and "--encoding" in err
    rc, err = run(src, "--out", tmp_path / "x.jsonl", "--encoding", "cp1252")
    assert rc == 0, err
    lengths = [json.loads(line)["text_length"] for line in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert lengths == [len(t) for t in TEXTS]  # é read as one character
    rc, err = run(src, "--out", tmp_path / "y.jsonl", "--encoding", "klingon")
    assert rc == 2 and "--encoding: unknown encoding 'klingon'" in err


def test_column_errors_name_the_option_and_the_likely_column(tmp_path: Path) -> None:
    src = _table(tmp_path / "r.csv", ",", header=("accession", "report_body"))
    rc, err = run(src, "--out", tmp_path / "x.csv")
    assert rc == 2
    assert "id column 'report_id' not found in" in err and "columns are: 'accession', 'report_body'" in err
    assert "pass --id-col accession" in err
    rc, err = run(src, "--out", tmp_path / "x.csv", "--id-col", "accession")
    assert rc == 2 and "pass --text-col report_body" in err
    assert run(src, "--out", tmp_path / "x.csv", "--id-col", "accession", "--text-col", "report_body")[0] == 0


def test_options_without_effect_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXTS[0], encoding="utf-8")
    rc, err = run(folder, "--out", tmp_path / "x.csv", "--id-col", "accession")
    assert rc == 0 and "warning: --id-col ignored: the input is a folder of .txt files" in err
    assert TEXTS[0] not in err  # no report text
    rc, err = run(_table(tmp_path / "r.csv", ","), "--out", tmp_path / "y.csv", "--workers", "2")
    assert rc == 0 and "note: --workers 2 runs one process: 3 reports fill 1 chunk of 256" in err
    rc, err = run(tmp_path / "r.csv", "--out", tmp_path / "z.csv", "--workers", "1")
    assert rc == 0 and "note:" not in err


def test_tsv_is_written_and_other_table_formats_are_refused(tmp_path: Path) -> None:
    src = _table(tmp_path / "r.csv", ",")
    assert run(src, "--out", tmp_path / "x.csv", "--out", tmp_path / "x.tsv")[0] == 0
    with open(tmp_path / "x.csv", encoding="utf-8", newline="") as f:
        as_csv = list(csv.reader(f))
    with open(tmp_path / "x.tsv", encoding="utf-8", newline="") as f:
        as_tsv = list(csv.reader(f, delimiter="\t"))
    assert as_tsv == as_csv and b"\t" in (tmp_path / "x.tsv").read_bytes()
    for name in ("x.parquet", "x.xlsx"):
        rc, err = run(src, "--out", tmp_path / name)
        assert rc == 2 and f"{name}: {name.split('.')[1]} is not an output format" in err
        assert not (tmp_path / name).exists()
