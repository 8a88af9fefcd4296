"""Backbones by name, each with its own input normalisation and colour order.

Each keras.applications network expects its inputs prepared its own way; the run's contract
records exactly that, and the model never normalises inside (the contract does it, so int8
conversion and every device agree):

===================  ==========  =====  ================================================
backbone             norm        order  why
===================  ==========  =====  ================================================
mobilenet_v2         symmetric   RGB    keras "tf" mode: pixel / 127.5 - 1
inception_resnet_v2  symmetric   RGB    keras "tf" mode
mobilenet_v3_*       raw         RGB    the application contains its own Rescaling layer
efficientnet_b0      raw         RGB    the application contains Rescaling + Normalization
vgg19                caffe       BGR    keras "caffe" mode: BGR, ImageNet mean subtracted, no scaling
student              symmetric   RGB    trained from scratch; zero-centred inputs (our choice)
--backbone-file      from file   RGB    the file's embedded contract, else --backbone-norm (imagenet)
===================  ==========  =====  ================================================

``--weights imagenet`` stays the real keras.applications download; offline it fails with a
message naming ``--weights FILE`` and ``--backbone-file F --feature-layer gap``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

from sentilite.core.contract import Normalization, normalization
from sentilite.core.errors import InputFileError, ModelFormatError, SentiliteError
from sentilite.core.fsutil import sha256_file
from sentilite.core.modelfile import read_contract, require_format

from .config import TrainConfig, TrainConfigError


class WeightsUnavailableError(SentiliteError):
    """Pretrained weights cannot be obtained (no internet for the keras.applications download)."""


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    application: str  # keras.applications attribute; "" for the student
    default_size: int
    norm: str
    color_order: str = "RGB"
    min_size: int = 32
    has_width: bool = False
    description: str = ""


BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(
        "mobilenet_v2",
        "MobileNetV2",
        224,
        "symmetric",
        has_width=True,
        description="MobileNetV2 (3.5 M parameters at width 1.0)",
    ),
    "mobilenet_v3_small": BackboneSpec(
        "mobilenet_v3_small",
        "MobileNetV3Small",
        224,
        "raw",
        has_width=True,
        description="MobileNetV3-Small (contains its own rescaling)",
    ),
    "mobilenet_v3_large": BackboneSpec(
        "mobilenet_v3_large",
        "MobileNetV3Large",
        224,
        "raw",
        has_width=True,
        description="MobileNetV3-Large (contains its own rescaling)",
    ),
    "efficientnet_b0": BackboneSpec(
        "efficientnet_b0",
        "EfficientNetB0",
        224,
        "raw",
        description="EfficientNet-B0 (contains its own rescaling/normalisation)",
    ),
    "vgg19": BackboneSpec(
        "vgg19", "VGG19", 224, "caffe", color_order="BGR", description="VGG19 (caffe-style BGR mean subtraction)"
    ),
    "inception_resnet_v2": BackboneSpec(
        "inception_resnet_v2", "InceptionResNetV2", 299, "symmetric", min_size=75, description="Inception-ResNet-v2"
    ),
    "student": BackboneSpec(
        "student",
        "",
        64,
        "symmetric",
        min_size=8,
        description="distillation student: Conv64-MaxPool-Conv128-GAP + Dense512 head (~0.15 M)",
    ),
}

BACKBONE_FILE = "file"


@dataclass
class Backbone:
    """A feature extractor (image -> feature vector) and how its input must be prepared."""

    model: Any
    name: str
    size: int
    norm: Normalization
    color_order: str
    pretrained: bool
    provenance: dict[str, Any] = field(default_factory=dict)
    #: Hidden layers of the head on top of this backbone (the student's Dense(512)).
    head_hidden: tuple[int, ...] = ()
    #: Identifies the pretrained weights (None for random initialisation): features computed
    #: by two backbones with the same fingerprint are the same, so they can be shared by runs.
    fingerprint: Optional[str] = None

    @property
    def feature_dim(self) -> int:
        return int(self.model.outputs[0].shape[-1])


def default_weights(config: TrainConfig) -> str:
    if config.weights:
        return config.weights
    return "none" if config.backbone == "student" else "imagenet"


def _fingerprint(parts: list[Any]) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def _offline_error(name: str, exc: BaseException) -> WeightsUnavailableError:
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return WeightsUnavailableError(
        f"The ImageNet weights of {name} cannot be downloaded by keras.applications ({first}); "
        "this machine is probably offline.",
        "pass a local weights file with --weights FILE (the keras.applications no-top .h5 of this backbone), "
        "or a full Keras model cut at a layer, e.g. --backbone-file "
        "../shared/weights/mobilenet_v2_imagenet_1.0_224.keras "
        "--feature-layer gap",
    )


def _is_download_failure(exc: BaseException) -> bool:
    import urllib.error

    text = str(exc)
    return (
        isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError))
        or "URL fetch failure" in text
        or "Name or service not known" in text
        or "Temporary failure in name resolution" in text
    )


def _build_student(size: int, keras: ModuleType) -> Any:
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(128, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, x, name="backbone")


def _build_application(spec: BackboneSpec, config: TrainConfig, size: int, weights: str, keras: ModuleType) -> Any:
    fn: Callable[..., Any] = getattr(keras.applications, spec.application)
    kwargs: dict[str, Any] = dict(include_top=False, pooling="avg", input_shape=(size, size, 3))
    if spec.has_width:
        kwargs["alpha"] = float(config.width)
    if spec.name.startswith("mobilenet_v3"):
        kwargs["include_preprocessing"] = True  # contract "raw": the model rescales 0..255 itself
    if weights == "imagenet":
        kwargs["weights"] = "imagenet"
    elif weights == "none":
        kwargs["weights"] = None
    else:
        p = Path(weights)
        if not p.is_file():
            raise InputFileError(f"Weights file not found: {p}.", "check the path, or use --weights imagenet|none")
        kwargs["weights"] = str(p)
    try:
        app = fn(**kwargs)
    except Exception as exc:  # noqa: BLE001 - keras raises bare Exception for download failures
        if weights == "imagenet" and _is_download_failure(exc):
            raise _offline_error(spec.name, exc) from None
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        fix = (
            "use a weights file saved from the same application with include_top=False"
            if weights not in ("imagenet", "none")
            else f"check --input-size (>= {spec.min_size}) and --width"
        )
        raise SentiliteError(f"Cannot build the {spec.name} backbone with weights {weights!r}: {first}.", fix) from None
    return keras.Model(app.inputs[0], app.outputs[0], name="backbone")


def _cut(full: Any, layer_name: str, path: Path, keras: ModuleType) -> tuple[Any, Any]:
    """(input, output) of the backbone cut at ``layer_name``. A nested model (a sentilite model's
    ``backbone``) answers ``.output`` in its own graph, not in ``full``'s, so the cut is that model
    itself: sound where it reads the image directly (the layer right after the input)."""
    layer = full.get_layer(layer_name)
    if not isinstance(layer, keras.Model):
        return full.inputs[0], layer.output
    if [lay.name for lay in full.layers].index(layer_name) != 1 or len(layer.inputs) != 1:
        raise TrainConfigError(
            f"Layer {layer_name!r} of {path} is a nested model that does not read the image directly.",
            "cut at a layer inside it, or at a nested model right after the input (a sentilite model's backbone)",
        )
    return layer.inputs[0], layer.outputs[0]


def _from_file(config: TrainConfig, keras: ModuleType) -> Backbone:
    path = Path(config.backbone_file)  # type: ignore[arg-type]
    require_format(path, "keras")
    try:
        full = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelFormatError(
            f"Keras cannot load {path} ({str(exc).strip()[:200]}).", "pass a .keras model saved by Keras 3"
        ) from None
    if len(full.inputs) != 1:
        raise TrainConfigError(
            f"{path} has {len(full.inputs)} inputs; a backbone takes one image.", "pass a single-input model"
        )
    shape = tuple(full.inputs[0].shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise TrainConfigError(
            f"{path} takes input of shape {shape}, not an RGB image (batch, height, width, 3).",
            "pass an image model as --backbone-file (e.g. ../shared/weights/mobilenet_v2_imagenet_1.0_224.keras)",
        )
    names = [layer.name for layer in full.layers]
    layer_name = config.feature_layer or ("gap" if "gap" in names else None)
    if layer_name is None or layer_name not in names:
        tail = ", ".join(names[-6:])
        raise TrainConfigError(
            f"{path} has no layer {layer_name!r} to cut at (its last layers: {tail}).",
            "pass --feature-layer NAME with the pooled-feature layer (for ../shared MobileNetV2: gap)",
        )
    source, out = _cut(full, layer_name, path, keras)
    if len(out.shape) == 4:
        out = keras.layers.GlobalAveragePooling2D(name="feature_pool")(out)
    elif len(out.shape) != 2:
        raise TrainConfigError(
            f"Layer {layer_name!r} of {path} outputs shape {tuple(out.shape)}; need (batch, features).",
            "cut at a pooled feature layer or a feature map",
        )
    model = keras.Model(source, out, name="backbone")
    h, w = full.inputs[0].shape[1], full.inputs[0].shape[2]
    if h is not None and w is not None:
        if h != w:
            raise TrainConfigError(f"{path} has a non-square input {h}x{w}.", "use a square-input backbone")
        if config.input_size and config.input_size != h:
            raise TrainConfigError(
                f"{path} takes {h}x{w} inputs, not --input-size {config.input_size}.",
                f"drop --input-size or pass --input-size {h}",
            )
        size = int(h)
    else:
        size = int(config.input_size or 224)
    embedded = read_contract(path)
    if embedded is not None:
        norm, order, norm_source = embedded.norm, embedded.color_order, "embedded contract"
    else:
        norm, order = normalization(config.backbone_norm or "imagenet"), "RGB"
        norm_source = "--backbone-norm" if config.backbone_norm else "default for backbone files (torchvision ImageNet)"
    provenance = {
        "backbone": f"file:{path.name}",
        "backbone_file": path.name,
        "backbone_sha256": sha256_file(path),
        "feature_layer": layer_name,
        "weights": "from backbone file",
        "normalisation_source": norm_source,
    }
    fp = _fingerprint(["file", provenance["backbone_sha256"], layer_name, size, keras.__version__])
    return Backbone(model, f"file:{path.stem}", size, norm, order, True, provenance, (), fp)


def build_backbone(config: TrainConfig) -> Backbone:
    """Build the configured backbone (keras.applications, the student, or a cut Keras model)."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras("training")
    if config.backbone_file:
        return _from_file(config, keras)
    if config.backbone not in BACKBONES:
        raise TrainConfigError(
            f"Unknown backbone {config.backbone!r}.", f"use one of {', '.join(BACKBONES)}, or --backbone-file"
        )
    spec = BACKBONES[config.backbone]
    size = int(config.input_size or spec.default_size)
    if size < spec.min_size:
        raise TrainConfigError(
            f"{spec.name} needs inputs of at least {spec.min_size} px, got {size}.",
            f"pass --input-size {spec.min_size} or more",
        )
    weights = default_weights(config)
    if spec.name == "student":
        if weights == "imagenet":
            raise TrainConfigError(
                "The student has no ImageNet weights.",
                "use --weights none (train from scratch, e.g. distilled with --teacher)",
            )
        model = _build_student(size, keras)
        if weights != "none":
            p = Path(weights)
            if not p.is_file():
                raise InputFileError(f"Weights file not found: {p}.", "check the path, or use --weights none")
            try:
                model.load_weights(p)
            except Exception as exc:  # noqa: BLE001
                raise SentiliteError(
                    f"Cannot load student weights from {p} ({str(exc).strip()[:200]}).",
                    "pass a .weights.h5 saved from a student backbone of the same input size",
                ) from None
        head_hidden: tuple[int, ...] = (512,)
    else:
        model = _build_application(spec, config, size, weights, keras)
        head_hidden = ()
    provenance: dict[str, Any] = {
        "backbone": spec.name,
        "weights": weights if weights in ("imagenet", "none") else Path(weights).name,
        "normalisation_source": f"{spec.name} convention",
    }
    if spec.has_width:
        provenance["width"] = float(config.width)
    fp = None
    if weights != "none":
        source = weights if weights == "imagenet" else sha256_file(Path(weights))
        fp = _fingerprint([spec.name, source, float(config.width), size, keras.__version__])
    return Backbone(
        model,
        spec.name,
        size,
        normalization(spec.norm),
        spec.color_order,
        weights != "none",
        provenance,
        head_hidden,
        fp,
    )
