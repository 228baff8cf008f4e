"""Fail if a built page shows an error instead of its content (for `make docs-zensical`).

`zensical build --strict` exits 0 when an executed block raises and renders the traceback into
the page; MkDocs' strict build (`make docs`, the gate) fails instead. This scans a built site's
HTML for what such failures leave behind and prints one line per page and finding:

    python tools/rendered_errors.py SITE_DIR
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

FINDINGS = {
    "a Python traceback": re.compile(r"Traceback \(most recent call last\)"),
    "an unprocessed mkdocstrings directive": re.compile(r"<p>:::\s*[\w.]+"),
    "an unresolved snippet include": re.compile(r"--8&lt;--|--8<--"),
}
"""What each finding is called -> its pattern in the page's HTML."""


def scan(site: Path) -> list[str]:
    """One `page: finding (text)` line per page and kind of finding, sorted by page."""
    lines = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        for what, pattern in FINDINGS.items():
            if match := pattern.search(text):
                excerpt = html.unescape(text[match.start() : match.start() + 60]).split("\n")[0]
                lines.append(f"{page.relative_to(site)}: {what} ({excerpt!r})")
    return lines


def main(argv: list[str]) -> int:
    """Print the findings; exit 1 if there are any, 2 on bad usage."""
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python tools/rendered_errors.py SITE_DIR (a built site)", file=sys.stderr)
        return 2
    findings = scan(Path(argv[0]))
    for line in findings:
        print(line, file=sys.stderr)
    if findings:
        print(f"{len(findings)} rendered error(s) in {argv[0]}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
