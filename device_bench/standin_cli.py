"""``sentilite standin build|start|stop|status``: the Raspberry Pi stand-in on 127.0.0.1 (see standin.py)."""

from __future__ import annotations

import json
from typing import Optional

import click

EPILOG = """\\b
Examples (as root; needs Debian's mmdebstrap and qemu-user-static):
  sentilite standin start                 # build once (~10 min, cached), start sshd, self-check
  sentilite standin status
  sentilite bench model_int8.tflite --device ssh://pi@127.0.0.1:PORT \\\\
      --ssh-config ~/.cache/sentilite/standin/*/ssh_config --remote-python /opt/litert/bin/python
  sentilite standin stop
"""


@click.group("standin", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
def standin_command() -> None:
    """A Raspberry Pi OS stand-in: Debian bookworm arm64 under qemu-user (Cortex-A72), with its
    own Python, LiteRT and sshd on 127.0.0.1. For numerics and the SSH path, not for speed:
    every result from it is labelled as emulated."""


@standin_command.command("build")
@click.option("--force", is_flag=True, help="Rebuild even when the cached one matches the recipe.")
def build_command(force: bool) -> None:
    """Build (or reuse) the stand-in's root filesystem."""
    from .standin import build

    click.echo(str(build(force=force, log=lambda m: click.echo(m, err=True))))


@standin_command.command("start")
@click.option("--port", type=int, default=None, help="sshd port on 127.0.0.1 (default: a free one).")
@click.option("--no-check", is_flag=True, help="Skip the numerics self-check (not recommended).")
def start_command(port: Optional[int], no_check: bool) -> None:
    """Start the stand-in (building it first if needed) and check its numerics."""
    from .standin import start

    state = start(port=port, check=not no_check, log=lambda m: click.echo(m, err=True))
    click.echo(json.dumps(state, indent=1))


@standin_command.command("stop")
def stop_command() -> None:
    """Stop sshd and unmount."""
    from .standin import stop

    if not stop():
        click.echo("the stand-in was not running", err=True)


@standin_command.command("status")
def status_command() -> None:
    """Print the running stand-in's device string, ssh_config and Python (exit 1 when stopped)."""
    from .standin import status

    state = status()
    if state is None:
        click.echo("stopped", err=True)
        raise SystemExit(1)
    click.echo(json.dumps(state, indent=1))
