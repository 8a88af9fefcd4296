"""The floors hold: import-linter's contracts pass on what pip installs, and fail when broken.

The contracts are checked on a plain (non-editable) install of the package into a temporary
folder, because that is where ``sentilite.train`` and friends really sit under one namespace.
Each "can fail" test plants one forbidden import in a copy and expects that contract to break.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / ".importlinter"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """``pip install --target`` of this checkout: the tree a user gets in site-packages."""
    if shutil.which("lint-imports") is None and not (Path(sys.executable).parent / "lint-imports").exists():
        pytest.skip("needs import-linter (pip install -e '.[dev]')")
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    had_build = (REPO / "build").exists()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=build,
    )
    if not had_build:  # setuptools builds in the source tree; leave the checkout as it was
        shutil.rmtree(REPO / "build", ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return target


def lint(site: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(exe) if exe.exists() else "lint-imports", "--no-cache", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=site,
    )


def test_nothing_generic_lands_at_the_top_of_site_packages(installed):
    top = sorted(
        p.name for p in installed.iterdir() if not p.name.endswith((".dist-info", ".egg-info")) and p.name != "bin"
    )
    assert top == ["sentilite"], top
    for part in ("train", "convert", "device_bench", "camera_demo", "core", "app"):
        assert (installed / "sentilite" / part / "__init__.py").is_file(), part


def test_every_contract_is_kept(installed):
    proc = lint(installed)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize(
    "module, planted, contract",
    [
        ("core/metrics.py", "import sentilite.app.cli", "Floors: app above parts above core"),
        ("convert/report.py", "import sentilite.device_bench.stats", "The four parts are independent"),
        ("camera_demo/overlay.py", "import tensorflow", "The device side is TensorFlow-free"),
        ("core/runtime.py", "from sentilite.core import tf_import", "The device side is TensorFlow-free"),
    ],
)
def test_a_planted_import_breaks_its_contract(installed, tmp_path, module, planted, contract):
    site = tmp_path / "site"
    shutil.copytree(installed / "sentilite", site / "sentilite")
    target = site / "sentilite" / module
    target.write_text(target.read_text() + f"\n{planted}  # planted by the test\n")
    proc = lint(site)
    assert proc.returncode != 0, proc.stdout[-3000:]
    broken = [ln for ln in proc.stdout.splitlines() if "BROKEN" in ln]
    assert any(contract in ln for ln in broken) or contract in proc.stdout.split("Broken contracts")[-1], proc.stdout[
        -3000:
    ]


def test_size_rules_no_function_over_80_lines_no_module_over_400():
    """The house rule (README, Architecture): long orchestrators become named steps."""
    import ast

    too_long = []
    for folder in ("sentilite", "train", "convert", "device_bench", "camera_demo", "bench", "release"):
        for path in sorted((REPO / folder).rglob("*.py")):
            src = path.read_text(encoding="utf-8")
            rel = path.relative_to(REPO)
            if len(src.splitlines()) > 400:
                too_long.append(f"module {rel}: {len(src.splitlines())} lines")
            for node in ast.walk(ast.parse(src)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                    too_long.append(f"function {rel}:{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, too_long


# Issue 29 counted 303 of 1,954 parameters typed `Any` and ~150 `dict[str, Any]` in convert and
# device_bench; the records (convert/records.py, device_bench/records.py) and the real types of
# models, tensors and modules halved both. These ceilings keep it so: raise them only with a reason.
ANY_PARAMETER_CEILING = 150
DICT_ANY_CEILING = 79


def _parts_sources():
    for folder in ("sentilite", "train", "convert", "device_bench", "camera_demo"):
        for path in sorted((REPO / folder).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def count_any_parameters() -> tuple[int, int]:
    """(parameters annotated exactly ``Any``, all parameters) over the package's functions."""
    import ast

    typed_any = total = 0
    for _, src in _parts_sources():
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                for arg in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
                    if arg.arg in ("self", "cls"):
                        continue
                    total += 1
                    typed_any += arg.annotation is not None and ast.unparse(arg.annotation) == "Any"
    return typed_any, total


def test_any_stays_cut_at_the_layer_crossings():
    """Typed records cross the layers, not ``Any`` (issue 29): planting ``Any`` back fails here."""
    typed_any, total = count_any_parameters()
    dict_any = sum(
        src.count("dict[str, Any]")
        for path, src in _parts_sources()
        if path.relative_to(REPO).parts[0] in ("convert", "device_bench")
    )
    assert typed_any <= ANY_PARAMETER_CEILING, f"{typed_any} of {total} parameters are typed Any"
    assert dict_any <= DICT_ANY_CEILING, f"dict[str, Any] appears {dict_any} times in convert and device_bench"
