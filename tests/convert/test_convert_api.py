"""convert/: the whole conversion of a tiny model through the API and the CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sentilite.app.cli import cli
from sentilite.convert.api import convert_model
from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.model_info import model_info
from sentilite.core.modelfile import read_contract, read_conversion_facts
from sentilite.core.runtime import make_interpreter


@pytest.fixture(scope="module")
def converted(tiny_model, synthetic_splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("convert") / "out"
    result = convert_model(
        tiny_model[2],
        calib=synthetic_splits["train"],
        eval=synthetic_splits["test"],
        out=out,
        calib_size=30,
        calib_sizes="5,30",
        latency_runs=5,
    )
    return result


def test_every_variant_converts_loads_and_carries_its_contract(converted, tiny_model):
    _, contract, keras_path = tiny_model
    assert set(converted.variants) == {"float32", "float16", "dynamic-int8", "int8"}
    for variant, path in converted.variants.items():
        assert path.name == f"tiny_{variant}.tflite" and path.parent == converted.out_dir
        interp, rt = make_interpreter(path)
        assert rt.name == "ai-edge-litert"
        assert read_contract(path) == contract.as_pixel_in()  # pixel-in by default
        facts = read_conversion_facts(path)
        assert facts["variant"] == variant and facts["source"]["file"] == "tiny.keras"
        assert len(facts["source"]["sha256"]) == 64 and facts["converter"].startswith("tensorflow ")
        assert facts["io"] == ("uint8" if variant == "int8" else "float32")
        clf = TFLiteClassifier(path)
        assert clf.warnings == []
    facts = read_conversion_facts(converted.variants["int8"])
    assert facts["calibration"]["images"] == 30 and facts["calibration"]["per_class"] == {
        "negative": 10,
        "neutral": 10,
        "positive": 10,
    }
    assert TFLiteClassifier(converted.variants["int8"]).input_dtype == np.uint8


def test_report_content(converted):
    r = converted.report
    assert [row["variant"] for row in r["rows"]] == ["keras", "float32", "float16", "dynamic-int8", "int8"]
    for row in r["rows"][1:]:
        assert row["top1_agreement"] >= 0.9 and row["accuracy_delta_pts"] >= -10
        assert (
            row["latency_ms"] > 0
            and row["size_vs_float32"] > 0
            and set(row["f1"]) == {"negative", "neutral", "positive"}
        )
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
    assert "variant   int8 (embedded)" in out and "\n  calibration " in out and "tiny.keras" in out


@pytest.mark.parametrize("io, dtype", [("int8", np.int8), ("float32", np.float32)])
def test_int8_io_types(tiny_model, synthetic_splits, tmp_path, io, dtype):
    result = convert_model(
        tiny_model[2],
        calib=synthetic_splits["train"],
        eval=synthetic_splits["val"],
        out=tmp_path / "o",
        variants="int8",
        io=io,
        calib_size=20,
        latency_runs=2,
    )
    clf = TFLiteClassifier(result.variants["int8"])
    assert clf.input_dtype == dtype and clf.warnings == []
    assert read_conversion_facts(result.variants["int8"])["io"] == io
    assert result.report["rows"][1]["top1_agreement"] >= 0.9
    if io == "int8":  # pixel-in: the input is the pixel, shifted into int8's range
        assert clf.input_detail["quantization"] == (1.0, -128)


def test_pixel_in_int8_takes_the_pixel_itself(converted):
    """uint8 input with scale 1 and zero point 0: the device feeds the crop as it is (no table, no copy)."""
    clf = TFLiteClassifier(converted.variants["int8"])
    assert clf.contract.pixel_in and clf.contract.norm.name == "raw" and clf.contract.norm_in_graph.name == "symmetric"
    assert clf.input_detail["quantization"] == (1.0, 0) and clf.encoder.identity
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert clf.encoder.encode_resized(pixels) is pixels
    assert read_conversion_facts(converted.variants["int8"])["pixel_in"] is True
    f32 = TFLiteClassifier(converted.variants["float32"])  # float variants take 0-255 floats
    np.testing.assert_array_equal(f32.encoder.encode_resized(pixels), pixels.astype(np.float32))


def test_no_pixel_in_keeps_the_normalisation_outside(converted, tiny_model, synthetic_splits, tmp_path):
    _, contract, keras_path = tiny_model
    result = convert_model(
        keras_path,
        calib=synthetic_splits["train"],
        eval=synthetic_splits["val"],
        out=tmp_path / "o",
        variants="float32,int8",
        calib_size=20,
        latency_runs=2,
        kernel_check_images=0,
        pixel_in=False,
    )
    for variant in ("float32", "int8"):
        assert read_contract(result.variants[variant]) == contract
    clf = TFLiteClassifier(result.variants["int8"])
    assert clf.input_detail["quantization"] != (1.0, 0) and not clf.encoder.identity
    assert any("quantised input expecting symmetric" in w for w in model_info(result.variants["int8"])["warnings"])
    assert not any("quantised input" in w for w in model_info(converted.variants["int8"])["warnings"])


def test_cli_runs_and_prints_the_recommendation(tiny_model, synthetic_splits, tmp_path):
    out = tmp_path / "cli"
    res = CliRunner().invoke(
        cli,
        [
            "convert",
            str(tiny_model[2]),
            "--calib",
            str(synthetic_splits["train"]),
            "--eval",
            str(synthetic_splits["val"]),
            "--out",
            str(out),
            "--variants",
            "float32,int8",
            "--calib-size",
            "12",
            "--latency-runs",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Recommended:" in res.output and f"report: {out / 'report.md'}" in res.output
    assert sorted(p.name for p in out.glob("*.tflite")) == ["tiny_float32.tflite", "tiny_int8.tflite"]


def test_each_variant_is_also_scored_with_builtin_and_reference_kernels(converted, synthetic_splits):
    """The first hint of device divergence that needs no device: every variant run by LiteRT's
    builtin and reference kernels beside XNNPACK, in report.json, report.md and report.csv. Each
    recorded agreement is recomputed here, in process, from the same images on the named kernels:
    a check that ran the wrong library, the wrong images or the wrong file would not match."""
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image

    n = min(50, converted.report["evaluation"]["images"])
    images = [load_image(s.path) for s in read_split_file(synthetic_splits["test"]).samples[:n]]
    for row in converted.report["rows"][1:]:
        k = row["kernels"]
        assert set(k) == {"builtin", "reference"} and all(v["images"] == n for v in k.values())
        path = converted.variants[row["variant"]]
        xnn = np.stack([TFLiteClassifier(path).predict(im) for im in images])
        for kernels in ("builtin", "reference"):
            clf = TFLiteClassifier(path, kernels=kernels)
            other = np.stack([clf.predict(im) for im in images])
            assert k[kernels]["top1_agreement"] == pytest.approx(float(np.mean(other.argmax(1) == xnn.argmax(1)))), (
                row["variant"],
                kernels,
            )
            assert k[kernels]["max_abs_diff"] == pytest.approx(float(np.abs(other - xnn).max()), abs=1e-6), (
                row["variant"],
                kernels,
            )
        if row["variant"] in ("float32", "float16"):  # float kernels agree to rounding
            assert k["reference"]["top1_agreement"] >= 0.95 and k["reference"]["max_abs_diff"] < 0.05
    md = converted.report_md.read_text()
    assert "builtin kernels agree %" in md and "reference kernels agree %" in md
    assert "reference_kernels_agreement" in converted.report_csv.read_text().splitlines()[0]


def test_a_variant_whose_answers_depend_on_the_kernels_is_warned_about():
    from sentilite.convert.checks import find_warnings

    row = {
        "variant": "int8",
        "latency_ms": 1.0,
        "kernels": {
            "builtin": {"images": 200, "top1_agreement": 0.975, "max_abs_diff": 0.18},
            "reference": {"images": 200, "top1_agreement": 0.995, "max_abs_diff": 0.02},
        },
    }
    warnings = find_warnings([row], 2.0)
    assert len(warnings) == 1 and "builtin kernels disagree with XNNPACK on 2.5% of 200 images" in warnings[0]
    assert "--kernels xnnpack,builtin" in warnings[0]


def test_evaluate_compares_a_device_with_this_machine_per_kernel_library(tiny_variants, synthetic_splits, tmp_path):
    """--device local runs the same runner a Pi gets, on tensors prepared here: bit-identical answers."""
    import subprocess
    import sys

    out = tmp_path / "dev.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentilite",
            "evaluate",
            str(tiny_variants["int8"]),
            "--data",
            str(synthetic_splits["val"]),
            "--device",
            "local",
            "--kernels",
            "xnnpack,builtin,reference",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert set(res["kernels"]) == {"xnnpack", "builtin", "reference"} and "on the host" in res["preprocessing"]
    for k, r in res["kernels"].items():
        assert (
            r["identical_outputs"] == 1.0 and r["top1_agreement_with_host"] == 1.0 and r["n"] == len(res["paths"]) > 10
        ), k
        assert r["accuracy"] == r["host_accuracy"] and r["delegate"]["applied"] == (k == "xnnpack")
        assert r["flips"] == 0 and r["top1_agreement_ci95"][1] == 1.0 and r["top1_agreement_ci95"][0] < 1.0, k
    assert "| xnnpack |" in proc.stdout and "| reference |" in proc.stdout
    assert "| 100.0% (" in proc.stdout and "| 0 (0) |" in proc.stdout  # the interval, and no differing answers


def test_the_device_table_reads_results_written_before_intervals_and_near_ties():
    from sentilite.app.evaluate_cli import render_device_table

    old = {
        "device": "pi",
        "paths": ["a.jpg"] * 4,
        "preprocessing": "on the host",
        "skipped": [],
        "kernels": {
            "xnnpack": {
                "accuracy": 0.5,
                "host_accuracy": 0.5,
                "top1_agreement_with_host": 0.75,
                "max_abs_diff_p": 0.2,
                "identical_outputs": 0.5,
            }
        },
    }
    table = render_device_table(old)
    assert "| xnnpack | 0.500 | 0.500 | 75.0% | - | 0.2000 | 50.0% |" in table


def test_standard_metadata_takes_name_version_author_and_licence_from_the_options(
    tiny_model, synthetic_splits, tmp_path
):
    result = convert_model(
        tiny_model[2],
        calib=None,
        eval=synthetic_splits["val"],
        out=tmp_path / "o",
        variants="float32",
        latency_runs=2,
        kernel_check_images=0,
        model_name="Scene mood",
        model_version="2.1",
        author="Example Lab",
        license="CC-BY-4.0",
    )
    std = model_info(result.variants["float32"])["standard_metadata"]
    assert (std["name"], std["version"], std["author"], std["license"]) == (
        "Scene mood",
        "2.1",
        "Example Lab",
        "CC-BY-4.0",
    )
    assert std["labels"] == ["negative", "neutral", "positive"]
