"""`sentilite serve`: the JSON API of a real server process on 127.0.0.1."""

from __future__ import annotations

import io
import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from servekit import multipart, request, start_server
from tfguard import attempts, guarded_env

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.imageio import decode_image_bytes


def jpeg(width: int = 160, height: int = 120, seed: int = 0, quality: int = 90, smooth: bool = False) -> bytes:
    """Noise (large files), or a smooth gradient (small files that still take long to decode)."""
    rng = np.random.default_rng(seed)
    if smooth:
        ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
        img = np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8)
    else:
        img = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tiny_variants, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    srv = start_server(tiny_variants["int8"], tmp, "--threads", "2", "--max-mb", "0.5", env=guarded_env(tmp))
    yield srv
    code = srv.stop()
    assert code == 0, srv.stderr()[-2000:]
    assert "stopped on SIGTERM" in srv.stderr()
    assert attempts(tmp) == [], f"the server process tried to import {attempts(tmp)}"


def test_predict_raw_bytes_matches_the_classifier(server, tiny_variants, synthetic_splits):
    data = (synthetic_splits["val"].parent / "images" / "positive").glob("*.jpg").__next__().read_bytes()
    status, body, _ = request(server.url + "/api/predict", data, {"Content-Type": "image/jpeg"})
    assert status == 200, body
    assert set(body) >= {"label", "probabilities", "inference_ms", "model"}
    assert list(body["probabilities"]) == ["negative", "neutral", "positive"]
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert body["inference_ms"] > 0 and len(body["model"]["sha256"]) == 64 and body["model"]["variant"] == "int8"
    expected = TFLiteClassifier(tiny_variants["int8"]).predict(decode_image_bytes(data))
    assert list(body["probabilities"].values()) == pytest.approx(expected.tolist(), abs=1e-5)
    assert body["label"] == ["negative", "neutral", "positive"][int(expected.argmax())]


def test_predict_multipart_field_image(server):
    data = jpeg(seed=1)
    raw = request(server.url + "/api/predict", data)[1]
    body, ctype = multipart("image", "photo.jpg", data)
    status, form, _ = request(server.url + "/api/predict", body, {"Content-Type": ctype})
    assert status == 200 and form["probabilities"] == raw["probabilities"]
    body, ctype = multipart("photo", "photo.jpg", data)
    status, err, _ = request(server.url + "/api/predict", body, {"Content-Type": ctype})
    assert status == 400 and "no file field named 'image'" in err["error"]


