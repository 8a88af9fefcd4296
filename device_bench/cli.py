"""``sentilite bench``: measure models locally, over SSH or over adb; ``bench compare`` merges devices.

A thin layer over :func:`device_bench.api.run_bench` and :func:`device_bench.compare.compare`.
``sentilite bench MODEL ...`` runs the benchmark; ``sentilite bench compare A.json B.json``
merges results. (A click group whose default command takes everything that is not ``compare``.)
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Optional

import click

from sentilite.core.errors import DeviceError, SentiliteError

from .records import TableRow

RUN_EXAMPLES = """\b
Examples:
  sentilite bench model_int8.tflite model_float32.tflite --threads 1,2 --out runs/bench-desktop
  sentilite bench model_int8.tflite model.keras --repeat 3 --out runs/bench-desktop   # with the Keras baseline
  sentilite bench model_int8.tflite --device ssh://pi@raspberrypi.local --threads 1,4 --images photos/ \\
      --out runs/bench-pi
  sentilite bench model_int8.tflite --device adb --benchmark-binary ./android_aarch64_benchmark_model \\
      --taskset f0 --out runs/bench-phone
  sentilite bench compare runs/bench-desktop/results.json runs/bench-pi/results.json --out runs/bench-compare

\b
MODEL is a .tflite (or a .keras: the Keras baseline, local only); without MODEL the bundled
model is measured. `sentilite bench compare --help` explains merging several devices.
"""

COMPARE_EXAMPLES = """\b
Examples:
  sentilite bench compare runs/bench-desktop/results.json runs/bench-pi/results.json --out runs/bench-compare
  sentilite bench compare runs/bench-desktop runs/bench-pi runs/bench-phone --out runs/bench-compare
"""


def _default_out() -> Path:
    return Path("runs") / f"{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-bench"


class _DefaultCommand(click.Command):
    """The run command, shown as ``sentilite bench [OPTIONS] [MODEL]...`` in its usage line."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        path = ctx.parent.command_path if ctx.parent is not None else ctx.command_path
        formatter.write_usage(path, " ".join(self.collect_usage_pieces(ctx)))
        formatter.write_usage(path, "compare RESULTS.json... --out DIR", prefix="       ")


