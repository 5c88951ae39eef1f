"""io/tables.py: one delimiter rule, one encoding rule, one error wording, strict quotes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportlab_nlp.errors import EncodingError, InputError
from reportlab_nlp.io.tables import Table, delimiter_for, parse_delimiter
from reportlab_nlp.io.writers import FORMULA_START, neutralise, restore


@pytest.mark.parametrize(
    ("name", "header", "expected"),
    [
        ("a.csv", "report_id,text", ","),
        ("a.csv", "report_id\ttext", "\t"),
        ("a.tsv", "report_id,text", "\t"),  # the suffix first
        ("a.csv", "report_id;text;impression", ";"),
        ("a.txt", "report_id|text", "|"),
        ("a.csv", "text", ","),  # nothing to count: comma
        ("a.csv", "a,b;c", ","),  # a tie: comma
    ],
)
def test_delimiter_rule(name: str, header: str, expected: str) -> None:
    assert delimiter_for(name, header + "\n") == expected
    assert delimiter_for(name, header, ";") == ";"


def test_parse_delimiter() -> None:
    assert parse_delimiter("tab") == "\t" and parse_delimiter("\\t") == "\t" and parse_delimiter(";") == ";"
    with pytest.raises(InputError, match="--delimiter"):
        parse_delimiter(";;")


def _rows(path: Path, **kw: str) -> list[tuple[int, list[str]]]:
    with Table(path, **kw) as t:  # type: ignore[arg-type]
        return list(t.rows())


def test_semicolon_and_cp1252(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_bytes("report_id;text\nr1;Caf\xe9 \u2013 no effusion\n".encode("cp1252"))
    with pytest.raises(EncodingError, match=r"r.csv: invalid UTF-8 at byte offset 21"):
        _rows(p)
    assert _rows(p, encoding="cp1252") == [(2, ["r1", "Café – no effusion"])]


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ('r1,"No effusion.\nr2,"Cardiomegaly."\nr3,"Normal."\n', 2),
        ('r1,"ok"\nr2,"No effusion.\nr3,Normal.\n', 3),
    ],
)
def test_an_unclosed_quote_names_its_line(tmp_path: Path, body: str, line: int) -> None:
    p = tmp_path / "r.csv"
    p.write_text("report_id,text\n" + body)
    with pytest.raises(InputError, match=rf"r.csv: line {line}: a quoted field that begins on this line"):
        _rows(p)


def test_quoted_newlines_and_blank_rows(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text('report_id,text\nr1,"line 1\nline 2"\n\n,\nr2,"say ""no"""\n')
    assert _rows(p) == [(2, ["r1", "line 1\nline 2"]), (5, ["r2", 'say "no"'])]


@given(st.text(max_size=8))
def test_neutralised_ids_never_start_a_formula_and_restore_exactly(cell: str) -> None:
    safe = neutralise(cell)
    assert not safe.startswith(FORMULA_START)
    assert restore(safe) == cell
    assert safe == cell or safe == "'" + cell
