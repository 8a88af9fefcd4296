"""`sentilite serve` against misbehaving clients, over raw sockets to a real server process:
malformed forms, oversized forms, slow bodies, clients that vanish mid-upload, pixel bombs.

Each test names the defect that turns it red."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from payloads import bomb_png
from servekit import multipart, request, start_server


@pytest.fixture(scope="module")
def server(tiny_variants, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve_hostile")
    srv = start_server(
        tiny_variants["int8"], tmp, "--threads", "1", "--queue", "2", "--max-mb", "0.5", "--body-timeout", "2"
    )
    yield srv
    assert srv.stop() == 0, srv.stderr()[-2000:]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM): what a decode allocated even if it freed it since."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def connect(url: str) -> socket.socket:
    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=20)
    return sock


def head(url: str, path: str, headers: dict[str, str]) -> bytes:
    u = urlsplit(url)
    text = f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n"
    return (text + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) read until the server closes."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode(errors="replace").split("\r\n")
    headers = dict(ln.lower().split(": ", 1) for ln in lines[1:] if ": " in ln)
    return int(lines[0].split()[1]), headers, body


def test_every_error_is_json_with_a_fix(server):
    """404, 405 and starlette's own 400 for a malformed multipart body. Planted defect: drop the
    HTTPException handler from create_app; they come back as text/plain."""
    for url, data, headers, code in [
        (server.url + "/nope", None, {}, 404),
        (server.url + "/api/predict", None, {}, 405),  # GET
        (
            server.url + "/api/predict",
            b"--x\r\ngarbage without headers",
            {"Content-Type": "multipart/form-data; boundary=x"},
            400,
        ),
        (server.url + "/api/predict", b"no boundary", {"Content-Type": "multipart/form-data"}, 400),
    ]:
        status, body, hdrs = request(url, data, headers)
        assert status == code, (url, status, body)
        assert {k.lower(): v for k, v in hdrs.items()}["content-type"].startswith("application/json"), (code, hdrs)
        assert body["error"] and "fix" in body, body
    assert request(server.url + "/nope")[1]["fix"].startswith("the routes are")


def test_a_request_that_is_not_http_gets_json_too(server):
    """uvicorn answers unparsable HTTP itself, before any route. Planted defect: start uvicorn with
    its own protocol class; the answer is text/plain `Invalid HTTP request received.`"""
    sock = connect(server.url)
    sock.sendall(b"GARBAGE \x00\x01 not http at all\r\n\r\n")
    status, headers, body = answer(sock)
    sock.close()
    assert status == 400 and headers["content-type"] == "application/json", (headers, body)
    assert json.loads(body)["error"] == "The request is not valid HTTP." and json.loads(body)["fix"]


def test_an_oversized_form_is_refused_while_it_streams(server):
    """The form is cut at 0.6 MB (limit 0.5 MB) and the client then waits, sending nothing more:
    the 413 must come before the body ends. Planted defect: parse the form with starlette's
    streaming parser (it spools the file part to disk and waits for the rest); no answer comes."""
    body, ctype = multipart("image", "big.jpg", b"\xff\xd8\xff" + b"\0" * 2_000_000)
    sock = connect(server.url)
    sock.sendall(head(server.url, "/api/predict", {"Content-Type": ctype, "Transfer-Encoding": "chunked"}))
    piece = body[:600_000]
    sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    sock.settimeout(10)
    status, headers, payload = answer(sock)  # the rest is never sent
    sock.close()
    assert status == 413 and headers["content-type"].startswith("application/json"), (status, payload[:200])
    assert "at most" in json.loads(payload)["error"]


def slow_client(url: str, declared: int = 5000) -> socket.socket:
    sock = connect(url)
    sock.sendall(
        head(url, "/api/predict", {"Content-Type": "image/jpeg", "Content-Length": str(declared)}) + b"\xff\xd8\xff"
    )
    return sock


def test_slow_uploads_hold_no_queue_slot_and_are_cut_off(server, synthetic_splits):
    """Four clients trickle a body (queue of 2): a fifth, normal client still gets its answer,
    and each slow one gets a JSON 408 after --body-timeout (2 s). Planted defect: admit to the
    queue before reading the body; the normal client then gets 503."""
    photo = next((synthetic_splits["val"].parent / "images" / "positive").glob("*.jpg")).read_bytes()
    slow = [slow_client(server.url) for _ in range(4)]
    try:
        time.sleep(0.3)
        status, body, _ = request(server.url + "/api/predict", photo, {"Content-Type": "image/jpeg"})
        assert status == 200, body
        for sock in slow:
            sock.settimeout(15)
            code, headers, payload = answer(sock)
            assert code == 408 and "did not arrive within 2 s" in json.loads(payload)["error"], (code, payload[:200])
    finally:
        for sock in slow:
            sock.close()
    assert request(server.url + "/healthz")[1]["in_flight"] == 0


def test_clients_that_vanish_mid_upload_cost_the_log_one_line(tiny_variants, tmp_path):
    """30 clients send half a body and hang up. Planted defect: let ClientDisconnect reach
    uvicorn; the log then holds a traceback per client."""
    srv = start_server(tiny_variants["int8"], tmp_path)
    try:
        for _ in range(30):
            sock = slow_client(srv.url, declared=100_000)
            sock.sendall(b"\0" * 20_000)
            sock.close()
        time.sleep(1.0)
        assert request(srv.url + "/healthz")[0] == 200
    finally:
        assert srv.stop() == 0
    log = srv.stderr()
    assert "Traceback" not in log, log[-3000:]
    lines = [ln for ln in log.splitlines() if "disconnected mid-upload" in ln]
    assert 1 <= len(lines) <= 2, log[-3000:]


def test_a_pixel_bomb_is_refused_without_the_memory(tiny_variants, tmp_path):
    """A 300 KB PNG of 10000x10000 px. Planted defect: decode without the budget; the server's
    RSS then grows by over 300 MB."""
    srv = start_server(tiny_variants["int8"], tmp_path, "--max-mb", "2")
    try:
        before = peak_rss_mb(srv.proc.pid)
        status, body, _ = request(srv.url + "/api/predict", bomb_png(10000, 10000), {"Content-Type": "image/png"})
        assert status == 400 and "10000x10000 px" in body["error"] and "--max-mpx" in body["fix"], body
        grown = peak_rss_mb(srv.proc.pid) - before
        assert grown < 100, grown
    finally:
        assert srv.stop() == 0
