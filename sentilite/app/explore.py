"""``sentilite explore``: open a model in Google's Model Explorer with sentilite's overlays.

The overlays are Model Explorer node-data files: ``latency.nodedata.json`` from ``sentilite
profile`` (per-op time) and ``int8_error.nodedata.json`` from ``sentilite convert`` (per-op int8
error against float). The viewer is an extra (``pip install 'sentilite[explore]'``), never needed
on a device; it serves a web page on this machine (127.0.0.1 by default).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import click

from ..core.errors import InputFileError, RuntimeMissingError
from ..core.node_data import read_node_data

PathLike = Union[str, os.PathLike]
EXTRA_HINT = "pip install 'sentilite[explore]' (Google's ai-edge-model-explorer)"


def find_overlays(model: Path) -> list[Path]:
    """The node-data files beside ``model`` (a convert or profile folder), in name order."""
    return sorted(model.parent.glob("*.nodedata.json"))


def explorer_config(model: PathLike, overlays: Sequence[PathLike]) -> Any:
    """Model Explorer's config with the model and each overlay (each checked to be node data)."""
    path = Path(model)
    if not path.is_file():
        raise InputFileError(f"{path} does not exist.", "pass a .tflite file: sentilite explore MODEL.tflite")
    for o in overlays:
        read_node_data(o)
    try:
        import model_explorer
    except ImportError:
        raise RuntimeMissingError("Model Explorer is not installed.", EXTRA_HINT) from None
    config = model_explorer.config().add_model_from_path(str(path.resolve()))
    for o in overlays:
        config.add_node_data_from_path(str(Path(o).resolve()))
    return config


def explore(
    model: PathLike,
    overlays: Optional[Sequence[PathLike]] = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    open_browser: bool = True,
) -> None:
    """Serve Model Explorer for ``model`` with ``overlays`` (default: those beside it) until Ctrl-C."""
    chosen = list(overlays) if overlays is not None else find_overlays(Path(model))
    config = explorer_config(model, chosen)
    from model_explorer import visualize_from_config

    visualize_from_config(config, host=host, port=port, no_open_in_browser=not open_browser)


EXAMPLES = """\b
Examples:
  sentilite explore runs/convert/model_int8.tflite                 # with every *.nodedata.json beside it
  sentilite explore model_int8.tflite --overlay runs/profile/latency.nodedata.json
  sentilite explore model_int8.tflite --port 8081 --no-browser     # print the address only
"""


@click.command("explore", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", metavar="MODEL.tflite", type=click.Path(dir_okay=False))
@click.option(
    "--overlay",
    "overlays",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A node-data file (repeatable); default: every *.nodedata.json beside MODEL.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the viewer listens on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser; print the address only.")
def explore_command(model: str, overlays: tuple[str, ...], host: str, port: int, no_browser: bool) -> None:
    """Open MODEL.tflite in Model Explorer with latency (sentilite profile) and int8-error
    (sentilite convert) overlays colouring its ops."""
    chosen = list(overlays) if overlays else find_overlays(Path(model))
    click.echo(f"overlays: {', '.join(str(o) for o in chosen) or 'none'}", err=True)
    explore(model, chosen, host, port, not no_browser)
