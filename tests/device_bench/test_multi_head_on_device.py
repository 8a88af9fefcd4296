"""On-device evaluation and bench of a multi-head file (issue 30): the runner returns the output
that holds the sentiment head, whatever order the converter left the outputs in."""

from __future__ import annotations

import numpy as np

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.datasets import read_split_file
from sentilite.core.imageio import load_image
from sentilite.device_bench.models import describe_models
from sentilite.device_bench.options import BenchOptions
from sentilite.device_bench.remote_eval import evaluate_on_device


def test_device_evaluation_scores_the_sentiment_output_of_a_multi_head_file(three_head_files, synthetic_splits):
    """Planted defect: the runner returning output 0 (valence/arousal here) cannot be read as three
    probabilities, and the evaluation fails."""
    model = three_head_files[1]["int8"]
    clf = TFLiteClassifier(model)
    widths = [int(d["shape"][-1]) for d in clf.interpreter.get_output_details()]
    assert widths[0] != 3, "the fixture's converter order puts another head first"
    res = evaluate_on_device(model, synthetic_splits["test"], BenchOptions(device="local"))
    want = [clf.predict(load_image(s.path)) for s in read_split_file(synthetic_splits["test"]).samples]
    labels = np.array([s.label for s in read_split_file(synthetic_splits["test"]).samples])
    assert res["kernels"]["xnnpack"]["accuracy"] == float(np.mean(np.argmax(want, 1) == labels))
    assert res["kernels"]["xnnpack"]["top1_agreement_with_host"] == 1.0


def test_bench_describes_the_heads_of_a_multi_head_file(three_head_files, tiny_variants):
    facts = describe_models([three_head_files[1]["int8"], tiny_variants["int8"]])
    assert facts[0].describe()["heads"] == ["sentiment", "emotions", "valence_arousal"]
    assert facts[1].describe()["heads"] == ["sentiment"]
