"""Agreement metrics: confusion, percent agreement, Cohen's kappa and its bootstrap interval, P/R/F1.

Point figures come from scikit-learn (``confusion_matrix``,
``cohen_kappa_score``). The bootstrap recomputes kappa from resampled
confusion counts with numpy, by the same formula, so that a thousand
resamples of thirty labels take a fraction of a second; a unit test checks
it against scikit-learn resample by resample. Resamples draw reports (not
label cells), the same draws for every label, so that micro and macro
figures get intervals too. The generator is seeded: the same inputs and
seed give the same interval.

Everything takes ``(true, pred)`` in that order: ``true`` is the reference
(the donor's labels), ``pred`` ours.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from ..types import LabelValue

VALUE_ORDER: tuple[LabelValue, ...] = (
    LabelValue.POSITIVE,
    LabelValue.NEGATIVE,
    LabelValue.UNCERTAIN,
    LabelValue.BLANK,
)
"""The order of the four values in every confusion matrix: 1, 0, -1, blank."""

VALUE_NAMES = ("1", "0", "-1", "blank")
CODE = {v: i for i, v in enumerate(VALUE_ORDER)}

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: at most this many resampled cells in memory at once (about 32 MB of int64)
CHUNK_CELLS = 4_000_000


def value_codes(values: Sequence[LabelValue]) -> IntArray:
    """Codes 0..3 of label values in :data:`VALUE_ORDER`."""
    return np.fromiter((CODE[v] for v in values), dtype=np.int64, count=len(values))


def confusion(true: IntArray, pred: IntArray, k: int) -> IntArray:
    """The ``k`` x ``k`` confusion counts (rows: true, columns: pred) of codes ``0..k-1``."""
    if len(true) == 0:
        return np.zeros((k, k), dtype=np.int64)
    return np.asarray(confusion_matrix(true, pred, labels=list(range(k))), dtype=np.int64)


def agreement(counts: IntArray) -> float | None:
    """Share of pairs on the diagonal; None for no pairs."""
    n = int(counts.sum())
    return float(np.trace(counts)) / n if n else None


def kappa(true: IntArray, pred: IntArray, k: int) -> float | None:
    """Cohen's kappa (scikit-learn); None when undefined (no pairs, or one value throughout)."""
    if len(true) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(true, pred, labels=list(range(k))))
    return None if math.isnan(value) else value


def kappa_from_counts(counts: NDArray[np.int64] | NDArray[np.float64]) -> FloatArray:
    """Cohen's kappa of stacked confusion matrices (``[..., k, k]``); NaN where undefined.

    Same formula as scikit-learn: ``1 - sum(off-diagonal observed) / sum(off-diagonal expected)``.
    """
    c = np.asarray(counts, dtype=np.float64)
    n = c.sum(axis=(-2, -1))
    rows = c.sum(axis=-1)
    cols = c.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_diag = (rows * cols).sum(axis=-1) / n
        observed_off = n - np.trace(c, axis1=-2, axis2=-1)
        expected_off = n - expected_diag
        out = 1.0 - observed_off / expected_off
    out = np.where((n > 0) & (expected_off > 0), out, np.nan)
    return np.asarray(out, dtype=np.float64)


def pair_codes(true: IntArray, pred: IntArray, k: int, keep: NDArray[np.bool_] | None = None) -> IntArray:
    """One code per report for a (true, pred) pair: ``true * k + pred``; ``k * k`` for a report left out."""
    codes = true * k + pred
    if keep is not None:
        codes = np.where(keep, codes, k * k)
    return np.asarray(codes, dtype=np.int64)


def bootstrap_confusions(
    pairs: Sequence[tuple[IntArray, int]], n: int, *, n_boot: int, seed: int
) -> list[IntArray]:
    """Confusion counts of each label over ``n_boot`` resamples of the ``n`` reports.

    Parameters
    ----------
    pairs
        Per label, the :func:`pair_codes` of its ``n`` reports and ``k``.
    n
        Number of reports (each array's length).
    n_boot, seed
        Resamples and the seed of numpy's default generator.

    Returns
    -------
    list of arrays
        Per label, counts of shape ``(n_boot, k, k)``.
    """
    out = [np.zeros((n_boot, k, k), dtype=np.int64) for _, k in pairs]
    if n == 0 or n_boot == 0:
        return out
    rng = np.random.default_rng(seed)
    step = max(1, CHUNK_CELLS // n)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        offsets = np.arange(b, dtype=np.int64)[:, None]
        for (codes, k), counts in zip(pairs, out, strict=True):
            bins = k * k + 1
            flat = (codes[idx] + offsets * bins).ravel()
            hist = np.bincount(flat, minlength=b * bins).reshape(b, bins)[:, : k * k]
            counts[start : start + b] = hist.reshape(b, k, k)
    return out


def interval(samples: FloatArray, confidence: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of the defined (non-NaN) samples; None if there are none."""
    defined = samples[~np.isnan(samples)]
    if defined.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(defined, [tail, 100.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PresenceScores:
    """Counts and precision, recall, F1 for "present", with ``true`` as the reference.

    As ``score.py``: a ratio with a zero denominator is 0.0. A label with no
    positives on either side (no TP, FP or FN) has no precision, recall or F1
    at all: :attr:`defined` is False and :meth:`shown` gives None for each.
    """

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def defined(self) -> bool:
        """Whether P/R/F1 mean anything: some report is present on one side or the other."""
        return self.tp + self.fp + self.fn > 0

    def shown(self) -> tuple[float | None, float | None, float | None]:
        """Precision, recall and F1 as reported: None for each when undefined (shown as n/a)."""
        if not self.defined:
            return None, None, None
        return self.precision, self.recall, self.f1


def presence_scores(true: NDArray[np.bool_], pred: NDArray[np.bool_]) -> PresenceScores:
    """TP/FP/FN/TN from scikit-learn's confusion matrix of present (True) / absent (False)."""
    counts = confusion(true.astype(np.int64), pred.astype(np.int64), 2)
    (tn, fp), (fn, tp) = counts.tolist()
    return PresenceScores(tp=tp, fp=fp, fn=fn, tn=tn)


def micro_f1(scores: Sequence[PresenceScores]) -> float:
    """F1 of pooled counts, as ``score.py``: ``2TP / (2TP + FP + FN)``, 0.0 when undefined."""
    tp = sum(s.tp for s in scores)
    fp = sum(s.fp for s in scores)
    fn = sum(s.fn for s in scores)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def mean(values: Sequence[float | None]) -> float | None:
    """Plain mean of the defined values (``sum / len``, the order given); None if none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


__all__ = [
    "VALUE_NAMES",
    "VALUE_ORDER",
    "PresenceScores",
    "agreement",
    "bootstrap_confusions",
    "confusion",
    "interval",
    "kappa",
    "kappa_from_counts",
    "mean",
    "micro_f1",
    "pair_codes",
    "presence_scores",
    "value_codes",
]
