"""An import guard for the "device side never needs TensorFlow" tests.

``guarded_env(tmp)`` returns an environment whose Python processes (the CLI and every runner
process it starts) load a ``sitecustomize`` that puts a finder first on ``sys.meta_path``:
each attempt to import tensorflow, keras or tf_keras is appended to a log file and then fails
with ImportError. A fallback that tries ``import tensorflow`` and swallows the error therefore
still leaves a line in the log, which ``attempts(tmp)`` returns: the tests keep it empty.
"""

from __future__ import annotations

import os
from pathlib import Path

GUARDED = ("tensorflow", "keras", "tf_keras")

_SITE = """
import importlib.abc, os, sys

class _TensorFlowGuard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {guarded!r}:
            with open(os.environ["SENTILITE_TFGUARD_LOG"], "a") as fh:
                fh.write(name + "\\n")
            raise ImportError("import of " + name + " blocked by the test's TensorFlow guard")
        return None

sys.meta_path.insert(0, _TensorFlowGuard())
"""


def guarded_env(tmp: Path) -> dict[str, str]:
    site = tmp / "tfguard_site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITE.format(guarded=GUARDED))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(site) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["SENTILITE_TFGUARD_LOG"] = str(tmp / "tf_import_attempts.log")
    return env


def attempts(tmp: Path) -> list[str]:
    log = tmp / "tf_import_attempts.log"
    return log.read_text().split() if log.exists() else []
