"""Structure and link checks for the glossary pages, by parsing their Markdown (no site build).

Every term page under `docs/glossary/` must have the anchor line right under its H1, the nine H2
sections of issue 8 in order, at least one executed block, and only links that resolve: relative
`.md` links (and their `#anchor`) to existing pages, `[text][identifier]` cross-references to an
explicit `[](){#identifier}` anchor or to an object documented by a `::: reference_impl...` page.
The generated index must list every page.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import runpy
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GLOSSARY = DOCS / "glossary"
TERM_PAGES = sorted(p for p in GLOSSARY.glob("*.md") if p.name != "index.md")

SECTIONS = [
    "Definition",
    "Worked example",
    "How it works",
    "Workflow trade-offs",
    "Implementation choices",
    "Deployment signals",
    "Failure modes",
    "Related terms",
    "References",
]

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_ANCHOR = re.compile(r"\[\]\(\)\{#([A-Za-z0-9_.:-]+)\}")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)
_INLINE_LINK = re.compile(r"(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])+)\]\[([^\]]+)\]")
_REF_DEFINITION = re.compile(r"^\s*\[([^\]]+)\]:\s+\S+", re.MULTILINE)


def split_fences(text: str) -> tuple[str, list[str]]:
    """Return `(prose, fence_headers)`: the text with fenced blocks blanked, and each fence's info line."""
    prose: list[str] = []
    headers: list[str] = []
    closing: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if closing is None and match:
            closing = match.group(2)
            headers.append(match.group(3).strip())
            prose.append("")
        elif closing is not None:
            if match and match.group(2).startswith(closing) and not match.group(3).strip():
                closing = None
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), headers


def prose_without_code(text: str) -> str:
    """Prose with fenced blocks, inline code and math removed (links inside them are not links)."""
    prose, _ = split_fences(text)
    return _MATH.sub(" ", _INLINE_CODE.sub(" ", prose))


def h2_sections(text: str) -> list[str]:
    """Titles of the `## ` headings outside code fences, in order."""
    prose, _ = split_fences(text)
    return [line[3:].strip() for line in prose.splitlines() if line.startswith("## ")]


def explicit_anchors(path: Path) -> set[str]:
    """Identifiers declared with `[](){#id}` in one page."""
    return set(_ANCHOR.findall(split_fences(path.read_text(encoding="utf-8"))[0]))


def heading_ids(path: Path) -> set[str]:
    """Heading ids (Python-Markdown's toc slugs) plus explicit anchors of one page."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    ids = set()
    for line in prose.splitlines():
        if line.startswith("#"):
            title = re.sub(r"\{[^}]*\}\s*$", "", line.lstrip("#")).strip()
            ids.add(slugify(_INLINE_CODE.sub(lambda m: m.group(0).strip("`"), title), "-"))
    return ids | explicit_anchors(path)


def all_docs_anchors() -> set[str]:
    """Every `[](){#id}` anchor declared anywhere under docs/."""
    anchors: set[str] = set()
    for page in DOCS.rglob("*.md"):
        anchors |= explicit_anchors(page)
    return anchors


def documented_objects() -> set[str]:
    """Module paths rendered by mkdocstrings (`::: reference_impl.x`) on some docs page."""
    found: set[str] = set()
    for page in DOCS.rglob("*.md"):
        found |= set(
            re.findall(r"^:::\s+(reference_impl[\w.]*)", page.read_text(encoding="utf-8"), re.M)
        )
    return found


def object_is_documented(identifier: str, documented: set[str]) -> bool:
    """True if `identifier` imports and lies inside a module that some page renders with `:::`."""
    if not any(identifier == d or identifier.startswith(d + ".") for d in documented):
        return False
    parts = identifier.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return False
        return True
    return False


def broken_links(markdown: str, folder: Path, anchors: set[str], documented: set[str]) -> list[str]:
    """Every link of a page's `markdown` (living in `folder`) that would not resolve."""
    text = prose_without_code(markdown)
    defined = {label.lower() for label in _REF_DEFINITION.findall(text)}
    problems: list[str] = []
    for _, target in _INLINE_LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # external URL or same-page anchor
        path_part, _, fragment = target.partition("#")
        if not path_part.endswith(".md"):
            continue
        destination = (folder / path_part).resolve()
        if not destination.is_file():
            problems.append(f"{target}: no such page")
        elif fragment and fragment not in heading_ids(destination):
            problems.append(f"{target}: no anchor #{fragment} in {path_part}")
    for label, identifier in _REF_LINK.findall(text):
        identifier = identifier.strip()
        if identifier.lower() in defined or identifier.startswith("^"):
            continue  # ordinary reference-style link or footnote
        if identifier in anchors or object_is_documented(identifier, documented):
            continue
        problems.append(f"[{label}][{identifier}]: unknown cross-reference")
    return problems


@pytest.fixture(scope="module")
def anchors() -> set[str]:
    return all_docs_anchors()


@pytest.fixture(scope="module")
def documented() -> set[str]:
    return documented_objects()


def test_glossary_has_term_pages():
    assert len(TERM_PAGES) >= 25, [p.name for p in TERM_PAGES]


