"""Batch mixing (mixup, CutMix) and weight averaging (EMA): the maths of a mixed batch, that a
resumed run would mix identically, that partial labels survive mixing, and that the averaged
weights are the ones judged on validation and saved."""

from __future__ import annotations

import json

import numpy as np
import pytest
from trainkit import logits_kernel, partial_runs, tiny_config

from sentilite.train.config import TrainConfig, TrainConfigError
from sentilite.train.mixing import MixSpec, mix_batch


@pytest.fixture(scope="module")
def tf():
    from sentilite.core.tf_import import import_tensorflow

    return import_tensorflow("tests")


def _batch(n: int = 6, size: int = 8) -> np.ndarray:
    return np.random.default_rng(0).random((n, size, size, 3)).astype(np.float32) + np.arange(n)[:, None, None, None]


def test_mixup_blends_each_image_with_its_partner_by_lam(tf):
    x = _batch()
    mixed, perm, lam = mix_batch(tf, tf.constant(x), MixSpec("mixup", 0.4, seed=3), tf.constant(5, tf.int64))
    perm, lam = perm.numpy(), float(lam)
    assert sorted(perm) == list(range(len(x))) and 0.0 < lam < 1.0
    np.testing.assert_allclose(mixed.numpy(), lam * x + (1 - lam) * x[perm], rtol=1e-6)
    again = mix_batch(tf, tf.constant(x), MixSpec("mixup", 0.4, seed=3), tf.constant(5, tf.int64))
    np.testing.assert_array_equal(again[0].numpy(), mixed.numpy())  # a function of (seed, step): resumes identically
    draws = {
        round(float(mix_batch(tf, tf.constant(x), MixSpec("mixup", 0.4, seed=3), tf.constant(s, tf.int64))[2]), 6)
        for s in range(8)
    }
    assert len(draws) == 8, "every step draws its own lam"


