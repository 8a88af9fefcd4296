"""Issue 32 item 4, the fusion `sentilite profile` suggests: fold the pixel-in normalisation into the
stem convolution, and see what it saves and what it changes.

Today a pixel-in model computes ``(pixel / 255 - mean) / std`` in a 1x1 depthwise convolution on
the 224x224x3 input (6-7 % of the int8 invoke, docs/profile.md). Folded: the stem convolution's
weights take the division (exact) and the following batch norm's mean takes the offset (exact in
the interior). It is not exact at the border: the stem's zero padding now pads black pixels where
it padded the mean colour, and TFLite's PAD takes one scalar, so no padding value repairs that.

Both files are the reference MobileNetV2 (``bench.reference_models``) as full int8, uint8 pixel
input, calibrated alike. Printed: op counts, median latency interleaved in one run (``--rounds``
rounds of ``--runs`` invokes, 1 thread), and on Emotion6 test the top-1 agreement of the folded
file with today's and with the Keras model, and the largest probability difference.

    python -m bench.fold_normalization
"""

from __future__ import annotations

import argparse
import time
from statistics import median
from typing import Any

import numpy as np

from bench.reference_models import EMOTION6, pixel_in_int8, reference_models


def _stem(model: Any, keras: Any) -> tuple[Any, Any]:
    """The first Conv2D of the (nested) network and the BatchNormalization after it."""
    layers = [lay for sub in model.layers for lay in (sub.layers if hasattr(sub, "layers") else [sub])]
    i = next(k for k, lay in enumerate(layers) if type(lay) is keras.layers.Conv2D)
    bn = layers[i + 1] if isinstance(layers[i + 1], keras.layers.BatchNormalization) else None
    return layers[i], bn


def folded_model(model: Any, contract: Any, keras: Any) -> Any:
    """A copy of ``model`` taking 0-255 pixels, the normalisation folded into its stem."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    conv, bn = _stem(clone, keras)
    std = np.asarray(contract.model_norm.std, np.float32)
    mean = np.asarray(contract.model_norm.mean, np.float32)
    weights = conv.get_weights()
    kernel = weights[0]  # (kh, kw, in, out)
    shift = np.einsum("hwio,i->o", kernel, -mean / std)  # what the offset adds to each output
    weights[0] = kernel / (255.0 * std)[None, None, :, None]
    if conv.use_bias:
        weights[1] = weights[1] + shift
    elif bn is not None:
        gamma_beta_mean_var = bn.get_weights()
        idx = 2 if bn.scale and bn.center else (1 if (bn.scale or bn.center) else 0)
        gamma_beta_mean_var[idx] = gamma_beta_mean_var[idx] - shift
        bn.set_weights(gamma_beta_mean_var)
    else:
        raise SystemExit("the stem convolution has neither a bias nor a batch norm to take the offset")
    conv.set_weights(weights)
    pixels = keras.Input(contract.input_shape, name="pixels")
    return keras.Model(pixels, clone(pixels), name=f"{model.name}_folded")


def convert_folded(keras_path: Any, out: Any) -> Any:
    from dataclasses import replace

    from sentilite.convert.export import convert_keras_model
    from sentilite.convert.pixel_in import pin_pixel_range
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.modelfile import read_contract, write_tflite
    from sentilite.core.preprocess import resize_to_contract
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    contract = replace(read_contract(keras_path), interpolation="warp_linear")
    model = folded_model(keras.saving.load_model(keras_path, compile=False), contract, keras)
    train = read_split_file(EMOTION6 / "sentiment_train.txt").balanced_sample(100, seed=1)
    pixels = np.stack([resize_to_contract(load_image(s.path), contract) for s in train]).astype(np.float32)

    def rep():  # the same calibration images and pinned range as bench.reference_models.pixel_in_int8
        for i, x in enumerate(pixels):
            yield [pin_pixel_range(x[None]) if i == 0 else x[None]]

    blob = convert_keras_model(model, ("int8",), rep, io_type="uint8")["int8"]
    return write_tflite(out, blob, contract.as_pixel_in(), {"variant": "int8", "io": "uint8", "pixel_in": True})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=100)
    args = p.parse_args()
    from sentilite.core.classifier import TFLiteClassifier, load_classifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image

    today = pixel_in_int8()
    folded = convert_folded(reference_models()["keras"], today.with_name("mnv2_sentiment_int8_folded.tflite"))
    clfs = {"today (1x1 depthwise)": TFLiteClassifier(today), "folded into the stem": TFLiteClassifier(folded)}
    for name, clf in clfs.items():
        ops = [o["op_name"] for o in clf.interpreter._get_ops_details() if o["op_name"] != "DELEGATE"]
        print(f"{name}: {len(ops)} ops, first {ops[:4]}")
    images = [load_image(s) for s in read_split_file(EMOTION6 / "sentiment_test.txt").paths]
    probs = {n: np.stack([c.predict(im) for im in images]) for n, c in clfs.items()}
    keras = load_classifier(reference_models()["keras"])
    ref = np.stack([keras.predict(im) for im in images])
    x = next(iter(clfs.values())).encode(images[0])
    times: dict[str, list[float]] = {n: [] for n in clfs}
    for _ in range(args.rounds):
        for n, c in clfs.items():
            for _ in range(10):
                c.run_raw(x)
            samples = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                c.run_raw(x)
                samples.append((time.perf_counter() - t0) * 1000)
            times[n].append(median(samples))
    a, b = probs.values()
    ratio = median(times[list(clfs)[1]]) / median(times[list(clfs)[0]])
    for n, pr in probs.items():
        print(
            f"{n:<24} {median(times[n]):.3f} ms  top-1 with Keras {100 * np.mean(pr.argmax(1) == ref.argmax(1)):.1f} %"
        )
    print(
        f"folded vs today on {len(images)} photos: top-1 agreement {100 * np.mean(a.argmax(1) == b.argmax(1)):.1f} %, "
        f"max |dp| {np.abs(a - b).max():.4f}, speed ratio {ratio:.3f}"
    )


if __name__ == "__main__":
    main()
