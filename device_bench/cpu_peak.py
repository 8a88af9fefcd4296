"""A CPU's nominal peak multiply-accumulate rate, from its vector ISA and clock.

The figure is an upper bound read off the instruction set, not a measurement: per core and
cycle, the MACs the widest FMA (float32) or dot-product (int8) instructions can retire on the
usual number of vector pipes. What a profile achieves is printed as a share of it, per op type,
so "how far from the hardware" has a number; the table below is the whole model of the CPU.

| ISA (flags)                         | float32 MAC/cycle | int8 MAC/cycle |
|-------------------------------------|-------------------|----------------|
| AVX-512 + VNNI, Intel (2 FMA ports) | 32                | 128            |
| AVX-512 + VNNI, AMD Zen 4 (256-bit halves) | 16         | 64             |
| AVX-VNNI (256-bit)                  | 16                | 64             |
| AVX2 + FMA                          | 16                | 32 (vpmaddubsw) |
| SSE4.1                              | 8                 | 16             |
| Arm NEON + i8mm                     | 8                 | 64             |
| Arm NEON + dot product              | 8                 | 32             |
| Arm NEON                            | 8                 | 16             |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Peak:
    """Nominal MACs per second of ``cores`` cores at ``mhz`` for float32 and int8 work."""

    isa: str  # which row of the table applied
    mhz: float
    float32_per_cycle: int
    int8_per_cycle: int

    def macs_per_s(self, dtype: str, threads: int = 1) -> float:
        per_cycle = self.int8_per_cycle if dtype in ("int8", "uint8") else self.float32_per_cycle
        return per_cycle * self.mhz * 1e6 * max(1, threads)

    def describe(self) -> dict[str, object]:
        return {
            "isa": self.isa,
            "mhz": self.mhz,
            "float32_macs_per_cycle": self.float32_per_cycle,
            "int8_macs_per_cycle": self.int8_per_cycle,
            "float32_gmacs_per_core": round(self.macs_per_s("float32") / 1e9, 2),
            "int8_gmacs_per_core": round(self.macs_per_s("int8") / 1e9, 2),
        }


def _row(flags: set[str], amd: bool) -> tuple[str, int, int]:
    if "avx512f" in flags and "avx512_vnni" in flags:
        return ("AVX-512 + VNNI (AMD, 256-bit halves)", 16, 64) if amd else ("AVX-512 + VNNI (Intel)", 32, 128)
    if "avx512f" in flags:
        return ("AVX-512 (AMD, 256-bit halves)", 16, 32) if amd else ("AVX-512 (Intel)", 32, 64)
    if "avx_vnni" in flags:
        return "AVX-VNNI", 16, 64
    if "avx2" in flags and "fma" in flags:
        return "AVX2 + FMA", 16, 32
    if "sse4_1" in flags:
        return "SSE4.1", 8, 16
    if "i8mm" in flags:
        return "Arm NEON + i8mm", 8, 64
    if "asimddp" in flags:
        return "Arm NEON + dot product", 8, 32
    if "asimd" in flags:
        return "Arm NEON", 8, 16
    return "unknown ISA (scalar assumed)", 2, 2


def peak_from_isa(isa: Optional[dict[str, object]]) -> Optional[Peak]:
    """The nominal peak for a device's ``probe.isa()`` record; None when its clock is unknown."""
    if not isa or not isa.get("mhz"):
        return None
    flags = {str(f) for f in (isa.get("flags") or [])}
    name, f32, i8 = _row(flags, "AMD" in str(isa.get("vendor") or ""))
    return Peak(name, float(isa["mhz"]), f32, i8)  # type: ignore[arg-type]
