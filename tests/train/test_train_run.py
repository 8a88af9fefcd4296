"""train/ end to end: the run folder, cached features == plain path, distillation, bad images,
evaluate (.keras == float32 .tflite, no TensorFlow for .tflite), CLI errors, kill + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import EMOTION6, MOBILENET_FILE, require_shared
from trainkit import tiny_config, write_bad_images

from sentilite.core.contract import PreprocessContract
from sentilite.core.modelfile import read_contract
from sentilite.train.api import resume_training, train_model
from sentilite.train.config import TrainConfigError


@pytest.fixture(scope="module")
def trained_run(synthetic_splits, tmp_path_factory):
    """The student at 32 px, two-phase, 2 + 2 epochs, with a test split and plots."""
    tmp = tmp_path_factory.mktemp("trained")
    cfg = tiny_config(
        synthetic_splits,
        tmp / "run",
        tmp / "cache",
        mode="two-phase",
        test=str(synthetic_splits["test"]),
        plots=True,
        preset="adam-cosine",
        lr=3e-3,
    )
    return train_model(cfg)


def test_run_folder_has_every_output(trained_run):
    run = trained_run.run_dir
    for name in (
        "model.keras",
        "contract.json",
        "config.json",
        "history.csv",
        "metrics.json",
        "train.log",
        "learning_curves.png",
        "confusion_val.png",
        "confusion_test.png",
    ):
        assert (run / name).is_file(), name
    contract = read_contract(run / "model.keras")
    assert contract == PreprocessContract.from_json((run / "contract.json").read_text())
    assert (contract.height, contract.norm.name, contract.labels) == (
        32,
        "symmetric",
        ("negative", "neutral", "positive"),
    )
    assert contract.interpolation == "warp_linear"  # the default: MediaPipe's resize, and the cheapest per frame
    assert contract.provenance["backbone"] == "student" and contract.provenance["mode"] == "two-phase"
    m = trained_run.metrics
    for split in ("val", "test"):
        cm = np.asarray(m[split]["confusion_matrix"])
        assert cm.sum() == m[split]["n"] and m[split]["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
        assert set(m[split]["per_class"]) == {"negative", "neutral", "positive"}
        assert m[split]["polar"]["labels"] == ["negative", "positive"]
    t = m["training"]
    assert t["wall_seconds"] > 0 and t["cpu_percent_mean"] > 0 and t["cpu_percent_peak"] >= 0 and t["rss_peak_mb"] > 50
    assert [p["mode"] for p in t["phases"]] == ["ft-f", "ft-a"] and t["epochs"] == 4
    assert m["model_size"]["parameters"] == m["model_size"]["backbone_parameters"] + m["model_size"]["head_parameters"]
    assert m["model_size"]["file_bytes"] == (run / "model.keras").stat().st_size
    rows = (run / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,phase,mode,phase_epoch,lr,loss,accuracy,val_loss,val_accuracy") and len(rows) == 5
    assert json.loads((run / "config.json").read_text())["mode"] == "two-phase"


def test_the_synthetic_task_is_learned(trained_run):
    assert trained_run.metrics["val"]["accuracy"] >= 0.6


def test_best_weights_are_restored(trained_run):
    """The saved model's validation loss is the best epoch's, not the last one's."""
    from dataclasses import replace

    from sentilite.core.datasets import read_split_file
    from sentilite.core.decision import DecisionRule
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier

    cfg = json.loads((trained_run.run_dir / "config.json").read_text())
    val = read_split_file(cfg["val"])
    clf = KerasClassifier(trained_run.model_path)
    assert not clf.contract.decision.identity  # fitted on val at the end of the run...
    clf.contract = replace(clf.contract, decision=DecisionRule())  # ...so compare the network's own outputs
    probs = clf.predict_many([load_image(s.path) for s in val])
    loss = float(np.mean(-np.log(probs[np.arange(len(val)), val.y])))
    last_phase = [r for r in trained_run.history if r["phase"] == 2]
    assert loss == pytest.approx(min(r["val_loss"] for r in last_phase), rel=1e-4)


