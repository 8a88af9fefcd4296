"""Scoring a variant with LiteRT's other kernel libraries, each in a child process.

LiteRT's builtin and reference kernels are what a device without XNNPACK runs. Some of them
abort the whole process on models XNNPACK runs fine (seen here: the reference kernels on a small
int8 MobileNetV2), so each library runs in a fresh ``python -m sentilite.convert.kernel_check``
process: a crash becomes a row note, never a lost conversion.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Union

import numpy as np

PathLike = Union[str, os.PathLike]


def raw_outputs_in_child(model: PathLike, x: np.ndarray, kernels: str, timeout: float = 900) -> np.ndarray:
    """Raw outputs of ``model`` on each encoded input in ``x`` (``(N, 1, H, W, 3)``), run by ``kernels``.

    Raises RuntimeError naming the kernel library when the child dies or fails.
    """
    with tempfile.TemporaryDirectory(prefix="sentilite-kernels-") as tmp:
        inp, out = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(inp, x)
        proc = subprocess.run(
            [sys.executable, "-m", "sentilite.convert.kernel_check", str(model), str(inp), kernels, str(out)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0 or not out.is_file():
            how = f"died with signal {-proc.returncode}" if proc.returncode < 0 else f"failed (exit {proc.returncode})"
            tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip() and "INFO:" not in ln][-1:]
            raise RuntimeError(
                f"LiteRT's {kernels} kernels {how} on this model" + (f": {tail[0][:200]}" if tail else "")
            )
        return np.load(out)


def main(argv: list[str]) -> int:
    from sentilite.core.classifier import TFLiteClassifier

    model, inp, kernels, out = argv
    clf = TFLiteClassifier(model, num_threads=1, kernels=kernels)
    np.save(out, np.stack([clf.run_raw(xi) for xi in np.load(inp)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
