"""From raw ``ops`` and whole-model results to a profile: own times, shares, op types, MAC/s as a
share of the CPU's peak, and how faithfully the ops add up to the whole model."""

from __future__ import annotations

from statistics import median
from typing import Optional

from .benchmark_ops import NativeOpRow, by_type
from .cpu_peak import Peak, peak_from_isa
from .op_split import OpUnit
from .profile_records import Faithfulness, NativeProfile, OpRow, OpTypeRow, ThreadProfile
from .records import RunResult, SystemInfo


def _med(values: list[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return median(vals) if vals else None


def _per_repeat(runs: list[RunResult], threads: int) -> tuple[list[float], list[list[dict[str, object]]]]:
    """(whole-model medians, ops lists) of every repeat at ``threads``."""
    whole, ops = [], []
    for r in sorted(runs, key=lambda r: str(r.get("id"))):
        if r.get("threads") != threads or r.get("error"):
            continue
        if str(r.get("id", "")).startswith("whole-"):
            med = (r.get("latency_ms") or {}).get("median")
            if med is not None:
                whole.append(float(med))
        elif r.get("ops"):
            ops.append(list(r["ops"]))  # type: ignore[typeddict-item]
    return whole, ops


def _rows(
    units: list[OpUnit],
    ops_runs: list[list[dict[str, object]]],
    overhead: float,
    peak: Optional[Peak],
    threads: int,
    reference: bool = False,
) -> list[OpRow]:
    timed = [u for u in units if u.data is not None]
    by_unit: dict[int, list[dict[str, object]]] = {u.index: [] for u in timed}
    for run in ops_runs:
        for u, rec in zip(timed, run[1:]):  # run[0] is the overhead model
            by_unit[u.index].append(rec)
    rows: list[OpRow] = []
    for u in units:
        recs = by_unit.get(u.index, [])
        raws = [float(r["median_ms"]) if r.get("median_ms") is not None else None for r in recs]  # type: ignore[arg-type]
        own = [max(0.0, v - overhead) if v is not None else None for v in raws]
        ms, raw = _med(own), _med(raws)
        err = next((str(r["error"]) for r in recs if r.get("error")), None)
        if err is None and u.data is None and u.absorbed_into is None:
            err = u.note
        delegated = any(bool(r.get("delegated")) for r in recs)
        if u.absorbed_into is not None:  # timed inside the convolution it is fused into
            ms, raw, own, delegated = 0.0, None, [0.0] * len(ops_runs), True
        rate = u.macs / (ms / 1000.0) if ms and u.macs else None
        rows.append(
            {
                **u.describe(),  # type: ignore[typeddict-item]
                "ms": ms,
                "raw_ms": raw,
                "runs_ms": own,
                "kernels": "XNNPACK" if delegated else ("reference" if reference else "builtin"),
                "gmacs_per_s": rate / 1e9 if rate else None,
                "peak_share": rate / peak.macs_per_s(u.dtype, threads) if rate and peak else None,
                "error": err,
            }
        )
    total = sum(r["ms"] or 0.0 for r in rows) or None
    for r in rows:
        r["share"] = (r["ms"] or 0.0) / total if total else None
    return rows


def _types(rows: list[OpRow], peak: Optional[Peak], threads: int) -> list[OpTypeRow]:
    total = sum(r.get("ms") or 0.0 for r in rows) or 1.0
    out: dict[str, OpTypeRow] = {}
    for r in rows:
        t = out.setdefault(r["op"], {"op": r["op"], "count": 0, "ms": 0.0, "macs": 0, "on_xnnpack": 0})
        t["count"] += 1
        t["ms"] += r.get("ms") or 0.0
        t["macs"] += int(r.get("macs") or 0)
        t["on_xnnpack"] += r.get("kernels") == "XNNPACK"
        t.setdefault("dtype", r.get("dtype"))  # type: ignore[typeddict-unknown-key]
    for t in out.values():
        t["share"] = t["ms"] / total
        rate = t["macs"] / (t["ms"] / 1000.0) if t["ms"] and t["macs"] else None
        t["gmacs_per_s"] = rate / 1e9 if rate else None
        dtype = str(t.pop("dtype", None))  # type: ignore[misc]
        t["peak_share"] = rate / peak.macs_per_s(dtype, threads) if rate and peak else None
    return sorted(out.values(), key=lambda t: -t["ms"])


def _top10_same(rows: list[OpRow], tie: float = 0.01) -> tuple[Optional[int], Optional[int]]:
    """(ops shared by the top-10 lists of the first two repeats, that count plus the ops whose time
    in the second repeat is within ``tie`` of its 10th: identical layers tie, and ties swap places)."""
    runs = max((len(r.get("runs_ms") or []) for r in rows), default=0)
    if runs < 2:
        return None, None
    timed = [r for r in rows if len(r.get("runs_ms") or []) > 1 and None not in r["runs_ms"][:2]]

    def top(k: int) -> list[OpRow]:
        return sorted(timed, key=lambda r: -(r["runs_ms"][k] or 0.0))[:10]

    first, second = top(0), top(1)
    same = {r["index"] for r in first} & {r["index"] for r in second}
    tenth = second[-1]["runs_ms"][1] if second else 0.0
    tied = [r for r in first if r["index"] not in same and r["runs_ms"][1] >= (1 - tie) * (tenth or 0.0)]
    return len(same), len(same) + len(tied)


def explain(f: Faithfulness, n_ops: int, kernels: str, weights_mb: float = 0.0) -> str:
    """Why the ops do not add up exactly, in the measured numbers."""
    parts = [
        f"each one-op model also pays for one invoke() ({f.get('overhead_ms') or 0:.4f} ms, measured on a one-element "
        f"ADD and taken off each of the {n_ops} ops: {f['sum_raw_ms'] - f['sum_ms']:.3f} ms in all)"
    ]
    gap = f.get("gap")
    if gap is not None and gap > 0:
        parts.append(
            "alone, an op starts with its input out of cache and cannot overlap with its neighbour"
            + (
                "; XNNPACK's PAD-into-convolution fusion is already counted (each such pair is timed as one), "
                "others it may do in the whole graph are not"
                if kernels == "xnnpack"
                else ""
            )
        )
    elif gap is not None:
        parts.append(
            "alone, an op finds its weights and input still in the CPU's caches from its previous invoke, while "
            f"the whole model streams all its weights (a {weights_mb:.1f} MB file) through them on every invoke; "
            "with several threads the whole model also wakes the thread pool once per op"
        )
    return "; ".join(parts) + "."


def _native(runs: list[RunResult], threads: int, rows: list[OpRow], types: list[OpTypeRow]) -> Optional[NativeProfile]:
    """benchmark_model's own op profile at ``threads`` (first repeat that has one) beside ours;
    its builtin-kernel rows also give each of our rows its ``native_ms``."""
    got = sorted(
        (r for r in runs if str(r.get("id", "")).startswith("native-") and r.get("threads") == threads),
        key=lambda r: str(r.get("id")),
    )
    got = [r for r in got if r.get("native_ops")]
    if not got:
        return None
    native: list[NativeOpRow] = list(got[0]["native_ops"])
    by_index = {n["op_index"]: n["ms"] for n in native if n["op_index"] is not None}
    for row in rows:
        if row["index"] in by_index:
            row["native_ms"] = by_index[row["index"]]
    ours = {t["op"]: t["ms"] for t in types if t.get("ms")}
    return {
        "rows": native,
        "sum_ms": sum(n["ms"] for n in native),
        "whole_ms": (got[0].get("latency_ms") or {}).get("mean"),
        "by_type": by_type(native, ours),
        "per_op": bool(by_index),
    }


def assemble(
    units: list[OpUnit],
    runs: list[RunResult],
    threads: list[int],
    system: SystemInfo,
    kernels: str,
    weights_mb: float = 0.0,
) -> list[ThreadProfile]:
    """One :class:`ThreadProfile` per thread count from the raw results."""
    peak = peak_from_isa(system.get("isa"))  # type: ignore[arg-type]
    out: list[ThreadProfile] = []
    for t in threads:
        whole, ops_runs = _per_repeat(runs, t)
        overheads = [float(run[0]["median_ms"]) for run in ops_runs if run and run[0].get("median_ms") is not None]  # type: ignore[arg-type]
        overhead = median(overheads) if overheads else 0.0
        rows = _rows(units, ops_runs, overhead, peak, t, kernels == "reference")
        raw_sum = sum(r.get("raw_ms") or 0.0 for r in rows)
        own_sum = sum(r.get("ms") or 0.0 for r in rows)
        whole_ms = median(whole) if whole else None
        gap = own_sum / whole_ms - 1.0 if whole_ms else None
        faith: Faithfulness = {
            "whole_ms": whole_ms,
            "sum_ms": own_sum,
            "sum_raw_ms": raw_sum,
            "overhead_ms": overhead if overheads else None,
            "gap": gap,
            "within_10pct": abs(gap) <= 0.10 if gap is not None else None,
        }
        faith["top10_same"], faith["top10_same_or_tied"] = _top10_same(rows)
        timed = sum(1 for r in rows if r.get("raw_ms") is not None)
        faith["explanation"] = explain(faith, timed, kernels, weights_mb)
        builtin = sorted({r["op"] for r in rows if r.get("kernels") == "builtin" and r.get("ms") is not None})
        tp: ThreadProfile = {
            "threads": t,
            "ops": rows,
            "op_types": _types(rows, peak, t),
            "faithfulness": faith,
            "on_builtin": builtin if kernels == "xnnpack" else [],
        }
        native = _native(runs, t, rows, tp["op_types"])
        if native is not None:
            tp["native"] = native
        out.append(tp)
    return out
