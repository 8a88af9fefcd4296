"""Choose the default model's training recipe by cross-validation on the in-domain tweet sets.

The tweet images of ../shared (twitter_dev, 376; twitter_borth, 599; negative/positive only) are
split into K stratified folds (by source and label, seeded). For every recipe and fold, a model
is trained with `sentilite train` on Emotion6 train (+ OASIS, + the tweets outside the fold, as
the recipe says), early-stopped on Emotion6 val, and scored on the fold's tweets in the 2-class
reading (p_pos vs p_neg). Recipes whose training data do not involve the tweets are trained
once and scored on every fold. A distillation recipe trains its teachers on the same fold first,
so no teacher has seen the fold's tweets. Emotion6 val (after the decision rule fitted on it) is reported
beside; Emotion6 test is never looked at.

    python -m bench.cv_recipe --out runs/cv-recipe                  # FT-F recipes, ~25 min on 2 cores
    python -m bench.cv_recipe --out runs/cv-fta --mode ft-a --recipes all-partial --folds 3
    # the distilled ensemble: per fold, its three teachers, then the student (~55 min a fold)
    python -m bench.cv_recipe --out runs/cv-ensemble --mode ft-a --folds 3 --epochs 10 --only-folds 0,1 \
        --recipes all-partial,all-partial-oasisval,all-partial-interp,ensemble-distil

Writes <out>/cv.json and <out>/cv.md (the table), one run folder per recipe and fold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sentilite.core.datasets import Dataset, read_split_file, split_file_text
from sentilite.core.fsutil import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
#: recipe -> (3-class lists, how the tweets are used: None | "partial" | "full", extra TrainConfig options).
#: "oasis-4/5" is OASIS less a seeded, stratified fifth, which joins Emotion6 val ("val": "e6+oasis-1/5").
#: "teachers": recipes trained first on the same fold, whose mean probability the recipe distils.
RECIPES: dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]] = {
    "e6": (("emotion6",), None, {}),
    "e6+oasis": (("emotion6", "oasis"), None, {}),
    "all-full": (("emotion6", "oasis"), "full", {}),
    "all-partial": (("emotion6", "oasis"), "partial", {}),
    "all-partial-ls": (("emotion6", "oasis"), "partial", {"label_smoothing": 0.1}),
    "all-partial-balanced": (("emotion6", "oasis"), "partial", {"class_weight": "balanced"}),
    "all-partial-interp": (("emotion6", "oasis"), "partial", {"augment": ["flip", "crop", "color", "interp"]}),
    "all-partial-oasisval": (("emotion6", "oasis-4/5"), "partial", {"val": "e6+oasis-1/5"}),
    # the distilled-ensemble candidate of README's model card (runs/default-model-v7): its three teachers
    "ensemble-distil": (
        ("emotion6", "oasis"),
        "partial",
        {"teachers": ("all-partial", "all-partial-oasisval", "all-partial-interp"), "temperature": 4.0, "alpha": 0.1},
    ),
}
LISTS = {"emotion6": "emotion6/sentiment_train.txt", "oasis": "oasis/sentiment_all.txt"}
OASIS_VAL_FRACTION, OASIS_VAL_SEED = 0.2, 0  # as the OASIS-validated run of the model card
TWEETS = {"twitter_dev": "twitter_dev/sentiment_train.txt", "twitter_borth": "twitter_borth/sentiment_all.txt"}


def write_list(samples: list[Any], path: Path) -> Path:
    """A split file with absolute image paths (so it can live anywhere)."""
    atomic_write_text(path, split_file_text(samples))
    return path


def list_path(name: str, args: argparse.Namespace) -> str:
    """The split file a recipe names: one of ../shared's, or an OASIS train/val split written under --out."""
    if name in LISTS:
        return str(args.data / LISTS[name])
    if name == "e6-val":
        return str(args.data / "emotion6/sentiment_val.txt")
    from sentilite.core.datasets import stratified_split

    oasis_train, oasis_val = stratified_split(
        read_split_file(args.data / LISTS["oasis"]).samples, OASIS_VAL_FRACTION, OASIS_VAL_SEED
    )
    if name == "oasis-4/5":
        return str(write_list(oasis_train, args.out / "lists" / "oasis-train.txt"))
    if name == "e6+oasis-1/5":
        e6_val = read_split_file(args.data / "emotion6/sentiment_val.txt").samples
        return str(write_list(e6_val + oasis_val, args.out / "lists" / "e6val+oasis-val.txt"))
    raise KeyError(name)


