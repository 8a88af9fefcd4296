"""Training at scale: tf.distribute (mirrored, two real multi-worker processes on 127.0.0.1),
mixed precision, and packs (sharded TFRecord caches) streamed into training.

Each run is a real `sentilite train` process (a strategy must be created before TensorFlow
starts, once per process), on a tiny student network (no BatchNorm, dropout off, no
augmentation where runs are compared), 60 synthetic images, global batch 20.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from sentilite.core.synthetic import make_synthetic_dataset

    folder = tmp_path_factory.mktemp("dist")
    splits = make_synthetic_dataset(folder / "data", per_class=(30, 30, 30))
    lines = splits["train"].read_text().splitlines()[:60]  # 3 whole global batches of 20
    (folder / "data" / "train60.txt").write_text("\n".join(lines) + "\n")
    return {"root": folder / "data", "train": folder / "data" / "train60.txt", "val": splits["val"]}


def common(data, out: Path, epochs: int = 2, *extra: str) -> list[str]:
    return [
        "--data",
        str(data["train"]),
        "--val",
        str(data["val"]),
        "--root",
        str(data["root"]),
        "--backbone",
        "student",
        "--weights",
        "none",
        "--mode",
        "ft-a",
        "--preset",
        "adam-cosine",
        "--epochs",
        str(epochs),
        "--patience",
        "50",
        "--batch-size",
        "20",
        "--dropout",
        "0",
        "--no-augment",
        "--cache-dir",
        "none",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


class Worker:
    """A training process whose output goes to a file: a pipe nobody reads while another worker
    is waited for fills up, blocks the process, and stalls the whole job."""

    def __init__(self, cmd: list[str], env: dict, log: Path) -> None:
        self.log = log
        with open(log, "w") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, text=True, env=env)

    def wait(self, timeout: float = 300) -> tuple[int, str]:
        rc = self.proc.wait(timeout=timeout)
        return rc, self.log.read_text()


def train(args: list[str], env: dict | None = None, wait: bool = True):
    cmd = [sys.executable, "-m", "sentilite", "train", *args]
    full_env = {**os.environ, **(env or {})}
    if not wait:
        out = Path(args[args.index("--resume") + 1] if "--resume" in args else args[args.index("--out") + 1])
        index = args[args.index("--worker-index") + 1] if "--worker-index" in args else "0"
        return Worker(cmd, full_env, out.parent / f"{out.name}-w{index}-{time.monotonic_ns()}.log")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def weights(path: Path) -> list[np.ndarray]:
    from sentilite.core.tf_import import import_keras

    return import_keras().saving.load_model(path, compile=False).get_weights()


def history(run: Path) -> list[dict]:
    return json.loads((run / "checkpoint" / "state.json").read_text())["history"]


@pytest.mark.parametrize("extra", [(), ("--ema", "0.9")], ids=["plain", "ema"])
def test_mirrored_over_two_logical_cpus_matches_one_device(extra, data, tmp_path):
    train(common(data, tmp_path / "one", 2, *extra))
    train(common(data, tmp_path / "two", 2, "--strategy", "mirrored", *extra), env={"SENTILITE_LOGICAL_CPUS": "2"})
    log = (tmp_path / "two" / "train.log").read_text()
    assert "mirrored strategy over 2 device(s): global batch 20 = 10 per replica x 2 replicas" in log
    for a, b in zip(history(tmp_path / "one"), history(tmp_path / "two")):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4) and a["val_loss"] == pytest.approx(
            b["val_loss"], rel=1e-4
        )
    for wa, wb in zip(weights(tmp_path / "one" / "model.keras"), weights(tmp_path / "two" / "model.keras")):
        np.testing.assert_allclose(wa, wb, atol=2e-5)
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())["training"]
    assert metrics["strategy"].startswith("mirrored") and metrics["devices"][0]["type"] == "CPU"


def _two_workers(data, out: Path, epochs: int, ports: list[int], resume: bool = False):
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    procs = []
    for i in range(2):
        args = (
            ["--resume", str(out), "--worker-index", str(i), "--quiet"]
            if resume
            else common(
                data, out, epochs, "--strategy", "multi-worker", "--worker-hosts", hosts, "--worker-index", str(i)
            )
        )
        procs.append(train(args, wait=False))
    return procs


def test_two_workers_on_loopback_train_and_end_with_identical_weights(data, tmp_path):
    out = tmp_path / "mw"
    for w in _two_workers(data, out, 1, free_ports(2)):
        rc, text = w.wait()
        assert rc == 0, text[-3000:]
    assert (out / "model.keras").is_file() and not (out / "worker-1" / "model.keras").exists()  # the chief writes it
    chief, helper = (
        json.loads((d / "checkpoint" / "state.json").read_text())["weights"] for d in (out, out / "worker-1")
    )
    from sentilite.core.tf_import import import_keras

    model = import_keras().saving.load_model(out / "model.keras", compile=False)
    mine = []
    for folder, name in ((out, chief), (out / "worker-1", helper)):
        model.load_weights(folder / "checkpoint" / name)
        mine.append(model.get_weights())
    for a, b in zip(*mine):
        np.testing.assert_array_equal(a, b)
    log = (out / "train.log").read_text()
    assert "multi-worker strategy over 2 worker(s) x 1 device(s): global batch 20 = 10 per replica x 2 replicas" in log


def test_a_killed_worker_job_continues_from_the_last_checkpoint(data, tmp_path):
    out = tmp_path / "mwk"
    ports = free_ports(2)
    chief, helper = _two_workers(data, out, 40, ports)
    state = out / "checkpoint" / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if state.is_file() and len(json.loads(state.read_text())["history"]) >= 2:
            break
        time.sleep(0.2)
    helper.proc.send_signal(signal.SIGKILL)
    rc, err = chief.wait(180)
    helper.wait(60)
    assert rc == 130 and "A peer worker stopped answering" in err and "--resume" in err, err[-2000:]
    done = len(json.loads(state.read_text())["history"])
    assert 2 <= done < 40
    ends = [w.wait() for w in _two_workers(data, out, 40, ports, resume=True)]
    assert [rc for rc, _ in ends] == [0, 0], "\n----\n".join(text[-2000:] for _, text in ends)
    metrics = json.loads((out / "metrics.json").read_text())["training"]
    assert metrics["epochs"] == 40 and metrics["sessions"] == 2
    assert f"resuming {out}: phase 1, {done} epoch(s) done" in (out / "train.log").read_text()


def test_mixed_precision_trains_in_16_bits_and_saves_a_float32_model(data, tmp_path):
    train(common(data, tmp_path / "mp", 1, "--precision", "mixed_float16"))
    metrics = json.loads((tmp_path / "mp" / "metrics.json").read_text())["training"]
    assert metrics["precision"] == "mixed_float16"
    from sentilite.core.tf_import import import_keras

    model = import_keras().saving.load_model(tmp_path / "mp" / "model.keras", compile=False)
    policies = {layer.dtype_policy.name for layer in model._flatten_layers()}
    assert policies == {"float32"} and model.output.dtype == "float32"


def test_mixed_precision_model_computes_in_float16_with_float32_logits():
    code = """
