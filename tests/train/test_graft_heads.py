"""release.graft_heads: extra heads trained on a sentiment model's own frozen features, put
together with that model's sentiment head, so its sentiment answers do not move."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _graft(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "release.graft_heads", *args], capture_output=True, text=True, cwd=REPO, timeout=300
    )


def _answers(model: Path, photos: list[Path]) -> tuple[np.ndarray, np.ndarray | None]:
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier

    reads = [KerasClassifier(model).read(load_image(p)) for p in photos]
    va = [r.heads.get("valence_arousal") for r in reads]
    return np.stack([r.sentiment for r in reads]), None if va[0] is None else np.stack(va)


def test_the_graft_answers_sentiment_as_the_sentiment_model_and_heads_as_the_heads_model(concept_splits, tmp_path):
    """A: a sentiment model (all layers trained, a decision rule fitted); B: a valence/arousal head
    (and its own sentiment head) on A's frozen features. The graft answers A's sentiment with A's
    rule and B's valence/arousal. A heads model trained on other features is refused by name.
    Planted defects: the sentiment layer not copied, the rule not carried, the feature check
    dropped: each turns this red."""
    from trainkit import tiny_config

    from sentilite.core.datasets import read_split_file
    from sentilite.core.modelfile import read_contract
    from sentilite.core.tf_import import import_keras
    from sentilite.train.api import train_model

    keras = import_keras("tests")
    inp = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=1))
    keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(conv(inp))).save(tmp_path / "backbone.keras")
    a = train_model(
        tiny_config(
            concept_splits, tmp_path / "a", tmp_path / "cache", backbone_file=str(tmp_path / "backbone.keras"),
            mode="ft-a", epochs=2, lr=3e-3, preset="adam-cosine",
        )
    ).model_path  # fmt: skip
    b = train_model(
        tiny_config(
            concept_splits, tmp_path / "b", tmp_path / "cache", heads="valence_arousal", backbone_file=str(a),
            feature_layer="backbone", mode="ft-f", epochs=3, lr=3e-2, preset="adam-cosine", decision="none",
        )
    ).model_path  # fmt: skip
    out = tmp_path / "c" / "model.keras"
    proc = _graft("--heads-model", str(b), "--sentiment-from", str(a), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    photos = read_split_file(concept_splits["val"]).paths[:8]
    (sa, _), (sb, va_b), (sc, va_c) = _answers(a, photos), _answers(b, photos), _answers(out, photos)
    assert not np.allclose(sa, sb, atol=1e-3), "B's own sentiment must differ from A's for the test to mean anything"
    np.testing.assert_allclose(sc, sa, atol=1e-5)
    np.testing.assert_allclose(va_c, va_b, atol=1e-5)
    ca, cb, cc = read_contract(a), read_contract(b), read_contract(out)
    assert ca.decision != cb.decision and cc.decision == ca.decision and cc.heads == cb.heads
    wrong = _graft("--heads-model", str(a), "--sentiment-from", str(a), "--out", str(tmp_path / "x.keras"))
    assert wrong.returncode != 0 and "was not trained on the features" in wrong.stderr + wrong.stdout
