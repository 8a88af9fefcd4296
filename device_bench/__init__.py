"""device_bench: one latency/size protocol on the desktop, a Raspberry Pi (SSH) and Android (adb).

``runner.py`` is the self-contained file that runs on the device; :func:`bench` and the
``sentilite bench`` command (``cli.py``) drive it. Importing this package imports nothing heavy.

Python API, the same shape as every part's (an options object in, a result object out)::

    from sentilite.device_bench import BenchOptions, bench
    options = BenchOptions(threads="1,2", device="ssh://pi@raspberrypi")
    results = bench(["model_int8.tflite"], options, out_dir="runs/bench")
    print(results.table())
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

from .options import BenchOptions, SSHOptions
from .results import BenchResults

PathLike = Union[str, os.PathLike]


def bench(
    models: Union[PathLike, Sequence[PathLike], None] = None,
    options: Optional[BenchOptions] = None,
    out_dir: Optional[PathLike] = None,
    **keywords: Any,
) -> BenchResults:
    """Benchmark ``models`` (.tflite; .keras = the Keras baseline, local only) under ``options``.

    Args:
        models: model files (default: the bundled model).
        options: device, threads, runs, inputs... (default: :class:`BenchOptions`'s defaults);
            ``keywords`` override its fields, and ``on_result``, ``log`` and ``raise_on_error`` pass
            through to :func:`device_bench.api.run_bench`.
        out_dir: where results.json / .csv / .md and the plots go (nothing is written when None).

    Returns:
        The :class:`BenchResults`: one row per model x thread count, the raw runs, the device's
        system facts, the protocol and any errors (measurements already made are kept).
    """
    from .api import run_bench

    return run_bench(models, options, out_dir, **keywords)


#: the name the API had before every part's verb was named alike
run_bench = bench

__all__ = ["BenchOptions", "BenchResults", "SSHOptions", "bench", "run_bench"]
