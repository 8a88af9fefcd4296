"""``sentilite index`` and ``sentilite search``: a photo collection searched with a word or a photo
in a semantic head's word space (issue 31; device side, no TensorFlow).

The index is a folder (:mod:`sentilite.core.photo_index`) that remembers the model it was made
with; a text query is that model's word vector for the phrase (from its vocabulary, else from the
word vectors), an image query the photo's own embedding.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import click
import numpy as np

from ..core.errors import ContractError, ImageReadError, InputFileError
from ..core.photo_index import Hit, PhotoIndex, model_mismatch, write_index

PathLike = Union[str, os.PathLike]

EXAMPLES = """\b
Examples:
  sentilite index holiday/ --out holiday.index                                # the bundled model
  sentilite index holiday/ --model runs/s/convert/model_int8.tflite --out holiday.index
  sentilite search holiday.index --text beach -k 5
  sentilite search holiday.index --image holiday/IMG_0042.jpg --json hits.json
"""


def index_photos(model: PathLike, paths: Sequence[Path], out: PathLike) -> tuple[Path, list[tuple[str, str]]]:
    """Embed every photo of ``paths`` with ``model``'s semantic head into the index folder ``out``;
    returns (the folder, the photos that could not be read, with why)."""
    from ..core.fsutil import sha256_file
    from ..core.imageio import load_image
    from ..core.progress import track
    from .tag import open_semantic

    clf, head, _ = open_semantic(model)
    skipped: list[tuple[str, str]] = []

    def rows() -> Iterator[tuple[str, np.ndarray]]:
        for path in track(paths, "indexing", total=len(paths)):
            try:
                yield str(Path(path).absolute()), clf.read(load_image(path)).heads[head]
            except ImageReadError as exc:
                skipped.append((str(path), exc.problem))

    manifest = {
        "model": Path(model).name,
        "model_path": str(Path(model).absolute()),
        "model_sha256": sha256_file(model),
    }
    dims = next(h.dims for h in clf.contract.heads if h.name == head)
    return write_index(out, rows(), {**manifest, "head": head}, dims), skipped


def query_vector(
    index: PhotoIndex, text: Optional[str], image: Optional[PathLike], model: Optional[PathLike]
) -> np.ndarray:
    """The query as a vector in the index's space (see the module docstring)."""
    from ..core.fsutil import sha256_file
    from ..core.imageio import load_image
    from .tag import candidate_words, open_semantic

    if (text is None) == (image is None):
        raise InputFileError("Give one query.", "pass --text WORDS or --image PHOTO")
    path = Path(model or str(index.manifest.get("model_path", "")))
    if not path.is_file():
        raise InputFileError(f"The model that made {index.folder} is not at {path}.", "pass it with --model")
    why = model_mismatch(index, sha256_file(path), path.name)
    if why:
        raise ContractError(why + ": its word space is another.", "query with the model that made the index")
    clf, head, carried = open_semantic(path)
    if text is not None:
        return candidate_words(carried, [text]).vectors[0]
    return clf.read(load_image(image)).heads[head]  # type: ignore[arg-type]


def search_photos(
    index: PathLike,
    text: Optional[str] = None,
    image: Optional[PathLike] = None,
    model: Optional[PathLike] = None,
    k: int = 10,
) -> list[Hit]:
    """The ``k`` photos of ``index`` closest to a phrase or a photo, best first."""
    opened = PhotoIndex.open(index)
    return opened.search(query_vector(opened, text, image, model), k)


@click.command("index", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE|FOLDER|SPLIT...")
@click.option(
    "--model", type=click.Path(dir_okay=False), help="A .tflite with a semantic head [default: the bundled model]."
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The index folder to write.")
def index_command(inputs: tuple[str, ...], model: Optional[str], out: str) -> None:
    """Embed photos with a model's semantic head into an index folder that `sentilite search` reads."""
    from ..core.default_model import resolve_model
    from .predict import expand_inputs

    path, _ = resolve_model(model, "pass a .tflite with a semantic head: sentilite index PHOTOS --model MODEL.tflite")
    folder, skipped = index_photos(path, expand_inputs(inputs), out)
    for where, why in skipped:
        click.echo(click.style("skipped ", fg="yellow") + f"{where}: {why}", err=True)
    opened = PhotoIndex.open(folder)
    click.echo(f"{folder}: {len(opened.paths)} photo(s), {opened.vectors.shape[1]}-d, {len(skipped)} skipped")


@click.command("search", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("index", type=click.Path(file_okay=False, exists=True))
@click.option("--text", help="Find photos that a word or phrase describes.")
@click.option("--image", type=click.Path(dir_okay=False, exists=True), help="Find photos like this one.")
@click.option("--model", type=click.Path(dir_okay=False), help="The model the index was made with [default: its own].")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Photos to return.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the hits as a JSON list here.")
def search_command(
    index: str, text: Optional[str], image: Optional[str], model: Optional[str], k: int, json_out: Optional[str]
) -> None:
    """The photos of INDEX closest to a phrase (--text) or a photo (--image), best first."""
    from ..core.fsutil import atomic_write_json

    hits = search_photos(index, text, image, model, k)
    records: list[dict[str, Any]] = [{"path": h.path, "score": h.score} for h in hits]
    if json_out:
        atomic_write_json(json_out, records)
    for h in hits:
        click.echo(f"{h.score:7.3f}  {h.path}")


__all__ = ["index_command", "index_photos", "query_vector", "search_command", "search_photos"]
