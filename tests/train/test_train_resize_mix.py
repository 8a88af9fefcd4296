"""The interp augmentation: every training image is served resized by a method drawn per epoch,
each exactly as the core resizes it with that method, reproducibly; the contract keeps its own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from trainkit import tiny_config

from sentilite.core.contract import INTERPOLATIONS, PreprocessContract
from sentilite.core.datasets import read_split_file
from sentilite.core.imageio import load_image
from sentilite.core.preprocess import resize_to_contract
from sentilite.train.data import make_source
from sentilite.train.resize_mix import resize_mix


def test_each_image_comes_resized_by_its_drawn_method_and_the_draw_is_reproducible(synthetic_splits, tmp_path):
    ds = read_split_file(synthetic_splits["val"])
    contract = PreprocessContract.create(32, "imagenet", interpolation="warp_linear")
    primary = make_source(ds, contract, str(tmp_path / "cache"))
    primary.fill()
    mix = resize_mix(primary, str(tmp_path / "cache"), lambda s: s.fill())
    assert mix.methods[0] == "warp_linear" and sorted(mix.methods) == sorted(INTERPOLATIONS)
    idx = np.arange(len(ds))
    mix.set_epoch(0, 0, 3)
    draw = mix.draw.copy()
    got = mix.gather(idx)
    for i in idx:
        method = mix.methods[draw[i]]
        want = resize_to_contract(load_image(ds.samples[i].path), replace(contract, interpolation=method))
        np.testing.assert_array_equal(got[i], want)
    assert len(set(draw.tolist())) == len(INTERPOLATIONS)  # every method is drawn
    mix.set_epoch(0, 0, 4)
    assert not np.array_equal(mix.draw, draw)
    mix.set_epoch(0, 0, 3)
    np.testing.assert_array_equal(mix.draw, draw)  # a resumed epoch draws the same


def test_training_with_interp_fills_one_cache_per_method_and_keeps_the_contracts(synthetic_splits, tmp_path):
    from sentilite.train.api import train_model

    cfg = tiny_config(
        synthetic_splits,
        tmp_path / "run",
        tmp_path / "cache",
        mode="ft-a",
        epochs=1,
        augment="flip,interp",
        interpolation="warp_linear",
    )
    result = train_model(cfg)
    log = (result.run_dir / "train.log").read_text()
    assert "interp augmentation: each image resized by one of warp_linear, " in log
    assert len(list((tmp_path / "cache" / "images").glob("*.u8"))) == len(INTERPOLATIONS) + 1  # train x 3, val x 1
    assert result.metrics["contract"]["input"]["interpolation"] == "warp_linear"