def test_early_stopping_rule():
    from sentilite.train.loop import EarlyStopping

    es = EarlyStopping(patience=2)
    assert [es.update(v, e) for e, v in enumerate([1.0, 0.8, 0.9, 0.85])] == [True, True, False, False]
    assert es.stopped and es.best_epoch == 1 and es.best == 0.8
    assert EarlyStopping.from_dict(es.to_dict()) == es


def test_cached_features_train_the_same_model_as_the_plain_path(synthetic_splits, tmp_path):
    results = {}
    for cached in (True, False):
        cfg = tiny_config(
            synthetic_splits,
            tmp_path / f"run-{cached}",
            tmp_path / "cache",
            augment="none",
            feature_cache=cached,
            epochs=3,
            preset="adam-cosine",
            lr=1e-2,
        )
        results[cached] = train_model(cfg)
    a, b = results[True], results[False]
    assert (a.run_dir / "features" / "train-plain.f32").is_file() and not (b.run_dir / "features").exists()
    for ra, rb in zip(a.history, b.history):
        assert ra["loss"] == pytest.approx(rb["loss"], abs=1e-5)
        assert ra["val_loss"] == pytest.approx(rb["val_loss"], abs=1e-5)
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    wa = keras.saving.load_model(a.model_path).get_weights()
    wb = keras.saving.load_model(b.model_path).get_weights()
    assert max(float(np.abs(x - y).max()) for x, y in zip(wa, wb)) < 1e-5
    assert a.metrics["val"]["confusion_matrix"] == b.metrics["val"]["confusion_matrix"]


def test_a_corrupt_jpeg_in_the_training_data_is_skipped_and_listed(synthetic_splits, tmp_path):
    bad = write_bad_images(tmp_path / "bad")
    split = tmp_path / "train_with_bad.txt"
    lines = synthetic_splits["train"].read_text().splitlines()
    root = synthetic_splits["train"].parent
    split.write_text(
        "\n".join(
            [f"{root / ln.rsplit(' ', 1)[0]} {ln.rsplit(' ', 1)[1]}" for ln in lines]
            + [f"{bad['truncated']} 0", f"{bad['text']} 2", f"{tmp_path / 'missing.jpg'} 1"]
        )
        + "\n"
    )
    result = train_model(
        tiny_config(synthetic_splits, tmp_path / "run", tmp_path / "cache", data=[str(split)], epochs=1)
    )
    m = result.metrics
    assert m["n_skipped"] == 3 and m["data"]["train"]["n_used"] == len(lines)
    listed = {item["path"] for item in m["skipped"]["train"]}
    assert listed == {str(bad["truncated"]), str(bad["text"]), str(tmp_path / "missing.jpg")}
    log = (result.run_dir / "train.log").read_text()
    assert "skipped 3 unreadable image(s)" in log and str(bad["truncated"]) in log


def test_distillation_from_a_teacher(trained_run, synthetic_splits, tmp_path):
    cfg = tiny_config(
        synthetic_splits,
        tmp_path / "student",
        tmp_path / "cache",
        mode="ft-a",
        teacher=str(trained_run.model_path),
        temperature=4.0,
        alpha=0.3,
        epochs=1,
    )
    result = train_model(cfg)
    targets = np.load(result.run_dir / "teacher_targets.npy")
    assert targets.shape == (
        len(result.metrics["data"]["train"]["class_counts"]) and result.metrics["data"]["train"]["n"],
        3,
    )
    np.testing.assert_allclose(targets.sum(1), 1, rtol=1e-5)
    assert "distillation: T = 4.0" in (result.run_dir / "train.log").read_text()


def test_distillation_refuses_a_teacher_with_other_labels(trained_run, synthetic_splits, tmp_path):
    from sentilite.core.errors import ContractError
    from sentilite.core.modelfile import write_contract_keras

    teacher = tmp_path / "teacher.keras"
    teacher.write_bytes(trained_run.model_path.read_bytes())
    write_contract_keras(teacher, PreprocessContract.create(32, "symmetric", ("sad", "meh", "happy")))
    with pytest.raises(ContractError, match="teacher"):
        train_model(tiny_config(synthetic_splits, tmp_path / "s", tmp_path / "c", teacher=str(teacher), epochs=1))