def test_cutmix_pastes_one_box_and_lam_is_the_area_kept(tf):
    x = _batch(size=16)
    for step in range(6):
        mixed, perm, lam = mix_batch(tf, tf.constant(x), MixSpec("cutmix", 1.0, seed=1), tf.constant(step, tf.int64))
        mixed, perm = mixed.numpy(), perm.numpy()
        pasted = np.all(mixed != x, axis=-1)  # sample values differ (offset by index), so a moved pixel shows
        fixed = [i for i in range(len(x)) if perm[i] != i]
        for i in fixed:
            np.testing.assert_array_equal(mixed[i][pasted[i]], x[perm[i]][pasted[i]])
            np.testing.assert_array_equal(mixed[i][~pasted[i]], x[i][~pasted[i]])
            rows, cols = np.nonzero(pasted[i])
            if len(rows):  # one axis-aligned box
                assert pasted[i][rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
            assert 1.0 - pasted[i].mean() == pytest.approx(float(lam), abs=1e-6)


def test_cutmix_on_cached_features_is_refused_with_the_fix(synthetic_splits, tmp_path):
    for mode in ("ft-f", "two-phase"):
        with pytest.raises(TrainConfigError, match="no-feature-cache"):
            TrainConfig(data=["a.txt"], mode=mode, mix="cutmix").validate()
    TrainConfig(data=["a.txt"], mode="two-phase", mix="cutmix", feature_cache=False).validate()
    with pytest.raises(TrainConfigError, match="--ema"):
        TrainConfig(data=["a.txt"], ema=1.0).validate()
    TrainConfig(data=["a.txt"], mode="ft-a", mix="cutmix", ema=0.99).validate()


def test_mixed_partial_labels_still_never_move_the_neutral_output(synthetic_splits, tmp_path):
    """Mixing pairs two negative/positive images; each keeps its class mask, so the neutral
    column of the classifier still gets no gradient (two different lists, same neutral column)."""
    run_a, run_b, _ = partial_runs(synthetic_splits, tmp_path, mode="ft-a", mix="mixup", mix_alpha=1.0)
    wa, wb = logits_kernel(run_a.run_dir), logits_kernel(run_b.run_dir)
    np.testing.assert_array_equal(wa[:, 1], wb[:, 1])
    assert not np.allclose(wa[:, 0], wb[:, 0])
    assert "mixup (alpha 1) of images" in (run_a.run_dir / "train.log").read_text()


def test_averaged_weights_are_lent_and_given_back(tf):
    from sentilite.core.tf_import import import_keras
    from sentilite.train.ema import averaged_weights

    keras = import_keras("tests")
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    opt = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    opt.build(layer.trainable_variables)
    for _ in range(3):
        opt.apply_gradients([(tf.ones_like(v), v) for v in layer.trainable_variables])
    trained = [v.numpy().copy() for v in layer.trainable_variables]
    with averaged_weights(opt, layer.trainable_variables) as swapped:
        assert swapped
        inside = [v.numpy().copy() for v in layer.trainable_variables]
    assert not np.allclose(inside[0], trained[0]), "the average lags the trained weights"
    for v, t in zip(layer.trainable_variables, trained):
        np.testing.assert_array_equal(v.numpy(), t)
    with averaged_weights(keras.optimizers.SGD(0.1), layer.trainable_variables) as swapped:
        assert not swapped


def test_with_ema_the_saved_model_is_the_average_that_was_validated(synthetic_splits, tmp_path):
    """The best epoch's val loss in history is the saved model's val loss: the average was judged
    and kept. Training itself continues from the trained weights, as without --ema."""
    from sentilite.train.api import evaluate_model, train_model

    run = train_model(
        tiny_config(
            synthetic_splits,
            tmp_path / "r",
            tmp_path / "c",
            mode="ft-a",
            preset="adam-cosine",
            lr=1e-2,
            epochs=3,
            ema=0.8,
            mix="cutmix",
            mix_alpha=1.0,
            decision="none",
        )
    )
    best = min(run.history, key=lambda r: r["val_loss"])
    got = evaluate_model(run.model_path, str(synthetic_splits["val"]))
    labels = got["labels"]
    nll = np.mean([-np.log(p["probabilities"][labels.index(p["label"])]) for p in got["predictions"]])
    assert nll == pytest.approx(best["val_loss"], rel=1e-3)
    # The average observes the training, never steers it: without --ema the same losses, other weights.
    plain = train_model(
        tiny_config(
            synthetic_splits,
            tmp_path / "p",
            tmp_path / "c",
            mode="ft-a",
            preset="adam-cosine",
            lr=1e-2,
            epochs=3,
            mix="cutmix",
            mix_alpha=1.0,
            decision="none",
        )
    )
    np.testing.assert_allclose([r["loss"] for r in run.history], [r["loss"] for r in plain.history], rtol=1e-5)
    assert [r["val_loss"] for r in run.history] != pytest.approx([r["val_loss"] for r in plain.history], rel=1e-4)
    assert json.loads((run.run_dir / "config.json").read_text())["ema"] == 0.8


def test_the_average_is_checkpointed_so_resume_continues_it(tf, tmp_path):
    from sentilite.core.tf_import import import_keras
    from sentilite.train.checkpoint import Checkpointer
    from sentilite.train.ema import averaged_weights
    from sentilite.train.state import TrainState

    keras = import_keras("tests")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    opt = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    opt.build(model.trainable_variables)
    for _ in range(3):
        opt.apply_gradients([(tf.ones_like(v), v) for v in model.trainable_variables])
    ck = Checkpointer(tmp_path)
    state = ck.save_epoch(model, opt, TrainState(), 0, 1)
    with averaged_weights(opt, model.trainable_variables):
        want = [v.numpy().copy() for v in model.trainable_variables]
    fresh = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    ck.load_optimizer(fresh, model.trainable_variables, state.optimizer)
    with averaged_weights(fresh, model.trainable_variables):
        for v, w in zip(model.trainable_variables, want):
            np.testing.assert_array_equal(v.numpy(), w)
