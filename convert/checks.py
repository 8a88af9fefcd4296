"""Comparisons against the Keras reference, loud warnings, and the one-line recommendation."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .records import KernelCheck, VariantRow
from .validation import clearly_slower

#: A variant counts as slower than float32 only beyond this ratio (timing noise on a shared host).
SLOWER_MARGIN = 1.10
#: ... and by more than this many milliseconds (sub-millisecond toy models time as noise).
SLOWER_ABS_MS = 0.2
#: Fewer evaluation images than this make accuracy deltas of a point or two meaningless.
SMALL_EVAL = 50
INT8_VARIANTS = ("dynamic-int8", "int8")
#: below this top-1 agreement between kernel libraries, a variant's answers depend on the kernels
KERNEL_AGREEMENT_MIN = 0.99


def add_comparisons(rows: Sequence[VariantRow], tolerance: float) -> None:
    """Fill in delta vs Keras, compression vs Keras / float32, speed vs float32, within_tolerance."""
    by = {r["variant"]: r for r in rows}
    ref = by.get("keras")
    f32 = by.get("float32")
    for r in rows:
        if "error" in r:
            r["within_tolerance"] = False
            continue
        if ref is not None:
            r["accuracy_delta_pts"] = 100.0 * (r["accuracy"] - ref["accuracy"])
            r["compression_vs_keras"] = ref["size_bytes"] / r["size_bytes"]
        if f32 is not None and "error" not in f32:
            r["size_vs_float32"] = f32["size_bytes"] / r["size_bytes"]
            if r["variant"] != "keras":
                r["speed_vs_float32"] = f32["latency_ms"] / r["latency_ms"]
        r["size_mb"] = r["size_bytes"] / 1e6
        r["collapsed"] = bool(
            r["variant"] != "keras"
            and r.get("predicted_classes") == 1
            and ref is not None
            and ref.get("predicted_classes", 0) > 1
        )
        r["within_tolerance"] = bool(
            r["variant"] == "keras" or (-r.get("accuracy_delta_pts", 0.0) <= tolerance and not r["collapsed"])
        )


def find_warnings(
    rows: Sequence[VariantRow],
    tolerance: float,
    calibration: Optional[dict[str, Any]] = None,
    evaluation: Optional[dict[str, Any]] = None,
    flex: Optional[dict[str, list[str]]] = None,
) -> list[str]:
    """Every problem a reader must not miss, one sentence each."""
    out: list[str] = []
    by = {r["variant"]: r for r in rows}
    f32 = by.get("float32")
    labels = None
    for r in rows:
        v = r["variant"]
        if "error" in r:
            out.append(f"{v}: {r['error']}")
            continue
        if r.get("collapsed"):
            counts = r.get("prediction_counts") or []
            only = counts.index(max(counts)) if counts else 0
            labels = labels or list((r.get("f1") or {}).keys())
            name = labels[only] if labels and only < len(labels) else str(only)
            out.append(
                f"{v} COLLAPSED: it predicts '{name}' for every evaluation image (the Keras model does not); "
                "the calibration set probably does not look like real input (check --calib and the contract)"
            )
        out += _kernel_warnings(v, r.get("kernels") or {})
        delta = r.get("accuracy_delta_pts")
        if v != "keras" and delta is not None and -delta > tolerance:
            out.append(f"{v} loses {-delta:.1f} accuracy points against Keras (tolerance {tolerance:g})")
        if (
            v in INT8_VARIANTS
            and f32 is not None
            and "error" not in f32
            and r["latency_ms"] > SLOWER_MARGIN * f32["latency_ms"] + SLOWER_ABS_MS
            and clearly_slower(r, f32)
        ):
            out.append(
                f"{v} is SLOWER than float32 on this host ({r['latency_ms']:.2f} ms vs {f32['latency_ms']:.2f} ms, "
                f"{r['latency_ms'] / f32['latency_ms']:.1f}x): smaller on disk but not faster here; "
                "ARM devices differ, measure them with `sentilite bench`"
                + (
                    "; a runtime without XNNPACK's dynamically quantised kernels (TFLite before 2.17, tflite-runtime "
                    "2.14) runs dynamic-int8 on slower hybrid kernels"
                    if v == "dynamic-int8"
                    else ""
                )
            )
        for w in r.get("contract_warnings") or []:
            out.append(f"{v}: input quantisation does not match the contract: {w}")
    for v, ops in (flex or {}).items():
        if ops:
            out.append(
                f"{v} uses TensorFlow (Flex) ops {', '.join(ops)}: a device needs the Flex delegate to run it "
                "(not in ai-edge-litert / tflite-runtime wheels)"
            )
    return out + _image_set_warnings(calibration, evaluation)


def _kernel_warnings(v: str, kernels: dict[str, KernelCheck]) -> list[str]:
    """A variant whose answers change with the kernel library (or that a library cannot run)."""
    out = []
    for name, k in kernels.items():
        if k.get("error"):
            out.append(f"{v}: {k['error']}; a device that runs these kernels may fail on it too")
        elif k["images"] and k["top1_agreement"] < KERNEL_AGREEMENT_MIN:
            out.append(
                f"{v}: its answers depend on the kernel library: LiteRT's {name} kernels disagree with XNNPACK on "
                f"{1 - k['top1_agreement']:.1%} of {k['images']} images (max |Δp| {k['max_abs_diff']:.3f}); a device "
                "without XNNPACK (tflite-runtime 2.14, NNAPI/GPU delegates, integer-only NPUs) will answer "
                "differently: check it with `sentilite evaluate --device ... --kernels xnnpack,builtin`"
            )
    return out


def _image_set_warnings(calibration: Optional[dict[str, Any]], evaluation: Optional[dict[str, Any]]) -> list[str]:
    """Calibration and evaluation sets too small, lopsided or partly unreadable."""
    out = []
    if calibration:
        if calibration.get("unreadable"):
            out.append(f"calibration: {calibration['unreadable']} unreadable image(s) skipped")
        n = calibration.get("images", 0)
        if n and n < 50:
            out.append(f"calibration used only {n} image(s): int8 activation ranges may not cover real inputs")
        missing = [k for k, c in (calibration.get("per_class") or {}).items() if c == 0]
        if missing:
            out.append(f"calibration set has no image of class(es) {', '.join(missing)}")
    if evaluation:
        if evaluation.get("unreadable"):
            out.append(f"evaluation: {evaluation['unreadable']} unreadable image(s) skipped")
        if evaluation.get("images", 0) < SMALL_EVAL:
            out.append(
                f"evaluation used only {evaluation.get('images')} image(s): accuracy differences of a few points "
                "are noise"
            )
    return out


def recommend(rows: Sequence[VariantRow], tolerance: float) -> dict[str, Any]:
    """The fastest converted variant within ``tolerance`` points of Keras (and not collapsed).

    "Fastest" must hold beyond timing noise: the variants whose median's 95 % interval overlaps
    the fastest one's are tied with it, and among tied variants the smallest file wins (a
    criterion the machine's load cannot flip); the text says so."""
    ok = [r for r in rows if r["variant"] != "keras" and "error" not in r and r.get("within_tolerance")]
    if not ok:
        return {
            "variant": None,
            "text": f"No variant stays within {tolerance:g} accuracy points of Keras on this evaluation set; "
            "keep float32 and look at the warnings (calibration set, contract).",
        }
    fastest = min(ok, key=lambda r: r["latency_ms"])
    tied = [r for r in ok if not clearly_slower(r, fastest)]
    best = min(tied, key=lambda r: (r["size_bytes"], r["latency_ms"])) if len(tied) > 1 else fastest
    delta = best.get("accuracy_delta_pts")
    d = f", {delta:+.1f} pts vs Keras" if delta is not None else ""
    why = (
        f"the smallest of the variants tied for fastest within {tolerance:g} accuracy points of Keras on this host "
        f"({', '.join(r['variant'] for r in tied)}: their latency intervals overlap, so their order is timing noise)"
        if len(tied) > 1
        else f"the fastest variant within {tolerance:g} accuracy points of Keras on this host"
    )
    text = (
        f"Recommended: {best['variant']} ({best['file']}): {why} ({best['latency_ms']:.2f} ms median, "
        f"{best['size_bytes'] / 1e6:.2f} MB, accuracy {100 * best['accuracy']:.1f} %{d})."
    )
    smallest = min(ok, key=lambda r: r["size_bytes"])
    return {
        "variant": best["variant"],
        "file": best["file"],
        "path": best.get("path"),
        "text": text,
        "smallest_within_tolerance": smallest["variant"],
        "tied_for_fastest": [r["variant"] for r in tied],
    }
