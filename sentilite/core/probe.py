"""What a process can learn about itself and its machine, with the standard library alone.

One home for the helpers every part needs: percentiles and timing summaries, current and peak
RSS, temperature, CPU name, CPU masks, and capturing what native code writes to fd 2. It is
stdlib-only (Python 3.6+) because the benchmark runner ships it to devices that have no
sentilite install: ``sentilite bench --device ssh://...`` copies it there as
``sentilite_probe.py`` beside ``runner.py``.
"""

import math
import os
import platform
import sys
import tempfile


def percentile(values, q):
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    s = sorted(values)  # linear time on an already sorted list
    n = len(s)
    if n == 0:
        return None
    pos = (n - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(samples_ms):
    """min / median / mean / p90 / p99 / max / std (sample, n-1) / cv / throughput of timings."""
    s = sorted(float(v) for v in samples_ms)
    n = len(s)
    if n == 0:
        return {"count": 0}
    mean = sum(s) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in s) / (n - 1)) if n > 1 else 0.0
    return {
        "count": n,
        "min": s[0],
        "median": percentile(s, 50),
        "mean": mean,
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "max": s[-1],
        "std": std,
        "cv": std / mean if mean > 0 else None,
        "throughput_ips": 1000.0 / mean if mean > 0 else None,
    }


def _read(path, limit=4096):
    try:
        with open(path) as fh:
            return fh.read(limit).strip()
    except (OSError, UnicodeDecodeError):
        return None


def proc_status_mb(key):
    """A VmRSS / VmHWM value of this process in MiB (Linux, Android), else None."""
    text = _read("/proc/self/status", 1 << 16)
    if not text:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) / 1024.0
    return None


