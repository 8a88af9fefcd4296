"""Scoring a .keras or .tflite model on a labelled split, through the model's own contract.

Uses only the core (``sentilite.core.classifier`` + ``sentilite.core.evaluation``): a .tflite is evaluated
without importing TensorFlow, and a .keras model and its float32 .tflite go through exactly the
same decode / crop / resize / normalise path, so they get the same metrics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from sentilite.core.classifier import load_classifier
from sentilite.core.datasets import Dataset, read_dataset
from sentilite.core.decision import ece
from sentilite.core.errors import InputFileError
from sentilite.core.head_evaluation import evaluate_heads
from sentilite.core.modelfile import require_format

PathLike = Union[str, os.PathLike]


def evaluate_classifier(
    classifier: Any, dataset: Dataset, description: str = "evaluating", per_image: bool = False
) -> dict[str, Any]:
    """Metrics of an already-loaded classifier on ``dataset`` (3-class, ``polar`` 2-class, skipped).

    ``per_image`` adds ``predictions``: one ``{"path", "label", "predicted", "probabilities"}``
    per scored image, so two result files (two models, or host and device) can be compared.
    """
    from sentilite.core.evaluation import predict_dataset

    preds = predict_dataset(classifier, dataset, description=description)
    if len(preds.y_true) == 0:
        first = f" (first: {preds.skipped[0][0]}: {preds.skipped[0][1]})" if preds.skipped else ""
        raise InputFileError(
            f"None of the {len(dataset)} images of {dataset.source or 'the split'} could be read{first}, so there is "
            f"nothing to score.",
            "check the paths in the split file (they are relative to its folder, or to --root)",
        )
    out = preds.metrics(tuple(classifier.contract.labels))
    out["ece"], out["reliability"] = ece(np.asarray(preds.probs), np.asarray(preds.y_true))
    out["seconds"] = preds.seconds
    out["images_per_second"] = (out["n"] / preds.seconds) if preds.seconds > 0 else None
    if per_image:
        labels = classifier.contract.labels
        out["predictions"] = [
            {
                "path": str(p),
                "label": labels[int(y)],
                "predicted": labels[int(pr.argmax())],
                "probabilities": [round(float(v), 6) for v in pr],
            }
            for p, y, pr in zip(preds.paths, preds.y_true, preds.probs)
        ]
    return out


def evaluate_model(
    model_path: PathLike,
    data: PathLike,
    root: Optional[PathLike] = None,
    json_out: Optional[PathLike] = None,
    num_threads: Optional[int] = None,
    kernels: str = "xnnpack",
) -> dict[str, Any]:
    """Evaluate ``model_path`` (.keras or .tflite) on the split ``data`` and return the metrics.

    The dict has ``accuracy``, ``macro_f1``, ``per_class``, ``confusion_matrix``, ``polar`` (the
    2-class reading: positive vs negative images, comparing only those two probabilities),
    ``skipped`` images, ``predictions`` (per image: path, label, predicted label, probabilities
    in the contract's label order), timing, and what was evaluated; for a multi-head model on
    images with affect labels, ``heads`` (:func:`sentilite.core.head_evaluation.evaluate_heads`).
    Written to ``json_out`` when given.
    """
    fmt = require_format(model_path, "tflite", "keras")
    clf = load_classifier(model_path, num_threads=num_threads, kernels=kernels)
    dataset = read_dataset(data, root, clf.contract.labels)
    metrics = evaluate_classifier(clf, dataset, description=f"evaluating {Path(model_path).name}", per_image=True)
    runtime = clf.runtime.describe()
    result: dict[str, Any] = {
        "model": str(model_path),
        "format": fmt,
        "runtime": runtime,
        "kernels": kernels if fmt == "tflite" else None,
        "data": str(data),
        "root": str(root) if root else None,
        "contract": clf.contract.to_dict(),
        "warnings": list(getattr(clf, "warnings", [])),
        **metrics,
    }
    heads = evaluate_heads(clf, dataset.paths)
    if heads is not None:
        result["heads"] = heads
    if json_out:
        from sentilite.core.reporting import write_json

        result["reliability_plot"] = plot_reliability(result, Path(json_out).with_suffix(".reliability.png"))
        write_json(json_out, result)
    return result


def plot_reliability(result: dict[str, Any], path: Path) -> Optional[str]:
    """The reliability diagram (confidence against accuracy per bin, with the ECE); None without matplotlib."""
    from sentilite.core.plotting import pyplot, save_figure

    plt = pyplot()
    if plt is None or not result.get("reliability"):
        return None
    bins = result["reliability"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k:", linewidth=1, label="perfectly calibrated")
    ax.bar(
        [(b["low"] + b["high"]) / 2 for b in bins],
        [b["accuracy"] for b in bins],
        width=0.09,
        alpha=0.7,
        label="accuracy in the bin",
    )
    ax.plot(
        [b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="#c44e52", label="mean confidence"
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top-class probability")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{Path(result['model']).name}: ECE {result['ece']:.3f} (n={result['n']})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path)
    return str(path)
