"""The sentiment model shipped in the package: present, self-describing, and better than chance."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import EMOTION6, require_shared

from sentilite.app.cli import cli
from sentilite.core.default_model import DEFAULT_MODEL_PATH, default_model_card, describe_default
from sentilite.core.fsutil import sha256_file

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL_PATH.is_file(), reason=f"no bundled model at {DEFAULT_MODEL_PATH}")


def test_bundled_model_is_a_full_int8_classifier_with_its_contract():
    from sentilite.core.model_info import model_info

    info = model_info(DEFAULT_MODEL_PATH)
    # full integer: plain int8, or the int8 repair convert kept (int8-eq), never a mixed or int16x8 file
    assert (
        info["variant"] in ("int8", "int8-eq") and info["inputs"][0]["dtype"] == info["outputs"][0]["dtype"] == "uint8"
    )
    # no float island in the body: the only float32 tensors allowed are an embedding head's L2
    # normalisation of its output vector (the converter keeps that [1, dims] arithmetic in float)
    dims = {h["dims"] for h in info["contract"].get("heads", []) if h["kind"] == "embedding"}
    assert all(len(shape) == 2 and shape[1] in dims for shape in _float_tensor_shapes(DEFAULT_MODEL_PATH))
    assert info["contract"]["labels"] == ["negative", "neutral", "positive"]
    assert info["size_bytes"] <= 3.0e6  # issue 30: the bundled file, extra heads included, within 3 MB


def _float_tensor_shapes(path):
    import numpy as np

    from sentilite.core.runtime import make_interpreter

    interp, _ = make_interpreter(path)
    return [tuple(d["shape"]) for d in interp.get_tensor_details() if d["dtype"] == np.float32]


def test_card_matches_the_shipped_file():
    card = default_model_card()
    assert card is not None, "sentilite/models/sentiment_mobilenetv2_int8.json is missing"
    assert card["sha256"] == sha256_file(DEFAULT_MODEL_PATH)
    assert card["size_bytes"] == DEFAULT_MODEL_PATH.stat().st_size
    assert "Emotion6 test accuracy" in describe_default()


def test_info_without_argument_describes_the_bundled_model():
    r = CliRunner().invoke(cli, ["info"])
    assert r.exit_code == 0, r.output
    assert "bundled default model" in r.output and "int8" in r.output
    r = CliRunner().invoke(cli, ["info", "--json"])
    data = json.loads(r.output)
    assert data["bundled_default"] is True and data["model_card"]["file"] == DEFAULT_MODEL_PATH.name


@pytest.mark.shared
def test_bundled_model_beats_the_majority_baseline_on_emotion6_test():
    """The card's figure holds when re-measured through the toolkit (held-out split, no TF)."""
    require_shared(EMOTION6 / "sentiment_test.txt")
    from sentilite.core.classifier import load_classifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.evaluation import predict_dataset

    preds = predict_dataset(load_classifier(DEFAULT_MODEL_PATH), read_split_file(EMOTION6 / "sentiment_test.txt"))
    m = preds.metrics(("negative", "neutral", "positive"))
    assert m["accuracy"] > 0.60  # majority class ("positive") is 0.41
    assert m["polar"]["accuracy"] > 0.75
    card = default_model_card()
    assert abs(m["accuracy"] - card["evaluation"]["emotion6_test_int8"]["accuracy"]) < 0.011
