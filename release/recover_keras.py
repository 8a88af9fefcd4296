"""Recover a Keras parent from a full-integer .tflite: the bundled file's weights, back in Keras.

The Keras model behind the bundled file of 2026-11-30 was not kept, and re-training it (twice,
distilled from the file) gave weaker models (docs/heads.md). Its int8 file still holds every weight:
each convolution with its batch norm folded in, and the decision rule folded into the last Dense
layer. This script puts them back into a sentilite model of the same architecture (the
``--template``, e.g. a one-epoch run of the recipe), dequantised, with each batch norm set to the
identity plus the folded bias. The result computes in float what the int8 file computes in
integers, so its answers are the file's up to activation rounding, and `sentilite convert` re-makes
the same integer weights from it (per-channel symmetric scales are recomputed equal).

Each op goes to the template layer its kernel tensor's name names (the converter writes the Keras
layer's path into it, and orders a multi-head model's parallel heads its own way), or by order
where names do not pair them (every kernel's shape is checked either way). A file with extra heads
(the bundled file since 2026-12-07) recovers into a template with the same heads, or into a
sentiment-only template: then its heads are left out, and the contract names them
(``recovered_from.heads_left_out``), which is what ``PREVIOUS_INT8`` in make_default_model.sh
does before it trains the heads again.

    python -m release.recover_keras --int8 sentilite/models/sentiment_mobilenetv2_int8.tflite \\
        --template runs/dm/mnv2-template/model.keras --out runs/dm/mnv2-recovered/model.keras \\
        --check ../shared/data/emotion6/sentiment_val.txt
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import SentiliteError
from sentilite.core.fsutil import sha256_file
from sentilite.core.modelfile import read_contract, write_contract_keras

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@dataclass(frozen=True)
class FileLayer:
    """One weighted op of the .tflite, dequantised, in TFLite's layout."""

    op: str
    kernel: np.ndarray
    bias: np.ndarray
    name: str = ""  # the kernel tensor's name: the converter writes the Keras layer's path into it


def _dequantise(interpreter: Any, index: int) -> np.ndarray:
    detail = interpreter._get_tensor_details(index, 0)
    q = detail["quantization_parameters"]
    values = interpreter.get_tensor(index).astype(np.float32)
    scales, zeros = np.asarray(q["scales"], np.float32), np.asarray(q["zero_points"], np.float32)
    if scales.size == 0:
        return values
    shape = [1] * values.ndim
    if scales.size > 1:
        shape[q["quantized_dimension"]] = scales.size
    return (values - zeros.reshape(shape)) * scales.reshape(shape)


def file_layers(path: Path) -> list[FileLayer]:
    """The weighted ops of ``path`` in execution order, each kernel and bias dequantised."""
    from sentilite.core.runtime import make_interpreter

    interpreter, _ = make_interpreter(path, kernels="builtin")  # no delegate: constants stay readable
    names = {int(d["index"]): str(d["name"]) for d in interpreter.get_tensor_details()}
    layers = []
    for op in interpreter._get_ops_details():
        if op["op_name"] in WEIGHTED_OPS:
            kernel, bias = (_dequantise(interpreter, int(i)) for i in op["inputs"][1:3])
            layers.append(FileLayer(op["op_name"], kernel, bias, names.get(int(op["inputs"][1]), "")))
    return layers


def _pixel_in(first: FileLayer, norm: Any) -> bool:
    """Whether ``first`` is convert's pixel-in normalisation (a 1x1 per-channel depthwise) for ``norm``."""
    if first.op != "DEPTHWISE_CONV_2D" or first.kernel.shape != (1, 1, 1, 3):
        return False
    scale = 1.0 / (255.0 * np.asarray(norm.std))
    offset = -np.asarray(norm.mean) / np.asarray(norm.std)
    if not (np.allclose(first.kernel.reshape(3), scale, rtol=0.02) and np.allclose(first.bias, offset, atol=0.05)):
        raise SentiliteError(
            "The file's pixel-in normalisation is not its contract's "
            f"(scale {first.kernel.reshape(3)} vs {scale}, offset {first.bias} vs {offset}).",
            "recover from a file written by `sentilite convert`",
        )
    return True


