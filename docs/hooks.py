"""MkDocs hooks of this site (listed under `hooks:` in mkdocs.yml).

* `on_startup` puts `docs/snippets` on `sys.path`, so executed blocks can `import figures`,
  `import claims` and `import diagrams` (the docs' helpers) however MkDocs was started
  (`mkdocs serve` from the console script does not put the working directory on the path).
* `on_page_markdown` / `on_page_content` time each page's conversion, which is where
  markdown-exec runs its blocks; with `MLG_PAGE_TIMES=<file>` set, `on_post_build` writes the
  times there as JSON (`python -m benchmarks.docs_build` uses it to report the slowest pages).
* `on_config` completes the nav (a section that starts with `<folder>/index.md` gets every
  other page of the folder, so new glossary pages need no nav edit) and turns the relative paths
  of the committed object inventories (`docs/inventories/`) into `file://` URLs, so the build
  stays offline.
* `on_files` serves the four algorithm files unchanged under `downloads/`, for the "download
  this file" links of the Algorithms pages.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

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


# ---------------------------------------------------------------------------------------------
# Navigation, offline inventories, downloadable algorithm files

DOCS = SNIPPETS.parent
ALGORITHM_FILES = ("maml.py", "protonet.py", "fast_weights.py", "baseline.py")
"""Served at `downloads/<name>` so each algorithm page can offer its file for download."""


def nav_paths(nav: list[Any]) -> list[str]:
    """Every page path listed in a MkDocs `nav` (nested lists of strings and one-key dicts)."""
    found: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            found.extend(nav_paths(value))
        elif isinstance(value, str) and not value.startswith(("http://", "https://")):
            found.append(value)
    return found


def complete_nav(nav: list[Any], docs_dir: Path) -> list[Any]:
    """Append to each nav section that starts with `<folder>/index.md` the other pages of that
    folder which the nav does not list yet, sorted by file name, so a new glossary page needs
    no nav edit. Sections listed page by page keep their order; new pages go last."""
    listed = set(nav_paths(nav))
    for entry in nav:
        if not isinstance(entry, dict):
            continue
        children = next(iter(entry.values()))
        if isinstance(children, list):
            complete_nav(children, docs_dir)
            first = children[0] if children else None
            if isinstance(first, str) and first.endswith("/index.md"):
                folder = first.rsplit("/", 1)[0]
                for path in sorted((docs_dir / folder).glob("*.md")):
                    page = path.relative_to(docs_dir).as_posix()
                    if page not in listed:
                        children.append(page)
                        listed.add(page)
    return nav


@event_priority(50)  # before mkdocstrings reads its handler options
def on_config(config: Any, **_: Any) -> Any:
    """Fill the nav's folder sections; point relative inventory paths at local files; without a
    repository address (`REPO_URL` unset, a local build) drop the edit/view links' path."""
    if not config.repo_url:
        config.edit_uri = None
    if config.nav:
        complete_nav(config.nav, Path(config.docs_dir))
    plugin = config.plugins.get("mkdocstrings")
    if plugin is not None:
        for handler in plugin.config["handlers"].values():
            for inventory in handler.get("inventories", []):
                url = inventory.get("url", "") if isinstance(inventory, dict) else ""
                if url and "://" not in url:
                    inventory["url"] = (
                        (Path(config.config_file_path).parent / url).resolve().as_uri()
                    )
    return config


def on_files(files: Any, config: Any, **_: Any) -> Any:
    """Serve each algorithm file unchanged at `downloads/<name>` (linked from its page)."""
    for name in ALGORITHM_FILES:
        source = ROOT / "reference_impl" / name
        files.append(File.generated(config, f"downloads/{name}", abs_src_path=str(source)))
    return files
