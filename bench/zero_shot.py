"""Issue 31's zero-shot figure: OASIS's 48 held-out themes, named by a semantic head never taught them.

The recipe: `sentilite train --heads semantic --semantic-prior conse` on the ImageNet MobileNetV2
of ../shared (FT-F, the head on cached backbone features; train/semantic_prior.py): the head is
ConSE, the frozen ImageNet classifier (rank 48) read as a word vector, plus a projection trained
with the hinge rank loss (Adam, cosine to 0 over 60 epochs, lr 3e-3; the last epoch kept). Its L2
and its data (OASIS's training themes alone, or with Emotion6's emotion words) are chosen by
top-5 on a validation fifth of the 197 training themes, each candidate trained without them.
The held-out themes carry no concept (core.affect), so their words never reach a training; they
are scored once, at the end. The same recipe without the prior is the "head alone" row. Then, on
the int8 files:

- zero-shot: each of the 176 photos of the 48 held-out themes tagged among those 48 theme labels
  (a label is the theme's words, their mean GloVe vector): top-1, top-5, top-10 with Wilson 95 %
  intervals; and the generalised figure, among all 245 themes;
- the baselines beside it (bench/zero_shot_baselines.py): a ridge from the frozen ImageNet
  features to the theme vectors, ConSE with its top-T classes, and their sum.

    python -m bench.zero_shot --out runs/zero-shot --cache-dir runs/affect-heads/.cache   # ~15 min on 2 cores

Writes <out>/zero_shot.json and <out>/zero_shot.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.zero_shot_baselines import ranks
from sentilite.core.affect import oasis_theme, read_heldout_themes
from sentilite.core.datasets import read_split_file
from sentilite.core.fsutil import atomic_write_json, atomic_write_text
from sentilite.core.metrics import wilson_interval

ROOT = Path(__file__).resolve().parents[1]
GOALS = {1: 0.30, 5: 0.72, 10: 0.85}
CHANCE = {k: k / 48 for k in GOALS}


def oasis_photos(shared: Path) -> list[tuple[Path, str]]:
    """(photo, theme) for every OASIS photo of the split file."""
    import csv

    with open(shared / "data/oasis/valence.csv", encoding="utf-8", newline="") as fh:
        theme_of = {row["file"]: oasis_theme(row["theme"]) for row in csv.DictReader(fh)}
    return [(p, theme_of[p.name]) for p in read_split_file(shared / "data/oasis/sentiment_all.txt").paths]


def train_semantic(args: argparse.Namespace, name: str, oasis: Path, choice: dict[str, Any], prior: bool) -> Path:
    """One semantic head (FT-F on cached features) on the OASIS photos of ``oasis``, with Emotion6
    train when ``choice["emotion6"]``. No validation set, no early stopping: every run keeps its
    last epoch (the cosine schedule has decayed to 0); the best epoch by validation loss is the
    sentiment head's (epoch 1 here), which leaves the projection at one noisy step of Adam. No
    dropout and no flipped views: on the validation fifth (L2 0.01) they lowered top-5 from 0.73
    to 0.66 (flips) and 0.44 (both, with early stopping on the training loss)."""
    from sentilite.train import TrainConfig, train

    run = args.out / name
    if (run / "metrics.json").is_file():
        return run / "model.keras"
    data = [str(oasis)] + ([str(args.shared / "data/emotion6/sentiment_train.txt")] if choice["emotion6"] else [])
    config = TrainConfig(
        data=data,
        backbone_file=str(args.shared / "weights/mobilenet_v2_imagenet_1.0_224.keras"),
        feature_layer="gap",
        mode="ft-f",
        heads=("semantic",),
        semantic_prior="conse" if prior else "none",
        semantic_prior_rank=args.prior_rank,
        head_l2=choice["head_l2"],
        head_dropout=0.0,
        augment="none",
        preset="adam-cosine",
        lr=3e-3,
        epochs=args.epochs,
        keep="last",
        decision="none",
        out=str(run),
        cache_dir=str(args.cache_dir or args.out / ".cache"),
        verbose=False,
        plots=False,
    )
    return train(config).model_path


def keras_embeddings(model: Path, photos: list[Path]) -> np.ndarray:
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier

    clf = KerasClassifier(model)
    return np.stack([clf.read(load_image(p)).heads["semantic"] for p in photos])


def choose_recipe(args: argparse.Namespace, photos: list[tuple[Path, str]], heldout: set[str], glove: Any) -> dict:
    """The prior head's L2 and data (OASIS alone, or with Emotion6's emotion words), by top-5 on
    the validation fifth of the training themes: each candidate is trained without those themes'
    photos, then scored on them among their own labels."""
    from bench.zero_shot_baselines import val_top5, validation_split
    from sentilite.core.datasets import Sample, split_file_text

    _, fit, val = validation_split(photos, heldout)
    label = {str(s.path): s.label for s in read_split_file(args.shared / "data/oasis/sentiment_all.txt")}
    fit_file = args.out / "oasis_fit.txt"
    atomic_write_text(fit_file, split_file_text([Sample(photos[i][0], label[str(photos[i][0])]) for i in fit]))
    vec = {t: glove.phrase_vector(t) for t in {photos[i][1] for i in val}}
    scores = []
    for emotion6 in (False, True):
        for l2 in args.head_l2_grid:
            choice = {"head_l2": l2, "emotion6": emotion6}
            model = train_semantic(args, f"select-l2-{l2:g}{'-e6' if emotion6 else ''}", fit_file, choice, prior=True)
            choice["val_top5"] = val_top5(keras_embeddings(model, [photos[i][0] for i in val]), photos, val, vec)
            print(f"candidate {choice}", flush=True)
            scores.append(choice)
    return {"candidates": scores, "chosen": max(scores, key=lambda c: c["val_top5"])}


def convert_int8(model: Path, args: argparse.Namespace) -> Path:
    from sentilite.convert import ConvertOptions, convert

    int8 = model.parent / "convert" / f"{model.stem}_int8.tflite"
    if not int8.is_file():
        e6 = args.shared / "data/emotion6"
        options = ConvertOptions(variants=("float32", "int8"), repair="never", layer_report=False, latency_runs=5)
        convert(
            model,
            options,
            calib=e6 / "sentiment_train.txt",
            eval=e6 / "sentiment_val.txt",
            out=model.parent / "convert",
        )
    return int8


def topk(r: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"n": int(len(r))}
    for k in GOALS:
        hits = int((r < k).sum())
        out[f"top{k}"], out[f"top{k}_ci95"] = hits / len(r), [round(v, 4) for v in wilson_interval(hits, len(r))]
    return out


def head_embeddings(model: Path, photos: list[Path]) -> np.ndarray:
    from sentilite.app.tag import open_semantic
    from sentilite.core.imageio import load_image

    clf, head, _ = open_semantic(model, threads=2)
    return np.stack([clf.read(load_image(p)).heads[head] for p in photos])


def evaluate(embeddings: np.ndarray, truth: list[str], held: list[str], every: list[str], glove: Any) -> dict[str, Any]:
    held_vec = np.stack([glove.phrase_vector(t) for t in held])
    all_vec = np.stack([glove.phrase_vector(t) for t in every])
    return {
        "heldout": topk(ranks(embeddings, truth, held, held_vec)),
        "generalised": topk(ranks(embeddings, truth, every, all_vec)),
    }


def training_fit(model: Path, photos: list[tuple[Path, str]], heldout: set[str], glove: Any) -> dict[str, Any]:
    """Does the head fit what it was taught? A quarter of the training themes' photos, among those 197 themes."""
    seen = [(p, t) for p, t in photos if t not in heldout][::4]
    labels = sorted({t for _, t in photos if t not in heldout})
    vectors = np.stack([glove.phrase_vector(t) for t in labels])
    return topk(ranks(head_embeddings(model, [p for p, _ in seen]), [t for _, t in seen], labels, vectors))


