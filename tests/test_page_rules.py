"""Rules every page of the built site keeps (issues 20 and 21): figures, alt text, no typed numbers.

* Every glossary term page shows at least one figure inside its Worked example section, and
  every figure on the site has alt text and a title (checked on the built HTML).
* Two strict builds produce byte-identical SVG, page by page.
* No page has a number typed into its prose (tests/prose_numbers.py explains what counts), and
  the allow-list holds no stale line.
"""

from __future__ import annotations

import re
from pathlib import Path

import prose_numbers
import pytest
from conftest import build_site

ROOT = Path(__file__).resolve().parents[1]
TERM_PAGES = sorted(
    p.stem for p in (ROOT / "docs" / "glossary").glob("*.md") if p.name != "index.md"
)
_FIGURE = re.compile(r'<figure class="mlg-figure">.*?</figure>', re.S)
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def worked_example_html(page_html: str) -> str:
    """The HTML between the Worked example heading and the next H2."""
    start = page_html.find('<h2 id="worked-example"')
    assert start >= 0, "no Worked example heading"
    end = page_html.find("<h2 ", start + 1)
    return page_html[start : end if end > 0 else len(page_html)]


@pytest.mark.xdist_group("site")
@pytest.mark.parametrize("slug", TERM_PAGES)
def test_worked_example_shows_a_figure(built_site: tuple[Path, float], slug: str) -> None:
    site_dir, _ = built_site
    html = (site_dir / "glossary" / slug / "index.html").read_text(encoding="utf-8")
    figures = _FIGURE.findall(worked_example_html(html))
    assert figures, f"glossary/{slug}: no figure in the Worked example section"


@pytest.mark.xdist_group("site")
def test_every_figure_has_alt_text_title_and_caption(built_site: tuple[Path, float]) -> None:
    site_dir, _ = built_site
    problems, count = [], 0
    for page in sorted(site_dir.rglob("index.html")):
        for figure in _FIGURE.findall(page.read_text(encoding="utf-8")):
            count += 1
            where = page.parent.relative_to(site_dir).as_posix()
            alt = re.search(r'<svg[^>]*\baria-label="([^"]*)"', figure)
            if not alt or not alt.group(1).strip():
                problems.append(f"{where}: a figure without alt text")
            if "<title>" not in figure or not re.search(r"<figcaption>\s*\S", figure):
                problems.append(f"{where}: a figure without title or caption")
    assert count >= len(TERM_PAGES)
    assert not problems, "\n".join(problems)


@pytest.mark.xdist_group("site")
def test_no_markdown_markup_leaks_into_figures(built_site: tuple[Path, float]) -> None:
    """Markdown's inline processors (abbreviations, emphasis) must not touch SVG text."""
    site_dir, _ = built_site
    leaks = [
        page.parent.relative_to(site_dir).as_posix()
        for page in sorted(site_dir.rglob("index.html"))
        for svg in _SVG.findall(page.read_text(encoding="utf-8"))
        if re.search(r"<(abbr|em|strong|code|a)\b", svg)
    ]
    assert not leaks, f"HTML markup inside figure SVG on: {sorted(set(leaks))}"


@pytest.mark.slow
@pytest.mark.xdist_group("site")
def test_two_builds_give_byte_identical_svg(
    built_site: tuple[Path, float], tmp_path_factory: pytest.TempPathFactory
) -> None:
    first, _ = built_site
    second = tmp_path_factory.mktemp("site-again")
    result = build_site(second)
    assert result.returncode == 0, result.stderr[-2000:]
    differ, total = [], 0
    for page in sorted(first.rglob("index.html")):
        rel = page.relative_to(first)
        a = _SVG.findall(page.read_text(encoding="utf-8"))
        b = _SVG.findall((second / rel).read_text(encoding="utf-8"))
        total += len(a)
        if a != b:
            differ.append(rel.parent.as_posix())
    assert total > 0
    assert not differ, f"SVG differs between two builds on: {differ}"


@pytest.mark.parametrize(
    "page", prose_numbers.pages(), ids=lambda p: p.relative_to(prose_numbers.DOCS).as_posix()
)
def test_no_number_is_typed_into_prose(page: Path) -> None:
    rel = page.relative_to(prose_numbers.DOCS).as_posix()
    allowed = prose_numbers.read_allow_list().get(rel)
    typed = prose_numbers.typed_numbers(rel, page.read_text(encoding="utf-8"), allowed)
    assert not typed, "\n".join(map(str, typed))


def test_the_allow_list_has_no_stale_line() -> None:
    assert prose_numbers.stale_allow_list_entries(prose_numbers.read_allow_list()) == []
