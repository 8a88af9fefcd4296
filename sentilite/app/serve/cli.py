"""``sentilite serve [MODEL]``: the web app and JSON API on uvicorn."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from pathlib import Path
from typing import Any, Iterator, Optional

import click

EPILOG = """\b
Examples:
  sentilite serve                                   # the bundled model on http://127.0.0.1:8000
  sentilite serve runs/mnv2-tflite/model_int8.tflite --port 8080 --threads 2
  sentilite serve --host 0.0.0.0                    # reachable from the network: say so explicitly
  curl --data-binary @photo.jpg http://127.0.0.1:8000/api/predict
  curl -F image=@photo.jpg http://127.0.0.1:8000/api/predict
"""


def load_card(model: Path, is_default: bool) -> Optional[dict[str, Any]]:
    """The model card: the bundled model's, or a ``MODEL.json`` beside the file, else None."""
    if is_default:
        from ...core.default_model import default_model_card

        return default_model_card()
    from ...core.bounded_read import read_json_file

    sidecar = model.with_suffix(".json")
    try:
        return read_json_file(sidecar) if sidecar.is_file() else None
    except (OSError, ValueError):  # informational: the server runs without a card
        return None


@click.command("serve", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; anything but loopback must be asked for."
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port (0: any free port)."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Inference worker threads, each with its own single-threaded interpreter.",
)
@click.option(
    "--queue",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Requests queued or running at most; beyond it the server answers 503.",
)
@click.option(
    "--max-mb",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    help="Largest upload accepted (413 above).",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="An upload not fully received after this long is cut off (408); no queue slot is held meanwhile.",
)
@click.option(
    "--max-mpx",
    type=click.FloatRange(min=0.1),
    default=24.0,
    show_default=True,
    help="Largest image decoded, in megapixels (checked on the header; a JPEG over it is decoded at 1/2-1/8 scale).",
)
@click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, exists=True),
    help="A photo index made with this model (`sentilite index`): the /search page and /api/search.",
)
def serve_command(
    model: Optional[str],
    host: str,
    port: int,
    threads: int,
    queue: int,
    max_mb: float,
    body_timeout: float,
    max_mpx: float,
    index_dir: Optional[str],
) -> None:
    """Serve MODEL (default: the bundled model): an upload page at /, a live browser camera at
    /camera, and a JSON API (POST /api/predict, GET /api/model, GET /healthz); a model with a
    semantic head adds POST /api/embed, and with --index a /search page and /api/search. Runs on uvicorn
    without TensorFlow; stops gracefully on Ctrl-C or SIGTERM, finishing requests in flight."""
    from ...core.default_model import resolve_model
    from .inference import InferencePool, model_description

    try:
        import uvicorn

        from .protocol import json_400_protocol
        from .server import create_app
    except ImportError as exc:
        from ...core.errors import RuntimeMissingError

        raise RuntimeMissingError(
            f"`sentilite serve` needs Starlette and uvicorn ({exc}).", "pip install 'sentilite[serve]'"
        ) from None
    path, is_default = resolve_model(model, "pass the model to serve: sentilite serve MODEL.tflite")
    pool = InferencePool(path, threads=threads, queue=queue, max_pixels=int(max_mpx * 1e6))
    info = model_description(path, pool, load_card(path, is_default))
    index = _open_index(index_dir, path, info["sha256"]) if index_dir else None
    app = create_app(pool, info, max_bytes=int(max_mb * 2**20), body_timeout_s=body_timeout, index=index)
    _log_to_stderr()
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            click.style("warning: ", fg="yellow", bold=True)
            + f"binding {host}: the server is reachable from other machines (no authentication)",
            err=True,
        )
    sock = _bind(host, port)
    server = _graceful_server(
        uvicorn.Config(
            app,
            http=json_400_protocol(),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
            lifespan="off",
        )
    )
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    click.echo(
        f"serving {path.name} ({pool.runtime}, {threads} worker thread(s), queue {queue}) on "
        f"http://{shown}:{bound[1]}/  (camera: /camera, API: /api/predict; Ctrl-C to stop)",
        err=True,
    )
    try:
        server.run(sockets=[sock])  # returns after SIGINT / SIGTERM, once the requests in flight are answered
    finally:
        pool.close()
    why = f" on {signal.Signals(server.stop_signal).name}" if server.stop_signal else ""
    click.echo(f"stopped{why} after {pool.handled} request(s), {pool.refused} refused as busy", err=True)


def _log_to_stderr() -> None:
    """The server's own one-line warnings (rate-limited by the app) on stderr, time-stamped."""
    import logging

    log = logging.getLogger("sentilite.serve")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s serve: %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.propagate = False


def _graceful_server(config: Any) -> Any:
    """A uvicorn server for ``config`` (uvicorn is imported only when serving)."""
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, minus re-raising the stop signal after its graceful shutdown: the
        command then closes its worker pool, says why it stopped and exits 0."""

        stop_signal: Optional[int] = None

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)
                self.stop_signal = self._captured_signals[0] if getattr(self, "_captured_signals", None) else None

    return GracefulServer(config)


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port, or a one-line error naming the fix."""
    from ...core.errors import InputFileError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections made before uvicorn starts accepting wait in the backlog
    except OSError as exc:
        sock.close()
        raise InputFileError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}).",
            "pass another --port (or --port 0 for any free one), or stop what uses it",
        ) from None
    return sock


def _open_index(folder: str, model: Path, sha256: str) -> Any:
    """The photo index, refused at start-up when another model made it (another word space)."""
    from ...core.errors import ContractError
    from ...core.photo_index import PhotoIndex, model_mismatch

    index = PhotoIndex.open(folder)
    why = model_mismatch(index, sha256, model.name)
    if why:
        raise ContractError(why + ".", "serve the model that made the index, or index the photos with this one")
    return index
