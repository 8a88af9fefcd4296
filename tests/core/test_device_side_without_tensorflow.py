"""The device side (info, demo, bench runner) imports and runs without ever trying TensorFlow.

Each snippet runs under the import guard of ``tfguard``: an attempt to import tensorflow or
keras, even one whose ImportError is caught, is logged, and the tests keep that log empty. The
runtime fallback to ``tensorflow.lite`` is only tried when neither LiteRT nor tflite_runtime
imports (or $SENTILITE_RUNTIME names it); with LiteRT installed the device path makes no attempt.
"""

import subprocess
import sys
import textwrap

import pytest
from tfguard import attempts, guarded_env

_TMP = {}


@pytest.fixture(autouse=True)
def _guard_folder(tmp_path):
    _TMP["dir"] = tmp_path
    yield
    assert attempts(tmp_path) == [], f"the device path tried to import {attempts(tmp_path)}"


def run_without_tf(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import sys\n" + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env=guarded_env(_TMP["dir"]),
    )


def test_the_guard_sees_a_swallowed_import(tmp_path):
    """The guard is not fooled by code that tries TensorFlow and catches the failure."""
    proc = subprocess.run(
        [sys.executable, "-c", "try:\n    import tensorflow.lite\nexcept ImportError:\n    pass\n"],
        capture_output=True,
        text=True,
        timeout=60,
        env=guarded_env(tmp_path / "probe"),
    )
    assert proc.returncode == 0, proc.stderr
    assert attempts(tmp_path / "probe") == ["tensorflow"]  # the parent package is looked up first


def test_runtime_fallback_reaches_tensorflow_only_without_litert(tmp_path):
    """With LiteRT blocked too, the core runtime does try tensorflow.lite last (and the guard sees it)."""
    code = (
        "import sys\nsys.modules['ai_edge_litert'] = sys.modules['tflite_runtime'] = None\n"
        "from sentilite.core.runtime import select_runtime\n"
        "try:\n    select_runtime()\nexcept Exception as e:\n    print(type(e).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=guarded_env(tmp_path / "fb")
    )
    assert "RuntimeMissingError" in proc.stdout and attempts(tmp_path / "fb") == ["tensorflow"]


def test_info_runs_without_tensorflow(tiny_variants):
    proc = run_without_tf(f"""
        from sentilite.app.cli import main
        try:
            main(["info", {str(tiny_variants["int8"])!r}])
        except SystemExit as e:
            assert e.code in (0, None), e.code
    """)
    assert proc.returncode == 0, proc.stderr
    assert "variant   int8" in proc.stdout


def test_core_classifier_runs_without_tensorflow(tiny_variants):
    proc = run_without_tf(f"""
        import numpy as np
        from sentilite.core.classifier import load_classifier
        clf = load_classifier({str(tiny_variants["int8"])!r})
        p = clf.predict(np.zeros((50, 60, 3), np.uint8))
        assert p.shape == (3,) and clf.runtime.name == "ai-edge-litert"
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout


def test_device_path_leaves_heavy_stdlib_modules_unloaded(tiny_variants):
    """Loading and running a .tflite neither maps OpenSSL (hashlib, ~3 MB RSS) nor imports
    zipfile: the demo's 80 MB budget has little room (bench/device_footprint.py)."""
    proc = run_without_tf(f"""
        import numpy as np
        from sentilite.core.classifier import load_classifier
        from sentilite.core.modelfile import detect_format
        import sentilite.camera_demo.api, sentilite.device_bench.runner
        clf = load_classifier({str(tiny_variants["int8"])!r})
        clf.predict(np.zeros((50, 60, 3), np.uint8))
        assert detect_format({str(tiny_variants["int8"])!r}) == "tflite"
        loaded = sorted({{"_hashlib", "zipfile"}} & set(sys.modules))
        print("loaded:", loaded)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "loaded: []" in proc.stdout
