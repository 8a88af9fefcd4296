"""Running a sentiment model on images: .tflite through the LiteRT runtime, .keras through Keras.

Both read the preprocessing contract from the model file and use :mod:`sentilite.core.preprocess`,
so the same image gives the same input whichever runtime runs it. A model whose input shape,
output size or input quantisation contradicts its contract is refused (or warned about)
before any prediction is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import numpy as np

from .contract import PreprocessContract
from .errors import ContractError
from .modelfile import read_contract, read_conversion_facts, require_format
from .preprocess import InputEncoder, dequantize, prepare
from .runtime import Runtime, make_interpreter

PathLike = Union[str, os.PathLike]


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def resolve_contract(path: PathLike, given: Optional[PreprocessContract]) -> PreprocessContract:
    """The model's embedded contract; a ``given`` one must agree with it (or stand in for none)."""
    embedded = read_contract(path)
    if embedded is not None and given is not None and not embedded.same_preprocessing(given):
        raise ContractError(
            f"The contract given for {path} ({given.describe()}, labels {list(given.labels)}) contradicts the one "
            f"inside it ({embedded.describe()}, labels {list(embedded.labels)}).",
            "drop the explicit contract: the model's own one is used automatically",
        )
    contract = embedded or given
    if contract is None:
        raise ContractError(
            f"{path} carries no sentilite preprocessing contract, so its input size, normalisation and labels are unknown.",
            "convert it with `sentilite convert`, or pass the contract.json it was trained with",
        )
    return contract


def input_quantization_issues(contract: PreprocessContract, dtype: Any, scale: float, zero_point: int) -> list[str]:
    """Reasons an int8/uint8 input's scale/zero point does not fit the contract's value range."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return []
    if not scale:
        return [f"{dtype} input has no quantisation scale"]
    info = np.iinfo(dtype)
    lo_q, hi_q = (info.min - zero_point) * scale, (info.max - zero_point) * scale
    lo, hi = contract.norm.value_range()
    issues = []
    # Calibration sees real images, so the quantised range should match the contract's
    # theoretical one closely; 5 % slack absorbs images without pure black or white.
    slack = 0.05 * (hi - lo)
    if lo < lo_q - slack or hi > hi_q + slack:
        issues.append(
            f"input quantisation covers [{lo_q:.3f}, {hi_q:.3f}] but the contract's {contract.norm.name} "
            f"normalisation produces [{lo:.3f}, {hi:.3f}]: pixel values will be clipped"
        )
    if (hi_q - lo_q) > 1.5 * (hi - lo):
        issues.append(
            f"input quantisation covers [{lo_q:.3f}, {hi_q:.3f}], far wider than the contract's "
            f"[{lo:.3f}, {hi:.3f}]: was the model calibrated with differently normalised images?"
        )
    return issues


class TFLiteClassifier:
    """A .tflite sentiment classifier with its embedded contract."""

    def __init__(
        self,
        path: PathLike,
        num_threads: Optional[int] = 1,
        runtime: Optional[Runtime] = None,
        contract: Optional[PreprocessContract] = None,
    ) -> None:
        self.path = Path(path)
        require_format(self.path, "tflite")
        self.contract = resolve_contract(self.path, contract)
        self.interpreter, self.runtime = make_interpreter(self.path, num_threads=num_threads, runtime=runtime)
        self.num_threads = num_threads
        inp = self.interpreter.get_input_details()
        out = self.interpreter.get_output_details()
        if len(inp) != 1 or len(out) != 1:
            raise ContractError(f"{self.path} has {len(inp)} inputs and {len(out)} outputs; a sentiment classifier has one of each.")
        self.input_detail, self.output_detail = inp[0], out[0]
        shape = tuple(int(v) for v in self.input_detail["shape"])
        if shape[1:] != self.contract.input_shape:
            raise ContractError(
                f"{self.path} expects input {shape[1:]} but its contract says {self.contract.input_shape}.",
                "re-convert the model so the contract matches its input",
            )
        n_out = int(self.output_detail["shape"][-1])
        if n_out != self.contract.num_classes:
            raise ContractError(
                f"{self.path} outputs {n_out} values but its contract names {self.contract.num_classes} labels "
                f"({', '.join(self.contract.labels)}).",
                "re-convert the model with the right labels",
            )
        in_scale, in_zp = self.input_detail["quantization"]
        self.warnings = input_quantization_issues(self.contract, self.input_detail["dtype"], in_scale, in_zp)
        self.encoder = InputEncoder(self.contract, self.input_detail["dtype"], in_scale or None, int(in_zp))
        self.facts = read_conversion_facts(self.path)

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.input_detail["dtype"])

    def encode(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        """Decoded uint8 image -> model-ready ``(1, H, W, 3)`` input."""
        return self.encoder(image, order)[None]

    def run(self, x: np.ndarray) -> np.ndarray:
        """Invoke on an encoded input; returns float32 class probabilities ``(C,)``."""
        self.interpreter.set_tensor(self.input_detail["index"], x)
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.output_detail["index"])[0]
        if y.dtype != np.float32:
            scale, zp = self.output_detail["quantization"]
            y = dequantize(y, scale, zp)
        return softmax(y) if self.contract.output == "logits" else y

    def predict(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        """Class probabilities for one decoded uint8 image."""
        return self.run(self.encode(image, order))

    def predict_many(self, images: Iterable[np.ndarray], order: str = "RGB") -> np.ndarray:
        return np.stack([self.predict(im, order) for im in images])


class KerasClassifier:
    """A .keras sentiment classifier (needs TensorFlow); same interface as :class:`TFLiteClassifier`."""

    runtime_name = "keras"

    def __init__(self, path: PathLike, contract: Optional[PreprocessContract] = None) -> None:
        from .tf_import import import_keras

        self.path = Path(path)
        require_format(self.path, "keras")
        self.contract = resolve_contract(self.path, contract)
        keras = import_keras("running a .keras model")
        self.keras = keras
        self.model = keras.saving.load_model(self.path, compile=False)
        shape = tuple(self.model.inputs[0].shape[1:])
        if shape != self.contract.input_shape:
            raise ContractError(
                f"{self.path} expects input {shape} but its contract says {self.contract.input_shape}.",
                "fix the contract stored with the model",
            )
        self.warnings: list[str] = []
        self.runtime = f"keras {keras.__version__}"

    def encode(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        return prepare(image, self.contract, order)[None]

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.run_batch(x)[0]

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.model(x, training=False), dtype=np.float32)
        return softmax(y) if self.contract.output == "logits" else y

    def predict(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        return self.run(self.encode(image, order))

    def predict_many(self, images: Iterable[np.ndarray], order: str = "RGB", batch_size: int = 32) -> np.ndarray:
        out, batch = [], []
        for im in images:
            batch.append(prepare(im, self.contract, order))
            if len(batch) == batch_size:
                out.append(self.run_batch(np.stack(batch)))
                batch = []
        if batch:
            out.append(self.run_batch(np.stack(batch)))
        return np.concatenate(out) if out else np.zeros((0, self.contract.num_classes), np.float32)


def load_classifier(path: PathLike, num_threads: Optional[int] = 1, contract: Optional[PreprocessContract] = None):
    """A :class:`TFLiteClassifier` or :class:`KerasClassifier`, chosen by the file's content."""
    fmt = require_format(path, "tflite", "keras")
    if fmt == "tflite":
        return TFLiteClassifier(path, num_threads=num_threads, contract=contract)
    return KerasClassifier(path, contract=contract)
