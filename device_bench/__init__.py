"""device_bench: one latency/size protocol on the desktop, a Raspberry Pi (SSH) and Android (adb).

``runner.py`` is the self-contained file that runs on the device; ``api.run_bench`` and the
``sentilite bench`` command (``cli.py``) drive it. Importing this package imports nothing heavy.
"""


def run_bench(*args, **kwargs):
    """See :func:`device_bench.api.run_bench` (imported on first use)."""
    from .api import run_bench as _run_bench

    return _run_bench(*args, **kwargs)