def index_namespace() -> dict:
    """The index generator's functions, without printing its output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return runpy.run_path(str(DOCS / "snippets" / "glossary_index.py"), run_name="index")


@pytest.mark.parametrize("page", TERM_PAGES, ids=lambda p: p.stem)
def test_glossary_page_has_anchor_under_title(page: Path):
    _, body = index_namespace()["split_front_matter"](page.read_text(encoding="utf-8"))
    lines = [line for line in body if line.strip()]
    assert lines[0].startswith("# "), (
        f"{page.name}: first line after front matter must be '# Title'"
    )
    assert lines[1] == f"[](){{#{page.stem}}}", f"{page.name}: anchor line missing under the H1"


@pytest.mark.parametrize("page", TERM_PAGES, ids=lambda p: p.stem)
def test_glossary_page_has_sections_in_order(page: Path):
    assert h2_sections(page.read_text(encoding="utf-8")) == SECTIONS


@pytest.mark.parametrize("page", TERM_PAGES, ids=lambda p: p.stem)
def test_glossary_page_has_executed_block(page: Path):
    _, headers = split_fences(page.read_text(encoding="utf-8"))
    assert any(re.search(r'\bexec="on"', header) for header in headers), page.name


@pytest.mark.parametrize("page", TERM_PAGES, ids=lambda p: p.stem)
def test_glossary_page_links_resolve(page: Path, anchors: set[str], documented: set[str]):
    text = page.read_text(encoding="utf-8")
    assert broken_links(text, page.parent, anchors, documented) == []


def test_glossary_index_lists_every_page(capsys: pytest.CaptureFixture[str]):
    index = (GLOSSARY / "index.md").read_text(encoding="utf-8")
    assert '--8<-- "glossary_index.py"' in index
    runpy.run_path(str(DOCS / "snippets" / "glossary_index.py"), run_name="glossary_index")
    table = capsys.readouterr().out
    read_entry = index_namespace()["read_entry"]
    for page in TERM_PAGES:
        assert f"][{page.stem}] |" in table, f"{page.name} missing from the A-Z table"
        title = read_entry(page).title
        assert f"- [{title}][{page.stem}]: " in table, f"{page.name} missing from the family map"


@pytest.mark.parametrize("page", TERM_PAGES, ids=lambda p: p.stem)
def test_glossary_page_declares_a_known_family(page: Path):
    namespace = index_namespace()
    entry = namespace["read_entry"](page)  # raises ValueError naming the page and the families
    assert entry.family in namespace["FAMILIES"]


def test_glossary_index_copies_definition_from_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    glossary = tmp_path / "docs" / "glossary"
    glossary.mkdir(parents=True)
    (glossary / "index.md").write_text("# Glossary\n")
    (glossary / "b-term.md").write_text(
        "---\nfamily: metric\n---\n\n# B term\n\n[](){#b-term}\n\n## Definition\n\n"
        "Second, see [A][a-term] and\n$|x|$.\n\nMore text.\n\n## Worked example\n"
    )
    (glossary / "a-term.md").write_text(
        "---\nfamily: protocol\n---\n# a term\n\n[](){#a-term}\n\n## Definition\n\nFirst.\n"
    )
    namespace = index_namespace()
    lines = namespace["render_index"](glossary).splitlines()
    a_to_z = lines[lines.index('=== "A–Z"') :]
    assert a_to_z[4:] == [
        "    | [a term][a-term] | Benchmarks and protocol | First. |",
        r"    | [B term][b-term] | Metric-based | Second, see A and $\|x\|$. |",
    ]
    by_family = lines[: lines.index('=== "A–Z"')]
    protocol, metric = (
        by_family.index("    - [a term][a-term]: First."),
        by_family.index(r"    - [B term][b-term]: Second, see A and $\|x\|$."),
    )
    assert protocol < metric  # families in map order: protocol before metric


def test_glossary_read_entry_rejects_an_unknown_family(tmp_path: Path):
    page = tmp_path / "x.md"
    page.write_text("---\nfamily: astrology\n---\n# X\n\n## Definition\n\nText.\n")
    with pytest.raises(ValueError, match=r"x\.md: front matter 'family: astrology' is not one of"):
        index_namespace()["read_entry"](page)


def test_glossary_read_entry_rejects_page_without_definition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    page = tmp_path / "x.md"
    page.write_text("---\nfamily: metric\n---\n# X\n\n[](){#x}\n\n## Worked example\n")
    with pytest.raises(ValueError, match="no '## Definition' section"):
        index_namespace()["read_entry"](page)


def test_broken_links_detects_bad_targets():
    text = (
        "[ok](maml.md) [bad](no-such-page.md) [anchor](maml.md#no-such-heading) "
        "[term][maml] [gone][no-such-anchor] `[code][no-such-anchor]` $[a][b]$\n\n"
        "```python\n[fenced][no-such-anchor]\n```\n[defined][ref]\n\n[ref]: https://example.org\n"
    )
    assert broken_links(text, GLOSSARY, {"maml"}, set()) == [
        "no-such-page.md: no such page",
        "maml.md#no-such-heading: no anchor #no-such-heading in maml.md",
        "[gone][no-such-anchor]: unknown cross-reference",
    ]
