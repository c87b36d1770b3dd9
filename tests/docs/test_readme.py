"""The README stays a front page: under 12 KB, every link it makes leads somewhere (a file of the
repository, a heading of a docs page); its two examples are run by tests/test_callers_guide.py."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _slugs(page: Path) -> set[str]:
    """The anchors MkDocs gives a page's headings (toc's default slugify)."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h).strip().lower()) for h in headings}


def broken_links(markdown: str, base: Path) -> list[str]:
    broken = []
    for target in LINK.findall(markdown):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        if not path:
            continue  # an anchor of the page itself
        file = (base / path).resolve()
        missing = not file.exists()
        if missing or (anchor and file.suffix == ".md" and anchor not in _slugs(file)):
            broken.append(target)
    return broken


def test_the_readme_is_under_12_kb():
    assert len(README.read_bytes()) < 12 * 1024


def test_every_link_of_the_readme_leads_somewhere():
    text = README.read_text()
    assert len(LINK.findall(text)) >= 20  # the docs' pages, the screenshot
    assert broken_links(text, ROOT) == []


def test_every_link_of_contributing_leads_somewhere():
    assert broken_links((ROOT / "CONTRIBUTING.md").read_text(), ROOT) == []


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Paging, worked through\n")
    text = (
        "[ok](docs/page.md) [ok](docs/page.md#paging-worked-through) [web](https://example.org) "
        "[gone](docs/nope.md) [bad anchor](docs/page.md#paging) ![shot](docs/none.png)"
    )
    assert broken_links(text, tmp_path) == ["docs/nope.md", "docs/page.md#paging", "docs/none.png"]


def test_the_screenshot_is_small():
    assert (ROOT / "docs" / "assets" / "graphiql.png").stat().st_size < 150 * 1024
