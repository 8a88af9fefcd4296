"""release.recover_keras: a full-integer file's weights put back into Keras, so that a bundled
model whose Keras parent is gone can be converted again (with extra heads) and keep its answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _backbone(path: Path, seed: int) -> Path:
    """A small MobileNet-like backbone: padded conv + batch norm + ReLU6, depthwise + batch norm,
    a projection, each batch norm with statistics far from the identity (so a fold left out shows)."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras("tests")
    rng = np.random.default_rng(seed)
    init = keras.initializers.GlorotUniform(seed=seed)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.ZeroPadding2D(1)(inp)
    # named, as a real backbone's layers are, so source and template share their names
    x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False, kernel_initializer=init, name="stem_conv")(x)
    x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(name="stem_bn")(x))
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, depthwise_initializer=init, name="b1_dw")(x)
    x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(name="b1_dw_bn")(x))
    x = keras.layers.Conv2D(16, 1, use_bias=False, kernel_initializer=init, name="b1_project")(x)
    x = keras.layers.BatchNormalization(name="b1_project_bn")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(x))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.3, n), rng.uniform(0.3, 3, n)]
            )
    model.save(path)
    return path


def _train(splits: dict[str, Path], tmp: Path, name: str, seed: int, epochs: int, **extra: object) -> Path:
    from trainkit import tiny_config

    from sentilite.train.api import train_model

    config = tiny_config(
        splits, tmp / name, tmp / "cache", backbone_file=str(_backbone(tmp / f"{name}-backbone.keras", seed)),
        mode="ft-a", epochs=epochs, lr=1e-2, preset="adam-cosine", seed=seed, **extra,
    )  # fmt: skip
    return Path(train_model(config).model_path)


def _int8(model: Path, splits: dict[str, Path], out: Path) -> Path:
    conv = _run(
        "-m", "sentilite", "convert", str(model), "--calib", str(splits["train"]), "--eval", str(splits["val"]),
        "--variants", "int8", "--repair", "never", "--kernel-check-images", "0", "--no-layer-report",
        "--latency-runs", "1", "--out", str(out),
    )  # fmt: skip
    assert conv.returncode == 0, conv.stderr[-3000:]
    return next(out.glob("*int8.tflite"))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=600)


def test_recovered_model_answers_as_the_int8_file_and_a_mismatched_template_is_refused(synthetic_splits, tmp_path):
    """A trained model (with a fitted decision rule) is converted to full int8 with pixel-in; its
    weights are recovered into a second model of the same architecture. The recovered Keras model
    answers as the int8 file (the template alone does not), carries an identity rule (the file's
    rule is in its weights) and names the file it came from. A template of another architecture
    is refused by name. Planted defects: the batch norms left as they were, the pixel-in op not
    skipped, a kernel reshaped instead of transposed: each turns this red."""
    from release.recover_keras import agreement
    from sentilite.core.fsutil import sha256_file
    from sentilite.core.modelfile import read_contract

    source = _train(synthetic_splits, tmp_path, "source", seed=1, epochs=8)
    template = _train(synthetic_splits, tmp_path, "template", seed=2, epochs=1)
    int8 = _int8(source, synthetic_splits, tmp_path / "convert")
    out = tmp_path / "recovered" / "model.keras"
    proc = _run(
        "-m", "release.recover_keras", "--int8", str(int8), "--template", str(template), "--out", str(out),
        "--check", str(synthetic_splits["train"]),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    facts = json.loads((out.parent / "recovery.json").read_text())
    before = agreement(template, int8, synthetic_splits["train"])
    assert facts["top1_agreement"] >= 0.85 and facts["mean_abs_dp"] <= 0.03, facts
    assert before["mean_abs_dp"] > 3 * facts["mean_abs_dp"], (before, facts)
    contract, original = read_contract(out), read_contract(source)
    assert not original.decision.identity and contract.decision.identity
    assert contract.provenance["recovered_from"]["sha256"] == sha256_file(int8)
    other = tmp_path / "other.keras"
    from modelkit import TINY_CONTRACT, build_tiny_model, save_keras

    save_keras(build_tiny_model(), other, TINY_CONTRACT)
    wrong = _run(
        "-m", "release.recover_keras", "--int8", str(int8), "--template", str(other), "--out", str(tmp_path / "x.keras")
    )
    assert wrong.returncode == 2 and "template" in wrong.stderr, wrong.stderr[-2000:]


def test_a_file_with_heads_recovers_by_layer_name_into_a_template_with_or_without_them(tmp_path):
    """A bundled file with extra heads (the converter writes its parallel heads in its own order:
    here emotions before sentiment) recovers by the layer names in its kernels' names: into a
    template with the same heads, every head answers as the file; into a sentiment-only template
    (what `PREVIOUS_INT8` in make_default_model.sh uses), sentiment does and the heads are named
    as left out. Planted defects: pairing by order (the file's first head is not the template's),
    or refusing files with heads, each turn this red."""
    from trainkit import affect_dataset

    from release.recover_keras import file_layers
    from sentilite.core.classifier import load_classifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.core.modelfile import read_contract

    splits = affect_dataset(tmp_path / "data")
    heads = {"heads": "emotions,valence_arousal", "decision": "none"}
    source = _train(splits, tmp_path, "source", seed=1, epochs=8, **heads)
    int8 = _int8(source, splits, tmp_path / "convert")
    fc = [f.name.split(";")[0].split("/")[-2] for f in file_layers(int8) if f.op == "FULLY_CONNECTED"]
    assert fc[0] != "logits_1", f"the converter kept the template's head order {fc}: nothing to test"
    items = read_split_file(splits["val"]).samples[:30]
    file_reads = [load_classifier(int8).read(load_image(i.path)) for i in items]
    for name, extra in (("with-heads", heads), ("sentiment-only", {})):
        template = _train(splits, tmp_path, f"template-{name}", seed=2, epochs=1, **extra)
        out = tmp_path / name / "model.keras"
        proc = _run("-m", "release.recover_keras", "--int8", str(int8), "--template", str(template), "--out", str(out))
        assert proc.returncode == 0, proc.stderr[-3000:]
        reads = [KerasClassifier(out).read(load_image(i.path)) for i in items]
        dp = np.mean([np.abs(a.sentiment - b.sentiment).max() for a, b in zip(reads, file_reads)])
        assert dp <= 0.05, (name, dp)
        recovered = read_contract(out).provenance["recovered_from"]
        if extra:
            for head in ("emotions", "valence_arousal"):
                scale = 8.0 if head == "valence_arousal" else 1.0  # valence/arousal read on 1-9
                gap = np.mean([np.abs(a.heads[head] - b.heads[head]).max() for a, b in zip(reads, file_reads)])
                assert gap <= 0.05 * scale, (head, gap)
            assert "heads_left_out" not in recovered
        else:
            assert recovered["heads_left_out"] == ["emotions", "valence_arousal"] and not read_contract(out).heads
