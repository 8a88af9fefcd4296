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
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from sentilite.core.classifier import check_model_io, resolve_contract
from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import ContractError, ConversionError, InputFileError, ModelFormatError
from sentilite.core.fsutil import sha256_file
from sentilite.core.modelfile import require_format, write_tflite
from sentilite.core.probe import cpu_model

from . import checks
from .bias_correction import correct_classifier_bias
from .calibration import DEFAULT_CALIB_SIZE, CalibrationSet, build_calibration_set
from .export import (
    FLEX_WARNING,
    IO_TYPES,
    VARIANTS,
    QuantizerOptions,
    convert_saved_model,
    export_saved_model,
    flex_ops,
    parse_variants,
    tensorflow_version,
)
from .report import REPORT_FORMAT, REPORT_VERSION, write_reports
from .sweep import calibration_sweep, parse_sizes
from .validation import (
    EvalSet,
    build_eval_set,
    interleaved_latency,
    validate_keras,
    validate_tflite,
)

PathLike = Union[str, os.PathLike]
Log = Callable[[str], None]

DEFAULT_VARIANTS = tuple(VARIANTS)
DEFAULT_IO = "uint8"
DEFAULT_TOLERANCE = 2.0
#: Files a conversion writes; an existing --out holding anything else is never replaced.
_OWN_SUFFIXES = (".tflite", ".png")
_OWN_NAMES = ("report.md", "report.json", "report.csv")


@dataclass
class ConversionResult:
    """What :func:`convert_model` produced. ``report`` is the content of report.json."""

    out_dir: Path
    variants: dict[str, Path]
    report_md: Path
    report_json: Path
    report_csv: Path
    plots: dict[str, Optional[Path]]
    recommended: Optional[str]
    recommendation: str
    warnings: list[str]
    report: dict[str, Any] = field(repr=False)

    @property
    def recommended_path(self) -> Optional[Path]:
        return self.variants.get(self.recommended) if self.recommended else None

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


# -- checks done before any conversion -------------------------------------------------------


def resolve_model_contract(model_path: PathLike, contract: Union[None, PathLike, PreprocessContract]) -> PreprocessContract:
    """The contract inside the .keras file, else the one given (a contract.json path or object)."""
    given: Optional[PreprocessContract] = None
    if isinstance(contract, PreprocessContract):
        given = contract
    elif contract is not None:
        p = Path(contract)
        if not p.is_file():
            raise InputFileError(f"Contract file not found: {p}.", "pass the contract.json written by `sentilite train`")
        try:
            given = PreprocessContract.from_json(p.read_text(encoding="utf-8"))
        except ContractError as exc:
            raise ContractError(f"{p}: {exc.problem}", exc.fix or "pass the contract.json written by `sentilite train`") from None
    return resolve_contract(
        model_path, given,
        drop_hint="drop --contract: the model's own contract is used automatically",
        missing_hint="pass --contract contract.json (the one it was trained with), or train it with `sentilite train`",
    )


def check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputFileError(f"Output path {out} exists and is not a folder.", "choose another --out")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise InputFileError(f"Output folder {out} already exists and is not empty.", "pass --overwrite to replace it, or choose another --out")
    foreign = [p.name for p in out.iterdir() if not (p.is_file() and (p.suffix in _OWN_SUFFIXES or p.name in _OWN_NAMES))]
    if foreign:
        raise InputFileError(
            f"Output folder {out} holds files `sentilite convert` did not write ({', '.join(sorted(foreign)[:5])}); "
            "--overwrite only replaces a previous conversion's folder.",
            "choose another --out, or empty that folder yourself",
        )


