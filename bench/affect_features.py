"""Issue 30: do richer frozen features move the emotion distribution and valence toward the goals?

The heads of ``bench.affect_heads`` read the ImageNet MobileNetV2's final pooled features. Emotion
and style papers also pool earlier layers (StyleEDL reads shallow "style" statistics). This
script asks, on Emotion6 **val only** (the test split is for the recipe chosen elsewhere), whether
that helps here: per feature set, a linear probe with a KL loss against the annotators' seven
emotion shares (standardised features, Adam, 300 epochs; its L2 chosen from a grid on val, so
each row is its best case) and a ridge for valence (1-9; penalty from a grid on val):

- the final pool alone (``head_relu6``: the heads' input today);
- plus the global average of intermediate blocks (``b16_add``, ``b17d_relu6``, ``b13e_relu6``,
  ``b10_add``, ``b6_add``) and all of them;
- plus the per-channel standard deviation of the final block (second-order, "style");
- trained and scored with horizontally flipped views averaged in.

    python -m bench.affect_features            # ~7 min on 2 cores (28 probes of 300 epochs)

Writes runs/affect-features/affect_features.json and .md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from sentilite.core.affect_metrics import distribution_metrics, regression_metrics
from sentilite.core.fsutil import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
TAPS = ("head_relu6", "b17d_relu6", "b16_add", "b13e_relu6", "b10_add", "b6_add")
#: (row, taps pooled by mean, taps pooled by std too, flipped views)
ROWS = (
    ("final pool (today's heads)", ("head_relu6",), (), False),
    ("+ b16_add", ("head_relu6", "b16_add"), (), False),
    ("+ b17d_relu6", ("head_relu6", "b17d_relu6"), (), False),
    ("+ b13e_relu6", ("head_relu6", "b13e_relu6"), (), False),
    ("+ all five blocks", TAPS, (), False),
    ("+ std of the final block", ("head_relu6",), ("head_relu6",), False),
    ("final pool, flipped views in training and averaged in scoring", ("head_relu6",), (), True),
)
L2_GRID = (0.03, 0.1, 0.3, 1.0)
RIDGE_GRID = (1.0, 10.0, 100.0, 1000.0, 10000.0)


def extract(shared: Path, splits: tuple[str, ...]) -> dict[tuple[str, bool], tuple[dict[str, np.ndarray], Any, Any]]:
    """Per (split, flipped): ({"tap:mean"|"tap:std": features}, emotion shares, valence) of the
    Emotion6 split, its photos read and its network built once for both views."""
    import keras

    from sentilite.core.affect import affect_labels_for
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.preprocess import prepare

    net = keras.saving.load_model(shared / "weights/mobilenet_v2_imagenet_1.0_224.keras")
    outs = {}
    for tap in TAPS:
        x = net.get_layer(tap).output
        outs[f"{tap}:mean"] = keras.ops.mean(x, axis=(1, 2))
        outs[f"{tap}:std"] = keras.ops.std(x, axis=(1, 2))
    model = keras.Model(net.inputs, outs)
    contract = PreprocessContract.create(224)
    data = {}
    for split in splits:
        paths = [s.path for s in read_split_file(shared / f"data/emotion6/sentiment_{split}.txt").samples]
        x = np.stack([prepare(load_image(p), contract) for p in paths]).astype("float32")
        labels = affect_labels_for(paths)
        shares, valence = np.array([lab.emotions for lab in labels]), np.array([lab.valence for lab in labels])
        for flip in (False, True):
            feats = model.predict(x[:, :, ::-1] if flip else x, batch_size=32, verbose=0)
            data[(split, flip)] = ({k: np.asarray(v) for k, v in feats.items()}, shares, valence)
    return data


def kl_probe(train_x: np.ndarray, train_e: np.ndarray, score_x: list[np.ndarray], l2: float) -> np.ndarray:
    """A softmax layer trained with a KL loss; the mean of its answers over the ``score_x`` views."""
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((train_x.shape[1],)),
            keras.layers.Dense(7, "softmax", kernel_regularizer=keras.regularizers.l2(l2)),
        ]
    )
    net.compile(keras.optimizers.Adam(3e-3), "kl_divergence")
    net.fit(train_x, train_e, batch_size=256, epochs=300, verbose=0)
    return np.mean([net.predict(x, verbose=0) for x in score_x], axis=0)


def ridge(train_x: np.ndarray, train_y: np.ndarray, score_x: list[np.ndarray], lam: float) -> np.ndarray:
    a = np.c_[train_x, np.ones(len(train_x))]
    w = np.linalg.solve(a.T @ a + lam * np.diag([1.0] * train_x.shape[1] + [0.0]), a.T @ train_y)
    return np.mean([np.c_[x, np.ones(len(x))] @ w for x in score_x], axis=0)


def row(data: dict, mean_taps: tuple, std_taps: tuple, flip: bool) -> dict[str, object]:
    """The best val KL (and its cosine, top-1, L2) and the best val valence r of one feature set."""

    def feats(split: str, flipped: bool) -> np.ndarray:
        f = data[(split, flipped)][0]
        return np.concatenate([f[f"{t}:mean"] for t in mean_taps] + [f[f"{t}:std"] for t in std_taps], axis=1)

    tr, va = feats("train", False), feats("val", False)
    mu, sd = tr.mean(0), tr.std(0) + 1e-6
    tr_views = [tr] + ([feats("train", True)] if flip else [])
    va_views = [(v - mu) / sd for v in [va] + ([feats("val", True)] if flip else [])]
    x = (np.concatenate(tr_views) - mu) / sd
    e = np.concatenate([data[("train", False)][1]] * len(tr_views))
    v = np.concatenate([data[("train", False)][2]] * len(tr_views))
    truth_e, truth_v = data[("val", False)][1], data[("val", False)][2]
    best = None
    for l2 in L2_GRID:
        m = distribution_metrics(truth_e, kl_probe(x, e, va_views, l2))
        cand = {"val_kl": m["kl"], "val_cosine": m["cosine"], "val_top1": m["top1"], "l2": l2}
        best = cand if best is None or cand["val_kl"] < best["val_kl"] else best
    rs = {lam: regression_metrics(truth_v, ridge(x, v, va_views, lam))["pearson_r"] for lam in RIDGE_GRID}
    lam = max(rs, key=rs.__getitem__)
    return {**best, "dims": int(x.shape[1]), "val_valence_r": rs[lam], "ridge_penalty": lam}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "affect-features")
    args = ap.parse_args(argv)
    if not (args.shared / "data/emotion6").is_dir():
        raise SystemExit(f"{args.shared / 'data/emotion6'} is missing: pass --shared /path/to/shared")
    t0 = time.time()
    data = extract(args.shared, ("train", "val"))
    rows = [{"features": name, **row(data, m, s, f)} for name, m, s, f in ROWS]
    lines = ["| features (ImageNet MobileNetV2, frozen) | dims | val KL | val cosine | val top-1 | val valence r |"]
    lines += ["|---|---|---|---|---|---|"]
    lines += [
        f"| {r['features']} | {r['dims']} | {r['val_kl']:.3f} (L2 {r['l2']:g}) | {r['val_cosine']:.3f} | "
        f"{r['val_top1']:.3f} | {r['val_valence_r']:.3f} |"
        for r in rows
    ]
    md = "\n".join(lines) + f"\n\nEmotion6 val (198 photos); {time.time() - t0:.0f} s.\n"
    print(md)
    atomic_write_json(args.out / "affect_features.json", {"rows": rows, "seconds": time.time() - t0})
    atomic_write_text(args.out / "affect_features.md", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
