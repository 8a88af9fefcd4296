"""`sentilite quickstart`: the whole pipeline into one run folder, through the real parts."""

import json
import subprocess
import sys

import pytest

from sentilite.app.quickstart import resolve_splits
from sentilite.core.errors import InputFileError


@pytest.mark.slow
def test_quickstart_writes_the_whole_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "quickstart", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "synthetic demo data" in proc.stderr  # said plainly
    assert json.loads(proc.stdout.strip().splitlines()[-1])["report"] == str(out / "report.md")
    for rel in [
        "report.md",
        "report.json",
        "train/model.keras",
        "train/metrics.json",
        "convert/report.md",
        "convert/report.json",
        "convert/model_int8.tflite",
        "convert/model_float32.tflite",
        "convert/model_float16.tflite",
        "convert/model_dynamic-int8.tflite",
        "bench/results.json",
        "bench/results.csv",
        "demo/annotated.mp4",
        "demo/frames.jsonl",
    ]:
        assert (out / rel).is_file(), rel
    summary = json.loads((out / "report.json").read_text())
    assert summary["synthetic_data"] is True
    assert summary["train"]["test"]["accuracy"] >= 0.9  # the synthetic classes are easy to tell apart
    variants = {r["variant"] for r in summary["bench"]["rows"] if not r.get("error")}
    assert {"float32", "float16", "dynamic-int8", "int8", "keras"} <= variants
    assert summary["demo"]["frames"] == 90
    frames = [json.loads(line) for line in (out / "demo" / "frames.jsonl").read_text().splitlines()]
    assert len(frames) == 90
    report = (out / "report.md").read_text()
    assert "Synthetic" in report or "synthetic" in report
    assert "Recommended" in report and "| int8 |" in report


def test_real_data_splits_are_found_beside_the_train_split(tmp_path):
    for kind in ("train", "val", "test"):
        (tmp_path / f"b-t4sa_{kind}.txt").write_text("a.jpg 0\n")
    splits = resolve_splits(str(tmp_path / "b-t4sa_train.txt"), None, None, tmp_path, print)
    assert splits["val"].name == "b-t4sa_val.txt" and splits["test"].name == "b-t4sa_test.txt"
    assert splits["synthetic"] is False


def test_missing_val_split_names_the_flag(tmp_path):
    (tmp_path / "mine.txt").write_text("a.jpg 0\n")
    with pytest.raises(InputFileError, match="pass --val"):
        resolve_splits(str(tmp_path / "mine.txt"), None, None, tmp_path, print)


def test_existing_run_folder_is_refused(tmp_path):
    (tmp_path / "old.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "quickstart", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert (tmp_path / "old.txt").read_text() == "keep me"
