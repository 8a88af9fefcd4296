"""Give a model extra heads without touching its sentiment answers: the bundled model's last step.

Training the extra heads together with the backbone (FT-A) moves the sentiment answers of a model
already chosen for them, and the replication schedule stops the heads long before they converge
(Emotion6 val emotion KL 0.439, against 0.411 refitted on the same features). So the sentiment
model is trained alone, the heads are trained on its own frozen features (`sentilite train --mode ft-f
--backbone-file SENTIMENT.keras --feature-layer backbone --heads ...`), and this script puts the
sentiment model's own sentiment Dense layer and decision rule into that heads model. Both read
the same features, so the result answers sentiment exactly as the sentiment model does and every
extra head exactly as the heads model does; its contract is the heads model's (heads, vocabulary)
with the sentiment model's decision rule and provenance.

    python -m release.graft_heads --heads-model runs/dm/mnv2-heads/model.keras \\
        --sentiment-from runs/dm/mnv2-fta-ensemble3/model.keras --out runs/dm/mnv2-bundled/model.keras
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import SentiliteError
from sentilite.core.fsutil import sha256_file
from sentilite.core.modelfile import KERAS_CONTRACT_ENTRY, read_contract, write_contract_keras, write_keras_entry

SENTIMENT_LAYER = "logits"


def _dense(model: Any, name: str, label: Path) -> Any:
    from sentilite.train.modes import find_layer

    found = find_layer(model, name)
    if found is None:
        raise SentiliteError(f"{label} has no layer {name!r}.", "pass models trained by `sentilite train`")
    return found


def _contracts(heads_model: Path, sentiment_from: Path) -> tuple[PreprocessContract, PreprocessContract]:
    """Both contracts, once the heads model is known to read the sentiment model's own features."""
    heads, sentiment = read_contract(heads_model), read_contract(sentiment_from)
    if heads is None or sentiment is None:
        raise SentiliteError("Both models need their sentilite contract.", "pass models trained by `sentilite train`")
    if dict(heads.provenance).get("backbone_sha256") != sha256_file(sentiment_from):
        raise SentiliteError(
            f"{heads_model} was not trained on the features of {sentiment_from} (its backbone file differs), so the "
            "sentiment head would read other features.",
            f"train it with `sentilite train --mode ft-f --backbone-file {sentiment_from} --feature-layer backbone`",
        )
    if heads.labels != sentiment.labels:
        raise SentiliteError(
            f"The two models' labels differ: {heads.labels} and {sentiment.labels}.", "use one label set"
        )
    return heads, sentiment


def graft_heads(heads_model: Path, sentiment_from: Path, out: Path) -> Path:
    """``heads_model`` with the sentiment Dense layer, decision rule and provenance of
    ``sentiment_from`` (the model whose frozen features it was trained on), saved as ``out``."""
    from sentilite.core.tf_import import import_keras

    heads, sentiment = _contracts(heads_model, sentiment_from)
    keras = import_keras("grafting heads")
    target = keras.saving.load_model(heads_model, compile=False)
    source = keras.saving.load_model(sentiment_from, compile=False)
    layer = _dense(target, SENTIMENT_LAYER, heads_model)
    weights = _dense(source, SENTIMENT_LAYER, sentiment_from).get_weights()
    if [w.shape for w in layer.get_weights()] != [w.shape for w in weights]:
        raise SentiliteError(
            f"The sentiment layers of {heads_model} and {sentiment_from} differ in shape (a head on other features).",
            "train the heads model on the sentiment model's pooled features (--feature-layer backbone)",
        )
    layer.set_weights(weights)
    facts = dict(heads.provenance)
    trained_on = facts.get("trained_on", [])
    data = ", ".join(trained_on) if isinstance(trained_on, list) else str(trained_on)
    contract = replace(heads, decision=sentiment.decision, provenance=dict(sentiment.provenance)).with_provenance(
        extra_heads=f"trained on this model's frozen features ({facts.get('mode')}, {facts.get('preset')}, on "
        f"{data}); sentiment: {sentiment_from.parent.name}"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / out.name
        target.save(saved)
        with zipfile.ZipFile(heads_model) as src:
            for item in src.infolist():
                # the contract is written once below, merged; the rest (the vocabulary) as it is
                if item.filename.startswith("sentilite/") and item.filename != KERAS_CONTRACT_ENTRY:
                    write_keras_entry(saved, item.filename, src.read(item.filename))
        write_contract_keras(saved, contract)
        saved.replace(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads-model", type=Path, required=True, help="FT-F model trained on --sentiment-from's features")
    ap.add_argument("--sentiment-from", type=Path, required=True, help="the model whose sentiment answers are kept")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    try:
        path = graft_heads(args.heads_model, args.sentiment_from, args.out)
    except SentiliteError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
