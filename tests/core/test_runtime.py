"""Choosing the interpreter: ai_edge_litert -> tflite_runtime -> tensorflow.lite."""

import sys
import types

import pytest

from sentilite.core import runtime
from sentilite.core.errors import ModelFormatError, RuntimeMissingError


def _fake_tflite_runtime(monkeypatch):
    class FakeInterpreter:
        pass

    pkg = types.ModuleType("tflite_runtime")
    pkg.__version__ = "2.14.0"
    sub = types.ModuleType("tflite_runtime.interpreter")
    sub.Interpreter = FakeInterpreter
    pkg.interpreter = sub
    monkeypatch.setitem(sys.modules, "tflite_runtime", pkg)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", sub)
    return FakeInterpreter


def test_litert_is_preferred(monkeypatch):
    monkeypatch.delenv("SENTILITE_RUNTIME", raising=False)
    _fake_tflite_runtime(monkeypatch)
    rt = runtime.select_runtime()
    assert rt.name == "ai-edge-litert"
    from ai_edge_litert.interpreter import Interpreter

    assert rt.interpreter_class is Interpreter


def test_falls_back_in_order(monkeypatch):
    monkeypatch.delenv("SENTILITE_RUNTIME", raising=False)
    fake = _fake_tflite_runtime(monkeypatch)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import now fails
    rt = runtime.select_runtime()
    assert (rt.name, rt.version, rt.interpreter_class) == ("tflite-runtime", "2.14.0", fake)

    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    pytest.importorskip("tensorflow")
    assert runtime.select_runtime().name == "tensorflow"

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(RuntimeMissingError) as err:
        runtime.select_runtime()
    assert "pip install ai-edge-litert" in str(err.value)
    assert "ai-edge-litert (" in str(err.value) and "tensorflow (" in str(err.value)  # says what was tried


def test_environment_variable_overrides_order(monkeypatch):
    _fake_tflite_runtime(monkeypatch)
    monkeypatch.setenv("SENTILITE_RUNTIME", "tflite-runtime,ai-edge-litert")
    assert runtime.select_runtime().name == "tflite-runtime"
    monkeypatch.setenv("SENTILITE_RUNTIME", "onnx")
    with pytest.raises(RuntimeMissingError, match="Unknown runtime onnx"):
        runtime.select_runtime()


def test_bad_model_files_give_clear_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("SENTILITE_RUNTIME", raising=False)
    with pytest.raises(ModelFormatError, match="not found"):
        runtime.make_interpreter(tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFormatError, match="cannot load"):
        runtime.make_interpreter(junk)


def test_the_device_runner_tries_runtimes_in_the_core_order():
    """The runner ships alone to devices, so it keeps its own copy of the order: keep them equal."""
    from sentilite.device_bench import measure

    assert tuple(name for name, _ in measure.RUNTIMES) == runtime.DEFAULT_ORDER
    for name, module in measure.RUNTIMES:
        core_module, attr = runtime._CANDIDATES[name]
        assert module == core_module, (name, module, core_module)


def test_the_device_runner_names_kernels_as_the_core_does():
    from sentilite.device_bench import measure

    assert measure.KERNELS == runtime.KERNELS


@pytest.mark.parametrize("kernels", ["xnnpack", "builtin", "reference"])
def test_each_kernel_library_runs_the_model(tiny_variants, kernels):
    import numpy as np

    from sentilite.core.classifier import TFLiteClassifier

    clf = TFLiteClassifier(tiny_variants["int8"], kernels=kernels)
    p = clf.predict(np.full((40, 50, 3), 128, np.uint8))
    assert p.shape == (3,) and abs(float(p.sum()) - 1) < 0.02 and clf.kernels == kernels
