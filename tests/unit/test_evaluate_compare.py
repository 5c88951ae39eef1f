"""compare(true, pred) on small hand-made label files, with every figure worked out by hand."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from reportlab_nlp.errors import ColumnNotFoundError, LabelFileError, LabelMapError
from reportlab_nlp.evaluate import compare, read_labels
from reportlab_nlp.evaluate.compare import Disagreement, rank
from reportlab_nlp.evaluate.disagreements import read_disagreements, write_disagreements
from reportlab_nlp.types import LabelValue

P, N, U, B = LabelValue.POSITIVE, LabelValue.NEGATIVE, LabelValue.UNCERTAIN, LabelValue.BLANK

IDS = [f"r{i}" for i in range(1, 11)]
# Edema: theirs leaves cells blank (CheXpert), so the basis is exact.
THEIR_EDEMA = ["1", "1", "1", "0", "0", "", "", "-1", "1", "0"]
OUR_EDEMA = ["1", "1", "0", "0", "", "", "1", "-1", "-1", "0"]
THEIR_CARDIO = ["1", "1", "0", "0", "0", "0", "0", "0", "0", "0"]
OUR_CARDIO = ["1", "0", "1", "0", "0", "0", "0", "0", "0", "0"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    theirs = write_csv(
        tmp_path / "theirs.csv",
        ["report_id", "Edema", "Cardiomegaly", "Age"],
        [[i, e, c, "71"] for i, e, c in zip(IDS, THEIR_EDEMA, THEIR_CARDIO, strict=True)],
    )
    ours = write_csv(
        tmp_path / "ours.csv",
        ["report_id", "Edema", "Cardiomegaly", "Pneumonia"],
        [[i, e, c, ""] for i, e, c in zip(IDS, OUR_EDEMA, OUR_CARDIO, strict=True)],
    )
    return theirs, ours


def test_exact_figures_by_hand(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    c = compare(theirs, ours, min_pos=1, n_boot=200, seed=1)
    assert c.basis == "exact" and "blank" in c.basis_reason
    edema = c.label("Edema")
    # rows theirs, columns ours, order 1, 0, -1, blank
    assert edema.confusion == ((2, 1, 1, 0), (0, 2, 0, 1), (0, 0, 1, 0), (1, 0, 0, 1))
    assert edema.exact_agreement == pytest.approx(0.6)
    pe = (4 * 3 + 3 * 3 + 1 * 2 + 2 * 2) / 100
    assert edema.kappa.value == pytest.approx((0.6 - pe) / (1 - pe))
    assert edema.kappa.ci is not None and edema.kappa.ci[0] <= edema.kappa.value <= edema.kappa.ci[1]
    cardio = c.label("Cardiomegaly")
    assert cardio.confusion == ((1, 1, 0, 0), (1, 7, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0))
    assert cardio.kappa.value == pytest.approx((0.8 - 0.68) / (1 - 0.68))
    # micro: the pooled 20 pairs
    po, pe = 14 / 20, (6 * 5 + 11 * 11 + 1 * 2 + 2 * 2) / 400
    assert c.overall["kappa_micro"] == pytest.approx((po - pe) / (1 - pe))
    assert c.overall["agreement_micro"] == pytest.approx(0.7)
    assert c.overall["kappa_macro"] == pytest.approx((edema.kappa.value + cardio.kappa.value) / 2)


def test_presence_figures_by_hand(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    c = compare(theirs, ours, min_pos=1, n_boot=0)
    p = c.label("Edema").presence
    # their -1 (r8) is left out; ours is present when 1 or -1
    assert (p.n, p.left_out) == (9, 1)
    assert (p.scores.tp, p.scores.fp, p.scores.fn, p.scores.tn) == (3, 1, 1, 4)
    assert (p.scores.precision, p.scores.recall, p.scores.f1) == (0.75, 0.75, 0.75)
    assert p.agreement == pytest.approx(7 / 9)
    assert p.kappa.value == pytest.approx(((63 - 41) / 81) / ((81 - 41) / 81))
    assert p.kappa.ci is None  # no bootstrap asked for
    q = c.label("Cardiomegaly").presence
    assert (q.scores.precision, q.scores.recall, q.scores.f1) == (0.5, 0.5, 0.5)
    pres = c.overall["presence"]
    assert pres["f1_micro"] == pytest.approx(8 / 12)
    assert pres["f1_macro"] == pytest.approx(0.625)
    assert pres["precision_micro"] == pytest.approx(4 / 6)


def test_uncertain_policies_change_presence(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    strict = compare(theirs, ours, min_pos=1, n_boot=0, our_uncertain="absent", their_uncertain="present")
    p = strict.label("Edema").presence
    # r8 kept (theirs present, ours -1 counted absent: FN); r9 ours -1 now absent: FN
    assert (p.n, p.scores.tp, p.scores.fp, p.scores.fn) == (10, 2, 1, 3)


def test_min_pos_selects_labels_for_averages(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    c = compare(theirs, ours, min_pos=3, n_boot=0)
    assert c.overall["presence"]["labels_in_average"] == ["Edema"]
    assert c.overall["presence"]["f1_macro"] == 0.75
    none = compare(theirs, ours, min_pos=50, n_boot=0)
    assert none.overall["presence"]["f1_macro"] is None


def test_no_reference_drops_precision_recall(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    d = compare(theirs, ours, reference=False, n_boot=0).to_dict()
    assert "f1" not in d["labels"][0]["presence"] and "f1_micro" not in d["overall"]["presence"]
    assert d["settings"]["reference"] is None


def test_unmapped_labels_are_listed(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    c = compare(theirs, ours, n_boot=0)
    assert [r.label for r in c.labels] == ["Edema", "Cardiomegaly"]
    assert c.mapping.unmapped_theirs == ("Age",)
    assert c.mapping.unmapped_ours == ("Pneumonia",)


def test_disagreements_ranked_conflicts_first(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    c = compare(theirs, ours, n_boot=0)
    got = [(d.report_id, d.label, d.kind) for d in c.disagreements]
    # conflicts round-robin over labels (Edema r3, Cardiomegaly r2, Edema r7, Cardiomegaly r3),
    # then hedges, then details
    assert got == [
        ("r3", "Edema", "conflict"),
        ("r2", "Cardiomegaly", "conflict"),
        ("r7", "Edema", "conflict"),
        ("r3", "Cardiomegaly", "conflict"),
        ("r9", "Edema", "hedged"),
        ("r5", "Edema", "detail"),
    ]
    assert [d.rank for d in c.disagreements] == [1, 2, 3, 4, 5, 6]
    assert c.label("Edema").disagreements == 4
    presence = compare(theirs, ours, basis="presence", n_boot=0)
    assert [(d.report_id, d.label) for d in presence.disagreements] == [
        ("r3", "Edema"),
        ("r2", "Cardiomegaly"),
        ("r7", "Edema"),
        ("r3", "Cardiomegaly"),
    ]


def test_evidence_ranks_first_within_a_kind() -> None:
    with_evidence = Disagreement("9", "A", "A", P, N, kind="conflict", sentence="A is seen.")
    without = Disagreement("1", "A", "A", P, N, kind="conflict")
    hedge = Disagreement("2", "A", "A", U, N, kind="hedged", sentence="A maybe.")
    assert [d.report_id for d in rank([hedge, without, with_evidence], ["A"])] == ["9", "1", "2"]


def test_bootstrap_is_deterministic(files: tuple[Path, Path]) -> None:
    theirs, ours = files
    a = compare(theirs, ours, n_boot=300, seed=4).to_dict()
    b = compare(theirs, ours, n_boot=300, seed=4).to_dict()
    other = compare(theirs, ours, n_boot=300, seed=5).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["labels"][0]["kappa_ci"] != other["labels"][0]["kappa_ci"]


def test_long_file_and_mapping_input_give_the_same_figures(tmp_path: Path, files: tuple[Path, Path]) -> None:
    theirs, ours = files
    rows = []
    for i, e, cm in zip(IDS, THEIR_EDEMA, THEIR_CARDIO, strict=True):
        if e:
            rows.append([i, "Edema", e])
        rows.append([i, "Cardiomegaly", cm])
    long = write_csv(tmp_path / "long.csv", ["report_id", "label", "value"], rows)
    table = read_labels(long)
    assert table.kind == "long CSV" and table.ids == IDS and table.columns == ["Edema", "Cardiomegaly"]
    wide = compare(theirs, ours, min_pos=1, n_boot=50).to_dict()
    longd = compare(long, ours, min_pos=1, n_boot=50).to_dict()
    as_dict = {
        rid: {"Edema": e or None, "Cardiomegaly": cm}
        for rid, e, cm in zip(IDS, THEIR_EDEMA, THEIR_CARDIO, strict=True)
    }
    mapped = compare(as_dict, ours, min_pos=1, n_boot=50).to_dict()
    for other in (longd, mapped):
        assert other["overall"] == wide["overall"]
        assert sorted(json.dumps(r, sort_keys=True) for r in other["labels"]) == sorted(
            json.dumps(r, sort_keys=True) for r in wide["labels"]
        )


def test_text_and_yes_no_conventions(tmp_path: Path) -> None:
    ours = {"a": {"Edema": 1, "Cardiomegaly": 0}, "b": {"Edema": None, "Cardiomegaly": 1}, "c": {"Edema": -1}}
    yesno = {
        "a": {"Edema": "yes", "Cardiomegaly": "no"},
        "b": {"Edema": "no", "Cardiomegaly": "yes"},
        "c": {"Edema": "no"},
    }
    c = compare(yesno, ours, min_pos=1, n_boot=0)
    assert c.basis == "presence"
    assert c.theirs.convention.startswith("binary") and "yes/no" in c.theirs.convention
    edema = c.label("Edema").presence.scores
    assert (edema.tp, edema.fp, edema.fn, edema.tn) == (1, 1, 0, 1)  # c: our -1 counts present
    words = {"a": {"Edema": "present"}, "b": {"Edema": ""}, "c": {"Edema": "uncertain"}}
    t = compare(words, ours, min_pos=1, n_boot=0)
    assert t.basis == "exact" and t.label("Edema").exact_agreement == 1.0


def test_label_map_many_to_one_and_null(tmp_path: Path) -> None:
    theirs = write_csv(
        tmp_path / "t.csv",
        ["id", "Mass", "Nodule", "Effusion", "Billing"],
        [["1", "1", "0", "1", "x"], ["2", "0", "0", "0", "y"], ["3", "0", "1", "0", "z"]],
    )
    ours = write_csv(
        tmp_path / "o.csv",
        ["report_id", "Lung Lesion", "Pleural Effusion", "Edema"],
        [["1", "1", "1", ""], ["2", "", "0", ""], ["3", "", "", ""]],
    )
    map_file = tmp_path / "map.yaml"
    map_file.write_text(
        "Mass: Lung Lesion\nNodule: Lung Lesion\nBilling: null\nFracture: Fracture X\n", encoding="utf-8"
    )
    with pytest.raises(LabelMapError) as e:
        compare(theirs, ours, label_map=map_file)
    msg = str(e.value)
    assert str(map_file) in msg and "'Fracture': 'Fracture X'" in msg and "neither side" in msg
    assert "'Mass'" in msg and "'Lung Lesion'" in msg  # both sides' labels are listed
    map_file.write_text(
        "Mass: Lung Lesion\nNodule: Lung Lesion\nBilling: null\nFracture: Edema\n", encoding="utf-8"
    )
    c = compare(theirs, ours, label_map=map_file, min_pos=1, n_boot=0)
    lesion = c.label("Lung Lesion")
    assert lesion.pair.theirs == ("Mass", "Nodule") and lesion.pair.how == "map file"
    assert (lesion.presence.scores.tp, lesion.presence.scores.fn) == (1, 1)  # report 3: Nodule=1, ours blank
    effusion = c.label("Pleural Effusion")
    assert effusion.pair.how == "built-in name"
    assert c.mapping.ignored_theirs == ("Billing",)
    assert c.mapping.unused_entries == ("Fracture",)
    assert c.mapping.unmapped_ours == ("Edema",)
    d = next(x for x in c.disagreements if x.label == "Lung Lesion")
    assert d.their_value == "Mass=0; Nodule=1"


def test_map_to_a_label_we_lack_is_an_error(tmp_path: Path, files: tuple[Path, Path]) -> None:
    theirs, ours = files
    with pytest.raises(LabelMapError, match=r"maps 'Edema' to 'Oedema', which is not a label of OURS"):
        compare(theirs, ours, label_map={"Edema": "Oedema"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- Edema\n- Cardiomegaly\n", encoding="utf-8")
    with pytest.raises(LabelMapError, match=r"bad.yaml: expected a mapping"):
        compare(theirs, ours, label_map=bad)


def test_no_common_ids_names_both_files(tmp_path: Path, files: tuple[Path, Path]) -> None:
    theirs, _ = files
    other = write_csv(tmp_path / "o.csv", ["report_id", "Edema"], [["0001", "1"], ["0002", "0"]])
    zeros = write_csv(tmp_path / "z.csv", ["report_id", "Edema"], [["1", "1"], ["2", "0"]])
    with pytest.raises(LabelFileError) as e:
        compare(theirs, other)
    msg = str(e.value)
    assert "no report id in common" in msg and str(theirs) in msg and str(other) in msg
    assert "'report_id'" in msg and "'r1'" in msg and "'0001'" in msg
    with pytest.raises(LabelFileError, match=r"2 ids would match ignoring case, leading zeros"):
        compare(zeros, other)


def test_reports_in_one_file_are_counted_and_listed(tmp_path: Path, files: tuple[Path, Path]) -> None:
    theirs, _ = files
    ours = write_csv(
        tmp_path / "o.csv", ["report_id", "Edema"], [["r1", "1"], ["r2", "1"], ["x9", "0"], ["x10", ""]]
    )
    c = compare(theirs, ours, n_boot=0, min_pos=1)
    assert c.in_both == 2 and c.only_ours == ["x9", "x10"] and c.only_theirs == IDS[2:]
    assert c.label("Edema").n == 2
    blank = compare(theirs, ours, n_boot=0, min_pos=1, missing="blank")
    assert blank.compared == 10 and blank.label("Edema").presence.scores.fn == 2  # r3, r9 now missed
    d = blank.to_dict()["reports"]
    assert d["only_theirs"]["count"] == 8 and d["only_ours"]["ids"] == ["x9", "x10"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"empty.csv: the file is empty"),
        ("report_id,Edema\n", r"empty.csv: no rows after the header"),
        ("report_id,Edema\nr1,1\nr1,0\n", r"empty.csv: duplicate report ids: 'r1' in rows 2, 3"),
        ("report_id,Edema\nr1,1\n,0\n", r"empty.csv: row 3: empty id in column 'report_id'"),
        ("report_id,Edema\nr1,1,5\n", r"empty.csv: row 2 has 3 cells; the header has 2 columns"),
        ("report_id,label,value\nr1,Edema,1\nr1,Edema,0\n", r"\(r1, Edema\) in rows 2, 3"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LabelFileError, match=message):
        read_labels(path)


def test_missing_id_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", ["study", "Edema"], [["1", "1"]])
    with pytest.raises(
        ColumnNotFoundError, match=r"id column 'report_id' not found in .*t.csv; columns are: 'study'"
    ):
        read_labels(path)
    assert read_labels(path, id_col="study").ids == ["1"]


def test_mixed_column_fails_the_comparison_but_an_unmapped_one_does_not(tmp_path: Path) -> None:
    theirs = write_csv(
        tmp_path / "t.csv",
        ["report_id", "Edema", "Notes"],
        [["1", "1", "free text"], ["2", "yes", "more"], ["3", "0", ""]],
    )
    ours = write_csv(tmp_path / "o.csv", ["report_id", "Edema"], [["1", "1"], ["2", "0"], ["3", ""]])
    with pytest.raises(LabelFileError) as e:
        compare(theirs, ours)
    msg = str(e.value)
    assert "t.csv: column 'Edema'" in msg and "numbers in rows 2, 4" in msg and "yes/no in row 3" in msg


def test_jsonl_evidence_reaches_disagreements(tmp_path: Path) -> None:
    sentence = "Small left effusion."
    record = {
        "id": "a",
        "labels": {"Pleural Effusion": 1, "No Finding": None},
        "evidence": {
            "Pleural Effusion": [
                {
                    "text": "effusion",
                    "start": 11,
                    "end": 19,
                    "sentence": sentence,
                    "sentence_start": 0,
                    "sentence_end": 20,
                    "section": "findings",
                    "assertion": "present",
                    "cue": "",
                    "cue_start": -1,
                    "cue_end": -1,
                    "rule": "x",
                    "source": "rules",
                }
            ]
        },
    }
    ours = tmp_path / "o.jsonl"
    ours.write_text(
        json.dumps(record)
        + "\n"
        + json.dumps({"id": "b", "labels": {"Pleural Effusion": None, "No Finding": 1}})
        + "\n"
    )
    theirs = write_csv(
        tmp_path / "t.csv", ["id", "Effusion", "No Finding"], [["a", "0", "1"], ["b", "0", "1"]]
    )
    c = compare(theirs, ours, n_boot=0)
    effusion = next(d for d in c.disagreements if d.label == "Pleural Effusion")
    assert (effusion.sentence, effusion.matched, effusion.section) == (sentence, "effusion", "findings")
    assert (effusion.match_start, effusion.match_end) == (11, 19)
    nf = next(d for d in c.disagreements if d.label == "No Finding")
    assert nf.report_id == "a" and nf.matched == "effusion" and "Pleural Effusion" in nf.evidence_note


def test_verdicts_round_trip(tmp_path: Path, files: tuple[Path, Path]) -> None:
    theirs, ours = files
    c = compare(theirs, ours, n_boot=0)
    path = tmp_path / "disagreements.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        write_disagreements(f, c.disagreements)
    back = read_disagreements(path)
    assert [(d.report_id, d.label, d.ours, d.theirs, d.kind, d.rank) for d in back] == [
        (d.report_id, d.label, d.ours, d.theirs, d.kind, d.rank) for d in c.disagreements
    ]
    # a reviewer fills in verdicts (as a spreadsheet would: case and spaces vary)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["verdict"], rows[0]["note"] = " Theirs ", "effusion is mentioned"
    rows[4]["verdict"] = "ours"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    again = compare(theirs, ours, n_boot=0)
    again.apply_verdicts(read_disagreements(path))
    assert again.verdicts_carried == 2 and again.verdicts_stale == 0
    assert (again.disagreements[0].verdict, again.disagreements[0].note) == (
        "theirs",
        "effusion is mentioned",
    )
    assert again.disagreements[4].verdict == "ours"
    assert again.verdict_counts()["theirs"] == 1 and again.verdict_counts()["unreviewed"] == 4
    assert again.label("Edema").verdicts == {"theirs": 1, "ours": 1, "unreviewed": 2}
    # labels that changed since the review drop the verdict
    changed = write_csv(
        tmp_path / "ours2.csv",
        ["report_id", "Edema", "Cardiomegaly"],
        [[i, "1" if i == "r3" else e, c] for i, e, c in zip(IDS, OUR_EDEMA, OUR_CARDIO, strict=True)],
    )
    third = compare(theirs, changed, n_boot=0)
    third.apply_verdicts(read_disagreements(path))
    assert third.verdicts_stale == 1 and third.verdicts_carried == 1


def test_bad_verdicts_name_the_rows(tmp_path: Path, files: tuple[Path, Path]) -> None:
    theirs, ours = files
    c = compare(theirs, ours, n_boot=0)
    path = tmp_path / "d.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        write_disagreements(f, c.disagreements)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("verdict")
    rows[2][col] = "agree"
    rows[4][col] = "agree"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    with pytest.raises(
        LabelFileError, match=r"d.csv: column 'verdict': 'agree' in rows 3, 5; expected one of ours"
    ):
        read_disagreements(path)
