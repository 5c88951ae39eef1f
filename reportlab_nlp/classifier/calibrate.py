"""Calibrated probabilities: temperature scaling or isotonic regression per label, and reliability figures.

The model's probability that a label is *present* (the Open-i scorer's sense:
positive or uncertain) is the sum of its positive and uncertain class
probabilities. Calibration is fitted per label on held-out predictions (the
reports the model did not train on) and stored in the manifest; applying it
needs numpy only.

``temperature``
    One temperature ``T`` per label divides that head's four logits before the
    softmax; ``T`` minimises the negative log-likelihood of the held-out
    targets (bounded search on ``log T``, scipy). Keeps the ranking and the
    argmax; robust on a few hundred reports.
``isotonic``
    scikit-learn's :class:`~sklearn.isotonic.IsotonicRegression` of the
    present/absent target on the raw present-probability, stored as its
    breakpoints and applied with :func:`numpy.interp`; the four class
    probabilities are rescaled to match. Needs more held-out data.
``none``
    The raw softmax.

:func:`reliability` gives the expected calibration error (ECE, 10 equal-width
bins) and a reliability table for the model card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .manifest import PRESENT_CLASSES

Array = NDArray[Any]

METHODS = ("temperature", "isotonic", "none")
_T_BOUNDS = (0.05, 20.0)


def softmax(logits: Array, axis: int = -1) -> Array:
    """A numerically stable softmax."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=axis, keepdims=True)
    return out


def present_probability(probs: Array) -> Array:
    """P(positive) + P(uncertain) from ``(..., 4)`` class probabilities."""
    out: Array = probs[..., list(PRESENT_CLASSES)].sum(axis=-1)
    return out


def present_target(targets: Array) -> Array:
    """1 where a class index is positive or uncertain, else 0."""
    return np.isin(targets, PRESENT_CLASSES).astype(np.float64)


@dataclass(frozen=True)
class Calibration:
    """Per-label calibration of a model's outputs (see the module).

    Attributes
    ----------
    method
        ``temperature``, ``isotonic`` or ``none``.
    labels
        The label order of the model.
    params
        Per label: ``{"temperature": T}`` or ``{"x": [...], "y": [...]}``.
    """

    method: str
    labels: tuple[str, ...]
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def apply(self, logits: Array) -> tuple[Array, Array]:
        """(class probabilities ``(N, L, 4)``, present-probability ``(N, L)``) from logits ``(N, L, 4)``."""
        logits = np.asarray(logits, dtype=np.float64)
        if self.method == "temperature":
            temps = np.array([float(self.params[label]["temperature"]) for label in self.labels])
            probs = softmax(logits / temps[None, :, None])
            return probs, present_probability(probs)
        probs = softmax(logits)
        raw = present_probability(probs)
        if self.method == "none":
            return probs, raw
        cal = np.empty_like(raw)
        for j, label in enumerate(self.labels):
            p = self.params[label]
            cal[:, j] = np.interp(
                raw[:, j], np.asarray(p["x"], dtype=np.float64), np.asarray(p["y"], dtype=np.float64)
            )
        cal = np.clip(cal, 0.0, 1.0)
        eps = 1e-12
        up = cal / np.maximum(raw, eps)
        down = (1.0 - cal) / np.maximum(1.0 - raw, eps)
        scale = np.ones_like(probs)
        for c in range(probs.shape[-1]):
            scale[..., c] = up if c in PRESENT_CLASSES else down
        probs = probs * scale
        probs = probs / probs.sum(axis=-1, keepdims=True)
        return probs, cal

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "per_label": {k: dict(v) for k, v in self.params.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], labels: Sequence[str]) -> Calibration:
        method = str(data.get("method", "none"))
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}; expected one of: {', '.join(METHODS)}")
        params = {str(k): dict(v) for k, v in dict(data.get("per_label", {})).items()}
        missing = [label for label in labels if label not in params]
        if method != "none" and missing:
            raise ValueError(f"calibration lacks label(s): {', '.join(missing[:5])}")
        return cls(method, tuple(labels), params)


