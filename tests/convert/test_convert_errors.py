"""convert/: every bad input ends in one clear error, and nothing half-written is left behind."""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from modelkit import TINY_CONTRACT, build_tiny_model

import sentilite.convert.api as api
from sentilite.app.cli import cli
from sentilite.convert.api import convert_model
from sentilite.core.errors import ContractError, ConversionError, InputFileError, ModelFormatError
from sentilite.core.modelfile import write_tflite


def convert(tiny_model, splits, out, **kw):
    kw.setdefault("calib_size", 12)
    kw.setdefault("latency_runs", 2)
    return convert_model(tiny_model[2], calib=splits["train"], eval=splits["val"], out=out, **kw)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- output folder ----------------------------------------------------------------------------


def test_existing_output_folder_is_refused_unless_overwrite(tiny_model, synthetic_splits, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("old report")
    (out / "tiny_float16.tflite").write_bytes(b"stale")
    with pytest.raises(InputFileError, match="already exists.*Fix: pass --overwrite"):
        convert(tiny_model, synthetic_splits, out, variants="float32")
    assert (out / "report.md").read_text() == "old report"
    convert(tiny_model, synthetic_splits, out, variants="float32", overwrite=True)
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".tflite") == ["tiny_float32.tflite"]
    assert "old report" not in (out / "report.md").read_text()
    assert leftovers(tmp_path) == []


def test_overwrite_never_replaces_a_folder_with_foreign_files(tiny_model, synthetic_splits, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputFileError, match="did not write \\(notes.txt\\)"):
        convert(tiny_model, synthetic_splits, tmp_path, variants="float32", overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_existing_output_folder_one_line_cli_error(tiny_model, synthetic_splits, tmp_path):
    (tmp_path / "report.md").write_text("x")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentilite",
            "convert",
            str(tiny_model[2]),
            "--calib",
            str(synthetic_splits["train"]),
            "--eval",
            str(synthetic_splits["val"]),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "SENTILITE_NO_PROGRESS": "1"},
    )
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# -- atomic writes -----------------------------------------------------------------------------


def test_failure_midway_leaves_nothing(tiny_model, synthetic_splits, tmp_path, monkeypatch):
    """float32 is written, then int8 fails: no output folder, no staging folder, no temp file."""
    real = api.convert_saved_model

    def flaky(req):
        if req.variant == "int8":
            raise ConversionError("simulated converter crash")
        return real(req)

    monkeypatch.setattr(api, "convert_saved_model", flaky)
    with pytest.raises(ConversionError, match="simulated"):
        convert(tiny_model, synthetic_splits, tmp_path / "out", variants="float32,int8")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_the_report_keeps_the_previous_run(tiny_model, synthetic_splits, tmp_path, monkeypatch):
    out = tmp_path / "out"
    convert(tiny_model, synthetic_splits, out, variants="float32")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import sentilite.convert.report as report

    def crash(path, text):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(report, "write_markdown", crash)  # report.json and .csv are already written
    with pytest.raises(OSError, match="simulated"):
        convert(tiny_model, synthetic_splits, out, variants="float32,float16", overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert leftovers(tmp_path) == [] and leftovers(out) == []


def test_tflite_write_interrupted_midway_leaves_no_partial_file(tiny_variants, tmp_path, monkeypatch):
    data = tiny_variants["float32"].read_bytes()
    target = tmp_path / "m.tflite"

    def boom(fd):
        raise OSError("power cut (simulated)")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="simulated"):
        write_tflite(target, data, TINY_CONTRACT, {"variant": "float32"})
    assert list(tmp_path.iterdir()) == []


# -- inputs ------------------------------------------------------------------------------------


def test_empty_calibration_set_fails_before_any_conversion(tiny_model, synthetic_splits, tmp_path, monkeypatch):
    def never(*a, **k):
        raise AssertionError("conversion started")

    monkeypatch.setattr(api, "export_saved_model", never)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    calib = tmp_path / "calib.txt"
    calib.write_text("bad.jpg 0\nmissing.jpg 2\n")
    with pytest.raises(InputFileError, match="Calibration set .*none of its 2 image"):
        convert_model(tiny_model[2], calib=calib, eval=synthetic_splits["val"], out=tmp_path / "o")
    calib.write_text("")
    with pytest.raises(Exception, match="calibration set: .*lists no images"):
        convert_model(tiny_model[2], calib=calib, eval=synthetic_splits["val"], out=tmp_path / "o")
    with pytest.raises(InputFileError, match="needs a calibration set"):
        convert_model(tiny_model[2], calib=None, eval=synthetic_splits["val"], out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_wrong_model_files(tiny_variants, synthetic_splits, tmp_path):
    kw = dict(calib=synthetic_splits["train"], eval=synthetic_splits["val"], out=tmp_path / "o")
    with pytest.raises(ModelFormatError, match="is a tflite model; expected a .keras") as err:
        convert_model(tiny_variants["float32"], **kw)
    assert "pass the .keras model it was converted from" in str(err.value) and "pass a .tflite" not in str(err.value)
    (tmp_path / "text.keras").write_text("hello")
    with pytest.raises(ModelFormatError, match="not a model file sentilite recognises"):
        convert_model(tmp_path / "text.keras", **kw)
    with pytest.raises(InputFileError, match="Model file not found"):
        convert_model(tmp_path / "missing.keras", **kw)
    res = CliRunner().invoke(
        cli, ["convert", str(tmp_path / "text.keras"), "--calib", "x", "--eval", "y", "--out", "z"]
    )
    assert res.exit_code == 2 and "not a model file" in res.output


def test_model_without_contract_needs_one(synthetic_splits, tmp_path):
    model = build_tiny_model()
    path = tmp_path / "bare.keras"
    model.save(path)
    kw = dict(calib=synthetic_splits["train"], eval=synthetic_splits["val"], variants="float32", latency_runs=2)
    with pytest.raises(ContractError, match="no sentilite preprocessing contract.*--contract contract.json"):
        convert_model(path, out=tmp_path / "a", **kw)
    cj = tmp_path / "contract.json"
    cj.write_text(TINY_CONTRACT.to_json())
    result = convert_model(path, out=tmp_path / "b", contract=cj, **kw)
    assert result.report["contract"]["input"]["height"] == 32
    cj.write_text("{not json")
    with pytest.raises(ContractError, match="contract.json: .*not valid JSON"):
        convert_model(path, out=tmp_path / "c", contract=cj, **kw)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(TINY_CONTRACT.__class__.create(64, "symmetric").to_json())
    with pytest.raises(ContractError, match="expects input \\(32, 32, 3\\) but its contract says \\(64, 64, 3\\)"):
        convert_model(path, out=tmp_path / "d", contract=wrong, **kw)


def test_bad_arguments(tiny_model, synthetic_splits, tmp_path):
    with pytest.raises(ConversionError, match="Unknown variant.*int4"):
        convert(tiny_model, synthetic_splits, tmp_path / "o", variants="float32,int4")
    with pytest.raises(ConversionError, match="--calib-sizes must be"):
        convert(tiny_model, synthetic_splits, tmp_path / "o", calib_sizes="10,abc")