class BenchGroup(click.Group):
    """Routes ``compare`` to the compare command and everything else to the run command."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group("bench", cls=BenchGroup, epilog=RUN_EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
def bench_command() -> None:
    """Measure size and latency of models locally, over SSH or over adb."""


@bench_command.command(
    "run",
    cls=_DefaultCommand,
    hidden=True,
    epilog=RUN_EXAMPLES,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("models", nargs=-1, metavar="[MODEL]...", type=click.Path(dir_okay=False))
@click.option(
    "--device",
    default="local",
    show_default=True,
    metavar="WHERE",
    help="local, ssh://user@host[:port] (a Raspberry Pi or any Linux box) or adb[:SERIAL] (Android).",
)
@click.option(
    "--threads", default="1", show_default=True, metavar="N[,N...]", help="Thread counts to measure, e.g. 1,2,4."
)
@click.option(
    "--runs", type=click.IntRange(min=1), default=50, show_default=True, help="Timed runs per model x threads."
)
@click.option(
    "--min-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Keep timing until this many seconds have passed (at least --runs runs).",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Untimed warm-up runs after the first inference.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Independent processes per model x threads; >1 adds a 95% confidence interval of the median.",
)
@click.option(
    "--images",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of real images, encoded on this machine through each model's contract (default: random inputs).",
)
@click.option(
    "--max-images",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Use at most this many images from --images.",
)
@click.option(
    "--benchmark-binary",
    type=click.Path(dir_okay=False),
    default=None,
    help="adb: TFLite's native benchmark_model built for the phone (android_aarch64).",
)
@click.option(
    "--taskset",
    default=None,
    metavar="MASK",
    help="Pin the benchmark to these CPUs (hex mask, e.g. f0 = CPUs 4-7, the big cores on many phones).",
)
@click.option(
    "--remote-python",
    default=None,
    metavar="PATH",
    help="ssh/adb: the device's Python (default: python3), e.g. /home/pi/venv/bin/python.",
)
@click.option(
    "--ssh-option",
    "ssh_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra ssh -o option (repeatable), e.g. StrictHostKeyChecking=accept-new.",
)
@click.option(
    "--ssh-config", type=click.Path(dir_okay=False), default=None, help="ssh: use this ssh_config file (ssh -F)."
)
@click.option(
    "--identity",
    type=click.Path(dir_okay=False),
    default=None,
    help="ssh: private key file (ssh -i); default: your agent and ~/.ssh keys.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="ssh: seconds to wait for the connection.",
)
@click.option(
    "--timeout",
    "job_timeout",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Give up on one model x threads after this many seconds without a result.",
)
@click.option(
    "--no-xnnpack",
    is_flag=True,
    help="Measure TFLite's built-in kernels without the default XNNPACK delegate (= --kernels builtin).",
)
@click.option(
    "--kernels",
    type=click.Choice(["xnnpack", "builtin", "reference"]),
    default=None,
    help="LiteRT kernel library to measure (Python runner); recorded in every result.",
)
@click.option(
    "--runtime",
    default=None,
    metavar="NAME",
    help="Force a runtime: ai-edge-litert, tflite-runtime or tensorflow (Python runner).",
)
@click.option(
    "--sustained",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Run each model without pause this long: latency and temperature over time, first vs last minute, "
    "throttling from /sys/class/thermal, cpufreq and vcgencmd; writes sustained.png.",
)
@click.option(
    "--cv-threshold",
    type=click.FloatRange(min=0),
    default=0.10,
    show_default=True,
    help="Flag results whose std/mean exceeds this.",
)
@click.option("--no-plot", is_flag=True, help="Do not draw latency_vs_size.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of a table.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder for results.json/.csv/.md and the plot (default: runs/<time>-bench).",
)
def run_command(
    models: tuple[str, ...],
    device: str,
    threads: str,
    runs: int,
    min_seconds: Optional[float],
    warmup: int,
    repeat: int,
    images: Optional[str],
    max_images: int,
    benchmark_binary: Optional[str],
    taskset: Optional[str],
    remote_python: Optional[str],
    ssh_options: tuple[str, ...],
    ssh_config: Optional[str],
    identity: Optional[str],
    connect_timeout: float,
    job_timeout: float,
    no_xnnpack: bool,
    runtime: Optional[str],
    cv_threshold: float,
    no_plot: bool,
    as_json: bool,
    out_dir: Optional[str],
    sustained: Optional[float],
    kernels: Optional[str],
) -> None:
    """Benchmark MODEL(s): per model x thread count, in a fresh process, load + allocate time,
    first inference, warm-up, then N timed runs with min/median/mean/p90/p99/std and throughput,
    peak RSS and its growth, the runtime and whether XNNPACK was applied, and the CPU's model,
    cores, governor and temperature. Writes a table, results.json, results.csv and a plot of
    median latency vs model size."""
    from .api import run_bench
    from .options import BenchOptions, SSHOptions

    out = Path(out_dir) if out_dir else _default_out()

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    options = BenchOptions(
        device=device,
        threads=threads,
        runs=runs,
        warmup=warmup,
        min_seconds=min_seconds,
        repeat=repeat,
        images=images,
        max_images=max_images,
        xnnpack=not no_xnnpack,
        kernels=kernels,
        runtime=runtime,
        taskset=taskset,
        remote_python=remote_python,
        benchmark_binary=benchmark_binary,
        cv_threshold=cv_threshold,
        job_timeout=job_timeout,
        plot=not no_plot,
        sustained=sustained,
        ssh=SSHOptions(options=ssh_options, config=ssh_config, identity=identity, connect_timeout=connect_timeout),
    )
    res = run_bench(list(models) or None, options, out_dir=out, log=log)
    _show(res.rows, res.table(), as_json)
    click.echo(f"results: {', '.join(str(p) for p in res.files.values())}", err=True)
    if res.errors:
        raise DeviceError(res.errors[0] + (f" Results gathered before the failure are in {out}." if res.runs else ""))
    failed = [r for r in res.rows if r.get("error")]
    if failed:
        raise SentiliteError(
            f"{len(failed)} of {len(res.rows)} measurements failed; first: {failed[0]['model']} "
            f"x{failed[0]['threads']}: {failed[0]['error']}",
            f"see {res.files.get('table')}",
        )


def _show(rows: list[TableRow], table: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        click.echo(table, nl=False)


@bench_command.command("compare", epilog=COMPARE_EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results", nargs=-1, required=True, metavar="RESULTS.json...", type=click.Path(exists=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder (default: runs/<time>-bench-compare).",
)
@click.option("--no-plot", is_flag=True, help="Do not draw latency_vs_size.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the merged rows as JSON instead of a table.")
def compare_command(results: tuple[str, ...], out_dir: Optional[str], no_plot: bool, as_json: bool) -> None:
    """Merge several devices' results.json (or the folders holding them) into one table,
    comparison.json/.csv/.md and one plot of median latency vs size, coloured by device."""
    from .compare import compare

    out = Path(out_dir) if out_dir else Path("runs") / f"{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-bench-compare"
    merged = compare(list(results), out, plot=not no_plot)
    _show(merged["rows"], merged["table"], as_json)
    click.echo(f"results: {', '.join(str(p) for p in merged['files'].values())}", err=True)
