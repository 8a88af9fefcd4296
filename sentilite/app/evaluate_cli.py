"""``sentilite evaluate``: score a model on a labelled split, here or on a device.

Here it is the train part's :func:`~sentilite.train.evaluate.evaluate_model`; with ``--device``
the device runs the model (:func:`~sentilite.device_bench.remote_eval.evaluate_on_device`) and
its answers are compared with this machine's, kernel library by kernel library. The command
lives on the application floor because it joins the two parts.
"""

from __future__ import annotations

from typing import Any, Optional

import click

EXAMPLES = """\b
Examples:
  sentilite evaluate runs/mnv2/model.keras --data ../shared/data/emotion6/sentiment_test.txt --json test.json
  sentilite evaluate model_int8.tflite --data test.txt --kernels reference      # LiteRT's reference kernels here
  sentilite evaluate model_int8.tflite --data test.txt --device ssh://pi@raspberrypi.local \\
      --remote-python /home/pi/litert/bin/python --kernels xnnpack,builtin --json pi.json
"""


@click.command("evaluate", epilog=EXAMPLES)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="SPLIT", help="Labelled list: split file, CSV or class-per-folder tree.")
@click.option("--root", type=click.Path(file_okay=False), help="Folder the split's image paths are relative to.")
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), help="Write the metrics (and per-image predictions) here."
)
@click.option("--threads", type=int, help="Interpreter threads for a .tflite here [default: all cores].")
@click.option(
    "--kernels",
    default="xnnpack",
    show_default=True,
    metavar="K[,K...]",
    help="LiteRT kernels: xnnpack, builtin (optimized, no delegate) or reference; several with --device.",
)
@click.option(
    "--device", default=None, metavar="WHERE", help="Run the model on ssh://user@host[:port] (or adb, local) instead."
)
@click.option(
    "--max-images", type=click.IntRange(min=1), default=None, help="With --device: use the first N images only."
)
@click.option("--remote-python", default=None, metavar="PATH", help="--device: the device's Python (default python3).")
@click.option(
    "--ssh-config", type=click.Path(dir_okay=False), default=None, help="--device ssh: an ssh_config file (ssh -F)."
)
@click.option("--identity", type=click.Path(dir_okay=False), default=None, help="--device ssh: a private key (ssh -i).")
def evaluate_command(
    model: str,
    data: str,
    root: Optional[str],
    json_out: Optional[str],
    threads: Optional[int],
    kernels: str,
    device: Optional[str],
    max_images: Optional[int],
    remote_python: Optional[str],
    ssh_config: Optional[str],
    identity: Optional[str],
) -> None:
    """Score MODEL (.keras or .tflite) on a labelled split through the model's own preprocessing
    contract: 3-class accuracy, per-class precision/recall/F1, confusion matrix, and the 2-class
    reading (positive vs negative). With --device, the device runs the model on tensors prepared
    here and the report gives, per kernel library, its accuracy and its agreement with this
    machine's answers. A .tflite needs no TensorFlow."""
    names = [k.strip() for k in kernels.split(",") if k.strip()]
    if device:
        _on_device(model, data, root, json_out, names, device, max_images, remote_python, ssh_config, identity)
        return
    if len(names) != 1:
        raise click.UsageError("several --kernels need --device (compare them there); here pass one")
    from ..train.evaluate import evaluate_model
    from ..train.rundir import summary_line

    result = evaluate_model(model, data, root=root, json_out=json_out, num_threads=threads, kernels=names[0])
    kernels_txt = f", {result['kernels']} kernels" if result.get("kernels") else ""
    click.echo(f"model: {model} ({result['format']}, {result['runtime']}{kernels_txt})")
    click.echo(summary_line(result, "data"))
    for name, pc in result["per_class"].items():
        click.echo(
            f"  {name:9s} precision {pc['precision']:.3f}  recall {pc['recall']:.3f}  f1 {pc['f1']:.3f}  n "
            f"{pc['support']}"
        )
    if result["n_skipped"]:
        click.echo(
            f"skipped {result['n_skipped']} unreadable image(s): " + "; ".join(s["path"] for s in result["skipped"][:5])
        )
    for line in head_lines(result.get("heads")):
        click.echo(line)
    for w in result.get("warnings", []):
        click.echo(f"warning: {w}", err=True)
    if json_out:
        click.echo(f"metrics written to {json_out}")


