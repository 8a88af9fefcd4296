"""``convert_model``: a .keras model -> every TFLite variant, validated, with its report.

The CLI (``sentilite convert``) and ``sentilite quickstart`` both call :func:`convert_model`.
Everything is checked before the first conversion (model file, contract, output folder,
calibration and evaluation images). Files are written into a hidden staging folder beside
``out`` and moved into place only when the whole run has succeeded, so a failure or Ctrl-C
leaves neither a half-written .tflite nor a half-written report (every single file is written
to a temporary name and renamed as well).
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from sentilite.core.modelfile import write_tflite

from . import checks
from .bias_correction import correct_classifier_bias
from .export import FLEX_WARNING, ConversionRequest, build_converter, convert_saved_model, export_saved_model, flex_ops
from .head_checks import KerasAnswers
from .inputs import ConvertInputs, host_facts, read_inputs
from .int8 import layer_errors, needs_repair, repair_budget, try_repairs, worst
from .options import DEFAULT_IO, DEFAULT_TOLERANCE, DEFAULT_VARIANTS, ConvertOptions
from .output_heads import output_heads
from .pixel_in import check_pixel_input, input_quantization
from .records import ConvertReport, VariantRow
from .report import REPORT_FORMAT, REPORT_VERSION, write_reports
from .result import ConversionResult
from .staging import staged
from .steps import StepLog
from .sweep import calibration_sweep
from .validation import interleaved_latency, validate_keras, validate_tflite
from .variants import VARIANT_SPECS

PathLike = Union[str, os.PathLike]
Log = Callable[[str], None]


@dataclass
class _Converted:
    paths: dict[str, Path] = field(default_factory=dict)
    flex: dict[str, list[str]] = field(default_factory=dict)
    convert_s: dict[str, float] = field(default_factory=dict)
    bias_facts: Optional[dict[str, Any]] = None
    float32: Optional[bytes] = None


def _float32_blob(sm: Path, got: _Converted, opts: ConvertOptions) -> bytes:
    if got.float32 is None:
        got.float32 = convert_saved_model(ConversionRequest(sm, "float32", None, opts.io, opts.allow_select_tf_ops))
    return got.float32


def _variant_facts(v: str, inp: ConvertInputs, opts: ConvertOptions, got: _Converted, data: bytes) -> dict[str, Any]:
    """The conversion facts stored in the .tflite beside the contract."""
    full_integer = VARIANT_SPECS[v].full_integer
    facts: dict[str, Any] = {
        "variant": v,
        "io": opts.io if full_integer else "float32",
        "pixel_in": inp.export.pixel_in,
        "source": {"file": inp.model_path.name, "sha256": inp.model_sha},
        "converter": f"tensorflow {inp.tf_version}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if full_integer and inp.calib_set is not None:
        facts["calibration"] = inp.calib_set.facts(inp.calib_n)
        facts["quantizer"] = opts.quantizer.to_dict()
        if got.bias_facts is not None:
            facts["bias_correction"] = got.bias_facts
    if VARIANT_SPECS[v].dequantize_depthwise:
        facts["depthwise_weights"] = "int8 in the file, read through DEQUANTIZE, so XNNPACK runs the whole graph"
    if opts.allow_select_tf_ops:
        facts["select_tf_ops"] = True
        facts["flex_ops"] = got.flex[v]
    heads = output_heads(data, inp.keras_model, inp.export)
    if heads is not None:
        facts["outputs"] = heads
    return facts


def _convert_all(sm: Path, inp: ConvertInputs, opts: ConvertOptions, stage: Path, say: Log) -> _Converted:
    """Each variant into ``stage``, with its contract and conversion facts inside."""
    got = _Converted()
    for v in opts.variant_names():
        full_integer = VARIANT_SPECS[v].full_integer
        say(f"converting {v}" + (f" (calibrating on {inp.calib_n} images, {opts.io} I/O)" if full_integer else ""))
        t0 = time.perf_counter()
        rep = inp.calib_set.representative(inp.calib_n) if (full_integer and inp.calib_set is not None) else None
        data = convert_saved_model(ConversionRequest(sm, v, rep, opts.io, opts.allow_select_tf_ops, opts.quantizer))
        if v == "float32":
            got.float32 = data
        if full_integer and inp.calib_set is not None and opts.quantizer.bias_correction:
            say("int8: correcting the classifier bias for the mean shift quantisation adds")
            data, got.bias_facts = correct_classifier_bias(
                data, _float32_blob(sm, got, opts), inp.calib_set.inputs(inp.calib_n), inp.export.num_classes
            )
        got.convert_s[v] = time.perf_counter() - t0
        got.flex[v] = flex_ops(data) if opts.allow_select_tf_ops else []
        if inp.export.pixel_in and full_integer:
            check_pixel_input(*input_quantization(data), v)
        got.paths[v] = write_tflite(
            stage / f"{inp.model_path.stem}_{v}.tflite",
            data,
            inp.export,
            _variant_facts(v, inp, opts, got, data),
            standard=opts.standard_metadata(),
            extra=inp.extra_metadata,
        )
    return got


def _validate_all(
    inp: ConvertInputs, got: _Converted, opts: ConvertOptions, out_dir: Path, say: Log
) -> tuple[list[VariantRow], KerasAnswers]:
    """Score Keras and every variant on the evaluation images; time the variants interleaved."""
    say(f"validating the Keras model on {len(inp.ev)} images")
    keras_row, ref = validate_keras(inp.model_path, inp.ev, inp.contract)
    keras_row["sha256"] = inp.model_sha
    rows = [keras_row]
    runners = {}
    for v, path in got.paths.items():
        say(f"validating {v}")
        row, _, runner = validate_tflite(
            v, path, inp.ev, ref, threads=opts.threads, kernel_check_images=opts.kernel_check_images
        )
        row["convert_s"] = got.convert_s[v]
        row["path"] = str(out_dir / path.name)  # where it lives once committed
        rows.append(row)
        if runner is not None:
            runners[v] = runner
    if runners:
        say(f"timing {', '.join(runners)} ({opts.latency_runs} runs each, interleaved, {opts.threads} thread(s))")
    latencies = interleaved_latency(runners, runs=opts.latency_runs)
    for row in rows[1:]:
        row.update(latencies.get(row["variant"], {}))
    return rows, ref


def _int8_diagnosis(
    sm: Path,
    inp: ConvertInputs,
    got: _Converted,
    rows: list[VariantRow],
    ref: KerasAnswers,
    opts: ConvertOptions,
    stage: Path,
    out_dir: Path,
    say: Log,
    steps: StepLog,
) -> Optional[dict[str, Any]]:
    """The per-layer int8 error report, and the repairs when int8 misses the tolerance."""
    if "int8" not in got.paths or inp.calib_set is None or not opts.layer_report or opts.allow_select_tf_ops:
        return None
    import warnings

    from sentilite.core.preprocess import normalize
    from sentilite.core.tf_import import import_tensorflow

    tf = import_tensorflow("conversion")
    calib, n = inp.calib_set, inp.calib_n

    def factory() -> Any:  # float I/O around the int8 body, so model outputs compare as floats too
        return build_converter(
            ConversionRequest(sm, "int8", calib.representative(n), "float32", quantizer=opts.quantizer)
        )

    def evaluation() -> Any:
        return ([normalize(inp.ev.pixels[i : i + 1], inp.export)] for i in range(min(len(inp.ev), 100)))

    say("int8: per-layer error against float (TFLite QuantizationDebugger)")
    with warnings.catch_warnings(), steps.step("int8 diagnosis"):
        warnings.simplefilter("ignore")
        layers = layer_errors(tf, factory, calib.representative(min(n, 100)), evaluation)
    block: dict[str, Any] = {"layers": layers, "worst": worst(layers, 10)}
    int8_row = next(r for r in rows if r["variant"] == "int8")
    if opts.repair == "always" or (
        opts.repair == "auto" and needs_repair(int8_row, rows[0]["accuracy"], opts.tolerance)
    ):

        def finish(data: bytes) -> bytes:  # as the int8 variant was finished
            return correct_classifier_bias(
                data, _float32_blob(sm, got, opts), calib.inputs(n), calib.contract.num_classes
            )[0]

        # one int8 conversion and its validation, as measured here: the unit of the repairs' cost estimates
        unit_s = got.convert_s.get("int8", 1.0) + (steps.seconds("validate") or 0.0) / max(1, len(rows))
        budget = repair_budget(opts.time_budget, opts.repair_budget, steps.elapsed(), unit_s)
        with steps.step("int8 repairs"):
            block["repair"] = try_repairs(
                sm,
                inp,
                opts,
                layers,
                rows,
                ref,
                stage,
                out_dir,
                say,
                tf,
                factory,
                finish if opts.quantizer.bias_correction else None,
                budget,
            )
    else:
        block["repair"] = {
            "ran": False,
            "why": "int8 is within the tolerance and agrees with Keras on >= 97 % of images"
            if opts.repair == "auto"
            else "--repair never",
        }
    return block


def _sweep(
    sm: Path,
    inp: ConvertInputs,
    got: _Converted,
    ref: KerasAnswers,
    keras_accuracy: float,
    opts: ConvertOptions,
    say: Log,
    notes: list[str],
) -> Optional[list[dict[str, Any]]]:
    sizes = opts.sweep_sizes()
    if not sizes or inp.calib_set is None:
        return None
    rows = calibration_sweep(
        sm,
        inp.calib_set,
        sizes,
        inp.ev,
        ref.probs,
        keras_accuracy,
        opts.io,
        opts.quantizer,
        opts.threads,
        say,
        _float32_blob(sm, got, opts) if opts.quantizer.bias_correction else None,
    )
    if max(sizes) > len(inp.calib_set):
        notes.append(
            f"calibration sweep: sizes above {len(inp.calib_set)} are capped (the calibration split has no more "
            f"readable images)"
        )
    return rows


#: report.json's ``timings``: seconds per step, and per variant for the conversions
Timings = dict[str, Union[float, dict[str, float], None]]


def _timings(steps: StepLog, got: _Converted, swept: bool, total_s: float) -> Timings:
    """report.json's ``timings`` (the keys it has always had), from the step log."""
    out: Timings = {
        "export_s": steps.seconds("export"),
        "convert_s": got.convert_s,
        "validate_s": steps.seconds("validate"),
        "int8_diagnosis_s": (steps.seconds("int8 diagnosis") or 0.0) + (steps.seconds("int8 repairs") or 0.0),
    }
    if swept:
        out["sweep_s"] = steps.seconds("calibration sweep")
    out["total_s"] = total_s
    return out


