"""train/ data: the tf.data pipeline equals the core preprocessing, the image cache, bad files,
mixed lists, class weights and augmentation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EMOTION6, require_shared
from trainkit import write_bad_images

from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import Dataset, Sample, read_split_file
from sentilite.core.imageio import load_image
from sentilite.core.preprocess import prepare
from sentilite.train.data import ImageSource, eval_batches, image_batches, make_source
from sentilite.train.lists import class_weight_vector, read_training_data

CONTRACTS = {
    "imagenet": PreprocessContract.create(32, "imagenet"),
    "symmetric-stretch": PreprocessContract.create(32, "symmetric", resize="stretch"),
    "caffe-bgr": PreprocessContract.create(32, "caffe", color_order="BGR"),
    "raw-rect": PreprocessContract.create((24, 40), "raw"),
    "imagenet-warp": PreprocessContract.create(32, "imagenet", interpolation="warp_linear"),
    "symmetric-linear": PreprocessContract.create(32, "symmetric", interpolation="linear"),
}


def _pipeline_images(source: ImageSource, batch_size: int = 5) -> np.ndarray:
    idx = source.valid_indices()
    return np.concatenate([x.numpy() for x, *_ in eval_batches(source, idx, batch_size)])


@pytest.mark.parametrize("name", list(CONTRACTS))
@pytest.mark.parametrize("cached", [True, False], ids=["cached", "streaming"])
def test_pipeline_equals_core_prepare(synthetic_splits, tmp_path, name, cached):
    contract = CONTRACTS[name]
    ds = read_split_file(synthetic_splits["val"])
    source = make_source(ds, contract, str(tmp_path) if cached else "none")
    source.fill()
    got = _pipeline_images(source)
    ref = np.stack([prepare(load_image(s.path), contract) for s in ds])
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)  # same float32 operations: bit-identical


@pytest.mark.shared
def test_pipeline_equals_core_prepare_on_real_photos(tmp_path):
    require_shared(EMOTION6)
    ds = read_split_file(EMOTION6 / "sentiment_val.txt").balanced_sample(12, seed=0)
    for contract in (
        PreprocessContract.create(224, "imagenet"),
        PreprocessContract.create(224, "caffe", color_order="BGR"),
        PreprocessContract.create(224, "imagenet", interpolation="warp_linear"),
    ):
        source = make_source(ds, contract, str(tmp_path))
        source.fill()
        got = _pipeline_images(source, batch_size=4)
        ref = np.stack([prepare(load_image(s.path), contract) for s in ds])
        scale = max(1.0, float(np.abs(ref).max()))
        assert np.abs(got - ref).max() <= 1e-6 * scale, contract.norm.name


def test_cache_is_reused_without_decoding(synthetic_splits, tmp_path, monkeypatch):
    contract = CONTRACTS["imagenet"]
    ds = read_split_file(synthetic_splits["val"])
    first = make_source(ds, contract, str(tmp_path))
    first.fill()
    expected = _pipeline_images(first)

    def no_decode(path, contract):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr("sentilite.train.data.decode_for_contract", no_decode)
    again = make_source(ds, contract, str(tmp_path))
    again.fill()
    np.testing.assert_array_equal(_pipeline_images(again), expected)
    # A different crop/size is a different cache entry.
    other = make_source(ds, PreprocessContract.create(48, "imagenet"), str(tmp_path))
    assert other.key != first.key


def test_interrupted_cache_fill_is_completed(synthetic_splits, tmp_path):
    contract = CONTRACTS["symmetric-stretch"]
    ds = read_split_file(synthetic_splits["val"])
    source = make_source(ds, contract, str(tmp_path))
    # Simulate a kill after two images: only their flags are set.
    for i in (0, 1):
        image, _ = source.decode(i)
        source.records.write(i, image)
        source.flags.write(i, np.array([1], np.uint8))
    decoded = []
    original = source.decode
    source.decode = lambda i: (decoded.append(i), original(i))[1]
    source.fill()
    assert sorted(decoded) == list(range(2, len(ds)))
    ref = np.stack([prepare(load_image(s.path), contract) for s in ds])
    np.testing.assert_array_equal(_pipeline_images(source), ref)


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "streaming"])
def test_corrupt_missing_and_non_image_files_are_skipped_and_listed(synthetic_splits, tmp_path, cached):
    good = read_split_file(synthetic_splits["val"])
    bad = write_bad_images(tmp_path / "bad")
    samples = list(good.samples[:4]) + [Sample(p, 0) for p in bad.values()] + [Sample(tmp_path / "gone.jpg", 2)]
    ds = Dataset(samples, source="mixed")
    source = make_source(ds, CONTRACTS["imagenet"], str(tmp_path / "cache") if cached else "none")
    source.fill()
    idx = source.valid_indices() if cached else np.arange(len(ds))
    y = np.asarray(ds.y)[idx]
    batches = list(image_batches(source, idx, y, np.ones(len(idx), np.float32), np.zeros((len(idx), 1), np.float32), 3))
    assert sum(int(x.shape[0]) for x, *_ in batches) == 4
    listed = source.skipped_list()
    assert len(listed) == 4
    reasons = {item["path"]: item["reason"] for item in listed}
    assert "truncated or corrupt" in reasons[str(bad["truncated"])]
    assert "not an image" in reasons[str(bad["text"])] or "corrupt" in reasons[str(bad["text"])]
    assert "not found" in reasons[str(tmp_path / "gone.jpg")]


def test_mixed_lists_and_readers(tmp_path, synthetic_splits):
    """Split file + CSV + folder tree mixed into one training list; 2-class lists mix with 3-class."""
    images = sorted((synthetic_splits["train"].parent / "images").rglob("*.jpg"))
    (tmp_path / "polar.txt").write_text(f"{images[0]} 0\n{images[-1]} 2\n")  # twitter_dev style: labels 0/2 only
    (tmp_path / "extra.csv").write_text(f"path,label\n{images[1]},negative\n")
    tree = tmp_path / "tree"
    (tree / "neutral").mkdir(parents=True)
    (tree / "neutral" / "a.jpg").write_bytes(images[2].read_bytes())
    ds = read_training_data(
        [str(synthetic_splits["train"]), str(tmp_path / "polar.txt"), str(tmp_path / "extra.csv"), str(tree)],
        None,
        ("negative", "neutral", "positive"),
    )
    n_train = len(read_split_file(synthetic_splits["train"]))
    assert len(ds) == n_train + 4
    assert ds.y[n_train:] == [0, 2, 0, 1]
    assert len(ds.meta["sources"]) == 4


def test_balanced_class_weights():
    y = np.array([0] * 6 + [1] * 2 + [2] * 4)
    w = class_weight_vector(y, 3, "balanced")
    np.testing.assert_allclose(w, [12 / (3 * 6), 12 / (3 * 2), 12 / (3 * 4)], rtol=1e-6)
    assert (w * np.bincount(y)).sum() == pytest.approx(len(y))
    np.testing.assert_allclose(class_weight_vector(np.array([0, 0, 2]), 3, "balanced"), [0.75, 0.0, 1.5])
    assert class_weight_vector(y, 3, "none").tolist() == [1, 1, 1]


def test_augmentation_is_seeded_bounded_and_off_for_evaluation(synthetic_splits, tmp_path):
    contract = CONTRACTS["symmetric-stretch"]
    ds = read_split_file(synthetic_splits["val"])
    source = make_source(ds, contract, str(tmp_path))
    source.fill()
    idx = source.valid_indices()
    args = (
        source,
        idx,
        np.zeros(len(idx), np.int32),
        np.ones(len(idx), np.float32),
        np.zeros((len(idx), 1), np.float32),
        4,
    )

    def run(seed, names=("flip", "crop", "color")):
        return np.concatenate([x.numpy() for x, *_ in image_batches(*args, augment=names, seed=seed)])

    a, b, c = run((1, 0)), run((1, 0)), run((1, 5))
    plain = _pipeline_images(source, 4)
    np.testing.assert_array_equal(a, b)  # stateless: same seed, same epoch -> same batch
    assert not np.array_equal(a, c) and not np.array_equal(a, plain)
    assert a.min() >= -1.0 - 1e-6 and a.max() <= 1.0 + 1e-6  # still in the contract's range
    flipped = run((3, 0), ("flip",))
    for got, ref in zip(flipped, plain):
        assert np.array_equal(got, ref) or np.array_equal(got, ref[:, ::-1])


def test_a_cache_that_does_not_fit_on_the_disk_is_refused(synthetic_splits, tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from sentilite.core.errors import InputFileError

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 30, 1 << 30, 1 << 20))
    with pytest.raises(InputFileError, match="--cache-dir none"):
        make_source(read_split_file(synthetic_splits["val"]), CONTRACTS["imagenet"], str(tmp_path))


def test_the_image_cache_is_keyed_by_the_interpolation(synthetic_splits):
    from sentilite.train.data import cache_key

    ds = read_split_file(synthetic_splits["val"])
    keys = {
        cache_key(ds, PreprocessContract.create(32, "imagenet", interpolation=i))
        for i in ("area", "linear", "warp_linear")
    }
    assert len(keys) == 3