from sentilite.train.config import TrainConfig
from sentilite.train.backbones import build_backbone
from sentilite.train.model import assemble
from sentilite.train.precision import set_policy
from sentilite.core.tf_import import import_keras
keras = import_keras()
set_policy(keras, "mixed_float16")
bb = build_backbone(TrainConfig(data=["x"], backbone="student", weights="none"))
sm = assemble(bb, 3, 0.0, precision="mixed_float16")
convs = [l for l in sm.backbone._flatten_layers() if l.__class__.__name__ == "Conv2D"]
print(sorted({l.compute_dtype for l in convs}), sm.head.get_layer("logits").compute_dtype, sm.model.output.dtype)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "['float16'] float32 float32"


@pytest.fixture(scope="module")
def packs(data, tmp_path_factory):
    """The 60 training images plus an unreadable one, packed as raw pixels and as JPEG (64 px)."""
    from sentilite.core.contract import PreprocessContract
    from sentilite.train.pack import PackOptions, pack_split

    folder = tmp_path_factory.mktemp("packs")
    split = folder / "with_missing.txt"
    split.write_text(data["train"].read_text() + "images/nope/missing.jpg 1\n")
    contract = PreprocessContract.create(64, "symmetric", interpolation="warp_linear")
    made = {
        fmt: pack_split(split, folder / fmt, contract, PackOptions(fmt, shard_size=16, processes=2), root=data["root"])
        for fmt in ("raw", "jpeg")
    }
    return {"folder": folder, "contract": contract, "manifests": made}