def _build_report(
    inp: ConvertInputs,
    got: _Converted,
    opts: ConvertOptions,
    rows: list[VariantRow],
    sweep_rows: Optional[list[dict[str, Any]]],
    notes: list[str],
    timings: Timings,
) -> ConvertReport:
    checks.add_comparisons(rows, opts.tolerance)
    calib_facts = inp.calib_set.facts(inp.calib_n) if inp.calib_set is not None else None
    warnings = checks.find_warnings(rows, opts.tolerance, calib_facts, inp.ev.facts(), got.flex)
    if opts.allow_select_tf_ops:
        warnings.insert(0, FLEX_WARNING)
    names = opts.variant_names()
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "path": str(inp.model_path),
            "name": inp.model_path.name,
            "sha256": inp.model_sha,
            "size_bytes": inp.model_path.stat().st_size,
        },
        "contract": inp.export.to_dict(),
        "contract_text": inp.export.describe(),
        "keras_contract": inp.contract.to_dict(),
        "host": host_facts(inp.tf_version),
        "settings": opts.to_dict(),
        "calibration": calib_facts
        or {"source": None, "images": 0, "per_class": {}, "seed": opts.seed, "balanced": True},
        "bias_correction": got.bias_facts,
        "evaluation": inp.ev.facts(),
        "rows": rows,
        "recommendation": checks.recommend(rows, opts.tolerance),
        "warnings": warnings,
        "calibration_sweep": {"rows": sweep_rows} if sweep_rows else None,
        "notes": notes,
        "variant_descriptions": {v: VARIANT_SPECS[v].describe(opts.io) for v in names},
        "files": {"variants": {v: p.name for v, p in got.paths.items()}},
        "timings": timings,
    }


