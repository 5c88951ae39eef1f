"""Study manifests: UID syntax, validation errors that name rows, warnings, the linkage log."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportlab_nlp.errors import ColumnNotFoundError, InputError, ManifestError
from reportlab_nlp.export.manifest import (
    LinkageLog,
    StudyLink,
    is_valid_uid,
    parse_column_map,
    read_link_warnings,
    read_manifest,
    uid_problem,
)

HEADER = "report_id,study_uid,case_id,accession_number,modality,body_part,study_date\n"


def write(tmp_path: Path, text: str, name: str = "studies.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.1.2.1",
        "2.25.311015580625845359468222003152276556767",
        "0.0",
        "1.2.0.3",
        "1." + "2" * 62,  # 64 characters
    ],
)
def test_valid_uids(uid: str) -> None:
    assert is_valid_uid(uid)
    assert uid_problem(uid) is None


@pytest.mark.parametrize(
    ("uid", "why"),
    [
        ("", "empty"),
        ("1.2.03", "leading zero"),
        ("01.2", "leading zero"),
        ("1..2", "empty component"),
        ("1.2.", "empty component"),
        (".1.2", "empty component"),
        ("1.2.a", "'a'"),
        ("1.2 .3", "' '"),
        ("1." + "2" * 63, "65 characters"),
    ],
)
def test_invalid_uids_say_why(uid: str, why: str) -> None:
    problem = uid_problem(uid)
    assert problem is not None and why in problem
    assert not is_valid_uid(uid)


def test_reads_links_and_normalises(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "r1,1.2.3.4,C1,ACC1,cr,chest,20200131\n"
        + "r2,1.2.3.5,C2,,,,2020-02-01\n"
        + "\n",  # a blank line is skipped
    )
    m = read_manifest(path)
    (link,) = m.links("r1")
    assert link == StudyLink("1.2.3.4", "C1", "ACC1", "CR", "CHEST", "2020-01-31", rows=(2,))
    assert link.dicom_date == "20200131"
    (link2,) = m.links("r2")
    assert (link2.accession_number, link2.modality, link2.study_date) == (None, None, "2020-02-01")
    assert m.links("nope") == ()
    assert m.warnings == []
    assert set(m.studies) == {"1.2.3.4", "1.2.3.5"}


def test_optional_columns_may_be_absent_and_tsv_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "report_id\tstudy_uid\tcase_id\nr1\t1.2.3\tC1\n", "studies.tsv")
    (link,) = read_manifest(path).links("r1")
    assert link.accession_number is None and link.study_date is None


def test_column_names_are_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, "ReportID,StudyInstanceUID,PatientID\nr1,1.2.3,P1\n")
    cols = parse_column_map(["report_id=ReportID", "study_uid=StudyInstanceUID", "case_id=PatientID"])
    (link,) = read_manifest(path, cols).links("r1")
    assert (link.study_uid, link.case_id) == ("1.2.3", "P1")


@pytest.mark.parametrize("spec", ["study_uid", "nope=X", "=X", "study_uid="])
def test_bad_column_map(spec: str) -> None:
    with pytest.raises(InputError, match="--manifest-col"):
        parse_column_map([spec])


def test_missing_column_names_the_file_and_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "report_id,uid,case_id\nr1,1.2.3,C1\n")
    with pytest.raises(ColumnNotFoundError) as e:
        read_manifest(path)
    msg = str(e.value)
    assert "study_uid" in msg and "studies.csv" in msg and "'uid'" in msg


def test_malformed_values_are_one_error_naming_every_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "r1,1.2.03,C1,,,,\n"  # row 2: leading zero
        + "r2,1.2.3.4,C2,,,,\n"  # row 3: fine
        + "r3,1.2.x,C3,,,,\n"  # row 4: not a digit
        + "r4,1.2.3.5,,,,,\n"  # row 5: empty case id
        + "r5,1.2.3.6,C5,,,,2020-02-30\n"  # row 6: no such date
        + "r6,1.2.3.7,C6,ACCESSION-NUMBER-TOO-LONG,,,\n"  # row 7
        + "r7,1.2.3.8,C7,,X-RAY!,,\n",  # row 8: modality
    )
    with pytest.raises(ManifestError) as e:
        read_manifest(path)
    msg = str(e.value)
    for expected in (
        "row 2: study_uid '1.2.03'",
        "row 4: study_uid '1.2.x'",
        "row 5: empty case_id",
        "row 6: study_date '2020-02-30'",
        "row 7: accession_number",
        "row 8: modality",
    ):
        assert expected in msg, expected
    assert "row 3" not in msg
    assert len(e.value.problems) == 6


def test_duplicate_study_rows_must_agree(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "r1,1.2.3.4,C1,A1,,,\n" + "r2,1.2.3.4,C1,A2,,,\n",  # same study, two accession numbers
    )
    with pytest.raises(
        ManifestError, match=r"rows 2, 3: study 1\.2\.3\.4 is given different accession_number"
    ):
        read_manifest(path)


def test_exact_duplicate_row_is_a_warning_and_read_once(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "r1,1.2.3.4,C1,A1,,,\n" + "r2,1.2.3.9,C2,,,,\n" + "r1,1.2.3.4,C1,A1,,,\n")
    m = read_manifest(path)
    (link,) = m.links("r1")
    assert link.rows == (2, 4)
    (w,) = m.warnings
    assert (w.kind, w.report_id, w.rows) == ("duplicate_row", "r1", (2, 4))


def test_report_in_two_studies_is_linked_to_both_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "r1,1.2.3.4,C1,,,,\n" + "r1,1.2.3.5,C1,,,,\n")
    m = read_manifest(path)
    assert [link.study_uid for link in m.links("r1")] == ["1.2.3.4", "1.2.3.5"]
    (w,) = m.warnings
    assert w.kind == "report_in_several_studies" and w.rows == (2, 3)


def test_several_reports_of_one_study_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "r1,1.2.3.4,C1,A1,,,\n" + "r1-addendum,1.2.3.4,C1,A1,,,\n")
    m = read_manifest(path)
    assert m.warnings == []
    assert m.links("r1")[0].study_uid == m.links("r1-addendum")[0].study_uid


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "empty"), ("report_id,study_uid,case_id\n", None)],
)
def test_empty_manifests(tmp_path: Path, text: str, match: str | None) -> None:
    path = write(tmp_path, text)
    if match is None:
        assert read_manifest(path).by_report == {}
    else:
        with pytest.raises(InputError, match=match):
            read_manifest(path)


def test_missing_file_and_bad_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such manifest"):
        read_manifest(tmp_path / "nope.csv")
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + b"r1,1.2.3,C\xff1,,,,\n")
    with pytest.raises(InputError, match="UTF-8"):
        read_manifest(path)


def test_linkage_log_lists_every_unmatched_report_and_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "r1,1.2.3.4,C1,,,,\n" + "r9,1.2.3.9,C9,,,,\n" + "r1,1.2.3.4,C1,,,,\n")
    m = read_manifest(path)
    log = LinkageLog(m)
    log.seen("r1", m.links("r1"))
    log.seen("r2", m.links("r2"))
    log.not_exported("r2", "dicom-sr", "no study")
    out = tmp_path / "warnings.tsv"
    log.write(out)
    rows = read_link_warnings(out)
    kinds = sorted((r["kind"], r["report_id"], r["rows"]) for r in rows)
    assert kinds == [
        ("duplicate_row", "r1", "2,4"),
        ("not_exported", "r2", ""),
        ("report_without_study", "r2", ""),
        ("row_without_report", "r9", "3"),
    ]
    assert (log.n_reports, log.n_unlinked, log.n_rows_without_report) == (2, 1, 1)
    summary = log.summary()
    assert "1 of 2 reports without a study" in summary and "1 manifest rows without a report" in summary


def test_study_link_from_dict_validates() -> None:
    good = {"study_uid": "1.2.3", "case_id": "C1", "accession_number": "", "study_date": None}
    assert StudyLink.from_dict(good).accession_number is None
    with pytest.raises(InputError, match="not a valid DICOM UID"):
        StudyLink.from_dict({"study_uid": "1.02", "case_id": "C"}, where="x")
    with pytest.raises(InputError, match="no case_id"):
        StudyLink.from_dict({"study_uid": "1.2"}, where="x")


def test_dicom_keyword_columns_need_no_option(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "report_id,StudyInstanceUID,PatientID,AccessionNumber,StudyDate,StudyTime,StudyID,Modality,BodyPartExamined\n"
        "r1,1.2.3.4,P1,ACC1,20200102,10:15:30,S9,cr,chest\n",
    )
    (link,) = read_manifest(path).links("r1")
    assert (link.study_uid, link.case_id, link.accession_number, link.study_date) == (
        "1.2.3.4",
        "P1",
        "ACC1",
        "2020-01-02",
    )
    assert (link.study_time, link.study_id, link.modality, link.body_part) == ("101530", "S9", "CR", "CHEST")


def test_every_missing_column_is_named_at_once_with_its_option(tmp_path: Path) -> None:
    path = write(tmp_path, "id,uid,accession\nr1,1.2.3,A\n")
    with pytest.raises(ColumnNotFoundError) as e:
        read_manifest(path, parse_column_map(["accession_number=Accession"]))
    msg = str(e.value)
    for field in ("report_id", "study_uid", "case_id", "accession_number"):
        assert f"--manifest-col {field}=COLUMN" in msg
    assert "'StudyInstanceUID'" in msg and "'PatientID'" in msg and "'Accession'" in msg
    assert "columns are: 'id', 'uid', 'accession'" in msg and "studies.csv" in msg


def test_bad_study_time_and_id_are_row_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "report_id,study_uid,case_id,study_time,study_id\nr1,1.2.3,C1,25:00,S1\nr2,1.2.4,C2,1015,ABCDEFGHIJKLMNOPQ\n",
    )
    with pytest.raises(ManifestError) as e:
        read_manifest(path)
    assert "row 2: study_time '25:00' is not a time" in str(e.value)
    assert "row 3: study_id 'ABCDEFGHIJKLMNOPQ' is not a DICOM SH" in str(e.value)
