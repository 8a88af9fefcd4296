"""Validating the Keras model and every converted variant on the same labelled images.

Each image is decoded and cropped/resized to the contract once; each model then applies its own
input encoding from :mod:`sentilite.core.preprocess` (``prepare``'s normalisation for Keras and float
inputs, the quantising :class:`~sentilite.core.preprocess.InputEncoder` for int8/uint8 inputs), exactly
what :meth:`predict` does, so this is the path every runtime uses, without decoding the
images once per model.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import ImageReadError, ModelFormatError
from sentilite.core.evaluation import iter_decoded
from sentilite.core.keras_classifier import KerasClassifier
from sentilite.core.metrics import agreement, classification_metrics
from sentilite.core.preprocess import normalize, resize_to_contract
from sentilite.core.progress import make_progress

from .calibration import load_dataset
from .head_checks import KerasAnswers, head_checks, keras_answers, tflite_answers
from .records import KernelCheck, VariantRow

PathLike = Union[str, os.PathLike]


@dataclass
class EvalSet:
    """Labelled images decoded and cropped/resized to the contract (uint8, contract order)."""

    pixels: np.ndarray
    y: np.ndarray
    paths: list[str]
    contract: PreprocessContract
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pixels)

    def facts(self) -> dict[str, Any]:
        counts = np.bincount(self.y, minlength=self.contract.num_classes)
        return {
            "source": self.source,
            "images": len(self),
            "per_class": {n: int(counts[i]) for i, n in enumerate(self.contract.labels)},
            "unreadable": len(self.skipped),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


def build_eval_set(
    spec: PathLike, contract: PreprocessContract, root: Optional[PathLike] = None, workers: int = 2
) -> EvalSet:
    """Every readable image of ``spec``; unreadable ones are skipped and listed."""
    dataset = load_dataset(spec, root, contract, "evaluation")
    pixels, ys, paths, skipped = [], [], [], []
    with make_progress(transient=True) as progress:
        task = progress.add_task("reading evaluation images", total=len(dataset))
        for sample, image, reason in iter_decoded(dataset, workers=workers):
            if image is None:
                skipped.append((str(sample.path), reason))
            else:
                pixels.append(resize_to_contract(image, contract))
                ys.append(sample.label)
                paths.append(str(sample.path))
            progress.advance(task)
    if not pixels:
        first = skipped[0] if skipped else ("", "no images")
        raise ImageReadError(
            f"Evaluation set {spec}: none of its {len(dataset)} image(s) could be read "
            f"(first: {first[0]}: {first[1]}).",
            "check the paths in the split file, or pass --root DIR when they are relative to another folder",
        )
    return EvalSet(np.stack(pixels), np.asarray(ys, dtype=np.int64), paths, contract, str(spec), skipped)


# -- running models ---------------------------------------------------------------------------


def keras_probs(clf: KerasClassifier, ev: EvalSet, batch_size: int = 8) -> np.ndarray:
    out = [clf.run_batch(normalize(ev.pixels[i : i + batch_size], ev.contract)) for i in range(0, len(ev), batch_size)]
    return np.concatenate(out).astype(np.float32)


def tflite_probs(clf: TFLiteClassifier, ev: EvalSet) -> np.ndarray:
    return np.stack([clf.run(clf.encoder.encode_resized(px)[None]) for px in ev.pixels]).astype(np.float32)


def median_latency_ms(run: Callable[[], Any], runs: int = 30, warmup: int = 3) -> dict[str, float]:
    """Median and 90th percentile wall time of ``run()`` in milliseconds (after ``warmup`` calls)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    arr = np.asarray(times)
    return {
        "latency_ms": float(np.median(arr)),
        "latency_p90_ms": float(np.percentile(arr, 90)),
        "latency_runs": len(times),
    }


def interleaved_latency(
    runners: dict[str, Callable[[], Any]], runs: int = 30, warmup: int = 3, rounds: int = 5
) -> dict[str, dict[str, float]]:
    """Median latency of several models, timed in alternation so that load changes on a
    shared host hit every model alike (``runs`` timed calls each, in ``rounds`` slices)."""
    if not runners:
        return {}
    for run in runners.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    per_round = max(1, -(-runs // rounds))
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            run = runners[name]
            for _ in range(min(per_round, runs - len(times[name]))):
                t0 = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - t0) * 1e3)
    return {
        name: {
            "latency_ms": float(np.median(t)),
            "latency_p90_ms": float(np.percentile(t, 90)),
            "latency_runs": len(t),
            "latency_ci95": median_ci95(t),
        }
        for name, t in times.items()
        if t
    }


