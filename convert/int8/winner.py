"""Which repair candidate is kept: timed beside float32 in one interleaved run, then the best one
that agrees with Keras at least as often as int8 and is clearly closer, unless it is slower than float32."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from ..inputs import ConvertInputs
from ..options import ConvertOptions
from ..records import RepairBlock, RepairRow, VariantRow
from ..validation import clearly_slower, interleaved_latency, tflite_runner
from .budget import RepairBudget


def finish_repairs(
    tried: list[RepairRow],
    runners: dict[str, Callable[[], Any]],
    int8_row: VariantRow,
    f32_row: Optional[VariantRow],
    stage: Path,
    inp: ConvertInputs,
    opts: ConvertOptions,
    budget: RepairBudget,
) -> RepairBlock:
    """Time the candidates beside float32, pick the winner, drop the others' files."""
    f32_here = _time_with_float32(runners, f32_row, stage, inp, opts)
    for name, lat in f32_here.items():
        if name != "float32":
            next(r for r in tried if r["variant"] == name).update(lat)
    winner = _winner(tried, int8_row, f32_here.get("float32"))
    for row in tried:
        keep = winner is not None and row is winner
        if not keep and "path" in row:
            (stage / Path(row["path"]).name).unlink(missing_ok=True)
            row.pop("path")
    return {
        "ran": True,
        "rows": tried,
        "kept": winner["variant"] if winner else None,
        "float32_timing": f32_here.get("float32"),
        "budget_s": budget.budget_s,
        "budget_from": budget.limit,
        "spent_s": round(budget.spent_s, 1),
        "order": [r["variant"] for r in tried],
    }


def _time_with_float32(
    runners: dict[str, Callable[[], Any]],
    f32_row: Optional[VariantRow],
    stage: Path,
    inp: ConvertInputs,
    opts: ConvertOptions,
) -> dict[str, dict[str, float]]:
    """The candidates' latencies, timed in one interleaved run beside the float32 file (key
    "float32"), so that a load that comes and goes hits both alike."""
    if f32_row is not None and "error" not in f32_row and f32_row.get("path"):
        f32_file = stage / Path(f32_row["path"]).name
        if f32_file.is_file():
            runners = {**runners, "float32": tflite_runner(f32_file, opts.threads, inp.ev)}
    runs = max(5, opts.latency_runs // (3 if len(runners) > 2 else 1))
    return interleaved_latency(runners, runs=runs)


def _winner(tried: list[RepairRow], int8_row: VariantRow, f32_lat: Optional[dict[str, float]]) -> Optional[RepairRow]:
    """The best candidate that agrees with Keras at least as often as int8 (on every extra head too),
    is at least 10 % closer in mean |dp|, and is not slower than float32 (else float32 would be the
    better repair).
    "Slower" must hold beyond noise: the candidate's and float32's latency intervals, measured in
    the same interleaved run, separate, and its median is more than 10 % above float32's."""
    ok = [
        r
        for r in tried
        if "error" not in r
        and r["top1_agreement"] >= int8_row["top1_agreement"]
        and r["mean_abs_diff"] <= 0.9 * int8_row["mean_abs_diff"]
        and not _worse_on_a_head(r, int8_row)
        and not (f32_lat and clearly_slower(r, f32_lat, 1.1))
    ]
    return max(ok, key=lambda r: (r["top1_agreement"], -r["mean_abs_diff"])) if ok else None


def _worse_on_a_head(candidate: RepairRow, int8_row: VariantRow) -> bool:
    """True when the candidate agrees with Keras less often (class heads) or strays further
    (regression heads) than int8 on some extra head."""
    mine, theirs = candidate.get("heads") or {}, int8_row.get("heads") or {}
    for name, c in theirs.items():
        got = mine.get(name)
        if got is None:
            return True
        if c["kind"] == "distribution" and got["top1_agreement"] < c["top1_agreement"]:
            return True
        if c["kind"] == "regression" and got["mae"] > c["mae"]:
            return True
        if c["kind"] == "embedding" and got["mean_cosine"] < c["mean_cosine"]:
            return True
    return False
