#!/usr/bin/env bash
# The replication studies' comparison table (accuracy, training time, per-image inference time,
# CPU load, peak memory, file size), measured here with sentilite's own commands.
#
#   git show 9824dc0:bench/make_default_model.sh > /tmp/r.sh && bash /tmp/r.sh   # first: the MobileNetV2 runs and the student
#   bash bench/make_comparison.sh      # ~15 min on 2 CPU cores; prints the Markdown table
#
# VGG19 and InceptionResNetV2: their ImageNet weights cannot be downloaded on these machines,
# and accuracy from random initialisation would not be comparable, so their accuracy and
# training columns read "not run". Their architecture alone fixes what the rest of the table
# measures (parameters, inference time, memory, file size), so those are measured on models
# built with random weights (one FT-F epoch on 48 images, only to produce a model file with
# its contract). With internet, `--weights imagenet` trains them for real (see train/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED=${SHARED:-${SENTILITE_SHARED:-../shared}}
DM=${DM:-runs/default-model}
OUT=${OUT:-runs/compare}
E6=$SHARED/data/emotion6
for run in mnv2-ftf mnv2-fta mnv2-two-phase mnv2-two-phase-tw student-distilled; do
    [ -f "$DM/$run/metrics.json" ] || { echo "missing $DM/$run: run release/make_default_model.sh first" >&2; exit 2; }
done
mkdir -p "$OUT"
CACHE=(--cache-dir "${SENTILITE_CACHE_DIR:-runs/cache}")

# 48 Emotion6 training images (16 per class): just enough to build and save the random-weight models.
awk '{n[$2]++} n[$2] <= 16' "$E6/sentiment_train.txt" > "$OUT/tiny_48.txt"
for bb in vgg19 inception_resnet_v2; do
    if [ ! -f "$OUT/$bb-random/metrics.json" ]; then
        rm -rf "${OUT:?}/$bb-random"
        sentilite train --data "$OUT/tiny_48.txt" --val "$OUT/tiny_48.txt" --root "$E6" --backbone "$bb" \
            --weights none --mode ft-f --epochs 1 --no-augment "${CACHE[@]}" --quiet --out "$OUT/$bb-random"
    fi
done

convert() {  # convert RUN_DIR NAME EVAL_SPLIT CALIB_SIZE : full-int8 only, validated on EVAL_SPLIT
    [ -f "$OUT/convert-$2/report.json" ] && return 0
    sentilite convert "$1/model.keras" --calib "$E6/sentiment_train.txt" --eval "$3" --variants int8 \
        --calib-size "$4" --out "$OUT/convert-$2" --overwrite --latency-runs 10
}
for run in mnv2-ftf mnv2-fta mnv2-two-phase mnv2-two-phase-tw student-distilled; do
    convert "$DM/$run" "$run" "$E6/sentiment_test.txt" 200
done
convert "$OUT/vgg19-random" vgg19 "$E6/sentiment_val.txt" 32
convert "$OUT/inception_resnet_v2-random" inception_resnet_v2 "$E6/sentiment_val.txt" 32

# One benchmark run over every model: fresh process per model, 1 thread, same protocol.
MODELS=()
for run in "$DM"/mnv2-ftf "$DM"/mnv2-fta "$DM"/mnv2-two-phase "$DM"/mnv2-two-phase-tw "$DM"/student-distilled \
           "$OUT"/vgg19-random "$OUT"/inception_resnet_v2-random; do
    MODELS+=("$run/model.keras")
done
for c in "$OUT"/convert-*; do MODELS+=("$(ls "$c"/*_int8.tflite | head -n 1)"); done
if [ ! -f "$OUT/bench/results.json" ]; then
    sentilite bench "${MODELS[@]}" --threads 1 --runs 30 --warmup 3 --out "$OUT/bench"
fi

NOTE="no ImageNet weights offline"
python -m bench.replication_table --bench "$OUT/bench/results.json" \
    "MobileNetV2|FT-F|$DM/mnv2-ftf|$OUT/convert-mnv2-ftf" \
    "MobileNetV2|FT-A|$DM/mnv2-fta|$OUT/convert-mnv2-fta" \
    "MobileNetV2|two-phase|$DM/mnv2-two-phase|$OUT/convert-mnv2-two-phase" \
    "MobileNetV2|two-phase, + Twitter|$DM/mnv2-two-phase-tw|$OUT/convert-mnv2-two-phase-tw" \
    "student (distilled)|FT-A, T = 4|$DM/student-distilled|$OUT/convert-student-distilled" \
    "VGG19|FT-F / FT-A|$OUT/vgg19-random|$OUT/convert-vgg19|$NOTE" \
    "InceptionResNetV2|FT-F / FT-A|$OUT/inception_resnet_v2-random|$OUT/convert-inception_resnet_v2|$NOTE" \
    | tee "$OUT/table.md"
