"""On-device evaluation: a model scored on labelled images by the device's own kernels.

The host decodes each image and encodes it through the model's contract (crop, resize,
normalise, quantise: :meth:`TFLiteClassifier.encode`), ships the ready tensors with the model
through the benchmark transport (local, SSH, adb with Python), and the device runner returns
the raw outputs. Preprocessing on the host is the honest default: it isolates the kernels, so
any difference between device and host is the device's arithmetic, not a resize that differs.

For each kernel library asked for (``xnnpack``, ``builtin``, ``reference``) the result gives the
device's accuracy, and its agreement with the same model run here with the same kernels: top-1
agreement (with its Wilson 95 % interval, and how many differing answers were near ties of this
machine's), max |Δp|, and the share of images whose raw outputs are identical.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.datasets import read_dataset
from sentilite.core.errors import DeviceError, InputFileError
from sentilite.core.metrics import agreement, classification_metrics

from .models import describe_models
from .options import BenchOptions
from .records import RunResult
from .transports import device_kind, make_transport
from .transports.base import Plan

PathLike = Union[str, os.PathLike]
Log = Callable[[str], None]


def encode_split(
    clf: TFLiteClassifier, data: PathLike, root: Optional[PathLike], max_images: Optional[int]
) -> tuple[np.ndarray, np.ndarray, list[str], list[dict[str, str]]]:
    """(inputs ``(N, 1, H, W, 3)``, labels, paths, skipped) of the readable images of ``data``."""
    from sentilite.core.errors import ImageReadError
    from sentilite.core.imageio import load_image

    ds = read_dataset(data, root, clf.contract.labels)
    samples = ds.samples[:max_images] if max_images else ds.samples
    xs, ys, paths, skipped = [], [], [], []
    for s in samples:
        try:
            xs.append(clf.encode(load_image(s.path)))
        except ImageReadError as exc:
            skipped.append({"path": str(s.path), "reason": exc.problem})
            continue
        ys.append(int(s.label))
        paths.append(str(s.path))
    if not xs:
        raise InputFileError(
            f"None of the {len(samples)} images of {data} could be read.",
            "check the paths in the split file (and --root)",
        )
    return np.stack(xs), np.asarray(ys), paths, skipped


def compare_outputs(
    clf: TFLiteClassifier, device_raw: np.ndarray, host_raw: np.ndarray, labels: np.ndarray
) -> dict[str, Any]:
    """Device accuracy and device-vs-host agreement for one kernel library."""
    dev = np.stack([clf.probabilities(v) for v in device_raw])
    host = np.stack([clf.probabilities(v) for v in host_raw])
    names = tuple(clf.contract.labels)
    metrics = classification_metrics(labels, dev, names)
    same = agreement(host, dev)
    return {
        "n": int(len(labels)),
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "polar_accuracy": (metrics.get("polar") or {}).get("accuracy"),
        "host_accuracy": classification_metrics(labels, host, names)["accuracy"],
        "top1_agreement_with_host": same["top1_agreement"],
        "top1_agreement_ci95": same["top1_agreement_ci95"],
        "flips": same["flips"],
        "near_ties": same["near_ties"],
        "flips_at_near_ties": same["flips_at_near_ties"],
        "max_abs_diff_p": same["max_abs_diff"],
        "mean_abs_diff_p": same["mean_abs_diff"],
        "identical_outputs": float(np.mean(np.all(np.asarray(device_raw) == np.asarray(host_raw), axis=1))),
        "predictions": [names[i] for i in dev.argmax(1)],
    }


def device_outputs(
    model: Path, x: np.ndarray, kernels: Sequence[str], options: BenchOptions, say: Log, output_index: int = 0
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], str]:
    """Raw outputs (of the file's output ``output_index``) per kernel library, from the device
    (one runner process each)."""
    entries = describe_models([model])
    transport = make_transport(options)
    got: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sentilite-eval-") as tmp:
        np.save(Path(tmp) / "in0.npy", x)
        plan = Plan(
            entries,
            [1],
            1,
            options.runner_settings(device_kind(options.device)),
            {0: {"kind": "npy", "path": "in0.npy"}},
            {0: Path(tmp) / "in0.npy"},
            variants=[{"mode": "outputs", "output_index": output_index, "settings": {"kernels": k}} for k in kernels],
        )
        table = plan.job_table()

        def collect(result: RunResult) -> None:
            key = table.get(str(result.get("id")))
            k = kernels[key.variant] if key else "?"
            got[k] = result
            say(
                f"  {transport.label}, {k} kernels: "
                + (f"ERROR {result['error']}" if result.get("error") else f"{len(result['outputs']['values'])} outputs")
            )

        system = transport.run(plan, Path(tmp), collect, say) or {}
    return got, system, transport.label


def evaluate_on_device(
    model: PathLike,
    data: PathLike,
    options: BenchOptions,
    kernels: Sequence[str] = ("xnnpack",),
    root: Optional[PathLike] = None,
    max_images: Optional[int] = None,
    log: Optional[Log] = None,
) -> dict[str, Any]:
    """Score ``model`` (.tflite) on ``data`` on ``options.device``, per kernel library; compare with the host."""
    say = log or (lambda _m: None)
    model = Path(model)
    clf = TFLiteClassifier(model, num_threads=1)
    x, labels, paths, skipped = encode_split(clf, data, root, max_images)
    say(f"encoded {len(x)} images through {model.name}'s contract on this machine ({clf.contract.describe()})")
    # This machine's answers come from the same runner, in child processes: some kernel libraries abort.
    index = [d["index"] for d in clf.interpreter.get_output_details()].index(clf.output_detail["index"])
    host_out, _, _ = device_outputs(model, x, list(kernels), BenchOptions(device="local"), lambda _m: None, index)
    host_raw = {k: np.asarray(r["outputs"]["values"]) for k, r in host_out.items() if not r.get("error")}
    device_out, system, label = device_outputs(model, x, list(kernels), options, say, index)
    per_kernels = {}
    for k in kernels:
        res = device_out.get(k)
        if res is None or res.get("error"):
            raise DeviceError(
                f"{label} could not run {model.name} with {k} kernels: {(res or {}).get('error', 'no result')}.",
                "run `sentilite bench` on the device first to see what it can run",
            )
        raw = np.asarray(res["outputs"]["values"])
        if k not in host_raw:
            raise DeviceError(
                f"This machine could not run {model.name} with {k} kernels: {host_out.get(k, {}).get('error')}.",
                "leave that kernel library out of --kernels",
            )
        per_kernels[k] = {
            **compare_outputs(clf, raw, host_raw[k], labels),
            "device_runtime": res.get("runtime"),
            "delegate": res.get("delegate"),
            "seconds": res.get("timed_seconds"),
        }
    emulation = (system or {}).get("emulation") or {}
    return {
        "model": str(model),
        "data": str(data),
        "device": label,
        "system": system,
        "emulation": emulation,
        "preprocessing": "on the host, through the model's contract; the device runs the ready tensors",
        "labels": list(clf.contract.labels),
        "paths": paths,
        "skipped": skipped,
        "kernels": per_kernels,
    }
