"""camera_demo building blocks without a model: smoothing, overlay, font, stats, sources, display."""

import sys

import cv2
import numpy as np
import pytest

from sentilite.camera_demo.errors import DisplayError, SourceError
from sentilite.camera_demo.font import BitmapFont
from sentilite.camera_demo.overlay import Figures, Overlay, render_example
from sentilite.camera_demo.smoothing import SentimentSmoother
from sentilite.camera_demo.source_factory import make_source, open_source
from sentilite.camera_demo.sources import ImageFolderSource, OpenCVSource, PiCameraSource
from sentilite.camera_demo.stats import format_summary, percentile
from sentilite.core.synthetic import make_synthetic_video, synthetic_image

LABELS = ["negative", "neutral", "positive"]


def test_smoothing_averages_and_hysteresis_stops_flicker():
    s = SentimentSmoother(3, alpha=0.3, hysteresis=0.1)
    label, p = s.update(np.array([0.1, 0.2, 0.7]))
    assert label == 2 and np.allclose(p, [0.1, 0.2, 0.7])
    # Frames alternating between two near-tied readings: the raw argmax flips every frame,
    # the shown label never does.
    shown = {s.update(np.array(v))[0] for v in ([0.5, 0.0, 0.5 - 1e-3], [0.45, 0.0, 0.55]) * 20}
    assert shown == {2} and s.switches == 0
    # A clear, lasting change does switch, after a few frames, exactly once.
    labels = [s.update(np.array([0.6, 0.0, 0.4]))[0] for _ in range(10)]
    assert labels[0] == 2 and labels[-1] == 0 and s.switches == 1
    # alpha = 1 is "off": the smoothed vector is the last frame's.
    off = SentimentSmoother(3, alpha=1.0, hysteresis=0.0)
    off.update(np.array([1.0, 0.0, 0.0]))
    assert np.allclose(off.update(np.array([0.0, 0.0, 1.0]))[1], [0, 0, 1])
    with pytest.raises(ValueError):
        SentimentSmoother(3, alpha=0.0)


def test_overlay_draws_only_in_its_regions_and_renders_a_png(tmp_path):
    frame = synthetic_image(1, np.random.default_rng(0), (480, 640))
    before = frame.copy()
    ov = Overlay(LABELS)
    ov.draw(frame, 2, np.array([0.1, 0.2, 0.7]), Figures(30.0, 250.0, 29.5, 12.0, 4, 1, 1.0, 4.0, 0.2))
    changed = np.any(frame != before, axis=2)
    inside = np.zeros_like(changed)
    for x0, y0, x1, y1 in ov.regions(480, 640):
        inside[y0:y1, x0:x1] = True
        assert changed[y0:y1, x0:x1].mean() > 0.5  # darkened panel plus text
    assert not changed[~inside].any()
    # A person can look at this one (docs/camera_demo_overlay.jpg is the same drawing).
    png = render_example(tmp_path / "annotated.png")
    img = cv2.imread(str(png))
    assert img.shape == (480, 640, 3)
    # Other frame sizes and many labels keep the overlay inside the frame.
    for h, w in [(120, 160), (720, 1280), (1080, 1920)]:
        f = np.zeros((h, w, 3), np.uint8)
        Overlay(LABELS + ["surprise", "awe"]).draw(f, 4, np.full(5, 0.2), Figures())
        assert f.any()


def test_bitmap_font_renders_text_and_clips():
    font = BitmapFont(2)
    w, h = font.text_size("fps 12.5%")
    assert (w, h) == (9 * 12, 22)
    img = np.zeros((30, 60, 3), np.uint8)
    font.put(img, "fps 12.5%", (-5, 20), (255, 255, 255))  # partly outside: clipped, no error
    assert img.any() and font.mask("é").any()  # unknown characters draw as '?'


def test_stats_percentiles_and_summary_text():
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 90) == 5
    s = {
        "mode": "sync",
        "stop_reason": "end_of_source",
        "frames": 10,
        "captured": 10,
        "dropped": 0,
        "duplicates": 0,
        "reconnect_attempts": 0,
        "fps": {"capture": 30.0, "inference": 250.0, "end_to_end": 29.0},
        "latency_ms": {"p50": 10.0, "p90": 12.0},
        "timings_ms": {"preprocess": 1, "inference": 4, "draw": 0.2, "output": 0.1},
        "label_counts": {"negative": 10},
        "first_result_s": 0.3,
        "peak_rss_mb": 70.0,
        "log": "x.jsonl",
    }
    text = format_summary(s)
    assert "p50 10.0 ms, p90 12.0 ms" in text and "inference 250.0" in text and "x.jsonl" in text


def test_sources_are_recognised_and_bad_ones_name_what_was_tried(tmp_path, monkeypatch):
    clip = make_synthetic_video(tmp_path / "c.avi", frames=6, size=(48, 64))
    assert isinstance(make_source(str(clip)), OpenCVSource) and make_source(str(clip)).kind == "file"
    assert make_source("0").kind == "camera" and make_source("rtsp://h/s").kind == "stream"
    assert isinstance(make_source("picamera"), PiCameraSource) and make_source("picamera:1").index == 1
    assert isinstance(make_source(str(tmp_path)), ImageFolderSource)
    with pytest.raises(SourceError, match="not a camera index"):
        make_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError, match=r"camera 7: tried cv2.VideoCapture\(7\)"):
        open_source("7")
    bogus = tmp_path / "bogus.mp4"
    bogus.write_text("not a video")
    with pytest.raises(SourceError, match="Cannot decode video file"):
        open_source(str(bogus))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        open_source(str(empty))
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(SourceError, match="picamera2"):
        open_source("picamera")


def test_folder_source_reads_images_in_name_order_and_skips_broken_ones(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((20, 30, 3), i * 50, np.uint8))
    (tmp_path / "img3.jpg").write_bytes(b"broken")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(str(tmp_path))
    values = []
    while (f := src.read()) is not None:
        values.append(int(f[0, 0, 0]))
    assert values == [0, 50, 100] and src.info()["unreadable"] == [str(tmp_path / "img3.jpg")]


def test_display_problems_are_one_clear_error(monkeypatch):
    from sentilite.camera_demo.sinks import _opencv_has_gui, check_display_possible

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform.startswith("linux"):
        with pytest.raises(DisplayError, match="--no-display") as e:
            check_display_possible()
        assert "$DISPLAY" in str(e.value)
    if not _opencv_has_gui():
        monkeypatch.setenv("DISPLAY", ":99")
        with pytest.raises(DisplayError, match="pip install opencv-python") as e:
            check_display_possible()
        assert "--no-display" in str(e.value) and "$DISPLAY" not in str(e.value)
