"""The shapes of the records a conversion passes between its steps and writes into report.json.

Each is a ``TypedDict``: at run time a plain dict (report.json is unchanged), for a reader and a
type checker the keys its producer writes. Rows are built step by step (validation, then the
comparisons, then the recommendation), hence ``total=False``.
"""

from __future__ import annotations

from typing import Optional, TypedDict, Union


class KernelCheck(TypedDict, total=False):
    """One other kernel library (builtin, reference) against XNNPACK on the first images."""

    images: int
    top1_agreement: float
    max_abs_diff: float
    error: str


class HeadCheck(TypedDict, total=False):
    """One extra head of a variant against the same head of the Keras model (convert.head_checks)."""

    kind: str
    top1_agreement: float  # distribution heads
    mean_abs_diff: float
    mae: float  # regression heads, on the head's scale
    mae_per_value: dict[str, float]
    mean_cosine: float  # embedding heads
    min_cosine: float


class VariantRow(TypedDict, total=False):
    """One variant (or the Keras reference) as validated on the evaluation images."""

    variant: str
    file: str
    path: str
    size_bytes: int
    sha256: str
    convert_s: float
    input: str
    output: str
    runtime: str
    contract_warnings: list[str]
    error: str
    # score(): accuracy on the labels, and agreement with Keras (core.metrics.agreement)
    n: int
    accuracy: float
    macro_f1: float
    polar_accuracy: float
    f1: dict[str, float]
    confusion_matrix: list[list[int]]
    predicted_classes: int
    prediction_counts: list[int]
    top1_agreement: float
    top1_agreement_ci95: list[float]
    mean_abs_diff: float
    max_abs_diff: float
    flips: int
    near_ties: int
    flips_at_near_ties: int
    kernels: dict[str, KernelCheck]
    heads: dict[str, HeadCheck]  # multi-head models: each extra head against Keras's
    # validation.median_latency_ms / interleaved_latency
    latency_ms: float
    latency_p90_ms: float
    latency_runs: int
    latency_ci95: Optional[list[float]]
    # checks.add_comparisons
    accuracy_delta_pts: float
    compression_vs_keras: float
    size_vs_float32: float
    speed_vs_float32: float
    size_mb: float
    collapsed: bool
    within_tolerance: bool


class RepairRow(VariantRow, total=False):
    """One int8 repair candidate: a variant row, what was done, and what it cost."""

    repair: str
    skipped: bool  # not started: it would not have fitted in --repair-budget
    seconds: float
    equalize: dict[str, object]
    qat: dict[str, object]


class RepairBlock(TypedDict, total=False):
    """report.json's ``int8_layers.repair``: the candidates tried, the one kept, the budget."""

    ran: bool
    why: str
    rows: list[RepairRow]
    kept: Optional[str]
    float32_timing: Optional[dict[str, float]]
    budget_s: Optional[float]
    budget_from: str  # the flags that set budget_s
    spent_s: float
    order: list[str]


class LayerError(TypedDict, total=False):
    """One quantised tensor of the int8 file, as TFLite's quantization debugger measures it."""

    position: int
    op: str
    tensor: str
    scale: float
    rmse_over_std: float
    snr_db: float
    rmse_over_std_calibration: float
    snr_db_calibration: float


class ConvertReport(TypedDict, total=False):
    """report.json: what was converted, how, and how every variant did."""

    format: str
    version: int
    created: str
    model: dict[str, Union[str, int]]
    contract: dict[str, object]
    contract_text: str
    keras_contract: dict[str, object]
    host: dict[str, object]
    settings: dict[str, object]
    calibration: dict[str, object]
    bias_correction: Optional[dict[str, object]]
    evaluation: dict[str, object]
    rows: list[VariantRow]
    recommendation: dict[str, object]
    warnings: list[str]
    calibration_sweep: Optional[dict[str, object]]
    notes: list[str]
    variant_descriptions: dict[str, str]
    files: dict[str, object]
    timings: dict[str, float]
    steps: list[dict[str, Union[str, float]]]  # convert/steps.py: each step's seconds and peak RSS
    int8_layers: Optional[dict[str, object]]
