"""The files of ``sentilite profile``: profile.json, ops.csv, op_types.csv, profile.md, the plot
of the top ops and Model Explorer's latency overlay (``latency.nodedata.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentilite.core.node_data import write_node_data
from sentilite.core.plotting import pyplot, save_figure
from sentilite.core.reporting import fmt_float, fmt_str, markdown_table, write_csv, write_json, write_markdown

from .cpu_peak import peak_from_isa
from .profile_records import ThreadProfile

if TYPE_CHECKING:
    from .profile_api import Profile

OP_KEYS = (
    "threads", "index", "op", "layer", "shape", "dtype", "macs", "ms", "raw_ms", "share", "kernels", "gmacs_per_s",
    "peak_share", "native_ms", "outputs", "error",
)  # fmt: skip
TYPE_KEYS = ("threads", "op", "count", "ms", "share", "macs", "gmacs_per_s", "peak_share", "on_xnnpack")


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _shape(v: Any) -> str:
    return "×".join(str(x) for x in v) if v else "–"


def _mmacs(v: Any) -> str:
    return f"{v / 1e6:.2f}" if v else "–"


OP_COLUMNS = [
    ("index", "#", fmt_str), ("op", "op", fmt_str), ("layer", "Keras layer", fmt_str), ("shape", "output", _shape),
    ("macs", "MMACs", _mmacs), ("ms", "ms", fmt_float(4)), ("share", "share", _pct), ("kernels", "kernels", fmt_str),
    ("gmacs_per_s", "GMAC/s", fmt_float(2)), ("peak_share", "of peak", _pct),
]  # fmt: skip
TYPE_COLUMNS = [
    ("op", "op type", fmt_str), ("count", "ops", fmt_str), ("ms", "ms", fmt_float(3)), ("share", "share", _pct),
    ("macs", "MMACs", _mmacs), ("gmacs_per_s", "GMAC/s", fmt_float(2)), ("peak_share", "of peak", _pct),
    ("on_xnnpack", "on XNNPACK", fmt_str),
]  # fmt: skip


def _section(tp: ThreadProfile, top: int) -> str:
    f = tp["faithfulness"]
    whole, gap = f.get("whole_ms"), f.get("gap")
    lines = [
        f"## {tp['threads']} thread(s)\n",
        f"- whole model (median): **{fmt_float(3)(whole)} ms**; sum of the ops' own times: **{f['sum_ms']:.3f} ms**"
        f" ({'gap ' + format(gap, '+.1%') if gap is not None else 'no whole-model time'}; "
        f"{'within' if f.get('within_10pct') else 'outside'} 10 %); "
        f"before the invoke overhead: {f['sum_raw_ms']:.3f} ms",
        f"- why they differ: {f['explanation']}",
    ]
    if f.get("top10_same") is not None:
        tied = (f.get("top10_same_or_tied") or 0) - f["top10_same"]
        lines.append(
            f"- top-10 ops by time, first two repeats: {f['top10_same']} of 10 the same"
            + (f", {tied} more tied within 1 % with the 10th (identical layers swap places)" if tied else "")
        )
    if tp.get("on_builtin"):
        lines.append(f"- XNNPACK left these op types to the builtin kernels: {', '.join(tp['on_builtin'])}")
    timed = [r for r in tp["ops"] if r.get("ms") is not None]
    per_op = (tp.get("native") or {}).get("per_op")
    cols = OP_COLUMNS + ([("native_ms", "benchmark_model ms", fmt_float(4))] if per_op else [])
    lines += [
        "",
        f"### Top {min(top, len(timed))} ops\n",
        markdown_table(sorted(timed, key=lambda r: -r["ms"])[:top], cols),
    ]  # type: ignore[arg-type,index]
    lines += ["### By op type\n", markdown_table(tp["op_types"], TYPE_COLUMNS)]  # type: ignore[arg-type]
    if tp.get("native"):
        lines.append(native_section(tp))
    failed = [r for r in tp["ops"] if r.get("error")]
    if failed:
        lines.append("Not timed: " + "; ".join(f"#{r['index']} {r['op']}: {r['error']}" for r in failed) + "\n")
    return "\n".join(lines)


NATIVE_TYPE_COLUMNS = [
    ("op", "op type", fmt_str), ("native_ms", "benchmark_model ms", fmt_float(3)), ("native_share", "share", _pct),
    ("sentilite_ms", "sentilite profile ms", fmt_float(3)), ("sentilite_share", "share", _pct),
]  # fmt: skip


def native_section(tp: ThreadProfile) -> str:
    """benchmark_model's own op profile of the same file beside sentilite's (adb with the binary)."""
    nat = tp.get("native")
    if not nat:
        return ""
    whole = nat.get("whole_ms")
    lines = [
        "### benchmark_model's own op profile (`--enable_op_profiling`)\n",
        f"- its per-op rows sum to **{nat['sum_ms']:.3f} ms** per invoke"
        + (f" in a run of {whole:.3f} ms mean (the profiler's own cost included)" if whole else "")
        + f"; sentilite's ops sum to {tp['faithfulness']['sum_ms']:.3f} ms",
        "- "
        + (
            "its rows name this file's ops: the `benchmark_model ms` column of the ops above"
            if nat.get("per_op")
            else "its rows are XNNPACK's operators (or one delegate node), not this file's ops: only op types compare"
        ),
        "",
        markdown_table(nat["by_type"], NATIVE_TYPE_COLUMNS),  # type: ignore[arg-type]
    ]
    return "\n".join(lines)


def scaling_section(by_threads: list[ThreadProfile]) -> str:
    """How each op type's time changes with threads: what the profile says about thread counts."""
    if len(by_threads) < 2:
        return ""
    first, last = by_threads[0], by_threads[-1]
    base = {t["op"]: t["ms"] for t in first["op_types"]}
    rows = []
    for t in last["op_types"]:
        b = base.get(t["op"])
        rows.append({"op": t["op"], "a": b, "b": t["ms"], "x": (b / t["ms"]) if b and t["ms"] else None})
    cols = [
        ("op", "op type", fmt_str),
        ("a", f"ms at {first['threads']}", fmt_float(3)),
        ("b", f"ms at {last['threads']}", fmt_float(3)),
        ("x", "speed-up", fmt_float(2)),
    ]
    return (
        f"## Threads: {first['threads']} against {last['threads']}\n\n"
        "An op type whose speed-up stays near 1 gains nothing from more threads (it is memory-bound or too "
        "small to split); the whole model's speed-up is bounded by them.\n\n" + markdown_table(rows, cols)
    )


