"""Write the JSON model card that ships beside the bundled default model.

Collects, from a training run folder and its `sentilite convert` report, what a user needs to
judge the model: data, recipe, held-out accuracy (3-class and the 2-class reading) of the Keras
model and of the shipped full-int8 file, size, latency on the build host, and known limits.
Called by `release/make_default_model.sh`:

    python -m release.model_card --run runs/default-model/mnv2-bundled \
        --convert runs/default-model/convert --out sentilite/models/sentiment_mobilenetv2_int8.json \
        [--heads-figures runs/bundled-model/bundled_model.json] [--previous-card OLD.json]

The extra heads' figures come from `python -m bench.bundled_model` on the shipped file. The tweet
cross-validation comes from bench/cv_recipe.py folders (--cv); without them, --previous-card carries
the previous card's, marked as the cross-validation of the sentiment recipe the new model keeps.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Optional

from release.recovered_card import recovered_training
from sentilite.core.fsutil import atomic_write_text, sha256_file
from sentilite.core.modelfile import read_contract

DATASETS = {
    "emotion6": {
        "name": "Emotion6 (Peng et al., CVPR 2015), Flickr photos",
        "licence": "academic research use only; image copyright stays with the owners",
        "labels": "3 classes from the valence score (1-9): < 4.5 negative, 4.5-5.5 neutral, > 5.5 positive",
    },
    "oasis": {
        "name": "OASIS (Kurdi et al. 2017), photos rated for valence by about 100 people each",
        "licence": "research use; sources Pixabay, Wikipedia, Flickr",
        "labels": "3 classes from mean valence (1-7): < 3.5 negative, 3.5-4.5 neutral, > 4.5 positive",
    },
    "twitter_dev": {
        "name": "Twitter image sentiment (You et al., AAAI 2015), 3-or-4-agree images",
        "licence": "research use only",
        "labels": "2 classes (negative, positive) from five annotators; no neutral images",
    },
    "twitter_borth": {
        "name": "Twitter images of Borth et al. (ACM MM 2013), labelled from the tweet",
        "licence": "research use only",
        "labels": "2 classes (negative, positive); no neutral images",
    },
}

LIMITS = [
    "Neutral is the hardest class (the smallest in every 3-class source, and by the valence-band definition the "
    "least separable; the tweet sets have none); the decision rule fitted on val makes the model say it, at some "
    "cost in 3-class accuracy. The 2-class reading (positive vs negative probabilities) is the most reliable output.",
    "The Twitter five-agree benchmark of the replication studies is not available here: the cross-validation on "
    "the noisier 3-or-4-agree and Borth tweet sets is this card's estimate for tweets.",
    "Sentiment here is the annotators' feeling about a photo, not facial expression; domain: Flickr and "
    "Twitter photos. Expect lower accuracy on other imagery (screenshots, memes, video frames).",
    "Emotion6 val/test have 198/199 images: accuracies carry about +/-3.5 points of sampling noise (1 s.e.).",
]


def _split_summary(m: dict[str, Any]) -> dict[str, Any]:
    out = {
        "images": m["n"],
        "accuracy": round(m["accuracy"], 4),
        "macro_f1": round(m["macro_f1"], 4),
        "polar_accuracy": round(m["polar"]["accuracy"], 4),
        "polar_images": m["polar"]["n"],
    }
    if "per_class" in m:
        out["neutral_recall"] = round(m["per_class"]["neutral"]["recall"], 4)
    if "ece" in m:
        out["ece"] = round(m["ece"], 4)
    return out


def _keras_metrics(run: Path, split: Path) -> dict[str, Any]:
    """The .keras model on a split through `sentilite evaluate`'s path: with the contract's decision rule."""
    from sentilite.train.evaluate import evaluate_model

    return evaluate_model(run / "model.keras", split)


def cross_validation(folders: list[Path]) -> list[dict[str, Any]]:
    """The per-source cross-validation rows of bench/cv_recipe.py runs (tweets: the 2-class reading
    on held-out folds; Emotion6 val after the decision rule)."""
    out = []
    for folder in folders:
        if not (folder / "cv.json").is_file():
            continue
        cv = json.loads((folder / "cv.json").read_text())
        for r in cv["rows"]:
            # "folds": how many were scored (bench/cv_recipe.py --only-folds scores some of "of_folds")
            out.append(
                {
                    "mode": cv["mode"],
                    "folds": r["folds"],
                    "of_folds": cv["folds"],
                    "recipe": r["recipe"],
                    "tweets_2class": round(r["tweets"], 4),
                    "tweets_images": r.get("tweets_n"),
                    "twitter_dev_2class": round(r["twitter_dev"]["accuracy"], 4),
                    "twitter_borth_2class": round(r["twitter_borth"]["accuracy"], 4),
                    "emotion6_val_macro_f1": round(r["e6_val_macro_f1"], 4),
                    "source": f"{folder.name}/cv.md",
                }
            )
    return out


def shipped_int8(report: dict[str, Any]) -> dict[str, Any]:
    """The full-integer row to ship: the int8 repair `convert` kept when it is full-integer (uint8 or
    int8 I/O: not a mixed or int16x8 file), else int8 itself. `convert` keeps a repair by its agreement
    with Keras, labels unused."""
    rows = {r["variant"]: r for r in report["rows"]}
    repair = (report.get("int8_layers") or {}).get("repair") or {}
    kept = next((r for r in repair.get("rows", []) if r["variant"] == repair.get("kept")), None)
    if kept is not None and str(kept.get("input", "")).split(" ")[0] in ("uint8", "int8"):
        return kept
    return rows["int8"]


def shipped_int8_file(convert: Path) -> Path:
    """The .tflite :func:`shipped_int8` names, in the convert folder."""
    report = json.loads((convert / "report.json").read_text())
    return convert / shipped_int8(report)["file"]


def _training_data(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Each training list: its source, how many images, and which classes it teaches."""
    data = []
    for src, partial in [(Path(p), False) for p in cfg["data"]] + [
        (Path(p), True) for p in cfg.get("partial_data", [])
    ]:
        count = sum(1 for line in src.read_text().splitlines() if line.strip()) if src.is_file() else None
        info = DATASETS.get(src.parent.name, {"name": src.parent.name})
        data.append(
            {
                **info,
                "split_file": f"{src.parent.name}/{src.name}",
                "images": count,
                "teaches": "negative vs positive only (--partial-data: marginalised loss, says nothing about neutral)"
                if partial
                else "all three classes",
            }
        )
    return data


