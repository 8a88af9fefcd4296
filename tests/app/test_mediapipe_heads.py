"""The real MediaPipe ImageClassifier reads a multi-head file (issue 30) as named heads, and on 50
Emotion6 test photos its sentiment and emotion top-1 answers are sentilite's.

The model: the ../shared ImageNet MobileNetV2 with three heads fitted on its Emotion6 features
(sentiment, the seven-emotion shares, valence/arousal), converted by `sentilite convert`
(pixel-in, warp_linear, the converter's own output order). Photos are decoded once (PIL, as
sentilite does) and handed to MediaPipe losslessly with the centred square as region of interest,
as tests/app/test_mediapipe_client.py does for one head.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EMOTION6, MOBILENET_FILE, require_shared
from mediapipekit import centred_square_photos, convert_for_mediapipe, run_client

from bench.mediapipe_client import CLIENT, mediapipe_venv_python
from sentilite.core.classifier import TFLiteClassifier

pytestmark = [pytest.mark.mediapipe, pytest.mark.shared]


@pytest.fixture(scope="module")
def mediapipe_python():
    python, why = mediapipe_venv_python()
    if why:
        pytest.skip(why)
    return python


@pytest.fixture(scope="module")
def mobilenet_heads(tmp_path_factory):
    """float32 and int8 files of MobileNetV2 + three heads fitted on 150 Emotion6 training photos."""
    require_shared(MOBILENET_FILE, EMOTION6)
    from dataclasses import replace

    from modelkit import load_prepared, save_keras

    from sentilite.core.affect import affect_labels_for
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.datasets import read_split_file
    from sentilite.core.heads import EMOTION_HEAD, VALENCE_AROUSAL_HEAD
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    contract = replace(
        PreprocessContract.create(224, "imagenet", interpolation="warp_linear"),
        heads=(EMOTION_HEAD, VALENCE_AROUSAL_HEAD),
    )
    full = keras.saving.load_model(MOBILENET_FILE, compile=False)
    backbone = keras.Model(full.inputs, full.get_layer("gap").output, name="backbone")
    train = read_split_file(EMOTION6 / "sentiment_train.txt").balanced_sample(150, seed=1)
    x, y = load_prepared(train, contract)
    affect = affect_labels_for(train.paths)
    shares = np.array([a.emotions for a in affect], np.float32)
    va = (np.array([[a.valence, a.arousal] for a in affect], np.float32) - 1) / 8
    feats = backbone.predict(x, batch_size=32, verbose=0)
    f = keras.Input((1280,))
    heads = keras.Model(
        f,
        [
            keras.layers.Dense(3, activation="softmax", name="sentiment")(f),
            keras.layers.Dense(7, activation="softmax", name="emotions")(f),
            keras.layers.Dense(2, activation="sigmoid", name="va_unit")(f),
        ],
    )
    heads.compile(keras.optimizers.Adam(1e-3), ["sparse_categorical_crossentropy", "categorical_crossentropy", "mse"])
    heads.fit(feats, [y, shares, va], epochs=60, batch_size=32, verbose=0)
    inp = keras.Input(contract.input_shape)
    s, e, v = heads(backbone(inp))
    v = keras.layers.Rescaling(8.0, offset=1.0, name="valence_arousal")(v)
    model = keras.Model(inp, [s, e, v], name="mobilenet_v2_heads")
    out = tmp_path_factory.mktemp("mp_heads")
    keras_path = save_keras(model, out / "mnv2_heads.keras", contract)
    return convert_for_mediapipe(keras_path, out / "convert")


def test_mediapipe_reads_every_head_by_name_and_answers_as_sentilite(mediapipe_python, mobilenet_heads, tmp_path):
    from sentilite.core.datasets import read_split_file

    samples = read_split_file(EMOTION6 / "sentiment_test.txt").balanced_sample(51, seed=5).samples
    files, rois, rgbs = centred_square_photos([s.path for s in samples], tmp_path)
    for variant, (floor_s, floor_e) in {"float32": (0.98, 0.97), "int8": (0.98, 0.97)}.items():
        model = mobilenet_heads[variant]
        theirs = run_client(mediapipe_python, CLIENT, model, "--all-heads", f"--rois={rois}", *files)
        assert isinstance(theirs, list), theirs  # an error dict says why MediaPipe refused the file
        assert all(set(t) == {"sentiment", "emotions", "valence_arousal"} for t in theirs), theirs[0].keys()
        clf = TFLiteClassifier(model)
        ours = [clf.read(rgb) for rgb in rgbs]
        labels, emotions = clf.contract.labels, clf.contract.heads[0].labels
        assert sorted(theirs[0]["emotions"]) == sorted(emotions)  # the emotion head's own labels file

        def agree(mine: np.ndarray, scores: dict[str, float], names: tuple[str, ...]) -> bool:
            return mine[names.index(max(scores, key=scores.get))] == mine.max()  # a tie is either answer

        same_s = np.mean([agree(o.sentiment, t["sentiment"], labels) for o, t in zip(ours, theirs)])
        same_e = np.mean([agree(o.heads["emotions"], t["emotions"], emotions) for o, t in zip(ours, theirs)])
        va = np.mean([abs(o.heads["valence_arousal"][0] - t["valence_arousal"]["0"]) for o, t in zip(ours, theirs)])
        print(
            f"{variant}: MediaPipe = sentilite on sentiment {same_s:.1%}, emotions {same_e:.1%} of {len(files)} "
            f"photos; valence mean |d| {va:.4f}"
        )
        assert same_s >= floor_s and same_e >= floor_e, (variant, same_s, same_e)