def _nll(logits: Array, targets: Array, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-logp[np.arange(len(targets)), targets].mean())


def fit_temperature(logits: Array, targets: Array) -> float:
    """The temperature that minimises the NLL of ``targets`` (N,) under ``logits`` (N, 4)."""
    from scipy.optimize import minimize_scalar

    if len(targets) == 0:
        return 1.0
    lo, hi = np.log(_T_BOUNDS[0]), np.log(_T_BOUNDS[1])
    res = minimize_scalar(
        lambda t: _nll(logits, targets, float(np.exp(t))),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))


def fit_calibration(
    logits: Array, targets: Array, labels: Sequence[str], method: str = "temperature"
) -> Calibration:
    """Fit a :class:`Calibration` per label on held-out ``logits`` (N, L, 4) and class ``targets`` (N, L).

    Raises
    ------
    ValueError
        An unknown method, or shapes that do not match.
    """
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; expected one of: {', '.join(METHODS)}")
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if logits.shape[:2] != targets.shape or logits.shape[1] != len(labels):
        raise ValueError(
            f"logits {logits.shape} and targets {targets.shape} do not match {len(labels)} labels"
        )
    params: dict[str, dict[str, Any]] = {}
    if method == "temperature":
        for j, label in enumerate(labels):
            params[label] = {"temperature": round(fit_temperature(logits[:, j], targets[:, j]), 6)}
    elif method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        raw = present_probability(softmax(logits))
        y = present_target(targets)
        for j, label in enumerate(labels):
            if len(np.unique(y[:, j])) < 2:  # nothing to learn: keep the raw probability
                params[label] = {"x": [0.0, 1.0], "y": [0.0, 1.0]}
                continue
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw[:, j], y[:, j])
            params[label] = {
                "x": [round(float(v), 6) for v in iso.X_thresholds_],
                "y": [round(float(v), 6) for v in iso.y_thresholds_],
            }
    return Calibration(method, tuple(labels), params)


def reliability(probabilities: Array, outcomes: Array, *, bins: int = 10) -> dict[str, Any]:
    """Expected calibration error and a reliability table over equal-width probability bins.

    Parameters
    ----------
    probabilities
        Predicted probabilities of the event (any shape).
    outcomes
        1 where the event happened, else 0 (same shape).

    Returns
    -------
    dict
        ``ece`` (the count-weighted mean of ``|mean predicted - observed rate|``),
        ``mce`` (its maximum), ``n`` and ``bins``: one row per non-empty bin
        (``lo``, ``hi``, ``n``, ``mean_predicted``, ``observed``).
    """
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(outcomes, dtype=np.float64).ravel()
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    ece = mce = 0.0
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        if not n:
            continue
        mean_p, rate = float(p[sel].mean()), float(y[sel].mean())
        gap = abs(mean_p - rate)
        ece += gap * n / max(1, len(p))
        mce = max(mce, gap)
        rows.append(
            {
                "lo": round(float(edges[b]), 2),
                "hi": round(float(edges[b + 1]), 2),
                "n": n,
                "mean_predicted": round(mean_p, 4),
                "observed": round(rate, 4),
            }
        )
    return {"ece": round(ece, 5), "mce": round(mce, 5), "n": len(p), "bins": rows}


def reliability_table(rel: Mapping[str, Any]) -> str:
    """A Markdown table of :func:`reliability`'s bins."""
    lines = ["| bin | cells | mean predicted | observed present |", "| --- | ---: | ---: | ---: |"]
    for r in rel["bins"]:
        lines.append(
            f"| {r['lo']:.1f}-{r['hi']:.1f} | {r['n']} | {r['mean_predicted']:.3f} | {r['observed']:.3f} |"
        )
    return "\n".join(lines)


__all__ = [
    "METHODS",
    "Calibration",
    "fit_calibration",
    "fit_temperature",
    "present_probability",
    "present_target",
    "reliability",
    "reliability_table",
    "softmax",
]
