"""The stand-in checks its own numerics before anything is measured on it.

An emulated device is only worth something when its arithmetic is the device's: under qemu-user
with the wrong CPU model, LiteRT's int8 XNNPACK kernels return the same output for every image
while float32 looks fine. Three checks, each against this machine, on a few generated images:

1. its **reference** kernels reproduce this machine's reference kernels bit for bit (bundled int8 model);
2. its float32 **XNNPACK** output matches its own reference kernels (a tiny float32 CNN);
3. its int8 **XNNPACK** output changes with the input image (the broken emulation gives a constant).

Failing any, :func:`self_check` raises with the reason, and ``standin start`` stops the stand-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.errors import DeviceError
from sentilite.core.fsutil import atomic_write_json

from .options import BenchOptions, SSHOptions
from .remote_eval import device_outputs

SELFCHECK_FLOAT32 = DEFAULT_MODEL_PATH.with_name("selfcheck_float32.tflite")
Log = Callable[[str], None]


def _images(n: int = 4) -> list[np.ndarray]:
    """Deterministic varied test images (gradients and shapes), no data set needed."""
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        h, w = 180 + 20 * i, 240
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(xx * (i + 1)) % 256, (yy * (3 - i % 3 + 1)) % 256, ((xx + yy) * (i + 2)) % 256], -1).astype(
            np.uint8
        )
        img = np.clip(img.astype(np.int16) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
        out.append(img)
    return out


def _outputs(
    model: Path, kernels: list[str], options: BenchOptions, log: Log
) -> tuple[dict[str, np.ndarray], TFLiteClassifier]:
    clf = TFLiteClassifier(model, num_threads=1)
    x = np.stack([clf.encode(im) for im in _images()])
    got, _, label = device_outputs(model, x, kernels, options, log)
    raw = {}
    for k in kernels:
        if k not in got or got[k].get("error"):
            raise DeviceError(
                f"The stand-in's self-check could not run {model.name} with {k} kernels on {label}: "
                f"{got.get(k, {}).get('error', 'no result')}.",
                "see the runner's message; rebuild with --force",
            )
        raw[k] = np.asarray(got[k]["outputs"]["values"])
    host_out, _, _ = device_outputs(model, x, kernels, BenchOptions(device="local"), log)
    host = {k: np.asarray(host_out[k]["outputs"]["values"]) for k in kernels}
    return {**{f"device_{k}": v for k, v in raw.items()}, **{f"host_{k}": v for k, v in host.items()}}, clf


def self_check(state: dict[str, Any], log: Log = print) -> dict[str, Any]:
    """Run the three checks against the running stand-in ``state``; raise :class:`DeviceError` on failure."""
    options = BenchOptions(
        device=state["device"],
        remote_python=state["remote_python"],
        ssh=SSHOptions(config=state["ssh_config"]),
        job_timeout=900,
    )
    quiet: Log = lambda _m: None  # noqa: E731
    log("self-check: reference kernels bit for bit, float32 XNNPACK vs reference, int8 XNNPACK varies with the image")
    int8, clf = _outputs(DEFAULT_MODEL_PATH, ["reference", "xnnpack"], options, quiet)
    f32, f32_clf = _outputs(SELFCHECK_FLOAT32, ["reference", "xnnpack"], options, quiet)
    report = {
        "reference_bit_exact": bool(np.array_equal(int8["device_reference"], int8["host_reference"])),
        "float32_xnnpack_vs_reference_max_abs": float(
            np.abs(
                np.stack([f32_clf.probabilities(v) for v in f32["device_xnnpack"]])
                - np.stack([f32_clf.probabilities(v) for v in f32["device_reference"]])
            ).max()
        ),
        "int8_xnnpack_distinct_outputs": int(len({tuple(v) for v in int8["device_xnnpack"].tolist()})),
        "int8_xnnpack_vs_host_max_steps": int(
            np.abs(int8["device_xnnpack"].astype(int) - int8["host_xnnpack"].astype(int)).max()
        ),
    }
    problems = []
    if not report["reference_bit_exact"]:
        problems.append("its reference kernels do not reproduce this machine's bit for bit")
    if report["float32_xnnpack_vs_reference_max_abs"] > 1e-4:
        problems.append(
            f"its float32 XNNPACK differs from its reference kernels by "
            f"{report['float32_xnnpack_vs_reference_max_abs']:.2g}"
        )
    if report["int8_xnnpack_distinct_outputs"] < 2:
        problems.append("its int8 XNNPACK returns the same output for every image (an unfaithful CPU emulation)")
    if problems:
        raise DeviceError(
            "The stand-in failed its self-check: " + "; ".join(problems) + f" ({report}).",
            "check QEMU_CPU and the Pi-shaped /proc/cpuinfo, then `sentilite standin build --force`",
        )
    log(f"self-check passed: {report}")
    atomic_write_json(Path(state["ssh_config"]).parent / "selfcheck.json", report)
    return report
