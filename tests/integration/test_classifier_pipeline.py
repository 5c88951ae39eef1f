"""The transformer classifier end to end, with a tiny randomly initialised model (seconds on a CPU).

train (60 invented demo reports, 60 steps) -> export-model (ONNX parity gate) -> int8 (agreement
gate) -> calibration -> inference with ``--engine model`` / ``hybrid`` and the Python API; a model
folder whose files do not match the manifest is refused, naming the file; an interrupted training
run resumes from its checkpoint to the same weights as an uninterrupted one. The shipped MiniLM
model is trained by ``make model``, not here.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import reportlab_nlp
from reportlab_nlp.classifier.dataset import Corpus, build_dataset
from reportlab_nlp.classifier.manifest import CLASSES, sha256_file
from reportlab_nlp.classifier.session import ModelSession
from reportlab_nlp.cli import main
from reportlab_nlp.engines import HybridEngine, ModelEngine, get_engine
from reportlab_nlp.errors import ExportRejectedError, ModelError, ModelIntegrityError
from reportlab_nlp.types import LabelValue, Report

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "corpora" / "demo" / "reports.csv"
N_REPORTS = 60  # as in conftest.py: the tiny model's corpus and steps
STEPS = 60
EXE = Path(sys.executable).with_name("reportlab-nlp")


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(argv, stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def test_training_run_folder(run_dir: Path, corpus: Path) -> None:
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "done" and run["step"] == STEPS == run["total_steps"]
    assert run["config"]["base"] == "tiny" and run["config"]["seed"] == 0
    assert run["summary"]["reports"] == N_REPORTS
    assert run["command"].startswith("reportlab-nlp train ") and "--base tiny" in run["command"]
    assert [p.name for p in sorted((run_dir / "checkpoints").glob("*.pt"))] == [
        "step-00000040.pt",
        "step-00000060.pt",
    ]  # every 20 steps, the newest two kept
    assert {p.name for p in (run_dir / "final").iterdir()} == {"model.pt", "spec.json", "tokenizer.json"}
    # run.json holds ids, counts and settings, never report text
    with open(corpus, encoding="utf-8", newline="") as f:
        first_text = next(csv.DictReader(f))["text"]
    assert first_text[:40] not in (run_dir / "run.json").read_text(encoding="utf-8")


def test_export_writes_a_verified_model_folder(model_dir: Path, labeler: reportlab_nlp.Labeler) -> None:
    files = {p.name for p in model_dir.iterdir()}
    assert files == {"model.onnx", "model.int8.onnx", "tokenizer.json", "manifest.json", "README.md"}
    m = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert m["labels"] == labeler.labels and m["classes"] == list(CLASSES) and m["max_length"] == 128
    assert m["toolkit_version"] == reportlab_nlp.__version__ and m["default_variant"] == "int8"
    assert m["base_model"]["pretrained"] is False and m["base_model"]["name"] == "tiny-random-bert"
    for name in ("model.onnx", "model.int8.onnx", "tokenizer.json", "README.md"):
        assert m["files"][name]["sha256"] == sha256_file(model_dir / name)
    parity = m["export"]["parity"]
    assert parity["passed"] and parity["max_abs_diff"] <= parity["tolerance"] == 1e-4
    assert [len(b) for b in parity["batches"]] == [2, 2] and parity["batches"][1][0] == 1
    quant = m["export"]["quantization"]
    assert quant["passed"] and quant["agreement"] >= quant["required"] == 0.995
    assert quant["nodes_kept_fp32"]  # the label heads
    assert m["calibration"]["method"] == "temperature"
    assert set(m["calibration"]["per_label"]) == set(m["labels"])
    assert 0.0 <= m["calibration"]["reliability_after"]["ece"] <= 1.0
    assert set(m["thresholds"]) == set(m["labels"]) and m["thresholds"]["No Finding"] is None
    assert m["training"]["data"]["heldout_reports"] > 10
    assert m["recipe"]["export"].startswith("reportlab-nlp export-model")
    assert {"rules", "model", "hybrid"} <= set(m["metrics"]["targets"]["macro_f1"])
    card = (model_dir / "README.md").read_text(encoding="utf-8")
    assert "**Test model.**" in card and m["recipe"]["train"] in card and "## Limits" in card
    assert "5-fold cross-validation over reports, per fold: _not measured yet" in card
    # the int8 model is smaller than fp32 (most of the tiny model is its embedding table)
    assert (model_dir / "model.int8.onnx").stat().st_size < (model_dir / "model.onnx").stat().st_size
    assert not list(model_dir.parent.glob(".*"))  # no staging or quantization leftovers


def test_onnx_axes_are_dynamic(model_dir: Path) -> None:
    import onnx

    graph = onnx.load(str(model_dir / "model.onnx")).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims == {"input_ids": ["batch", "sequence"], "attention_mask": ["batch", "sequence"]}


def test_session_batches_by_length_without_changing_results(model_dir: Path) -> None:
    texts = [
        "No acute cardiopulmonary process.",
        "FINDINGS: Small left pleural effusion. No pneumothorax. Heart size is normal. " * 3,
        "",
        "Possible right lower lobe pneumonia.",
    ]
    # fp32: padding is masked, so a report's logits do not depend on its batch; int8: dynamic
    # quantization scales activations per batch, so they move a little, not the classes
    for variant, tolerance in (("fp32", 1e-4), ("int8", 0.05)):
        session = ModelSession(model_dir, variant=variant, threads=1, batch_size=3).load()
        together = session.logits(texts)
        alone = [session.logits([t])[0] for t in texts]
        for a, b in zip(together, alone, strict=True):
            assert abs(a - b).max() < tolerance
            assert (a.argmax(-1) == b.argmax(-1)).all()
    out = session.predict(texts)
    assert out.probs.shape == (4, len(session.labels), 4) and out.present.shape == (4, len(session.labels))
    assert ((out.present >= 0) & (out.present <= 1)).all()
    assert all(isinstance(v, LabelValue) for row in out.values for v in row)


def test_inference_never_imports_torch(model_dir: Path) -> None:
    code = (
        "import sys\n"
        "for m in ('torch', 'transformers', 'datasets', 'sklearn', 'scipy'): sys.modules[m] = None\n"
        "from reportlab_nlp.engines import get_engine\n"
        "from reportlab_nlp.types import Report\n"
        f"engine = get_engine('hybrid', model_dir={str(model_dir)!r})\n"
        "engine.warm_up()\n"
        "p = engine.predict_many([Report('a', 'No pneumothorax. Small effusion.')])[0]\n"
        "print(len(p.probabilities))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(len(reportlab_nlp.load().labels))


def test_cli_label_with_the_model_and_hybrid_engines(model_dir: Path, corpus: Path, tmp_path: Path) -> None:
    for engine in ("model", "hybrid"):
        jsonl, csv_out = tmp_path / f"{engine}.jsonl", tmp_path / f"{engine}.csv"
        done = subprocess.run(
            [str(EXE), "label", str(corpus), "--id-col", "report_id", "--text-col", "text",
             "--engine", engine, "--model", str(model_dir), "--out", str(jsonl), "--out", str(csv_out),
             "--no-progress"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
        assert len(records) == N_REPORTS
        for r in records:
            assert set(r["probabilities"]) == set(r["labels"])
            assert all(0.0 <= p <= 1.0 for p in r["probabilities"].values())
            for ms in r["evidence"].values():
                for m in ms:
                    if m["source"] == "model":  # a model-made value: no invented span
                        assert (m["text"], m["start"], m["end"], m["sentence"]) == ("", -1, -1, "")
                        assert m["rule"] == "model:tiny-test"
                    else:
                        assert m["source"] == "rules" and m["start"] >= 0
            for flag in r["review"]:
                assert flag["label"] in r["labels"] and flag["decided_by"] in ("rules", "model")
                assert flag["final"] == r["labels"][flag["label"]]
        header = csv_out.read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",")[0] == "report_id"
        if engine == "model":
            assert not any(
                m["source"] == "rules" for r in records for ms in r["evidence"].values() for m in ms
            )
            assert all(r["review"] == [] for r in records)


def test_python_api_hybrid_keeps_the_rules_definite_mentions(
    model_dir: Path, labeler: reportlab_nlp.Labeler
) -> None:
    engine = get_engine("hybrid", model_dir=model_dir.parent, labeler=labeler)
    assert isinstance(engine, HybridEngine) and engine.micro_batching
    engine.warm_up()
    text = "FINDINGS: Small left pleural effusion. No pneumothorax."
    (p,) = engine.predict_many([Report("x", text)])
    rules = labeler.label(text, id="x")
    assert p.labels.labels["Pleural Effusion"] is rules.labels["Pleural Effusion"] is LabelValue.POSITIVE
    assert p.labels.labels["Pneumothorax"] is rules.labels["Pneumothorax"] is LabelValue.NEGATIVE
    assert p.labels.evidence["Pneumothorax"] == rules.evidence["Pneumothorax"]
    assert p.probabilities is not None and set(p.probabilities) == set(labeler.labels)
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert engine.provenance()["model_sha256"] == manifest["files"]["model.int8.onnx"]["sha256"]
    model = get_engine("model", model_dir=model_dir, variant="fp32")
    assert isinstance(model, ModelEngine)
    assert model.provenance()["model_sha256"] == manifest["files"]["model.onnx"]["sha256"]


@pytest.mark.parametrize("name", ["model.int8.onnx", "tokenizer.json"])
def test_a_file_that_does_not_match_the_manifest_is_named(model_dir: Path, tmp_path: Path, name: str) -> None:
    copy = tmp_path / "models" / "tampered"
    shutil.copytree(model_dir, copy)
    with open(copy / name, "ab") as f:
        f.write(b" ")
    with pytest.raises(ModelIntegrityError) as caught:
        ModelSession(copy).load()
    assert str(copy / name) in str(caught.value) and "does not match its manifest" in str(caught.value)
    rc, _, err = _run(
        ["label", str(DEMO), "--engine", "model", "--model", str(copy), "--out", str(tmp_path / "x.csv")]
    )
    assert rc == 2 and f"model file {copy / name} does not match its manifest" in err
    assert not (tmp_path / "x.csv").exists()


def test_export_gate_rejects_and_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    from reportlab_nlp.classifier.export import ExportConfig, export_model

    models = tmp_path / "models"
    with pytest.raises(ExportRejectedError, match=r"ONNX export rejected: .* \(tolerance 1e-12\); nothing"):
        export_model(
            run_dir,
            ExportConfig(name="strict", models_dir=str(models), tolerance=1e-12),
            stderr=io.StringIO(),
        )
    assert not (models / "strict").exists() and not list(models.glob(".*"))
    rc, _, err = _run(["export-model", str(run_dir), "--name", "x", "--models-dir", str(models)])
    assert rc == 0
    rc, _, err = _run(["export-model", str(run_dir), "--name", "x", "--models-dir", str(models)])
    assert rc == 2 and "exists; pass --force" in err
    rc, _, err = _run(["export-model", str(run_dir), "--name", "x", "--models-dir", str(models), "--force",
                       "--int8-only"])  # fmt: skip
    assert rc == 0, err
    assert sorted(p.name for p in (models / "x").iterdir()) == [
        "README.md",
        "manifest.json",
        "model.int8.onnx",
        "tokenizer.json",
    ]
    assert ModelSession(models / "x").load().labels  # verified: the manifest lists what is there
    with pytest.raises(ModelError, match=r"lists no model\.onnx \(the fp32 model\)"):
        ModelSession(models / "x", variant="fp32").load()


def test_interrupted_training_resumes_to_the_same_weights(
    corpus: Path, tmp_path: Path, labeler: reportlab_nlp.Labeler
) -> None:
    import torch

    from reportlab_nlp.classifier.train import TrainConfig, train

    data = build_dataset([Corpus(str(corpus), "report_id", ("text",))], labeler=labeler, heldout_fraction=0.4)
    config = TrainConfig(base="tiny", epochs=1, batch_size=8, learning_rate=2e-3, max_length=64,
                         checkpoint_every=2, threads=1)  # fmt: skip
    whole = train(data, config, tmp_path / "whole", progress=False)
    assert whole.steps == 5  # 37 training reports, batch 8: one epoch

    def stop_at_3(step: int, loss: float) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, config, tmp_path / "cut", progress=False, on_step=stop_at_3)
    assert [p.name for p in (tmp_path / "cut" / "checkpoints").glob("*.pt")] == ["step-00000002.pt"]
    with pytest.raises(ModelError, match=r"already holds a training run \(step 2 of 5\); pass --resume"):
        train(data, config, tmp_path / "cut", progress=False)
    with pytest.raises(ModelError, match=r"setting learning_rate was 0\.002, now 0\.001"):
        train(data, TrainConfig(**{**config.to_dict(), "learning_rate": 1e-3}), tmp_path / "cut", resume=True)
    err = io.StringIO()
    resumed = train(data, config, tmp_path / "cut", resume=True, progress=False, stderr=err)
    assert resumed.resumed_from == 2 and resumed.steps == 5 and "from step 2 of 5" in err.getvalue()
    a = torch.load(tmp_path / "whole" / "final" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "final" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    again = train(data, config, tmp_path / "again", progress=False)  # the same seed: the same weights
    c = torch.load(tmp_path / "again" / "final" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], c[k]) for k in a) and again.final_loss == whole.final_loss


def test_train_without_the_extra_says_what_to_install(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    rc, _, err = _run(["train", str(corpus), "--out", str(tmp_path / "run"), "--base", "tiny"])
    assert rc == 2
    assert "the train command needs the optional dependency 'torch'" in err
    assert "pip install 'reportlab-nlp[train]'" in err
    rc, _, err = _run(["export-model", str(tmp_path), "--name", "x"])
    assert rc == 2 and "reportlab-nlp[train]" in err


def test_the_rules_only_command_line_imports_no_training_stack(corpus: Path, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "for m in ('torch', 'transformers', 'datasets', 'onnx', 'onnxruntime', 'tokenizers'):\n"
        "    sys.modules[m] = None\n"
        "from reportlab_nlp.cli import main\n"
        f"sys.exit(main(['label', {str(corpus)!r}, '--out', {str(tmp_path / 'r.csv')!r}, '--no-progress']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()) == N_REPORTS + 1


SHIPPED = sorted(p.parent for p in (REPO / "models").glob("*/manifest.json"))


@pytest.mark.skipif(not SHIPPED, reason="no model is shipped in models/ yet (make model builds one)")
@pytest.mark.parametrize("shipped", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_models_match_their_manifests(shipped: Path) -> None:
    from reportlab_nlp.classifier.manifest import read_manifest, verify_files

    manifest = read_manifest(shipped)
    verify_files(shipped, manifest)  # raises, naming the file, on any mismatch
    assert manifest["files"]["model.int8.onnx"]["bytes"] < 30_000_000
    assert manifest["export"]["parity"]["passed"] and manifest["export"]["quantization"]["passed"]
