"""Helpers for the train/ tests: tiny configs that train in about a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentilite.train.config import TrainConfig


def tiny_config(splits: dict[str, Path], out: Path, cache: Path, **overrides: Any) -> TrainConfig:
    """The distillation student at 32 px on synthetic data, 2 epochs, quiet."""
    kw: dict[str, Any] = dict(
        data=[str(splits["train"])],
        val=str(splits["val"]),
        backbone="student",
        input_size=32,
        mode="ft-f",
        epochs=2,
        batch_size=16,
        out=str(out),
        cache_dir=str(cache),
        verbose=False,
        plots=False,
    )
    kw.update(overrides)
    return TrainConfig(**kw)


#: per synthetic class (negative, neutral, positive): its annotators' emotion shares and valence/arousal
SHARES = {
    "negative": (0.1, 0.1, 0.1, 0.0, 0.6, 0.0, 0.1),
    "neutral": (0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.7),
    "positive": (0.0, 0.0, 0.0, 0.8, 0.0, 0.1, 0.1),
}
VA = {"negative": (2.0, 6.0), "neutral": (5.0, 3.0), "positive": (8.0, 5.0)}


def affect_dataset(root: Path) -> dict[str, Path]:
    """A synthetic dataset in ``root`` whose folder holds an Emotion6-format ground_truth.txt
    (each class's :data:`SHARES` and :data:`VA`); its split files."""
    from sentilite.core.affect import EMOTIONS
    from sentilite.core.synthetic import make_synthetic_dataset

    splits = make_synthetic_dataset(root, per_class=(30, 30, 30), size=(48, 48), seed=3)
    rows = ["[image]\t[valence]\t[arousal]\t" + "\t".join(f"[{e}]" for e in EMOTIONS)]
    for img in sorted((root / "images").rglob("*.jpg")):
        cls = img.parent.name
        rows.append("\t".join([f"{cls}/{img.name}", *map(str, VA[cls]), *map(str, SHARES[cls])]))
    (root / "ground_truth.txt").write_text("\n".join(rows) + "\n")
    return splits


def heads_config(splits: dict[str, Path], out: Path, heads: str, **overrides: Any) -> TrainConfig:
    """The student trained whole (ft-a, Adam with a cosine schedule, 12 epochs) with extra heads:
    enough for the tiny synthetic data to teach them; no decision rule."""
    kw: dict[str, Any] = dict(
        heads=heads, epochs=12, lr=3e-3, preset="adam-cosine", mode="ft-a", weights="none", decision="none"
    )
    kw.update(overrides)
    return tiny_config(splits, out / "run", out / "cache", **kw)


def two_class_list(splits: dict[str, Path], out: Path, keep: slice) -> Path:
    """The negative/positive lines of the synthetic train split (``keep`` of them), written to ``out``."""
    lines = [ln for ln in splits["train"].read_text().splitlines() if not ln.endswith(" 1")][keep]
    out.write_text("\n".join(lines) + "\n")
    return out


def logits_kernel(run_dir: Path) -> Any:
    """The final Dense layer's kernel with its bias as the last row, (features + 1, classes)."""
    import numpy as np

    from sentilite.core.tf_import import import_keras

    model = import_keras("tests").models.load_model(run_dir / "model.keras", compile=False)
    layer = next(lay for lay in model.layers if lay.name == "head").get_layer("logits")
    return np.concatenate([layer.get_weights()[0], layer.get_weights()[1][None]], axis=0)


def partial_runs(splits: dict[str, Path], tmp: Path, **overrides: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Two tiny runs from the same initial weights, on two different negative/positive lists given
    as partial data; returns them and the options they shared (``overrides`` added)."""
    from sentilite.train.api import train_model

    a = two_class_list(splits, tmp / "a.txt", slice(None))
    b = two_class_list(splits, tmp / "b.txt", slice(0, None, 2))
    common = dict(
        data=[], preset="adam-cosine", lr=1e-2, decision="none", epochs=2, root=str(splits["train"].parent), **overrides
    )
    runs = [
        train_model(tiny_config(splits, tmp / f"r{k}", tmp / "c", partial_data=[str(p)], **common))
        for k, p in (("a", a), ("b", b))
    ]
    return runs[0], runs[1], common


def write_bad_images(folder: Path) -> dict[str, Path]:
    """A truncated JPEG, a text file named .jpg and an empty file; returns name -> path."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", np.full((40, 50, 3), 128, np.uint8))
    assert ok
    paths = {"truncated": folder / "truncated.jpg", "text": folder / "notes.jpg", "empty": folder / "empty.jpg"}
    paths["truncated"].write_bytes(buf.tobytes()[: len(buf) // 3])
    paths["text"].write_text("this is not an image")
    paths["empty"].write_bytes(b"")
    return paths
