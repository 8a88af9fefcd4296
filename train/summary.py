"""``metrics.json``: what a training run made, on which data, how well, at what cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import TrainConfig
from .state import TrainState

if TYPE_CHECKING:
    from sentilite.train.rundir import RunDir
    from sentilite.train.session import Setup


def build_metrics(
    config: TrainConfig,
    run: RunDir,
    setup: Setup,
    state: TrainState,
    results: dict[str, Any],
    usage: dict[str, Any],
    feature_seconds: float,
) -> dict[str, Any]:
    """The content of metrics.json (``setup`` is the session's model, contract and prepared data)."""
    train_ds, val_ds, test_ds = setup.datasets
    train_src, val_src = setup.sources
    params = setup.sm.parameter_counts()
    return {
        "model": str(run.model),
        "contract": setup.contract.to_dict(),
        "decision": setup.contract.decision.to_dict(),
        "config": config.to_dict(),
        "data": {
            "train": {
                "n": len(train_ds),
                "n_used": int(len(setup.train.indices)),
                "class_counts": train_ds.class_counts(),
                "sources": train_ds.meta.get("sources", [train_ds.source]),
            },
            "val": {"n": len(val_ds), "class_counts": val_ds.class_counts(), "source": val_ds.source}
            if val_ds
            else None,
            "test": {"n": len(test_ds), "class_counts": test_ds.class_counts(), "source": test_ds.source}
            if test_ds
            else None,
            "class_weights": dict(zip(setup.labels, map(float, setup.class_weights))),
        },
        "skipped": {"train": train_src.skipped_list(), "val": val_src.skipped_list() if val_src else []},
        "n_skipped": len(train_src.skipped) + (len(val_src.skipped) if val_src else 0),
        **results,
        "training": {
            "wall_seconds": state.wall_seconds,
            "epoch_seconds": float(state.train_seconds),
            "cache_fill_seconds": train_src.fill_seconds + (val_src.fill_seconds if val_src else 0.0),
            "feature_seconds": feature_seconds,
            "epochs": len(state.history),
            "phases": list(state.phases),
            "sessions": state.sessions,
            "cpu_percent_mean": usage["cpu_percent_mean"],
            "cpu_percent_peak": usage["cpu_percent_peak"],
            "cpu_cores": usage["cpu_cores"],
            "rss_peak_mb": usage["rss_peak_mb"],
            "resource_note": "CPU and memory of the last session" if state.sessions > 1 else "whole run",
        },
        "model_size": {
            "parameters": params["total"],
            "backbone_parameters": params["backbone"],
            "head_parameters": params["head"],
            "file_bytes": run.model.stat().st_size,
        },
    }
