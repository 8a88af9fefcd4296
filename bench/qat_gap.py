"""Where quantisation-aware fine-tuning's gain is lost: on new images, or between simulation and file?

    python -m bench.qat_gap                       # the issue-16 FT-F model (bench/int8_repair.py trains it)
    python -m bench.qat_gap --images 1583 --epochs 6
    python -m bench.qat_gap --images 1583 --epochs 3 --also ../shared/data/oasis/sentiment_all.txt ...

Fine-tunes a copy of the model as `sentilite convert`'s int8-qat repair does (convert/int8/qat.py), and
scores four int8 renderings against the original float model, on the images the fine-tuning
trains on (the calibration images, plus any given with --also) and on Emotion6 test + val (397
images it never sees):

- the simulation (fake-quant Keras model) before and after fine-tuning;
- the full-int8 file (LiteRT XNNPACK) before and after, converted as `convert` does.

If the simulation's gain holds on the held-out images but the file's does not, the simulation
misses what the kernels do; if it is already lost in the simulation on held-out images, the
fine-tuning fits its calibration images.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sentilite.core.metrics import agreement

REPO = Path(__file__).resolve().parents[1]

SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))
E6 = SHARED / "data" / "emotion6"


def fidelity(probs: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(top-1 agreement, mean |dp|) against the float model's probabilities."""
    a = agreement(ref, probs)
    return a["top1_agreement"], a["mean_abs_diff"]


def int8_file(model, calib, contract, tmp: Path, name: str):
    """The full-int8 file of ``model`` (uint8 I/O, pixel-in), converted and written as `convert` does."""
    from sentilite.convert.export import ConversionRequest, convert_saved_model, export_saved_model
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.modelfile import write_tflite

    sm = export_saved_model(model, tmp / f"{name}_sm")
    data = convert_saved_model(ConversionRequest(sm, "int8", calib.representative(200), "uint8"))
    return TFLiteClassifier(write_tflite(tmp / f"{name}.tflite", data, contract), num_threads=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "runs" / "int8-trust-ftf" / "model.keras")
    ap.add_argument(
        "--images", type=int, default=500, help="calibration images the fine-tuning trains on (convert's default)"
    )
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="more images to fine-tune on (labels unused; never Emotion6 test or val), repeatable",
    )
    args = ap.parse_args()
    if not args.model.is_file():
        sys.exit(f"{args.model} not found: `python -m bench.int8_repair` trains it (about 1 min)")

    from sentilite.convert.calibration import build_calibration_set
    from sentilite.convert.decision_fold import fold_decision_rule
    from sentilite.convert.inputs import load_keras_model, resolve_model_contract
    from sentilite.convert.int8.qat import build_qat_model, observe_ranges, predict_in_batches, qat_finetune
    from sentilite.convert.options import ConvertOptions
    from sentilite.convert.pixel_in import wrap_pixel_in
    from sentilite.convert.validation import build_eval_set
    from sentilite.core.preprocess import normalize
    from sentilite.core.tf_import import import_keras

    keras = import_keras("bench")
    contract = resolve_model_contract(args.model, None)
    export = ConvertOptions().export_contract(contract)
    model = load_keras_model(args.model, contract)
    model, export, _ = fold_decision_rule(model, export)
    if export.pixel_in and not contract.pixel_in:
        model = wrap_pixel_in(model, contract)
    calib = build_calibration_set(E6 / "sentiment_train.txt", export, args.images, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        both = Path(tmp) / "test_val.txt"
        both.write_text((E6 / "sentiment_test.txt").read_text() + (E6 / "sentiment_val.txt").read_text())
        ev = build_eval_set(both, export, root=E6)
        extra = [build_calibration_set(p, export, 100_000, seed=0).pixels for p in args.also]
        train_px = np.concatenate([calib.pixels, *extra]) if extra else calib.pixels
        sets = {
            "fine-tuning": (normalize(train_px, export), train_px),
            "held-out": (normalize(ev.pixels, export), ev.pixels),
        }
        ref = {k: predict_in_batches(model, x, 32) for k, (x, _) in sets.items()}

        def simulated(m) -> dict[str, tuple[float, float]]:
            qat, fqs = build_qat_model(m)
            observe_ranges(qat, fqs, calib.inputs(), 32)  # the converter's calibrator sees the calibration images
            return {k: fidelity(predict_in_batches(qat, x, 32), ref[k]) for k, (x, _) in sets.items()}

        def file_scores(m, name: str) -> dict[str, tuple[float, float]]:
            clf = int8_file(m, calib, export, Path(tmp), name)
            return {k: fidelity(np.stack([clf.run(clf.encode(p)) for p in px]), ref[k]) for k, (_, px) in sets.items()}

        rows = {"simulation, before": simulated(model), "int8 file, before": file_scores(model, "before")}
        tuned = keras.models.clone_model(model, recursive=True)
        tuned.set_weights(model.get_weights())
        t0 = time.perf_counter()
        qat_finetune(tuned, sets["fine-tuning"][0], epochs=args.epochs, lr=args.lr, log=print)
        minutes = (time.perf_counter() - t0) / 60
        rows["simulation, after"] = simulated(tuned)
        rows["int8 file, after"] = file_scores(tuned, "after")
    n_cal, n_ev = len(train_px), len(ev)
    print(
        f"\n{args.model}; QAT {args.epochs} epoch(s) on {n_cal} images ({len(calib)} calibration"
        + "".join(f" + {len(e)} {p.parent.name}" for e, p in zip(extra, args.also))
        + f"), lr {args.lr:g}, {minutes:.1f} min"
    )
    print(f"{'against the float model':<22} {f'fine-tuning ({n_cal})':>24} {f'held-out test+val ({n_ev})':>28}")
    print(f"{'':<22} {'agree %':>11} {'mean|dp|':>12} {'agree %':>13} {'mean|dp|':>14}")
    for name, r in rows.items():
        (a1, d1), (a2, d2) = r["fine-tuning"], r["held-out"]
        print(f"{name:<22} {100 * a1:>11.1f} {d1:>12.4f} {100 * a2:>13.1f} {d2:>14.4f}")


if __name__ == "__main__":
    main()
