"""What ``sentilite convert`` is asked to do: one typed options object, validated before any work."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional, Sequence, Union

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import ConversionError

from .calibration import DEFAULT_CALIB_SIZE
from .sweep import parse_sizes
from .variants import IO_TYPES, VARIANT_SPECS, QuantizerOptions, parse_variants

PathLike = Union[str, os.PathLike]

DEFAULT_VARIANTS = tuple(VARIANT_SPECS)
DEFAULT_IO = "uint8"
DEFAULT_TOLERANCE = 2.0


@dataclass(frozen=True)
class Flag:
    """How one option appears on the command line; declared beside its field, so that the CLI, the
    options object and ``to_dict()`` are one declaration (``convert/cli.py`` builds its click options
    from these).

    ``kind``: "value" (takes a value), "toggle" (``--x/--no-x``), "off" (a flag that sets the field
    to False, e.g. ``--no-layer-report``).
    """

    name: str
    help: str
    kind: str = "value"
    metavar: Optional[str] = None
    choices: tuple[str, ...] = ()
    minimum: Optional[float] = None


def _opt(default: Any, flag: Flag) -> Any:
    return field(default=default, metadata={"cli": flag})


#: the quantiser's knobs on the command line (both turn a default off)
QUANTIZER_FLAGS = {
    "per_channel": Flag(
        "--per-tensor",
        "Full-int8 with one weight scale per tensor instead of per channel (for old accelerators; less accurate).",
        kind="off",
    ),
    "bias_correction": Flag(
        "--no-bias-correction",
        "Keep the converter's int8 classifier bias (default: remove the mean "
        "logit shift int8 adds, measured on the calibration images).",
        kind="off",
    ),
}


@dataclass(frozen=True)
class ConvertOptions:
    """Which variants to make and how to check them (everything but the files to read and write)."""

    variants: Union[str, Sequence[str]] = _opt(
        DEFAULT_VARIANTS, Flag("--variants", "Comma-separated: float32, float16, dynamic-int8, int8.")
    )
    io: str = _opt(
        DEFAULT_IO,
        Flag(
            "--io",
            "Input/output type of the full-int8 variant (float32: float I/O around an int8 body).",
            choices=IO_TYPES,
        ),
    )
    calib_size: int = _opt(
        DEFAULT_CALIB_SIZE, Flag("--calib-size", "Calibration images, drawn class-balanced from --calib.", minimum=1)
    )
    calib_sizes: Union[None, str, Sequence[int]] = _opt(
        None,
        Flag(
            "--calib-sizes",
            "Also chart full-int8 accuracy against these calibration-set sizes (e.g. 10,50,200,500).",
            metavar="N,N,...",
        ),
    )
    tolerance: float = _opt(
        DEFAULT_TOLERANCE, Flag("--tolerance", "Accuracy points a variant may lose against Keras.", minimum=0)
    )
    overwrite: bool = _opt(
        False, Flag("--overwrite", "Replace an existing output folder from a previous conversion.", kind="flag")
    )
    allow_select_tf_ops: bool = _opt(
        False,
        Flag(
            "--allow-select-tf-ops",
            "Let TensorFlow ops TFLite lacks through as Flex ops (the device then needs the Flex delegate).",
            kind="flag",
        ),
    )
    contract: Union[None, PathLike, PreprocessContract] = _opt(
        None,
        Flag(
            "--contract",
            "Preprocessing contract for a .keras model that carries none (contract.json from training).",
            metavar="JSON",
        ),
    )
    seed: int = _opt(0, Flag("--seed", "Seed of the calibration-image draw."))
    threads: int = _opt(1, Flag("--threads", "Interpreter threads for the latency measurement.", minimum=1))
    latency_runs: int = _opt(
        30, Flag("--latency-runs", "Timed runs per variant (median and its 95 % interval reported).", minimum=1)
    )
    kernel_check_images: int = _opt(
        50,
        Flag(
            "--kernel-check-images",
            "Also score each variant with LiteRT's builtin and reference kernels on this many images; warn when "
            "they disagree with XNNPACK (0: skip).",
            minimum=0,
        ),
    )
    pixel_in: bool = _opt(
        True,
        Flag(
            "--pixel-in",
            "Move the normalisation inside the model, so every variant takes raw 0-255 RGB pixels (the full-int8 uint8 "
            "input is the pixel itself, as MediaPipe, ML Kit and Coral feed it).",
            kind="toggle",
        ),
    )
    layer_report: bool = _opt(
        True, Flag("--no-layer-report", "Skip the per-layer int8 error report (QuantizationDebugger).", kind="off")
    )
    repair: str = _opt(
        "auto",
        Flag(
            "--repair",
            "Try the int8 repairs (more calibration, other I/O type, equalisation + output-aware rounding, worst "
            "layers in "
            "float, int16x8, then quantisation-aware fine-tuning): auto = when int8 misses --tolerance or agrees "
            "with Keras on < 97 %.",
            choices=("auto", "always", "never"),
        ),
    )
    time_budget: float = _opt(
        300.0,
        Flag(
            "--time-budget",
            "Seconds the whole conversion aims at: export, conversion, validation and the int8 diagnosis run "
            "in full, and the int8 repairs get what is left (0: no limit). The calibration sweep comes on top.",
            minimum=0,
        ),
    )
    repair_budget: float = _opt(
        0.0,
        Flag(
            "--repair-budget",
            "Seconds the int8 repairs may take at most, inside --time-budget: they run in order of expected "
            "gain per second, and one that would not finish in time is skipped and reported so (0: only "
            "--time-budget limits them).",
            minimum=0,
        ),
    )
    qat_epochs: int = _opt(
        3,
        Flag(
            "--qat-epochs",
            "The last int8 repair: epochs of quantisation-aware fine-tuning (fake-quant, distilled from the float "
            "model), "
            "run when the post-training repairs stay below 97 % agreement (0: never).",
            minimum=0,
        ),
    )
    qat_images: int = _opt(
        500,
        Flag(
            "--qat-images",
            "Calibration images the quantisation-aware fine-tuning trains on (and equalisation and rounding read).",
            minimum=1,
        ),
    )
    qat_lr: float = _opt(1e-5, Flag("--qat-lr", "Adam learning rate of the fine-tuning."))
    model_name: str = _opt(
        "", Flag("--name", "Model name in the standard TFLite metadata [default: sentilite image sentiment (VARIANT)].")
    )
    model_version: str = _opt(
        "", Flag("--model-version", "Version in the standard metadata [default: the conversion time].")
    )
    author: str = _opt("", Flag("--author", "Author in the standard metadata."))
    license: str = _opt(
        "", Flag("--license", "Licence in the standard metadata (e.g. Apache-2.0, or the data's terms).")
    )  # noqa: A003
    quantizer: QuantizerOptions = field(default_factory=QuantizerOptions)  # on the command line: QUANTIZER_FLAGS

    @classmethod
    def from_keywords(cls, base: Optional[ConvertOptions] = None, **kw: Any) -> ConvertOptions:
        """``base`` (or the defaults) with keyword overrides; per_channel/bias_correction go to the quantizer."""
        opts = base or cls()
        q = {k: kw.pop(k) for k in ("per_channel", "bias_correction") if k in kw}
        unknown = set(kw) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown convert option(s): {', '.join(sorted(unknown))}")
        if q:
            kw["quantizer"] = replace(opts.quantizer, **q)
        return replace(opts, **kw)

    def variant_names(self) -> list[str]:
        return parse_variants(self.variants)

    def sweep_sizes(self) -> list[int]:
        return parse_sizes(self.calib_sizes)

    def validate(self) -> None:
        """Raise a one-line :class:`ConversionError` for a value no conversion can use."""
        self.variant_names()
        self.sweep_sizes()
        if self.io not in IO_TYPES:
            raise ConversionError(f"Unknown --io {self.io!r}.", f"choose from {', '.join(IO_TYPES)}")
        if self.tolerance < 0:
            raise ConversionError(
                f"--tolerance must be >= 0, got {self.tolerance}.", "e.g. --tolerance 2.0 (accuracy points)"
            )
        if self.repair not in ("auto", "always", "never"):
            raise ConversionError(f"Unknown --repair {self.repair!r}.", "choose auto, always or never")
        if self.qat_epochs < 0 or self.qat_images < 1 or self.qat_lr <= 0:
            raise ConversionError(
                "--qat-epochs must be >= 0, --qat-images >= 1 and --qat-lr > 0.", "e.g. --qat-epochs 3 --qat-images 500"
            )
        if self.threads < 1 or self.latency_runs < 1:
            raise ConversionError("--threads and --latency-runs must be at least 1.")
        if self.time_budget < 0 or self.repair_budget < 0:
            raise ConversionError(
                "--time-budget and --repair-budget must be >= 0 seconds.", "e.g. --time-budget 300; 0 means no limit"
            )

    def export_contract(self, contract: PreprocessContract) -> PreprocessContract:
        """The contract the written files carry (pixel-in: the normalisation moves into the graph)."""
        return contract.as_pixel_in() if self.pixel_in else contract

    def standard_metadata(self) -> dict[str, str]:
        """The fields given for the standard TFLite metadata (the rest keep their defaults)."""
        given = {"name": self.model_name, "version": self.model_version, "author": self.author, "license": self.license}
        return {k: v for k, v in given.items() if v}

    def needs_calibration(self) -> bool:
        return any(VARIANT_SPECS[v].full_integer for v in self.variant_names()) or bool(self.sweep_sizes())

    def to_dict(self) -> dict[str, Any]:
        """The settings block of report.json: every field, in declaration order, as plain JSON."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "variants":
                value = self.variant_names()
            elif f.name == "calib_sizes":
                value = self.sweep_sizes()
            elif f.name == "quantizer":
                value = value.to_dict()
            elif f.name == "contract" and value is not None:
                value = value.to_dict() if isinstance(value, PreprocessContract) else os.fspath(value)
            out[f.name] = value
        return out
