"""``bench compare``: several devices' results.json merged into one table, CSV and plot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence, Union

from sentilite.core.errors import InputFileError
from sentilite.core.fsutil import atomic_write_text
from sentilite.core.reporting import csv_text, write_json

from .results import CSV_KEYS, load_results, plot_latency_vs_size, results_table

PathLike = Union[str, os.PathLike]


def device_labels(results: Sequence[dict[str, Any]], paths: Sequence[PathLike]) -> list[str]:
    """Each file's device label; duplicates (two runs on one device) get the folder name added."""
    labels = []
    for r, p in zip(results, paths):
        dev = r.get("device") or {}
        lab = str(dev.get("label") or Path(p).stem)
        host = (dev.get("system") or {}).get("hostname")
        if lab == "local" and host:
            lab = f"local ({host})"
        labels.append(lab)
    original = list(labels)
    for i, lab in enumerate(original):
        if original.count(lab) > 1:
            p = Path(paths[i])
            labels[i] = f"{lab} [{(p.parent if p.name == 'results.json' else p).name}]"
    if len(set(labels)) < len(labels):  # still equal: number them
        labels = [f"{lab} #{i + 1}" for i, lab in enumerate(labels)]
    return labels


def compare(paths: Sequence[PathLike], out_dir: PathLike, plot: bool = True) -> dict[str, Any]:
    """Merge ``paths`` (results.json files or folders holding one); write the merged files."""
    if len(paths) < 1:
        raise InputFileError(
            "bench compare needs at least one results.json.",
            "sentilite bench compare A/results.json B/results.json --out DIR",
        )
    loaded = [load_results(p) for p in paths]
    labels = device_labels(loaded, paths)
    rows = []
    for data, label in zip(loaded, labels):
        for r in data.get("rows", []):
            rows.append({**r, "device": label})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    merged = {
        "format": "sentilite-bench-comparison",
        "version": 1,
        "sources": [
            {
                "path": str(p),
                "device": lab,
                "system": (d.get("device") or {}).get("system"),
                "protocol": d.get("protocol"),
                "complete": d.get("complete", True),
            }
            for p, lab, d in zip(paths, labels, loaded)
        ],
        "rows": rows,
    }
    files = {"json": out / "comparison.json", "csv": out / "comparison.csv", "table": out / "comparison.md"}
    write_json(files["json"], merged)
    atomic_write_text(files["csv"], csv_text(rows, CSV_KEYS))
    table = results_table(rows, with_device=True)
    atomic_write_text(
        files["table"],
        "# Benchmark comparison\n\n" + "\n".join(f"- {lab}: {p}" for lab, p in zip(labels, paths)) + "\n\n" + table,
    )
    if plot and plot_latency_vs_size(
        rows, out / "latency_vs_size.png", title="Median latency vs size, by device", by_device=True
    ):
        files["plot"] = out / "latency_vs_size.png"
    return {"rows": rows, "labels": labels, "files": files, "table": table}
