"""Issue 16's goal in one run: the best integer-weight variant of the FT-F MobileNetV2 against Keras.

    python -m bench.int8_repair                   # trains the model once (about 1 min), then converts
    python -m bench.int8_repair --model runs/x/model.keras

The model is the issue's: `sentilite train` MobileNetV2 FT-F, adam-cosine, 15 epochs, on
cached features, Emotion6 train (INTER_AREA resize, as when the issue was measured). It is
converted with `sentilite convert --repair always`, calibrated on Emotion6 train, scored on
Emotion6 test and val together (397 images). Every integer-weight row (dynamic-range int8, int8
and the repair candidates) is printed against the goals; the best one (highest agreement, then lowest mean
|dp|) and the best that meets the size and speed goals are each checked against the goals;
PASS when one meets them all. Each agreement is printed with its Wilson 95 % interval (on 397
photos, about ±2 points), its number of differing answers, and how many of those were near ties
(photos whose top two classes Keras puts within 0.05 of each other). `--repair always` includes equalisation and
output-aware rounding
(int8-eq, about a minute) and the quantisation-aware fine-tuning (int8-qat, about 3 minutes).
Takes ~7 minutes on 2 cores after training.

`--heldout` adds a second convert run (without the fine-tuning, ~8 minutes) that scores every
integer-weight variant on the 1,813 labelled photos of ../shared outside Emotion6 (OASIS,
twitter_dev, twitter_borth; labels unused): four times the goal's 397 photos, and not the goal's,
so the figures that choose between repairs can be read there. Printed, not judged.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sentilite.core.metrics import NEAR_TIE

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))
E6 = SHARED / "data" / "emotion6"
RUN = REPO / "runs" / "int8-trust-ftf"
GOALS = {"agreement": 0.97, "mean_abs_dp": 0.020, "accuracy_pts": 1.0, "smaller": 3.2, "faster": 1.2}


def sentilite(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sentilite", *args], check=True)


def convert(model: Path, eval_split: Path, out: Path, qat_epochs: int, qat_images: int, qat_lr: float) -> dict:
    """`sentilite convert --repair always` of ``model``, calibrated on Emotion6 train, scored on ``eval_split``;
    returns its report."""
    sentilite(
        "convert",
        str(model),
        "--calib",
        str(E6 / "sentiment_train.txt"),
        "--eval",
        str(eval_split),
        "--root",
        str(E6),
        "--variants",
        "float32,dynamic-int8,int8",
        "--repair",
        "always",
        "--out",
        str(out),
        "--kernel-check-images",
        "0",
        "--qat-epochs",
        str(qat_epochs),
        "--qat-images",
        str(qat_images),
        "--qat-lr",
        str(qat_lr),
    )
    return json.loads((out / "report.json").read_text())


def heldout_split() -> str:
    """A split file (absolute paths) of every labelled photo of ../shared outside Emotion6."""
    from sentilite.core.datasets import iter_split_file, split_file_text

    splits = [
        split
        for folder in ("oasis", "twitter_dev", "twitter_borth")
        for split in sorted((SHARED / "data" / folder).glob("sentiment_*.txt"))
    ]
    return split_file_text(sample for split in splits for sample in iter_split_file(split))


def interval(row: dict) -> str:
    """The row's top-1 agreement's Wilson 95 % interval, in percent (what this many images can resolve)."""
    lo, hi = row.get("top1_agreement_ci95") or (float("nan"), float("nan"))
    return f"{100 * lo:.1f}-{100 * hi:.1f}"


def flips(row: dict) -> str:
    """The row's differing top-1 answers, and how many of them were Keras near ties."""
    return f"{row.get('flips', '?'):>6} {row.get('flips_at_near_ties', '?'):>8}"


def train_the_model(folder: Path) -> None:
    """The FT-F MobileNetV2 of issue 16 (about 1 min on 2 cores)."""
    backbone = SHARED / "weights" / "mobilenet_v2_imagenet_1.0_224.keras"
    flags = {
        "--data": E6 / "sentiment_train.txt",
        "--val": E6 / "sentiment_val.txt",
        "--backbone-file": backbone,
        "--feature-layer": "gap",
        "--mode": "ft-f",
        "--preset": "adam-cosine",
        "--epochs": 15,
        "--interpolation": "area",
        "--out": folder,
    }
    sentilite("train", "--quiet", *[str(x) for pair in flags.items() for x in pair])


def score_table(candidates: list, keras: dict, f32: dict) -> list:
    """Print each candidate's figures against Keras and float32; returns (name, figures) pairs."""
    print(
        f"\n{'variant':<14} {'agree %':>8} {'95 % CI':>12} {'flips':>6} {'at ties':>8} {'mean|dp|':>9} {'Δ pts':>7} "
        f"{'smaller':>8} {'faster':>7}"
    )
    scored = []
    for r in candidates:
        d = {
            "agreement": r["top1_agreement"],
            "mean_abs_dp": r["mean_abs_diff"],
            "accuracy_pts": 100 * (r["accuracy"] - keras["accuracy"]),
            "smaller": f32["size_bytes"] / r["size_bytes"],
            "faster": f32["latency_ms"] / r["latency_ms"],
        }
        scored.append((r["variant"], d))
        print(
            f"{r['variant']:<14} {100 * d['agreement']:>8.1f} {interval(r):>12} {flips(r)} {d['mean_abs_dp']:>9.4f} "
            f"{d['accuracy_pts']:>+7.1f} "
            f"{d['smaller']:>7.2f}x {d['faster']:>6.2f}x"
        )
    return scored


