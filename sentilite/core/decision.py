"""Calibrated probabilities and the decision rule for neutral, carried in the contract.

A model's raw probabilities ``p`` become ``softmax(log(p) / T + b)``: ``T`` is temperature
scaling (fitted for the negative log-likelihood on validation images), ``b`` a log-offset per
class (fitted for macro-F1 on the same images; in practice a boost for *neutral*, which an
argmax on raw probabilities almost never picks). Both classifiers apply it to every output, so
evaluate, demo, bench, serve and convert's validation all read the same numbers and take the
same argmax. Numpy only (the device side uses it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .metrics import macro_f1


@dataclass(frozen=True)
class DecisionRule:
    """``softmax(log(p) / temperature + class_log_bias)``; the identity by default."""

    temperature: float = 1.0
    class_log_bias: tuple[float, ...] = ()
    #: where it was fitted and what it changed there (validation figures)
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> bool:
        return self.temperature == 1.0 and not any(self.class_log_bias)

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Raw class probabilities (``(..., C)``) -> calibrated, decision-adjusted float32 probabilities."""
        if self.identity:
            return probs
        z = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)) / self.temperature
        if self.class_log_bias:
            z = z + np.asarray(self.class_log_bias, np.float64)
        z -= z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "class_log_bias": list(self.class_log_bias),
            "facts": dict(self.facts),
            "formula": "softmax(log(p) / temperature + class_log_bias)",
        }

    @classmethod
    def from_dict(cls, data: Optional[Mapping[str, Any]]) -> DecisionRule:
        if not data:
            return cls()
        return cls(
            float(data.get("temperature", 1.0)),
            tuple(float(b) for b in data.get("class_log_bias") or ()),
            dict(data.get("facts") or {}),
        )


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error of the top-class confidence, and the reliability bins."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    out, total = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if not sel.any():
            continue
        acc, c = float((pred[sel] == y[sel]).mean()), float(conf[sel].mean())
        total += sel.mean() * abs(acc - c)
        out.append({"low": float(lo), "high": float(hi), "n": int(sel.sum()), "accuracy": acc, "confidence": c})
    return float(total), out


def fit_decision(probs: np.ndarray, y: np.ndarray, labels: Sequence[str], source: str = "") -> DecisionRule:
    """Temperature for NLL, then a log-offset for the neutral class for macro-F1, on validation images."""
    probs, y = np.asarray(probs, np.float64), np.asarray(y, np.int64)
    temps = np.exp(np.linspace(np.log(0.25), np.log(4.0), 81))
    t = float(min(temps, key=lambda tt: nll(DecisionRule(float(tt)).apply(probs), y)))
    calibrated = DecisionRule(t).apply(probs)
    k = len(labels)
    neutral = list(labels).index("neutral") if "neutral" in labels else None
    bias = [0.0] * k
    if neutral is not None:
        log_p = np.log(np.clip(calibrated, 1e-12, 1.0))
        best, best_f1 = 0.0, macro_f1(y, calibrated.argmax(1), k)
        for b in np.round(np.arange(0.05, 3.0001, 0.05), 2):  # ties keep the smaller offset
            shifted = log_p.copy()
            shifted[:, neutral] += b
            f1 = macro_f1(y, shifted.argmax(1), k)
            if f1 > best_f1 + 1e-9:
                best, best_f1 = float(b), f1
        bias[neutral] = best
    rule = DecisionRule(round(t, 4), tuple(bias))
    facts = {
        "fitted_on": source,
        "images": int(len(y)),
        "nll": [round(nll(probs, y), 4), round(nll(calibrated, y), 4)],
        "ece": [round(ece(probs, y)[0], 4), round(ece(calibrated, y)[0], 4)],
        "macro_f1": [round(macro_f1(y, probs.argmax(1), k), 4), round(macro_f1(y, rule.apply(probs).argmax(1), k), 4)],
        "note": "pairs are [raw, fitted]; nll and ece after temperature only, macro_f1 after the whole rule",
    }
    return DecisionRule(rule.temperature, rule.class_log_bias, facts)
