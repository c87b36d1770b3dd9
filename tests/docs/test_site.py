"""The documentation site builds with `mkdocs build --strict` (a broken link or anchor, a page
missing from the nav or a nav entry without its page each fail), and what it builds loads
nothing from another host (no CDN font, script or stylesheet)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = [sys.executable, "-m", "mkdocs"]
# Where a page may load from: itself. A link (<a href>) to another site is fine.
EXTERNAL_LOAD = re.compile(
    r"<(?:script|img|iframe)[^>]*\ssrc=\"(?:https?:)?//|<link[^>]*\shref=\"(?:https?:)?//"
    r"|@import\s+url\((?:https?:)?//|fonts\.googleapis|fonts\.gstatic"
)


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MKDOCS, "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", directory)
    assert result.returncode == 0, result.stderr
    return directory


def test_the_site_builds_strictly(site):
    assert (site / "index.html").exists()
    assert (site / "reference" / "settings.html").exists()
    assert (site / "api" / "graphql.html").exists()


def test_nothing_is_loaded_from_another_host(site):
    loads = {
        str(page.relative_to(site)): EXTERNAL_LOAD.findall(page.read_text())
        for page in site.rglob("*.html")
    }
    assert {page: found for page, found in loads.items() if found} == {}
    assert "fonts.googleapis" not in "".join(p.read_text() for p in site.rglob("*.css"))


def test_a_broken_link_fails_the_build(tmp_path):
    """Strict mode is really on, with mkdocs.yml's own settings: a small site whose one link names
    a heading that does not exist, and with a page the nav leaves out, does not build."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [paging](api.md#no-such-heading).\n")
    (docs / "api.md").write_text("# API\n\n## Paging\n")
    (docs / "orphan.md").write_text("# Not in the nav\n")
    config.update(docs_dir=str(docs), nav=[{"Home": "index.md"}, {"API": "api.md"}])
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 1
    assert "does not contain an anchor '#no-such-heading'" in result.stderr
    assert "orphan.md" in result.stderr


USER_PAGES = [
    page
    for page in sorted((ROOT / "docs").rglob("*.md"))
    if page.relative_to(ROOT / "docs").parts[0] not in ("contributing", "design", "reference")
]


@pytest.mark.parametrize("page", USER_PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_user_pages_name_no_test_file_and_no_file_a_clone_lacks(page):
    """A caller or an operator reads what the project does, not which test holds it (that is
    contributing/tests.md), and no file outside the repository (DESIGN.md, ../shared/)."""
    text = page.read_text()
    assert re.findall(r"\btests/[\w/.]+|\btest_\w+\.py", text) == []
    assert re.findall(r"DESIGN(?:\.md| section)|\.\./shared/", text) == []
