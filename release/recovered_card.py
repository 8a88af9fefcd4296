"""The model card's training block for a bundled model whose sentiment weights were recovered from
the previous bundled file (release/recover_keras.py) instead of trained: that file's training facts,
the chain of files they descend from, and how the extra heads were trained."""

from __future__ import annotations

from typing import Any


def _whose(chain: list[Any]) -> str:
    return "that of the last file in `earlier` (each recovered from the next)" if chain else "that file's"


def recovered_training(
    previous: dict[str, Any], metrics: dict[str, Any], cv: list[Any], source: dict[str, Any]
) -> dict:
    """The training block of a model whose sentiment weights were recovered from the previous file
    (release/recover_keras.py): that file's training, and how its extra heads were trained."""
    cfg = metrics["config"]
    earlier = previous["training"].get("recovered_from") or {}
    chain = [{k: v for k, v in earlier.items() if k not in ("earlier", "note")}] if earlier else []
    chain += list(earlier.get("earlier", []))
    return {
        **previous["training"],
        "cross_validation": cv,
        "recovered_from": {
            **source,
            "note": "the sentiment weights are the previous bundled file's, dequantised into Keras and "
            f"converted again (release/recover_keras.py); the training above is {_whose(chain)}",
            **({"earlier": chain} if chain else {}),
        },
        "extra_heads": {
            "mode": cfg["mode"],
            "preset": cfg["preset"],
            "epochs_run": metrics["training"]["epochs"],
            "wall_seconds": round(metrics["training"]["wall_seconds"], 1),
            "trained_on": cfg["data"],
            "note": "trained on the sentiment model's frozen features, then grafted (release/graft_heads.py)",
        },
        "reproduce": "PREVIOUS_INT8=<the previous bundled file, sha256 above> bash release/make_default_model.sh",
    }
