"""The records of ``sentilite profile``: one row per op, one per op type, one per thread count.

``TypedDict``s: plain dicts in profile.json, a list of keys for a reader and a type checker.
"""

from __future__ import annotations

from typing import Optional, TypedDict

from .benchmark_ops import NativeOpRow, NativeTypeRow


class OpRow(TypedDict, total=False):
    """One op of the model, timed alone on the device."""

    index: int  # position in the model's execution order (Model Explorer's node order)
    op: str  # builtin name: CONV_2D, DEPTHWISE_CONV_2D...
    layer: Optional[str]  # the Keras layer it came from, where the tensor names say
    outputs: list[str]  # output tensor names
    shape: list[int]  # first output's shape
    dtype: str  # first output's type
    macs: int  # multiply-accumulates per invoke
    ms: Optional[float]  # own time: the one-op model's median less the per-invoke overhead
    raw_ms: Optional[float]  # the one-op model's median as measured
    runs_ms: list[Optional[float]]  # own time in each repeat (for the stability check)
    share: Optional[float]  # ms / the sum over all ops
    kernels: str  # "XNNPACK" when the delegate took the op, else the builtin (or reference) kernels
    gmacs_per_s: Optional[float]
    peak_share: Optional[float]  # achieved MAC/s / the CPU's nominal peak (cpu_peak.py)
    error: Optional[str]
    native_ms: Optional[float]  # benchmark_model's own time for this op (builtin-kernel rows of its op profile)


class OpTypeRow(TypedDict, total=False):
    """All ops of one type together."""

    op: str
    count: int
    ms: float
    share: float
    macs: int
    gmacs_per_s: Optional[float]
    peak_share: Optional[float]
    on_xnnpack: int  # how many of them the delegate took


class Faithfulness(TypedDict, total=False):
    """How well the per-op times add up to the whole model's time, and why they differ."""

    whole_ms: Optional[float]  # the whole model's median (same process protocol as bench)
    sum_ms: float  # the sum of the ops' own times
    sum_raw_ms: float  # the sum of the one-op medians before the overhead is taken off
    overhead_ms: Optional[float]  # one invoke() of a one-element ADD: the fixed cost per call
    gap: Optional[float]  # sum_ms / whole_ms - 1
    within_10pct: Optional[bool]
    top10_same: Optional[int]  # ops shared by the top-10 lists of the first two repeats (10 = same)
    top10_same_or_tied: Optional[int]  # ... plus those tied (within 1 %) with the second list's 10th
    explanation: str


class NativeProfile(TypedDict, total=False):
    """benchmark_model's own op profile (``--enable_op_profiling``) of the whole model, first
    repeat: its rows, its total, and its op types beside sentilite's."""

    rows: list[NativeOpRow]
    sum_ms: float  # the rows' time per invoke
    whole_ms: Optional[float]  # that profiled run's mean (the profiler's own cost included)
    by_type: list[NativeTypeRow]
    per_op: bool  # rows name the file's ops (builtin kernels); else only op types compare


class ThreadProfile(TypedDict, total=False):
    """The profile at one thread count."""

    threads: int
    ops: list[OpRow]
    op_types: list[OpTypeRow]
    faithfulness: Faithfulness
    on_builtin: list[str]  # op types XNNPACK left to the builtin kernels (when XNNPACK was asked for)
    native: NativeProfile  # over adb with benchmark_model: its own op profile of the same file
