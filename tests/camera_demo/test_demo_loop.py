"""The demo loop end to end on generated clips and folders (tiny int8 model, no camera)."""

import numpy as np
import pytest
from demo_helpers import FlakyCamera, SlowClassifier, read_frames, read_log

from sentilite.camera_demo.api import DemoConfig, run_demo
from sentilite.camera_demo.overlay import Overlay
from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.errors import ContractError, ModelFormatError
from sentilite.core.modelfile import CONTRACT_METADATA_NAME, embed_tflite_metadata
from sentilite.core.synthetic import make_synthetic_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_synthetic_video(tmp_path_factory.mktemp("clip") / "clip.avi", frames=45, size=(240, 320))


def cfg(model, source, **kw):
    kw.setdefault("display", False)
    kw.setdefault("quiet", True)
    return DemoConfig(model=str(model), source=str(source), **kw)


def test_sync_processes_every_frame_in_order_and_logs_each(tiny_variants, clip, tmp_path):
    log = tmp_path / "frames.jsonl"
    s = run_demo(cfg(tiny_variants["int8"], clip, sync=True, log=str(log)))
    assert s["stop_reason"] == "end_of_source" and s["mode"] == "sync"
    assert s["frames"] == s["captured"] == 45 and s["dropped"] == 0
    records = read_log(log)
    assert [r["frame"] for r in records] == list(range(45))
    r = records[-1]
    assert set(r["probs"]) == {"negative", "neutral", "positive"} and abs(sum(r["probs"].values()) - 1) < 0.02
    assert r["label"] in r["probs"] and r["latency_ms"] > 0 and r["inference_ms"] > 0
    # The synthetic clip's three scenes are negative, neutral, positive: the label follows.
    assert [records[i]["label"] for i in (10, 25, 44)] == ["negative", "neutral", "positive"]
    for key in ("capture", "inference", "end_to_end"):
        assert s["fps"][key] > 0
    assert s["latency_ms"]["p50"] <= s["latency_ms"]["p90"]
    assert s["first_result_s"] is not None and s["peak_rss_mb"] > 0


def test_recording_shows_the_overlay_where_it_is_drawn(tiny_variants, clip, tmp_path):
    out = tmp_path / "annotated.avi"
    s = run_demo(cfg(tiny_variants["int8"], clip, sync=True, record=str(out), max_frames=30))
    assert s["frames"] == 30 and s["recorded_frames"] == 30
    recorded, original = read_frames(out), read_frames(clip)[:30]
    assert len(recorded) == 30
    h, w = original[0].shape[:2]
    inside = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in Overlay(["negative", "neutral", "positive"]).regions(h, w):
        inside[y0:y1, x0:x1] = True
    for rec, orig in zip(recorded[::7], original[::7]):
        diff = np.abs(rec.astype(int) - orig.astype(int)).mean(axis=2)
        assert diff[inside].mean() > 25, "overlay not visible in the recording"
        assert diff[~inside].mean() < 6, "the picture outside the overlay changed"


def test_threaded_mode_drops_frames_instead_of_lagging_with_a_slow_model(tiny_variants, clip, tmp_path):
    slow = SlowClassifier(TFLiteClassifier(tiny_variants["int8"]), 0.06)
    log = tmp_path / "slow.jsonl"
    s = run_demo(cfg(tiny_variants["int8"], clip, fps=60, log=str(log)), classifier=slow)  # 60 fps in, ~15 fps out
    assert s["mode"] == "latest" and s["stop_reason"] == "end_of_source" and s["captured"] == 45
    assert s["dropped"] >= 20 and s["frames"] <= 25
    assert s["frames"] + s["dropped"] in (s["captured"], s["captured"] - 1)  # the last one may be unseen
    # Latency stays about one model run, it does not build up over the clip.
    assert s["latency_ms"]["p90"] < 3 * 60
    records = read_log(log)
    frames = [r["frame"] for r in records]
    assert frames == sorted(frames) and frames[-1] - frames[0] > len(frames)  # skipped ahead
    assert records[-1]["dropped"] >= 15
    # The same slow model in --sync mode takes every frame, so latency does build up.
    s2 = run_demo(cfg(tiny_variants["int8"], clip, sync=True, max_frames=12, queue_size=8), classifier=slow)
    assert s2["frames"] == 12 and s2["dropped"] == 0 and s2["latency_ms"]["max"] > s["latency_ms"]["p90"]


