"""``sentilite convert``: a thin click layer over :func:`convert.api.convert_model`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable, Optional

import click

from .options import QUANTIZER_FLAGS, ConvertOptions, Flag
from .variants import QuantizerOptions

EXAMPLES = """\b
Examples:
  sentilite convert runs/train/model.keras --calib ../shared/data/emotion6/sentiment_train.txt \\
      --eval ../shared/data/emotion6/sentiment_test.txt --out runs/convert
  sentilite convert model.keras --calib train.txt --eval val.txt --out out --variants float32,int8 --io int8
  sentilite convert model.keras --calib train.txt --eval val.txt --out out --calib-sizes 10,50,200,500
  sentilite convert model.keras --contract contract.json --calib train.txt --eval val.txt --out out --overwrite
"""


def _click_option(dest: str, flag: Flag, default: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option of one declared :class:`~convert.options.Flag` (its default from the dataclass)."""
    if flag.kind == "flag":
        return click.option(flag.name, dest, is_flag=True, help=flag.help)
    if flag.kind == "off":  # the flag turns the field off; the command turns it back into the field's value
        return click.option(flag.name, dest, is_flag=True, help=flag.help)
    if flag.kind == "toggle":
        base = flag.name[2:]
        return click.option(f"--{base}/--no-{base}", dest, default=default, show_default=True, help=flag.help)
    if flag.choices:
        kind: Any = click.Choice(flag.choices)
    elif isinstance(default, bool) or default is None or isinstance(default, str):
        kind = None
    elif isinstance(default, int):
        kind = click.IntRange(min=flag.minimum) if flag.minimum is not None else int
    elif isinstance(default, float):
        kind = click.FloatRange(min=flag.minimum) if flag.minimum is not None else float
    else:
        kind = None
    shown = ",".join(default) if isinstance(default, tuple) else default
    return click.option(
        flag.name,
        dest,
        type=kind,
        default=shown,
        metavar=flag.metavar,
        show_default=default not in (None, ""),
        help=flag.help,
    )


def _declared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every ConvertOptions field that declares a Flag, and the quantiser's flags, as click options."""
    specs = [(f.name, f.metadata["cli"], f.default) for f in fields(ConvertOptions) if "cli" in f.metadata]
    specs += [(name, flag, getattr(QuantizerOptions(), name)) for name, flag in QUANTIZER_FLAGS.items()]
    for dest, flag, default in reversed(specs):
        command = _click_option(dest, flag, default)(command)
    return command


def options_from_cli(values: dict[str, Any]) -> ConvertOptions:
    """ConvertOptions from the declared options' values ("off" flags given mean False)."""
    declared = {f.name: f.metadata["cli"] for f in fields(ConvertOptions) if "cli" in f.metadata} | QUANTIZER_FLAGS
    kw = {name: (not value if declared[name].kind == "off" else value) for name, value in values.items()}
    return ConvertOptions.from_keywords(**kw)


@click.command("convert", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--calib",
    "calib",
    metavar="SPLIT",
    help="Labelled images for full-int8 calibration: split file, CSV or class folders (use the training split).",
)
@click.option(
    "--eval",
    "eval_",
    metavar="SPLIT",
    required=True,
    help="Labelled images every variant and the Keras model are scored on.",
)
@click.option(
    "--root",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Folder the split files' image paths are relative to (default: the split file's folder).",
)
@click.option(
    "--out",
    "out",
    metavar="DIR",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder (must not exist unless --overwrite).",
)
@_declared_options
def convert_command(
    model: str, calib: Optional[str], eval_: str, root: Optional[str], out: str, **declared: Any
) -> None:
    """Convert MODEL (.keras) to TFLite variants (float32, float16, dynamic-range int8, full
    int8), validate each against the Keras model on --eval through the model's preprocessing
    contract, and write report.md / report.json / report.csv and plots into --out."""
    from .api import convert_model

    def log(msg: str) -> None:
        click.echo(click.style("[convert] ", fg="cyan") + msg, err=True)

    result = convert_model(
        model, calib=calib, eval=eval_, out=out, root=root, options=options_from_cli(declared), log=log
    )
    click.echo(result.table(), nl=False)
    for w in result.warnings:
        click.echo(click.style("warning: ", fg="yellow", bold=True) + w, err=True)
    click.echo(result.recommendation)
    click.echo(f"report: {result.report_md}")
