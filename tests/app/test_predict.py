"""`sentilite predict`: images, folders and split files in; a table, JSON records or CSV out; run in
a fresh process under the TensorFlow import guard (the device side)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from tfguard import attempts, guarded_env

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.imageio import load_image


def predict(*args, tmp, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "predict", *map(str, args)],
        capture_output=True,
        text=True,
        env=guarded_env(tmp),
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_records_match_the_classifier_for_files_folders_and_split_files(tiny_variants, synthetic_splits, tmp_path):
    """Planted defect: key the probabilities by position instead of label; the comparison fails."""
    folder = synthetic_splits["val"].parent / "images" / "positive"
    one = next(folder.glob("*.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    out = tmp_path / "answers.json"
    proc = predict(
        one,
        folder,
        synthetic_splits["val"],
        broken,
        "--model",
        tiny_variants["int8"],
        "--json",
        out,
        "--csv",
        tmp_path / "answers.csv",
        tmp=tmp_path,
    )
    assert attempts(tmp_path) == []  # no TensorFlow, not even tried
    records = json.loads(out.read_text())
    n_folder, n_split = len(list(folder.glob("*.jpg"))), len(synthetic_splits["val"].read_text().splitlines())
    assert len(records) == 1 + n_folder + n_split and records[0]["path"] == str(one)
    assert "skipped" in proc.stderr and "broken.jpg" in proc.stderr
    clf = TFLiteClassifier(tiny_variants["int8"])
    for r in records[:5]:
        probs = clf.predict(load_image(r["path"]))
        assert list(r["sentiment"]["probabilities"]) == ["negative", "neutral", "positive"]
        assert np.allclose(list(r["sentiment"]["probabilities"].values()), probs, atol=1e-5)
        assert r["sentiment"]["label"] == clf.contract.labels[int(probs.argmax())]
    rows = list(csv.DictReader((tmp_path / "answers.csv").open()))
    assert len(rows) == len(records) and rows[0]["label"] == records[0]["sentiment"]["label"]
    assert float(rows[0]["p_positive"]) == pytest.approx(records[0]["sentiment"]["probabilities"]["positive"], abs=1e-6)


def test_the_table_and_the_errors(tiny_variants, synthetic_splits, tmp_path):
    one = next((synthetic_splits["val"].parent / "images" / "negative").glob("*.jpg"))
    table = predict(one, "--model", tiny_variants["int8"], tmp=tmp_path).stdout.splitlines()
    assert table[0].split()[:2] == ["path", "label"] and table[1].startswith(str(one))
    broken = tmp_path / "b.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    proc = predict(broken, "--model", tiny_variants["int8"], tmp=tmp_path, check=False)
    assert proc.returncode == 2 and "None of the 1 images could be read" in proc.stderr and "Fix:" in proc.stderr
    proc = predict(tmp_path / "missing.jpg", tmp=tmp_path, check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_a_multi_head_model_answers_every_head_in_the_issue_30_record(three_head_files, synthetic_splits, tmp_path):
    """The record gains "emotions" ({emotion: p}), "valence" and "arousal" (1-9), each equal to the
    classifier's own reading; the table and the CSV show them too. Planted defect: writing the
    emotions by position of the file's outputs (valence/arousal's) fails the comparison."""
    from sentilite.core.affect import EMOTIONS

    folder = synthetic_splits["val"].parent / "images" / "neutral"
    images = sorted(folder.glob("*.jpg"))[:3]
    out, out_csv = tmp_path / "heads.json", tmp_path / "heads.csv"
    model = three_head_files[1]["int8"]
    proc = predict(*images, "--model", model, "--json", out, "--csv", out_csv, tmp=tmp_path)
    assert attempts(tmp_path) == [], proc.stderr
    records = json.loads(out.read_text())
    clf = TFLiteClassifier(model)
    for r in records:
        want = clf.read(load_image(r["path"]))
        assert list(r["emotions"]) == list(EMOTIONS)
        assert np.allclose(list(r["emotions"].values()), want.heads["emotions"], atol=1e-5)
        assert [r["valence"], r["arousal"]] == pytest.approx(want.heads["valence_arousal"].tolist(), abs=1e-3)
        assert 1.0 <= r["valence"] <= 9.0 and 1.0 <= r["arousal"] <= 9.0
    rows = list(csv.DictReader(out_csv.open()))
    assert float(rows[0]["p_joy"]) == pytest.approx(records[0]["emotions"]["joy"], abs=1e-6)
    assert float(rows[0]["valence"]) == pytest.approx(records[0]["valence"], abs=1e-4)
    table = predict(images[0], "--model", model, tmp=tmp_path).stdout.splitlines()
    assert table[0].split()[-3:] == ["emotions", "valence", "arousal"]
    top = max(records[0]["emotions"], key=records[0]["emotions"].get)
    assert top in table[1] and f"{records[0]['valence']:.2f}" in table[1]