def median_ci95(samples: Any) -> list[float]:
    """A distribution-free 95 % interval of the median: the order statistics the binomial
    distribution of "samples below the median" puts 2.5 % beyond on each side."""
    t = np.sort(np.asarray(samples, dtype=float))
    n = len(t)
    lo = max(int(np.floor(n / 2 - 1.96 * np.sqrt(n) / 2)), 0)  # 0-based rank of the lower bound
    return [round(float(t[lo]), 4), round(float(t[n - 1 - lo]), 4)]  # and its mirror above


def clearly_slower(a: VariantRow, b: VariantRow, margin: float = 1.0) -> bool:
    """Whether row ``a`` is slower than row ``b`` beyond timing noise: their medians' 95 %
    intervals separate, and ``a``'s median is more than ``margin`` times ``b``'s. Rows without
    intervals (written by older versions) compare medians with the margin alone."""
    if a.get("latency_ms") is None or b.get("latency_ms") is None:
        return False
    beyond = a["latency_ms"] > margin * b["latency_ms"]
    if a.get("latency_ci95") and b.get("latency_ci95"):
        return beyond and a["latency_ci95"][0] > b["latency_ci95"][1]
    return beyond


def tflite_runner(path: PathLike, threads: int, ev: EvalSet) -> Callable[[], Any]:
    """A one-image runner of a .tflite file (to time it beside others in one interleaved run)."""
    clf = open_tflite(path, threads)
    x = clf.encoder.encode_resized(ev.pixels[0])[None]
    return lambda: clf.run(x)


def open_tflite(path: PathLike, threads: int) -> TFLiteClassifier:
    """A classifier for ``path``; a model with Flex ops falls back to TensorFlow's interpreter."""
    try:
        return TFLiteClassifier(path, num_threads=threads)
    except ModelFormatError:
        from .export import flex_ops

        ops = flex_ops(Path(path).read_bytes())
        if not ops:
            raise
    import warnings

    from sentilite.core.runtime import select_runtime

    try:
        with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
            warnings.simplefilter("ignore")
            return TFLiteClassifier(path, num_threads=threads, runtime=select_runtime("tensorflow"))
    except Exception:  # noqa: BLE001 - any failure means the same thing here
        raise ModelFormatError(
            f"it uses TensorFlow (Flex) ops ({', '.join(ops)}) and no runtime installed here links the Flex delegate, "
            "so it was not validated",
            "run it where the Flex delegate is available (e.g. an Android app with tensorflow-lite-select-tf-ops)",
        ) from None


def _io_text(detail: dict[str, Any]) -> str:
    dtype = np.dtype(detail["dtype"]).name
    scale, zp = detail.get("quantization", (0.0, 0))
    return f"{dtype} (scale {scale:.6g}, zero point {zp})" if scale else dtype


def score(probs: np.ndarray, ev: EvalSet, reference: Optional[np.ndarray]) -> VariantRow:
    """Accuracy, per-class F1 etc. of ``probs`` on ``ev``, and agreement with ``reference``."""
    m = classification_metrics(ev.y, probs, ev.contract.labels)
    row: VariantRow = {
        "n": m["n"],
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "f1": {name: pc["f1"] for name, pc in m["per_class"].items()},
        "confusion_matrix": m["confusion_matrix"],
        "predicted_classes": int(len(np.unique(probs.argmax(1)))) if len(probs) else 0,
        "prediction_counts": np.bincount(probs.argmax(1), minlength=ev.contract.num_classes).tolist()
        if len(probs)
        else [],
    }
    if m.get("polar"):
        row["polar_accuracy"] = m["polar"]["accuracy"]
    if reference is not None:
        row.update(agreement(reference, probs))
    return row


