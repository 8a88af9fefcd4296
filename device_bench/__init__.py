"""device_bench: one latency/size protocol on the desktop, a Raspberry Pi (SSH) and Android (adb).

``runner.py`` is the self-contained file that runs on the device; :func:`bench` and the
``sentilite bench`` command (``cli.py``) drive it. Importing this package imports nothing heavy.

Python API, the same shape as every part's (an options object in, a result object out)::

    from sentilite.device_bench import BenchOptions, bench
    options = BenchOptions(threads="1,2", device="ssh://pi@raspberrypi")
    results = bench(["model_int8.tflite"], options, out_dir="runs/bench")
    print(results.table())

    from sentilite.device_bench import ProfileOptions, profile
    prof = profile("model_int8.tflite", ProfileOptions(BenchOptions(threads="1,2")), out_dir="runs/profile")
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from .options import BenchOptions, SSHOptions
from .results import BenchResults

if TYPE_CHECKING:
    from .profile_api import Profile, ProfileOptions


def __getattr__(name: str) -> Any:
    """``Profile`` and ``ProfileOptions``, imported on first use (the profiler reads flatbuffers)."""
    if name in ("Profile", "ProfileOptions"):
        from . import profile_api

        return getattr(profile_api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def profile(model: PathLike, options: Optional[ProfileOptions] = None, out_dir: Optional[PathLike] = None) -> Profile:
    """Per-op latency of ``model`` (.tflite) on ``options.bench.device``: every op cut into a
    one-op model with its real weights, timed alone beside the whole model.

    Args:
        model: the .tflite file.
        options: where and how to time (a :class:`BenchOptions` inside) and how many top ops to show.
        out_dir: where profile.json/.md, ops.csv, op_types.csv, top_ops.png and the Model Explorer
            overlay latency.nodedata.json go (nothing is written when None).

    Returns:
        The :class:`Profile`: per thread count its op rows, op-type rows and how closely the ops
        add up to the whole model.
    """
    from .profile_api import run_profile

    return run_profile(model, options, out_dir)


#: the name the API had before every part's verb was named alike
run_bench = bench

__all__ = ["BenchOptions", "BenchResults", "Profile", "ProfileOptions", "SSHOptions", "bench", "profile", "run_bench"]
