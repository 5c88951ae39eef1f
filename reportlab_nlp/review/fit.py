"""Fit the review queue on gold: the accuracy tables and the logistic-regression combiners.

Everything is cross-fitted, so that no report's own gold scores it: the
combiner is trained on features whose accuracies were measured on the other
folds (scikit-learn ``KFold``, shuffled with the seed), and the figures of
``bench/review_queue.py`` come from combiners and tables fitted on the other
folds only. The shipped file (``reportlab_nlp/review/queue.json``) holds the
tables counted over all the gold reports, the two combiners (``rules``:
signals every record has; ``model``: plus the model's) and how they were
made::

    python -m reportlab_nlp.review.fit build/review/dev-rules.jsonl build/review/dev-hybrid.jsonl \
        ../shared/corpora/iu_xray/gold_dev.csv --out reportlab_nlp/review/queue.json

(``make review-model`` runs it after labeling the Open-i development reports.)
Needs scikit-learn and SciPy (the ``compare`` or ``dev`` extra); scoring does not.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from .features import RISKS, Cell, cells_of, features, names, present
from .records import read_records
from .score import Combiner, QueueModel
from .tables import AccuracyTables, measure

FOLDS = 5
SEED = 0
C = 1.0
"""The inverse regularisation strength of the logistic regressions."""

Gold = dict[str, dict[str, int]]


def read_gold(path: str | Path, columns: Sequence[str] | None = None) -> Gold:
    """Gold by report id (``uid``, ``report_id`` or ``id`` column): 1 / 0 / -1, blank read as 0."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    id_col = next(c for c in ("uid", "report_id", "id") if c in rows[0])
    cols = [c for c in rows[0] if c != id_col and (columns is None or c in columns)]
    return {r[id_col]: {c: int(float(r[c])) if (r[c] or "").strip() else 0 for c in cols} for r in rows}


def is_error(cell: Cell, gold: int) -> bool:
    """A rules error in ``score.py``'s convention (gold -1 is never one)."""
    return gold != -1 and present(cell.value) != (gold == 1)


@dataclass(frozen=True)
class GoldCells:
    """The gold-labeled cells of a corpus, by report, in record order."""

    reports: list[list[tuple[Cell, int]]]

    @classmethod
    def of(cls, records: Sequence[Mapping[str, Any]], gold: Gold) -> GoldCells:
        out = []
        for r in records:
            g = gold.get(str(r.get("id")))
            if g is not None:
                out.append([(c, g[c.column]) for c in cells_of(r, list(g))])
        return cls(out)

    def flat(self, idx: Sequence[int] | None = None) -> list[tuple[Cell, int]]:
        chosen = range(len(self.reports)) if idx is None else idx
        return [pair for i in chosen for pair in self.reports[i]]


def folds_of(n: int, folds: int = FOLDS, seed: int = SEED) -> list[tuple[list[int], list[int]]]:
    """(train, test) report indices of each fold."""
    from sklearn.model_selection import KFold

    split = KFold(n_splits=folds, shuffle=True, random_state=seed).split(list(range(n)))
    return [(list(map(int, tr)), list(map(int, te))) for tr, te in split]


def crossfit_rows(
    data: GoldCells, idx: Sequence[int], *, with_model: bool, seed: int = SEED
) -> list[list[float]]:
    """Features of the cells of reports ``idx``, each fold's accuracies measured on the other folds."""
    rows: dict[int, list[list[float]]] = {}
    for tr, te in folds_of(len(idx), seed=seed):
        tables = measure(data.flat([idx[i] for i in tr]))
        for i in te:
            rows[i] = [features(c, tables, with_model=with_model) for c, _ in data.reports[idx[i]]]
    return [row for i in range(len(idx)) for row in rows[i]]