def _int8_scores(int8_row: dict[str, Any]) -> dict[str, Any]:
    """The shipped file's figures on the evaluation split (Emotion6 test), from its report row."""
    return {
        "images": int8_row["n"],
        "accuracy": round(int8_row["accuracy"], 4),
        "macro_f1": round(int8_row["macro_f1"], 4),
        "polar_accuracy": round(int8_row["polar_accuracy"], 4),
        "neutral_f1": round(int8_row["f1"]["neutral"], 4),
        "neutral_recall": round(int8_row["confusion_matrix"][1][1] / max(1, sum(int8_row["confusion_matrix"][1])), 4),
        "top1_agreement_with_keras": round(int8_row["top1_agreement"], 4),
        "mean_abs_diff_p": round(int8_row["mean_abs_diff"], 4),
        "convert_variant": int8_row["variant"],
    }


def _variant_text(report: dict[str, Any], rows: dict[str, Any], int8_row: dict[str, Any]) -> str:
    """What kind of file ships: full-integer, the repair that made it, pixel-in."""
    return (
        "full-integer int8, uint8 input/output, contract and labels embedded"
        + (
            f"; {int8_row['repair']} (`sentilite convert`'s int8 repair `{int8_row['variant']}`, kept for its "
            f"agreement with Keras: {100 * int8_row['top1_agreement']:.1f} % against plain int8's "
            f"{100 * rows['int8']['top1_agreement']:.1f} %)"
            if int8_row is not rows["int8"]
            else ""
        )
        + (
            ", pixel-in (the uint8 input is the RGB pixel: scale 1, zero point 0)"
            if report["contract"].get("normalization_in_graph")
            else ""
        )
    )


