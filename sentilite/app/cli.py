"""The ``sentilite`` command: one click group fronting train, convert, bench, demo and more.

Sub-commands are imported only when run, so ``sentilite info`` or ``demo`` never pays for
(or needs) TensorFlow. Every user-facing error ends as one line naming the problem and the
fix, with a non-zero exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Optional

import click

from .. import __version__
from ..core.errors import SentiliteError
from ..core.signals import sigterm_as_interrupt, terminated

#: name -> (module, attribute, short help). Kept static so ``--help`` imports nothing heavy.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "quickstart": (
        "sentilite.app.quickstart",
        "quickstart_command",
        "Run the whole pipeline end to end into one run folder.",
    ),
    "train": (
        "sentilite.train.cli",
        "train_command",
        "Train a sentiment model (FT-F / FT-A / two-phase, distillation).",
    ),
    "evaluate": (
        "sentilite.app.evaluate_cli",
        "evaluate_command",
        "Score a .keras or .tflite model on a labelled split, here or on a device.",
    ),
    "calibrate": (
        "sentilite.train.calibrate",
        "calibrate_command",
        "Fit calibration and the neutral decision rule on validation images.",
    ),
    "convert": (
        "sentilite.convert.cli",
        "convert_command",
        "Convert a .keras model to every TFLite variant, validated.",
    ),
    "bench": ("sentilite.device_bench.cli", "bench_command", "Measure size and latency locally, over SSH or over adb."),
    "profile": (
        "sentilite.device_bench.profile_cli",
        "profile_command",
        "Per-op latency of a .tflite model, here, over SSH or over adb.",
    ),
    "explore": (
        "sentilite.app.explore",
        "explore_command",
        "Open a model in Model Explorer with latency or int8-error overlays.",
    ),
    "demo": ("sentilite.camera_demo.cli", "demo_command", "Live scene sentiment from a camera, video, URL or folder."),
    "info": ("sentilite.app.cli_info", "info_command", "Show what a model file is: variant, I/O, contract, size."),
    "predict": (
        "sentilite.app.predict",
        "predict_command",
        "Say what a model answers for images, folders or split files.",
    ),
    "tag": ("sentilite.app.tag", "tag_command", "Zero-shot tags for photos from a model's semantic head."),
    "index": ("sentilite.app.search", "index_command", "Embed a photo collection for search in word space."),
    "search": ("sentilite.app.search", "search_command", "Find photos in an index by a phrase or a photo."),
    "data": (
        "sentilite.train.pack_cli",
        "data_group",
        "Split a labelled list (stratified, seeded); pack it into TFRecord shards.",
    ),
    "standin": (
        "sentilite.device_bench.standin_cli",
        "standin_command",
        "Start/stop a Raspberry Pi stand-in (aarch64 under qemu) on 127.0.0.1.",
    ),
    "serve": ("sentilite.app.serve.cli", "serve_command", "Serve a model: upload page, browser camera and JSON API."),
}


def debug_enabled(ctx: Optional[click.Context] = None) -> bool:
    ctx = ctx or click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(os.environ.get("SENTILITE_DEBUG")) or bool(root and root.obj and root.obj.get("debug"))


def fail(message: str, code: int, at_once: bool = False) -> None:
    """Print ``message`` as a one-line error and exit with ``code``; ``at_once`` (an error whose
    ``exit_at_once`` is set) flushes what Python holds and skips interpreter teardown."""
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    if at_once:
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, with one-line error reporting."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            if debug_enabled(ctx):
                raise
            fail(f"the '{name}' command cannot be loaded ({exc}). Fix: reinstall sentilite (pip install -e .).", 2)
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(n, h) for n, (_, _, h) in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        # SIGTERM ends every command like Ctrl-C: staging folders, runner processes and temporary
        # files are cleaned up by the code written for KeyboardInterrupt (serve and demo install
        # their own graceful handlers on top).
        with sigterm_as_interrupt():
            try:
                return super().invoke(ctx)
            except (click.exceptions.Exit, click.ClickException, click.Abort):
                raise
            except SentiliteError as exc:
                if debug_enabled(ctx):
                    raise
                fail(str(exc), exc.exit_code, at_once=exc.exit_at_once)
            except KeyboardInterrupt:
                fail("terminated (SIGTERM).", 143) if terminated() else fail("interrupted.", 130)
            except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
                if debug_enabled(ctx):
                    raise
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                fail(
                    f"unexpected {type(exc).__name__}: {first[:300]} (run `sentilite --debug ...` for the traceback)", 1
                )


EXAMPLES = """\b
Examples:
  sentilite quickstart                         # synthetic data, whole pipeline, < 5 min
  sentilite info model.tflite                  # what is inside a model file
  sentilite demo --source 0                    # live camera with the bundled model
"""


@click.group(cls=LazyGroup, epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sentilite")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """sentilite: image-sentiment models from Keras to measured, quantized LiteRT models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:  # native logs (LiteRT's banners, converter diagnostics) reach the console too
        os.environ["SENTILITE_DEBUG"] = "1"


def main(argv: Optional[list[str]] = None) -> None:
    cli.main(args=argv, prog_name="sentilite")


if __name__ == "__main__":
    main()
