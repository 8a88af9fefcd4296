"""A password-protected MJPEG stream on 127.0.0.1 for the demo's stream tests (stdlib + OpenCV).

``GET /stream.mjpg`` with HTTP Basic credentials ``user:password`` answers
``multipart/x-mixed-replace`` JPEG frames at ``fps``; after ``frames`` frames the connection is
dropped, as a camera that goes away does; after ``sessions`` such streams it answers 503 (the
camera is gone for good). Without credentials it answers 401 with a Basic challenge, which is
what makes FFmpeg's HTTP client send the ones in the URL.
"""

from __future__ import annotations

import base64
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


class MjpegServer:
    def __init__(
        self,
        user: str,
        password: str,
        frames: int = 60,
        fps: float = 30.0,
        size: tuple[int, int] = (160, 120),
        sessions: int = 1,
    ):
        self.token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.frames, self.fps, self.size, self.sessions = frames, fps, size, sessions
        self.served = 0  # streams served to a client that sent the right credentials
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def __enter__(self) -> MjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _jpeg(self, i: int) -> bytes:
        w, h = self.size
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = ((i * 7) % 255, 80, 200 - (i * 3) % 200)
        return cv2.imencode(".jpg", img)[1].tobytes()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.headers.get("Authorization") != f"Basic {server.token}":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.served >= server.sessions:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                server.served += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for i in range(server.frames):
                        data = server._jpeg(i)
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(data)).encode()
                            + b"\r\n\r\n"
                            + data
                            + b"\r\n"
                        )
                        self.wfile.flush()
                        time.sleep(1.0 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.close_connection = True  # the camera goes away

        return Handler
