"""``sentilite quickstart``: the whole pipeline, end to end, into one run folder.

data (synthetic unless --data) -> train -> convert to every variant with the validation
report -> benchmark every variant locally -> camera demo headless on a generated clip ->
``report.md`` / ``report.json`` at the top of the run folder. Each step calls the public API
of its part (sentilite.train.api, .convert.api, .device_bench.api, .camera_demo.api), never a shortcut.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

import click

from ..core.errors import InputFileError
from ..core.fsutil import atomic_write_json, atomic_write_text

Log = Callable[[str], None]


def _sibling_split(train_split: Path, kind: str) -> Optional[Path]:
    """``.../x_train.txt`` -> ``.../x_<kind>.txt`` when it exists (B-T4SA and Emotion6 naming)."""
    name = train_split.name
    if "train" not in name:
        return None
    candidate = train_split.with_name(name.replace("train", kind))
    return candidate if candidate.is_file() else None


def resolve_splits(
    data: Optional[str], val: Optional[str], test: Optional[str], run_dir: Path, log: Log
) -> dict[str, Any]:
    """The train/val/test lists to use: the user's, or a generated synthetic set."""
    if data is None:
        from ..core.synthetic import SYNTHETIC_NOTICE, make_synthetic_dataset

        log(f"no --data given: generating {SYNTHETIC_NOTICE}")
        splits = make_synthetic_dataset(run_dir / "data", per_class=(100, 100, 100))
        return {"train": splits["train"], "val": splits["val"], "test": splits["test"], "synthetic": True}
    train = Path(data)
    if not train.exists():
        raise InputFileError(f"Training data not found: {train}.", "pass a split file, CSV or class-per-folder tree")
    out: dict[str, Any] = {"train": train, "synthetic": False}
    for kind, given in (("val", val), ("test", test)):
        path = Path(given) if given else _sibling_split(train, kind)
        if path is None:
            raise InputFileError(
                f"No {kind} split for {train} (looked for a file named like it with '{kind}' for 'train').",
                f"pass --{kind} SPLIT",
            )
        if not path.exists():
            raise InputFileError(f"{kind} split not found: {path}.", f"check --{kind}")
        out[kind] = path
    return out