def _ci(block: dict[str, Any], key: str) -> str:
    lo, hi = block[f"{key}_ci95"]
    return f"{block[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def head_lines(heads: Optional[dict[str, Any]]) -> list[str]:
    """The extra heads' scores, one line per reading, with 95 % intervals."""
    if not heads:
        return []
    lines = [f"extra heads on the {heads['images']} image(s) with affect labels (95 % intervals):"]
    for name, b in heads.items():
        if not isinstance(b, dict):
            continue
        if "kl" in b:
            lines.append(
                f"  {name:9s} KL {_ci(b, 'kl')}  cosine {_ci(b, 'cosine')}  Chebyshev {_ci(b, 'chebyshev')}  "
                f"intersection {_ci(b, 'intersection')}  dominant top-1 {_ci(b, 'top1')}  n {b['n']}"
            )
        elif "pearson_r" in b:
            lines.append(
                f"  {name:9s} Pearson r {_ci(b, 'pearson_r')}  CCC {_ci(b, 'ccc')}  MAE {_ci(b, 'mae')}  n {b['n']}"
            )
    return lines


def _on_device(
    model: str,
    data: str,
    root: Optional[str],
    json_out: Optional[str],
    kernels: list[str],
    device: str,
    max_images: Optional[int],
    remote_python: Optional[str],
    ssh_config: Optional[str],
    identity: Optional[str],
) -> None:
    from ..core.reporting import write_json
    from ..device_bench.options import BenchOptions, SSHOptions
    from ..device_bench.remote_eval import evaluate_on_device

    options = BenchOptions(
        device=device, remote_python=remote_python, ssh=SSHOptions(config=ssh_config, identity=identity)
    )
    res = evaluate_on_device(
        model, data, options, kernels=kernels, root=root, max_images=max_images, log=lambda m: click.echo(m, err=True)
    )
    click.echo(render_device_table(res), nl=False)
    if json_out:
        write_json(json_out, res)
        click.echo(f"results written to {json_out}")


def render_device_table(res: dict[str, Any]) -> str:
    """One line per kernel library: device accuracy and agreement with this machine."""
    from ..core.metrics import NEAR_TIE

    emu = res.get("emulation") or {}
    lines = [f"{res['device']}: {len(res['paths'])} images, preprocessing {res['preprocessing']}"]
    if emu.get("emulated"):
        lines.append(f"NOTE: {emu.get('note')} ({emu.get('how')})")
    lines += [
        "",
        "| kernels | device accuracy | host accuracy | top-1 agreement (95 % CI) | differing answers (at near ties) "
        "| max abs Δp | identical outputs |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, r in res["kernels"].items():
        ci = r.get("top1_agreement_ci95")  # absent from results written before the interval was added
        ci_text = f" ({ci[0]:.1%}-{ci[1]:.1%})" if ci else ""
        flips = f"{r['flips']} ({r['flips_at_near_ties']})" if "flips" in r else "-"
        lines.append(
            f"| {k} | {r['accuracy']:.3f} | {r['host_accuracy']:.3f} | {r['top1_agreement_with_host']:.1%}{ci_text} | "
            f"{flips} | {r['max_abs_diff_p']:.4f} | {r['identical_outputs']:.1%} |"
        )
    lines.append(
        f"A near tie: this machine's two most likely classes within {NEAR_TIE} of each other; "
        "there a tiny numeric difference is enough to change the answer."
    )
    if res["skipped"]:
        lines.append(f"skipped {len(res['skipped'])} unreadable image(s)")
    return "\n".join(lines) + "\n"
