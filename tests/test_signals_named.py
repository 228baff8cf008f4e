"""Every deployment signal a glossary page names is implemented or defined where it is named.

A bullet of a page's "Deployment signals" section names one signal in bold and either

* links to the deployment signals guide (`../guides/deployment-signals.md#<anchor>`) at the
  entry of a signal implemented in `reference_impl.signals`: the anchor exists in the guide, and
  that entry names a function of `reference_impl.signals` (`signals.<name>`) and the
  `Thresholds.<field>` that says when to worry; or
* defines the signal inline: a formula (math `$...$` or inline code) and the phrase "Worry when"
  followed by a value holding a number or a comparison (a symbol such as `>`, or a comparative
  such as "below half of its validation value").

`signal_problems` is the checker; the tests below feed it synthetic pages to show that it
reports what it must, and run it over the real guide.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify
from test_glossary import DOCS, split_fences

from reference_impl import signals

GUIDE = DOCS / "guides" / "deployment-signals.md"
SECTION = "Deployment signals"

_BULLET = re.compile(r"^[-*+]\s+")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_GUIDE_LINK = re.compile(r"\]\((?:[./]*guides/)?deployment-signals\.md#([A-Za-z0-9_-]+)\)")
_FORMULA = re.compile(r"\$[^$\n]+\$|`[^`\n]+`")
_WORRY = re.compile(r"worry when", re.IGNORECASE)
_VALUE = re.compile(
    r"\d|[<>≤≥=≠]|\\(?:le|ge|lt|gt|leq|geq|neq)\b|\b(?:above|below|exceeds?|exceeding|"
    r"(?:more|less|fewer|greater|smaller|larger|higher|lower) than|at (?:least|most)|outside|beyond)\b",
    re.IGNORECASE,
)
_ANCHOR = re.compile(r"\[\]\(\)\{#([A-Za-z0-9_.:-]+)\}")
_HEADING_ID = re.compile(r"\{#([A-Za-z0-9_-]+)[^}]*\}\s*$")
_FUNCTION = re.compile(r"\bsignals\.([A-Za-z_]\w*)")
_THRESHOLD = re.compile(r"\bThresholds\.([A-Za-z_]\w*)")
THRESHOLD_FIELDS = {f.name for f in dataclasses.fields(signals.Thresholds)}


@dataclass(frozen=True)
class GuideEntry:
    """One section of the guide: its anchors and the functions and thresholds it names."""

    title: str
    anchors: frozenset[str]
    functions: frozenset[str]
    thresholds: frozenset[str]

    @property
    def implemented(self) -> bool:
        """Names at least one function of `reference_impl.signals` and one threshold field."""
        return bool(self.functions) and bool(self.thresholds)


def guide_entries(text: str) -> dict[str, GuideEntry]:
    """Map every anchor of the guide (heading ids and `[](){#id}`) to the section holding it."""
    prose, _ = split_fences(text)
    sections: list[tuple[str, list[str]]] = []
    for line in prose.splitlines():
        if re.match(r"^#{1,6}\s", line):
            sections.append((line, []))
        elif sections:
            sections[-1][1].append(line)
    entries: dict[str, GuideEntry] = {}
    for heading, body in sections:
        title = _HEADING_ID.sub("", heading.lstrip("#")).strip()
        explicit = _HEADING_ID.search(heading)
        ids = {explicit.group(1) if explicit else slugify(title.replace("`", ""), "-")}
        content = "\n".join(body)
        ids |= set(_ANCHOR.findall(content))
        functions = {
            name for name in _FUNCTION.findall(content) if callable(getattr(signals, name, None))
        }
        thresholds = set(_THRESHOLD.findall(content)) & THRESHOLD_FIELDS
        entry = GuideEntry(title, frozenset(ids), frozenset(functions), frozenset(thresholds))
        entries.update(dict.fromkeys(ids, entry))
    return entries


def section_text(page_text: str, title: str = SECTION) -> str:
    """The body of the `## <title>` section, fenced blocks blanked; empty if absent."""
    prose, _ = split_fences(page_text)
    found, lines = False, []
    for line in prose.splitlines():
        if line.startswith("## "):
            if found:
                break
            found = line[3:].strip() == title
        elif found:
            lines.append(line)
    return "\n".join(lines)


def bullets(section: str) -> list[str]:
    """Top-level list items of a section, each with its continuation lines joined."""
    items: list[list[str]] = []
    open_item, blank = False, False
    for line in section.splitlines():
        if _BULLET.match(line):
            items.append([_BULLET.sub("", line)])
            open_item = True
        elif not line.strip():
            blank = True
            continue
        elif open_item and (not blank or line.startswith((" ", "\t"))):
            items[-1].append(line.strip())
        else:
            open_item = False  # unindented prose after a blank line ends the list item
        blank = False
    return [" ".join(item) for item in items]


def bullet_problem(bullet: str, entries: dict[str, GuideEntry]) -> str | None:
    """Why a bullet does not name an implemented or inline-defined signal; None if it does."""
    bold = _BOLD.search(bullet)
    if bold is None:
        return f"no signal named in bold: {bullet[:60]!r}"
    name = bold.group(1)
    links = _GUIDE_LINK.findall(bullet)
    for anchor in links:
        entry = entries.get(anchor)
        if entry is not None and entry.implemented:
            return None
    if links:
        bad = ", ".join(f"#{a}" for a in links)
        return (
            f"**{name}** links to {bad} in the guide, which is not the entry of a signal "
            "implemented in reference_impl.signals with a threshold"
        )
    worry = _WORRY.search(bullet)
    if _FORMULA.search(bullet) and worry and _VALUE.search(bullet[worry.end() :]):
        return None
    return (
        f"**{name}** is neither linked to an implemented signal of the guide nor defined inline "
        "(a formula and 'Worry when' with a value)"
    )


def signal_problems(page_text: str, entries: dict[str, GuideEntry]) -> list[str]:
    """Every problem of a page's Deployment signals section (empty list: the page conforms)."""
    section = section_text(page_text)
    if not section.strip():
        return [f"no '## {SECTION}' section"]
    return [p for b in bullets(section) if (p := bullet_problem(b, entries)) is not None]


