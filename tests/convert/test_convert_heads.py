"""convert/ on a multi-head model (issue 30): every variant keeps every head, each reader finds
each head by the output order the converter recorded, and each head is checked against Keras."""

from __future__ import annotations

import numpy as np
import pytest

from sentilite.convert.api import convert_model
from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.imageio import load_image
from sentilite.core.keras_classifier import KerasClassifier
from sentilite.core.modelfile import read_conversion_facts
from sentilite.core.runtime import make_interpreter


@pytest.fixture(scope="module")
def converted(three_head_files, synthetic_splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("convert-heads") / "out"
    return convert_model(
        three_head_files[2],
        calib=synthetic_splits["train"],
        eval=synthetic_splits["test"],
        out=out,
        calib_size=20,
        latency_runs=3,
        repair="never",
        layer_report=False,
    )


def test_every_variant_records_which_head_each_of_its_outputs_holds(converted):
    """The converter reorders outputs and names them StatefulPartitionedCall_1:<i>: the facts say
    which head each one is, read off the serving signature. Planted defect: recording the contract's
    order instead fails on the files whose outputs were reordered."""
    for variant, path in converted.variants.items():
        facts = read_conversion_facts(path)
        interp, _ = make_interpreter(path)
        widths = [int(d["shape"][-1]) for d in interp.get_output_details()]
        by_width = {3: "sentiment", 7: "emotions", 2: "valence_arousal"}
        assert facts["outputs"] == [by_width[w] for w in widths], variant
    # the classifier-bias correction finds the sentiment head's layer among the three
    assert read_conversion_facts(converted.variants["int8"])["bias_correction"]["applied"] is True


def test_every_variant_reads_every_head_like_keras(converted, three_head_files, synthetic_splits):
    keras = KerasClassifier(three_head_files[2])
    images = [load_image(p) for p in sorted((synthetic_splits["test"].parent / "images").rglob("*.jpg"))[:5]]
    for variant, path in converted.variants.items():
        clf = TFLiteClassifier(path)
        tol = 0.1 if "int8" in variant else 0.01
        for im in images:
            got, want = clf.read(im), keras.read(im)
            np.testing.assert_allclose(got.heads["emotions"], want.heads["emotions"], atol=tol)
            np.testing.assert_allclose(got.heads["valence_arousal"], want.heads["valence_arousal"], atol=8 * tol)


def test_the_report_checks_each_head_against_keras(converted):
    rows = {r["variant"]: r for r in converted.report["rows"]}
    assert "heads" not in rows["keras"]
    for variant in converted.variants:
        heads = rows[variant]["heads"]
        assert set(heads) == {"emotions", "valence_arousal"}
        assert heads["emotions"]["kind"] == "distribution" and 0.0 <= heads["emotions"]["top1_agreement"] <= 1.0
        assert heads["valence_arousal"]["mae"] >= 0.0 and set(heads["valence_arousal"]["mae_per_value"]) == {
            "valence",
            "arousal",
        }
    assert rows["float32"]["heads"]["emotions"]["top1_agreement"] == 1.0
    assert rows["float32"]["heads"]["valence_arousal"]["mae"] < 1e-3
    md = (converted.out_dir / "report.md").read_text()
    assert "## Extra heads against Keras" in md and "| float32 | top-1 agree 100.0 %" in md


def test_the_int8_alarm_rings_for_a_head_that_disagrees():
    from sentilite.convert.int8.repair import needs_repair

    row = {
        "accuracy": 0.9,
        "top1_agreement": 1.0,
        "heads": {"emotions": {"kind": "distribution", "top1_agreement": 0.9}},
    }
    assert needs_repair(row, 0.9, 2.0)
    row["heads"]["emotions"]["top1_agreement"] = 0.99
    assert not needs_repair(row, 0.9, 2.0)
    row["heads"]["valence_arousal"] = {"kind": "regression", "mae": 0.4}
    assert needs_repair(row, 0.9, 2.0)