def test_camera_that_disappears_is_reconnected_then_the_run_ends_cleanly(tiny_variants, clip, tmp_path):
    frames = read_frames(clip)
    cam = FlakyCamera(frames, fail_after=20)
    rec, log = tmp_path / "lost.mp4", tmp_path / "lost.jsonl"
    s = run_demo(
        cfg(tiny_variants["int8"], "0", record=str(rec), log=str(log), reconnect_attempts=3, reconnect_backoff=0.01),
        source=cam,
    )
    assert s["stop_reason"] == "source_lost"
    assert cam.opens == 1 + 3 and s["reconnect_attempts"] == 3 and s["reconnects"] == 0
    records = read_log(log)
    assert len(records) == s["frames"] > 0
    assert len(read_frames(rec)) == s["recorded_frames"] == s["frames"]  # a finished, playable file


def test_camera_that_comes_back_continues(tiny_variants, clip, tmp_path):
    cam = FlakyCamera(read_frames(clip), fail_after=10, back_on_attempt=2)
    s = run_demo(
        cfg(tiny_variants["int8"], "0", max_frames=20, reconnect_attempts=4, reconnect_backoff=0.01), source=cam
    )
    assert s["stop_reason"] == "max_frames" and s["frames"] == 20
    assert s["reconnects"] == 1 and s["reconnect_attempts"] == 2


def test_folder_of_images_and_duration_stop(tiny_variants, tmp_path):
    import cv2

    from sentilite.core.synthetic import synthetic_image

    rng = np.random.default_rng(0)
    for i in range(12):
        cv2.imwrite(str(tmp_path / f"{i:03d}.jpg"), synthetic_image(i % 3, rng, (90 + i, 120)))  # sizes vary
    s = run_demo(cfg(tiny_variants["int8"], tmp_path, sync=True, record=str(tmp_path / "f.avi")))
    assert s["frames"] == 12 and s["source"]["kind"] == "folder" and s["recorded_frames"] == 12
    s = run_demo(cfg(tiny_variants["int8"], tmp_path, fps=10, duration=0.35))
    assert s["stop_reason"] == "duration" and 2 <= s["frames"] <= 6


def test_models_the_demo_cannot_run_fail_before_the_loop(tiny_variants, tiny_model, clip, tmp_path):
    no_contract = tmp_path / "bare.tflite"
    no_contract.write_bytes(embed_tflite_metadata(tiny_variants["float32"].read_bytes(), {CONTRACT_METADATA_NAME: b""}))
    with pytest.raises(
        ContractError, match="demo cannot run this model.*no sentilite preprocessing contract.*sentilite convert"
    ):
        run_demo(cfg(no_contract, clip))
    with pytest.raises(ModelFormatError, match="keras model.*sentilite convert"):
        run_demo(cfg(tiny_model[2], clip))
    text = tmp_path / "model.tflite"
    text.write_text("hello")
    with pytest.raises(ModelFormatError, match="not a model file"):
        run_demo(cfg(text, clip))


def test_a_model_contradicting_its_contract_is_refused(tiny_variants, clip, tmp_path):
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.errors import ContractError
    from sentilite.core.modelfile import write_tflite

    wrong = write_tflite(
        tmp_path / "wrong.tflite", tiny_variants["int8"].read_bytes(), PreprocessContract.create(32, "imagenet")
    )
    with pytest.raises(ContractError, match="clipped"):
        run_demo(cfg(wrong, clip, sync=True, max_frames=2, quiet=False))
