"""``sentilite tag``: zero-shot tags for photos from a model's semantic head (issue 31; no TensorFlow).

The head maps a photo into GloVe's word space; its tags are the words whose vectors have the
largest cosine with it. The words are the model's own vocabulary (carried in the file), or those
given with ``--words``/``--words-file``: a word the model carries needs nothing else, any other
needs the word vectors (``sentilite[semantic]``), and the error says so where they are missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import click

from ..core.errors import ContractError, ImageReadError, InputFileError
from ..core.vocabulary import Tag, Vocabulary

PathLike = Union[str, os.PathLike]

EXAMPLES = """\b
Examples:
  sentilite tag photo.jpg                                    # the bundled model and its own words
  sentilite tag photo.jpg --model runs/s/convert/model_int8.tflite
  sentilite tag photos/ --model m.tflite --words dog,cat,"car crash" -k 3 --json tags.json
  sentilite tag photos/ --model m.tflite --words-file ../shared/data/oasis/zero_shot_heldout_themes.txt
"""


@dataclass
class Tagged:
    """Per image its best tags, in input order, and the images that could not be read."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def table(self) -> str:
        width = max([len(r["path"]) for r in self.records] + [4])
        rows = [
            f"{r['path']:<{width}}  " + ", ".join(f"{t['word']} {t['score']:.2f}" for t in r["tags"])
            for r in self.records
        ]
        return "\n".join([f"{'path':<{width}}  tags (cosine)", *rows])


def candidate_words(model_vocabulary: Optional[Vocabulary], words: Sequence[str]) -> Vocabulary:
    """The vocabulary to tag with: ``words`` (from the model's vectors where it has them, else from
    the word vectors), or the model's own vocabulary when no words are given."""
    if not words:
        if model_vocabulary is None:
            raise InputFileError("The model carries no vocabulary.", "pass --words or --words-file")
        return model_vocabulary
    known = set(model_vocabulary.words) if model_vocabulary is not None else set()
    outside = [w for w in words if w not in known]
    if not outside:
        return model_vocabulary.subset(words)  # type: ignore[union-attr]
    from ..core.word_vectors import load_glove

    glove = load_glove()  # raises WordVectorsMissing, naming the package, where it is not installed
    fresh = glove.vocabulary(outside)
    by_word = dict(zip(fresh.words, fresh.vectors))
    if model_vocabulary is not None:
        by_word.update({w: v for w, v in zip(model_vocabulary.words, model_vocabulary.vectors) if w in words})
    import numpy as np

    return Vocabulary.build(list(words), np.stack([by_word[w] for w in words]))


def open_semantic(model: PathLike, threads: Optional[int] = None) -> tuple[Any, str, Optional[Vocabulary]]:
    """(the classifier, its embedding head's name, the vocabulary it carries)."""
    from ..core.classifier import TFLiteClassifier
    from ..core.vocabulary_file import read_vocabulary

    clf = TFLiteClassifier(model, num_threads=threads or os.cpu_count() or 1)
    head = next((h for h in clf.contract.heads if h.kind == "embedding"), None)
    if head is None:
        raise ContractError(
            f"{Path(model).name} has no semantic head, so it cannot tag.",
            "train one with `sentilite train --heads semantic` and convert it",
        )
    return clf, head.name, read_vocabulary(model)


def tag_images(model: PathLike, paths: Sequence[Path], words: Sequence[str] = (), k: int = 5) -> Tagged:
    """The ``k`` best tags of each image (see the module docstring)."""
    from ..core.imageio import load_image
    from ..core.progress import track

    clf, head, carried = open_semantic(model)
    vocabulary = candidate_words(carried, words)
    out = Tagged()
    for path in track(paths, "tagging", total=len(paths)):
        try:
            embedding = clf.read(load_image(path)).heads[head]
        except ImageReadError as exc:
            out.skipped.append((str(path), exc.problem))
            continue
        tags: list[Tag] = vocabulary.tags(embedding, k)
        out.records.append({"path": str(path), "tags": [{"word": t.word, "score": t.score} for t in tags]})
    return out


def read_words(words: Optional[str], words_file: Optional[str]) -> list[str]:
    """--words (a comma list) or --words-file (one label a line; several words on a line are one phrase)."""
    from ..core.word_vectors import read_word_list

    if words and words_file:
        raise InputFileError("Both --words and --words-file given.", "pass one of them")
    if words_file:
        return read_word_list(words_file)
    return list(dict.fromkeys(w.strip() for w in (words or "").split(",") if w.strip()))


@click.command("tag", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE|FOLDER|SPLIT...")
@click.option(
    "--model", type=click.Path(dir_okay=False), help="A .tflite with a semantic head [default: the bundled model]."
)
@click.option("--words", help="Tag with these labels, a comma list [default: the model's own vocabulary].")
@click.option("--words-file", type=click.Path(dir_okay=False, exists=True), help="Tag with these labels, one a line.")
@click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Tags per image.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the records as a JSON list here.")
def tag_command(
    inputs: tuple[str, ...],
    model: Optional[str],
    words: Optional[str],
    words_file: Optional[str],
    k: int,
    json_out: Optional[str],
) -> None:
    """Tag each image with the words closest to it in the model's word space (zero-shot: any words)."""
    from ..core.default_model import resolve_model
    from ..core.fsutil import atomic_write_json
    from .predict import expand_inputs

    path, _ = resolve_model(model, "pass a .tflite with a semantic head: sentilite tag IMAGES --model MODEL.tflite")
    result = tag_images(path, expand_inputs(inputs), read_words(words, words_file), k)
    for where, why in result.skipped:
        click.echo(click.style("skipped ", fg="yellow") + f"{where}: {why}", err=True)
    if not result.records:
        raise InputFileError(f"None of the {len(result.skipped)} images could be read.", "check the paths and formats")
    if json_out:
        atomic_write_json(json_out, result.records)
        click.echo(f"{len(result.records)} image(s) tagged, {len(result.skipped)} skipped", err=True)
    else:
        click.echo(result.table())


__all__ = ["Tagged", "candidate_words", "read_words", "tag_command", "tag_images"]
