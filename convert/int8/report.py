"""The int8 sections of report.md (per-layer error, repairs) and the per-layer error plot."""

from __future__ import annotations

from typing import Any, Optional

from sentilite.core.plotting import pyplot

from ..records import ConvertReport
from .layer_errors import short_name

LAYER_PLOT_FILE = "int8_layer_error.png"


def _f(v: Any, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, (int, float)) else "–"


def int8_section(report: ConvertReport, plot: Optional[str]) -> list[str]:
    block = report.get("int8_layers")
    if not block:
        return []
    lines = [
        "## Int8 per-layer error",
        "",
        "For each quantised tensor, TFLite's QuantizationDebugger runs the float and the int8 model on the same "
        "images; RMSE / std is the error of the int8 output relative to the spread of the float output, channel "
        "by channel (their mean), SNR the tensor's signal-to-noise ratio. Worst 10 on the evaluation images "
        "(calibration images beside):",
        "",
        "| layer | op | position | RMSE / std (eval) | SNR dB (eval) | RMSE / std (calib) | int8 scale |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in block["worst"]:
        lines.append(
            f"| {short_name(r['tensor'])} | {r['op']} | {r['position']} | {r['rmse_over_std']:.4f} | "
            f"{r['snr_db']:.1f} | {r['rmse_over_std_calibration']:.4f} | {r['scale']:.4g} |"
        )
    lines.append("")
    if plot:
        lines += [f"![int8 per-layer error]({plot})", ""]
    overlay = (report.get("files") or {}).get("int8_overlay")
    if overlay:
        int8_file = (report.get("files") or {}).get("variants", {}).get("int8", "MODEL_int8.tflite")
        lines += [
            f"The error on every op of the int8 file, as a Model Explorer overlay: `{overlay}` "
            f"(`sentilite explore {int8_file}` opens it).",
            "",
        ]
    repair = block.get("repair") or {}
    if not repair.get("ran"):
        lines += [f"Repairs not tried: {repair.get('why', '')}.", ""]
        return lines
    lines += [
        "## Int8 repairs",
        "",
        "Tried in order of expected gain per second"
        + (
            f" inside a budget of {repair['budget_s']:.0f} s ({repair.get('budget_from', '')}; "
            f"{repair.get('spent_s', 0):.0f} s spent)"
            if repair.get("budget_s") is not None
            else f" ({repair.get('spent_s', 0):.0f} s spent, no budget)"
        )
        + "; every row is scored like the variants above.",
        "",
        "| candidate | what | accuracy % | top-1 agree % | mean abs Δp | latency ms | size MB | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in repair["rows"]:
        if "error" in r:
            said = r["error"] if r.get("skipped") else f"failed: {r['error']}"
            lines.append(f"| {r['variant']} | {r['repair']} | {said} | | | | | {_f(r.get('seconds'), '.0f')} |")
            continue
        lines.append(
            f"| {r['variant']} | {r['repair']} | {_f(100 * r['accuracy'], '.1f')} | "
            f"{_f(100 * r['top1_agreement'], '.1f')} | "
            f"{_f(r['mean_abs_diff'], '.4f')} | {_f(r.get('latency_ms'), '.2f')} | {r['size_bytes'] / 1e6:.2f} | "
            f"{_f(r.get('seconds'), '.0f')} |"
        )
    kept = repair.get("kept")
    lines += [
        "",
        f"Kept: `{kept}` (agrees with Keras at least as often as int8, ≥ 10 % closer in mean |Δp|, not slower "
        "than float32)."
        if kept
        else "Kept: none (no candidate agreed at least as often as int8 while being ≥ 10 % "
        "closer in mean |Δp| and not slower than float32).",
    ]
    if not any(r["variant"] == "int8-qat" for r in repair["rows"]):  # a stale "never tried" would mislead
        lines.append(
            "Quantisation-aware fine-tuning (`int8-qat`) did not run: it runs when no candidate above agrees "
            "with Keras on ≥ 97 % of the images, or with `--repair always`, unless `--qat-epochs 0`."
        )
    lines.append("")
    return lines + _dynamic_alternative(report)


def _dynamic_alternative(report: ConvertReport) -> list[str]:
    """A sentence on dynamic-int8 when it follows Keras more closely than full int8 and is not slower than float32."""
    by = {r.get("variant"): r for r in report.get("rows", []) if "error" not in r}
    dyn, int8, f32 = by.get("dynamic-int8"), by.get("int8"), by.get("float32")
    if not (dyn and int8 and f32) or dyn.get("top1_agreement") is None or int8.get("top1_agreement") is None:
        return []
    if dyn["top1_agreement"] <= int8["top1_agreement"] or dyn["latency_ms"] > f32["latency_ms"]:
        return []
    return [
        f"Where no integer-only accelerator is involved, `dynamic-int8` follows Keras more closely: "
        f"{100 * dyn['top1_agreement']:.1f} % agreement, mean |Δp| {dyn['mean_abs_diff']:.4f}, "
        f"{dyn['latency_ms']:.2f} ms against float32's {f32['latency_ms']:.2f} ms, {dyn['size_bytes'] / 1e6:.2f} MB "
        "(int8 weights; activations quantised per row at run time by XNNPACK).",
        "",
    ]


def plot_layer_errors(report: ConvertReport, path: Any) -> bool:
    """RMSE / std of every quantised layer in graph order; the worst ones named."""
    plt = pyplot()
    block = report.get("int8_layers")
    if plt is None or not block or not block["layers"]:
        return False
    layers = block["layers"]
    fig, ax = plt.subplots(figsize=(9, 4))
    xs = [r["position"] for r in layers]
    ax.bar(xs, [r["rmse_over_std"] for r in layers], color="#4c72b0", label="evaluation images")
    ax.plot(xs, [r["rmse_over_std_calibration"] for r in layers], "k.", markersize=3, label="calibration images")
    for r in block["worst"][:5]:
        ax.annotate(
            short_name(r["tensor"]),
            (r["position"], r["rmse_over_std"]),
            fontsize=7,
            rotation=60,
            xytext=(0, 3),
            textcoords="offset points",
        )
    ax.set_xlabel("quantised tensor (graph order)")
    ax.set_ylabel("RMSE / std of the float output")
    ax.set_title("int8 error per layer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    from sentilite.core.plotting import save_figure

    save_figure(fig, path)
    return True


OVERLAY_FILE = "int8_error.nodedata.json"


def write_error_overlay(int8_file: Any, layers: list[Any], path: Any) -> Optional[int]:
    """Model Explorer's overlay of the per-layer int8 error (RMSE / std on the evaluation images)
    on ``int8_file``'s ops; ``sentilite explore`` opens it. Each debugger tensor is matched to
    the op of the int8 file that writes a tensor of that name. Returns how many ops it colours
    (None when nothing matched, and then no file is written)."""
    from ai_edge_litert import schema_py_generated as schema

    from sentilite.core.node_data import write_node_data

    with open(int8_file, "rb") as fh:
        model = schema.ModelT.InitFromPackedBuf(fh.read(), 0)
    sg = model.subgraphs[0]
    writer = {sg.tensors[t].name.decode("utf-8", "replace"): i for i, op in enumerate(sg.operators) for t in op.outputs}
    values = {}
    for layer in layers:
        op = writer.get(str(layer.get("tensor")))
        if op is not None and layer.get("rmse_over_std") is not None:
            values[op] = max(values.get(op, 0.0), float(layer["rmse_over_std"]))
    if not values:
        return None
    write_node_data(path, "int8 error (RMSE / std, evaluation images)", values)
    return len(values)
