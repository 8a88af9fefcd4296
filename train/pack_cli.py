"""``sentilite data pack`` (the click front of :mod:`train.pack`) and ``sentilite data split``."""

from __future__ import annotations

from typing import Optional

import click

from sentilite.core.contract import INTERPOLATIONS, RESIZE_POLICIES

from .pack import FORMATS

EXAMPLES = """\b
Examples:
  sentilite data pack ../shared/data/emotion6/sentiment_train.txt --out packs/emotion6-train
  sentilite data pack b-t4sa/b-t4sa_train.txt --out packs/bt4sa --processes 16 --shard-size 4096
  sentilite train --data packs/bt4sa --val b-t4sa/b-t4sa_val.txt --mode ft-a --strategy mirrored \\
      --precision mixed_float16
  sentilite data split ../shared/data/oasis/sentiment_all.txt --fraction 0.2 --seed 0 --out runs/lists/oasis
  sentilite data split ../shared/data/emotion6/sentiment_val.txt --absolute > val_abs.txt
"""


@click.group("data", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
def data_group() -> None:
    """Prepare training data at scale."""


@data_group.command("pack", epilog=EXAMPLES)
@click.argument("split")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Pack folder to write (shards + pack.json)."
)
@click.option("--root", type=click.Path(file_okay=False), help="Folder the split's image paths are relative to.")
@click.option("--size", type=int, default=224, show_default=True, help="Square input size of the model it is for.")
@click.option("--resize", type=click.Choice(RESIZE_POLICIES), default="center_crop", show_default=True)
@click.option("--interpolation", type=click.Choice(INTERPOLATIONS), default="warp_linear", show_default=True)
@click.option(
    "--contract",
    "contract_file",
    type=click.Path(dir_okay=False),
    help="Take size, crop and resize from a contract.json instead.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jpeg",
    show_default=True,
    help="jpeg: ~10x smaller, decoded while training; raw: exact pixels.",
)
@click.option("--quality", type=int, default=95, show_default=True, help="JPEG quality.")
@click.option(
    "--shard-size", type=int, default=2048, show_default=True, help="Images per shard (at least one shard per worker)."
)
@click.option("--processes", type=int, help="Decoding processes [default: CPU count].")
@click.option("--overwrite", is_flag=True, help="Replace an existing pack folder.")
def pack_command(
    split: str,
    out: str,
    root: Optional[str],
    size: int,
    resize: str,
    interpolation: str,
    contract_file: Optional[str],
    fmt: str,
    quality: int,
    shard_size: int,
    processes: Optional[int],
    overwrite: bool,
) -> None:
    """Decode, crop and resize every image of SPLIT once, in parallel processes, into TFRecord
    shards that `sentilite train --data DIR` streams. Unreadable images are skipped and listed."""
    from pathlib import Path

    from sentilite.core.contract import PreprocessContract

    from .pack import PackOptions, pack_split

    if contract_file:
        contract = PreprocessContract.from_json(Path(contract_file).read_text(encoding="utf-8"))
    else:
        contract = PreprocessContract.create(size, "raw", resize=resize, interpolation=interpolation)
    m = pack_split(
        split, out, contract, PackOptions(fmt, quality, shard_size, processes), root=root, overwrite=overwrite
    )
    mb = sum((Path(out) / s["file"]).stat().st_size for s in m["shards"]) / 1e6
    click.echo(
        f"packed {m['records']} of {m['listed']} images into {len(m['shards'])} shard(s), {mb:.1f} MB "
        f"({1e3 * mb / max(1, m['records']):.1f} kB/image, {fmt}); {m['n_skipped']} skipped; "
        f"{m['pack_seconds']:.1f} s with {m['processes']} process(es) -> {out}"
    )
    for item in m["skipped"][:10]:
        click.echo(f"  skipped {item['path']}: {item['reason']}", err=True)


@data_group.command("split", epilog=EXAMPLES)
@click.argument("split")
@click.option(
    "--fraction",
    type=click.FloatRange(0, 1),
    default=0.2,
    show_default=True,
    help="Share of each class that goes to val.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder for train.txt and val.txt.")
@click.option("--absolute", is_flag=True, help="Print SPLIT with absolute image paths and stop.")
def split_command(split: str, fraction: float, seed: int, out: Optional[str], absolute: bool) -> None:
    """Split a labelled list into a stratified, seeded train/val pair (B-T4SA line format,
    absolute image paths, so they can be concatenated with other lists and used from anywhere)."""
    from pathlib import Path

    from sentilite.core.datasets import read_dataset, split_file_text, stratified_split
    from sentilite.core.errors import InputFileError
    from sentilite.core.fsutil import atomic_write_text

    ds = read_dataset(split)
    if absolute:
        click.echo(split_file_text(ds.samples), nl=False)
        return
    if not out:
        raise InputFileError("`sentilite data split` needs --out (or --absolute).", "e.g. --out runs/lists/oasis")
    train, val = stratified_split(ds.samples, fraction, seed)
    atomic_write_text(Path(out) / "train.txt", split_file_text(train))
    atomic_write_text(Path(out) / "val.txt", split_file_text(val))
    click.echo(f"{split}: {len(train)} train, {len(val)} val -> {out}", err=True)