@pytest.mark.parametrize(
    "what, payload, code, words",
    [
        ("text", b"hello, this is not a picture", 415, "not an image"),
        ("truncated jpeg", None, 400, "truncated or corrupt"),
        ("empty", b"", 400, "no body"),
    ],
)
def test_bad_uploads_name_the_problem(server, what, payload, code, words):
    if payload is None:
        payload = jpeg(seed=2)[:400]
    status, body, _ = request(server.url + "/api/predict", payload, {"Content-Type": "application/octet-stream"})
    assert status == code and words in body["error"] and body["fix"], (what, status, body)


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """POST over a bare socket, reading the answer even when the server cuts the upload short
    (a 413 is sent before the body is read; urllib would only report the broken pipe)."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=30) as sock:
        head = f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        try:
            sock.sendall(head.encode())
            if headers.get("Transfer-Encoding") == "chunked":
                for i in range(0, len(body), 65536):
                    piece = body[i : i + 65536]
                    sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sock.sendall(b"0\r\n\r\n")
            else:
                sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: read what it said
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1])
    payload = answer.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(payload[payload.index(b"{") : payload.rindex(b"}") + 1])


def test_too_large_is_413_by_header_and_by_stream(server):
    big = jpeg(1600, 1200, seed=3, quality=100)
    assert len(big) > 0.5 * 2**20
    status, body = raw_post(server.url + "/api/predict", big, {"Content-Length": str(len(big))})
    assert status == 413 and "at most" in body["error"] and "--max-mb" in body["fix"]
    status, body = raw_post(server.url + "/api/predict", big, {"Transfer-Encoding": "chunked"})  # no length given
    assert status == 413
    form, ctype = multipart("image", "big.jpg", big)
    assert (
        raw_post(server.url + "/api/predict", form, {"Content-Type": ctype, "Content-Length": str(len(form))})[0] == 413
    )
    assert request(server.url + "/healthz")[1]["in_flight"] == 0


def test_model_and_health(server):
    status, info, _ = request(server.url + "/api/model")
    assert status == 200 and info["labels"] == ["negative", "neutral", "positive"]
    assert info["contract"]["input"]["height"] == 32 and info["sha256"] and "runtime" in info
    status, health, _ = request(server.url + "/healthz")
    assert status == 200 and health["status"] == "ok" and health["threads"] == 2 and health["queue"] == 64


def test_pages_are_served(server):
    import urllib.request

    for path, words in (("/", "Drop a photo here"), ("/camera", "getUserMedia"), ("/static/camera.js", "getUserMedia")):
        text = urllib.request.urlopen(server.url + path).read().decode()
        if path == "/camera":
            assert "/static/camera.js" in text
        else:
            assert words in text, path


def test_a_full_queue_answers_503_and_the_rest_succeed(tmp_path):
    """One worker, a queue of one, a burst of slow uploads: some are refused at once, none fails otherwise."""
    srv = start_server(DEFAULT_MODEL_PATH, tmp_path, "--threads", "1", "--queue", "1")
    try:
        slow = jpeg(4000, 3000, smooth=True)  # small upload, tens of ms to decode: the slot stays taken
        with ThreadPoolExecutor(16) as ex:
            answers = list(ex.map(lambda _: request(srv.url + "/api/predict", slow), range(16)))
        codes = [a[0] for a in answers]
        assert 503 in codes and 200 in codes and set(codes) <= {200, 503}, codes
        _, body, headers = next(a for a in answers if a[0] == 503)
        assert "busy" in body["error"] and {k.lower(): v for k, v in headers.items()}.get("retry-after") == "1"
        health = request(srv.url + "/healthz")[1]
        assert health["refused"] >= 1 and health["in_flight"] == 0
    finally:
        assert srv.stop() == 0


def test_sigterm_finishes_the_request_in_flight(tmp_path):
    srv = start_server(DEFAULT_MODEL_PATH, tmp_path)
    slow = jpeg(6000, 4500, smooth=True)  # well under the size limit, ~0.1 s to decode
    result = {}
    t = threading.Thread(target=lambda: result.update(r=request(srv.url + "/api/predict", slow)))
    t.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and request(srv.url + "/healthz")[1]["in_flight"] == 0:
        time.sleep(0.002)
    srv.proc.send_signal(signal.SIGTERM)
    t.join(30)
    assert srv.proc.wait(30) == 0, srv.stderr()[-2000:]
    assert result["r"][0] == 200 and result["r"][1]["label"] in ("negative", "neutral", "positive")
    assert "stopped on SIGTERM after 1 request(s)" in srv.stderr()


def test_a_busy_port_is_a_clear_error(tiny_variants, tmp_path):
    import socket
    import subprocess
    import sys

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "serve", str(tiny_variants["int8"]), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    taken.close()
    assert proc.returncode == 2 and f"Cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port 0" in proc.stderr


def test_each_worker_thread_has_its_own_interpreter(tiny_variants, monkeypatch):
    """No interpreter is ever used by two threads (LiteRT interpreters are not thread-safe)."""
    from sentilite.app.serve import inference

    used: dict[int, set[int]] = {}
    real_run = inference.TFLiteClassifier.run

    def spying_run(self, x):
        used.setdefault(id(self), set()).add(threading.get_ident())
        return real_run(self, x)

    monkeypatch.setattr(inference.TFLiteClassifier, "run", spying_run)
    pool = inference.InferencePool(tiny_variants["int8"], threads=3, queue=32)
    try:
        data = jpeg(seed=6)
        futures = []
        for _ in range(30):
            pool.admit()
            futures.append(pool.submit(data))
        results = [f.result(timeout=30) for f in futures]
        for _ in futures:
            pool.release()
    finally:
        pool.close()
    assert len({r["label"] for r in results}) == 1 and len({tuple(r["probabilities"].values()) for r in results}) == 1
    assert 1 <= len(used) <= 3 and all(len(threads) == 1 for threads in used.values()), used


def test_a_multi_head_model_answers_every_head_and_describes_them(three_head_files, synthetic_splits, tmp_path):
    """/api/predict adds the issue-30 fields (emotions, valence, arousal) equal to the classifier's
    reading; /api/model lists the heads; a one-head model's answers gain none of them."""
    model = three_head_files[1]["int8"]
    srv = start_server(model, tmp_path, env=guarded_env(tmp_path))
    try:
        data = next((synthetic_splits["val"].parent / "images" / "negative").glob("*.jpg")).read_bytes()
        status, body, _ = request(srv.url + "/api/predict", data, {"Content-Type": "image/jpeg"})
        assert status == 200, body
        want = TFLiteClassifier(model).read(decode_image_bytes(data))
        assert list(body["emotions"].values()) == pytest.approx(want.heads["emotions"].tolist(), abs=1e-5)
        assert [body["valence"], body["arousal"]] == pytest.approx(want.heads["valence_arousal"].tolist(), abs=1e-3)
        status, described, _ = request(srv.url + "/api/model")
        assert [h["name"] for h in described["heads"]] == ["emotions", "valence_arousal"]
    finally:
        assert srv.stop() == 0
    assert attempts(tmp_path) == []


def test_a_one_head_model_answers_have_no_head_fields(server):
    data = jpeg()
    status, body, _ = request(server.url + "/api/predict", data, {"Content-Type": "image/jpeg"})
    assert status == 200 and not {"emotions", "valence", "arousal"} & set(body)


def test_a_model_without_a_semantic_head_says_so_on_the_search_routes(server):
    for route in ("/api/embed", "/api/search"):
        status, body, _ = request(server.url + route, jpeg(), {"Content-Type": "image/jpeg"})
        assert status == 404 and "no semantic head" in body["error"] and "--heads semantic" in body["fix"]
