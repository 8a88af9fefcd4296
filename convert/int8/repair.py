"""Repairing an int8 model that misses the tolerance: fixes tried in order of expected gain per
second inside a time budget (:mod:`.budget`, ``--repair-budget``), each a row.

1. calibration: every readable calibration image instead of ``--calib-size`` (class-balanced,
   preprocessed exactly as at inference, like the default set);
2. I/O type: the other integer I/O type;
3. equalisation and rounding (``int8-eq``, about a minute on MobileNetV2): the same network
   re-parametrised so that int8 loses less (:mod:`convert.int8.equalize`: every channel of an int8
   activation given a similar range), its weights then rounded for each layer's output instead
   of to the nearest step (:mod:`convert.int8.rounding`), converted by the ordinary full-int8 path. A
   full-integer file, like ``int8``;
4. selective quantisation: the 3, then 6 layers with the largest error
   (:mod:`convert.int8.layer_errors`) kept in float. A *mixed* variant, named so: integer-only NPUs
   and Edge TPUs cannot run it;
5. int16x8: 16-bit activations, 8-bit weights; flagged: XNNPACK has no kernels for it, so on a
   CPU it is many times slower than float32.

6. quantisation-aware fine-tuning (:mod:`convert.int8.qat`), the most expensive (minutes), only when
   none of the above agrees with Keras on at least 97 % of the images (or with ``--repair always``).
   It starts from the model as exported: started from the equalised one, its first epoch undid
   what equalisation gained (Adam's steps are large for the weights equalisation made small).

Each candidate is scored like every variant (accuracy, agreement, mean |dp|, latency, size); the best one that
agrees with Keras at least as often as the int8 file, is at least 10 % closer in mean |dp| and
is not slower than float32 is kept beside it as ``<stem>_<candidate>.tflite``. ``<stem>_int8.tflite`` itself stays
full-integer.
"""

from __future__ import annotations

import functools
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from sentilite.core.modelfile import write_tflite

from ..export import ConversionRequest, build_converter, convert_saved_model
from ..head_checks import KerasAnswers, heads_off
from ..inputs import ConvertInputs
from ..options import ConvertOptions
from ..output_heads import output_heads
from ..records import LayerError, RepairBlock, RepairRow, VariantRow
from ..validation import validate_tflite
from .budget import RepairBudget
from .layer_errors import mixed_model, worst
from .winner import finish_repairs

if TYPE_CHECKING:
    import keras

Log = Callable[[str], None]
AGREEMENT_FLOOR = 0.97


def needs_repair(
    int8_row: VariantRow, keras_accuracy: float, tolerance_pts: float, floor: float = AGREEMENT_FLOOR
) -> bool:
    """True when the int8 file loses more than the tolerance, or agrees with Keras on fewer than
    ``floor`` of the images, on sentiment or on any extra head (:func:`convert.head_checks.heads_off`)."""
    lost = 100.0 * (keras_accuracy - int8_row.get("accuracy", keras_accuracy))
    off = heads_off(int8_row.get("heads") or {}, floor)
    return lost > tolerance_pts or int8_row.get("top1_agreement", 1.0) < floor or bool(off)


#: a candidate: name, what it is, how to make it, and (report key, facts its maker fills) or None
Candidate = tuple[str, str, Callable[[], bytes], Optional[tuple[str, dict[str, Any]]]]


def candidates(
    sm: Path,
    inp: ConvertInputs,
    opts: ConvertOptions,
    layers: list[LayerError],
    tf: ModuleType,
    factory: Callable[[], Any],
    images: Callable[[], Any],
    say: Log,
) -> list[Candidate]:
    """The post-training candidates, cheapest first; ``factory`` makes the float-I/O int8
    converter the per-layer report used, from which the mixed models are made; ``images`` gives
    the calibration inputs the Keras-model rewrites read (read once, shared with the fine-tuning)."""
    calib, n, io = inp.calib_set, inp.calib_n, opts.io
    out: list[Candidate] = []
    if len(calib) > n:
        out.append(
            (
                f"int8-calib{len(calib)}",
                f"full int8, calibrated on all {len(calib)} calibration images",
                lambda: convert_saved_model(
                    ConversionRequest(sm, "int8", calib.representative(len(calib)), io, quantizer=opts.quantizer)
                ),
                None,
            )
        )
    other = "int8" if io != "int8" else "uint8"
    out.append(
        (
            f"int8-{other}io",
            f"full int8 with {other} I/O",
            lambda: convert_saved_model(
                ConversionRequest(sm, "int8", calib.representative(n), other, quantizer=opts.quantizer)
            ),
            None,
        )
    )
    eq_facts: dict[str, Any] = {}
    out.append(
        (
            "int8-eq",
            "full int8 after cross-layer equalisation and output-aware weight rounding",
            equalized_candidate(inp, opts, images, say, eq_facts),
            ("equalize", eq_facts),
        )
    )
    for k in (3, 6):
        names = [layer["tensor"] for layer in worst(layers, k)]
        out.append(
            (
                f"int8-mixed{k}",
                f"MIXED: int8 with the {k} worst layers in float, float I/O (not for integer-only NPUs)",
                lambda names=names: mixed_model(tf, factory, calib.representative(min(n, 20)), names),
                None,
            )
        )
    out.append(
        (
            "int16x8",
            "16-bit activations, 8-bit weights (no XNNPACK kernels: slow on CPUs)",
            lambda: bytes(
                build_converter(
                    ConversionRequest(
                        sm, "int8", calib.representative(n), io, quantizer=opts.quantizer, int16_activations=True
                    )
                ).convert()
            ),
            None,
        )
    )
    return out


