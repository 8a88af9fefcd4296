"""``--keep last``: every epoch runs and the saved model is the last epoch's, for heads that
converge after the sentiment head's validation minimum (issue 31's semantic head)."""

from __future__ import annotations

import numpy as np
import pytest


def _rotated(split, out):
    """``split`` with every label moved to the next class: a validation loss that rises as training learns."""
    lines = split.read_text().split()
    out.write_text("".join(f"{split.parent / p} {(int(y) + 1) % 3}\n" for p, y in zip(lines[::2], lines[1::2])))
    return out


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

    rotated = _rotated(synthetic_splits["val"], tmp_path / "val_rotated.txt")
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


def test_keep_best_each_gives_each_head_its_own_best_epoch(concept_splits, tmp_path):
    """FT-F with a valence/arousal head: sentiment's validation labels are rotated (its best epoch is
    the first), while the head's loss keeps falling; the saved model has sentiment's first epoch
    and the head's own best. Planted defect: a head left at sentiment's epoch fails the second check."""
    from trainkit import tiny_config

    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.core.tf_import import import_keras
    from sentilite.train.api import train_model

    keras = import_keras("tests")
    inp = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=1))
    keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(conv(inp))).save(tmp_path / "backbone.keras")
    rotated = _rotated(concept_splits["val"], tmp_path / "val_rotated.txt")
    config = tiny_config(
        concept_splits, tmp_path / "run", tmp_path / "cache", val=str(rotated), heads="valence_arousal",
        backbone_file=str(tmp_path / "backbone.keras"), keep="best-each", epochs=6, lr=1e-2, preset="adam-cosine",
        decision="none",
    )  # fmt: skip
    result = train_model(config)
    history = result.history
    assert len(history) == 6 and all("val_valence_arousal" in r for r in history)
    sentiment_best = min(range(6), key=lambda i: history[i]["val_loss"])
    head_best = min(range(6), key=lambda i: history[i]["val_valence_arousal"])
    assert sentiment_best != head_best, "the two heads' best epochs must differ for the test to mean anything"
    val = read_split_file(rotated)
    assert _val_loss(result.model_path, val) == pytest.approx(history[sentiment_best]["val_loss"], rel=1e-4)
    clf = KerasClassifier(result.model_path)
    va = np.stack([clf.read(load_image(s.path)).heads["valence_arousal"] for s in val])
    unit_loss = 10 * np.mean(((va - 1) / 8 - (5 - 1) / 8) ** 2)  # every concept photo is rated 5, 5 on 1-9
    assert unit_loss == pytest.approx(history[head_best]["val_valence_arousal"], rel=1e-3)


def test_keep_best_each_refuses_shared_layers(synthetic_splits, tmp_path):
    from trainkit import tiny_config

    from sentilite.train.config import TrainConfigError

    with pytest.raises(TrainConfigError, match="share no trained layer") as e:
        tiny_config(synthetic_splits, tmp_path / "r", tmp_path / "c", keep="best-each", mode="ft-a").validate()
    assert "--mode ft-f" in e.value.fix
