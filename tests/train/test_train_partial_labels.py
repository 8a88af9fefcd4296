"""Partially labelled training lists (negative/positive tweets), label smoothing and ensemble
teachers: the loss a 2-class image contributes, and what it must never teach the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from trainkit import logits_kernel, partial_runs, tiny_config

from sentilite.core.datasets import Dataset, Sample, read_split_file
from sentilite.core.errors import DatasetFormatError


@pytest.fixture(scope="module")
def tf():
    from sentilite.core.tf_import import import_tensorflow

    return import_tensorflow("tests")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_a_two_class_label_gets_the_marginal_loss_and_leaves_neutral_alone(tf):
    from sentilite.train.losses import hard_loss

    z = tf.Variable([[1.0, 2.5, -0.5], [0.3, 0.1, 0.2]])
    y = tf.constant([2, 0])
    mask = tf.constant([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    with tf.GradientTape() as tape:
        loss = hard_loss(tf, y, z, mask)
    p = _softmax(z.numpy())
    want = [-np.log(p[0, 2] / (p[0, 0] + p[0, 2])), -np.log(p[1, 0] / (p[1, 0] + p[1, 2]))]
    np.testing.assert_allclose(loss.numpy(), want, rtol=1e-6)
    grad = tape.gradient(loss, z).numpy()
    assert np.all(grad[:, 1] == 0.0), "a negative/positive label must not push the neutral logit"
    assert np.all(grad[:, [0, 2]] != 0.0)


def test_all_classes_allowed_is_plain_cross_entropy_and_smoothing_stays_on_allowed_classes(tf):
    from sentilite.train.losses import hard_loss

    z = tf.constant([[1.0, 2.5, -0.5]])
    y = tf.constant([2])
    plain = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z).numpy()
    np.testing.assert_allclose(hard_loss(tf, y, z, tf.ones((1, 3))).numpy(), plain, rtol=1e-6)
    logp = np.log(_softmax(z.numpy()))[0]
    eps = 0.2
    full = -((1 - eps + eps / 3) * logp[2] + eps / 3 * (logp[0] + logp[1]))
    np.testing.assert_allclose(hard_loss(tf, y, z, None, eps).numpy(), [full], rtol=1e-6)
    logq = np.log(_softmax(z.numpy()[:, [0, 2]]))[0]
    partial = -((1 - eps + eps / 2) * logq[1] + eps / 2 * logq[0])
    np.testing.assert_allclose(hard_loss(tf, y, z, tf.constant([[1.0, 0.0, 1.0]]), eps).numpy(), [partial], rtol=1e-5)


def test_a_partial_list_names_the_classes_it_uses(tmp_path):
    ds = Dataset([Sample(Path("a.jpg"), 0), Sample(Path("b.jpg"), 2)], source="tweets").as_partial()
    assert [s.classes for s in ds] == [(0, 2), (0, 2)]
    full = Dataset([Sample(Path("c.jpg"), 1)], source="e6")
    masks = full.concat(ds).label_masks()
    np.testing.assert_array_equal(masks, [[1, 1, 1], [1, 0, 1], [1, 0, 1]])
    with pytest.raises(DatasetFormatError, match="at least two classes"):
        Dataset([Sample(Path("a.jpg"), 0)], source="one").as_partial()


def test_partial_training_data_never_moves_the_neutral_output(synthetic_splits, tmp_path):
    """Two runs from the same initial weights on different negative/positive lists: as partial
    data, neither moves the neutral column of the classifier; as full labels, the list does
    (it teaches that neutral never occurs)."""
    from sentilite.train.api import train_model

    run_a, run_b, common = partial_runs(synthetic_splits, tmp_path)
    full = train_model(
        tiny_config(synthetic_splits, tmp_path / "rf", tmp_path / "c", **{**common, "data": [str(tmp_path / "a.txt")]})
    )
    wa, wb, wf = (logits_kernel(r.run_dir) for r in (run_a, run_b, full))
    np.testing.assert_array_equal(wa[:, 1], wb[:, 1])
    assert not np.allclose(wa[:, 0], wb[:, 0]), "the negative/positive columns did learn"
    assert not np.allclose(wa[:, 1], wf[:, 1]), "full labels without neutral do push the neutral output"
    assert "(partial labels)" in " ".join(run_a.metrics["contract"]["provenance"]["trained_on"])


def test_an_ensemble_teacher_is_the_mean_of_its_members(tiny_model, synthetic_splits, tmp_path):
    from sentilite.train.distill import soften, teacher_probabilities, teacher_targets

    _, _, path = tiny_model
    other = tmp_path / "other.keras"
    from modelkit import TINY_CONTRACT, save_keras, train_tiny

    ds = read_split_file(synthetic_splits["val"])
    save_keras(train_tiny(read_split_file(synthetic_splits["train"]), epochs=1, seed=3), other, TINY_CONTRACT)
    p1, p2 = (teacher_probabilities(m, ds, TINY_CONTRACT.labels) for m in (path, other))
    assert not np.allclose(p1, p2)
    got = teacher_targets([path, other], ds, TINY_CONTRACT.labels, 2.0)
    np.testing.assert_allclose(got, soften((p1 + p2) / 2, 2.0), rtol=1e-5)
