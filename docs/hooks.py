"""MkDocs hooks of this site (listed under `hooks:` in mkdocs.yml).

* `on_startup` puts `docs/snippets` on `sys.path`, so executed blocks can `import figures`,
  `import claims` and `import diagrams` (the docs' helpers) however MkDocs was started
  (`mkdocs serve` from the console script does not put the working directory on the path).
* `on_page_markdown` / `on_page_content` time each page's conversion, which is where
  markdown-exec runs its blocks; with `MLG_PAGE_TIMES=<file>` set, `on_post_build` writes the
  times there as JSON (`python -m benchmarks.docs_build` uses it to report the slowest pages).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SNIPPETS = Path(__file__).resolve().parent / "snippets"
ROOT = SNIPPETS.parents[1]
_STARTED: dict[str, tuple[float, float]] = {}
_TIMES: dict[str, dict[str, float]] = {}


def on_startup(**_: Any) -> None:
    """Make the docs helpers and the repository's packages importable from executed blocks."""
    for folder in (str(SNIPPETS), str(ROOT)):
        if folder not in sys.path:
            sys.path.insert(0, folder)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Start the clock of one page (its Markdown, executed blocks included, is converted next)."""
    _STARTED[page.file.src_uri] = (time.perf_counter(), time.process_time())
    return markdown


def on_page_content(html: str, page: Any, **_: Any) -> str:
    """Stop the clock of one page: wall and CPU seconds of its conversion."""
    wall, cpu = _STARTED.pop(page.file.src_uri, (time.perf_counter(), time.process_time()))
    _TIMES[page.file.src_uri] = {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
    }
    return html


def on_post_build(**_: Any) -> None:
    """Write the per-page times where `MLG_PAGE_TIMES` says (nothing is written otherwise)."""
    target = os.environ.get("MLG_PAGE_TIMES")
    if target:
        tmp = Path(target).with_suffix(".tmp")
        tmp.write_text(json.dumps(_TIMES, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(target)
