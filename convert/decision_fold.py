"""The contract's decision rule, folded into the network's final Dense layer at conversion.

``softmax(log(p) / T + b) = softmax(z / T + b)`` for ``p = softmax(z)``: dividing the final
layer's weights and bias by ``T`` and adding ``b`` to its bias makes the .tflite itself answer
with the rule, for MediaPipe and any app as much as for sentilite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sentilite.core.contract import PreprocessContract

if TYPE_CHECKING:
    import keras


def fold_decision_rule(model: keras.Model, contract: PreprocessContract) -> tuple[Any, PreprocessContract, bool]:
    """Fold the contract's decision rule into the final Dense layer (named ``logits``, as
    ``sentilite train`` builds it); the returned contract carries an identity rule, with the
    fold in its provenance.
    Returns ``(model, contract, folded)``; a model without such a layer keeps the rule in its contract.
    """
    from dataclasses import replace

    from sentilite.core.decision import DecisionRule

    rule = contract.decision
    if rule.identity or contract.output != "probabilities":
        return model, contract, False
    layer = _find_layer(model, "logits")
    if layer is None or len(layer.get_weights()) != 2:
        return model, contract, False
    kernel, bias = layer.get_weights()
    offsets = np.asarray(rule.class_log_bias or [0.0] * kernel.shape[-1], np.float32)
    layer.set_weights([kernel / np.float32(rule.temperature), bias / np.float32(rule.temperature) + offsets])
    folded = replace(contract, decision=DecisionRule()).with_provenance(decision_rule_in_model=rule.to_dict())
    return model, folded, True


def _find_layer(model: keras.Model, name: str) -> Any:
    for layer in getattr(model, "layers", []):
        if layer.name == name:
            return layer
        inner = _find_layer(layer, name)
        if inner is not None:
            return inner
    return None
