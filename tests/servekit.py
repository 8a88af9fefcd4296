"""A real ``sentilite serve`` process on 127.0.0.1 for the tests, and a tiny HTTP client (stdlib)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(model: Optional[Path], tmp: Path, *args: str, env: Optional[dict[str, str]] = None) -> Server:
    """Start the server on a free port and wait until /healthz answers."""
    log = tmp / f"serve-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "sentilite", "serve", *([str(model)] if model else []), "--port", "0", *args]
    fh = open(log, "w")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 60
    url = None
    while time.monotonic() < deadline and proc.poll() is None:
        m = re.search(r"on (http://127\.0\.0\.1:\d+)/", log.read_text(errors="replace"))
        if m:
            url = m.group(1)
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2).read()
                return Server(proc, url, log)
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start (url {url}):\n{log.read_text(errors='replace')[-3000:]}")


def request(
    url: str,
    data: Optional[bytes] = None,
    headers: Optional[dict[str, str]] = None,
    method: Optional[str] = None,
    timeout: float = 30,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of one request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        body = err.read()
        return (
            err.code,
            json.loads(body) if body.startswith(b"{") else {"raw": body.decode(errors="replace")},
            dict(err.headers),
        )


def multipart(field: str, filename: str, data: bytes, content_type: str = "image/jpeg") -> tuple[bytes, str]:
    """A multipart/form-data body with one file field; returns (body, content type header)."""
    boundary = "----sentilite-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"
