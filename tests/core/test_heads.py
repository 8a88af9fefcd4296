"""Multi-head models (issue 30): the contract lists the heads, every reader finds each head's
output whatever order the file keeps them in, and the standard metadata names each one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from modelkit import HEADS_CONTRACT, TINY_CONTRACT

from sentilite.core.classifier import TFLiteClassifier, load_classifier
from sentilite.core.errors import ContractError
from sentilite.core.heads import EMOTION_HEAD, Head, match_outputs
from sentilite.core.modelfile import read_tflite_metadata_file, write_tflite
from sentilite.core.tflite_metadata import METADATA_NAME, parse_model_metadata, read_label_file


def _images(n: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(n)]


def test_every_reader_finds_each_head_whatever_order_the_file_keeps(three_head_files):
    """Planted defect: taking outputs in file order gives the emotions head valence/arousal's two values."""
    model, files, keras_path = three_head_files
    keras_clf = load_classifier(keras_path)
    for variant, tol_p, tol_va in (("float32", 1e-4, 1e-3), ("int8", 0.08, 0.4)):
        clf = TFLiteClassifier(files[variant])
        for im in _images():
            got, want = clf.read(im), keras_clf.read(im)
            assert set(got.heads) == {"emotions", "valence_arousal"}
            assert got.heads["emotions"].shape == (7,) and abs(float(got.heads["emotions"].sum()) - 1) < 1e-5
            np.testing.assert_allclose(got.sentiment, want.sentiment, atol=tol_p)
            np.testing.assert_allclose(got.heads["emotions"], want.heads["emotions"], atol=tol_p)
            np.testing.assert_allclose(got.heads["valence_arousal"], want.heads["valence_arousal"], atol=tol_va)
            assert np.all((got.heads["valence_arousal"] >= 0.9) & (got.heads["valence_arousal"] <= 9.1))


def test_full_integer_files_keep_uint8_outputs_for_mediapipe(three_head_files):
    """MediaPipe refuses int8 outputs: every output of a full-integer multi-head file is uint8."""
    _, files, _ = three_head_files
    clf = TFLiteClassifier(files["int8"])
    assert [np.dtype(d["dtype"]) for d in [clf.output_detail, *clf.head_details]] == [np.uint8] * 3


def test_standard_metadata_names_each_output_in_file_order_with_its_labels(three_head_files):
    """MediaPipe reads output i's metadata as head i: names follow the file's order, and the emotion
    head has its own labels file."""
    _, files, _ = three_head_files
    for path in files.values():
        meta = parse_model_metadata(read_tflite_metadata_file(path)[METADATA_NAME])
        clf = TFLiteClassifier(path)
        widths = [int(d["shape"][-1]) for d in clf.interpreter.get_output_details()]
        names = [o["name"] for o in meta["outputs"]]
        assert sorted(names) == ["emotions", "sentiment", "valence_arousal"]
        by_width = {3: "sentiment", 7: "emotions", 2: "valence_arousal"}
        assert names == [by_width[w] for w in widths]
        data = path.read_bytes()
        assert read_label_file(data, "emotions_labels.txt") == list(EMOTION_HEAD.labels)
        assert read_label_file(data) == list(TINY_CONTRACT.labels)


def test_a_contract_that_does_not_list_every_output_is_refused(three_head_files, tmp_path):
    _, files, _ = three_head_files
    data = files["float32"].read_bytes()
    headless = write_tflite(tmp_path / "headless.tflite", data, TINY_CONTRACT)
    with pytest.raises(ContractError, match="3 outputs; a sentiment classifier has one input and one output"):
        TFLiteClassifier(headless)
    with pytest.raises(ContractError, match="3 outputs but its contract names 2 heads"):
        write_tflite(tmp_path / "short.tflite", data, replace(TINY_CONTRACT, heads=(EMOTION_HEAD,)))
    with pytest.raises(ContractError, match="contradicts"):  # a given contract must name the same heads
        TFLiteClassifier(files["float32"], contract=TINY_CONTRACT)


def test_outputs_that_cannot_be_told_apart_are_refused_with_the_fix():
    same = (Head("a", "distribution", ("x", "y", "z")),)
    with pytest.raises(ContractError, match="cannot tell its outputs apart.*name each Keras output"):
        match_outputs(["out:0", "out:1"], [3, 3], 3, same, "m.tflite")
    # names win over widths, and decorations around a name do not hide it
    assert match_outputs(["StatefulPartitionedCall:0 a", "sentiment:0"], [3, 3], 3, same, "m") == [1, 0]


def test_heads_round_trip_through_the_contract_json_and_bad_heads_are_named():
    back = type(HEADS_CONTRACT).from_json(HEADS_CONTRACT.to_json())
    assert back.heads == HEADS_CONTRACT.heads
    assert "heads" not in TINY_CONTRACT.to_dict()  # single-head files are written as before
    with pytest.raises(ContractError, match="regression head needs a scale"):
        Head("va", "regression", ("valence", "arousal"))
    with pytest.raises(ContractError, match="distinct names"):
        replace(TINY_CONTRACT, heads=(EMOTION_HEAD, EMOTION_HEAD))
