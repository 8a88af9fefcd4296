"""``sentilite profile``: where a model's time goes, op by op, here, over SSH or over adb."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Optional

import click

EXAMPLES = """\b
Examples:
  sentilite profile model_int8.tflite --threads 1,2 --out runs/profile-desktop
  sentilite profile model_int8.tflite --kernels builtin --out runs/profile-builtin
  sentilite profile model_int8.tflite --device ssh://pi@raspberrypi.local --remote-python ~/litert/bin/python
  sentilite profile model_int8.tflite --device adb --benchmark-binary android_aarch64_benchmark_model --taskset f0
  sentilite explore model_int8.tflite --overlay runs/profile-desktop/latency.nodedata.json

\b
Each op is cut into a one-op model with its real weights and quantisation and timed alone on
the device beside the whole model; the report gives per-op and per-op-type times and shares,
MACs and the share of the CPU's nominal peak, which ops XNNPACK left to the builtin kernels, and
how closely the ops add up to the whole model (and why they differ).
"""


@click.command("profile", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", metavar="MODEL.tflite", type=click.Path(dir_okay=False))
@click.option("--device", default="local", show_default=True, help="local, ssh://user@host[:port] or adb[:SERIAL].")
@click.option("--threads", default="1", show_default=True, metavar="N[,N...]", help="Thread counts to profile.")
@click.option(
    "--kernels",
    type=click.Choice(["xnnpack", "builtin", "reference"]),
    default="xnnpack",
    show_default=True,
    help="LiteRT kernel library to time the ops with.",
)
@click.option("--runs", type=click.IntRange(min=3), default=30, show_default=True, help="Timed invokes per op.")
@click.option("--warmup", type=click.IntRange(min=1), default=3, show_default=True, help="Untimed invokes per op.")
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Independent passes over all ops (2 or more: the top-10 stability check).",
)
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True, help="Ops in the table and plot.")
@click.option("--runtime", default=None, help="Force a runtime: ai-edge-litert, tflite-runtime or tensorflow.")
@click.option("--remote-python", default=None, help="ssh/adb: the device's Python, e.g. ~/litert/bin/python.")
@click.option(
    "--benchmark-binary",
    type=click.Path(dir_okay=False),
    default=None,
    help="adb without a device Python: TFLite's benchmark_model for the phone; each op is a run of it.",
)
@click.option("--taskset", default=None, help="adb: pin the runs to these CPUs (hex mask, e.g. f0).")
@click.option("--identity", type=click.Path(dir_okay=False), default=None, help="ssh: private key file (ssh -i).")
@click.option("--ssh-option", "ssh_options", multiple=True, help="Extra ssh -o KEY=VALUE (repeatable).")
@click.option("--connect-timeout", type=float, default=10.0, show_default=True, help="ssh: seconds to connect.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Report folder.")
def profile_command(
    model: str,
    device: str,
    threads: str,
    kernels: str,
    runs: int,
    warmup: int,
    repeat: int,
    top: int,
    runtime: Optional[str],
    remote_python: Optional[str],
    benchmark_binary: Optional[str],
    taskset: Optional[str],
    identity: Optional[str],
    ssh_options: tuple[str, ...],
    connect_timeout: float,
    out_dir: Optional[str],
) -> None:
    """Per-op latency of MODEL.tflite on a device: profile.md/.json, ops.csv, op_types.csv,
    top_ops.png and latency.nodedata.json (a Model Explorer overlay)."""
    from .options import BenchOptions, SSHOptions
    from .profile_api import ProfileOptions, run_profile

    out = Path(out_dir) if out_dir else Path("runs") / f"{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-profile"
    bench = BenchOptions(
        device=device,
        threads=threads,
        runs=runs,
        warmup=warmup,
        repeat=repeat,
        kernels=kernels,
        xnnpack=kernels == "xnnpack",
        runtime=runtime,
        remote_python=remote_python,
        benchmark_binary=benchmark_binary,
        taskset=taskset,
        ssh=SSHOptions(options=ssh_options, identity=identity, connect_timeout=connect_timeout),
    )
    prof = run_profile(model, ProfileOptions(bench, top), out, log=lambda m: click.echo(m, err=True))
    for tp in prof.by_threads:
        f = tp["faithfulness"]
        whole = f.get("whole_ms")
        click.echo(
            f"{tp['threads']} thread(s): whole {whole:.3f} ms, ops sum {f['sum_ms']:.3f} ms"
            if whole
            else f"{tp['threads']} thread(s): ops sum {f['sum_ms']:.3f} ms (whole model not timed)"
        )
        for t in tp["op_types"][:5]:
            click.echo(f"  {t['op']:<20} {t['count']:>3} ops  {t['ms']:8.3f} ms  {100 * t['share']:5.1f} %")
    click.echo(f"report: {', '.join(str(p) for p in prof.files.values())}", err=True)
    if prof.errors:
        from sentilite.core.errors import DeviceError

        raise DeviceError(prof.errors[0] + f" What was measured is in {out}.")
