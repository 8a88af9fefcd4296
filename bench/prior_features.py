"""Does the ConSE prior still read a model's features? ConSE alone (the ImageNet MobileNetV2's
classifier, softmax over its 1,000 classes times their GloVe vectors, as `--semantic-prior conse`
builds it) on the pooled features of a given model, top-5 on the zero-shot validation fifth of
OASIS's training themes (bench/zero_shot_baselines.py; the held-out themes are not used).

With no --model, the features are the frozen ImageNet backbone's own (the prior's home); with a
sentilite .keras model, its nested ``backbone``'s (e.g. an FT-A sentiment model). Each --ranks
value keeps the classifier at that rank by SVD of its kernel (0: the whole layer).

    python -m bench.prior_features                                        # ImageNet features
    python -m bench.prior_features --model runs/dm/mnv2-fta-ensemble3/model.keras   # ~1 min each
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--model", type=Path, help="a sentilite .keras model whose backbone gives the features")
    ap.add_argument("--ranks", default="0,48,14", help="comma list of classifier ranks (0: whole layer)")
    args = ap.parse_args()
    from bench.zero_shot import oasis_photos
    from bench.zero_shot_baselines import backbone_features, val_top5, validation_split
    from sentilite.core.affect import read_heldout_themes
    from sentilite.core.imageio import load_image
    from sentilite.core.modelfile import read_contract
    from sentilite.core.preprocess import prepare
    from sentilite.core.tf_import import import_keras
    from sentilite.core.word_vectors import load_glove
    from sentilite.train.semantic_prior import class_vectors, factorise

    keras = import_keras("this bench")
    imagenet = keras.saving.load_model(args.shared / "weights/mobilenet_v2_imagenet_1.0_224.keras", compile=False)
    kernel, bias = imagenet.get_layer("logits").get_weights()
    glove = load_glove()
    photos = oasis_photos(args.shared)
    _, _, val = validation_split(photos, read_heldout_themes(args.shared / "data/oasis"))
    paths = [photos[i][0] for i in val]
    if args.model:  # the model's own backbone, through its own contract
        backbone = keras.saving.load_model(args.model, compile=False).get_layer("backbone")
        contract = read_contract(args.model)
        feats = backbone.predict(np.stack([prepare(load_image(p), contract) for p in paths]), verbose=0)
    else:
        feats = backbone_features(args, paths)
    words, vec = class_vectors(glove), {t: glove.phrase_vector(t) for t in {photos[i][1] for i in val}}
    print(f"features of {args.model or 'the ImageNet MobileNetV2'}; {len(val)} photos of the validation fifth")
    for rank in (int(r) for r in args.ranks.split(",")):
        encode, decode = factorise(kernel, rank)
        z = (feats if encode is None else feats @ encode) @ decode + bias
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        print(f"ConSE alone, classifier rank {rank or 'full'}: top-5 {val_top5(p @ words, photos, val, vec):.3f}")


if __name__ == "__main__":
    main()
