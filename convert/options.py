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
class ConvertOptions:
    """Which variants to make and how to check them (everything but the files to read and write)."""

    variants: Union[str, Sequence[str]] = DEFAULT_VARIANTS
    io: str = DEFAULT_IO  # I/O type of the full-integer variant
    calib_size: int = DEFAULT_CALIB_SIZE
    calib_sizes: Union[None, str, Sequence[int]] = None  # a calibration-size sweep
    tolerance: float = DEFAULT_TOLERANCE  # accuracy points below Keras
    overwrite: bool = False
    allow_select_tf_ops: bool = False
    contract: Union[None, PathLike, PreprocessContract] = None  # for a .keras without one
    seed: int = 0
    threads: int = 1
    latency_runs: int = 30
    kernel_check_images: int = 50  # also score each variant with LiteRT's builtin and reference kernels (0: skip)
    pixel_in: bool = True  # normalisation inside the graph: every variant takes raw 0-255 pixels
    layer_report: bool = True  # per-layer int8 error (QuantizationDebugger)
    repair: str = "auto"  # auto: try the int8 repairs when int8 misses the tolerance; always; never
    #: quantisation-aware fine-tuning, the last repair (tried when post-training ones stay below 97 %
    #: agreement, or with repair="always"): epochs (0 = never), calibration images, learning rate
    qat_epochs: int = 3
    qat_images: int = 500
    qat_lr: float = 1e-5
    #: standard TFLite metadata: name, version, author, license ("" = sentilite's defaults)
    model_name: str = ""
    model_version: str = ""
    author: str = ""
    license: str = ""  # noqa: A003 - the metadata schema's field name
    quantizer: QuantizerOptions = field(default_factory=QuantizerOptions)

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
            raise ConversionError(f"--tolerance must be >= 0, got {self.tolerance}.", "e.g. --tolerance 2.0 (accuracy points)")
        if self.repair not in ("auto", "always", "never"):
            raise ConversionError(f"Unknown --repair {self.repair!r}.", "choose auto, always or never")
        if self.qat_epochs < 0 or self.qat_images < 1 or self.qat_lr <= 0:
            raise ConversionError("--qat-epochs must be >= 0, --qat-images >= 1 and --qat-lr > 0.", "e.g. --qat-epochs 3 --qat-images 500")
        if self.threads < 1 or self.latency_runs < 1:
            raise ConversionError("--threads and --latency-runs must be at least 1.")

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
        """The settings block of report.json."""
        return {
            "variants": self.variant_names(), "io": self.io, "calib_size": self.calib_size, "calib_sizes": self.sweep_sizes(),
            "tolerance": self.tolerance, "seed": self.seed, "threads": self.threads, "latency_runs": self.latency_runs,
            "kernel_check_images": self.kernel_check_images, "pixel_in": self.pixel_in, "layer_report": self.layer_report,
            "repair": self.repair, "qat": {"epochs": self.qat_epochs, "images": self.qat_images, "lr": self.qat_lr},
            "allow_select_tf_ops": self.allow_select_tf_ops, "quantizer": self.quantizer.to_dict(),
        }
