"""The sentiment model shipped in the package: present, self-describing, and better than chance."""

from __future__ import annotations

import json
from pathlib import Path

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


@pytest.mark.shared
def test_the_bundled_model_reads_a_scene_every_way_with_no_model_given(tmp_path):
    """Issues 30 and 31: the shipped file carries the emotion, valence/arousal and semantic heads,
    and `predict`, `tag`, `index` and `search` use it when no --model is given. Planted defects: a
    head left out of the file, --model required again: red."""
    import subprocess
    import sys

    require_shared(EMOTION6 / "sentiment_test.txt")
    from sentilite.core.datasets import read_split_file

    photos = [str(p) for p in read_split_file(EMOTION6 / "sentiment_test.txt").paths[:3]]
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "sentilite", *args], capture_output=True, text=True, timeout=300
    )
    proc = run("predict", *photos, "--json", str(tmp_path / "p.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((tmp_path / "p.json").read_text())[0]
    assert {"sentiment", "emotions", "valence", "arousal"} <= set(record) and len(record["emotions"]) == 7
    assert 1 <= record["valence"] <= 9 and 1 <= record["arousal"] <= 9
    proc = run("tag", photos[0], "-k", "3", "--json", str(tmp_path / "t.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(json.loads((tmp_path / "t.json").read_text())[0]["tags"]) == 3
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in photos:
        (folder / Path(p).name).write_bytes(Path(p).read_bytes())
    assert run("index", str(folder), "--out", str(tmp_path / "idx")).returncode == 0
    proc = run("search", str(tmp_path / "idx"), "--image", photos[0], "-k", "1")
    assert proc.returncode == 0 and Path(photos[0]).name in proc.stdout, proc.stdout + proc.stderr[-2000:]
