"""The figures quoted in README.md and docs/*.md are the ones in bench/results/*.json.

Each quoted figure sits in a `<!-- figures:NAME -->` block that `scripts/figures` writes from the
JSON; these tests fail when a block was edited by hand, or the JSON changed without the docs.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from rafkatools import figures  # noqa: E402


def test_every_figures_block_in_the_docs_matches_the_benchmark_results():
    assert figures.stale() == [], "run scripts/figures to rewrite the blocks from bench/results/*.json"


def test_every_figures_generator_is_quoted_somewhere():
    used = {m.group(1) for doc in figures.documents() for m in figures.BLOCK.finditer(doc.read_text())}
    assert used == set(figures.GENERATORS)


def test_the_readme_headline_is_the_reports_headline():
    report = (ROOT / "bench" / "results" / "REPORT.md").read_text()
    table = "\n".join(figures.headline_rows(figures.Results().suite["results"]))
    assert table in report
    assert table in (ROOT / "README.md").read_text()


def copy_of_the_tree(tmp_path: Path) -> Path:
    for doc in figures.documents():
        target = tmp_path / doc.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(doc, target)
    shutil.copytree(ROOT / "bench" / "results", tmp_path / "bench" / "results",
                    ignore=shutil.ignore_patterns("*.png"))
    return tmp_path


def test_a_changed_result_makes_the_check_name_the_block_that_quotes_it(tmp_path):
    root = copy_of_the_tree(tmp_path)
    path = root / "bench" / "results" / "java.json"
    doc = json.loads(path.read_text())
    doc["median"]["rafka"]["records_per_s"] += 1000
    path.write_text(json.dumps(doc))
    assert figures.stale(root) == ["docs/java.md: java"]


def test_a_hand_edited_figure_is_caught(tmp_path):
    root = copy_of_the_tree(tmp_path)
    readme = root / "README.md"
    text = readme.read_text()
    assert "| rafka (C API) | " in text
    readme.write_text(text.replace("| rafka (C API) | ", "| rafka (C API) | 9", 1))
    assert figures.stale(root) == ["README.md: headline"]


def test_an_unknown_block_name_and_an_unclosed_block_are_errors(tmp_path):
    root = copy_of_the_tree(tmp_path)
    doc = root / "docs" / "tuning.md"
    doc.write_text(doc.read_text() + "\n<!-- figures:no-such -->\nx\n<!-- /figures:no-such -->\n")
    with pytest.raises(KeyError, match="no figures block called 'no-such'"):
        figures.stale(root)
    doc.write_text(doc.read_text().replace("<!-- /figures:no-such -->", ""))
    with pytest.raises(ValueError, match="not closed"):
        figures.stale(root)


def test_the_command_checks_and_exits_1_on_stale_blocks():
    ok = subprocess.run([str(ROOT / "scripts" / "figures"), "--check"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([str(ROOT / "scripts" / "figures"), "--frobnicate"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage: scripts/figures [--check]" in bad.stderr
