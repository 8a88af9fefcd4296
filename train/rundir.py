"""The run folder: where every output of a training run goes, and the writers for them.

::

    <run>/model.keras          best model (contract embedded)
    <run>/contract.json        the same contract, readable
    <run>/config.json          the TrainConfig (``--resume`` reads it)
    <run>/history.csv          one row per epoch (phase, lr, loss, accuracy, val_loss, ...)
    <run>/metrics.json         val/test metrics (3-class and 2-class), time, CPU, memory, size
    <run>/train.log            the log, including every skipped image
    <run>/learning_curves.png, confusion_val.png, confusion_test.png
    <run>/checkpoint/          per-epoch checkpoints (see train.checkpoint)
    <run>/features/            cached FT-F backbone features of a randomly initialised backbone
                               (pretrained ones go beside the image cache and are shared by runs)
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from sentilite.core.reporting import write_csv
from sentilite.core.signals import raise_if_terminated, sigterm_as_interrupt  # noqa: F401 - the loop's names

HISTORY_KEYS = (
    "epoch",
    "phase",
    "mode",
    "phase_epoch",
    "lr",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "seconds",
    "best",
)


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.model = self.path / "model.keras"
        self.contract = self.path / "contract.json"
        self.config = self.path / "config.json"
        self.history = self.path / "history.csv"
        self.metrics = self.path / "metrics.json"
        self.log = self.path / "train.log"
        self.features = self.path / "features"
        self.teacher_targets = self.path / "teacher_targets.npy"
        self.curves = self.path / "learning_curves.png"

    def confusion(self, split: str) -> Path:
        return self.path / f"confusion_{split}.png"

    def create(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        return self


def default_run_dir(backbone: str, mode: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = backbone.replace(":", "-").replace("/", "-")
    return Path("runs") / f"{stamp}-train-{safe}-{mode}"


def make_logger(run: RunDir, verbose: bool = True) -> logging.Logger:
    """A logger writing to ``train.log`` (always) and to stderr (when ``verbose``)."""
    logger = logging.getLogger(f"sentilite.train.{run.path.resolve()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fh = logging.FileHandler(run.log, encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger.addHandler(fh)
    if verbose:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(sh)
    return logger


def close_logger(logger: logging.Logger) -> None:
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()


def write_history(run: RunDir, rows: Sequence[dict[str, Any]]) -> None:
    """history.csv: the standard columns, then any others the rows carry (val_<head>: each extra
    head's validation loss)."""
    extra = {k: None for row in rows for k in row if k not in HISTORY_KEYS}
    write_csv(run.history, rows, HISTORY_KEYS + tuple(extra))


def plot_learning_curves(rows: Sequence[dict[str, Any]], path: Path) -> bool:
    """Loss and accuracy per epoch (train and validation), phases separated. False without matplotlib."""
    from sentilite.core.plotting import pyplot, save_figure

    plt = pyplot()
    if plt is None or not rows:
        return False
    epochs = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((axes[0], "loss", "loss"), (axes[1], "accuracy", "accuracy")):
        ax.plot(epochs, [r.get(key) for r in rows], "o-", label="train")
        vals = [r.get(f"val_{key}") for r in rows]
        if any(v is not None for v in vals):
            ax.plot(epochs, [float("nan") if v is None else v for v in vals], "s-", label="validation")
        for prev, cur in zip(rows, rows[1:]):
            if cur["phase"] != prev["phase"]:
                ax.axvline(cur["epoch"] - 0.5, color="grey", ls="--", lw=1)
                ax.text(cur["epoch"] - 0.45, ax.get_ylim()[1], f" {cur['mode']}", va="top", fontsize=8, color="grey")
        best = [r["epoch"] for r in rows if r.get("best")]
        for b in best:
            ax.axvline(b, color="green", alpha=0.15, lw=3)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return True


class _NullProgress:
    def __enter__(self) -> _NullProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, *args: Any, **kwargs: Any) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def live_progress() -> Any:
    """A transient rich progress bar on an interactive stderr; a silent stand-in otherwise
    (a transient bar on a pipe or log file would only leave blank lines)."""
    from sentilite.core.progress import make_progress, progress_enabled

    if progress_enabled() and sys.stderr.isatty():
        return make_progress(transient=True)
    return _NullProgress()


def summary_line(metrics: Optional[dict[str, Any]], name: str) -> str:
    if not metrics:
        return f"{name}: not evaluated"
    polar = metrics.get("polar") or {}
    two = f", 2-class {polar['accuracy']:.3f} ({_interval(polar)}n={polar['n']})" if polar else ""
    return (
        f"{name}: 3-class accuracy {metrics['accuracy']:.3f} ({_interval(metrics)}n={metrics['n']}), "
        f"macro F1 {metrics['macro_f1']:.3f}{two}"
    )


def _interval(metrics: dict[str, Any]) -> str:
    """'95 % CI lo-hi, ' for metrics that carry the accuracy's Wilson interval (older files do not)."""
    ci = metrics.get("accuracy_ci95")
    return f"95 % CI {ci[0]:.3f}-{ci[1]:.3f}, " if ci else ""


def remove_partial_files(folder: Path) -> list[str]:
    """Delete the temporary files a kill left behind (every write goes to a ``.part`` name first)."""
    removed = []
    for sub in (folder, folder / "checkpoint"):
        if not sub.is_dir():
            continue
        for path in sorted(sub.iterdir()):
            if path.is_file() and (path.name.endswith(".part") or ".part." in path.name):
                path.unlink(missing_ok=True)
                removed.append(str(path.relative_to(folder)))
    return removed
