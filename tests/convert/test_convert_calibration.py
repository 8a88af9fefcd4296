"""convert/: the representative set is class-balanced, prepared like every runtime, and fails early."""

from collections import Counter

import numpy as np
import pytest
from modelkit import TINY_CONTRACT

from sentilite.convert.calibration import CalibrationError, balanced_order, build_calibration_set
from sentilite.core.datasets import Dataset, Sample, read_split_file
from sentilite.core.imageio import load_image
from sentilite.core.preprocess import prepare


def test_balanced_order_every_prefix_is_balanced():
    ds = Dataset([Sample(f"{i}.jpg", lab) for i, lab in enumerate([0] * 50 + [1] * 10 + [2] * 30)])
    order = balanced_order(ds, seed=3)
    assert sorted(order) == list(range(90))
    for n in (3, 12, 30):
        counts = Counter(ds.samples[i].label for i in order[:n])
        assert max(counts.values()) - min(counts.values()) <= 1, (n, counts)
    # After the small class runs out, the others continue round-robin.
    assert Counter(ds.samples[i].label for i in order[:50]) == {0: 20, 1: 10, 2: 20}
    assert balanced_order(ds, seed=3) == order and balanced_order(ds, seed=4) != order
    assert sorted(balanced_order(ds, balanced=False)) == list(range(90))


def test_calibration_inputs_equal_prepare(synthetic_splits):
    calib = build_calibration_set(synthetic_splits["train"], TINY_CONTRACT, size=9, seed=1)
    assert len(calib) == 9 and calib.class_counts() == {"negative": 3, "neutral": 3, "positive": 3}
    ref = np.stack([prepare(load_image(p), TINY_CONTRACT) for p in calib.paths])
    assert np.array_equal(calib.inputs(), ref)
    batches = list(calib.representative(4)())
    assert len(batches) == 4 and batches[0][0].shape == (1, 32, 32, 3) and batches[0][0].dtype == np.float32
    assert np.array_equal(np.concatenate([b[0] for b in batches]), ref[:4])
    facts = calib.facts(6)
    assert facts["images"] == 6 and facts["per_class"] == {"negative": 2, "neutral": 2, "positive": 2}


def test_unreadable_images_are_skipped_and_replaced(synthetic_splits, tmp_path):
    good = read_split_file(synthetic_splits["train"]).samples[:12]
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    lines = [f"{s.path} {s.label}" for s in good] + [f"{tmp_path / 'broken.jpg'} 0", f"{tmp_path / 'missing.jpg'} 1"]
    split = tmp_path / "split.txt"
    split.write_text("\n".join(lines[-2:] + lines[:-2]) + "\n")
    calib = build_calibration_set(split, TINY_CONTRACT, size=10)
    assert len(calib) == 10 and calib.facts()["unreadable"] == 2 and calib.facts()["listed"] == 14


def test_empty_or_unreadable_calibration_set_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n")
    with pytest.raises(Exception, match="calibration set: .*lists no images"):
        build_calibration_set(empty, TINY_CONTRACT)
    (tmp_path / "a.jpg").write_bytes(b"\0" * 10)
    bad = tmp_path / "bad.txt"
    bad.write_text("a.jpg 0\nb.jpg 1\n")
    with pytest.raises(CalibrationError, match="none of its 2 image"):
        build_calibration_set(bad, TINY_CONTRACT)
    with pytest.raises(Exception, match="calibration set: Split file not found"):
        build_calibration_set(tmp_path / "nope.txt", TINY_CONTRACT)
