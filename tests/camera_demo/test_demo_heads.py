"""The demo with a multi-head model (issue 30): the overlay draws the emotion bars and the
valence/arousal point, and the frame log carries every head."""

from __future__ import annotations

import numpy as np
import pytest
from demo_helpers import read_frames, read_log

from sentilite.camera_demo.api import DemoConfig, run_demo
from sentilite.camera_demo.overlay import EMOTION_COLOUR, Figures, Overlay, heads_panel
from sentilite.core.heads import EMOTION_HEAD, VALENCE_AROUSAL_HEAD
from sentilite.core.synthetic import make_synthetic_video

HEADS = (EMOTION_HEAD, VALENCE_AROUSAL_HEAD)


def _panel_values(joy: float, valence: float, arousal: float) -> dict[str, np.ndarray]:
    emotions = np.full(7, (1 - joy) / 6, np.float32)
    emotions[EMOTION_HEAD.labels.index("joy")] = joy
    return {"emotions": emotions, "valence_arousal": np.array([valence, arousal], np.float32)}


def test_the_overlay_puts_the_valence_arousal_point_where_the_values_say():
    """Planted defect: arousal drawn downwards (y not flipped) moves the point to the other corner."""
    overlay = Overlay(["negative", "neutral", "positive"], HEADS)
    frame = np.zeros((480, 640, 3), np.uint8)
    overlay.draw(frame, 2, [0.1, 0.1, 0.8], Figures(), _panel_values(0.9, 9.0, 1.0))
    x0, y0, x1, y1 = heads_panel(HEADS, overlay._layout(480, 640)["small"], 640)
    assert x1 <= 640 and frame[y0:y1, x0:x1].any()
    purple = np.all(frame == EMOTION_COLOUR, axis=-1)
    ys, xs = np.nonzero(purple[y0:y1, x0:x1])
    # valence 9 = right edge of the square, arousal 1 = its bottom: the dot is the lowest, rightmost purple
    dot_x, dot_y = xs[ys == ys.max()].max(), ys.max()
    square = (x0 + 6, y1 - 68 - 8 + 4)  # the square's top-left (see draw_heads)
    assert abs((x0 + dot_x) - (square[0] + 60)) <= 5 and dot_y > (y1 - y0) - 20
    # the joy bar is the longest of the seven
    widths = [int(np.count_nonzero(purple[y0 + 4 + i * 13 : y0 + 4 + i * 13 + 8, x0:x1].any(axis=0))) for i in range(7)]
    assert int(np.argmax(widths)) == EMOTION_HEAD.labels.index("joy")


def test_a_one_head_overlay_draws_nothing_top_right():
    overlay = Overlay(["negative", "neutral", "positive"])
    frame = np.zeros((480, 640, 3), np.uint8)
    overlay.draw(frame, 0, [0.8, 0.1, 0.1], Figures())
    assert not frame[0:120, 500:640].any() and len(overlay.regions(480, 640)) == 2


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_synthetic_video(tmp_path_factory.mktemp("clip") / "clip.avi", frames=12, size=(240, 320))


def test_the_demo_logs_every_head_and_records_the_panel(three_head_files, clip, tmp_path):
    model = three_head_files[1]["int8"]
    log, video = tmp_path / "frames.jsonl", tmp_path / "out.avi"
    config = DemoConfig(
        model=str(model), source=str(clip), sync=True, log=str(log), record=str(video), display=False, quiet=True
    )
    s = run_demo(config)
    assert s["frames"] == 12
    records = read_log(log)
    assert set(records[0]) >= {"emotions", "valence", "arousal"}
    assert abs(sum(records[0]["emotions"].values()) - 1) < 1e-3 and 1 <= records[0]["valence"] <= 9
    frames = read_frames(video)
    x0, y0, x1, y1 = Overlay(["negative", "neutral", "positive"], HEADS).regions(240, 320)[2]
    drawn = frames[-1][y0:y1, x0:x1].astype(int)
    purple = np.abs(drawn - np.array(EMOTION_COLOUR)).sum(axis=-1) < 60  # video compression blurs colours
    assert purple.sum() > 20, "the emotion bars and the point are in the recording"
