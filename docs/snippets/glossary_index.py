"""Generate the glossary index from the term pages themselves.

Each page under `docs/glossary/` contributes its H1 title, its file name (the link) and the
first paragraph of its `## Definition` section, so a definition is written once, on its page.
Run by markdown-exec when `docs/glossary/index.md` is built; prints a Markdown table.
"""

from __future__ import annotations

import re
from pathlib import Path

_LINK = re.compile(r"\[([^\]]*)\](?:\[[^\]]*\]|\([^)]*\))")  # [text][ref] or [text](url)


def find_glossary_dir(start: Path | None = None) -> Path:
    """Return `docs/glossary` of the project that contains `start` (default: the working dir)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "docs" / "glossary"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no docs/glossary above {here}")


def read_entry(page: Path) -> tuple[str, str]:
    """Return `(title, definition)` of one term page.

    Raises:
        ValueError: The page has no `# Title` line, no `## Definition` section, or an empty one.
    """
    lines = page.read_text(encoding="utf-8").splitlines()
    titles = [line[2:].strip() for line in lines if line.startswith("# ")]
    if not titles:
        raise ValueError(f"{page.name}: no '# Title' line")
    try:
        start = lines.index("## Definition") + 1
    except ValueError:
        raise ValueError(f"{page.name}: no '## Definition' section") from None
    paragraph: list[str] = []
    for line in lines[start:]:
        if line.startswith("#") or (not line.strip() and paragraph):
            break
        if line.strip():
            paragraph.append(line.strip())
    if not paragraph:
        raise ValueError(f"{page.name}: empty '## Definition' section")
    definition = _LINK.sub(r"\1", " ".join(paragraph))  # plain text: the row itself is the link
    return titles[0], definition.replace("|", r"\|")


def _entry_or_stub(page: Path) -> tuple[str, str]:
    """Like `read_entry`, but a page still being written is listed instead of breaking the site."""
    try:
        return read_entry(page)
    except ValueError:
        lines = page.read_text(encoding="utf-8").splitlines()
        title = next((line[2:].strip() for line in lines if line.startswith("# ")), page.stem)
        return title, "*(definition not written yet)*"


def render_index(glossary: Path) -> str:
    """Return a Markdown table with one row per term page, sorted by title.

    `tests/test_glossary.py` fails on any page without a Definition, so the stub text above
    never reaches a release.
    """
    rows = sorted(
        (
            (_entry_or_stub(page), page.name)
            for page in glossary.glob("*.md")
            if page.name != "index.md"
        ),
        key=lambda row: row[0][0].lower(),
    )
    table = ["| Term | Definition |", "|---|---|"]
    table += [
        f"| [{title}][{Path(name).stem}] | {definition} |" for (title, definition), name in rows
    ]
    return "\n".join(table)


print(render_index(find_glossary_dir()))
