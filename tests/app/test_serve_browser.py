"""`sentilite serve` in a real headless Chromium (Debian's chromium + chromium-driver, Selenium).

The upload page classifies a real Emotion6 photo; the camera page runs on Chromium's fake
camera fed by a generated clip. Screenshots go to the test folder, or to ``docs/`` with
``SENTILITE_DOCS_SCREENSHOTS=1`` (how the README's pictures are made).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from browserkit import chrome
from conftest import EMOTION6, REPO, require_shared
from servekit import request, start_server

from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.synthetic import make_synthetic_video

pytestmark = pytest.mark.browser


def write_y4m(clip: Path, out: Path, frames: int = 60) -> Path:
    """Chromium's fake camera reads YUV4MPEG2 (4:2:0); convert a generated clip to it."""
    import cv2

    cap = cv2.VideoCapture(str(clip))
    ok, frame = cap.read()
    h, w = frame.shape[:2]
    with open(out, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            if not ok:
                break
            fh.write(b"FRAME\n" + np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)).tobytes())
            ok, frame = cap.read()
    cap.release()
    return out


def screenshot_path(tmp_path: Path, name: str) -> Path:
    return (REPO / "docs" / name) if os.environ.get("SENTILITE_DOCS_SCREENSHOTS") else tmp_path / name


@pytest.fixture(scope="module")
def bundled_server(tmp_path_factory):
    srv = start_server(DEFAULT_MODEL_PATH, tmp_path_factory.mktemp("browser"), "--threads", "2")
    yield srv
    srv.stop()


def upload(driver, photo) -> None:
    """Pick ``photo`` in the page's hidden file field, as a user's file dialog does."""
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, "file")
    driver.execute_script("arguments[0].hidden = false", field)
    field.send_keys(str(photo))
    driver.execute_script("arguments[0].hidden = true", field)


def answer_a_photo(driver, url: str, photo) -> None:
    """Open the upload page once it shows the model's facts, pick ``photo``, wait for its answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    WebDriverWait(driver, 20).until(lambda d: "sha256" in d.find_element(By.ID, "model-facts").text)
    upload(driver, photo)
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "label").text not in ("–", "…", ""))


@pytest.mark.shared
def test_upload_page_shows_label_bars_time_and_the_model(bundled_server, tmp_path):
    require_shared(EMOTION6)
    from selenium.webdriver.common.by import By

    line = next(ln for ln in (EMOTION6 / "sentiment_test.txt").read_text().splitlines() if ln.split()[1] == "2")
    photo = EMOTION6 / line.split()[0]
    expected = request(bundled_server.url + "/api/predict", photo.read_bytes())[1]
    driver = chrome([])
    try:
        answer_a_photo(driver, bundled_server.url, photo)
        assert driver.find_element(By.ID, "label").text.lower() == expected["label"]
        bars = driver.find_elements(By.CSS_SELECTOR, "#bars .bar")
        assert [b.get_attribute("data-label") for b in bars] == ["negative", "neutral", "positive"]
        shown = {b.get_attribute("data-label"): b.find_element(By.CLASS_NAME, "pct").text for b in bars}
        assert shown[expected["label"]] == f"{100 * expected['probabilities'][expected['label']]:.1f} %"
        assert (
            "inference" in driver.find_element(By.ID, "timing").text
            and " ms" in driver.find_element(By.ID, "timing").text
        )
        facts = driver.find_element(By.ID, "model-facts").text
        assert "Emotion6 test" in facts and "int8" in facts and driver.find_element(By.ID, "error").text == ""
        # the bundled model has the extra heads: its page draws the seven emotion bars
        assert driver.find_element(By.ID, "heads").is_displayed()
        emotion_bars = driver.find_elements(By.CSS_SELECTOR, "#emotion-bars .bar")
        assert [b.get_attribute("data-label") for b in emotion_bars] == list(expected["emotions"])
        driver.save_screenshot(str(screenshot_path(tmp_path, "serve_upload.png")))
    finally:
        driver.quit()


def test_upload_page_draws_the_emotion_bars_and_the_valence_arousal_point(three_head_files, synthetic_splits, tmp_path):
    """A multi-head model's page shows seven emotion bars and the valence/arousal point where the
    API's answer puts it; a one-head model's page keeps that block hidden (the next test)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    srv = start_server(three_head_files[1]["int8"], tmp_path, "--threads", "1")
    photo = next((synthetic_splits["val"].parent / "images" / "positive").glob("*.jpg"))
    expected = request(srv.url + "/api/predict", photo.read_bytes())[1]
    driver = chrome([])
    try:
        driver.get(srv.url + "/")
        WebDriverWait(driver, 20).until(lambda d: "heads" in d.find_element(By.ID, "model-facts").text)
        upload(driver, photo)
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "va-text").text != "")
        bars = driver.find_elements(By.CSS_SELECTOR, "#emotion-bars .bar")
        assert [b.get_attribute("data-label") for b in bars] == list(expected["emotions"])
        top = max(expected["emotions"], key=expected["emotions"].get)
        shown = {b.get_attribute("data-label"): b.find_element(By.CLASS_NAME, "pct").text for b in bars}
        assert shown[top] == f"{100 * expected['emotions'][top]:.1f} %"
        dot = driver.find_element(By.ID, "va-dot")
        assert float(dot.get_attribute("cx")) == pytest.approx(10 + (expected["valence"] - 1) / 8 * 100, abs=0.06)
        assert float(dot.get_attribute("cy")) == pytest.approx(110 - (expected["arousal"] - 1) / 8 * 100, abs=0.06)
        assert driver.find_element(By.ID, "heads").is_displayed()
    finally:
        driver.quit()
        srv.stop()


