"""Put the extra heads of one model onto another that shares its features: the bundled model's
last training step.

FT-A trains the bundled model's backbone for sentiment, with the extra heads beside it; SGD at
the replication preset's rate (1e-3, /10 every 5 epochs) stops them long before they converge
(bench/affect_heads.py: they need tens of epochs of Adam). So the heads are trained again on that
model's own frozen features (`sentilite train --mode ft-f --backbone-file FTA/model.keras
--feature-layer backbone --keep best-each`), and their Dense layers are copied back here. The
sentiment head, the backbone, the contract (decision rule included) and everything else the .keras
file carries stay the FT-A model's: only the named heads' Dense layers change. The result answers
exactly as the FT-F model does for those heads, since both read the same features.

    python -m release.graft_heads --into runs/dm/mnv2-fta-heads/model.keras \\
        --heads-from runs/dm/mnv2-heads-refit/model.keras --heads emotions,valence_arousal \\
        --out runs/dm/mnv2-fta-heads-refit/model.keras
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

from sentilite.core.errors import SentiliteError
from sentilite.core.fsutil import sha256_file
from sentilite.core.modelfile import read_contract, write_keras_entry


def _dense(model: object, head: str, label: Path) -> object:
    from sentilite.train.modes import iter_layers

    found = next((layer for layer in iter_layers(model) if layer.name == f"{head}_logits"), None)
    if found is None:
        raise SentiliteError(f"{label} has no {head!r} head (no layer {head}_logits).", "name heads both models have")
    return found


def _check_features(into: Path, donor: Path) -> None:
    """The donor must have been trained on ``into``'s own features: its backbone is that file."""
    contract = read_contract(donor)
    trained_on = (contract.provenance or {}).get("backbone_sha256") if contract else None
    if trained_on != sha256_file(into):
        raise SentiliteError(
            f"{donor} was not trained on the features of {into} (its backbone file differs), so its heads "
            "would read other features.",
            f"train it with `sentilite train --mode ft-f --backbone-file {into} --feature-layer backbone`",
        )


def graft_heads(into: Path, donor: Path, heads: list[str], out: Path) -> Path:
    """``into`` with the Dense layers of ``heads`` taken from ``donor``, saved as ``out``; every
    sentilite entry of ``into`` (contract, vocabulary) is carried over unchanged."""
    from sentilite.core.tf_import import import_keras

    _check_features(into, donor)
    keras = import_keras("grafting heads")
    target = keras.saving.load_model(into, compile=False)
    source = keras.saving.load_model(donor, compile=False)
    for head in heads:
        layer, weights = _dense(target, head, into), _dense(source, head, donor).get_weights()
        if [w.shape for w in layer.get_weights()] != [w.shape for w in weights]:
            raise SentiliteError(f"The {head} heads of {into} and {donor} differ in shape.", "graft matching heads")
        layer.set_weights(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / out.name
        target.save(saved)
        with zipfile.ZipFile(into) as src:
            for item in src.infolist():
                if item.filename.startswith("sentilite/"):
                    write_keras_entry(saved, item.filename, src.read(item.filename))
        saved.replace(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--into", type=Path, required=True, help="the model that keeps its backbone and sentiment head")
    ap.add_argument("--heads-from", type=Path, required=True, help="an FT-F model trained on --into's features")
    ap.add_argument("--heads", required=True, help="comma list of extra heads to copy (e.g. emotions,valence_arousal)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    try:
        path = graft_heads(args.into, args.heads_from, [h for h in args.heads.split(",") if h], args.out)
    except SentiliteError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