def validate_keras(
    path: PathLike, ev: EvalSet, contract: Optional[PreprocessContract], latency_runs: int = 10
) -> tuple[VariantRow, KerasAnswers]:
    """Row and answers (probabilities, and every extra head's) of the Keras model itself (the reference)."""
    clf = KerasClassifier(path, contract=contract)
    answers = keras_answers(clf, ev)
    probs = answers.probs
    row = {
        "variant": "keras",
        "file": Path(path).name,
        "path": str(path),
        "size_bytes": Path(path).stat().st_size,
        "input": "float32",
        "runtime": clf.runtime.describe() + " (eager, batch 1)",
        **score(probs, ev, None),
    }
    x = normalize(ev.pixels[:1], ev.contract)
    row.update(median_latency_ms(lambda: clf.run_batch(x), runs=latency_runs, warmup=2))
    return row, answers


#: the kernel libraries besides XNNPACK every variant is also scored with (devices without XNNPACK use them)
OTHER_KERNELS = ("builtin", "reference")
DEFAULT_KERNEL_CHECK_IMAGES = 50


def kernel_agreement(
    clf: TFLiteClassifier, ev: EvalSet, xnnpack_probs: np.ndarray, images: int
) -> dict[str, KernelCheck]:
    """Top-1 agreement and max |Δp| of LiteRT's builtin and reference kernels with XNNPACK (what
    ``clf`` runs) on the first ``images`` evaluation images: the first hint, without a device, that
    a variant's answers depend on the kernels that run it. Each library runs in a child process
    (some abort); ``clf`` turns their raw outputs into probabilities."""
    from .kernel_check import raw_outputs_in_child

    n = min(images, len(ev))
    x = np.stack([clf.encoder.encode_resized(px)[None] for px in ev.pixels[:n]])
    out: dict[str, KernelCheck] = {}
    for kernels in OTHER_KERNELS:
        try:
            raw = raw_outputs_in_child(clf.path, x, kernels)
            probs = np.stack([clf.probabilities(v) for v in raw]).astype(np.float32)
        except RuntimeError as exc:
            out[kernels] = {"images": n, "error": str(exc)}
            continue
        same = agreement(xnnpack_probs[:n], probs)
        out[kernels] = {
            "images": n,
            "top1_agreement": same["top1_agreement"],
            "max_abs_diff": same["max_abs_diff"] if n else 0.0,
        }
    return out


def validate_tflite(
    variant: str,
    path: PathLike,
    ev: EvalSet,
    reference: Union[None, np.ndarray, KerasAnswers],
    threads: int = 1,
    kernel_check_images: int = DEFAULT_KERNEL_CHECK_IMAGES,
) -> tuple[VariantRow, Optional[np.ndarray], Optional[Callable[[], Any]]]:
    """Row, probabilities and a one-image runner (for latency) of one .tflite variant; with the
    Keras model's :class:`KerasAnswers` as reference, its extra heads are checked too (``heads``).

    When the variant cannot run here the row has ``error`` and the other two are None.
    """
    row: VariantRow = {
        "variant": variant,
        "file": Path(path).name,
        "path": str(path),
        "size_bytes": Path(path).stat().st_size,
    }
    try:
        clf = open_tflite(path, threads)
    except (ModelFormatError, ValueError, RuntimeError) as exc:
        row["error"] = f"cannot run on this host: {getattr(exc, 'problem', exc)}"
        return row, None, None
    row["input"] = _io_text(clf.input_detail)
    row["output"] = _io_text(clf.output_detail)
    row["runtime"] = f"{clf.runtime.describe()}, {threads} thread(s)"
    row["contract_warnings"] = list(clf.warnings)
    ref_probs = reference.probs if isinstance(reference, KerasAnswers) else reference
    if clf.contract.heads and isinstance(reference, KerasAnswers):
        answers = tflite_answers(clf, ev)
        probs = answers.probs
        row["heads"] = head_checks(clf.contract.heads, reference, answers)
    else:
        probs = tflite_probs(clf, ev)
    row.update(score(probs, ev, ref_probs))
    if kernel_check_images and clf.runtime.name != "tensorflow":  # Flex models run on TF's interpreter only
        row["kernels"] = kernel_agreement(clf, ev, probs, kernel_check_images)
    x = clf.encoder.encode_resized(ev.pixels[0])[None]
    return row, probs, lambda: clf.run(x)
