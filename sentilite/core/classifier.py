"""Running a sentiment model on images: .tflite through the LiteRT runtime, .keras through Keras.

Both read the preprocessing contract from the model file and use :mod:`sentilite.core.preprocess`,
so the same image gives the same input whichever runtime runs it. A model whose input shape,
output size or input quantisation contradicts its contract is refused (or warned about)
before any prediction is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Optional, Protocol, Union

import numpy as np

from .contract import PreprocessContract
from .errors import ContractError
from .modelfile import read_contract, read_conversion_facts, require_format
from .preprocess import InputEncoder, dequantize
from .runtime import Runtime, make_interpreter

PathLike = Union[str, os.PathLike]


class Classifier(Protocol):
    """What evaluate, convert's validation and the demo need of a model, whatever runs it."""

    path: Path
    contract: PreprocessContract
    runtime: Runtime  # name, version, describe(): LiteRT's interpreter or Keras
    warnings: list[str]

    def encode(self, image: np.ndarray, order: str = "RGB") -> np.ndarray: ...

    def run(self, x: np.ndarray) -> np.ndarray: ...

    def predict(self, image: np.ndarray, order: str = "RGB") -> np.ndarray: ...

    def predict_many(self, images: Iterable[np.ndarray], order: str = "RGB") -> np.ndarray: ...


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def resolve_contract(
    path: PathLike,
    given: Optional[PreprocessContract],
    *,
    drop_hint: str = "drop the explicit contract: the model's own one is used automatically",
    missing_hint: str = "convert it with `sentilite convert`, or pass the contract.json it was trained with",
) -> PreprocessContract:
    """The model's embedded contract; a ``given`` one must agree with it (or stand in for none).

    The one home of this rule for every reader (classifiers, convert); the hints let each
    command name its own option in the fix.
    """
    embedded = read_contract(path)
    if embedded is not None and given is not None and not embedded.same_preprocessing(given):
        raise ContractError(
            f"The contract given for {path} ({given.describe()}, labels {list(given.labels)}) contradicts the one "
            f"inside it ({embedded.describe()}, labels {list(embedded.labels)}).",
            drop_hint,
        )
    contract = embedded or given
    if contract is None:
        raise ContractError(
            f"{path} carries no sentilite preprocessing contract, so its input size, normalisation and labels are unknown.",
            missing_hint,
        )
    return contract


def check_model_io(path: PathLike, n_inputs: int, n_outputs: int, input_shape: tuple, n_classes: int,
                   contract: PreprocessContract, fix: str) -> None:
    """Refuse a model whose inputs/outputs do not fit a classifier with this contract."""
    if n_inputs != 1 or n_outputs != 1:
        raise ContractError(f"{path} has {n_inputs} inputs and {n_outputs} outputs; a sentiment classifier has one of each.",
                            "pass a single-input, single-output image classifier")
    if tuple(input_shape) != contract.input_shape:
        raise ContractError(f"{path} expects input {tuple(input_shape)} but its contract says {contract.input_shape}.", fix)
    if n_classes != contract.num_classes:
        raise ContractError(
            f"{path} outputs {n_classes} values but its contract names {contract.num_classes} labels "
            f"({', '.join(contract.labels)}).",
            fix,
        )


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


CONTRADICTION_FIX = (
    "re-convert it from its .keras model with `sentilite convert` (calibration then uses images prepared through the "
    "contract), or, if the contract inside is the wrong one, re-embed the right one"
)


def refuse_contradiction(path: PathLike, contract: PreprocessContract, dtype: Any, scale: float, zero_point: int) -> None:
    """Raise a :class:`ContractError` when an integer input's quantisation contradicts the contract.

    Such a model would clip or crush every pixel the contract's normalisation produces, so its
    answers would be wrong on every image: evaluate, bench and demo refuse it (``info`` shows it).
    """
    issues = input_quantization_issues(contract, dtype, scale, zero_point)
    if issues:
        raise ContractError(f"{path} contradicts its own preprocessing contract: {'; '.join(issues)}.", CONTRADICTION_FIX)


class TFLiteClassifier:
    """A .tflite sentiment classifier with its embedded contract."""

    def __init__(
        self,
        path: PathLike,
        num_threads: Optional[int] = 1,
        runtime: Optional[Runtime] = None,
        contract: Optional[PreprocessContract] = None,
        kernels: str = "xnnpack",
    ) -> None:
        self.path = Path(path)
        require_format(self.path, "tflite")
        self.contract = resolve_contract(self.path, contract)
        self.kernels = kernels
        self.interpreter, self.runtime = make_interpreter(self.path, num_threads=num_threads, runtime=runtime, kernels=kernels)
        self.num_threads = num_threads
        inp = self.interpreter.get_input_details()
        out = self.interpreter.get_output_details()
        check_model_io(self.path, len(inp), len(out), tuple(int(v) for v in inp[0]["shape"][1:]),
                       int(out[0]["shape"][-1]), self.contract, "re-convert the model so its contract matches it")
        self.input_detail, self.output_detail = inp[0], out[0]
        in_scale, in_zp = self.input_detail["quantization"]
        refuse_contradiction(self.path, self.contract, self.input_detail["dtype"], in_scale, in_zp)
        self.warnings: list[str] = []
        self.encoder = InputEncoder(self.contract, self.input_detail["dtype"], in_scale or None, int(in_zp))
        self.facts = read_conversion_facts(self.path)

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.input_detail["dtype"])

    def encode(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        """Decoded uint8 image -> model-ready ``(1, H, W, 3)`` input."""
        return self.encoder(image, order)[None]

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """Invoke on an encoded input; returns the output tensor as the model gives it (``(C,)``)."""
        self.interpreter.set_tensor(self.input_detail["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_detail["index"])[0]

    def run(self, x: np.ndarray) -> np.ndarray:
        """Invoke on an encoded input; returns float32 class probabilities ``(C,)``."""
        return self.probabilities(self.run_raw(x))

    def probabilities(self, y: np.ndarray) -> np.ndarray:
        """Raw output values (from here or from a device) -> float32 class probabilities."""
        y = np.asarray(y, dtype=self.output_detail["dtype"])
        if y.dtype != np.float32:
            scale, zp = self.output_detail["quantization"]
            y = dequantize(y, scale, zp)
        return softmax(y) if self.contract.output == "logits" else y

    def predict(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        """Class probabilities for one decoded uint8 image."""
        return self.run(self.encode(image, order))

    def predict_many(self, images: Iterable[np.ndarray], order: str = "RGB") -> np.ndarray:
        return np.stack([self.predict(im, order) for im in images])


def load_classifier(path: PathLike, num_threads: Optional[int] = 1, contract: Optional[PreprocessContract] = None,
                    kernels: str = "xnnpack") -> Classifier:
    """A :class:`TFLiteClassifier` (on ``kernels``) or a Keras one, chosen by the file's content."""
    fmt = require_format(path, "tflite", "keras")
    if fmt == "tflite":
        return TFLiteClassifier(path, num_threads=num_threads, contract=contract, kernels=kernels)
    # The only door from the device side to TensorFlow, taken for a .keras file alone
    # (.importlinter names this one import as the exception).
    from .keras_classifier import KerasClassifier

    return KerasClassifier(path, contract=contract)