def test_an_existing_run_folder_needs_resume(trained_run, synthetic_splits, tmp_path):
    with pytest.raises(TrainConfigError, match="--resume"):
        train_model(tiny_config(synthetic_splits, trained_run.run_dir, tmp_path))


# -- evaluate --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def float32_tflite(trained_run, tmp_path_factory):
    from modelkit import convert_variants

    from sentilite.core.tf_import import import_keras

    model = import_keras().saving.load_model(trained_run.model_path)
    contract = read_contract(trained_run.model_path)
    out = tmp_path_factory.mktemp("tfl")
    return convert_variants(model, contract, out, np.zeros((1, 32, 32, 3), np.float32), ("float32",))["float32"]


def test_evaluate_gives_identical_metrics_for_keras_and_float32_tflite(
    trained_run, float32_tflite, synthetic_splits, tmp_path
):
    from sentilite.train.evaluate import evaluate_model

    k = evaluate_model(trained_run.model_path, synthetic_splits["test"], json_out=tmp_path / "k.json")
    t = evaluate_model(float32_tflite, synthetic_splits["test"], json_out=tmp_path / "t.json")
    assert (k["format"], t["format"]) == ("keras", "tflite")
    for key in ("n", "accuracy", "macro_f1", "per_class", "confusion_matrix", "polar", "n_skipped"):
        assert k[key] == t[key], key
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["accuracy"] == t["accuracy"] and saved["polar"]["accuracy"] == t["polar"]["accuracy"]
    # the metrics the training run wrote for its test split are the same numbers
    assert trained_run.metrics["test"]["confusion_matrix"] == k["confusion_matrix"]


