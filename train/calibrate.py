"""Fitting the contract's decision rule (temperature and neutral offset) on validation images.

``sentilite train`` does it at the end of every run that has ``--val``; ``sentilite calibrate``
does it for a .keras model made before. The rule is written into the model's contract, so
`sentilite convert` carries it into every .tflite and every consumer applies it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional, Union

import click
import numpy as np

from sentilite.core.decision import DecisionRule, fit_decision
from sentilite.core.errors import InputFileError
from sentilite.core.model_checks import softmax

PathLike = Union[str, os.PathLike]


def raw_probabilities(
    model_path: PathLike, dataset: Any, answers_of: Optional[PathLike] = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validation probabilities of the model *without* any decision rule, and the labels; with
    ``answers_of``, those of that converted file (its folded rule undone)."""
    from sentilite.core.evaluation import predict_dataset

    if answers_of is not None:
        clf, undo = _converted_classifier(model_path, answers_of)
    else:
        from sentilite.core.keras_classifier import KerasClassifier

        clf, undo = KerasClassifier(model_path), DecisionRule()
    clf.contract = replace(clf.contract, decision=DecisionRule())
    preds = predict_dataset(clf, dataset, description="fitting the decision rule")
    if len(preds.y_true) == 0:
        raise InputFileError(f"None of the images of {dataset.source} could be read.", "check the --val split file")
    return _undo(np.asarray(preds.probs), undo), np.asarray(preds.y_true)


def _converted_classifier(model_path: PathLike, tflite: PathLike) -> tuple[Any, DecisionRule]:
    """The .tflite converted from ``model_path``, and the rule folded into it (to undo)."""
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.modelfile import require_contract

    clf = TFLiteClassifier(tflite)
    source = (clf.facts or {}).get("source", {}).get("file")
    if source and source != Path(model_path).name:
        raise InputFileError(
            f"{tflite} was converted from {source}, not from {Path(model_path).name}.",
            "pass the .tflite that `sentilite convert MODEL` wrote",
        )
    if tuple(clf.contract.labels) != tuple(require_contract(model_path).labels):
        raise InputFileError(f"{tflite} has other labels than {model_path}.", "pass the .tflite converted from MODEL")
    folded = DecisionRule.from_dict(clf.contract.provenance.get("decision_rule_in_model"))
    if not clf.contract.decision.identity:  # a rule kept in the contract (not folded) is removed by the caller
        folded = DecisionRule()
    return clf, folded


def _undo(probs: np.ndarray, rule: DecisionRule) -> np.ndarray:
    """The probabilities before ``rule`` (``softmax((log p - b) * T)``; exact up to the file's output rounding)."""
    if rule.identity:
        return probs
    z = np.log(np.clip(probs, 1e-12, 1.0))
    if rule.class_log_bias:
        z = z - np.asarray(rule.class_log_bias)
    return softmax(z * rule.temperature).astype(np.float32)


def calibrate_model(
    model_path: PathLike,
    val: Any,
    source: str,
    log: Callable[[str], None] = lambda s: None,
    answers_of: Optional[PathLike] = None,
) -> DecisionRule:
    """Fit the rule on ``val`` (a Dataset) and write it into ``model_path``'s contract (and contract.json beside it).
    ``answers_of``: fit it on that converted file's answers instead of the Keras model's (the file you ship)."""
    from sentilite.core.fsutil import atomic_write_text
    from sentilite.core.modelfile import require_contract, write_contract_keras

    probs, y = raw_probabilities(model_path, val, answers_of)
    contract = require_contract(model_path)
    if answers_of is not None:
        source = f"{source} (answers of {Path(answers_of).name})"
    rule = fit_decision(probs, y, contract.labels, source)
    contract = replace(contract, decision=rule)
    write_contract_keras(model_path, contract)
    beside = Path(model_path).with_name("contract.json")
    if beside.is_file():
        atomic_write_text(beside, contract.to_json() + "\n")
    f = rule.facts
    log(
        f"decision rule fitted on {f['images']} validation images: temperature {rule.temperature:g}, neutral "
        f"log-offset "
        f"{max(rule.class_log_bias, default=0.0):g}; NLL {f['nll'][0]} -> {f['nll'][1]}, ECE {f['ece'][0]} -> "
        f"{f['ece'][1]}, "
        f"macro-F1 {f['macro_f1'][0]} -> {f['macro_f1'][1]}"
    )
    return rule


@click.command(
    "calibrate",
    epilog="""\\b
Example:
  sentilite calibrate runs/mnv2/model.keras --val ../shared/data/emotion6/sentiment_val.txt
  sentilite convert runs/mnv2/model.keras --calib ... --eval ...   # every .tflite carries the rule
  # fitted on what the shipped file answers, then convert again
  sentilite calibrate runs/mnv2/model.keras --val ... --answers-of runs/conv/model_int8.tflite
""",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--val", required=True, metavar="SPLIT", help="Validation split the rule is fitted on (never the test split)."
)
@click.option("--root", type=click.Path(file_okay=False), help="Folder the split's image paths are relative to.")
@click.option(
    "--answers-of",
    type=click.Path(dir_okay=False),
    metavar="FILE.tflite",
    help="Fit on the answers of this file converted from MODEL (e.g. the full-int8 one you ship), then convert "
    "again. Worth it only when the file answers some class at another rate than MODEL on many images "
    "(its probabilities shifted): else it fits the validation set's noise.",
)
@click.option("--reset", is_flag=True, help="Remove the rule instead (raw probabilities, plain argmax).")
def calibrate_command(model: str, val: str, root: Optional[str], answers_of: Optional[str], reset: bool) -> None:
    """Fit temperature scaling (for NLL) and a neutral offset (for macro-F1) on --val and write
    them into MODEL's contract (a .keras model; convert it afterwards)."""
    from sentilite.core.datasets import read_dataset
    from sentilite.core.modelfile import require_contract, require_format, write_contract_keras

    require_format(model, "keras")
    if reset:
        write_contract_keras(model, replace(require_contract(model), decision=DecisionRule()))
        click.echo(f"{model}: decision rule removed")
        return
    rule = calibrate_model(
        model, read_dataset(val, root, require_contract(model).labels), str(val), click.echo, answers_of
    )
    click.echo(f"{model}: temperature {rule.temperature:g}, class log-offsets {list(rule.class_log_bias)}")
