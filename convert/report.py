"""report.md / report.json / report.csv and the plots of a conversion, each written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from sentilite.core.metrics import NEAR_TIE
from sentilite.core.plotting import PLOTS_MISSING, pyplot
from sentilite.core.reporting import fmt_float, fmt_str, markdown_table, write_csv, write_json, write_markdown

from .int8 import LAYER_PLOT_FILE, OVERLAY_FILE, int8_section, plot_layer_errors, write_error_overlay
from .records import ConvertReport, VariantRow
from .steps import steps_markdown

PathLike = Union[str, os.PathLike]

REPORT_FORMAT = "sentilite-convert-report"
REPORT_VERSION = 1
PLOT_FILE = "accuracy_vs_latency.png"
SWEEP_PLOT_FILE = "calibration_sweep.png"


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _signed(v: Any) -> str:
    return "–" if v is None else f"{v:+.1f}"


def _times(v: Any) -> str:
    return "–" if v is None else f"{v:.2f}×"


def _ms(v: Any) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def _mb(v: Any) -> str:
    return "–" if v is None else f"{v / 1e6:.2f}"


def flat_row(row: VariantRow, labels: Sequence[str]) -> dict[str, Any]:
    """One table/CSV row: nested per-class F1 spread into ``f1_<label>`` columns."""
    out = {k: v for k, v in row.items() if not isinstance(v, (dict, list))}
    for name in labels:
        out[f"f1_{name}"] = (row.get("f1") or {}).get(name)
    for kernels, k in (row.get("kernels") or {}).items():
        out[f"{kernels}_kernels_agreement"] = k.get("top1_agreement")
    out["ok"] = "yes" if row.get("within_tolerance") else ("error" if "error" in row else "NO")
    return out


CSV_KEYS = [
    "variant",
    "file",
    "size_bytes",
    "compression_vs_keras",
    "size_vs_float32",
    "input",
    "output",
    "n",
    "accuracy",
    "accuracy_delta_pts",
    "top1_agreement",
    "mean_abs_diff",
    "max_abs_diff",
    "macro_f1",
    "latency_ms",
    "latency_p90_ms",
    "speed_vs_float32",
    "within_tolerance",
    "collapsed",
    "runtime",
    "error",
    "builtin_kernels_agreement",
    "reference_kernels_agreement",
]


def markdown_columns(labels: Sequence[str]) -> list:
    return [
        ("variant", "variant", fmt_str),
        ("size_bytes", "size MB", _mb),
        ("compression_vs_keras", "smaller than .keras", _times),
        ("size_vs_float32", "smaller than float32", _times),
        ("input", "input", fmt_str),
        ("accuracy", "accuracy %", _pct),
        ("accuracy_delta_pts", "Δ pts", _signed),
        ("top1_agreement", "top-1 agree %", _pct),
        ("mean_abs_diff", "mean abs Δp", fmt_float(4)),
        ("max_abs_diff", "max abs Δp", fmt_float(3)),
        ("macro_f1", "macro F1", fmt_float(3)),
        *[(f"f1_{name}", f"F1 {name}", fmt_float(3)) for name in labels],
        ("latency_ms", "latency ms", _ms),
        ("builtin_kernels_agreement", "builtin kernels agree %", _pct),
        ("reference_kernels_agreement", "reference kernels agree %", _pct),
        ("ok", "within tol.", fmt_str),
    ]


SWEEP_COLUMNS = [
    ("images", "calibration images", fmt_str),
    ("accuracy", "accuracy %", _pct),
    ("accuracy_delta_pts", "Δ pts vs Keras", _signed),
    ("top1_agreement", "top-1 agree %", _pct),
    ("mean_abs_diff", "mean abs Δp", fmt_float(4)),
    ("convert_s", "convert s", fmt_float(1)),
]


def _noise_text(rows: Sequence[VariantRow]) -> str:
    """How noisy the timings were: the widest 95 % interval of a median, relative to it."""
    spans = [
        ((r["latency_ci95"][1] - r["latency_ci95"][0]) / 2 / r["latency_ms"], r["variant"])
        for r in rows
        if r.get("latency_ci95") and r.get("latency_ms")
    ]
    if not spans:
        return ""
    width, variant = max(spans)
    return (
        f"; the widest 95 % interval of a median was ±{100 * width:.0f} % ({variant}), and latencies whose intervals "
        "overlap are treated as ties"
    )


def _bias_text(facts: Any) -> str:
    if not facts:
        return ""
    if not facts.get("applied"):
        return f" (bias correction not applied: {facts.get('reason')})"
    shift = ", ".join(f"{v:+.2f}" for v in facts["logit_shift_removed"])
    return f" (classifier bias corrected: logit shift [{shift}] removed, measured on {facts['images']} images)"


def _interval_text(rows: list[VariantRow]) -> str:
    """How far a top-1 agreement on this many images can be trusted, for the int8 row (else the
    least agreeing one): the Wilson 95 % interval."""
    scored = [r for r in rows if r.get("top1_agreement_ci95") and r["variant"] != "keras"]
    if not scored:
        return ""
    r = next((r for r in scored if r["variant"] == "int8"), min(scored, key=lambda r: r["top1_agreement"]))
    lo, hi = r["top1_agreement_ci95"]
    text = (
        f" On {r['n']} images, {r['variant']}'s top-1 agreement of {r['top1_agreement']:.1%} has a 95 % (Wilson) "
        f"interval of {lo:.1%}–{hi:.1%}: smaller differences between variants are within what this many images can "
        f"resolve."
    )
    if r.get("flips"):
        text += (
            f" {r['flips_at_near_ties']} of its {r['flips']} differing answers are near ties, images whose two most "
            f"likely "
            f"classes Keras itself puts within {NEAR_TIE} of each other ({r['near_ties']} such images)."
        )
    return text


def heads_section(rows: Sequence[VariantRow]) -> list[str]:
    """A multi-head model's extra heads against Keras, per variant (nothing for one head)."""
    with_heads = [r for r in rows if r.get("heads")]
    if not with_heads:
        return []
    names = list(with_heads[0]["heads"])
    head = "| variant | " + " | ".join(names) + " |"
    out = ["## Extra heads against Keras", "", head, "|---" * (len(names) + 1) + "|"]
    for r in with_heads:
        cells = []
        for n in names:
            c = r["heads"][n]
            if c["kind"] == "distribution":
                cells.append(f"top-1 agree {100 * c['top1_agreement']:.1f} %, mean abs Δp {c['mean_abs_diff']:.4f}")
            elif c["kind"] == "embedding":
                cells.append(f"cosine mean {c['mean_cosine']:.4f}, min {c['min_cosine']:.4f}")
            else:
                cells.append(
                    f"MAE {c['mae']:.3f} (" + ", ".join(f"{k} {v:.3f}" for k, v in c["mae_per_value"].items()) + ")"
                )
        out.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
    return out + [
        "",
        "Class heads: share of images whose top class equals Keras's, and mean absolute difference of their "
        "probabilities; valence/arousal: mean absolute difference from Keras on the 1-9 scale. int8 needs repair when "
        "a class head agrees on fewer than 97 % of images or a regression head is off by more than 0.25 on average.",
        "",
    ]


