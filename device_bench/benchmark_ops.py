"""``benchmark_model --enable_op_profiling=true``: LiteRT's own per-op table, parsed, and set beside
sentilite's profile of the same file (issue 32: "on adb, benchmark_model --enable_op_profiling
where the binary is given").

The tool prints, after its latency report, an "Operator-wise Profiling Info for Regular Benchmark
Runs" section whose "Run Order" table has one row per profiled node (columns by header: older
builds add ``[start]``)::

    [node type]  [start]  [first]  [avg ms]  [%]  [cdf%]  [mem KB]  [times called]  [Name]
    CONV_2D      0.066    87.754   60.957    2.066%  ...            1               [Conv2d_0/Relu6]:0

A builtin-kernel row's name is ``[output tensors]:<op index>``: the op index is the file's, so it
joins sentilite's row for that op. With XNNPACK, newer builds profile inside the delegate: a row
per XNNPACK operator type and node (``Delegate/Convolution (NHWC, QC8) GEMM:2``), ``[avg ms]``
per call and ``[times called]`` calls per invoke; those join by op type only
(:data:`XNNPACK_TYPES`). Older builds show the delegate as one node (``TfLiteXNNPackDelegate``):
then only the whole is comparable, which is the problem per-op timing solves.
"""

from __future__ import annotations

import re
from typing import Optional, TypedDict

SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"

#: XNNPACK operator names (their text before the first " (") -> the TFLite op type they run
XNNPACK_TYPES = {
    "Convolution": "CONV_2D",  # refined to DEPTHWISE_CONV_2D by "DWConv" below
    "Fully Connected": "FULLY_CONNECTED",
    "Add": "ADD",
    "Multiply": "MUL",
    "Subtract": "SUB",
    "Mean": "MEAN",
    "Global Average Pooling": "MEAN",
    "Average Pooling": "AVERAGE_POOL_2D",
    "Max Pooling": "MAX_POOL_2D",
    "Softmax": "SOFTMAX",
    "Constant Pad": "PAD",
    "Clamp": "RELU6",
    "Copy": "RESHAPE",
    "Convert": "QUANTIZE",
    "Sigmoid": "LOGISTIC",
    "Resize Bilinear": "RESIZE_BILINEAR",
    "Concatenate": "CONCATENATION",
}

_NAME_RE = re.compile(r"^\[(.*)\]:(\d+)$")
_DELEGATE_NAME_RE = re.compile(r"^Delegate/(.+):(\d+)$")


class NativeOpRow(TypedDict):
    """One row of benchmark_model's run-order table, with its time per invoke."""

    node_type: str  # as printed: a TFLite op, an XNNPACK operator, or a whole delegate node
    op: str  # the TFLite op type it stands for ("" for a delegate node)
    avg_ms: float  # per call, as printed
    times_called: int  # calls per invoke
    ms: float  # avg_ms x times_called: its time in one invoke
    share: float  # of the table's total, 0..1
    name: str
    op_index: Optional[int]  # the file's op index (builtin-kernel rows only)
    inside_delegate: bool  # an XNNPACK operator profiled inside the delegate
    delegate_node: bool  # a whole delegate partition as one node (no per-op detail)


def _op_type(node_type: str, inside: bool) -> str:
    if node_type.startswith("TfLite") and node_type.endswith("Delegate"):
        return ""
    if not inside:
        return node_type
    head = node_type.split(" (")[0]
    if head == "Convolution" and "DWConv" in node_type:
        return "DEPTHWISE_CONV_2D"
    return XNNPACK_TYPES.get(head, head.upper().replace(" ", "_"))


def _columns(header: str) -> list[str]:
    return [c.strip().strip("[]").lower() for c in re.split(r"\t|\s{2,}", header.strip()) if c.strip()]


def _row(cells: list[str], cols: list[str]) -> Optional[NativeOpRow]:
    if len(cells) != len(cols):
        return None
    by = dict(zip(cols, cells))
    try:
        avg, called = float(by["avg ms"]), int(float(by["times called"]))
    except (KeyError, ValueError):
        return None
    name = by.get("name", "")
    node_type = by.get("node type", "")
    m_builtin, m_inside = _NAME_RE.match(name), _DELEGATE_NAME_RE.match(name)
    inside = m_inside is not None
    op = _op_type(node_type, inside)
    return {
        "node_type": node_type,
        "op": op,
        "avg_ms": avg,
        "times_called": called,
        "ms": avg * called,
        "share": 0.0,
        "name": name,
        "op_index": int(m_builtin.group(2)) if m_builtin and not inside else None,
        "inside_delegate": inside,
        "delegate_node": op == "",
    }


def parse_op_profile(text: str) -> list[NativeOpRow]:
    """The run-order rows of benchmark_model's per-op section ([] when the output has none: a
    build or a run without ``--enable_op_profiling``)."""
    lines = text.replace("\r", "").splitlines()
    start = next((i for i, ln in enumerate(lines) if SECTION in ln), None)
    if start is None:
        return []
    rows: list[NativeOpRow] = []
    cols: list[str] = []
    for ln in lines[start + 1 :]:
        if "[node type]" in ln and not cols:
            cols = _columns(ln)
            continue
        if not cols:
            continue
        if not ln.strip() or ln.lstrip().startswith("="):
            break  # the run-order table ends at its blank line ("Top by Computation Time" follows)
        cells = [c.strip() for c in re.split(r"\t|\s{2,}", ln.strip()) if c.strip()]
        row = _row(cells, cols)
        if row is not None:
            rows.append(row)
    total = sum(r["ms"] for r in rows)
    for r in rows:
        r["share"] = r["ms"] / total if total else 0.0
    return rows


class NativeTypeRow(TypedDict):
    """One op type: benchmark_model's time for it beside sentilite's, per invoke."""

    op: str
    native_ms: float
    native_share: float
    sentilite_ms: Optional[float]
    sentilite_share: Optional[float]


def by_type(native: list[NativeOpRow], ours: dict[str, float]) -> list[NativeTypeRow]:
    """Op types, largest first by benchmark_model's time, with sentilite's time for the same type
    (``ours``: op type -> ms per invoke) and each one's share of its own total."""
    acc: dict[str, float] = {}
    for r in native:
        key = r["op"] or r["node_type"]
        acc[key] = acc.get(key, 0.0) + r["ms"]
    n_total, o_total = sum(acc.values()) or 1.0, sum(ours.values()) or 1.0
    out: list[NativeTypeRow] = []
    for op, ms in sorted(acc.items(), key=lambda kv: -kv[1]):
        mine = ours.get(op)
        out.append(
            {
                "op": op,
                "native_ms": ms,
                "native_share": ms / n_total,
                "sentilite_ms": mine,
                "sentilite_share": None if mine is None else mine / o_total,
            }
        )
    return out
