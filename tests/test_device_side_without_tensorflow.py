"""The device side (info, demo, bench runner) must import and run with TensorFlow absent."""

import subprocess
import sys
import textwrap


def run_without_tf(code: str) -> subprocess.CompletedProcess:
    prelude = textwrap.dedent("""
        import sys
        for name in ("tensorflow", "keras", "tf_keras"):
            sys.modules[name] = None  # any import of them now raises ImportError
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_info_runs_without_tensorflow(tiny_variants):
    proc = run_without_tf(f"""
        from sentilite.app.cli import main
        try:
            main(["info", {str(tiny_variants['int8'])!r}])
        except SystemExit as e:
            assert e.code in (0, None), e.code
        assert sys.modules.get("tensorflow") is None
    """)
    assert proc.returncode == 0, proc.stderr
    assert "variant   int8" in proc.stdout


def test_core_classifier_runs_without_tensorflow(tiny_variants):
    proc = run_without_tf(f"""
        import numpy as np
        from sentilite.core.classifier import load_classifier
        clf = load_classifier({str(tiny_variants['int8'])!r})
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
        clf = load_classifier({str(tiny_variants['int8'])!r})
        clf.predict(np.zeros((50, 60, 3), np.uint8))
        assert detect_format({str(tiny_variants['int8'])!r}) == "tflite"
        loaded = sorted({{"_hashlib", "zipfile"}} & set(sys.modules))
        print("loaded:", loaded)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "loaded: []" in proc.stdout