def convert_model(
    model: PathLike,
    *,
    calib: Optional[PathLike],
    eval: PathLike,  # noqa: A002 - mirrors the --eval flag
    out: PathLike,
    root: Optional[PathLike] = None,
    options: Optional[ConvertOptions] = None,
    log: Optional[Log] = None,
    **overrides: Any,
) -> ConversionResult:
    """Convert ``model`` (.keras) to each variant, validate all on ``eval``, write the report.

    ``options`` is a :class:`ConvertOptions`; ``overrides`` are its fields by keyword
    (``per_channel``/``bias_correction`` go to its quantizer). Returns a
    :class:`ConversionResult`. Raises a :class:`~sentilite.core.errors.SentiliteError` subclass
    with a one-line problem and fix on bad input; nothing is left in ``out`` then.
    """
    say: Log = log or (lambda s: None)
    opts = ConvertOptions.from_keywords(options, **overrides)
    opts.validate()
    out_dir = Path(out)
    steps = StepLog(say, opts.time_budget)  # the clock starts before the inputs are read: they count
    inp = read_inputs(model, calib, eval, root, out_dir, opts, say)
    notes: list[str] = []
    with staged(out_dir) as stage:
        if opts.allow_select_tf_ops:
            say("warning: " + FLEX_WARNING)
        with tempfile.TemporaryDirectory(prefix="sentilite-export-") as tmp:
            say("exporting the Keras model as a SavedModel")
            with steps.step("export"):
                sm = export_saved_model(inp.keras_model, Path(tmp) / "saved_model")
            with steps.step("convert"):
                got = _convert_all(sm, inp, opts, stage, say)
            with steps.step("validate"):
                rows, ref = _validate_all(inp, got, opts, out_dir, say)
            int8_block = _int8_diagnosis(sm, inp, got, rows, ref, opts, stage, out_dir, say, steps)
            with steps.step("calibration sweep"):
                sweep_rows = _sweep(sm, inp, got, ref, rows[0]["accuracy"], opts, say, notes)
        timings = _timings(steps, got, sweep_rows is not None, steps.elapsed())
        report = _build_report(inp, got, opts, rows, sweep_rows, notes, timings)
        report["steps"] = [r for r in steps.rows if r["step"] != "calibration sweep" or sweep_rows is not None]
        report["int8_layers"] = int8_block
        say("writing the report")
        plots = write_reports(report, stage)
    rec = report["recommendation"]
    variants = {v: out_dir / p.name for v, p in got.paths.items()}
    kept = ((int8_block or {}).get("repair") or {}).get("kept")
    if kept:
        variants[kept] = out_dir / f"{inp.model_path.stem}_{kept}.tflite"
    return ConversionResult(
        out_dir=out_dir,
        variants=variants,
        report_md=out_dir / "report.md",
        report_json=out_dir / "report.json",
        report_csv=out_dir / "report.csv",
        plots={k: (out_dir / f if f else None) for k, f in plots.items()},
        recommended=rec.get("variant"),
        recommendation=rec["text"],
        warnings=report["warnings"],
        report=report,
    )


__all__ = ["ConversionResult", "ConvertOptions", "convert_model", "DEFAULT_VARIANTS", "DEFAULT_IO", "DEFAULT_TOLERANCE"]
