"""K-fold cross-validation of the hybrid against the rules, over reports, on a gold set.

``cross_validate(data, gold, config, ...)`` is what ``reportlab-nlp
cross-validate`` runs, and how the shipped model's card gets its honest
figures (the export's own held-out figures fit thresholds and calibration on
the very reports they score):

1. The reports of a training set (:func:`~reportlab_nlp.classifier.dataset.build_dataset`,
   silver labels with the gold override) are cut into ``folds`` folds by
   scikit-learn's ``KFold`` (shuffled with the seed, over the sorted report
   ids, so the folds do not depend on file order).
2. For each fold, a model is trained on the other folds only (their
   train/held-out split kept as the data set made it), exported through both
   gates (:func:`~reportlab_nlp.classifier.export.export_model`, int8 only),
   calibrated and given its hybrid thresholds on its own held-out reports.
   No report of the fold is seen by its model, its calibration or its thresholds.
3. The fold's reports are labeled by the ``rules``, ``model`` and ``hybrid``
   engines (the int8 model, as shipped), written as wide CSVs (the ``label``
   command's format), and scored against the fold's gold rows with
   :func:`~reportlab_nlp.evaluate.compare.compare` in ``score.py``'s
   conventions (gold -1 rows left out of that label; our -1 counts as present).
4. The out-of-fold predictions of all folds (every gold report scored once,
   by a model that never saw it) are pooled and scored the same way.

The verdict applies the design's acceptance rule to the pooled figures: the
hybrid's macro-F1 at least ``min_gain`` (0.01) above the rules', and on no
label with at least ``min_positives`` (10) gold positives more than
``max_loss`` (0.02) below them.

Everything lands in ``out_dir``: ``fold-K/`` (the run, the model, the gold
rows and the predictions of fold K), ``oof-{rules,model,hybrid}.csv``,
``gold.csv`` and ``cv.json`` (settings, folds, figures, verdict). Training
runs and exports resume, so an interrupted cross-validation continues where
it stopped. The folder holds report text (the runs' data sets): keep it private.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from .._version import __version__
from ..errors import ColumnNotFoundError, InputError, SettingsError
from ..io.tables import Table
from ..io.writers import AtomicFile, CsvWriter
from ..labeler import Labeler
from ..types import Report, ReportLabels
from .cvfile import CV_FILE, ENGINES, load_cv, manifest_record
from .dataset import TrainingData
from .manifest import MANIFEST_NAME
from .train import FINAL_DIR, RUN_FILE, TrainConfig


@dataclass(frozen=True)
class CVConfig:
    """Settings of a cross-validation (besides the training settings).

    Parameters
    ----------
    folds
        Number of folds (at least 2).
    seed
        Shuffles the folds.
    min_positives
        A label enters macro-F1 and the per-label rule with at least this many
        gold positives (``score.py``'s ``--min-pos``).
    min_gain
        The hybrid's macro-F1 must beat the rules' by at least this much.
    max_loss
        The hybrid may fall at most this far below the rules on any counted label.
    calibration, tolerance, min_agreement
        As :class:`~reportlab_nlp.classifier.export.ExportConfig`.
    threads
        ONNX Runtime threads (None: its default).
    """

    folds: int = 5
    seed: int = 0
    min_positives: int = 10
    min_gain: float = 0.01
    max_loss: float = 0.02
    calibration: str = "temperature"
    tolerance: float = 1e-4
    min_agreement: float = 0.995
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise SettingsError("folds", "a whole number of at least 2", self.folds)


@dataclass(frozen=True)
class GoldTable:
    """A gold CSV read whole: its id column, label columns and rows (as read)."""

    path: str
    id_col: str
    columns: list[str]
    rows: dict[str, dict[str, str]]


def read_gold_table(path: str | Path, id_col: str) -> GoldTable:
    """Read a gold CSV as text (scoring reads the values; this keeps rows to write fold subsets)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: cannot read the gold file: no such file")
    with Table(path, what="the gold file") as table:
        header = table.header
        if id_col not in header:
            raise ColumnNotFoundError(str(path), "gold id", id_col, header)
        rows = {
            row[header.index(id_col)]: {c: (row[i] if i < len(row) else "") for i, c in enumerate(header)}
            for _, row in table.rows()
        }
    return GoldTable(str(path), id_col, [c for c in header if c != id_col], rows)


def assign_folds(ids: Sequence[str], folds: int, seed: int) -> dict[str, int]:
    """{report id: fold} from scikit-learn's shuffled KFold over the sorted ids."""
    from sklearn.model_selection import KFold

    ordered = sorted(set(ids))
    if len(ordered) < folds:
        raise InputError(f"{len(ordered)} reports cannot be cut into {folds} folds")
    out: dict[str, int] = {}
    for k, (_, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(ordered)):
        for i in test:
            out[ordered[i]] = k
    return out


def fold_data(data: TrainingData, exclude: set[str]) -> TrainingData:
    """The training set without the reports in ``exclude`` (both splits filtered)."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # a bar per split says nothing useful
    try:
        splits = datasets.DatasetDict(
            {
                name: split.filter(lambda rid: rid not in exclude, input_columns="id")
                for name, split in data.splits.items()
            }
        )
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
    summary = dict(data.summary)
    summary["cross_validation"] = {"excluded_reports": len(exclude)}
    summary["train_reports"] = len(splits["train"])
    summary["heldout_reports"] = len(splits["heldout"])
    summary["reports"] = len(splits["train"]) + len(splits["heldout"])
    return TrainingData(splits, list(data.labels), summary)


def _write_gold(path: Path, gold: GoldTable, ids: Sequence[str]) -> None:
    with AtomicFile(path) as out:
        writer = csv.writer(out.handle, lineterminator="\n")
        writer.writerow([gold.id_col, *gold.columns])
        for rid in ids:
            writer.writerow([rid, *(gold.rows[rid][c] for c in gold.columns)])


def _predict(engines: Mapping[str, Any], reports: Sequence[Report], batch: int = 32) -> dict[str, list[Any]]:
    """{engine name: its labels of ``reports``, in order} (a report that fails stops the run)."""
    out: dict[str, list[Any]] = {name: [] for name in engines}
    for name, engine in engines.items():
        for _, outcome in engine.stream(reports, batch):
            if isinstance(outcome, Exception):
                raise outcome
            out[name].append(outcome.labels)
    return out


def _write_predictions(
    path: Path, labeler: Labeler, results: Sequence[ReportLabels], reports: Sequence[Report]
) -> None:
    """A wide CSV of the full scheme's label columns, as ``reportlab-nlp label`` writes them."""
    writer = CsvWriter(path, labeler.columns("full"))
    try:
        for result, report in zip(results, reports, strict=True):
            writer.write(result, labeler.values(result, "full"), report)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def score(pred: str | Path, gold: GoldTable, gold_path: str | Path, min_positives: int) -> dict[str, Any]:
    """``score.py``'s figures of a prediction CSV against a gold CSV: per label and macro/micro."""
    from ..evaluate.compare import compare

    c = compare(
        str(gold_path),
        str(pred),
        missing="blank",
        n_boot=0,
        min_pos=min_positives,
        true_id_col=gold.id_col,
    )
    labels: dict[str, Any] = {}
    for r in c.labels:
        if r.label not in gold.columns:
            continue
        p = r.presence
        labels[r.label] = {
            "positives": p.their_positives,
            "n": p.n,
            "tp": p.scores.tp,
            "fp": p.scores.fp,
            "fn": p.scores.fn,
            "f1": p.scores.f1,
            "in_average": p.in_average,
        }
    averages = c.overall["presence"]  # score.py's macro and micro F1 over the counted labels
    return {
        "macro_f1": averages["f1_macro"] or 0.0,
        "micro_f1": averages["f1_micro"] or 0.0,
        "labels_in_average": len(averages["labels_in_average"]),
        "labels": labels,
    }


def verdict(figures: Mapping[str, Any], config: CVConfig) -> dict[str, Any]:
    """The acceptance rule on pooled figures: gain in macro-F1, and no counted label losing too much."""
    rules, hybrid = figures["rules"], figures["hybrid"]
    gain = hybrid["macro_f1"] - rules["macro_f1"]
    worst: list[dict[str, Any]] = []
    for label, r in rules["labels"].items():
        if r["positives"] < config.min_positives:
            continue
        h = hybrid["labels"][label]
        delta = (h["f1"] or 0.0) - (r["f1"] or 0.0)
        worst.append({"label": label, "rules_f1": r["f1"], "hybrid_f1": h["f1"], "delta": delta})
    worst.sort(key=lambda d: d["delta"])
    losing = [d for d in worst if d["delta"] < -config.max_loss - 1e-12]
    return {
        "macro_gain": gain,
        "required_gain": config.min_gain,
        "gain_holds": gain >= config.min_gain - 1e-12,
        "largest_loss": worst[0] if worst else None,
        "allowed_loss": config.max_loss,
        "labels_losing_too_much": losing,
        "loss_holds": not losing,
        "passed": gain >= config.min_gain - 1e-12 and not losing,
    }


def _fold_ids(assignment: Mapping[str, int], k: int) -> list[str]:
    return sorted(rid for rid, f in assignment.items() if f == k)


def _finished(run_dir: Path) -> bool:
    try:
        run = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        bool(run.get("total_steps"))
        and run.get("step") == run.get("total_steps")
        and (run_dir / FINAL_DIR).is_dir()
    )


