"""The sentilite CLI: help with examples, `info` on every variant, and one-line errors."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sentilite.app.cli import COMMANDS, cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_group_help_lists_every_command():
    out = run("--help").output
    for name in ["train", "evaluate", "convert", "bench", "demo", "quickstart", "info"]:
        assert name in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_shows_an_example(name):
    result = run(name, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and f"sentilite {name}" in result.output


@pytest.mark.parametrize(
    "variant, dtype", [("float32", "float32"), ("float16", "float32"), ("dynamic-int8", "float32"), ("int8", "uint8")]
)
def test_info_describes_each_variant(tiny_variants, variant, dtype):
    result = run("info", str(tiny_variants[variant]))
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"variant   {variant}" in out
    assert f"input     {dtype} [1, 32, 32, 3]" in out
    assert "labels    negative, neutral, positive" in out
    assert "symmetric normalisation" in out and "runtime   ai-edge-litert" in out
    # a card: conversion facts as short labelled lines, never Python reprs of dicts (issue 29)
    assert "conversion (the full record: --json)" in out and "{'" not in out
    if variant == "int8":
        assert "scale 0.00784" in out and "zero point 12" in out  # [-1, 1] on uint8


def test_info_json_infers_variant_without_embedded_facts(tiny_variants, tmp_path):
    from sentilite.core.modelfile import CONVERSION_METADATA_NAME, embed_tflite_metadata

    for variant, path in tiny_variants.items():
        p = tmp_path / f"{variant}.tflite"
        p.write_bytes(embed_tflite_metadata(path.read_bytes(), {CONVERSION_METADATA_NAME: b""}))
        info = json.loads(run("info", str(p), "--json").output)
        assert info["variant"] == variant and info["variant_source"].startswith("inferred")


def test_info_on_a_keras_model_needs_no_tensorflow_import(tiny_model, tmp_path):
    """In a fresh process under the import guard (this test process has TensorFlow loaded
    already, so an in-process run could not tell). Planted defect: load the .keras with Keras
    in keras_info; the guard logs the attempt."""
    from tfguard import attempts, guarded_env

    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "info", str(tiny_model[2])],
        capture_output=True,
        text=True,
        env=guarded_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "format    keras" in proc.stdout and "labels    negative, neutral, positive" in proc.stdout
    assert attempts(tmp_path) == []


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "Model file not found"),
        (b"just text", "not a model file sentilite recognises"),
        (b"\x89HDF\r\n\x1a\n" + b"\0" * 32, "re-save it as .keras"),
    ],
)
def test_errors_are_one_line_with_a_fix_and_no_traceback(tmp_path, content, expected):
    p = tmp_path / "model.tflite"
    if content is not None:
        p.write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "sentilite", "info", str(p)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert expected in proc.stderr and "Fix:" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_debug_flag_shows_the_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "--debug", "info", str(tmp_path / "x.tflite")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_evaluate_json_has_per_image_predictions_two_files_can_be_compared(tiny_variants, synthetic_splits, tmp_path):
    """Agreement between two models (or host and device) from two evaluate files, nothing else."""
    files = {}
    for variant in ("float32", "int8"):
        files[variant] = tmp_path / f"{variant}.json"
        res = CliRunner().invoke(
            cli,
            [
                "evaluate",
                str(tiny_variants[variant]),
                "--data",
                str(synthetic_splits["val"]),
                "--json",
                str(files[variant]),
            ],
        )
        assert res.exit_code == 0, res.output
    a, b = (json.loads(files[v].read_text())["predictions"] for v in ("float32", "int8"))
    assert len(a) == len(b) > 10 and [p["path"] for p in a] == [p["path"] for p in b]
    for p in a:
        assert set(p) == {"path", "label", "predicted", "probabilities"} and len(p["probabilities"]) == 3
        assert p["predicted"] == ("negative", "neutral", "positive")[max(range(3), key=p["probabilities"].__getitem__)]
    agreement = sum(x["predicted"] == y["predicted"] for x, y in zip(a, b)) / len(a)
    assert agreement >= 0.9


def test_info_reads_like_a_card_and_keeps_litert_banners_off_the_console():
    """Provenance as short labelled lines (the whole record is in --json), and LiteRT's "Created
    TensorFlow Lite XNNPACK delegate" banner only with --debug. Planted defect: make the
    interpreter without the capture; the banner is back on stderr."""
    from sentilite.core.default_model import DEFAULT_MODEL_PATH

    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "info", str(DEFAULT_MODEL_PATH)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    lines = proc.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("provenance"))
    block = []
    for ln in lines[start + 1 :]:
        if not ln.startswith("  "):
            break
        block.append(ln)
    assert any(ln.split()[0] == "decision_rule_in_model" and "temperature" in ln for ln in block), block
    assert block and all(len(ln) <= 120 and "{" not in ln for ln in block), block
    full = json.loads(
        subprocess.run(
            [sys.executable, "-m", "sentilite", "info", str(DEFAULT_MODEL_PATH), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    )
    assert len(full["contract"]["provenance"]) == len(block)
    debug = subprocess.run(
        [sys.executable, "-m", "sentilite", "--debug", "info", str(DEFAULT_MODEL_PATH)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "XNNPACK delegate" in debug.stderr
