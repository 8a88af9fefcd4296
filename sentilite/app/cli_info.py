"""``sentilite info MODEL``: what a model file is."""

from __future__ import annotations

import json
from typing import Any, Optional

import click

from ..core.default_model import resolve_model


def _fmt_io(t: dict[str, Any]) -> str:
    q = f", scale {t['scale']:.6g}, zero point {t['zero_point']}" if t.get("scale") else ""
    head = f"  <- {t['head']} head" if t.get("head") else ""
    return f"{t['dtype']} {t['shape']}{q}{head}"


def _short(value: Any, width: int = 90) -> str:
    """One readable line for a provenance value: lists joined, a fitted rule in words, the rest
    as ``key=value`` pairs, cut at ``width`` characters."""
    if isinstance(value, dict) and "temperature" in value:
        facts = value.get("facts") or {}
        where = f", fitted on {facts['fitted_on']} ({facts.get('images')} images)" if facts.get("fitted_on") else ""
        text = f"temperature {value['temperature']:g}, class log-offsets {value.get('class_log_bias')}{where}"
    elif isinstance(value, dict):
        text = ", ".join(f"{k}={_short(v, width)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_info(info: dict[str, Any]) -> str:
    """The human-readable summary printed by ``sentilite info``."""
    from ..core.contract import PreprocessContract

    lines = [
        f"model     {info['path']}",
        f"format    {info['format']}",
        f"variant   {info['variant']}" + (f" ({info['variant_source']})" if info.get("variant_source") else ""),
        f"size      {info['size_bytes'] / 1e6:.2f} MB ({info['size_bytes']:,} bytes)",
    ]
    if info["format"] == "tflite":
        lines += [f"input     {_fmt_io(t)}" for t in info["inputs"]]
        lines += [f"output    {_fmt_io(t)}" for t in info["outputs"]]
    else:
        lines.append(f"layers    {info['layers']} ({info['model_class']}, Keras {info.get('keras_version')})")
    c = info.get("contract")
    if c:
        contract = PreprocessContract.from_dict(c)
        lines.append(f"labels    {', '.join(contract.labels)} ({contract.output})")
        for h in contract.heads:
            if h.kind == "embedding":
                lines.append(f"head      {h.name}: unit-length {h.dims}-d embedding in word space (sentilite tag)")
                continue
            what = f"scale {h.scale[0]:g}-{h.scale[1]:g}" if h.kind == "regression" and h.scale else h.output
            lines.append(f"head      {h.name}: {h.kind} over {', '.join(h.labels)} ({what})")
        lines.append(f"contract  {contract.describe()}")
        if contract.provenance:
            lines.append("provenance (the full record: --json)")
            lines += [f"  {k:<22} {_short(v)}" for k, v in contract.provenance.items()]
    else:
        lines.append("contract  none")
    if info.get("conversion"):
        conv = {k: v for k, v in info["conversion"].items() if k != "variant"}
        if conv:
            lines.append("conversion (the full record: --json)")
            lines += [f"  {k:<22} {_short(v)}" for k, v in conv.items()]
    std = info.get("standard_metadata")
    if std and std.get("present") and not std.get("error"):
        inp = std.get("input") or {}
        norm = inp.get("normalization")
        lines.append(
            f"standard  TFLite metadata: {std.get('name')} (version {std.get('version')}, parser >= "
            f"{std.get('min_parser_version')})"
        )
        lines.append(
            f"          input {inp.get('color_space')} {'x'.join(map(str, inp.get('size') or []))}"
            + (
                f", normalisation mean {[round(v, 3) for v in norm['mean']]} std {[round(v, 3) for v in norm['std']]}"
                if norm
                else ", no normalisation (integer input)"
            )
            + "; labels file "
            + (", ".join(std.get("labels") or []) or ("unreadable" if std.get("labels_error") else "missing"))
        )
    elif info["format"] == "tflite":
        lines.append("standard  none")
    if info.get("vocabulary"):
        v = info["vocabulary"]
        lines.append(f"vocabulary {v['words']} words, {v['dims']}-d unit vectors (what `sentilite tag` names)")
    lines.append(f"runtime   {info['runtime']}")
    lines += [f"warning   {w}" for w in info.get("warnings", [])]
    return "\n".join(lines)


@click.command(
    "info",
    epilog="\b\nExamples:\n  sentilite info runs/quickstart/convert/model_int8.tflite\n  sentilite info model.keras "
    "--json",
)
@click.argument("model", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def info_command(model: Optional[str], as_json: bool) -> None:
    """Show what MODEL (.tflite or .keras) is: format, variant, input/output types with
    quantisation scale and zero point, labels, preprocessing contract, size and the runtime
    that loaded it. Without MODEL, describes the bundled default model."""
    from ..core.model_info import model_info

    path, is_default = resolve_model(model, "pass the model file: sentilite info MODEL.tflite")
    info = model_info(path)
    info["bundled_default"] = is_default
    if is_default:
        from ..core.default_model import default_model_card

        info["model_card"] = default_model_card()
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        if is_default:
            from ..core.default_model import describe_default

            click.echo(f"({describe_default()})")
        click.echo(render_info(info))
