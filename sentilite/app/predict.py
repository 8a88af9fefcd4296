"""``sentilite predict``: what a model says of each image, as a table, JSON or CSV (no TensorFlow).

Inputs are image files, folders of images and split files (the images they list), in the order
given. Each answer is a record ``{"path", "sentiment": {"label", "probabilities": {label: p}}}``;
a multi-head model adds each distribution head by name (``"emotions": {emotion: p}``) and each
regression value by its label (``"valence": v, "arousal": a``, on Emotion6's 1-9 scale). An image
that cannot be read is listed and skipped; none readable is an error.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import click

from ..core.errors import ImageReadError, InputFileError
from ..core.heads import Head
from ..core.reading import reading_fields

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
    heads: tuple[Head, ...] = ()

    def _extra_columns(self) -> list[tuple[str, Callable[[dict[str, Any]], float]]]:
        cols: list[tuple[str, Callable[[dict[str, Any]], float]]] = []
        for h in self.heads:
            for n in h.labels:
                if h.kind == "distribution":
                    cols.append((f"p_{n}", lambda r, h=h, n=n: r[h.name][n]))
                else:
                    cols.append((n, lambda r, n=n: r[n]))
        return cols

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        extra = self._extra_columns()
        w.writerow(["path", "label", *[f"p_{name}" for name in self.labels], *[c for c, _ in extra]])
        for r in self.records:
            s = r["sentiment"]
            w.writerow(
                [r["path"], s["label"], *[f"{s['probabilities'][n]:.6f}" for n in self.labels]]
                + [f"{get(r):.6f}" for _, get in extra]
            )
        return buf.getvalue()

    def table(self) -> str:
        width = max([len(r["path"]) for r in self.records] + [4])
        dists = [h for h in self.heads if h.kind == "distribution"]
        values = [n for h in self.heads if h.kind == "regression" for n in h.labels]
        head = (
            f"{'path':<{width}}  {'label':<9}"
            + "".join(f"{n:>10}" for n in self.labels)
            + "".join(f"  {h.name:<16}" for h in dists)
            + "".join(f"{n:>9}" for n in values)
        )
        return "\n".join([head, *[self._row(r, width, dists, values) for r in self.records]])

    def _row(self, r: dict[str, Any], width: int, dists: list[Head], values: list[str]) -> str:
        s = r["sentiment"]
        line = f"{r['path']:<{width}}  {s['label']:<9}" + "".join(
            f"{s['probabilities'][n]:>10.3f}" for n in self.labels
        )
        for h in dists:
            top = max(r[h.name], key=r[h.name].get)
            line += f"  {f'{top} {r[h.name][top]:.2f}':<16}"
        return line + "".join(f"{r[n]:>9.2f}" for n in values)


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
    out = Predictions(list(clf.contract.labels), heads=clf.contract.heads)
    for path in track(paths, "predicting", total=len(paths)):
        try:
            reading = clf.read(load_image(path))
        except ImageReadError as exc:
            out.skipped.append((str(path), exc.problem))
            continue
        probs = reading.sentiment
        sentiment = {
            "label": out.labels[int(probs.argmax())],
            "probabilities": {n: round(float(p), 6) for n, p in zip(out.labels, probs)},
        }
        out.records.append({"path": str(path), "sentiment": sentiment, **reading_fields(reading.heads, out.heads)})
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
    """Say what MODEL answers for each image: its label and every class's probability, and every other
    head it has (the seven emotions, valence and arousal)."""
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
