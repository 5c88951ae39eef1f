"""``--engine`` on the commands that label: ``export``, ``compare``, ``explain`` give what ``label`` gives.

They all go through one :class:`~reportlab_nlp.engines.Engine` and its
:meth:`~reportlab_nlp.engines.Engine.stream`; here with the shipped MiniLM
model (real ONNX Runtime) on the bundled demo corpus (invented reports).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "corpora" / "demo" / "reports.csv"
SHIPPED = sorted(p.parent for p in (REPO / "models").glob("*/manifest.json"))

pytest.importorskip("onnxruntime", reason="the model engines need the 'model' extra")
pytestmark = pytest.mark.skipif(not SHIPPED, reason="no model is shipped in models/ (make model builds one)")


@pytest.fixture(scope="module")
def model() -> Path:
    return SHIPPED[0]


Labeled = dict[str, dict[str, Path]]


@pytest.fixture(scope="module")
def labeled_by(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Labeled:
    """``label --engine E``'s JSONL and CSV of the demo corpus, by engine (made when first asked)."""
    return {}


def _label(engine: str, model: Path, cache: Labeled, folder: Path) -> dict[str, Path]:
    if engine not in cache:
        outs = {"jsonl": folder / f"{engine}.jsonl", "csv": folder / f"{engine}.csv"}
        argv = ["label", str(DEMO), "--engine", engine, "--model", str(model), "--no-progress"]
        rc, _, err = run_cli([*argv, "--out", str(outs["jsonl"]), "--out", str(outs["csv"])])
        assert rc == 0, err
        cache[engine] = outs
    return cache[engine]


@pytest.fixture(scope="module")
def label_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("label")


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _long_rows(folder: Path) -> list[tuple[str, ...]]:
    keys = ("report_id", "label", "value", "probability", "evidence", "categories")
    return [
        tuple(json.dumps(r.get(k), sort_keys=True) for k in keys)
        for r in _records(folder / "labels_long.jsonl")
    ]


@pytest.mark.parametrize("engine", ["hybrid", "model"])
def test_export_engine_labels_as_label_does(
    engine: str, model: Path, labeled_by: Labeled, label_folder: Path, tmp_path: Path
) -> None:
    labeled = _label(engine, model, labeled_by, label_folder)
    ours, theirs = tmp_path / "from-reports", tmp_path / "from-labels"
    rc, _, err = run_cli(
        ["export", str(DEMO), "--to", "jsonl", "--out", str(ours), "--engine", engine,
         "--model", str(model), "--no-progress"]
    )  # fmt: skip
    assert rc == 0, err
    rc, _, err = run_cli(["export", str(labeled["jsonl"]), "--to", "jsonl", "--out", str(theirs)])
    assert rc == 0, err
    rows = _long_rows(ours)
    assert rows == _long_rows(theirs)  # labels, probabilities, evidence: what `label` wrote
    assert any(json.loads(r[3]) is not None for r in rows)  # the model's probabilities are there
    by_report = {(r["id"], c): p for r in _records(labeled["jsonl"]) for c, p in r["probabilities"].items()}
    first = _records(ours / "labels_long.jsonl")[0]
    assert first["probability"] == by_report[(first["report_id"], first["label"])]
    provenance = json.loads((ours / "provenance.json").read_text(encoding="utf-8"))
    sha = json.loads((model / "manifest.json").read_text(encoding="utf-8"))["files"]["model.int8.onnx"][
        "sha256"
    ]
    assert provenance["engine"] == engine and provenance["model_sha256"] == sha


def test_export_engine_model_needs_a_model(tmp_path: Path) -> None:
    rc, _, err = run_cli(
        ["export", str(DEMO), "--to", "jsonl", "--out", str(tmp_path / "x"), "--engine", "model",
         "--model", str(tmp_path / "none")]
    )  # fmt: skip
    assert rc == 2 and "no model is installed under" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_compare_engine_hybrid_agrees_with_label_hybrid(
    model: Path, labeled_by: Labeled, label_folder: Path, tmp_path: Path
) -> None:
    labeled = _label("hybrid", model, labeled_by, label_folder)
    out = tmp_path / "cmp"
    rc, _, err = run_cli(
        ["compare", str(DEMO), str(labeled["csv"]), "--out", str(out), "--engine", "hybrid", "--model",
         str(model), "--bootstrap", "0", "--scheme", "full", "--basis", "exact", "--no-progress"]
    )  # fmt: skip
    assert rc == 0, err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    with open(labeled["csv"], encoding="utf-8", newline="") as f:
        n = sum(1 for _ in csv.DictReader(f))
    assert f"compared {n} reports" in err and " 0 disagreements" in err, err
    assert "engine hybrid" in json.dumps(summary)
    # the model alone labels them otherwise (on the demo corpus the hybrid keeps the rules' values):
    # compare does label with the engine it is given
    rc, _, err = run_cli(
        ["compare", str(DEMO), str(labeled["csv"]), "--out", str(tmp_path / "model"), "--bootstrap", "0",
         "--scheme", "full", "--basis", "exact", "--no-progress", "--engine", "model", "--model", str(model)]
    )  # fmt: skip
    assert rc == 0, err
    assert " 0 disagreements" not in err


def test_explain_engine_model_shows_what_label_gives(model: Path, tmp_path: Path) -> None:
    text = "FINDINGS: Possible small left effusion. Heart size is normal. No pneumothorax."
    corpus = tmp_path / "one.csv"
    with open(corpus, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["report_id", "text"], ["one", text]])
    common = ["--engine", "model", "--model", str(model)]
    rc, _, err = run_cli(
        ["label", str(corpus), "--out", str(tmp_path / "one.jsonl"), "--no-progress", *common]
    )
    assert rc == 0, err
    (record,) = _records(tmp_path / "one.jsonl")
    rc, shown, err = run_cli(["explain", text, "--color", "never", *common])
    assert rc == 0, err
    lines = shown.splitlines()
    values = {line[:40].strip(): line[40:43].strip() for line in lines if not line.startswith(" ")}
    labels = record["labels"]
    assert isinstance(labels, dict) and isinstance(record["probabilities"], dict)
    assert values == {c: str(v) for c, v in labels.items() if v is not None}
    for column in values:  # each value is the model's, with its probability
        evidence = lines[lines.index(next(x for x in lines if x.startswith(column))) + 1]
        assert f"[model:{model.name}, p=" in evidence
        shown_p = float(evidence.rsplit("p=", 1)[1].rstrip("]"))
        assert abs(shown_p - record["probabilities"][column]) < 6e-4
    rc, rules, err = run_cli(["explain", text, "--color", "never"])
    assert rc == 0 and "[model:" not in rules and "cue" in rules