def keras_layers(model: Any) -> list[tuple[Any, Optional[Any]]]:
    """The weighted layers of ``model`` (nested models included) in order, each with the batch norm
    that reads its output, if any."""
    from sentilite.core.tf_import import import_keras

    keras_mod = import_keras("recovering a Keras model")
    weighted = (keras_mod.layers.Conv2D, keras_mod.layers.DepthwiseConv2D, keras_mod.layers.Dense)
    found: list[tuple[Any, Optional[Any]]] = []
    for layer in model.layers:
        if isinstance(layer, keras_mod.Model):
            found.extend(keras_layers(layer))
        elif isinstance(layer, weighted):
            found.append((layer, None))
        elif isinstance(layer, keras_mod.layers.BatchNormalization) and found and found[-1][1] is None:
            if layer.input is not found[-1][0].output:
                raise SentiliteError(f"{layer.name} does not read {found[-1][0].name}.", "use a sentilite model")
            found[-1] = (found[-1][0], layer)
    return found


def _layer_part(part: str, suffixed: bool) -> str:
    return re.sub(r"_\d+$", "", part) if suffixed else part


def _by_name(index: dict[str, int], layers: list[FileLayer], suffixed: bool) -> Optional[list[Optional[int]]]:
    """Per file op, the template layer its kernel's name names (None: none), where that names every
    template layer exactly once; else None. The converter writes ``.../backbone_1/b1d_dw_1/depthwise``
    (or, for a kernel with its batch norm folded in, the batch norm's ``.../b1d_bn_1/batchnorm/mul_1``):
    each scope a layer's name with ``_N`` added (``suffixed``), or as it is. ``index``: each layer's
    and batch norm's name -> the layer's position."""
    found: list[Optional[int]] = []
    for source in layers:
        hits = {
            index[p] for p in (_layer_part(x, suffixed) for x in source.name.split(";")[0].split("/")) if p in index
        }
        if len(hits) > 1:
            return None
        found.append(hits.pop() if hits else None)
    return found if sorted(i for i in found if i is not None) == sorted(set(index.values())) else None


def pair(
    targets: list[tuple[Any, Optional[Any]]], layers: list[FileLayer]
) -> tuple[list[tuple[Any, Any, FileLayer]], list[FileLayer]]:
    """Each template layer (with its batch norm) and the file's op that holds its weights; and the
    file's ops that no template layer takes (the heads a sentiment-only template leaves out).

    By the layer names in the kernels' names, where they name every template layer exactly once:
    the converter orders parallel branches (a multi-head model's heads) its own way. By order
    otherwise (a file whose tensor names were stripped), each kernel's shape still checked."""
    index = {layer.name: i for i, (layer, _) in enumerate(targets)}
    index.update({bn.name: i for i, (_, bn) in enumerate(targets) if bn is not None})
    found = _by_name(index, layers, suffixed=True) or _by_name(index, layers, suffixed=False)
    if found is not None:
        source_of = {i: source for i, source in zip(found, layers) if i is not None}
        extra = [source for i, source in zip(found, layers) if i is None]
        return [(layer, bn, source_of[i]) for i, (layer, bn) in enumerate(targets)], extra
    if len(targets) != len(layers):
        raise SentiliteError(
            f"The file has {len(layers)} weighted ops, the template {len(targets)} weighted layers, and their "
            "names do not pair them.",
            "pass a --template of the file's architecture",
        )
    return [(layer, bn, source) for (layer, bn), source in zip(targets, layers)], []


def _keras_kernel(layer: Any, source: FileLayer) -> np.ndarray:
    if source.op == "CONV_2D":  # [out, h, w, in] -> [h, w, in, out]
        return source.kernel.transpose(1, 2, 3, 0)
    if source.op == "DEPTHWISE_CONV_2D":  # [1, h, w, in * m] -> [h, w, in, m]
        h, w, channels, multiplier = layer.kernel.shape
        return source.kernel.reshape(h, w, channels, multiplier)
    return source.kernel.T  # FULLY_CONNECTED [out, in] -> [in, out]


def _set(layer: Any, bn: Optional[Any], source: FileLayer) -> None:
    kernel = _keras_kernel(layer, source)
    if tuple(kernel.shape) != tuple(layer.kernel.shape):
        raise SentiliteError(
            f"Layer {layer.name} has kernel {tuple(layer.kernel.shape)}, the file's op {source.op} {kernel.shape}.",
            "pass a --template of the file's architecture",
        )
    if bn is None:
        if not layer.use_bias:
            raise SentiliteError(f"Layer {layer.name} has neither bias nor batch norm.", "use a sentilite model")
        layer.set_weights([kernel, source.bias])
        return
    layer.set_weights([kernel] + ([np.zeros_like(source.bias)] if layer.use_bias else []))
    # the identity plus the folded bias: gamma (x - 0) / sqrt(1 - eps + eps) + beta
    ones = np.ones_like(source.bias)
    bn.set_weights([ones, source.bias, np.zeros_like(source.bias), ones - np.float32(bn.epsilon)])


