"""convert/options.py declares each option once: the CLI, the options object and report.json's
settings are generated from that declaration and cannot drift. Planted defect: add a field to
ConvertOptions without a Flag; the first test goes red (and the CLI would not offer it)."""

from __future__ import annotations

from dataclasses import fields

import click
import pytest
from click.testing import CliRunner

import sentilite.convert.api as api
from sentilite.app.cli import cli
from sentilite.convert.options import QUANTIZER_FLAGS, ConvertOptions
from sentilite.convert.variants import QuantizerOptions


def declared() -> dict[str, object]:
    return {f.name: f.metadata["cli"] for f in fields(ConvertOptions) if "cli" in f.metadata} | QUANTIZER_FLAGS


def test_every_option_is_declared_once_with_its_flag():
    names = {f.name for f in fields(ConvertOptions)}
    assert names - set(declared()) == {"quantizer"}  # its fields are declared in QUANTIZER_FLAGS
    assert set(QUANTIZER_FLAGS) == {f.name for f in fields(QuantizerOptions)}
    flags = [flag.name for flag in declared().values()]
    assert len(flags) == len(set(flags))
    assert set(ConvertOptions().to_dict()) == names  # report.json's settings: every field


def test_help_offers_every_declared_flag():
    out = CliRunner().invoke(cli, ["convert", "--help"]).output
    for flag in declared().values():
        assert flag.name in out, flag.name


def test_every_flag_reaches_the_options_object(monkeypatch, tmp_path):
    """Each option set away from its default on the command line arrives in ConvertOptions."""
    seen = {}

    def capture(model, **kw):
        seen["options"] = kw["options"]
        raise click.exceptions.Exit(0)

    monkeypatch.setattr(api, "convert_model", capture)
    args = [
        "convert",
        "m.keras",
        "--eval",
        "e.txt",
        "--out",
        str(tmp_path / "o"),
        "--variants",
        "float32,int8",
        "--io",
        "int8",
        "--calib-size",
        "7",
        "--calib-sizes",
        "5,10",
        "--tolerance",
        "1.5",
        "--overwrite",
        "--allow-select-tf-ops",
        "--contract",
        "c.json",
        "--seed",
        "4",
        "--threads",
        "2",
        "--latency-runs",
        "9",
        "--kernel-check-images",
        "3",
        "--no-pixel-in",
        "--no-layer-report",
        "--repair",
        "never",
        "--time-budget",
        "12",
        "--repair-budget",
        "42",
        "--qat-epochs",
        "1",
        "--qat-images",
        "11",
        "--qat-lr",
        "0.001",
        "--name",
        "n",
        "--model-version",
        "v",
        "--author",
        "a",
        "--license",
        "l",
        "--per-tensor",
        "--no-bias-correction",
    ]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    expected = ConvertOptions(
        variants="float32,int8",
        io="int8",
        calib_size=7,
        calib_sizes="5,10",
        tolerance=1.5,
        overwrite=True,
        allow_select_tf_ops=True,
        contract="c.json",
        seed=4,
        threads=2,
        latency_runs=9,
        kernel_check_images=3,
        pixel_in=False,
        layer_report=False,
        repair="never",
        time_budget=12.0,
        repair_budget=42.0,
        qat_epochs=1,
        qat_images=11,
        qat_lr=0.001,
        model_name="n",
        model_version="v",
        author="a",
        license="l",
        quantizer=QuantizerOptions(per_channel=False, bias_correction=False),
    )
    assert seen["options"] == expected
    defaults = seen["options"].to_dict()
    assert all(defaults[k] != v for k, v in ConvertOptions().to_dict().items() if k != "calib_sizes"), defaults


@pytest.mark.parametrize("flag", ["--calib-size", "--threads", "--latency-runs", "--tolerance"])
def test_ranges_are_checked_by_the_cli(flag):
    res = CliRunner().invoke(cli, ["convert", "m.keras", "--eval", "e", "--out", "o", flag, "-1"])
    assert res.exit_code == 2 and "Invalid value" in res.output
