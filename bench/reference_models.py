"""Build (once, cached) the reference MobileNetV2 sentiment models the bench/ scripts time.

The network is the ImageNet MobileNetV2 from ../shared/weights (torchvision normalisation) with a
3-class head fitted for a few seconds on Emotion6 features, exported as .keras and converted to
float32, float16, dynamic-int8 and full-int8 (uint8 and int8 I/O). Latency does not depend on
how well the head is trained; the figures the README quotes for accuracy come from the real
training runs, not from these files.

    python -m bench.reference_models            # prints the paths
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))
BACKBONE = SHARED / "weights" / "mobilenet_v2_imagenet_1.0_224.keras"
EMOTION6 = SHARED / "data" / "emotion6"
CACHE = REPO / "runs" / "bench-models"

VARIANTS = ("float32", "float16", "dynamic-int8", "int8")


def reference_models(io_types=("uint8", "int8")) -> dict[str, Path]:
    """name -> path for keras, float32, float16, dynamic-int8, int8 (uint8 I/O), int8-int8io."""
    names = {"keras": CACHE / "mnv2_sentiment.keras"}
    names.update({v: CACHE / f"mnv2_sentiment_{v}.tflite" for v in VARIANTS})
    names["int8-int8io"] = CACHE / "mnv2_sentiment_int8_int8io.tflite"
    if all(p.exists() for p in names.values()):
        return names
    if not BACKBONE.exists() or not EMOTION6.exists():
        sys.exit(f"needs {BACKBONE} and {EMOTION6} (../shared); not found")
    import numpy as np

    from sentilite.convert.export import convert_keras_model
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.modelfile import write_contract_keras, write_tflite
    from sentilite.core.preprocess import prepare
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    contract = PreprocessContract.create(
        224,
        "imagenet",
        provenance={"backbone": "mobilenet_v2 1.0 (ImageNet, ../shared)", "purpose": "benchmark reference"},
    )
    full = keras.saving.load_model(BACKBONE, compile=False)
    backbone = keras.Model(full.inputs, full.get_layer("gap").output, name="backbone")
    train = read_split_file(EMOTION6 / "sentiment_train.txt").balanced_sample(200, seed=1)
    x = np.stack([prepare(load_image(smp.path), contract) for smp in train.samples])
    y = np.array([smp.label for smp in train.samples])
    feats = backbone.predict(x, batch_size=32, verbose=0)
    head = keras.Sequential([keras.Input((1280,)), keras.layers.Dense(3, activation="softmax")], name="head")
    head.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    head.fit(feats, y, epochs=60, batch_size=32, verbose=0)
    inp = keras.Input(contract.input_shape)
    model = keras.Model(inp, head(backbone(inp)), name="mobilenet_v2_sentiment")
    CACHE.mkdir(parents=True, exist_ok=True)
    calib = x[np.random.default_rng(0).permutation(len(x))[:100]]

    def rep():
        for xi in calib:
            yield [xi[None].astype(np.float32)]

    for v, blob in convert_keras_model(model, VARIANTS, rep, io_type="uint8").items():
        write_tflite(names[v], blob, contract, {"variant": v, "io": "uint8" if v == "int8" else "float32"})
    blob = convert_keras_model(model, ("int8",), rep, io_type="int8")["int8"]
    write_tflite(names["int8-int8io"], blob, contract, {"variant": "int8", "io": "int8"})
    model.save(names["keras"])
    write_contract_keras(names["keras"], contract)
    assert all(p.exists() for p in names.values()), names
    return names


def pixel_in_int8() -> Path:
    """The same network as full int8 with uint8 I/O, pixel-in and warp_linear resizing (what
    `sentilite convert` writes by default now), built once from the reference .keras."""
    path = CACHE / "mnv2_sentiment_int8_pixel_in.tflite"
    if path.exists():
        return path
    from dataclasses import replace

    import numpy as np

    from sentilite.convert.export import convert_keras_model
    from sentilite.convert.pixel_in import pin_pixel_range, wrap_pixel_in
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.modelfile import read_contract, write_tflite
    from sentilite.core.preprocess import resize_to_contract
    from sentilite.core.tf_import import import_keras

    keras_path = reference_models()["keras"]
    contract = replace(read_contract(keras_path), interpolation="warp_linear")
    model = wrap_pixel_in(import_keras().saving.load_model(keras_path, compile=False), contract)
    train = read_split_file(EMOTION6 / "sentiment_train.txt").balanced_sample(100, seed=1)
    pixels = np.stack([resize_to_contract(load_image(s.path), contract) for s in train]).astype(np.float32)

    def rep():
        for i, x in enumerate(pixels):
            yield [pin_pixel_range(x[None]) if i == 0 else x[None]]

    blob = convert_keras_model(model, ("int8",), rep, io_type="uint8")["int8"]
    return write_tflite(path, blob, contract.as_pixel_in(), {"variant": "int8", "io": "uint8", "pixel_in": True})


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print(f"{'int8-pixel-in':12s} {pixel_in_int8()}")
    for name, path in reference_models().items():
        print(f"{name:12s} {path}  {path.stat().st_size / 1e6:.2f} MB")
