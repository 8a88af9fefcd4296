"""release.graft_heads: the bundled model's heads trained again on its own frozen features and
copied back, everything else kept (the FT-A model's backbone, sentiment head and contract)."""

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


def _answers(model: Path, photos: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier

    reads = [KerasClassifier(model).read(load_image(p)) for p in photos]
    return np.stack([r.sentiment for r in reads]), np.stack([r.heads["valence_arousal"] for r in reads])


def test_grafted_heads_answer_as_the_refit_and_the_rest_stays(concept_splits, tmp_path):
    """A: a whole-trained student with a valence/arousal head; B: FT-F on A's features. The graft
    answers B's valence/arousal and A's sentiment, with A's contract. A donor trained on other
    features is refused by name. Planted defects: weights not copied (B's answers missed), the
    contract not carried (red), the feature check dropped (no refusal)."""
    from trainkit import heads_config, tiny_config

    from sentilite.core.datasets import read_split_file
    from sentilite.core.modelfile import read_contract
    from sentilite.core.tf_import import import_keras
    from sentilite.train.api import train_model

    keras = import_keras("tests")
    inp = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=1))
    keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(conv(inp))).save(tmp_path / "backbone.keras")
    a = train_model(
        heads_config(
            concept_splits, tmp_path / "a", "valence_arousal", epochs=2, backbone_file=str(tmp_path / "backbone.keras")
        )
    ).model_path
    b = train_model(
        tiny_config(
            concept_splits, tmp_path / "b", tmp_path / "b-cache", heads="valence_arousal", backbone_file=str(a),
            feature_layer="backbone", mode="ft-f", epochs=3, lr=3e-2, preset="adam-cosine", decision="none",
        )
    ).model_path  # fmt: skip
    out = tmp_path / "c" / "model.keras"
    proc = _graft("--into", str(a), "--heads-from", str(b), "--heads", "valence_arousal", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    photos = read_split_file(concept_splits["val"]).paths[:8]
    (sa, va_a), (_, va_b), (sc, va_c) = _answers(a, photos), _answers(b, photos), _answers(out, photos)
    assert not np.allclose(va_a, va_b, atol=1e-3), "the refit must differ from A for the test to mean anything"
    np.testing.assert_allclose(va_c, va_b, atol=1e-4)
    np.testing.assert_allclose(sc, sa, atol=1e-6)
    assert read_contract(out) == read_contract(a)
    wrong = _graft(
        "--into", str(a), "--heads-from", str(a), "--heads", "valence_arousal", "--out", str(tmp_path / "x.keras")
    )
    assert wrong.returncode != 0 and "was not trained on the features" in wrong.stderr + wrong.stdout
