"""What every classifier checks before it predicts, whatever runs the model (LiteRT or Keras).

The one home of the contract rules: the embedded contract wins over a given one, a model's
inputs and outputs must fit its contract, and an integer input whose quantisation contradicts
the contract is refused. ``classifier`` (LiteRT) and ``keras_classifier`` both use it.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import numpy as np

from .contract import PreprocessContract
from .errors import ContractError
from .modelfile import read_contract

PathLike = Union[str, os.PathLike]


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
            f"{path} carries no sentilite preprocessing contract, so its input size, normalisation and labels are "
            f"unknown.",
            missing_hint,
        )
    return contract


def check_model_io(
    path: PathLike,
    n_inputs: int,
    n_outputs: int,
    input_shape: tuple,
    n_classes: int,
    contract: PreprocessContract,
    fix: str,
) -> None:
    """Refuse a model whose inputs/outputs do not fit a classifier with this contract."""
    if n_inputs != 1 or n_outputs != 1 + len(contract.heads):
        heads = f" and {len(contract.heads)} more head(s) its contract names" if contract.heads else ""
        raise ContractError(
            f"{path} has {n_inputs} inputs and {n_outputs} outputs; a sentiment classifier has one input and "
            f"one output{heads}.",
            "pass a single-input image classifier whose contract lists every output",
        )
    if tuple(input_shape) != contract.input_shape:
        raise ContractError(
            f"{path} expects input {tuple(input_shape)} but its contract says {contract.input_shape}.", fix
        )
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


def refuse_contradiction(
    path: PathLike, contract: PreprocessContract, dtype: Any, scale: float, zero_point: int
) -> None:
    """Raise a :class:`ContractError` when an integer input's quantisation contradicts the contract.

    Such a model would clip or crush every pixel the contract's normalisation produces, so its
    answers would be wrong on every image: evaluate, bench and demo refuse it (``info`` shows it).
    """
    issues = input_quantization_issues(contract, dtype, scale, zero_point)
    if issues:
        raise ContractError(
            f"{path} contradicts its own preprocessing contract: {'; '.join(issues)}.", CONTRADICTION_FIX
        )
