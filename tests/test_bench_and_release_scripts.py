"""The bench/ and release/ scripts run from a clone as ``python -m bench.NAME`` (or release.NAME):
each answers --help, none edits sys.path or imports from tests/, the shell scripts parse and
call only modules and commands that exist, and the cheap ones run on a tiny model.

A script nobody runs rots silently; this is what runs them."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(
    p
    for folder in ("bench", "release")
    for p in (REPO / folder).glob("*.py")
    if '__name__ == "__main__"' in p.read_text()
)
SHELL = sorted(p for folder in ("bench", "release") for p in (REPO / folder).glob("*.sh"))


def module(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)


def test_every_script_is_found():
    assert len(SCRIPTS) >= 20 and len(SHELL) >= 2, (SCRIPTS, SHELL)
    assert (REPO / "bench" / "README.md").is_file()


@pytest.mark.parametrize("script", SCRIPTS, ids=module)
def test_each_script_answers_help(script):
    proc = run("-m", module(script), "--help", timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stderr[-2000:]


@pytest.mark.parametrize(
    "script", sorted((REPO / "bench").glob("*.py")) + sorted((REPO / "release").glob("*.py")), ids=module
)
def test_no_script_edits_sys_path_or_imports_the_tests(script):
    tree = ast.parse(script.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            pytest.fail(f"{script.name}:{node.lineno} touches sys.path")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            assert not any(
                n.split(".")[0] in ("tests", "conftest", "modelkit", "trainkit", "servekit") or n.startswith("test_")
                for n in names
            ), f"{script.name}:{node.lineno} imports from tests/"


@pytest.mark.parametrize("script", SHELL, ids=lambda p: p.name)
def test_shell_scripts_parse_and_call_what_exists(script):
    from sentilite.app.cli import COMMANDS

    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    for mod in re.findall(r"python -m ((?:bench|release)\.\w+)", text):
        assert (REPO / (mod.replace(".", "/") + ".py")).is_file(), f"{script.name} calls {mod}, which does not exist"
    for cmd in re.findall(r"^\s*(?:\S+=\S+ )*sentilite (\w+)", text, re.M):
        assert cmd in COMMANDS, f"{script.name} calls `sentilite {cmd}`, which does not exist"


def test_the_cheap_benches_run_on_a_tiny_model(tiny_variants, synthetic_splits):
    """tta, resize_flips and class_rates, end to end, on the tiny model and 12 synthetic photos."""
    val = str(synthetic_splits["val"])
    tta = run("-m", "bench.tta", "--model", str(tiny_variants["int8"]), "--data", val)
    assert tta.returncode == 0 and "TTA flip" in tta.stdout and "latency" in tta.stdout, tta.stderr[-2000:]
    flips = run("-m", "bench.resize_flips", "--model", str(tiny_variants["int8"]), "--data", val)
    assert flips.returncode == 0 and "of answers change" in flips.stdout, flips.stderr[-2000:]
    rates = run("-m", "bench.class_rates", str(tiny_variants["float32"]), str(tiny_variants["int8"]), "--data", val)
    assert rates.returncode == 0 and all(c in rates.stdout for c in ("negative", "neutral", "positive")), rates.stderr[
        -2000:
    ]


def test_data_split_is_stratified_seeded_and_reproducible(synthetic_splits, tmp_path):
    """`sentilite data split` (formerly bench/split_list.py, used by release/make_default_model.sh)."""
    from sentilite.core.datasets import read_split_file

    outs = []
    for name in ("a", "b"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "sentilite",
                "data",
                "split",
                str(synthetic_splits["train"]),
                "--fraction",
                "0.2",
                "--seed",
                "3",
                "--out",
                str(tmp_path / name),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(((tmp_path / name / "train.txt").read_text(), (tmp_path / name / "val.txt").read_text()))
    assert outs[0] == outs[1]
    full = read_split_file(synthetic_splits["train"])
    train, val = read_split_file(tmp_path / "a" / "train.txt"), read_split_file(tmp_path / "a" / "val.txt")
    assert sorted(str(s.path) for s in train.samples + val.samples) == sorted(
        str(Path(s.path).resolve()) for s in full.samples
    )
    per_class = {c: sum(s.label == c for s in full.samples) for c in (0, 1, 2)}
    assert {c: sum(s.label == c for s in val.samples) for c in (0, 1, 2)} == {
        c: round(0.2 * n) for c, n in per_class.items()
    }


def test_the_card_carries_each_extra_head_with_its_measured_figures(three_head_files, tmp_path):
    """release.model_card lists the model's extra heads in its contract's order, each with the
    figures bench.bundled_model measured on the shipped file, and the card page renders them.
    Planted defects: figures dropped, or a head left off the card or the page: red."""
    import importlib.util
    import json
    import shutil

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(three_head_files[2], run_dir / "model.keras")
    emo = {"kl": 0.412, "cosine": 0.823, "chebyshev": 0.25, "intersection": 0.66, "top1": 0.571, "n": 199}
    reg = {"pearson_r": 0.734, "ccc": 0.7, "mae": 0.9}
    figures = tmp_path / "bundled_model.json"
    figures.write_text(json.dumps({"new": {"heads": {"emotions": emo, "valence": reg, "arousal": reg}}}))
    code = (
        "import json, sys; from pathlib import Path; from release.model_card import heads; "
        "print(json.dumps(heads(Path(sys.argv[1]), Path(sys.argv[2]))))"
    )
    proc = run("-c", code, str(run_dir), str(figures))
    assert proc.returncode == 0, proc.stderr[-2000:]
    entries = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [e["name"] for e in entries] == ["emotions", "valence_arousal"]
    assert entries[0]["labels"][0] == "anger" and entries[0]["emotion6_test_int8"]["emotions"]["kl"] == 0.412
    assert entries[1]["emotion6_test_int8"]["valence"]["pearson_r"] == 0.734 and entries[1]["scale"] == [1, 9]
    spec = importlib.util.spec_from_file_location("card_hook", REPO / "docs" / "hooks" / "model_card.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = "\n".join(hook._head(e) for e in entries)
    assert "kl 0.412" in page and "top1 0.571" in page and "valence pearson_r 0.734" in page


def test_a_recovered_models_card_keeps_the_previous_files_training_and_names_the_heads_run():
    """A bundled model whose sentiment weights were recovered from the previous file
    (release/recover_keras.py) has no sentiment training of its own: its card carries the previous
    card's training facts, says where the weights came from, and adds how the extra heads were
    trained. Planted defect: the heads run's facts reported as the sentiment training: red."""
    from release.recovered_card import recovered_training as _recovered

    previous = {
        "training": {"mode": "ft-a", "epochs_run": 9, "data": [{"name": "Emotion6"}], "cross_validation": []},
        "decision_rule": {"temperature": 0.732},
    }
    metrics = {
        "config": {"mode": "ft-f", "preset": "adam-cosine", "data": ["e6.txt"]},
        "training": {"epochs": 60, "wall_seconds": 215.4},
    }
    block = _recovered(previous, metrics, [{"recipe": "all-partial"}], {"file": "old.tflite", "sha256": "ab"})
    assert block["mode"] == "ft-a" and block["epochs_run"] == 9 and block["data"] == [{"name": "Emotion6"}]
    assert block["recovered_from"]["sha256"] == "ab" and "recover_keras" in block["recovered_from"]["note"]
    assert block["extra_heads"]["mode"] == "ft-f" and block["extra_heads"]["epochs_run"] == 60
    assert block["cross_validation"] == [{"recipe": "all-partial"}] and "PREVIOUS_INT8" in block["reproduce"]
    import importlib.util

    spec = importlib.util.spec_from_file_location("card_hook", REPO / "docs" / "hooks" / "model_card.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    rows = dict(hook._recovered_rows(block))
    assert "recover_keras" in rows["sentiment weights"] and "60 epochs" in rows["extra heads' training"]
    # recovered again from that file: the card still names the file whose training it carries
    again = _recovered({**previous, "training": block}, metrics, [], {"file": "new.tflite", "sha256": "cd"})
    assert again["mode"] == "ft-a" and again["recovered_from"]["sha256"] == "cd"
    assert [e["sha256"] for e in again["recovered_from"]["earlier"]] == ["ab"] and "earlier" in again["recovered_from"][
        "note"
    ]
    third = _recovered({**previous, "training": again}, metrics, [], {"file": "newer.tflite", "sha256": "ef"})
    assert [e["sha256"] for e in third["recovered_from"]["earlier"]] == ["cd", "ab"]
    assert "old.tflite" in dict(hook._recovered_rows(third))["sentiment weights"]
