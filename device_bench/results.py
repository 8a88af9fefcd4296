"""Benchmark results: rows per variant x threads, and the files they are written to.

Per device: ``results.json`` (everything, including each process's raw result),
``results.csv`` and ``results.md`` (the table: size, load, first, median, p90, throughput,
peak RSS) and ``latency_vs_size.png`` (median latency vs model size, one point per variant and
thread count). ``bench compare`` writes the same files for several devices at once.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from sentilite import __version__
from sentilite.core.fsutil import atomic_write_text
from sentilite.core.probe import EMULATION_NOTE
from sentilite.core.reporting import Column, csv_text, fmt_float, fmt_str, markdown_table, write_json

from .records import ModelFacts, RunResult, SystemInfo, TableRow
from .stats import DEFAULT_CV_THRESHOLD, VARIATION_ADVICE, aggregate
from .sustained_report import plot_sustained, verdict_text

PathLike = Union[str, os.PathLike]
RESULTS_FORMAT = "sentilite-bench-results"
RESULTS_VERSION = 1

TABLE_COLUMNS: list[Column] = [
    ("model", "model", fmt_str),
    ("variant", "variant", fmt_str),
    ("threads", "threads", fmt_str),
    ("size_mb", "size MB", fmt_float(2)),
    ("load_ms", "load ms", fmt_float(1)),
    ("first_ms", "first ms", fmt_float(1)),
    ("median_ms", "median ms", fmt_float(2)),
    ("p90_ms", "p90 ms", fmt_float(2)),
    ("throughput_ips", "img/s", fmt_float(1)),
    ("rss_peak_mb", "peak RSS MB", fmt_float(1)),
]
CSV_KEYS = [
    "device",
    "model",
    "variant",
    "kind",
    "threads",
    "size_mb",
    "load_ms",
    "first_ms",
    "warmup_mean_ms",
    "median_ms",
    "p90_ms",
    "mean_ms",
    "min_ms",
    "p99_ms",
    "std_ms",
    "cv",
    "throughput_ips",
    "rss_peak_mb",
    "rss_growth_mb",
    "time_to_first_result_s",
    "runs",
    "repeats",
    "median_ci95_low_ms",
    "median_ci95_high_ms",
    "runtime",
    "delegate",
    "flags",
    "kernels",
    "emulated",
    "error",
    "path",
]


def _delegate_text(d: Optional[dict[str, Any]]) -> Optional[str]:
    if not d:
        return None
    if not d.get("applied"):
        return "none"
    nodes = f" ({d['delegated_nodes']}/{d['nodes']} nodes)" if d.get("delegated_nodes") is not None else ""
    return f"{d.get('name') or 'delegate'}{nodes}"


def build_rows(
    models: Sequence[ModelFacts],
    runs: Sequence[RunResult],
    threads: Sequence[int],
    device: str,
    cv_threshold: float = DEFAULT_CV_THRESHOLD,
) -> list[TableRow]:
    """One row per model x thread count (in the order given), aggregating its repeats."""
    rows = []
    for mi, m in enumerate(models):
        for t in threads:
            mine = [r for r in runs if r.get("model_index") == mi and r.get("threads") == t]
            if not mine:
                continue
            agg = aggregate(mine, cv_threshold)
            ok = [r for r in mine if not r.get("error")]
            first_ok = ok[0] if ok else {}
            rt = first_ok.get("runtime") or {}
            lat = agg.get("latency_ms") or {}
            ci = agg.get("median_ci95_ms") or [None, None]
            rows.append(
                {
                    "device": device,
                    "model": m["name"],
                    "variant": m["variant"],
                    "kind": m["kind"],
                    "threads": t,
                    "size_mb": m["size_mb"],
                    "size_bytes": m["size_bytes"],
                    "path": m["path"],
                    "load_ms": agg.get("load_ms"),
                    "first_ms": agg.get("first_ms"),
                    "warmup_mean_ms": agg.get("warmup_mean_ms"),
                    "median_ms": agg.get("median_ms"),
                    "p90_ms": agg.get("p90_ms"),
                    "mean_ms": agg.get("mean_ms"),
                    "min_ms": lat.get("min"),
                    "p99_ms": lat.get("p99"),
                    "std_ms": lat.get("std"),
                    "cv": agg.get("cv"),
                    "throughput_ips": agg.get("throughput_ips"),
                    "rss_peak_mb": agg.get("rss_peak_mb"),
                    "rss_growth_mb": agg.get("rss_growth_mb"),
                    "time_to_first_result_s": agg.get("time_to_first_result_s"),
                    "runs": lat.get("count"),
                    "repeats": agg.get("repeats", 0),
                    "repeat_medians_ms": agg.get("repeat_medians_ms"),
                    "median_ci95_ms": agg.get("median_ci95_ms"),
                    "median_ci95_low_ms": ci[0],
                    "median_ci95_high_ms": ci[1],
                    "runtime": f"{rt.get('name')} {rt.get('version')}" if rt else None,
                    "delegate": _delegate_text(first_ok.get("delegate")),
                    "flags": "; ".join(agg.get("flags") or []) or None,
                    "kernels": first_ok.get("kernels"),
                    "emulated": bool((first_ok.get("emulation") or {}).get("emulated")),
                    "sustained": {k: v for k, v in (first_ok.get("sustained") or {}).items() if k != "series"} or None,
                    "error": agg.get("error"),
                }
            )
    return rows


@dataclass
class BenchResults:
    """What one ``run_bench`` produced (also what ``results.json`` holds)."""

    device: str
    system: SystemInfo
    protocol: dict[str, Any]
    models: list[ModelFacts]
    runs: list[RunResult]
    rows: list[TableRow]
    errors: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    created: str = field(default_factory=lambda: _dt.datetime.now().astimezone().isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        return not self.errors and all(not r.get("error") for r in self.rows)

    @property
    def complete(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULTS_FORMAT,
            "version": RESULTS_VERSION,
            "sentilite_version": __version__,
            "created": self.created,
            "device": {"label": self.device, "system": self.system},
            "protocol": self.protocol,
            "models": self.models,
            "rows": self.rows,
            "errors": self.errors,
            "complete": self.complete,
            "runs": self.runs,
        }

    def table(self) -> str:
        return results_table(self.rows)


def results_table(rows: Sequence[TableRow], with_device: bool = False) -> str:
    """The Markdown table, then one note line per row that has a CI, a flag or an error."""
    cols = ([("device", "device", fmt_str)] if with_device else []) + TABLE_COLUMNS
    text = markdown_table(rows, cols)
    notes = []
    for r in rows:
        tag = f"{r.get('device') + ' ' if with_device else ''}{r['model']} x{r['threads']}"
        bits = []
        if r.get("error"):
            bits.append(f"ERROR {r['error']}")
        if r.get("median_ci95_ms"):
            lo, hi = r["median_ci95_ms"]
            bits.append(f"median 95% CI {lo:.2f}-{hi:.2f} ms over {r['repeats']} processes")
        if r.get("flags"):
            bits.append(r["flags"])
        if r.get("sustained"):
            bits.append(verdict_text(r["sustained"]))
        if bits:
            notes.append(f"- {tag}: " + "; ".join(bits))
    if any(r.get("emulated") for r in rows):
        notes.insert(
            0,
            f"- NOTE: {EMULATION_NOTE} (rows marked emulated come from a CPU emulator, e.g. the Raspberry Pi stand-in)",
        )
    if any("high variation" in (r.get("flags") or "") for r in rows):
        notes.append(f"\n{VARIATION_ADVICE}")
    return text + ("\n" + "\n".join(notes) + "\n" if notes else "")


def write_results(res: BenchResults, out_dir: PathLike, plot: bool = True) -> dict[str, Path]:
    """Write results.json / .csv / .md and the plot; returns name -> path (also kept in ``res.files``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "results.json", "csv": out / "results.csv", "table": out / "results.md"}
    res.files.update(files)
    if plot:
        png = out / "latency_vs_size.png"
        if plot_latency_vs_size(res.rows, png, title=f"Median latency vs size ({res.device})"):
            res.files["plot"] = png
        if any(r.get("sustained") for r in res.runs) and plot_sustained(res.runs, out / "sustained.png"):
            res.files["sustained_plot"] = out / "sustained.png"
    write_json(files["json"], res.to_dict())
    atomic_write_text(files["csv"], csv_text(res.rows, CSV_KEYS))
    header = f"# Benchmark on {res.device}\n\n{describe_system(res.system)}\n\n{describe_protocol(res.protocol)}\n\n"
    errors = "".join(f"\n**Error:** {e}\n" for e in res.errors)
    atomic_write_text(files["table"], header + res.table() + errors)
    return res.files