def verdict(title: str, name: str, d: dict) -> bool:
    checks = {
        "agreement": d["agreement"] >= GOALS["agreement"],
        "mean_abs_dp": d["mean_abs_dp"] <= GOALS["mean_abs_dp"],
        "accuracy_pts": abs(d["accuracy_pts"]) <= GOALS["accuracy_pts"] or d["accuracy_pts"] > 0,
        "smaller": d["smaller"] >= GOALS["smaller"],
        "faster": d["faster"] >= GOALS["faster"],
    }
    print(f"\n{title}: {name}")
    for k, ok in checks.items():
        print(
            f"  {k:<13} {d[k]:.4g} (goal {'>=' if k in ('agreement', 'smaller', 'faster') else '<='} {GOALS[k]}) "
            f"{'PASS' if ok else 'FAIL'}"
        )
    return all(checks.values())


def print_heldout(heldout: dict) -> None:
    """The candidates' agreement on the held-out photos."""
    rows_h = {r["variant"]: r for r in heldout["rows"]}
    block_h = heldout["int8_layers"]
    print(
        f"\non {rows_h['int8']['n']} held-out photos (OASIS, twitter_dev, twitter_borth; labels unused; no "
        f"fine-tuning run):"
    )
    print(f"Keras near ties: {rows_h['int8'].get('near_ties', '?')} of {rows_h['int8']['n']} images")
    print(f"{'variant':<14} {'agree %':>8} {'95 % CI':>12} {'flips':>6} {'at ties':>8} {'mean|dp|':>9}")
    for r in [rows_h["dynamic-int8"], rows_h["int8"]] + [r for r in block_h["repair"]["rows"] if "error" not in r]:
        print(
            f"{r['variant']:<14} {100 * r['top1_agreement']:>8.1f} {interval(r):>12} {flips(r)} "
            f"{r['mean_abs_diff']:>9.4f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=RUN / "model.keras")
    ap.add_argument("--qat-epochs", type=int, default=3, help="passed to convert (its default: 3)")
    ap.add_argument("--qat-images", type=int, default=500, help="passed to convert (its default: 500)")
    ap.add_argument("--qat-lr", type=float, default=1e-5, help="passed to convert (its default: 1e-5)")
    ap.add_argument(
        "--heldout",
        action="store_true",
        help="also score on the 1,813 photos of ../shared outside Emotion6 (~8 min more)",
    )
    ap.add_argument("--keep", type=Path, default=REPO / "runs" / "bench-int8-repair", help="where the reports are kept")
    args = ap.parse_args()
    if not (E6 / "sentiment_train.txt").is_file():
        sys.exit(f"needs {E6} (../shared); not found")
    if not args.model.is_file():
        train_the_model(args.model.parent)
    with tempfile.TemporaryDirectory() as tmp:
        both = Path(tmp) / "test_val.txt"
        both.write_text((E6 / "sentiment_test.txt").read_text() + (E6 / "sentiment_val.txt").read_text())
        out = Path(tmp) / "convert"
        report = convert(args.model, both, out, args.qat_epochs, args.qat_images, args.qat_lr)
        keep = args.keep
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("report.md", "report.json", "int8_layer_error.png"):
            if (out / name).exists():
                (keep / name).write_bytes((out / name).read_bytes())
        if args.heldout:
            held = Path(tmp) / "heldout.txt"
            held.write_text(heldout_split())
            heldout = convert(args.model, held, Path(tmp) / "heldout", 0, args.qat_images, args.qat_lr)
            (keep / "heldout_report.json").write_text(json.dumps(heldout, indent=1))
    rows = {r["variant"]: r for r in report["rows"]}
    keras, f32 = rows["keras"], rows["float32"]
    block = report["int8_layers"]
    candidates = [rows["dynamic-int8"], rows["int8"]] + [r for r in block["repair"]["rows"] if "error" not in r]
    print(
        f"model {args.model}; {rows['int8']['n']} images (Emotion6 test + val); Keras accuracy "
        f"{100 * keras['accuracy']:.1f} %"
    )
    from sentilite.convert.int8.layer_errors import short_name

    print(
        "worst int8 layers (RMSE / std): "
        + ", ".join(f"{short_name(w['tensor'])} {w['rmse_over_std']:.3f}" for w in block["worst"][:6])
    )
    print(
        f"Keras near ties (top two classes within {NEAR_TIE}): {rows['int8'].get('near_ties', '?')} of "
        f"{rows['int8']['n']} images"
    )
    scored = score_table(candidates, keras, f32)

    name, best = max(scored, key=lambda x: (x[1]["agreement"], -x[1]["mean_abs_dp"]))
    passed = verdict("best integer-weight variant (agreement, then mean |dp|)", name, best)
    deployable = [(n, d) for n, d in scored if d["smaller"] >= GOALS["smaller"] and d["faster"] >= GOALS["faster"]]
    if deployable:  # what a phone can use: the best that meets the size and speed goals
        n, d = max(deployable, key=lambda x: (x[1]["agreement"], -x[1]["mean_abs_dp"]))
        passed = verdict("best that meets the size and speed goals", n, d) or passed
    if args.heldout:
        print_heldout(heldout)
    print(f"reports kept in {keep}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