def full_integer(name: str) -> bool:
    """True for the candidates that are full-integer files like ``int8`` (not mixed, not int16x8)."""
    return name.startswith("int8") and not name.startswith("int8-mixed")


def try_repairs(
    sm: Path,
    inp: ConvertInputs,
    opts: ConvertOptions,
    layers: list[LayerError],
    rows: list[VariantRow],
    ref: KerasAnswers,
    stage: Path,
    out_dir: Path,
    say: Log,
    tf: ModuleType,
    factory: Callable[[], Any],
    finish: Optional[Callable[[bytes], bytes]],
    budget: RepairBudget,
) -> RepairBlock:
    """Every candidate as a report row; the winner's file kept in ``stage``. Returns the repair block.
    ``finish`` is what the int8 variant's file went through after conversion (its classifier bias
    correction): every full-integer candidate goes through it too, so it differs from int8 in one thing.
    Candidates run by expected gain per second inside ``budget`` (:func:`.budget.repair_budget`)."""
    by_variant = {r["variant"]: r for r in rows}
    int8_row, f32_row = by_variant["int8"], by_variant.get("float32")
    tried: list[RepairRow] = []
    runners: dict[str, Callable[[], Any]] = {}
    ratio = len(inp.calib_set) / max(1, inp.calib_n)

    @functools.cache
    def images() -> Any:  # up to --qat-images calibration inputs, read once for int8-eq and int8-qat
        more = inp.calib_set.extended(opts.qat_images)
        return more.inputs(min(opts.qat_images, len(more)))

    def attempt(name: str, what: str, make: Callable[[], bytes], facts: Optional[tuple[str, dict[str, Any]]]) -> None:
        est = budget.estimate(name, ratio)
        why_not = budget.refuses(est)
        if why_not:
            say(f"int8 repair: {name} {why_not}")
            tried.append({"variant": name, "repair": what, "error": why_not, "skipped": True})
            return
        left = budget.left()
        say(f"int8 repair: trying {name} ({what}); about {est:.0f} s" + (f", {left:.0f} s left" if left else ""))
        t0 = time.perf_counter()
        row, runner = _make_and_score(name, what, make, facts, inp, opts, ref, stage, out_dir, finish)
        took = time.perf_counter() - t0
        budget.record(est, took)
        row["seconds"] = round(took, 1)
        tried.append(row)
        if runner is not None:
            runners[name] = runner

    queue = candidates(sm, inp, opts, layers, tf, factory, images, say)
    for i in budget.order([c[0] for c in queue], ratio):
        attempt(*queue[i])
    best_ptq = max((r.get("top1_agreement", 0.0) for r in tried if "error" not in r), default=0.0)
    if opts.qat_epochs > 0 and (opts.repair == "always" or best_ptq < AGREEMENT_FLOOR):
        facts: dict[str, Any] = {}
        attempt(
            "int8-qat",
            f"full int8 after {opts.qat_epochs} epoch(s) of quantisation-aware fine-tuning on up to "
            f"{opts.qat_images} calibration images (distilled from the float model)",
            qat_candidate(inp, opts, images, say, facts),
            ("qat", facts),
        )
    return finish_repairs(tried, runners, int8_row, f32_row, stage, inp, opts, budget)


