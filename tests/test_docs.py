"""The docs: a short README whose links resolve, a site that builds strict, and a model card page
rendered from the card JSON (never typed twice)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CARD = REPO / "sentilite" / "models" / "sentiment_mobilenetv2_int8.json"


def hook():
    spec = importlib.util.spec_from_file_location("model_card_hook", REPO / "docs" / "hooks" / "model_card.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_a_short_front_page_whose_links_resolve():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith("http"):
            assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_the_card_page_is_rendered_from_the_card_json(tmp_path):
    """Planted defect: type a figure into the page instead of reading it; a changed card then no
    longer changes the page."""
    card = json.loads(CARD.read_text())
    page = (REPO / "docs" / "model-card.md").read_text()
    assert hook().PLACEHOLDER in page
    rendered = hook().on_page_markdown(page, None, None, None)
    for e in (v for v in card["evaluation"].values() if isinstance(v, dict)):
        assert f"{e['accuracy']:.3f}" in rendered and f"{e['macro_f1']:.3f}" in rendered
    changed = json.loads(CARD.read_text())
    changed["evaluation"]["emotion6_test_int8"]["accuracy"] = 0.1234
    assert "0.123" in hook().render(changed) and "0.123" not in hook().render(card)
    typed = f"{card['evaluation']['emotion6_test_int8']['accuracy']:.3f}"
    assert typed not in page.replace(hook().PLACEHOLDER, ""), "a card figure is typed into the page"


def test_the_site_builds_strict(tmp_path):
    exe = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    if not Path(exe).exists():
        pytest.skip("needs mkdocs (pip install -e '.[docs]')")
    proc = subprocess.run(
        [exe, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(exe).parent) + ":/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (tmp_path / "site" / "model-card" / "index.html").read_text()
    assert "3-class accuracy <strong>" in html
