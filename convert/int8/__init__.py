"""The int8 wing of the converter: why a full-integer file strays from its Keras model, and repairs.

The pipeline (``convert/api.py``, ``convert/report.py``) enters it through the names below only:

- diagnosis: :func:`layer_errors` (per-layer error of the int8 file, QuantizationDebugger) and
  :func:`worst`;
- repair: :func:`needs_repair` (when to try), :func:`repair_budget` (the seconds they get) and
  :func:`try_repairs` (every candidate scored like a variant, the winner kept);
- report: :func:`int8_section`, :func:`plot_layer_errors`, :data:`LAYER_PLOT_FILE`, and Model
  Explorer's overlay of the per-layer error (:func:`write_error_overlay`, :data:`OVERLAY_FILE`).

Inside: ``graph`` (the flat layer graph the rewrites share), ``equalize`` (cross-layer
equalisation), ``rounding`` (output-aware weight rounding), ``qat`` + ``qat_layers``
(quantisation-aware fine-tuning), ``repair`` (the candidates and the winner rule).
"""

from .budget import repair_budget
from .layer_errors import layer_errors, worst
from .repair import needs_repair, try_repairs
from .report import LAYER_PLOT_FILE, OVERLAY_FILE, int8_section, plot_layer_errors, write_error_overlay

__all__ = [
    "LAYER_PLOT_FILE",
    "OVERLAY_FILE",
    "int8_section",
    "layer_errors",
    "needs_repair",
    "repair_budget",
    "plot_layer_errors",
    "try_repairs",
    "worst",
    "write_error_overlay",
]