def slideshow_video(images: list[Path], path: Path, seconds_each: float = 1.0, fps: float = 15.0) -> Path:
    """A 640x480 clip showing each image in turn (a stand-in camera on real data)."""
    import cv2
    import numpy as np

    from ..core.imageio import load_image

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    try:
        for p in images:
            img = load_image(p)[..., ::-1]
            h, w = img.shape[:2]
            scale = min(640 / w, 480 / h)
            small = cv2.resize(img, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
            frame = np.zeros((480, 640, 3), np.uint8)
            y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
            frame[y : y + small.shape[0], x : x + small.shape[1]] = small
            for _ in range(max(1, int(seconds_each * fps))):
                writer.write(frame)
    finally:
        writer.release()
    return path


def _step(log: Log, n: int, title: str) -> float:
    log(f"[{n}/5] {title}")
    return time.perf_counter()


def run_quickstart(
    out: Optional[str] = None,
    data: Optional[str] = None,
    val: Optional[str] = None,
    test: Optional[str] = None,
    root: Optional[str] = None,
    backbone: Optional[str] = None,
    backbone_file: Optional[str] = None,
    feature_layer: Optional[str] = None,
    weights: Optional[str] = None,
    epochs: Optional[int] = None,
    bench_runs: int = 100,
    demo_frames: int = 90,
    log: Log = print,
) -> dict[str, Any]:
    """Run the pipeline; returns the summary also written to ``<run>/report.json``."""
    t0 = time.perf_counter()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(out) if out else Path("runs") / f"{stamp}-quickstart"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputFileError(f"Run folder {run_dir} already exists and is not empty.", "pass a new --out folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"run folder: {run_dir}")
    timings: dict[str, float] = {}
    splits = resolve_splits(data, val, test, run_dir, log)

    t = _step(log, 1, "training")
    trained = _train(splits, run_dir, root, backbone, backbone_file, feature_layer, weights, epochs)
    timings["train"] = time.perf_counter() - t

    t = _step(log, 2, "converting to every TFLite variant and validating each against Keras")
    from ..convert.api import ConvertOptions, convert_model

    conv = convert_model(
        trained.model_path,
        calib=splits["train"],
        eval=splits["test"],
        out=run_dir / "convert",
        root=root,
        options=ConvertOptions(calib_size=100 if splits["synthetic"] else 200),
        log=log,
    )
    timings["convert"] = time.perf_counter() - t

    t = _step(log, 3, "benchmarking every variant locally (and the Keras baseline)")
    from ..device_bench.api import BenchOptions, run_bench

    models = [str(p) for p in conv.variants.values()] + [str(trained.model_path)]
    bench = run_bench(models, BenchOptions(threads=(1,), runs=bench_runs, warmup=5), out_dir=run_dir / "bench", log=log)
    timings["bench"] = time.perf_counter() - t

    t = _step(log, 4, "camera demo, headless, on a generated clip")
    demo = _demo(splits, root, run_dir / "demo", conv, demo_frames)
    timings["demo"] = time.perf_counter() - t

    _step(log, 5, "writing the run report")
    timings["total"] = time.perf_counter() - t0
    summary = _summary(run_dir, splits, trained, conv, bench, demo, timings)
    atomic_write_json(run_dir / "report.json", summary)
    atomic_write_text(run_dir / "report.md", render_report(summary, conv, bench))
    log(f"done in {timings['total']:.0f} s. Report: {run_dir / 'report.md'}")
    return summary


def _train(
    splits: dict[str, Any],
    run_dir: Path,
    root: Optional[str],
    backbone: Optional[str],
    backbone_file: Optional[str],
    feature_layer: Optional[str],
    weights: Optional[str],
    epochs: Optional[int],
) -> Any:
    from ..train.api import train_model
    from ..train.config import TrainConfig

    common = {
        "data": [str(splits["train"])],
        "val": str(splits["val"]),
        "test": str(splits["test"]),
        "out": str(run_dir / "train"),
        "verbose": True,
    }
    if splits["synthetic"]:
        # A small CNN from scratch: the synthetic classes differ in colour and shape only.
        cfg = TrainConfig(
            **common,
            backbone=backbone or "student",
            weights=weights or "none",
            mode="ft-a",
            preset="adam-cosine",
            epochs=epochs or 20,
            batch_size=16,
            lr=3e-3,
        )
    else:
        cfg = TrainConfig(
            **common,
            root=root,
            backbone=backbone or "mobilenet_v2",
            weights=weights,
            backbone_file=backbone_file,
            feature_layer=feature_layer,
            mode="ft-f",
            preset="replication",
            epochs=epochs,
        )
    return train_model(cfg)


def _demo(splits: dict[str, Any], root: Optional[str], demo_dir: Path, conv: Any, demo_frames: int) -> dict[str, Any]:
    """The camera demo, headless, on a generated clip (synthetic) or a slideshow of test images."""
    from ..camera_demo.api import DemoConfig, run_demo

    demo_dir.mkdir(exist_ok=True)
    if splits["synthetic"]:
        from ..core.synthetic import make_synthetic_video

        clip = make_synthetic_video(demo_dir / "input_clip.avi", frames=demo_frames)
    else:
        from ..core.datasets import read_dataset

        test_ds = read_dataset(splits["test"], root)
        clip = slideshow_video(test_ds.paths[: max(1, demo_frames // 15)], demo_dir / "input_clip.avi")
    demo_model = conv.recommended_path or conv.variants.get("int8") or next(iter(conv.variants.values()))
    return run_demo(
        DemoConfig(
            model=str(demo_model),
            source=str(clip),
            sync=True,
            display=False,
            record=str(demo_dir / "annotated.mp4"),
            log=str(demo_dir / "frames.jsonl"),
            quiet=True,
            handle_signals=False,
        )
    )


def _summary(
    run_dir: Path,
    splits: dict[str, Any],
    trained: Any,
    conv: Any,
    bench: Any,
    demo: dict[str, Any],
    timings: dict[str, float],
) -> dict[str, Any]:
    return {
        "run_dir": str(run_dir),
        "synthetic_data": splits["synthetic"],
        "splits": {k: str(v) for k, v in splits.items() if k != "synthetic"},
        "train": {
            "run_dir": str(trained.run_dir),
            "model": str(trained.model_path),
            "test": _short_metrics(trained.metrics.get("test")),
            "val": _short_metrics(trained.metrics.get("val")),
            "wall_seconds": trained.metrics.get("training", {}).get("wall_seconds"),
        },
        "convert": conv.to_dict(),
        "bench": {"rows": bench.rows, "files": {k: str(v) for k, v in bench.files.items()}, "errors": bench.errors},
        "demo": {
            k: demo.get(k)
            for k in (
                "frames",
                "fps",
                "latency_ms",
                "first_result_s",
                "peak_rss_mb",
                "record",
                "log",
                "model",
                "stop_reason",
            )
        },
        "timings_seconds": timings,
    }


def _short_metrics(m: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not m:
        return None
    polar = m.get("polar") or {}
    return {
        "n": m.get("n"),
        "accuracy": m.get("accuracy"),
        "macro_f1": m.get("macro_f1"),
        "polar_accuracy": polar.get("accuracy"),
    }


def render_report(summary: dict[str, Any], conv: Any, bench: Any) -> str:
    """The run's top-level report.md: what was done, the key tables, where everything is."""
    from ..core.reporting import fmt_float

    run = Path(summary["run_dir"])

    def rel(p: Any) -> str:
        try:
            return str(Path(p).relative_to(run))
        except ValueError:
            return str(p)

    lines = ["# sentilite quickstart", ""]
    if summary["synthetic_data"]:
        from ..core.synthetic import SYNTHETIC_NOTICE

        lines += [f"> **Warning — {SYNTHETIC_NOTICE}.** Run `sentilite quickstart --data SPLIT` on real data.", ""]
    tr = summary["train"]
    test = tr["test"] or {}
    lines += [
        "## 1. Training",
        "",
        f"Model `{rel(tr['model'])}`; test accuracy {fmt_float(3)(test.get('accuracy'))} "
        f"(2-class reading {fmt_float(3)(test.get('polar_accuracy'))}) on {test.get('n')} images; "
        f"training wall time {fmt_float(1)(tr['wall_seconds'])} s. Details: `{rel(tr['run_dir'])}/metrics.json`.",
        "",
        "## 2. Conversion (each variant validated against the Keras model)",
        "",
        conv.markdown(title=False),
        "",
        "## 3. Local benchmark",
        "",
        bench.table().strip(),
        "",
        f"Full results: `{rel(summary['bench']['files'].get('table', 'bench/results.md'))}`.",
        "",
        "## 4. Camera demo (headless, generated clip)",
        "",
    ]
    d = summary["demo"]
    fps = d.get("fps") or {}
    lat = d.get("latency_ms") or {}
    lines += [
        f"{d.get('frames')} frames with `{rel(d.get('model'))}`: end-to-end {fmt_float(1)(fps.get('end_to_end'))} fps, "
        f"inference {fmt_float(1)(fps.get('inference'))} fps, latency p50 {fmt_float(1)(lat.get('p50'))} ms / "
        f"p90 {fmt_float(1)(lat.get('p90'))} ms. Annotated video `{rel(d.get('record'))}`, per-frame log "
        f"`{rel(d.get('log'))}`.",
        "",
        "## Time taken",
        "",
        ", ".join(f"{k} {v:.0f} s" for k, v in summary["timings_seconds"].items()),
        "",
    ]
    return "\n".join(lines)


EPILOG = """\b
Examples:
  sentilite quickstart                                   # synthetic data, about a minute on 2 cores
  sentilite quickstart --out runs/demo-run
  sentilite quickstart --data data/b-t4sa_train.txt --backbone-file mobilenet_v2.keras --feature-layer gap
"""


@click.command("quickstart", epilog=EPILOG)
@click.option(
    "--data",
    type=click.Path(),
    help="Training split (B-T4SA split file, CSV or folder). Default: generated synthetic data.",
)
@click.option("--val", type=click.Path(), help="Validation split (default: the --data file with 'val' for 'train').")
@click.option("--test", type=click.Path(), help="Test split (default: the --data file with 'test' for 'train').")
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    help="Folder image paths are relative to (default: each split's folder).",
)
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default runs/<timestamp>-quickstart).")
@click.option("--backbone", help="Backbone name (default: student on synthetic data, mobilenet_v2 on real data).")
@click.option("--weights", help="imagenet | none | weights file, as for `sentilite train`.")
@click.option(
    "--backbone-file",
    type=click.Path(dir_okay=False),
    help="A Keras model to cut as backbone (offline ImageNet weights).",
)
@click.option("--feature-layer", help="Layer of --backbone-file whose output is the feature vector (e.g. gap).")
@click.option("--epochs", type=int, help="Training epochs (default: 20 on synthetic data, the preset's on real data).")
def quickstart_command(**kwargs: Any) -> None:
    """Run the whole pipeline into one run folder: train a model, convert it to every TFLite
    variant with a validation report, benchmark every variant locally, and run the camera demo
    headless on a generated clip. With no --data it generates a small synthetic dataset (and
    says so: the model then learns nothing about real sentiment)."""
    summary = run_quickstart(log=lambda s: click.echo(s, err=True), **kwargs)
    click.echo(
        json.dumps(
            {
                "report": str(Path(summary["run_dir"]) / "report.md"),
                "seconds": round(summary["timings_seconds"]["total"], 1),
            }
        )
    )
