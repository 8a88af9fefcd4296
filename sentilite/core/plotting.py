"""Matplotlib on demand (Agg backend, files only); plots are skipped with a note when it is absent."""

from __future__ import annotations

from typing import Any, Optional


def pyplot() -> Optional[Any]:
    """``matplotlib.pyplot`` with the non-interactive Agg backend, or None when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def save_figure(fig: Any, path: Any, dpi: int = 120) -> None:
    """Write ``fig`` as PNG under a temporary name, rename it into place, close it: a kill
    half-way never leaves a truncated image."""
    from .fsutil import atomic_path

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


PLOTS_MISSING = "plots skipped: matplotlib is not installed (pip install 'sentilite[plots]')"


def plot_confusion_matrix(cm: Any, labels: Any, path: Any, title: str = "Confusion matrix") -> bool:
    """Save a confusion-matrix heat map (counts and row-normalised colour) as PNG."""
    plt = pyplot()
    if plt is None:
        return False
    import numpy as np

    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{norm[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if norm[i, j] > 0.5 else "black",
                fontsize=9,
            )
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
    return True
