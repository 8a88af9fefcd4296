"""Running a sentiment model on images: .tflite through the LiteRT runtime, .keras through Keras.

Both read the preprocessing contract from the model file and use :mod:`sentilite.core.preprocess`,
so the same image gives the same input whichever runtime runs it. A model whose input shape,
output size or input quantisation contradicts its contract is refused (or warned about)
before any prediction is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional, Protocol

import numpy as np

from .contract import PreprocessContract
from .heads import Head, head_values, output_order
from .model_checks import PathLike, check_model_io, refuse_contradiction, resolve_contract, softmax
from .modelfile import read_conversion_facts, require_format
from .preprocess import InputEncoder, dequantize
from .reading import Reading
from .runtime import Runtime, make_interpreter


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
        self.interpreter, self.runtime = make_interpreter(
            self.path, num_threads=num_threads, runtime=runtime, kernels=kernels
        )
        self.num_threads = num_threads
        self.facts = read_conversion_facts(self.path)
        inp = self.interpreter.get_input_details()
        out = self.interpreter.get_output_details()
        order = self._output_order(out)
        check_model_io(
            self.path,
            len(inp),
            len(out),
            tuple(int(v) for v in inp[0]["shape"][1:]),
            int(out[order[0]]["shape"][-1]),
            self.contract,
            "re-convert the model so its contract matches it",
        )
        self.input_detail, self.output_detail = inp[0], out[order[0]]
        #: the extra heads' output details, in the contract's order
        self.head_details = [out[i] for i in order[1:]]
        in_scale, in_zp = self.input_detail["quantization"]
        refuse_contradiction(self.path, self.contract, self.input_detail["dtype"], in_scale, in_zp)
        self.warnings: list[str] = []
        self.encoder = InputEncoder(self.contract, self.input_detail["dtype"], in_scale or None, int(in_zp))

    def _output_order(self, out: list[dict[str, Any]]) -> list[int]:
        if not self.contract.heads or len(out) == 1:
            return [0]  # check_model_io names a mismatch in the number of outputs
        declared = self.facts.get("outputs")
        return output_order(out, self.contract.num_classes, self.contract.heads, self.path, declared)

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
        return self.contract.decision.apply(softmax(y) if self.contract.output == "logits" else y)

    def run_heads(self, x: np.ndarray) -> Reading:
        """Invoke once on an encoded input; every head's answer (sentiment probabilities first)."""
        sentiment = self.run(x)
        return Reading(sentiment, {h.name: self.head_output(h.name, self.raw_head(d)) for h, d in self._heads()})

    def raw_head(self, detail: dict[str, Any]) -> np.ndarray:
        """An extra head's output tensor from the last invoke, as the model gives it."""
        return self.interpreter.get_tensor(detail["index"])[0]

    def head_output(self, name: str, y: np.ndarray) -> np.ndarray:
        """Raw values of the head ``name`` (from here or from a device) -> what they mean."""
        head, detail = next((h, d) for h, d in self._heads() if h.name == name)
        y = np.asarray(y, dtype=detail["dtype"])
        if y.dtype != np.float32:
            y = dequantize(y, *detail["quantization"])
        return head_values(head, y)

    def _heads(self) -> list[tuple[Head, dict[str, Any]]]:
        return list(zip(self.contract.heads, self.head_details))

    def read(self, image: np.ndarray, order: str = "RGB") -> Reading:
        """Every head's answer for one decoded uint8 image."""
        return self.run_heads(self.encode(image, order))

    def predict(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        """Class probabilities for one decoded uint8 image."""
        return self.run(self.encode(image, order))

    def predict_many(self, images: Iterable[np.ndarray], order: str = "RGB") -> np.ndarray:
        return np.stack([self.predict(im, order) for im in images])


def load_classifier(
    path: PathLike,
    num_threads: Optional[int] = 1,
    contract: Optional[PreprocessContract] = None,
    kernels: str = "xnnpack",
) -> Classifier:
    """A :class:`TFLiteClassifier` (on ``kernels``) or a Keras one, chosen by the file's content."""
    fmt = require_format(path, "tflite", "keras")
    if fmt == "tflite":
        return TFLiteClassifier(path, num_threads=num_threads, contract=contract, kernels=kernels)
    # The only door from the device side to TensorFlow, taken for a .keras file alone
    # (.importlinter names this one import as the exception).
    from .keras_classifier import KerasClassifier

    return KerasClassifier(path, contract=contract)
