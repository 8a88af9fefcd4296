"""What a conversion reads and checks before its first conversion (model file, contract, output
folder, calibration and evaluation images), and the one typed record of it that the pipeline and
the int8 wing both take, instead of loose arguments."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import ContractError, InputFileError, ModelFormatError
from sentilite.core.fsutil import sha256_file
from sentilite.core.model_checks import check_model_io, resolve_contract
from sentilite.core.modelfile import require_format
from sentilite.core.probe import cpu_model

from .calibration import CalibrationSet, build_calibration_set
from .decision_fold import fold_decision_rule
from .export import tensorflow_version
from .options import ConvertOptions
from .pixel_in import wrap_pixel_in
from .staging import check_out_dir
from .validation import EvalSet, build_eval_set

PathLike = Union[str, os.PathLike]
Log = Callable[[str], None]


@dataclass
class ConvertInputs:
    """Everything read and checked before the first conversion."""

    model_path: Path
    contract: PreprocessContract  # the Keras model's
    export: PreprocessContract  # the one the .tflite files carry (pixel-in unless told otherwise)
    calib_set: Optional[CalibrationSet]
    calib_n: int
    ev: EvalSet
    keras_model: Any
    tf_version: str
    model_sha: str
    #: metadata entries every file written carries beside the contract (a semantic head's vocabulary)
    extra_metadata: dict[str, bytes] = field(default_factory=dict)


# -- checks done before any conversion -------------------------------------------------------


def resolve_model_contract(
    model_path: PathLike, contract: Union[None, PathLike, PreprocessContract]
) -> PreprocessContract:
    """The contract inside the .keras file, else the one given (a contract.json path or object)."""
    given: Optional[PreprocessContract] = None
    if isinstance(contract, PreprocessContract):
        given = contract
    elif contract is not None:
        p = Path(contract)
        if not p.is_file():
            raise InputFileError(
                f"Contract file not found: {p}.", "pass the contract.json written by `sentilite train`"
            )
        try:
            given = PreprocessContract.from_json(p.read_text(encoding="utf-8"))
        except ContractError as exc:
            raise ContractError(
                f"{p}: {exc.problem}", exc.fix or "pass the contract.json written by `sentilite train`"
            ) from None
    return resolve_contract(
        model_path,
        given,
        drop_hint="drop --contract: the model's own contract is used automatically",
        missing_hint="pass --contract contract.json (the one it was trained with), or train it with `sentilite train`",
    )


def load_keras_model(path: Path, contract: PreprocessContract) -> Any:
    """Load the Keras model and check it is one image in, one score per label out."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras("conversion")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for unloadable files
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(
            f"Keras cannot load {path}: {first}",
            "pass a .keras file saved by Keras 3 (custom layers must be importable and registered)",
        ) from None
    shape = tuple(model.inputs[0].shape[1:])
    if len(model.inputs) == 1 and None in shape and len(shape) == 3 and shape[-1] in (3, None):
        # Dynamic spatial size: pin it to the contract's so the .tflite has a fixed input.
        inp = keras.Input(contract.input_shape, name="image")
        model = keras.Model(inp, model(inp), name=model.name)
        shape = contract.input_shape
    check_model_io(
        path,
        len(model.inputs),
        len(model.outputs),
        shape,
        model.outputs[0].shape[-1],
        contract,
        "pass the contract the model was trained with (--contract)",
    )
    return model


def host_facts(tf_version: str) -> dict[str, Any]:
    return {
        "cpu": cpu_model()["cpu"],
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "system": platform.system(),
        "python": platform.python_version(),
        "tensorflow": tf_version,
    }


def read_inputs(
    model: PathLike,
    calib: Optional[PathLike],
    eval_split: PathLike,
    root: Optional[PathLike],
    out_dir: Path,
    opts: ConvertOptions,
    say: Log,
) -> ConvertInputs:
    model_path = Path(model)
    require_format(model_path, "keras")
    contract = resolve_model_contract(model_path, opts.contract)
    export = opts.export_contract(contract)
    check_out_dir(out_dir, opts.overwrite)
    calib_set: Optional[CalibrationSet] = None
    if opts.needs_calibration():
        if calib is None:
            raise InputFileError(
                "Full-integer int8 needs a calibration set.", "pass --calib SPLIT (e.g. your training split)"
            )
        say(f"reading calibration images from {calib}")
        calib_set = build_calibration_set(
            calib, export, max([opts.calib_size, *opts.sweep_sizes()]), root=root, seed=opts.seed
        )
        if len(calib_set) < opts.calib_size:
            say(f"calibration: only {len(calib_set)} readable image(s) available (asked for {opts.calib_size})")
    say(f"reading evaluation images from {eval_split}")
    ev = build_eval_set(eval_split, contract, root=root)
    keras_model = load_keras_model(model_path, contract)
    keras_model, export, folded = fold_decision_rule(keras_model, export)
    if folded:
        say(
            f"decision rule (temperature {contract.decision.temperature:g}, class log-offsets "
            f"{list(contract.decision.class_log_bias)}) folded into the final layer: every file answers with it"
        )
    if export.pixel_in and not contract.pixel_in:
        keras_model = wrap_pixel_in(keras_model, contract)
    if calib_set is not None:
        calib_set.contract = export  # what the calibration sweep's files carry
    calib_n = min(opts.calib_size, len(calib_set)) if calib_set is not None else 0
    from sentilite.core.vocabulary_file import read_vocabulary, vocabulary_entry

    return ConvertInputs(
        model_path,
        contract,
        export,
        calib_set,
        calib_n,
        ev,
        keras_model,
        tensorflow_version(),
        sha256_file(model_path),
        vocabulary_entry(read_vocabulary(model_path)),  # a semantic head's words travel along
    )


# -- the steps ----------------------------------------------------------------------------------