def describe_system(system: SystemInfo) -> str:
    if not system:
        return "System: unknown."
    emu = system.get("emulation") or {}
    bits = [
        f"**{emu.get('note')}** ({emu.get('how')})" if emu.get("emulated") else None,
        system.get("board"),
        system.get("cpu"),
        f"{system.get('cores')} cores" if system.get("cores") else None,
        f"governor {system['governor']}" if system.get("governor") else None,
        f"{system['temperature_c']:.0f} °C" if system.get("temperature_c") is not None else None,
        f"load {system['loadavg'][0]:.2f}" if system.get("loadavg") else None,
        system.get("platform"),
    ]
    return "System: " + ", ".join(str(b) for b in bits if b) + "."


def describe_protocol(p: dict[str, Any]) -> str:
    timed = f"{p.get('runs')} timed runs" + (f" and at least {p['min_seconds']:g} s" if p.get("min_seconds") else "")
    return (
        f"Protocol: a fresh process per model x threads; load + allocate, first inference, {p.get('warmup')} warm-up "
        f"runs, "
        f"{timed}; {p.get('repeat', 1)} process(es) each; inputs: {p.get('inputs')}; "
        f"XNNPACK {'on' if p.get('xnnpack', True) else 'off'}"
        f"{'; CPU mask ' + str(p['cpu_mask']) if p.get('cpu_mask') else ''}."
    )