def fit_combiner(x: list[list[float]], y: list[int], with_model: bool) -> Combiner:
    """A logistic regression of "the cell is a rules error" on the features.

    scikit-learn's objective (``C`` times the summed log-loss plus half the
    squared weights; the intercept not penalised), minimised by L-BFGS-B with the
    weights of :data:`~reportlab_nlp.review.features.RISKS` bounded at zero, so
    that a signal of an error (a conflict, a hedge, a weak cue, the model's
    disagreement) can only raise a score.
    """
    import numpy as np
    from scipy.optimize import minimize

    feats = names(with_model)
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)

    def loss(theta: Any) -> tuple[float, Any]:
        w, b = theta[:-1], theta[-1]
        z = xa @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = C * float(np.sum(np.logaddexp(0.0, z) - ya * z)) + 0.5 * float(w @ w)
        grad_z = C * (p - ya)
        return value, np.concatenate([xa.T @ grad_z + w, [grad_z.sum()]])

    bounds = [(0.0, None) if f in RISKS else (None, None) for f in feats] + [(None, None)]
    fit = minimize(
        loss, np.zeros(len(feats) + 1), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 5000}
    )
    weights = [round(float(v), 6) for v in fit.x[:-1]]
    return Combiner(feats, weights, round(float(fit.x[-1]), 6))


def fit_model(rules: GoldCells, hybrid: GoldCells | None, provenance: Mapping[str, Any]) -> QueueModel:
    """The shipped model: tables over every gold report, combiners on cross-fitted features."""
    idx = list(range(len(rules.reports)))
    combiners = {}
    for name, data, with_model in (("rules", rules, False), ("model", hybrid, True)):
        if data is None:
            continue
        y = [int(is_error(c, g)) for c, g in data.flat()]
        combiners[name] = fit_combiner(crossfit_rows(data, idx, with_model=with_model), y, with_model)
    return QueueModel(measure(rules.flat()), combiners, dict(provenance))


def crossfit_scores(data: GoldCells, *, with_model: bool, seed: int = SEED) -> list[float]:
    """Out-of-fold scores of every cell: each fold scored by tables and a combiner fitted on the others."""
    scores: dict[int, list[float]] = {}
    for tr, te in folds_of(len(data.reports), seed=seed):
        y = [int(is_error(c, g)) for c, g in data.flat(tr)]
        combiner = fit_combiner(crossfit_rows(data, tr, with_model=with_model, seed=seed), y, with_model)
        tables = measure(data.flat(tr))
        for i in te:
            scores[i] = [
                combiner.score(features(c, tables, with_model=with_model)) for c, _ in data.reports[i]
            ]
    return [s for i in range(len(data.reports)) for s in scores[i]]


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m reportlab_nlp.review.fit", description=__doc__.splitlines()[0]
    )
    ap.add_argument("rules_jsonl", help="the rules engine's JSONL of the gold reports")
    ap.add_argument("hybrid_jsonl", help="the hybrid engine's JSONL of the same reports")
    ap.add_argument("gold", help="gold CSV (score.py's format)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    gold = read_gold(args.gold)
    rules = GoldCells.of(read_records(args.rules_jsonl), gold)
    hybrid = GoldCells.of(read_records(args.hybrid_jsonl), gold)
    provenance = {
        "made_by": "python -m reportlab_nlp.review.fit " + " ".join(sys.argv[1:] if argv is None else argv),
        "gold": Path(args.gold).name,
        "gold_sha256": _sha256(args.gold),
        "gold_reports": len(rules.reports),
        "cells": sum(len(r) for r in rules.reports),
        "rules_errors": sum(is_error(c, g) for c, g in rules.flat()),
        "model_signals": "the hybrid engine with the shipped model (models/minilm-openi)",
        "folds": FOLDS,
        "seed": SEED,
        "C": C,
        "reportlab_nlp": __version__,
        "note": "the shipped MiniLM model saw most of these reports in training: the model combiner's "
        "weights on its signals are optimistic",
    }
    model = fit_model(rules, hybrid, provenance)
    from ..io.durable import AtomicFile

    with AtomicFile(args.out) as f:
        f.handle.write(json.dumps(model.to_dict(), indent=1, sort_keys=True) + "\n")
    sys.stdout.write(
        f"wrote {args.out}: {provenance['cells']} cells, {provenance['rules_errors']} rules errors\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["AccuracyTables", "GoldCells", "crossfit_scores", "fit_model", "is_error", "read_gold"]
