"""What a conversion produced, as one typed record that can render its own table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .records import ConvertReport
from .report import render_markdown


@dataclass
class ConversionResult:
    """What :func:`~sentilite.convert.api.convert_model` produced. ``report`` is the content of report.json."""

    out_dir: Path
    variants: dict[str, Path]
    report_md: Path
    report_json: Path
    report_csv: Path
    plots: dict[str, Optional[Path]]
    recommended: Optional[str]
    recommendation: str
    warnings: list[str]
    report: ConvertReport = field(repr=False)

    @property
    def recommended_path(self) -> Optional[Path]:
        return self.variants.get(self.recommended) if self.recommended else None

    def markdown(self, title: bool = True) -> str:
        """The report as Markdown (what report.md holds); ``title=False`` drops the heading line."""
        text = render_markdown(self.report)
        return text if title else text.split("\n", 1)[1].strip()

    def table(self) -> str:
        """A short terminal table: one line per model (Keras first) with size, accuracy, agreement, latency."""
        lines = [f"{'variant':13s} {'size MB':>8s} {'acc %':>6s} {'Δ pts':>6s} {'agree %':>7s} {'ms':>7s}"]
        for r in self.report["rows"]:
            if "error" in r:
                lines.append(f"{r['variant']:13s} {r['size_bytes'] / 1e6:8.2f}  error: {r['error']}")
                continue
            delta, agree = r.get("accuracy_delta_pts"), r.get("top1_agreement")
            lines.append(
                f"{r['variant']:13s} {r['size_bytes'] / 1e6:8.2f} {100 * r['accuracy']:6.1f} "
                f"{'' if delta is None or r['variant'] == 'keras' else f'{delta:+.1f}':>6s} "
                f"{'' if agree is None else f'{100 * agree:.1f}':>7s} {r['latency_ms']:7.2f}"
            )
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "variants": {k: str(v) for k, v in self.variants.items()},
            "report_md": str(self.report_md),
            "report_json": str(self.report_json),
            "report_csv": str(self.report_csv),
            "plots": {k: str(v) if v else None for k, v in self.plots.items()},
            "recommended": self.recommended,
            "recommended_path": str(self.recommended_path) if self.recommended_path else None,
            "recommendation": self.recommendation,
            "warnings": list(self.warnings),
        }
