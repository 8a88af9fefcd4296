"""Which head each output of a converted multi-head file holds.

The TFLite converter may reorder a model's outputs (a MobileNetV2 with three heads comes out as
emotions, sentiment, valence/arousal), and it renames them (``StatefulPartitionedCall_1:1``). Its
serving signature keeps what is needed: Keras 3's export names the outputs ``output_0``,
``output_1``, ... in the Keras model's order, and the signature maps each name to its tensor. The
head of each file output, in file order, is stored in the file's conversion facts (``outputs``),
where every reader (sentilite's classifier, the standard metadata writer) takes it before any
guess by name or width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sentilite.core.contract import PreprocessContract
from sentilite.core.heads import SENTIMENT, match_outputs

if TYPE_CHECKING:
    import keras


def output_heads(data: bytes, keras_model: keras.Model, contract: PreprocessContract) -> Optional[list[str]]:
    """The head each output of ``data`` holds, in the file's order; None for a one-head model or a
    signature that does not name outputs ``output_<i>``."""
    from sentilite.core.runtime import make_interpreter

    if not contract.heads:
        return None
    names = list(getattr(keras_model, "output_names", None) or [t.name for t in keras_model.outputs])
    widths = [int(t.shape[-1]) for t in keras_model.outputs]
    keras_order = match_outputs(names, widths, contract.num_classes, contract.heads, "the Keras model")
    head_of = dict(zip(keras_order, [SENTIMENT, *(h.name for h in contract.heads)]))
    try:
        interp, _ = make_interpreter(data)
    except (ValueError, RuntimeError):  # e.g. Flex ops this runtime lacks: readers fall back to names/widths
        return None
    signature = interp.get_signature_runner().get_output_details()
    position: dict[int, int] = {}
    for key, detail in signature.items():
        prefix, _, number = key.rpartition("_")
        if prefix != "output" or not number.isdigit():
            return None
        position[int(detail["index"])] = int(number)
    try:
        return [head_of[position[int(d["index"])]] for d in interp.get_output_details()]
    except KeyError:
        return None
