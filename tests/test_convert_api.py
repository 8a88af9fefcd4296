"""convert/: the whole conversion of a tiny model through the API and the CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sentilite.app.cli import cli
from sentilite.convert.api import convert_model
from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.modelfile import read_contract, read_conversion_facts
from sentilite.core.runtime import make_interpreter


@pytest.fixture(scope="module")
def converted(tiny_model, synthetic_splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("convert") / "out"
    result = convert_model(
        tiny_model[2], calib=synthetic_splits["train"], eval=synthetic_splits["test"], out=out,
        calib_size=30, calib_sizes="5,30", latency_runs=5,
    )
    return result


def test_every_variant_converts_loads_and_carries_its_contract(converted, tiny_model):
    _, contract, keras_path = tiny_model
    assert set(converted.variants) == {"float32", "float16", "dynamic-int8", "int8"}
    for variant, path in converted.variants.items():
        assert path.name == f"tiny_{variant}.tflite" and path.parent == converted.out_dir
        interp, rt = make_interpreter(path)
        assert rt.name == "ai-edge-litert"
        assert read_contract(path) == contract
        facts = read_conversion_facts(path)
        assert facts["variant"] == variant and facts["source"]["file"] == "tiny.keras"
        assert len(facts["source"]["sha256"]) == 64 and facts["converter"].startswith("tensorflow ")
        assert facts["io"] == ("uint8" if variant == "int8" else "float32")
        clf = TFLiteClassifier(path)
        assert clf.warnings == []
    facts = read_conversion_facts(converted.variants["int8"])
    assert facts["calibration"]["images"] == 30 and facts["calibration"]["per_class"] == {"negative": 10, "neutral": 10, "positive": 10}
    assert TFLiteClassifier(converted.variants["int8"]).input_dtype == np.uint8


def test_report_content(converted):
    r = converted.report
    assert [row["variant"] for row in r["rows"]] == ["keras", "float32", "float16", "dynamic-int8", "int8"]
    for row in r["rows"][1:]:
        assert row["top1_agreement"] >= 0.9 and row["accuracy_delta_pts"] >= -10
        assert row["latency_ms"] > 0 and row["size_vs_float32"] > 0 and set(row["f1"]) == {"negative", "neutral", "positive"}
    assert r["rows"][1]["top1_agreement"] == 1.0 and r["rows"][1]["max_abs_diff"] < 1e-4
    assert converted.recommended in converted.variants and converted.recommendation.startswith("Recommended: ")
    assert converted.recommended_path == converted.variants[converted.recommended]
    assert [s["images"] for s in r["calibration_sweep"]["rows"]] == [5, 30]
    for f in (converted.report_md, converted.report_json, converted.report_csv, *converted.plots.values()):
        assert f is not None and f.is_file()
    on_disk = json.loads(converted.report_json.read_text())
    assert on_disk["recommendation"]["variant"] == converted.recommended
    assert on_disk["rows"][4]["path"] == str(converted.variants["int8"])
    d = converted.to_dict()
    assert d["variants"]["int8"] == str(converted.variants["int8"]) and d["report_md"].endswith("report.md")
    # nothing but the results: no staging folders or temporary files beside or inside
    assert not [p for p in converted.out_dir.parent.iterdir() if p.name.startswith(".")]
    assert not list(converted.out_dir.glob(".*"))


def test_info_shows_the_variant_and_conversion_facts(converted):
    out = CliRunner().invoke(cli, ["info", str(converted.variants["int8"])]).output
    assert "variant   int8 (embedded)" in out and "calibration=" in out and "tiny.keras" in out


@pytest.mark.parametrize("io, dtype", [("int8", np.int8), ("float32", np.float32)])
def test_int8_io_types(tiny_model, synthetic_splits, tmp_path, io, dtype):
    result = convert_model(tiny_model[2], calib=synthetic_splits["train"], eval=synthetic_splits["val"], out=tmp_path / "o",
                           variants="int8", io=io, calib_size=20, latency_runs=2)
    clf = TFLiteClassifier(result.variants["int8"])
    assert clf.input_dtype == dtype and clf.warnings == []
    assert read_conversion_facts(result.variants["int8"])["io"] == io
    assert result.report["rows"][1]["top1_agreement"] >= 0.9


def test_cli_runs_and_prints_the_recommendation(tiny_model, synthetic_splits, tmp_path):
    out = tmp_path / "cli"
    res = CliRunner().invoke(cli, ["convert", str(tiny_model[2]), "--calib", str(synthetic_splits["train"]),
                                   "--eval", str(synthetic_splits["val"]), "--out", str(out),
                                   "--variants", "float32,int8", "--calib-size", "12", "--latency-runs", "3"])
    assert res.exit_code == 0, res.output
    assert "Recommended:" in res.output and f"report: {out / 'report.md'}" in res.output
    assert sorted(p.name for p in out.glob("*.tflite")) == ["tiny_float32.tflite", "tiny_int8.tflite"]
