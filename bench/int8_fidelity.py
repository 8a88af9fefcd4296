"""How closely does full-int8 follow float32, under each calibration / quantiser choice?

For a .keras model (default: the reference MobileNetV2 of bench/reference_models.py) this
converts the full-int8 variant under each setting below and prints, over the Emotion6 test+val
images (397), top-1 agreement with Keras, mean/max absolute probability difference, accuracy
and the predicted-class counts. Prints a table; takes ~10 minutes on 2 cores.

    python -m bench.int8_fidelity [--model runs/.../model.keras] [--quick]

Settings: calibration size (25..1583, class-balanced prefixes of one draw), three draws of 200,
unbalanced draw, val split instead of train, uint8 / int8 / float32 I/O, per-tensor weights,
and the classifier-bias correction convert/ applies by default.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SENTILITE_NO_PROGRESS", "1")
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))
E6 = SHARED / "data" / "emotion6"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=REPO / "runs" / "bench-models" / "mnv2_sentiment.keras")
    ap.add_argument("--quick", action="store_true", help="only the default, per-tensor and no-bias-correction rows")
    args = ap.parse_args()
    if not args.model.exists():
        sys.exit(f"{args.model} not found (python -m bench.reference_models builds the default one)")

    import numpy as np

    from sentilite.convert.bias_correction import correct_classifier_bias
    from sentilite.convert.calibration import build_calibration_set
    from sentilite.convert.export import ConversionRequest, QuantizerOptions, convert_saved_model, export_saved_model
    from sentilite.convert.validation import build_eval_set, keras_probs, open_tflite, tflite_probs
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.core.metrics import agreement
    from sentilite.core.modelfile import read_contract, write_tflite
    from sentilite.core.tf_import import import_keras

    contract = read_contract(args.model)
    evs = [build_eval_set(E6 / f"sentiment_{s}.txt", contract) for s in ("test", "val")]
    y = np.concatenate([ev.y for ev in evs])
    keras_clf = KerasClassifier(args.model)
    ref = np.concatenate([keras_probs(keras_clf, ev) for ev in evs])
    tmp = Path(tempfile.mkdtemp(prefix="int8-fidelity-"))
    sm = export_saved_model(import_keras().saving.load_model(args.model, compile=False), tmp / "sm")
    f32 = convert_saved_model(ConversionRequest(sm, "float32"))
    train = E6 / "sentiment_train.txt"
    big = build_calibration_set(train, contract, 25 if args.quick else 1583, seed=0)
    big200 = build_calibration_set(train, contract, 200, seed=0) if args.quick else big

    print(f"model {args.model}; {len(y)} test+val images; Keras accuracy {100 * (ref.argmax(1) == y).mean():.1f} %")
    print(
        f"{'setting':34s} {'agree %':>7s} {'mean|dp|':>8s} {'max|dp|':>7s} {'acc %':>6s}  predicted counts (Keras "
        f"{np.bincount(ref.argmax(1), minlength=3).tolist()})  s"
    )

    def row(name, calib, n, io="uint8", per_channel=True, bias=True):
        t0 = time.perf_counter()
        data = convert_saved_model(
            ConversionRequest(
                sm, "int8", calib.representative(n), io, quantizer=QuantizerOptions(per_channel=per_channel)
            )
        )
        if bias:
            data, _ = correct_classifier_bias(data, f32, calib.inputs(n))
        seconds = time.perf_counter() - t0
        path = write_tflite(tmp / "m.tflite", data, contract, {"variant": "int8"})
        clf = open_tflite(path, 2)
        p = np.concatenate([tflite_probs(clf, ev) for ev in evs])
        a = agreement(ref, p)
        print(
            f"{name:34s} {100 * a['top1_agreement']:7.1f} {a['mean_abs_diff']:8.4f} {a['max_abs_diff']:7.3f} "
            f"{100 * (p.argmax(1) == y).mean():6.1f}  {np.bincount(p.argmax(1), minlength=3).tolist()}  {seconds:.0f}",
            flush=True,
        )

    row("default (200 balanced train, uint8)", big200, 200)
    row("  without bias correction", big200, 200, bias=False)
    row("  per-tensor weights", big200, 200, per_channel=False)
    if args.quick:
        return
    for n in (25, 50, 100, 500, 1583):
        row(f"  {n} calibration images", big, n)
    for seed in (1, 2):
        cs = build_calibration_set(train, contract, 200, seed=seed)
        row(f"  another draw of 200 (seed {seed})", cs, 200)
        row("    without bias correction", cs, 200, bias=False)
    row("  200 drawn without class balance", build_calibration_set(train, contract, 200, seed=0, balanced=False), 200)
    row(
        "  198 val images instead of train", build_calibration_set(E6 / "sentiment_val.txt", contract, 198, seed=0), 198
    )
    row("  float32 I/O", big, 200, io="float32")
    row("  int8 I/O", big, 200, io="int8")


if __name__ == "__main__":
    main()
