"""Value conventions of label files: detection, forced conventions, mixed columns."""

from __future__ import annotations

import pytest

from reportlab_nlp.errors import LabelFileError
from reportlab_nlp.evaluate.conventions import ColumnConvention, classify, describe, harmonise, read_column
from reportlab_nlp.types import LabelValue

P, N, U, B = LabelValue.POSITIVE, LabelValue.NEGATIVE, LabelValue.UNCERTAIN, LabelValue.BLANK


def read(cells: list[str], convention: str = "auto") -> tuple[list[LabelValue], ColumnConvention]:
    rows = list(range(2, len(cells) + 2))
    return read_column("their.csv", "Edema", cells, rows, convention=convention)


@pytest.mark.parametrize(
    ("raw", "family", "value"),
    [
        ("1", "numbers", P),
        ("1.0", "numbers", P),
        (" 0 ", "numbers", N),
        ("-1", "numbers", U),
        ("-1.0", "numbers", U),
        ("TRUE", "true/false", P),
        ("false", "true/false", N),
        ("Yes", "yes/no", P),
        ("no", "yes/no", N),
        ("Positive", "words", P),
        ("present", "words", P),
        ("negative", "words", N),
        ("ABSENT", "words", N),
        ("uncertain", "words", U),
        ("", "", B),
        ("   ", "", B),
    ],
)
def test_classify_known_values(raw: str, family: str, value: LabelValue) -> None:
    assert classify(raw) == (family, value)


@pytest.mark.parametrize("raw", ["2", "maybe", "0.5", "y", "pos", "-2"])
def test_classify_unknown_values(raw: str) -> None:
    assert classify(raw) is None


def test_detects_chexpert_from_minus_one_or_blank() -> None:
    values, conv = read(["1", "0", "-1", ""])
    assert values == [P, N, U, B]
    assert (conv.convention, conv.spelling, conv.has_blank, conv.detected) == (
        "chexpert",
        "numbers",
        True,
        True,
    )
    _, conv = read(["1", "0", ""])
    assert conv.convention == "chexpert"


def test_detects_binary_spellings() -> None:
    assert read(["1", "0", "0"])[1].convention == "binary"
    values, conv = read(["yes", "no", "No"])
    assert values == [P, N, N] and (conv.convention, conv.spelling) == ("binary", "yes/no")
    values, conv = read(["true", "False"])
    assert values == [P, N] and (conv.convention, conv.spelling) == ("binary", "true/false")


def test_detects_text() -> None:
    values, conv = read(["positive", "absent", "uncertain", ""])
    assert values == [P, N, U, B]
    assert conv.convention == "text" and conv.has_blank


def test_all_blank_column_is_empty() -> None:
    values, conv = read(["", ""])
    assert values == [B, B] and conv.convention == "empty"


def test_mixed_conventions_name_file_column_and_rows() -> None:
    with pytest.raises(LabelFileError) as e:
        read(["1", "yes", "0", "no", "-1"])
    msg = str(e.value)
    assert "their.csv" in msg and "'Edema'" in msg and "mixes value conventions" in msg
    assert "numbers in rows 2, 4, 6" in msg
    assert "yes/no in rows 3, 5" in msg


def test_unknown_values_name_the_rows() -> None:
    with pytest.raises(LabelFileError) as e:
        read(["1", "maybe", "0", "maybe", "2"])
    msg = str(e.value)
    assert "their.csv: column 'Edema'" in msg
    assert "'maybe' in rows 3, 5" in msg and "'2' in row 6" in msg


def test_many_rows_are_cut_short() -> None:
    with pytest.raises(LabelFileError, match=r"rows 2, 3, 4, 5, 6, 7, 8, 9 and 4 more"):
        read(["maybe"] * 12)


def test_forced_convention_rejects_other_values() -> None:
    with pytest.raises(LabelFileError, match=r"values '-1' in row 4 are not in the binary convention"):
        read(["1", "0", "-1"], convention="binary")
    with pytest.raises(LabelFileError, match=r"not in the chexpert convention"):
        read(["yes", "no"], convention="chexpert")
    with pytest.raises(LabelFileError, match=r"not in the text convention"):
        read(["1", "0"], convention="text")
    values, conv = read(["1", "0", ""], convention="binary")
    assert values == [P, N, B] and conv.convention == "binary" and not conv.detected


def test_harmonise_states_one_convention_for_number_columns() -> None:
    a = ColumnConvention("A", "chexpert", "numbers", has_blank=False)
    b = ColumnConvention("B", "binary", "numbers", has_blank=False)
    c = ColumnConvention("C", "binary", "yes/no", has_blank=False)
    out = harmonise([a, b, c])
    assert [x.convention for x in out] == ["chexpert", "chexpert", "binary"]
    assert harmonise([b, c]) == [b, c]
    assert describe(harmonise([a, b])).startswith("CheXpert")
    assert describe([a, c]).startswith("mixed by column")
