"""The replication studies' comparison table, measured here with the toolkit.

Reads each training run's metrics.json and a `sentilite bench` results.json holding the same
runs' models (.keras baseline and full-int8 .tflite), and prints one Markdown row per run:
Emotion6 test accuracy (3-class and the 2-class reading; Keras, then the full-int8 file from
the convert report), training wall time, CPU load and
peak memory while training, per-image inference time (Keras on CPU and full-int8 LiteRT, one
thread), peak memory of the inference process, and file sizes. `bench/make_comparison.sh`
produces the inputs and calls this script.

    python -m bench.replication_table --bench runs/compare/bench/results.json \
        "MobileNetV2|FT-F|runs/compare/mnv2-ftf|runs/compare/convert-mnv2-ftf" ...

Each positional argument is ``name|mode|run_dir|convert_dir[|note]``; a run whose accuracy is
not comparable (random initialisation, no ImageNet weights offline) carries a note and its
accuracy and training columns are printed as "not run" (the note once, in the accuracy cell).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Optional


def _bench_rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rows of results.json keyed by the resolved model path (1 thread only)."""
    out = {}
    for r in results["rows"]:
        if r.get("threads") == 1 and r.get("path") and not r.get("error"):
            out[str(Path(r["path"]).resolve())] = r
    return out


def _fmt(v: Optional[float], spec: str) -> str:
    return "–" if v is None else format(v, spec)


def row(name: str, mode: str, run_dir: Path, convert_dir: Path, note: str, bench: dict[str, dict[str, Any]]) -> str:
    m = json.loads((run_dir / "metrics.json").read_text())
    keras_path = (run_dir / "model.keras").resolve()
    int8 = sorted(convert_dir.glob("*_int8.tflite"))
    kb = bench.get(str(keras_path), {})
    ib = bench.get(str(int8[0].resolve()), {}) if int8 else {}
    tr = m.get("training", {})
    test = m.get("test") or {}
    report = convert_dir / "report.json"
    int8_row = (
        next((r for r in json.loads(report.read_text())["rows"] if r["variant"] == "int8"), {})
        if report.is_file()
        else {}
    )
    if note:
        acc3 = f"not run ({note})"
        acc2 = acc_int8 = train_s = "not run"
        cpu = rss = "–"
    else:
        acc3 = _fmt(test.get("accuracy"), ".3f")
        acc2 = _fmt((test.get("polar") or {}).get("accuracy"), ".3f")
        acc_int8 = f"{_fmt(int8_row.get('accuracy'), '.3f')} / {_fmt(int8_row.get('polar_accuracy'), '.3f')}"
        train_s = f"{tr['wall_seconds'] / 60:.1f} min" if tr.get("wall_seconds") else "–"
        cpu = f"{tr.get('cpu_percent_mean', 0):.0f} % / {tr.get('cpu_percent_peak', 0):.0f} %"
        rss = f"{tr.get('rss_peak_mb', 0):,.0f}"
    params = m.get("model_size", {}).get("parameters")
    cells = [
        name,
        mode,
        acc3,
        acc2,
        acc_int8,
        train_s,
        cpu,
        rss,
        f"{params / 1e6:.2f} M" if params else "–",
        _fmt(kb.get("median_ms"), ".1f"),
        _fmt(ib.get("median_ms"), ".2f"),
        _fmt(kb.get("rss_peak_mb"), ",.0f"),
        _fmt(ib.get("rss_peak_mb"), ".0f"),
        f"{keras_path.stat().st_size / 1e6:.2f}",
        f"{int8[0].stat().st_size / 1e6:.2f}" if int8 else "–",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| model | mode | Emotion6 test acc., Keras (3-class) | Keras 2-class reading | int8 .tflite acc. (3-class / "
    "2-class) "
    "| training time | training CPU mean / peak "
    "| training peak RSS MB | parameters | Keras ms/image | int8 LiteRT ms/image | Keras process RSS MB "
    "| int8 process RSS MB | .keras MB | int8 .tflite MB |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, type=Path, help="results.json of `sentilite bench` over all the models")
    ap.add_argument("runs", nargs="+", help="name|mode|run_dir|convert_dir[|note]")
    args = ap.parse_args()
    bench = _bench_rows(json.loads(args.bench.read_text()))
    print(HEADER)
    for spec in args.runs:
        parts = spec.split("|")
        name, mode, run_dir, convert_dir = parts[:4]
        note = parts[4] if len(parts) > 4 else ""
        print(row(name, mode, Path(run_dir), Path(convert_dir), note, bench))


if __name__ == "__main__":
    main()