def _ru_maxrss_mb():
    """Peak RSS from getrusage (macOS reports bytes, Linux KiB), else None."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2.0**20 if sys.platform == "darwin" else peak / 1024.0
    except Exception:  # noqa: BLE001 - no resource module (Windows)
        return None


def rss_mb():
    """Current RSS of this process in MiB (macOS: only the peak is available)."""
    v = proc_status_mb("VmRSS")
    return v if v is not None else _ru_maxrss_mb()


def peak_rss_mb():
    """Peak RSS of this process image (VmHWM, which starts afresh at exec), else ru_maxrss."""
    v = proc_status_mb("VmHWM")
    return v if v is not None else _ru_maxrss_mb()


def sys_path(path):
    """``path`` under $SENTILITE_SYSFS_ROOT when set (tests point it at a fake thermal/cpufreq tree)."""
    root = os.environ.get("SENTILITE_SYSFS_ROOT")
    return os.path.join(root, path.lstrip("/")) if root else path


def cpu_frequency():
    """(current, maximum) frequency of cpu0 in MHz from cpufreq, each None where unreadable."""
    out = []
    for name in ("scaling_cur_freq", "cpuinfo_max_freq"):
        raw = _read(sys_path("/sys/devices/system/cpu/cpu0/cpufreq/" + name), 64)
        out.append(int(raw) / 1000.0 if raw and raw.isdigit() else None)
    return out[0], out[1]


def throttled_flags():
    """``vcgencmd get_throttled`` on a Raspberry Pi as an int (bit 2: throttled now, bit 18: since boot), else None."""
    import shutil
    import subprocess

    tool = shutil.which("vcgencmd")
    if tool is None:
        return None
    try:
        text = subprocess.run([tool, "get_throttled"], capture_output=True, text=True, timeout=5).stdout
        return int(text.strip().split("=")[1], 16)
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def temperature_c():
    """Highest readable thermal-zone temperature in degrees C (Pi: the SoC), else None."""
    best = None
    base = sys_path("/sys/class/thermal")
    try:
        zones = [z for z in os.listdir(base) if z.startswith("thermal_zone")]
    except OSError:
        zones = []
    for z in sorted(zones):
        raw = _read(os.path.join(base, z, "temp"), 64)
        try:
            v = float(raw) / 1000.0 if raw is not None else None
        except ValueError:
            v = None
        if v is not None and -40 < v < 150 and (best is None or v > best):
            best = v
    if best is None:
        raw = _read(sys_path("/sys/devices/virtual/thermal/thermal_zone0/temp"), 64)
        try:
            best = float(raw) / 1000.0 if raw else None
        except ValueError:
            best = None
    return best


def cpu_model():
    text = _read("/proc/cpuinfo", 1 << 16) or ""
    found = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            k, v = k.strip().lower(), v.strip()
            if k in ("model name", "hardware", "model", "processor", "cpu part") and v and k not in found:
                found[k] = v
    board = _read("/proc/device-tree/model", 256)
    board = board.replace("\x00", "").strip() if board else None
    name = found.get("model name") or found.get("hardware")
    if not name and found.get("processor") and not found["processor"].isdigit():
        name = found["processor"]
    model = found.get("model")
    if model and model.isdigit():  # x86 reports a model *number* there
        model = None
    return {"cpu": name or platform.processor() or platform.machine(), "board": board or model}


#: the /proc/cpuinfo flags that decide a CPU's peak multiply-accumulate rate (see device_bench/cpu_peak.py)
ISA_FLAGS = ("avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx2", "fma", "sse4_1", "asimd", "asimddp", "i8mm")


def isa():
    """The vector ISA of cpu0: ``{"vendor", "flags" (the ones in ISA_FLAGS), "mhz"}`` from /proc/cpuinfo.

    On aarch64 the flags line is called ``Features``; ``mhz`` is the clock /proc/cpuinfo or
    cpufreq reports (the maximum where cpufreq gives one)."""
    text = _read("/proc/cpuinfo", 1 << 18) or ""
    vendor, flags, mhz = None, set(), None
    for line in text.splitlines():
        if ":" not in line:
            continue
        k, v = (part.strip() for part in line.split(":", 1))
        k = k.lower()
        if k in ("vendor_id", "cpu implementer") and vendor is None:
            vendor = v
        elif k in ("flags", "features") and not flags:
            flags = set(v.split())
        elif k == "cpu mhz" and mhz is None:
            try:
                mhz = float(v)
            except ValueError:
                pass
    top = cpu_frequency()[1]
    return {"vendor": vendor, "flags": [f for f in ISA_FLAGS if f in flags], "mhz": top or mhz}


def affinity():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


#: what the sentilite Raspberry Pi stand-in writes into its root filesystem
STANDIN_MARKER = "/etc/sentilite-standin"
EMULATION_NOTE = "emulated aarch64: timings are not device speeds"


def emulation():
    """Is this an emulated CPU (qemu)? ``{"emulated": bool, "how": str or None, "note": str or None}``.

    Signs: the stand-in's marker file, a QEMU_CPU setting, or an ARM userland on a kernel built
    for x86 (qemu-user passes system calls to the host kernel, whose /proc/version says so).
    """
    how = None
    marker = _read(STANDIN_MARKER, 512)
    if marker:
        how = marker.splitlines()[0]
    elif os.environ.get("QEMU_CPU"):
        how = "qemu-user, QEMU_CPU=" + os.environ["QEMU_CPU"]
    elif platform.machine().lower() in ("aarch64", "arm64", "armv7l", "armv8l"):
        version = (_read("/proc/version", 1024) or "").lower()
        if "x86_64" in version or "amd64" in version:
            how = "qemu-user (an ARM userland on an x86-64 kernel)"
    return {"emulated": how is not None, "how": how, "note": EMULATION_NOTE if how else None}


def system_info():
    """What we can read about the machine without privileges; missing facts are None."""
    info = cpu_model()
    freq = _read(sys_path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"), 64)
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):
        load = None
    info.update(
        {
            "hostname": platform.node(),
            "machine": platform.machine(),
            "platform": platform.platform(),
            "cores": os.cpu_count(),
            "affinity": affinity(),
            "governor": _read(sys_path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"), 64),
            "cpu_mhz": round(int(freq) / 1000.0) if freq and freq.isdigit() else None,
            "temperature_c": temperature_c(),
            "loadavg": [round(v, 2) for v in load] if load else None,
            "python": platform.python_version(),
            "emulation": emulation(),
            "isa": isa(),
        }
    )
    return info


class CaptureStderr:
    """Collect what native code writes to fd 2 (delegate banners, converter and TF diagnostics).

    ``text`` holds it after the block. With ``passthrough`` (e.g. ``SENTILITE_DEBUG`` set)
    nothing is captured and the output goes where it always goes.
    """

    def __init__(self, passthrough=False):
        self.text = ""
        self.passthrough = passthrough
        self._saved = None

    def __enter__(self):
        if self.passthrough:
            return self
        self._file = tempfile.TemporaryFile()
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            os.dup2(self._file.fileno(), 2)
        except OSError:
            self._saved = None
        return self

    def __exit__(self, *exc):
        if self.passthrough:
            return False
        if self._saved is not None:
            try:
                sys.stderr.flush()
            except Exception:  # noqa: BLE001
                pass
            os.dup2(self._saved, 2)
            os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode("utf-8", "replace")
        self._file.close()
        return False


def parse_cpu_mask(mask):
    """'f0' / '0xf0' (taskset hex mask) or '4-7' / '0,2' (a CPU list) -> set of CPUs."""
    m = str(mask).strip().lower()
    if "," in m or "-" in m:
        cpus = set()
        for part in m.split(","):
            if "-" in part:
                a, b = part.split("-", 1)
                cpus.update(range(int(a), int(b) + 1))
            elif part:
                cpus.add(int(part))
        return cpus
    value = int(m[2:] if m.startswith("0x") else m, 16)
    cpus = {i for i in range(value.bit_length()) if value >> i & 1}
    if not cpus:
        raise ValueError(f"CPU mask {mask!r} selects no CPU (it is hexadecimal: 1 = CPU 0, f0 = CPUs 4-7)")
    return cpus