#: the per-head figures of bench/bundled_model.py's JSON the card keeps
HEAD_MEASURES = ("kl", "cosine", "chebyshev", "intersection", "top1", "pearson_r", "ccc", "mae")
#: what each extra head is, in words, by its kind
HEAD_TEXT = {
    "distribution": "softmax over its labels, learned from the annotators' shares (KL loss)",
    "regression": "sigmoid onto its scale",
    "embedding": "unit vector in GloVe 6B 50-d word space (zero-shot tags, search; vocabulary inside)",
}


def heads(run: Path, figures: Optional[Path]) -> list[dict[str, Any]]:
    """Each extra head: what it outputs and, from bench/bundled_model.py's JSON, its figures on the
    shipped file (Emotion6 test for the emotions and valence/arousal, OASIS's held-out themes for
    zero-shot)."""
    contract = read_contract(run / "model.keras")
    measured = json.loads(figures.read_text()) if figures else {}
    scores = measured.get("new", {}).get("heads", {})
    out = []
    for h in contract.heads:
        entry: dict[str, Any] = {"name": h.name, "kind": h.kind, "outputs": HEAD_TEXT[h.kind]}
        if h.labels:
            entry["labels"] = list(h.labels)
        if h.scale:
            entry["scale"] = list(h.scale)
        for label in (h.name, *h.labels):
            if label in scores:
                entry.setdefault("emotion6_test_int8", {})[label] = {
                    k: round(v, 4) for k, v in scores[label].items() if k in HEAD_MEASURES
                }
        if h.kind == "embedding" and measured.get("zero_shot"):
            zs = measured["zero_shot"]
            entry["oasis_zero_shot_int8"] = {
                part: {k: round(zs[part][k], 4) for k in ("n", "top1", "top5", "top10")} for part in zs
            }
        if figures:
            entry["source"] = "python -m bench.bundled_model"
        out.append(entry)
    return out


def _architecture(cfg: dict[str, Any], metrics: dict[str, Any], extra: list[dict[str, Any]]) -> str:
    text = (
        "MobileNetV2 1.0 (ImageNet-pretrained, torchvision weights) + global average pooling "
        f"+ dropout {cfg['head_dropout']} + dense softmax"
    )
    if extra:
        text += " + one dense head each for " + ", ".join(h["name"] for h in extra)
        if cfg.get("semantic_prior", "none") != "none":
            text += (
                f" (the semantic head with the {cfg['semantic_prior']} prior: the ImageNet classifier at rank "
                f"{cfg['semantic_prior_rank']}, frozen, read as a GloVe vector)"
            )
    return text + f" ({metrics['model_size']['parameters']:,} parameters)"


def _teacher_name(path: str) -> str:
    """A run folder's name for its model.keras, else the file's own name."""
    return Path(path).parent.name if Path(path).name == "model.keras" else Path(path).name


def _trained(cfg: dict[str, Any], metrics: dict[str, Any], data: list[dict[str, Any]], cv: list[Any]) -> dict[str, Any]:
    """The training block of a model trained by this script's sentiment path."""
    return {
        "mode": cfg["mode"],
        "preset": cfg["preset"],
        "augment": cfg["augment"],
        "class_weight": cfg["class_weight"],
        "epochs_run": metrics["training"]["epochs"],
        "wall_seconds": round(metrics["training"]["wall_seconds"], 1),
        "data": data,
        "distillation": {
            "teachers": [_teacher_name(t) for t in cfg["teacher"]],
            "temperature": cfg["temperature"],
            "alpha": cfg["alpha"],
            "note": "the teachers' mean probability is the soft target; wall_seconds is the student's training alone",
        }
        if cfg.get("teacher")
        else None,
        "selection": "recipe chosen by cross-validation on the tweet images and Emotion6 val (bench/cv_recipe.py); "
        "Emotion6 val for early stopping and the decision rule; never Emotion6 test",
        "cross_validation": cv,
        "reproduce": "bash release/make_default_model.sh",
    }


