"""``sentilite predict``: what a model says of each image, as a table, JSON or CSV (no TensorFlow).

Inputs are image files, folders of images and split files (the images they list), in the order
given. Each answer is a record ``{"path", "sentiment": {"label", "probabilities": {label: p}}}``:
the shape issue 30's multi-head models extend with ``emotions``, ``valence`` and ``arousal``. An
image that cannot be read is listed and skipped; none readable is an error.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import click

from ..core.errors import ImageReadError, InputFileError

PathLike = Union[str, os.PathLike]

EXAMPLES = """\b
Examples:
  sentilite predict photo.jpg holiday/                          # the bundled model, a table
  sentilite predict ../shared/data/emotion6/sentiment_test.txt --json answers.json
  sentilite predict photos/ --model runs/c/model_int8.tflite --csv answers.csv
"""


@dataclass
class Predictions:
    """The answers, in input order, and the images that could not be read."""

    labels: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["path", "label", *[f"p_{name}" for name in self.labels]])
        for r in self.records:
            s = r["sentiment"]
            w.writerow([r["path"], s["label"], *[f"{s['probabilities'][n]:.6f}" for n in self.labels]])
        return buf.getvalue()

    def table(self) -> str:
        width = max([len(r["path"]) for r in self.records] + [4])
        head = f"{'path':<{width}}  {'label':<9}" + "".join(f"{n:>10}" for n in self.labels)
        rows = [
            f"{r['path']:<{width}}  {r['sentiment']['label']:<9}"
            + "".join(f"{r['sentiment']['probabilities'][n]:>10.3f}" for n in self.labels)
            for r in self.records
        ]
        return "\n".join([head, *rows])


def expand_inputs(inputs: Sequence[PathLike]) -> list[Path]:
    """Image files as given, a folder's images (sorted), a split file's listed images."""
    from ..core.datasets import list_images, read_split_file
    from ..core.imageio import is_image_file

    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += list_images(p)
        elif p.is_file() and is_image_file(p):
            paths.append(p)
        elif p.is_file():
            paths += [Path(s.path) for s in read_split_file(p).samples]
        else:
            raise InputFileError(f"{p} does not exist.", "pass image files, folders of images or split files")
    if not paths:
        raise InputFileError("No image to predict.", "pass image files, folders of images or split files")
    return paths


def predict_images(model: PathLike, paths: Sequence[Path], threads: Optional[int] = None) -> Predictions:
    """Run ``model`` on each image (its contract's preprocessing and decision rule)."""
    from ..core.classifier import TFLiteClassifier
    from ..core.imageio import load_image
    from ..core.progress import track

    clf = TFLiteClassifier(model, num_threads=threads or os.cpu_count() or 1)
    out = Predictions(list(clf.contract.labels))
    for path in track(paths, "predicting", total=len(paths)):
        try:
            probs = clf.predict(load_image(path))
        except ImageReadError as exc:
            out.skipped.append((str(path), exc.problem))
            continue
        sentiment = {
            "label": out.labels[int(probs.argmax())],
            "probabilities": {n: round(float(p), 6) for n, p in zip(out.labels, probs)},
        }
        out.records.append({"path": str(path), "sentiment": sentiment})
    return out


@click.command("predict", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE|FOLDER|SPLIT...")
@click.option(
    "--model", type=click.Path(dir_okay=False), help="A .tflite made by sentilite (default: the bundled model)."
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the records as a JSON list here.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Write one row per image here.")
@click.option("--threads", type=click.IntRange(min=1), help="Interpreter threads [default: all cores].")
def predict_command(
    inputs: tuple[str, ...],
    model: Optional[str],
    json_out: Optional[str],
    csv_out: Optional[str],
    threads: Optional[int],
) -> None:
    """Say what MODEL answers for each image: its label and every class's probability."""
    from ..core.default_model import resolve_model
    from ..core.fsutil import atomic_write_json, atomic_write_text

    path, _ = resolve_model(model, "pass a .tflite: sentilite predict IMAGES --model MODEL.tflite")
    result = predict_images(path, expand_inputs(inputs), threads)
    for where, why in result.skipped:
        click.echo(click.style("skipped ", fg="yellow") + f"{where}: {why}", err=True)
    if not result.records:
        raise InputFileError(f"None of the {len(result.skipped)} images could be read.", "check the paths and formats")
    if json_out:
        atomic_write_json(json_out, result.records)
    if csv_out:
        atomic_write_text(csv_out, result.csv_text())
    if not json_out and not csv_out:
        click.echo(result.table())
    else:
        click.echo(f"{len(result.records)} image(s) predicted, {len(result.skipped)} skipped", err=True)


__all__ = ["Predictions", "expand_inputs", "predict_command", "predict_images"]
