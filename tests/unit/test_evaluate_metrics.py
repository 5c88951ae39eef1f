"""Agreement metrics: hand-computed kappa and F1, the vectorised bootstrap against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from reportlab_nlp.evaluate import metrics


def arr(values: list[int]) -> metrics.IntArray:
    return np.asarray(values, dtype=np.int64)


def test_binary_kappa_by_hand() -> None:
    # 10 pairs: 4 both present, 4 both absent, 1 each way -> po = 0.8, pe = 0.5*0.5 + 0.5*0.5 = 0.5
    true = arr([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    pred = arr([1, 1, 1, 1, 0, 1, 0, 0, 0, 0])
    counts = metrics.confusion(true, pred, 2)
    assert counts.tolist() == [[4, 1], [1, 4]]
    assert metrics.agreement(counts) == pytest.approx(0.8)
    assert metrics.kappa(true, pred, 2) == pytest.approx((0.8 - 0.5) / (1 - 0.5))


def test_four_value_kappa_by_hand() -> None:
    # codes 0..3 = 1, 0, -1, blank; rows true, columns pred
    true = arr([0, 0, 0, 1, 1, 3, 3, 2, 0, 1])
    pred = arr([0, 0, 1, 1, 3, 3, 0, 2, 2, 1])
    counts = metrics.confusion(true, pred, 4)
    assert counts.tolist() == [[2, 1, 1, 0], [0, 2, 0, 1], [0, 0, 1, 0], [1, 0, 0, 1]]
    po = 6 / 10
    pe = (4 * 3 + 3 * 3 + 1 * 2 + 2 * 2) / 100
    assert metrics.kappa(true, pred, 4) == pytest.approx((po - pe) / (1 - pe))
    assert metrics.kappa_from_counts(counts) == pytest.approx((po - pe) / (1 - pe))


def test_undefined_kappa_is_none_and_nan() -> None:
    same = arr([0, 0, 0])
    assert metrics.kappa(same, same, 2) is None
    assert math.isnan(float(metrics.kappa_from_counts(metrics.confusion(same, same, 2))))
    assert metrics.kappa(arr([]), arr([]), 2) is None
    assert metrics.agreement(metrics.confusion(arr([]), arr([]), 2)) is None


def test_vectorised_kappa_matches_scikit_learn_on_every_resample() -> None:
    rng = np.random.default_rng(7)
    true = rng.integers(0, 4, size=60)
    pred = np.where(rng.random(60) < 0.7, true, rng.integers(0, 4, size=60))
    codes = metrics.pair_codes(true, pred, 4)
    (counts,) = metrics.bootstrap_confusions([(codes, 4)], 60, n_boot=50, seed=3)
    vectorised = metrics.kappa_from_counts(counts)
    idx = np.random.default_rng(3).integers(0, 60, size=(50, 60))
    for b in range(50):
        t, p = true[idx[b]], pred[idx[b]]
        assert counts[b].tolist() == metrics.confusion(t, p, 4).tolist()
        expected = cohen_kappa_score(t, p, labels=[0, 1, 2, 3])
        assert vectorised[b] == pytest.approx(expected, abs=1e-12)


def test_left_out_reports_do_not_count_in_resamples() -> None:
    true, pred = arr([1, 0, 1, 0]), arr([1, 0, 0, 0])
    keep = np.asarray([True, True, False, True])
    codes = metrics.pair_codes(true, pred, 2, keep)
    assert codes.tolist() == [3, 0, 4, 0]
    (counts,) = metrics.bootstrap_confusions([(codes, 2)], 4, n_boot=20, seed=0)
    idx = np.random.default_rng(0).integers(0, 4, size=(20, 4))
    assert counts.sum(axis=(1, 2)).tolist() == [int((idx[b] != 2).sum()) for b in range(20)]


def test_bootstrap_is_deterministic_and_seeded() -> None:
    rng = np.random.default_rng(1)
    true = rng.integers(0, 2, size=200)
    pred = np.where(rng.random(200) < 0.85, true, 1 - true)
    codes = metrics.pair_codes(true, pred, 2)
    a = metrics.bootstrap_confusions([(codes, 2)], 200, n_boot=300, seed=11)[0]
    b = metrics.bootstrap_confusions([(codes, 2)], 200, n_boot=300, seed=11)[0]
    c = metrics.bootstrap_confusions([(codes, 2)], 200, n_boot=300, seed=12)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    lo_hi = metrics.interval(metrics.kappa_from_counts(a))
    assert lo_hi is not None
    point = metrics.kappa(true, pred, 2)
    assert point is not None and lo_hi[0] < point < lo_hi[1]


def test_bootstrap_in_chunks_gives_the_same_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    true, pred = rng.integers(0, 2, size=50), rng.integers(0, 2, size=50)
    codes = metrics.pair_codes(true, pred, 2)
    whole = metrics.bootstrap_confusions([(codes, 2)], 50, n_boot=40, seed=9)[0]
    monkeypatch.setattr(metrics, "CHUNK_CELLS", 50 * 7)  # 7 resamples per chunk
    chunked = metrics.bootstrap_confusions([(codes, 2)], 50, n_boot=40, seed=9)[0]
    # the generator's stream does not depend on how the draws are cut into chunks
    assert np.array_equal(whole, chunked)


def test_presence_scores_by_hand_and_against_scikit_learn() -> None:
    true = np.asarray([1, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    pred = np.asarray([1, 1, 0, 1, 0, 0, 1, 0, 0], dtype=bool)
    s = metrics.presence_scores(true, pred)
    assert (s.tp, s.fp, s.fn, s.tn) == (3, 1, 1, 4)
    assert (s.precision, s.recall, s.f1) == (0.75, 0.75, 0.75)
    p, r, f, _ = precision_recall_fscore_support(true, pred, average="binary", zero_division=0.0)
    assert (s.precision, s.recall) == (p, r) and s.f1 == pytest.approx(f, abs=1e-15)


def test_zero_denominators_are_zero_as_score_py() -> None:
    s = metrics.presence_scores(np.zeros(3, dtype=bool), np.zeros(3, dtype=bool))
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)
    assert metrics.micro_f1([s]) == 0.0


def test_micro_f1_pools_counts() -> None:
    a = metrics.PresenceScores(tp=3, fp=1, fn=1, tn=4)
    b = metrics.PresenceScores(tp=1, fp=1, fn=1, tn=7)
    assert metrics.micro_f1([a, b]) == pytest.approx(8 / 12)
    assert metrics.mean([a.f1, b.f1]) == pytest.approx((0.75 + 0.5) / 2)
    assert metrics.mean([None, 0.5]) == 0.5 and metrics.mean([None]) is None
