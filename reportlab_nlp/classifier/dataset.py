"""Training data: reports -> silver targets from the rule labeler, optionally overridden by gold.

Every report of the corpora (read with :class:`~reportlab_nlp.io.readers.ReportSource`,
as ``reportlab-nlp label`` reads them) gets, for every label of the full set,
a target class: blank 0, positive 1, negative 2, uncertain 3
(:data:`~reportlab_nlp.classifier.manifest.CLASSES`). The silver target is
the rule labeler's value. A gold CSV (one row per report, one column per
label, values 1 / 0 / -1 as in the Open-i development gold, which codes
presence only) overrides it cell by cell:

==========  ===================================================================
gold        target
==========  ===================================================================
``1``       positive (present), whatever the rules said
``0``       not present: a silver negative or blank is kept (the rules found a
            negation, or nothing); a silver positive or uncertain becomes
            **blank**, since presence-only gold does not say that the report
            negates the finding, only that it is not there
``-1``      ambiguous in the gold: the silver target is kept
(no row)    the silver target is kept
==========  ===================================================================

Reports are split into ``train`` and ``heldout`` by a hash of their id and the
seed (stable across runs and machines, independent of file order); the
held-out reports gate the export (parity, int8 agreement) and fit the
calibration and the hybrid thresholds.

The dataset holds report text: keep the folder it is saved to out of the
repository (``build/`` is ignored). Nothing here logs text.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ColumnNotFoundError, InputError
from ..io.readers import ReportSource
from ..labeler import Labeler
from ..types import LabelValue, Report, ReportLabels
from .manifest import CLASSES, class_index, sha256_file

if TYPE_CHECKING:
    import datasets

# datasets and transformers never reach for a hub here: everything is local
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ.setdefault(_var, "1")

NO_GOLD = -2
"""The ``gold`` cell of a report/label that the gold file does not cover."""

SPLITS = ("train", "heldout")
SUMMARY_FILE = "summary.json"
_BLANK, _POSITIVE, _NEGATIVE, _UNCERTAIN = range(4)


@dataclass(frozen=True)
class Corpus:
    """A corpus of reports to train on, read as ``reportlab-nlp label`` reads it.

    Parameters
    ----------
    path
        CSV/TSV, JSONL or a folder of ``.txt`` files.
    id_col, text_cols, encoding_errors
        As :class:`~reportlab_nlp.io.readers.ReportSource`.
    """

    path: str
    id_col: str | None = None
    text_cols: tuple[str, ...] = ()
    encoding_errors: str = "strict"


@dataclass(frozen=True)
class GoldSpec:
    """A gold CSV: an id column and one column per label (1 present, 0 not present, -1 ambiguous)."""

    path: str
    id_col: str = "uid"


@dataclass
class TrainingData:
    """The training set: ``splits["train"]`` and ``splits["heldout"]``, the label order and a summary.

    Columns of both splits: ``id`` (str), ``text`` (str), ``targets`` (one class
    index per label), ``rules`` (the rule labeler's class per label), ``gold``
    (1 / 0 / -1 per label, or :data:`NO_GOLD`).
    """

    splits: datasets.DatasetDict
    labels: list[str]
    summary: dict[str, Any]

    def save(self, path: str | Path) -> None:
        """Write the splits (Arrow) and ``summary.json`` into the folder ``path``."""
        import datasets

        root = Path(path)
        was_enabled = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()  # a bar per split on standard error says nothing useful
        try:
            self.splits.save_to_disk(str(root))
        finally:
            if was_enabled:
                datasets.enable_progress_bars()
        (root / SUMMARY_FILE).write_text(
            json.dumps({"labels": self.labels, "summary": self.summary}, indent=1) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, path: str | Path) -> TrainingData:
        """Read what :meth:`save` wrote."""
        import datasets

        root = Path(path)
        meta = json.loads((root / SUMMARY_FILE).read_text(encoding="utf-8"))
        splits = datasets.load_from_disk(str(root))
        if not isinstance(splits, datasets.DatasetDict):
            raise InputError(f"{root}: expected the train/heldout splits a training run saves")
        return cls(splits, list(meta["labels"]), dict(meta["summary"]))


def read_gold(spec: GoldSpec, labels: Sequence[str]) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Read a gold CSV: (its label columns, {report id: {label: 1 | 0 | -1}}).

    Raises
    ------
    InputError
        A missing file or id column, a column that is not a label of the full
        set, a value other than 1, 0, -1, or a repeated id; the message names
        the file, the row and the column.
    """
    path = Path(spec.path)
    known = set(labels)
    try:
        f = open(path, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as e:
        raise InputError(f"{path}: cannot read the gold file: {e.strerror}") from e
    with f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        if spec.id_col not in header:
            raise ColumnNotFoundError(str(path), "gold id", spec.id_col, header)
        columns = [c for c in header if c != spec.id_col]
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise InputError(
                f"{path}: gold column(s) {', '.join(repr(c) for c in unknown)} are not labels of the full "
                "set (reportlab-nlp labels lists them)"
            )
        gold: dict[str, dict[str, int]] = {}
        for row_no, row in enumerate(reader, start=2):
            rid = (row.get(spec.id_col) or "").strip()
            if not rid:
                raise InputError(f"{path}: row {row_no}: empty {spec.id_col!r}")
            if rid in gold:
                raise InputError(f"{path}: row {row_no}: report id {rid!r} appears twice")
            values: dict[str, int] = {}
            for col in columns:
                raw = (row.get(col) or "").strip()
                if raw not in ("1", "0", "-1"):
                    raise InputError(
                        f"{path}: row {row_no}, column {col!r}: expected 1, 0 or -1, found {raw!r}"
                    )
                values[col] = int(raw)
            gold[rid] = values
    return columns, gold


def silver_targets(result: ReportLabels, labels: Sequence[str]) -> list[int]:
    """The rule labeler's class index for every label, in ``labels`` order."""
    return [class_index(result.labels.get(label, LabelValue.BLANK)) for label in labels]


def apply_gold(silver: Sequence[int], gold: Mapping[str, int], position: Mapping[str, int]) -> list[int]:
    """Override silver class indices with presence-only gold (see the module's table).

    Parameters
    ----------
    silver
        Class index per label.
    gold
        {label: 1 | 0 | -1} for the labels the gold covers.
    position
        {label: its index in ``silver``}.
    """
    out = list(silver)
    for label, g in gold.items():
        i = position[label]
        if g == 1:
            out[i] = _POSITIVE
        elif g == 0 and out[i] in (_POSITIVE, _UNCERTAIN):
            out[i] = _BLANK
    return out


def split_of(report_id: str, *, seed: int, heldout_fraction: float) -> str:
    """``train`` or ``heldout`` for a report, from the sha256 of the seed and its id."""
    digest = hashlib.sha256(f"{seed}\0{report_id}".encode()).digest()
    return "heldout" if int.from_bytes(digest[:8], "big") / 2**64 < heldout_fraction else "train"


def _read(corpus: Corpus) -> Iterable[Report]:
    source = ReportSource(
        corpus.path, id_col=corpus.id_col, text_cols=corpus.text_cols, encoding_errors=corpus.encoding_errors
    )
    source.check()
    return source.reports()


def build_dataset(
    corpora: Sequence[Corpus],
    *,
    labeler: Labeler,
    gold: GoldSpec | None = None,
    heldout_fraction: float = 0.15,
    seed: int = 0,
) -> TrainingData:
    """Read, label (silver) and split the corpora into a training set.

    Parameters
    ----------
    corpora
        The corpora; report ids must be unique across all of them.
    labeler
        The rule labeler that gives the silver targets (its full label set is the model's).
    gold
        An optional gold CSV that overrides silver cells (presence only; see the module).
    heldout_fraction
        The share of reports held out (by a hash of id and seed), between 0 and 0.9.
    seed
        The split's seed (the training seed too, by convention).

    Raises
    ------
    InputError
        Unreadable corpora or gold, a report id in two corpora, or no report to train on.
    """
    import datasets

    if not 0.0 <= heldout_fraction <= 0.9:
        raise InputError(f"the held-out fraction must lie between 0 and 0.9, got {heldout_fraction}")
    labels = list(labeler.labels)
    position = {label: i for i, label in enumerate(labels)}
    gold_cols: list[str] = []
    gold_rows: dict[str, dict[str, int]] = {}
    if gold is not None:
        gold_cols, gold_rows = read_gold(gold, labels)

    rows: dict[str, dict[str, list[Any]]] = {
        s: {k: [] for k in ("id", "text", "targets", "rules", "gold")} for s in SPLITS
    }
    seen: dict[str, str] = {}
    corpora_summary = []
    matched = changed_pos = changed_blank = 0
    for corpus in corpora:
        n = empty = 0
        reports = list(_read(corpus))
        for report, result in zip(reports, labeler.pipe(reports, batch_size=256), strict=True):
            if report.id in seen:
                raise InputError(f"report id {report.id!r} is in both {seen[report.id]} and {corpus.path}")
            seen[report.id] = corpus.path
            n += 1
            empty += not report.text.strip()
            silver = silver_targets(result, labels)
            gold_vec = [NO_GOLD] * len(labels)
            targets = silver
            row = gold_rows.get(report.id)
            if row is not None:
                matched += 1
                for label, g in row.items():
                    gold_vec[position[label]] = g
                targets = apply_gold(silver, row, position)
                changed_pos += sum(
                    t == _POSITIVE and s != _POSITIVE for s, t in zip(silver, targets, strict=True)
                )
                changed_blank += sum(
                    t == _BLANK and s != _BLANK for s, t in zip(silver, targets, strict=True)
                )
            split = split_of(report.id, seed=seed, heldout_fraction=heldout_fraction)
            cols = rows[split]
            cols["id"].append(report.id)
            cols["text"].append(report.text)
            cols["targets"].append(targets)
            cols["rules"].append(silver)
            cols["gold"].append(gold_vec)
        corpora_summary.append(
            {
                "file": Path(corpus.path).name,
                "sha256": sha256_file(corpus.path) if Path(corpus.path).is_file() else None,
                "id_col": corpus.id_col,
                "text_cols": list(corpus.text_cols),
                "reports": n,
                "empty": empty,
            }
        )
    if not rows["train"]["id"]:
        raise InputError("no report to train on: the corpora are empty or every report was held out")

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "targets": datasets.Sequence(datasets.Value("int8")),
            "rules": datasets.Sequence(datasets.Value("int8")),
            "gold": datasets.Sequence(datasets.Value("int8")),
        }
    )
    splits = datasets.DatasetDict({s: datasets.Dataset.from_dict(rows[s], features=features) for s in SPLITS})
    summary: dict[str, Any] = {
        "corpora": corpora_summary,
        "reports": len(seen),
        "train_reports": len(rows["train"]["id"]),
        "heldout_reports": len(rows["heldout"]["id"]),
        "heldout_fraction": heldout_fraction,
        "split_seed": seed,
        "silver": {"labeler": "reportlab-nlp rules", "rules_hash": labeler.rules_hash},
        "gold": None
        if gold is None
        else {
            "file": Path(gold.path).name,
            "sha256": sha256_file(gold.path),
            "labels": gold_cols,
            "reports_in_gold": len(gold_rows),
            "reports_matched": matched,
            "cells_set_positive": changed_pos,
            "cells_set_blank": changed_blank,
            "policy": "gold 1 -> positive; gold 0 -> silver positive/uncertain become blank, "
            "silver negative/blank kept; gold -1 or no gold -> silver kept",
        },
        "train_class_counts": class_counts(rows["train"]["targets"], labels),
    }
    return TrainingData(splits, labels, summary)


def class_counts(targets: Iterable[Sequence[int]], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """{label: {class name: number of reports}} over rows of class indices."""
    counts = [[0] * len(CLASSES) for _ in labels]
    for row in targets:
        for i, c in enumerate(row):
            counts[i][c] += 1
    return {label: dict(zip(CLASSES, counts[i], strict=True)) for i, label in enumerate(labels)}


__all__ = [
    "NO_GOLD",
    "Corpus",
    "GoldSpec",
    "TrainingData",
    "apply_gold",
    "build_dataset",
    "class_counts",
    "read_gold",
    "silver_targets",
    "split_of",
]
