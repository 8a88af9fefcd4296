"""train/ models: backbones and their contracts, freezing per mode, presets, distillation loss,
and the offline --weights imagenet error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import MOBILENET_FILE, require_shared

from sentilite.core.contract import NORMALIZATIONS, PreprocessContract
from sentilite.core.errors import SentiliteError
from sentilite.core.tf_import import import_keras, import_tensorflow
from sentilite.train.backbones import BACKBONES, WeightsUnavailableError, build_backbone
from sentilite.train.config import TrainConfig, TrainConfigError
from sentilite.train.model import assemble
from sentilite.train.modes import apply_phase, is_batchnorm, iter_layers
from sentilite.train.presets import conv_kernels, learning_rate_at, make_optimizer, resolve_phases


def _cfg(**kw):
    kw.setdefault("data", ["x.txt"])
    return TrainConfig(**kw)


def _mobilenet(size=32):
    bb = build_backbone(_cfg(backbone="mobilenet_v2", weights="none", width=0.35, input_size=size))
    return bb, assemble(bb, 3, 0.2)


def test_backbone_table_records_each_networks_own_preprocessing():
    expected = {
        "mobilenet_v2": ("symmetric", "RGB"),
        "inception_resnet_v2": ("symmetric", "RGB"),
        "mobilenet_v3_small": ("raw", "RGB"),
        "mobilenet_v3_large": ("raw", "RGB"),
        "efficientnet_b0": ("raw", "RGB"),
        "vgg19": ("caffe", "BGR"),
        "student": ("symmetric", "RGB"),
    }
    assert {k: (v.norm, v.color_order) for k, v in BACKBONES.items()} == expected
    caffe = NORMALIZATIONS["caffe"]
    # caffe: (pixel/255 - mean/255) / (1/255) = pixel - mean, means in BGR order, no scaling
    assert np.allclose(np.array(caffe.mean) * 255, [103.939, 116.779, 123.68])
    assert np.allclose(
        (np.array([200.0] * 3) / 255 - caffe.mean) / caffe.std, 200 - np.array([103.939, 116.779, 123.68])
    )


@pytest.mark.parametrize("name, norm", [("vgg19", "caffe"), ("mobilenet_v3_small", "raw"), ("efficientnet_b0", "raw")])
def test_application_backbones_build_with_their_contract(name, norm):
    bb = build_backbone(_cfg(backbone=name, weights="none", input_size=32))
    assert bb.norm.name == norm and bb.size == 32
    assert bb.color_order == ("BGR" if name == "vgg19" else "RGB")
    assert bb.model.outputs[0].shape[-1] == bb.feature_dim


def test_student_architecture():
    bb = build_backbone(_cfg(backbone="student"))
    sm = assemble(bb, 3, 0.2)
    assert bb.size == 64 and bb.norm.name == "symmetric" and not bb.pretrained
    kinds = [type(layer).__name__ for layer in bb.model.layers[1:]]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "GlobalAveragePooling2D"]
    assert [layer.units for layer in sm.head.layers if type(layer).__name__ == "Dense"] == [512, 3]
    assert 140_000 < sm.model.count_params() < 160_000  # "about 0.15 M parameters"
    with pytest.raises(TrainConfigError, match="no ImageNet weights"):
        build_backbone(_cfg(backbone="student", weights="imagenet"))


def test_ft_f_freezes_the_whole_backbone():
    tf = import_tensorflow()
    bb, sm = _mobilenet()
    apply_phase(sm.backbone, "ft-f")
    assert sm.backbone.trainable_variables == []
    assert {v.path for v in sm.logits_model.trainable_variables} == {v.path for v in sm.head.trainable_variables}
    before = [w.copy() for w in sm.backbone.get_weights()]
    opt = make_optimizer(resolve_phases(_cfg(mode="ft-f"))[0], 1)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(sm.logits_model(x, training=True) ** 2)
    grads = tape.gradient(loss, sm.logits_model.trainable_variables)
    opt.apply_gradients(zip(grads, sm.logits_model.trainable_variables))
    for a, b in zip(before, sm.backbone.get_weights()):  # incl. BatchNorm moving statistics
        np.testing.assert_array_equal(a, b)


def test_ft_a_trains_every_layer_but_keeps_batchnorm_in_inference_mode():
    tf = import_tensorflow()
    keras = import_keras()
    bb, sm = _mobilenet()
    apply_phase(sm.backbone, "ft-f")
    apply_phase(sm.backbone, "ft-a")  # two-phase switches like this
    bns = [layer for layer in iter_layers(sm.backbone) if is_batchnorm(layer)]
    convs = [
        layer
        for layer in iter_layers(sm.backbone)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
    ]
    assert bns and convs
    assert all(not layer.trainable for layer in bns) and all(layer.trainable for layer in convs)
    trainable = {v.path for v in sm.logits_model.trainable_variables}
    assert all(layer.kernel.path in trainable for layer in convs)
    assert not any(v.path in trainable for layer in bns for v in layer.weights)
    stats = [(layer.moving_mean.numpy().copy(), layer.moving_variance.numpy().copy()) for layer in bns]
    opt = make_optimizer(resolve_phases(_cfg(mode="ft-a"))[0], 1)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(sm.logits_model(x, training=True) ** 2)
    variables = sm.logits_model.trainable_variables
    grads = tape.gradient(loss, variables)
    by_path = {v.path: g for v, g in zip(variables, grads)}
    assert all(by_path[layer.kernel.path] is not None for layer in convs)  # every conv kernel gets a gradient
    opt.apply_gradients(zip(grads, variables))
    for layer, (mean, var) in zip(bns, stats):
        np.testing.assert_array_equal(layer.moving_mean.numpy(), mean)
        np.testing.assert_array_equal(layer.moving_variance.numpy(), var)


def test_a_random_backbone_keeps_batchnorm_trainable_in_ft_a():
    bb, sm = _mobilenet()
    apply_phase(sm.backbone, "ft-a", pretrained=False)
    assert all(layer.trainable for layer in iter_layers(sm.backbone) if is_batchnorm(layer))


def test_weight_decay_targets_trainable_conv_kernels_only():
    bb, sm = _mobilenet()
    apply_phase(sm.backbone, "ft-f")
    assert conv_kernels(sm.logits_model) == []
    apply_phase(sm.backbone, "ft-a")
    kernels = conv_kernels(sm.logits_model)
    assert kernels and all("kernel" in v.path for v in kernels)
    assert not any(v.path.startswith("head") or "logits" in v.path for v in kernels)


def test_replication_preset_is_the_papers_recipe():
    ftf, fta = resolve_phases(_cfg(mode="two-phase", preset="replication"))
    for spec in (ftf, fta):
        assert (spec.optimizer, spec.momentum, spec.schedule, spec.step_epochs, spec.step_factor) == (
            "sgd",
            0.9,
            "step",
            5,
            0.1,
        )
        assert (spec.epochs, spec.patience) == (15, 5) and spec.weight_decay > 0
    assert (ftf.mode, ftf.lr, ftf.batch_size) == ("ft-f", 1e-3, 64)
    assert (fta.mode, fta.lr, fta.batch_size) == ("ft-a", pytest.approx(1e-4), 48)
    (alone,) = resolve_phases(_cfg(mode="ft-a", preset="replication"))
    assert (alone.lr, alone.batch_size) == (1e-3, 48)
    # lr / 10 every 5 epochs, as a function of the optimizer's step (so it resumes exactly)
    steps = 7
    opt = make_optimizer(ftf, steps)
    for epoch, lr in [(0, 1e-3), (4, 1e-3), (5, 1e-4), (10, 1e-5), (14, 1e-5)]:
        assert learning_rate_at(ftf, epoch * steps, steps) == pytest.approx(lr)
        assert float(
            opt.learning_rate if not callable(opt._learning_rate) else opt._learning_rate(epoch * steps)
        ) == pytest.approx(lr)


def test_adam_cosine_preset_and_overrides():
    ftf, fta = resolve_phases(
        _cfg(mode="two-phase", preset="adam-cosine", lr=3e-3, epochs=4, fine_tune_epochs=2, batch_size=8)
    )
    assert (ftf.optimizer, ftf.schedule, ftf.lr, ftf.epochs, ftf.batch_size) == ("adam", "cosine", 3e-3, 4, 8)
    assert (fta.lr, fta.epochs, fta.batch_size) == (pytest.approx(3e-4), 2, 8)
    assert learning_rate_at(ftf, 0, 10) == pytest.approx(3e-3)
    assert learning_rate_at(ftf, 20, 10) == pytest.approx(1.5e-3)
    assert learning_rate_at(ftf, 40, 10) == pytest.approx(0.0, abs=1e-12)


def test_distillation_loss_matches_a_hand_computed_value():
    """z_s = [2, 1, 0], teacher p = [0.7, 0.2, 0.1], y = 0, T = 2, alpha = 0.25, by hand:

    CE   = log(e^2 + e^1 + e^0) - 2                      = 0.407606
    p_T  = softmax(log p / 2) = sqrt(p) / sum(sqrt(p))   = [0.522879, 0.279491, 0.197630]
    q_T  = softmax(z_s / 2) = [e^1, e^0.5, 1] / 5.367003 = [0.506480, 0.307196, 0.186324]
    KL   = 0.522879 ln(1.032378) + 0.279491 ln(0.909814) + 0.197630 ln(1.060680)
         = 0.016662 - 0.026416 + 0.011643                = 0.001889
    loss = 0.25 * 0.407606 + 0.75 * 2^2 * 0.001889       = 0.101902 + 0.005663 = 0.107564
    """
    tf = import_tensorflow()
    from sentilite.train.distill import soften
    from sentilite.train.losses import distillation_loss

    p_t = soften(np.array([[0.7, 0.2, 0.1]]), 2.0)
    np.testing.assert_allclose(p_t[0], [0.522879, 0.279491, 0.197630], atol=1e-6)
    y, z = tf.constant([0]), tf.constant([[2.0, 1.0, 0.0]])
    got = float(distillation_loss(tf, y, z, tf.constant(p_t), 2.0, 0.25)[0])
    assert got == pytest.approx(0.107564, abs=2e-6)
    # alpha = 1: plain cross-entropy; alpha = 0 with the teacher equal to the student at T: 0
    assert float(distillation_loss(tf, y, z, tf.constant(p_t), 2.0, 1.0)[0]) == pytest.approx(0.407606, abs=1e-6)
    q = tf.constant([[0.506480, 0.307196, 0.186324]])
    assert float(distillation_loss(tf, y, z, q, 2.0, 0.0)[0]) == pytest.approx(0.0, abs=1e-5)
    # alpha = 0: only the soft term, T^2 * KL
    soft_only = float(distillation_loss(tf, y, z, tf.constant(p_t), 2.0, 0.0)[0])
    assert soft_only == pytest.approx(4 * 0.001889, abs=1e-5)


def test_offline_imagenet_weights_give_a_clear_error(monkeypatch):
    """The real keras.applications path is kept; when its download fails (as offline) the error
    names the two offline alternatives."""
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(WeightsUnavailableError) as err:
        build_backbone(_cfg(backbone="mobilenet_v2", weights="imagenet", width=0.35, input_size=96))
    text = str(err.value)
    assert "--weights FILE" in text and "--backbone-file" in text and "--feature-layer gap" in text


def test_offline_imagenet_error_from_the_cli_is_one_line(synthetic_splits, tmp_path):
    code = (
        "import sys; from keras.src.utils import file_utils\n"
        "def offline(*a, **k): raise Exception('URL fetch failure on https://x: [Errno -2] Name or service not "
        "known')\n"
        "file_utils.get_file = offline\n"
        "from sentilite.app.cli import main\n"
        f"main(['train', '--data', {str(synthetic_splits['train'])!r}, '--backbone', 'mobilenet_v2', '--width', '0.35',"
        f" '--input-size', '96', '--out', {str(tmp_path / 'run')!r}, '--cache-dir', {str(tmp_path / 'c')!r}, "
        f"'--quiet'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "--weights FILE" in lines[0] and "--backbone-file" in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_weights_file_and_bad_config_errors(tmp_path):
    with pytest.raises(SentiliteError, match="Weights file not found"):
        build_backbone(_cfg(backbone="mobilenet_v2", weights=str(tmp_path / "nope.h5"), input_size=32))
    with pytest.raises(TrainConfigError, match="Unknown mode"):
        _cfg(mode="ft-x").validate()
    with pytest.raises(TrainConfigError, match="--feature-layer only applies"):
        _cfg(feature_layer="gap").validate()


def test_backbone_file_cut_at_a_layer_records_its_normalisation(tmp_path):
    keras = import_keras()
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    keras.Model(inp, keras.layers.Dense(10, name="logits")(x)).save(tmp_path / "b.keras")
    bb = build_backbone(_cfg(backbone_file=str(tmp_path / "b.keras"), feature_layer="gap"))
    assert (bb.size, bb.feature_dim, bb.norm.name, bb.color_order) == (32, 4, "imagenet", "RGB")
    assert bb.provenance["feature_layer"] == "gap" and len(bb.provenance["backbone_sha256"]) == 64
    # a feature map is pooled; an explicit normalisation is recorded
    bb = build_backbone(_cfg(backbone_file=str(tmp_path / "b.keras"), feature_layer="conv", backbone_norm="unit"))
    assert bb.feature_dim == 4 and bb.norm.name == "unit"
    # a contract inside the file wins
    from sentilite.core.modelfile import write_contract_keras

    write_contract_keras(tmp_path / "b.keras", PreprocessContract.create(32, "caffe", color_order="BGR"))
    bb = build_backbone(_cfg(backbone_file=str(tmp_path / "b.keras")))
    assert (bb.norm.name, bb.color_order, bb.provenance["feature_layer"]) == ("caffe", "BGR", "gap")
    with pytest.raises(TrainConfigError, match="no layer 'pool5'"):
        build_backbone(_cfg(backbone_file=str(tmp_path / "b.keras"), feature_layer="pool5"))
    with pytest.raises(TrainConfigError, match="takes 32x32"):
        build_backbone(_cfg(backbone_file=str(tmp_path / "b.keras"), input_size=64))


@pytest.mark.shared
def test_shared_mobilenet_backbone_file_is_torchvision_normalised():
    require_shared(MOBILENET_FILE)
    bb = build_backbone(_cfg(backbone_file=str(MOBILENET_FILE), feature_layer="gap"))
    assert (bb.size, bb.feature_dim, bb.norm.name) == (224, 1280, "imagenet")
    assert bb.norm.mean == (0.485, 0.456, 0.406) and bb.pretrained


def test_warm_up_rises_linearly_then_the_cosine_decays_in_keras_and_in_the_log():
    (spec,) = resolve_phases(_cfg(mode="ft-a", preset="adam-cosine", lr=1e-3, epochs=6, warmup_epochs=2))
    opt = make_optimizer(spec, 10)
    for step, want in [(0, 0.0), (10, 5e-4), (20, 1e-3), (40, 5e-4), (60, 0.0)]:
        assert learning_rate_at(spec, step, 10) == pytest.approx(want, abs=1e-12)
        assert float(opt._learning_rate(step)) == pytest.approx(want, abs=1e-9)
    with pytest.raises(TrainConfigError, match="adam-cosine"):
        _cfg(mode="ft-a", preset="replication", warmup_epochs=2).validate()
