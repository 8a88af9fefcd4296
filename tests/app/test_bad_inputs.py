"""Bad input, as a user gives it on the command line: a one-line error naming the problem and the
fix, a non-zero exit code, and no secret in the output. These cases back the README table
"Bad inputs and what you see"; each row there is one test here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from sentilite.core.contract import PreprocessContract
from sentilite.core.modelfile import CONVERSION_METADATA_NAME, embed_tflite_metadata, write_tflite


def sentilite(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sentilite", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode not in (0, None), proc.stdout[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def contradicting_model(tiny_variants, tmp_path_factory):
    """The int8 tiny model (calibrated on [-1, 1] inputs) carrying a contract that says ImageNet."""
    folder = tmp_path_factory.mktemp("wrong")
    return write_tflite(
        folder / "wrong.tflite", tiny_variants["int8"].read_bytes(), PreprocessContract.create(32, "imagenet")
    )


@pytest.fixture(scope="module")
def unreadable_split(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unreadable")
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    split = folder / "split.txt"
    split.write_text("".join(f"{i}.jpg {i}\n" for i in range(3)))
    return split


def test_evaluate_with_no_readable_image_is_an_error(tiny_variants, unreadable_split, tmp_path):
    out = tmp_path / "r.json"
    err = one_line_error(sentilite("evaluate", tiny_variants["int8"], "--data", unreadable_split, "--json", out))
    assert "None of the 3 images" in err and "could be read" in err and "Fix:" in err
    assert not out.exists()


def test_train_with_a_test_split_of_missing_images_stops_before_training(synthetic_splits, tmp_path):
    missing = tmp_path / "test.txt"
    missing.write_text("nope/a.jpg 0\nnope/b.jpg 2\n")
    err = one_line_error(
        sentilite(
            "train",
            "--data",
            synthetic_splits["train"],
            "--val",
            synthetic_splits["val"],
            "--test",
            missing,
            "--backbone",
            "student",
            "--out",
            tmp_path / "run",
        )
    )
    assert "None of the 2 test images" in err and "--test" in err
    assert not (tmp_path / "run").exists()


def test_demo_on_a_video_without_a_decodable_frame_is_an_error(tiny_variants, tmp_path):
    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48)).release()  # opens, holds no frame
    err = one_line_error(
        sentilite("demo", "--model", tiny_variants["int8"], "--source", empty, "--no-display", "--sync")
    )
    assert f"video file {empty} yielded no decodable frame" in err and "Fix:" in err


@pytest.mark.parametrize("command", ["evaluate", "bench", "demo"])
def test_a_model_contradicting_its_contract_is_refused(command, contradicting_model, synthetic_splits, tmp_path):
    args = {
        "evaluate": ["evaluate", contradicting_model, "--data", synthetic_splits["val"]],
        "bench": ["bench", contradicting_model, "--runs", "2", "--out", tmp_path / "b"],
        "demo": [
            "demo",
            "--model",
            contradicting_model,
            "--source",
            synthetic_splits["val"].parent / "images" / "negative",
            "--no-display",
        ],
    }[command]
    err = one_line_error(sentilite(*args))
    assert "contradicts its own preprocessing contract" in err and "clipped" in err and "sentilite convert" in err


def test_info_shows_a_contradicting_model_and_says_it_is_refused(contradicting_model):
    proc = sentilite("info", contradicting_model)
    assert proc.returncode == 0 and "evaluate, bench and demo refuse this model" in proc.stdout


def test_corrupt_conversion_metadata_does_not_stop_demo_or_evaluate(tiny_variants, synthetic_splits, tmp_path):
    data = embed_tflite_metadata(tiny_variants["int8"].read_bytes(), {CONVERSION_METADATA_NAME: b"{not json"})
    model = tmp_path / "odd.tflite"
    model.write_bytes(data)
    ev = sentilite("evaluate", model, "--data", synthetic_splits["val"])
    assert ev.returncode == 0, ev.stderr[-2000:]
    demo = sentilite(
        "demo",
        "--model",
        model,
        "--source",
        synthetic_splits["val"].parent / "images" / "negative",
        "--no-display",
        "--max-frames",
        "3",
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    info = sentilite("info", model)
    assert info.returncode == 0 and "not valid JSON" in info.stdout and "the model still runs" in info.stdout


def test_a_stream_password_is_never_printed_or_stored(tiny_variants, tmp_path):
    """A real password-protected MJPEG stream that drops, comes back once and then is gone: the
    demo logs in, classifies, reconnects and gives up, writing its log and summary; the password reaches the server and
    nowhere else. Planted defect: print the raw URL in the reconnect warning."""
    from mjpeg_server import MjpegServer

    with MjpegServer("viewer", "hunter2", frames=40, sessions=2) as cam:
        url = f"http://viewer:hunter2@127.0.0.1:{cam.port}/stream.mjpg"
        proc = sentilite(
            "demo",
            "--model",
            tiny_variants["int8"],
            "--source",
            url,
            "--no-display",
            "--reconnect",
            "1",
            "--summary-json",
            tmp_path / "s.json",
            "--log",
            tmp_path / "l.jsonl",
        )
    assert cam.served == 2, proc.stderr[-2000:]  # logged in, and again on reconnecting
    text = proc.stdout + proc.stderr
    assert proc.returncode == 3 and "did not come back after 1 reconnect" in text, text[-2000:]
    assert "hunter2" not in text and "viewer:***@127.0.0.1" in text
    written = {f.name: f.read_text(errors="replace") for f in tmp_path.iterdir()}
    assert set(written) == {"s.json", "l.jsonl"} and written["l.jsonl"].count("\n") >= 10
    assert "viewer:***@127.0.0.1" in written["s.json"]
    for name, content in written.items():
        assert "hunter2" not in content, name


def test_redaction_keeps_everything_but_the_password():
    from sentilite.camera_demo.sources import redact_url

    assert redact_url("rtsp://u:p@h:554/a?b=1") == "rtsp://u:***@h:554/a?b=1"
    assert redact_url("http://h/stream") == "http://h/stream" and redact_url("clip.mp4") == "clip.mp4"
    assert redact_url("rtsp://u@h/x") == "rtsp://u@h/x"  # no password, nothing to hide


def test_convert_handed_a_tflite_asks_for_the_keras_model(tiny_variants, synthetic_splits, tmp_path):
    err = one_line_error(
        sentilite(
            "convert",
            tiny_variants["int8"],
            "--calib",
            synthetic_splits["train"],
            "--eval",
            synthetic_splits["val"],
            "--out",
            tmp_path / "o",
        )
    )
    assert "expected a .keras model" in err and "pass the .keras model it was converted from" in err
    assert "pass a .tflite" not in err


def test_a_non_image_backbone_file_is_a_clear_error(synthetic_splits, tmp_path):
    from sentilite.core.tf_import import import_keras

    keras = import_keras("the test")
    inp = keras.Input((10,))
    dense = keras.Model(inp, keras.layers.Dense(4, name="gap")(inp))
    path = tmp_path / "dense.keras"
    dense.save(path)
    err = one_line_error(
        sentilite(
            "train",
            "--data",
            synthetic_splits["train"],
            "--val",
            synthetic_splits["val"],
            "--backbone-file",
            path,
            "--feature-layer",
            "gap",
            "--mode",
            "ft-f",
            "--epochs",
            "1",
            "--out",
            tmp_path / "run",
        )
    )
    assert "not an RGB image" in err and "(None, 10)" in err and "unexpected" not in err


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory):
    """A .tflite with an int32 input and one with two inputs (not image classifiers)."""
    from sentilite.core.tf_import import import_tensorflow

    tf = import_tensorflow("the test")
    folder = tmp_path_factory.mktemp("odd")

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.int32)])
    def ints(x):
        return tf.cast(x, tf.float32) * 2.0

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32), tf.TensorSpec([1, 8], tf.float32)])
    def two(a, b):
        return a + b

    out = {}
    for name, fn in (("int32_input", ints), ("two_inputs", two)):
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
        out[name] = folder / f"{name}.tflite"
        out[name].write_bytes(conv.convert())
    return out


@pytest.mark.parametrize("name, words", [("int32_input", "takes a int32 input"), ("two_inputs", "has 2 inputs")])
def test_bench_refuses_models_it_cannot_feed(odd_models, name, words, tmp_path):
    err = one_line_error(sentilite("bench", odd_models[name], "--runs", "2", "--out", tmp_path / "b"))
    assert words in err and "benchmark_model" in err


def test_the_runner_alone_refuses_them_too(odd_models):
    from sentilite.device_bench import measure

    for path in odd_models.values():
        with pytest.raises(RuntimeError, match="image classifiers with one float32, uint8 or int8 input"):
            measure.measure_job({"model": str(path), "threads": 1}, {"runs": 1, "warmup": 0}, "/", None)


def test_sentilite_runtime_is_the_runtime_checked_and_measured(tiny_variants, tmp_path):
    absent = sentilite(
        "bench",
        tiny_variants["int8"],
        "--runs",
        "2",
        "--out",
        tmp_path / "a",
        env={"SENTILITE_RUNTIME": "tflite-runtime"},
    )
    err = one_line_error(absent)
    assert "tflite-runtime" in err and "cannot run .tflite models" in err
    tf_run = sentilite(
        "bench", tiny_variants["int8"], "--runs", "2", "--out", tmp_path / "b", env={"SENTILITE_RUNTIME": "tensorflow"}
    )
    assert tf_run.returncode == 0, tf_run.stderr[-2000:]
    rows = json.loads((tmp_path / "b" / "results.json").read_text())["rows"]
    assert rows[0]["runtime"].startswith("tensorflow")