def _contract(
    template: PreprocessContract, file_contract: PreprocessContract, int8: Path, norm: Any
) -> PreprocessContract:
    """The template's contract with the file's decision rule, heads and provenance (the weights are
    the file's), naming the file; the file's heads the template has no place for are named too."""
    same = (template.height, template.width, template.resize, template.labels) == (
        file_contract.height,
        file_contract.width,
        file_contract.resize,
        file_contract.labels,
    )
    if not same or template.norm != norm:
        raise SentiliteError(
            f"The template's preprocessing or labels differ from {int8}'s.", "pass a --template of the same recipe"
        )
    in_file = {h.name: h for h in file_contract.heads}
    missing = [h.name for h in template.heads if h.name not in in_file]
    if missing:
        raise SentiliteError(
            f"The template has heads {missing} that {int8} lacks.", "pass a template with the file's heads or fewer"
        )
    provenance = dict(file_contract.provenance)
    provenance["recovered_from"] = {"file": int8.name, "sha256": sha256_file(int8)}
    kept = {h.name for h in template.heads}
    left_out = [h.name for h in file_contract.heads if h.name not in kept]
    if left_out:
        provenance["recovered_from"]["heads_left_out"] = left_out
    heads = tuple(in_file[h.name] for h in template.heads)
    return replace(template, decision=file_contract.decision, provenance=provenance, heads=heads)


def recover(int8: Path, template: Path, out: Path) -> Path:
    """``template`` with every weight of the full-integer file ``int8``, dequantised, saved as ``out``."""
    from sentilite.core.tf_import import import_keras

    file_contract, template_contract = read_contract(int8), read_contract(template)
    if file_contract is None or template_contract is None:
        raise SentiliteError("Both files need their sentilite contract.", "pass files made by sentilite")
    norm = file_contract.norm_in_graph or file_contract.norm  # a pixel-in file carries it in its graph
    contract = _contract(template_contract, file_contract, int8, norm)
    layers = file_layers(int8)
    if layers and _pixel_in(layers[0], norm):
        layers = layers[1:]
    keras = import_keras("recovering a Keras model")
    model = keras.saving.load_model(template, compile=False)
    pairs, extra = pair(keras_layers(model), layers)
    if extra and (
        not contract.provenance["recovered_from"].get("heads_left_out") or any(e.op != "FULLY_CONNECTED" for e in extra)
    ):
        raise SentiliteError(
            f"{int8} has weighted ops the template lacks: {', '.join(e.name.split(';')[0] for e in extra)}.",
            "pass a --template of the file's architecture",
        )
    for layer, bn, source in pairs:
        _set(layer, bn, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        model.save(staged)
        write_contract_keras(staged, contract)
        staged.replace(out)
    return out


def agreement(keras_model: Path, int8: Path, split: Path, limit: int = 200) -> dict[str, Any]:
    """Top-1 agreement and mean |Δp| of the recovered model and the file on a split file's photos."""
    from sentilite.core.classifier import load_classifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.core.metrics import agreement as compare

    items = read_split_file(split).samples[:limit]
    recovered, original = KerasClassifier(keras_model), load_classifier(int8)
    p = np.stack([recovered.predict(load_image(item.path)) for item in items])
    q = np.stack([original.predict(load_image(item.path)) for item in items])
    m = compare(q, p)
    return {"images": len(items), "top1_agreement": m["top1_agreement"], "mean_abs_dp": m["mean_abs_diff"]}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--int8", type=Path, required=True, help="a full-integer file written by sentilite convert")
    parser.add_argument("--template", type=Path, required=True, help="a sentilite .keras model of its architecture")
    parser.add_argument("--out", type=Path, required=True, help="where the recovered .keras model goes")
    parser.add_argument("--check", type=Path, help="a split file: print agreement with the file on its photos")
    args = parser.parse_args(argv)
    try:
        out = recover(args.int8, args.template, args.out)
        print(f"recovered: {out}")
        if args.check:
            facts = agreement(out, args.int8, args.check)
            print(json.dumps(facts))
            (out.parent / "recovery.json").write_text(json.dumps(facts, indent=1) + "\n")
    except SentiliteError as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
