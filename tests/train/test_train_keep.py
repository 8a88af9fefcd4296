"""``--keep last``: every epoch runs and the saved model is the last epoch's, for heads that
converge after the sentiment head's validation minimum (issue 31's semantic head)."""

from __future__ import annotations

import numpy as np
import pytest


def _val_loss(model_path, val) -> float:
    from dataclasses import replace

    from sentilite.core.decision import DecisionRule
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier

    clf = KerasClassifier(model_path)
    clf.contract = replace(clf.contract, decision=DecisionRule())
    probs = clf.predict_many([load_image(s.path) for s in val])
    return float(np.mean(-np.log(probs[np.arange(len(val)), val.y])))


def test_keep_last_runs_every_epoch_and_saves_the_last_one(synthetic_splits, tmp_path):
    """The validation labels are rotated, so the validation loss rises as training learns: "best"
    stops early and keeps epoch 1; "last" runs all four epochs and keeps the fourth.
    Planted defect: a --keep the loop ignores restores epoch 1 and stops after patience."""
    from trainkit import tiny_config

    from sentilite.core.datasets import read_split_file
    from sentilite.train.api import train_model

    rotated = tmp_path / "val_rotated.txt"
    lines = synthetic_splits["val"].read_text().split()
    rel = synthetic_splits["val"].parent
    rotated.write_text("".join(f"{rel / p} {(int(y) + 1) % 3}\n" for p, y in zip(lines[::2], lines[1::2])))
    val = read_split_file(rotated)
    runs = {}
    for keep in ("best", "last"):
        runs[keep] = train_model(
            tiny_config(
                synthetic_splits, tmp_path / keep, tmp_path / "cache", val=str(rotated), keep=keep,
                epochs=4, patience=1, lr=3e-3, preset="adam-cosine", decision="none",
            )
        )  # fmt: skip
    best, last = runs["best"].history, runs["last"].history
    assert len(last) == 4 and len(best) < 4, "patience 1 stops 'best' early; 'last' runs every epoch"
    assert last[-1]["val_loss"] > min(r["val_loss"] for r in last)
    assert _val_loss(runs["last"].model_path, val) == pytest.approx(last[-1]["val_loss"], rel=1e-4)
    assert _val_loss(runs["best"].model_path, val) == pytest.approx(min(r["val_loss"] for r in best), rel=1e-4)
