"""`sentilite bench --sustained`: latency and temperature over time, and a throttling verdict,
against fake /sys trees (one hot and clock-capped, one cool), with the real runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentilite.device_bench.api import run_bench
from sentilite.device_bench.sustained import verdict


def fake_sys(root: Path, temp_mc: int, cur_khz: int, max_khz: int = 1_500_000) -> Path:
    zone = root / "sys" / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text(f"{temp_mc}\n")
    freq = root / "sys" / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"
    freq.mkdir(parents=True)
    (freq / "scaling_cur_freq").write_text(f"{cur_khz}\n")
    (freq / "cpuinfo_max_freq").write_text(f"{max_khz}\n")
    return root


@pytest.mark.parametrize("hot", [True, False], ids=["hot-and-capped", "cool"])
def test_sustained_run_detects_throttling_only_when_there_is_some(tiny_variants, tmp_path, monkeypatch, hot):
    root = fake_sys(tmp_path / "fake", 85_000 if hot else 45_000, 600_000 if hot else 1_500_000)
    monkeypatch.setenv("SENTILITE_SYSFS_ROOT", str(root))
    res = run_bench([tiny_variants["int8"]], out_dir=tmp_path / "out", sustained=3)
    assert res.errors == [] and res.rows[0]["error"] is None
    s = res.runs[0]["sustained"]
    assert s["seconds"] == 3 and len(s["series"]) >= 3 and s["first_window_median_ms"] > 0
    assert all(p["temperature_c"] == (85.0 if hot else 45.0) for p in s["series"])
    assert s["throttled"] is hot
    if hot:
        assert any("temperature reached 85.0 C" in r for r in s["reasons"]) and any("clock was capped" in r for r in s["reasons"])
    table = (tmp_path / "out" / "results.md").read_text()
    assert ("THROTTLED" in table) is hot and "sustained 3 s" in table
    assert (tmp_path / "out" / "sustained.png").stat().st_size > 1000


def test_a_rising_latency_is_reported_as_a_slowdown():
    series = [{"t": float(t), "median_ms": 4.0 if t <= 60 else 8.0, "temperature_c": 60.0, "cpu_mhz": None, "max_mhz": None,
               "throttled_flags": None} for t in range(1, 241)]
    v = verdict(series, 240)
    assert v["window_s"] == 60 and v["first_window_median_ms"] == 4.0 and v["last_window_median_ms"] == 8.0
    assert v["throttled"] and v["slowdown"] == 2.0 and "latency rose 2.00x" in v["reasons"][0]
    steady = [{**p, "median_ms": 4.0} for p in series]
    assert verdict(steady, 240)["throttled"] is False
