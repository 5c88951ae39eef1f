"""Training data: silver targets from the rules, the presence-only gold override, the split.

Every report here is invented for the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import reportlab_nlp
from reportlab_nlp.classifier.dataset import (
    NO_GOLD,
    Corpus,
    GoldSpec,
    apply_gold,
    build_dataset,
    read_gold,
    split_of,
)
from reportlab_nlp.classifier.manifest import CLASSES, class_index
from reportlab_nlp.errors import ColumnNotFoundError, InputError
from reportlab_nlp.types import LabelValue

BLANK, POS, NEG, UNC = (CLASSES.index(c) for c in ("blank", "positive", "negative", "uncertain"))


def test_gold_override_policy() -> None:
    position = {"A": 0, "B": 1, "C": 2, "D": 3}
    silver = [POS, UNC, NEG, BLANK]
    # gold 1 -> positive whatever the rules said
    assert apply_gold(silver, {"A": 1, "B": 1, "C": 1, "D": 1}, position) == [POS, POS, POS, POS]
    # gold 0 -> a silver positive or uncertain becomes blank; negative and blank are kept
    assert apply_gold(silver, {"A": 0, "B": 0, "C": 0, "D": 0}, position) == [BLANK, BLANK, NEG, BLANK]
    # gold -1 (ambiguous) and labels without gold keep the silver target
    assert apply_gold(silver, {"A": -1, "B": -1}, position) == silver
    assert class_index(LabelValue.UNCERTAIN) == UNC


def test_read_gold_names_file_row_and_column(tmp_path: Path) -> None:
    labels = ["No Finding", "Edema", "Pneumonia"]
    good = tmp_path / "gold.csv"
    good.write_text("uid,Edema,Pneumonia\nr1,1,0\nr2,-1,0\n", encoding="utf-8")
    assert read_gold(GoldSpec(str(good)), labels) == (
        ["Edema", "Pneumonia"],
        {"r1": {"Edema": 1, "Pneumonia": 0}, "r2": {"Edema": -1, "Pneumonia": 0}},
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("uid,Edema\nr1,1\nr2,yes\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"bad\.csv: row 3, column 'Edema': expected 1, 0 or -1, found 'yes'"
    ):
        read_gold(GoldSpec(str(bad)), labels)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("uid,Quokka\nr1,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"'Quokka' are not labels of the full set"):
        read_gold(GoldSpec(str(unknown)), labels)
    with pytest.raises(ColumnNotFoundError, match="gold id column 'id' not found"):
        read_gold(GoldSpec(str(good), id_col="id"), labels)
    dup = tmp_path / "dup.csv"
    dup.write_text("uid,Edema\nr1,1\nr1,0\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 3: report id 'r1' appears twice"):
        read_gold(GoldSpec(str(dup)), labels)


def test_split_is_stable_and_seeded() -> None:
    ids = [f"r{i}" for i in range(2000)]
    held = [i for i in ids if split_of(i, seed=0, heldout_fraction=0.2) == "heldout"]
    assert 300 < len(held) < 500
    assert held == [i for i in ids if split_of(i, seed=0, heldout_fraction=0.2) == "heldout"]
    assert held != [i for i in ids if split_of(i, seed=1, heldout_fraction=0.2) == "heldout"]
    assert all(split_of(i, seed=0, heldout_fraction=0.0) == "train" for i in ids[:50])


def test_build_dataset_silver_and_gold(tmp_path: Path, labeler: reportlab_nlp.Labeler) -> None:
    corpus = tmp_path / "reports.csv"
    rows = [
        ("a1", "FINDINGS: Small left pleural effusion. No pneumothorax."),
        ("a2", "IMPRESSION: Possible early pneumonia."),
        ("a3", "The lungs are clear."),
        ("a4", ""),
    ]
    corpus.write_text("id,text\n" + "".join(f'{rid},"{text}"\n' for rid, text in rows), encoding="utf-8")
    gold = tmp_path / "gold.csv"
    gold.write_text("uid,Pleural Effusion,Pneumonia,Edema\na1,0,-1,1\na2,1,0,0\n", encoding="utf-8")
    data = build_dataset(
        [Corpus(str(corpus), id_col="id", text_cols=("text",))],
        labeler=labeler,
        gold=GoldSpec(str(gold)),
        heldout_fraction=0.0,
    )
    assert len(data.splits["heldout"]) == 0
    train = data.splits["train"]
    assert train["id"] == ["a1", "a2", "a3", "a4"]
    labels = data.labels
    eff, pna, edema, ptx = (
        labels.index(x) for x in ("Pleural Effusion", "Pneumonia", "Edema", "Pneumothorax")
    )
    rules, targets, gold_cells = train["rules"], train["targets"], train["gold"]
    assert (rules[0][eff], rules[0][ptx], rules[1][pna]) == (POS, NEG, UNC)  # silver, from the rules
    assert targets[0][eff] == BLANK  # gold 0 over a silver positive -> blank
    assert targets[0][ptx] == NEG  # no gold for this label -> silver
    assert targets[0][pna] == rules[0][pna]  # gold -1 -> silver
    assert targets[0][edema] == POS and targets[1][eff] == POS  # gold 1 -> positive
    assert targets[1][pna] == BLANK  # gold 0 over a silver uncertain -> blank
    assert gold_cells[0][eff] == 0 and gold_cells[2][eff] == NO_GOLD
    assert all(t == BLANK for t in targets[3])  # the empty report: every label blank
    s = data.summary
    assert s["reports"] == 4 and s["corpora"][0]["empty"] == 1
    assert s["gold"]["reports_matched"] == 2 and s["gold"]["labels"] == [
        "Pleural Effusion",
        "Pneumonia",
        "Edema",
    ]
    assert s["gold"]["cells_set_positive"] >= 2 and s["gold"]["cells_set_blank"] >= 2
    assert s["train_class_counts"]["Pleural Effusion"]["negative"] == 0


def test_build_dataset_refuses_ids_in_two_corpora(tmp_path: Path, labeler: reportlab_nlp.Labeler) -> None:
    one = tmp_path / "one.csv"
    one.write_text("id,text\nx,No effusion.\n", encoding="utf-8")
    two = tmp_path / "two.csv"
    two.write_text("id,text\nx,Edema.\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"report id 'x' is in both .*one\.csv and .*two\.csv"):
        build_dataset([Corpus(str(one), "id"), Corpus(str(two), "id")], labeler=labeler)