def load_keras_model(path: Path, contract: PreprocessContract) -> Any:
    """Load the Keras model and check it is one image in, one score per label out."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras("conversion")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for unloadable files
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(
            f"Keras cannot load {path}: {first}",
            "pass a .keras file saved by Keras 3 (custom layers must be importable and registered)",
        ) from None
    shape = tuple(model.inputs[0].shape[1:])
    if len(model.inputs) == 1 and None in shape and len(shape) == 3 and shape[-1] in (3, None):
        # Dynamic spatial size: pin it to the contract's so the .tflite has a fixed input.
        inp = keras.Input(contract.input_shape, name="image")
        model = keras.Model(inp, model(inp), name=model.name)
        shape = contract.input_shape
    check_model_io(path, len(model.inputs), len(model.outputs), shape, model.outputs[0].shape[-1], contract,
                   "pass the contract the model was trained with (--contract)")
    return model


def host_facts(tf_version: str) -> dict[str, Any]:
    return {"cpu": cpu_model()["cpu"], "machine": platform.machine(), "cpu_count": os.cpu_count(), "system": platform.system(),
            "python": platform.python_version(), "tensorflow": tf_version}


# -- staging and committing the output folder ----------------------------------------------


def _commit(stage: Path, out: Path) -> None:
    """Move the finished staging folder to ``out`` (replacing a previous conversion's folder)."""
    old: Optional[Path] = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rmdir(old)
        os.replace(out, old)
    try:
        os.replace(stage, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def convert_model(
    model: PathLike,
    *,
    calib: Optional[PathLike],
    eval: PathLike,  # noqa: A002 - mirrors the --eval flag
    out: PathLike,
    root: Optional[PathLike] = None,
    variants: Union[str, Sequence[str]] = DEFAULT_VARIANTS,
    io: str = DEFAULT_IO,
    calib_size: int = DEFAULT_CALIB_SIZE,
    calib_sizes: Union[None, str, Sequence[int]] = None,
    tolerance: float = DEFAULT_TOLERANCE,
    overwrite: bool = False,
    allow_select_tf_ops: bool = False,
    contract: Union[None, PathLike, PreprocessContract] = None,
    seed: int = 0,
    threads: int = 1,
    latency_runs: int = 30,
    per_channel: bool = True,
    bias_correction: bool = True,
    log: Optional[Log] = None,
) -> ConversionResult:
    """Convert ``model`` (.keras) to each variant, validate all on ``eval``, write the report.

    Returns a :class:`ConversionResult` (paths per variant, report paths, recommended variant,
    warnings, and the report itself). Raises a :class:`~sentilite.core.errors.SentiliteError`
    subclass with a one-line problem and fix on bad input; nothing is left in ``out`` then.
    """
    say: Log = log or (lambda s: None)
    t_start = time.perf_counter()
    # ---- arguments and inputs, all before the first conversion -----------------------------
    names = parse_variants(variants)
    if io not in IO_TYPES:
        raise ConversionError(f"Unknown --io {io!r}.", f"choose from {', '.join(IO_TYPES)}")
    if tolerance < 0:
        raise ConversionError(f"--tolerance must be >= 0, got {tolerance}.", "e.g. --tolerance 2.0 (accuracy points)")
    if threads < 1 or latency_runs < 1:
        raise ConversionError("--threads and --latency-runs must be at least 1.")
    sizes = parse_sizes(calib_sizes)
    model_path = Path(model)
    fmt = require_format(model_path, "keras")
    assert fmt == "keras"
    the_contract = resolve_model_contract(model_path, contract)
    out_dir = Path(out)
    check_out_dir(out_dir, overwrite)
    needs_calib = "int8" in names or bool(sizes)
    calib_set: Optional[CalibrationSet] = None
    if needs_calib:
        if calib is None:
            raise InputFileError("Full-integer int8 needs a calibration set.", "pass --calib SPLIT (e.g. your training split)")
        say(f"reading calibration images from {calib}")
        calib_set = build_calibration_set(calib, the_contract, max([calib_size, *sizes]), root=root, seed=seed)
        if len(calib_set) < calib_size:
            say(f"calibration: only {len(calib_set)} readable image(s) available (asked for {calib_size})")
    say(f"reading evaluation images from {eval}")
    ev: EvalSet = build_eval_set(eval, the_contract, root=root)
    keras_model = load_keras_model(model_path, the_contract)
    tf_version = tensorflow_version()
    model_sha = sha256_file(model_path)
    quantizer = QuantizerOptions(per_channel=per_channel, bias_correction=bias_correction)
    calib_n = min(calib_size, len(calib_set)) if calib_set is not None else 0

    # ---- conversion into a staging folder -----------------------------------------------------
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(stage, 0o777 & ~mask)  # mkdtemp makes it private; the result is an ordinary folder
    notes: list[str] = []
    try:
        if allow_select_tf_ops:
            say("warning: " + FLEX_WARNING)
        timings: dict[str, Any] = {"convert_s": {}}
        with tempfile.TemporaryDirectory(prefix="sentilite-export-") as tmp:
            say("exporting the Keras model as a SavedModel")
            t0 = time.perf_counter()
            sm = export_saved_model(keras_model, Path(tmp) / "saved_model")
            timings["export_s"] = time.perf_counter() - t0
            paths: dict[str, Path] = {}
            flex: dict[str, list[str]] = {}
            blobs: dict[str, bytes] = {}

            def float32_blob() -> bytes:
                if "float32" not in blobs:
                    blobs["float32"] = convert_saved_model(sm, "float32", None, io, allow_select_tf_ops)
                return blobs["float32"]

            bias_facts: Optional[dict[str, Any]] = None
            for v in names:
                say(f"converting {v}" + (f" (calibrating on {calib_n} images, {io} I/O)" if v == "int8" else ""))
                t0 = time.perf_counter()
                rep = calib_set.representative(calib_n) if (v == "int8" and calib_set is not None) else None
                data = blobs[v] = convert_saved_model(sm, v, rep, io, allow_select_tf_ops, quantizer)
                if v == "int8" and calib_set is not None and quantizer.bias_correction:
                    say("int8: correcting the classifier bias for the mean shift quantisation adds")
                    data, bias_facts = correct_classifier_bias(data, float32_blob(), calib_set.inputs(calib_n))
                timings["convert_s"][v] = time.perf_counter() - t0
                flex[v] = flex_ops(data) if allow_select_tf_ops else []
                facts: dict[str, Any] = {
                    "variant": v,
                    "io": io if v == "int8" else "float32",
                    "source": {"file": model_path.name, "sha256": model_sha},
                    "converter": f"tensorflow {tf_version}",
                    "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                }
                if v == "int8" and calib_set is not None:
                    facts["calibration"] = calib_set.facts(calib_n)
                    facts["quantizer"] = quantizer.to_dict()
                    if bias_facts is not None:
                        facts["bias_correction"] = bias_facts
                if allow_select_tf_ops:
                    facts["select_tf_ops"] = True
                    facts["flex_ops"] = flex[v]
                paths[v] = write_tflite(stage / f"{model_path.stem}_{v}.tflite", data, the_contract, facts)

            # ---- validation -------------------------------------------------------------------
            t0 = time.perf_counter()
            say(f"validating the Keras model on {len(ev)} images")
            keras_row, ref = validate_keras(model_path, ev, the_contract)
            keras_row["sha256"] = model_sha
            rows = [keras_row]
            runners = {}
            for v in names:
                say(f"validating {v}")
                row, _, runner = validate_tflite(v, paths[v], ev, ref, threads=threads)
                row["convert_s"] = timings["convert_s"][v]
                row["path"] = str(out_dir / paths[v].name)  # where it lives once committed
                rows.append(row)
                if runner is not None:
                    runners[v] = runner
            if runners:
                say(f"timing {', '.join(runners)} ({latency_runs} runs each, interleaved, {threads} thread(s))")
            latencies = interleaved_latency(runners, runs=latency_runs)
            for row in rows[1:]:
                row.update(latencies.get(row["variant"], {}))
            del runners
            timings["validate_s"] = time.perf_counter() - t0

            sweep_rows = None
            if sizes and calib_set is not None:
                t0 = time.perf_counter()
                sweep_rows = calibration_sweep(
                    sm, calib_set, sizes, ev, ref, keras_row["accuracy"], io, quantizer, threads, say,
                    float32_blob() if quantizer.bias_correction else None,
                )
                timings["sweep_s"] = time.perf_counter() - t0
                if max(sizes) > len(calib_set):
                    notes.append(f"calibration sweep: sizes above {len(calib_set)} are capped (the calibration split has no more readable images)")

        checks.add_comparisons(rows, tolerance)
        calib_facts = calib_set.facts(calib_n) if calib_set is not None else None
        warnings = checks.find_warnings(rows, tolerance, calib_facts, ev.facts(), flex)
        if allow_select_tf_ops:
            warnings.insert(0, FLEX_WARNING)
        rec = checks.recommend(rows, tolerance)
        timings["total_s"] = time.perf_counter() - t_start
        report: dict[str, Any] = {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "model": {"path": str(model_path), "name": model_path.name, "sha256": model_sha, "size_bytes": model_path.stat().st_size},
            "contract": the_contract.to_dict(),
            "contract_text": the_contract.describe(),
            "host": host_facts(tf_version),
            "settings": {
                "variants": names, "io": io, "calib_size": calib_size, "calib_sizes": sizes, "tolerance": tolerance,
                "seed": seed, "threads": threads, "latency_runs": latency_runs,
                "allow_select_tf_ops": allow_select_tf_ops, "quantizer": quantizer.to_dict(),
            },
            "calibration": calib_facts or {"source": None, "images": 0, "per_class": {}, "seed": seed, "balanced": True},
            "bias_correction": bias_facts,
            "evaluation": ev.facts(),
            "rows": rows,
            "recommendation": rec,
            "warnings": warnings,
            "calibration_sweep": {"rows": sweep_rows} if sweep_rows else None,
            "notes": notes,
            "variant_descriptions": {v: VARIANTS[v] + (f", {io} I/O" if v == "int8" else "") for v in names},
            "files": {"variants": {v: p.name for v, p in paths.items()}},
            "timings": timings,
        }
        say("writing the report")
        plots = write_reports(report, stage)
        _commit(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return ConversionResult(
        out_dir=out_dir,
        variants={v: out_dir / p.name for v, p in paths.items()},
        report_md=out_dir / "report.md",
        report_json=out_dir / "report.json",
        report_csv=out_dir / "report.csv",
        plots={k: (out_dir / f if f else None) for k, f in plots.items()},
        recommended=rec.get("variant"),
        recommendation=rec["text"],
        warnings=warnings,
        report=report,
    )


__all__ = ["ConversionResult", "convert_model", "DEFAULT_VARIANTS", "DEFAULT_IO", "DEFAULT_TOLERANCE"]
