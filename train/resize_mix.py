"""The ``interp`` augmentation: each training image resized by a method drawn per image and epoch.

An app may resize a frame its own way (OpenCV's INTER_LINEAR or INTER_AREA, MediaPipe's warp)
instead of the method the contract names. A model that has only ever seen one method changes a
few per cent of its answers when handed another (bench/resize_flips.py). Training on all of them
is the cheap cure: one decoded-image cache per method (each filled once, like the contract's),
and every epoch each image comes from one of them, drawn from (seed, phase, epoch, image) so a
resumed epoch is the same. The contract still names one method: the one evaluation, conversion
and every consumer use.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from sentilite.core.contract import INTERPOLATIONS

from .data import ImageSource, make_source


class ResizeMix:
    """Stands in for the training split's :class:`ImageSource` (same images, same indices)."""

    def __init__(self, sources: Sequence[ImageSource]) -> None:
        self.sources = list(sources)
        self.primary = self.sources[0]
        self.draw = np.zeros(len(self.primary), np.int64)

    def __getattr__(self, name: str) -> Any:  # dataset, contract, cached, key, skipped, records, ...
        return getattr(self.__dict__["primary"], name)

    def __len__(self) -> int:
        return len(self.primary)

    @property
    def methods(self) -> list[str]:
        return [s.contract.interpolation for s in self.sources]

    def set_epoch(self, seed: int, phase: int, epoch: int) -> None:
        """Draw every image's resize method for one epoch (a pure function of the arguments)."""
        self.draw = np.random.default_rng([int(seed), int(phase), int(epoch), 23]).integers(
            0, len(self.sources), len(self.primary)
        )

    def gather(self, indices: np.ndarray) -> np.ndarray:
        idx = np.asarray(indices).reshape(-1)
        out = np.empty((len(idx), *self.primary.contract.input_shape), np.uint8)
        for k, source in enumerate(self.sources):
            pick = self.draw[idx] == k
            if pick.any():
                out[pick] = source.gather(idx[pick])
        return out

    def close(self) -> None:
        for s in self.sources:
            s.close()


def resize_mix(primary: ImageSource, cache_dir: Any, fill: Callable[[ImageSource], None]) -> ResizeMix:
    """The primary source plus one cached source per other resize method, each filled by ``fill``."""
    others = []
    for method in INTERPOLATIONS:
        if method != primary.contract.interpolation:
            source = make_source(primary.dataset, replace(primary.contract, interpolation=method), cache_dir)
            fill(source)
            others.append(source)
    return ResizeMix([primary, *others])