def _streamed(pack: Path, contract) -> tuple[np.ndarray, np.ndarray]:
    """Every record of a pack as the training pipeline decodes it, in pack order."""
    from sentilite.core.tf_import import import_tensorflow
    from sentilite.train.stream import PackedSource

    src = PackedSource([str(pack)], contract.labels).check(contract)
    records = list(src.records(import_tensorflow(), src.files, cycle=1).as_numpy_iterator())
    return np.stack([r[0] for r in records]), np.array([r[1] for r in records])


def test_a_pack_round_trips_to_what_direct_decoding_gives(data, packs):
    """raw: the very pixels the contract gives; JPEG: within JPEG's loss; unreadable images counted."""
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.preprocess import resize_to_contract

    contract = packs["contract"]
    samples = read_split_file(data["train"], data["root"]).samples
    direct = np.stack([resize_to_contract(load_image(s.path), contract) for s in samples])
    for fmt, manifest in packs["manifests"].items():
        assert (
            manifest["records"] == 60 and manifest["n_skipped"] == 1 and "missing.jpg" in manifest["skipped"][0]["path"]
        )
        assert len(manifest["shards"]) == 4 and manifest["input"]["interpolation"] == "warp_linear"
        pixels, labels = _streamed(packs["folder"] / fmt, contract)
        np.testing.assert_array_equal(labels, [s.label for s in samples])
        if fmt == "raw":
            np.testing.assert_array_equal(pixels, direct)
        else:
            diff = np.abs(pixels.astype(int) - direct.astype(int))
            # q95 4:4:4 on these noise-textured synthetic images (a worst case):
            # 2.0 levels mean, 8 at the 99th percentile
            assert diff.mean() < 2.5 and np.percentile(diff, 99) <= 10, (diff.mean(), np.percentile(diff, 99))
    raw_mb = sum((packs["folder"] / "raw" / s["file"]).stat().st_size for s in packs["manifests"]["raw"]["shards"])
    jpeg_mb = sum((packs["folder"] / "jpeg" / s["file"]).stat().st_size for s in packs["manifests"]["jpeg"]["shards"])
    assert jpeg_mb < raw_mb / 2


def test_training_streams_a_pack_and_refuses_a_mismatched_one(data, packs, tmp_path):
    pack = packs["folder"] / "raw"
    args = [
        "--data",
        str(pack),
        "--val",
        str(data["val"]),
        "--root",
        str(data["root"]),
        "--backbone",
        "student",
        "--weights",
        "none",
        "--mode",
        "two-phase",
        "--epochs",
        "1",
        "--batch-size",
        "20",
        "--quiet",
    ]
    train([*args, "--out", str(tmp_path / "ok")])
    log = (tmp_path / "ok" / "train.log").read_text()
    assert "train: 60 images streamed from 4 shard(s) of 1 pack(s) (raw)" in log and "ft-f from a pack" in log
    bad = subprocess.run(
        [sys.executable, "-m", "sentilite", "train", *args, "--interpolation", "area", "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "was packed for" in bad.stderr and "re-pack it" in bad.stderr
    mixed = subprocess.run(
        [sys.executable, "-m", "sentilite", "train", *args, "--data", str(data["train"]), "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert mixed.returncode != 0 and "cannot be mixed" in mixed.stderr


def test_pack_cli_reports_and_never_leaves_a_half_pack(data, tmp_path):
    from click.testing import CliRunner

    from sentilite.app.cli import cli

    empty = tmp_path / "none.txt"
    empty.write_text("images/nope/a.jpg 0\nimages/nope/b.jpg 2\n")
    res = CliRunner().invoke(
        cli, ["data", "pack", str(empty), "--root", str(data["root"]), "--out", str(tmp_path / "p"), "--processes", "1"]
    )
    assert res.exit_code != 0 and "None of the 2 images" in res.output
    assert not (tmp_path / "p").exists() and not (tmp_path / "p.part").exists()
    res = CliRunner().invoke(
        cli,
        [
            "data",
            "pack",
            str(data["val"]),
            "--root",
            str(data["root"]),
            "--out",
            str(tmp_path / "v"),
            "--size",
            "32",
            "--processes",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "packed 12 of 12 images into 1 shard(s)" in res.output and (tmp_path / "v" / "pack.json").is_file()
