"""`sentilite demo` imports and runs without ever trying TensorFlow (the device side)."""

import json
import subprocess
import sys
import textwrap

from tfguard import attempts, guarded_env

from sentilite.core.synthetic import make_synthetic_video


def test_demo_runs_without_tensorflow(tiny_variants, tmp_path):
    clip = make_synthetic_video(tmp_path / "clip.avi", frames=20, size=(120, 160))
    log, summary = tmp_path / "log.jsonl", tmp_path / "summary.json"
    code = textwrap.dedent(f"""
        import sys
        from sentilite.app.cli import main
        try:
            main(["demo", "--model", {str(tiny_variants["int8"])!r}, "--source", {str(clip)!r}, "--no-display",
                  "--max-frames", "12", "--sync", "--log", {str(log)!r}, "--summary-json", {str(summary)!r}])
        except SystemExit as e:
            assert e.code in (0, None), e.code
        heavy = [m for m in ("matplotlib", "rich", "PIL", "pandas", "scipy") if m in sys.modules]
        assert not heavy, heavy
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=guarded_env(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert "demo summary" in proc.stdout and attempts(tmp_path) == []
    s = json.loads(summary.read_text())
    assert s["frames"] == 12 and len(log.read_text().splitlines()) == 12
