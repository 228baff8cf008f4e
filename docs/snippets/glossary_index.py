"""Generate the glossary index from the term pages themselves: by family, and A to Z.

Each page under `docs/glossary/` contributes its H1 title, its file name (the link), its family
(the `family:` line of its front matter) and the first paragraph of its `## Definition` section,
so a definition is written once, on its page. Run by markdown-exec when `docs/glossary/index.md`
is built; prints Markdown (two tabs: the field's map by family, and every term A to Z).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

_ATTRIBUTES = re.compile(r"\s*\{[^}]*\}\s*$")  # "# MAML++ {#id}": an explicit heading id
_LINK = re.compile(r"\[([^\]]*)\](?:\[[^\]]*\]|\([^)]*\))")  # [text][ref] or [text](url)

FAMILIES: dict[str, tuple[str, str]] = {
    "foundations": ("Foundations", "the problem, the words for it, and its nearest neighbours"),
    "protocol": ("Benchmarks and protocol", "how tasks are built, split and scored"),
    "metric": ("Metric-based", "learn an embedding; adapt by comparing with the support set"),
    "optimisation": (
        "Optimisation-based",
        "learn what gradient descent starts from (or how it steps); adapt by optimising",
    ),
    "model-based": ("Model-based", "learn a network that reads the support set and adapts itself"),
    "probabilistic": ("Probabilistic", "learn a prior over tasks; adapt by inferring a posterior"),
    "generalisation": ("Generalisation", "when meta-learning transfers to new tasks, and when not"),
    "scale-and-theory": ("Scale and theory", "pretrained models, in-context learning, and bounds"),
}
"""Family key (a page's `family:`) -> (heading, what the family has in common), in map order."""


class Entry(NamedTuple):
    """One term page as the index shows it."""

    title: str
    slug: str
    family: str
    definition: str


def find_glossary_dir(start: Path | None = None) -> Path:
    """Return `docs/glossary` of the project that contains `start` (default: the working dir)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "docs" / "glossary"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no docs/glossary above {here}")


def split_front_matter(text: str) -> tuple[dict[str, str], list[str]]:
    """Return `(fields, body_lines)`: the `key: value` lines of a leading `---` block, the rest.

    Raises:
        ValueError: If a front matter block is opened but never closed.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, lines
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise ValueError("front matter opened with '---' is never closed") from None
    fields = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields, lines[end + 1 :]


def read_entry(page: Path) -> Entry:
    """Return the index entry of one term page.

    Raises:
        ValueError: The page has no `# Title` line, no `## Definition` section or an empty one,
            or a missing or unknown `family:`.
    """
    fields, lines = split_front_matter(page.read_text(encoding="utf-8"))
    family = fields.get("family", "")
    if family not in FAMILIES:
        raise ValueError(
            f"{page.name}: front matter 'family: {family}' is not one of {', '.join(FAMILIES)}"
        )
    titles = [_ATTRIBUTES.sub("", line[2:]).strip() for line in lines if line.startswith("# ")]
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
    return Entry(titles[0], page.stem, family, definition.replace("|", r"\|"))


def entries(glossary: Path) -> list[Entry]:
    """Every term page's entry, sorted by title (case-insensitive)."""
    pages = (p for p in glossary.glob("*.md") if p.name != "index.md")
    return sorted((read_entry(p) for p in pages), key=lambda e: e.title.lower())


def render_index(glossary: Path) -> str:
    """Markdown for the index: a "By family" tab (the map) and an "A–Z" tab (one table).

    `tests/test_glossary.py` checks that every page has a valid entry, so an error here means a
    page is incomplete, and the build says which.
    """
    terms = entries(glossary)
    out = ['=== "By family"', ""]
    for key, (heading, gist) in FAMILIES.items():
        members = [e for e in terms if e.family == key]
        if not members:
            continue
        out += [f"    **{heading}** ({len(members)}): {gist}.", ""]
        out += [f"    - [{e.title}][{e.slug}]: {e.definition}" for e in members]
        out.append("")
    out += ['=== "A–Z"', "", "    | Term | Family | Definition |", "    |---|---|---|"]
    out += [
        f"    | [{e.title}][{e.slug}] | {FAMILIES[e.family][0]} | {e.definition} |" for e in terms
    ]
    return "\n".join(out)


print(render_index(find_glossary_dir()))
