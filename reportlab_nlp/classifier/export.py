"""Export a trained run to a model folder, behind two gates; then calibrate and write the manifest.

``export_model(run_dir, ExportConfig(name=...))`` writes ``models/<name>/``:

1. ``model.onnx``: the legacy TorchScript exporter (``dynamo=False``; the dynamo
   exporter needs ``onnxscript``), opset 17, inputs ``input_ids`` and
   ``attention_mask`` with dynamic ``batch`` and ``sequence`` axes, output
   ``logits`` ``(batch, labels, 4)``. **Parity gate**: on a held-out batch (up
   to 32 held-out reports, padded to the longest) and on a single report,
   ONNX Runtime's logits must match PyTorch's within ``tolerance`` (max
   absolute difference, default 1e-4); otherwise nothing is written.
2. ``model.int8.onnx``: ``quant_pre_process`` (``skip_symbolic_shape=True``:
   symbolic shape inference fails on this graph) then ``quantize_dynamic``
   with int8 per-channel weights (per-tensor is lossy on MiniLM), all
   temporary files in a folder that is removed. **Agreement gate**: the int8
   model's class (argmax of the 4 logits) must equal the fp32 model's on at
   least ``min_agreement`` (default 99.5%) of the (held-out report, label) cells.
3. Calibration (:mod:`.calibrate`) and hybrid thresholds (:mod:`.hybrid`),
   fitted on the default (int8) model's held-out outputs; held-out metrics for
   rules, model and hybrid; reliability figures.
4. ``tokenizer.json``, the model card ``README.md`` (:mod:`.card`) and
   ``manifest.json`` (sha256 of every other file).

The folder is built beside its destination and renamed into place at the end,
so a failed export leaves any earlier model untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
import torch
from numpy.typing import NDArray

from .._version import __version__
from ..constants import TOOLKIT
from ..errors import ExportRejectedError, ModelError, OutputError, SettingsError
from ..io.durable import replace_dir
from .calibrate import fit_calibration, present_probability, present_target, reliability, softmax
from .card import render_card
from .dataset import TrainingData
from .hybrid import choose_thresholds, hybrid_present
from .manifest import (
    CARD_NAME,
    CLASS_VALUES,
    CLASSES,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MODEL_FILES,
    TOKENIZER_FILE,
    file_record,
)
from .session import batched_logits, pad
from .train import DATA_DIR, FINAL_DIR, load_trained

Array = NDArray[Any]

OPSET = 17


@dataclass(frozen=True)
class ExportConfig:
    """Settings of an export.

    Parameters
    ----------
    name
        The model's name: the folder ``<models_dir>/<name>``.
    models_dir
        Where model folders live.
    tolerance
        Largest accepted absolute difference between ONNX Runtime and PyTorch logits.
    min_agreement
        Smallest accepted share of (report, label) cells where int8 and fp32 agree.
    calibration
        ``temperature``, ``isotonic`` or ``none``.
    parity_batch
        Held-out reports in the parity batch.
    min_positives
        Labels with fewer held-out positives keep the hybrid's model off; also
        the macro-F1's inclusion rule (as the scorer's ``--min-pos``).
    force
        Replace an existing model folder of that name.
    int8_only
        Validate the fp32 model, then leave it out of the folder (and the manifest):
        ships about 23 MB instead of about 114 MB for MiniLM; ``--variant fp32`` is then unavailable.
    threads
        ONNX Runtime threads while validating (None: its default).
    command
        The command line that ran the export (recorded in the manifest's recipe).
    cv
        A ``cv.json`` written by ``reportlab-nlp cross-validate`` (or its folder):
        its figures go into the manifest's ``cross_validation`` and the card.
    """

    name: str
    models_dir: str = "models"
    tolerance: float = 1e-4
    min_agreement: float = 0.995
    calibration: str = "temperature"
    parity_batch: int = 32
    min_positives: int = 10
    force: bool = False
    int8_only: bool = False
    threads: int | None = None
    command: str | None = None
    cv: str | None = None

    def __post_init__(self) -> None:
        if not self.name or Path(self.name).name != self.name or self.name.startswith("."):
            raise SettingsError("name", "a plain folder name", self.name)
        if not 0.0 < self.min_agreement <= 1.0:
            raise SettingsError("min_agreement", "a number in (0, 1]", self.min_agreement)
        if self.tolerance <= 0:
            raise SettingsError("tolerance", "a positive number", self.tolerance)


@dataclass
class ExportResult:
    """What an export wrote and measured."""

    model_dir: Path
    manifest: dict[str, Any]
    elapsed: float


def _ort_session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@contextlib.contextmanager
def _private_tempdir(parent: Path) -> Iterator[Path]:
    """A temporary folder that every ``tempfile`` user in this process writes to, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=".quant-", dir=parent))
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(folder, ignore_errors=True)


