"""The built site in a real browser: Playwright's Python API driving Debian's Chromium.

Never `playwright install`: the browser is `/usr/bin/chromium` from Debian's packages. Without it
these tests skip with a reason, except under `CI=true`, where a missing Chromium fails.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import in_ci

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        if in_ci():
            pytest.fail(f"playwright is not installed: {exc}")
        pytest.skip(f"playwright is not installed: {exc}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _pages(site_dir: Path) -> list[str]:
    """Every page of the site as a URL path ('' for the landing page)."""
    paths = []
    for html in sorted(site_dir.rglob("index.html")):
        rel = html.parent.relative_to(site_dir).as_posix()
        paths.append("" if rel == "." else rel + "/")
    return paths


class _Recorder:
    """Collects console errors, page errors and every requested URL of one browser page."""

    def __init__(self, page: object) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))  # type: ignore[attr-defined]
        page.on("request", lambda request: self.requests.append(request.url))  # type: ignore[attr-defined]

    def foreign_hosts(self) -> set[str]:
        hosts = {urlparse(url).hostname for url in self.requests}
        return {host for host in hosts if host not in {"127.0.0.1", None}}


def test_every_page_loads_without_errors_or_outside_requests(
    browser: object, site_url: str, built_site: tuple[Path, float]
) -> None:
    site_dir, _ = built_site
    pages = _pages(site_dir)
    assert len(pages) >= 6
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    recorder = _Recorder(page)
    problems = []
    for path in pages:
        recorder.errors.clear()
        response = page.goto(site_url + path, wait_until="networkidle")
        if response is None or response.status != 200:
            problems.append(f"{path}: status {response and response.status}")
        if recorder.errors:
            problems.append(f"{path}: console errors {recorder.errors}")
    context.close()
    assert not problems, "\n".join(problems)
    assert not recorder.foreign_hosts(), f"requests left 127.0.0.1: {recorder.foreign_hosts()}"
    assert any(url.endswith(".woff2") for url in recorder.requests), "KaTeX fonts never loaded"


def test_math_is_typeset_by_self_hosted_katex(
    browser: object, site_url: str, built_site: tuple[Path, float]
) -> None:
    site_dir, _ = built_site
    math_pages = [
        p
        for p in _pages(site_dir)
        if 'class="arithmatex"' in (site_dir / p / "index.html").read_text()
    ]
    assert math_pages, "no page contains math"
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(site_url + math_pages[0], wait_until="networkidle")
    page.wait_for_selector(".arithmatex .katex", timeout=10_000)
    typeset = page.locator(".arithmatex .katex-html").count()
    raw = page.locator(".arithmatex").count()
    assert typeset >= 1 and typeset == raw, (
        f"{typeset} of {raw} formulas typeset on {math_pages[0]}"
    )
    # After instant navigation to another page and back, the formulas are typeset again.
    page.click("a.md-header__button.md-logo")
    page.wait_for_load_state("networkidle")
    page.go_back()
    page.wait_for_selector(".arithmatex .katex", timeout=10_000)
    page.close()


def _unique_word(site_dir: Path) -> tuple[str, str]:
    """A word that occurs on exactly one page of the search index, and that page's location.

    Tokens are cut as the search engine (lunr) cuts them: split on the index's separator, trim
    non-word characters at both ends, lower-case; only plain alphabetic tokens of prose are
    candidates (code and the generated API pages are left out, as a reader searches prose).
    """
    index = json.loads((site_dir / "search" / "search_index.json").read_text())
    separator = re.compile(index["config"]["separator"])
    html_tag = re.compile(r"<[^>]+>")
    code = re.compile(r"<(pre|code)\b.*?</\1>", re.S)
    pages: dict[str, set[str]] = {}
    for doc in index["docs"]:
        page = doc["location"].split("#", 1)[0]
        text = html_tag.sub(" ", code.sub(" ", doc["title"] + " " + doc["text"]))
        tokens = {re.sub(r"^\W+|\W+$", "", token).lower() for token in separator.split(text)}
        for word in tokens:
            if re.fullmatch(r"[a-z]{9,}", word):
                pages.setdefault(word, set()).add(page)
    counts = Counter({w: len(p) for w, p in pages.items()})
    unique = sorted(
        w for w, n in counts.items() if n == 1 and not next(iter(pages[w])).startswith("reference/")
    )
    assert unique, "no word is unique to one page"
    word = max(unique, key=lambda w: (len(w), w))
    return word, next(iter(pages[word]))


def test_search_finds_the_only_page_with_a_word(
    browser: object, site_url: str, built_site: tuple[Path, float]
) -> None:
    site_dir, _ = built_site
    word, location = _unique_word(site_dir)
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(site_url, wait_until="networkidle")
    page.click("label.md-search__icon, .md-search__input")
    # Type key by key: the search box reacts to keyboard events, not to a programmatic fill.
    page.locator("input.md-search__input").press_sequentially(word, delay=20)
    page.wait_for_selector(".md-search-result__item a", timeout=15_000)
    hrefs = page.eval_on_selector_all(".md-search-result__item a", "els => els.map(e => e.href)")
    page.close()
    expected = site_url + location
    assert any(href.split("#", 1)[0].split("?", 1)[0] == expected for href in hrefs), (
        word,
        expected,
        hrefs,
    )


def test_code_blocks_have_a_copy_button(
    browser: object, site_url: str, built_site: tuple[Path, float]
) -> None:
    site_dir, _ = built_site
    code_pages = [
        p for p in _pages(site_dir) if "<pre" in (site_dir / p / "index.html").read_text()
    ]
    assert code_pages, "no page has a code block"
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(site_url + code_pages[0], wait_until="networkidle")
    blocks = page.locator("pre > code").count()
    buttons = page.locator(
        "pre > button.md-clipboard, .md-code__button[data-md-type='copy'], button.md-clipboard"
    ).count()
    page.close()
    assert blocks >= 1 and buttons >= 1, (
        f"{code_pages[0]}: {blocks} code blocks, {buttons} copy buttons"
    )


# --- figures: visible, and readable in both palettes ------------------------------------------

_FIGURE_STYLES = """() => {
  const opaque = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && c !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(c)) return c;
    }
    return getComputedStyle(document.body).backgroundColor;
  };
  return [...document.querySelectorAll('figure.mlg-figure')].map((fig) => {
    const svg = fig.querySelector('svg');
    const box = svg.getBoundingClientRect();
    const ink = (el) => /#(000000|ffffff)/.test(el.getAttribute('style') || '');
    const texts = [...svg.querySelectorAll('text tspan, text')].filter((t) => !ink(t) && t.textContent.trim());
    const marks = [...svg.querySelectorAll('[style*="--mlg-fig-"]')];
    return {
      alt: svg.getAttribute('aria-label') || '',
      width: box.width, height: box.height,
      background: opaque(fig),
      text: [...new Set(texts.map((t) => getComputedStyle(t).fill))],
      marks: [...new Set(marks.map((m) => {
        const s = getComputedStyle(m);
        return (m.getAttribute('style') || '').includes('stroke: var(--mlg') ? s.stroke : s.fill;
      }))],
    };
  });
}"""


def _rgba(css: str) -> tuple[float, float, float, float]:
    """`rgb(r, g, b)` or `rgba(r, g, b, a)` (what getComputedStyle returns) as floats in [0, 1]."""
    numbers = [float(v) for v in re.findall(r"[\d.]+", css)]
    if len(numbers) not in (3, 4):
        raise ValueError(f"not an rgb colour: {css!r}")
    red, green, blue = (v / 255 for v in numbers[:3])
    return red, green, blue, numbers[3] if len(numbers) == 4 else 1.0


def _luminance(colour: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(c) for c in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of a (possibly translucent) colour drawn over an opaque background."""
    *fg, alpha = _rgba(foreground)
    bg = _rgba(background)[:3]
    mixed = tuple(alpha * f + (1 - alpha) * b for f, b in zip(fg, bg, strict=True))
    light, dark = sorted((_luminance(mixed), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_matches_the_wcag_examples() -> None:
    assert contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21.0)
    assert contrast("rgb(119, 119, 119)", "rgb(255, 255, 255)") == pytest.approx(4.48, abs=0.01)
    assert contrast("rgba(0, 0, 0, 0)", "rgb(30, 32, 41)") == pytest.approx(1.0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_figure_is_visible_and_readable_in_both_palettes(
    browser: object, site_url: str, built_site: tuple[Path, float], scheme: str
) -> None:
    """Text of every figure has >= 4.5:1 contrast and every series mark >= 3:1 (WCAG 2.1)."""
    site_dir, _ = built_site
    pages = [
        p for p in _pages(site_dir) if "mlg-figure" in (site_dir / p / "index.html").read_text()
    ]
    assert pages, "no page shows a figure"
    context = browser.new_context(color_scheme=scheme)  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    seen = 0
    for path in pages:
        page.goto(site_url + path, wait_until="networkidle")
        for i, fig in enumerate(page.evaluate(_FIGURE_STYLES)):
            seen += 1
            where = f"{scheme} {path} figure {i + 1}"
            if not fig["alt"].strip():
                problems.append(f"{where}: no alt text")
            if fig["width"] < 50 or fig["height"] < 50:
                problems.append(f"{where}: rendered {fig['width']:.0f}x{fig['height']:.0f} px")
            if not fig["text"]:
                problems.append(f"{where}: no text (labels drawn as paths?)")
            for colour in fig["text"]:
                if (ratio := contrast(colour, fig["background"])) < 4.5:
                    problems.append(f"{where}: text {colour} on {fig['background']}: {ratio:.2f}")
            for colour in fig["marks"]:
                if colour != "none" and (ratio := contrast(colour, fig["background"])) < 3.0:
                    problems.append(f"{where}: mark {colour} on {fig['background']}: {ratio:.2f}")
    context.close()
    assert seen >= len(pages)
    assert not problems, "\n".join(problems)