def render_markdown(report: ConvertReport) -> str:
    labels = report["contract"]["labels"]
    rows = [flat_row(r, labels) for r in report["rows"]]
    model = report["model"]
    cal, ev, st, host = report["calibration"], report["evaluation"], report["settings"], report["host"]
    lines = [
        f"# Conversion report: {model['name']}",
        "",
        f"**{report['recommendation']['text']}**",
        "",
        f"- Keras model: `{model['path']}` (sha256 {model['sha256'][:12]}…, {model['size_bytes'] / 1e6:.2f} MB)",
        f"- Contract: {report['contract_text']}; labels {', '.join(labels)}",
        f"- Evaluated on `{ev['source']}`: {ev['images']} images "
        f"({', '.join(f'{k} {v}' for k, v in ev['per_class'].items())})"
        + (f", {ev['unreadable']} unreadable skipped" if ev.get("unreadable") else ""),
        f"- Full-int8 calibration: {cal['images']} images from `{cal['source']}`, "
        + ("class-balanced" if cal.get("balanced") else "not balanced")
        + f" ({', '.join(f'{k} {v}' for k, v in cal['per_class'].items())}), seed {cal['seed']}; "
        f"int8 I/O {st['io']}; quantiser {', '.join(f'{k}={v}' for k, v in st['quantizer'].items())}"
        + _bias_text(report.get("bias_correction")),
        f"- Latency: median of {st['latency_runs']} single-image runs after warm-up, variants timed in alternation, "
        f"{st['threads']} thread(s), "
        f"on this host ({host['cpu']}, {host['cpu_count']} CPUs; a shared machine times "
        f"noisily){_noise_text(report['rows'])}. "
        "Keras runs TF eagerly and is not comparable; measure target devices with `sentilite bench`.",
        f"- Tolerance: {st['tolerance']:g} accuracy points below Keras. Converter: TensorFlow {host['tensorflow']}.",
        "",
        markdown_table(rows, markdown_columns(labels)),
        "Δ pts: accuracy minus Keras accuracy, in percentage points. top-1 agree: share of images where the "
        "variant's top class equals Keras's. mean/max abs Δp: absolute difference of class probabilities vs Keras. "
        f"builtin / reference kernels agree: the same file run by LiteRT's builtin (no XNNPACK) and reference kernels, "
        f"top-1 agreement with its XNNPACK answers on the first {st.get('kernel_check_images', 0)} images "
        "(what a device without XNNPACK would answer)." + _interval_text(report["rows"]),
        "",
    ]
    lines += heads_section(report["rows"])
    lines += steps_markdown(report.get("steps") or [])
    if report["warnings"]:
        lines += ["## Warnings", ""] + [f"- ⚠ {w}" for w in report["warnings"]] + [""]
    plots = report["files"].get("plots") or {}
    if plots.get("accuracy_vs_latency"):
        lines += [f"![accuracy vs latency]({plots['accuracy_vs_latency']})", ""]
    sweep = report.get("calibration_sweep")
    if sweep:
        lines += [
            "## Full-int8 accuracy vs calibration-set size",
            "",
            f"Each row converts the int8 variant ({st['io']} I/O) with the first N images of the same class-balanced "
            "calibration order and evaluates it on the evaluation set.",
            "",
            markdown_table(sweep["rows"], SWEEP_COLUMNS),
        ]
        if plots.get("calibration_sweep"):
            lines += [f"![calibration sweep]({plots['calibration_sweep']})", ""]
    lines += int8_section(report, plots.get("int8_layer_error"))
    if report.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    lines += ["## Files", ""]
    for v, f in report["files"]["variants"].items():
        lines.append(f"- `{f}`: {v} ({report['variant_descriptions'].get(v, '')})")
    lines.append("")
    return "\n".join(lines)


