"""``sentilite convert``: a thin click layer over :func:`convert.api.convert_model`."""

from __future__ import annotations

from typing import Optional

import click

from .calibration import DEFAULT_CALIB_SIZE
from .options import DEFAULT_IO, DEFAULT_TOLERANCE, DEFAULT_VARIANTS
from .variants import IO_TYPES

EXAMPLES = """\b
Examples:
  sentilite convert runs/train/model.keras --calib ../shared/data/emotion6/sentiment_train.txt \\
      --eval ../shared/data/emotion6/sentiment_test.txt --out runs/convert
  sentilite convert model.keras --calib train.txt --eval val.txt --out out --variants float32,int8 --io int8
  sentilite convert model.keras --calib train.txt --eval val.txt --out out --calib-sizes 10,50,200,500
  sentilite convert model.keras --contract contract.json --calib train.txt --eval val.txt --out out --overwrite
"""


@click.command("convert", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--calib", "calib", metavar="SPLIT", help="Labelled images for full-int8 calibration: split file, CSV or class folders (use the training split).")
@click.option("--eval", "eval_", metavar="SPLIT", required=True, help="Labelled images every variant and the Keras model are scored on.")
@click.option("--root", metavar="DIR", type=click.Path(file_okay=False), help="Folder the split files' image paths are relative to (default: the split file's folder).")
@click.option("--out", "out", metavar="DIR", required=True, type=click.Path(file_okay=False), help="Output folder (must not exist unless --overwrite).")
@click.option("--variants", default=",".join(DEFAULT_VARIANTS), show_default=True, help="Comma-separated: float32, float16, dynamic-int8, int8.")
@click.option("--io", "io", type=click.Choice(IO_TYPES), default=DEFAULT_IO, show_default=True, help="Input/output type of the full-int8 variant (float32: float I/O around an int8 body).")
@click.option("--calib-size", type=click.IntRange(min=1), default=DEFAULT_CALIB_SIZE, show_default=True, help="Calibration images, drawn class-balanced from --calib.")
@click.option("--calib-sizes", metavar="N,N,...", help="Also chart full-int8 accuracy against these calibration-set sizes (e.g. 10,50,200,500).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE, show_default=True, help="Accuracy points a variant may lose against Keras.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder from a previous conversion.")
@click.option("--allow-select-tf-ops", is_flag=True, help="Let TensorFlow ops TFLite lacks through as Flex ops (the device then needs the Flex delegate).")
@click.option("--contract", metavar="JSON", type=click.Path(dir_okay=False), help="Preprocessing contract for a .keras model that carries none (contract.json from training).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the calibration-image draw.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Interpreter threads for the latency measurement.")
@click.option("--latency-runs", type=click.IntRange(min=1), default=30, show_default=True, help="Timed runs per variant (median reported).")
@click.option("--kernel-check-images", type=click.IntRange(min=0), default=50, show_default=True,
              help="Also score each variant with LiteRT's builtin and reference kernels on this many images; warn when they disagree with XNNPACK (0: skip).")
@click.option("--pixel-in/--no-pixel-in", default=True, show_default=True,
              help="Move the normalisation inside the model, so every variant takes raw 0-255 RGB pixels (the full-int8 "
                   "uint8 input is the pixel itself, as MediaPipe, ML Kit and Coral feed it).")
@click.option("--no-layer-report", is_flag=True, help="Skip the per-layer int8 error report (QuantizationDebugger).")
@click.option("--repair", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Try the int8 repairs (more calibration, other I/O type, equalisation + output-aware rounding, "
                   "worst layers in float, int16x8, then "
                   "quantisation-aware fine-tuning): "
                   "auto = when int8 misses --tolerance or agrees with Keras on < 97 %.")
@click.option("--qat-epochs", type=click.IntRange(min=0), default=3, show_default=True,
              help="The last int8 repair: epochs of quantisation-aware fine-tuning (fake-quant, distilled from the float "
                   "model), run when the post-training repairs stay below 97 % agreement (0: never).")
@click.option("--qat-images", type=click.IntRange(min=1), default=500, show_default=True,
              help="Calibration images the quantisation-aware fine-tuning trains on (and equalisation and rounding read).")
@click.option("--qat-lr", type=float, default=1e-5, show_default=True, help="Adam learning rate of the fine-tuning.")
@click.option("--name", "model_name", default="", help="Model name in the standard TFLite metadata [default: sentilite image sentiment (VARIANT)].")
@click.option("--model-version", default="", help="Version in the standard metadata [default: the conversion time].")
@click.option("--author", default="", help="Author in the standard metadata.")
@click.option("--license", "license_", default="", help="Licence in the standard metadata (e.g. Apache-2.0, or the data's terms).")
@click.option("--per-tensor", is_flag=True, help="Full-int8 with one weight scale per tensor instead of per channel (for old accelerators; less accurate).")
@click.option("--no-bias-correction", is_flag=True, help="Keep the converter's int8 classifier bias (default: remove the mean logit shift int8 adds, measured on the calibration images).")
def convert_command(
    model: str,
    calib: Optional[str],
    eval_: str,
    root: Optional[str],
    out: str,
    variants: str,
    io: str,
    calib_size: int,
    calib_sizes: Optional[str],
    tolerance: float,
    overwrite: bool,
    allow_select_tf_ops: bool,
    contract: Optional[str],
    seed: int,
    threads: int,
    latency_runs: int,
    kernel_check_images: int,
    pixel_in: bool,
    no_layer_report: bool,
    repair: str,
    qat_epochs: int,
    qat_images: int,
    qat_lr: float,
    model_name: str,
    model_version: str,
    author: str,
    license_: str,
    per_tensor: bool,
    no_bias_correction: bool,
) -> None:
    """Convert MODEL (.keras) to TFLite variants (float32, float16, dynamic-range int8, full
    int8), validate each against the Keras model on --eval through the model's preprocessing
    contract, and write report.md / report.json / report.csv and plots into --out."""
    from .api import convert_model
    from .options import ConvertOptions
    from .variants import QuantizerOptions

    def log(msg: str) -> None:
        click.echo(click.style("[convert] ", fg="cyan") + msg, err=True)

    options = ConvertOptions(
        variants=variants, io=io, calib_size=calib_size, calib_sizes=calib_sizes, tolerance=tolerance, overwrite=overwrite,
        allow_select_tf_ops=allow_select_tf_ops, contract=contract, seed=seed, threads=threads, latency_runs=latency_runs, kernel_check_images=kernel_check_images,
        pixel_in=pixel_in, layer_report=not no_layer_report, repair=repair, qat_epochs=qat_epochs, qat_images=qat_images, qat_lr=qat_lr, model_name=model_name, model_version=model_version, author=author, license=license_,
        quantizer=QuantizerOptions(per_channel=not per_tensor, bias_correction=not no_bias_correction),
    )
    result = convert_model(model, calib=calib, eval=eval_, out=out, root=root, options=options, log=log)
    click.echo(result.table(), nl=False)
    for w in result.warnings:
        click.echo(click.style("warning: ", fg="yellow", bold=True) + w, err=True)
    click.echo(result.recommendation)
    click.echo(f"report: {result.report_md}")