def export_onnx(model: torch.nn.Module, path: Path, sample: tuple[Array, Array]) -> None:
    """Export with the legacy TorchScript exporter: dynamic batch and sequence axes, opset 17."""
    import onnx

    ids, mask = (torch.from_numpy(a) for a in sample)
    # the tracer warns about Python-side shape arithmetic in transformers' masking code; the parity
    # check runs the exported graph at two other shapes, which is what settles whether the trace holds
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)  # type: ignore[attr-defined]
        warnings.filterwarnings("ignore", message=r".*aten::index.*", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)  # the legacy exporter, chosen on purpose
        torch.onnx.export(
            model,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(str(path))


def check_parity(
    model: torch.nn.Module, session: Any, batches: Sequence[tuple[Array, Array]], tolerance: float
) -> dict[str, Any]:
    """Max absolute difference of ONNX Runtime's logits from PyTorch's on each batch; raises past tolerance.

    Raises
    ------
    ExportRejectedError
        If a difference exceeds ``tolerance``.
    """
    worst = 0.0
    shapes = []
    for ids, mask in batches:
        with torch.no_grad():
            expected = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        got = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        worst = max(worst, float(np.abs(expected - got).max()))
        shapes.append(list(ids.shape))
    record = {"max_abs_diff": worst, "tolerance": tolerance, "batches": shapes, "passed": worst <= tolerance}
    if worst > tolerance:
        raise ExportRejectedError(
            f"ONNX export rejected: ONNX Runtime's logits differ from PyTorch's by up to {worst:.3g} "
            f"on held-out batches {shapes} (tolerance {tolerance:g}); nothing was written"
        )
    return record


def head_nodes(model_path: Path, output: str = "logits") -> list[str]:
    """Names of the matrix products that produce ``output`` (the label heads), found walking back from it.

    The heads are kept in fp32 by :func:`quantize`: they are 1% of the weights, and int8 noise there
    lands on the logits unattenuated.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    found: list[str] = []
    frontier = [output]
    seen: set[str] = set()
    while frontier and not found:
        name = frontier.pop()
        node = producer.get(name)
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type in ("MatMul", "Gemm"):
            found.append(node.name)
        else:
            frontier.extend(node.input)
    return found


def quantize(fp32: Path, int8: Path, workdir: Path) -> dict[str, Any]:
    """Dynamic int8 quantization, per-channel weights, label heads kept fp32.

    Temporary files (``quant_pre_process`` writes large ones) go to a folder in
    ``workdir`` that is removed. Returns what was done, for the manifest.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with _private_tempdir(workdir) as tmp:
        pre = tmp / "preprocessed.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        excluded = head_nodes(pre)
        quantize_dynamic(
            str(pre), str(int8), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=excluded
        )
    return {"nodes_kept_fp32": excluded}


def _f1(truth: Array, pred: Array) -> float:
    tp = int((truth & pred).sum())
    fp = int((~truth & pred).sum())
    fn = int((truth & ~pred).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _scores(
    labels: Sequence[str], truth: Array, preds: dict[str, Array], valid: Array, min_pos: int
) -> dict[str, Any]:
    """Per-label F1 of each prediction set and macro/micro F1 over labels with >= min_pos positives."""
    per_label: dict[str, dict[str, Any]] = {}
    macro: dict[str, list[float]] = {k: [] for k in preds}
    micro: dict[str, list[int]] = {k: [0, 0, 0] for k in preds}
    for j, label in enumerate(labels):
        v = valid[:, j]
        t = truth[v, j]
        row: dict[str, Any] = {"n": int(v.sum()), "positives": int(t.sum())}
        for name, p in preds.items():
            pj = p[v, j]
            row[name] = round(_f1(t, pj), 4)
            if t.sum() >= min_pos:
                macro[name].append(_f1(t, pj))
                micro[name][0] += int((t & pj).sum())
                micro[name][1] += int((~t & pj).sum())
                micro[name][2] += int((t & ~pj).sum())
        per_label[label] = row
    return {
        "min_positives": min_pos,
        "labels_scored": len(next(iter(macro.values()))) if macro else 0,
        "macro_f1": {k: round(float(np.mean(v)), 4) if v else None for k, v in macro.items()},
        "micro_f1": {
            k: round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0 for k, (tp, fp, fn) in micro.items()
        },
        "per_label": per_label,
    }


def export_model(run_dir: str | Path, config: ExportConfig, *, stderr: TextIO | None = None) -> ExportResult:
    """Export, validate, quantize, calibrate and write ``<models_dir>/<name>/`` (see the module).

    Raises
    ------
    ModelError
        The run is not finished, or has no held-out reports.
    ExportRejectedError
        The parity or the agreement gate failed (nothing is written).
    OutputError
        The model folder exists and ``force`` is false, or cannot be written.
    """
    err = stderr if stderr is not None else sys.stderr
    started = time.perf_counter()
    root = Path(run_dir)
    cross_validation = None
    if config.cv is not None:  # read first: a bad file fails before the slow part
        from .cvfile import load_cv, manifest_record

        cross_validation = manifest_record(load_cv(config.cv))
    model, spec, run = load_trained(root, attention="eager")
    data = TrainingData.load(root / DATA_DIR)
    heldout = data.splits["heldout"]
    if len(heldout) == 0:
        raise ModelError(f"{root}: the run holds no held-out reports; train with a held-out fraction above 0")
    labels = list(spec.labels)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(root / FINAL_DIR / TOKENIZER_FILE))
    encoded = [e.ids for e in tokenizer.encode_batch(list(heldout["text"]))]
    targets = np.asarray(heldout["targets"], dtype=np.int64).reshape(len(heldout), len(labels))
    rules_idx = np.asarray(heldout["rules"], dtype=np.int64).reshape(len(heldout), len(labels))
    gold = np.asarray(heldout["gold"], dtype=np.int64).reshape(len(heldout), len(labels))

    models_dir = Path(config.models_dir)
    final_dir = models_dir / config.name
    if final_dir.exists() and not config.force:
        raise OutputError(f"{final_dir} exists; pass --force to replace it")
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{config.name}.staging-", dir=models_dir))
    try:
        fp32_path = staging / MODEL_FILES["fp32"]
        int8_path = staging / MODEL_FILES["int8"]
        parity_rows = list(range(min(config.parity_batch, len(encoded))))
        batch = pad([encoded[i] for i in parity_rows])
        shortest = min(range(len(encoded)), key=lambda i: len(encoded[i]))
        single = pad([encoded[shortest]])
        err.write(f"reportlab-nlp: exporting {config.name} to ONNX (opset {OPSET}, legacy exporter)\n")
        export_onnx(model, fp32_path, batch)
        fp32_session = _ort_session(fp32_path, config.threads)
        parity = check_parity(model, fp32_session, [batch, single], config.tolerance)
        parity["reports"] = len(parity_rows)
        err.write(
            f"reportlab-nlp: parity {parity['max_abs_diff']:.2e} (tolerance {config.tolerance:g}) on "
            f"{len(parity_rows)} held-out reports: accepted\n"
        )

        fp32_logits = batched_logits(fp32_session, encoded, len(labels), 32)
        quant_info = quantize(fp32_path, int8_path, models_dir)
        int8_logits = batched_logits(_ort_session(int8_path, config.threads), encoded, len(labels), 32)
        same = fp32_logits.argmax(-1) == int8_logits.argmax(-1)
        agreement = float(same.mean())
        p32 = present_probability(softmax(fp32_logits.astype(np.float64))) >= 0.5
        p8 = present_probability(softmax(int8_logits.astype(np.float64))) >= 0.5
        quant = {
            "method": "onnxruntime quantize_dynamic, int8 weights, per-channel (quant_pre_process, "
            "skip_symbolic_shape=True); label heads kept fp32",
            **quant_info,
            "agreement": round(agreement, 6),
            "presence_agreement": round(float((p32 == p8).mean()), 6),
            "cells": int(same.size),
            "disagreeing_cells": int((~same).sum()),
            "required": config.min_agreement,
            "max_abs_logit_diff": float(np.abs(fp32_logits - int8_logits).max()),
            "passed": agreement >= config.min_agreement,
        }
        if agreement < config.min_agreement:
            raise ExportRejectedError(
                f"int8 quantization rejected: its classes agree with fp32 on {agreement:.2%} of "
                f"{same.size} held-out (report, label) cells, below the required {config.min_agreement:.2%}; "
                "nothing was written"
            )
        err.write(
            f"reportlab-nlp: int8 agrees with fp32 on {agreement:.2%} of {same.size} held-out cells "
            f"(required {config.min_agreement:.2%}): accepted\n"
        )

        # calibration and thresholds on the default (int8) model's held-out outputs
        truth = present_target(targets).astype(bool)
        calibration = fit_calibration(int8_logits, targets, labels, config.calibration)
        _, present = calibration.apply(int8_logits)
        raw_present = present_probability(softmax(int8_logits.astype(np.float64)))
        rules_values = [[CLASS_VALUES[c] for c in row] for row in rules_idx]
        thresholds, threshold_details = choose_thresholds(
            labels, rules_values, present.tolist(), truth.tolist(), min_positives=min(3, config.min_positives)
        )
        rel_before = reliability(raw_present, truth)
        rel_after = reliability(present, truth)
        per_label_ece = {
            label: reliability(present[:, j], truth[:, j])["ece"] for j, label in enumerate(labels)
        }

        # held-out metrics: against the targets (silver + gold), and against gold cells only
        rules_pred = np.isin(rules_idx, (1, 3))
        model_pred = np.zeros_like(rules_pred)
        hybrid_pred = np.zeros_like(rules_pred)
        for j, label in enumerate(labels):
            t = thresholds[label]
            model_pred[:, j] = present[:, j] >= (0.5 if t is None else t)
            col_rules = [row[j] for row in rules_values]
            hybrid_pred[:, j] = hybrid_present(col_rules, present[:, j].tolist(), t)
        preds = {"rules": rules_pred, "model": model_pred, "hybrid": hybrid_pred}
        all_cells = np.ones_like(truth, dtype=bool)
        gold_cells = np.isin(gold, (0, 1))
        metrics = {
            "split": f"held-out reports ({len(heldout)}); thresholds and calibration were fitted on these "
            "same reports, so the hybrid figures here are optimistic: cross-validation gives the honest ones",
            "targets": _scores(labels, truth, preds, all_cells, config.min_positives),
            "gold": _scores(labels, gold == 1, preds, gold_cells, config.min_positives)
            if gold_cells.any()
            else None,
        }

        shutil.copyfile(root / FINAL_DIR / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        import onnx
        import onnxruntime

        n_params = sum(p.numel() for p in model.parameters())
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": config.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "toolkit": TOOLKIT,
            "toolkit_version": __version__,
            "base_model": spec.base_record(),
            "architecture": {
                **spec.to_dict(),
                "parameters": int(n_params),
                "heads": "one 4-way linear head per label",
            },
            "labels": labels,
            "classes": list(CLASSES),
            "max_length": spec.max_length,
            "inputs": ["input_ids", "attention_mask"],
            "outputs": {"logits": ["batch", "labels", "classes"]},
            "opset": OPSET,
            "default_variant": "int8",
            "variants": {k: v for k, v in MODEL_FILES.items() if k == "int8" or not config.int8_only},
            "training": {
                "config": run["config"],
                "data": run["summary"],
                "fingerprint": run["fingerprint"],
                "steps": run.get("step"),
                "total_steps": run.get("total_steps"),
                "final_loss": run.get("final_loss"),
                "loss_history": run.get("history", []),
                "versions": run.get("versions", {}),
            },
            "export": {
                "exporter": "torch.onnx.export, legacy TorchScript exporter (dynamo=False)",
                "versions": {
                    "torch": torch.__version__,
                    "onnx": onnx.__version__,
                    "onnxruntime": onnxruntime.__version__,
                },
                "parity": parity,
                "quantization": quant,
            },
            "calibration": {
                **calibration.to_dict(),
                "fitted_on": f"{len(heldout)} held-out reports, int8 model",
                "reliability_before": rel_before,
                "reliability_after": rel_after,
                "ece_per_label": per_label_ece,
            },
            "thresholds": thresholds,
            "threshold_selection": {
                "rule": "per label, the threshold (0.95 down to 0.05) that maximises the hybrid's "
                "held-out F1, kept only if it beats the rules alone; None: model off for that label",
                "per_label": threshold_details,
            },
            "metrics": metrics,
            **({"cross_validation": cross_validation} if cross_validation else {}),
            "recipe": {
                "train": (run.get("command") or None),
                "export": config.command,
                "make": "make model",
            },
            "files": {},
        }
        if config.int8_only:
            fp32_path.unlink()
        for name in (*manifest["variants"].values(), TOKENIZER_FILE):
            manifest["files"][name] = file_record(staging / name)
        (staging / CARD_NAME).write_text(render_card(manifest), encoding="utf-8")
        manifest["files"][CARD_NAME] = file_record(staging / CARD_NAME)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        for p in staging.iterdir():
            os.chmod(p, 0o644)
        os.chmod(staging, 0o755)
        replace_dir(staging, final_dir, force=config.force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    elapsed = time.perf_counter() - started
    err.write(f"reportlab-nlp: wrote {final_dir} in {elapsed:.1f} s\n")
    return ExportResult(final_dir, manifest, elapsed)


__all__ = ["OPSET", "ExportConfig", "ExportResult", "check_parity", "export_model", "export_onnx", "quantize"]