METHODS = (
    ("semantic head with the ConSE prior, int8", "semantic_conse_int8"),
    ("semantic head alone, int8", "semantic_int8"),
    ("ridge on frozen ImageNet features", "ridge"),
    ("ConSE, top {T} ImageNet classes (no training)", "conse"),
    ("unit ConSE + unit ridge (float, 1.3 MB of classifier)", "conse_plus_ridge"),
)


def _row(name: str, result: dict[str, Any]) -> str:
    h, g = result["heldout"], result["generalised"]
    cells = " | ".join(f"{h[f'top{k}']:.3f} [{h[f'top{k}_ci95'][0]:.2f}, {h[f'top{k}_ci95'][1]:.2f}]" for k in GOALS)
    gen = " / ".join(f"{g[f'top{k}']:.3f}" for k in GOALS)
    return f"| {name} | {cells} | {gen} |"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Zero-shot on OASIS's {result['photos']} photos of its {result['themes']} held-out themes "
        f"(among those {result['themes']} labels; generalised: among all {result['all_themes']}):",
        "",
        "| method | top-1 | top-5 | top-10 | generalised top-1 / top-5 / top-10 |",
        "|---|---|---|---|---|",
    ]
    lines += [_row(name.format(T=result["conse"]["top_classes"]), result[key]) for name, key in METHODS]
    lines.append(f"| goal | {' | '.join(f'≥ {v}' for v in GOALS.values())} | |")
    lines.append(f"| chance | {' | '.join(f'{v:.2f}' for v in CHANCE.values())} | |")
    sel, fit = result["recipe"], result["training_theme_fit"]
    grid = ", ".join(
        f"L2 {c['head_l2']:g}{' + Emotion6' if c['emotion6'] else ''}: {c['val_top5']:.3f}" for c in sel["candidates"]
    )
    chosen = sel["chosen"]
    lines += [
        "",
        "The prior head's L2 and data (OASIS's training themes, with or without Emotion6's emotion words), chosen "
        f"by top-5 on a validation fifth of the training themes (trained without them): {grid}; chosen L2 "
        f"{chosen['head_l2']:g}{' with Emotion6' if chosen['emotion6'] else ', OASIS alone'} (the head alone uses the "
        f"same). Prior rank {result['prior_rank']}.",
        f"Training-theme fit of the prior head ({fit['n']} photos among the 197 training themes): "
        f"top-1 {fit['top1']:.3f}, top-5 {fit['top5']:.3f}, top-10 {fit['top10']:.3f}.",
        "",
        f"Ridge penalty {result['ridge']['penalty']:g} and ConSE's T = {result['conse']['top_classes']} (chosen on "
        f"the same fifth); {result['conse']['classes_without_vector']} of 1,000 ImageNet classes have no GloVe "
        "vector (left out of ConSE's average). int8 files: "
        f"{result['int8_bytes']['semantic'] / 1e6:.3f} MB (head alone), "
        f"{result['int8_bytes']['semantic-conse'] / 1e6:.3f} MB (with the prior). {result['seconds'] / 60:.1f} min.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "zero-shot")
    ap.add_argument("--cache-dir", type=Path, help="image and feature cache (share one with bench.affect_heads)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--prior-rank", type=int, default=48, help="--semantic-prior-rank of the prior head")
    ap.add_argument("--head-l2-grid", type=lambda s: [float(v) for v in s.split(",")], default=[0.003, 0.01, 0.03, 0.1])
    args = ap.parse_args()
    from bench.zero_shot_baselines import baselines
    from sentilite.core.word_vectors import load_glove

    t0 = time.perf_counter()
    glove = load_glove()
    heldout = read_heldout_themes(args.shared / "data/oasis")
    photos = oasis_photos(args.shared)
    test = [(p, t) for p, t in photos if t in heldout]
    held, every = sorted(heldout), sorted({t for _, t in photos})
    truth, oasis_all = [t for _, t in test], args.shared / "data/oasis/sentiment_all.txt"
    result: dict[str, Any] = {"photos": len(test), "themes": len(held), "all_themes": len(every)}
    result["prior_rank"], result["recipe"] = args.prior_rank, choose_recipe(args, photos, heldout, glove)
    chosen = result["recipe"]["chosen"]
    files = {
        "semantic": convert_int8(train_semantic(args, "semantic", oasis_all, chosen, prior=False), args),
        "semantic-conse": convert_int8(train_semantic(args, "semantic-conse", oasis_all, chosen, prior=True), args),
    }
    result["int8_bytes"] = {k: f.stat().st_size for k, f in files.items()}
    for key, f in files.items():
        result[f"{key.replace('-', '_')}_int8"] = evaluate(
            head_embeddings(f, [p for p, _ in test]), truth, held, every, glove
        )
    result["training_theme_fit"] = training_fit(files["semantic-conse"], photos, heldout, glove)
    base = baselines(args, photos, heldout, glove)
    for key in ("ridge", "conse"):
        result[key] = {**base[key], **evaluate(base[f"{key}_embeddings"], truth, held, every, glove)}
    result["conse_plus_ridge"] = evaluate(base["sum_embeddings"], truth, held, every, glove)
    result["seconds"] = time.perf_counter() - t0
    atomic_write_json(args.out / "zero_shot.json", result)
    text = markdown(result)
    atomic_write_text(args.out / "zero_shot.md", text)
    print(text)


if __name__ == "__main__":
    main()