def plot_accuracy_vs_latency(report: ConvertReport, path: PathLike) -> bool:
    """Accuracy against latency per variant, point area proportional to file size."""
    plt = pyplot()
    if plt is None:
        return False
    rows = [r for r in report["rows"] if r["variant"] != "keras" and "error" not in r]
    keras = next((r for r in report["rows"] if r["variant"] == "keras"), None)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    biggest = max((r["size_bytes"] for r in rows), default=1)
    for i, r in enumerate(rows):
        size = 80 + 1200 * r["size_bytes"] / biggest
        ax.scatter(r["latency_ms"], 100 * r["accuracy"], s=size, alpha=0.55)
        # Stagger the labels: variants often share an accuracy and sit on top of each other.
        ax.annotate(
            f"{r['variant']}, {r['size_bytes'] / 1e6:.2f} MB",
            (r["latency_ms"], 100 * r["accuracy"]),
            textcoords="offset points",
            xytext=(10, 14 - 12 * i),
            fontsize=8,
        )
    if keras is not None:
        tol = report["settings"]["tolerance"]
        ax.axhline(
            100 * keras["accuracy"], color="black", ls="--", lw=1, label=f"Keras {100 * keras['accuracy']:.1f} %"
        )
        ax.axhspan(
            100 * keras["accuracy"] - tol,
            100 * keras["accuracy"],
            color="green",
            alpha=0.08,
            label=f"within {tol:g} pts",
        )
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(f"median latency, ms ({report['settings']['threads']} thread(s), this host)")
    ax.set_ylabel("top-1 accuracy, %")
    ax.set_title(f"{report['model']['name']}: accuracy vs latency (point size = file size)", fontsize=10)
    ax.margins(x=0.25, y=0.3)
    fig.tight_layout()
    _save(fig, path)
    return True