def profile_markdown(prof: Profile, top: int = 15) -> str:
    sysinfo = prof.system or {}
    peak = peak_from_isa(sysinfo.get("isa"))  # type: ignore[arg-type]
    emu = (sysinfo.get("emulation") or {}).get("note")
    head = [
        f"# Profile of {Path(prof.model).name}\n",
        f"- device: {prof.device} ({sysinfo.get('cpu') or '?'}, {sysinfo.get('cores') or '?'} cores); "
        f"kernels: {prof.kernels}",
        "- method: each op cut into a one-op model with its real weights and quantisation, timed alone on the "
        "device (median of the timed runs, less the cost of one invoke()); `sentilite profile`",
        f"- nominal peak per core ({peak.isa} at {peak.mhz:.0f} MHz): {peak.macs_per_s('float32') / 1e9:.1f} GMAC/s "
        f"float32, {peak.macs_per_s('int8') / 1e9:.1f} GMAC/s int8 (device_bench/cpu_peak.py; at the clock the "
        "device reports, so a CPU that boosts above it can show more than 100 %)"
        if peak
        else "- nominal peak: unknown (the device reports no clock)",
    ]
    if emu:
        head.append(f"- **{emu}**")
    body = "\n".join(_section(tp, top) for tp in prof.by_threads)
    return "\n".join(head) + "\n\n" + body + "\n" + scaling_section(prof.by_threads)


def plot_top_ops(prof: Profile, path: Path, top: int = 15) -> bool:
    """Horizontal bars of the top ops (first thread count), coloured by who ran them."""
    plt = pyplot()
    if plt is None or not prof.by_threads:
        return False
    tp = prof.by_threads[0]
    rows = sorted((r for r in tp["ops"] if r.get("ms") is not None), key=lambda r: -r["ms"])[:top]  # type: ignore[index]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.4))
    labels = [f"#{r['index']} {r['op']}" + (f" ({r['layer']})" if r.get("layer") else "") for r in rows]
    colors = ["#2b8cbe" if r.get("kernels") == "XNNPACK" else "#e6550d" for r in rows]
    ax.barh(range(len(rows)), [r["ms"] for r in rows], color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("own time per invoke (ms)")
    f = tp["faithfulness"]
    ax.set_title(
        f"{Path(prof.model).name}, {tp['threads']} thread(s): top {len(rows)} ops\n"
        f"(blue XNNPACK, orange builtin; sum {f['sum_ms']:.2f} ms vs whole {fmt_float(2)(f.get('whole_ms'))} ms)",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path)
    return True


def write_profile(prof: Profile, out: Path, top: int = 15) -> dict[str, Path]:
    """Write every file of the profile to ``out``; returns them by kind."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "profile.json", "ops_csv": out / "ops.csv", "types_csv": out / "op_types.csv"}
    peak = peak_from_isa((prof.system or {}).get("isa"))  # type: ignore[arg-type]
    record = {
        "format": "sentilite-profile",
        "version": 1,
        "model": prof.model,
        "device": prof.device,
        "kernels": prof.kernels,
        "system": prof.system,
        "peak": peak.describe() if peak else None,
        "method": "one-op models with the real weights, timed alone on the device; invoke overhead taken off",
        "profiles": prof.by_threads,
        "errors": prof.errors,
    }
    write_json(files["json"], record)
    write_csv(files["ops_csv"], [{"threads": tp["threads"], **r} for tp in prof.by_threads for r in tp["ops"]], OP_KEYS)
    write_csv(
        files["types_csv"],
        [{"threads": tp["threads"], **r} for tp in prof.by_threads for r in tp["op_types"]],
        TYPE_KEYS,
    )
    files["markdown"] = out / "profile.md"
    write_markdown(files["markdown"], profile_markdown(prof, top))
    if prof.by_threads:
        first = prof.by_threads[0]
        values = {r["index"]: r["ms"] for r in first["ops"] if r.get("ms") is not None}
        files["overlay"] = write_node_data(
            out / "latency.nodedata.json",
            f"latency ms ({first['threads']} thread(s), {prof.kernels})",
            values,  # type: ignore[misc]
        )
    if plot_top_ops(prof, out / "top_ops.png", top):
        files["plot"] = out / "top_ops.png"
    return files