@pytest.fixture(scope="module")
def entries() -> dict[str, GuideEntry]:
    return guide_entries(GUIDE.read_text(encoding="utf-8"))


def page(*items: str) -> str:
    body = "\n".join(items)
    return (
        f"# T\n\n## Failure modes\n\n- **Not here**\n\n## {SECTION}\n\n{body}\n\n## Next\n\n- x\n"
    )


# ----------------------------------------------------------------------------- the checker
def test_checker_reports_an_undefined_signal(entries: dict[str, GuideEntry]) -> None:
    problems = signal_problems(page("- **Vibes per task**: watch them closely."), entries)
    assert len(problems) == 1 and "**Vibes per task** is neither linked" in problems[0]


def test_checker_accepts_a_link_to_an_implemented_signal(entries: dict[str, GuideEntry]) -> None:
    text = page(
        "- **Order sensitivity** ([guide](../guides/deployment-signals.md#signal-order-sensitivity)):",
        "  permuting the support set should change nothing.",
    )
    assert signal_problems(text, entries) == []


def test_checker_rejects_links_to_missing_or_unimplemented_entries(
    entries: dict[str, GuideEntry],
) -> None:
    missing = page("- **X** ([guide](../guides/deployment-signals.md#signal-no-such-thing)).")
    assert "links to #signal-no-such-thing" in signal_problems(missing, entries)[0]
    prose_only = page("- **Y** ([guide](../guides/deployment-signals.md#the-running-example)).")
    assert "not the entry of a signal" in signal_problems(prose_only, entries)[0]


def test_checker_accepts_an_inline_definition_and_rejects_incomplete_ones(
    entries: dict[str, GuideEntry],
) -> None:
    good = page(
        "- **Chance-normalised accuracy** $(a - 1/N)/(1 - 1/N)$ when tasks of different $N$",
        "  are pooled. *Worry when* it falls below $0.5$.",
    )
    assert signal_problems(good, entries) == []
    relative = page("- **S** $a - b$. *Worry when* it falls below half of its validation value.")
    assert signal_problems(relative, entries) == []
    no_value = page("- **Z** $a/b$: *Worry when* it grows a lot.")
    no_formula = page("- **Z** the ratio. Worry when above 2.")
    no_bold = page("- Latency per task. Worry when above $2$ s.")
    assert "neither linked" in signal_problems(no_value, entries)[0]
    assert "neither linked" in signal_problems(no_formula, entries)[0]
    assert "no signal named in bold" in signal_problems(no_bold, entries)[0]
    assert signal_problems("# T\n\n## Definition\n\ntext\n", entries) == [
        f"no '## {SECTION}' section"
    ]


def test_bullets_join_continuation_lines_and_stop_at_prose() -> None:
    section = "intro\n\n- **A** one\n  two\n- **B** three\n\nHow each is computed.\n"
    assert bullets(section) == ["**A** one two", "**B** three"]


def test_guide_entries_read_anchors_functions_and_thresholds() -> None:
    text = (
        "# Guide\n\n## Order sensitivity\n[](){#signal-order}\n\n"
        "`signals.order_sensitivity`, worry above `Thresholds.order_flip_warn`.\n\n"
        "## Prose {#prose-id}\n\n`signals.not_a_function`, `Thresholds.no_such_field`.\n"
    )
    found = guide_entries(text)
    assert found["signal-order"] is found["order-sensitivity"] and found["signal-order"].implemented
    assert found["signal-order"].functions == {"order_sensitivity"}
    assert not found["prose-id"].implemented


# ----------------------------------------------------------------------------- the real guide
def test_every_signal_anchor_of_the_guide_is_an_implemented_entry(
    entries: dict[str, GuideEntry],
) -> None:
    anchors = sorted(a for a in entries if a.startswith("signal-"))
    assert len(anchors) >= 13, anchors
    not_implemented = [a for a in anchors if not entries[a].implemented]
    assert not_implemented == []


def test_guide_entries_cover_every_threshold(entries: dict[str, GuideEntry]) -> None:
    named = set().union(*(e.thresholds for e in entries.values() if e.implemented))
    assert named == THRESHOLD_FIELDS


# ----------------------------------------------------------------------------- every page

SIGNAL_PAGES = sorted(
    p for p in DOCS.rglob("*.md") if f"\n## {SECTION}\n" in p.read_text(encoding="utf-8")
)


def test_the_pages_with_signals_include_every_glossary_term() -> None:
    terms = {p for p in (DOCS / "glossary").glob("*.md") if p.name != "index.md"}
    assert terms <= set(SIGNAL_PAGES)


@pytest.mark.parametrize("path", SIGNAL_PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_signal_a_page_names_is_implemented_or_defined(
    path: Path, entries: dict[str, GuideEntry]
) -> None:
    problems = signal_problems(path.read_text(encoding="utf-8"), entries)
    assert not problems, "\n".join(problems)