def cross_validate(
    data: TrainingData,
    gold: GoldTable,
    train_config: TrainConfig,
    out_dir: str | Path,
    config: CVConfig | None = None,
    *,
    labeler: Labeler | None = None,
    command: str | None = None,
    progress: bool = True,
    stderr: TextIO | None = None,
) -> dict[str, Any]:
    """Run the cross-validation (see the module) and return what ``cv.json`` holds.

    ``labeler`` is the rule labeler that made ``data``'s silver labels (the
    rules engine, and the hybrid's rules); None: the built-in rules.

    Raises
    ------
    InputError
        No gold report among the training reports, or fewer than ``folds`` of them.
    ModelError, ExportRejectedError
        From training or export (a fold whose model fails a gate stops the run).
    """
    from ..engines import HybridEngine, ModelEngine, RulesEngine
    from .export import ExportConfig, export_model
    from .train import train

    cfg = config or CVConfig()
    err = stderr if stderr is not None else sys.stderr
    started = time.perf_counter()
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)

    texts: dict[str, str] = {}
    for split in data.splits.values():
        texts.update(zip(split["id"], split["text"], strict=True))
    ids = sorted(rid for rid in texts if rid in gold.rows)
    if not ids:
        raise InputError(f"{gold.path}: no report of the training corpora has a gold row")
    assignment = assign_folds(ids, cfg.folds, cfg.seed)
    _write_gold(root / "gold.csv", gold, ids)
    if labeler is None:
        from ..rules import load_rules

        labeler = Labeler(load_rules())
    rules_engine = RulesEngine.from_labeler(labeler)

    fold_records: list[dict[str, Any]] = []
    pooled: dict[str, list[tuple[Any, Report]]] = {name: [] for name in ENGINES}
    for k in range(cfg.folds):
        fold_dir = root / f"fold-{k}"
        fold_dir.mkdir(exist_ok=True)
        test_ids = _fold_ids(assignment, k)
        run_dir = fold_dir / "run"
        model_dir = fold_dir / "model" / "cv"
        t0 = time.perf_counter()
        if _finished(run_dir) and (model_dir / MANIFEST_NAME).is_file():
            err.write(f"reportlab-nlp: fold {k + 1}/{cfg.folds}: trained and exported already; scoring\n")
            trained = None
        else:
            err.write(
                f"reportlab-nlp: fold {k + 1}/{cfg.folds}: training on the other folds "
                f"({len(ids) - len(test_ids)} gold reports), scoring {len(test_ids)}\n"
            )
            subset = fold_data(data, set(test_ids))
            trained = train(subset, train_config, run_dir, resume=True, progress=progress, stderr=err)
            export_model(
                run_dir,
                ExportConfig(
                    name="cv",
                    models_dir=str(fold_dir / "model"),
                    tolerance=cfg.tolerance,
                    min_agreement=cfg.min_agreement,
                    calibration=cfg.calibration,
                    min_positives=cfg.min_positives,
                    force=True,
                    int8_only=True,
                    threads=cfg.threads,
                    command=command,
                ),
                stderr=err,
            )
        manifest = json.loads((model_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        engines: dict[str, Any] = {
            "rules": rules_engine,
            "model": ModelEngine(model_dir=model_dir, threads=cfg.threads),
            "hybrid": HybridEngine(model_dir=model_dir, threads=cfg.threads, labeler=labeler),
        }
        for engine in engines.values():
            engine.load()
        reports = [Report(rid, texts[rid]) for rid in test_ids]
        results = _predict(engines, reports)
        _write_gold(fold_dir / "gold.csv", gold, test_ids)
        figures: dict[str, Any] = {}
        for name in ENGINES:
            path = fold_dir / f"{name}.csv"
            _write_predictions(path, labeler, results[name], reports)
            figures[name] = score(path, gold, fold_dir / "gold.csv", cfg.min_positives)
            pooled[name].extend(zip(results[name], reports, strict=True))
        thresholds = manifest.get("thresholds", {})
        record = {
            "fold": k,
            "test_reports": len(test_ids),
            "train_reports": manifest["training"]["data"].get("train_reports"),
            "heldout_reports": manifest["training"]["data"].get("heldout_reports"),
            "int8_agreement": manifest["export"]["quantization"]["agreement"],
            "labels_with_model_on": sorted(label for label, t in thresholds.items() if t is not None),
            "seconds": round(time.perf_counter() - t0, 1),
            "final_loss": manifest["training"].get("final_loss") if trained is None else trained.final_loss,
            **{name: _brief(figures[name]) for name in ENGINES},
        }
        fold_records.append(record)
        err.write(
            f"reportlab-nlp: fold {k + 1}/{cfg.folds}: macro-F1 rules {record['rules']['macro_f1']:.3f}, "
            f"model {record['model']['macro_f1']:.3f}, hybrid {record['hybrid']['macro_f1']:.3f}\n"
        )

    pooled_figures: dict[str, Any] = {}
    for name in ENGINES:
        path = root / f"oof-{name}.csv"
        results_, reports_ = zip(*pooled[name], strict=True) if pooled[name] else ((), ())
        _write_predictions(path, labeler, results_, reports_)
        pooled_figures[name] = score(path, gold, root / "gold.csv", cfg.min_positives)
    out = {
        "tool": f"reportlab-nlp {__version__}",
        "command": command,
        "gold": {"file": os.path.basename(gold.path), "id_col": gold.id_col, "reports": len(ids)},
        "settings": {**asdict(cfg), "train": train_config.to_dict()},
        "folds": fold_records,
        "pooled": pooled_figures,
        "mean_over_folds": {
            name: {
                key: sum(f[name][key] for f in fold_records) / len(fold_records)
                for key in ("macro_f1", "micro_f1")
            }
            for name in ENGINES
        },
        "verdict": verdict(pooled_figures, cfg),
        "seconds": round(time.perf_counter() - started, 1),
    }
    with AtomicFile(root / CV_FILE) as target:
        target.handle.write(json.dumps(out, indent=1) + "\n")
    return out


def _brief(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "macro_f1": figures["macro_f1"],
        "micro_f1": figures["micro_f1"],
        "labels_in_average": figures["labels_in_average"],
        "f1": {label: v["f1"] for label, v in figures["labels"].items()},
        "positives": {label: v["positives"] for label, v in figures["labels"].items()},
    }


def summary_table(cv: Mapping[str, Any]) -> str:
    """A plain-text table of a ``cv.json``: per fold and pooled macro/micro F1 per engine, and the verdict."""
    lines = [f"{'':10s} {'reports':>7s}  " + "  ".join(f"{e + ' macro':>13s} {'micro':>6s}" for e in ENGINES)]
    for f in cv["folds"]:
        cells = "  ".join(f"{f[e]['macro_f1']:13.3f} {f[e]['micro_f1']:6.3f}" for e in ENGINES)
        lines.append(f"fold {f['fold'] + 1:<5d} {f['test_reports']:7d}  {cells}")
    mean = cv["mean_over_folds"]
    lines.append(
        f"{'mean':10s} {'':7s}  "
        + "  ".join(f"{mean[e]['macro_f1']:13.3f} {mean[e]['micro_f1']:6.3f}" for e in ENGINES)
    )
    pooled = cv["pooled"]
    lines.append(
        f"{'pooled':10s} {cv['gold']['reports']:7d}  "
        + "  ".join(f"{pooled[e]['macro_f1']:13.3f} {pooled[e]['micro_f1']:6.3f}" for e in ENGINES)
    )
    v = cv["verdict"]
    worst = v["largest_loss"]
    lines.append(
        f"hybrid - rules macro-F1 {v['macro_gain']:+.3f} (required {v['required_gain']:+.3f}); "
        + (
            f"largest per-label change {worst['delta']:+.3f} "
            f"({worst['label']}; allowed -{v['allowed_loss']:.3f})"
            if worst
            else "no label with enough positives"
        )
        + f": {'PASSED' if v['passed'] else 'NOT PASSED'}"
    )
    return "\n".join(lines) + "\n"


__all__ = [
    "CV_FILE",
    "CVConfig",
    "GoldTable",
    "assign_folds",
    "cross_validate",
    "fold_data",
    "load_cv",
    "manifest_record",
    "read_gold_table",
    "score",
    "summary_table",
    "verdict",
]