def plot_calibration_sweep(report: ConvertReport, path: PathLike) -> bool:
    plt = pyplot()
    sweep = report.get("calibration_sweep")
    if plt is None or not sweep:
        return False
    rows = sweep["rows"]
    xs = [r["images"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(xs, [100 * r["accuracy"] for r in rows], "o-", label="int8 accuracy")
    ax.plot(xs, [100 * r["top1_agreement"] for r in rows], "s--", label="top-1 agreement with Keras")
    keras = next((r for r in report["rows"] if r["variant"] == "keras"), None)
    if keras is not None:
        ax.axhline(100 * keras["accuracy"], color="black", ls=":", lw=1, label="Keras accuracy")
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("calibration images (class-balanced)")
    ax.set_ylabel("%")
    ax.set_title("full-int8 vs calibration-set size", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return True


def _save(fig: Any, path: PathLike) -> None:
    from sentilite.core.plotting import save_figure

    save_figure(fig, path)


def _error_overlay(report: ConvertReport, out: Path) -> None:
    """The int8 error as a Model Explorer overlay on the int8 file (``sentilite explore``)."""
    block = report.get("int8_layers") or {}
    row = next((r for r in report["rows"] if r["variant"] == "int8" and r.get("path")), None)
    if not block.get("layers") or row is None or not (out / Path(str(row["path"])).name).is_file():
        return
    if write_error_overlay(out / Path(str(row["path"])).name, block["layers"], out / OVERLAY_FILE):
        report["files"]["int8_overlay"] = OVERLAY_FILE


def write_reports(report: ConvertReport, out_dir: PathLike) -> dict[str, Optional[str]]:
    """Write the plots, report.md, report.json and report.csv into ``out_dir``; returns file names."""
    out = Path(out_dir)
    plots: dict[str, Optional[str]] = {"accuracy_vs_latency": None, "calibration_sweep": None}
    if plot_accuracy_vs_latency(report, out / PLOT_FILE):
        plots["accuracy_vs_latency"] = PLOT_FILE
    if report.get("calibration_sweep") and plot_calibration_sweep(report, out / SWEEP_PLOT_FILE):
        plots["calibration_sweep"] = SWEEP_PLOT_FILE
    if plot_layer_errors(report, out / LAYER_PLOT_FILE):
        plots["int8_layer_error"] = LAYER_PLOT_FILE
    _error_overlay(report, out)
    if pyplot() is None:
        report.setdefault("notes", []).append(PLOTS_MISSING)
    report["files"]["plots"] = plots
    report["files"].update({"report_md": "report.md", "report_json": "report.json", "report_csv": "report.csv"})
    labels = report["contract"]["labels"]
    flat = [flat_row(r, labels) for r in report["rows"]]
    keys = CSV_KEYS[:14] + [f"f1_{n}" for n in labels] + CSV_KEYS[14:]
    write_csv(out / "report.csv", flat, keys)
    write_json(out / "report.json", report)
    write_markdown(out / "report.md", render_markdown(report))
    return plots
