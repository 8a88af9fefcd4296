"""`sentilite bench --sustained`: latency and temperature over time, and a throttling verdict,
against fake /sys trees (one hot and clock-capped, one cool), with the real runner.

The real-runner test judges only what the fake /sys decides (temperature, clock): the latency
it measures is this machine's, and a 3-second run is too short for its trend to be judged. The
latency-trend logic is checked on a fake clock and fake samples instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentilite.device_bench.api import run_bench
from sentilite.device_bench.sustained import run_sustained, verdict


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
    assert (
        s["seconds"] == 3
        and len(s["series"]) >= 3
        and s["first_window_median_ms"] > 0
        and s["last_window_median_ms"] > 0
    )
    assert all(p["temperature_c"] == (85.0 if hot else 45.0) for p in s["series"])
    assert s["trend_judged"] is False  # a 3 s run: the verdict rests on temperature and clock alone
    assert s["throttled"] is hot
    if hot:
        assert any("temperature reached 85.0 C" in r for r in s["reasons"]) and any(
            "clock was capped" in r for r in s["reasons"]
        )
    table = (tmp_path / "out" / "results.md").read_text()
    assert ("THROTTLED" in table) is hot and "sustained 3 s" in table and "latency trend not judged" in table
    assert (tmp_path / "out" / "sustained.png").stat().st_size > 1000


def test_a_rising_latency_is_reported_as_a_slowdown():
    series = [
        {
            "t": float(t),
            "median_ms": 4.0 if t <= 60 else 8.0,
            "temperature_c": 60.0,
            "cpu_mhz": None,
            "max_mhz": None,
            "throttled_flags": None,
        }
        for t in range(1, 241)
    ]
    v = verdict(series, 240)
    assert v["window_s"] == 60 and v["first_window_median_ms"] == 4.0 and v["last_window_median_ms"] == 8.0
    assert v["throttled"] and v["slowdown"] == 2.0 and "latency rose 2.00x" in v["reasons"][0]
    steady = [{**p, "median_ms": 4.0} for p in series]
    assert verdict(steady, 240)["throttled"] is False


class FakeClock:
    """A clock that each invoke advances by the latency the model 'has' at that moment."""

    def __init__(self, latency_s):
        self.now, self.latency_s = 100.0, latency_s

    def __call__(self):
        return self.now

    def run(self, _i):
        self.now += self.latency_s(self.now - 100.0)


def still(_):
    return {"temperature_c": 50.0, "cpu_mhz": None, "max_mhz": None, "throttled_flags": None}


def test_the_loop_windows_a_slowdown_into_the_series_and_the_verdict_names_it():
    """40 s on a fake clock: 10 ms per invoke for 20 s, then 20 ms. The series has one point per
    second with that second's median, and the verdict compares the first and last 10 s."""
    clock = FakeClock(lambda t: 0.010 if t < 20 else 0.020)
    samples, series = run_sustained(clock.run, 4, 40, clock=clock, sampler=lambda: still(None))
    assert len(series) in (40, 41) and [round(p["t"]) for p in series[:3]] == [1, 2, 3]
    assert series[0]["median_ms"] == pytest.approx(10.0) and series[-2]["median_ms"] == pytest.approx(20.0)
    assert len(samples) == pytest.approx(2000 + 1000, abs=3)
    v = verdict(series, 40)
    assert v["trend_judged"] and v["window_s"] == 10 and v["slowdown"] == pytest.approx(2.0)
    assert v["throttled"] and "latency rose 2.00x" in v["reasons"][0]
    steady = FakeClock(lambda t: 0.010)
    assert (
        verdict(run_sustained(steady.run, 4, 40, clock=steady, sampler=lambda: still(None))[1], 40)["throttled"]
        is False
    )


def test_the_first_window_is_never_empty_when_the_first_sample_lands_after_one_second():
    """A slow invoke (here 0.3 s) puts the first per-second sample at 1.2 s: its window still counts."""
    clock = FakeClock(lambda t: 0.3)
    _, series = run_sustained(clock.run, 1, 3, clock=clock, sampler=lambda: still(None))
    assert series[0]["t"] > 1.0
    v = verdict(series, 3)
    assert v["first_window_median_ms"] == pytest.approx(300.0) and v["last_window_median_ms"] == pytest.approx(300.0)
    assert v["trend_judged"] is False and v["throttled"] is False