def tweet_folds(data: Path, k: int, seed: int) -> list[dict[str, list[Any]]]:
    """K folds of the tweet images, stratified by source and label: fold -> source -> samples."""
    folds: list[dict[str, list[Any]]] = [{name: [] for name in TWEETS} for _ in range(k)]
    rng = np.random.default_rng(seed)
    for name, rel in TWEETS.items():
        ds = read_split_file(data / rel)
        for label in sorted(set(ds.y)):
            members = [s for s in ds.samples if s.label == label]
            for j, i in enumerate(rng.permutation(len(members))):
                folds[j % k][name].append(members[i])
    return folds


def train_one(
    name: str, recipe: str, fold: int | None, folds: list[dict[str, list[Any]]], args: argparse.Namespace
) -> Path:
    from sentilite.train.api import train_model
    from sentilite.train.config import TrainConfig

    lists, tweets, extra = RECIPES[recipe]
    extra = dict(extra)
    run = args.out / name
    if (run / "metrics.json").is_file():
        return run
    if "teachers" in extra:  # train (or find) the teachers of this fold first
        teachers = [
            train_one(f"{t}-fold{fold}" if fold is not None else t, t, fold, folds, args) for t in extra.pop("teachers")
        ]
        extra["teacher"] = [str(t / "model.keras") for t in teachers]
    data = [list_path(s, args) for s in lists]
    val = list_path(extra.pop("val", "e6-val"), args)
    partial: list[str] = []
    if tweets is not None:
        outside = [s for j, f in enumerate(folds) if j != fold for src in f.values() for s in src]
        extra_list = str(write_list(outside, args.out / "lists" / f"tweets-not-fold{fold}.txt"))
        (partial if tweets == "partial" else data).append(extra_list)
    if run.exists():  # an interrupted run: start it again (a CV run is short)
        import shutil

        shutil.rmtree(run)
    config = TrainConfig(
        data=data,
        partial_data=partial,
        val=val,
        out=str(run),
        backbone_file=str(args.backbone),
        feature_layer="gap",
        mode=args.mode,
        preset=args.preset,
        epochs=args.epochs,
        cache_dir=str(args.out / ".cache"),
        verbose=False,
        plots=False,
        seed=args.seed,
        **extra,
    )
    train_model(config)
    from sentilite.core.tf_import import import_keras

    import_keras("cv").backend.clear_session()
    return run


def score(run: Path, heldout: dict[str, list[Any]], args: argparse.Namespace) -> dict[str, Any]:
    """2-class accuracy of the run's model on held-out tweets, per source; Emotion6 val after its rule."""
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.train.evaluate import evaluate_classifier

    clf = KerasClassifier(run / "model.keras")
    out: dict[str, Any] = {}
    for source, samples in heldout.items():
        m = evaluate_classifier(clf, Dataset(samples, source=source), description=f"{run.name} {source}")
        out[source] = {"n": m["polar"]["n"], "correct": int(round(m["polar"]["accuracy"] * m["polar"]["n"]))}
    e6_val = args.data / "emotion6/sentiment_val.txt"
    if Path(json.loads((run / "config.json").read_text())["val"]) == e6_val:
        val = json.loads((run / "metrics.json").read_text())["val"]
    else:  # validated on more than Emotion6 val: score Emotion6 val itself, for a comparable column
        val = evaluate_classifier(clf, read_split_file(e6_val), description=f"{run.name} Emotion6 val")
    out["emotion6_val"] = {
        "accuracy": val["accuracy"],
        "macro_f1": val["macro_f1"],
        "neutral_recall": val["per_class"]["neutral"]["recall"],
        "two_class": val["polar"]["accuracy"],
    }
    return out


