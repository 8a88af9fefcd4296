"""Helpers for tests: tiny Keras sentiment models and their TFLite variants, built in seconds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import Dataset
from sentilite.core.heads import EMOTION_HEAD, VALENCE_AROUSAL_HEAD
from sentilite.core.imageio import load_image
from sentilite.core.modelfile import write_contract_keras, write_tflite
from sentilite.core.preprocess import prepare
from sentilite.core.tf_import import import_keras

TINY_CONTRACT = PreprocessContract.create(32, "symmetric", provenance={"backbone": "tiny-test-cnn"})
#: the tiny contract with issue 30's two extra heads (seven emotions, valence/arousal)
HEADS_CONTRACT = replace(TINY_CONTRACT, heads=(EMOTION_HEAD, VALENCE_AROUSAL_HEAD))


def load_prepared(
    dataset: Dataset, contract: PreprocessContract, limit: Optional[int] = None
) -> tuple[np.ndarray, np.ndarray]:
    samples = dataset.samples[:limit] if limit else dataset.samples
    x = np.stack([prepare(load_image(s.path), contract) for s in samples])
    y = np.array([s.label for s in samples])
    return x, y


def build_tiny_model(contract: PreprocessContract = TINY_CONTRACT, seed: int = 0):
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    inp = keras.Input(contract.input_shape)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(contract.num_classes, activation="softmax")(x)
    return keras.Model(inp, out, name="tiny_sentiment")


def train_tiny(dataset: Dataset, contract: PreprocessContract = TINY_CONTRACT, epochs: int = 15, seed: int = 0):
    """A tiny CNN fitted on ``dataset`` (confident on synthetic data after a few seconds)."""
    keras = import_keras()
    model = build_tiny_model(contract, seed)
    x, y = load_prepared(dataset, contract)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    return model


def save_keras(model, path: Path, contract: PreprocessContract) -> Path:
    model.save(path)
    write_contract_keras(path, contract)
    return path


def convert_variants(
    model,
    contract: PreprocessContract,
    out_dir: Path,
    calib: np.ndarray,
    variants: Sequence[str] = ("float32", "float16", "dynamic-int8", "int8"),
    io_type: str = "uint8",
    stem: str = "model",
) -> dict[str, Path]:
    from sentilite.convert.export import convert_keras_model

    def rep() -> Iterable[list[np.ndarray]]:
        for x in calib:
            yield [x[None].astype(np.float32)]

    blobs = convert_keras_model(model, variants, rep, io_type=io_type)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        v: write_tflite(
            out_dir / f"{stem}_{v}.tflite", b, contract, {"variant": v, "io": io_type if v == "int8" else "float32"}
        )
        for v, b in blobs.items()
    }


def build_hard_model(train: Dataset, contract: PreprocessContract = TINY_CONTRACT):
    """The tiny CNN trained on ``train``, then one channel of its middle convolution made a
    constant 200 that the next layer ignores. In float nothing changes; in int8 that channel
    takes the tensor's one scale (200 / 255 per step), so the other channels keep a few levels each."""
    keras = import_keras()
    keras.utils.set_random_seed(0)
    inp = keras.Input(contract.input_shape)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="hard")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu", name="after")(x)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, out)
    xs, ys = load_prepared(train, contract)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(xs, ys, epochs=25, verbose=0)
    w, b = model.get_layer("hard").get_weights()
    w[..., 0], b[0] = 0.0, 200.0
    model.get_layer("hard").set_weights([w, b])
    wa, ba = model.get_layer("after").get_weights()
    wa[:, :, 0, :] = 0.0
    model.get_layer("after").set_weights([wa, ba])
    return model


def tflite_probs(data: bytes, xs: np.ndarray) -> np.ndarray:
    """A .tflite flatbuffer with float I/O run on ``xs`` one image at a time: its outputs."""
    from sentilite.core.runtime import make_interpreter

    interp, _ = make_interpreter(data)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    out = []
    for x in xs:
        interp.set_tensor(i["index"], x[None].astype(np.float32))
        interp.invoke()
        out.append(interp.get_tensor(o["index"])[0])
    return np.array(out)


def build_three_head_model(seed: int = 0):
    """Outputs deliberately in another order than the contract's: sentiment, valence/arousal, emotions."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(seed)
    inp = keras.Input(TINY_CONTRACT.input_shape)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = dict(bias_initializer="random_normal")  # non-zero biases, as after training
    sentiment = keras.layers.Dense(3, activation="softmax", name="sentiment", **dense)(x)
    va = keras.layers.Dense(2, activation="sigmoid", **dense)(x)
    va = keras.layers.Rescaling(8.0, offset=1.0, name="valence_arousal")(va)
    emotions = keras.layers.Dense(7, activation="softmax", name="emotions", **dense)(x)
    return keras.Model(inp, [sentiment, va, emotions], name="three_heads")