def card(
    run: Path,
    convert: Path,
    cv_folders: Optional[list[Path]] = None,
    heads_figures: Optional[Path] = None,
    previous_card: Optional[Path] = None,
) -> dict[str, Any]:
    """The model card as a JSON-ready dict."""
    cv = cross_validation(cv_folders or [])
    if not cv and previous_card:
        cv = json.loads(previous_card.read_text())["training"].get("cross_validation", [])
        cv = [{**row, "note": "the sentiment recipe's, from the previous card"} for row in cv]
    metrics = json.loads((run / "metrics.json").read_text())
    report = json.loads((convert / "report.json").read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    int8_row = shipped_int8(report)
    int8_file = convert / int8_row["file"]
    cfg = metrics["config"]
    data = _training_data(cfg)
    extra = heads(run, heads_figures)
    contract = read_contract(run / "model.keras")
    source = dict(contract.provenance).get("recovered_from")
    if source:
        if previous_card is None:
            raise SystemExit("a recovered model's card needs --previous-card (its training facts are there)")
        previous = json.loads(previous_card.read_text())
        training, rule = recovered_training(previous, metrics, cv, source), previous["decision_rule"]
        data = previous["training"]["data"]  # the sentiment weights' training data, not the heads'
    else:
        training, rule = _trained(cfg, metrics, data, cv), contract.decision.to_dict()
    return {
        "format": "sentilite-model-card",
        "version": 1,
        "file": "sentiment_mobilenetv2_int8.tflite",
        "sha256": sha256_file(int8_file),
        "size_bytes": int8_file.stat().st_size,
        "variant": _variant_text(report, rows, int8_row),
        "labels": metrics["contract"]["labels"],
        "preprocessing": report["contract_text"],
        "apps": "Standard TFLite metadata (labels file, image properties) inside. MediaPipe ImageClassifier: pass the "
        "centre crop as region_of_interest; its own resize is the contract's "
        + (
            "warp_linear, so it gives sentilite's answers"
            if report["contract"]["input"].get("interpolation") == "warp_linear"
            else f"not ({report['contract']['input'].get('interpolation')}), so some answers differ"
        ),
        "architecture": _architecture(cfg, metrics, extra),
        "heads": extra,
        "training": training,
        "decision_rule": rule,
        "evaluation": {
            "emotion6_val_keras": _split_summary(_keras_metrics(run, Path(cfg["val"]))),
            # a run trained without --test is scored on the split the conversion was evaluated on
            "emotion6_test_keras": _split_summary(
                _keras_metrics(run, Path(cfg["test"] or report["evaluation"]["source"]))
            ),
            "emotion6_test_int8": _int8_scores(int8_row),
            "note": "Emotion6 test was used only for these figures, never for training or selection.",
        },
        "latency": {
            "int8_median_ms": round(int8_row["latency_ms"], 2),
            "float32_median_ms": round(rows["float32"]["latency_ms"], 2) if "float32" in rows else None,
            "threads": report["settings"]["threads"],
            "host": report["host"]["cpu"],
            "runtime": int8_row.get("runtime"),
        },
        "known_limits": [_size_limit(data)] + LIMITS,
    }


def _size_limit(data: list[dict[str, Any]]) -> str:
    parts = [f"{d['images']:,} {d['split_file'].split('/')[0]}" for d in data if d.get("images")]
    total = sum(d["images"] for d in data if d.get("images"))
    return (
        f"Trained on {total:,} labelled images ({' + '.join(parts)}), the tweet sets with negative/positive labels "
        f"only: "
        "far fewer than the 470k of B-T4SA."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="training run folder (metrics.json)")
    ap.add_argument("--convert", required=True, type=Path, help="sentilite convert output folder (report.json)")
    ap.add_argument("--out", type=Path, help="model card JSON to write")
    ap.add_argument(
        "--cv", type=Path, action="append", default=[], help="a bench/cv_recipe.py output folder (repeatable)"
    )
    ap.add_argument("--heads-figures", type=Path, help="bench/bundled_model.py's JSON on the shipped file")
    ap.add_argument("--previous-card", type=Path, help="carry its tweet cross-validation when no --cv is given")
    ap.add_argument("--shipped-file", action="store_true", help="print the full-integer .tflite to ship, and stop")
    args = ap.parse_args()
    if args.shipped_file:
        print(shipped_int8_file(args.convert))
        return
    if args.run is None or args.out is None:
        ap.error("--run and --out are needed to write the card")
    made = card(args.run, args.convert, args.cv, args.heads_figures, args.previous_card)
    atomic_write_text(args.out, json.dumps(made, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
