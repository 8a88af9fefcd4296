"""One public, typed Python API per part, named alike: an options object in, a result object out,
documented with Args and Returns. The verbs are driven for real where it is cheap."""

from __future__ import annotations

import inspect

import pytest

import sentilite.camera_demo as camera_demo
import sentilite.convert as convert
import sentilite.device_bench as device_bench
import sentilite.train as train

PARTS = [
    (train, "train", "TrainConfig", "TrainResult"),
    (convert, "convert", "ConvertOptions", "ConversionResult"),
    (device_bench, "bench", "BenchOptions", "BenchResults"),
    (camera_demo, "demo", "DemoConfig", None),
]


@pytest.mark.parametrize("part, verb, options, result", PARTS, ids=lambda x: getattr(x, "__name__", str(x)))
def test_each_part_exports_its_verb_options_and_result(part, verb, options, result):
    fn = getattr(part, verb)
    assert verb in part.__all__ and options in part.__all__ and (result is None or result in part.__all__)
    doc = inspect.getdoc(fn)
    assert "Args:" in doc and "Returns:" in doc, f"{part.__name__}.{verb} lacks Args/Returns"
    sig = inspect.signature(fn)
    assert sig.return_annotation not in (inspect.Signature.empty, "Any"), sig
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), sig


def test_the_verbs_run(tiny_model, tiny_variants, synthetic_splits, tmp_path):
    from sentilite.core.synthetic import make_synthetic_video

    conv = convert.convert(
        tiny_model[2],
        convert.ConvertOptions(variants="float32", latency_runs=2, kernel_check_images=0),
        calib=None,
        eval=synthetic_splits["val"],
        out=tmp_path / "c",
    )
    assert isinstance(conv, convert.ConversionResult) and conv.variants["float32"].is_file()
    res = device_bench.bench([tiny_variants["int8"]], device_bench.BenchOptions(runs=3, warmup=1))
    assert isinstance(res, device_bench.BenchResults) and res.rows[0]["error"] is None
    clip = make_synthetic_video(tmp_path / "clip.avi", frames=12, size=(60, 80))
    summary = camera_demo.demo(
        camera_demo.DemoConfig(
            model=str(tiny_variants["int8"]),
            source=str(clip),
            display=False,
            sync=True,
            quiet=True,
            handle_signals=False,
        )
    )
    assert summary["frames"] == 12 and summary["stop_reason"] == "end_of_source"
