"""Calibration: temperature recovers a known temperature, isotonic is monotone, reliability figures."""

from __future__ import annotations

import numpy as np
import pytest

from reportlab_nlp.classifier.calibrate import (
    Calibration,
    fit_calibration,
    present_probability,
    reliability,
    reliability_table,
    softmax,
)


def _sample(n: int, temperature: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits (n, 1, 4) whose targets are drawn from softmax(logits / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, 1, 4))
    probs = softmax(logits / temperature)
    targets = np.array([[rng.choice(4, p=p[0])] for p in probs])
    return logits, targets


def test_temperature_scaling_recovers_the_temperature_that_made_the_data() -> None:
    logits, targets = _sample(4000, temperature=2.5)
    cal = fit_calibration(logits, targets, ["Edema"], "temperature")
    assert cal.params["Edema"]["temperature"] == pytest.approx(2.5, rel=0.1)
    probs, present = cal.apply(logits)
    assert probs.shape == (4000, 1, 4) and np.allclose(probs.sum(-1), 1.0)
    assert np.allclose(present, probs[..., 1] + probs[..., 3])
    # argmax unchanged by a temperature
    assert (probs.argmax(-1) == logits.argmax(-1)).all()
    # better calibrated than the raw softmax
    truth = np.isin(targets, (1, 3))
    raw = present_probability(softmax(logits))
    assert reliability(present, truth)["ece"] < reliability(raw, truth)["ece"]


def test_isotonic_is_monotone_and_round_trips_through_the_manifest() -> None:
    logits, targets = _sample(2000, temperature=0.4, seed=1)
    cal = fit_calibration(logits, targets, ["Edema"], "isotonic")
    again = Calibration.from_dict(cal.to_dict(), ["Edema"])
    grid = np.linspace(-6, 6, 50)
    sweep = np.zeros((50, 1, 4))
    sweep[:, 0, 1] = grid  # raising the positive logit raises the raw present-probability
    _, present = again.apply(sweep)
    assert (np.diff(present[:, 0]) >= -1e-12).all()
    probs, present_fit = again.apply(logits)
    assert np.allclose(probs.sum(-1), 1.0) and np.allclose(probs[..., 1] + probs[..., 3], present_fit)


def test_labels_without_both_outcomes_keep_the_raw_probability() -> None:
    logits = np.zeros((10, 1, 4))
    logits[:, 0, 0] = 2.0
    cal = fit_calibration(logits, np.zeros((10, 1), dtype=int), ["Edema"], "isotonic")
    assert np.allclose(cal.apply(logits)[1], present_probability(softmax(logits)))


def test_reliability_of_a_calibrated_forecast_and_its_table() -> None:
    p = np.array([0.1] * 10 + [0.9] * 10)
    y = np.array([1] + [0] * 9 + [1] * 9 + [0])
    rel = reliability(p, y)
    assert rel["ece"] == pytest.approx(0.0) and rel["n"] == 20
    assert [(b["lo"], b["n"], b["observed"]) for b in rel["bins"]] == [(0.1, 10, 0.1), (0.9, 10, 0.9)]
    off = reliability(np.full(10, 0.9), np.zeros(10))
    assert off["ece"] == pytest.approx(0.9) and off["mce"] == pytest.approx(0.9)
    table = reliability_table(rel)
    assert table.splitlines()[2] == "| 0.1-0.2 | 10 | 0.100 | 0.100 |"


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown calibration method"):
        fit_calibration(np.zeros((2, 1, 4)), np.zeros((2, 1), dtype=int), ["Edema"], "platt")
    with pytest.raises(ValueError, match="do not match"):
        fit_calibration(np.zeros((2, 2, 4)), np.zeros((2, 1), dtype=int), ["Edema"], "temperature")
    with pytest.raises(ValueError, match="lacks label"):
        Calibration.from_dict({"method": "temperature", "per_label": {}}, ["Edema"])
