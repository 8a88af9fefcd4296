"""sentilite explore: Model Explorer opens the model with sentilite's overlays.

The browser test runs the real viewer (``ai-edge-model-explorer``) on 127.0.0.1 and loads it in
Debian's headless Chromium: the page must list the latency overlay and colour the ops with the
profile's own values. With ``SENTILITE_DOCS_SCREENSHOTS=1`` its screenshot goes to docs/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO
from sshd_server import free_port

from sentilite.app.explore import explorer_config, find_overlays
from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.errors import InputFileError
from sentilite.core.node_data import write_node_data


def test_overlays_beside_the_model_are_found_and_bad_ones_refused(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(DEFAULT_MODEL_PATH.read_bytes())
    good = write_node_data(tmp_path / "latency.nodedata.json", "latency", {0: 0.1, 3: 0.5})
    assert find_overlays(model) == [good]
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"rows": []}))
    with pytest.raises(InputFileError, match="not a Model Explorer node-data file"):
        explorer_config(model, [bad])
    with pytest.raises(InputFileError, match="does not exist"):
        explorer_config(tmp_path / "missing.tflite", [good])
    pytest.importorskip("model_explorer", reason="the explore extra: pip install 'sentilite[explore]'")
    config = explorer_config(model, [good])
    assert config.model_sources[0]["url"] == str(model.resolve()) and config.node_data_sources == [str(good.resolve())]


@pytest.mark.browser
def test_the_viewer_shows_the_model_with_the_latency_overlay(tmp_path):
    pytest.importorskip("model_explorer", reason="the explore extra: pip install 'sentilite[explore]'")
    from browserkit import chrome

    from sentilite.device_bench.options import BenchOptions
    from sentilite.device_bench.profile_api import ProfileOptions, run_profile

    prof = run_profile(DEFAULT_MODEL_PATH, ProfileOptions(BenchOptions(runs=3, warmup=1, repeat=1)), tmp_path)
    slowest = max(prof.by_threads[0]["ops"], key=lambda r: r["ms"])
    port = free_port()
    cmd = [sys.executable, "-m", "sentilite", "explore", str(DEFAULT_MODEL_PATH), "--port", str(port), "--no-browser"]
    viewer = subprocess.Popen(
        [*cmd, "--overlay", str(tmp_path / "latency.nodedata.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = _address(viewer)
        driver = chrome(["--window-size=1400,900", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"])
        try:
            driver.get(url)
            text = _wait_for(driver, "latency ms (1 thread(s), xnnpack)")
            assert "sentiment_mobilenetv2_int8.tflite" in text and "Sum" in text
            assert str(float(f"{slowest['ms']:.4g}")) in text  # the profile's own numbers
            for r in prof.by_threads[0]["ops"][:3]:  # ... on the right nodes: op i's value beside op i's name
                assert f"{r['op'].lower()} {_as_js(r['ms'])}" in text, r["op"]
            shot = (REPO / "docs" if os.environ.get("SENTILITE_DOCS_SCREENSHOTS") else tmp_path) / "explore.png"
            driver.save_screenshot(str(shot))
        finally:
            driver.quit()
    finally:
        os.killpg(viewer.pid, signal.SIGTERM)
        viewer.wait(timeout=20)


def _as_js(ms: float) -> str:
    """A node-data value as the viewer prints it (JavaScript's number formatting)."""
    text = str(float(f"{ms:.4g}"))
    return text[:-2] if text.endswith(".0") else text


def _address(proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + 120
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("http://127.0.0.1"):
            return line.strip()
    raise AssertionError("the viewer never printed its address: " + "".join(seen[-10:]))


def _wait_for(driver, needle: str, seconds: float = 90) -> str:
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        text = driver.find_element("tag name", "body").text
        if needle in text and "Sum" in text:
            return text
        time.sleep(1)
    raise AssertionError(f"{needle!r} never appeared; the page says: {text[:500]}")
