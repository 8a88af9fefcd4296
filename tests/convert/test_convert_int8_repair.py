"""convert/: the per-layer int8 error report finds a layer made hard to quantise, and the repair fixes it.

The tiny CNN is trained on synthetic images; then one channel of its middle convolution is
made a constant 200 that the next layer ignores. In float nothing changes; in int8 that channel
takes the tensor's one scale (200 / 255 per step), so the other channels keep a few levels each.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sentilite.convert.api import convert_model
from sentilite.convert.int8.layer_errors import rmse_over_std, short_name
from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.runtime import make_interpreter


@pytest.fixture(scope="module")
def repaired(hard_model, synthetic_splits, tmp_path_factory):
    # repair="always" also runs the quantisation-aware fine-tuning
    # (tests/convert/test_convert_qat.py checks what it does)
    return convert_model(
        hard_model,
        calib=synthetic_splits["train"],
        eval=synthetic_splits["test"],
        out=tmp_path_factory.mktemp("conv") / "out",
        variants="float32,int8",
        calib_size=30,
        latency_runs=3,
        kernel_check_images=0,
        repair="always",
    )


def test_the_layer_made_hard_to_quantise_is_found(repaired):
    block = repaired.report["int8_layers"]
    worst = block["worst"]
    assert short_name(worst[0]["tensor"]) == "hard", [short_name(w["tensor"]) for w in worst[:3]]
    assert worst[0]["rmse_over_std"] > 5 * worst[1]["rmse_over_std"]  # by far
    assert worst[0]["rmse_over_std_calibration"] > 5 * worst[1]["rmse_over_std_calibration"]
    assert len(block["layers"]) >= 5 and all(np.isfinite(r["snr_db"]) for r in block["layers"])
    # measured on two image sets (one debugger model, two datasets): the figures differ
    assert (
        sum(r["rmse_over_std"] != r["rmse_over_std_calibration"] for r in block["layers"]) >= len(block["layers"]) // 2
    )
    md = repaired.report_md.read_text()
    assert (
        "## Int8 per-layer error" in md and "| hard |" in md and (repaired.out_dir / "int8_layer_error.png").is_file()
    )
    on_disk = json.loads(repaired.report_json.read_text())
    assert on_disk["int8_layers"]["worst"][0]["tensor"] == worst[0]["tensor"]


def test_the_int8_error_overlay_colours_the_hard_layer_darkest(repaired):
    # Model Explorer's node data keys a .tflite's ops by execution index; the worst op must be the
    # int8 file's op that writes the "hard" layer's tensor
    from ai_edge_litert import schema_py_generated as schema

    overlay = json.loads((repaired.out_dir / "int8_error.nodedata.json").read_text())
    assert repaired.report["files"]["int8_overlay"] == "int8_error.nodedata.json"
    results = overlay["results"]
    darkest = max(results, key=lambda k: results[k]["value"])
    model = schema.ModelT.InitFromPackedBuf(repaired.variants["int8"].read_bytes(), 0)
    sg = model.subgraphs[0]
    written = [sg.tensors[t].name.decode() for t in sg.operators[int(darkest)].outputs]
    assert any(short_name(n) == "hard" for n in written), written
    assert len(results) >= 5 and all(0 <= int(k) < len(sg.operators) for k in results)
    assert "sentilite explore" in repaired.report_md.read_text()


def test_the_report_says_what_each_step_and_each_repair_cost(repaired):
    steps = {r["step"]: r for r in repaired.report["steps"]}
    assert {"export", "convert", "validate", "int8 diagnosis", "int8 repairs"} <= set(steps)
    assert all(r["seconds"] >= 0 and r["peak_rss_mb"] > 100 for r in steps.values())
    block = repaired.report["int8_layers"]["repair"]
    # the default: what is left of the whole run's 300 s when the repairs start
    before = sum(r["seconds"] for name, r in steps.items() if name not in ("int8 repairs", "calibration sweep"))
    assert 300 - before - 5 < block["budget_s"] <= 300 - before and "--time-budget 300 s" in block["budget_from"]
    assert 0 < block["spent_s"] <= steps["int8 repairs"]["seconds"] + 1
    assert all(r.get("seconds") is not None for r in block["rows"])
    md = repaired.report_md.read_text()
    assert "## Where the time went" in md and "| int8 repairs |" in md and "expected gain per second" in md


@pytest.mark.parametrize(
    "budget, named",
    [({"repair_budget": 0.001}, "--repair-budget 0 s"), ({"time_budget": 1.0}, "--time-budget 1 s")],
    ids=["repair-budget", "time-budget"],
)
def test_a_small_budget_skips_the_repairs_that_would_not_fit_and_says_so(
    hard_model, synthetic_splits, tmp_path, budget, named
):
    said: list[str] = []
    res = convert_model(
        hard_model,
        calib=synthetic_splits["train"],
        eval=synthetic_splits["test"],
        out=tmp_path / "out",
        variants="float32,int8",
        calib_size=30,
        latency_runs=3,
        kernel_check_images=0,
        repair="always",
        qat_epochs=0,
        log=said.append,
        **budget,
    )
    block = res.report["int8_layers"]["repair"]
    assert block["rows"] and all(r.get("skipped") for r in block["rows"]), block["rows"]
    assert all("repair budget" in r["error"] and named in r["error"] for r in block["rows"]) and block["kept"] is None
    assert block["order"][0] == "int8-eq"  # the best expected gain per second goes first
    assert "skipped: about" in res.report_md.read_text()
    # progress names each step as it starts, with the run's clock and what is left of the budget
    starts = [m for m in said if m.startswith("[") and m.endswith("] validate")]
    assert len(starts) == 1, said
    if "time_budget" in budget:  # 1 s is spent before validation starts
        assert "over the 0:01 budget: no repair will start" in starts[0], starts
    else:
        assert "left of the 5:00 budget" in starts[0], starts


def test_the_repair_budget_is_what_the_time_budget_leaves_capped_by_the_repair_budget():
    from sentilite.convert.int8.budget import repair_budget

    left = repair_budget(300, 0, 120, 10.0)
    assert left.budget_s == 180 and "--time-budget 300 s" in left.limit and left.unit_s == 10.0
    capped = repair_budget(300, 60, 120, 10.0)
    assert capped.budget_s == 60 and "--repair-budget 60 s" in capped.limit
    assert repair_budget(300, 0, 400, 10.0).budget_s == 0  # spent before the repairs: nothing is left, not "no limit"
    assert repair_budget(300, 0, 400, 10.0).refuses(0.5)
    assert repair_budget(0, 0, 400, 10.0).budget_s is None and repair_budget(0, 0, 400, 10.0).refuses(1e9) is None
    assert repair_budget(0, 50, 400, 10.0).budget_s == 50


def test_budget_orders_by_gain_per_second_and_learns_from_what_it_measured():
    from sentilite.convert.int8.budget import RepairBudget

    names = ["int8-calib200", "int8-int8io", "int8-eq", "int8-mixed3", "int8-mixed6", "int16x8", "int8-qat"]
    b = RepairBudget(budget_s=100.0, unit_s=10.0)
    order = [names[i] for i in b.order(names, calib_ratio=2.0)]
    assert order[:3] == ["int8-eq", "int8-mixed6", "int8-mixed3"] and order[-1] == "int8-int8io"
    assert b.estimate("int8-eq") == 30.0 and b.refuses(30.0) is None
    b.record(30.0, 60.0)  # it took twice the estimate: the rest are assumed to as well
    assert b.estimate("int8-mixed6") == 40.0 and b.left() == 40.0
    assert b.refuses(40.5) and "repair budget" in b.refuses(40.5)
    assert RepairBudget(None, 10.0).refuses(1e9) is None  # None: no limit


def _float_layers(path) -> bool:
    interp, _ = make_interpreter(path)
    return any(np.dtype(d["dtype"]) == np.float32 for d in interp.get_tensor_details() if len(d["shape"]) == 4)


def test_the_repair_keeps_the_best_candidate_beside_a_full_integer_int8(repaired):
    block = repaired.report["int8_layers"]["repair"]
    int8 = next(r for r in repaired.report["rows"] if r["variant"] == "int8")
    tried = {r["variant"]: r for r in block["rows"]}
    assert {"int8-int8io", "int8-eq", "int8-mixed3", "int8-mixed6", "int16x8", "int8-qat"} <= set(tried)
    assert tried["int8-mixed3"]["mean_abs_diff"] < 0.5 * int8["mean_abs_diff"]
    kept = block["kept"]
    closer = [
        r
        for r in tried.values()
        if "error" not in r
        and r["top1_agreement"] >= int8["top1_agreement"]
        and r["mean_abs_diff"] <= 0.9 * int8["mean_abs_diff"]
    ]
    assert {"int8-eq", "int8-mixed3", "int8-mixed6"} <= {r["variant"] for r in closer}
    f32 = block["float32_timing"]  # float32 timed in the candidates' own interleaved run
    assert f32["latency_ms"] > 0 and f32["latency_ci95"][0] <= f32["latency_ms"] <= f32["latency_ci95"][1]
    assert kept is not None and kept in {
        r["variant"] for r in closer
    }  # the rule itself: test_winner_rule_on_planted_rows
    path = repaired.variants[kept]
    assert path.is_file() and path.name == f"hard_{kept}.tflite"
    assert TFLiteClassifier(path).contract == TFLiteClassifier(repaired.variants["int8"]).contract
    assert _float_layers(path) == kept.startswith("int8-mixed")  # a mixed file has float layers, the others none
    assert not _float_layers(repaired.variants["int8"])  # model_int8 stays full-integer
    assert "| int8-mixed3 | MIXED" in repaired.report_md.read_text()
    for row in block["rows"]:  # losers leave no file behind
        assert (row["variant"] == kept) == (repaired.out_dir / f"hard_{row['variant']}.tflite").exists()


def test_equalisation_and_rounding_repair_the_hard_layer_in_full_integer(repaired):
    """The int8-eq candidate shrinks the constant channel no one reads and rounds for the output:
    a full-integer file more than twice as close to float (measured: 0.0027 against 0.0121, both
    with the classifier bias correction int8 gets)."""
    block = repaired.report["int8_layers"]["repair"]
    int8 = next(r for r in repaired.report["rows"] if r["variant"] == "int8")
    eq = next(r for r in block["rows"] if r["variant"] == "int8-eq")
    assert eq["mean_abs_diff"] < 0.6 * int8["mean_abs_diff"], (eq, int8["mean_abs_diff"])
    facts = eq["equalize"]
    assert any(g["producers"] == ["hard"] and g["shrunk"] == 1 for g in facts["groups"]), facts
    assert facts["rounded_layers"] == 3 and facts["rounding_error_ratio_median"] < 1.0


def test_auto_repair_stays_out_of_the_way_of_a_good_int8(converted_tiny):
    block = converted_tiny.report["int8_layers"]
    assert block["repair"]["ran"] is False and "within the tolerance" in block["repair"]["why"]


@pytest.fixture(scope="module")
def converted_tiny(tiny_model, synthetic_splits, tmp_path_factory):
    return convert_model(
        tiny_model[2],
        calib=synthetic_splits["train"],
        eval=synthetic_splits["test"],
        out=tmp_path_factory.mktemp("ok") / "out",
        variants="float32,int8",
        calib_size=30,
        latency_runs=2,
        kernel_check_images=0,
    )


def test_channel_wise_error_sees_a_crushed_channel_that_the_tensor_spread_hides():
    rng = np.random.default_rng(0)
    f = np.concatenate([np.full((1000, 1), 200.0), rng.random((1000, 3))], axis=1)
    scale = 200.0 / 255
    q = np.round(f / scale)
    assert rmse_over_std(f, q, scale, 0) > 0.3  # each small channel has lost most of its detail
    fine = np.round(f[:, 1:] / (1.0 / 255))
    assert rmse_over_std(f[:, 1:], fine, 1.0 / 255, 0) < 0.01


def test_winner_rule_on_planted_rows():
    """Planted rows, each meant to lose for one reason. Planted defects: compare medians alone (the
    noisy-but-tied int8-eq is dropped), or skip the |dp| condition (int8-int8io wins)."""
    from sentilite.convert.int8.winner import _winner

    int8 = {"variant": "int8", "top1_agreement": 0.90, "mean_abs_diff": 0.040}
    f32 = {"latency_ms": 10.5, "latency_ci95": [9.0, 14.0]}
    rows = [
        {
            "variant": "int8-int8io",
            "top1_agreement": 0.99,
            "mean_abs_diff": 0.039,
            "latency_ms": 5.0,
            "latency_ci95": [4.9, 5.1],
        },
        {
            "variant": "int8-mixed3",
            "top1_agreement": 0.98,
            "mean_abs_diff": 0.010,
            "latency_ms": 30.0,
            "latency_ci95": [29.0, 31.0],
        },
        {
            "variant": "int8-eq",
            "top1_agreement": 0.95,
            "mean_abs_diff": 0.015,
            "latency_ms": 13.8,
            "latency_ci95": [10.0, 15.0],
        },
        {
            "variant": "int16x8",
            "top1_agreement": 0.95,
            "mean_abs_diff": 0.020,
            "latency_ms": 9.0,
            "latency_ci95": [8.5, 9.5],
        },
        {"variant": "int8-qat", "error": "failed"},
    ]
    assert (
        _winner(rows, int8, f32)["variant"] == "int8-eq"
    )  # mixed3 clearly slower; eq ties float32 and beats int16x8 on |dp|
    assert _winner(rows, int8, None)["variant"] == "int8-mixed3"  # no float32 to compare with
    assert _winner([rows[0], rows[4]], int8, f32) is None
