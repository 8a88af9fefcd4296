"""Give an existing sentilite .tflite the standard TFLite Model Metadata, keeping its graph and weights.

    python -m release.add_standard_metadata sentilite/models/sentiment_mobilenetv2_int8.tflite

Rewrites the file (atomically) through ``write_tflite`` with its own contract and conversion
facts, checks that its outputs on generated images are unchanged, and updates the sha256 and
size in a model card beside it (``MODEL.json``), if there is one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.fsutil import atomic_write_json, sha256_file
from sentilite.core.modelfile import read_contract, read_conversion_facts, write_tflite


def main(path: str) -> None:
    model = Path(path)
    rng = np.random.default_rng(0)
    images = [(rng.random((200, 260, 3)) * 255).astype(np.uint8) for _ in range(8)]
    before = np.stack([TFLiteClassifier(model).run_raw(TFLiteClassifier(model).encode(im)) for im in images])
    write_tflite(model, model.read_bytes(), read_contract(model), read_conversion_facts(model) or None)
    clf = TFLiteClassifier(model)
    after = np.stack([clf.run_raw(clf.encode(im)) for im in images])
    assert np.array_equal(before, after), "the outputs changed: not written"
    card = model.with_suffix(".json")
    if card.is_file():
        data = json.loads(card.read_text())
        data.update(sha256=sha256_file(model), size_bytes=model.stat().st_size)
        atomic_write_json(card, data)
    print(f"{model}: standard metadata added, outputs unchanged, {model.stat().st_size} bytes")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the .tflite to rewrite in place with the standard metadata")
    main(ap.parse_args().model)