def test_a_one_head_models_page_keeps_the_heads_block_hidden(tiny_variants, synthetic_splits, tmp_path):
    from selenium.webdriver.common.by import By

    srv = start_server(tiny_variants["int8"], tmp_path, "--threads", "1")
    photo = next((synthetic_splits["val"].parent / "images" / "positive").glob("*.jpg"))
    driver = chrome([])
    try:
        answer_a_photo(driver, srv.url, photo)
        assert not driver.find_element(By.ID, "heads").is_displayed()
    finally:
        driver.quit()
        srv.stop()


def test_camera_page_shows_a_label_and_a_frame_rate(bundled_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    clip = write_y4m(make_synthetic_video(tmp_path / "clip.avi", frames=60, size=(480, 640)), tmp_path / "clip.y4m")
    driver = chrome(
        [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ]
    )
    try:
        driver.get(bundled_server.url + "/camera")

        def fps(d) -> float:
            text = d.find_element(By.ID, "fps").text.split()[0]
            return float(text) if text not in ("–", "") else 0.0

        WebDriverWait(driver, 40).until(lambda d: fps(d) > 0 and d.find_element(By.ID, "label").text not in ("–", ""))
        assert driver.find_element(By.ID, "label").text.lower() in ("negative", "neutral", "positive")
        assert float(driver.find_element(By.ID, "rtt").text) > 0 and driver.find_element(By.ID, "error").text == ""
        assert len(driver.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 3
        driver.save_screenshot(str(screenshot_path(tmp_path, "serve_camera.png")))
    finally:
        driver.quit()
    assert request(bundled_server.url + "/healthz")[1]["handled"] >= 2


def test_search_page_finds_photos_by_a_word_and_shows_them(semantic_model, concept_splits, tmp_path):
    """The /search page of a semantic model served with --index: a word in, the closest photos out,
    as thumbnails the server serves from the index, in the order /api/search gives."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from sentilite.app.search import index_photos

    model = semantic_model[1].variants["int8"]
    images = sorted((concept_splits["test"].parent / "images").rglob("*.jpg"))
    index, _ = index_photos(model, images, tmp_path / "photos.index")
    srv = start_server(model, tmp_path, "--index", str(index))
    expected = request(srv.url + "/api/search?k=12&text=positive")[1]["hits"]
    driver = chrome([])
    try:
        driver.get(srv.url + "/search")
        driver.find_element(By.ID, "text").send_keys("positive")
        driver.find_element(By.CSS_SELECTOR, "#text-form button").click()
        WebDriverWait(driver, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hits .hit")) == 12)
        shown = driver.find_elements(By.CSS_SELECTOR, "#hits .hit")
        assert [int(h.get_attribute("data-row")) for h in shown] == [h["row"] for h in expected]
        WebDriverWait(driver, 20).until(
            lambda d: all(img.get_property("naturalWidth") > 0 for img in d.find_elements(By.CSS_SELECTOR, "#hits img"))
        )
        assert driver.find_element(By.ID, "error").text == ""
    finally:
        driver.quit()
        srv.stop()