def test_evaluate_a_tflite_without_tensorflow(float32_tflite, synthetic_splits, tmp_path):
    out = tmp_path / "m.json"
    code = (
        "import sys\n"
        "for n in ('tensorflow', 'keras', 'tf_keras'): sys.modules[n] = None\n"
        "from sentilite.app.cli import main\n"
        "try:\n"
        f"    main(['evaluate', {str(float32_tflite)!r}, '--data', {str(synthetic_splits['test'])!r}, '--json', "
        f"{str(out)!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "assert sys.modules.get('tensorflow') is None\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "3-class accuracy" in proc.stdout and "2-class" in proc.stdout
    assert json.loads(out.read_text())["format"] == "tflite"


def test_evaluate_and_train_reject_a_bad_split_with_one_line(trained_run, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a.jpg 0\nb.jpg 7\nc.jpg\n")
    for args in (
        ["evaluate", str(trained_run.model_path), "--data", str(bad)],
        [
            "train",
            "--data",
            str(bad),
            "--backbone",
            "student",
            "--out",
            str(tmp_path / "r"),
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    ):
        proc = subprocess.run([sys.executable, "-m", "sentilite", *args], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr
        err = proc.stderr.strip().splitlines()
        assert len(err) == 1 and "line 2 'b.jpg 7'" in err[0] and "Fix:" in err[0], err


# -- kill and resume -------------------------------------------------------------------------------


def _train_cmd(splits, out, cache, epochs):
    return [
        sys.executable,
        "-m",
        "sentilite",
        "train",
        "--data",
        str(splits["train"]),
        "--val",
        str(splits["val"]),
        "--backbone",
        "student",
        "--input-size",
        "48",
        "--mode",
        "ft-a",
        "--preset",
        "replication",
        "--epochs",
        str(epochs),
        "--batch-size",
        "8",
        "--dropout",
        "0",
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
    ]


def test_a_sigterm_whose_exception_was_swallowed_still_stops_training_at_the_next_checkpoint():
    from sentilite.train.rundir import raise_if_terminated, sigterm_as_interrupt

    with sigterm_as_interrupt():
        raise_if_terminated()  # no signal yet: nothing happens
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises in here
        except KeyboardInterrupt:
            pass  # what a finaliser or a `finally: return` in library code does with it
        with pytest.raises(KeyboardInterrupt):
            raise_if_terminated()  # the loop's check after each epoch's checkpoint
    raise_if_terminated()  # cleared on the way out: the next run in this process starts clean


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_resume_after_killing_a_training_process(synthetic_splits, tmp_path, sig):
    """Kill a real training process after its second epoch; --resume finishes it with the same
    optimizer state, schedule and sample order, giving the model an uninterrupted run gives."""
    epochs = 7  # the replication schedule divides the lr by 10 after epoch 5: the resumed part must follow it
    out = tmp_path / "killed"
    env = {**os.environ, "SENTILITE_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        _train_cmd(synthetic_splits, out, tmp_path / "cache", epochs),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state = out / "checkpoint" / "state.json"
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = len(json.loads(state.read_text())["history"])
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 2:
            proc.send_signal(sig)
            break
        time.sleep(0.01)
    _, stderr = proc.communicate(timeout=120)
    assert done >= 2 and proc.returncode != 0, f"not killed mid-run (rc {proc.returncode}): {stderr[-2000:]}"
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and "--resume" in stderr.strip().splitlines()[-1]
    killed_at = len(json.loads(state.read_text())["history"])
    assert 2 <= killed_at < epochs
    # What a kill mid-write leaves behind: --resume removes it.
    leftovers = [
        out / "checkpoint" / "ckpt-0-9.part.weights.h5",
        out / "model.part.keras",
        out / ".metrics.json.x1y2.part",
    ]
    for p in leftovers:
        p.write_bytes(b"half")

    resumed = subprocess.run(
        [sys.executable, "-m", "sentilite", "train", "--resume", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    history = json.loads((out / "metrics.json").read_text())
    rows = [line.split(",") for line in (out / "history.csv").read_text().splitlines()[1:]]
    assert [int(r[0]) for r in rows] == list(range(1, epochs + 1))
    assert [float(r[4]) for r in rows] == pytest.approx([1e-3] * 5 + [1e-4] * (epochs - 5))
    assert history["training"]["sessions"] == 2
    assert f"resuming {out}" in (out / "train.log").read_text()
    assert not any(p.exists() for p in leftovers) and "half-written file(s)" in (out / "train.log").read_text()

    # The same run without interruption reaches the same model.
    straight = tmp_path / "straight"
    subprocess.run(
        _train_cmd(synthetic_splits, straight, tmp_path / "cache", epochs) + ["--quiet"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    a = [line.split(",")[5] for line in (straight / "history.csv").read_text().splitlines()[1:]]
    b = [r[5] for r in rows]
    assert np.allclose(np.array(a, float), np.array(b, float), rtol=1e-4, atol=1e-6)


# -- real data -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.shared
def test_two_phase_on_a_small_emotion6_subset_with_the_shared_backbone(tmp_path):
    require_shared(EMOTION6, MOBILENET_FILE)
    from sentilite.core.datasets import read_split_file

    def subset(name, n):
        ds = read_split_file(EMOTION6 / f"sentiment_{name}.txt").balanced_sample(n, seed=0)
        path = tmp_path / f"{name}.txt"
        path.write_text("".join(f"{s.path} {s.label}\n" for s in ds))
        return path

    cfg = tiny_config(
        {"train": subset("train", 24), "val": subset("val", 12)},
        tmp_path / "run",
        tmp_path / "cache",
        backbone_file=str(MOBILENET_FILE),
        feature_layer="gap",
        input_size=None,
        backbone="mobilenet_v2",
        mode="two-phase",
        epochs=1,
        batch_size=8,
        test=str(subset("test", 12)),
    )
    result = train_model(cfg)
    contract = read_contract(result.model_path)
    assert (contract.height, contract.norm.name) == (224, "imagenet")
    assert contract.provenance["feature_layer"] == "gap"
    assert result.metrics["test"]["n"] == 12 and result.metrics["test"]["polar"] is not None
    assert result.metrics["model_size"]["backbone_parameters"] > 2_000_000


def test_resume_of_a_finished_run_returns_it(trained_run):
    again = resume_training(trained_run.run_dir, verbose=False)
    assert again.metrics["val"] == trained_run.metrics["val"]