def plot_latency_vs_size(
    rows: Sequence[TableRow], path: Path, title: str = "Median latency vs size", by_device: bool = False
) -> bool:
    """One point per row (variant x threads[, device]); colour = variant (or device), marker = threads."""
    from sentilite.core.plotting import pyplot, save_figure

    plt = pyplot()
    pts = [r for r in rows if r.get("median_ms") is not None and r.get("size_mb") is not None]
    if plt is None or not pts:
        return False
    key = "device" if by_device else "variant"
    groups = list(dict.fromkeys(str(r[key]) for r in pts))
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    thread_vals = sorted({int(r["threads"]) for r in pts})
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for r in pts:
        c = cmap(groups.index(str(r[key])) % 10)
        m = markers[thread_vals.index(int(r["threads"])) % len(markers)]
        ax.scatter(r["size_mb"], r["median_ms"], color=c, marker=m, s=60, edgecolor="black", linewidths=0.5, zorder=3)
        ci = r.get("median_ci95_ms")
        if ci:
            err = [[max(0.0, r["median_ms"] - ci[0])], [max(0.0, ci[1] - r["median_ms"])]]
            ax.errorbar(r["size_mb"], r["median_ms"], yerr=err, color=c, capsize=3, zorder=2)
        label = f"{r['variant']}" + (f" @{r['device']}" if by_device else "") + f" ×{r['threads']}"
        ax.annotate(label, (r["size_mb"], r["median_ms"]), textcoords="offset points", xytext=(5, 4), fontsize=7)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=cmap(i % 10), marker="o", linestyle="", label=g) for i, g in enumerate(groups)]
    handles += [
        Line2D(
            [],
            [],
            color="gray",
            marker=markers[i % len(markers)],
            linestyle="",
            label=f"{t} thread{'s' if t > 1 else ''}",
        )
        for i, t in enumerate(thread_vals)
    ]
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_xlabel("model size (MB)")
    ax.set_ylabel("median latency per image (ms)")
    sizes = [r["size_mb"] for r in pts]
    if max(sizes) / max(min(sizes), 1e-9) > 20:
        ax.set_xscale("log")
    lat = [r["median_ms"] for r in pts]
    if max(lat) / max(min(lat), 1e-9) > 20:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0, top=max(lat) * 1.15)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def load_results(path: PathLike) -> dict[str, Any]:
    """Read a results.json written by ``sentilite bench`` (clear error otherwise)."""
    from sentilite.core.errors import InputFileError

    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.is_file():
        raise InputFileError(f"Results file not found: {p}.", "pass the results.json written by `sentilite bench`")
    from sentilite.core.bounded_read import read_json_file

    try:
        data = read_json_file(p, max_bytes=256 * 2**20)  # a day of sustained runs is a few MB
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"{p} is not valid JSON ({exc}).", "pass the results.json written by `sentilite bench`"
        ) from None
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise InputFileError(
            f"{p} is not a sentilite benchmark result.", "pass the results.json written by `sentilite bench`"
        )
    return data