def _make_and_score(
    name: str,
    what: str,
    make: Callable[[], bytes],
    facts: Optional[tuple[str, dict[str, Any]]],
    inp: ConvertInputs,
    opts: ConvertOptions,
    ref: KerasAnswers,
    stage: Path,
    out_dir: Path,
    finish: Optional[Callable[[bytes], bytes]],
) -> tuple[RepairRow, Any]:
    """One candidate made, written and scored like a variant: (its row, its runner or None)."""
    path = stage / f"{inp.model_path.stem}_{name}.tflite"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = make()
            if finish is not None and full_integer(name):
                data = finish(data)
        _write_candidate(path, data, inp, name, what)
        row, _, runner = validate_tflite(name, path, inp.ev, ref, threads=opts.threads, kernel_check_images=0)
    except Exception as exc:  # noqa: BLE001 - a candidate that cannot be made is a row that says so
        path.unlink(missing_ok=True)
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return {"variant": name, "repair": what, "error": why}, None
    row.update(repair=what, path=str(out_dir / path.name))
    if facts is not None and facts[1]:
        row[facts[0]] = facts[1]
    return row, runner


def _write_candidate(path: Path, data: bytes, inp: ConvertInputs, name: str, what: str) -> None:
    """The candidate's file with the export contract, and which head each output holds."""
    heads = output_heads(data, inp.keras_model, inp.export)
    facts = {"variant": name, "repair": what, **({"outputs": heads} if heads else {})}
    write_tflite(path, data, inp.export, facts, extra=inp.extra_metadata)


def _copy(model: keras.Model) -> Any:
    """A copy of a Keras model with its own weights (the exported model stays as it is)."""
    from sentilite.core.tf_import import import_keras

    copy = import_keras("conversion").models.clone_model(model, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def _convert_like_int8(model: keras.Model, inp: ConvertInputs, opts: ConvertOptions) -> bytes:
    """The ordinary full-int8 conversion of a rewritten Keras model, with the int8 variant's
    calibration images and I/O type."""
    import tempfile

    from ..export import export_saved_model

    with tempfile.TemporaryDirectory(prefix="sentilite-repair-") as tmp:
        sm = export_saved_model(model, Path(tmp) / "saved_model")
        return convert_saved_model(
            ConversionRequest(sm, "int8", inp.calib_set.representative(inp.calib_n), opts.io, quantizer=opts.quantizer)
        )


def equalized_candidate(
    inp: ConvertInputs, opts: ConvertOptions, images: Callable[[], Any], say: Log, keep: dict[str, Any]
) -> Callable[[], bytes]:
    """Makes the ``int8-eq`` file: a copy of the exported Keras model equalised
    (:mod:`convert.int8.equalize`), its convolutions rounded for their outputs (:mod:`convert.int8.rounding`),
    both on ``images()`` (up to ``--qat-images`` calibration images, the ones the fine-tuning reads;
    the converter still calibrates on the int8 variant's), then converted as int8 is. ``keep``
    receives the facts for the report."""

    def make() -> bytes:
        import time

        from .equalize import equalize
        from .rounding import round_weights

        t0 = time.perf_counter()
        model = _copy(inp.keras_model)
        x = images()
        groups = equalize(model, x)
        rounded = round_weights(model, x)
        ratios = [r.error_chosen / r.error_nearest for r in rounded if r.error_nearest > 0]
        keep.update(
            images=len(x),
            seconds=round(time.perf_counter() - t0, 1),
            groups=[g.to_dict() for g in groups],
            rounded_layers=len(rounded),
            rounding_error_ratio_median=round(float(np.median(ratios)), 3) if ratios else None,
        )
        say(
            f"int8 repair: equalised {len(groups)} layer group(s), rounded {len(rounded)} convolution(s) for their "
            f"outputs "
            f"(median output error x{keep['rounding_error_ratio_median']}) in {keep['seconds']} s"
        )
        return _convert_like_int8(model, inp, opts)

    return make


def qat_candidate(
    inp: ConvertInputs, opts: ConvertOptions, images: Callable[[], Any], say: Log, facts: dict[str, Any]
) -> Callable[[], bytes]:
    """Makes the QAT file: fine-tune a copy of the exported Keras model (convert/int8/qat.py) on
    ``images()``, then the ordinary full-int8 conversion of it, calibrated on the same images as
    the int8 variant."""

    def make() -> bytes:
        from .qat import qat_finetune

        model = _copy(inp.keras_model)
        result = qat_finetune(model, images(), epochs=opts.qat_epochs, lr=opts.qat_lr, seed=opts.seed, log=say)
        facts.update(result.to_dict())
        return _convert_like_int8(model, inp, opts)

    return make
