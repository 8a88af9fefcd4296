"""A .keras sentiment classifier: the host-side twin of :class:`~sentilite.core.classifier.TFLiteClassifier`.

Kept apart from ``classifier`` because it needs TensorFlow: the device side imports that
module and must never reach this one (``.importlinter`` checks it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from .contract import PreprocessContract
from .heads import head_values, match_outputs
from .model_checks import PathLike, check_model_io, resolve_contract, softmax
from .modelfile import require_format
from .preprocess import prepare
from .reading import Reading
from .runtime import Runtime
from .tf_import import import_keras


class KerasClassifier:
    """A .keras sentiment classifier (needs TensorFlow); same interface as :class:`TFLiteClassifier`."""

    def __init__(self, path: PathLike, contract: Optional[PreprocessContract] = None) -> None:
        self.path = Path(path)
        require_format(self.path, "keras")
        self.contract = resolve_contract(self.path, contract)
        keras = import_keras("running a .keras model")
        self.keras = keras
        self.model = keras.saving.load_model(self.path, compile=False)
        m = self.model
        #: the model's output index of the sentiment head, then of each contract head
        self.order = [0]
        if self.contract.heads and len(m.outputs) > 1:
            widths = [int(t.shape[-1]) for t in m.outputs]
            names = list(getattr(m, "output_names", None) or [t.name for t in m.outputs])
            self.order = match_outputs(names, widths, self.contract.num_classes, self.contract.heads, self.path)
        check_model_io(
            self.path,
            len(m.inputs),
            len(m.outputs),
            tuple(m.inputs[0].shape[1:]),
            int(m.outputs[self.order[0]].shape[-1]),
            self.contract,
            "fix the contract stored with the model",
        )
        self.warnings: list[str] = []
        self.runtime = Runtime(name="keras", version=keras.__version__, interpreter_class=None, module=keras)

    def encode(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        return prepare(image, self.contract, order)[None]

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.run_batch(x)[0]

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        return self._sentiment(self.outputs(x)[0])

    def _sentiment(self, y: np.ndarray) -> np.ndarray:
        return self.contract.decision.apply(softmax(y) if self.contract.output == "logits" else y)

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """The model's raw outputs for a batch: sentiment first, then the contract's heads in order."""
        y = self.model(x, training=False)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        return [np.asarray(ys[i], dtype=np.float32) for i in self.order]

    def run_heads_batch(self, x: np.ndarray) -> list[Reading]:
        """Every head's answer for a batch of encoded inputs, one :class:`Reading` per input."""
        ys = self.outputs(x)
        sentiment = self._sentiment(ys[0])
        heads = {h.name: head_values(h, y) for h, y in zip(self.contract.heads, ys[1:])}
        return [Reading(sentiment[i], {k: v[i] for k, v in heads.items()}) for i in range(len(sentiment))]

    def run_heads(self, x: np.ndarray) -> Reading:
        return self.run_heads_batch(x)[0]

    def read(self, image: np.ndarray, order: str = "RGB") -> Reading:
        return self.run_heads(self.encode(image, order))

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
