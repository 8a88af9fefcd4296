"""A stand-in ``adb`` for the tests: records every call and replays a real benchmark_model report.

Installed as an executable named ``adb`` first on PATH by :func:`install`. Its behaviour comes
from environment variables (all optional):

FAKE_ADB_LOG          file that receives one JSON list (argv) per call
FAKE_ADB_DEVICES      "SERIAL:state,..." for ``adb devices`` (default "R58M12345:device")
FAKE_ADB_ABI          ro.product.cpu.abi (default arm64-v8a)
FAKE_ADB_FREE_KB      "Available" column of ``df -k`` (default 50000000)
FAKE_ADB_OUTPUT       file whose text benchmark_model "prints"
FAKE_ADB_OP_PROFILE   file whose text it prints after that when given --enable_op_profiling=true
FAKE_ADB_FAIL_GRAPH   a --graph value that makes benchmark_model fail to load the model
FAKE_ADB_GONE_AFTER   after this many benchmark runs the device "disappears"
FAKE_ADB_STATE        folder for the call counter
FAKE_ADB_ROOT         emulate a device with Python: pushes land under this folder and other
                      shell commands really run there (``/data/local/tmp`` mapped into it)
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

SCRIPT = r"""
import json, os, sys
env = os.environ
argv = sys.argv[1:]
if env.get("FAKE_ADB_LOG"):
    with open(env["FAKE_ADB_LOG"], "a") as fh:
        fh.write(json.dumps(argv) + "\n")
devices = dict(d.split(":", 1) for d in env.get("FAKE_ADB_DEVICES", "R58M12345:device").split(",") if d)
if argv[:1] == ["devices"]:
    print("List of devices attached")
    for s, st in devices.items():
        print(f"{s}\t{st}")
    sys.exit(0)
serial = None
if argv[:1] == ["-s"]:
    serial, argv = argv[1], argv[2:]
if serial is not None and serial not in devices:
    print(f"adb: device '{serial}' not found", file=sys.stderr)
    sys.exit(1)
state = env.get("FAKE_ADB_STATE", "/tmp")
runs_file = os.path.join(state, "fake_adb_runs")
def runs():
    try:
        return int(open(runs_file).read())
    except (OSError, ValueError):
        return 0
gone_after = env.get("FAKE_ADB_GONE_AFTER")
if gone_after is not None and runs() >= int(gone_after):
    print("error: device offline", file=sys.stderr)
    sys.exit(1)
cmd = argv[0] if argv else ""
root = env.get("FAKE_ADB_ROOT")
if cmd == "push":
    src, dst = argv[1], argv[2]
    if root:
        import shutil
        local = root + dst
        os.makedirs(os.path.dirname(local), exist_ok=True)
        shutil.copyfile(src, local)
    if env.get("FAKE_ADB_PUSH_FAIL"):
        print(f"adb: error: failed to copy '{src}' to '{dst}': remote No space left on device", file=sys.stderr)
        sys.exit(1)
    print(f"{src}: 1 file pushed, 0 skipped. 35.2 MB/s ({os.path.getsize(src)} bytes in 0.001s)")
    sys.exit(0)
if cmd == "shell":
    line = " ".join(argv[1:])
    if "getprop" in line:
        print("manufacturer=Google"); print("model=Pixel 7"); print("abi=" + env.get("FAKE_ADB_ABI", "arm64-v8a"))
        print("android=14"); print("hardware=tensor"); print("cores=8")
        print("governor=sched_pixel"); print("temp=38500")
        sys.exit(0)
    if "df -k" in line:
        free = int(env.get("FAKE_ADB_FREE_KB", "50000000"))
        print("Filesystem      1K-blocks      Used Available Use% Mounted on")
        print(f"/dev/block/dm-48 115310340 {115310340 - free} {free}  44% /data")
        sys.exit(0)
    if root and "getprop" not in line and "df -k" not in line:
        import subprocess
        line = line.replace("/data/local/tmp", root + "/data/local/tmp")
        sys.exit(subprocess.call(["sh", "-c", line]))
    if "benchmark_model" in line and "chmod" not in line:
        open(runs_file, "w").write(str(runs() + 1))
        bad = env.get("FAKE_ADB_FAIL_GRAPH")
        if bad and f"--graph={bad}" in line:
            print("STARTING!")
            print(f"Graph: [{bad}]")
            print("ERROR: The model is not a valid Flatbuffer buffer")
            print(f"ERROR: Failed to mmap model {bad}")
            print("ERROR: Benchmarking failed.")
            sys.exit(1)
        sys.stdout.write(open(env["FAKE_ADB_OUTPUT"]).read())
        if "--enable_op_profiling=true" in line and env.get("FAKE_ADB_OP_PROFILE"):
            sys.stdout.write(open(env["FAKE_ADB_OP_PROFILE"]).read())  # as the tool does: after its report
        sys.exit(0)
    sys.exit(0)  # mkdir, chmod, rm -rf ...
print(f"fake adb: unsupported {argv}", file=sys.stderr)
sys.exit(1)
"""


def install(folder: Path) -> Path:
    """Write the fake as ``folder/adb`` (executable) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "adb"
    exe.write_text(f"#!{sys.executable}\n" + SCRIPT)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def env_for(folder: Path, output: str, **extra: str) -> dict[str, str]:
    out_file = folder / "benchmark_output.txt"
    out_file.write_text(output)
    env = {
        "FAKE_ADB_LOG": str(folder / "adb_calls.jsonl"),
        "FAKE_ADB_OUTPUT": str(out_file),
        "FAKE_ADB_STATE": str(folder),
    }
    env.update(extra)
    env["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    return env
