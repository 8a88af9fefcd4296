"""Make ``sentilite/models/selfcheck_float32.tflite``: a tiny float32 CNN (random weights, fixed seed)
with a contract, used by the Raspberry Pi stand-in's self-check (float32 XNNPACK must match the
reference kernels). It classifies nothing: it only has to exercise float32 convolutions.

    python -m release.make_selfcheck_model
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "sentilite" / "models" / "selfcheck_float32.tflite"


def main() -> None:
    from sentilite.convert.export import convert_keras_model
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.modelfile import write_tflite
    from sentilite.core.tf_import import import_keras

    keras = import_keras("the self-check model")
    keras.utils.set_random_seed(7)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(16, 3, activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, activation="relu")(x)
    x = keras.layers.Conv2D(24, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out, name="selfcheck")
    data = convert_keras_model(model, ["float32"])["float32"]
    contract = PreprocessContract.create(32, "symmetric", provenance={"purpose": "stand-in self-check; random weights"})
    write_tflite(OUT, data, contract, {"variant": "float32", "io": "float32", "purpose": "self-check"})
    print(f"{OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    main()
