"""Result files other tools can read: JSON, CSV and Markdown tables, written atomically."""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Any, Callable, Sequence, Union

from .fsutil import atomic_write_json, atomic_write_text

PathLike = Union[str, os.PathLike]
#: (key in the row dict, column header, formatter for Markdown)
Column = tuple[str, str, Callable[[Any], str]]


def fmt_float(digits: int = 3) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return f"{v:.{digits}f}" if isinstance(v, (int, float)) else str(v)

    return f


def fmt_str(v: Any) -> str:
    return "–" if v is None else str(v)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(f(r.get(k)) for k, _, f in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body]) + "\n"


def csv_text(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(keys), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    return buf.getvalue()


def write_csv(path: PathLike, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    atomic_write_text(path, csv_text(rows, keys))


def write_json(path: PathLike, obj: Any) -> None:
    atomic_write_json(path, obj)


def write_markdown(path: PathLike, text: str) -> None:
    atomic_write_text(path, text)
