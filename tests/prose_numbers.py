"""Find numbers typed into page prose (the docs' "no number typed by hand" rule).

A number in a page's prose must come from somewhere a build can check. This module reads a page's
Markdown (no build needed) and reports every number in its prose that is not accounted for by one
of these, in order:

1. **Not prose.** Fenced blocks (executed or not), inline code, math, HTML comments, link targets
   and the References section are skipped.
2. **Names, not quantities.** Setting names (`5-way`, `1-shot`, `5w1s`, `60-way`), equation,
   table, figure, section (`§3.1`), appendix and step references, ordinals, ordered-list markers, years and arXiv ids inside a
   citation, software versions, and tokens glued to letters (`Conv-4`, `H100`, `float64`) are
   names: they can be wrong, but not drift from an output.
3. **Cited.** A paragraph, list item or table that carries a citation (`et al.`, `arXiv:`, an
   author-year in parentheses, or `REFERENCES.md`) states a source's numbers; their correctness is
   checked against the source in review (REFERENCES.md), not here.
4. **The page's own code.** A number that appears as a literal in the code the page executes (its
   exec fences and the snippet files they include) describes the example's setup ("200 episodes
   per cell"): if the code changes, the literal no longer matches and this check fails, so the
   sentence cannot drift. Results (accuracies, gaps, ratios) are printed by the code instead.
5. **Signal thresholds.** In the Deployment signals section, a bullet that defines a signal with
   "Worry when" states a reviewed design threshold.
6. **The allow-list** `docs/prose-numbers-allowed.txt`: `page | exact phrase | reason` lines,
   reviewed by hand; a stale line (phrase no longer on its page) is itself an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
ALLOW_LIST = DOCS / "prose-numbers-allowed.txt"

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_INCLUDE = re.compile(r'--8<--\s+"([^":]+)(?::[^"]*)?"')
_NUMBER = re.compile(r"(?<![\w.#/$-])[-+−]?\d+(?:[.,]\d+)*(?:\s?%|×)?(?![\w-])")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$|\\\(.+?\\\)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_LINK_TARGET = re.compile(r"\]\([^)]*\)|\]\[[^\]]*\]|\{[#.][^}]*\}")
_HTML_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"https?://\S+")
_CITATION = re.compile(
    r"et al\.|arXiv|REFERENCES\.md|\((?:[A-Z][\w-]+[ ,]+(?:and |& )?)*(?:19|20)\d\d[a-z]?[),;]"
    r"|[A-Z][\w-]+(?: and [A-Z][\w-]+)? \((?:19|20)\d\d[a-z]?\)"
)
_NAMES = [
    re.compile(p)
    for p in (
        r"\b\d+-(?:way|shot|query|queries|class|fold|step|layer|bit|dimensional|d)\b",
        r"\b\d+w\d+s\b",
        r"\b\d+(?:st|nd|rd|th)\b",
        r"(?m)^\s*\d+\.(?=\s)",  # the marker of an ordered-list item
        r"§\s*[A-Z]?\d+(?:\.\d+)*",  # a section sign reference (\b cannot precede §)
        r"(?i)\b(?:eqs?|equations?|tables?|figures?|figs?|sections?|secs?|appendix|appendices|"
        r"algorithms?|alg|chapters?|theorems?|lemmas?|propositions?|corollary|definitions?|"
        r"steps?|lines?|issues?|§)\.?\s*\(?[A-Z]?\d+(?:\.\d+)*\)?(?:\s*(?:[-–,]|and)\s*\(?\d+(?:\.\d+)*\)?)*",
        r"(?i)\b(?:python|torch|pytorch|version|v|cuda|material|mkdocs|numpy|pillow|matplotlib|zensical)\s*\(?\d+(?:\.\d+)*",
        r"\b95\s?%(?=\s*(?:confidence|CI|interval|two-sided))",
        r"(?i)(?:NeurIPS|NIPS|ICML|ICLR|CVPR|ECCV|ICCV|AAAI|UAI|AISTATS|COLT|TPAMI|JMLR)\s*\d{4}",
        r"\b(?:19|20)\d\d(?=[a-z]?\))",
    )
]


@dataclass(frozen=True)
class TypedNumber:
    """One number in prose that nothing accounts for."""

    page: str
    line: int
    number: str
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.number!r} in: {self.text.strip()[:160]}"


def _split(text: str) -> tuple[list[str], list[str], list[str]]:
    """Return `(prose_lines, exec_fence_bodies, included_files)`; fenced lines become empty."""
    prose: list[str] = []
    bodies: list[str] = []
    includes: list[str] = []
    closing: str | None = None
    executed = False
    body: list[str] = []
    for line in text.splitlines():
        match = _FENCE.match(line)
        if closing is None and match:
            closing, executed, body = match.group(2), 'exec="on"' in match.group(3), []
            prose.append("")
        elif closing is not None:
            if match and match.group(2).startswith(closing) and not match.group(3).strip():
                if executed:
                    bodies.append("\n".join(body))
                    includes += _INCLUDE.findall("\n".join(body))
                closing = None
            else:
                body.append(line)
            prose.append("")
        else:
            prose.append(line)
    return prose, bodies, includes


def _code_literals(bodies: list[str], includes: list[str]) -> set[str]:
    """Numeric literals in the executed code of a page (its fences and their included files)."""
    sources = list(bodies)
    for name in includes:
        for base in (SNIPPETS, ROOT):
            if (base / name).is_file():
                sources.append((base / name).read_text(encoding="utf-8"))
                break
    literals: set[str] = set()
    for source in sources:
        for token in re.findall(r"(?<![\w.])\d[\d_]*(?:\.\d+)?(?:e-?\d+)?", source):
            literals.add(token.replace("_", ""))
            if "e" in token:
                literals.add(f"{float(token):g}")
    return literals


def _units(lines: list[str]) -> list[tuple[int, str, str]]:
    """Paragraphs, list items and tables as `(first_line_number, section, text)`."""
    units: list[tuple[int, str, str]] = []
    section = ""
    current: list[str] = []
    start = 0
    kind = ""

    def flush() -> None:
        if current:
            units.append((start, section, "\n".join(current)))
            current.clear()

    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if line.startswith("#"):
            flush()
            if line.startswith("## "):
                section = line[3:].strip()
            kind = ""
            continue
        if not stripped:
            if kind != "table":
                flush()
            kind = "" if kind != "table" else kind
            continue
        line_kind = (
            "table"
            if stripped.startswith("|")
            else "item"
            if re.match(r"[-*+]\s|\d+\.\s", stripped)
            else "text"
        )
        if line_kind == "item" or (
            line_kind != kind and not (kind == "item" and line.startswith(" "))
        ):
            if not (
                kind == "table" and line_kind == "text" and current and _CITATION.search(stripped)
            ):
                flush()
            start = number
        if not current:
            start = number
        current.append(line)
        kind = line_kind if line_kind != "text" or kind != "item" else kind
    flush()
    return units


def _clean(text: str) -> str:
    text = _COMMENT.sub(" ", text)
    text = _INLINE_CODE.sub(" ", text)
    text = _MATH.sub(" ", text)
    text = _LINK_TARGET.sub("]", text)
    text = _URL.sub(" ", text)
    return _HTML_TAG.sub(" ", text)


def read_allow_list(path: Path = ALLOW_LIST) -> dict[str, list[str]]:
    """`page -> [phrases]` from the allow-list (`page | phrase | reason`, `#` comments)."""
    allowed: dict[str, list[str]] = {}
    if not path.is_file():
        return allowed
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{path.name}: expected 'page | phrase | reason', got {raw!r}")
        allowed.setdefault(parts[0], []).append(parts[1])
    return allowed


def typed_numbers(page: str, text: str, allowed: list[str] | None = None) -> list[TypedNumber]:
    """Every number in the prose of `text` (a page's Markdown) that nothing accounts for.

    Args:
        page: The page's path relative to `docs/` (for messages).
        text: The page's Markdown.
        allowed: Exact phrases from the allow-list for this page.

    Returns:
        The unaccounted numbers, in page order.
    """
    lines, bodies, includes = _split(text)
    literals = _code_literals(bodies, includes)
    found: list[TypedNumber] = []
    units = _units(lines)
    for index, (start, section, unit) in enumerate(units):
        if section == "References" or _CITATION.search(unit):
            continue
        if unit.lstrip().startswith("|"):  # a table is cited by the paragraph just above or below
            near = [units[j][2] for j in (index - 1, index + 1) if 0 <= j < len(units)]
            if any(_CITATION.search(n) for n in near):
                continue
        if section == "Deployment signals" and re.search(r"(?i)worry when", unit):
            continue
        masked = unit
        for phrase in allowed or []:
            masked = masked.replace(phrase, " " * len(phrase))
        masked = _clean(masked)
        for pattern in _NAMES:
            masked = pattern.sub(lambda m: " " * len(m.group(0)), masked)
        for offset, line in enumerate(masked.splitlines()):
            for match in _NUMBER.finditer(line):
                token = match.group(0)
                bare = token.rstrip("%× ").lstrip("+-−").replace(",", "")
                if bare in literals or bare.rstrip("0").rstrip(".") in literals:
                    continue
                original = unit.splitlines()[offset] if offset < len(unit.splitlines()) else line
                found.append(TypedNumber(page, start + offset, token, original))
    return found


def stale_allow_list_entries(allowed: dict[str, list[str]]) -> list[str]:
    """Allow-list lines whose page is missing or no longer contains the phrase."""
    stale = []
    for page, phrases in allowed.items():
        path = DOCS / page
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        stale += [f"{page} | {phrase}" for phrase in phrases if phrase not in text]
    return stale


def pages() -> list[Path]:
    """Every page the rule covers: all Markdown under docs/ except the generated API pages."""
    return sorted(
        p
        for p in DOCS.rglob("*.md")
        if "reference" not in p.relative_to(DOCS).parts[:1] and not p.name.startswith(".")
    )


if __name__ == "__main__":  # python tests/prose_numbers.py [docs/page.md ...]: list typed numbers
    import sys

    allow = read_allow_list()
    targets = [Path(a).resolve() for a in sys.argv[1:]] or pages()
    total = 0
    for target in targets:
        rel = target.relative_to(DOCS).as_posix()
        for typed in typed_numbers(rel, target.read_text(encoding="utf-8"), allow.get(rel)):
            print(typed)
            total += 1
    print(f"{total} typed number(s)", file=sys.stderr)
    raise SystemExit(1 if total else 0)