def summarise(recipe: str, scores: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"recipe": recipe, "folds": len(scores)}
    for source in TWEETS:
        per_fold = [s[source]["correct"] / s[source]["n"] for s in scores]
        row[source] = {
            "accuracy": sum(s[source]["correct"] for s in scores) / sum(s[source]["n"] for s in scores),
            "fold_sd": float(np.std(per_fold)),
        }
    n = sum(s[src]["n"] for s in scores for src in TWEETS)
    row["tweets"] = sum(s[src]["correct"] for s in scores for src in TWEETS) / n
    row["tweets_n"] = n
    for key in ("accuracy", "macro_f1", "neutral_recall", "two_class"):
        row[f"e6_val_{key}"] = float(np.mean([s["emotion6_val"][key] for s in scores]))
    return row


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    which = f"folds {args.only_folds} of {args.folds}" if args.only_folds else f"{args.folds} folds"
    lines = [
        f"Cross-validation, {which} of the tweet images, mode {args.mode}, preset {args.preset} "
        f"(python -m bench.cv_recipe {' '.join(sys.argv[1:])}).",
        "",
        "| recipe | tweets 2-class (all) | twitter_dev | twitter_borth | E6 val acc | E6 val macro-F1 | E6 val "
        "neutral recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['recipe']} | **{r['tweets']:.3f}** (n={r['tweets_n']}) | {r['twitter_dev']['accuracy']:.3f} "
            f"± {r['twitter_dev']['fold_sd']:.3f} | {r['twitter_borth']['accuracy']:.3f} ± "
            f"{r['twitter_borth']['fold_sd']:.3f} "
            f"| {r['e6_val_accuracy']:.3f} | {r['e6_val_macro_f1']:.3f} | {r['e6_val_neutral_recall']:.3f} |"
        )
    lines += [
        "",
        "± = standard deviation over the folds. E6 val figures are after the decision rule fitted on E6 val "
        "(the same for every recipe, so comparable, but optimistic).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("SENTILITE_SHARED", ROOT.parent / "shared")))
    ap.add_argument("--out", type=Path, default=Path("runs/cv-recipe"))
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--mode", default="ft-f")
    ap.add_argument("--preset", default="replication")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--only-folds", help="score these folds only, e.g. 0 or 0,1 (a partial estimate; the table says so)"
    )
    args = ap.parse_args()
    args.data, args.backbone = args.shared / "data", args.shared / "weights/mobilenet_v2_imagenet_1.0_224.keras"
    args.out.mkdir(parents=True, exist_ok=True)
    folds = tweet_folds(args.data, args.folds, args.seed)
    fold_ids = [int(k) for k in args.only_folds.split(",")] if args.only_folds else list(range(args.folds))
    rows, t0 = [], time.perf_counter()
    for recipe in args.recipes.split(","):
        if RECIPES[recipe][1] is None:  # no tweets in training: one run, scored on every fold
            run = train_one(recipe, recipe, None, folds, args)
            scores = [score(run, folds[k], args) for k in fold_ids]
        else:
            scores = [score(train_one(f"{recipe}-fold{k}", recipe, k, folds, args), folds[k], args) for k in fold_ids]
        rows.append(summarise(recipe, scores))
        print(
            f"{recipe}: tweets {rows[-1]['tweets']:.3f}, E6 val macro-F1 {rows[-1]['e6_val_macro_f1']:.3f} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        atomic_write_json(
            args.out / "cv.json",
            {
                "folds": args.folds,
                "mode": args.mode,
                "preset": args.preset,
                "seconds": time.perf_counter() - t0,
                "rows": rows,
            },
        )
        atomic_write_text(args.out / "cv.md", markdown(rows, args))
    print(markdown(rows, args))


if __name__ == "__main__":
    main()
